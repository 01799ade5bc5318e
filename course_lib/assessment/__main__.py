"""``python -m course_lib.assessment COMMAND``: the term's steps around nbgrader.

schedule          due dates of term.toml into the gradebook            (make schedule)
collect A ZIP     Moodle ZIP -> submitted/, with a report of what was not placed  (make collect)
finish-autograde  no_execute assignments graded unexecuted + the exam's closed items (end of make autograde)
exam make|grade|master|mock   per-student exam copies | score closed items | the nbgrader source | mock exam
rollup            course_totals.csv: components, total, letter, pass/fail   (end of make grades)
return            feedback/STUDENT/ -> return/STUDENT.zip                 (make return)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import term as _term


def _students(spec: str) -> list[str]:
    path = Path(spec)
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [s for s in spec.replace(",", " ").split() if s]


def _exam(args) -> None:
    from course_lib import grading

    from . import bank, exam, mock

    if args.action == "master":
        t = _term.load(args.root)
        path = Path(args.solutions) / t.exam_assignment / exam.NOTEBOOK
        path.parent.mkdir(parents=True, exist_ok=True)
        import nbformat

        nbformat.write(exam.master_notebook(bank.load_bank(args.bank), t.exam_assignment), path)
        print(f"exam source -> {path} (now run make labs)")
    elif args.action == "mock":
        mock.write_mock(args.bank)
    elif args.action == "grade":
        exam.grade_exam(args.root)
    else:
        if not args.students:
            raise ValueError("give the students: --students FILE (one id a line) or --students 'id1,id2' "
                             "(make exam STUDENTS=FILE)")
        exam.make_exam(args.root, _students(args.students), args.seed, args.bank,
                       Path(args.solutions) if args.solutions else grading.DEFAULT_SOLUTIONS)


def run(args) -> None:
    from . import autograde, collect, late, rollup

    root = Path(args.root)
    if args.command == "schedule":
        late.schedule(root, args.solutions)
    elif args.command == "collect":
        collect.collect(root, args.assignment, Path(args.zip), args.worksheet, args.utc_offset, args.solutions)
    elif args.command == "finish-autograde":
        autograde.finish(root, args.solutions)
    elif args.command == "exam":
        _exam(args)
    elif args.command == "rollup":
        rows = rollup.course_totals(root, args.csv)
        print(rollup.format_table(rows, _term.load(root)))
        print(f"course totals -> {args.csv or root / rollup.OUTPUT}")
    elif args.command == "return":
        autograde.pack_feedback(root)


def parser() -> argparse.ArgumentParser:
    from course_lib import grading

    from . import bank

    p = argparse.ArgumentParser(prog="python -m course_lib.assessment", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--root", default=str(_term.DEFAULT_ROOT), help="nbgrader course root with term.toml")
    p.add_argument("--solutions", default=str(grading.DEFAULT_SOLUTIONS), help="instructor sources")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("schedule", help="write term.toml's due dates into the gradebook")
    c = sub.add_parser("collect", help="collect a Moodle 'Download all submissions' ZIP")
    c.add_argument("assignment")
    c.add_argument("zip")
    c.add_argument("--worksheet", help="Moodle grading worksheet CSV: participant -> student id, submission time")
    c.add_argument("--utc-offset", default="+00:00", help="time zone of the worksheet's times (default +00:00)")
    sub.add_parser("finish-autograde", help="grade the no_execute assignments without running them; score the exam")
    e = sub.add_parser("exam", help="make | grade | master | mock")
    e.add_argument("action", choices=["make", "grade", "master", "mock"])
    e.add_argument("--students", help="file with one student id a line, or 'id1,id2'")
    e.add_argument("--seed", type=int, help="variant seed (default: term.toml [exam] seed)")
    e.add_argument("--bank", default=str(bank.DEFAULT_BANK), help="question bank TOML")
    r = sub.add_parser("rollup", help="course_totals.csv from the gradebook")
    r.add_argument("--csv", help="output path (default ROOT/course_totals.csv)")
    sub.add_parser("return", help="pack feedback per student into ROOT/return/STUDENT.zip")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        run(args)
    except (ValueError, FileNotFoundError, KeyError) as e:  # TermError and GradingError are ValueError-like
        print(f"assessment {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        from course_lib.grading import GradingError

        if isinstance(e, GradingError):
            print(f"assessment {args.command}: error: {e}", file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
