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


def _entries(root: Path, name: str, students: list[str]) -> list[dict]:
    """Report entries (as the sandboxed autograde writes them) from the gradebook's scores; a
    student nbgrader wrote no graded copy for is ``NOT GRADED`` (its log is under ``ROOT/logs/``)."""
    from nbgrader.api import MissingEntry

    entries = []
    with _term.gradebook(root) as gb:
        for student in students:
            entry = {"student": student, "assignment": name, "status": "graded", "score": 0.0, "max_score": 0.0,
                     "reasons": [], "notebooks": {}}
            try:
                sub = gb.find_submission(name, student)
            except MissingEntry:
                sub = None
            if sub is None or not any((root / "autograded" / student / name).glob("*.ipynb")):
                entry["status"] = ("NOT GRADED: `nbgrader autograde --no-execute` wrote no graded copy "
                                   f"(see the nbgrader-autograde log under {root / 'logs'})")
            else:
                entry.update(score=sub.score, max_score=sub.max_score,
                             notebooks={nb.name: {"status": "graded", "score": nb.score, "max_score": nb.max_score}
                                        for nb in sub.notebooks})
            entries.append(entry)
    return entries


def regrade_without_running(root: Path, solutions: Path | None = None) -> list[str]:
    """``nbgrader autograde A --force --no-execute`` for every ``no_execute`` assignment with
    submissions: their outputs (numbers measured on a Jetson or a GPU) are kept as submitted.
    Hand-given scores survive (nbgrader keeps manual scores when it re-autogrades). The sandboxed
    ``python -m course_lib.grading autograde`` skips these assignments; this step writes their
    ``ROOT/reports/A.json`` and ``.txt``, which ``feedback`` and ``grades`` read."""
    from course_lib import grading
    from course_lib.grading.autograde import write_report

    root = Path(root).resolve()
    t = _term.load(root)
    found = grading.submissions(root)
    done = []
    for name in t.no_execute:
        if name in found:
            if not _recorded(root, name):  # a fresh gradebook: record the grade cells first
                grading.generate(root, Path(solutions) if solutions else grading.DEFAULT_SOLUTIONS, labs=None,
                                 names=[name])
            try:
                grading.nbgrader(root, "autograde", name, "--force", "--no-execute")
            except grading.GradingError as e:
                failed = e
            else:
                failed = None
            entries = _entries(root, name, found[name])
            print(write_report(root, name, entries, []).read_text(), end="")
            if failed:  # the report names who was graded; the error says why the others were not
                raise failed
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
