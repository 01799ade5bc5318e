"""Week 3 runs top to bottom in fast mode and reaches what it teaches. (The lab's solution is
executed by nbgrader in tests/test_grading.py, where it must score full marks with no failing cell.)"""
from __future__ import annotations

import re

import pytest

from notebook_utils import REPO, outputs_text, run_notebook


@pytest.mark.slow
def test_week03_lecture_runs_and_int8_is_smaller_at_the_same_accuracy():
    nb, seconds = run_notebook(REPO / "lectures" / "week03_quantization.ipynb", timeout=600)
    text = outputs_text(nb)
    print(f"week03 lecture: {seconds:.0f} s in fast mode")
    m = re.search(r"ORT static INT8: ([\d.]+)x smaller, (-?[\d.]+) points of validation accuracy lost", text)
    assert m, "the summary line of section 8 is missing"
    ratio, lost = float(m.group(1)), float(m.group(2))
    assert ratio >= 3 and lost <= 1.0
    for row in ("ONNX float32", "TFLite int8 PTQ", "TFLite int8 QAT", "p50 ms (batch 1)"):
        assert row in text
