"""Week 3 runs top to bottom in fast mode, and every comparative sentence of its markdown (the
summary, the titles' findings, the integer-only section) holds on the numbers it printed. (The
lab's solution is executed by nbgrader in tests/test_grading.py, where it must score full marks.)"""
from __future__ import annotations

import re

import pytest

from notebook_utils import REPO, outputs_text, run_notebook

NUMBER = r"(-?[\d.]+)"


def grab(pattern: str, text: str) -> list[float]:
    m = re.search(pattern, text)
    assert m, f"the notebook no longer prints a line matching {pattern!r}"
    return [float(g) for g in m.groups()]


@pytest.fixture(scope="module")
def lecture():
    nb, seconds = run_notebook(REPO / "lectures" / "week03_quantization.ipynb", timeout=600)
    print(f"week03 lecture: {seconds:.0f} s in fast mode")
    return outputs_text(nb), seconds


@pytest.mark.slow
def test_noise_statement(lecture):
    text, _ = lecture
    image, se = grab(rf"one image = {NUMBER} points; one standard error = {NUMBER} points", text)
    assert image == pytest.approx(0.1) and 0.4 <= se <= 0.6  # 1,000 images at about 97 %


@pytest.mark.slow
def test_formats_and_clipping(lecture):
    text, _ = lecture
    (int8_vs_fp8,) = grab(rf"int8 with one scale: {NUMBER}x lower MSE than the best FP8", text)
    assert int8_vs_fp8 > 1  # the plot title's finding
    (gain3,) = grab(rf"3 bits: best clip [\d.]+, total error [\d.]+ vs [\d.]+ without clipping \({NUMBER}x lower\)", text)
    (gain8,) = grab(rf"8 bits: best clip [\d.]+, total error [\d.]+ vs [\d.]+ without clipping \({NUMBER}x lower\)", text)
    assert gain3 > 3 and gain8 < 1.1  # "at 8 bits clipping barely pays, at 3 bits it lowers the error several times"


@pytest.mark.slow
def test_low_bit_options_decide_accuracy_and_tie_from_4_bits(lecture):
    text, _ = lecture
    (se,) = grab(rf"one standard error = {NUMBER} points", text)
    kmeans2, channel2, channel3, tensor3 = grab(
        rf"2 bits: k-means {NUMBER} %, linear per channel {NUMBER} %; 3 bits: per channel {NUMBER} %, per tensor {NUMBER} %", text)
    assert kmeans2 - channel2 > 4 * se and channel3 - tensor3 > 4 * se  # "each by many standard errors"
    worst, two_se = grab(rf"from 4 bits up: every variant within {NUMBER} points of float32 \(2 standard errors: {NUMBER}\)", text)
    assert worst < two_se  # "from 4 bits up every curve is inside the band"
    ch3, mse3, pt3, _, _ = grab(rf"3-bit weights: per channel {NUMBER} %, MSE range {NUMBER} %, per tensor min-max {NUMBER} %: "
                                rf"options differ by {NUMBER} points \({NUMBER} standard errors\)", text)
    assert ch3 - pt3 > 4 * se and mse3 - pt3 > 4 * se
    # 8 bits: every ORT option ties (the spread is below 2 standard errors)
    per_tensor_kib, per_channel_kib = grab(rf"file size: per tensor {NUMBER} KiB, per channel {NUMBER} KiB", text)
    assert per_channel_kib > per_tensor_kib  # "the per-channel files are slightly larger"
    spread, images, two_se = grab(rf"spread of {NUMBER} points \({NUMBER} images\) against 2 standard errors of {NUMBER} points: they tie", text)
    assert spread < two_se


@pytest.mark.slow
def test_calibration_claims(lecture):
    text, _ = lecture
    m = re.search(r"8 bits: best (\w+); MSE ([\d.]+)x min-max; KL clips at ([\d.]+) \(max ([\d.]+)\), cutting ([\d.]+) % "
                  r"of the values, and has ([\d.]+)x the error of min-max", text)
    assert m, "the 8-bit calibration line is missing"
    best8, mse_ratio, kl_range, max_range, _, kl_ratio = m.group(1), *map(float, m.groups()[1:])
    assert best8 in ("minmax", "mse") and 0.8 <= mse_ratio <= 1.05  # "at 8 bits min-max and MSE tie"
    assert kl_range < 0.8 * max_range and kl_ratio > 10  # "KL clips hard" and is the worst
    best4, mse4, kl4 = re.search(r"4 bits: best (\w+); MSE ([\d.]+)x and KL ([\d.]+)x", text).groups()
    assert best4 in ("mse", "kl") and float(mse4) < 0.8  # "at 4 bits clipping pays and MSE beats min-max"


@pytest.mark.slow
def test_integer_only_layer_agrees_with_onnx_runtime(lecture):
    text, _ = lecture
    differ, total, steps = grab(rf"integer-only fc1: {NUMBER} of {NUMBER} outputs differ from ONNX Runtime "
                                rf"\(max difference {NUMBER} steps\)", text)
    assert total == 16_800 and steps <= 1  # "within one step" on 200 images x 84 outputs
    assert differ == 0, "the section says bit-exact on this data; update it if ONNX Runtime's rounding changed"
    fold_error, = grab(rf"conv \+ BN vs folded conv: max \|difference\| ([\d.e+-]+) on 64 images", text)
    assert fold_error < 1e-4
    assert re.search(r"has 0 BatchNormalization and \d+ Conv nodes", text), "the exporter no longer folds BN"


@pytest.mark.slow
def test_ptq_qat_and_the_final_table(lecture):
    text, _ = lecture
    (se,) = grab(rf"one standard error = {NUMBER} points", text)
    ratio, lost, _ = grab(rf"ORT static INT8: {NUMBER}x smaller, {NUMBER} points of validation accuracy lost "
                          rf"\(2 standard errors = {NUMBER} points\)", text)
    assert ratio >= 3 and abs(lost) < 2 * se  # "more than 3x smaller within the noise"
    (qat8,) = grab(rf"TFLite QAT int8: [\d.]+ KiB, validation accuracy [\d.]+ % \({NUMBER} points vs float32", text)
    assert abs(qat8) < 2 * se  # "QAT has nothing to recover" at 8 bits
    ptq2, qat2, float32, _ = grab(rf"2-bit weights per channel: PTQ {NUMBER} %, after QAT with the STE {NUMBER} % "
                                  rf"\(float32 {NUMBER} %\): QAT recovers {NUMBER} points", text)
    assert float32 - ptq2 > 20 and qat2 - ptq2 > 0.5 * (float32 - ptq2)  # "PTQ collapses, QAT recovers most of it"
    dyn_ratio, _ = grab(rf"ORT dynamic INT8: {NUMBER}x smaller, validation accuracy {NUMBER} %", text)
    assert dyn_ratio >= 3
    q, dq = grab(rf"QDQ file: {NUMBER} QuantizeLinear and {NUMBER} DequantizeLinear nodes", text)
    assert q > 0 and dq > q
    assert "every ONNX Runtime option ties" in text  # the summary, chosen by the code from the spread
    for row in ("ONNX float32", "ONNX int8 (ORT dynamic)", "TFLite int8 PTQ", "TFLite int8 QAT", "p50 ms (batch 1)"):
        assert row in text


@pytest.mark.slow
def test_runtime_budget(lecture):
    _, seconds = lecture
    assert seconds < 300, f"{seconds:.0f} s: the fast-mode budget is 3 minutes (5 allowed for a loaded test machine)"
