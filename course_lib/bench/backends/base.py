"""What every backend provides: ``check(**options)`` and ``load(...) -> Session``."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


class BackendUnavailable(RuntimeError):
    """The backend (or the device it needs) is not usable here; ``reason`` and ``install_hint`` say why."""

    def __init__(self, backend: str, reason: str, install_hint: str = ""):
        self.backend, self.reason, self.install_hint = backend, reason, install_hint
        hint = f"; install hint: {install_hint}" if install_hint else ""
        super().__init__(f"backend {backend!r} unavailable: {reason}{hint}")


@dataclass
class Session:
    """A loaded model ready to run one inference (or batch) per ``step()``.

    ``timed_step()`` returns the seconds one ``step`` took; CPU backends wrap ``step`` in
    ``perf_counter``, CUDA ones record CUDA events and synchronise. ``context`` is entered around
    warm-up and measurement (e.g. ``torch.inference_mode``) so the step itself stays bare.
    """
    step: Callable[[], object]
    timed_step: Callable[[], float]
    options: dict
    input_shape: tuple
    cuda: bool = False
    warnings: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    close: Callable[[], None] = lambda: None
    cuda_max_allocated: Callable[[], int | None] = lambda: None


def random_input(shape, dtype=np.float32, seed: int = 0) -> np.ndarray:
    """A fixed pseudo-random input in the value range of ``dtype`` ([0, 1) for floats)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating):
        return rng.random(shape, dtype=np.float32).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


def check_threads(threads) -> int | None:
    if threads is None:
        return None
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return int(threads)


def reject_unknown(backend: str, options: dict, allowed: set) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for backend {backend!r}; "
                         f"it accepts {sorted(allowed)}")
