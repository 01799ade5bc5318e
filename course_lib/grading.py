"""The nbgrader pipeline in four steps, each one real ``nbgrader`` command per assignment.

=============  =====================================================================================
``generate``   copy ``solutions/A/`` to ``grading/source/A/``, run ``nbgrader generate_assignment A``
               (records the grade cells and their checksums in ``grading/gradebook.db``) and copy
               the student version ``grading/release/A/`` to ``labs/A/``.
``autograde``  for every ``grading/submitted/STUDENT/A/``: make sure ``A`` is in the gradebook,
               then ``nbgrader autograde A`` (students are created on the fly; a cell that runs
               longer than the timeout is interrupted and the rest of the notebook still runs;
               test cells edited or deleted by a student are restored from the gradebook).
``feedback``   ``nbgrader generate_feedback A``: HTML under ``grading/feedback/STUDENT/A/``.
``grades``     ``nbgrader export``: one row per student and assignment in ``grading/grades.csv``.
=============  =====================================================================================

An assignment is any folder of ``solutions/`` holding a notebook, so a new lab is a new folder.
``grading/source``, ``release``, ``submitted``, ``autograded``, ``feedback`` and the gradebook
are generated and git-ignored; only ``grading/nbgrader_config.py`` and the docs are committed.

Run as ``python -m course_lib.grading STEP`` (what ``make labs|autograde|feedback|grades`` do)
or ``course-lib grading STEP``; ``--root``, ``--solutions`` and ``--labs`` point elsewhere
(the tests grade in temporary copies).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .cli import CLIError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO_ROOT / "grading"
DEFAULT_SOLUTIONS = REPO_ROOT / "solutions"
DEFAULT_LABS = REPO_ROOT / "labs"
IGNORE = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc")


class GradingError(CLIError):
    """An nbgrader command failed; the message carries the tail of its output."""


def assignments(solutions: Path = DEFAULT_SOLUTIONS) -> list[str]:
    """Names of the assignments: folders of ``solutions`` that contain a notebook, sorted."""
    solutions = Path(solutions)
    if not solutions.is_dir():
        raise FileNotFoundError(f"no solutions folder {solutions}")
    return sorted(d.name for d in solutions.iterdir() if d.is_dir() and any(d.glob("*.ipynb")))


def _check_root(root: Path) -> Path:
    root = Path(root).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise FileNotFoundError(f"{root} is not an nbgrader course root: it has no nbgrader_config.py")
    return root


def _pick(names, available: list[str], where: str) -> list[str]:
    if not names:
        return available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown assignment(s) {', '.join(unknown)}; {where} has: {', '.join(available) or 'none'}")
    return list(names)


def nbgrader(root: Path, *args: str, timeout: int | None = None) -> str:
    """Run ``nbgrader ARGS`` in the course root (so its nbgrader_config.py applies); return its log."""
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    if timeout is not None:
        cmd.append(f"--Execute.timeout={int(timeout)}")
    # nbgrader shells out to `alembic` (gradebook migrations): find it next to this Python
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = dict(os.environ, PATH=path, PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        lines = log.strip().splitlines()
        # nbgrader's own ERROR lines name the student; the last lines hold the exception
        errors = [line for line in lines[:-8] if "| ERROR]" in line or "Error:" in line]
        tail = "\n".join(errors[-10:] + lines[-8:])
        raise GradingError(f"`nbgrader {' '.join(args)}` failed (exit {proc.returncode}):\n{tail}")
    return log


def _sync_source(root: Path, solutions: Path, name: str) -> None:
    """``solutions/NAME`` -> ``ROOT/source/NAME`` (a fresh copy: a stale file must not survive)."""
    dest = root / "source" / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(solutions / name, dest, ignore=IGNORE)


def generate(root: Path = DEFAULT_ROOT, solutions: Path = DEFAULT_SOLUTIONS, labs: Path | None = DEFAULT_LABS,
             names: list[str] | None = None) -> list[str]:
    """Generate the student versions of ``names`` (default: all) and copy them to ``labs``.

    With ``labs=None`` only the gradebook and ``ROOT/release`` are updated.
    """
    root, solutions = _check_root(root), Path(solutions).resolve()
    names = _pick(names, assignments(solutions), str(solutions))
    for name in names:
        _sync_source(root, solutions, name)
        nbgrader(root, "generate_assignment", name, "--force")
        if labs is not None:
            dest = Path(labs) / name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(root / "release" / name, dest, ignore=IGNORE)
        print(f"generated {name}" + (f" -> {Path(labs) / name}" if labs is not None else ""))
    return names


def submissions(root: Path = DEFAULT_ROOT) -> dict[str, list[str]]:
    """``{assignment: [student, ...]}`` found under ``ROOT/submitted/STUDENT/ASSIGNMENT/``."""
    found: dict[str, list[str]] = {}
    for d in sorted(Path(root, "submitted").glob("*/*")):
        if d.is_dir() and any(d.glob("*.ipynb")):
            found.setdefault(d.name, []).append(d.parent.name)
    return found


def _in_gradebook(root: Path, name: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    db = root / "gradebook.db"
    if not db.exists():
        return False
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            gb.find_assignment(name)
            return True
        except MissingEntry:
            return False


def autograde(root: Path = DEFAULT_ROOT, solutions: Path = DEFAULT_SOLUTIONS, names: list[str] | None = None,
              timeout: int | None = None) -> dict[str, list[str]]:
    """Autograde every submission (or those of ``names``); ``timeout`` overrides the per-cell
    limit of nbgrader_config.py in seconds. Returns ``{assignment: [student, ...]}`` graded."""
    root, solutions = _check_root(root), Path(solutions).resolve()
    found = submissions(root)
    if not found:
        print(f"no submissions under {root / 'submitted'} (expected STUDENT/ASSIGNMENT/*.ipynb)")
        return {}
    names = _pick(names, sorted(found), str(root / "submitted"))
    known = assignments(solutions)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"submissions for {', '.join(unknown)}, but {solutions} has no such assignment")
    failed = []
    for name in names:
        if not _in_gradebook(root, name):  # a fresh clone: record the grade cells first
            generate(root, solutions, labs=None, names=[name])
        try:  # nbgrader grades every other student even when one fails; so do we, per assignment
            nbgrader(root, "autograde", name, "--force", timeout=timeout)
            print(f"autograded {name}: {', '.join(found[name])}")
        except GradingError as e:
            failed.append(str(e))
    if failed:
        raise GradingError("\n".join(failed))
    return {n: found[n] for n in names}


def feedback(root: Path = DEFAULT_ROOT, names: list[str] | None = None) -> list[str]:
    """Write HTML feedback for every autograded assignment to ``ROOT/feedback/``."""
    root = _check_root(root)
    graded = sorted({d.name for d in Path(root, "autograded").glob("*/*") if d.is_dir()})
    if not graded:
        print(f"nothing autograded under {root / 'autograded'}: run autograde first")
        return []
    names = _pick(names, graded, str(root / "autograded"))
    failed = []
    for name in names:
        try:
            nbgrader(root, "generate_feedback", name, "--force")
            print(f"feedback for {name} -> {root / 'feedback'}")
        except GradingError as e:
            failed.append(str(e))
    if failed:
        raise GradingError("\n".join(failed))
    return names


def export_grades(root: Path = DEFAULT_ROOT, csv: Path | None = None) -> Path:
    """Export the gradebook to CSV (default ``ROOT/grades.csv``): one row per student and assignment."""
    root = _check_root(root)
    if not (root / "gradebook.db").exists():
        raise FileNotFoundError(f"no gradebook {root / 'gradebook.db'}: run generate and autograde first")
    csv = Path(csv).resolve() if csv else root / "grades.csv"
    nbgrader(root, "export", f"--to={csv}")
    print(f"grades -> {csv}")
    return csv


# --- command line -------------------------------------------------------------------------------

def _run(args) -> int:
    root = Path(args.root)
    if args.step == "generate":
        generate(root, Path(args.solutions), Path(args.labs), args.assignment)
    elif args.step == "autograde":
        autograde(root, Path(args.solutions), args.assignment, args.timeout)
    elif args.step == "feedback":
        feedback(root, args.assignment)
    else:
        export_grades(root, Path(args.csv) if args.csv else None)
    return 0


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("step", choices=["generate", "autograde", "feedback", "grades"],
                   help="generate labs/ | autograde submissions | HTML feedback | export grades.csv")
    p.add_argument("assignment", nargs="*", help="assignment names (default: all)")
    p.add_argument("--root", default=str(DEFAULT_ROOT), help="nbgrader course root (default: %(default)s)")
    p.add_argument("--solutions", default=str(DEFAULT_SOLUTIONS), help="instructor sources (default: %(default)s)")
    p.add_argument("--labs", default=str(DEFAULT_LABS), help="where student versions go (default: %(default)s)")
    p.add_argument("--timeout", type=int, help="per-cell autograde timeout in seconds (default: nbgrader_config.py)")
    p.add_argument("--csv", help="grades CSV path (default: ROOT/grades.csv)")
    p.set_defaults(func=_run)


def add_parser(sub) -> None:
    _configure(sub.add_parser("grading", help="nbgrader pipeline: generate, autograde, feedback, grades"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading", description=__doc__.split("\n")[0])
    _configure(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (GradingError, FileNotFoundError, ValueError) as e:
        print(f"grading {args.step}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
