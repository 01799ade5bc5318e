"""The search problem of a task: its reduced space and its fitness."""
from __future__ import annotations

from ..search.fitness import THESIS_THRESHOLDS, ParetoFitness, TargetFitness
from ..search.space import Space
from .config import TARGET_KINDS


def reduced_space(evaluator, *, max_loss_points: float | None = 1.0, threshold: float | None = None,
                  k_max: int = 50, progress: bool = True) -> Space:
    """:func:`course_lib.compression.reduce_space` over ``k = 1..k_max`` as a :class:`Space`
    (one integer gene per layer); an error names the layers left with no cluster count."""
    from ..compression import reduce_space

    allowed = reduce_space(evaluator, range(1, k_max + 1), threshold=threshold,
                           max_loss_points=None if threshold is not None else max_loss_points, progress=progress)
    empty = [n for n, a in zip(evaluator.layer_names, allowed) if not a]
    if empty:
        raise ValueError(f"space reduction left no cluster count for layer(s) {empty}; "
                         "loosen it (a larger reduce_loss_points, or a lower absolute threshold)")
    return Space.integers(allowed, names=evaluator.layer_names)


def make_fitness(kind: str, baseline_accuracy: float, cr_target: float, *, absolute: bool = False,
                 cr_key: str = "cr_true"):
    """The fitness for a target ``kind``: relative to ``baseline_accuracy`` (the course default) or,
    with ``absolute``, the thesis's numbers as they are (target 99 %, thresholds 97 %)."""
    if kind not in TARGET_KINDS:
        raise ValueError(f"target must be one of {', '.join(TARGET_KINDS)}, got {kind!r}")
    if kind == "pareto":
        return ParetoFitness(("accuracy", cr_key))
    if absolute:
        start = {"static": (0.99, cr_target), "dynamic": (0.99, cr_target), "extreme": (0.01, 1.0)}[kind]
        return TargetFitness(start, dynamic=kind != "static", thresholds=THESIS_THRESHOLDS, cr_key=cr_key)
    return TargetFitness.relative(kind, baseline_accuracy, cr_target, cr_key=cr_key)


def task_space(task, config, progress: bool = True) -> Space:
    """The reduced space of ``task`` under ``config`` (absolute: the thesis's 97 % threshold)."""
    if config.absolute:
        return reduced_space(task.evaluator, threshold=THESIS_THRESHOLDS[0], k_max=config.k_max, progress=progress)
    return reduced_space(task.evaluator, max_loss_points=config.reduce_loss_points, k_max=config.k_max,
                         progress=progress)
