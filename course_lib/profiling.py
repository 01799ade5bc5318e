"""What makes a model big and slow, layer by layer: parameters, MACs, activation memory, bytes.

``profile(model, input_shape)`` works on a ``torch.nn.Module`` (input ``(N, C, H, W)``) or a Keras
model (input ``(N, H, W, C)``; the batch dimension may be omitted). Figures are per inference of
one sample:

- ``params``: trainable and frozen parameters of the layer itself.
- ``macs``: multiply-accumulates of Conv/Linear/Dense layers and of ``nn.MultiheadAttention``
  (projections plus ``QKᵀ`` and ``AV``); pooling, activations, norms and additions count 0 (they
  are memory-bound, not compute-bound). :func:`flop_counter_macs` checks the total with PyTorch's
  own ``FlopCounterMode``.
- parameters held by a container rather than a layer (a position embedding) get their own row.
- ``activation_bytes``: size of the layer's output tensor at float32.
- ``param_bytes``: bytes of the layer's parameters and buffers as stored (dtype-aware).

``file_bytes`` of the whole model is the size of its serialised weights (``torch.save`` of the
state dict, or Keras ``save_weights``), i.e. the size on disk.
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import asdict, dataclass


@dataclass
class LayerProfile:
    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int
    activation_bytes: int
    param_bytes: int


@dataclass
class ProfileReport:
    framework: str
    input_shape: tuple
    layers: list[LayerProfile]
    file_bytes: int

    @property
    def params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def activation_bytes(self) -> int:
        """Sum of all layer outputs: the memory a naive executor that keeps everything needs."""
        return sum(r.activation_bytes for r in self.layers)

    @property
    def peak_activation_bytes(self) -> int:
        """Largest input+output pair of consecutive layers: what a streaming executor needs."""
        sizes = [4 * _numel(self.input_shape)] + [r.activation_bytes for r in self.layers]
        return max(a + b for a, b in zip(sizes, sizes[1:])) if len(sizes) > 1 else sizes[0]

    def totals(self) -> dict:
        return {"params": self.params, "macs": self.macs, "activation_bytes": self.activation_bytes,
                "peak_activation_bytes": self.peak_activation_bytes, "file_bytes": self.file_bytes}

    def to_dict(self) -> dict:
        return {"framework": self.framework, "input_shape": list(self.input_shape),
                "layers": [asdict(r) for r in self.layers], "totals": self.totals()}

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame([asdict(r) for r in self.layers])

    def table(self) -> str:
        head = f"{'layer':24s} {'kind':18s} {'output':>18s} {'params':>10s} {'MACs':>12s} {'act KiB':>9s} {'param KiB':>10s}"
        lines = [head, "-" * len(head)]
        for r in self.layers:
            shape = "x".join(str(d) for d in r.output_shape)
            lines.append(f"{r.name[:24]:24s} {r.kind[:18]:18s} {shape:>18s} {r.params:>10,} {r.macs:>12,} "
                         f"{r.activation_bytes / 1024:>9.1f} {r.param_bytes / 1024:>10.1f}")
        lines.append("-" * len(head))
        lines.append(f"{'total':24s} {'':18s} {'':>18s} {self.params:>10,} {self.macs:>12,} "
                     f"{self.activation_bytes / 1024:>9.1f} {sum(r.param_bytes for r in self.layers) / 1024:>10.1f}")
        lines.append(f"size on disk: {self.file_bytes / 1024:.1f} KiB   peak activations: "
                     f"{self.peak_activation_bytes / 1024:.1f} KiB   ({self.framework}, input {self.input_shape})")
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:
        return self.to_pandas()._repr_html_() + f"<p>{self.table().splitlines()[-2]}<br>{self.table().splitlines()[-1]}</p>"


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _attention_macs(module, args, kwargs) -> int:
    """MACs of one ``nn.MultiheadAttention`` call per sample: Q, K, V and output projections
    (``n_q·E² + n_k·(k_dim + v_dim)·E + n_q·E²``) plus ``QKᵀ`` and ``AV`` (``2·n_q·n_k·E``)."""
    names = ("query", "key", "value")
    q, k, v = (args[i] if len(args) > i else kwargs[n] for i, n in enumerate(names))
    seq = 1 if (module.batch_first and q.dim() == 3) else 0
    n_q, n_k, e = q.shape[seq], k.shape[seq], module.embed_dim
    return n_q * e * e + n_k * (k.shape[-1] + v.shape[-1]) * e + 2 * n_q * n_k * e + n_q * e * e


def _layer_macs(module, args, kwargs, per_sample: int) -> int:
    from torch import nn

    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return per_sample * (module.in_channels // module.groups) * _numel(module.kernel_size)
    if isinstance(module, nn.Linear):
        return per_sample * module.in_features
    if isinstance(module, nn.MultiheadAttention):
        return _attention_macs(module, args, kwargs)
    return 0  # activations, pooling, norms: memory-bound, not multiply-accumulates


# Modules profiled as one unit: their children are not called as modules in forward().
COMPOSITES = ("MultiheadAttention",)


def _profiled_units(model) -> list:
    """Leaves plus composite layers (whose children are skipped)."""
    units, skip = [], set()
    for name, m in model.named_modules():
        if any(name.startswith(s + ".") for s in skip):
            continue
        if type(m).__name__ in COMPOSITES:
            skip.add(name)
            units.append((name, m))
        elif not list(m.children()):
            units.append((name, m))
    return units


def _own_tensors(module, recurse: bool) -> tuple[int, int]:
    params = list(module.parameters(recurse=recurse))
    tensors = params + list(module.buffers(recurse=recurse))
    return sum(p.numel() for p in params), sum(t.numel() * t.element_size() for t in tensors)


def _torch_profile(model, input_shape) -> ProfileReport:
    import torch

    rows: list[LayerProfile] = []
    units = _profiled_units(model)

    def hook(module, args, kwargs, output, name):
        out = output[0] if isinstance(output, (tuple, list)) else output
        shape = tuple(out.shape[1:])
        per_sample = _numel(shape)
        composite = type(module).__name__ in COMPOSITES
        params, pbytes = _own_tensors(module, recurse=composite)
        rows.append(LayerProfile(name, type(module).__name__, shape, params,
                                 _layer_macs(module, args, kwargs, per_sample),
                                 per_sample * out.element_size(), pbytes))

    handles = [m.register_forward_hook(lambda mod, a, kw, o, n=n: hook(mod, a, kw, o, n), with_kwargs=True)
               for n, m in units]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=next(model.parameters()).dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rows += _parameter_holders(model, {n for n, _ in units})
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return ProfileReport("pytorch", tuple(input_shape), rows, buf.getbuffer().nbytes)


def _parameter_holders(model, units: set) -> list[LayerProfile]:
    """Rows for parameters held directly by containers (a ViT's position embedding on the model
    itself): no layer's hook sees them, yet they are stored and loaded like any weight."""
    rows = []
    for name, m in model.named_modules():
        if name in units or any(name.startswith(u + ".") for u in units if u):
            continue
        params, pbytes = _own_tensors(m, recurse=False)
        if params or pbytes:
            rows.append(LayerProfile(name or "(model)", type(m).__name__ + " (own parameters)", (),
                                     params, 0, 0, pbytes))
    return rows


def flop_counter_macs(model, input_shape) -> int:
    """MACs of one sample counted by ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs / 2):
    an independent check of :func:`profile`, which counts by formula.

    Runs in eval mode with autograd on (so ``nn.MultiheadAttention`` skips its fused fast path,
    which the counter does not see) and with the math kernel of scaled dot-product attention
    (the counter has no formula for the fused CPU kernel, torch 2.14).
    """
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    shape = tuple(int(d) for d in input_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(torch.zeros((1, *shape), dtype=next(model.parameters()).dtype))
    finally:
        model.train(was_training)
    return counter.get_total_flops() // 2


def _keras_profile(model, input_shape) -> ProfileReport:
    import numpy as np
    import tensorflow as tf

    L = tf.keras.layers
    rows: list[LayerProfile] = []
    for layer in model.layers:
        if isinstance(layer, L.InputLayer):
            continue
        shape = tuple(int(d) for d in layer.output_shape[1:])
        per_sample = _numel(shape)
        if isinstance(layer, L.DepthwiseConv2D):
            macs = per_sample * _numel(layer.kernel_size)
        elif isinstance(layer, L.Conv2D):
            in_c = int(layer.input_shape[-1])
            macs = per_sample * _numel(layer.kernel_size) * in_c // layer.groups
        elif isinstance(layer, L.Dense):
            macs = per_sample * int(layer.input_shape[-1])
        else:
            macs = 0
        pbytes = sum(int(np.prod(w.shape)) * w.dtype.size for w in layer.weights)
        rows.append(LayerProfile(layer.name, type(layer).__name__, shape, layer.count_params(),
                                 macs, per_sample * 4, pbytes))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "weights.weights.h5")
        model.save_weights(path)
        size = os.path.getsize(path)
    return ProfileReport("keras", tuple(input_shape), rows, size)


def profile(model, input_shape) -> ProfileReport:
    """Profile ``model`` for one sample of ``input_shape`` (batch dimension optional).

    PyTorch: ``input_shape`` is ``(C, H, W)`` or ``(1, C, H, W)``. Keras: ``(H, W, C)`` or ``(1, H, W, C)``.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 4:
        if shape[0] != 1:
            raise ValueError(f"profile() measures one sample; got batch size {shape[0]} in {input_shape}")
        shape = shape[1:]
    if any(d <= 0 for d in shape):
        raise ValueError(f"input_shape must be positive, got {input_shape}")
    try:
        import torch

        if isinstance(model, torch.nn.Module):
            if not any(True for _ in model.parameters()):
                raise ValueError("the model has no parameters to profile")
            return _torch_profile(model, shape)
    except ImportError:
        pass
    if hasattr(model, "layers") and hasattr(model, "count_params"):
        return _keras_profile(model, shape)
    raise TypeError(f"profile() takes a torch.nn.Module or a Keras model, got {type(model).__name__}")
