"""``course-lib share``: weight-share a zoo model and write the compressed file, or sweep the
whole-model baseline.

    course-lib share --model lenet5-tanh --ks 3,5,3,2,2 --codebook float16 --out lenet.ews --json r.json
    course-lib share --model lenet5-tanh --whole --sweep 1-50
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def parse_ints(text: str, what: str) -> list[int]:
    """``"3,5,3"`` -> [3, 5, 3]; ``"1-50"`` -> 1..50 (ranges and lists may be mixed)."""
    out = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out += list(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise ValueError(f"{what} must be integers like 3,5,3,2,2 or a range like 1-50, got {text!r}") from None
    if not out:
        raise ValueError(f"{what} is empty")
    return out


def _data(model_name: str):
    from .. import datasets, zoo

    dataset = zoo.dataset(model_name)
    return {s: datasets.load(dataset, s) for s in ("val", "test")}


def _cmd_share(args) -> int:
    from .. import zoo
    from .codebook import check_codebook
    from .layers import adapter

    check_codebook(args.codebook)
    model = zoo.load(args.model)
    data = _data(args.model)
    ad = adapter(model)
    base = {s: float((ad.predict(x) == y).mean()) for s, (x, y) in data.items()}
    result = _sweep(args, model, data, base) if args.sweep else _share(args, model, data, base)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
        print(f"  results written to {args.json}")
    return 0


def _sweep(args, model, data: dict, base: dict) -> dict:
    """``--whole --sweep``: whole-model sharing for each k, printed as a table."""
    from ..cli import CLIError
    from .share import whole_model_sweep

    if not args.whole:
        raise CLIError("--sweep sweeps the whole-model k; add --whole")
    rows = whole_model_sweep(model, parse_ints(args.sweep, "--sweep"), data, codebook_format=args.codebook)
    print(f"whole-model weight sharing of {args.model}, codebook {args.codebook}; "
          f"base accuracy val {100 * base['val']:.2f} %, test {100 * base['test']:.2f} %")
    print(f"{'k':>3s} {'bits':>4s} {'CR':>7s} {'val acc':>8s} {'val AL':>7s} {'test acc':>8s} {'test AL':>7s}")
    for r in rows:
        r["val_accuracy_loss"] = base["val"] - r["val_accuracy"]
        r["test_accuracy_loss"] = base["test"] - r["test_accuracy"]
        print(f"{r['k']:3d} {r['index_bits']:4d} {r['cr_true']:7.2f} {100 * r['val_accuracy']:7.2f}% "
              f"{100 * r['val_accuracy_loss']:6.2f}  {100 * r['test_accuracy']:7.2f}% {100 * r['test_accuracy_loss']:6.2f}")
    ok = [r for r in rows if r["val_accuracy_loss"] <= 0.01]
    if ok:
        best = max(ok, key=lambda r: (r["cr_true"], -r["k"]))
        print(f"most compressed with val loss <= 1 point: k={best['k']}, CR {best['cr_true']:.2f}, "
              f"test loss {100 * best['test_accuracy_loss']:.2f} points")
    return {"model": args.model, "codebook": args.codebook, "base_val_accuracy": base["val"],
            "base_test_accuracy": base["test"], "rows": rows}


def _share(args, model, data: dict, base: dict) -> dict:
    """``--ks``: share with the given ks, write the ``.ews`` file, print its accuracy and size."""
    from ..cli import CLIError
    from .fileformat import save_compressed
    from .layers import adapter

    if not args.ks:
        raise CLIError("give --ks K1,K2,... (one k per weight layer), or --whole --ks K, or --whole --sweep 1-50")
    ks = parse_ints(args.ks, "--ks")
    if args.whole:
        if len(ks) != 1:
            raise CLIError(f"--whole takes one k, got {len(ks)}")
        ks = ks[0]
    if not args.out:
        raise CLIError("--out FILE is required to write the compressed model")
    info = save_compressed(model, ks, args.out, args.codebook, method=args.method, model_id=args.model)
    shared = info["shared"]
    sad = adapter(shared.model)
    acc = {s: float((sad.predict(x) == y).mean()) for s, (x, y) in data.items()}
    result = {"model": args.model, "ks": ks, "ks_stored": shared.ks_stored, "codebook": args.codebook,
              "method": args.method, "whole_model": shared.whole, "layers": [c.name for c in shared.codes],
              "base_val_accuracy": base["val"], "base_test_accuracy": base["test"],
              "val_accuracy": acc["val"], "test_accuracy": acc["test"],
              "val_accuracy_loss": base["val"] - acc["val"], "test_accuracy_loss": base["test"] - acc["test"],
              "cr_true": shared.cr("true"), "cr_thesis_mean": shared.cr("thesis-mean"),
              "file": str(args.out), "file_bytes": info["file_bytes"], "payload_bytes": info["payload_bytes"],
              "rest_bytes": info["rest_bytes"], "header_bytes": info["header_bytes"]}
    print(f"{args.model} shared with ks={ks} (stored {shared.ks_stored}), codebook {args.codebook}, method {args.method}")
    print(f"  val accuracy   {100 * acc['val']:.2f} %  (base {100 * base['val']:.2f} %, loss {100 * result['val_accuracy_loss']:.2f} points)")
    print(f"  test accuracy  {100 * acc['test']:.2f} %  (base {100 * base['test']:.2f} %, loss {100 * result['test_accuracy_loss']:.2f} points)")
    print(f"  CR true {result['cr_true']:.2f}   (thesis mean-of-layers {result['cr_thesis_mean']:.4f})")
    print(f"  file {args.out}: {info['file_bytes']:,} bytes = weight payload {info['payload_bytes']:,} "
          f"+ uncompressed rest {info['rest_bytes']:,} + header {info['header_bytes']:,}")
    return result


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def add_parser(sub) -> None:
    from .. import zoo
    from .codebook import CODEBOOKS
    from .kmeans1d import METHODS

    p = sub.add_parser("share", help="weight-share a zoo model: compressed file, accuracy, CR",
                       description="Weight sharing (per layer or whole model) of a zoo model.")
    p.add_argument("--model", required=True, choices=zoo.names(), help="zoo model name")
    p.add_argument("--ks", help="cluster counts, one per weight layer (e.g. 3,5,3,2,2); with --whole one k")
    p.add_argument("--whole", action="store_true", help="whole-model sharing: one k for all weights")
    p.add_argument("--sweep", help="with --whole: the k values to sweep, e.g. 1-50 (prints the table)")
    p.add_argument("--codebook", default="float32", help=f"codebook format: {', '.join(CODEBOOKS)}")
    p.add_argument("--method", default="dp", choices=METHODS, help="1-D clustering (default: exact dp)")
    p.add_argument("--out", help="the compressed file to write (.ews)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.set_defaults(func=_cmd_share)
