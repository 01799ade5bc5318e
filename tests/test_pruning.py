import numpy as np
import pytest
import torch

from course_lib import pruning as P, zoo


def test_magnitude_mask_prunes_exactly_the_smallest_magnitudes():
    w = np.array([[0.5, -3.0, 0.1], [-0.2, 2.0, -0.05]], np.float32)
    mask = P.magnitude_mask(w, 0.5)
    assert mask.sum() == 3
    np.testing.assert_array_equal(mask, [[1, 1, 0], [0, 1, 0]])  # -3 is kept: magnitude, not sign
    assert P.magnitude_mask(w, 0.0).all()
    assert P.magnitude_mask(np.ones(7), 0.99).sum() == 0  # round(0.99 * 7) = 7 zeros


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.5", True, None])
def test_sparsity_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match="sparsity"):
        P.magnitude_mask(np.ones(4), bad)


def test_global_masks_use_one_threshold_and_hit_the_total():
    rng = np.random.default_rng(0)
    small, large = rng.normal(0, 0.1, 1000), rng.normal(0, 1.0, 1000)
    masks = P.global_magnitude_masks([small, large], 0.5)
    assert sum(int((m == 0).sum()) for m in masks) == 1000
    assert (masks[0] == 0).mean() > 0.85 and (masks[1] == 0).mean() < 0.15  # the small layer loses most
    kept_min = min(np.abs(w[m == 1]).min() for w, m in zip([small, large], masks))
    dropped_max = max(np.abs(w[m == 0]).max() for w, m in zip([small, large], masks))
    assert dropped_max <= kept_min


def test_nm_mask_keeps_two_of_every_four_along_the_input_axis():
    w = np.random.default_rng(1).normal(size=(6, 4, 2, 2)).astype(np.float32)
    mask = P.nm_mask(w, 2, 4)
    groups = mask.reshape(6, -1).reshape(-1, 4)
    assert (groups.sum(1) == 2).all()
    aw = np.abs(w).reshape(-1, 4)
    assert (np.sort(aw * groups, 1)[:, 2:] == np.sort(aw, 1)[:, 2:]).all()  # the two largest survive
    with pytest.raises(ValueError, match="groups of 3"):
        P.nm_mask(np.ones((2, 4)), 2, 3)


def test_masks_go_through_torch_prune_and_survive_until_made_permanent():
    model = zoo.load("lenet5-relu")
    masks = P.global_magnitude_masks(model, 0.8)
    P.apply_masks(model, masks)
    assert hasattr(model.conv3, "weight_orig") and hasattr(model.conv3, "weight_mask")  # torch's reparametrisation
    report = P.sparsity_report(model)
    assert report["sparsity"] == pytest.approx(0.8, abs=1e-4)
    assert [r["name"] for r in report["layers"]] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    P.make_permanent(model)
    assert not hasattr(model.conv3, "weight_orig")
    assert P.sparsity_report(model)["sparsity"] == pytest.approx(0.8, abs=1e-4)


def test_model_without_prunable_layers_is_refused():
    with pytest.raises(ValueError, match="no prunable layers"):
        P.global_magnitude_masks(torch.nn.Sequential(torch.nn.ReLU()), 0.5)


def test_sparse_bytes_per_format():
    w = np.zeros((4, 10), np.float32)
    w[0, 1], w[2, 9], w[3, 0] = 1.0, 2.0, 3.0
    assert P.sparse_bytes(w, "dense") == 160
    assert P.sparse_bytes(w, "bitmask") == 5 + 12           # 40 mask bits + 3 float32 values
    assert P.sparse_bytes(w, "csr") == (3 * 64 + 5 * 32) // 8  # values + column indices + rows + 1 pointers
    # relative, 4-bit gaps: positions 11, 29, 30 -> gaps 11, 17 (> 15: a filler, then 1), 0 -> 4 entries
    assert P.sparse_bytes(w, "relative", 32, index_bits=4) == 4 * 36 // 8
    assert P.sparse_bytes(w, "relative", 32) <= P.sparse_bytes(w, "relative", 32, index_bits=4)
    with pytest.raises(ValueError, match="unknown sparse format"):
        P.sparse_bytes(w, "coo")
