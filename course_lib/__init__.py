"""EdgeML Course library: what the weekly notebooks import.

TensorFlow 2.21 ships Keras 3; TFMOT needs Keras 2 (``tf_keras``). Setting
``TF_USE_LEGACY_KERAS=1`` before TensorFlow is first imported makes ``tf.keras``
resolve to ``tf_keras``, so this must happen at package import time.
"""
import importlib.abc
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _TorchDynamoBeforeTensorFlow(importlib.abc.MetaPathFinder):
    """With torch 2.14 and TensorFlow 2.21 in one process, loading TensorFlow before
    ``torch._dynamo`` makes the first torch optimizer step segfault (both bundle LLVM-based
    libraries). Notebooks mix the two, so the first ``import tensorflow`` loads dynamo first.
    Costs nothing for code that never imports TensorFlow."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow":
            sys.meta_path.remove(self)
            try:
                import torch._dynamo  # noqa: F401
            except ImportError:
                pass
        return None


if "tensorflow" not in sys.modules and not any(isinstance(f, _TorchDynamoBeforeTensorFlow) for f in sys.meta_path):
    sys.meta_path.insert(0, _TorchDynamoBeforeTensorFlow())

__version__ = "0.1.0"


def fast_mode() -> bool:
    """True when ``COURSE_FAST=1``: notebooks shrink epochs/budgets (CI, nbgrader validate)."""
    return os.environ.get("COURSE_FAST", "0").lower() not in ("", "0", "false", "no")


def profile(model, input_shape, **kwargs):
    """Per-layer parameters, MACs, activation memory and size; see :mod:`course_lib.profiling`."""
    from .profiling import profile as _profile

    return _profile(model, input_shape, **kwargs)
