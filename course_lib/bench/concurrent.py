"""Several models on one device (week 13): run them at the same time, each with its own thread
budget, and search the thread / placement split that meets every model's latency target."""
from __future__ import annotations

import itertools
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .measure import summarize


@dataclass
class Workload:
    """One model of a concurrent run: what to load, on which backend, with how many threads."""
    model: object
    backend: str = "onnxruntime"
    threads: int | None = 1
    input_shape: tuple | None = None
    options: dict = field(default_factory=dict)
    name: str | None = None

    def label(self, i: int) -> str:
        return self.name or (self.model if isinstance(self.model, str) else f"model{i}")


def _as_workload(w, backend) -> Workload:
    if isinstance(w, Workload):
        return w
    if isinstance(w, dict):
        return Workload(**w)
    return Workload(model=w, backend=backend)


def _session(w: Workload):
    from . import backends
    from .harness import resolve

    loadable, shape, _, _ = resolve(w.model, w.backend, w.input_shape, None)
    return backends.get(w.backend).load(loadable, shape, threads=w.threads, batch_size=shape[0] if shape else 1,
                                        **w.options)


def _loop(session, start_at: float, stop_at: float) -> np.ndarray:
    trace = []
    with session.context():
        session.step()  # warm-up outside the window
        while time.perf_counter() < start_at:
            time.sleep(0.0005)
        while time.perf_counter() < stop_at:
            trace.append(session.timed_step())
    return np.asarray(trace)


def _process_worker(w: Workload, start_delay: float, duration_s: float, barrier, conn):
    try:
        session = _session(w)
        barrier.wait()
        start = time.perf_counter() + start_delay
        conn.send(("ok", _loop(session, start, start + duration_s)))
    except Exception as e:  # noqa: BLE001 - surface the failure in the parent
        barrier.abort()
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def run_concurrent(models, *, duration_s: float | None = None, mode: str = "threads",
                   backend: str = "onnxruntime") -> dict:
    """Run every model in its own thread (or process) for the same window; per-model percentiles.

    ``models``: paths, zoo names, torch modules, ``Workload`` objects or dicts of ``Workload``
    fields (``{"model": "a.onnx", "threads": 2}``). Returns ``{"models": [{"name", "threads",
    "latency_ms", "throughput_per_s"}], "total_throughput_per_s", "duration_s", "mode"}``.
    Threads share one interpreter; runtimes that release the GIL (ONNX Runtime, TFLite, PyTorch
    kernels) still run in parallel. Processes isolate them fully (files and zoo names only).
    """
    from course_lib import fast_mode

    if mode not in ("threads", "processes"):
        raise ValueError(f"mode must be 'threads' or 'processes', got {mode!r}")
    work = [_as_workload(m, backend) for m in models]
    if not work:
        raise ValueError("run_concurrent() needs at least one model")
    duration_s = duration_s or (0.3 if fast_mode() else 3.0)
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    if mode == "threads":
        traces = _run_threads(work, duration_s)
    else:
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(len(work))
        pipes, procs = [], []
        for w in work:
            if not isinstance(w.model, str):
                raise ValueError("mode='processes' takes model files or zoo names (picklable), not objects")
            parent, child = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_process_worker, args=(w, 0.05, duration_s, barrier, child), daemon=True)
            p.start()
            child.close()
            pipes.append(parent)
            procs.append(p)
        traces = []
        for parent, p in zip(pipes, procs):
            status, payload = parent.recv()
            p.join()
            if status != "ok":
                raise RuntimeError(f"a concurrent worker failed: {payload}")
            traces.append(payload)
    rows = []
    for i, (w, trace) in enumerate(zip(work, traces)):
        if len(trace) == 0:
            raise RuntimeError(f"{w.label(i)} completed no inference in {duration_s} s; lengthen duration_s")
        rows.append({"name": w.label(i), "backend": w.backend, "threads": w.threads,
                     "latency_ms": summarize(trace), "throughput_per_s": len(trace) / duration_s})
    return {"models": rows, "total_throughput_per_s": sum(r["throughput_per_s"] for r in rows),
            "duration_s": duration_s, "mode": mode}


def _run_threads(work: list, duration_s: float) -> list:
    """Each workload's trace, all in threads of this process over the same window."""
    sessions = [_session(w) for w in work]
    traces = [None] * len(work)
    start = time.perf_counter() + 0.05

    def run(i):
        traces[i] = _loop(sessions[i], start, start + duration_s)
    pool = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for s in sessions:
        s.close()
    return traces


def thread_splits(total: int, n: int) -> list[tuple[int, ...]]:
    """All ways to give ``n`` models at least one of ``total`` threads each (compositions)."""
    if n < 1 or total < n:
        raise ValueError(f"cannot split {total} thread(s) among {n} model(s) with at least one each")
    return [tuple(b - a for a, b in zip((0, *cut), (*cut, total)))
            for cut in itertools.combinations(range(1, total), n - 1)]


def search_thread_split(models, targets_ms, *, total_threads: int | None = None, placements=None,
                        stat: str = "p90", duration_s: float | None = None, backend: str = "onnxruntime") -> dict:
    """Try every thread split (and placement) and keep those where each model meets its target.

    ``targets_ms``: per-model latency targets for ``stat`` (``"p50"``, ``"p90"``, ``"p99"``).
    ``placements``: optional per-model lists of backend-option dicts to try, e.g.
    ``[[{"provider": "cpu"}, {"provider": "cuda"}], [{"provider": "cpu"}]]``.
    Returns ``{"best": candidate or None, "candidates": [...]}``; the best feasible candidate has
    the highest total throughput; each candidate records threads, options, per-model stat, ok.
    """
    import os

    work = [_as_workload(m, backend) for m in models]
    if len(targets_ms) != len(work):
        raise ValueError(f"{len(work)} models but {len(targets_ms)} latency targets")
    total = total_threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    placements = placements or [[w.options] for w in work]
    if len(placements) != len(work):
        raise ValueError(f"{len(work)} models but placements for {len(placements)}")
    candidates = []
    for split in thread_splits(total, len(work)):
        for place in itertools.product(*placements):
            trial = [Workload(w.model, w.backend, t, w.input_shape, dict(o), w.name) for w, t, o in zip(work, split, place)]
            res = run_concurrent(trial, duration_s=duration_s)
            got = [r["latency_ms"][stat] for r in res["models"]]
            candidates.append({"threads": split, "options": list(place), f"{stat}_ms": got,
                               "total_throughput_per_s": res["total_throughput_per_s"],
                               "ok": all(g <= t for g, t in zip(got, targets_ms))})
    feasible = [c for c in candidates if c["ok"]]
    best = max(feasible, key=lambda c: c["total_throughput_per_s"]) if feasible else None
    return {"best": best, "candidates": candidates, "stat": stat, "targets_ms": list(targets_ms)}
