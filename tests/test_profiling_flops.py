"""The profiler counts MACs by formula; PyTorch's FlopCounterMode counts the operators that ran.
They must agree on every zoo model and on the attention and point-cloud models."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib import models, profile, zoo
from course_lib.bench.export import zoo_input_shape
from course_lib.profiling import flop_counter_macs


def input_shape(name):
    return zoo_input_shape(name)[1:]


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_macs_agree_with_flop_counter(name):
    model = zoo.build(name)
    shape = input_shape(name)
    report = profile(model, shape)
    assert abs(report.macs - flop_counter_macs(model, shape)) <= 0.01 * report.macs
    assert report.params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("side", [28, 56])
def test_tiny_vit_attention_and_position_embedding_are_counted(side):
    model = models.TinyViT(patch=7, dim=32, depth=2, heads=2)
    report = profile(model, (1, side, side))
    assert report.macs == flop_counter_macs(model, (1, side, side))
    n, d = (side // 7) ** 2, 32
    attn = [r for r in report.layers if r.kind == "MultiheadAttention"]
    assert [r.macs for r in attn] == [4 * n * d * d + 2 * n * n * d] * 2
    assert attn[0].params == 4 * d * d + 4 * d  # in_proj and out_proj weights and biases
    holder = next(r for r in report.layers if r.name == "(model)")
    assert holder.params == 16 * d  # pos_embed lives on the model, not on a layer
    assert report.params == sum(p.numel() for p in model.parameters())


def test_pointnet_macs_grow_linearly_with_points():
    model = models.PointNetTiny()
    small, big = profile(model, (64, 3)), profile(model, (256, 3))
    head = 128 * 64 + 64 * 5
    assert (big.macs - head) == 4 * (small.macs - head)
    assert big.macs == flop_counter_macs(model, (256, 3))


def test_functional_attention_is_seen_by_the_counter_only_with_the_math_kernel():
    # Without SDPBackend.MATH the CPU kernel of scaled_dot_product_attention counts 0 FLOPs in
    # torch 2.14: flop_counter_macs must not inherit that blind spot.
    model = nn.MultiheadAttention(16, 2, batch_first=True)

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = model

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    n, d = 10, 16
    assert flop_counter_macs(Wrap(), (n, d)) == 4 * n * d * d + 2 * n * n * d == profile(Wrap(), (n, d)).macs
    assert Wrap().training  # the check restores the mode it found
