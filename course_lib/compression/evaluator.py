"""A fast fitness evaluator for the search over per-layer cluster counts.

Each layer's shared weights are computed once per ``(layer, k, codebook, method)`` and kept in
memory and (with ``cache_dir``) on disk, so one evaluation is "write cached weights, run
inference". With the default exact DP one pass per layer yields every ``k <= k_max``.
Repeated vectors are answered from a memo. For PyTorch models that ``torch.fx`` can trace,
inference reuses cached activations of the layers a vector did not change
(:mod:`.staged`; exact, same predictions). ``stats`` says where the time went.

Thread safety: an evaluator owns a private copy of the model and serialises evaluations with a
lock, so it may be shared by threads (they gain nothing: one evaluation runs at a time). It
pickles (the lock is re-created) when the model does (PyTorch models do); a Keras-backed one is
meant for in-process use.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .codebook import check_codebook, codebook_bits, quantize
from .kmeans1d import METHODS, cluster1d, kmeans1d_all
from .layers import adapter
from .rate import compression_rate


class CachedEvaluator:
    """Accuracy and compression rate of per-layer cluster-count vectors on one data split.

    ``model``: ``torch.nn.Module`` or Keras model (copied; the original is never modified).
    ``x, y``: the split used for fitness (validation), ``x`` in the model's input layout.
    ``codebook``: codebook format name; ``k_max``: the largest k the DP precomputes;
    ``cache_dir``: folder for the clustering and search-space caches (None: memory only);
    ``method``: ``"dp"`` (exact) or a scikit-learn method of :func:`cluster1d`.
    ``activation_cache_mb``: budget for reused activations (0 turns staged inference off).
    ``threads``: PyTorch intra-op threads during inference (restored afterwards); None leaves
    the setting alone. Default 1: LeNet-sized models on the shared 2-core course machine ran
    2.7x faster single-threaded (``scripts/bench_compression.py``); use None for big models.
    """

    def __init__(self, model, x, y, *, codebook: str = "float32", k_max: int = 50,
                 cache_dir=None, method: str = "dp", seed: int = 0,
                 activation_cache_mb: float = 512, batch_size: int = 1000, threads: int | None = 1):
        check_codebook(codebook)
        if method not in METHODS:
            raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")
        if int(k_max) < 1:
            raise ValueError(f"k_max must be >= 1, got {k_max}")
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        self._ad = adapter(adapter(model).clone())
        self.codebook, self.method, self.k_max, self.seed = codebook, method, int(k_max), seed
        self.layer_names = [l.name for l in self._ad.layers]
        self.layer_sizes = [l.size for l in self._ad.layers]
        self._original = [self._ad.get(i) for i in range(len(self.layer_sizes))]
        for name, w in zip(self.layer_names, self._original):
            if not np.all(np.isfinite(w)):
                raise ValueError(f"layer {name!r} has NaN/inf weights; cannot share it")
        self._distinct = [len(np.unique(w)) for w in self._original]
        self.x, self.y = self._prepare(x), np.asarray(y)
        self.model_hash = self._hash_model()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._paths: dict[int, object] = {}                       # layer -> KMeans1DPath
        self._weights: dict[tuple[int, int], np.ndarray] = {}     # (layer, k) -> shared weights
        self._ks_stored: dict[tuple[int, int], int] = {}
        self._memo: dict[tuple[int, ...], dict] = {}
        self._single: dict[tuple[int, int], float] = {}           # (layer, k) -> accuracy
        self._current: list[int | None] = [None] * len(self.layer_sizes)  # None: original weights
        self._lock = threading.Lock()
        self.stats = {"evaluations": 0, "memo_hits": 0, "clusterings": 0, "cluster_cache_hits": 0,
                      "disk_cache_hits": 0, "cluster_seconds": 0.0, "infer_seconds": 0.0}
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
        self.stats["staged_inference"] = self._staged is not None
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
        if self.stats.get("staged_inference"):
            from .staged import StagedForward

            self._staged = StagedForward(self._ad.model, self.layer_names, self.activation_cache_mb)

    # --- helpers ------------------------------------------------------------------------------
    def _prepare(self, x):
        if self._ad.framework == "torch":
            import torch

            return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return np.asarray(x, dtype=np.float32)

    def _hash_model(self) -> str:
        h = hashlib.sha256()
        for name, w in zip(self.layer_names, self._original):
            h.update(name.encode())
            h.update(np.ascontiguousarray(w).tobytes())
        return h.hexdigest()[:16]

    def _data_hash(self, x, y) -> str:
        h = hashlib.sha256(np.ascontiguousarray(np.asarray(x, np.float32)).tobytes())
        h.update(np.ascontiguousarray(np.asarray(y)).tobytes())
        return h.hexdigest()[:16]

    def _cluster_file(self, layer: int, k: int) -> Path | None:
        if self.cache_dir is None:
            return None
        return (self.cache_dir / f"clusters-{self.model_hash}" / f"{self.codebook}-{self.method}"
                / f"{self.layer_names[layer]}-k{k}.npz")

    def check_ks(self, ks) -> tuple[int, ...]:
        """``ks`` validated: one int per layer, 1 <= k <= min(k_max, distinct weights)."""
        ks = tuple(ks)
        if len(ks) != len(self.layer_sizes):
            raise ValueError(f"ks has {len(ks)} entries but the model has {len(self.layer_sizes)} weight "
                             f"layers ({', '.join(self.layer_names)}); give one k per layer")
        for k, name, d in zip(ks, self.layer_names, self._distinct):
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
                raise ValueError(f"k for layer {name!r} must be an int >= 1, got {k!r}")
            if k > d:
                raise ValueError(f"k={k} for layer {name!r} is larger than its {d} distinct weights")
            if self.method == "dp" and k > self.k_max:
                raise ValueError(f"k={k} for layer {name!r} exceeds k_max={self.k_max}; "
                                 f"build the evaluator with a larger k_max")
        return tuple(int(k) for k in ks)

    def shared_weights(self, layer: int, k: int) -> np.ndarray:
        """Layer ``layer``'s weights shared with ``k`` clusters (cached; do not modify)."""
        key = (layer, k)
        if key in self._weights:
            self.stats["cluster_cache_hits"] += 1
            return self._weights[key]
        t = time.perf_counter()
        w = self._original[layer]
        path = self._cluster_file(layer, k)
        if path is not None and path.exists():
            with np.load(path) as f:
                cb, idx = f["codebook"], f["indices"]
            self.stats["disk_cache_hits"] += 1
        else:
            if self.method == "dp":
                if layer not in self._paths:
                    self._paths[layer] = kmeans1d_all(w, min(self.k_max, self._distinct[layer]))
                    self.stats["clusterings"] += 1
                centroids = self._paths[layer].centroids(k)
            else:
                centroids, _ = cluster1d(w, k, self.method, self.seed)
                self.stats["clusterings"] += 1
            cb, idx = quantize(w, centroids, self.codebook)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                # a per-process name: parallel workers filling one cache must not share a temp file
                tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp.npz")
                np.savez(tmp, codebook=cb, indices=idx.astype(np.uint8 if len(cb) <= 256 else np.int64))
                tmp.replace(path)
        shared = cb.astype(np.float32)[idx].reshape(w.shape)
        self._weights[key] = shared
        self._ks_stored[key] = len(cb)
        self.stats["cluster_seconds"] += time.perf_counter() - t
        return shared

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
        self.stats["infer_seconds"] += time.perf_counter() - t
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
            for i, k in enumerate(ks):
                self.shared_weights(i, k)
            return [self._ks_stored[(i, k)] for i, k in enumerate(ks)]

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
                self.stats["memo_hits"] += 1
                return dict(self._memo[ks], seconds=time.perf_counter() - t)
            acc = self._accuracy(ks, self.x, self.y, own_split=True)
            stored = [self._ks_stored[(i, k)] for i, k in enumerate(ks)]
            bits = codebook_bits(self.codebook)
            result = {"accuracy": acc,
                      "cr_true": compression_rate(self.layer_sizes, stored, bits, 32, "true"),
                      "cr_thesis_mean": compression_rate(self.layer_sizes, stored, bits, 32, "thesis-mean"),
                      "ks_stored": stored}
            self.stats["evaluations"] += 1
            self._memo[ks] = result
            return dict(result, seconds=time.perf_counter() - t)

    def accuracy_on(self, ks, x, y) -> float:
        """Accuracy (fraction) of the same sharing on another split, e.g. the test split."""
        ks = self.check_ks(ks)
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
        with self._lock:
            return self._accuracy(ks, self._prepare(x), np.asarray(y))

    def single_layer_accuracy(self, layer: int, k: int) -> float:
        """Accuracy with only layer ``layer`` shared to ``k`` clusters, the rest original (memoised)."""
        assignment = [None] * len(self.layer_sizes)
        assignment[layer] = k
        with self._lock:
            if (layer, k) in self._single:
                self.stats["memo_hits"] += 1
                return self._single[(layer, k)]
            acc = self._single[(layer, k)] = self._accuracy(assignment, self.x, self.y, own_split=True)
            return acc

    def reduce_space(self, threshold: float | None = None, k_range=range(1, 51), *,
                     threshold_loss: float | None = None, progress: bool = True) -> list[list[int]]:
        """Search-space reduction (spec section 4, Dupuis et al. 2022).

        For each layer and each ``k`` in ``k_range``, share only that layer and keep ``k`` if the
        accuracy on the evaluator's split is ``>= threshold`` (a fraction, e.g. 0.97). Or give
        ``threshold_loss`` in percentage points below :attr:`baseline_accuracy` instead (e.g. 1.0
        keeps k whose single-layer loss is at most 1 point): our offline LeNet-5 sits at ~97.3 %
        validation accuracy, so the thesis's absolute 97 % would keep almost nothing useful.
        Values of ``k`` above a layer's distinct weights (or ``k_max`` for the DP) are skipped.
        Cached as JSON in ``cache_dir`` (key: model, data, codebook, method, range, threshold).
        Returns one sorted list of allowed k per layer (a list is empty when no k passes).
        """
        if (threshold is None) == (threshold_loss is None):
            raise ValueError("give exactly one of threshold (a fraction, e.g. 0.97) or "
                             "threshold_loss (percentage points below the baseline, e.g. 1.0)")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a fraction in [0, 1], got {threshold} (did you mean {threshold / 100}?)")
        cut = threshold if threshold is not None else self.baseline_accuracy - threshold_loss / 100
        k_values = [int(k) for k in k_range]
        if not k_values or min(k_values) < 1:
            raise ValueError(f"k_range must hold ints >= 1, got {k_range!r}")
        x = self.x.numpy() if hasattr(self.x, "numpy") else self.x
        key = {"model": self.model_hash, "data": self._data_hash(x, self.y),
               "codebook": self.codebook, "method": self.method, "k_range": k_values,
               "threshold": threshold, "threshold_loss": threshold_loss}
        file = None
        if self.cache_dir is not None:
            digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
            file = self.cache_dir / f"reduced-space-{digest}.json"
            if file.exists():
                return json.loads(file.read_text())["allowed"]
        allowed, table = [], []
        total = sum(1 for i in range(len(self.layer_sizes)) for k in k_values if self._k_ok(i, k))
        with tqdm(total=total, desc="search-space reduction", disable=not progress) as bar:
            for i, name in enumerate(self.layer_names):
                keep, accs = [], {}
                for k in k_values:
                    if not self._k_ok(i, k):
                        continue
                    accs[k] = self.single_layer_accuracy(i, k)
                    if accs[k] >= cut:
                        keep.append(k)
                    bar.update()
                if not keep:
                    warnings.warn(f"reduce_space: no k in the range keeps layer {name!r} at accuracy >= {cut:.4f}")
                allowed.append(sorted(keep))
                table.append(accs)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps({"key": key, "cut": cut, "layers": self.layer_names,
                                        "allowed": allowed,
                                        "accuracy": [{str(k): a for k, a in t.items()} for t in table]},
                                       indent=1))
        return allowed

    def _k_ok(self, layer: int, k: int) -> bool:
        return k <= self._distinct[layer] and (self.method != "dp" or k <= self.k_max)
