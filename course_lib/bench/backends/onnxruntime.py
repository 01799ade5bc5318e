"""ONNX Runtime with the CPU, CUDA or TensorRT execution provider; threads set and recorded."""
from __future__ import annotations

from ..measure import perf_counter_timer
from .base import BackendUnavailable, Session, check_threads, random_input, reject_unknown

NAME = "onnxruntime"
INSTALL_HINT = "pip install onnxruntime  (GPU: pip install onnxruntime-gpu, with CUDA/cuDNN/TensorRT libraries)"
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider"}
OPTIONS = {"provider", "graph_optimization", "inter_op_threads", "fp16", "device_id"}
ONNX_TO_NUMPY = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
                 "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int32)": "int32", "tensor(int64)": "int64"}


def import_runtime() -> None:
    import onnxruntime  # noqa: F401


def check(provider: str = "cpu", **_) -> str | None:
    try:
        import onnxruntime as ort
    except ImportError as e:
        return f"onnxruntime is not importable ({e})"
    if provider not in PROVIDERS:
        return f"unknown provider {provider!r}; choose one of {sorted(PROVIDERS)}"
    if PROVIDERS[provider] not in ort.get_available_providers():
        return (f"{PROVIDERS[provider]} is not in this onnxruntime build "
                f"(available: {', '.join(ort.get_available_providers())})")
    return None


GRAPH_OPTIMIZATION = {"none": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
                      "all": "ORT_ENABLE_ALL"}


def session(model, *, graph_optimization: str = "all", threads: int | None = None,
            inter_op_threads: int | None = None, providers=("CPUExecutionProvider",)):
    """An ``onnxruntime.InferenceSession`` of ``model`` (a path or the serialized bytes) with the
    course's settings: warnings-only logging, sequential execution, ``threads`` intra-op threads
    (None: ORT's default). The one place where sessions are configured."""
    import onnxruntime as ort

    if graph_optimization not in GRAPH_OPTIMIZATION:
        raise ValueError(f"graph_optimization must be one of {list(GRAPH_OPTIMIZATION)}, got {graph_optimization!r}")
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_OPTIMIZATION[graph_optimization])
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    if threads is not None:
        so.intra_op_num_threads = threads
    if inter_op_threads is not None:
        so.inter_op_num_threads = inter_op_threads
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), sess_options=so,
                                providers=list(providers))


def load(path, input_shape=None, *, threads=None, provider: str = "cpu", graph_optimization: str = "all",
         inter_op_threads: int | None = 1, fp16: bool = False, device_id: int = 0, batch_size: int = 1,
         **options) -> Session:
    """``path``: an ``.onnx`` file. ``input_shape`` overrides the graph's (dynamic dims -> ``batch_size``)."""
    reject_unknown(NAME, options, OPTIONS)
    threads = check_threads(threads)
    reason = check(provider)
    if reason:
        raise BackendUnavailable(NAME, reason, INSTALL_HINT)
    import numpy as np
    import onnxruntime as ort

    sess = session(path, graph_optimization=graph_optimization, threads=threads,
                   inter_op_threads=check_threads(inter_op_threads) if inter_op_threads is not None else None,
                   providers=_provider_list(provider, fp16, device_id))

    inp = sess.get_inputs()[0]
    if len(sess.get_inputs()) > 1:
        raise ValueError(f"{path}: the harness feeds one input tensor, the model has {len(sess.get_inputs())}")
    shape = tuple(input_shape) if input_shape else tuple(d if isinstance(d, int) and d > 0 else batch_size
                                                         for d in inp.shape)
    if shape and input_shape is None and batch_size != 1 and isinstance(inp.shape[0], int) and inp.shape[0] != batch_size:
        raise ValueError(f"{path} has a fixed batch of {inp.shape[0]}; export it with a dynamic batch to use batch_size={batch_size}")
    x = random_input(shape, np.dtype(ONNX_TO_NUMPY.get(inp.type, "float32")))
    used = sess.get_providers()
    warnings = []
    if PROVIDERS[provider] not in used:
        warnings.append(f"requested {PROVIDERS[provider]} but the session runs on {used}")
    cuda = provider in ("cuda", "tensorrt")
    if cuda:
        # IO binding keeps input and output on the GPU, so host<->device copies are not timed
        # (what trtexec and onnxruntime_perf_test report by default).
        x_dev = ort.OrtValue.ortvalue_from_numpy(x, "cuda", device_id)
        binding = sess.io_binding()
        binding.bind_ortvalue_input(inp.name, x_dev)
        for out in sess.get_outputs():
            binding.bind_output(out.name, "cuda", device_id)

        def step():
            sess.run_with_iobinding(binding)
            binding.synchronize_outputs()
    else:
        feeds, run = {inp.name: x}, sess.run

        def step():
            return run(None, feeds)
    timed_step = perf_counter_timer(step)
    so_threads = sess.get_session_options()
    recorded = {"provider": PROVIDERS[provider], "providers_in_use": used, "threads": threads,
                "intra_op_num_threads": so_threads.intra_op_num_threads,
                "inter_op_num_threads": so_threads.inter_op_num_threads,
                "graph_optimization": graph_optimization, "onnxruntime": ort.__version__,
                "timer": "perf_counter" + (" (io-binding, synchronised)" if cuda else "")}
    if provider == "tensorrt":
        recorded["fp16"] = bool(fp16)
    return Session(step=step, timed_step=timed_step, options=recorded, input_shape=shape, cuda=cuda,
                   warnings=warnings, extra={"session": sess})


def _provider_list(provider: str, fp16: bool, device_id: int) -> list:
    if provider == "cpu":
        return ["CPUExecutionProvider"]
    cuda = ("CUDAExecutionProvider", {"device_id": device_id})
    if provider == "cuda":
        return [cuda, "CPUExecutionProvider"]
    from ..export import cache_dir

    trt = ("TensorrtExecutionProvider", {"device_id": device_id, "trt_fp16_enable": bool(fp16),
                                         "trt_engine_cache_enable": True,
                                         "trt_engine_cache_path": str(cache_dir() / "ort-trt")})
    return [trt, cuda, "CPUExecutionProvider"]


def devices() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    inv = {v: k for k, v in PROVIDERS.items()}
    return [inv[p] for p in ort.get_available_providers() if p in inv]
