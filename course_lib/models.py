"""The course's models, PyTorch first, with Keras twins for the TensorFlow weeks.

Images are channels first ``(N, C, H, W)`` for PyTorch and channels last ``(N, H, W, C)`` for
Keras (see :func:`course_lib.datasets.to_channels_last`).
"""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class LeNet5(nn.Module):
    """LeNet-5 as in the thesis (docs/method.md); input ``(N, 1, 28, 28)`` in [0, 1].

    The 28x28 digit is zero-padded to 32x32 inside the model, then conv 6@5x5 -> avg-pool 2 ->
    conv 16@5x5 -> avg-pool 2 -> conv 120@5x5 -> fc 84 -> fc 10. Five weight layers with
    150, 2,400, 48,000, 10,080 and 840 weights.
    """

    def __init__(self, activation: str = "tanh", num_classes: int = 10):
        super().__init__()
        act = _activation(activation)
        self.activation = activation
        self.pad = nn.ZeroPad2d(2)
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.act1 = act()
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.act2 = act()
        self.pool2 = nn.AvgPool2d(2)
        self.conv3 = nn.Conv2d(16, 120, 5)
        self.act3 = act()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(120, 84)
        self.act4 = act()
        self.fc2 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.conv1(self.pad(x))))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.flatten(self.act3(self.conv3(x)))
        return self.fc2(self.act4(self.fc1(x)))


class ConvNet(nn.Module):
    """A plain CNN: per stage two 3x3 conv-BN-ReLU and a 2x2 max-pool, then global average
    pooling and one linear layer. ``widths`` are the channels of each stage."""

    def __init__(self, in_channels: int = 3, num_classes: int = 10,
                 widths: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be a non-empty tuple of positive ints, got {widths!r}")
        layers, c = [], in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def small_cnn(num_classes: int = 10, in_channels: int = 3) -> ConvNet:
    """The small CNN for 32x32 colour images (CIFAR-10): about 0.29 M parameters."""
    return ConvNet(in_channels, num_classes, (32, 64, 128))


def mobilenet_v2(width_mult: float = 1.0, num_classes: int = 10, small_input: bool = True) -> nn.Module:
    """torchvision's MobileNetV2 with a width multiplier.

    With ``small_input`` (32-64 px images) the stem and the second stage keep stride 1, as in the
    usual CIFAR adaptation, so the last feature map is not reduced to less than a pixel.
    """
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
               [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
    if small_input:
        setting[1][3] = 1
    model = tv_mobilenet_v2(weights=None, width_mult=width_mult, num_classes=num_classes,
                            inverted_residual_setting=setting)
    if small_input:
        model.features[0][0].stride = (1, 1)
    return model


def teacher_student(in_channels: int = 1, num_classes: int = 10) -> tuple[ConvNet, ConvNet]:
    """A teacher (1.15 M parameters) and a student about 60x smaller (18.5 k), for distillation weeks."""
    teacher = ConvNet(in_channels, num_classes, (64, 128, 256))
    student = ConvNet(in_channels, num_classes, (8, 16, 32))
    return teacher, student


# --- Keras twins ----------------------------------------------------------------------------

def keras_lenet5(activation: str = "tanh", num_classes: int = 10):
    """Keras LeNet-5 with the same layers as :class:`LeNet5`; input ``(N, 28, 28, 1)``."""
    _activation(activation)
    import course_lib  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
    import tensorflow as tf

    L = tf.keras.layers
    return tf.keras.Sequential([
        L.InputLayer(input_shape=(28, 28, 1)),
        L.ZeroPadding2D(2),
        L.Conv2D(6, 5, activation=activation, name="conv1"),
        L.AveragePooling2D(2),
        L.Conv2D(16, 5, activation=activation, name="conv2"),
        L.AveragePooling2D(2),
        L.Conv2D(120, 5, activation=activation, name="conv3"),
        L.Flatten(),
        L.Dense(84, activation=activation, name="fc1"),
        L.Dense(num_classes, name="fc2"),
    ], name=f"lenet5_{activation}")


def keras_small_cnn(num_classes: int = 10, input_shape=(32, 32, 3), widths=(32, 64, 128)):
    """Keras twin of :func:`small_cnn` (channels last)."""
    import course_lib  # noqa: F401
    import tensorflow as tf

    L = tf.keras.layers
    layers = [L.InputLayer(input_shape=input_shape)]
    for w in widths:
        for _ in range(2):
            layers += [L.Conv2D(w, 3, padding="same", use_bias=False), L.BatchNormalization(), L.ReLU()]
        layers.append(L.MaxPooling2D(2))
    layers += [L.GlobalAveragePooling2D(), L.Dense(num_classes)]
    return tf.keras.Sequential(layers, name="small_cnn")


# --- a transformer and a network for 3-D data (week 1's three families) ---------------------

class TinyViT(nn.Module):
    """A vision transformer small enough for a CPU: 28x28 digits cut into ``patch`` x ``patch``
    patches (16 tokens of 7x7 pixels by default), ``depth`` pre-norm encoder blocks of
    ``nn.MultiheadAttention`` and an MLP, mean pooling over tokens, a linear head.

    Input ``(N, 1, H, W)`` with ``H`` and ``W`` multiples of ``patch``; the position embedding
    (a parameter of this module, not of a layer) is sized for ``image_size`` and interpolated
    for other sizes, so the same model can be profiled at several resolutions.
    """

    def __init__(self, patch: int = 7, dim: int = 32, depth: int = 2, heads: int = 2,
                 mlp_ratio: int = 2, num_classes: int = 10, image_size: int = 28, in_channels: int = 1):
        super().__init__()
        if image_size % patch or dim % heads:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch ({patch}) and "
                             f"dim ({dim}) a multiple of heads ({heads})")
        self.patch, self.grid = patch, image_size // patch
        self.embed = nn.Conv2d(in_channels, dim, patch, stride=patch)  # one linear map per patch
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid * self.grid, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def _pos(self, h: int, w: int) -> torch.Tensor:
        if (h, w) == (self.grid, self.grid):
            return self.pos_embed
        grid = self.pos_embed.reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        grid = nn.functional.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)
        return grid.permute(0, 2, 3, 1).reshape(1, h * w, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)                                  # (N, dim, H/p, W/p)
        h, w = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2) + self._pos(h, w)  # (N, tokens, dim)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x).mean(1))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class PointNetTiny(nn.Module):
    """A tiny PointNet (Qi et al., CVPR 2017) without the input transforms: the same small MLP on
    every point (``Linear`` layers on ``(N, P, 3)``), a max over the points (order does not
    matter), then a classifier. Input ``(N, P, 3)`` point coordinates; any ``P``.
    """

    def __init__(self, num_classes: int = 5, widths: tuple[int, ...] = (32, 64, 128), hidden: int = 64):
        super().__init__()
        layers, c = [], 3
        for w in widths:
            layers += [nn.Linear(c, w), nn.ReLU()]
            c = w
        self.point_mlp = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != 3:
            raise ValueError(f"PointNetTiny takes (N, P, 3) point clouds, got shape {tuple(x.shape)}")
        return self.classifier(self.point_mlp(x).amax(dim=1))
