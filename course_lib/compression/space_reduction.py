"""Search-space reduction: the cluster counts worth searching, one layer at a time.

For each layer and each ``k``, share only that layer and keep ``k`` if the accuracy stays above
a cut (Dupuis et al., 2022; the method is in ``docs/method.md``). A layer that loses much with
``k`` clusters alone will not do better when the other layers are shared too, so the search
never needs to try it.
"""
from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
from tqdm.auto import tqdm


def reduce_space(evaluator, k_range=range(1, 51), *, max_loss_points: float | None = None,
                 threshold: float | None = None, progress: bool = True) -> list[list[int]]:
    """Allowed cluster counts per layer of a :class:`CachedEvaluator`.

    Keep ``k`` for a layer when sharing only that layer loses at most ``max_loss_points``
    percentage points of the evaluator's :attr:`baseline_accuracy` (e.g. 1.0), or, with
    ``threshold``, when its accuracy is at least that fraction (e.g. 0.97). Give exactly one.
    Values of ``k`` above a layer's distinct weights (or ``k_max`` for the DP) are skipped.
    Cached as JSON in the evaluator's ``cache_dir`` (key: model, data, format, method, range, cut).
    Returns one sorted list of allowed k per layer (empty when no k passes, with a warning).
    """
    if (threshold is None) == (max_loss_points is None):
        raise ValueError("give exactly one of threshold (a fraction, e.g. 0.97) or "
                         "max_loss_points (percentage points below the baseline, e.g. 1.0)")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a fraction in [0, 1], got {threshold} (did you mean {threshold / 100}?)")
    if max_loss_points is not None and max_loss_points < 0:
        raise ValueError(f"max_loss_points is percentage points >= 0, got {max_loss_points}")
    cut = threshold if threshold is not None else evaluator.baseline_accuracy - max_loss_points / 100
    k_values = [int(k) for k in k_range]
    if not k_values or min(k_values) < 1:
        raise ValueError(f"k_range must hold ints >= 1, got {k_range!r}")
    file = _cache_file(evaluator, k_values, threshold, max_loss_points)
    if file is not None and file.exists():
        return json.loads(file.read_text())["allowed"]
    allowed, table = _sweep(evaluator, k_values, cut, progress)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps({"key": _key(evaluator, k_values, threshold, max_loss_points), "cut": cut,
                                    "layers": evaluator.layer_names, "allowed": allowed,
                                    "accuracy": [{str(k): a for k, a in t.items()} for t in table]}, indent=1))
    return allowed


def _sweep(evaluator, k_values, cut: float, progress: bool):
    """Single-layer accuracy of every admissible ``(layer, k)``; the ks at or above ``cut``."""
    ok = evaluator.clusters.k_ok
    allowed, table = [], []
    total = sum(1 for i in range(len(evaluator.layer_names)) for k in k_values if ok(i, k))
    with tqdm(total=total, desc="search-space reduction", disable=not progress) as bar:
        for i, name in enumerate(evaluator.layer_names):
            accs = {}
            for k in (k for k in k_values if ok(i, k)):
                accs[k] = evaluator.single_layer_accuracy(i, k)
                bar.update()
            keep = sorted(k for k, a in accs.items() if a >= cut)
            if not keep:
                warnings.warn(f"reduce_space: no k in the range keeps layer {name!r} at accuracy >= {cut:.4f}")
            allowed.append(keep)
            table.append(accs)
    return allowed, table


def _key(evaluator, k_values, threshold, max_loss_points) -> dict:
    # the key's field names are those of the cache files already on disk
    x = evaluator.x.numpy() if hasattr(evaluator.x, "numpy") else evaluator.x
    h = hashlib.sha256(np.ascontiguousarray(np.asarray(x, np.float32)).tobytes())
    h.update(np.ascontiguousarray(np.asarray(evaluator.y)).tobytes())
    return {"model": evaluator.model_hash, "data": h.hexdigest()[:16], "codebook": evaluator.codebook,
            "method": evaluator.method, "k_range": k_values, "threshold": threshold,
            "threshold_loss": max_loss_points}


def _cache_file(evaluator, k_values, threshold, max_loss_points):
    if evaluator.cache_dir is None:
        return None
    key = _key(evaluator, k_values, threshold, max_loss_points)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return evaluator.cache_dir / f"reduced-space-{digest}.json"
