"""One submission notebook, from repaired notebook to scores: :func:`grade_notebook`.

1. the grader writes a job folder: the notebook to run (each test cell reduced to
   ``__grader__.test(ID)``), the plan (checked test code and one random token per test) and settings;
2. :mod:`~course_lib.grading.runner` executes it in a fresh sandbox (or, with ``--unsafe``, without);
3. after the sandbox is gone the grader reads the tokens the harness recorded, puts the outputs
   (sanitised) under the instructor's test cells and writes the gradebook.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import sandbox, sanitize, testcode
from .sandbox import Limits

HERE = Path(__file__).resolve().parent
LIBRARY = HERE.parent  # course_lib/
PASSED_ENV = ("COURSE_FAST", "TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")


@dataclass
class Outcome:
    """What happened to one submission notebook: ``status`` is ``"graded"`` or ``"NOT GRADED: why"``."""

    status: str
    score: float = 0.0
    max_score: float = 0.0
    passed: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    log: str = ""
    notebook: nbformat.NotebookNode | None = None


def _is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def plan_for(repaired, source) -> tuple[nbformat.NotebookNode, dict]:
    """The notebook the kernel runs, and the harness's plan (tests with tokens, protected names)."""
    tests = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells if _is_test(c)}
    instructor = [c.source for c in source.cells if c.cell_type == "code" and not _is_test(c)
                  and not c.metadata.get("nbgrader", {}).get("solution")]
    imports, constants, modules = testcode.instructor_names(instructor)
    modules += testcode.test_modules(list(tests.values()))
    run = nbformat.from_dict(json.loads(json.dumps(repaired)))
    for cell in run.cells:
        if _is_test(cell):
            cell.source = f"__grader__.test({cell.metadata.nbgrader['grade_id']!r})"
    plan = {"tests": {gid: {"code": testcode.compile_test(src), "token": secrets.token_hex(16)}
                      for gid, src in tests.items()},
            "imports": imports, "constants": constants, "modules": list(dict.fromkeys(modules))}
    return run, plan


def _environment(job: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    env.update({
        "HOME": f"{job}/home", "IPYTHONDIR": f"{job}/ipython", "JUPYTER_CONFIG_DIR": f"{job}/jupyter/config",
        "JUPYTER_DATA_DIR": f"{job}/jupyter/data", "JUPYTER_RUNTIME_DIR": f"{job}/jupyter/runtime",
        "JUPYTER_PATH": f"{job}/jupyter/data", "MPLCONFIGDIR": f"{job}/home/.config/matplotlib",
        "XDG_CACHE_HOME": f"{job}/home/.cache", "XDG_CONFIG_HOME": f"{job}/home/.config",
        "COURSE_LIB_DATA": f"{job}/cache", "COURSE_LIB_DOWNLOAD": "0", "TMPDIR": "/tmp" if job == "/job" else f"{job}/tmp",
        "PYTHONPATH": str(LIBRARY.parent), "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
        "GRADER_PLAN": f"{job}/plan.json"})
    return env


def _write_job(base: Path, job: str, run, plan: dict, release_dir: Path, limits: Limits) -> None:
    for sub in ("work", "home", "ipython", "jupyter/config", "jupyter/data", "jupyter/runtime", "cache", "tmp", "out"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for extra in release_dir.iterdir():  # data files the lab ships next to its notebook
        if extra.is_file() and extra.suffix != ".ipynb":
            shutil.copy2(extra, base / "work" / extra.name)
    nbformat.write(run, base / "run.ipynb")
    plan["verdicts"] = f"{job}/out/verdicts"
    (base / "plan.json").write_text(json.dumps(plan))
    (base / "settings.json").write_text(json.dumps({
        "harness": str(HERE / "harness.py"), "cell_timeout": limits.cell_s,
        "cell_output_bytes": limits.cell_output_bytes}))


def _data_binds(job: str) -> dict[str, str]:
    """The instructor's downloaded datasets, read-only; the rest of the cache is the sandbox's own."""
    from ..datasets import cache_dir

    return {str(cache_dir() / name): f"{job}/cache/{name}" for name in ("mnist",) if (cache_dir() / name).is_dir()}


def execute(run, plan: dict, release_dir: Path, limits: Limits, unsafe: bool) -> tuple[Path, sandbox.Finished]:
    """Run the notebook in a new job folder; return the folder and how the run ended."""
    base = Path(tempfile.mkdtemp(prefix="grading-job-"))
    job = str(base) if unsafe else "/job"
    _write_job(base, job, run, plan, release_dir, limits)
    argv = [sys.executable, str(HERE / "runner.py"), job]
    env = _environment(job)
    if unsafe:
        return base, _run_unsafe(base, argv, env, limits)
    return base, sandbox.run_in_sandbox(base, argv, env, LIBRARY, limits, extra_ro=_data_binds(job))


def _run_unsafe(base: Path, argv: list[str], env: dict, limits: Limits) -> sandbox.Finished:
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, env=env, cwd=base / "work", capture_output=True, text=True,
                              timeout=limits.notebook_s, start_new_session=True)
        return sandbox.Finished(time.monotonic() - start, False, proc.returncode, proc.stdout + proc.stderr)
    except subprocess.TimeoutExpired as e:
        return sandbox.Finished(time.monotonic() - start, True, -9, str(e.stdout or ""))


def collect(base: Path, plan: dict, finished: sandbox.Finished, limits: Limits) -> tuple[str, set[str], object]:
    """``(status, passed test ids, executed notebook or None)`` from what the sandbox left."""
    out = base / "out"
    executed = None
    path = out / "executed.ipynb"
    if path.is_file() and path.stat().st_size <= 50 * limits.cell_output_bytes + (20 << 20):
        try:
            executed = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001  (the sandbox may leave anything here)
            executed = None
    status = {}
    try:
        status = json.loads((out / "status.json").read_text())
    except (OSError, ValueError):
        pass
    if finished.timed_out:
        state = f"NOT GRADED: the notebook ran past the {limits.notebook_s} s limit for a whole notebook"
    elif status.get("finished") is True:
        state = "graded"
    elif status.get("reason"):
        state = f"NOT GRADED: {status['reason']}"
    else:
        state = f"NOT GRADED: the run ended without a result (exit {finished.returncode}; see the log)"
    passed = set()
    if (out / "verdicts").is_file():
        tokens = {gid: t["token"] for gid, t in plan["tests"].items()}
        for line in (out / "verdicts").read_text(errors="replace")[:1_000_000].splitlines():
            gid, _, token = line.partition(" ")
            if tokens.get(gid) == token:
                passed.add(gid)
    return state, passed, executed


def autograded_notebook(repaired, source, executed):
    """The instructor's test cells over the repaired notebook, with the run's outputs, sanitised."""
    nb = nbformat.from_dict(json.loads(json.dumps(repaired)))
    tests = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells if _is_test(c)}
    lab_markdown = {c.source for c in source.cells if c.cell_type == "markdown"}
    for i, cell in enumerate(nb.cells):
        if _is_test(cell):
            cell.source = tests[cell.metadata.nbgrader["grade_id"]]
        if cell.cell_type == "code":
            ran = executed.cells[i] if executed is not None and i < len(executed.cells) else None
            same = ran is not None and ran.get("cell_type") == "code"
            cell.outputs = sanitize.outputs(ran.get("outputs", [])) if same else []
            cell.execution_count = ran.get("execution_count") if same else None
        elif cell.cell_type == "markdown" and cell.source not in lab_markdown:
            cell.source = sanitize.markdown(cell.source)
    return nb


def grade_notebook(repaired, source, release_dir: Path, limits: Limits, unsafe: bool) -> Outcome:
    """Run one repaired notebook and score it (gradebook not touched here)."""
    run, plan = plan_for(repaired, source)
    base, finished = execute(run, plan, release_dir, limits, unsafe)
    try:
        state, passed, executed = collect(base, plan, finished, limits)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    nb = autograded_notebook(repaired, source, executed)
    return Outcome(state, passed=sorted(passed), seconds=finished.seconds, log=finished.log, notebook=nb)
