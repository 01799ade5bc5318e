"""Focus sweep: lift weights to 2-D and cluster there, to put more clusters where weights are dense.

The thesis calls this "fine-tuning" of the clustering space; it trains nothing (retraining is
:func:`.train_codebooks`), so here it is the *focus sweep*. See ``docs/method.md``.

Each weight ``x`` of a layer with weights ``w`` is lifted to ``(x, y)`` with

    y = spread * (max(w) - min(w)) * tanh(focus * (x - mean(w)))

and clustered with k-means in 2-D; a cluster's representative is the mean ``x`` of its members.
The steep middle of tanh stretches the dense region around the mean, so more clusters land
there. ``focus = 0`` is plain 1-D clustering (the exact DP). The greedy sweep tries every
``focus`` on one layer at a time, keeps the best accuracy, and moves to the next layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from .. import fast_mode
from ..deprecation import deprecated_alias, renamed_keywords
from .checks import check_k, check_ks, check_values
from .codebook import check_codebook, round_to
from .kmeans1d import kmeans1d, sorted_means
from .layers import adapter
from .share import LayerCode, Shared


def lift(values, focus: float, spread: float = 2.0) -> np.ndarray:
    """The lifted 2-D points ``(x, y)`` (n, 2) of the weights ``values`` (module docstring)."""
    x = check_values(values)
    y = spread * (x.max() - x.min()) * np.tanh(focus * (x - x.mean()))
    return np.stack([x, y], axis=1)


def cluster_lifted(values, k: int, focus: float, spread: float = 2.0,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(centroids (k',), labels (n,))``: k-means on the lifted points, representatives = mean x.

    ``focus == 0`` gives the exact 1-D optimum; otherwise scikit-learn's KMeans (seeded, one
    init). Centroids are sorted; k' < k only if a cluster came out empty.
    """
    x = check_values(values)
    check_k(k, len(np.unique(x)))
    if focus == 0:
        return kmeans1d(x, k)
    from sklearn.cluster import KMeans

    labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(lift(x, focus, spread))
    return sorted_means(x, labels)


@renamed_keywords("course_lib.compression.focus.code_from_labels", codebook="codebook_format")
def code_from_labels(centroids, labels, codebook_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Cast each cluster's representative to ``codebook_format``, keeping the clusters' members
    (clusters whose cast representatives coincide merge). Returns ``(codebook (k',), indices)``."""
    rounded = round_to(centroids, codebook_format)
    cb = np.unique(rounded)
    idx = np.searchsorted(cb, rounded)[labels]
    used, idx = np.unique(idx, return_inverse=True)
    return cb[used], idx.ravel()


def default_focuses() -> np.ndarray:
    """The thesis's grid 0, 0.2, ..., 9.8 (a coarse 0, 1, ..., 9 in fast mode)."""
    return np.arange(0, 10, 1.0) if fast_mode() else np.round(np.arange(0, 10, 0.2), 1)


@dataclass
class FocusResult:
    """What :func:`focus_sweep` found: ``focus`` per layer name, validation ``accuracy`` with it
    and ``accuracy_focus0`` without (fractions), ``evaluations``, the ``history`` of
    ``(layer, focus, accuracy)`` tried, and the ``shared`` model."""
    focus: dict
    accuracy: float
    accuracy_focus0: float
    evaluations: int
    history: list
    shared: Shared

    def to_dict(self) -> dict:
        return {"focus": self.focus, "accuracy": self.accuracy, "accuracy_focus0": self.accuracy_focus0,
                "evaluations": self.evaluations, "history": self.history, "shared": self.shared}


@renamed_keywords("course_lib.compression.focus_sweep", codebook="codebook_format")
def focus_sweep(model, ks, x, y, *, codebook_format: str = "float32", spread: float = 2.0, focuses=None,
                order=None, seed: int = 0, progress: bool = True) -> FocusResult:
    """Greedy per-layer search of ``focus`` for the cluster counts ``ks`` (``codebook_format``: format name).

    Accuracy is measured on ``(x, y)`` (use the validation split; report on test). For each layer
    in ``order`` (default input -> output) every focus in ``focuses`` is tried with the layers
    already tuned at their chosen focus and the rest at focus 0; the best accuracy wins (ties keep
    the smaller focus).
    """
    check_codebook(codebook_format)
    focuses = _focuses(focuses)
    ad = adapter(adapter(model).clone())
    names = [l.name for l in ad.layers]
    ks = check_ks(ks, names)
    order = list(order) if order is not None else names
    if sorted(order) != sorted(names):
        raise ValueError(f"order must list every weight layer once: {names}, got {order}")
    original = [ad.get(i) for i in range(len(names))]
    evaluate, code = _focus_evaluator(ad, names, original, ks, x, y, codebook_format, spread, seed)
    choice = [0.0] * len(names)
    best = acc0 = evaluate(choice)
    history = []
    with tqdm(total=len(order) * len(focuses), desc="focus sweep", disable=not progress) as bar:
        for name in order:
            i = names.index(name)
            for f in focuses:
                trial = choice[:i] + [f] + choice[i + 1:]
                acc = evaluate(trial)
                history.append((name, f, acc))
                if acc > best:
                    best, choice = acc, trial
                bar.update()
                bar.set_postfix(layer=name, best=f"{best:.4f}")
    layer_codes = []
    for i, f in enumerate(choice):
        cb, idx = code(i, f)
        ad.set(i, cb[idx].reshape(original[i].shape))
        layer_codes.append(LayerCode(names[i], tuple(original[i].shape), cb, idx, group=i))
    return FocusResult(dict(zip(names, choice)), best, acc0, len(history) + 1, history,
                       Shared(ad.model, layer_codes, codebook_format, ks, False, order))


def _focuses(focuses) -> list[float]:
    focuses = [float(f) for f in (default_focuses() if focuses is None else focuses)]
    if not focuses or min(focuses) < 0:
        raise ValueError(f"focuses must be non-negative numbers, got {focuses!r}")
    return focuses if 0.0 in focuses else [0.0] + focuses  # focus 0 (no change) is always a candidate


def _focus_evaluator(ad, names, original, ks, x, y, codebook_format, spread, seed):
    """``(evaluate(choice) -> accuracy, code(layer, focus) -> (codebook, indices))``, both cached;
    PyTorch models reuse the activations of layers a choice did not change."""
    codes: dict[tuple[int, float], tuple[np.ndarray, np.ndarray]] = {}

    def code(i, f):
        if (i, f) not in codes:
            c, lab = cluster_lifted(original[i], ks[i], f, spread, seed)
            codes[(i, f)] = code_from_labels(c, lab, codebook_format)
        return codes[(i, f)]

    staged, batches, xa, ya = None, None, x, np.asarray(y)
    if ad.framework == "torch":
        import torch

        from .staged import StagedForward

        ad.model.eval()
        xa = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        try:
            staged, batches = StagedForward(ad.model, names), list(xa.split(1000))
        except Exception:  # untraceable forward: plain inference
            staged = None

    def evaluate(choice):
        for i, f in enumerate(choice):
            cb, idx = code(i, f)
            ad.set(i, cb[idx].reshape(original[i].shape))
        pred = staged.run(batches, choice) if staged is not None else ad.predict(xa)
        return float((pred == ya).mean())

    return evaluate, code


def _finetune(*args, **kwargs) -> dict:
    return focus_sweep(*args, **kwargs).to_dict()


# the thesis's name; it trains nothing, unlike fine-tuning in TFMOT (here: train_codebooks)
finetune = deprecated_alias(_finetune, "course_lib.compression.finetune", "course_lib.compression.focus_sweep")
