"""Pareto dominance, a non-dominated archive and the 2-D hypervolume (all objectives maximised).

For compression the objectives are ``(accuracy, cr_true)``: a point dominates another if it is at
least as accurate *and* at least as compressed, and strictly better in one of them.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True if ``a`` is no worse than ``b`` in every objective and better in one (maximising)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(np.all(a >= b) and np.any(a > b))


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Boolean mask ``(N,)`` of the points of ``(N, M)`` that no other point dominates."""
    pts = np.asarray(points, float)
    mask = np.ones(len(pts), bool)
    for i, p in enumerate(pts):
        mask[i] = not np.any(np.all(pts >= p, axis=1) & np.any(pts > p, axis=1))
    return mask


def hypervolume_2d(points: np.ndarray, ref: Sequence[float]) -> float:
    """Area dominated by ``points`` ``(N, 2)`` and bounded below by the reference point ``ref``.

    Points not strictly better than ``ref`` in both objectives add nothing. Units: product of
    the objectives' units (e.g. accuracy fraction x CR).
    """
    pts = np.asarray(points, float).reshape(-1, 2)
    pts = pts[np.all(pts > np.asarray(ref, float), axis=1)]
    area, y_prev = 0.0, float(ref[1])
    for x, y in sorted(pts.tolist(), key=lambda p: (-p[0], -p[1])):  # sweep from the right
        if y > y_prev:
            area += (x - ref[0]) * (y - y_prev)
            y_prev = y
    return area


class ParetoArchive:
    """The non-dominated points seen so far, each with a payload (e.g. the genes and metrics)."""

    def __init__(self, ref: Sequence[float] | None = None):
        self.ref = None if ref is None else [float(r) for r in ref]
        self.points: list[list[float]] = []
        self.payloads: list = []

    def __len__(self) -> int:
        return len(self.points)

    def add(self, objectives: Sequence[float], payload=None) -> bool:
        """Insert a point; returns True if it entered the archive (it is not dominated or a duplicate)."""
        p = [float(v) for v in objectives]
        if any(dominates(q, p) or q == p for q in self.points):
            return False
        keep = [i for i, q in enumerate(self.points) if not dominates(p, q)]
        self.points = [self.points[i] for i in keep] + [p]
        self.payloads = [self.payloads[i] for i in keep] + [payload]
        return True

    def front(self) -> list[tuple[list[float], object]]:
        """``(objectives, payload)`` pairs sorted by the first objective, ascending."""
        return sorted(zip(self.points, self.payloads), key=lambda t: t[0])

    def dominated_by(self, objectives: Sequence[float]) -> int:
        """How many archive points dominate ``objectives``."""
        return sum(dominates(q, objectives) for q in self.points)

    def hypervolume(self, ref: Sequence[float] | None = None) -> float:
        ref = ref if ref is not None else self.ref
        if ref is None:
            raise ValueError("hypervolume needs a reference point: ParetoArchive(ref=...) or hypervolume(ref)")
        return hypervolume_2d(np.array(self.points).reshape(-1, 2), ref) if self.points else 0.0

    def state_dict(self) -> dict:
        return {"ref": self.ref, "points": self.points, "payloads": self.payloads}

    def load_state_dict(self, state: dict) -> None:
        self.ref, self.points, self.payloads = state["ref"], state["points"], state["payloads"]
