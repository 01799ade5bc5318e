"""The same problem, searched by other libraries: Optuna (TPE, NSGA-II) and pymoo (GA).

Each function spends exactly ``budget`` evaluations of ``problem(genes) -> dict`` over a
:class:`~course_lib.search.Space` and returns history records shaped like the runner's
(``evaluation, genes, <result keys>, fitness``), so the course can compare algorithms on one
footing. Genes are searched as indices into each gene's allowed values, which works for any
(even non-contiguous) reduced space. Needs ``pip install optuna pymoo`` (the ``search`` extra).
"""
from __future__ import annotations

import numpy as np

from .space import Space


class _Recorder:
    """Calls the problem, scores it, and keeps the first ``budget`` records."""

    def __init__(self, problem, space: Space, fitness, budget: int):
        self.problem, self.space, self.fitness, self.budget = problem, space, fitness, budget
        self.records: list[dict] = []

    def __call__(self, idx) -> dict:
        genes = self.space.from_indices(idx)
        result = {k: v for k, v in self.problem(genes).items() if k != "seconds"}
        rec = {"evaluation": len(self.records) + 1, "genes": genes, **result}
        if self.fitness is not None:
            rec["fitness"] = self.fitness.score(result)
        if len(self.records) < self.budget:
            self.records.append(rec)
        return rec


def optuna_search(problem, space: Space, budget: int, *, sampler: str = "tpe", seed: int = 0,
                  fitness=None, objectives=("accuracy", "cr_true")) -> list[dict]:
    """``sampler="tpe"`` maximises ``fitness.score(result)`` (e.g. a static ``TargetFitness``);
    ``sampler="nsga2"`` maximises the two ``objectives`` jointly (population 20)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rec = _Recorder(problem, space, fitness, budget)
    names = [f"g{i}" for i in range(len(space))]

    def suggest(trial):
        return [trial.suggest_int(n, 0, int(s) - 1) for n, s in zip(names, space.sizes)]

    if sampler == "tpe":
        if fitness is None:
            raise ValueError("TPE is single-objective: pass fitness=TargetFitness.static(...)")
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(lambda t: rec(suggest(t))["fitness"], n_trials=budget)
    elif sampler == "nsga2":
        study = optuna.create_study(directions=["maximize"] * len(objectives),
                                    sampler=optuna.samplers.NSGAIISampler(population_size=20, seed=seed))
        study.optimize(lambda t: tuple(rec(suggest(t))[k] for k in objectives), n_trials=budget)
    else:
        raise ValueError(f"sampler must be 'tpe' or 'nsga2', got {sampler!r}")
    return rec.records


def pymoo_ga(problem, space: Space, budget: int, *, seed: int = 0, fitness=None, pop_size: int = 12) -> list[dict]:
    """pymoo's GA on integer indices (SBX + polynomial mutation with rounding), maximising
    ``fitness.score(result)``; duplicates are eliminated by pymoo, the budget is exact."""
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.problem import ElementwiseProblem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.optimize import minimize

    if fitness is None:
        raise ValueError("pymoo_ga is single-objective: pass fitness=TargetFitness.static(...)")
    rec = _Recorder(problem, space, fitness, budget)

    class Wrapped(ElementwiseProblem):
        def __init__(self):
            super().__init__(n_var=len(space), n_obj=1, xl=np.zeros(len(space)), xu=space.sizes - 1.0, vtype=int)

        def _evaluate(self, x, out, *args, **kwargs):
            out["F"] = -rec(np.round(x).astype(int))["fitness"]

    algorithm = GA(pop_size=pop_size, sampling=IntegerRandomSampling(),
                   crossover=SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                   mutation=PM(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                   eliminate_duplicates=True)
    minimize(Wrapped(), algorithm, ("n_eval", budget), seed=seed, verbose=False)
    return rec.records
