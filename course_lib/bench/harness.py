"""``benchmark()``: load a model on a backend, measure cold start, steady state, memory and
energy under a scenario, and return a :class:`Report`."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import backends as _backends
from . import energy as _energy
from . import environment, export, measure
from .report import Report

SCENARIOS = ("single-stream", "offline", "server")
SCENARIO_ALIASES = {"batch": "offline", "single_stream": "single-stream", "singlestream": "single-stream"}


def benchmark(model, backend: str = "onnxruntime", scenario: str = "single-stream", *, batch_size: int | None = None,
              input_shape=None, threads: int | None = None, warmup_s: float | None = None,
              warmup_iters: int | None = None, min_duration_s: float | None = None, min_iters: int | None = None,
              max_duration_s: float | None = None, max_iters: int | None = None,
              target_rel_iqr: float | None = None, server_load: float = 0.5, server_rate_per_s: float | None = None,
              energy: bool = True, device_profile=None, name: str | None = None, **backend_options) -> Report:
    """Benchmark ``model`` and return a :class:`~course_lib.bench.report.Report`.

    model: an ``.onnx`` / ``.tflite`` path, a zoo name (``"lenet5-tanh"``), a ``torch.nn.Module``
        or a Keras model (converted to ONNX / TFLite as the backend needs).
    backend: ``"pytorch"``, ``"onnxruntime"``, ``"tflite"`` or ``"tensorrt"``; ``backend_options``
        go to it (``device="cuda"``, ``dtype="fp16"``, ``compile=True``; ``provider="cuda"``;
        ``xnnpack=False``; ``precision="int8"``, ``dla_core=0``).
    scenario: ``"single-stream"`` (one query at a time), ``"offline"`` (alias ``"batch"``: large
        batches, throughput) or ``"server"`` (Poisson arrivals at ``server_load`` x the measured
        capacity, or ``server_rate_per_s``; latency includes queueing).
    input_shape: the full input shape with the batch dimension, e.g. ``(1, 1, 28, 28)``; needed for
        a torch module, read from the file or the zoo otherwise. ``batch_size`` replaces dim 0.
    threads: intra-op threads of the backend (None: its default), recorded either way.
    The stopping rule (warm-up, minimum time and runs, relative IQR target) defaults to
    :meth:`StoppingRule.default`, which is shorter in fast mode.
    """
    scenario = SCENARIO_ALIASES.get(scenario, scenario)
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)} (or 'batch')")
    mod = _backends.get(backend)
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not 0 < server_load:
        raise ValueError(f"server_load must be > 0 (fraction of capacity), got {server_load}")
    rule = measure.StoppingRule.default(warmup_s=warmup_s, warmup_iters=warmup_iters, min_duration_s=min_duration_s,
                                        min_iters=min_iters, max_duration_s=max_duration_s, max_iters=max_iters,
                                        target_rel_iqr=target_rel_iqr)
    if scenario == "offline" and batch_size is None:
        batch_size = 32
    loadable, shape, label, info = resolve(model, backend, input_shape, batch_size)

    meter, unreadable = (_energy.find_meter(cuda=_wants_cuda(backend, backend_options)) if energy else (None, {}))
    idle_w = meter.idle_watts(0.2 if _fast() else 1.0) if meter else 0.0

    # Importing the framework (seconds for TensorFlow) is a cost of the process, not of the
    # model: timed apart so "load" means reading and preparing the model.
    t0 = time.perf_counter()
    try:
        mod.import_runtime()
    except ImportError:
        pass  # load() raises BackendUnavailable with the reason and hint
    import_ms = 1e3 * (time.perf_counter() - t0)
    rss_scope = _reset_peak_rss()
    t0 = time.perf_counter()
    session = mod.load(loadable, shape, threads=threads, batch_size=shape[0] if shape else batch_size or 1,
                       **backend_options)
    load_ms = 1e3 * (time.perf_counter() - t0)
    try:
        with session.context():
            t0 = time.perf_counter()
            session.step()
            first_ms = 1e3 * (time.perf_counter() - t0)
            if meter:
                meter.start()
            if scenario == "server":
                trace, n_warm, scen = _server(session, rule, server_load, server_rate_per_s)
            else:
                trace, n_warm = measure.run_steady_state(session.timed_step, rule)
                scen = {}
            joules_window = meter.stop() if meter else None
        cuda_alloc = session.cuda_max_allocated()
    finally:
        session.close()
    peak_rss = _peak_rss()
    batch = int(session.input_shape[0]) if session.input_shape else 1
    stats = measure.summarize(trace)
    busy_s = float(scen.get("span_s", trace.sum()))
    throughput = batch * len(trace) / busy_s
    if meter:
        e = _energy.measured(joules_window[0], joules_window[1], idle_w, batch * len(trace), meter.name)
    else:
        from . import devices

        prof = devices.get(device_profile) if device_profile is not None else _local_profile()
        e = _energy.estimated(stats["p50"] / 1e3, batch, prof, unreadable) if energy else \
            {"joules_per_inference": None, "source": "energy measurement switched off (energy=False)"}
    warnings = list(session.warnings)
    if stats["rel_iqr"] > 0.2:
        warnings.append(f"latency spread is high (relative IQR {stats['rel_iqr']:.2f}): the machine is busy "
                        "or throttling; close other programs, raise min_duration_s, compare medians only")
    options = dict(session.options)
    env = environment.collect(backend=backend, backend_options=options, threads=threads)
    return Report(backend=backend, model=label, scenario=scenario, batch_size=batch,
                  input_shape=list(session.input_shape), latency_ms=stats, throughput_per_s=throughput,
                  cold_start_ms={"import_runtime": import_ms, "load": load_ms, "first_inference": first_ms, "warmup_runs": n_warm},
                  peak_rss_bytes=peak_rss, energy=e, environment=env, options=options,
                  model_info={**info, "peak_rss_scope": rss_scope}, stopping=rule.to_dict(),
                  scenario_info=scen, cuda_max_allocated_bytes=cuda_alloc, warnings=warnings,
                  trace_ms=[float(v) for v in trace * 1e3])


def _server(session, rule, load, rate):
    """Poisson server scenario; the rate defaults to ``load`` x the sustained capacity."""
    n_warm = measure.warm_up(session.timed_step, rule)
    # A queue is stable only below the *sustained* service rate: runs per second of wall clock,
    # which counts the time the process is descheduled (per-run medians would overstate it).
    window = max(0.1, min(1.0, rule.min_duration_s / 2))
    n_probe, t0 = 0, time.perf_counter()
    while n_probe < 20 or time.perf_counter() - t0 < window:
        session.step()
        n_probe += 1
    capacity = n_probe / (time.perf_counter() - t0)
    rate = rate or load * capacity
    n = int(max(rule.min_iters, min(rule.max_iters, rate * rule.min_duration_s)))
    arrivals = measure.poisson_arrivals(rate, n)
    t0 = time.perf_counter()
    latency, service = measure.run_server(session.step, arrivals)
    span = time.perf_counter() - t0
    return latency, n_warm, {"arrival_rate_per_s": float(rate), "offered_load": float(rate / capacity),
                             "measured_capacity_per_s": float(capacity), "queries": n, "span_s": span,
                             "service_p50_ms": float(np.median(service) * 1e3),
                             "service_p99_ms": float(np.percentile(service, 99) * 1e3)}


def resolve(model, backend: str, input_shape, batch_size):
    """``(what the backend loads, full input shape or None, label, model facts)``."""
    shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
    if isinstance(model, (str, Path)):
        text = str(model)
        if text.endswith(export.MODEL_SUFFIXES) or Path(text).suffix:
            path = Path(text)
            if not path.is_file():
                raise FileNotFoundError(f"model file {path} does not exist")
            fmt = "onnx" if path.suffix == ".onnx" else "tflite" if path.suffix == ".tflite" else None
            if fmt is None:
                raise ValueError(f"{path}: expected an .onnx or .tflite file, or a zoo model name")
            if backend not in export.FORMAT_BACKENDS[fmt]:
                raise ValueError(f"backend {backend!r} cannot run a .{fmt} file; use "
                                 f"{' or '.join(export.FORMAT_BACKENDS[fmt])}")
            info = export.onnx_model_info(path) if fmt == "onnx" else export.tflite_model_info(path)
            return path, _with_batch(shape, batch_size), path.name, info
        from course_lib import zoo

        if text not in zoo.REGISTRY:
            raise ValueError(f"{text!r} is neither a model file (.onnx/.tflite) nor a zoo model "
                             f"({', '.join(zoo.names())})")
        shape = _with_batch(shape or export.zoo_input_shape(text), batch_size)
        net = zoo.load(text)
        return (*_from_torch(net, backend, shape)[:1], shape, text, export.torch_model_info(net, shape))
    if export.is_torch_module(model):
        if shape is None:
            raise ValueError("a torch module needs input_shape=(N, C, H, W), e.g. (1, 1, 28, 28)")
        shape = _with_batch(shape, batch_size)
        return (*_from_torch(model, backend, shape)[:1], shape, type(model).__name__,
                export.torch_model_info(model, shape))
    if export.is_keras_model(model):
        if backend != "tflite":
            raise ValueError(f"a Keras model runs on backend='tflite' (converted); got {backend!r}")
        path = export.keras_to_tflite(model)
        return path, _with_batch(shape, batch_size), getattr(model, "name", "keras"), export.tflite_model_info(path)
    raise TypeError(f"cannot benchmark a {type(model).__name__}: pass a .onnx/.tflite path, a zoo name, "
                    "a torch.nn.Module or a Keras model")


def _from_torch(net, backend, shape):
    if backend == "pytorch":
        return (net,)
    if backend in ("onnxruntime", "tensorrt"):
        return (export.torch_to_onnx(net, shape),)
    raise ValueError(f"backend {backend!r} cannot run a PyTorch model; export it first "
                     "(use backend='pytorch' or 'onnxruntime')")


def _with_batch(shape, batch_size):
    if shape is None or batch_size is None:
        return shape
    return (int(batch_size), *shape[1:])


def _wants_cuda(backend, options) -> bool:
    return (backend == "tensorrt" or str(options.get("device", "")).startswith("cuda")
            or options.get("provider") in ("cuda", "tensorrt"))


def _fast() -> bool:
    from course_lib import fast_mode

    return fast_mode()


_LOCAL = None


def _local_profile():
    global _LOCAL  # measured once per process: it takes ~0.3 s
    if _LOCAL is None:
        from . import devices

        _LOCAL = devices.local_profile(0.1 if _fast() else 0.3)
    return _LOCAL


def _reset_peak_rss() -> str:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0) so the peak belongs to this run."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "since model load"
    except OSError:
        return "process lifetime"


def _peak_rss() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    except (ImportError, OSError):
        return None
