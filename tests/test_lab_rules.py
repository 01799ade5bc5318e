"""Every lab follows the grading rules of lectures/README.md section 4 (fast: reads the sources only).

Test cells of at most 2 points, each with a visible `# hidden tests also check:` line and hidden
tests; every visible assert with a message; 2-4 points graded by hand, each with a graders' guide;
the lecture header (Colab badge, runtime, effort, Counts-for line) and a Colab setup cell after it.
"""
from __future__ import annotations

import ast

import nbformat
import pytest

from test_grading import LABS, SOLUTIONS, kind, notebook_of

HIDDEN = "### BEGIN HIDDEN TESTS"
COUNTS_FOR = ("**Counts for:** formative practice, 0 points of the course grade by default "
              "(your instructor may fold labs into a graded component).")


def cells_of(assignment):
    return nbformat.read(notebook_of(SOLUTIONS / assignment), 4).cells


def bare_asserts(source: str) -> list[int]:
    """Line numbers of `assert` statements without a message in a cell's source."""
    return [n.lineno for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Assert) and n.msg is None]


@pytest.mark.parametrize("assignment", LABS)
def test_test_cells_are_small_and_explain_themselves(assignment):
    for cell in cells_of(assignment):
        if kind(cell) != "test":
            continue
        gid, points = cell.metadata["nbgrader"]["grade_id"], cell.metadata["nbgrader"]["points"]
        visible = cell.source.split(HIDDEN)[0]
        assert points <= 2, f"{gid} is worth {points} points: split it (example / general case / edge case)"
        assert HIDDEN in cell.source, f"{gid} has no hidden tests"
        assert "# hidden tests also check:" in visible, f"{gid} does not say what its hidden tests check"
        assert not bare_asserts(visible), f"{gid}: asserts without a message on lines {bare_asserts(visible)}"


@pytest.mark.parametrize("assignment", LABS)
def test_written_answers_are_worth_two_to_four_points_with_a_guide(assignment):
    written = [c for c in cells_of(assignment) if kind(c) == "solution" and c.cell_type == "markdown"
               and c.metadata["nbgrader"].get("grade")]
    points = sum(c.metadata["nbgrader"]["points"] for c in written)
    assert 2 <= points <= 4, f"{points} points of written answers, expected 2-4"
    for cell in written:
        assert "=== BEGIN SOLUTION ===" in cell.source and "=== END SOLUTION ===" in cell.source, (
            f"{cell.metadata['nbgrader']['grade_id']} has no graders' guide")


@pytest.mark.parametrize("assignment", LABS)
def test_lab_has_the_lecture_header(assignment):
    title, setup = cells_of(assignment)[:2]
    for needed in ("colab.research.google.com", "**Runtime", "effort", COUNTS_FOR):
        assert needed in title.source, f"the title cell of {assignment} lacks {needed!r}"
    assert setup.cell_type == "code" and "google.colab" in setup.source, "the cell after the title is not the setup cell"
