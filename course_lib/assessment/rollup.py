"""The course total per student, read from nbgrader's gradebook with the term's components.

Each weighted component counts ``points * (sum of scores - late penalties) / (sum of maxima)`` over
its assignments; the late policy of ``term.toml`` is applied to the final (hand-graded) score.
A component with an assignment not submitted, or not fully graded by hand, is
**not** counted as zero silently: the row names it in ``missing`` and its result is INCOMPLETE.
Components worth 0 points (the labs by default) are reported as a fraction, for information.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from . import term as _term
from .late import late_penalty

OUTPUT = "course_totals.csv"


def letter(total: float, letters) -> str:
    """The best letter whose lowest total ``total`` reaches; ``"F"`` below all of them."""
    for name, lowest in sorted(letters, key=lambda kv: -kv[1]):
        if total >= lowest - 1e-9:
            return name
    return "F"


@dataclass
class Row:
    student: str
    points: dict = field(default_factory=dict)     # weighted component -> points (None: missing)
    fractions: dict = field(default_factory=dict)  # zero-weight component -> score fraction (None: nothing)
    missing: list = field(default_factory=list)    # "exam: final_exam not submitted", ...
    total: float = 0.0
    letter: str = ""
    result: str = ""


def _assignment_scores(gb, student: str, name: str, policy: _term.LatePolicy):
    """``(score after penalty, max score, problem or None)`` of one student's assignment."""
    from nbgrader.api import MissingEntry

    try:
        maximum = gb.find_assignment(name).max_score
    except MissingEntry:
        return 0.0, 0.0, f"{name} is not in the gradebook (run make labs / make exam)"
    try:
        sub = gb.find_submission(name, student)
    except MissingEntry:
        return 0.0, maximum, f"{name} not submitted"
    # a cell without any score is ungraded; nbgrader also flags hand-scored cells "for review"
    # after every re-autograde, but their scores stand, so that flag alone does not count
    if any(g.manual_score is None and g.auto_score is None for nb in sub.notebooks for g in nb.grades):
        return 0.0, maximum, f"{name} not fully graded (formgrader: Manual Grading)"
    # the policy is applied to the final score: nbgrader's own penalty was computed at autograde
    # time, before any hand grading, and would be 0 for a seminar paper graded later
    penalty = late_penalty(float(sub.score), float(sub.total_seconds_late or 0.0), policy)
    return float(sub.score) - penalty, float(sub.max_score), None


def student_row(gb, student: str, t: _term.Term) -> Row:
    row = Row(student)
    for comp in t.components:
        got = maximum = 0.0
        problems = []
        for name in comp.assignments:
            s, m, problem = _assignment_scores(gb, student, name, t.late)
            got, maximum = got + s, maximum + m
            if problem:
                problems.append(problem)
        if comp.points == 0:
            row.fractions[comp.name] = round(got / maximum, 4) if maximum else None
            continue
        if problems or not maximum:
            row.points[comp.name] = None
            row.missing.append(f"{comp.name}: {'; '.join(problems) or 'no points to score'}")
        else:
            row.points[comp.name] = round(comp.points * got / maximum, 2)
    row.total = round(sum(p for p in row.points.values() if p is not None), 2)
    if row.missing:
        row.result = "INCOMPLETE"
    else:
        row.letter = letter(row.total, t.letters)
        row.result = "pass" if row.total >= t.pass_mark - 1e-9 else "fail"
    return row


def course_totals(root: Path = _term.DEFAULT_ROOT, csv_path: Path | None = None) -> list[Row]:
    """One :class:`Row` per student of the gradebook; written to ``ROOT/course_totals.csv``."""
    root = Path(root).resolve()
    t = _term.load(root)
    db = root / "gradebook.db"
    if not db.is_file():
        raise FileNotFoundError(f"no gradebook {db}: run make labs and make autograde first")
    with _term.gradebook(root) as gb:
        rows = [student_row(gb, s.id, t) for s in sorted(gb.students, key=lambda s: s.id)]
    write_csv(rows, t, Path(csv_path) if csv_path else root / OUTPUT)
    return rows


def write_csv(rows: list[Row], t: _term.Term, path: Path) -> None:
    weighted = [c.name for c in t.components if c.points > 0]
    formative = [c.name for c in t.components if c.points == 0]
    header = (["student_id"] + [f"{c}_points" for c in weighted] + [f"{c}_fraction" for c in formative]
              + ["total", "letter", "result", "missing"])
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.student] + ["" if r.points[c] is None else r.points[c] for c in weighted]
                       + ["" if r.fractions[c] is None else r.fractions[c] for c in formative]
                       + [r.total, r.letter, r.result, " | ".join(r.missing)])


def format_table(rows: list[Row], t: _term.Term) -> str:
    weighted = [c for c in t.components if c.points > 0]
    head = f"{'student':14s}" + "".join(f"{c.name + ' /' + format(c.points, 'g'):>14s}" for c in weighted)
    lines = [head + f"{'total':>8s} {'letter':>6s}  result"]
    for r in rows:
        cells = "".join(f"{'MISSING' if r.points[c.name] is None else format(r.points[c.name], '.2f'):>14s}"
                        for c in weighted)
        lines.append(f"{r.student:14s}{cells}{r.total:8.2f} {r.letter:>6s}  {r.result}"
                     + (f"  ({' | '.join(r.missing)})" if r.missing else ""))
    return "\n".join(lines)
