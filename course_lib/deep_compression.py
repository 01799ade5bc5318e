"""Deep Compression end to end (Han, Mao & Dally, ICLR 2016): prune -> share -> Huffman code.

1. **Prune with retraining**: global magnitude masks (``course_lib.pruning``, on
   ``torch.nn.utils.prune``), raised to the target sparsity in ``steps`` steps with a few
   epochs of retraining after each (the masks keep pruned weights at zero meanwhile).
2. **Share the surviving weights**: per layer, k-means (the exact 1-D DP of
   :mod:`course_lib.compression`) on the non-zero weights only, then *trained* codebooks
   (:func:`~course_lib.compression.train_codebooks` with the zero entry frozen).
3. **Huffman code** codebook indices and relative positions into a ``.edc`` file
   (:mod:`course_lib.compression.sparse_format`; layout in ``docs/deep_compression.md``).

:func:`deep_compress` runs the three steps on a zoo model and reports each stage's size and
accuracy; the accuracies of the last stage are measured on the model read back from the file.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np

from . import fast_mode
from .compression import codebook_bits, share_values, train_codebooks
from .compression.layers import adapter
from .compression.checks import check_ks
from .compression.share import LayerCode, Shared
from .compression.sparse_format import write_deep
from .deprecation import renamed_keywords
from .pruning import (apply_masks, check_sparsity, global_magnitude_masks, make_permanent, prunable_modules,
                      sparse_bytes, sparsity_report)


def prune_with_retraining(model, sparsity: float, data: dict, *, steps: int = 4, epochs: int = 8,
                          lr: float = 1e-3, max_shift: int = 2, seed: int = 0, progress: bool = False) -> list[dict]:
    """Prune ``model`` in place to ``sparsity`` (global magnitude, cubic schedule over ``steps``)
    with ``epochs`` of retraining after each step; ``data``: ``{"train": (x, y), "val": (x, y)}``.
    Leaves the zeros permanent (no masks). Returns per step ``{"sparsity", "val_accuracy"}``."""
    from .training import accuracy, fit

    target = check_sparsity(sparsity)
    prunable_modules(model)  # a clear error for a model with nothing to prune
    if steps < 1 or epochs < 0:
        raise ValueError(f"steps must be >= 1 and epochs >= 0, got steps={steps}, epochs={epochs}")
    (x, y), (xv, yv) = data["train"], data["val"]
    history = []
    for t in range(1, steps + 1):
        s = target * (1 - (1 - t / steps) ** 3)  # Zhu & Gupta (2017): prune fast first, gently last
        weights = [m.weight.detach().numpy() for _, m in prunable_modules(model)]
        apply_masks(model, global_magnitude_masks(weights, s))
        if epochs:
            fit(model, x, y, xv, yv, epochs=epochs, lr=lr, max_shift=max_shift, seed=seed + t, progress=progress)
        history.append({"sparsity": sparsity_report(model)["sparsity"], "val_accuracy": accuracy(model, xv, yv)})
    make_permanent(model)
    return history


@renamed_keywords("course_lib.deep_compression.share_survivors", codebook="codebook_format")
def share_survivors(model, ks, codebook_format: str = "float16", method: str = "dp") -> Shared:
    """Per-layer k-means of the non-zero weights of a pruned ``model`` (a copy is shared).

    Each layer's code has the value 0 at index 0 (the pruned weights) and ``<= k`` shared
    values after it, cast to ``codebook_format``. ``ks``: one k per weight layer."""
    ad = adapter(adapter(model).clone())
    ks = check_ks(ks, [layer.name for layer in ad.layers])
    codes = []
    for i, (layer, k) in enumerate(zip(ad.layers, ks)):
        w = ad.get(i).ravel()
        alive = w != 0
        n_distinct = len(np.unique(w[alive]))
        if n_distinct == 0:
            raise ValueError(f"layer {layer.name!r} is pruned completely; lower the sparsity")
        cb, idx = share_values(w[alive], min(k, n_distinct), codebook_format, method)
        index = np.zeros(w.size, dtype=np.int64)
        index[alive] = idx + 1
        code = LayerCode(layer.name, layer.shape, np.concatenate([[0.0], cb]).astype(np.float32), index, i)
        ad.set(i, code.weights())
        codes.append(code)
    return Shared(ad.model, codes, codebook_format, ks, False, [l.name for l in ad.layers])


@renamed_keywords("course_lib.deep_compression.stage_bytes", codebook="codebook_format")
def stage_bytes(pruned, shared_model, file_bytes: int, codebook_format: str = "float16",
                rest_format: str = "float16") -> dict:
    """Size of each Deep Compression stage, in bytes, weights + the rest (biases, ...):

    - ``original``: dense float32;
    - ``pruned``: relative indices (cheapest width) + float32 values, rest float32;
    - ``shared``: relative indices + fixed-width codebook indices (``ceil(log2(k + 1))`` bits,
      one code for fillers) + codebooks in ``codebook_format``, rest in ``rest_format``;
    - ``huffman``: the file (both streams Huffman coded, tables, header, CRC).
    """
    ad_p, ad_s = adapter(pruned), adapter(shared_model)
    rest = [np.asarray(a) for a in ad_p.rest().values()]
    rest_n = sum(a.size for a in rest)
    dense = sum(l.size for l in ad_p.layers)
    pruned_b = sum(sparse_bytes(ad_p.get(i), "relative", 32) for i in range(len(ad_p.layers)))
    cb_bits, rest_bits = codebook_bits(codebook_format), codebook_bits(rest_format)
    shared_b = 0
    for i in range(len(ad_s.layers)):
        w = ad_s.get(i)
        k = len(np.unique(w[w != 0]))
        shared_b += sparse_bytes(w, "relative", max(1, math.ceil(math.log2(k + 1)))) + k * cb_bits // 8
    return {"original": 4 * (dense + rest_n), "pruned": pruned_b + 4 * rest_n,
            "shared": shared_b + rest_n * rest_bits // 8, "huffman": int(file_bytes)}


def _splits(model_name: str) -> dict:
    from . import datasets, zoo

    dataset = zoo.dataset(model_name)
    return {s: datasets.load(dataset, s) for s in ("train", "val", "test")}


def _accuracies(model, data: dict) -> dict:
    from .training import accuracy

    return {s: accuracy(model, *data[s]) for s in ("val", "test")}


@renamed_keywords("course_lib.deep_compression.deep_compress", codebook="codebook_format")
def deep_compress(model_name: str, out, *, sparsity: float = 0.93, ks=(32, 32, 32, 16, 16),
                  codebook_format: str = "float16", rest: str = "float16", steps: int = 4, epochs: int | None = None,
                  codebook_epochs: int | None = None, lr: float = 1e-3, seed: int = 0,
                  progress: bool = False) -> dict:
    """Prune, share and Huffman code the zoo model ``model_name``; write the file ``out``.

    ``sparsity``: fraction of the weight-layer weights set to zero (global magnitude);
    ``ks``: cluster counts per weight layer (non-zero values), their codebooks stored in
    ``codebook_format`` and the other tensors in ``rest``; ``epochs`` per pruning step and
    ``codebook_epochs`` of codebook training (defaults 8 and 5; 2 and 1 in fast mode).
    Returns the report: the contract keys (``original_bytes``, ``file_bytes``, ``ratio``,
    ``sparsity``, ``val_accuracy``, ``test_accuracy``, ``test_accuracy_loss`` in points) measured on
    the model read back from ``out``, plus ``stages`` (bytes, ratio, accuracies per stage).
    """
    import time

    from . import zoo
    from .compression import load_compressed

    t0 = time.perf_counter()
    check_sparsity(sparsity)
    model = zoo.load(model_name)
    prunable_modules(model)
    ks = check_ks(list(ks) if not isinstance(ks, dict) else ks, [layer.name for layer in adapter(model).layers])
    epochs = (2 if fast_mode() else 8) if epochs is None else epochs
    codebook_epochs = (1 if fast_mode() else 5) if codebook_epochs is None else codebook_epochs
    data = _splits(model_name)
    base = _accuracies(model, data)
    pruned = copy.deepcopy(model)
    history = prune_with_retraining(pruned, sparsity, data, steps=steps, epochs=epochs, lr=lr, seed=seed,
                                    progress=progress)
    shared = share_survivors(pruned, ks, codebook_format)
    clustered = _accuracies(shared.model, data)
    if codebook_epochs:
        shared = train_codebooks(shared, *data["train"], *data["val"], epochs=codebook_epochs, lr=lr,
                                 keep_zero=True, seed=seed, progress=progress)
    info = write_deep(shared.model, out, model_name, codebook_format=codebook_format, rest=rest)
    loaded = load_compressed(out).model
    final = _accuracies(loaded, data)
    sizes = stage_bytes(pruned, shared.model, info["file_bytes"], codebook_format, rest)
    accs = {"original": base, "pruned": _accuracies(pruned, data), "shared": _accuracies(shared.model, data),
            "huffman": final}
    stages = [{"stage": s, "bytes": b, "ratio": sizes["original"] / b, "val_accuracy": accs[s]["val"],
               "test_accuracy": accs[s]["test"], "test_accuracy_loss": 100 * (base["test"] - accs[s]["test"])}
              for s, b in sizes.items()]
    report = sparsity_report(loaded)
    return {"model": model_name, "out": str(out), "original_bytes": sizes["original"],
            "file_bytes": info["file_bytes"], "ratio": sizes["original"] / info["file_bytes"],
            "sparsity": report["sparsity"], "val_accuracy": final["val"], "test_accuracy": final["test"],
            "test_accuracy_loss": 100 * (base["test"] - final["test"]),
            "base_val_accuracy": base["val"], "base_test_accuracy": base["test"],
            "clustered_val_accuracy": clustered["val"],
            "settings": {"target_sparsity": sparsity, "ks": ks, "codebook": codebook_format, "rest": rest,
                         "steps": steps, "epochs": epochs, "codebook_epochs": codebook_epochs, "lr": lr, "seed": seed},
            "layers": [{**r, "bits": b, "file_bytes": lb}
                       for r, b, lb in zip(report["layers"], info["bits"], info["layer_bytes"])],
            "stages": stages, "prune_history": history, "seconds": round(time.perf_counter() - t0, 1)}


# --- CLI ------------------------------------------------------------------------------------

def print_stages(report: dict) -> None:
    """The stage table, as in Han et al. (2016), Table 1: bytes, ratio, accuracies (%)."""
    print(f"{'stage':10s} {'bytes':>9s} {'ratio':>7s} {'val acc':>8s} {'test acc':>9s} {'test loss':>10s}")
    labels = {"original": "original", "pruned": "prune", "shared": "+ sharing", "huffman": "+ Huffman"}
    for s in report["stages"]:
        print(f"{labels[s['stage']]:10s} {s['bytes']:9,d} {s['ratio']:6.1f}x {100 * s['val_accuracy']:7.2f}% "
              f"{100 * s['test_accuracy']:8.2f}% {s['test_accuracy_loss']:7.2f} pt")


def _cmd(args) -> int:
    import json

    from .compression.cli import parse_ints

    ks = parse_ints(args.ks, "--ks") if args.ks else (32, 32, 32, 16, 16)
    report = deep_compress(args.model, args.out, sparsity=args.sparsity, ks=ks, codebook_format=args.codebook,
                           rest=args.rest, steps=args.steps, epochs=args.epochs,
                           codebook_epochs=args.codebook_epochs, seed=args.seed, progress=False)
    print(f"{args.model}: sparsity {100 * report['sparsity']:.1f} %, file {args.out} {report['file_bytes']:,} bytes "
          f"({report['ratio']:.1f}x smaller than {report['original_bytes']:,} bytes of float32)")
    print_stages(report)
    if args.json:
        from .compression.sparse_format import _atomic_write

        _atomic_write(Path(args.json), (json.dumps(report, indent=2) + "\n").encode())
        print(f"report written to {args.json}")
    return 0


def add_parser(sub) -> None:
    from . import zoo
    from .compression.codebook import CODEBOOKS

    p = sub.add_parser("deep-compress", help="prune + share + Huffman code a zoo model into a .edc file",
                       description="Deep Compression (Han et al., 2016) of a zoo model: pruning with retraining, "
                                   "k-means weight sharing with trained codebooks, Huffman-coded sparse file.")
    p.add_argument("--model", required=True, choices=zoo.names(), help="zoo model name")
    p.add_argument("--out", required=True, help="the compressed file to write (.edc)")
    p.add_argument("--json", help="also write the report to this JSON file")
    p.add_argument("--sparsity", type=float, default=0.93, help="fraction of weights pruned, in [0, 1) (default 0.93)")
    p.add_argument("--ks", help="clusters per weight layer for the surviving weights (default 32,32,32,16,16)")
    p.add_argument("--codebook", default="float16", choices=list(CODEBOOKS), help="codebook value format")
    p.add_argument("--rest", default="float16", choices=list(CODEBOOKS), help="format of biases and other tensors")
    p.add_argument("--steps", type=int, default=4, help="pruning steps (default 4)")
    p.add_argument("--epochs", type=int, help="retraining epochs per pruning step (default 8; 2 with COURSE_FAST=1)")
    p.add_argument("--codebook-epochs", type=int, help="codebook training epochs (default 5; 1 with COURSE_FAST=1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the retraining (default 0)")
    p.set_defaults(func=_cmd)
