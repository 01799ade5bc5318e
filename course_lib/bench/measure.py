"""The timing loop: warm-up, a stopping rule, percentiles, and three load scenarios.

Everything here is backend-agnostic: a *step* is a zero-argument callable that runs one
inference (or one batch) and returns only when the result is ready; a *timed step* returns the
seconds that inference took (CUDA backends time with events, CPU ones with ``perf_counter``).
The methodology follows MLPerf LoadGen (single-stream / offline / server scenarios, p99 under
Poisson load), TFLite's ``benchmark_model`` (warm-up, min runs *and* min time) and
``torch.utils.benchmark`` (stop once the spread is small).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass
class StoppingRule:
    """When to stop warming up and when to stop measuring.

    Warm-up runs until *both* ``warmup_s`` seconds and ``warmup_iters`` runs are done.
    Measurement runs until ``min_duration_s`` and ``min_iters`` are met, then stops early if the
    relative IQR ((p75 - p25) / p50) is below ``target_rel_iqr``; otherwise it goes on until
    ``max_duration_s`` or ``max_iters``, whichever comes first.
    """
    warmup_s: float = 0.5
    warmup_iters: int = 10
    min_duration_s: float = 2.0
    min_iters: int = 50
    max_duration_s: float = 20.0
    max_iters: int = 100_000
    target_rel_iqr: float = 0.05

    def __post_init__(self):
        for name in ("warmup_s", "min_duration_s", "max_duration_s", "target_rel_iqr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("warmup_iters", "min_iters", "max_iters"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_iters < max(1, self.min_iters):
            raise ValueError(f"max_iters ({self.max_iters}) must be >= max(1, min_iters={self.min_iters})")
        if self.max_duration_s < self.min_duration_s:
            raise ValueError(f"max_duration_s ({self.max_duration_s}) must be >= min_duration_s ({self.min_duration_s})")

    @classmethod
    def default(cls, **overrides) -> "StoppingRule":
        """Course defaults, shortened in fast mode (tests, CI) so a benchmark takes ~0.3 s."""
        from course_lib import fast_mode

        base = (dict(warmup_s=0.05, warmup_iters=3, min_duration_s=0.2, min_iters=10, max_duration_s=1.0)
                if fast_mode() else {})
        given = {k: v for k, v in overrides.items() if v is not None}
        base.update(given)
        # An explicit cap wins over a default floor: max_duration_s=1.0 alone means "at most 1 s",
        # not an error against the default min_duration_s of 2 s. Both given and inconsistent: error.
        for low, high in (("min_duration_s", "max_duration_s"), ("min_iters", "max_iters")):
            floor = base.get(low, cls.__dataclass_fields__[low].default)
            if high in given and low not in given and floor > given[high]:
                base[low] = given[high]
        return cls(**base)

    to_dict = asdict


def rel_iqr(samples) -> float:
    """(p75 - p25) / p50 of ``samples``: a robust relative spread (0 = perfectly stable)."""
    s = np.asarray(samples, dtype=float)
    if s.size == 0:
        raise ValueError("rel_iqr() of an empty sample")
    q25, q50, q75 = np.percentile(s, [25, 50, 75])
    return float((q75 - q25) / q50) if q50 > 0 else float("inf")


def summarize(latencies_s) -> dict:
    """Latency statistics in **milliseconds** from per-inference seconds.

    Keys: ``min, mean, p50, p90, p95, p99, max, std, rel_iqr, n``.
    """
    s = np.asarray(latencies_s, dtype=float)
    if s.size == 0:
        raise ValueError("summarize() needs at least one latency sample")
    ms = s * 1e3
    out = {"min": float(ms.min()), "mean": float(ms.mean())}
    out.update({f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(ms, PERCENTILES))})
    out.update({"max": float(ms.max()), "std": float(ms.std()), "rel_iqr": rel_iqr(ms), "n": int(ms.size)})
    return out


def perf_counter_timer(step: Callable[[], object]) -> Callable[[], float]:
    """Wrap a blocking ``step`` into a timed step measured with ``time.perf_counter``."""
    clock = time.perf_counter

    def timed() -> float:
        t0 = clock()
        step()
        return clock() - t0
    return timed


def warm_up(timed_step: Callable[[], float], rule: StoppingRule) -> int:
    """Run until the warm-up time and count are both reached; returns the number of runs."""
    n, t_end = 0, time.perf_counter() + rule.warmup_s
    while n < rule.warmup_iters or time.perf_counter() < t_end:
        timed_step()
        n += 1
    return n


def measure(timed_step: Callable[[], float], rule: StoppingRule) -> np.ndarray:
    """Per-run seconds until the stopping rule says stop (warm-up is *not* included).

    The spread is checked only every 64 runs after the minimums are met, so the loop itself
    costs one clock read and one list append per run (see ``scripts/bench_overhead.py``).
    """
    trace: list[float] = []
    append, clock = trace.append, time.perf_counter
    t_start = clock()
    t_min, t_max = t_start + rule.min_duration_s, t_start + rule.max_duration_s
    check_every = 64
    while True:
        append(timed_step())
        n = len(trace)
        if n >= rule.max_iters:
            break
        if n % check_every and n != rule.min_iters:
            continue
        now = clock()
        if now >= t_max:
            break
        if n >= rule.min_iters and now >= t_min:
            if rule.target_rel_iqr > 0 and rel_iqr(trace) <= rule.target_rel_iqr:
                break
            if rule.target_rel_iqr == 0:
                break
    return np.asarray(trace)


def measure_until(timed_step: Callable[[], float], rule: StoppingRule) -> np.ndarray:
    """Like :func:`measure` but checks the clock every run (for slow steps, > 10 ms)."""
    trace: list[float] = []
    t_start = time.perf_counter()
    while True:
        trace.append(timed_step())
        n, elapsed = len(trace), time.perf_counter() - t_start
        if n >= rule.max_iters or elapsed >= rule.max_duration_s:
            break
        if n >= rule.min_iters and elapsed >= rule.min_duration_s:
            if rule.target_rel_iqr == 0 or rel_iqr(trace) <= rule.target_rel_iqr:
                break
    return np.asarray(trace)


def run_steady_state(timed_step: Callable[[], float], rule: StoppingRule) -> tuple[np.ndarray, int]:
    """Warm up, then measure; picks the per-run-clock loop when one run is slower than 10 ms."""
    n_warm = warm_up(timed_step, rule)
    probe = timed_step()
    loop = measure_until if probe > 0.01 else measure
    return loop(timed_step, rule), n_warm


def poisson_arrivals(rate_per_s: float, n: int, seed: int = 0) -> np.ndarray:
    """Arrival times (seconds from 0) of ``n`` queries of a Poisson process at ``rate_per_s``."""
    if rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    gaps = np.random.default_rng(seed).exponential(1.0 / rate_per_s, size=n)
    return np.cumsum(gaps)


def run_server(step: Callable[[], object], arrivals_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Serve queries arriving at ``arrivals_s`` with one worker, first come first served.

    Returns ``(latency_s, service_s)`` per query: latency counts from *arrival* to completion,
    so it includes the time a query waited in the queue behind earlier ones (what a user of a
    loaded server sees); service is the inference alone.
    """
    clock = time.perf_counter
    latency = np.empty(len(arrivals_s))
    service = np.empty(len(arrivals_s))
    t0 = clock()
    for i, a in enumerate(arrivals_s):
        due = t0 + a
        wait = due - clock()
        if wait > 0.002:  # sleep most of the gap, spin the rest: sleep() overshoots by ~0.1 ms
            time.sleep(wait - 0.001)
        while clock() < due:
            pass
        start = clock()
        step()
        end = clock()
        latency[i], service[i] = end - due, end - start
    return latency, service
