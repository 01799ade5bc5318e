"""The ``course-lib`` console script.

Each feature module adds its own sub-command through ``add_parser(subparsers)``; this file
only lists them, so a new command is one line here and one function in its module.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = [
    "course_lib.info",
    "course_lib.zoo",
    "course_lib.compression.cli",
    "course_lib.deep_compression",
    "course_lib.bench.cli",
    "course_lib.pipeline.cli",
]


class CLIError(Exception):
    """A user mistake: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course-lib", description="EdgeML Course command-line tools")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    try:  # instructors' tooling: absent from the student release (`make release`)
        importlib.import_module("course_lib.grading").add_parser(sub)
    except ModuleNotFoundError as err:
        if err.name != "course_lib.grading":
            raise
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CLIError, FileNotFoundError, ValueError) as e:
        print(f"course-lib {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"course-lib {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
