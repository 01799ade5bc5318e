"""EdgeML Course library: what the weekly notebooks import.

TensorFlow 2.21 ships Keras 3; TFMOT needs Keras 2 (``tf_keras``). Setting
``TF_USE_LEGACY_KERAS=1`` before TensorFlow is first imported makes ``tf.keras``
resolve to ``tf_keras``, so this must happen at package import time.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def fast_mode() -> bool:
    """True when ``COURSE_FAST=1``: notebooks shrink epochs/budgets (CI, nbgrader validate)."""
    return os.environ.get("COURSE_FAST", "0").lower() not in ("", "0", "false", "no")


def profile(model, input_shape, **kwargs):
    """Per-layer parameters, MACs, activation memory and size; see :mod:`course_lib.profiling`."""
    from .profiling import profile as _profile

    return _profile(model, input_shape, **kwargs)
