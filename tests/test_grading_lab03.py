"""Lab 3 through real nbgrader commands, beyond what tests/test_grading.py checks for every lab.

The generic round trip (solution = full autograded marks, untouched = 0, infinite loop, edited
tests, raising cell, feedback, CSV) runs on lab 3 there. Here:
- the lab follows the grading rules: test cells of at most 2 points, a message on every visible
  assert, a `# hidden tests also check:` line and a goal tag in every test cell;
- the student version hides what it must;
- the literal expected values of the hidden tests still match the library (they were computed
  from it once and are written into the hidden tests so the student's kernel cannot replace them);
- a *plausible* submission (four bugs that pass every visible assert) loses exactly the points of
  the hidden tests that catch them;
- a submission that calls the library instead of writing the functions loses the points of the
  hidden tests that replace those functions by failing ones.
"""
from __future__ import annotations

import ast
import json

import nbformat
import numpy as np
import pytest

from course_lib import integer_inference as I
from course_lib import quantization as Q
from course_lib.compression import kmeans1d
from test_grading import REPO, SOLUTIONS, kind, notebook_of, scores
from lab_grading import HIDDEN_BEGIN, cells_by_id, failed_tests, grade_submissions, literal, solution_source, visible_part

LAB = "lab03_quantization"
MANUAL = 3  # points of the written answers, left to the grader

# Each bug passes the visible asserts of its test cells; a hidden assert catches it.
BUGGY = {
    "linear-solution": '''
def quantize_per_tensor(x, bits=8, symmetric=True):
    x = np.asarray(x, np.float32)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    rmin, rmax = float(x.min()), float(x.max())  # bug: the range is not widened to contain 0
    if symmetric:
        scale, zero_point = max(-rmin, rmax) / qmax, 0
    else:
        scale = (rmax - rmin) / (qmax - qmin)
        zero_point = int(np.round(qmin - rmin / scale)) if scale > 0 else 0
    scale = scale if scale > 0 else 1.0
    return np.clip(np.round(x / scale) + zero_point, qmin, qmax).astype(np.int32), scale, zero_point


def dequantize(q, scale, zero_point):
    return (np.asarray(scale, np.float32) * (np.asarray(q, np.float32) - zero_point)).astype(np.float32)
''',
    "perchannel-solution": '''
def quantize_per_channel(w, bits=8, axis=0):
    w = np.asarray(w, np.float32)
    qmax = 2 ** (bits - 1) - 1
    others = tuple(a for a in range(w.ndim) if a != axis)  # bug: a negative axis is not normalised
    scale = np.abs(w).max(axis=others) / qmax
    scale = np.where(scale > 0, scale, 1.0)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -qmax - 1, qmax).astype(np.int32)
    return q, scale, np.zeros(scale.shape, np.int64)
''',
    "intlinear-solution": '''
def integer_linear(q_x, z_x, q_w, q_b, m0, n, z_y):
    q_x, q_w = np.asarray(q_x, np.int64), np.asarray(q_w, np.int64)
    acc = q_x @ q_w.T - int(z_x) * q_w.sum(axis=1) + np.asarray(q_b, np.int64)
    q_y = (acc * np.asarray(m0, np.int64)) >> np.asarray(n, np.int64)  # bug: the shift truncates, no rounding
    return np.clip(q_y + int(z_y), -128, 127).astype(np.int32)
''',
    "ort-solution": '''
class DigitsReader(CalibrationDataReader):
    def __init__(self, x, input_name="input", batch_size=50):
        self.x, self.input_name, self.batch_size = np.asarray(x), input_name, batch_size  # bug: dtype kept
        self.start = 0

    def get_next(self):
        if self.start >= len(self.x):
            return None
        batch = self.x[self.start:self.start + self.batch_size]
        self.start += self.batch_size
        return {self.input_name: batch}

    def rewind(self):
        self.start = 0


with contextlib.redirect_stdout(io.StringIO()):
    quantize_static(str(fp32_path), str(int8_path), DigitsReader(x_calib), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
''',
}
CAUGHT = {"test-linear-edge": 1, "test-perchannel-general": 1, "test-intlinear-example": 1,
          "test-intlinear-ort": 2, "test-reader": 1}  # cell -> points lost

# Calls the library instead of writing the function: visible tests pass, the patched hidden ones fail.
DELEGATING = {
    "linear-solution": '''
from course_lib.quantization import quantize_tensor


def quantize_per_tensor(x, bits=8, symmetric=True):
    qt = quantize_tensor(x, bits=bits, symmetric=symmetric)
    return qt.q, float(qt.scale), int(qt.zero_point)


def dequantize(q, scale, zero_point):
    return (np.asarray(scale, np.float32) * (np.asarray(q, np.float32) - zero_point)).astype(np.float32)
''',
    "fixedpoint-solution": '''
from course_lib import integer_inference as I


def fixed_point_multiplier(m):
    return I.fixed_point_multiplier(m)
''',
    "intlinear-solution": '''
def integer_linear(q_x, z_x, q_w, q_b, m0, n, z_y):
    return I.integer_linear(q_x, z_x, q_w, q_b, m0, n, z_y)
''',
}
FORBIDDEN = {"test-linear-example": 1, "test-linear-general": 2, "test-linear-edge": 1, "test-fixedpoint-example": 1,
             "test-fixedpoint-general": 1, "test-intlinear-example": 1, "test-intlinear-ort": 2}


def source_cells():
    return cells_by_id(nbformat.read(notebook_of(SOLUTIONS / LAB), 4))


# --- the rules every test cell follows (fast) --------------------------------------------------------

def test_test_cells_are_small_tagged_and_explain_their_asserts():
    tests = {gid: c for gid, c in source_cells().items() if kind(c) == "test"}
    assert len(tests) >= 12
    for gid, cell in tests.items():
        assert cell.metadata["nbgrader"]["points"] <= 2, f"{gid} is worth more than 2 points"
        visible = visible_part(cell.source)
        assert "# hidden tests also check: " in visible and "# Checks goal " in visible, gid
        asserts = [n for n in ast.walk(ast.parse(visible)) if isinstance(n, ast.Assert)]
        assert asserts and all(a.msg is not None for a in asserts), f"{gid}: every visible assert needs a message"
        assert HIDDEN_BEGIN in cell.source, f"{gid} has no hidden tests"
    manual = [c for c in source_cells().values() if kind(c) == "solution" and c.metadata["nbgrader"].get("grade")]
    assert sum(c.metadata["nbgrader"]["points"] for c in manual) == MANUAL
    assert all("=== BEGIN SOLUTION ===" in c.source and "Graders' guide" in c.source for c in manual)


def test_student_version_hides_solutions_and_hidden_tests():
    source = source_cells()
    student = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    assert sum(c.metadata["nbgrader"].get("points", 0) for c in source.values()) == 20
    for gid, cell in source.items():
        if kind(cell) == "test":
            assert HIDDEN_BEGIN not in student[gid].source and student[gid].source.strip() == visible_part(cell.source).strip()
        elif kind(cell) == "solution" and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" not in student[gid].source and "NotImplementedError" in student[gid].source
        elif kind(cell) == "solution":
            assert "BEGIN SOLUTION" not in student[gid].source and "Graders' guide" not in student[gid].source


# --- the literal expected values of the hidden tests match the library ----------------------------------

def test_hidden_linear_literals_match_the_library():
    cells = source_cells()
    x = np.array(literal(cells["test-linear-general"].source, "_X"), np.float32)
    cases = literal(cells["test-linear-general"].source, "_CASES") + [
        (8, False, s, z, q) for x_, s, z, q in literal(cells["test-linear-edge"].source, "_CASES")]
    edge_inputs = [np.array(c[0], np.float32) for c in literal(cells["test-linear-edge"].source, "_CASES")]
    assert len(cases) == 6 and {np.sign(e).max() for e in edge_inputs} == {1.0, -1.0}
    for (bits, symmetric, scale, zero_point, q), values in zip(cases, [x] * 4 + edge_inputs):
        s, z = Q.linear_qparams(values.min(), values.max(), bits, symmetric)
        assert float(s) == pytest.approx(scale, rel=1e-6) and int(z) == zero_point, (bits, symmetric)
        assert Q.quantize(values, s, z, bits).tolist() == q, (bits, symmetric)


def test_hidden_perchannel_and_kmeans_literals_match_the_library():
    cells = source_cells()
    w = np.array(literal(cells["test-perchannel-general"].source, "_W"), np.float32)
    for axis, scales, q in literal(cells["test-perchannel-general"].source, "_CASES"):
        qt = Q.quantize_tensor(w, bits=6, symmetric=True, axis=axis)
        assert np.ravel(qt.scale).tolist() == pytest.approx(scales, rel=1e-6) and qt.q.tolist() == q, axis
    laplace = np.random.default_rng(7).laplace(0, 0.05, size=(40, 30)).astype(np.float32).ravel()
    source = cells["test-kmeans-general"].source
    optima = ast.literal_eval(source.split("for _k, _best in ")[1].split(":")[0])
    for k, best in optima:
        centroids, labels = kmeans1d(laplace, k)
        assert np.mean((laplace - np.asarray(centroids)[labels]) ** 2) == pytest.approx(best, rel=1e-5), k


def test_hidden_integer_literals_match_the_library():
    cells = source_cells()
    for m, m0, n in literal(cells["test-fixedpoint-general"].source, "_CASES"):
        assert tuple(int(v) for v in I.fixed_point_multiplier(m)) == (m0, n), m
    case = literal(cells["test-intlinear-example"].source, "_C")
    m0, n = I.fixed_point_multiplier(np.array(case["M"]))
    got = I.integer_linear(np.array(case["q_x"]), case["z_x"], np.array(case["q_w"]), np.array(case["q_b"]), m0, n, case["z_y"])
    assert got.tolist() == case["q_y"]


# --- plausible bugs and delegating submissions --------------------------------------------------------

def run_visible(test_ids, replacements):
    """Run the solution notebook's code in-process, cells replaced by `replacements`, and the
    *visible* part of the given test cells (raises if a visible assert fails)."""
    namespace: dict = {}
    for cell in nbformat.read(notebook_of(SOLUTIONS / LAB), 4).cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code" or gid == "experiment-solution" or gid == "colab-setup":
            continue
        if kind(cell) == "test":
            if gid in test_ids:
                exec(visible_part(cell.source), namespace)
            continue
        code = replacements.get(gid, cell.source)
        if gid == "ort-solution" and gid in replacements:
            code = "import contextlib\nimport io\n" + code
        exec(code, namespace)


@pytest.mark.slow
def test_plausible_bugs_pass_the_visible_tests():
    run_visible(set(CAUGHT) | {"test-linear-example", "test-linear-general", "test-perchannel-example", "test-ort"}, BUGGY)


@pytest.mark.slow
def test_delegating_submission_passes_the_visible_tests():
    run_visible(set(FORBIDDEN), DELEGATING)


def with_cells(source, replacements):
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    for gid, cell in cells_by_id(nb).items():
        if gid in replacements:
            cell.source = replacements[gid].strip()
            if gid == "ort-solution":
                cell.source = "import contextlib\nimport io\n\n" + cell.source
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = solution_source(LAB)
    submissions = {"plausible": with_cells(source, BUGGY), "delegating": with_cells(source, DELEGATING)}
    return grade_submissions(tmp_path_factory, LAB, submissions)


@pytest.mark.slow
def test_hidden_tests_catch_the_plausible_bugs(graded):
    score, max_score = scores(graded, LAB)["plausible"]
    assert max_score == 20 and score == max_score - MANUAL - sum(CAUGHT.values()), score
    assert failed_tests(graded, "plausible", LAB) == set(CAUGHT)


@pytest.mark.slow
def test_hidden_tests_refuse_the_library_functions(graded):
    score, max_score = scores(graded, LAB)["delegating"]
    assert score == max_score - MANUAL - sum(FORBIDDEN.values()), score
    assert failed_tests(graded, "delegating", LAB) == set(FORBIDDEN)
