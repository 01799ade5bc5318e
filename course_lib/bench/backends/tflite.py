"""TensorFlow Lite / LiteRT interpreter, XNNPACK delegate on or off, thread count."""
from __future__ import annotations

import time

from .base import BackendUnavailable, Session, check_threads, random_input, reject_unknown

NAME = "tflite"
INSTALL_HINT = "pip install ai-edge-litert  (or tensorflow, whose tf.lite.Interpreter is the deprecated fallback)"
OPTIONS = {"xnnpack"}


def interpreter_module():
    """``(module, runtime name)``: LiteRT when installed, else TensorFlow's ``tf.lite``."""
    from course_lib import tflite

    return tflite.runtime()


def import_runtime() -> None:
    interpreter_module()


def check(**_) -> str | None:
    import importlib.util

    # find_spec, not import: importing TensorFlow takes seconds and check() runs in listings.
    if importlib.util.find_spec("ai_edge_litert") is None and importlib.util.find_spec("tensorflow") is None:
        return "neither ai_edge_litert nor tensorflow is installed"
    return None


def load(path, input_shape=None, *, threads=None, xnnpack: bool = True, batch_size: int = 1, **options) -> Session:
    """``path``: a ``.tflite`` file. ``xnnpack=False`` runs the reference builtin kernels."""
    reject_unknown(NAME, options, OPTIONS)
    threads = check_threads(threads)
    reason = check()
    if reason:
        raise BackendUnavailable(NAME, reason, INSTALL_HINT)
    from course_lib import tflite

    _, runtime = tflite.runtime()
    interp = tflite.interpreter(path, num_threads=threads, xnnpack=xnnpack)
    detail = interp.get_input_details()
    if len(detail) != 1:
        raise ValueError(f"{path}: the harness feeds one input tensor, the model has {len(detail)}")
    detail = detail[0]
    shape = tuple(input_shape) if input_shape else tuple(int(d) for d in detail["shape"])
    if input_shape is None and batch_size != shape[0]:
        shape = (batch_size, *shape[1:])
    if tuple(detail["shape"]) != shape:
        interp.resize_tensor_input(detail["index"], list(shape))
    interp.allocate_tensors()
    # Set the input once, as TFLite's benchmark_model does: the loop times invoke() alone.
    interp.set_tensor(detail["index"], random_input(shape, detail["dtype"]))
    step, clock = interp.invoke, time.perf_counter

    def timed_step() -> float:
        t0 = clock()
        step()
        return clock() - t0

    recorded = {"runtime": runtime, "xnnpack": bool(xnnpack), "threads": threads,
                "input_dtype": str(detail["dtype"].__name__ if hasattr(detail["dtype"], "__name__") else detail["dtype"])}
    return Session(step=step, timed_step=timed_step, options=recorded, input_shape=shape)


def devices() -> list[str]:
    return ["cpu"] if check() is None else []
