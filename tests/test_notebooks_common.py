"""What every notebook must satisfy (lectures/README.md): no outputs committed, the Colab badge
and setup cell pointing at course_lib.notebook.REPO, a stated runtime; and the quiz widget."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from course_lib.notebook import REPO, Quiz, colab_badge, colab_url, quiz

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("week*.ipynb"))
ALL = LECTURES + sorted((ROOT / "solutions").rglob("*.ipynb")) + sorted((ROOT / "labs").rglob("*.ipynb"))


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_without_outputs(path):
    nb = nbformat.read(path, 4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `jupyter nbconvert --clear-output --inplace {path}`"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_header_badge_and_setup(path):
    nb = nbformat.read(path, 4)
    title = nb.cells[0].source
    assert title.startswith("# Week "), "the first cell is the title"
    assert colab_badge(str(path.relative_to(ROOT))) in title, "badge missing or not matching course_lib.notebook.REPO"
    assert "Learning goals" in title and "Runtime" in title
    setup = nb.cells[1].source
    assert f'REPO = "{REPO}"' in setup and '"google.colab" in sys.modules' in setup
    assert any("quiz(" in c.source for c in nb.cells), "a lecture ends with a quiz"
    assert any("widgets." in c.source for c in nb.cells), "a lecture has an interactive widget"


def test_quiz_feedback():
    q = quiz("2 + 2?", ["3", "4"], 1, "Count them.")
    assert q.check(1) == (True, "Correct. Count them.")
    ok, text = q.check(0)
    assert not ok and "\u201c4\u201d" in text and "Count them." in text
    with pytest.raises(ValueError, match="choice"):
        q.check(2)
    with pytest.raises(ValueError, match="answer"):
        Quiz("?", ["a", "b"], 5)
    assert q.widget().children  # builds the ipywidgets view


def test_colab_url():
    assert colab_url("lectures/week03_quantization.ipynb") == (
        "https://colab.research.google.com/github/edgeml-course/edgeml-course/blob/main/lectures/week03_quantization.ipynb")
    with pytest.raises(ValueError, match="relative"):
        colab_url("/abs/x.ipynb")
