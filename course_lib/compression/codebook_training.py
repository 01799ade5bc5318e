"""Retraining a shared model without changing its compression rate.

Two modes of :func:`train_codebooks`:

- ``reassign=False``: Deep Compression's "trained quantization" (Han et al., 2016). Every weight
  keeps its cluster index and only the ``k`` shared values of each codebook (plus the
  uncompressed biases) are trained: the gradient of a centroid is the sum of the gradients of
  the weights that point at it.
- ``reassign=True``: clustering-preserving fine-tuning, as TFMOT's ``cluster_weights`` does.
  Each layer also keeps a trainable full-precision copy of its weights; the forward pass uses
  the nearest centroid of each weight, and the backward pass treats that rounding as the
  identity (straight-through), so weights may move to another cluster. Much stronger when a
  layer has very few clusters.

Either way each layer keeps at most its ``k`` values, so the compression rate and the file
layout stay as they were (a cluster left empty is dropped, which can only raise the CR); the
values are cast to the codebook format again at the end.

This goes beyond the thesis, which did not retrain (``docs/method.md``, section 7): it is the course's answer to
"how much of the accuracy loss is the clustering, and how much is the missing retraining?".
PyTorch models only.
"""
from __future__ import annotations

import copy

import numpy as np

from .codebook import round_to
from .layers import adapter, is_torch
from .share import LayerCode, Shared


def _nearest(w, codebook):
    """Index of the nearest entry of ``codebook`` (any order) for each element of ``w``."""
    import torch

    values, order = torch.sort(codebook)
    return order[torch.bucketize(w, (values[1:] + values[:-1]) / 2)]


def _shared_net(shared: Shared, reassign: bool = False, original=None, keep_zero: bool = False):
    """A module whose trainable parameters are the codebooks (one per group), the model's
    uncompressed parameters and, with ``reassign``, latent full-precision weights; the shared
    weight tensors are rebuilt as ``codebook[indices]``."""
    import torch
    from torch import nn
    from torch.func import functional_call

    model = copy.deepcopy(shared.model)
    ad = adapter(model)
    original_ad = adapter(original) if original is not None else None
    if original_ad is not None and ([(l.name, original_ad.get(i).shape) for i, l in enumerate(original_ad.layers)]
                                    != [(l.name, ad.get(i).shape) for i, l in enumerate(ad.layers)]):
        raise ValueError("original must be the model that was shared (same weight layers and shapes), got layers "
                         f"{[l.name for l in original_ad.layers]} for {[l.name for l in ad.layers]}")
    names = {id(p): n for n, p in model.named_parameters()}
    weight_names = [names[id(ad.weight_param(i))] for i in range(len(ad.layers))]
    by_name = {c.name: c for c in shared.codes}
    codes = [by_name[l.name] for l in ad.layers]

    class SharedNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            groups = sorted({c.group for c in codes})
            first = {g: next(c for c in codes if c.group == g) for g in groups}
            self.codebooks = nn.ParameterList([nn.Parameter(torch.tensor(first[g].codebook)) for g in groups])
            for cb in self.codebooks if keep_zero else []:  # zero gradient: Adam leaves the entry at 0
                cb.register_hook(lambda grad, zero=cb.detach() == 0: grad.masked_fill(zero, 0.0))
            self.group_of = [groups.index(c.group) for c in codes]
            for i, c in enumerate(codes):
                self.register_buffer(f"idx{i}", torch.from_numpy(c.indices.astype(np.int64)))
            for i in range(len(codes)):
                ad.weight_param(i).requires_grad_(False)  # rebuilt from the codebooks, never trained
            # latent weights start at the unshared weights (nearest centroid = the clustering's
            # assignment, so training starts from the shared model), else at the shared values
            start = ([original_ad.get(i).ravel() for i in range(len(codes))] if original is not None
                     else [c.weights().ravel() for c in codes])
            self.latent = nn.ParameterList([nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in start]
                                           if reassign else [])

        def indices(self, i: int):
            if not reassign:
                return getattr(self, f"idx{i}")
            with torch.no_grad():
                return _nearest(self.latent[i], self.codebooks[self.group_of[i]])

        def weights(self) -> dict:
            out = {}
            for i, (wn, g, c) in enumerate(zip(weight_names, self.group_of, codes)):
                w = self.codebooks[g][self.indices(i)]
                if reassign:  # value of the centroid, gradient also to the latent weight
                    w = w + self.latent[i] - self.latent[i].detach()
                out[wn] = w.view(c.shape)
            return out

        def forward(self, x):
            return functional_call(self.model, self.weights(), (x,), strict=False)

    return SharedNet(), ad, codes


def train_codebooks(shared: Shared, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
                    epochs: int = 3, lr: float = 1e-3, batch_size: int = 64, max_shift: int = 0,
                    reassign: bool = False, original=None, keep_zero: bool = False, seed: int = 0,
                    progress: bool = True) -> Shared:
    """Fine-tune the codebooks (and biases) of a shared PyTorch model on ``(x, y)``.

    ``x``: float32 ``(N, C, H, W)``; keeps the epoch with the best accuracy on ``(x_val, y_val)``
    (epoch 0 = the model as clustered counts too: training never makes validation worse).
    ``reassign=False`` keeps every weight's index; ``reassign=True`` also trains latent weights
    that pick their nearest centroid (see the module docstring); they start at the weights of
    ``original``, the model before sharing, when given (recommended), else at the shared values.
    Returns a new :class:`Shared`
    with at most the same ``k`` per group (so at least the same CR), codebook values cast to
    ``shared.codebook``'s format. ``keep_zero``: codebook entries equal to 0 are not trained
    (pruned weights stay exactly zero; Deep Compression's sparse layers).
    """
    from ..training import accuracy, fit

    if not is_torch(shared.model):
        raise TypeError("train_codebooks works on PyTorch models; Keras models: retrain with share_model(retrain=...)")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if original is not None and not reassign:
        raise ValueError("original= is only used with reassign=True (latent weights start there)")
    net, ad, codes = _shared_net(shared, reassign, original, keep_zero)
    before = accuracy(shared.model, x_val, y_val)
    history = fit(net, x, y, x_val, y_val, epochs=epochs, lr=lr, batch_size=batch_size, max_shift=max_shift,
                  seed=seed, progress=progress)
    if max(history["val_accuracy"]) < before:
        return shared  # clustering alone was better on validation: keep it
    import torch

    with torch.no_grad():
        final = []  # each layer's shared weights, with the codebooks cast to the format
        for i, g in enumerate(net.group_of):
            cb = torch.from_numpy(round_to(net.codebooks[g].detach().numpy(), shared.codebook))
            final.append(cb[net.indices(i) if not reassign else _nearest(net.latent[i], cb)].numpy())
    # a group's codebook = the values its weights use, sorted (as clustering leaves them)
    new_codes = [None] * len(codes)
    for g in sorted(set(net.group_of)):
        members = [i for i, gi in enumerate(net.group_of) if gi == g]
        cb, inverse = np.unique(np.concatenate([final[i] for i in members]), return_inverse=True)
        for i, idx in zip(members, np.split(inverse, np.cumsum([final[i].size for i in members])[:-1])):
            new_codes[i] = LayerCode(codes[i].name, codes[i].shape, cb, idx.astype(np.int64), codes[i].group)
    for i, c in enumerate(new_codes):
        ad.set(i, c.weights())
    model = net.model
    for p in model.parameters():
        p.requires_grad_(True)
    if accuracy(model.eval(), x_val, y_val) < before:
        return shared  # the cast to the codebook format undid the gain: keep the clustering
    return Shared(model.eval(), new_codes, shared.codebook, list(shared.ks), shared.whole, list(shared.order))
