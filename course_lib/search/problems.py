"""Cheap synthetic problems with known optima, for tests, lectures and tuning algorithms.

Each is a picklable callable ``problem(genes) -> dict`` (so process pools can run it).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


class Sphere:
    """``value = -sum((x - optimum)^2)``: maximum 0 at ``optimum`` (integer genes)."""

    def __init__(self, optimum: Sequence[int]):
        self.optimum = np.asarray(optimum, float)

    def __call__(self, genes) -> dict:
        return {"value": -float(np.sum((np.asarray(genes, float) - self.optimum) ** 2))}


class OneMax:
    """``value = 1 + number of genes equal to their target label``: maximum ``1 + len(target)``.

    Strictly positive, so roulette selection can use it; works with categorical genes.
    """

    def __init__(self, target: Sequence):
        self.target = list(target)

    def __call__(self, genes) -> dict:
        return {"value": 1.0 + sum(g == t for g, t in zip(genes, self.target))}


class ToyCompression:
    """A stand-in for weight sharing: per-layer cluster counts ``ks`` -> accuracy and true CR.

    Fewer clusters compress more (CR from the true-CR formula of ``docs/method.md`` with 32-bit weights and a 32-bit
    codebook) but cost accuracy: layer ``l`` loses ``sensitivity[l] / k**2`` of accuracy.
    The trade-off is smooth and known, so tests can check what a search should find.
    """

    def __init__(self, layer_sizes=(150, 2400, 48000, 10080, 840), sensitivity=(0.02, 0.04, 0.08, 0.04, 0.01),
                 baseline: float = 0.98):
        self.layer_sizes, self.sensitivity, self.baseline = list(layer_sizes), list(sensitivity), baseline

    def __call__(self, ks) -> dict:
        bits = sum(p * _bits(k) + k * (32 + _bits(k)) for p, k in zip(self.layer_sizes, ks))
        cr = 32 * sum(self.layer_sizes) / bits
        acc = self.baseline - sum(s / k ** 2 for s, k in zip(self.sensitivity, ks))
        return {"accuracy": acc, "cr_true": cr}


def _bits(k: int) -> int:
    return int(np.ceil(np.log2(k))) if k > 1 else 0
