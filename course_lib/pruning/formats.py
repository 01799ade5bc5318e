"""Bytes a sparse weight tensor takes in the usual storage formats (Han et al., 2016; EIE).

- ``dense``: every weight, ``value_bits`` each.
- ``bitmask``: one bit per weight (kept or not) + the non-zero values.
- ``csr``: the tensor viewed as ``(shape[0], rest)``; per non-zero a value and a column index,
  plus ``rows + 1`` row pointers (``index_bits`` each; 32 = scipy's int32).
- ``relative``: per entry a value and the number of zeros skipped since the previous entry in
  ``index_bits`` bits; runs longer than ``2**index_bits - 1`` need a filler entry (a stored
  zero). ``index_bits=None`` picks the cheapest width in 1..8.

Totals are rounded up to whole bytes; metadata (shapes, codebooks) is not counted.
"""
from __future__ import annotations

import numpy as np

from ..compression.sparse_format import MAX_BITS, relative_indices

FORMATS = ("dense", "bitmask", "csr", "relative")


def _relative_bits(nonzero, value_bits: int, index_bits: int) -> int:
    gaps, _ = relative_indices(nonzero, index_bits)
    return gaps.size * (value_bits + index_bits)


def sparse_bytes(w, fmt: str = "csr", value_bits: int = 32, index_bits: int | None = None) -> int:
    """Storage of ``w`` (any shape; zeros are the pruned weights) in ``fmt``, in bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown sparse format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not (isinstance(value_bits, (int, np.integer)) and value_bits > 0):
        raise ValueError(f"value_bits must be a positive int, got {value_bits!r}")
    w = np.asarray(w)
    nonzero = (w != 0).ravel()
    n, nnz = w.size, int(nonzero.sum())
    if fmt == "dense":
        bits = n * value_bits
    elif fmt == "bitmask":
        bits = n + nnz * value_bits
    elif fmt == "csr":
        ib = 32 if index_bits is None else int(index_bits)
        rows = w.shape[0] if w.ndim > 1 else 1
        bits = nnz * (value_bits + ib) + (rows + 1) * ib
    elif index_bits is None:
        bits = min(_relative_bits(nonzero, value_bits, b) for b in range(1, MAX_BITS + 1))
    else:
        bits = _relative_bits(nonzero, value_bits, int(index_bits))
    return -(-bits // 8)
