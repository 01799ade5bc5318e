"""Week 4 runs top to bottom in fast mode, and its summary's claims hold on what it measured."""
from __future__ import annotations

import os
import re

import nbformat

import numpy as np
import pytest

from notebook_utils import REPO, outputs_text, run_notebook

from course_lib import pruning as P
from course_lib.notebook import _read_key


def _number(pattern, text):
    m = re.search(pattern, text)
    assert m, f"line matching {pattern!r} missing from the notebook's output"
    return [float(g) for g in m.groups()]


@pytest.mark.slow
def test_week04_lecture_runs_and_its_summary_holds():
    nb, seconds = run_notebook(REPO / "lectures" / "week04_pruning.ipynb", timeout=600)
    text = outputs_text(nb)
    print(f"week04 lecture: {seconds:.0f} s in fast mode")
    if os.environ.get("WEEK04_DUMP"):  # debugging aid: the executed notebook, with per-cell timings
        nbformat.write(nb, os.environ["WEEK04_DUMP"])
    g90, l90, base = _number(r"global threshold ([\d.]+) %, per layer ([\d.]+) % \(unpruned ([\d.]+) %\)", text)
    assert g90 > l90 and base > g90  # a global threshold spares what matters; nothing is free at 90 %
    before, after = _number(r"Fine-tuning with torch.nn.utils.prune masks: ([\d.]+) % -> ([\d.]+) %", text)
    assert after > before
    saving, zeros_speedup = _number(r"Unstructured 80 % zeros: weights ([\d.]+)x smaller in CSR, latency ratio ([\d.]+)x", text)
    assert saving > 2 and 0.8 < zeros_speedup < 1.25  # storage saved, time not
    (thin_speedup,) = _number(r"50 % of the channels removed: latency speed-up ([\d.]+)x", text)
    assert thin_speedup > 1.3 and thin_speedup > zeros_speedup + 0.2
    size, ratio = _number(r"Deep Compression \(fast-mode retraining\): (\d+) B file, ([\d.]+)x",
                          text)
    assert ratio > 20 and size < 4 * 61706 / 20
    for row in ("80 % zeros (unstructured)", "50 % channels removed", "+ Huffman", "PolynomialDecay to 80 %", "2:4"):
        assert row in text
    # TFMOT's 2:4 groups run along the input channels: conv1 (1) takes none, conv2 (6) its first 4 only
    line = re.search(r"2:4 per layer \(input channels: sparsity\): (.*)", text).group(1)
    nm = {name: (int(c), float(s)) for name, c, s in re.findall(r"(\w+) \((\d+): ([\d.]+)\)", line)}
    assert nm == {"conv1": (1, 0.0), "conv2": (6, 0.33), "conv3": (16, 0.5), "fc1": (120, 0.5), "fc2": (84, 0.5)}, nm


def test_week04_numeric_quiz_key_matches_the_library():
    w = np.random.default_rng(0).normal(size=(84, 120))
    assert _read_key("k1:fTQwNDggOiJhIns=") == P.sparse_bytes(w * P.magnitude_mask(w, 0.9), "csr", 32) == 8404
