"""Pruning: masks (unstructured, global, N:M) on ``torch.nn.utils.prune``, sparse storage costs.

    from course_lib import pruning as P
    masks = P.global_magnitude_masks(model, 0.8)      # one threshold over all layers
    P.apply_masks(model, masks)                       # prune.custom_from_mask on each layer
    P.sparsity_report(model)["sparsity"]              # 0.8
    P.make_permanent(model)                           # prune.remove: zeros stay, hooks go
    P.sparse_bytes(w, "csr", value_bits=32)           # bytes of one tensor in a sparse format
"""
from .formats import FORMATS, sparse_bytes
from .masks import (apply_masks, check_sparsity, global_magnitude_masks, magnitude_mask, make_permanent,
                    nm_mask, prunable_modules, sparsity_report)

__all__ = ["FORMATS", "sparse_bytes", "apply_masks", "check_sparsity", "global_magnitude_masks",
           "magnitude_mask", "make_permanent", "nm_mask", "prunable_modules", "sparsity_report"]
