"""Which weights get shared, and thin adapters that read/write them in PyTorch and Keras.

A *weight layer* is a convolution or fully connected layer; its weight tensor (PyTorch
``weight``, Keras ``kernel``) is what weight sharing compresses. Biases, BatchNorm parameters and
buffers are "the rest": kept uncompressed. Layers are listed in registration order, which is
input -> output for sequential models.

Both adapters expose the same small API on numpy arrays (float32)::

    ad.layers            list[WeightLayer]          ad.get(i) -> array of layer i's shape
    ad.set(i, values)    write layer i's weights    ad.predict(x) -> int64 (N,) class labels
    ad.rest()            {name: array} of the rest  ad.set_rest({name: array})
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WeightLayer:
    name: str
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def is_torch(model) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a course dependency
        return False
    return isinstance(model, torch.nn.Module)


def is_keras(model) -> bool:
    cls = type(model)
    return any(c.__module__.split(".")[0] in ("keras", "tf_keras") for c in cls.__mro__)


class TorchAdapter:
    framework = "torch"

    def __init__(self, model):
        from torch import nn

        self.model = model
        kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                 nn.ConvTranspose3d, nn.Linear)
        self._modules = [(n, m) for n, m in model.named_modules()
                         if isinstance(m, kinds) and getattr(m, "weight", None) is not None]
        if not self._modules:
            raise ValueError(f"{type(model).__name__} has no weight layers (Conv or Linear) to share")
        self.layers = [WeightLayer(n, tuple(m.weight.shape)) for n, m in self._modules]
        self._weight_keys = {f"{n}.weight" if n else "weight" for n, _ in self._modules}

    def get(self, i: int) -> np.ndarray:
        return self._modules[i][1].weight.detach().cpu().numpy().astype(np.float32, copy=True)

    def set(self, i: int, values) -> None:
        import torch

        w = self._modules[i][1].weight
        with torch.no_grad():
            w.copy_(torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32).reshape(w.shape)))

    def weight_param(self, i: int):
        return self._modules[i][1].weight

    def predict(self, x, batch_size: int = 1000) -> np.ndarray:
        from ..training import predict

        return predict(self.model, x, batch_size)

    def rest(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()
                if k not in self._weight_keys}

    def set_rest(self, arrays: dict) -> None:
        import torch

        state = {k: torch.from_numpy(np.asarray(v).copy()) for k, v in arrays.items()}
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        missing = [k for k in missing if k not in self._weight_keys]
        if missing or unexpected:
            raise ValueError(f"the model does not match the stored tensors: missing {missing}, "
                             f"unexpected {unexpected}")

    def clone(self):
        return copy.deepcopy(self.model)


class KerasAdapter:
    framework = "keras"

    def __init__(self, model):
        self.model = model
        self._layers = [l for l in _flat_keras_layers(model) if _keras_kernel(l) is not None]
        if not self._layers:
            raise ValueError(f"Keras model {model.name!r} has no weight layers (Conv or Dense) to share")
        self.layers = [WeightLayer(l.name, tuple(_keras_kernel(l).shape)) for l in self._layers]
        kernels = {id(_keras_kernel(l)) for l in self._layers}
        self._rest = [w for w in model.weights if id(w) not in kernels]

    def get(self, i: int) -> np.ndarray:
        return np.array(_keras_kernel(self._layers[i]).numpy(), dtype=np.float32)

    def set(self, i: int, values) -> None:
        k = _keras_kernel(self._layers[i])
        k.assign(np.asarray(values, dtype=np.float32).reshape(k.shape))

    def layer(self, i: int):
        return self._layers[i]

    def predict(self, x, batch_size: int = 1000) -> np.ndarray:
        out = [np.asarray(self.model(x[i:i + batch_size], training=False)).argmax(1)
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out).astype(np.int64) if out else np.empty(0, np.int64)

    def rest(self) -> dict[str, np.ndarray]:
        return {w.name: np.array(w.numpy()) for w in self._rest}

    def set_rest(self, arrays: dict) -> None:
        names = [w.name for w in self._rest]
        if sorted(names) != sorted(arrays):
            raise ValueError(f"the model does not match the stored tensors: model has {names}, "
                             f"file has {sorted(arrays)}")
        for w in self._rest:
            w.assign(arrays[w.name])

    def clone(self):
        import tensorflow as tf

        twin = tf.keras.models.clone_model(self.model)
        twin.set_weights(self.model.get_weights())
        return twin


def _flat_keras_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _flat_keras_layers(layer)
        else:
            yield layer


def _keras_kernel(layer):
    """The shared tensor of a Keras layer: ``kernel`` (Conv, Dense) or ``depthwise_kernel``."""
    for attr in ("kernel", "depthwise_kernel"):
        w = getattr(layer, attr, None)
        if w is not None:
            return w
    return None


def adapter(model):
    """The adapter for a ``torch.nn.Module`` or a Keras model (anything else: ValueError)."""
    if isinstance(model, (TorchAdapter, KerasAdapter)):
        return model
    if is_torch(model):
        return TorchAdapter(model)
    if is_keras(model):
        return KerasAdapter(model)
    raise ValueError(f"expected a torch.nn.Module or a Keras model, got {type(model).__name__}")


def weight_layers(model) -> list[WeightLayer]:
    """The model's weight layers in order (input -> output): name, shape and ``size`` (weights)."""
    return list(adapter(model).layers)
