"""What makes a model big and slow, layer by layer: parameters, MACs, activation memory, bytes.

``profile(model, input_shape)`` works on a ``torch.nn.Module`` (input ``(N, C, H, W)``) or a Keras
model (input ``(N, H, W, C)``; the batch dimension may be omitted). Figures are per inference of
one sample:

- ``params``: trainable and frozen parameters of the layer itself.
- ``macs``: multiply-accumulates of Conv/Linear/Dense layers (pooling, activations and norms are
  counted as 0: they are memory-bound, not compute-bound).
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


def _torch_profile(model, input_shape) -> ProfileReport:
    import torch
    from torch import nn

    rows: list[LayerProfile] = []

    def hook(module, inputs, output, name):
        out = output[0] if isinstance(output, (tuple, list)) else output
        shape = tuple(out.shape[1:])
        per_sample = _numel(shape)
        if isinstance(module, nn.Conv2d) or isinstance(module, nn.Conv1d):
            k = _numel(module.kernel_size)
            macs = per_sample * (module.in_channels // module.groups) * k
        elif isinstance(module, nn.Linear):
            macs = per_sample * module.in_features
        else:
            macs = 0
        params = sum(p.numel() for p in module.parameters(recurse=False))
        pbytes = sum(t.numel() * t.element_size() for t in
                     list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)))
        rows.append(LayerProfile(name, type(module).__name__, shape, params, macs,
                                 per_sample * out.element_size(), pbytes))

    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    handles = [m.register_forward_hook(lambda mod, i, o, n=n: hook(mod, i, o, n)) for n, m in leaves]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=next(model.parameters()).dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return ProfileReport("pytorch", tuple(input_shape), rows, buf.getbuffer().nbytes)


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
