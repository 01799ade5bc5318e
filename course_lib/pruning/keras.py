"""The Keras twin: pruning during training with TFMOT (``prune_low_magnitude``).

TFMOT wraps each layer with a mask variable, raises the sparsity on a schedule while
``UpdatePruningStep`` advances it every batch, and ``strip_pruning`` leaves a plain Keras model
whose kernels contain the zeros (the same idea as ``torch.nn.utils.prune`` + ``prune.remove``).
"""
from __future__ import annotations

import numpy as np

from .masks import check_sparsity


def tfmot_prune(model, x, y, *, sparsity: float = 0.8, epochs: int = 2, batch_size: int = 64,
                m_by_n: tuple[int, int] | None = None, lr: float = 1e-3):
    """Prune-and-train a Keras ``model`` on ``(x, y)`` (channels last) and strip the wrappers.

    ``sparsity``: final sparsity of a ``PolynomialDecay`` from 0 over all ``epochs``;
    ``m_by_n=(2, 4)``: TFMOT's structured N:M sparsity instead (``sparsity`` is then unused).
    Returns the stripped model (a new Keras model; ``model`` is wrapped, not modified in place).
    """
    import course_lib  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    s = check_sparsity(sparsity)
    steps = epochs * int(np.ceil(len(x) / batch_size))
    sk = tfmot.sparsity.keras
    if m_by_n is not None:
        pruned = sk.prune_low_magnitude(model, pruning_schedule=sk.ConstantSparsity(0.5, 0),
                                        sparsity_m_by_n=tuple(m_by_n))
    else:
        schedule = sk.PolynomialDecay(initial_sparsity=0.0, final_sparsity=s, begin_step=0,
                                      end_step=max(1, steps - 1), frequency=max(1, steps // 10))
        pruned = sk.prune_low_magnitude(model, pruning_schedule=schedule)
    pruned.compile(optimizer=tf.keras.optimizers.Adam(lr),
                   loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    pruned.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[sk.UpdatePruningStep()])
    return sk.strip_pruning(pruned)


def keras_sparsity(model) -> float:
    """Fraction of zeros over the Conv/Dense kernels of a Keras model."""
    kernels = [l.kernel.numpy() for l in model.layers if getattr(l, "kernel", None) is not None]
    if not kernels:
        raise ValueError(f"Keras model {model.name!r} has no Conv/Dense kernels")
    return float(sum((k == 0).sum() for k in kernels) / sum(k.size for k in kernels))
