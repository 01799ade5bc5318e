"""Particle swarm optimisation on a discrete space.

Particles fly in continuous coordinates (see ``Space``) and are evaluated at the nearest
allowed point. Velocity update, per dimension, with fresh uniform ``r_p, r_g``::

    v <- w*v + c_p*r_p*(pbest - x) + c_g*r_g*(gbest - x),   clipped to [-v_max, v_max]
    x <- clip(x + v, lowest, highest)

Two settings: ``"thesis"`` (w = 0.8, c_p = c_g = 2.05, v_max = 4, 20 particles x 20 iterations)
and ``"constriction"`` (Clerc & Kennedy 2002: w = 0.7298, c_p = c_g = 1.49618, which converges
without relying on the clamp).
"""
from __future__ import annotations

import numpy as np

from .base import Algorithm

SETTINGS = {
    "thesis": {"inertia": 0.8, "c_p": 2.05, "c_g": 2.05},
    "constriction": {"inertia": 0.7298, "c_p": 1.49618, "c_g": 1.49618},
}


class PSO(Algorithm):
    name = "pso"
    state_attrs = ("x", "v", "pbest", "pbest_fit", "gbest", "gbest_fit")

    def __init__(self, space, seed=None, *, n_particles: int = 20, setting: str = "thesis",
                 inertia: float | None = None, c_p: float | None = None, c_g: float | None = None,
                 v_max: float = 4.0):
        super().__init__(space, seed)
        if setting not in SETTINGS:
            raise ValueError(f"setting must be one of {list(SETTINGS)}, got {setting!r}")
        if n_particles < 1:
            raise ValueError(f"n_particles must be >= 1, got {n_particles}")
        if v_max <= 0:
            raise ValueError(f"v_max must be > 0 (in coordinate units, e.g. clusters), got {v_max}")
        params = {**SETTINGS[setting], **{k: v for k, v in
                                          {"inertia": inertia, "c_p": c_p, "c_g": c_g}.items() if v is not None}}
        self.inertia, self.c_p, self.c_g = params["inertia"], params["c_p"], params["c_g"]
        self.setting, self.n_particles, self.v_max = setting, n_particles, float(v_max)
        self.lo, self.hi = space.bounds()
        self.x = self._random_positions(n_particles)
        self.v = self.rng.uniform(-self.v_max, self.v_max, size=self.x.shape)
        self.pbest = self.x.copy()  # coordinates of each particle's best allowed point
        self.pbest_fit = np.full(n_particles, -np.inf)
        self.gbest = self.x[0].copy()
        self.gbest_fit = -np.inf

    def _random_positions(self, n: int) -> np.ndarray:
        return np.array([self.space.to_coords(self.space.from_indices(i))
                         for i in self.space.sample_indices(self.rng, n)], float)

    def ask(self):
        return [self.space.nearest(x) for x in self.x]

    def tell(self, genes, fitness):
        fit = self._check_told(genes, fitness, self.n_particles)
        coords = np.array([self.space.to_coords(g) for g in genes])
        better = fit > self.pbest_fit
        self.pbest[better], self.pbest_fit[better] = coords[better], fit[better]
        i = int(np.argmax(self.pbest_fit))
        if self.pbest_fit[i] > self.gbest_fit:
            self.gbest, self.gbest_fit = self.pbest[i].copy(), float(self.pbest_fit[i])
        restart = self._restart_mask(coords)
        self._move()
        if restart.any():
            self._restart(restart)

    def _restart_mask(self, coords: np.ndarray) -> np.ndarray:
        """Particles to re-place at random after this move; plain PSO never restarts."""
        return np.zeros(self.n_particles, bool)

    def _restart(self, mask: np.ndarray) -> None:
        n = int(mask.sum())
        self.x[mask] = self._random_positions(n)
        self.v[mask] = self.rng.uniform(-self.v_max, self.v_max, size=(n, len(self.space)))
        self.pbest[mask], self.pbest_fit[mask] = self.x[mask], -np.inf

    def _move(self) -> None:
        r_p = self.rng.random(self.x.shape)
        r_g = self.rng.random(self.x.shape)
        self.v = (self.inertia * self.v + self.c_p * r_p * (self.pbest - self.x)
                  + self.c_g * r_g * (self.gbest - self.x))
        self.v = np.clip(self.v, -self.v_max, self.v_max)
        self.x = np.clip(self.x + self.v, self.lo, self.hi)

    def rescore(self, fitness_of):
        seen = np.isfinite(self.pbest_fit)
        for i in np.flatnonzero(seen):
            self.pbest_fit[i] = fitness_of(self.space.nearest(self.pbest[i]))
        if np.isfinite(self.gbest_fit):
            self.gbest_fit = float(fitness_of(self.space.nearest(self.gbest)))
        # a moved target can make a personal best better than the remembered global best
        if seen.any() and self.pbest_fit.max() > self.gbest_fit:
            i = int(np.argmax(self.pbest_fit))
            self.gbest, self.gbest_fit = self.pbest[i].copy(), float(self.pbest_fit[i])

    def best(self):
        if not np.isfinite(self.gbest_fit):
            return None, -np.inf
        return self.space.nearest(self.gbest), float(self.gbest_fit)
