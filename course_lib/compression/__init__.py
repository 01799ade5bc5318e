"""Weight-sharing compression (the thesis method; spec ``weight_sharing_search.md`` sections 1-3, 7, 8).

The core works on numpy arrays; PyTorch and Keras models go through thin adapters::

    from course_lib import compression as C
    C.weight_layers(model)                      # names, shapes, sizes, in order
    shared = C.share_model(model, [3, 5, 3, 2, 2], codebook="float16")
    C.compression_rate([150, 2400, 48000, 10080, 840], [3, 5, 3, 2, 2], codebook_bits=16)
    C.save_compressed(model, [3, 5, 3, 2, 2], "lenet.ews", codebook="float16")
    ev = C.CachedEvaluator(model, x_val, y_val); ev([3, 5, 3, 2, 2])
"""
from .codebook import CODEBOOKS, codebook_bits, quantize
from .codebook_training import train_codebooks
from .evaluator import CachedEvaluator
from .fileformat import load_compressed, read_header, save_compressed
from .finetune import cluster_lifted, finetune, lift
from .kmeans1d import METHODS, KMeans1DPath, cluster1d, kmeans1d, kmeans1d_all, sse
from .layers import WeightLayer, adapter, weight_layers
from .rate import compression_rate, index_bits
from .share import LayerCode, Shared, share_model, share_values, share_whole, whole_model_sweep

__all__ = [
    "train_codebooks",
    "CODEBOOKS", "load_compressed", "read_header", "save_compressed", "codebook_bits", "quantize", "CachedEvaluator", "METHODS", "KMeans1DPath",
    "cluster1d", "kmeans1d", "kmeans1d_all", "sse", "WeightLayer", "adapter", "weight_layers",
    "compression_rate", "index_bits", "LayerCode", "Shared", "share_model", "share_values",
    "share_whole", "whole_model_sweep", "cluster_lifted", "finetune", "lift",
]
