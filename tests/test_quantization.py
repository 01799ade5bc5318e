"""course_lib.quantization: the numpy core on hand-checked values, and the ORT path on LeNet-5."""
from __future__ import annotations

import numpy as np
import pytest

from course_lib import quantization as Q


def test_qrange():
    assert Q.qrange(8) == (-128, 127)
    assert Q.qrange(4, signed=False) == (0, 15)
    with pytest.raises(ValueError, match="bits"):
        Q.qrange(1)


def test_hand_computed_example():
    x = np.array([-0.9, -0.6, 0.0, 0.3, 2.0], np.float32)
    s, z = Q.linear_qparams(x.min(), x.max(), 8, symmetric=True)
    assert z == 0 and np.isclose(s, 2.0 / 127)
    assert Q.quantize(x, s, z).tolist() == [-57, -38, 0, 19, 127]
    s, z = Q.linear_qparams(x.min(), x.max(), 8, symmetric=False)
    assert np.isclose(s, 2.9 / 255) and z == -49
    assert Q.quantize(x, s, z).tolist() == [-128, -102, -49, -23, 127]


def test_zero_is_exact_and_range_contains_zero():
    s, z = Q.linear_qparams(1.0, 3.0, 8)  # all positive: widened to [0, 3]
    assert Q.dequantize(Q.quantize(0.0, s, z), s, z) == 0.0
    assert np.isclose(s, 3.0 / 255)


@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
def test_rounding_error_is_at_most_half_a_step(bits, symmetric):
    x = np.random.default_rng(bits).normal(size=(50, 7)).astype(np.float32)
    qt = Q.quantize_tensor(x, bits, symmetric)
    assert qt.q.min() >= Q.qrange(bits)[0] and qt.q.max() <= Q.qrange(bits)[1]
    assert np.abs(x - qt.dequantize()).max() <= float(qt.scale) / 2 + 1e-6


def test_per_channel_has_one_scale_per_channel_and_less_error():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 5, 5)).astype(np.float32) * np.array([0.01, 0.1, 1, 10])[:, None, None, None]
    qt = Q.quantize_tensor(w, 4, symmetric=True, axis=0)
    assert qt.scale.shape == (4, 1, 1, 1)
    assert np.allclose(qt.scale.ravel(), np.abs(w).reshape(4, -1).max(1) / 7)
    assert Q.mse(w, qt.dequantize()) < Q.mse(w, Q.fake_quantize(w, 4, symmetric=True))
    with pytest.raises(ValueError, match="axis"):
        Q.quantize_tensor(w, axis=4)


def test_error_split_separates_rounding_from_clipping():
    x = np.array([-1.0, 0.1, 0.2, 5.0], np.float32)
    parts = Q.error_split(x, -1.0, 1.0, bits=8, symmetric=True)
    assert parts["clipping"] == pytest.approx(16.0, rel=1e-3)  # 5 is cut to 1
    assert parts["rounding"] < 1e-4
    assert parts["total"] == pytest.approx(parts["rounding"] + parts["clipping"])


def test_calibration_methods_clip_outliers():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=20000), [40.0]]).astype(np.float32)  # one outlier
    lo, hi = Q.calibrate(x, "minmax")
    assert hi == pytest.approx(40.0)
    for method in ("percentile", "mse", "kl"):
        _, r = Q.calibrate(x, method, bits=4)
        assert 1.0 < r < 20.0, (method, r)
        s, z = Q.linear_qparams(*Q.calibrate(x, method, bits=4), bits=4)
        s0, z0 = Q.linear_qparams(lo, hi, bits=4)
        assert Q.mse(x, Q.dequantize(Q.quantize(x, s, z, 4), s, z)) < Q.mse(x, Q.dequantize(Q.quantize(x, s0, z0, 4), s0, z0))
    with pytest.raises(ValueError, match="minmax, percentile, mse, kl"):
        Q.calibrate(x, "histogram")
    with pytest.raises(ValueError, match="empty"):
        Q.calibrate(np.array([]), "minmax")


def test_kmeans_beats_an_even_grid_on_bell_shaped_weights():
    w = np.random.default_rng(2).laplace(0, 0.1, size=(64, 32)).astype(np.float32)
    centroids, labels = Q.kmeans_quantize(w, bits=3)
    assert centroids.shape == (8,) and labels.shape == w.shape
    assert Q.mse(w, centroids[labels]) < Q.mse(w, Q.fake_quantize(w, 3, symmetric=True))


def test_map_weights_changes_only_weights():
    from course_lib.models import LeNet5

    model = LeNet5("relu")
    zeroed = Q.map_weights(model, np.zeros_like, layers=["fc2"])
    assert float(zeroed.fc2.weight.detach().abs().sum()) == 0 and float(model.fc2.weight.detach().abs().sum()) > 0
    assert zeroed.fc2.bias.equal(model.fc2.bias) and zeroed.conv1.weight.equal(model.conv1.weight)
    with pytest.raises(ValueError, match="shape"):
        Q.map_weights(model, lambda w: w.ravel())


def test_ort_static_int8_lenet_is_smaller_at_the_same_accuracy(tmp_path):
    from course_lib import datasets, zoo

    x_train, _ = datasets.load("mnist", "train")
    x_val, y_val = datasets.load("mnist", "val")
    fp32 = Q.export_onnx(zoo.load("lenet5-relu"), tmp_path / "m.onnx", (1, 1, 28, 28))
    int8 = Q.ort_quantize_static(fp32, tmp_path / "m8.onnx", x_train[:100], method="minmax")
    assert Q.file_size_kb(fp32) / Q.file_size_kb(int8) >= 3
    assert Q.onnx_accuracy(fp32, x_val, y_val) - Q.onnx_accuracy(int8, x_val, y_val) <= 0.01
    with pytest.raises(ValueError, match="empty"):
        Q.ort_quantize_static(fp32, tmp_path / "x.onnx", x_train[:0])
    with pytest.raises(ValueError, match="minmax, percentile, kl"):
        Q.ort_quantize_static(fp32, tmp_path / "x.onnx", x_train[:10], method="mse")
