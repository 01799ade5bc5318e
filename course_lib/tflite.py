"""TensorFlow Lite in four conversion modes, and one LiteRT-first interpreter for running the files.

``convert(keras_model, path, mode)`` writes a ``.tflite`` flatbuffer:

============  =====================================================================  ===========
mode          converter settings                                                     calibration
============  =====================================================================  ===========
``float32``   none: the baseline                                                     no
``dynamic``   ``optimizations=[DEFAULT]``: int8 weights, float activations            no
``float16``   ``DEFAULT`` + ``supported_types=[float16]``: float16 weights            no
``int8``      ``DEFAULT`` + representative data + int8 builtins, int8 input/output   yes
============  =====================================================================  ===========

``interpreter(path)`` prefers LiteRT (``ai_edge_litert``, the successor of
``tf.lite.Interpreter``) and falls back to TensorFlow's deprecated ``tf.lite``; ``predict``,
``ops``, ``tensor_dtypes`` and the benchmark backend all go through it.
"""
from __future__ import annotations

import gzip
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

MODES = ("float32", "dynamic", "float16", "int8")


def _tf():
    import course_lib  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def _representative(calibration_x):
    calib = np.asarray(calibration_x, np.float32)

    def gen():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    return gen


def convert(keras_model, path, mode: str = "float32", calibration_x=None) -> Path:
    """Convert ``keras_model`` to ``path`` in ``mode`` (one of :data:`MODES`); returns the path.

    ``calibration_x``: channels-last float32 inputs ``(N, H, W, C)``, a few hundred training
    samples; required for ``int8``, refused otherwise (it would be silently ignored).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    needs = mode == "int8"
    if needs and (calibration_x is None or len(calibration_x) == 0):
        raise ValueError("mode='int8' needs calibration_x: pass a few hundred channels-last training inputs")
    if not needs and calibration_x is not None:
        raise ValueError(f"mode={mode!r} uses no calibration data; drop calibration_x or use mode='int8'")
    tf = _tf()
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    if mode != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        conv.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        conv.representative_dataset = _representative(calibration_x)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path.write_bytes(conv.convert())
    return path


def runtime() -> tuple[object, str]:
    """``(module, description)``: ``ai_edge_litert.interpreter`` when installed, else ``tf.lite``."""
    try:
        from ai_edge_litert import interpreter as litert

        return litert, "ai_edge_litert"
    except ImportError:
        pass
    tf = _tf()
    return tf.lite, f"tensorflow.lite {tf.__version__} (deprecated; ai_edge_litert not installed)"


def interpreter(path, num_threads: int | None = None, xnnpack: bool = True):
    """A TFLite interpreter for ``path`` (tensors not yet allocated). ``xnnpack=False`` runs the
    reference builtin kernels instead of the XNNPACK delegate."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no TFLite file at {path}; write one with course_lib.tflite.convert")
    mod, _ = runtime()
    types = mod.experimental.OpResolverType if hasattr(mod, "experimental") else mod.OpResolverType
    resolver = types.AUTO if xnnpack else types.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
        warnings.simplefilter("ignore")
        return mod.Interpreter(model_path=str(path), num_threads=num_threads,
                               experimental_op_resolver_type=resolver)


def predict(path, x: np.ndarray) -> np.ndarray:
    """Outputs of a TFLite model on channels-last float32 ``x`` (one batch); int8 input and output
    are (de)quantized with the model's own scale and zero point, so callers pass and get floats."""
    interp = interpreter(path)
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


def ops(path) -> list[str]:
    """The operators of the graph in execution order, e.g. ``["CONV_2D", "AVERAGE_POOL_2D", ...]``."""
    interp = interpreter(path)
    # _get_ops_details is the only per-operator listing either runtime exposes (also what
    # tf.lite.experimental.Analyzer prints).
    return [op["op_name"] for op in interp._get_ops_details()]


def tensor_dtypes(path) -> dict[str, int]:
    """How many tensors of each dtype the file holds (weights and activations), e.g. ``{"int8": 14}``."""
    interp = interpreter(path)
    return dict(Counter(np.dtype(t["dtype"]).name for t in interp.get_tensor_details()))


def file_bytes(path) -> int:
    """Size of the file on disk."""
    return os.path.getsize(path)


def gzip_bytes(path) -> int:
    """Size after gzip (level 9): what a download or an app bundle costs. Zeros and repeated
    values (pruned or clustered weights) shrink here even when the raw file does not."""
    return len(gzip.compress(Path(path).read_bytes(), compresslevel=9, mtime=0))
