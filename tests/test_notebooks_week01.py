"""Week 1 runs top to bottom in fast mode, and every sentence of its printed summary holds."""
from __future__ import annotations

import re

import pytest

from notebook_utils import REPO, outputs_text, run_notebook

LECTURE = REPO / "lectures" / "week01_cost_of_a_model.ipynb"


@pytest.fixture(scope="module")
def text():
    nb, seconds = run_notebook(LECTURE, timeout=600)
    print(f"week01 lecture: {seconds:.0f} s in fast mode")
    return outputs_text(nb)


def number(pattern, text, cast=float):
    m = re.search(pattern, text)
    assert m, f"the summary line matching {pattern!r} is missing"
    return [cast(g.replace(",", "")) for g in m.groups()]


@pytest.mark.slow
def test_counts_by_hand_agree_with_the_profiler(text):
    assert "equal course_lib.profile and FlopCounterMode: True" in text
    assert number(r"A depthwise 3x3 layer does (\d+)x fewer MACs", text) == [32]


@pytest.mark.slow
def test_three_families_are_counted_and_scored_as_the_library_says(text):
    from course_lib import models, profile, zoo

    lenet, pointnet, vit = number(r"LeNet-5 ([\d,]+) MACs, PointNet-tiny ([\d,]+), ViT-tiny ([\d,]+) per sample", text, int)
    assert lenet == profile(models.LeNet5(), (1, 28, 28)).macs == 416_520
    assert pointnet == profile(models.PointNetTiny(), (128, 3)).macs
    assert vit == profile(models.TinyViT(), (1, 28, 28)).macs
    accs = number(r"test accuracy ([\d.]+), ([\d.]+), ([\d.]+)\.", text)
    cards = [zoo.card(n)["test_accuracy"] for n in ("lenet5-relu", "pointnet-tiny-shapes3d", "vit-tiny-mnist")]
    assert accs == pytest.approx(cards, abs=0.0005)


@pytest.mark.slow
def test_attention_grows_faster_than_the_input(text):
    scale, cnn, pointnet, vit = number(r"For (\d+)x the input the CNN needs (\d+)x the MACs, the PointNet (\d+)x, the ViT (\d+)x", text)
    assert scale == 64 and cnn == 64 and 60 <= pointnet <= 64
    assert vit > 2 * cnn  # the n^2 term of attention


@pytest.mark.slow
def test_latency_and_roofline_lines(text):
    ratio, p50 = number(r"The naive mean of 10 cold calls was ([\d.]+)x the warmed-up p50 of ([\d.]+) ms", text)
    assert ratio > 0 and p50 > 0  # timings vary run to run: only their presence is asserted
    from course_lib import bench, models, profile

    pi = bench.PROFILES["raspberry-pi-5"]
    ridge = pi.peak_gflops["fp32"] / pi.memory_bandwidth_gbs
    reports = [profile(models.LeNet5(), (1, 28, 28)), profile(models.PointNetTiny(), (128, 3)),
               profile(models.TinyViT(), (1, 28, 28))]
    bound = sum(bench.devices.intensity(r) < ridge for r in reports)
    assert number(r"(\d) of 3 models are memory-bound on a Raspberry Pi 5 \(ESTIMATE, ridge ([\d.]+)", text) == [bound, round(ridge, 1)]


@pytest.mark.slow
def test_keras_and_pytorch_predict_alike(text):
    assert number(r"agree on ([\d.]+) % of the test digits", text)[0] >= 99.9
