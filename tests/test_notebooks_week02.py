"""Week 2 runs top to bottom in fast mode, and every sentence of its printed summary holds."""
from __future__ import annotations

import re

import pytest

from notebook_utils import REPO, outputs_text, run_notebook

LECTURE = REPO / "lectures" / "week02_toolbox_tflite_tfmot.ipynb"


@pytest.fixture(scope="module")
def text():
    nb, seconds = run_notebook(LECTURE, timeout=600)
    print(f"week02 lecture: {seconds:.0f} s in fast mode")
    return outputs_text(nb)


def number(pattern, text):
    m = re.search(pattern, text)
    assert m, f"the summary line matching {pattern!r} is missing"
    return [float(g) for g in m.groups()]


@pytest.mark.slow
def test_tflite_modes_shrink_at_the_same_accuracy(text):
    dynamic, fp16, int8, kib = number(r"dynamic range ([\d.]+)x, float16 ([\d.]+)x, full integer ([\d.]+)x smaller than float32 \((\d+) KiB\)", text)
    assert dynamic >= 3 and 1.7 <= fp16 <= 2.1 and int8 >= 3 and kib > 4 * 61706 / 1024
    losses = number(r"Test accuracy lost: dynamic ([-+\d.]+), float16 ([-+\d.]+), full integer ([-+\d.]+) points", text)
    assert all(loss <= 1.0 for loss in losses)  # 10 of 1,000 test digits
    assert "The full-integer file has 0 float32 tensors." in text


@pytest.mark.slow
def test_pruned_and_clustered_files_shrink_only_under_gzip(text):
    zeros, raw, gz = number(r"TFMOT pruning left ([\d.]+) % zeros; the pruned file is ([\d.]+)x the baseline raw and ([\d.]+)x under gzip", text)
    assert zeros >= 74 and 0.98 <= raw <= 1.02 and gz < 0.6
    distinct, gz = number(r"at most (\d+) distinct values per kernel; gzip size ([\d.]+)x", text)
    assert distinct <= 16 and gz < 0.5
    raw, gz, acc, dense = number(r"90 % without fine-tuning: raw size ([\d.]+)x, gzip ([\d.]+)x, test accuracy ([\d.]+) \(dense ([\d.]+)\)", text)
    assert 0.98 <= raw <= 1.02 and gz < 0.3 and acc < dense
