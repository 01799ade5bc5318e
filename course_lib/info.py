"""``course-lib info``: versions, which frameworks and backends are usable, GPU or not."""
from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import platform

PACKAGES = ["numpy", "torch", "torchvision", "tensorflow", "tf_keras",
            "tensorflow-model-optimization", "onnx", "onnxruntime", "nbgrader", "jupyterlab",
            "optuna", "pymoo", "scikit-learn", "ml_dtypes"]


def versions() -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def gpu() -> dict:
    """What accelerators PyTorch and ONNX Runtime can see (without importing TensorFlow)."""
    info = {"cuda": False, "devices": [], "onnxruntime_providers": []}
    try:
        import torch

        if torch.cuda.is_available():
            info["cuda"] = True
            info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    try:
        import onnxruntime as ort

        info["onnxruntime_providers"] = ort.get_available_providers()
    except ImportError:
        pass
    try:
        importlib.import_module("tensorrt")
        info["tensorrt"] = True
    except ImportError:
        info["tensorrt"] = False
    return info


def backends() -> list[dict]:
    """Every benchmark backend with available/reason/install hint (see course_lib.bench)."""
    from .bench import available_backends

    return available_backends()


def collect() -> dict:
    return {"platform": platform.platform(), "machine": platform.machine(),
            "versions": versions(), "gpu": gpu(), "backends": backends()}


def run(args) -> int:
    data = collect()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"platform: {data['platform']}")
    for name, v in data["versions"].items():
        print(f"  {name:32s} {v or 'not installed'}")
    g = data["gpu"]
    print("GPU:", ", ".join(g["devices"]) if g["cuda"] else "none (CPU only)")
    print("ONNX Runtime providers:", ", ".join(g["onnxruntime_providers"]) or "onnxruntime not installed")
    print("TensorRT:", "available" if g["tensorrt"] else "not installed")
    print("benchmark backends:")
    for b in data["backends"]:
        state = "available" if b["available"] else f"unavailable: {b['reason']}"
        print(f"  {b['label']:40s} {state}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("info", help="versions, available backends, GPU or not")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)
