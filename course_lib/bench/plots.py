"""Plots of benchmark reports: latency histogram and CDF, latency-accuracy-size scatter, energy bars,
and device rooflines.

Each function takes :class:`Report` objects (or their ``to_dict()``), draws on ``ax`` (a new
figure when None) and returns the axes.
"""
from __future__ import annotations

import numpy as np


def _d(r) -> dict:
    return r if isinstance(r, dict) else r.to_dict()


def _label(r: dict) -> str:
    return f"{r['model']} / {r['backend']}"


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


def latency_histogram(reports, ax=None, bins: int = 60, clip_percentile: float = 99.5):
    """Per-inference latency histograms (log-spaced bins; the slowest 0.5 % clipped for readability)."""
    ax = _axes(ax)
    reports = [_d(r) for r in reports]
    allv = np.concatenate([np.asarray(r["trace_ms"]) for r in reports])
    if allv.size == 0:
        raise ValueError("the reports hold no trace (trace_ms is empty)")
    lo, hi = max(allv.min(), 1e-6), np.percentile(allv, clip_percentile)
    edges = np.geomspace(lo, max(hi, lo * 1.01), bins)
    for r in reports:
        ax.hist(np.clip(r["trace_ms"], lo, hi), bins=edges, alpha=0.55, label=f"{_label(r)} (p50 {r['latency_ms']['p50']:.3g} ms)")
    ax.set_xscale("log")
    ax.set_xlabel("latency per inference [ms]")
    ax.set_ylabel("runs")
    ax.legend(fontsize=8)
    return ax


def latency_cdf(reports, ax=None):
    """Empirical CDF of latency, with p50 and p99 marked: the tail is where edge deadlines are missed."""
    ax = _axes(ax)
    for r in map(_d, reports):
        v = np.sort(r["trace_ms"])
        line, = ax.plot(v, np.arange(1, v.size + 1) / v.size, label=_label(r))
        for p in ("p50", "p99"):
            ax.axvline(r["latency_ms"][p], color=line.get_color(), ls=":" if p == "p99" else "--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("latency [ms] (dashed p50, dotted p99)")
    ax.set_ylabel("fraction of runs")
    ax.legend(fontsize=8)
    return ax


def tradeoff_scatter(points, ax=None):
    """Latency vs accuracy, marker area proportional to size on disk.

    ``points``: dicts with ``name``, ``latency_ms``, ``accuracy`` (fraction) and ``size_bytes``
    (or ``(report, accuracy)`` pairs, taking p50 and the file size from the report).
    """
    ax = _axes(ax)
    rows = []
    for p in points:
        if isinstance(p, tuple):
            r, acc = _d(p[0]), p[1]
            p = {"name": _label(r), "latency_ms": r["latency_ms"]["p50"], "accuracy": acc,
                 "size_bytes": (r.get("model_info") or {}).get("file_bytes") or 0}
        rows.append(p)
    if not rows:
        raise ValueError("tradeoff_scatter() needs at least one point")
    sizes = np.array([r["size_bytes"] for r in rows], dtype=float)
    area = 30 + 400 * sizes / sizes.max() if sizes.max() > 0 else np.full(len(rows), 60.0)
    ax.scatter([r["latency_ms"] for r in rows], [100 * r["accuracy"] for r in rows], s=area, alpha=0.6)
    for r in rows:
        ax.annotate(f"{r['name']}\n{r['size_bytes'] / 1024:.0f} KiB", (r["latency_ms"], 100 * r["accuracy"]),
                    fontsize=7, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("latency p50 [ms]")
    ax.set_ylabel("accuracy [%]")
    ax.set_title("latency vs accuracy (marker area ~ size on disk)", fontsize=9)
    return ax


def energy_bars(reports, ax=None):
    """Millijoules per inference; hatched bars are estimates, not measurements."""
    ax = _axes(ax)
    reports = [_d(r) for r in reports]
    vals = [(r["energy"] or {}).get("joules_per_inference") for r in reports]
    x = np.arange(len(reports))
    for i, (r, v) in enumerate(zip(reports, vals)):
        est = (r["energy"] or {}).get("kind") != "measured"
        ax.bar(i, 1e3 * (v or 0.0), hatch="//" if est else None, alpha=0.5 if est else 0.9,
               label="estimate" if est and "estimate" not in ax.get_legend_handles_labels()[1] else None)
    ax.set_xticks(x, [_label(r) for r in reports], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("energy per inference [mJ]")
    if any((r["energy"] or {}).get("kind") != "measured" for r in reports):
        ax.legend(fontsize=8)
    return ax


def roofline(devices, models: dict, precision: str = "fp32", ax=None):
    """Device rooflines (log-log) with models placed at their operational intensity.

    ``devices``: names or :class:`DeviceProfile` objects (``"local"`` measures this machine);
    ``models``: ``{label: ProfileReport}``. Datasheet devices are labelled ESTIMATE with the
    peak figures the line is drawn from; a model's marker sits on the lowest roof, which is the
    best any runtime could do there. Left of a ridge point a model is memory-bound.
    """
    from .devices import attainable_gflops, get, intensity

    if not models:
        raise ValueError("roofline() needs at least one model: {label: course_lib.profile(...)}")
    ax = _axes(ax)
    points = {label: intensity(rep, precision) for label, rep in models.items()}
    xs = np.geomspace(min(0.05, min(points.values()) / 2), max(500, 2 * max(points.values())), 200)
    profiles = [get(d) for d in devices]
    for dev in profiles:
        kind = "measured" if dev.name == "local" else "ESTIMATE"
        ax.plot(xs, [attainable_gflops(dev, x, precision) for x in xs],
                label=f"{dev.name} [{kind}]: {dev.peak_gflops[precision]:,.0f} GFLOP/s, "
                      f"{dev.memory_bandwidth_gbs:,.1f} GB/s")
    lowest = min(profiles, key=lambda d: d.peak_gflops[precision])
    for label, x in points.items():
        y = attainable_gflops(lowest, x, precision)
        ax.scatter([x], [y], zorder=3, color="k", s=20)
        ax.annotate(f"{label}\n{x:.1f} FLOP/B", (x, y), fontsize=7, xytext=(4, -14), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"operational intensity [FLOP/byte, {precision}]")
    ax.set_ylabel("attainable GFLOP/s")
    ax.legend(fontsize=7, loc="lower right")
    return ax
