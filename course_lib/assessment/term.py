"""The term's configuration (``grading/term.toml``): components and their points, letters, the
pass mark, due dates, the late policy and the assignments graded without running them."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO_ROOT / "grading"
TERM_FILE = "term.toml"


class TermError(ValueError):
    """``term.toml`` is missing a key or holds a bad value; the message names it and the fix."""


@dataclass(frozen=True)
class Component:
    """A part of the course total: ``points`` of 100, scaled from the scores of ``assignments``."""
    name: str
    points: float
    assignments: tuple[str, ...]


@dataclass(frozen=True)
class LatePolicy:
    """Penalty per notebook: free for ``grace_minutes``, then ``percent_per_day`` of its score per
    started day, and the whole score once more than ``max_days`` days late."""
    grace_minutes: float = 15.0
    percent_per_day: float = 10.0
    max_days: float = 5.0


@dataclass(frozen=True)
class Term:
    components: tuple[Component, ...]
    letters: tuple[tuple[str, float], ...]  # (letter, lowest total), best first
    pass_mark: float = 51.0
    due: dict = field(default_factory=dict)  # assignment -> aware datetime
    late: LatePolicy = LatePolicy()
    no_execute: tuple[str, ...] = ()
    exam_assignment: str = "final_exam"
    exam_seed: int = 0

    def component_of(self, assignment: str) -> Component | None:
        return next((c for c in self.components if assignment in c.assignments), None)


def _need(table: dict, key: str, where: str):
    if key not in table:
        raise TermError(f"{where} has no {key!r}; add it (see grading/term.toml in the repository)")
    return table[key]


def _number(value, where: str, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise TermError(f"{where} must be a number >= {low}, got {value!r}")
    return float(value)


def _date(text, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        raise TermError(f"{where} must be an ISO date like 2027-03-12T23:59:00+01:00, got {text!r}") from None
    if when.tzinfo is None:
        raise TermError(f"{where} = {text!r} has no UTC offset; write it like 2027-03-12T23:59:00+01:00")
    return when


def parse(data: dict, source: str = TERM_FILE) -> Term:
    """Validate the parsed TOML ``data`` into a :class:`Term`."""
    grade = _need(data, "grade", source)
    comps = []
    for name, table in _need(data, "components", source).items():
        where = f"{source} [components.{name}]"
        assignments = _need(table, "assignments", where)
        if not isinstance(assignments, list) or not all(isinstance(a, str) for a in assignments):
            raise TermError(f"{where} assignments must be a list of names, got {assignments!r}")
        comps.append(Component(name, _number(_need(table, "points", where), f"{where} points"), tuple(assignments)))
    total = sum(c.points for c in comps)
    if abs(total - 100) > 1e-9:
        raise TermError(f"{source}: the components' points add up to {total:g}, not 100: "
                        + ", ".join(f"{c.name} {c.points:g}" for c in comps))
    seen = [a for c in comps for a in c.assignments]
    twice = sorted({a for a in seen if seen.count(a) > 1})
    if twice:
        raise TermError(f"{source}: assignment(s) {', '.join(twice)} belong to more than one component")
    letters = sorted(((k, _number(v, f"{source} [grade] letters.{k}")) for k, v in
                      _need(grade, "letters", f"{source} [grade]").items()), key=lambda kv: -kv[1])
    late = data.get("late", {})
    policy = LatePolicy(**{k: _number(v, f"{source} [late] {k}") for k, v in late.items()
                           if k in LatePolicy.__dataclass_fields__})
    unknown = set(late) - set(LatePolicy.__dataclass_fields__)
    if unknown:
        raise TermError(f"{source} [late] has unknown key(s) {', '.join(sorted(unknown))}; "
                        f"known: {', '.join(LatePolicy.__dataclass_fields__)}")
    exam = data.get("exam", {})
    return Term(components=tuple(comps), letters=tuple(letters),
                pass_mark=_number(grade.get("pass_mark", 51), f"{source} [grade] pass_mark"),
                due={a: _date(t, f"{source} [due] {a}") for a, t in data.get("due", {}).items()},
                late=policy, no_execute=tuple(data.get("autograde", {}).get("no_execute", ())),
                exam_assignment=exam.get("assignment", "final_exam"), exam_seed=int(exam.get("seed", 0)))


def load(root: Path = DEFAULT_ROOT) -> Term:
    """Read ``ROOT/term.toml`` (``root`` may also be the file itself)."""
    path = Path(root)
    path = path if path.suffix == ".toml" else path / TERM_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no term file {path}: copy grading/term.toml from the repository and edit it")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise TermError(f"{path} is not valid TOML: {e}") from None
    return parse(data, str(path))


def now() -> datetime:
    return datetime.now(timezone.utc)


def gradebook(root: Path):
    """nbgrader's ``Gradebook`` of ``ROOT/gradebook.db`` (a context manager).

    A new gradebook is migrated by nbgrader's ``alembic`` command: it must be on PATH, next to
    this Python, even when the environment was not activated.
    """
    import os
    import sys

    from nbgrader.api import Gradebook

    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])
    return Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}")
