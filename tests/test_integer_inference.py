"""Integer-only inference: the fixed-point multiplier, requantization, BN folding, and one INT8
layer computed in numpy that agrees bit for bit with ONNX Runtime on its own QDQ model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_lib import datasets, zoo
from course_lib import integer_inference as I
from course_lib import quantization as Q


def test_fixed_point_multiplier_approximates_m():
    m = np.array([0.7, 3.1e-3, 1.0 / 3, 2.5])
    m0, n = I.fixed_point_multiplier(m)
    assert np.all((m0 >= 2 ** 30) & (m0 <= 2 ** 31))
    assert np.allclose(m0 / 2.0 ** n, m, rtol=2 ** -30)
    assert I.fixed_point_multiplier(0.5) == (2 ** 30, 31)
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="positive and finite"):
            I.fixed_point_multiplier(bad)


def test_requantize_rounds_and_clips_like_the_float_formula():
    rng = np.random.default_rng(0)
    acc = rng.integers(-200_000, 200_000, size=(50, 4)).astype(np.int32)
    m = np.array([1e-4, 3e-4, 7e-4, 2e-3])
    m0, n = I.fixed_point_multiplier(m)
    q = I.requantize(acc, m0, n, zero_point=-5)
    expected = np.clip(np.floor(acc * m + 0.5) - 5, -128, 127)  # round half up, as the shift does
    assert q.dtype == np.int32 and np.abs(q - expected).max() <= 1 and np.mean(q == expected) > 0.99
    assert I.requantize(np.array([3]), *I.fixed_point_multiplier(0.5), 0).tolist() == [2]  # 1.5 -> 2
    with pytest.raises(TypeError, match="integers"):
        I.requantize(np.array([1.5]), m0[0], n[0], 0)


def test_quantize_bias_uses_the_accumulator_scale():
    assert I.quantize_bias([0.01, -0.02], 0.1, np.array([0.001, 0.002])).tolist() == [100, -100]


def test_fold_batchnorm_matches_torch():
    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
    bn.eval()
    x = torch.randn(2, 3, 8, 8)
    w, b = I.fold_batchnorm(conv.weight.detach().numpy(), conv.bias.detach().numpy(), bn.weight.detach().numpy(),
                            bn.bias.detach().numpy(), bn.running_mean.numpy(), bn.running_var.numpy(), bn.eps)
    folded = torch.nn.functional.conv2d(x, torch.from_numpy(w), torch.from_numpy(b))
    assert torch.allclose(folded, bn(conv(x)), atol=1e-5)
    with pytest.raises(ValueError, match="output channels"):
        I.fold_batchnorm(np.ones((4, 3)), None, np.ones(3), np.ones(3), np.ones(3), np.ones(3))


@pytest.mark.parametrize("per_channel", [False, True])
def test_integer_linear_is_bit_exact_with_onnx_runtime(tmp_path, per_channel):
    x_train, _ = datasets.load("mnist", "train")
    x_val, _ = datasets.load("mnist", "val")
    fp32 = Q.export_onnx(zoo.load("lenet5-relu"), tmp_path / "lenet5.onnx", input_shape=(1, 1, 28, 28))
    int8 = Q.ort_quantize_static(fp32, tmp_path / "int8.onnx", x_train[:100], per_channel=per_channel)
    t = I.qdq_tensors(int8, "fc1")
    assert np.allclose(t["s_b"], t["s_x"] * t["s_w"])  # ORT stores the bias at s_x * s_w
    ort = I.ort_intermediates(int8, {"input": x_val[:200]}, [t["x"], t["y"]])
    m0, n = I.fixed_point_multiplier(t["s_x"] * t["s_w"] / t["s_y"])
    q_y = I.integer_linear(ort[t["x"]], t["z_x"], t["q_w"], t["q_b"], m0, n, t["z_y"])
    assert q_y.shape == ort[t["y"]].shape == (200, 84)
    assert np.array_equal(q_y, ort[t["y"]])
    with pytest.raises(ValueError, match="no quantized layer"):
        I.qdq_tensors(int8, "fc9")
    with pytest.raises(ValueError, match="no tensors"):
        I.ort_intermediates(int8, {"input": x_val[:1]}, ["nope"])
