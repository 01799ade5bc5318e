"""Seeded synthetic point clouds of five parametric shapes: a 3-D data set that needs no download.

``make_shapes3d(n, num_points, seed)`` returns ``(x, y)``: ``x`` float32 ``(n, num_points, 3)``
point coordinates inside the unit ball, ``y`` int64 ``(n,)`` indices into :data:`CLASSES`. Each
cloud samples the surface of its shape, stretches each axis by a random factor in
``[0.6, 1]``, rotates it at random, adds Gaussian noise (sigma 0.02) and rescales it so the
farthest point lies on the unit sphere. Same arguments, same arrays, on every machine.
"""
from __future__ import annotations

import numpy as np

CLASSES = ("sphere", "cube", "cylinder", "cone", "torus")
SIZES = {"train": 1500, "val": 500, "test": 500}
NUM_POINTS = 128


def _sphere(rng, p):
    v = rng.normal(size=(p, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _cube(rng, p):
    pts = rng.uniform(-1, 1, size=(p, 3))
    axis = rng.integers(0, 3, p)
    pts[np.arange(p), axis] = rng.choice([-1.0, 1.0], p)
    return pts


def _cylinder(rng, p):
    theta = rng.uniform(0, 2 * np.pi, p)
    z = rng.uniform(-1, 1, p)
    r = np.ones(p)
    cap = rng.random(p) < 1 / 3  # caps hold 2π of the 6π surface
    r[cap] = np.sqrt(rng.random(cap.sum()))
    z[cap] = rng.choice([-1.0, 1.0], cap.sum())
    return np.stack([r * np.cos(theta), r * np.sin(theta), z], 1)


def _cone(rng, p):
    theta = rng.uniform(0, 2 * np.pi, p)
    r = np.sqrt(rng.random(p))  # uniform over the lateral area: density grows with the radius
    z = 1 - 2 * r
    base = rng.random(p) < 0.31  # base area π of the total π(1 + √5)
    r[base] = np.sqrt(rng.random(base.sum()))
    z[base] = -1.0
    return np.stack([r * np.cos(theta), r * np.sin(theta), z], 1)


def _torus(rng, p, big=0.7, small=0.3):
    u, v = rng.uniform(0, 2 * np.pi, (2, p))
    return np.stack([(big + small * np.cos(v)) * np.cos(u), (big + small * np.cos(v)) * np.sin(u),
                     small * np.sin(v)], 1)


SURFACES = (_sphere, _cube, _cylinder, _cone, _torus)


def _rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))  # a uniformly random orthogonal matrix ...
    return q if np.linalg.det(q) > 0 else -q  # ... turned into a rotation


def make_shapes3d(n: int, num_points: int = NUM_POINTS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled point clouds of ``num_points`` points each (see the module docstring)."""
    if int(n) < 1 or int(num_points) < 1:
        raise ValueError(f"n and num_points must be positive integers, got n={n}, num_points={num_points}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(CLASSES), int(n))
    x = np.empty((int(n), int(num_points), 3), np.float32)
    for i, label in enumerate(y):
        pts = SURFACES[label](rng, int(num_points)) * rng.uniform(0.6, 1.0, 3)
        pts = pts @ _rotation(rng).T + rng.normal(scale=0.02, size=pts.shape)
        x[i] = pts / np.linalg.norm(pts, axis=1).max()
    return x, y.astype(np.int64)
