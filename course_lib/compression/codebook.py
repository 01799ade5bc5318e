"""Codebook precision: the representatives stored in a real, smaller float format.

After casting, equal representatives collapse into one entry and each weight is mapped to the
nearest cast representative, so the stored ``k`` can be smaller than the requested one.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ..deprecation import deprecated_alias

# name -> numpy dtype of the stored codebook entries (FP8: E4M3 "fn" variant without inf, and E5M2)
CODEBOOKS = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float8_e4m3": np.dtype(ml_dtypes.float8_e4m3fn),
    "float8_e5m2": np.dtype(ml_dtypes.float8_e5m2),
}


def check_codebook(name: str) -> str:
    if name not in CODEBOOKS:
        raise ValueError(f"unknown codebook {name!r}; choose one of {', '.join(CODEBOOKS)}")
    return name


def codebook_bits(name: str) -> int:
    """Bits per codebook entry: float32 32, float16/bfloat16 16, float8_* 8."""
    return CODEBOOKS[check_codebook(name)].itemsize * 8


def codebook_dtype(name: str) -> np.dtype:
    return CODEBOOKS[check_codebook(name)]


def round_to(values, name: str) -> np.ndarray:
    """Each value rounded to the format ``name`` (same order), as float32.

    Values beyond the format's finite range are clipped to it (weights never get there in practice).
    """
    dt = codebook_dtype(name)
    info = ml_dtypes.finfo(dt)
    c = np.clip(np.asarray(values, dtype=np.float32), float(info.min), float(info.max))
    return c.astype(dt).astype(np.float32)


def cast(centroids, name: str) -> np.ndarray:
    """``centroids`` rounded to the format ``name``: float32, sorted, duplicates removed."""
    return np.unique(round_to(centroids, name))


def nearest(values, codebook) -> np.ndarray:
    """Index of the nearest entry of the sorted ``codebook`` (k,) for each of ``values`` (n,).

    Ties (a value exactly halfway) go to the lower entry.
    """
    v = np.asarray(values, dtype=np.float32).ravel()
    cb = np.asarray(codebook, dtype=np.float32)
    if cb.size == 1:
        return np.zeros(v.size, dtype=np.int64)
    mids = (cb[:-1].astype(np.float64) + cb[1:]) / 2
    return np.searchsorted(mids, v, side="left")


def snap_to_codebook(values, centroids, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Cast ``centroids`` to the format ``name`` and map every value to its nearest cast entry.

    Returns ``(codebook float32 (k',), indices (n,))``: only entries that some value uses are
    kept (k' <= k), indices into that codebook.
    """
    cb = cast(centroids, name)
    idx = nearest(values, cb)
    used, idx = np.unique(idx, return_inverse=True)
    return cb[used], idx.ravel()


# not quantization.quantize (a linear integer grid): this one snaps to a learned codebook
quantize = deprecated_alias(snap_to_codebook, "course_lib.compression.quantize",
                            "course_lib.compression.snap_to_codebook")
