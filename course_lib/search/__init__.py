"""Evolutionary and swarm search over discrete spaces, with an ask/tell core.

    from course_lib import search
    space = search.Space.integers([range(1, 51)] * 5)
    algo = search.make("ga", space, seed=0)
    res = search.run(problem, algo, budget=400, fitness=search.TargetFitness.extreme(), out_dir="runs/a")

Problems are callables ``genes -> dict`` kept apart from algorithms (pymoo style); the runner
adds budgets, a JSONL history, atomic checkpoints, resume and parallel evaluation. The toolkit
imports nothing else of the project; weight-sharing compression of a zoo model built on it is
:mod:`course_lib.pipeline` (``course-lib compress``).
"""
from .algorithms import (ALGORITHMS, PSO, Algorithm, BlackHolePSO, GeneticAlgorithm, RandomSearch,
                         SimulatedAnnealing, make)
from .fitness import Objective, ParetoFitness, TargetFitness, distance_fitness, move_target
from .pareto import ParetoArchive, dominates, hypervolume_2d, non_dominated
from .runner import Lazy, RunResult, read_history, run
from .space import Gene, Space, categorical, integer

__all__ = [
    "Space", "Gene", "integer", "categorical",
    "Algorithm", "RandomSearch", "GeneticAlgorithm", "PSO", "BlackHolePSO", "SimulatedAnnealing",
    "ALGORITHMS", "make",
    "Objective", "TargetFitness", "ParetoFitness", "distance_fitness", "move_target",
    "ParetoArchive", "dominates", "non_dominated", "hypervolume_2d",
    "run", "read_history", "RunResult", "Lazy",
]
