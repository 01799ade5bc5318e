"""Lab 1 through real nbgrader commands, beyond what tests/test_grading.py checks for every lab.

- the student version hides what it must;
- the literal expected values of the hidden tests still match the library (profile,
  FlopCounterMode, ProfileReport.peak_activation_bytes, numpy's median);
- a *plausible* submission (four bugs that pass every visible assert) loses exactly the points of
  the hidden tests that catch them;
- a submission that counts with course_lib.profile instead of the formula loses the points of the
  hidden tests that replace profile by a failing function.
"""
from __future__ import annotations

import time

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

import course_lib
from course_lib import models, profile
from course_lib.profiling import LayerProfile, ProfileReport, flop_counter_macs
from test_grading import REPO, SOLUTIONS, kind, notebook_of, scores
from lab_grading import HIDDEN_BEGIN, cells_by_id, failed_tests, grade_submissions, literal, solution_source, with_cells

LAB = "lab01_cost_and_latency"
MANUAL = 3  # two written answers, left to the grader

BUGGY = {
    "conv-solution": '''
def conv2d_macs(c_in, c_out, k, h_out, w_out, groups=1):
    if c_in % groups or c_out % groups:
        raise ValueError("groups must divide the channels")
    return h_out * w_out * c_out * (c_in // groups) * k * k


def conv2d_params(c_in, c_out, k, groups=1, bias=True):
    if c_in % groups or c_out % groups:
        raise ValueError("groups must divide the channels")
    return c_out * (c_in // groups) * k * k + c_out  # bug: always counts the bias
''',
    "attention-solution": '''
def attention_macs(n, d, heads):
    if d % heads:
        raise ValueError("heads must divide d")
    return 4 * n * d * d + 2 * n * n * d * heads  # bug: the n^2 terms once per head, at full width


def attention_score_bytes(n, heads, bytes_per_value=4):
    return heads * n * n * bytes_per_value
''',
    "peak-solution": '''
def peak_activation_bytes(shapes, bytes_per_value=4):
    if len(shapes) == 0:
        raise ValueError("empty")
    sizes = [int(np.prod(s)) * bytes_per_value for s in shapes]
    if len(sizes) == 1:
        return sizes[0]
    outputs = sizes[1:]  # bug: forgets the network's input
    return max([a + b for a, b in zip(outputs, outputs[1:])] or outputs)
''',
    "latency-solution": '''
def median_latency_ms(step, warmup, runs, clock):
    if warmup < 0 or runs < 1:
        raise ValueError("bad warmup or runs")
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        t0 = clock()
        step()
        times.append(clock() - t0)
    return 1e3 * float(np.mean(times))  # bug: the mean, pulled by any outlier
''',
}
CAUGHT = {"test-conv-general": 2, "test-attention-general": 2, "test-peak-general": 1, "test-latency-general": 2}

DELEGATING = {
    "conv-solution": '''
import torch


def conv2d_macs(c_in, c_out, k, h_out, w_out, groups=1):
    if c_in % groups or c_out % groups:
        raise ValueError("groups must divide the channels")
    layer = torch.nn.Conv2d(c_in, c_out, k, groups=groups)
    return profile(layer, (c_in, h_out + k - 1, w_out + k - 1)).macs


def conv2d_params(c_in, c_out, k, groups=1, bias=True):
    if c_in % groups or c_out % groups:
        raise ValueError("groups must divide the channels")
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)
''',
}
FORBIDDEN = {"test-conv-example": 1, "test-conv-general": 2, "test-conv-depthwise": 1}


def solution_cells():
    return cells_by_id(nbformat.read(notebook_of(SOLUTIONS / LAB), 4))


def test_student_version_hides_solutions_and_hidden_tests():
    source = solution_cells()
    student = cells_by_id(nbformat.read(notebook_of(REPO / "labs" / LAB), 4))
    assert sum(c.metadata["nbgrader"].get("points", 0) for c in source.values()) == 20
    for gid, cell in source.items():
        if kind(cell) == "test":
            assert HIDDEN_BEGIN in cell.source, f"{gid} has no hidden tests"
            assert HIDDEN_BEGIN not in student[gid].source
            assert student[gid].source.strip() == cell.source.split(HIDDEN_BEGIN)[0].strip()
        if kind(cell) == "solution" and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" not in student[gid].source and "NotImplementedError" in student[gid].source
        if kind(cell) == "solution" and cell.cell_type == "markdown":
            assert "=== BEGIN SOLUTION ===" in cell.source and "BEGIN SOLUTION" not in student[gid].source


def test_hidden_literals_match_the_library():
    """The values typed into the hidden tests are what course_lib and PyTorch count today."""
    cells = solution_cells()
    for c_in, c_out, k, h, w, g, bias, macs, params in literal(cells["test-conv-general"].source, "_CASES"):
        layer = nn.Conv2d(c_in, c_out, k, groups=g, bias=bias)
        rep = profile(layer, (c_in, h + k - 1, w + k - 1))
        assert (rep.macs, rep.params) == (macs, params), (c_in, c_out, k, g, bias)
    for c_in, c_out, k, h, w, g, macs, params in literal(cells["test-conv-depthwise"].source, "_CASES"):
        rep = profile(nn.Conv2d(c_in, c_out, k, groups=g), (c_in, h + k - 1, w + k - 1))
        assert (rep.macs, rep.params) == (macs, params), (c_in, c_out, k, g)

    class SelfAttention(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.attn = nn.MultiheadAttention(d, heads, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    cases = literal(cells["test-attention-general"].source, "_CASES")
    assert any(h > 1 for _, _, h, _ in cases), "the hidden cases must include several heads"
    for n, d, heads, want in cases:
        model = SelfAttention(d, heads)
        assert profile(model, (n, d)).macs == flop_counter_macs(model, (n, d)) == want, (n, d, heads)
    for shapes, nbytes, want in literal(cells["test-peak-general"].source, "for"):
        layers = [LayerProfile(f"l{i}", "x", tuple(s), 0, 0, 4 * int(np.prod(s)), 0) for i, s in enumerate(shapes[1:])]
        report = ProfileReport("pytorch", tuple(shapes[0]), layers, 0)
        assert report.peak_activation_bytes * nbytes // 4 == want, shapes
    for script, warmup, runs, want in literal(cells["test-latency-general"].source, "for"):
        timed = script[warmup:warmup + runs]
        assert np.median(timed) == pytest.approx(want) and np.mean(timed) != pytest.approx(want), script


def run_visible(test_ids, code_by_cell):
    """Run visible test cells in-process against the given functions (raises if an assert fails)."""
    student = nbformat.read(notebook_of(REPO / "labs" / LAB), 4)
    namespace = {}
    exec(student.cells[2].source, namespace)  # the setup cell: imports and FakeClock
    for code in code_by_cell.values():
        exec(code, namespace)
    tests = cells_by_id(student)
    for test_id in test_ids:
        exec(tests[test_id].source, namespace)


PART_TESTS = ["test-conv-example", "test-conv-general", "test-conv-depthwise", "test-attention-example",
              "test-attention-general", "test-scores", "test-peak-example", "test-peak-general", "test-peak-edge",
              "test-latency-example", "test-latency-general", "test-latency-errors"]


def test_plausible_bugs_pass_the_visible_tests():
    run_visible(PART_TESTS, BUGGY)


def test_delegating_submission_passes_the_visible_tests():
    run_visible(["test-conv-example", "test-conv-general", "test-conv-depthwise"], DELEGATING)


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
def test_hidden_tests_refuse_course_lib_profile(graded):
    score, max_score = scores(graded, LAB)["delegating"]
    assert score == max_score - MANUAL - sum(FORBIDDEN.values()), score
    assert failed_tests(graded, "delegating", LAB) == set(FORBIDDEN)
