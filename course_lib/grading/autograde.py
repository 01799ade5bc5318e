"""``autograde``: every submission of a batch, each in its own sandbox, then one report.

For each assignment: checksums of the submissions, the instructor's sources, the released notebooks
and ``nbgrader_config.py`` are taken before the batch and compared after it; the gradebook is backed
up; each submission is repaired (:mod:`.repair`), run (:mod:`.job`) and scored by the grader
(:mod:`.gradebook`). A submission that cannot be graded is reported as ``NOT GRADED: reason`` and
the batch goes on. The report (``ROOT/reports/A.json`` and ``.txt``) and the full log
(``ROOT/logs/``) say what happened to whom.
"""
from __future__ import annotations

import datetime as dt
import json
import traceback
from pathlib import Path

import nbformat

from . import course, gradebook, integrity, job, repair, sandbox
from .sandbox import Limits


def _timestamp(folder: Path):
    from nbgrader.utils import parse_utc

    stamp = folder / "timestamp.txt"
    try:
        return parse_utc(stamp.read_text().strip()) if stamp.is_file() else None
    except Exception:  # noqa: BLE001  (a malformed time is reported as absent, not fatal)
        return None


def _config(root: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def grade_submission(root: Path, name: str, student: str, limits: Limits, unsafe: bool, config) -> dict:
    """Grade ``ROOT/submitted/STUDENT/NAME/``; return its report entry (never raises)."""
    entry = {"student": student, "assignment": name, "status": "graded", "score": 0.0, "max_score": 0.0,
             "reasons": [], "notebooks": {}}
    try:
        for release_path in sorted((root / "release" / name).glob("*.ipynb")):
            nb_name = release_path.stem
            outcome = _grade_one_notebook(root, name, student, release_path, limits, unsafe, config)
            entry["reasons"] += outcome.reasons
            entry["notebooks"][nb_name] = {"status": outcome.status, "passed": outcome.passed,
                                           "score": outcome.score, "max_score": outcome.max_score,
                                           "seconds": round(outcome.seconds, 1)}
            entry["score"] += outcome.score
            entry["max_score"] += outcome.max_score
            if outcome.status != "graded":
                entry["status"] = outcome.status
            course.keep_log(root, f"autograde-{name}-{student}-{nb_name}", outcome.log)
    except Exception as e:  # noqa: BLE001  (a grader failure on one student never stops the batch)
        entry["status"] = f"NOT GRADED: the grader failed on this submission ({type(e).__name__}: {e})"
        course.keep_log(root, f"autograde-{name}-{student}-error", traceback.format_exc())
    if entry["status"] != "graded":  # a row in grades.csv, whose status column says why
        gradebook.add_student(root, student)
    return entry


def _grade_one_notebook(root, name, student, release_path, limits, unsafe, config) -> job.Outcome:
    folder = root / "submitted" / student / name
    try:
        path, reasons = repair.find_notebook(folder, release_path.name)
        repaired, more = repair.repair(repair.read_any(path), nbformat.read(release_path, as_version=4))
    except repair.Rejected as e:
        return job.Outcome(f"NOT GRADED: {e}")
    source = nbformat.read(root / "source" / name / release_path.name, as_version=4)
    outcome = job.grade_notebook(repaired, source, release_path.parent, limits, unsafe)
    outcome.reasons = reasons + more
    outcome.max_score = sum(gradebook.test_points(outcome.notebook).values())
    if outcome.status != "graded":
        return outcome
    out = root / "autograded" / student / name
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(outcome.notebook, out / release_path.name)
    outcome.score = gradebook.record(root, name, student, release_path.stem, outcome.notebook,
                                     set(outcome.passed), _timestamp(folder))
    gradebook.apply_late_policy(root, name, student, release_path.stem, config)
    return outcome


def _misplaced(root: Path, known: list[str]) -> list[str]:
    """Folders under ``submitted/`` that are not ``STUDENT/ASSIGNMENT/`` of a known assignment."""
    out = []
    for d in sorted(Path(root, "submitted").glob("*/*")):
        if d.is_dir() and d.name not in known:
            out.append(f"{d.relative_to(root)}: no assignment {d.name!r} (assignments: {', '.join(known)})")
    for f in sorted(Path(root, "submitted").glob("*.ipynb")) + sorted(Path(root, "submitted").glob("*/*.ipynb")):
        out.append(f"{f.relative_to(root)}: not in a STUDENT/ASSIGNMENT/ folder")
    return out


def write_report(root: Path, name: str, entries: list[dict], problems: list[str]) -> Path:
    reports = root / "reports"
    reports.mkdir(exist_ok=True)
    (reports / f"{name}.json").write_text(json.dumps({"assignment": name, "submissions": entries,
                                                      "integrity": problems}, indent=1))
    lines = [f"autograde {name} ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC})"]
    for e in entries:
        score = f"{e['score']:g}/{e['max_score']:g}" if e["status"] == "graded" else e["status"]
        lines.append(f"  {e['student']}: {score}")
        lines += [f"      repaired: {r}" for r in e["reasons"]]
    lines += [f"  INTEGRITY: {p}" for p in problems]
    path = reports / f"{name}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def not_executed(root: Path) -> tuple[str, ...]:
    """Assignments the term grades without running them (``[autograde] no_execute`` of
    ``ROOT/term.toml``, graded by ``python -m course_lib.assessment finish-autograde``); none
    without a term file or without the term's tooling (``course_lib.assessment``)."""
    try:
        from course_lib.assessment import term
    except ImportError:
        return ()
    if not (Path(root) / term.TERM_FILE).is_file():
        return ()
    return term.load(root).no_execute


def autograde(root: Path = course.DEFAULT_ROOT, solutions: Path = course.DEFAULT_SOLUTIONS,
              names: list[str] | None = None, timeout: int | None = None, unsafe: bool = False,
              limits: Limits | None = None, skip: list[str] | tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """Grade every submission (or those of ``names``); ``timeout`` is the per-cell limit in seconds.

    ``skip``: assignments not run here, because they are graded without running them (their
    outputs are the evidence); default :func:`not_executed`, ``()`` runs everything.
    Returns ``{assignment: [student, ...]}`` of those graded; raises :class:`course.GradingError`
    after the whole batch if a submission was not graded or a protected file changed.
    """
    root, solutions = course.check_root(root), Path(solutions).resolve()
    mode = sandbox.check_available(unsafe)
    config = _config(root)
    limits = limits or Limits()
    cell_s = timeout if timeout is not None else config.get("Execute", {}).get("timeout", limits.cell_s)
    limits = Limits(**{**limits.__dict__, "cell_s": int(cell_s)})
    found = course.submissions(root)
    known = course.assignments(solutions)
    misplaced = _misplaced(root, known)
    for line in misplaced:
        print(f"skipped {line}")
    found = {n: s for n, s in found.items() if n in known}
    if not found:
        print(f"no submissions under {root / 'submitted'} (expected STUDENT/ASSIGNMENT/*.ipynb)")
        return {}
    names = course.pick(names, sorted(found), str(root / "submitted"))
    skip = not_executed(root) if skip is None else tuple(skip)
    for name in [n for n in names if n in skip]:
        print(f"skipped {name}: graded without running it ([autograde] no_execute of term.toml) by "
              "`python -m course_lib.assessment finish-autograde`, the last step of make autograde")
    names = [n for n in names if n not in skip]
    if mode == "unsafe":
        print("WARNING: --unsafe: submissions run WITHOUT a sandbox, with your rights")
    graded, failures = {}, list(misplaced)
    for name in names:
        if not gradebook.in_gradebook(root, name):  # a fresh clone: record the grade cells first
            course.generate(root, solutions, labs=None, names=[name])
        before = integrity.snapshot(root)
        gradebook.backup(root)
        entries = [grade_submission(root, name, s, limits, mode == "unsafe", config) for s in found[name]]
        problems = integrity.changed(before, integrity.snapshot(root))
        report = write_report(root, name, entries, problems)
        print(report.read_text(), end="")
        graded[name] = [e["student"] for e in entries if e["status"] == "graded"]
        print(f"autograded {name}: {', '.join(graded[name]) or 'nobody'}")
        failures += [f"{name} {e['student']}: {e['status']}" for e in entries if e["status"] != "graded"]
        failures += [f"{name}: INTEGRITY: {p}" for p in problems]
    if failures:
        raise course.GradingError(f"{len(failures)} problem(s), everyone else graded:\n" + "\n".join(failures))
    return graded
