"""The grading pipeline in four steps, on nbgrader's course layout and gradebook.

=============  =====================================================================================
``generate``   copy ``solutions/A/`` to ``grading/source/A/``, run ``nbgrader generate_assignment A``
               (records the grade cells and their checksums in ``grading/gradebook.db``) and copy
               the student version ``grading/release/A/`` to ``labs/A/``.
``autograde``  for every ``grading/submitted/STUDENT/A/``: repair the notebook (:mod:`.repair`),
               run it in its own bubblewrap sandbox (:mod:`.sandbox`, :mod:`.job`), score it
               from what the harness recorded (:mod:`.harness`, :mod:`.testcode`) and write the
               gradebook (:mod:`.gradebook`); checksums and a gradebook backup per batch
               (:mod:`.integrity`); a report per assignment under ``grading/reports/``. The
               term's ``[autograde] no_execute`` assignments are skipped (graded unexecuted by
               ``python -m course_lib.assessment finish-autograde``).
``feedback``   one sanitised HTML page per submission, hidden tests cut (:mod:`.results`).
``grades``     ``nbgrader export`` plus a ``status`` column: ``grading/grades.csv``.
=============  =====================================================================================

An assignment is any folder of ``solutions/`` holding a notebook, so a new lab is a new folder.
``grading/source``, ``release``, ``submitted``, ``autograded``, ``feedback`` and the gradebook
(and ``reports``, ``logs``, ``backups``) are generated and git-ignored; only ``grading/nbgrader_config.py`` and the docs are committed.

Each step runs for every submission it can and then reports. Run as ``python -m course_lib.grading STEP`` (what ``make labs|autograde|feedback|grades`` do)
or ``course-lib grading STEP``; ``--root``, ``--solutions`` and ``--labs`` point elsewhere
(the tests grade in temporary copies).
"""
from .autograde import autograde
from .cli import add_parser, main
from .course import (DEFAULT_LABS, DEFAULT_ROOT, DEFAULT_SOLUTIONS, GradingError, assignments, generate, nbgrader,
                     submissions)
from .results import export_grades, feedback
from .sandbox import Limits, SandboxUnavailable

__all__ = ["DEFAULT_LABS", "DEFAULT_ROOT", "DEFAULT_SOLUTIONS", "GradingError", "Limits", "SandboxUnavailable",
           "add_parser", "assignments", "autograde", "export_grades", "feedback", "generate", "main", "nbgrader",
           "submissions"]
