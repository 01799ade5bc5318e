"""Lab 5 through real nbgrader commands, beyond what tests/test_grading.py checks for every lab.

The generic round trip (solution = full autograded marks, untouched = 0, infinite loop, edited
tests, raising cell, feedback, CSV) runs on lab 5 there. Here:
- the student version hides what it must;
- the literal expected values of the hidden tests still match the library (they were computed
  from it once and are written into the hidden tests so the student's kernel cannot replace them);
- a *plausible* submission (three bugs that pass every visible assert) loses exactly the points of
  the hidden tests that catch them;
- a submission that calls the forbidden library functions instead of writing them loses the points
  of the hidden tests that replace those functions by failing ones.
"""
from __future__ import annotations


import nbformat
import numpy as np
import pytest

from course_lib import compression as C
from course_lib.search import move_target
from test_grading import REPO, SOLUTIONS, kind, notebook_of, scores
from lab_grading import cells_by_id, failed_tests, grade_submissions, literal, solution_source, visible_part, with_cells

LAB = "lab05_weight_sharing_search"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
LENET_SIZES = [150, 2400, 48000, 10080, 840]

# Each bug passes the visible asserts of its test cells; a hidden assert catches it.
BUGGY = {
    "cr-solution": '''
def true_compression_rate(layer_sizes, ks, codebook_bits=32, value_bits=32):
    if len(layer_sizes) != len(ks):
        raise ValueError("one k per layer")
    original = compressed = 0
    for p, k in zip(layer_sizes, ks):
        if k < 1:
            raise ValueError("k >= 1")
        b_k = int(np.ceil(np.log2(k))) if k > 1 else 0
        original += p * 32  # bug: ignores value_bits
        compressed += p * b_k + k * (codebook_bits + b_k)
    return original / compressed
''',
    "roulette-solution": '''
def roulette_select(fitness, n, rng):
    fitness = np.asarray(fitness, dtype=float)
    if not np.all(np.isfinite(fitness)) or np.any(fitness < 0) or fitness.sum() <= 0:
        raise ValueError("bad fitness")
    return np.random.choice(len(fitness), size=n, p=fitness / fitness.sum())  # bug: global RNG, not rng
''',
    "target-solution": '''
def update_target(target, points, thresholds, offsets):
    if min(offsets) <= 0:
        raise ValueError("offsets must be > 0")
    acc_t, cr_t = target
    for acc, cr in points:  # bug: no threshold check, a point far below the accuracy floor moves the CR target
        if acc >= acc_t:
            acc_t = acc + offsets[0]
        if cr >= cr_t:
            cr_t = cr + offsets[1]
    return float(acc_t), float(cr_t)
''',
}
CAUGHT = {"test-cr-general": 2, "test-roulette-general": 2, "test-target-general": 2}  # cell -> points lost

# Calls the library instead of writing the function: visible tests pass, the patched hidden ones fail.
DELEGATING = {
    "cr-solution": '''
def true_compression_rate(layer_sizes, ks, codebook_bits=32, value_bits=32):
    return C.compression_rate(layer_sizes, ks, codebook_bits, value_bits)
''',
    "target-solution": '''
def update_target(target, points, thresholds, offsets):
    if min(offsets) <= 0:
        raise ValueError("offsets must be > 0")
    return search.move_target(target, points, thresholds, offsets)
''',
}
FORBIDDEN = {"test-cr-example": 1, "test-cr-general": 2, "test-target-example": 1, "test-target-general": 2}


def test_student_version_hides_solutions_and_hidden_tests():
    source = cells_by_id(nbformat.read(notebook_of(SOLUTIONS / LAB), 4))
    student = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    assert sum(c.metadata["nbgrader"].get("points", 0) for c in source.values()) == 20
    for gid, cell in source.items():
        if kind(cell) == "test":
            assert HIDDEN_BEGIN in cell.source, f"{gid} has no hidden tests"
            assert HIDDEN_BEGIN not in student[gid].source and student[gid].source.strip() == visible_part(cell.source).strip()
        if kind(cell) == "solution" and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" not in student[gid].source and "NotImplementedError" in student[gid].source
        if kind(cell) == "solution" and cell.cell_type == "markdown":
            assert "=== BEGIN SOLUTION ===" in cell.source and "BEGIN SOLUTION" not in student[gid].source


def test_hidden_literals_match_the_library():
    """The expected values typed into the hidden tests are what the library computes today."""
    cells = cells_by_id(nbformat.read(notebook_of(SOLUTIONS / LAB), 4))
    cr_cases = literal(cells["test-cr-general"].source, "_CASES")
    assert len(cr_cases) >= 5
    for sizes, ks, cb, vb, want in cr_cases:
        assert C.compression_rate(sizes, ks, cb, vb) == pytest.approx(want, rel=1e-6), (sizes, ks, cb, vb)
    target_cases = literal(cells["test-target-general"].source, "_CASES")
    assert len(target_cases) >= 5
    moved = 0
    for target, points, want in target_cases:
        got = move_target(target, points, (0.963, 1.0), (0.001, 0.1))
        assert got == pytest.approx(want, abs=1e-6), (target, points)
        moved += got != tuple(target)
    assert 0 < moved < len(target_cases), "the cases should include targets that move and targets that stay"


def run_visible(test_ids, code_by_cell):
    """Run visible test cells in-process against the given functions (raises if an assert fails)."""
    tests = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    from course_lib import search
    namespace = {"np": np, "C": C, "search": search, "LENET_SIZES": LENET_SIZES}
    for code in code_by_cell.values():
        exec(code, namespace)
    for test_id in test_ids:  # in notebook order, sharing one namespace as the kernel does
        np.random.seed(0)
        exec(tests[test_id].source, namespace)


def test_plausible_bugs_pass_the_visible_tests():
    run_visible(["test-cr-example", "test-cr-general", "test-cr-errors", "test-roulette-example",
                 "test-roulette-general", "test-roulette-errors"], BUGGY)
    run_visible(["test-target-example", "test-target-general", "test-target-edge"], BUGGY)


def test_delegating_submission_passes_the_visible_tests():
    run_visible(["test-cr-example", "test-cr-general"], DELEGATING)
    run_visible(["test-target-example", "test-target-general", "test-target-edge"], DELEGATING)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = solution_source(LAB)
    submissions = {"plausible": with_cells(source, BUGGY), "delegating": with_cells(source, DELEGATING)}
    return grade_submissions(tmp_path_factory, LAB, submissions)


@pytest.mark.slow
def test_hidden_tests_catch_the_plausible_bugs(graded):
    score, max_score = scores(graded, LAB)["plausible"]
    manual = 4  # two written answers, left to the grader
    assert max_score == 20 and score == max_score - manual - sum(CAUGHT.values()), score
    assert failed_tests(graded, "plausible", LAB) == set(CAUGHT)


@pytest.mark.slow
def test_hidden_tests_refuse_the_library_functions(graded):
    score, max_score = scores(graded, LAB)["delegating"]
    assert score == max_score - 4 - sum(FORBIDDEN.values()), score
    assert failed_tests(graded, "delegating", LAB) == set(FORBIDDEN)
