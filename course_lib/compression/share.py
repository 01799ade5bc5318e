"""Weight sharing of a model: per layer (one ``k`` per weight layer) or whole model (one ``k``).

The numpy core is :func:`share_values`; :func:`share_model` and :func:`share_whole` apply it to a
PyTorch or Keras model through :mod:`.layers` adapters. Both return a :class:`Shared` record (the
shared model plus each layer's codebook and indices), which :func:`save_compressed` writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..deprecation import renamed_keywords
from .codebook import check_codebook, codebook_bits, snap_to_codebook
from .checks import check_k, check_ks, check_values
from .kmeans1d import cluster1d
from .layers import adapter
from .rate import compression_rate, index_bits


@dataclass
class LayerCode:
    """One shared weight tensor: ``weights == codebook[indices].reshape(shape)``."""
    name: str
    shape: tuple[int, ...]
    codebook: np.ndarray   # float32 (k_stored,), values exactly representable in the codebook format
    indices: np.ndarray    # int64 (size,)
    group: int = 0         # layers of one group share one codebook (whole-model mode)

    @property
    def k(self) -> int:
        return len(self.codebook)

    def weights(self) -> np.ndarray:
        return self.codebook[self.indices].reshape(self.shape)


@dataclass
class Shared:
    """A shared model and how it is coded. ``ks`` as requested; ``ks_stored`` after the codebook
    cast merged equal entries (what a file stores). CRs use the stored counts."""
    model: object
    codes: list[LayerCode]
    codebook: str          # the codebook format's name ("float16"); each LayerCode holds its values
    ks: list[int]
    whole: bool = False
    order: list[str] = field(default_factory=list)

    @property
    def ks_stored(self) -> list[int]:
        return _group_ks(self.codes)

    @property
    def group_sizes(self) -> list[int]:
        sizes: dict[int, int] = {}
        for c in self.codes:
            sizes[c.group] = sizes.get(c.group, 0) + len(c.indices)
        return [sizes[g] for g in sorted(sizes)]

    def cr(self, mode: str = "true") -> float:
        return compression_rate(self.group_sizes, self.ks_stored, codebook_bits(self.codebook), 32, mode)


def _group_ks(codes) -> list[int]:
    ks: dict[int, int] = {}
    for c in codes:
        ks[c.group] = c.k
    return [ks[g] for g in sorted(ks)]


@renamed_keywords("course_lib.compression.share_values", codebook="codebook_format")
def share_values(values, k: int, codebook_format: str = "float32", method: str = "dp",
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ``values`` into ``k`` groups and cast the representatives to ``codebook_format``.

    Returns ``(codebook float32 (k',), indices int64 (n,))`` with ``k' <= k`` (equal cast
    representatives merge); the shared values are ``codebook[indices]``.
    """
    check_codebook(codebook_format)
    centroids, _ = cluster1d(values, k, method, seed)
    return snap_to_codebook(values, centroids, codebook_format)


@renamed_keywords("course_lib.compression.share_model", codebook="codebook_format")
def share_model(model, ks, *, codebook_format: str = "float32", method: str = "dp", order=None,
                freeze: bool = False, retrain=None, inplace: bool = False, seed: int = 0,
                progress: bool = False) -> Shared:
    """Per-layer weight sharing (``docs/method.md``, sections 1-2).

    ``ks``: one int per weight layer (in :func:`weight_layers` order) or ``{name: k}``.
    ``order``: layer names in the order to compress them (default input -> output).
    ``retrain``: optional ``callable(model)`` run after each layer but the last, to retrain the
    rest of the network; it needs ``freeze=True`` (PyTorch: the shared weight tensors get
    ``requires_grad=False`` while it runs; Keras: the whole shared layer is made untrainable, bias
    included). Works on a copy unless ``inplace``. Returns a :class:`Shared`.
    """
    check_codebook(codebook_format)
    ad = adapter(model if inplace else adapter(model).clone())
    layers = ad.layers
    ks = check_ks(ks, [l.name for l in layers])
    names = [l.name for l in layers]
    order = list(order) if order is not None else names
    if sorted(order) != sorted(names):
        raise ValueError(f"order must list every weight layer once: {names}, got {order}")
    if retrain is not None and not freeze:
        raise ValueError("retrain needs freeze=True: retraining a shared layer would undo its sharing")
    codes: dict[str, LayerCode] = {}
    frozen = []
    for step, name in enumerate(tqdm(order, desc="sharing layers", disable=not progress)):
        i = names.index(name)
        w = ad.get(i)
        if not np.all(np.isfinite(w)):
            raise ValueError(f"layer {name!r} has NaN/inf weights; cannot share it")
        try:
            cb, idx = share_values(w, ks[i], codebook_format, method, seed)
        except ValueError as e:
            raise ValueError(f"layer {name!r}: {e}") from None
        code = LayerCode(name, layers[i].shape, cb, idx, group=i)
        ad.set(i, code.weights())
        codes[name] = code
        if freeze:
            frozen.append(_freeze(ad, i))
        if retrain is not None and step < len(order) - 1:
            retrain(ad.model)
    for undo in frozen:
        undo()
    return Shared(ad.model, [codes[n] for n in names], codebook_format, ks, False, order)


def _freeze(ad, i):
    """Freeze layer i's shared weights; returns a function that restores the previous state."""
    if ad.framework == "torch":
        p = ad.weight_param(i)
        before = p.requires_grad
        p.requires_grad_(False)
        return lambda: p.requires_grad_(before)
    layer = ad.layer(i)
    before = layer.trainable
    layer.trainable = False

    def undo():
        layer.trainable = before
    return undo


@renamed_keywords("course_lib.compression.share_whole", codebook="codebook_format")
def share_whole(model, k: int, *, codebook_format: str = "float32", method: str = "dp",
                inplace: bool = False, seed: int = 0) -> Shared:
    """Whole-model weight sharing (``docs/method.md``, section 2): all weights pooled, one ``k``, one codebook."""
    check_codebook(codebook_format)
    ad = adapter(model if inplace else adapter(model).clone())
    weights = [ad.get(i) for i in range(len(ad.layers))]
    pooled = check_values(np.concatenate([w.ravel() for w in weights]))
    check_k(k, len(np.unique(pooled)))
    cb, idx = share_values(pooled, k, codebook_format, method, seed)
    codes, start = [], 0
    for i, (l, w) in enumerate(zip(ad.layers, weights)):
        code = LayerCode(l.name, l.shape, cb, idx[start:start + w.size], group=0)
        ad.set(i, code.weights())
        codes.append(code)
        start += w.size
    return Shared(ad.model, codes, codebook_format, [int(k)], True, [l.name for l in ad.layers])


@renamed_keywords("course_lib.compression.whole_model_sweep", codebook="codebook_format")
def whole_model_sweep(model, k_values, splits: dict, *, codebook_format: str = "float32",
                      progress: bool = True) -> list[dict]:
    """Whole-model sharing for each ``k`` in ``k_values`` (``docs/method.md``, section 2), with one DP pass.

    ``splits``: ``{"val": (x, y), "test": (x, y), ...}``. Returns one row per k:
    ``{"k", "index_bits", "cr_true", "cr_thesis_mean", "<split>_accuracy", ...}`` (fractions);
    with one group both CRs are the same number.
    """
    from .kmeans1d import kmeans1d_all

    check_codebook(codebook_format)
    ad = adapter(adapter(model).clone())
    weights = [ad.get(i) for i in range(len(ad.layers))]
    pooled = check_values(np.concatenate([w.ravel() for w in weights]))
    k_values = [int(k) for k in k_values]
    for k in k_values:
        check_k(k, len(np.unique(pooled)))
    path = kmeans1d_all(pooled, max(k_values))
    rows = []
    for k in tqdm(k_values, desc="whole-model sweep", disable=not progress):
        cb, idx = snap_to_codebook(pooled, path.centroids(k), codebook_format)
        shared, start = cb[idx], 0
        for i, w in enumerate(weights):
            ad.set(i, shared[start:start + w.size])
            start += w.size
        row = {"k": k, "k_stored": len(cb), "index_bits": index_bits(len(cb)),
               "cr_true": compression_rate([pooled.size], [len(cb)], codebook_bits(codebook_format)),
               "cr_thesis_mean": compression_rate([pooled.size], [len(cb)], codebook_bits(codebook_format),
                                                  mode="thesis-mean")}
        for name, (x, y) in splits.items():
            row[f"{name}_accuracy"] = float((ad.predict(x) == np.asarray(y)).mean())
        rows.append(row)
    return rows
