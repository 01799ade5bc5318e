"""A fast fitness evaluator for the search over per-layer cluster counts.

Each layer's shared weights come from a :class:`.ClusterCache` (computed once per ``(layer, k)``,
kept in memory and, with ``cache_dir``, on disk), so one evaluation is "write cached weights, run
inference".
Repeated vectors are answered from a memo. For PyTorch models that ``torch.fx`` can trace,
inference reuses cached activations of the layers a vector did not change
(:mod:`.staged`; exact, same predictions). ``stats`` says where the time went.

Thread safety: an evaluator owns a private copy of the model and serialises evaluations with a
lock, so it may be shared by threads (they gain nothing: one evaluation runs at a time). It
pickles (the lock is re-created) when the model does (PyTorch models do); a Keras-backed one is
meant for in-process use.
"""
from __future__ import annotations

import threading
import time
import warnings

import numpy as np

from ..deprecation import renamed_keywords, warn_renamed
from .checks import check_ks, check_xy
from .cluster_cache import ClusterCache
from .codebook import check_codebook, codebook_bits
from .kmeans1d import METHODS
from .layers import adapter
from .rate import compression_rate


class CachedEvaluator:
    """Accuracy and compression rate of per-layer cluster-count vectors on one data split.

    ``model``: ``torch.nn.Module`` or Keras model (copied; the original is never modified).
    ``x, y``: the split used for fitness (validation), ``x`` in the model's input layout.
    ``codebook_format``: codebook format name; ``k_max``: the largest k the DP precomputes;
    ``cache_dir``: folder for the clustering and search-space caches (None: memory only);
    ``method``: ``"dp"`` (exact) or a scikit-learn method of :func:`cluster1d`.
    ``activation_cache_mb``: budget for reused activations (0 turns staged inference off).
    ``threads``: PyTorch intra-op threads during inference (restored afterwards); None leaves
    the setting alone. Default 1: LeNet-sized models on a loaded 2-core machine ran 2.7x faster
    single-threaded (``scripts/bench_compression.py``); use None for big models.
    """

    @renamed_keywords("course_lib.compression.CachedEvaluator", codebook="codebook_format")
    def __init__(self, model, x, y, *, codebook_format: str = "float32", k_max: int = 50,
                 cache_dir=None, method: str = "dp", seed: int = 0,
                 activation_cache_mb: float = 512, batch_size: int = 1000, threads: int | None = 1):
        check_codebook(codebook_format)
        if method not in METHODS:
            raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")
        if int(k_max) < 1:
            raise ValueError(f"k_max must be >= 1, got {k_max}")
        check_xy(x, y)
        self._ad = adapter(adapter(model).clone())
        self.layer_names = [l.name for l in self._ad.layers]
        self.layer_sizes = [l.size for l in self._ad.layers]
        self._original = [self._ad.get(i) for i in range(len(self.layer_sizes))]
        for name, w in zip(self.layer_names, self._original):
            if not np.all(np.isfinite(w)):
                raise ValueError(f"layer {name!r} has NaN/inf weights; cannot share it")
        self.clusters = ClusterCache(self._original, self.layer_names, codebook_format=codebook_format, method=method,
                                     k_max=k_max, seed=seed, cache_dir=cache_dir)
        self.codebook, self.method, self.k_max, self.seed = codebook_format, method, int(k_max), seed
        self.cache_dir, self.model_hash = self.clusters.cache_dir, self.clusters.model_hash
        self.x, self.y = self._prepare(x), np.asarray(y)
        self._memo: dict[tuple[int, ...], dict] = {}
        self._single: dict[tuple[int, int], float] = {}           # (layer, k) -> accuracy
        self._current: list[int | None] = [None] * len(self.layer_sizes)  # None: original weights
        self._lock = threading.Lock()
        self._stats = {"evaluations": 0, "memo_hits": 0, "infer_seconds": 0.0}
        self.batch_size = int(batch_size)
        self.threads = threads
        self.activation_cache_mb = activation_cache_mb
        self._staged = None
        if self._ad.framework == "torch" and activation_cache_mb > 0:
            from .staged import StagedForward

            self._ad.model.eval()
            try:
                self._staged = StagedForward(self._ad.model, self.layer_names, activation_cache_mb)
                self._batches = list(self.x.split(self.batch_size))
            except Exception as e:  # untraceable forward (data-dependent control flow): plain inference
                warnings.warn(f"staged inference off, torch.fx could not trace the model: {e}")
        self._stats["staged_inference"] = self._staged is not None
        self.baseline_accuracy = self._accuracy([None] * len(self.layer_sizes), self.x, self.y, own_split=True)

    # --- pickling: drop the lock, keep everything else ----------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_lock"]
        state["_staged"] = None  # the traced graph and its activation cache are rebuilt, not shipped
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        if self._stats.get("staged_inference"):
            from .staged import StagedForward

            self._staged = StagedForward(self._ad.model, self.layer_names, self.activation_cache_mb)

    # --- helpers ------------------------------------------------------------------------------
    def _prepare(self, x):
        if self._ad.framework == "torch":
            import torch

            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return np.asarray(x, dtype=np.float32)

    @property
    def stats(self) -> dict:
        """Where the time went: evaluations, memo hits, inference seconds and the clustering
        cache's counters (clusterings, cache hits, clustering seconds)."""
        return {**self._stats, **self.clusters.stats}

    def check_ks(self, ks) -> tuple[int, ...]:
        """``ks`` validated: one int per layer, 1 <= k <= min(k_max, distinct weights)."""
        return tuple(check_ks(ks, self.layer_names, self.clusters.distinct,
                              self.k_max if self.method == "dp" else None))

    def shared_weights(self, layer: int, k: int) -> np.ndarray:
        """Layer ``layer``'s weights shared with ``k`` clusters (cached; do not modify)."""
        return self.clusters.shared_weights(layer, k)

    def _apply(self, assignment) -> None:
        """Write layer weights: ``assignment[i]`` is a k, or None for the original weights."""
        for i, k in enumerate(assignment):
            if self._current[i] == k:
                continue
            self._ad.set(i, self._original[i] if k is None else self.shared_weights(i, k))
            self._current[i] = k

    def _accuracy(self, assignment, x, y, own_split: bool = False) -> float:
        self._apply(assignment)
        t = time.perf_counter()
        before = self._set_threads(self.threads)
        try:
            if own_split and self._staged is not None:
                pred = self._staged.run(self._batches, [0 if k is None else k for k in assignment])
            else:
                pred = self._ad.predict(x, self.batch_size)
        finally:
            self._set_threads(before)
        acc = float((pred == y).mean())
        self._stats["infer_seconds"] += time.perf_counter() - t
        return acc

    def _set_threads(self, n):
        """Set torch's intra-op threads to ``n`` (None: no change); returns the previous value."""
        if n is None or self._ad.framework != "torch":
            return None
        import torch

        before = torch.get_num_threads()
        if n != before:
            torch.set_num_threads(n)
        return before

    def ks_stored(self, ks) -> list[int]:
        """Codebook entries each layer really stores (< k when the cast merged entries)."""
        ks = self.check_ks(ks)
        with self._lock:
            return [self.clusters.k_stored(i, k) for i, k in enumerate(ks)]

    # --- the API the search uses ---------------------------------------------------------------
    def __call__(self, ks) -> dict:
        """``{"accuracy", "cr_true", "cr_thesis_mean", "seconds", "ks_stored"}`` of sharing ``ks``.

        Accuracy is a fraction on the evaluator's split; CRs count the stored codebook entries
        (float32 of 32 bits as the uncompressed value). ``seconds``: time of this evaluation
        (near 0 for a memo hit).
        """
        t = time.perf_counter()
        ks = self.check_ks(ks)
        with self._lock:
            if ks in self._memo:
                self._stats["memo_hits"] += 1
                return dict(self._memo[ks], seconds=time.perf_counter() - t)
            acc = self._accuracy(ks, self.x, self.y, own_split=True)
            stored = [self.clusters.k_stored(i, k) for i, k in enumerate(ks)]
            bits = codebook_bits(self.codebook)
            result = {"accuracy": acc,
                      "cr_true": compression_rate(self.layer_sizes, stored, bits, 32, "true"),
                      "cr_thesis_mean": compression_rate(self.layer_sizes, stored, bits, 32, "thesis-mean"),
                      "ks_stored": stored}
            self._stats["evaluations"] += 1
            self._memo[ks] = result
            return dict(result, seconds=time.perf_counter() - t)

    def accuracy_on(self, ks, x, y) -> float:
        """Accuracy (fraction) of the same sharing on another split, e.g. the test split."""
        ks = self.check_ks(ks)
        check_xy(x, y)
        with self._lock:
            return self._accuracy(ks, self._prepare(x), np.asarray(y))

    def single_layer_accuracy(self, layer: int, k: int) -> float:
        """Accuracy with only layer ``layer`` shared to ``k`` clusters, the rest original (memoised)."""
        assignment = [None] * len(self.layer_sizes)
        assignment[layer] = k
        with self._lock:
            if (layer, k) in self._single:
                self._stats["memo_hits"] += 1
                return self._single[(layer, k)]
            acc = self._single[(layer, k)] = self._accuracy(assignment, self.x, self.y, own_split=True)
            return acc

    def reduce_space(self, threshold: float | None = None, k_range=range(1, 51), *,
                     threshold_loss: float | None = None, progress: bool = True) -> list[list[int]]:
        """Deprecated: :func:`course_lib.compression.reduce_space` (``threshold_loss`` is now
        ``max_loss_points``)."""
        from .space_reduction import reduce_space

        warn_renamed("CachedEvaluator.reduce_space(threshold_loss=...)",
                     "course_lib.compression.reduce_space(evaluator, max_loss_points=...)")
        return reduce_space(self, k_range, threshold=threshold, max_loss_points=threshold_loss, progress=progress)
