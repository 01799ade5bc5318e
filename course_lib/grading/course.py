"""The course's assignments and the real ``nbgrader`` commands the pipeline still runs
(``generate_assignment``, ``export``): each one's full log is kept under ``ROOT/logs/``."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..cli import CLIError

REPO_ROOT = Path(__file__).resolve().parents[2]
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


def check_root(root: Path) -> Path:
    root = Path(root).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise FileNotFoundError(f"{root} is not an nbgrader course root: it has no nbgrader_config.py")
    return root


def pick(names, available: list[str], where: str) -> list[str]:
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
    keep_log(root, f"nbgrader-{args[0]}", f"$ {' '.join(cmd)}\nexit {proc.returncode}\n{log}")
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
    root, solutions = check_root(root), Path(solutions).resolve()
    names = pick(names, assignments(solutions), str(solutions))
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
    """``{assignment: [student, ...]}`` for every folder ``ROOT/submitted/STUDENT/ASSIGNMENT/``
    (with or without a notebook: an empty one is reported, not skipped)."""
    found: dict[str, list[str]] = {}
    for d in sorted(Path(root, "submitted").glob("*/*")):
        if d.is_dir() and not d.name.startswith("."):
            found.setdefault(d.name, []).append(d.parent.name)
    return found


def keep_log(root: Path, what: str, text: str) -> Path:
    """Save a full log under ``ROOT/logs/`` (named by step and UTC time); return its path."""
    path = Path(root) / "logs" / f"{what}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%fZ}.log"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


