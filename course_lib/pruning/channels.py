"""Channel (filter) pruning with real surgery: a thinner, dense model.

``torch.nn.utils.prune.ln_structured`` ranks a conv's output filters by their L1 norm and
zeroes whole filters; zeros alone make nothing faster. :func:`prune_channels` then *removes*
them: the conv loses output channels, its BatchNorm the same channels, and the next layer
(conv or, after global pooling / a 1x1 map, linear) the matching input channels. The result is an
ordinary smaller model that any runtime executes faster.

Supported: models whose leaf modules run in registration order (``nn.Sequential``-style nets
such as :class:`~course_lib.models.ConvNet` and :class:`~course_lib.models.LeNet5`), ungrouped
``Conv2d``; a conv feeding a ``Linear`` must produce a 1x1 map (global pooling, LeNet-5's conv3).
"""
from __future__ import annotations

import copy

import numpy as np


def _chains(model) -> list[tuple[str, str | None, str]]:
    """``(conv, batchnorm or None, next layer)`` names for every conv whose output channels can go."""
    from torch import nn

    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    chains = []
    for i, (name, m) in enumerate(leaves):
        if not isinstance(m, nn.Conv2d):
            continue
        if m.groups != 1:
            raise ValueError(f"grouped/depthwise conv {name!r} is not supported by prune_channels")
        bn, nxt = None, None
        for n2, m2 in leaves[i + 1:]:
            if isinstance(m2, nn.BatchNorm2d) and bn is None and nxt is None:
                bn = n2
            elif isinstance(m2, (nn.Conv2d, nn.Linear)):
                nxt = n2
                break
        if nxt is not None:
            chains.append((name, bn, nxt))
    if not chains:
        raise ValueError(f"{type(model).__name__} has no conv layer followed by another weight layer; "
                         "nothing to prune channel-wise")
    return chains


def filter_l1(conv) -> np.ndarray:
    """L1 norm of each output filter of a conv, ``(out_channels,)``."""
    return conv.weight.detach().abs().sum(dim=(1, 2, 3)).numpy()


def kept_count(n: int, amount: float, multiple_of: int = 1) -> int:
    """How many of ``n`` filters survive pruning the fraction ``amount``: ``n - round(amount * n)``
    (as ``torch.nn.utils.prune`` counts), then rounded to the nearest multiple of ``multiple_of``
    (at least one multiple, at most ``n``). Runtimes process channels in blocks (ONNX Runtime's
    CPU convolutions: 8 with AVX2, 16 with AVX-512; tensor cores: 8), so a count off the block
    size can waste most of the saving."""
    from .masks import check_sparsity

    check_sparsity(amount, "amount")
    if not isinstance(multiple_of, (int, np.integer)) or isinstance(multiple_of, bool) or multiple_of < 1:
        raise ValueError(f"multiple_of must be a positive integer (1: no rounding), got {multiple_of!r}")
    keep = n - round(amount * n)
    if multiple_of > 1:
        keep = min(n, max(multiple_of, multiple_of * round(keep / multiple_of)))
    return keep


def channel_keep(conv, amount: float, multiple_of: int = 1) -> np.ndarray:
    """Indices of the filters ``prune.ln_structured(..., n=1, dim=0)`` keeps (sorted), on a copy;
    with ``multiple_of > 1`` the kept count is rounded as :func:`kept_count` says."""
    from torch.nn.utils import prune

    n_keep = kept_count(conv.out_channels, amount, multiple_of)
    probe = copy.deepcopy(conv)
    prune.ln_structured(probe, "weight", amount=conv.out_channels - n_keep, n=1, dim=0)
    keep = np.flatnonzero(probe.weight_mask.sum(dim=(1, 2, 3)).numpy() > 0)
    if keep.size == 0:
        raise ValueError(f"amount={amount} would remove every filter of a {conv.out_channels}-filter conv")
    return keep


def _set(model, name: str, module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


def _slice_conv(conv, out_idx=None, in_idx=None):
    from torch import nn

    w = conv.weight.detach()
    w = w[out_idx] if out_idx is not None else w
    w = w[:, in_idx] if in_idx is not None else w
    new = nn.Conv2d(w.shape[1], w.shape[0], conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    bias=conv.bias is not None, padding_mode=conv.padding_mode)
    new.weight.data.copy_(w)
    if conv.bias is not None:
        new.bias.data.copy_(conv.bias.detach()[out_idx] if out_idx is not None else conv.bias.detach())
    return new


def _slice_bn(bn, idx):
    from torch import nn

    new = nn.BatchNorm2d(len(idx), bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    for attr in ("weight", "bias", "running_mean", "running_var"):
        if getattr(bn, attr, None) is not None:
            getattr(new, attr).data.copy_(getattr(bn, attr).detach()[idx])
    if bn.num_batches_tracked is not None:
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def _slice_linear(fc, in_idx):
    from torch import nn

    new = nn.Linear(len(in_idx), fc.out_features, bias=fc.bias is not None)
    new.weight.data.copy_(fc.weight.detach()[:, in_idx])
    if fc.bias is not None:
        new.bias.data.copy_(fc.bias.detach())
    return new


def prune_channels(model, amount, *, layers=None, multiple_of: int = 1):
    """A thinner copy of ``model``: each conv loses the fraction ``amount`` of its output filters
    (smallest L1 norm), with its BatchNorm and the next layer's inputs cut to match.

    ``amount``: one fraction in [0, 1) for every prunable conv, or ``{conv name: fraction}``.
    ``multiple_of``: round each conv's kept filter count to the nearest multiple (see
    :func:`kept_count`), e.g. 16 for the channel blocks of the runtime's kernels.
    Returns ``(thin_model, {conv name: kept filter indices})``; ``model`` is not modified.
    """
    from torch import nn

    thin = copy.deepcopy(model)
    chains = _chains(thin)
    names = [c for c, _, _ in chains]
    if isinstance(amount, dict):
        unknown = set(amount) - set(names)
        if unknown:
            raise ValueError(f"unknown convs {sorted(unknown)}; channel-prunable convs are {names}")
        plan = amount
    else:
        plan = {n: amount for n in (layers or names)}
    kept = {}
    for conv_name, bn_name, next_name in chains:
        if conv_name not in plan:
            continue
        conv, nxt = thin.get_submodule(conv_name), thin.get_submodule(next_name)
        if isinstance(nxt, nn.Linear) and nxt.in_features != conv.out_channels:
            raise ValueError(f"{conv_name!r} feeds {next_name!r} through a {nxt.in_features // conv.out_channels}-pixel "
                             "map; prune_channels needs a 1x1 map (global pooling) before a Linear")
        keep = channel_keep(conv, plan[conv_name], multiple_of)
        idx = list(map(int, keep))
        _set(thin, conv_name, _slice_conv(conv, out_idx=idx))
        if bn_name is not None:
            _set(thin, bn_name, _slice_bn(thin.get_submodule(bn_name), idx))
        _set(thin, next_name, _slice_conv(nxt, in_idx=idx) if isinstance(nxt, nn.Conv2d) else _slice_linear(nxt, idx))
        kept[conv_name] = keep
    return thin.eval(), kept
