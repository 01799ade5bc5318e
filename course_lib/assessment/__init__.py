"""The term's assessment around nbgrader: due dates and late work, LMS collection, the exam with a
variant per student, and the course total (seminar 30 + project 40 + exam 30, pass at 51).

Configured by ``grading/term.toml``; run as ``python -m course_lib.assessment COMMAND`` (what
``make schedule | collect | exam | grades`` call). See ``grading/README.md`` for one term's walkthrough.
"""
from .bank import Bank, draw, load_bank
from .late import late_penalty
from .rollup import course_totals, letter
from .term import Term, load

__all__ = ["Bank", "Term", "course_totals", "draw", "late_penalty", "letter", "load", "load_bank"]
