"""Compression rate of weight sharing (``docs/method.md``, section 1).

A group of ``p`` weights of ``value_bits`` bits shared with ``k`` clusters stores ``p`` indices of
``b_k = ceil(log2 k)`` bits (0 when k = 1) and a codebook of ``k`` entries, counted as in the
thesis at ``codebook_bits + b_k`` bits each::

    CR = p * value_bits / (p * b_k + k * (codebook_bits + b_k))
"""
from __future__ import annotations

import math

MODES = ("true", "thesis-mean")


def index_bits(k: int) -> int:
    """Bits of one index into a codebook of ``k`` entries: ceil(log2 k), 0 for k = 1."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return math.ceil(math.log2(k)) if k > 1 else 0


def layer_bits(p: int, k: int, codebook_bits: int = 32) -> int:
    """Bits of one shared group: indices plus codebook (the formula's denominator)."""
    b = index_bits(k)
    return p * b + k * (codebook_bits + b)


def compression_rate(layer_sizes, ks, codebook_bits: int = 32, value_bits: int = 32,
                     mode: str = "true") -> float:
    """Compression rate of sharing groups of ``layer_sizes`` weights with ``ks`` clusters.

    ``mode="true"``: the ratio of total bits (sum of numerators over sum of denominators), the
    course's CR. ``mode="thesis-mean"``: the unweighted mean of the per-layer ratios, which is
    what the thesis reported (kept to reproduce its tables; it overstates the true ratio).
    """
    sizes, ks = list(layer_sizes), list(ks)
    if len(sizes) != len(ks):
        raise ValueError(f"got {len(ks)} cluster counts for {len(sizes)} layers; give one k per layer")
    if not sizes:
        raise ValueError("layer_sizes is empty: nothing to compress")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose 'true' or 'thesis-mean'")
    for p, k in zip(sizes, ks):
        if p < 1:
            raise ValueError(f"layer sizes must be >= 1, got {p}")
        if k > p:
            raise ValueError(f"k={k} is larger than its layer's {p} weights")
    bits = [layer_bits(p, k, codebook_bits) for p, k in zip(sizes, ks)]
    if mode == "true":
        return sum(p * value_bits for p in sizes) / sum(bits)
    return sum(p * value_bits / b for p, b in zip(sizes, bits)) / len(sizes)
