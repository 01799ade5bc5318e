"""Argument checks shared by the compression modules: one home for each rule and its message.

Each returns the validated value in a canonical type, or raises ``ValueError`` saying what was
wrong and what to give instead.
"""
from __future__ import annotations

import numpy as np


def check_values(values) -> np.ndarray:
    """``values`` as a flat float64 array: non-empty and finite."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("cannot cluster an empty array of values")
    if not np.all(np.isfinite(v)):
        bad = int(np.count_nonzero(~np.isfinite(v)))
        raise ValueError(f"values contain {bad} NaN/inf entries; clean the weights before sharing")
    return v


def check_k(k, n_distinct: int, what: str = "k") -> int:
    """``k`` as an int in ``1..n_distinct`` (a cluster per distinct value at most)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{what} must be an int, got {k!r}")
    if k < 1:
        raise ValueError(f"{what} must be >= 1, got {k}")
    if k > n_distinct:
        raise ValueError(f"{what}={k} is larger than the number of distinct values ({n_distinct}); "
                         f"use {what} <= {n_distinct}")
    return int(k)


def check_ks(ks, layer_names, distinct=None, k_max: int | None = None) -> list[int]:
    """One cluster count per weight layer: a sequence in layer order or ``{name: k}``.

    ``distinct``: each layer's number of distinct weights (an upper bound for its k);
    ``k_max``: a global upper bound (the exact DP precomputes up to it).
    """
    layer_names = list(layer_names)
    if isinstance(ks, dict):
        unknown = set(ks) - set(layer_names)
        if unknown:
            raise ValueError(f"unknown layer names {sorted(unknown)}; the weight layers are {layer_names}")
        missing = [n for n in layer_names if n not in ks]
        if missing:
            raise ValueError(f"no k given for layers {missing}")
        ks = [ks[n] for n in layer_names]
    ks = list(ks)
    if len(ks) != len(layer_names):
        raise ValueError(f"ks has {len(ks)} entries but the model has {len(layer_names)} weight layers "
                         f"({', '.join(layer_names)}); give one k per layer")
    for i, (k, name) in enumerate(zip(ks, layer_names)):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k for layer {name!r} must be an int >= 1, got {k!r}")
        if distinct is not None and k > distinct[i]:
            raise ValueError(f"k={k} for layer {name!r} is larger than its {distinct[i]} distinct weights")
        if k_max is not None and k > k_max:
            raise ValueError(f"k={k} for layer {name!r} exceeds k_max={k_max}; "
                             f"build the evaluator with a larger k_max")
    return [int(k) for k in ks]


def check_xy(x, y) -> None:
    """``x`` and ``y`` hold the same number of samples."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
