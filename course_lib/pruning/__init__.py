"""Pruning on ``torch.nn.utils.prune`` (and TFMOT for Keras): masks, reports, sensitivity,
channel surgery, lottery tickets, sparse storage costs.

    from course_lib import pruning as P
    masks = P.global_magnitude_masks(model, 0.8)      # one threshold over all layers
    P.apply_masks(model, masks)                       # prune.custom_from_mask on each layer
    P.sparsity_report(model)["sparsity"]              # 0.8
    P.make_permanent(model)                           # prune.remove: zeros stay, hooks go
    P.sparse_bytes(w, "csr", value_bits=32)           # bytes of one tensor in a sparse format
    thin, kept = P.prune_channels(model, 0.5)         # a thinner dense model (conv -> BN -> next)
    P.layer_sensitivity(model, x_val, y_val)          # accuracy with one layer pruned at a time
    P.iterative_magnitude_pruning(model, train_fn, rounds=3, rate=0.5)   # lottery ticket
    P.tfmot_prune(keras_model, x, y, sparsity=0.8)    # TFMOT, Keras (import on first use)
"""
from .channels import channel_keep, filter_l1, kept_count, prune_channels
from .formats import FORMATS, sparse_bytes
from .lottery import iterative_magnitude_pruning, rewind
from .masks import (apply_masks, check_sparsity, global_magnitude_masks, magnitude_mask, make_permanent,
                    nm_mask, prunable_modules, sparsity_report)
from .sensitivity import layer_sensitivity
from .speed import paired_latency


def __getattr__(name):
    if name in ("tfmot_prune", "keras_sparsity"):  # TensorFlow loads only when asked for
        from . import keras

        return getattr(keras, name)
    raise AttributeError(f"module 'course_lib.pruning' has no attribute {name!r}")


__all__ = ["FORMATS", "sparse_bytes", "apply_masks", "check_sparsity", "global_magnitude_masks",
           "magnitude_mask", "make_permanent", "nm_mask", "prunable_modules", "sparsity_report",
           "channel_keep", "filter_l1", "kept_count", "prune_channels", "iterative_magnitude_pruning", "rewind",
           "layer_sensitivity", "paired_latency", "tfmot_prune", "keras_sparsity"]
