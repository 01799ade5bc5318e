"""What follows ``make autograde`` for the term: assignments graded without running them, the
exam's closed items, and feedback packed per student for return."""
from __future__ import annotations

import shutil
from pathlib import Path

from . import exam as _exam
from . import term as _term


def _recorded(root: Path, name: str) -> bool:
    from nbgrader.api import MissingEntry

    with _term.gradebook(root) as gb:
        try:
            gb.find_assignment(name)
            return True
        except MissingEntry:
            return False


def regrade_without_running(root: Path, solutions: Path | None = None) -> list[str]:
    """``nbgrader autograde A --force --no-execute`` for every ``no_execute`` assignment with
    submissions: their outputs (numbers measured on a Jetson or a GPU) are kept as submitted.
    Hand-given scores survive (nbgrader keeps manual scores when it re-autogrades)."""
    from course_lib import grading

    root = Path(root).resolve()
    t = _term.load(root)
    found = grading.submissions(root)
    done = []
    for name in t.no_execute:
        if name in found:
            if not _recorded(root, name):  # a fresh gradebook: record the grade cells first
                grading.generate(root, Path(solutions) if solutions else grading.DEFAULT_SOLUTIONS, labs=None,
                                 names=[name])
            grading.nbgrader(root, "autograde", name, "--force", "--no-execute")
            print(f"autograded {name} without running it: {', '.join(found[name])}")
            done.append(name)
    return done


def finish(root: Path, solutions: Path | None = None) -> None:
    regrade_without_running(root, solutions)
    _exam.grade_exam(root)


def pack_feedback(root: Path) -> list[Path]:
    """``ROOT/return/STUDENT.zip`` with everything under ``ROOT/feedback/STUDENT/``, one per student."""
    root = Path(root).resolve()
    students = sorted(d for d in (root / "feedback").glob("*") if d.is_dir())
    if not students:
        print(f"no feedback under {root / 'feedback'}: run make feedback first")
        return []
    out = root / "return"
    out.mkdir(exist_ok=True)
    made = [Path(shutil.make_archive(str(out / d.name), "zip", root_dir=d)) for d in students]
    print(f"feedback packed for {len(made)} student(s) in {out}")
    return made
