"""One autograde batch of honest and hostile students, in real bubblewrap sandboxes.

A small lab (three auto-graded tasks of 2 points and a 2-point written answer) keeps the batch
short. Honest students (some with notebooks broken the way real ones are) must score what they
score when graded alone; every hostile submission solves nothing, attacks the grading, and must
score 0; no file outside the graded outputs may change, no process may outlive the batch, no
connection may leave a sandbox.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_lib.grading.sandbox import probe

REPO = Path(__file__).resolve().parents[1]
LAB = "lab99_tiny"
MARK = "grading-hostile-7f3a"  # in the command line of every process a hostile submission starts
NEEDS_BWRAP = pytest.mark.skipif(probe() is not None, reason=str(probe()))

SETUP = "import numpy as np\nimport statistics\nLIMIT = 3"
SOLUTIONS = {
    "add-solution": "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
    "scale-solution": "def scale(x, k):\n    ### BEGIN SOLUTION\n    return np.asarray(x, dtype=float) * k\n    ### END SOLUTION",
    "mean-solution": "def mean_of(xs):\n    ### BEGIN SOLUTION\n    return sum(xs) / len(xs)\n    ### END SOLUTION",
}
TESTS = {
    "test-add": 'assert add(1, 2) == 3, f"add(1, 2) gave {add(1, 2)}, expected 3"\n'
                "# hidden tests also check: larger and negative numbers\n"
                "### BEGIN HIDDEN TESTS\nassert add(20, 22) == 42\nassert add(-5, 2) == -3\n### END HIDDEN TESTS",
    "test-scale": 'assert scale([1, 2], 3).tolist() == [3.0, 6.0], "scale([1, 2], 3) should be [3, 6]"\n'
                  "### BEGIN HIDDEN TESTS\nassert np.allclose(scale([0.5, 1.5], 4), [2.0, 6.0])\n"
                  "assert scale([1], LIMIT).tolist() == [3.0]\n### END HIDDEN TESTS",
    "test-mean": 'assert mean_of([1, 2, 6]) == 3, "mean of [1, 2, 6] is 3"\n'
                 "### BEGIN HIDDEN TESTS\nfrom unittest import mock\n"
                 'with mock.patch("statistics.mean", side_effect=AssertionError("statistics.mean is not allowed")):\n'
                 "    assert mean_of([2, 4, 9]) == 5\n### END HIDDEN TESTS",
}
POINTS = {gid: 2 for gid in TESTS}


def meta(gid, grade=False, solution=False, locked=False, points=None):
    m = {"grade": grade, "grade_id": gid, "locked": locked, "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def source_notebook():
    cells = [nbformat.v4.new_markdown_cell("# A tiny lab", metadata=meta("intro", locked=True)),
             nbformat.v4.new_code_cell(SETUP, metadata=meta("setup", locked=True))]
    for (sid, sol), (tid, test) in zip(SOLUTIONS.items(), TESTS.items()):
        cells.append(nbformat.v4.new_code_cell(sol, metadata=meta(sid, solution=True)))
        cells.append(nbformat.v4.new_code_cell(test, metadata=meta(tid, grade=True, locked=True, points=2)))
    cells.append(nbformat.v4.new_markdown_cell("A short reflection.",
                                               metadata=meta("reflection", grade=True, solution=True, points=2)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def copy(nb):
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def answer(release, answers: dict[str, str], markdown: str | None = "My reflection."):
    nb = copy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
        if gid == "reflection" and markdown is not None:
            cell.source = markdown
    return nb


def plain(sources: dict[str, str]) -> dict[str, str]:
    return {k: v.replace("    ### BEGIN SOLUTION\n", "").replace("\n    ### END SOLUTION", "") for k, v in sources.items()}


GOOD = plain(SOLUTIONS)
HALF = {**GOOD, "scale-solution": "def scale(x, k):\n    import sys, warnings\n"
        "    print('debug: scaling', file=sys.stderr)\n    warnings.warn('a library warning')\n"
        "    return np.asarray(x, dtype=float) * k + (0 if len(x) == 2 else 1)"}  # wrong on hidden inputs only
HALF["add-solution"] = "def add(a, b):\n    import sys\n    print('debug', a, b, file=sys.stderr)\n    return a + b"
STUB = {}


def honest_submissions(release) -> dict[str, object]:
    """student -> notebook, or (file name, notebook), for the honest students."""
    good = answer(release, GOOD)
    pasted = copy(good)
    for cell in pasted.cells:  # cells pasted into a fresh notebook: no grading metadata at all
        cell.metadata = {}
    duplicated = copy(good)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in duplicated.cells]
    stub_add = copy(release.cells[ids.index("add-solution")])
    duplicated.cells.insert(ids.index("add-solution"), stub_add)  # an unanswered copy above the answer
    test = duplicated.cells[ids.index("test-scale") + 1]
    test.metadata["nbgrader"]["grade"] = False  # a test cell switched off
    duplicated.cells.insert(ids.index("test-scale") + 2, copy(test))  # and duplicated
    old = nbformat.convert(copy(good), 3)
    return {"honest": good, "half": answer(release, HALF), "renamed": ("tiny (1).ipynb", good),
            "pasted": pasted, "duplicated": duplicated, "oldschema": old}


def hostile_code(paths: dict[str, str]) -> dict[str, str]:
    """student -> code put first in the add-solution cell (the rest of the notebook is the stub)."""
    p = json.dumps(paths)
    return {
        "ast_try": '''import ast
class _Try(ast.NodeTransformer):
    def visit_Module(self, node):
        node.body = [ast.Try(body=[s], handlers=[ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])],
                             orelse=[], finalbody=[]) for s in node.body]
        return ast.fix_missing_locations(node)
get_ipython().ast_transformers.append(_Try())
get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"] if "__grader__" in "".join(lines) else lines)
''',
        "displayhook": '''import sys
def add(a, b):
    sys.displayhook(3)
    raise RuntimeError("no")
def scale(x, k):
    sys.displayhook([3.0, 6.0])
    raise RuntimeError("no")
''',
        "always_equal": '''import builtins, sys, types, numpy
class Anything(float):
    def __eq__(self, other): return True
    __ne__ = lambda self, other: False
    __le__ = __ge__ = __lt__ = __gt__ = __eq__
    def __bool__(self): return True
    def tolist(self): return self
    def __array_function__(self, *a, **k): return True
    def __array_ufunc__(self, *a, **k): return True
    def __sub__(self, other): return 0.0
    __rsub__ = __add__ = __radd__ = __sub__
def add(a, b): return Anything()
def scale(x, k): return Anything()
def mean_of(xs): return Anything()
numpy.allclose = lambda *a, **k: True
np = types.SimpleNamespace(allclose=lambda *a, **k: True, asarray=lambda x, **k: x)
LIMIT = Anything()
builtins.abs = lambda x: 0
builtins.AssertionError = type("Quiet", (Exception,), {})
''',
        "settrace": '''import sys, threading
def _skip(frame, event, arg):
    if event == "line" and frame.f_code.co_name == "__grader_test__":
        return None
    return _skip
sys.settrace(_skip)
threading.settrace(_skip)
import unittest.mock
unittest.mock.patch = lambda *a, **k: __import__("contextlib").nullcontext()
''',
        "harness": '''import builtins
real = builtins.__grader__
class Fake:
    def test(self, gid):
        try:
            real.test(gid)
        except Exception:
            print("swallowed")
        with open(__import__("os").environ.get("GRADER_PLAN", "/job/plan.json") + ".v", "w") as f:
            f.write("x")
builtins.__grader__ = Fake()
import os
for f in ["/job/out/verdicts"]:
    with open(f, "a") as v:
        for gid in ["test-add", "test-scale", "test-mean"]:
            v.write(gid + " " + "0" * 32 + "\\n")
''',
        "reads_source": f'''import glob, os
paths = {p}
seen = []
for pattern in [paths["source"] + "/**/*.ipynb", paths["submitted"] + "/**/*.ipynb", paths["solutions"] + "/**/*.ipynb",
                paths["root"] + "/gradebook.db", "/root/*", "/home/*/*", "/tmp/**/*.ipynb", "/job/plan.json"]:
    seen += glob.glob(pattern, recursive=True)
print("SEEN", sorted(seen))
for path in seen:
    if path.endswith(".ipynb"):
        import nbformat
        for cell in nbformat.read(path, 4).cells:
            if "def add" in cell.source and "BEGIN SOLUTION" in cell.source:
                exec(cell.source.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""))
''',
        "vandal": f'''import os, socket, subprocess, sys, json
paths = {p}
def attempt(what, fn):
    try:
        fn()
        print("DID", what)
    except Exception as e:
        print("BLOCKED", what, type(e).__name__)
attempt("overwrite another submission", lambda: open(paths["victim"], "w").write("{{}}"))
attempt("append to nbgrader_config.py", lambda: open(paths["config"], "a").write("\\nimport os; os.system('touch /tmp/pwned')\\n"))
attempt("plant a file in source", lambda: open(paths["source"] + "/planted.py", "w").write("x"))
attempt("delete the gradebook", lambda: os.remove(paths["root"] + "/gradebook.db"))
attempt("startup file in the grader's IPython", lambda: (os.makedirs(paths["startup"], exist_ok=True),
        open(paths["startup"] + "/00-evil.py", "w").write("print('evil')")))
attempt("startup file in this kernel's IPython", lambda: (os.makedirs(os.path.expanduser("~/.ipython/profile_default/startup"), exist_ok=True),
        open(os.path.join(os.environ.get("IPYTHONDIR", "/x"), "profile_default/startup/00-evil.py"), "w").write("x")))
attempt("poison the data cache", lambda: open(paths["cache"] + "/{MARK}", "w").write("x"))
attempt("write into the library", lambda: open(paths["library"] + "/{MARK}.py", "w").write("x"))
attempt("connect to the grader's machine", lambda: socket.create_connection(("127.0.0.1", paths["port"]), timeout=3))
attempt("detached process", lambda: subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{MARK}"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
attempt("double fork", lambda: os.fork() == 0 and (os.setsid(), os.execv("/bin/sleep", ["sleep", "600", "{MARK}"])))
attempt("a lot of memory", lambda: bytearray(200 * 2**30))
from IPython.display import HTML, display
display(HTML("<script>document.title = 'pwned {MARK}'</script><b>bold</b>"))
print("x" * 3_000_000)
''',
        "manual_score": '''import json, os, glob
from IPython import get_ipython
get_ipython().kernel.shell.user_ns["_nbgrader_scores"] = {"test-add": 2}
for path in glob.glob("/job/**/*.ipynb", recursive=True):
    try:
        nb = json.load(open(path))
        for cell in nb["cells"]:
            cell.setdefault("metadata", {}).setdefault("nbgrader", {})["manual_score"] = 100
            cell["outputs"] = []
        json.dump(nb, open(path, "w"))
    except Exception as e:
        print(e)
''',
        "forbidden": '''import statistics
def mean_of(xs):
    return statistics.mean(xs)
''',
    }


def hostile_submissions(release, paths) -> dict[str, object]:
    out = {}
    for student, code in hostile_code(paths).items():
        nb = answer(release, {}, markdown="<script>alert('pwned')</script> [x](javascript:alert(1))")
        first = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "add-solution")
        first.source = code + "\n" + first.source
        out[student] = nb
    forged = out["manual_score"]
    forged.cells.append(nbformat.v4.new_code_cell("pass", metadata=meta("bonus", grade=True, locked=True, points=100)))
    for cell in forged.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test-add":
            cell.metadata["nbgrader"]["points"] = 100
    return out


def broken_submissions(release) -> dict[str, object]:
    crash = answer(release, {**GOOD, "scale-solution": "import os\nos._exit(1)"})
    stubborn = answer(release, {**GOOD, "scale-solution": (
        "import time\nwhile True:  # ignores Ctrl-C\n    try:\n        time.sleep(0.5)\n"
        "    except KeyboardInterrupt:\n        pass")})
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('my notes')")])
    return {"crash": crash, "stubborn": stubborn, "wronglab": other}


def submit(root: Path, student: str, nb) -> None:
    name, nb = nb if isinstance(nb, tuple) else (f"{LAB}.ipynb", nb)
    folder = root / "submitted" / student / LAB
    folder.mkdir(parents=True)
    if nb.nbformat == 3:
        (folder / name).write_text(nbformat.writes(nb, version=3))
    else:
        nbformat.write(nb, folder / name)


def run_grading(*args, root: Path, solutions: Path):
    proc = subprocess.run([sys.executable, "-m", "course_lib.grading", *args, "--root", str(root),
                           "--solutions", str(solutions)], capture_output=True, text=True, cwd=REPO)
    return proc.returncode, proc.stdout + proc.stderr


def new_course(base: Path) -> tuple[Path, Path, object]:
    solutions, root = base / "solutions", base / "grading"
    (solutions / LAB).mkdir(parents=True)
    nbformat.write(source_notebook(), solutions / LAB / f"{LAB}.ipynb")
    root.mkdir()
    shutil.copy(REPO / "grading" / "nbgrader_config.py", root)
    code, log = run_grading("generate", "--labs", str(base / "labs"), root=root, solutions=solutions)
    assert code == 0, log
    return root, solutions, nbformat.read(root / "release" / LAB / f"{LAB}.ipynb", 4)


def scores(root: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(LAB)}


def processes_with(mark: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if mark in cmdline and str(os.getpid()) != pid and "pytest" not in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    root, solutions, release = new_course(base)
    pristine = base.parent / f"{base.name}-pristine"
    shutil.copytree(base, pristine)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    home = Path.home()
    from course_lib.datasets import cache_dir
    paths = {"root": str(root), "source": str(root / "source" / LAB), "submitted": str(root / "submitted"),
             "solutions": str(solutions), "config": str(root / "nbgrader_config.py"),
             "victim": str(root / "submitted" / "honest" / LAB / f"{LAB}.ipynb"),
             "startup": str(home / ".ipython" / "profile_default" / "startup"), "cache": str(cache_dir()),
             "library": str(REPO / "course_lib"), "port": listener.getsockname()[1]}
    honest = honest_submissions(release)
    for student, nb in {**honest, **hostile_submissions(release, paths), **broken_submissions(release)}.items():
        submit(root, student, nb)
    (root / "submitted" / "typo" / "lab99_tyni").mkdir(parents=True)  # a misspelt assignment folder
    (root / "submitted" / "empty" / LAB).mkdir(parents=True)
    from course_lib.grading import integrity
    watched = [root / "submitted", root / "source", root / "release", root / "nbgrader_config.py", solutions,
               REPO / "course_lib"]
    before = integrity.snapshot(*watched)
    planted = [Path(paths["startup"]) / "00-evil.py", Path(paths["cache"]) / MARK, Path("/tmp/pwned")]
    assert not any(p.exists() for p in planted)
    start = time.monotonic()
    code, log = run_grading("autograde", "--timeout", "10", "--wall-time", "120", "--memory", "8192",
                            root=root, solutions=solutions)
    seconds = time.monotonic() - start
    try:
        connection = listener.accept()
    except BlockingIOError:
        connection = None
    out = {"root": root, "log": log, "code": code, "seconds": seconds, "scores": scores(root),
           "changed": integrity.changed(before, integrity.snapshot(*watched)),
           "planted": [str(p) for p in planted if p.exists()], "connection": connection,
           "survivors": processes_with(MARK), "report": json.loads((root / "reports" / f"{LAB}.json").read_text())}
    out["feedback"] = run_grading("feedback", root=root, solutions=solutions)
    out["grades"] = run_grading("grades", root=root, solutions=solutions)
    # the same honest students, each graded alone in a course of their own
    solo = {}
    for student, nb in honest.items():
        alone = base / f"solo-{student}"
        shutil.copytree(pristine, alone)
        submit(alone / "grading", student, nb)
        run_grading("autograde", "--timeout", "10", root=alone / "grading", solutions=alone / "solutions")
        solo[student] = scores(alone / "grading")[student]
    out["solo"] = solo
    print(f"hostile batch: {len(out['report']['submissions'])} submissions in {seconds:.0f} s")
    return out


def entry(batch, student):
    return next(e for e in batch["report"]["submissions"] if e["student"] == student)


pytestmark = [pytest.mark.slow, NEEDS_BWRAP]


def test_honest_students_score_what_they_score_alone(batch):
    got = {s: batch["scores"][s] for s in batch["solo"]}
    assert got == batch["solo"]
    assert got["honest"] == 6 and got["half"] == 4  # stderr and warnings cost nothing; the hidden bug 2


@pytest.mark.parametrize("student", ["ast_try", "displayhook", "always_equal", "settrace", "harness",
                                     "reads_source", "vandal", "manual_score"])
def test_hostile_submission_scores_nothing(batch, student):
    assert entry(batch, student)["status"] == "graded", entry(batch, student)
    assert batch["scores"][student] == 0, entry(batch, student)


def test_forbidden_helper_loses_its_task_only(batch):
    e = entry(batch, "forbidden")
    assert "test-mean" not in e["notebooks"][LAB]["passed"] and batch["scores"]["forbidden"] == 0


def test_no_file_outside_the_outputs_changed(batch):
    assert batch["changed"] == [] and batch["planted"] == []
    assert "INTEGRITY" not in batch["log"]


def test_no_process_outlives_the_batch_and_no_connection_left(batch):
    assert batch["survivors"] == []
    assert batch["connection"] is None


def test_broken_honest_notebooks_are_repaired_with_reasons(batch):
    assert any("named 'tiny (1).ipynb'" in r for r in entry(batch, "renamed")["reasons"])
    assert any("no grading metadata" in r for r in entry(batch, "pasted")["reasons"])
    reasons = entry(batch, "duplicated")["reasons"]
    assert any("duplicate of cell 'add-solution'" in r for r in reasons)
    assert any("duplicate of cell 'test-scale'" in r for r in reasons)
    assert any("metadata of cell 'test-scale'" in r for r in reasons)


def test_what_cannot_be_graded_is_reported_not_zeroed(batch):
    assert "kernel died" in entry(batch, "crash")["status"]
    assert "120 s limit" in entry(batch, "stubborn")["status"]
    assert "none of the lab's cells" in entry(batch, "wronglab")["status"]
    assert "no notebook" in entry(batch, "empty")["status"]
    assert "lab99_tyni" in batch["log"]
    assert batch["code"] == 1  # the batch finished; the exit status says someone needs a look
    rows = batch["grades"][1]
    csv = (batch["root"] / "grades.csv").read_text()
    assert "NOT GRADED: the kernel died" in csv and batch["grades"][0] == 0, rows


def test_feedback_reveals_no_hidden_test_and_runs_nothing(batch):
    assert batch["feedback"][0] in (0, 1), batch["feedback"][1]
    pages = {p.parent.parent.name: p.read_text() for p in (batch["root"] / "feedback").glob(f"*/{LAB}/*.html")}
    assert "Score: 6 / 8" in pages["honest"]
    for student, page in pages.items():
        assert "add(20, 22)" not in page and "BEGIN HIDDEN" not in page, student
        scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)  # nbconvert's own: MathJax, require
        assert not any(word in s for s in scripts for word in ("alert", "pwned", "document.title")), student
        assert "<script>alert" not in page and "javascript:alert" not in page and "<b>bold</b>" not in page, student
    assert "NOT GRADED" in pages["crash"]


def test_autograded_notebooks_are_safe_for_formgrader(batch):
    nb = nbformat.read(batch["root"] / "autograded" / "vandal" / LAB / f"{LAB}.ipynb", 4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert "<script>" not in json.dumps(outputs) and "pwned" not in json.dumps(outputs)
    assert not any(set(o.get("data", {})) - {"text/plain", "image/png", "image/jpeg"} for o in outputs)
    sizes = [len(json.dumps(c.get("outputs", []))) for c in nb.cells]
    assert max(sizes) < 300_000  # 3 MB of output was cut


def test_vandal_was_blocked_everywhere(batch):
    nb = nbformat.read(batch["root"] / "autograded" / "vandal" / LAB / f"{LAB}.ipynb", 4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    did = [line for line in text.splitlines() if line.startswith("DID")]
    allowed = {"DID startup file in this kernel's IPython", "DID detached process", "DID double fork"}
    assert set(did) <= allowed, did  # what it could do stayed in its own throwaway sandbox


def test_nothing_of_the_instructor_or_other_students_is_visible(batch):
    nb = nbformat.read(batch["root"] / "autograded" / "reads_source" / LAB / f"{LAB}.ipynb", 4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "SEEN []" in text, text[:2000]


def test_batch_wall_time(batch):
    n = len(batch["report"]["submissions"])
    print(f"{n} submissions, {batch['seconds']:.0f} s, load {os.getloadavg()[0]:.1f}")
    assert batch["seconds"] < 60 * n
