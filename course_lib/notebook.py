"""Small helpers the lecture notebooks share: the repository URL, Colab badges, quizzes.

The guide for writing a notebook is ``lectures/README.md``.
"""
from __future__ import annotations

import base64
import html
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

# The project's canonical public repository. Every notebook's Colab badge and setup cell use it;
# tests/test_notebooks_common.py checks they match this constant.
REPO = "https://github.com/edgeml-course/edgeml-course"
BRANCH = "main"


def colab_url(path: str) -> str:
    """Colab link of a notebook, ``path`` relative to the repository root (``lectures/x.ipynb``)."""
    path = str(PurePosixPath(path))
    if path.startswith("/") or not path.endswith(".ipynb"):
        raise ValueError(f"path must be a notebook path relative to the repository root, got {path!r}")
    return f"https://colab.research.google.com/github/{REPO.removeprefix('https://github.com/')}/blob/{BRANCH}/{path}"


def colab_badge(path: str) -> str:
    """The markdown of the "Open in Colab" badge for a notebook (paste it under the title)."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


# --- Quizzes -----------------------------------------------------------------------------------
# A quiz cell must not show its answer to the student who reads the source, so the answer is
# stored as an opaque key (reversible on purpose: the check runs in the student's kernel anyway;
# the key only keeps the answer out of sight). Make one with ``python -m course_lib.notebook key 2``.
_KEY_PREFIX = "k1:"
TRIES = 2  # wrong answers before the right one is revealed: one retry


def answer_key(answer: int | float) -> str:
    """The opaque key of ``answer`` (an option index, or a number for :func:`numeric_quiz`)."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        raise ValueError(f"answer must be an option index or a finite number, got {answer!r}")
    raw = json.dumps({"a": answer}).encode()[::-1]
    return _KEY_PREFIX + base64.urlsafe_b64encode(raw).decode()


def _read_key(key: str) -> int | float:
    if not isinstance(key, str) or not key.startswith(_KEY_PREFIX):
        raise ValueError(f"key must come from course_lib.notebook.answer_key(...) "
                         f"(run `python -m course_lib.notebook key ANSWER`), got {key!r}")
    try:
        return json.loads(base64.urlsafe_b64decode(key[len(_KEY_PREFIX):].encode())[::-1])["a"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"key {key!r} is corrupt; make a new one with answer_key(...)") from err


class _Attempts:
    """Retry logic shared by both quiz kinds: right -> explanation; wrong -> retry, then reveal."""

    tries = TRIES

    def _feedback(self, ok: bool, reveal: str) -> tuple[bool, str]:
        if ok:
            return True, f"Correct. {self.explanation}".strip()
        self.wrong = getattr(self, "wrong", 0) + 1
        left = self.tries - self.wrong
        if left > 0:
            return False, f"Not quite. Try again ({left} {'try' if left == 1 else 'tries'} left)."
        return False, f"Not quite: the answer is {reveal}. {self.explanation}".strip()

    def _render(self, control, read):
        import ipywidgets as w

        button = w.Button(description="Check", button_style="primary")
        out = w.HTML()

        def on_click(_):
            value = read()
            if value is None:
                out.value = "<i>Answer first.</i>"
                return
            try:
                ok, text = self.check(value)
            except ValueError as err:
                out.value = f"<i>{html.escape(str(err))}</i>"
                return
            colour = "green" if ok else "#b00"
            out.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

        button.on_click(on_click)
        return w.VBox([w.HTML(f"<b>{html.escape(self.question)}</b>"), control, button, out])

    def _ipython_display_(self):
        from IPython.display import display

        try:
            display(self.widget())
        except ImportError:  # no ipywidgets: print the question; call .check(...) by hand
            print(self.question)
            for i, o in enumerate(getattr(self, "options", [])):
                print(f"  {i}. {o}")


@dataclass
class Quiz(_Attempts):
    """One multiple-choice question with feedback: one retry, then the answer and why."""
    question: str
    options: list[str]
    key: str
    explanation: str = ""

    def __post_init__(self):
        if isinstance(self.key, int) and not isinstance(self.key, bool):
            warnings.warn("a quiz's answer as a plain index shows it to students in the cell source; pass "
                          f"key=answer_key({self.key}) instead (`python -m course_lib.notebook key {self.key}`)",
                          DeprecationWarning, stacklevel=3)
            self.key = answer_key(self.key)
        if len(self.options) < 2:
            raise ValueError("a quiz needs at least two options")
        answer = _read_key(self.key)
        if not isinstance(answer, int) or not 0 <= answer < len(self.options):
            raise ValueError(f"the key's answer must index options (0..{len(self.options) - 1}), got {answer!r}")
        self.answer = answer

    def check(self, choice: int) -> tuple[bool, str]:
        """``(correct, feedback text)`` for the option index ``choice``; counts wrong attempts."""
        if not isinstance(choice, int) or not 0 <= choice < len(self.options):
            raise ValueError(f"choice must be in 0..{len(self.options) - 1}, got {choice!r}")
        return self._feedback(choice == self.answer, f"\u201c{self.options[self.answer]}\u201d")

    def widget(self):
        """Radio buttons, a Check button and the feedback below them (ipywidgets)."""
        import ipywidgets as w

        radio = w.RadioButtons(options=[(o, i) for i, o in enumerate(self.options)], value=None,
                               layout=w.Layout(width="max-content"))
        return self._render(radio, lambda: radio.value)


@dataclass
class NumericQuiz(_Attempts):
    """A question answered with a number, right within ``rel_tol`` (relative) or ``abs_tol``."""
    question: str
    key: str
    explanation: str = ""
    unit: str = ""
    rel_tol: float = 0.02
    abs_tol: float = 0.0

    def __post_init__(self):
        if self.rel_tol < 0 or self.abs_tol < 0:
            raise ValueError(f"tolerances must be >= 0, got rel_tol={self.rel_tol}, abs_tol={self.abs_tol}")
        self.answer = float(_read_key(self.key))

    def check(self, value: float) -> tuple[bool, str]:
        """``(correct, feedback text)`` for the number ``value``; counts wrong attempts."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"answer with a number, got {value!r}") from None
        ok = math.isclose(value, self.answer, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
        return self._feedback(ok, f"{self.answer:g}{(' ' + self.unit) if self.unit else ''}")

    def widget(self):
        """A number box (with the unit), a Check button and the feedback (ipywidgets)."""
        import ipywidgets as w

        box = w.Text(placeholder="a number", description=self.unit or "answer")
        return self._render(box, lambda: box.value.strip() or None)


def quiz(question: str, options: list[str], key: str, explanation: str = "") -> Quiz:
    """A multiple-choice :class:`Quiz`; as the last expression of a cell it renders as a widget.

    ``key`` is ``answer_key(index of the right option)``, so the cell does not show the answer.
    """
    return Quiz(question, list(options), key, explanation)


def numeric_quiz(question: str, key: str, explanation: str = "", unit: str = "",
                 rel_tol: float = 0.02, abs_tol: float = 0.0) -> NumericQuiz:
    """A :class:`NumericQuiz` (``key = answer_key(number)``); renders as a widget like :func:`quiz`."""
    return NumericQuiz(question, key, explanation, unit, rel_tol, abs_tol)


def main(argv=None) -> int:
    """``python -m course_lib.notebook key ANSWER``: print the key to paste into a quiz cell."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_lib.notebook",
                                     description="Make the answer key of a quiz cell.")
    sub = parser.add_subparsers(dest="command", required=True)
    k = sub.add_parser("key", help="print answer_key(ANSWER): an option index or a number")
    k.add_argument("answer", help="option index (0-based) or a number")
    args = parser.parse_args(argv)
    text = args.answer
    answer = int(text) if text.lstrip("-").isdigit() else float(text)
    print(answer_key(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
