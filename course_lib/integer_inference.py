"""Integer-only inference (week 3): what an INT8 layer computes, in numpy.

A quantized layer ``y = W x + b`` with ``x = s_x (q_x - z_x)``, ``W = s_w q_w`` (symmetric
weights) and ``y = s_y (q_y - z_y)`` runs entirely on integers:

- accumulate ``acc = sum_j q_w[i, j] * (q_x[j] - z_x) + q_b[i]`` in int32, with the bias stored
  as ``q_b = round(b / (s_x s_w))`` (:func:`quantize_bias`), so it adds to ``acc`` directly;
- requantize ``q_y = clip(round(M * acc) + z_y)`` with ``M = s_x s_w / s_y``, a real number
  applied as a fixed-point multiply and a right shift, ``M ~ m0 / 2**n``
  (:func:`fixed_point_multiplier`, :func:`requantize`).

:func:`integer_linear` puts the two together; :func:`fold_batchnorm` merges a BatchNorm into
the convolution before it, so the deployed network has one fewer layer to quantize;
:func:`qdq_tensors` reads the integer tensors of a layer out of an ONNX Runtime QDQ model and
:func:`ort_intermediates` runs that model exposing internal tensors, to check the numpy against
the runtime (Jacob et al., CVPR 2018; gemmlowp's fixed-point requantization).
"""
from __future__ import annotations

import numpy as np

from .quantization import qrange

MULTIPLIER_BITS = 31  # m0 is a Q0.31 fixed-point number in [0.5, 1): it fits an int32


def fixed_point_multiplier(m) -> tuple[np.ndarray, np.ndarray]:
    """``(m0, n)`` with ``m ~ m0 / 2**n``: ``m0`` int64 in ``[2**30, 2**31]``, ``n`` int64.

    ``m`` is a positive real multiplier (scalar or one per channel), e.g. ``s_x * s_w / s_y``.
    The relative error of the approximation is below ``2**-31``.
    """
    m = np.asarray(m, np.float64)
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"the multiplier must be positive and finite, got {m}")
    fraction, exponent = np.frexp(m)  # m = fraction * 2**exponent, fraction in [0.5, 1)
    m0 = np.round(fraction * 2.0 ** MULTIPLIER_BITS).astype(np.int64)
    n = (MULTIPLIER_BITS - exponent).astype(np.int64)
    if np.any(n < 1) or np.any(n > 62):
        raise ValueError(f"multiplier {m} is outside the range a 64-bit shift can represent")
    return m0, n


def requantize(acc, m0, n, zero_point, bits: int = 8) -> np.ndarray:
    """``clip(round(acc * m0 / 2**n) + zero_point)`` on integers only, as int32.

    ``acc``: int32 accumulators ``(..., C)``; ``m0``, ``n``: from :func:`fixed_point_multiplier`,
    scalars or ``(C,)`` (one per output channel, the last axis). Rounds half up (add half, shift).
    """
    acc = np.asarray(acc)
    if not np.issubdtype(acc.dtype, np.integer):
        raise TypeError(f"acc must hold integers (the int32 accumulators), got dtype {acc.dtype}")
    m0, n = np.asarray(m0, np.int64), np.asarray(n, np.int64)
    product = acc.astype(np.int64) * m0  # |acc| < 2**31 and m0 <= 2**31: fits in 63 bits
    q = (product + (np.int64(1) << (n - 1))) >> n
    qmin, qmax = qrange(bits)
    return np.clip(q + np.asarray(zero_point, np.int64), qmin, qmax).astype(np.int32)


def quantize_bias(b, scale_x, scale_w) -> np.ndarray:
    """``round(b / (s_x * s_w))`` as int32: the bias on the accumulator's scale (zero point 0)."""
    scale = np.asarray(scale_x, np.float64) * np.asarray(scale_w, np.float64)
    return np.round(np.asarray(b, np.float64) / scale).astype(np.int32)


def integer_linear(q_x, zero_point_x, q_w, q_b, m0, n, zero_point_y, bits: int = 8) -> np.ndarray:
    """An INT8 fully connected layer on integers only: ``q_x (N, K)``, ``q_w (C, K)`` symmetric
    (zero point 0), ``q_b (C,)`` int32; returns ``q_y (N, C)`` int32.

    The zero-point term ``z_x * sum_j q_w[i, j]`` depends on the weights only, so a deployed
    kernel folds it into the bias once; here it is subtracted explicitly for clarity.
    """
    q_x, q_w = np.asarray(q_x, np.int32), np.asarray(q_w, np.int32)
    if q_x.ndim != 2 or q_w.ndim != 2 or q_x.shape[1] != q_w.shape[1]:
        raise ValueError(f"need q_x (N, K) and q_w (C, K) with the same K, got {q_x.shape} and {q_w.shape}")
    acc = q_x @ q_w.T - np.int32(zero_point_x) * q_w.sum(axis=1) + np.asarray(q_b, np.int32)
    return requantize(acc, m0, n, zero_point_y, bits)


def fold_batchnorm(w, b, gamma, beta, mean, var, eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``BN(conv(x))`` into one convolution: returns ``(w', b')`` as float32.

    ``w (C_out, ...)``, ``b (C_out,)`` or None; BN parameters ``(C_out,)``. With
    ``a = gamma / sqrt(var + eps)``: ``w' = a * w`` (per output channel), ``b' = a (b - mean) + beta``.
    """
    w = np.asarray(w, np.float64)
    a = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
    if a.shape != (w.shape[0],):
        raise ValueError(f"BatchNorm has {a.shape} parameters but the layer has {w.shape[0]} output channels")
    b = np.zeros(w.shape[0]) if b is None else np.asarray(b, np.float64)
    w_folded = w * a.reshape((-1,) + (1,) * (w.ndim - 1))
    b_folded = a * (b - np.asarray(mean, np.float64)) + np.asarray(beta, np.float64)
    return w_folded.astype(np.float32), b_folded.astype(np.float32)


# --- reading an ONNX Runtime QDQ model --------------------------------------------------------------

def qdq_tensors(path, layer: str) -> dict:
    """The integer parameters of one Conv/Gemm layer of a QDQ model written by ONNX Runtime.

    ``layer`` is the PyTorch name (``"fc1"``). Returns ``q_w``, ``s_w``, ``q_b``, ``s_b`` and, for
    the layer's input and output QuantizeLinear nodes, ``x`` / ``y`` (tensor names), ``s_x``,
    ``z_x``, ``s_y``, ``z_y``.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    # per-tensor scales and zero points come back as numpy scalars, per-channel ones as arrays
    init = {t.name: numpy_helper.to_array(t)[()] for t in graph.initializer}
    weight_dq = f"{layer}.weight_DequantizeLinear_Output"
    node = next((n for n in graph.node if weight_dq in n.input), None)
    if node is None:
        raise ValueError(f"no quantized layer {layer!r} in {path}: expected an input named {weight_dq!r}")
    producers = {o: n for n in graph.node for o in n.output}
    consumers = {i: n for n in graph.node for i in n.input}
    x_dq = producers[node.input[0]]  # DequantizeLinear(q_x, s_x, z_x)
    y_q = consumers[node.output[0]]  # QuantizeLinear(y, s_y, z_y)
    return {"q_w": init[f"{layer}.weight_quantized"], "s_w": init[f"{layer}.weight_scale"],
            "q_b": init[f"{layer}.bias_quantized"], "s_b": init[f"{layer}.bias_quantized_scale"],
            "x": x_dq.input[0], "s_x": init[x_dq.input[1]], "z_x": init[x_dq.input[2]],
            "y": y_q.output[0], "s_y": init[y_q.input[1]], "z_y": init[y_q.input[2]]}


def ort_intermediates(path, feeds: dict, names: list[str]) -> dict:
    """Run an ONNX model in ONNX Runtime (CPU, all graph optimizations on) and return the
    internal tensors ``names`` as ``{name: array}``; they become extra graph outputs."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    known = {o for n in model.graph.node for o in n.output}
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"{path} has no tensors {missing}; look them up with qdq_tensors()")
    for name in names:
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return dict(zip(names, sess.run(names, feeds)))
