"""Exact optimal 1-D k-means by dynamic programming (Ckmeans.1d.dp, Wang & Song 2011).

After sorting, an optimal k-clustering of 1-D values is k contiguous runs. With prefix sums the
SSE of any run costs O(1), and

    D[k][j] = min_{i < j} D[k-1][i] + sse(i, j)        (first j sorted values in k clusters)

The best split ``i`` is non-decreasing in ``j`` (the cost is Monge), so each row is solved by
divide and conquer in O(n log n). The recursion is run level by level, all midpoints of a level
in one vectorised numpy step. One pass gives every k <= k_max: :func:`kmeans1d_all`.

Repeated values are merged and weighted by their count, so the DP runs over distinct values.
"""
from __future__ import annotations

import numpy as np

from .checks import check_k, check_values

METHODS = ("dp", "kmeans", "minibatch-kmeans", "gmm")


class KMeans1DPath:
    """Optimal clusterings of one array for every k in 1..k_max (from :func:`kmeans1d_all`).

    ``centroids(k)``: float64 ``(k,)`` sorted; ``labels(k)``: int ``(n,)`` in the input's order;
    ``sse(k)``: the sum of squared errors.
    """

    def __init__(self, values: np.ndarray, uniq: np.ndarray, counts: np.ndarray,
                 inverse: np.ndarray, splits: np.ndarray, k_max: int):
        self.values, self.uniq, self.counts, self.inverse = values, uniq, counts, inverse
        self._splits = splits  # splits[k-1, j]: start of the last run for k clusters on uniq[:j]
        self.k_max = k_max

    def _bounds(self, k: int) -> np.ndarray:
        if not 1 <= k <= self.k_max:
            raise ValueError(f"k={k} is outside this path's range 1..{self.k_max}; "
                             f"call kmeans1d_all with a larger k_max")
        ends = [len(self.uniq)]
        for kk in range(k, 1, -1):
            ends.append(int(self._splits[kk - 1, ends[-1]]))
        return np.array([0] + ends[::-1])  # run r covers uniq[b[r]:b[r+1]]

    def labels_unique(self, k: int) -> np.ndarray:
        b = self._bounds(k)
        return np.repeat(np.arange(k), np.diff(b))

    def centroids(self, k: int) -> np.ndarray:
        lab = self.labels_unique(k)
        w = np.bincount(lab, weights=self.counts, minlength=k)
        return np.bincount(lab, weights=self.counts * self.uniq, minlength=k) / w

    def labels(self, k: int) -> np.ndarray:
        return self.labels_unique(k)[self.inverse]

    def sse(self, k: int) -> float:
        return sse(self.values, self.centroids(k), self.labels(k))

    def __getitem__(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.centroids(k), self.labels(k)


def sse(values, centroids, labels) -> float:
    """Sum of squared distances of ``values`` to their assigned ``centroids[labels]``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return float(np.sum((v - np.asarray(centroids, np.float64)[labels]) ** 2))


def _dp_row(prev: np.ndarray, prev_arg: np.ndarray, k: int, W, S1, S2) -> tuple[np.ndarray, np.ndarray]:
    """Row k of the DP from row k-1, by level-wise vectorised divide and conquer.

    Splits are bounded by the neighbouring midpoints (monotone in j) and from below by the
    previous row's split at the same j (monotone in k), which shrinks the searched ranges.
    ``sse(i, j) = S2[j] - S2[i] - (S1[j] - S1[i])^2 / (W[j] - W[i])``; S2[j] is constant
    for a given j, so it is added after the minimum.
    """
    n = len(W) - 1
    P = prev - S2
    cur = np.full(n + 1, np.inf)
    arg = np.zeros(n + 1, dtype=np.int64)
    # tasks: fill j in [jlo, jhi], knowing the split lies in [olo, ohi]
    jlo, jhi = np.array([k]), np.array([n])
    olo, ohi = np.array([k - 1]), np.array([n - 1])
    while jlo.size:
        mid = (jlo + jhi) // 2
        hi = np.minimum(ohi, mid - 1)
        lo = np.minimum(np.maximum(olo, prev_arg[mid]), hi)  # min(): a guard against ties
        lengths = hi - lo + 1
        ends = np.cumsum(lengths)
        starts = ends - lengths
        i = np.arange(ends[-1]) - np.repeat(starts - lo, lengths)
        s1 = np.repeat(S1[mid], lengths) - S1[i]
        s1 *= s1
        s1 /= np.repeat(W[mid], lengths) - W[i]
        cost = P[i] - s1
        best = np.minimum.reduceat(cost, starts)
        # first (smallest) i reaching the minimum keeps ties deterministic
        hits = np.flatnonzero(cost == np.repeat(best, lengths))
        opt = i[hits[np.searchsorted(hits, starts)]]
        cur[mid], arg[mid] = best + S2[mid], opt
        left = jlo < mid
        right = mid < jhi
        jlo, jhi, olo, ohi = (np.concatenate((jlo[left], mid[right] + 1)),
                              np.concatenate((mid[left] - 1, jhi[right])),
                              np.concatenate((olo[left], opt[right])),
                              np.concatenate((opt[left], ohi[right])))
    return cur, arg


def kmeans1d_all(values, k_max: int) -> KMeans1DPath:
    """Optimal 1-D k-means for every k in 1..k_max in one DP pass.

    ``values``: any array (flattened), finite. ``k_max`` must not exceed the number of distinct
    values. Deterministic; the SSE of each k is the global optimum.
    """
    v = check_values(values)
    uniq, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    k_max = check_k(k_max, len(uniq), "k_max")
    # centre before the prefix sums: keeps S2 - S1^2/W from cancelling catastrophically
    x = uniq - np.average(uniq, weights=counts)
    cw = counts.astype(np.float64)
    W = np.concatenate(([0.0], np.cumsum(cw)))
    S1 = np.concatenate(([0.0], np.cumsum(cw * x)))
    S2 = np.concatenate(([0.0], np.cumsum(cw * x * x)))
    n = len(uniq)
    splits = np.zeros((k_max, n + 1), dtype=np.int32)
    row = S2 - S1 * S1 / np.where(W > 0, W, 1.0)  # k = 1: one run from 0 to j
    row[0] = 0.0
    arg = np.zeros(n + 1, dtype=np.int64)
    for k in range(2, k_max + 1):
        row, arg = _dp_row(row, arg, k, W, S1, S2)
        splits[k - 1] = arg
    return KMeans1DPath(v, uniq, counts, inverse.ravel(), splits, k_max)


def kmeans1d(values, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact optimal 1-D k-means: ``(centroids float64 (k,) sorted, labels int (n,))``."""
    return kmeans1d_all(values, k)[k]


def cluster1d(values, k: int, method: str = "dp", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1-D clustering by name: ``"dp"`` (exact, default) or the thesis's scikit-learn options
    ``"kmeans"``, ``"minibatch-kmeans"``, ``"gmm"`` (for comparison; seeded).

    Returns ``(centroids (k',), labels (n,))`` with centroids sorted ascending; k' < k only when
    a scikit-learn method leaves a cluster empty.
    """
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "dp":
        return kmeans1d(values, k)
    v = check_values(values)
    check_k(k, len(np.unique(v)))
    X = v.reshape(-1, 1)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(X)
    elif method == "minibatch-kmeans":
        from sklearn.cluster import MiniBatchKMeans

        labels = MiniBatchKMeans(n_clusters=k, n_init=1, random_state=seed, batch_size=1024).fit_predict(X)
    else:
        from sklearn.mixture import GaussianMixture

        labels = GaussianMixture(n_components=k, random_state=seed).fit(X).predict(X)
    return sorted_means(v, labels)


def sorted_means(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Representatives = cluster means, clusters renumbered by ascending mean (empty ones dropped)."""
    counts = np.bincount(labels)
    used = np.flatnonzero(counts)
    means = np.bincount(labels, weights=values)[used] / counts[used]
    order = np.argsort(means)
    remap = np.empty(labels.max() + 1, dtype=np.int64)
    remap[used[order]] = np.arange(len(used))
    return means[order], remap[labels]
