"""Genetic algorithm: selection, crossover and mutation on index vectors.

The operators are pure functions on numpy arrays so they can be tested (and taught) alone;
``GeneticAlgorithm`` strings them together. Thesis setting for LeNet-5: population 12, one
elite (kept unmutated, not re-evaluated), roulette selection, one-point crossover, per-gene
mutation 20 % -> 12 + 35 x 11 = 397 evaluations in 36 generations.
"""
from __future__ import annotations

import numpy as np

from .base import Algorithm


# --- selection: indices of the chosen parents -----------------------------------------------
def roulette(fitness: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n`` parents with probability proportional to fitness (which must be > 0)."""
    fitness = np.asarray(fitness, float)
    if not np.all(np.isfinite(fitness)) or np.any(fitness <= 0):
        raise ValueError(f"roulette selection needs finite, strictly positive fitness; got min "
                         f"{fitness.min():.4g}. Use selection='tournament', or make the fitness positive "
                         "(e.g. the distance-to-target fitness, which is always > 0)")
    return rng.choice(len(fitness), size=n, p=fitness / fitness.sum())


def tournament(fitness: np.ndarray, n: int, rng: np.random.Generator, size: int = 3) -> np.ndarray:
    """Pick ``n`` parents, each the fittest of ``size`` uniformly drawn candidates (any sign)."""
    fitness = np.asarray(fitness, float)
    entrants = rng.integers(0, len(fitness), size=(n, size))
    return entrants[np.arange(n), np.argmax(fitness[entrants], axis=1)]


# --- crossover: two complementary children ----------------------------------------------------
def one_point(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Swap the tails after a random cut (the cut leaves at least one gene on each side)."""
    if len(a) < 2:
        return a.copy(), b.copy()
    cut = rng.integers(1, len(a))
    return np.concatenate([a[:cut], b[cut:]]), np.concatenate([b[:cut], a[cut:]])


def uniform(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each gene comes from either parent with probability 1/2; the second child gets the rest."""
    take_a = rng.random(len(a)) < 0.5
    return np.where(take_a, a, b), np.where(take_a, b, a)


CROSSOVERS = {"one_point": one_point, "uniform": uniform}


# --- mutation --------------------------------------------------------------------------------
def mutate(idx: np.ndarray, sizes: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Each gene, with probability ``rate``, jumps to a *different* allowed value chosen uniformly."""
    idx = idx.copy()
    hit = (rng.random(len(idx)) < rate) & (sizes > 1)
    for g in np.flatnonzero(hit):
        # draw from the sizes-1 other values: a mutation that changes nothing would be wasted
        new = rng.integers(0, sizes[g] - 1)
        idx[g] = new + (new >= idx[g])
    return idx


class GeneticAlgorithm(Algorithm):
    name = "genetic"
    state_attrs = ("population", "fitness", "pending", "best_genes", "best_fitness")

    def __init__(self, space, seed=None, *, pop_size: int = 12, elitism: int = 1,
                 selection: str = "roulette", tournament_size: int = 3,
                 crossover: str = "one_point", mutation_rate: float = 0.2):
        super().__init__(space, seed)
        if pop_size < 2:
            raise ValueError(f"pop_size must be >= 2, got {pop_size}")
        if not 0 <= elitism < pop_size:
            raise ValueError(f"elitism must be in [0, pop_size={pop_size}), got {elitism}")
        if selection not in ("roulette", "tournament"):
            raise ValueError(f"selection must be 'roulette' or 'tournament', got {selection!r}")
        if crossover not in CROSSOVERS:
            raise ValueError(f"crossover must be one of {list(CROSSOVERS)}, got {crossover!r}")
        if not 0 <= mutation_rate <= 1:
            raise ValueError(f"mutation_rate is a probability in [0, 1], got {mutation_rate}")
        self.pop_size, self.elitism = pop_size, elitism
        self.selection, self.tournament_size = selection, tournament_size
        self.crossover, self.mutation_rate = crossover, mutation_rate
        self.population = np.zeros((0, len(space)), int)  # the current generation (indices)
        self.fitness = np.zeros(0)
        self.pending = space.sample_indices(self.rng, pop_size)  # asked, not yet told
        self.best_genes, self.best_fitness = None, -np.inf

    def ask(self):
        return [self.space.from_indices(i) for i in self.pending]

    def tell(self, genes, fitness):
        fit = self._check_told(genes, fitness, len(self.pending))
        # survivors = elites of the old generation (already evaluated) + the children just told
        order = np.argsort(-self.fitness, kind="stable")[:self.elitism]
        self.population = np.concatenate([self.population[order], self.pending])
        self.fitness = np.concatenate([self.fitness[order], fit])
        self._update_best()
        self.pending = self._children(self.pop_size - min(self.elitism, len(self.population)))

    def _children(self, n: int) -> np.ndarray:
        if self.selection == "roulette":
            parents = roulette(self.fitness, 2 * ((n + 1) // 2), self.rng)
        else:
            parents = tournament(self.fitness, 2 * ((n + 1) // 2), self.rng, self.tournament_size)
        kids = []
        for a, b in parents.reshape(-1, 2):
            for child in CROSSOVERS[self.crossover](self.population[a], self.population[b], self.rng):
                kids.append(mutate(child, self.space.sizes, self.mutation_rate, self.rng))
        return np.array(kids[:n])

    def _update_best(self):
        i = int(np.argmax(self.fitness))
        if self.fitness[i] > self.best_fitness:
            self.best_genes, self.best_fitness = self.space.from_indices(self.population[i]), float(self.fitness[i])

    def rescore(self, fitness_of):
        self.fitness = np.array([fitness_of(self.space.from_indices(i)) for i in self.population], float)
        if self.best_genes is not None:
            self.best_fitness = float(fitness_of(self.best_genes))
        if len(self.population):
            self._update_best()
