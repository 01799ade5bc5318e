"""Deprecated: weight-sharing compression of a zoo model moved to :mod:`course_lib.pipeline`.

``course_lib.search`` is a model-agnostic ask/tell toolkit and imports nothing else of the
project; this module only forwards the old names (each warns and names its replacement) and
loads :mod:`course_lib.pipeline` when one of them is first used. It goes in the next release.
"""
from __future__ import annotations

import importlib
import warnings

_MOVED = {  # old name -> new name in course_lib.pipeline
    "best_within_loss": "best_within_loss", "within_loss": "within_loss", "retrain_candidates": "retrain_candidates",
    "bit_steps": "bit_steps", "worth_retraining": "worth_retraining", "make_fitness": "make_fitness",
    "reduced_space": "reduced_space", "build_evaluator": "build_evaluator", "thesis_cr_target": "thesis_cr_target",
    "TARGET_KINDS": "TARGET_KINDS", "compress": "compress",
}
# old keyword names -> new ones (percentage points now say so)
_RENAMED_KWARGS = {"max_loss": "max_loss_points", "reduce_loss": "max_loss_points", "codebook": "codebook_format"}


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"course_lib.search.compress.{name} is deprecated; use course_lib.pipeline.{_MOVED[name]}",
                  DeprecationWarning, stacklevel=2)
    pipeline = importlib.import_module("course_lib.pipeline")
    new = getattr(pipeline, _MOVED[name])
    if name == "compress":
        return _old_compress
    if callable(new) and not isinstance(new, type):
        return _with_old_kwargs(new)
    return new


def _with_old_kwargs(new):
    def call(*args, **kwargs):
        for old, renamed in _RENAMED_KWARGS.items():
            if old in kwargs:
                kwargs[renamed] = kwargs.pop(old)
        return new(*args, **kwargs)

    call.__name__, call.__doc__ = new.__name__, new.__doc__
    return call


def _old_compress(model: str = "lenet5-tanh", algo: str = "ga", budget: int = 400, codebook: str = "float16",
                  target: str = "dynamic", seed: int = 0, out=None, **kwargs):
    """The old keyword interface: ``compress(model, algo, budget, codebook, target, seed, out, ...)``
    -> the result as a dict."""
    pipeline = importlib.import_module("course_lib.pipeline")
    run_kwargs = {k: kwargs.pop(k) for k in ("resume", "workers", "cache_dir", "evaluator", "progress")
                  if k in kwargs}
    run_kwargs["focus"] = kwargs.pop("finetune", False)
    renamed = {"max_loss": "max_loss_points", "reduce_loss": "reduce_loss_points", "retrain": "retrain_epochs",
               "retrain_slack": "retrain_slack_points", "refine": "refine_steps"}
    settings = {renamed.get(k, k): v for k, v in kwargs.items()}
    config = None if run_kwargs.get("resume") else pipeline.CompressConfig(
        model_name=model, algo=algo, budget=budget, codebook_format=codebook, target=target, seed=seed, **settings)
    return pipeline.compress(config, out, **run_kwargs).to_dict()
