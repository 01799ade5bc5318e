import numpy as np
import pytest

from course_lib import datasets
from course_lib.shapes3d import CLASSES, make_shapes3d


def test_same_seed_same_clouds_and_every_class_present():
    x, y = make_shapes3d(50, num_points=64, seed=3)
    x2, y2 = make_shapes3d(50, num_points=64, seed=3)
    assert x.shape == (50, 64, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert set(y) == set(range(len(CLASSES)))
    radius = np.linalg.norm(x, axis=2).max(axis=1)
    assert np.allclose(radius, 1.0, atol=1e-6)  # rescaled to the unit ball
    assert not np.array_equal(x, make_shapes3d(50, num_points=64, seed=4)[0])


def test_load_gives_fixed_disjoint_splits():
    xt, yt = datasets.load("shapes3d", "train")
    xv, _ = datasets.load("shapes3d", "val")
    xs, _ = datasets.load("shapes3d", "test")
    assert (len(xt), len(xv), len(xs)) == (1500, 500, 500) and xt.shape[1:] == (128, 3)
    assert np.bincount(yt).min() > 250  # roughly balanced over the 5 classes
    assert not np.array_equal(xt[:500], xv) and not np.array_equal(xv, xs)
    assert "synthetic" in datasets.source("shapes3d")


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        make_shapes3d(0)
