"""Matplotlib views of search runs; each takes history records (``read_history`` or
``RunResult.history``) and returns the Axes, so notebooks can combine them."""
from __future__ import annotations

import warnings
from typing import Callable, Mapping, Sequence

import numpy as np

from .pareto import non_dominated


def _ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_pareto(records: Sequence[dict], baseline_accuracy: float, *, target: Sequence[float] | None = None,
                max_loss: float = 1.0, cr_key: str = "cr_true", ax=None, label: str = "front"):
    """Explored points and their Pareto front as CR (x) vs accuracy loss in points (y, lower is better).

    ``target``: ``(accuracy, CR)`` of the fitness target, drawn as a star; the dashed line is
    ``max_loss``, the loss the "best" vector may have.
    """
    ax = _ax(ax)
    acc = np.array([r["accuracy"] for r in records], float)
    cr = np.array([r[cr_key] for r in records], float)
    loss = 100 * (baseline_accuracy - acc)
    ax.scatter(cr, loss, s=8, c="0.7", label="explored")
    front = non_dominated(np.stack([acc, cr], axis=1)) if len(acc) else np.zeros(0, bool)
    order = np.argsort(cr[front])
    ax.step(cr[front][order], loss[front][order], where="post", color="C0", marker="o", ms=3, label=label)
    ax.axhline(max_loss, ls="--", color="C3", lw=1, label=f"max loss {max_loss:g} pt")
    if target is not None:
        ax.scatter([target[1]], [100 * (baseline_accuracy - target[0])], marker="*", s=150, color="C1",
                   zorder=5, label="target")
    ax.set_xlabel("compression rate (true)" if cr_key == "cr_true" else f"compression rate ({cr_key})")
    ax.set_ylabel("accuracy loss [points]")
    ax.legend(fontsize=8)
    return ax


def feasible_cr(baseline_accuracy: float, max_loss: float = 1.0, cr_key: str = "cr_true") -> Callable[[dict], float]:
    """A progress measure comparable across targets: the record's CR if its loss <= ``max_loss``, else NaN."""
    def value(r):
        return r[cr_key] if 100 * (baseline_accuracy - r["accuracy"]) <= max_loss + 1e-9 else np.nan
    return value


def best_so_far(records: Sequence[dict], value: str | Callable = "fitness") -> np.ndarray:
    """Running maximum of ``value`` (a record key or a function) over evaluations; NaN before the first."""
    get = value if callable(value) else (lambda r: r[value])
    v = np.array([get(r) for r in records], float)
    return np.fmax.accumulate(v) if len(v) else v


def plot_progress(runs: Mapping[str, Sequence[Sequence[dict]]], value: str | Callable = "fitness", *, ax=None,
                  ylabel: str | None = None):
    """Best-so-far ``value`` over evaluations: median line and interquartile band per label.

    ``runs``: ``{"GA": [history_seed0, history_seed1, ...], "PSO": [...]}``. With a dynamic target
    the fitness scale moves during a run; pass ``value=feasible_cr(baseline)`` to compare runs on CR.
    """
    ax = _ax(ax)
    for i, (label, histories) in enumerate(runs.items()):
        curves = [best_so_far(h, value) for h in histories if len(h)]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        stack = np.array([c[:n] for c in curves])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any feasible point
            q1, med, q3 = np.nanpercentile(stack, [25, 50, 75], axis=0)
        x = np.arange(1, n + 1)
        ax.plot(x, med, color=f"C{i}", label=f"{label} (n={len(curves)})")
        ax.fill_between(x, q1, q3, color=f"C{i}", alpha=0.2)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(ylabel or (value if isinstance(value, str) else "best so far"))
    ax.legend(fontsize=8)
    return ax


def plot_explored(records: Sequence[dict], *, x: str = "cr_true", y: str = "accuracy", ax=None):
    """Every evaluated point, coloured by when it was evaluated (dark = early, yellow = late)."""
    ax = _ax(ax)
    sc = ax.scatter([r[x] for r in records], [r[y] for r in records], c=[r["evaluation"] for r in records],
                    s=10, cmap="viridis")
    ax.figure.colorbar(sc, ax=ax, label="evaluation")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax
