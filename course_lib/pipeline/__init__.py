"""The application layer: weight-sharing compression of a zoo model, end to end.

    from course_lib.pipeline import CompressConfig, compress
    result = compress(CompressConfig("lenet5-tanh", algo="ga", budget=400, seed=0), out="runs/a")
    result.ks, result.cr_true, result.test_accuracy

It sits above :mod:`course_lib.compression` (the evaluator, sharing, retraining) and
:mod:`course_lib.search` (the ask/tell toolkit, which knows nothing of models): a
:class:`Task` loads the model, its splits and the evaluator once and every step takes it.
``course-lib compress`` is :mod:`.cli`. The method: ``docs/method.md``.
"""
from .compress import compress, focus_best
from .config import TARGET_KINDS, CompressConfig, thesis_cr_target
from .result import CompressResult
from .retrain import (Retrained, bit_steps, refine_retrained, retrain, retrain_and_refine, retrain_and_select,
                      worth_retraining)
from .select import best_within_loss, retrain_candidates, within_loss
from .space import make_fitness, reduced_space, task_space
from .task import Task, build_evaluator

__all__ = [
    "compress", "CompressConfig", "CompressResult", "Task", "build_evaluator",
    "reduced_space", "task_space", "make_fitness", "TARGET_KINDS", "thesis_cr_target",
    "within_loss", "best_within_loss", "retrain_candidates",
    "retrain", "retrain_and_select", "bit_steps", "worth_retraining", "refine_retrained", "retrain_and_refine",
    "Retrained", "focus_best",
]
