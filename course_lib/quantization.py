"""Quantization (week 3): linear quantization by hand, calibration, and three toolchains.

The core is pure numpy:

- :func:`qrange`, :func:`linear_qparams`, :func:`quantize`, :func:`dequantize` and
  :func:`fake_quantize` implement ``q = clip(round(x / scale) + zero_point, qmin, qmax)`` and
  ``x_hat = scale * (q - zero_point)``, per tensor (``axis=None``) or per channel (``axis=k``).
- :func:`calibrate` picks the clipping range ``(rmin, rmax)`` of a sample of values with
  ``"minmax"``, ``"percentile"``, ``"mse"`` or ``"kl"`` (TensorRT's entropy method).
- :func:`kmeans_quantize` replaces weights by ``2**bits`` shared centroids.

Thin adapters at the edge: :func:`export_onnx`, :func:`ort_quantize_static` (ONNX Runtime
static INT8 in QDQ format, fed by :class:`CalibrationReader`) and :func:`ort_quantize_dynamic`, :func:`tflite_full_integer`
(TensorFlow Lite, int8 in and out) and :func:`qat_model` (TFMOT quantization-aware training).
"""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION_METHODS = ("minmax", "percentile", "mse", "kl")


# --- linear quantization ----------------------------------------------------------------------

def _check_bits(bits: int) -> None:
    if not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be an integer in [2, 16], got {bits!r}")


def qrange(bits: int = 8, signed: bool = True) -> tuple[int, int]:
    """The integer grid ``(qmin, qmax)``: ``[-2**(b-1), 2**(b-1)-1]`` signed, ``[0, 2**b-1]`` unsigned."""
    _check_bits(bits)
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)


def _reduce_axes(x: np.ndarray, axis: int | None) -> tuple[int, ...] | None:
    """Axes to reduce over so that one (scale, zero point) is kept per index of ``axis``."""
    if axis is None:
        return None
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis {axis} is out of range for an array with {x.ndim} dimensions")
    axis %= x.ndim
    return tuple(a for a in range(x.ndim) if a != axis)


def minmax(x: np.ndarray, axis: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(rmin, rmax)`` of ``x``, per tensor or per channel (shapes broadcast against ``x``)."""
    x = np.asarray(x, np.float32)
    axes = _reduce_axes(x, axis)
    return x.min(axis=axes, keepdims=axes is not None), x.max(axis=axes, keepdims=axes is not None)


def linear_qparams(rmin, rmax, bits: int = 8, symmetric: bool = False,
                   signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, zero_point)`` mapping the real range ``[rmin, rmax]`` onto the integer grid.

    The range is widened to contain 0 so that zero (padding, ReLU outputs) is exact.
    Symmetric: ``zero_point = 0`` and ``scale = max|r| / qmax``. Asymmetric:
    ``scale = (rmax - rmin) / (qmax - qmin)`` and ``zero_point = round(qmin - rmin / scale)``.
    ``scale`` is float32, ``zero_point`` int64, both with the shape of ``rmin``.
    """
    qmin, qmax = qrange(bits, signed)
    rmin = np.minimum(np.asarray(rmin, np.float64), 0.0)
    rmax = np.maximum(np.asarray(rmax, np.float64), 0.0)
    if np.any(rmin > rmax):
        raise ValueError("rmin must not exceed rmax")
    tiny = np.finfo(np.float32).tiny  # an all-zero channel still gets a valid (unused) scale
    if symmetric:
        if not signed:
            raise ValueError("symmetric quantization needs a signed grid (signed=True)")
        scale = np.maximum(np.maximum(-rmin, rmax) / qmax, tiny)
        zero_point = np.zeros_like(scale, dtype=np.int64)
    else:
        scale = np.maximum((rmax - rmin) / (qmax - qmin), tiny)
        zero_point = np.clip(np.round(qmin - rmin / scale), qmin, qmax).astype(np.int64)
    return scale.astype(np.float32), zero_point


def quantize(x, scale, zero_point, bits: int = 8, signed: bool = True) -> np.ndarray:
    """``q = clip(round(x / scale) + zero_point, qmin, qmax)`` as int32 (broadcasting)."""
    qmin, qmax = qrange(bits, signed)
    q = np.round(np.asarray(x, np.float32) / scale) + zero_point
    return np.clip(q, qmin, qmax).astype(np.int32)


def dequantize(q, scale, zero_point) -> np.ndarray:
    """``x_hat = scale * (q - zero_point)`` as float32."""
    return (np.asarray(scale, np.float32) * (np.asarray(q, np.int64) - zero_point)).astype(np.float32)


@dataclass(frozen=True)
class QTensor:
    """Integers plus the parameters to read them back; ``scale``/``zero_point`` broadcast to ``q``."""
    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    bits: int
    axis: int | None

    def dequantize(self) -> np.ndarray:
        return dequantize(self.q, self.scale, self.zero_point)


def quantize_tensor(x, bits: int = 8, symmetric: bool = True, axis: int | None = None,
                    method: str = "minmax", **calibration) -> QTensor:
    """Quantize ``x`` per tensor (``axis=None``) or per channel along ``axis``.

    ``method`` picks the range (see :func:`calibrate`); per channel always uses min-max.
    """
    x = np.asarray(x, np.float32)
    if axis is None:
        rmin, rmax = calibrate(x, method, bits=bits, symmetric=symmetric, **calibration)
    else:
        if method != "minmax":
            raise ValueError("per-channel quantization uses method='minmax'")
        rmin, rmax = minmax(x, axis)
    scale, zp = linear_qparams(rmin, rmax, bits, symmetric)
    return QTensor(quantize(x, scale, zp, bits), scale, zp, bits, axis)


def fake_quantize(x, bits: int = 8, symmetric: bool = True, axis: int | None = None,
                  method: str = "minmax", **calibration) -> np.ndarray:
    """Quantize then dequantize: float32 values restricted to the quantization grid."""
    return quantize_tensor(x, bits, symmetric, axis, method, **calibration).dequantize()


def mse(x, x_hat) -> float:
    """Mean squared error between two arrays of the same shape."""
    return float(np.mean((np.asarray(x, np.float64) - np.asarray(x_hat, np.float64)) ** 2))


def error_split(x, rmin: float, rmax: float, bits: int = 8, symmetric: bool = False) -> dict:
    """Squared error of quantizing ``x`` to ``[rmin, rmax]``, split by source (sums, not means):
    ``rounding`` from values inside the range, ``clipping`` from values outside it."""
    x = np.asarray(x, np.float32).ravel()
    scale, zp = linear_qparams(rmin, rmax, bits, symmetric)
    lo, hi = dequantize(qrange(bits)[0], scale, zp), dequantize(qrange(bits)[1], scale, zp)
    err = (x - dequantize(quantize(x, scale, zp, bits), scale, zp)).astype(np.float64) ** 2
    inside = (x >= lo) & (x <= hi)
    return {"rounding": float(err[inside].sum()), "clipping": float(err[~inside].sum()),
            "total": float(err.sum())}


# --- calibration --------------------------------------------------------------------------------

def calibrate(x, method: str = "minmax", bits: int = 8, symmetric: bool = False,
              percentile: float = 99.99, num_candidates: int = 100) -> tuple[float, float]:
    """Choose the clipping range ``(rmin, rmax)`` for the values ``x`` (weights or activations).

    - ``"minmax"``: the extremes; no clipping error, but one outlier stretches every step.
    - ``"percentile"``: the ``percentile`` (and ``100 - percentile``) of the values.
    - ``"mse"``: shrink the min-max range by a factor in ``(0, 1]`` chosen to minimise the
      squared error of :func:`fake_quantize` (``num_candidates`` factors tried).
    - ``"kl"``: TensorRT's entropy calibration on the histogram of ``|x|``: the threshold
      whose quantized histogram is closest in KL divergence to the original one.
    """
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method {method!r}; choose one of {', '.join(CALIBRATION_METHODS)}")
    if not 50 < percentile <= 100:
        raise ValueError(f"percentile must be in (50, 100], got {percentile}")
    x = np.asarray(x, np.float32).ravel()
    if x.size == 0:
        raise ValueError("cannot calibrate on an empty array")
    lo, hi = float(x.min()), float(x.max())
    if symmetric:
        lo, hi = -max(-lo, hi), max(-lo, hi)
    if method == "minmax":
        return lo, hi
    if method == "percentile":
        if symmetric:
            t = float(np.percentile(np.abs(x), percentile))
            return -t, t
        return float(np.percentile(x, 100 - percentile)), float(np.percentile(x, percentile))
    if method == "mse":
        best = None
        for a in np.linspace(1.0 / num_candidates, 1.0, num_candidates):
            scale, zp = linear_qparams(a * lo, a * hi, bits, symmetric)
            err = mse(x, dequantize(quantize(x, scale, zp, bits), scale, zp))
            if best is None or err < best[0]:
                best = (err, a)
        return best[1] * lo, best[1] * hi
    t = _kl_threshold(np.abs(x), levels=2 ** (bits - 1) if (symmetric or lo < 0) else 2 ** bits)
    return (-t if (symmetric or lo < 0) else 0.0), t


def _kl_threshold(a: np.ndarray, levels: int, bins: int = 2048) -> float:
    """Threshold on ``|x|`` minimising KL(P || Q), P the clipped histogram, Q its ``levels``-bin copy."""
    hist, edges = np.histogram(a, bins=bins, range=(0.0, float(a.max()) or 1.0))
    hist = hist.astype(np.float64)
    best_kl, best_i = np.inf, bins
    for i in range(levels, bins + 1, max(1, (bins - levels) // 256)):
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()  # clipped values pile up in the last bin
        # Q: merge the i bins into `levels` groups, spread each group's mass over its non-empty bins
        groups = np.array_split(np.arange(i), levels)
        q = np.zeros(i)
        for g in groups:
            nonzero = hist[g] > 0
            if nonzero.any():
                q[g[nonzero]] = hist[g].sum() / nonzero.sum()
        mask = p > 0
        if not mask.any() or np.any(q[mask] == 0):
            continue
        kl = np.sum(p[mask] / p.sum() * np.log((p[mask] / p.sum()) / (q[mask] / q.sum())))
        if kl < best_kl:
            best_kl, best_i = kl, i
    return float(edges[best_i])


# --- k-means (weight sharing) quantization ------------------------------------------------------

def kmeans_quantize(w, bits: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Share ``2**bits`` centroids among the weights ``w``.

    Returns ``(centroids float32 (2**bits,), labels int64 w.shape)``; ``centroids[labels]``
    is the quantized layer. Storage: ``bits`` per weight plus the small codebook.
    """
    _check_bits(bits)
    w = np.asarray(w, np.float32)
    k = min(2 ** bits, w.size)
    try:
        from .compression.kmeans1d import kmeans1d  # exact 1-D k-means (dynamic programming)
    except ImportError:  # the compression module is optional here: plain Lloyd iterations
        kmeans1d = _lloyd1d
    centroids, labels = kmeans1d(w.ravel(), k)
    return np.asarray(centroids, np.float32), np.asarray(labels, np.int64).reshape(w.shape)


def _lloyd1d(values: np.ndarray, k: int, iters: int = 50):
    centroids = np.linspace(values.min(), values.max(), k)
    for _ in range(iters):
        labels = np.abs(values[:, None] - centroids[None, :]).argmin(1)
        for j in range(k):
            if np.any(labels == j):
                centroids[j] = values[labels == j].mean()
    return centroids, np.abs(values[:, None] - centroids[None, :]).argmin(1)


# --- ONNX Runtime ---------------------------------------------------------------------------------

def export_onnx(model, path, input_shape: tuple[int, ...], opset: int = 17) -> Path:
    """Export a PyTorch model to ONNX with a dynamic batch dimension; returns the path.

    ``input_shape`` is one sample's shape with batch, e.g. ``(1, 1, 28, 28)``. The exporter
    itself is :func:`course_lib.bench.export.torch_to_onnx` (one implementation for the course).
    """
    from .bench.export import torch_to_onnx

    return torch_to_onnx(model, input_shape, path, opset)


def _session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_predict(path, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Outputs (logits) of an ONNX model on float32 inputs ``x``, batched."""
    sess = _session(path)
    name = sess.get_inputs()[0].name
    x = np.asarray(x, np.float32)
    return np.concatenate([sess.run(None, {name: x[i:i + batch_size]})[0]
                           for i in range(0, len(x), batch_size)])


def onnx_accuracy(path, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy (fraction in [0, 1]) of an ONNX classifier."""
    return float((onnx_predict(path, x).argmax(1) == y).mean())


def _calibration_reader_class():
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationDataReader):
        def __init__(self, x, input_name, batch_size):
            self.x, self.input_name, self.batch_size = np.asarray(x, np.float32), input_name, batch_size
            self.start = 0

        def get_next(self):
            if self.start >= len(self.x):
                return None
            batch = self.x[self.start:self.start + self.batch_size]
            self.start += self.batch_size
            return {self.input_name: batch}

        def rewind(self):
            self.start = 0

    return _Reader


def CalibrationReader(x: np.ndarray, input_name: str = "input", batch_size: int = 100):
    """An ``onnxruntime.quantization.CalibrationDataReader`` serving ``x`` in batches."""
    return _calibration_reader_class()(x, input_name, batch_size)


ORT_METHODS = {"minmax": "MinMax", "percentile": "Percentile", "kl": "Entropy"}


def ort_quantize_static(fp32_path, int8_path, calibration_x: np.ndarray, method: str = "minmax",
                        per_channel: bool = True) -> Path:
    """ONNX Runtime static INT8 quantization in QDQ format (int8 weights and activations).

    ``calibration_x``: a few hundred representative inputs (never the test set).
    ``method``: ``"minmax"``, ``"percentile"`` or ``"kl"`` (ORT's entropy).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in ORT_METHODS:
        raise ValueError(f"unknown ORT calibration method {method!r}; choose one of {', '.join(ORT_METHODS)}")
    if len(calibration_x) == 0:
        raise ValueError("calibration_x is empty: pass a few hundred training or validation inputs")
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    prepared = int8_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)  # fold, infer shapes
    input_name = _session(prepared).get_inputs()[0].name
    with contextlib.redirect_stdout(io.StringIO()):  # ORT's calibrators print progress lines
        quantize_static(str(prepared), str(int8_path), CalibrationReader(calibration_x, input_name),
                        quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=getattr(CalibrationMethod, ORT_METHODS[method]),
                        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
    prepared.unlink(missing_ok=True)
    return int8_path


def ort_quantize_dynamic(fp32_path, int8_path) -> Path:
    """ONNX Runtime dynamic quantization: int8 weights, activation ranges measured per input at run time.

    No calibration data: each activation is quantized by a ``DynamicQuantizeLinear`` node from its
    own min and max. Suits models whose activation ranges vary widely between inputs.
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    int8_path.parent.mkdir(parents=True, exist_ok=True)
    prepared = int8_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # ORT warns on the root logger about tensors it leaves in float
    try:
        quantize_dynamic(str(prepared), str(int8_path), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
        prepared.unlink(missing_ok=True)
    return int8_path


def file_size_kb(path) -> float:
    """Size of a file on disk in KiB."""
    return os.path.getsize(path) / 1024


# --- TensorFlow Lite and TFMOT ----------------------------------------------------------------------

def _tf():
    """TensorFlow, imported quietly (its deprecation notices are not this week's lesson)."""
    import course_lib  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def tflite_full_integer(keras_model, calibration_x: np.ndarray, path) -> Path:
    """Convert a Keras model to a full-integer TFLite model (int8 weights, activations, in and out).

    ``calibration_x``: channels-last float32 inputs ``(N, H, W, C)`` for the representative dataset.
    """
    tf = _tf()

    if len(calibration_x) == 0:
        raise ValueError("calibration_x is empty: pass a few hundred training or validation inputs")
    calib = np.asarray(calibration_x, np.float32)

    def representative():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path.write_bytes(conv.convert())
    return path


def tflite_float(keras_model, path) -> Path:
    """Convert a Keras model to a float32 TFLite model (the baseline for size and accuracy)."""
    tf = _tf()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras_model).convert())
    return path


def tflite_predict(path, x: np.ndarray) -> np.ndarray:
    """Outputs of a TFLite model on channels-last float32 ``x``; int8 in/out are (de)quantized
    with the model's own scale and zero point, so callers always pass and get floats."""
    tf = _tf()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "tf.lite.Interpreter is deprecated": still the pinned API
        interp = tf.lite.Interpreter(model_path=str(path))
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], (len(x),) + tuple(inp["shape"][1:]))
    interp.allocate_tensors()
    xin = np.asarray(x, np.float32)
    if inp["dtype"] == np.int8:
        s, z = inp["quantization"]
        xin = np.clip(np.round(xin / s) + z, -128, 127).astype(np.int8)
    interp.set_tensor(inp["index"], xin)
    interp.invoke()
    y = interp.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        s, z = out["quantization"]
        y = (y.astype(np.float32) - z) * s
    return y


def qat_model(keras_model):
    """Wrap a Keras model with TFMOT fake-quantization nodes for quantization-aware training.

    Compile and ``fit`` the result for an epoch or two, then convert it with
    :func:`tflite_full_integer` (the learned ranges are kept).
    """
    import course_lib  # noqa: F401
    import tensorflow_model_optimization as tfmot

    return tfmot.quantization.keras.quantize_model(keras_model)


def keras_from_torch(torch_model, keras_model):
    """Copy the weights of a PyTorch model into its Keras twin (layers matched by name).

    Conv2d ``(O, I, kh, kw)`` becomes ``(kh, kw, I, O)`` and Linear ``(out, in)`` becomes
    ``(in, out)``. Meant for the twins in :mod:`course_lib.models` (e.g. ``LeNet5`` and
    ``keras_lenet5``, whose flatten sees a 1x1 map, so the order of features agrees).
    Returns ``keras_model``.
    """
    import torch

    copied = 0
    for name, module in torch_model.named_modules():
        if not isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            continue
        try:
            layer = keras_model.get_layer(name)
        except ValueError as e:
            raise ValueError(f"the Keras model has no layer named {name!r} to receive the weights") from e
        w = module.weight.detach().numpy()
        w = w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.T
        layer.set_weights([w, module.bias.detach().numpy()])
        copied += 1
    if copied == 0:
        raise ValueError("the PyTorch model has no Conv2d or Linear layers to copy")
    return keras_model


def map_weights(model, fn, layers=None):
    """A copy of a PyTorch model whose weight tensors are replaced by ``fn(weight)``.

    ``fn`` takes and returns a float32 numpy array of the same shape (e.g. :func:`fake_quantize`);
    ``layers`` names the modules to change (default: every Conv2d and Linear). Biases are kept.
    """
    import copy

    import torch

    model = copy.deepcopy(model)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and (layers is None or name in layers):
                w = module.weight.numpy()
                new = np.asarray(fn(w), np.float32)
                if new.shape != w.shape:
                    raise ValueError(f"fn changed the shape of {name}.weight from {w.shape} to {new.shape}")
                module.weight.copy_(torch.from_numpy(new))
    return model.eval()
