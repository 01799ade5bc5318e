"""The backend registry: one module per runtime, each with ``check``, ``load`` and ``devices``.

A backend that is not installed, or lacks the device it needs, is *reported* (reason and install
hint), never a crash: :func:`available_backends` lists them all.
"""
from __future__ import annotations

import importlib

from .base import BackendUnavailable, Session

NAMES = ("pytorch", "onnxruntime", "tflite", "tensorrt")

# (backend, options, label): the configurations worth listing on any machine.
VARIANTS = [
    ("pytorch", {"device": "cpu"}, "pytorch (CPU)"),
    ("pytorch", {"device": "cuda"}, "pytorch (CUDA, fp32/fp16)"),
    ("onnxruntime", {"provider": "cpu"}, "onnxruntime (CPU EP)"),
    ("onnxruntime", {"provider": "cuda"}, "onnxruntime (CUDA EP)"),
    ("onnxruntime", {"provider": "tensorrt"}, "onnxruntime (TensorRT EP)"),
    ("tflite", {}, "tflite (XNNPACK on/off)"),
    ("tensorrt", {}, "tensorrt (GPU, FP16/INT8)"),
    ("tensorrt", {"dla_core": 0}, "tensorrt (DLA core 0)"),
]


def get(name: str):
    """The backend module ``name``; ``ValueError`` naming the choices for an unknown one."""
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def available_backends() -> list[dict]:
    """Every backend configuration with ``available``, ``reason`` (None if usable), ``install_hint``."""
    rows = []
    for name, options, label in VARIANTS:
        mod = get(name)
        try:
            reason = mod.check(**options)
        except Exception as e:  # noqa: BLE001 - a broken install is "unavailable", not a crash
            reason = f"{type(e).__name__}: {e}"
        rows.append({"backend": name, "label": label, "options": options, "available": reason is None,
                     "reason": reason, "install_hint": None if reason is None else mod.INSTALL_HINT})
    return rows


def format_backends(rows: list[dict] | None = None) -> str:
    rows = available_backends() if rows is None else rows
    width = max(len(r["label"]) for r in rows)
    out = []
    for r in rows:
        state = "available" if r["available"] else f"unavailable: {r['reason']}  [{r['install_hint']}]"
        out.append(f"{r['label']:<{width}}  {state}")
    return "\n".join(out)


__all__ = ["NAMES", "BackendUnavailable", "Session", "available_backends", "format_backends", "get"]
