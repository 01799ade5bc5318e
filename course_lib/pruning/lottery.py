"""Iterative magnitude pruning with rewinding: the lottery-ticket procedure.

Frankle & Carbin (ICLR 2019), with rewinding to early weights (Frankle et al., 2020): train,
prune the smallest ``rate`` of the surviving weights (global magnitude), reset the survivors
to their values at the rewind point, train again, and repeat. The *ticket* is the final mask
with the rewound weights; the control is the same mask on a fresh random initialisation.
"""
from __future__ import annotations

import copy

import numpy as np

from .masks import apply_masks, check_sparsity, global_magnitude_masks, make_permanent, prunable_modules


def _effective_weights(model) -> list[np.ndarray]:
    return [m.weight.detach().numpy().copy() for _, m in prunable_modules(model)]


def rewind(model, rewind_state: dict, masks) -> object:
    """A copy of the architecture with ``rewind_state``'s weights and ``masks`` attached."""
    ticket = copy.deepcopy(model)
    make_permanent(ticket)
    ticket.load_state_dict(rewind_state)
    return apply_masks(ticket, masks)


def iterative_magnitude_pruning(model, train_fn, rounds: int, rate: float, rewind_state: dict | None = None) -> dict:
    """Lottery-ticket IMP. ``train_fn(model)`` trains a (masked) model in place.

    ``model``: untrained or early-trained; ``rewind_state``: the ``state_dict`` to rewind to
    (default: ``model``'s state now, i.e. rewinding to initialisation). Each of ``rounds`` rounds
    trains, then prunes ``rate`` of the surviving weights, so the sparsity after round ``r`` is
    ``1 - (1 - rate)**r``. Returns ``{"masks", "sparsity": [...], "model"}`` where ``model`` is the
    final ticket (rewound weights + masks, trained by a last ``train_fn`` call).
    """
    check_sparsity(rate, "rate")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    base = copy.deepcopy(model)
    rewind_state = copy.deepcopy(rewind_state if rewind_state is not None else base.state_dict())
    current = rewind(base, rewind_state, [np.ones_like(w) for w in _effective_weights(base)])
    sparsities = []
    masks = None
    for r in range(1, rounds + 1):
        train_fn(current)
        target = 1 - (1 - rate) ** r
        masks = global_magnitude_masks(_effective_weights(current), target)
        current = rewind(base, rewind_state, masks)
        sparsities.append(float(1 - sum(m.sum() for m in masks) / sum(m.size for m in masks)))
    train_fn(current)
    return {"masks": masks, "sparsity": sparsities, "model": current}
