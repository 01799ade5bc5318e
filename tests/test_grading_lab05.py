"""Lab 5 through real nbgrader commands, beyond what tests/test_grading.py checks for every lab.

The generic round trip (solution = full marks, untouched = 0, infinite loop, edited tests,
raising cell, feedback, CSV) runs on lab 5 there. Here: the student version hides what it must,
and a *plausible* submission (three bugs that pass every visible assert) loses exactly the
points of the hidden tests that catch them.
"""
from __future__ import annotations

import json
import shutil

import nbformat
import numpy as np
import pytest

from test_grading import REPO, SOLUTIONS, autograded, errors, grading, kind, notebook_of, scores, submit

LAB = "lab05_weight_sharing_search"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

# Each bug passes the visible asserts of its test cell; a hidden assert catches it.
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
    "crossover-solution": '''
def one_point_crossover(a, b, cut):
    a, b = np.asarray(a), np.asarray(b)
    if len(a) != len(b) or cut == 0 or cut == len(a):  # bug: a negative cut slips through
        raise ValueError("bad parents or cut")
    return np.concatenate([a[:cut], b[cut:]]), np.concatenate([b[:cut], a[cut:]])
''',
}
CAUGHT = {"test-cr": 3, "test-roulette": 3, "test-crossover-errors": 1}  # cell -> points lost


def cells_by_id(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def visible_part(source: str) -> str:
    return source.split(HIDDEN_BEGIN)[0]


def test_student_version_hides_solutions_and_hidden_tests():
    source = cells_by_id(nbformat.read(notebook_of(SOLUTIONS / LAB), 4))
    student = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    assert sum(c.metadata["nbgrader"].get("points", 0) for c in source.values()) == 20
    for gid, cell in source.items():
        if kind(cell) == "test":
            assert HIDDEN_BEGIN in cell.source, f"{gid} has no hidden tests"
            assert HIDDEN_BEGIN not in student[gid].source and student[gid].source.strip() == visible_part(cell.source).strip()
        if kind(cell) == "solution":
            assert "### BEGIN SOLUTION" not in student[gid].source and "NotImplementedError" in student[gid].source


def test_plausible_bugs_pass_the_visible_tests():
    """Run each visible test cell in-process against the buggy function: the bugs are invisible there."""
    tests = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    for test_id, points in CAUGHT.items():
        namespace = {"np": np, "LENET_SIZES": [150, 2400, 48000, 10080, 840]}
        for code in BUGGY.values():
            exec(code, namespace)
        np.random.seed(0)
        exec(tests[test_id].source, namespace)  # raises if a visible assert failed


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("course05")
    root, labs = base / "grading", base / "labs"
    root.mkdir()
    shutil.copy(REPO / "grading" / "nbgrader_config.py", root)
    grading("generate", LAB, "--labs", str(labs), root=root)
    source = nbformat.read(notebook_of(SOLUTIONS / LAB), 4)
    buggy = nbformat.from_dict(json.loads(json.dumps(source)))
    for gid, cell in cells_by_id(buggy).items():
        if gid in BUGGY:
            cell.source = BUGGY[gid].strip()
    submit(root, "plausible", LAB, buggy)
    grading("autograde", LAB, root=root)  # the config's cell timeout: nothing here loops
    return root


@pytest.mark.slow
def test_hidden_tests_catch_the_plausible_bugs(graded):
    score, max_score = scores(graded, LAB)["plausible"]
    assert max_score == 20 and score == max_score - sum(CAUGHT.values())
    nb = cells_by_id(autograded(graded, "plausible", LAB))
    failed = {gid for gid, c in nb.items() if kind(c) == "test" and errors(c)}
    assert failed == set(CAUGHT)
    assert not errors(nb["test-ga"]), "the GA part of the plausible submission should pass"
