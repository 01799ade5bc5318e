"""Paired latency of two models: does pruning make inference faster, measured?

Machines drift (other processes, clocks, caches), so the two models are benchmarked in
interleaved rounds (:func:`course_lib.bench.compare.interleaved_latency`), and the speed-up
is the median over rounds of the per-round ratio of median latencies: drift that hits both
models of a round cancels.
"""
from __future__ import annotations


def paired_latency(a, b, input_shape, *, rounds: int = 5, backend: str = "onnxruntime", **bench_kwargs) -> dict:
    """``{"a_ms", "b_ms", "speedup", "rounds"}``: medians over ``rounds`` of each model's p50
    latency (ms) and of the ratio ``a / b`` (> 1: ``b`` is faster). ``input_shape`` includes
    the batch dimension; ``bench_kwargs`` go to ``bench.benchmark`` (e.g. ``threads=1``)."""
    from ..bench.compare import interleaved_latency

    res = interleaved_latency({"a": a, "b": b}, input_shape, rounds=rounds, backend=backend, **bench_kwargs)
    rows = [{"a_ms": pa, "b_ms": pb, "ratio": pa / pb} for pa, pb in zip(res["a"]["rounds_ms"], res["b"]["rounds_ms"])]
    return {"a_ms": res["a"]["p50_ms"], "b_ms": res["b"]["p50_ms"], "speedup": res["b"]["speedup"], "rounds": rows}
