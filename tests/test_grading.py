"""The nbgrader pipeline end to end, with the real commands, in a temporary copy of grading/.

One module-scoped course: generate the student versions, submit (per lab) the solution, the
untouched student version, a version whose tests were edited and one deleted, one with an
infinite loop and one that raises, plus a project-defence report; autograde them all with a short
cell timeout, write feedback and export the CSV. Each test then checks one promise.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_lib.grading.sandbox import probe

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
LABS = sorted(d.name for d in SOLUTIONS.iterdir() if d.name.startswith("lab") and any(d.glob("*.ipynb")))
LOOP_TIMEOUT = 20  # seconds per cell in the test run: above any real lab cell, far below 300
PLANTED_ERROR = "RuntimeError: a student bug"
SANDBOX_PROBLEM = probe()  # None where bubblewrap works (CI installs it)


def grading(*args, root, check=True):
    """`python -m course_lib.grading ARGS --root ROOT` (what `make labs|autograde|...` run);
    without bubblewrap (macOS), autograde runs these trusted submissions with `--unsafe`."""
    if args[0] == "autograde" and SANDBOX_PROBLEM:
        args = (*args, "--unsafe")
    proc = subprocess.run([sys.executable, "-m", "course_lib.grading", *args, "--root", str(root)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 or not check, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def notebook_of(folder: Path) -> Path:
    (nb,) = folder.glob("*.ipynb")
    return nb


def manual_points(assignment: str) -> float:
    """Points of the cells graded by hand (written answers): autograde leaves them to the grader."""
    cells = nbformat.read(notebook_of(SOLUTIONS / assignment), 4).cells
    return sum(c.metadata["nbgrader"]["points"] for c in cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))


def kind(cell) -> str:
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade") and not meta.get("solution"):
        return "test"
    return "solution" if meta.get("solution") else "other"


def submit(root: Path, student: str, assignment: str, nb) -> None:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")


def make_submissions(root: Path, labs: Path, assignment: str) -> None:
    source = nbformat.read(notebook_of(SOLUTIONS / assignment), 4)
    student = nbformat.read(notebook_of(labs / assignment), 4)
    submit(root, "solution", assignment, source)
    submit(root, "untouched", assignment, student)

    # edit every test to `pass` (free points if nothing restored them) and delete the last one
    tampered = nbformat.from_dict(json.loads(json.dumps(student)))
    tests = [c for c in tampered.cells if kind(c) == "test"]
    for cell in tests:
        cell.source = "pass"
    tampered.cells.remove(tests[-1])
    submit(root, "tampered", assignment, tampered)

    looping = nbformat.from_dict(json.loads(json.dumps(source)))
    last = [c for c in looping.cells if kind(c) == "solution" and c.cell_type == "code"][-1]
    last.source = "while True:  # a student's infinite loop\n    pass\n" + last.source
    submit(root, "loops", assignment, looping)

    raising = nbformat.from_dict(json.loads(json.dumps(source)))
    first = [c for c in raising.cells if kind(c) == "solution" and c.cell_type == "code"][0]
    first.source = 'raise RuntimeError("a student bug")\n' + first.source
    submit(root, "raises", assignment, raising)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("course")
    root, labs = base / "grading", base / "labs"
    root.mkdir()
    shutil.copy(REPO / "grading" / "nbgrader_config.py", root)
    out = {"generate": grading("generate", "--labs", str(labs), root=root)}
    for assignment in LABS:
        make_submissions(root, labs, assignment)
    defence = nbformat.read(notebook_of(labs / "project_defence"), 4)
    for cell in defence.cells:
        if kind(cell) == "solution" and cell.cell_type == "markdown":  # an unchanged answer scores 0 at once
            cell.source = "Our answer, to be graded by hand."
    submit(root, "solution", "project_defence", defence)
    # one broken assignment must not hide the others: each test below checks its own
    out["autograde"] = grading("autograde", "--timeout", str(LOOP_TIMEOUT), root=root, check=False)
    out["feedback"] = grading("feedback", root=root, check=False)
    out["grades"] = grading("grades", root=root)
    return {"root": root, "labs": labs, "log": out}


def scores(root: Path, assignment: str) -> dict[str, tuple[float, float]]:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


def autograded(root: Path, student: str, assignment: str):
    return nbformat.read(notebook_of(root / "autograded" / student / assignment), 4)


def errors(cell) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]


# --- the shape of every lab source (fast; no nbgrader run) ----------------------------------------

@pytest.mark.parametrize("assignment", LABS)
def test_lab_source_follows_the_pattern(assignment):
    cells = nbformat.read(notebook_of(SOLUTIONS / assignment), 4).cells
    ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "duplicate nbgrader grade_id"
    tests = [c for c in cells if kind(c) == "test"]
    graded = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert sum(c.metadata["nbgrader"]["points"] for c in graded) == 20, "every lab is worth 20 points"
    assert any("### BEGIN HIDDEN TESTS" in c.source for c in tests), "no hidden tests"
    # nbgrader 0.9.6 puts a deleted test cell back after the nbgrader cell (answer, test or read-only)
    # that preceded it in the source, and fails the student's whole notebook when that is a read-only one
    tracked = [c for c in cells if any(c.metadata.get("nbgrader", {}).get(k) for k in ("grade", "solution", "locked"))]
    for prev, cell in zip(tracked, tracked[1:]):
        if kind(cell) == "test":
            assert kind(prev) in ("test", "solution"), (
                f"test cell {cell.metadata['nbgrader']['grade_id']!r} follows the read-only cell "
                f"{prev.metadata['nbgrader']['grade_id']!r}: make that cell an ordinary (non-nbgrader) cell "
                "or move it above the answer cell, or a student who deletes the test breaks the grading")


# --- the round trip --------------------------------------------------------------------------------



@pytest.mark.slow
@pytest.mark.parametrize("assignment", LABS + ["project_defence"])
def test_autograde_and_feedback_succeed(course, assignment):
    log = course["log"]
    assert f"`nbgrader autograde {assignment} --force" not in log["autograde"], log["autograde"]
    assert f"autograded {assignment}:" in log["autograde"], log["autograde"]
    assert f"feedback for {assignment}" in log["feedback"], log["feedback"]


@pytest.mark.slow
def test_every_lab_is_worth_the_same_points(course):
    totals = {a: scores(course["root"], a)["solution"][1] for a in LABS}
    assert len(set(totals.values())) == 1, totals
    assert scores(course["root"], "project_defence")["solution"][1] == 40


@pytest.mark.slow
@pytest.mark.parametrize("assignment", LABS)
def test_solution_scores_full_marks_and_runs_without_errors(course, assignment):
    score, max_score = scores(course["root"], assignment)["solution"]
    assert max_score == 20 and score == max_score - manual_points(assignment), "every autograded point"
    nb = autograded(course["root"], "solution", assignment)
    failing = [(i, errors(c)) for i, c in enumerate(nb.cells) if errors(c)]
    assert not failing, f"the solution has failing cells: {failing}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", LABS)
def test_untouched_student_version_scores_zero(course, assignment):
    assert scores(course["root"], assignment)["untouched"][0] == 0
    nb = autograded(course["root"], "untouched", assignment)
    assert any("NotImplementedError" in e for c in nb.cells for e in errors(c))


@pytest.mark.slow
@pytest.mark.parametrize("assignment", LABS)
def test_edited_and_deleted_tests_are_restored(course, assignment):
    assert scores(course["root"], assignment)["tampered"][0] == 0  # `pass` would have scored
    original = [c.source for c in nbformat.read(notebook_of(course["labs"] / assignment), 4).cells if kind(c) == "test"]
    graded = [c.source for c in autograded(course["root"], "tampered", assignment).cells if kind(c) == "test"]
    assert len(graded) == len(original)
    assert all(o in g for o, g in zip(original, graded))  # a restored cell gets a notice on top


@pytest.mark.slow
@pytest.mark.parametrize("assignment", LABS)
def test_infinite_loop_is_cut_and_the_rest_still_graded(course, assignment):
    score, max_score = scores(course["root"], assignment)["loops"]
    assert 0 < score < max_score
    nb = autograded(course["root"], "loops", assignment)
    loop_at = next(i for i, c in enumerate(nb.cells) if "infinite loop" in c.source)
    assert any("Timeout" in e or "KeyboardInterrupt" in e for e in errors(nb.cells[loop_at]))
    later = [c for c in nb.cells[loop_at + 1:] if c.cell_type == "code"]
    assert later and all(c.get("execution_count") for c in later), "cells after the loop did not run"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", LABS)
def test_raising_submission_is_graded(course, assignment):
    score, max_score = scores(course["root"], assignment)["raises"]
    assert score < max_score
    nb = autograded(course["root"], "raises", assignment)
    assert any(PLANTED_ERROR in e for c in nb.cells for e in errors(c))
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_defence_waits_for_manual_grading(course):
    with Gradebook(f"sqlite:///{course['root'] / 'gradebook.db'}") as gb:
        sub = gb.find_submission("project_defence", "solution")
        assert sub.needs_manual_grade and sub.max_score == 40
        manual = [g for nb in sub.notebooks for g in nb.grades if g.auto_score is None]
        assert sorted(g.max_score for g in manual) == [6, 6, 8, 8, 12]


@pytest.mark.slow
def test_feedback_html_for_every_submission(course):
    root = course["root"]
    for student, assignment in [(s.parent.name, s.name) for s in (root / "autograded").glob("*/*")]:
        html = list((root / "feedback" / student / assignment).glob("*.html"))
        assert html, f"no feedback for {student}/{assignment}"
        assert "Score" in html[0].read_text() or "score" in html[0].read_text()


@pytest.mark.slow
def test_grades_csv_has_one_row_per_submission(course):
    rows = list(csv.DictReader(open(course["root"] / "grades.csv")))
    got = {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}
    for assignment in LABS:
        for student, (score, _) in scores(course["root"], assignment).items():
            assert got[(student, assignment)] == pytest.approx(score)
    assert ("solution", "project_defence") in got


@pytest.mark.slow
def test_labs_folder_is_up_to_date(course):
    """`make labs` output is committed: regenerate and compare cells (source, type, grading metadata)."""
    def cells(path):
        nb = nbformat.read(path, 4)
        return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]

    generated = sorted(p.relative_to(course["labs"]) for p in course["labs"].rglob("*.ipynb"))
    committed = sorted(p.relative_to(REPO / "labs") for p in (REPO / "labs").rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts)
    assert generated == committed, "labs/ is out of date: run `make labs`"
    for rel in generated:
        assert cells(course["labs"] / rel) == cells(REPO / "labs" / rel), f"labs/{rel} is out of date: run `make labs`"


def test_driver_rejects_bad_input(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "course_lib.grading", "generate", "--root", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "nbgrader_config.py" in proc.stderr
    shutil.copy(REPO / "grading" / "nbgrader_config.py", tmp_path)
    proc = subprocess.run([sys.executable, "-m", "course_lib.grading", "generate", "lab99_nothing",
                           "--root", str(tmp_path), "--labs", str(tmp_path / "labs")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "lab99_nothing" in proc.stderr and "lab03_quantization" in proc.stderr


def test_autograde_refuses_without_a_sandbox_unless_unsafe(tmp_path):
    """No bubblewrap on PATH (as on macOS): autograde stops before running anything, and says why."""
    shutil.copy(REPO / "grading" / "nbgrader_config.py", tmp_path)
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", "--root", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 2 and "bubblewrap" in proc.stderr and "--unsafe" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", "--unsafe", "--root", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 0 and "no submissions" in proc.stdout, proc.stdout + proc.stderr
