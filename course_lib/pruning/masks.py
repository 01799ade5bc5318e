"""Unstructured and N:M magnitude masks, applied through ``torch.nn.utils.prune``.

A *mask* is a float32 array of the weight's shape, 1 = keep, 0 = pruned. The mask functions are
pure numpy; :func:`apply_masks` hands them to ``prune.custom_from_mask``, so the pruned model
carries PyTorch's own ``weight_orig`` / ``weight_mask`` reparametrisation (masks survive
training: the forward pre-hook multiplies them in) until :func:`make_permanent` calls
``prune.remove``.
"""
from __future__ import annotations

import numpy as np


def check_sparsity(sparsity, name: str = "sparsity") -> float:
    """``sparsity`` as a float in [0, 1); anything else: ValueError naming the value."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in [0, 1), got {sparsity!r}")
    s = float(sparsity)
    if not 0.0 <= s < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (the fraction of weights set to zero; 1 would "
                         f"remove every weight), got {s}")
    return s


def magnitude_mask(w, sparsity: float) -> np.ndarray:
    """Keep the largest ``|w|``: exactly ``round(sparsity * w.size)`` zeros (ties: lower index pruned)."""
    s = check_sparsity(sparsity)
    w = np.asarray(w, dtype=np.float32)
    n_zero = int(round(s * w.size))
    mask = np.ones(w.size, dtype=np.float32)
    mask[np.argsort(np.abs(w).ravel(), kind="stable")[:n_zero]] = 0.0
    return mask.reshape(w.shape)


def global_magnitude_masks(weights, sparsity: float) -> list[np.ndarray]:
    """One threshold over all tensors in ``weights`` (a list of arrays, or a model: its prunable
    layers): ``round(sparsity * N)`` zeros in total, so layers of small weights lose more."""
    if not isinstance(weights, (list, tuple)):
        weights = [m.weight.detach().numpy() for _, m in prunable_modules(weights)]
    s = check_sparsity(sparsity)
    flat = np.concatenate([np.abs(np.asarray(w, np.float32)).ravel() for w in weights])
    keep = np.ones(flat.size, dtype=np.float32)
    keep[np.argsort(flat, kind="stable")[:int(round(s * flat.size))]] = 0.0
    bounds = np.cumsum([0] + [np.size(w) for w in weights])
    return [keep[a:b].reshape(np.shape(w)) for a, b, w in zip(bounds[:-1], bounds[1:], weights)]


def nm_mask(w, n: int = 2, m: int = 4) -> np.ndarray:
    """N:M sparsity: in each group of ``m`` consecutive weights along the input axis, keep the
    ``n`` largest ``|w|`` (2:4 is what sparse tensor cores execute). Groups run over axis 1 of a
    ``(out, in, ...)`` tensor, flattened per output; that length must divide by ``m``."""
    if not (isinstance(n, int) and isinstance(m, int) and 0 < n <= m):
        raise ValueError(f"need integers 0 < n <= m, got n={n!r}, m={m!r}")
    w = np.asarray(w, dtype=np.float32)
    rows = w.reshape(w.shape[0], -1) if w.ndim > 1 else w.reshape(1, -1)
    if rows.shape[1] % m:
        raise ValueError(f"{rows.shape[1]} weights per output row do not split into groups of {m}; "
                         f"choose m dividing {rows.shape[1]}")
    groups = np.abs(rows).reshape(-1, m)
    order = np.argsort(-groups, axis=1, kind="stable")[:, :n]
    mask = np.zeros_like(groups)
    np.put_along_axis(mask, order, 1.0, axis=1)
    return mask.reshape(w.shape)


def prunable_modules(model) -> list[tuple[str, object]]:
    """``(name, module)`` of every Conv/Linear layer with a weight, in registration order."""
    from torch import nn

    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    mods = [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)
            and (getattr(m, "weight", None) is not None or hasattr(m, "weight_orig"))]
    if not mods:
        raise ValueError(f"{type(model).__name__} has no prunable layers (Conv or Linear with a weight); "
                         "pass a model that has some")
    return mods


def apply_masks(model, masks) -> object:
    """Attach ``masks`` (a list in :func:`prunable_modules` order, or ``{name: mask}``) with
    ``prune.custom_from_mask``; a layer pruned before gets the product of old and new mask
    (PyTorch's ``PruningContainer``). Modifies ``model`` in place and returns it."""
    import torch
    from torch.nn.utils import prune

    mods = prunable_modules(model)
    if isinstance(masks, dict):
        unknown = set(masks) - {n for n, _ in mods}
        if unknown:
            raise ValueError(f"unknown layers {sorted(unknown)}; prunable layers are {[n for n, _ in mods]}")
        pairs = [(m, masks[n]) for n, m in mods if n in masks]
    else:
        if len(masks) != len(mods):
            raise ValueError(f"{len(masks)} masks for {len(mods)} prunable layers {[n for n, _ in mods]}")
        pairs = [(m, mask) for (_, m), mask in zip(mods, masks)]
    for m, mask in pairs:
        t = torch.as_tensor(np.asarray(mask, dtype=np.float32))
        if tuple(t.shape) != tuple(m.weight.shape):
            raise ValueError(f"mask shape {tuple(t.shape)} != weight shape {tuple(m.weight.shape)}")
        prune.custom_from_mask(m, "weight", t)
    return model


def make_permanent(model) -> object:
    """``prune.remove`` on every pruned layer: the zeros stay, the masks and hooks go."""
    from torch.nn.utils import prune

    for _, m in prunable_modules(model):
        if prune.is_pruned(m) and hasattr(m, "weight_orig"):
            prune.remove(m, "weight")
    return model


def sparsity_report(model) -> dict:
    """Zeros per prunable layer, counted in the effective weights (masks applied):
    ``{"layers": [{"name", "weights", "zeros", "sparsity"}], "weights", "zeros", "sparsity"}``."""
    rows = []
    for name, m in prunable_modules(model):
        w = m.weight.detach().numpy()
        rows.append({"name": name, "weights": int(w.size), "zeros": int((w == 0).sum()),
                     "sparsity": float((w == 0).mean())})
    n, z = sum(r["weights"] for r in rows), sum(r["zeros"] for r in rows)
    return {"layers": rows, "weights": n, "zeros": z, "sparsity": z / n}
