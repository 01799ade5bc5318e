"""Small helpers the lecture notebooks share: the repository URL, Colab badges, quizzes.

The guide for writing a notebook is ``lectures/README.md``.
"""
from __future__ import annotations

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


@dataclass
class Quiz:
    """One multiple-choice question with immediate feedback.

    ``answer`` is the index of the correct option; ``explanation`` is shown after any attempt
    (why the right answer is right is the point of the quiz, not the score).
    """
    question: str
    options: list[str]
    answer: int
    explanation: str = ""

    def __post_init__(self):
        if len(self.options) < 2:
            raise ValueError("a quiz needs at least two options")
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer must index options (0..{len(self.options) - 1}), got {self.answer}")

    def check(self, choice: int) -> tuple[bool, str]:
        """``(correct, feedback text)`` for the option index ``choice``."""
        if not 0 <= choice < len(self.options):
            raise ValueError(f"choice must be in 0..{len(self.options) - 1}, got {choice}")
        ok = choice == self.answer
        verdict = "Correct." if ok else f"Not quite: the answer is \u201c{self.options[self.answer]}\u201d."
        return ok, f"{verdict} {self.explanation}".strip()

    def widget(self):
        """Radio buttons, a Check button and the feedback below them (ipywidgets)."""
        import ipywidgets as w

        radio = w.RadioButtons(options=[(o, i) for i, o in enumerate(self.options)], value=None,
                               layout=w.Layout(width="max-content"))
        button = w.Button(description="Check", button_style="primary")
        out = w.HTML()

        def on_click(_):
            if radio.value is None:
                out.value = "<i>Pick an option first.</i>"
                return
            ok, text = self.check(radio.value)
            colour = "green" if ok else "#b00"
            out.value = f"<span style='color:{colour}'>{text}</span>"

        button.on_click(on_click)
        return w.VBox([w.HTML(f"<b>{self.question}</b>"), radio, button, out])

    def _ipython_display_(self):
        from IPython.display import display

        try:
            display(self.widget())
        except ImportError:  # no ipywidgets: print the question; call .check(i) by hand
            print(self.question)
            for i, o in enumerate(self.options):
                print(f"  {i}. {o}")


def quiz(question: str, options: list[str], answer: int, explanation: str = "") -> Quiz:
    """Build a :class:`Quiz`; as the last expression of a cell it renders as a widget."""
    return Quiz(question, list(options), answer, explanation)
