"""Lab 4 through real nbgrader commands, beyond what tests/test_grading.py checks for every lab.

The generic round trip (solution = full marks, untouched = 0, infinite loop, edited tests,
raising cell, feedback, CSV) runs on lab 4 there. Here: the hidden tests' literal expected values
still equal what course_lib computes, the student version hides what it must, and *plausible*
submissions (bugs that pass every visible assert) lose exactly the points of the hidden tests that
catch them.
"""
from __future__ import annotations

import re
from unittest import mock

import nbformat
import numpy as np
import pytest

from lab04_expected import expected
from test_grading import REPO, SOLUTIONS, autograded, errors, kind, notebook_of, scores
from lab_grading import HIDDEN_BEGIN, cells_by_id, grade_submissions, solution_source, with_cells

from course_lib import pruning

LAB = "lab04_pruning"

BUGGY = {
    "mask-solution": '''
def magnitude_mask(w, sparsity):
    if not 0 <= sparsity < 1:
        raise ValueError("sparsity in [0, 1)")
    w = np.asarray(w, dtype=float)
    mask = np.ones(w.size)
    mask[np.argsort(w.ravel(), kind="stable")[:int(round(sparsity * w.size))]] = 0.0  # bug: signed w
    return mask.reshape(w.shape)
''',
    "global-solution": '''
def global_masks(weights, sparsity):
    flat = np.concatenate([np.abs(np.asarray(w, dtype=float)).ravel() for w in weights])
    keep = np.ones(flat.size)
    keep[np.argsort(flat)[:int(sparsity * flat.size)]] = 0.0  # bug: int() truncates instead of rounding
    bounds = np.cumsum([0] + [np.size(w) for w in weights])
    return [keep[a:b].reshape(np.shape(w)) for a, b, w in zip(bounds[:-1], bounds[1:], weights)]
''',
    "csr-solution": '''
def csr_bytes(w, value_bits=32, index_bits=32):
    z = int(np.count_nonzero(w))
    return -(-(z * (value_bits + index_bits)) // 8)  # bug: forgets the rows + 1 row pointers


def bitmask_bytes(w, value_bits=32):
    w = np.asarray(w)
    return -(-(w.size + int(np.count_nonzero(w)) * value_bits) // 8)
''',
    "channels-solution": '''
def prune_channels(conv_w, bn, next_w, keep):
    score = conv_w.reshape(conv_w.shape[0], -1).sum(axis=1)  # bug: signed sum, not the L1 norm
    kept = np.sort(np.argsort(-score)[:keep])
    return conv_w[kept], {k: np.asarray(v)[kept] for k, v in bn.items()}, next_w[:, kept], kept
''',
}
CAUGHT = {"test-mask": 2, "test-mask-edge": 2, "test-global": 2, "test-global-layers": 2,
          "test-csr": 2, "test-csr-widths": 2, "test-channels": 2}  # cell -> points lost


def test_hidden_literals_equal_what_the_library_computes():
    source = "\n".join(c.source for c in nbformat.read(notebook_of(SOLUTIONS / LAB), 4).cells)
    want = expected()
    for key, value in want.items():
        assert str(value) in source, f"{key}: the notebook no longer holds {value}; rebuild the hidden tests"
    assert want["channels_kept"] != [0, 1, 2]  # the signed-sum bug ranks differently
    assert re.search(r"expected 58 = round\(0\.65 \* 89\)", source) and round(0.65 * 89) == 58 != int(0.65 * 89)


def test_student_version_hides_solutions_and_hidden_tests():
    source = cells_by_id(nbformat.read(notebook_of(SOLUTIONS / LAB), 4))
    student = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    assert sum(c.metadata["nbgrader"].get("points", 0) for c in source.values()) == 20
    for gid, cell in source.items():
        if kind(cell) == "test":
            assert HIDDEN_BEGIN in cell.source, f"{gid} has no hidden tests"
            assert cell.metadata["nbgrader"]["points"] <= 2, f"{gid} is worth more than 2 points"
            assert "# hidden tests also check:" in cell.source.split(HIDDEN_BEGIN)[0], f"{gid} does not say what is hidden"
            assert HIDDEN_BEGIN not in student[gid].source
        if kind(cell) == "solution" and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" not in student[gid].source and "NotImplementedError" in student[gid].source


def test_plausible_bugs_pass_the_visible_tests():
    """Each visible test cell, run in-process against the buggy functions: the bugs are invisible there."""
    tests = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    namespace = {"np": np, "mock": mock, "pruning": pruning}
    for code in BUGGY.values():
        exec(code, namespace)
    for gid, cell in tests.items():
        if kind(cell) == "test":
            exec(cell.source, namespace)  # raises if a visible assert failed


def test_solution_passes_its_hidden_tests_in_process():
    cells = nbformat.read(notebook_of(SOLUTIONS / LAB), 4).cells
    namespace = {}
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade") or meta.get("grade_id") == "setup"):
            exec(cell.source, namespace)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    source = solution_source(LAB)
    return grade_submissions(tmp_path_factory, LAB, {"plausible": with_cells(source, BUGGY)})


@pytest.mark.slow
def test_hidden_tests_catch_the_plausible_bugs(graded):
    score, max_score = scores(graded, LAB)["plausible"]
    nb = cells_by_id(autograded(graded, "plausible", LAB))
    failed = {gid for gid, c in nb.items() if kind(c) == "test" and errors(c)}
    assert failed == set(CAUGHT)
    # the written answer waits for a human; every other point is the autograder's
    assert max_score == 20 and score == 20 - 2 - sum(CAUGHT.values())
