"""PyTorch eager or ``torch.compile``; CPU timed with perf_counter, CUDA with CUDA events."""
from __future__ import annotations

from ..measure import perf_counter_timer
from .base import BackendUnavailable, Session, check_threads, random_input, reject_unknown

NAME = "pytorch"
INSTALL_HINT = 'pip install -e ".[torch]"  (CUDA builds: https://pytorch.org/get-started/locally/)'
OPTIONS = {"device", "dtype", "compile", "compile_mode"}


def import_runtime() -> None:
    import torch  # noqa: F401


def check(device: str = "cpu", **_) -> str | None:
    """None when usable, else the reason."""
    try:
        import torch
    except ImportError as e:
        return f"torch is not importable ({e})"
    if device.startswith("cuda") and not torch.cuda.is_available():
        return "no CUDA device visible to PyTorch (torch.cuda.is_available() is False)"
    if device not in ("cpu",) and not device.startswith("cuda"):
        return f"device {device!r} is not supported; use 'cpu' or 'cuda[:N]'"
    return None


def load(model, input_shape, *, threads=None, device: str = "cpu", dtype: str = "fp32",
         compile: bool = False, compile_mode: str | None = None, batch_size: int | None = None,
         **options) -> Session:
    """``model``: a ``torch.nn.Module``; ``input_shape``: full shape incl. batch, ``(N, C, H, W)``
    (``batch_size``, as every backend takes it, must agree with its first dimension)."""
    reject_unknown(NAME, options, OPTIONS)
    if batch_size is not None and input_shape is not None and batch_size != input_shape[0]:
        raise ValueError(f"batch_size={batch_size} disagrees with input_shape {tuple(input_shape)}")
    threads = check_threads(threads)
    if dtype not in ("fp32", "fp16"):
        raise ValueError(f"dtype must be 'fp32' or 'fp16', got {dtype!r}")
    reason = check(device)
    if reason:
        raise BackendUnavailable(NAME, reason, INSTALL_HINT)
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"the pytorch backend runs a torch.nn.Module, got {type(model).__name__}; "
                        "for .onnx/.tflite files use backend='onnxruntime' or 'tflite'")
    cuda = device.startswith("cuda")
    warnings = []
    if dtype == "fp16" and not cuda:
        warnings.append("fp16 on CPU is emulated in most kernels and usually slower than fp32")
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    torch_dtype = torch.float16 if dtype == "fp16" else torch.float32
    # Benchmark a copy so the caller's model keeps its device and dtype.
    import copy

    net = copy.deepcopy(model).eval().to(device=device, dtype=torch_dtype)
    x = torch.from_numpy(random_input(tuple(input_shape))).to(device=device, dtype=torch_dtype)
    if compile:
        net = torch.compile(net, mode=compile_mode)

    if cuda:
        blocking_step, timed_step, max_alloc = _cuda_steps(net, x, device)
    else:
        blocking_step = lambda: net(x)  # noqa: E731
        timed_step, max_alloc = perf_counter_timer(blocking_step), lambda: None

    def close():
        torch.set_num_threads(old_threads)

    recorded = {"device": device, "dtype": dtype, "compile": bool(compile), "threads": torch.get_num_threads(),
                "timer": "cuda-events" if cuda else "perf_counter"}
    if compile:
        recorded["compile_mode"] = compile_mode or "default"
    if cuda:
        recorded["gpu"] = torch.cuda.get_device_name(device)
    return Session(step=blocking_step, timed_step=timed_step, options=recorded, input_shape=tuple(input_shape),
                   cuda=cuda, warnings=warnings, context=torch.inference_mode, close=close,
                   cuda_max_allocated=max_alloc)


def devices() -> list[str]:
    try:
        import torch
    except ImportError:
        return []
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def _cuda_steps(net, x, device: str):
    """``(blocking step, timed step in s by CUDA events, peak allocated bytes)`` on a GPU."""
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def timed_step() -> float:
        start.record()
        net(x)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3  # elapsed_time is in milliseconds

    def blocking_step():
        out = net(x)
        torch.cuda.synchronize()
        return out

    torch.cuda.reset_peak_memory_stats(device)
    return blocking_step, timed_step, lambda: int(torch.cuda.max_memory_allocated(device))
