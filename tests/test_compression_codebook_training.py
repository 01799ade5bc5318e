import numpy as np
import pytest

from course_lib import datasets, zoo
from course_lib.compression import load_compressed, save_compressed, share_model, share_whole, train_codebooks
from course_lib.compression.codebook import round_to
from course_lib.training import accuracy


@pytest.fixture(scope="module")
def data():
    x, y = datasets.load("mnist", "train")
    xv, yv = datasets.load("mnist", "val")
    return x[:600], y[:600], xv, yv


def test_trained_codebooks_keep_indices_and_cr_and_never_lose_validation_accuracy(data, tmp_path):
    x, y, xv, yv = data
    shared = share_model(zoo.load("lenet5-tanh"), [3, 5, 3, 2, 2], codebook_format="float16")
    trained = train_codebooks(shared, x, y, xv, yv, epochs=2, progress=False)
    assert trained.ks_stored == shared.ks_stored and trained.cr("true") == shared.cr("true")
    before, after = accuracy(shared.model, xv, yv), accuracy(trained.model, xv, yv)
    assert after >= before
    assert after > before + 0.01  # [3, 5, 3, 2, 2] loses ~7 points; trained values win much of it back
    for old, new in zip(shared.codes, trained.codes):
        # same partition of the weights (indices may be renumbered when values change order)
        pairs = set(zip(old.indices.tolist(), new.indices.tolist()))
        assert len(pairs) == old.k
        np.testing.assert_array_equal(new.codebook, round_to(new.codebook, "float16"))
        assert np.all(np.diff(new.codebook) >= 0)
    w = trained.model.conv3.weight.detach().numpy()
    assert len(np.unique(w)) <= 3
    # the trained model still writes and reads back as a real compressed file
    save_compressed(trained.model, [3, 5, 3, 2, 2], tmp_path / "t.ews", codebook_format="float16",
                    model_id="lenet5-tanh")
    loaded = load_compressed(tmp_path / "t.ews")
    np.testing.assert_array_equal(loaded.model(__import__("torch").from_numpy(xv[:50])).argmax(1).numpy(),
                                  trained.model(__import__("torch").from_numpy(xv[:50])).argmax(1).numpy())
    assert shared.model.conv3.weight.requires_grad is True  # the input model is untouched


def test_reassigning_weights_keeps_k_and_beats_fixed_indices(data, tmp_path):
    (x, y), (_, _, xv, yv) = datasets.load("mnist", "train"), data  # 600 images overfit in one epoch
    model = zoo.load("lenet5-tanh")
    shared = share_model(model, [3, 5, 3, 2, 2], codebook_format="float16")
    fixed = train_codebooks(shared, x, y, xv, yv, epochs=2, lr=5e-4, progress=False)
    moved = train_codebooks(shared, x, y, xv, yv, epochs=2, lr=5e-4, reassign=True, original=model, progress=False)
    assert all(a <= b for a, b in zip(moved.ks_stored, shared.ks_stored))
    assert moved.cr("true") >= shared.cr("true")
    # weights did move to other clusters (not the same partition as the clustering's)
    old, new = shared.codes[2], moved.codes[2]
    assert len(set(zip(old.indices.tolist(), new.indices.tolist()))) > old.k
    # the model really uses only its codebook values, cast to the format
    w = moved.model.conv3.weight.detach().numpy().ravel()
    assert set(np.unique(w)) <= set(new.codebook) and len(new.codebook) <= 3
    np.testing.assert_array_equal(new.codebook, round_to(new.codebook, "float16"))
    before, after_fixed, after = (accuracy(s.model, xv, yv) for s in (shared, fixed, moved))
    assert after > after_fixed > before  # ~7 points lost by clustering; moving weights wins back the most
    save_compressed(moved.model, moved.ks_stored, tmp_path / "m.ews", codebook_format="float16", model_id="lenet5-tanh")
    assert accuracy(load_compressed(tmp_path / "m.ews").model, xv, yv) == after


def test_reassigning_keeps_one_codebook_for_the_whole_model(data):
    x, y, xv, yv = data
    model = zoo.load("lenet5-relu")
    shared = share_whole(model, 6, codebook_format="float16")
    moved = train_codebooks(shared, x, y, xv, yv, epochs=1, reassign=True, original=model, progress=False)
    assert len(moved.ks_stored) == 1 and moved.ks_stored[0] <= 6
    values = np.concatenate([p.detach().numpy().ravel() for n, p in moved.model.named_parameters() if "weight" in n])
    assert len(np.unique(values)) <= 6
    assert all(c.codebook is moved.codes[0].codebook for c in moved.codes)


def test_train_codebooks_bad_input(data):
    x, y, xv, yv = data
    shared = share_model(zoo.load("lenet5-relu"), [4, 4, 4, 4, 4])
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        train_codebooks(shared, x, y, xv, yv, epochs=0)
    with pytest.raises(ValueError, match="only used with reassign=True"):
        train_codebooks(shared, x, y, xv, yv, original=zoo.load("lenet5-relu"))
    from course_lib.models import small_cnn

    with pytest.raises(ValueError, match="must be the model that was shared"):
        train_codebooks(shared, x, y, xv, yv, reassign=True, original=small_cnn())
