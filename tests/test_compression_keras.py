"""The Keras adapter: the same sharing, file and evaluator on an (untrained) Keras LeNet-5."""
from __future__ import annotations

import numpy as np
import pytest

from course_lib.compression import (CachedEvaluator, compression_rate, load_compressed, save_compressed,
                                    share_model, share_whole, weight_layers)
from course_lib.models import keras_lenet5

KS = [3, 5, 3, 2, 2]


@pytest.fixture(scope="module")
def model():
    tf = pytest.importorskip("tensorflow")  # imported here, not at collection time

    tf.keras.utils.set_random_seed(0)
    m = keras_lenet5("relu")
    for layer in m.layers:  # non-zero biases, so that "the rest" is really restored
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign(np.random.default_rng(1).normal(0, 0.1, layer.bias.shape).astype(np.float32))
    return m


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((40, 28, 28, 1), dtype=np.float32)


def kernels(m):
    return [m.get_layer(n).kernel.numpy() for n in ("conv1", "conv2", "conv3", "fc1", "fc2")]


def test_keras_weight_layers(model):
    layers = weight_layers(model)
    assert [l.name for l in layers] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert [l.size for l in layers] == [150, 2400, 48000, 10080, 840]


def test_keras_share_model_and_whole(model):
    before = kernels(model)
    shared = share_model(model, KS, codebook_format="float16")
    for k, w, w0 in zip(KS, kernels(shared.model), before):
        assert len(np.unique(w)) == k
        assert np.abs(w - w0).max() < np.abs(w0).max()  # shared values stay within the weights' range
    for w, w0 in zip(kernels(model), before):  # the original model is untouched
        np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(shared.model.get_layer("fc1").bias.numpy(), model.get_layer("fc1").bias.numpy())
    assert shared.cr() == pytest.approx(compression_rate([150, 2400, 48000, 10080, 840], KS, 16))
    whole = share_whole(model, 4)
    assert len(np.unique(np.concatenate([w.ravel() for w in kernels(whole.model)]))) == 4


def test_keras_file_round_trip(model, images, tmp_path):
    path = tmp_path / "k.ews"
    info = save_compressed(model, KS, path, "float8_e5m2")
    skeleton = keras_lenet5("relu")  # fresh random weights: everything must come from the file
    loaded = load_compressed(path, model=skeleton)
    expected = np.asarray(info["shared"].model(images, training=False))
    np.testing.assert_array_equal(np.asarray(loaded.model(images, training=False)), expected)


def test_keras_evaluator(model, images):
    labels = np.asarray(model(images, training=False)).argmax(1)
    ev = CachedEvaluator(model, images, labels, k_max=8)
    assert ev.baseline_accuracy == 1.0 and ev.stats["staged_inference"] is False
    r = ev([3, 5, 3, 2, 2])
    shared = share_model(model, KS)
    assert r["accuracy"] == float((np.asarray(shared.model(images, training=False)).argmax(1) == labels).mean())
