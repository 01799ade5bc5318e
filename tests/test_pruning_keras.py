import numpy as np
import pytest

from course_lib import datasets, pruning as P, zoo


@pytest.mark.slow
def test_tfmot_reaches_the_scheduled_sparsity_and_the_2_4_pattern():
    from course_lib.models import keras_lenet5
    from course_lib.quantization import keras_from_torch

    x, y = datasets.load("mnist", "train")
    pick = np.random.default_rng(0).permutation(len(x))[:512]  # the split is sorted by class
    x, y = datasets.to_channels_last(x[pick]), y[pick]
    model = zoo.load("lenet5-relu")
    stripped = P.tfmot_prune(keras_from_torch(model, keras_lenet5("relu")), x, y, sparsity=0.8, epochs=1)
    assert P.keras_sparsity(stripped) == pytest.approx(0.8, abs=0.02)
    assert not any("prune" in l.name for l in stripped.layers)  # strip_pruning removed the wrappers
    nm = P.tfmot_prune(keras_from_torch(model, keras_lenet5("relu")), x, y, m_by_n=(2, 4), epochs=1)
    kernel = nm.get_layer("fc1").kernel.numpy()  # (in 120, out 84): groups of 4 along the input axis
    groups = (kernel.T.reshape(84, -1, 4) != 0).sum(-1)
    assert (groups <= 2).all()
