"""Paired latency of two models: does pruning make inference faster, measured?

Machines drift (other processes, clocks, caches), so the two models are benchmarked in
alternating rounds (A, B, A, B, ...) with :func:`course_lib.bench.benchmark`, and the speed-up
is the median over rounds of the per-round ratio of median latencies: drift that hits both
models of a round cancels.
"""
from __future__ import annotations

import numpy as np


def paired_latency(a, b, input_shape, *, rounds: int = 5, backend: str = "onnxruntime", **bench_kwargs) -> dict:
    """``{"a_ms", "b_ms", "speedup", "rounds"}``: medians over ``rounds`` of each model's p50
    latency (ms) and of the ratio ``a / b`` (> 1: ``b`` is faster). ``input_shape`` includes
    the batch dimension; ``bench_kwargs`` go to ``bench.benchmark`` (e.g. ``threads=1``)."""
    from ..bench import benchmark

    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    bench_kwargs.setdefault("energy", False)
    rows = []
    for _ in range(rounds):
        pa = benchmark(a, backend, input_shape=input_shape, **bench_kwargs).latency_ms["p50"]
        pb = benchmark(b, backend, input_shape=input_shape, **bench_kwargs).latency_ms["p50"]
        rows.append({"a_ms": pa, "b_ms": pb, "ratio": pa / pb})
    return {"a_ms": float(np.median([r["a_ms"] for r in rows])), "b_ms": float(np.median([r["b_ms"] for r in rows])),
            "speedup": float(np.median([r["ratio"] for r in rows])), "rounds": rows}
