"""``python -m course_lib.grading generate|autograde|feedback|grades`` (and ``course-lib grading``).

Exit status: 0 when every submission was handled, 1 when the step ran for everyone it could but
some were not graded (each named with its reason), 2 when the step could not run at all.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import course, results
from .autograde import autograde
from .sandbox import Limits, SandboxUnavailable


def _run(args) -> int:
    root = Path(args.root)
    if args.step == "generate":
        course.generate(root, Path(args.solutions), Path(args.labs), args.assignment)
    elif args.step == "autograde":
        limits = Limits(notebook_s=args.wall_time, memory_mib=args.memory)
        autograde(root, Path(args.solutions), args.assignment, args.timeout, unsafe=args.unsafe, limits=limits)
    elif args.step == "feedback":
        results.feedback(root, args.assignment)
    else:
        results.export_grades(root, Path(args.csv) if args.csv else None)
    return 0


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("step", choices=["generate", "autograde", "feedback", "grades"],
                   help="generate labs/ | autograde submissions | HTML feedback | export grades.csv")
    p.add_argument("assignment", nargs="*", help="assignment names (default: all)")
    p.add_argument("--root", default=str(course.DEFAULT_ROOT), help="nbgrader course root (default: %(default)s)")
    p.add_argument("--solutions", default=str(course.DEFAULT_SOLUTIONS), help="instructor sources (default: %(default)s)")
    p.add_argument("--labs", default=str(course.DEFAULT_LABS), help="where student versions go (default: %(default)s)")
    p.add_argument("--timeout", type=int, help="autograde: seconds per cell (default: Execute.timeout of nbgrader_config.py)")
    p.add_argument("--wall-time", type=int, default=Limits.notebook_s,
                   help="autograde: seconds per notebook (default %(default)s)")
    p.add_argument("--memory", type=int, default=Limits.memory_mib,
                   help="autograde: MiB of memory per process (default %(default)s)")
    p.add_argument("--unsafe", action="store_true",
                   help="autograde without a sandbox where none is installed (trusted submissions only)")
    p.add_argument("--csv", help="grades CSV path (default: ROOT/grades.csv)")
    p.set_defaults(func=_run)


def add_parser(sub) -> None:
    configure(sub.add_parser("grading", help="nbgrader pipeline: generate, autograde, feedback, grades"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading",
                                     description="The nbgrader pipeline: generate, autograde, feedback, grades")
    configure(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except course.GradingError as e:
        print(f"grading {args.step}: {e}", file=sys.stderr)
        return 1
    except (SandboxUnavailable, FileNotFoundError, ValueError) as e:
        print(f"grading {args.step}: error: {e}", file=sys.stderr)
        return 2
