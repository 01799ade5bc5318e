"""PSO with black-hole restarts (the thesis's "BH").

After each move, a particle that was evaluated on the same discrete point as the global best
and was moving slower than ``radius`` x ``v_max`` (largest velocity component; thesis: 25 %)
is "swallowed": re-placed uniformly at random with a random velocity and a cleared personal
best. The slow-speed condition lets particles still oscillate around the best and probe its
neighbours; the restart stops the whole swarm collapsing onto one point.
"""
from __future__ import annotations

import numpy as np

from .pso import PSO


class BlackHolePSO(PSO):
    name = "blackhole"
    state_attrs = PSO.state_attrs + ("restarts",)

    def __init__(self, space, seed=None, *, radius: float = 0.25, **pso_kwargs):
        super().__init__(space, seed, **pso_kwargs)
        if not 0 <= radius <= 1:
            raise ValueError(f"radius is a fraction of v_max in [0, 1], got {radius}")
        self.radius = radius
        self.restarts = 0  # particles swallowed so far

    def _restart_mask(self, coords: np.ndarray) -> np.ndarray:
        on_best = np.all(coords == self.gbest, axis=1)
        slow = np.abs(self.v).max(axis=1) < self.radius * self.v_max
        self.restarts += int((on_best & slow).sum())
        return on_best & slow
