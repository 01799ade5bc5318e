"""Trained codebooks: Deep Compression's "trained quantization" (Han et al., 2016).

After sharing, every weight keeps its cluster index and only the ``k`` shared values of each
codebook (plus the uncompressed biases) are trained by gradient descent: the gradient of a
centroid is the sum of the gradients of the weights that point at it. Indices and ``k`` do not
change, so the compression rate and the file layout stay exactly as they were; the values are
cast to the codebook format again at the end.

This goes beyond the thesis, which did not retrain (spec section 2): it is the course's answer to
"how much of the accuracy loss is the clustering, and how much is the missing retraining?".
PyTorch models only.
"""
from __future__ import annotations

import copy

import numpy as np

from .codebook import round_to
from .layers import adapter, is_torch
from .share import LayerCode, Shared


def _shared_net(shared: Shared):
    """A module whose trainable parameters are the codebooks (one per group) and the model's
    uncompressed parameters; the shared weight tensors are rebuilt as ``codebook[indices]``."""
    import torch
    from torch import nn
    from torch.func import functional_call

    model = copy.deepcopy(shared.model)
    ad = adapter(model)
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
            self.group_of = [groups.index(c.group) for c in codes]
            for i, c in enumerate(codes):
                self.register_buffer(f"idx{i}", torch.from_numpy(c.indices.astype(np.int64)))
            for i in range(len(codes)):
                ad.weight_param(i).requires_grad_(False)  # rebuilt from the codebooks, never trained

        def weights(self) -> dict:
            return {wn: self.codebooks[g][getattr(self, f"idx{i}")].view(c.shape)
                    for i, (wn, g, c) in enumerate(zip(weight_names, self.group_of, codes))}

        def forward(self, x):
            return functional_call(self.model, self.weights(), (x,), strict=False)

    return SharedNet(), ad, codes


def train_codebooks(shared: Shared, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
                    epochs: int = 3, lr: float = 1e-3, batch_size: int = 64, max_shift: int = 0,
                    seed: int = 0, progress: bool = True) -> Shared:
    """Fine-tune the codebooks (and biases) of a shared PyTorch model on ``(x, y)``.

    ``x``: float32 ``(N, C, H, W)``; keeps the epoch with the best accuracy on ``(x_val, y_val)``
    (epoch 0 = the codebooks as clustered count too: training never makes validation worse).
    Returns a new :class:`Shared` with the same indices and ``k`` (so the same CR), codebook
    values cast to ``shared.codebook``'s format.
    """
    from ..training import accuracy, fit

    if not is_torch(shared.model):
        raise TypeError("train_codebooks works on PyTorch models; Keras models: retrain with share_model(retrain=...)")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    net, ad, codes = _shared_net(shared)
    before = accuracy(shared.model, x_val, y_val)
    history = fit(net, x, y, x_val, y_val, epochs=epochs, lr=lr, batch_size=batch_size, max_shift=max_shift,
                  seed=seed, progress=progress)
    if max(history["val_accuracy"]) < before:
        return shared  # clustering alone was better on validation: keep it
    trained = [round_to(cb.detach().numpy(), shared.codebook) for cb in net.codebooks]
    # training may reorder the values: keep codebooks sorted (as clustering leaves them)
    orders = [np.argsort(cb, kind="stable") for cb in trained]
    new_codes = []
    for i, (c, g) in enumerate(zip(codes, net.group_of)):
        rank = np.argsort(orders[g])
        new_codes.append(LayerCode(c.name, c.shape, trained[g][orders[g]], rank[c.indices], c.group))
        ad.set(i, new_codes[-1].weights())
    model = net.model
    for p in model.parameters():
        p.requires_grad_(True)
    return Shared(model.eval(), new_codes, shared.codebook, list(shared.ks), shared.whole, list(shared.order))
