"""The course's benchmark harness: latency, memory, energy, device estimates, hardware in the loop.

>>> from course_lib import bench
>>> r = bench.benchmark("lenet5-tanh", backend="onnxruntime")      # doctest: +SKIP
>>> r.latency_ms["p50"], r.throughput_per_s, r.energy["source"]     # doctest: +SKIP
>>> print(bench.format_backends())                                  # doctest: +SKIP

See ``docs/bench.md`` for the methodology.
"""
from .backends import BackendUnavailable, available_backends, format_backends
from .devices import PROFILES, DeviceProfile, estimate, local_profile
from .harness import SCENARIOS, benchmark
from .measure import StoppingRule, summarize
from .report import Report


def __getattr__(name):
    # Heavier pieces import on first use: the agent (http.server) and the concurrency helpers.
    if name in ("RemoteDevice", "serve"):
        from . import agent

        return getattr(agent, name)
    if name in ("run_concurrent", "search_thread_split"):
        from . import concurrent

        return getattr(concurrent, name)
    raise AttributeError(f"module 'course_lib.bench' has no attribute {name!r}")


__all__ = ["BackendUnavailable", "DeviceProfile", "PROFILES", "Report", "RemoteDevice", "SCENARIOS",
           "StoppingRule", "available_backends", "benchmark", "estimate", "format_backends",
           "local_profile", "run_concurrent", "search_thread_split", "serve", "summarize"]
