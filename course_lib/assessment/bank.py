"""The exam's question bank: load and validate it, draw a seeded variant, score a closed answer.

A bank has *slots* (kind and points) and *items* (each in one slot, tagged with its week and
learning goal). A variant takes one item per slot, so all variants weigh the same.
"""
from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_BANK = Path(__file__).with_name("exam_bank.toml")
KINDS = ("numeric", "choice", "short")
LETTERS = "abcdefgh"


@dataclass(frozen=True)
class Slot:
    id: str
    kind: str
    points: float


@dataclass(frozen=True)
class Item:
    id: str
    slot: str
    week: int
    source: str          # "lecture" (the week's notebook states the goal) or "syllabus"
    goal: str
    goal_number: int | None  # the goal's number in the lecture's list (lecture items only)
    question: str
    answer: object       # number, option index, or (short) what a full-mark answer contains
    options: tuple = ()
    rel_tol: float = 0.0
    explanation: str = ""


@dataclass(frozen=True)
class Bank:
    slots: tuple[Slot, ...]
    items: tuple[Item, ...]

    def pool(self, slot_id: str) -> list[Item]:
        return [i for i in self.items if i.slot == slot_id]

    def item(self, item_id: str) -> Item:
        for i in self.items:
            if i.id == item_id:
                return i
        raise KeyError(f"no item {item_id!r} in the bank; was the bank changed after `make exam`?")

    def slot(self, slot_id: str) -> Slot:
        return next(s for s in self.slots if s.id == slot_id)


def _item(d: dict, slots: dict, where: str) -> Item:
    missing = [k for k in ("id", "slot", "week", "source", "goal", "question", "answer") if k not in d]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if d["slot"] not in slots:
        raise ValueError(f"{where}: slot {d['slot']!r} is not declared; declared: {', '.join(slots)}")
    if d["source"] not in ("lecture", "syllabus"):
        raise ValueError(f"{where}: source must be 'lecture' or 'syllabus', got {d['source']!r}")
    if (d["source"] == "lecture") != isinstance(d.get("goal_number"), int):
        raise ValueError(f"{where}: a lecture item needs goal_number (its goal's number in the lecture), "
                         "a syllabus item none")
    kind = slots[d["slot"]].kind
    options = tuple(d.get("options", ()))
    if kind == "choice" and not (isinstance(d["answer"], int) and 0 <= d["answer"] < len(options) >= 2):
        raise ValueError(f"{where}: a choice item needs >= 2 options and answer = an index into them")
    if kind == "numeric" and (isinstance(d["answer"], bool) or not isinstance(d["answer"], (int, float))):
        raise ValueError(f"{where}: a numeric item needs a number as answer, got {d['answer']!r}")
    return Item(d["id"], d["slot"], int(d["week"]), d["source"], d["goal"], d.get("goal_number"), d["question"],
                d["answer"], options,
                float(d.get("rel_tol", 0.0)), d.get("explanation", ""))


def load_bank(path=DEFAULT_BANK) -> Bank:
    """Read and validate a bank (TOML); errors name the item and the missing or bad field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no question bank {path}; the course's is {DEFAULT_BANK}")
    data = tomllib.loads(path.read_text())
    slots = {}
    for s in data.get("slot", []):
        if s.get("kind") not in KINDS:
            raise ValueError(f"{path} slot {s.get('id')!r}: kind must be one of {', '.join(KINDS)}")
        slots[s["id"]] = Slot(s["id"], s["kind"], float(s["points"]))
    items = [_item(d, slots, f"{path} item {d.get('id', i)!r}") for i, d in enumerate(data.get("item", []))]
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: item ids must be unique")
    empty = [s for s in slots if not any(i.slot == s for i in items)]
    if not slots or empty:
        raise ValueError(f"{path}: every slot needs at least one item; empty: {', '.join(empty) or 'no slots'}")
    return Bank(tuple(slots.values()), tuple(items))


def draw(bank: Bank, student: str, seed: int) -> list[Item]:
    """One item per slot, the same for the same ``(student, seed)`` on every machine."""
    digest = hashlib.sha256(f"{seed}:{student}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return [bank.pool(s.id)[rng.integers(len(bank.pool(s.id)))] for s in bank.slots]


def score(item: Item, answer, points: float) -> tuple[float, str]:
    """``(points earned, comment)`` for a closed item; ``answer`` as the student wrote it."""
    if answer is None:
        return 0.0, "no answer"
    if isinstance(item.options, tuple) and item.options:
        got = str(answer).strip().lower()
        right = LETTERS[item.answer]
        ok = got == right
        return (points if ok else 0.0), ("correct" if ok else f"expected ({right}), got ({got})") + f". {item.explanation}"
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return 0.0, f"could not read {answer!r} as a number. {item.explanation}"
    ok = math.isclose(value, float(item.answer), rel_tol=item.rel_tol, abs_tol=1e-9)
    verdict = "correct" if ok else f"expected {item.answer:g} (within {100 * item.rel_tol:g} %), got {value:g}"
    return (points if ok else 0.0), f"{verdict}. {item.explanation}"
