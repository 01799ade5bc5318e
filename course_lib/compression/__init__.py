"""Weight-sharing compression: per-layer k-means codebooks, their file format and their evaluation.

The core works on numpy arrays; PyTorch and Keras models go through thin adapters::

    from course_lib import compression as C
    C.weight_layers(model)                      # names, shapes, sizes, in order
    shared = C.share_model(model, [3, 5, 3, 2, 2], codebook_format="float16")
    C.compression_rate([150, 2400, 48000, 10080, 840], [3, 5, 3, 2, 2], codebook_bits=16)
    C.save_compressed(model, [3, 5, 3, 2, 2], "lenet.ews", codebook_format="float16")
    ev = C.CachedEvaluator(model, x_val, y_val); ev([3, 5, 3, 2, 2])

``codebook_format=`` names a codebook *format* ("float16"; the older keyword ``codebook=`` still
works for one release and warns); a codebook is the array of values (``LayerCode.codebook``).
The method and its terms: ``docs/method.md``, ``docs/glossary.md``.
"""
from .checks import check_k, check_ks, check_values, check_xy
from .cluster_cache import ClusterCache
from .codebook import CODEBOOKS, codebook_bits, quantize, snap_to_codebook
from .codebook_training import train_codebooks
from .evaluator import CachedEvaluator
from .fileformat import load_compressed, read_header, save_compressed
# the old module name first: importing it later would rebind the package's ``finetune`` to the module
from . import finetune as _finetune_module  # noqa: F401  (isort: skip)
from .focus import FocusResult, cluster_lifted, finetune, focus_sweep, lift
from .kmeans1d import METHODS, KMeans1DPath, cluster1d, kmeans1d, kmeans1d_all, sse
from .layers import WeightLayer, adapter, weight_layers
from .rate import compression_rate, index_bits, layer_bits
from .share import LayerCode, Shared, share_model, share_values, share_whole, whole_model_sweep
from .space_reduction import reduce_space

__all__ = [
    "check_k", "check_ks", "check_values", "check_xy",
    "ClusterCache", "CachedEvaluator", "reduce_space",
    "CODEBOOKS", "codebook_bits", "snap_to_codebook",
    "train_codebooks", "load_compressed", "read_header", "save_compressed",
    "METHODS", "KMeans1DPath", "cluster1d", "kmeans1d", "kmeans1d_all", "sse",
    "WeightLayer", "adapter", "weight_layers",
    "compression_rate", "index_bits", "layer_bits",
    "LayerCode", "Shared", "share_model", "share_values", "share_whole", "whole_model_sweep",
    "FocusResult", "focus_sweep", "cluster_lifted", "lift",
    "quantize", "finetune",  # deprecated aliases of snap_to_codebook and focus_sweep
]
