"""Weight-sharing core: exact 1-D k-means, codebook formats, compression rate, bit packing."""
from __future__ import annotations

import itertools

import ml_dtypes
import numpy as np
import pytest

from course_lib.compression import (CODEBOOKS, cluster1d, codebook_bits, compression_rate, index_bits,
                                    kmeans1d, kmeans1d_all, quantize, snap_to_codebook, sse)
from course_lib.compression.fileformat import pack_bits, unpack_bits

LENET_SIZES = [150, 2400, 48000, 10080, 840]


def brute_force_sse(values, k):
    """Best SSE over every split of the sorted values into k contiguous runs."""
    s = np.sort(values)
    best = np.inf
    for cuts in itertools.combinations(range(1, len(s)), k - 1):
        b = (0, *cuts, len(s))
        best = min(best, sum(((s[b[r]:b[r + 1]] - s[b[r]:b[r + 1]].mean()) ** 2).sum() for r in range(k)))
    return best


@pytest.mark.parametrize("seed", range(40))
def test_kmeans1d_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 10))
    values = rng.normal(size=n).round(int(rng.integers(0, 3)))  # rounding makes ties and repeats
    distinct = len(np.unique(values))
    path = kmeans1d_all(values, distinct)
    for k in range(1, distinct + 1):
        expected = brute_force_sse(values, k)
        assert path.sse(k) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        centroids, labels = kmeans1d(values, k)
        assert sse(values, centroids, labels) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert np.all(np.diff(centroids) > 0) and len(centroids) == k


def test_kmeans1d_labels_are_consistent_and_deterministic():
    rng = np.random.default_rng(1)
    values = rng.normal(size=500).astype(np.float32)
    c1, l1 = kmeans1d(values, 7)
    c2, l2 = kmeans1d(values[::-1].copy(), 7)
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(l1, l2[::-1])
    # every value's centroid is the mean of its cluster, and it is the nearest centroid
    for j in range(7):
        assert c1[j] == pytest.approx(values[l1 == j].astype(np.float64).mean())
    nearest = np.abs(values[:, None] - c1[None, :]).argmin(1)
    np.testing.assert_array_equal(nearest, l1)


def test_kmeans1d_never_worse_than_sklearn():
    rng = np.random.default_rng(2)
    # a LeNet-like weight distribution: a peak near zero and heavy tails
    values = np.concatenate([rng.normal(0, 0.05, 3000), rng.laplace(0, 0.2, 1000)])
    path = kmeans1d_all(values, 12)
    for k in (2, 5, 12):
        for method in ("kmeans", "minibatch-kmeans", "gmm"):
            c, lab = cluster1d(values, k, method)
            assert path.sse(k) <= sse(values, c, lab) * (1 + 1e-12)


def test_kmeans1d_bad_input():
    with pytest.raises(ValueError, match=">= 1"):
        kmeans1d([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="distinct values"):
        kmeans1d([1.0, 1.0, 2.0], 3)
    with pytest.raises(ValueError, match="NaN"):
        kmeans1d([1.0, np.nan, 2.0], 2)
    with pytest.raises(ValueError, match="empty"):
        kmeans1d([], 1)
    with pytest.raises(ValueError, match="unknown clustering method"):
        cluster1d([1.0, 2.0], 2, "kmedoids")


def test_compression_rate_pins_the_thesis_vector():
    ks = [3, 5, 3, 2, 2]
    assert compression_rate(LENET_SIZES, ks, 16) == pytest.approx(17.15, abs=0.005)
    assert compression_rate(LENET_SIZES, ks, 16, mode="thesis-mean") == pytest.approx(20.5451, abs=5e-5)
    # one group: both definitions agree; k = 1 costs only the codebook entry
    assert compression_rate([100], [4], 32) == compression_rate([100], [4], 32, mode="thesis-mean")
    assert compression_rate([100], [1], 32) == pytest.approx(100 * 32 / 32)
    assert compression_rate([100], [2], 32) == pytest.approx(3200 / (100 + 2 * 33))


def test_compression_rate_bad_input():
    with pytest.raises(ValueError, match="one k per layer"):
        compression_rate(LENET_SIZES, [3, 5, 3])
    with pytest.raises(ValueError, match="mode"):
        compression_rate(LENET_SIZES, [3, 5, 3, 2, 2], mode="mean")
    with pytest.raises(ValueError, match="k must be >= 1"):
        compression_rate([10], [0])


def test_index_bits():
    assert [index_bits(k) for k in (1, 2, 3, 4, 5, 8, 9, 50)] == [0, 1, 2, 2, 3, 3, 4, 6]


def test_codebook_bits_and_real_formats():
    assert {n: codebook_bits(n) for n in CODEBOOKS} == {
        "float32": 32, "float16": 16, "bfloat16": 16, "float8_e4m3": 8, "float8_e5m2": 8}
    with pytest.raises(ValueError, match="unknown codebook 'int4'"):
        codebook_bits("int4")
    values = np.linspace(-0.3, 0.3, 1001, dtype=np.float32)
    centroids = np.array([-0.2001, -0.01, 0.0123, 0.25], dtype=np.float32)
    for name, dtype in [("float16", np.float16), ("bfloat16", ml_dtypes.bfloat16),
                        ("float8_e4m3", ml_dtypes.float8_e4m3fn), ("float8_e5m2", ml_dtypes.float8_e5m2)]:
        cb, idx = snap_to_codebook(values, centroids, name)
        # entries are exactly representable in the format, and each value maps to the nearest one
        np.testing.assert_array_equal(cb.astype(dtype).astype(np.float32), cb)
        dist = np.abs(values[:, None] - cb[None, :])
        np.testing.assert_allclose(dist[np.arange(len(values)), idx], dist.min(1))


def test_cast_duplicates_collapse():
    # two centroids closer than one float8 step merge: the stored k shrinks
    cb, idx = snap_to_codebook(np.array([0.100, 0.101, 0.5], np.float32), [0.100, 0.101, 0.5], "float8_e4m3")
    with pytest.deprecated_call(match="course_lib.compression.quantize is deprecated; use course_lib.compression.snap_to_codebook"):
        old = quantize(np.array([0.100, 0.101, 0.5], np.float32), [0.100, 0.101, 0.5], "float8_e4m3")
    np.testing.assert_array_equal(old[0], cb)
    np.testing.assert_array_equal(old[1], idx)
    assert len(cb) == 2 and idx.max() == 1


@pytest.mark.parametrize("bits", [0, 1, 2, 3, 5, 8, 11])
def test_bit_packing_round_trip(bits):
    rng = np.random.default_rng(bits)
    n = 1001
    idx = rng.integers(0, 2**bits, n) if bits else np.zeros(n, np.int64)
    data = pack_bits(idx, bits)
    assert len(data) == (n * bits + 7) // 8
    np.testing.assert_array_equal(unpack_bits(data, n, bits), idx)


def test_old_codebook_keyword_warns_at_the_caller_and_gives_the_same_result():
    from course_lib.compression import share_values

    values = np.random.default_rng(0).normal(size=500).astype(np.float32)
    new = share_values(values, 5, codebook_format="float8_e4m3")
    with pytest.deprecated_call(match=r"^course_lib\.compression\.share_values\(codebook=\.\.\.\) is deprecated; "
                                      r"use course_lib\.compression\.share_values\(codebook_format=\.\.\.\)$") as w:
        old = share_values(values, 5, codebook="float8_e4m3")
    assert [r.filename for r in w] == [__file__], "the warning points at the line that used the old keyword"
    np.testing.assert_array_equal(old[0], new[0])
    np.testing.assert_array_equal(old[1], new[1])
    assert not np.array_equal(share_values(values, 5)[0], new[0]), "the format reached the cast"
    with pytest.raises(TypeError, match="both codebook= and codebook_format="):
        share_values(values, 5, codebook="float16", codebook_format="float16")
    with pytest.deprecated_call() as w:  # a renamed function (deprecated_alias) points at its caller too
        quantize(values, [0.0, 1.0], "float16")
    assert [r.filename for r in w] == [__file__]
