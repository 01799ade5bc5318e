"""Scores into nbgrader's gradebook, written by the grader alone (nbgrader's API, outside any sandbox).

A test cell earns its points only if the harness recorded its token (it ran to its end without an
error); nothing the kernel wrote into the notebook (outputs, metadata, ``manual_score``) is read.
Written answers are left for manual grading (0 at once when unchanged), as nbgrader does.
"""
from __future__ import annotations

import datetime as dt
import shutil
import warnings
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry


def db_url(root: Path) -> str:
    return f"sqlite:///{Path(root) / 'gradebook.db'}"


def backup(root: Path) -> Path | None:
    """Copy the gradebook to ``ROOT/backups/gradebook-<UTC time>.db`` (once per batch)."""
    db = Path(root) / "gradebook.db"
    if not db.exists():
        return None
    dest = Path(root) / "backups" / f"gradebook-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}.db"
    dest.parent.mkdir(exist_ok=True)
    shutil.copy2(db, dest)
    return dest


def in_gradebook(root: Path, assignment: str) -> bool:
    if not (Path(root) / "gradebook.db").exists():
        return False
    with Gradebook(db_url(root)) as gb:
        try:
            gb.find_assignment(assignment)
            return True
        except MissingEntry:
            return False


def add_student(root: Path, student: str) -> None:
    with Gradebook(db_url(root)) as gb:
        gb.update_or_create_student(student)


def test_points(nb) -> dict[str, float]:
    """``{grade_id: points}`` of the autograded test cells of a notebook."""
    return {c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"]) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution")}


def record(root: Path, assignment: str, student: str, notebook: str, nb, passed: set[str],
           timestamp: dt.datetime | None = None) -> float:
    """Write one graded notebook to the gradebook; return its automatic score."""
    total = 0.0
    with warnings.catch_warnings(), Gradebook(db_url(root)) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes from nbgrader's add_submission
        gb.update_or_create_student(student)
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            submission = gb.add_submission(assignment, student)
        submission.timestamp = timestamp
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            gid = meta.get("grade_id")
            if meta.get("grade"):
                grade = gb.find_grade(gid, notebook, assignment, student)
                if meta.get("solution"):
                    grade.auto_score, _ = utils.determine_grade(cell)  # 0 if unchanged, else by hand
                else:
                    grade.auto_score = float(meta["points"]) if gid in passed else 0.0
                    total += grade.auto_score
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            if meta.get("solution") or meta.get("task"):
                comment = gb.find_comment(gid, notebook, assignment, student)
                unchanged = meta.get("checksum") == utils.compute_checksum(cell) and not meta.get("task")
                comment.auto_comment = "No response." if unchanged else None
        gb.db.commit()
    return total


def apply_late_policy(root: Path, assignment: str, student: str, notebook: str, config) -> None:
    """nbgrader's ``AssignLatePenalties`` with the course's configured ``LateSubmissionPlugin``."""
    from nbgrader.preprocessors import AssignLatePenalties

    resources = {"nbgrader": {"notebook": notebook, "assignment": assignment, "student": student,
                              "db_url": db_url(root)}}
    AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), resources)
