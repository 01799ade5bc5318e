"""Per-layer sensitivity scan: prune one layer at a time, measure accuracy (no retraining)."""
from __future__ import annotations

import copy

from .masks import apply_masks, check_sparsity, magnitude_mask, prunable_modules


def layer_sensitivity(model, x, y, ratios=(0.0, 0.5, 0.7, 0.8, 0.9, 0.95), layers=None) -> list[dict]:
    """Accuracy (fraction) with only one layer magnitude-pruned to each ratio, the others intact.

    Rows ``{"layer", "sparsity", "accuracy"}``, layer by layer in ``ratios`` order; layers
    whose accuracy falls fast are the ones to prune gently (Han et al., 2015, Fig. 5).
    ``x``: float32 ``(N, C, H, W)``, ``y`` int labels; use the validation split.
    """
    from ..training import accuracy

    ratios = [check_sparsity(r, "ratio") for r in ratios]
    names = [n for n, _ in prunable_modules(model)]
    layers = names if layers is None else list(layers)
    unknown = set(layers) - set(names)
    if unknown:
        raise ValueError(f"unknown layers {sorted(unknown)}; prunable layers are {names}")
    rows = []
    for name in layers:
        for r in ratios:
            trial = copy.deepcopy(model)
            w = trial.get_submodule(name).weight.detach().numpy()
            apply_masks(trial, {name: magnitude_mask(w, r)})
            rows.append({"layer": name, "sparsity": r, "accuracy": accuracy(trial, x, y)})
    return rows
