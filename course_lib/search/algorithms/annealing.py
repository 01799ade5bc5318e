"""Simulated annealing (week 6): one walker, one neighbour per step.

A neighbour changes one random gene to an allowed value at most ``step`` positions away (its
index in the gene's value list). A better neighbour is always accepted; a worse one with
probability ``exp((f_new - f_current) / T)``. The temperature cools geometrically,
``T = t_start * cooling**step``, so ``t_start`` should be on the scale of fitness differences.
"""
from __future__ import annotations

import numpy as np

from .base import Algorithm


class SimulatedAnnealing(Algorithm):
    name = "annealing"
    state_attrs = ("current", "current_fit", "candidate", "steps", "best_genes", "best_fitness")

    def __init__(self, space, seed=None, *, t_start: float = 1.0, cooling: float = 0.99, step: int = 2):
        super().__init__(space, seed)
        if t_start <= 0 or not 0 < cooling <= 1:
            raise ValueError(f"need t_start > 0 and 0 < cooling <= 1, got t_start={t_start}, cooling={cooling}")
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        self.t_start, self.cooling, self.step = t_start, cooling, step
        self.current = None  # index vector of the walker, None until the first point is told
        self.current_fit = -np.inf
        self.candidate = space.sample_indices(self.rng, 1)[0]
        self.steps = 0
        self.best_genes, self.best_fitness = None, -np.inf

    @property
    def temperature(self) -> float:
        return self.t_start * self.cooling ** self.steps

    def ask(self):
        return [self.space.from_indices(self.candidate)]

    def tell(self, genes, fitness):
        f = float(self._check_told(genes, fitness, 1)[0])
        if self.current is None or f >= self.current_fit or \
                self.rng.random() < np.exp((f - self.current_fit) / self.temperature):
            self.current, self.current_fit = self.candidate, f
        if f > self.best_fitness:
            self.best_genes, self.best_fitness = list(genes[0]), f
        self.steps += 1
        self.candidate = self._neighbour(self.current)

    def _neighbour(self, idx: np.ndarray) -> np.ndarray:
        idx = idx.copy()
        movable = np.flatnonzero(self.space.sizes > 1)
        if len(movable) == 0:
            return idx
        g = self.rng.choice(movable)
        offsets = [d for d in range(-self.step, self.step + 1) if d and 0 <= idx[g] + d < self.space.sizes[g]]
        idx[g] += self.rng.choice(offsets)
        return idx

    def rescore(self, fitness_of):
        if self.current is not None:
            self.current_fit = float(fitness_of(self.space.from_indices(self.current)))
        if self.best_genes is not None:
            self.best_fitness = float(fitness_of(self.best_genes))
