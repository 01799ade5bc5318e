"""Per-layer clusterings computed once: ``(layer, k) -> shared weights``, in memory and on disk.

With the exact DP (:func:`.kmeans1d_all`) one pass over a layer yields every ``k <= k_max``;
each ``(layer, k)`` is then snapped to the codebook format once and kept. With ``cache_dir``
the codebook and indices are also written as ``.npz`` files keyed by a hash of the weights, so
another process (a parallel worker, a resumed run) reads them instead of clustering again.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import numpy as np

from .codebook import snap_to_codebook
from .kmeans1d import cluster1d, kmeans1d_all


class ClusterCache:
    """Shared weights of each layer of ``weights`` (a list of arrays) for any ``k``.

    ``codebook_format``: format name of the stored values; ``method``: ``"dp"`` or a
    scikit-learn method of :func:`cluster1d` (seeded with ``seed``); ``k_max``: the largest k the
    DP precomputes; ``cache_dir``: folder for the ``.npz`` files (None: memory only).
    ``stats`` counts clusterings and cache hits.
    """

    def __init__(self, weights, names, *, codebook_format: str, method: str = "dp", k_max: int = 50,
                 seed: int = 0, cache_dir=None):
        self.weights, self.names = [np.asarray(w) for w in weights], list(names)
        self.codebook_format, self.method, self.k_max, self.seed = codebook_format, method, int(k_max), seed
        self.distinct = [len(np.unique(w)) for w in self.weights]
        self.model_hash = weights_hash(self.names, self.weights)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._paths: dict[int, object] = {}                       # layer -> KMeans1DPath
        self._shared: dict[tuple[int, int], np.ndarray] = {}      # (layer, k) -> shared weights
        self._k_stored: dict[tuple[int, int], int] = {}
        self.stats = {"clusterings": 0, "cluster_cache_hits": 0, "disk_cache_hits": 0, "cluster_seconds": 0.0}

    def k_ok(self, layer: int, k: int) -> bool:
        """Whether layer ``layer`` can be shared with ``k`` clusters here."""
        return k <= self.distinct[layer] and (self.method != "dp" or k <= self.k_max)

    def file(self, layer: int, k: int) -> Path | None:
        if self.cache_dir is None:
            return None
        return (self.cache_dir / f"clusters-{self.model_hash}" / f"{self.codebook_format}-{self.method}"
                / f"{self.names[layer]}-k{k}.npz")

    def shared_weights(self, layer: int, k: int) -> np.ndarray:
        """Layer ``layer``'s weights shared with ``k`` clusters (cached; do not modify)."""
        key = (layer, k)
        if key in self._shared:
            self.stats["cluster_cache_hits"] += 1
            return self._shared[key]
        t = time.perf_counter()
        cb, idx = self._load(layer, k)
        if cb is None:
            cb, idx = snap_to_codebook(self.weights[layer], self._centroids(layer, k), self.codebook_format)
            self._save(layer, k, cb, idx)
        shared = cb.astype(np.float32)[idx].reshape(self.weights[layer].shape)
        self._shared[key], self._k_stored[key] = shared, len(cb)
        self.stats["cluster_seconds"] += time.perf_counter() - t
        return shared

    def k_stored(self, layer: int, k: int) -> int:
        """Codebook entries layer ``layer`` stores with ``k`` clusters (< k when the cast merged some)."""
        self.shared_weights(layer, k)
        return self._k_stored[(layer, k)]

    def _centroids(self, layer: int, k: int) -> np.ndarray:
        if self.method != "dp":
            self.stats["clusterings"] += 1
            return cluster1d(self.weights[layer], k, self.method, self.seed)[0]
        if layer not in self._paths:
            self._paths[layer] = kmeans1d_all(self.weights[layer], min(self.k_max, self.distinct[layer]))
            self.stats["clusterings"] += 1
        return self._paths[layer].centroids(k)

    def _load(self, layer: int, k: int):
        path = self.file(layer, k)
        if path is None or not path.exists():
            return None, None
        with np.load(path) as f:
            self.stats["disk_cache_hits"] += 1
            return f["codebook"], f["indices"]

    def _save(self, layer: int, k: int, cb, idx) -> None:
        path = self.file(layer, k)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # a per-process name: parallel workers filling one cache must not share a temp file
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, codebook=cb, indices=idx.astype(np.uint8 if len(cb) <= 256 else np.int64))
        tmp.replace(path)


def weights_hash(names, weights) -> str:
    """A short hash of named weight arrays (the disk caches' key)."""
    h = hashlib.sha256()
    for name, w in zip(names, weights):
        h.update(name.encode())
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()[:16]
