import copy

import numpy as np
import pytest
import torch

from course_lib import datasets, pruning as P, zoo
from course_lib.models import ConvNet
from course_lib.training import accuracy, fit


def _masked_original(model, kept):
    """The original with the removed channels silenced: conv filter, bias and BN affine zeroed."""
    masked = copy.deepcopy(model)
    chains = {c: bn for c, bn, _ in P.channels._chains(masked)}
    for conv_name, keep in kept.items():
        conv = masked.get_submodule(conv_name)
        drop = np.setdiff1d(np.arange(conv.out_channels), keep)
        with torch.no_grad():
            conv.weight[drop] = 0
            if conv.bias is not None:
                conv.bias[drop] = 0
            if chains[conv_name] is not None:
                bn = masked.get_submodule(chains[conv_name])
                bn.weight[drop] = 0
                bn.bias[drop] = 0
    return masked.eval()


def _trained_bn_net():
    torch.manual_seed(0)
    net = ConvNet(1, 10, (8, 16))
    for m in net.modules():  # non-trivial BN statistics and affine parameters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def test_surgery_gives_a_thinner_model_that_equals_the_masked_original():
    net = _trained_bn_net()
    thin, kept = P.prune_channels(net, 0.5)
    assert [m.out_channels for m in thin.modules() if isinstance(m, torch.nn.Conv2d)] == [4, 4, 8, 8]
    assert thin.classifier.in_features == 8
    assert sum(p.numel() for p in thin.parameters()) < 0.35 * sum(p.numel() for p in net.parameters())
    x = torch.randn(5, 1, 28, 28)
    torch.testing.assert_close(thin(x), _masked_original(net, kept)(x), rtol=1e-4, atol=1e-5)
    # the kept filters are those of largest L1 norm
    first = net.features[0]
    assert set(kept["features.0"]) == set(np.argsort(-P.filter_l1(first))[:4])
    assert net.features[0].out_channels == 8  # the input model is untouched


def test_kept_counts_can_be_rounded_to_the_runtimes_channel_blocks():
    assert [P.kept_count(n, 0.3) for n in (16, 32, 64)] == [11, 22, 45]      # as torch.nn.utils.prune counts
    assert [P.kept_count(n, 0.3, 16) for n in (16, 32, 64)] == [16, 16, 48]  # nearest multiple of 16
    assert [P.kept_count(n, 0.5, 16) for n in (8, 16, 100)] == [8, 16, 48]   # at least one block, at most n
    assert P.kept_count(10, 0.0, 4) == 8
    for bad in (0, -8, 2.5, True):
        with pytest.raises(ValueError, match="multiple_of must be a positive integer"):
            P.kept_count(16, 0.3, bad)
    with pytest.raises(ValueError, match="amount must be in"):
        P.kept_count(16, 1.0, 8)
    net = _trained_bn_net()                                                    # widths 8-8-16-16
    thin, kept = P.prune_channels(net, 0.3, multiple_of=4)
    assert [m.out_channels for m in thin.modules() if isinstance(m, torch.nn.Conv2d)] == [8, 8, 12, 12]  # 6 -> 8, 11 -> 12
    x = torch.randn(3, 1, 28, 28)
    torch.testing.assert_close(thin(x), _masked_original(net, kept)(x), rtol=1e-4, atol=1e-5)
    name = [n for n, k in kept.items() if len(k) == 12][0]
    assert set(kept[name]) == set(np.argsort(-P.filter_l1(net.get_submodule(name)))[:12])


def test_surgery_on_lenet_feeds_the_linear_layer_and_refuses_bad_amounts():
    model = zoo.load("lenet5-tanh")
    thin, kept = P.prune_channels(model, {"conv3": 0.5})
    assert thin.conv3.out_channels == 60 and thin.fc1.in_features == 60
    x = torch.from_numpy(datasets.load("mnist", "val")[0][:20])
    torch.testing.assert_close(thin(x), _masked_original(model, kept)(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="amount must be in"):
        P.prune_channels(model, 1.0)
    with pytest.raises(ValueError, match="unknown convs"):
        P.prune_channels(model, {"fc1": 0.5})
    with pytest.raises(ValueError, match="no conv layer"):
        P.prune_channels(torch.nn.Sequential(torch.nn.Linear(3, 3)), 0.5)


def test_sensitivity_scan_shows_accuracy_falling_with_sparsity():
    model = zoo.load("lenet5-relu")
    x, y = datasets.load("mnist", "val")
    rows = P.layer_sensitivity(model, x[:300], y[:300], ratios=[0.0, 0.9], layers=["conv1", "conv3"])
    acc = {(r["layer"], r["sparsity"]): r["accuracy"] for r in rows}
    assert acc[("conv1", 0.0)] == acc[("conv3", 0.0)] == accuracy(model, x[:300], y[:300])
    assert acc[("conv1", 0.9)] < acc[("conv3", 0.9)]  # 150 weights: the first layer is the sensitive one


def test_lottery_ticket_rounds_compound_sparsity_and_keep_masks():
    x, y = datasets.load("mnist", "train")
    xv, yv = datasets.load("mnist", "val")
    torch.manual_seed(0)
    model = zoo.build("lenet5-relu")
    calls = []

    def train(m):
        calls.append(P.sparsity_report(m)["sparsity"])
        fit(m, x[:300], y[:300], xv[:200], yv[:200], epochs=1, lr=2e-3, progress=False)

    out = P.iterative_magnitude_pruning(model, train, rounds=2, rate=0.5)
    assert out["sparsity"] == pytest.approx([0.5, 0.75], abs=1e-3)
    assert calls == pytest.approx([0.0, 0.5, 0.75], abs=1e-3)  # each round trains the rewound, masked net
    assert P.sparsity_report(out["model"])["sparsity"] == pytest.approx(0.75, abs=1e-3)
    # survivors were rewound to the initial values before the last training
    first = P.rewind(model, model.state_dict(), out["masks"])
    w0 = model.conv3.weight.detach().numpy()
    np.testing.assert_array_equal(first.conv3.weight.detach().numpy(), w0 * out["masks"][2])
