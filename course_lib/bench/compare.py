"""Latency of several models compared fairly: interleaved rounds, medians of ratios.

Machines drift (other processes, clocks, caches). Benchmarking model A for a minute and then
model B lets that drift decide the comparison. Here every round benchmarks each model once, in
a rotated order, and a model's speed-up over the reference is the median over rounds of the
per-round ratio of median latencies: drift that hits a whole round cancels.
"""
from __future__ import annotations

import numpy as np


def interleaved_latency(models: dict, input_shape, *, rounds: int = 5, backend: str = "onnxruntime",
                        **bench_kwargs) -> dict:
    """Median latency of each model and its speed-up over the first one, from interleaved rounds.

    models: ``{name: model}`` (anything :func:`course_lib.bench.benchmark` takes: an ``.onnx``
        path, a torch module, a zoo name); the first entry is the reference.
    input_shape: the full input shape with the batch dimension, e.g. ``(1, 1, 28, 28)``.
    bench_kwargs: passed to ``benchmark`` (``threads=1``, ``max_duration_s=0.3``, ...).
    Returns ``{name: {"p50_ms", "speedup", "rel_iqr", "rounds_ms"}}``: ``p50_ms`` is the median
    over rounds of each round's p50 (ms), ``speedup`` the median of ``reference / model`` per
    round (> 1: faster than the reference), ``rel_iqr`` the median of the rounds' relative IQRs.
    """
    from . import benchmark

    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict {name: model}")
    if not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    bench_kwargs.setdefault("energy", False)
    names = list(models)
    p50 = {n: [] for n in names}
    spread = {n: [] for n in names}
    for r in range(rounds):
        for i in range(len(names)):  # rotate the order so no model always runs first or last
            name = names[(i + r) % len(names)]
            rep = benchmark(models[name], backend, input_shape=input_shape, **bench_kwargs)
            p50[name].append(rep.latency_ms["p50"])
            spread[name].append(rep.latency_ms["rel_iqr"])
    ref = np.array(p50[names[0]])
    return {n: {"p50_ms": float(np.median(p50[n])), "speedup": float(np.median(ref / np.array(p50[n]))),
                "rel_iqr": float(np.median(spread[n])), "rounds_ms": [float(v) for v in p50[n]]}
            for n in names}
