"""What every notebook must satisfy (lectures/README.md): no outputs committed, the Colab badge
and setup cell pointing at course_lib.notebook.REPO, a stated runtime; and the quiz widget."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_lib.notebook import RELEASE, REPO, Quiz, answer_key, colab_badge, colab_url, numeric_quiz, quiz

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
    assert any(re.search(r"^## Exercises", c.source, re.M) for c in nb.cells if c.cell_type == "markdown"), "no exercises"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_quizzes_hide_their_answers_and_one_is_numeric(path):
    """lectures/README.md section 4: 3-7 quizzes, one numeric, collapsed, keyed and tagged."""
    quizzes = [c for c in nbformat.read(path, 4).cells if c.cell_type == "code" and "quiz(" in c.source]
    assert 3 <= len(quizzes) <= 7 and any("numeric_quiz(" in c.source for c in quizzes), f"{len(quizzes)} quizzes"
    for c in quizzes:
        head = c.source[:60]
        assert c.source.startswith("#@title Quiz") and "# Checks goal" in c.source, f"title or goal tag missing: {head}"
        assert c.metadata.get("jupyter", {}).get("source_hidden") and c.metadata.get("cellView") == "form", \
            f"quiz source not collapsed: {head}"
        assert '"k1:' in c.source, f"the answer is not a course_lib.notebook.answer_key: {head}"


def test_quiz_feedback():
    q = quiz("2 + 2?", ["3", "4"], answer_key(1), "Count them.")
    assert "a\"" not in answer_key(1) and answer_key(1) != answer_key(2), "the key hides the answer"
    assert q.check(1) == (True, "Correct. Count them.")
    ok, text = q.check(0)
    assert not ok and "Try again" in text and "\u201c4\u201d" not in text, "the first wrong answer reveals nothing"
    ok, text = q.check(0)
    assert not ok and "\u201c4\u201d" in text and "Count them." in text, "the second wrong answer reveals"
    with pytest.raises(ValueError, match="choice"):
        q.check(2)
    with pytest.raises(ValueError, match="index options"):
        Quiz("?", ["a", "b"], answer_key(5))
    with pytest.raises(ValueError, match="answer_key"):
        Quiz("?", ["a", "b"], "2")
    assert q.widget().children  # builds the ipywidgets view


def test_numeric_quiz_tolerance_and_retry():
    q = numeric_quiz("Bytes of 1,000 int8 weights?", answer_key(1000), "One byte each.", unit="B")
    assert q.check("1010")[0] and q.check(990.0)[0], "within 2 % is right"
    ok, text = q.check(4000)
    assert not ok and "Try again" in text
    ok, text = q.check(4000)
    assert not ok and "1000 B" in text
    with pytest.raises(ValueError, match="number"):
        q.check("many")
    assert q.widget().children


def test_answer_key_round_trip_and_cli(capsys):
    from course_lib.notebook import _read_key, main

    for a in (0, 3, 0.125, -2.5, 1e-6):
        assert _read_key(answer_key(a)) == a
    with pytest.raises(ValueError):
        answer_key(float("nan"))
    assert main(["key", "2"]) == 0 and capsys.readouterr().out.strip() == answer_key(2)


def test_quiz_plain_index_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="answer_key"):
        q = quiz("?", ["a", "b"], 1)
    assert q.check(1)[0]


def test_colab_url():
    assert colab_url("lectures/week03_quantization.ipynb") == (
        f"https://colab.research.google.com/github/edgeml-course/edgeml-course/blob/{RELEASE}/lectures/week03_quantization.ipynb")
    with pytest.raises(ValueError, match="relative"):
        colab_url("/abs/x.ipynb")
