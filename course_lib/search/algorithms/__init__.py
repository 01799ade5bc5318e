"""Search algorithms, one per file, all with the same ask/tell interface."""
from __future__ import annotations

from .annealing import SimulatedAnnealing
from .base import Algorithm
from .blackhole import BlackHolePSO
from .genetic import GeneticAlgorithm
from .pso import PSO
from .random_search import RandomSearch

ALGORITHMS = {
    "random": RandomSearch,
    "ga": GeneticAlgorithm,
    "genetic": GeneticAlgorithm,
    "pso": PSO,
    "blackhole": BlackHolePSO,
    "bh": BlackHolePSO,
    "annealing": SimulatedAnnealing,
    "sa": SimulatedAnnealing,
}


def make(name: str, space, seed: int | None = None, **kwargs) -> Algorithm:
    """Build an algorithm by name (``random``, ``ga``, ``pso``, ``blackhole``, ``annealing``)."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {sorted(set(ALGORITHMS))}")
    return ALGORITHMS[name](space, seed, **kwargs)


__all__ = ["Algorithm", "RandomSearch", "GeneticAlgorithm", "PSO", "BlackHolePSO",
           "SimulatedAnnealing", "ALGORITHMS", "make"]
