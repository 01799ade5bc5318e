"""The grading harness and repair, in-process and fast (the sandboxed batch is test_grading_hostile.py).

The harness is loaded as a kernel loads it, into a fresh namespace standing in for the student's,
then tests run through ``__grader__.test``: a passing test records its token, a failing one or a
gamed one does not.
"""
from __future__ import annotations

import builtins
import json
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib.grading import repair, testcode

HARNESS = Path(testcode.__file__).with_name("harness.py")
TESTS = {"t-add": "assert add(2, 3) == 5, 'add'\nassert np.isclose(add(0.1, 0.2), 0.3)\ntotal = add(1, 1)",
         "t-limit": "assert LIMIT == 3 and np.allclose(np.asarray([LIMIT]), [3])"}


class Shell:
    def __init__(self):
        self.user_ns = {}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """``(namespace, run)``: ``run(grade_id)`` runs a test, returns True when its token was recorded."""
    plan = {"tests": {g: {"code": testcode.compile_test(src), "token": f"tok-{g}"} for g, src in TESTS.items()},
            "imports": {"np": ["numpy", None]}, "constants": {"LIMIT": "3"}, "modules": ["numpy"],
            "verdicts": str(tmp_path / "verdicts")}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    monkeypatch.setenv("GRADER_PLAN", str(tmp_path / "plan.json"))
    shell = Shell()
    shell.user_ns.update({"__builtins__": builtins, "get_ipython": lambda: shell})
    saved_hook = sys.displayhook
    exec(compile(HARNESS.read_text(), str(HARNESS), "exec"), shell.user_ns)
    assert not (tmp_path / "plan.json").exists(), "the plan must be gone before student code runs"

    def run(grade_id):
        try:
            builtins.__grader__.test(grade_id)
        except Exception:  # noqa: BLE001  (a failing test raises, as it does in the kernel)
            pass
        verdicts = (tmp_path / "verdicts").read_text() if (tmp_path / "verdicts").exists() else ""
        return f"{grade_id} tok-{grade_id}" in verdicts

    yield shell.user_ns, run
    del builtins.__grader__
    sys.displayhook = saved_hook


def student(ns, code):
    exec(code, ns)


def test_a_correct_answer_records_its_token_and_keeps_its_names(kernel):
    ns, run = kernel
    student(ns, "import numpy as np\nLIMIT = 3\ndef add(a, b):\n    return a + b")
    assert run("t-add") and ns["total"] == 2
    assert run("t-limit")


def test_an_object_equal_to_everything_scores_nothing(kernel):
    ns, run = kernel
    student(ns, "class Anything(float):\n    def __eq__(self, o): return True\n    def __bool__(self): return True\n"
                "    def __array_function__(self, *a, **k): return True\n"
                "def add(a, b): return Anything()")
    assert not run("t-add")


def test_rebound_names_and_patched_numpy_are_put_back(kernel):
    ns, run = kernel
    student(ns, "import types, numpy\nnumpy.isclose = lambda *a, **k: True\nnumpy.allclose = numpy.isclose\n"
                "np = types.SimpleNamespace(isclose=lambda *a, **k: True, allclose=lambda *a, **k: True)\n"
                "LIMIT = 4\ndef add(a, b): return a + b + 1")
    assert not run("t-add")
    assert run("t-limit")  # LIMIT is the lab's 3 again, np.allclose NumPy's


def test_hooks_and_builtins_a_submission_replaced_are_restored(kernel):
    ns, run = kernel
    student(ns, "import builtins, sys\nbuiltins.bool = lambda x: True\nbuiltins.AssertionError = KeyError\n"
                "sys.displayhook = lambda v: None\ndef add(a, b): return a - b")
    assert not run("t-add")
    assert bool(0) is False


def test_a_forged_verdict_line_does_not_count(kernel, tmp_path):
    ns, run = kernel
    student(ns, "def add(a, b): return 0")
    (tmp_path / "verdicts").write_text("t-add " + "0" * 32 + "\n")
    assert not run("t-add")


def test_checked_test_code_keeps_python_semantics():
    src = testcode.compile_test("x = [1, 2]\nassert 1 < len(x) <= 2\ny = -x[0] if x else 0\nassert not (y > 0)")
    assert "__grader_cmp" in src and "__grader_truth" in src and "__grader_locals()" in src
    ns = {}
    helpers = [lambda names, *o: all(eval(f"a {n} b") for n, a, b in zip(names, o, o[1:])),
               lambda n, a, b: eval(f"a {n} b"), lambda n, a: -a, bool, lambda f, *a, **k: f(*a, **k), None, ns]
    scope = {}
    exec(src, {}, scope)
    helpers[5] = lambda: {"y": -1, "__grader_x": 0}
    scope["__grader_test__"](*helpers)
    assert ns == {"y": -1}


def test_names_assigned_before_a_failing_assert_reach_the_notebook(kernel):
    ns, run = kernel
    student(ns, "def add(a, b): return 0")
    assert not run("t-add")
    assert "total" not in ns  # assigned after the failing assert
    plan_src = testcode.compile_test("early = 1\nassert False\nlate = 2")
    scope, target = {}, {}
    exec(plan_src, {}, scope)
    with pytest.raises(AssertionError):
        scope["__grader_test__"](None, None, None, bool, None, lambda: {"early": 1}, target)
    assert target == {"early": 1}


# --- repair ---------------------------------------------------------------------------------------

def lab():
    def meta(gid, **kw):
        return {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False,
                             "locked": False, **kw}}
    return nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np", metadata=meta("setup", locked=True)),
        nbformat.v4.new_code_cell("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                                  metadata=meta("f-solution", solution=True)),
        nbformat.v4.new_code_cell("assert f(1) == 2", metadata=meta("test-f", grade=True, locked=True, points=2)),
        nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata=meta("why", grade=True, solution=True, points=2)),
    ])


def test_repair_restores_edited_tests_metadata_and_missing_cells():
    release = lab()
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    nb.cells[1].source = "def f(x):\n    return 2 * x"
    nb.cells[2].source = "pass"
    nb.cells[2].metadata.nbgrader["grade"] = False
    del nb.cells[3]
    fixed, reasons = repair.repair(nb, release)
    assert [c.source for c in fixed.cells][1:3] == ["def f(x):\n    return 2 * x", "assert f(1) == 2"]
    assert fixed.cells[2].metadata.nbgrader["grade"] is True and fixed.cells[3].metadata.nbgrader["grade_id"] == "why"
    assert len(reasons) == 3, reasons


def test_repair_recognises_pasted_cells_and_rejects_another_notebook():
    release = lab()
    pasted = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy as np"),
                                             nbformat.v4.new_code_cell("def f(x):\n    return x + x"),
                                             nbformat.v4.new_code_cell("assert f(1) == 2"),
                                             nbformat.v4.new_markdown_cell("Because.")])
    fixed, reasons = repair.repair(pasted, release)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in fixed.cells]
    assert ids == ["setup", "f-solution", "test-f", "why"] and fixed.cells[3].source == "Because."
    with pytest.raises(repair.Rejected, match="none of the lab's cells"):
        repair.repair(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), release)


def test_find_notebook_renamed_missing_and_ambiguous(tmp_path):
    (tmp_path / "lab (1).ipynb").write_text("{}")
    path, reasons = repair.find_notebook(tmp_path, "lab.ipynb")
    assert path.name == "lab (1).ipynb" and "lab (1).ipynb" in reasons[0]
    (tmp_path / "other.ipynb").write_text("{}")
    with pytest.raises(repair.Rejected, match="2 notebooks"):
        repair.find_notebook(tmp_path, "lab.ipynb")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(repair.Rejected, match="no notebook"):
        repair.find_notebook(tmp_path / "nothing", "lab.ipynb")
    (tmp_path / "other.ipynb").write_text("{oops")
    with pytest.raises(repair.Rejected, match="not a readable notebook"):
        repair.read_any(tmp_path / "other.ipynb")


# --- sanitising ---------------------------------------------------------------------------------

def test_outputs_keep_text_and_images_only_and_markdown_is_inert():
    from course_lib.grading import sanitize

    outs = [nbformat.v4.new_output("display_data", data={"text/html": "<script>x()</script>", "text/plain": "ok",
                                                         "application/javascript": "x()", "image/svg+xml": "<svg/>"}),
            nbformat.v4.new_output("display_data", data={"image/png": "not base64!"}),
            nbformat.v4.new_output("stream", name="stderr", text="a warning")]
    kept = sanitize.outputs(outs)
    assert [dict(o.get("data", {})) for o in kept] == [{"text/plain": "ok"}, {}]
    assert kept[1].text == "a warning"
    md = sanitize.markdown("<script>alert(1)</script> [x](JavaScript :alert(1))")
    assert "<script>" not in md and "javascript" not in md.lower().replace("javascript-blocked-", "")
    hidden = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(7) == 14\n### END HIDDEN TESTS\n"
    assert sanitize.strip_hidden_tests(hidden) == "assert f(1) == 2\n# (hidden tests, not shown)\n"
