"""Random search: uniform samples from the space. The baseline every other algorithm must beat."""
from __future__ import annotations

import numpy as np

from .base import Algorithm


class RandomSearch(Algorithm):
    """``batch_size`` uniform points per ``ask()`` (the thesis: 400 samples in total)."""

    name = "random"
    state_attrs = ("best_genes", "best_fitness")

    def __init__(self, space, seed=None, *, batch_size: int = 20):
        super().__init__(space, seed)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.best_genes, self.best_fitness = None, -np.inf

    def ask(self):
        return [self.space.from_indices(i) for i in self.space.sample_indices(self.rng, self.batch_size)]

    def tell(self, genes, fitness):
        fit = self._check_told(genes, fitness, None)
        i = int(np.argmax(fit))
        if fit[i] > self.best_fitness:
            self.best_genes, self.best_fitness = list(genes[i]), float(fit[i])

    def rescore(self, fitness_of):
        if self.best_genes is not None:
            self.best_fitness = float(fitness_of(self.best_genes))
