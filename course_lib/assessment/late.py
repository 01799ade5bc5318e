"""Due dates and late work.

``schedule`` writes the due dates of ``term.toml`` into nbgrader's gradebook; nbgrader then
computes each submission's lateness from its ``timestamp.txt`` while autograding and asks the
late-submission plugin for a penalty. :class:`LatePenalty` is that plugin (enabled in
``grading/nbgrader_config.py``); it applies :func:`late_penalty` with the term's policy.
"""
from __future__ import annotations

import math
from datetime import timezone
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin

from . import term as _term

DAY_S = 86400.0


def late_penalty(score: float, seconds_late: float, policy: _term.LatePolicy) -> float:
    """Points to subtract from a notebook's ``score`` submitted ``seconds_late`` after the due date.

    Free within the grace period; then ``percent_per_day`` of the score per started day (counted
    from the due date); the whole score once more than ``max_days`` days late.
    """
    if seconds_late <= policy.grace_minutes * 60 or score <= 0:
        return 0.0
    if seconds_late > policy.max_days * DAY_S:
        return float(score)
    days = math.ceil(seconds_late / DAY_S)
    return float(min(score, score * policy.percent_per_day / 100 * days))


class LatePenalty(LateSubmissionPlugin):
    """nbgrader late-submission plugin: the policy of ``term.toml`` next to the gradebook."""

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float):
        policy = self._policy()
        penalty = late_penalty(score, total_seconds_late, policy)
        self.log.warning("%s is %.1f h late: penalty %.2f of %.2f points (%s)", student_id,
                         total_seconds_late / 3600, penalty, score, policy)
        return penalty

    def _policy(self) -> _term.LatePolicy:
        db_url = getattr(self.parent, "db_url", "") or ""
        root = Path(db_url[len("sqlite:///"):]).parent if db_url.startswith("sqlite:///") else Path.cwd()
        return _term.load(root).late


def schedule(root: Path = _term.DEFAULT_ROOT, solutions: Path | None = None) -> dict:
    """Write each due date of ``ROOT/term.toml`` into the gradebook; return ``{assignment: due}``.

    An assignment not yet in the gradebook is generated first from ``solutions`` (its grade cells
    must be recorded before anyone is graded), so run this after adding an assignment.
    """
    from nbgrader.api import MissingEntry

    from course_lib import grading

    root = Path(root).resolve()
    t = _term.load(root)
    solutions = Path(solutions) if solutions else grading.DEFAULT_SOLUTIONS
    known = grading.assignments(solutions)
    done = {}
    for name, due in t.due.items():
        if name not in known:
            print(f"schedule: {name} has a due date but no folder in {solutions}; skipped (add it, or remove the date)")
            continue
        with _term.gradebook(root) as gb:
            try:
                gb.find_assignment(name)
                recorded = True
            except MissingEntry:
                recorded = False
        if not recorded:
            grading.generate(root, solutions, labs=None, names=[name])
        with _term.gradebook(root) as gb:
            # nbgrader compares naive UTC times
            gb.update_or_create_assignment(name, duedate=due.astimezone(timezone.utc).replace(tzinfo=None))
        done[name] = due
        print(f"due {name}: {due.isoformat()}")
    return done
