"""``course-lib compress``: weight-sharing search on a zoo model, with resume.

    course-lib compress --model lenet5-tanh --algo ga --budget 400 --codebook float16 \\
        --target dynamic --seed 0 --out runs/NAME
    course-lib compress --resume runs/NAME
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import CLIError
from ..search.algorithms import ALGORITHMS
from .compress import compress
from .config import TARGET_KINDS, CompressConfig


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compress", help="search per-layer weight-sharing cluster counts (GA, PSO, black hole, random)",
        description="Search per-layer cluster counts of a zoo model on the validation split; report the best "
                    "vector (highest true CR within --max-loss points of validation accuracy) on the test split. "
                    "The method: docs/method.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="lenet5-tanh", help="zoo model name (course-lib zoo list)")
    p.add_argument("--algo", default="ga", choices=list(ALGORITHMS), help="search algorithm")
    p.add_argument("--budget", type=int, default=400, help="fitness evaluations")
    p.add_argument("--codebook", default="float16",
                   help="codebook format: float32, float16, bfloat16, float8_e4m3, float8_e5m2")
    p.add_argument("--target", default="dynamic", choices=TARGET_KINDS,
                   help="fitness: distance to a static/dynamic/extreme target, or pareto ranking")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default runs/MODEL-ALGO-TARGET-CODEBOOK-sSEED)")
    p.add_argument("--resume", metavar="RUN", help="continue the run in this folder with its saved settings")
    p.add_argument("--max-loss", type=float, default=1.0, help="accuracy loss allowed for 'best', in points")
    p.add_argument("--reduce-loss", type=float, default=1.0,
                   help="space reduction keeps k whose single-layer loss is at most this many points")
    p.add_argument("--absolute", action="store_true",
                   help="the thesis's absolute accuracy settings (target 99 %%, thresholds 97 %%)")
    p.add_argument("--cr", dest="cr_key", default="cr_true", choices=["cr_true", "cr_thesis_mean"],
                   help="CR the fitness uses ('best' always uses true CR)")
    p.add_argument("--k-max", type=int, default=50, help="largest cluster count per layer (the thesis: 50)")
    p.add_argument("--workers", type=int, default=0, help="evaluate each batch in this many processes")
    p.add_argument("--cache-dir", help="where clusterings and the reduced space are cached (default: beside --out)")
    p.add_argument("--focus", action="store_true",
                   help="after the search, sweep the clustering's focus for the best vector (the thesis's "
                        "'fine-tuning' of the clustering space; trains nothing; about 250 more evaluations)")
    p.add_argument("--finetune", dest="focus", action="store_true", help=argparse.SUPPRESS)  # old name of --focus
    p.add_argument("--retrain", type=int, default=16, metavar="EPOCHS",
                   help="after the search, fine-tune the best vectors' shared models this many epochs on the training "
                        "split with their cluster counts fixed (same CR); 0 = search only, as the thesis")
    p.add_argument("--retrain-slack", type=float, default=1.0, metavar="POINTS",
                   help="also retrain the search's best vectors within --max-loss plus half and all of this many "
                        "points, and deliver the highest CR within --max-loss after retraining")
    p.add_argument("--refine", type=int, default=4, metavar="N",
                   help="then up to N more retrainings, each dropping one index bit from the layer where that saves "
                        "the most, kept if still within --max-loss on validation (0 = off)")
    p.add_argument("--keep-indices", action="store_true",
                   help="retrain only the codebook values, every weight keeps its cluster (Deep Compression's "
                        "trained quantization); default: weights may move to their nearest centroid (as TFMOT)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="progress bars")
    p.set_defaults(func=_main)


def config_from_args(args) -> CompressConfig:
    """The :class:`CompressConfig` the command-line flags describe."""
    return CompressConfig(model_name=args.model, algo=args.algo, budget=args.budget, codebook_format=args.codebook,
                          target=args.target, seed=args.seed, max_loss_points=args.max_loss,
                          reduce_loss_points=args.reduce_loss, absolute=args.absolute, cr_key=args.cr_key,
                          k_max=args.k_max, retrain_epochs=args.retrain, keep_indices=args.keep_indices,
                          retrain_slack_points=args.retrain_slack, refine_steps=args.refine)


def _main(args) -> int:
    config = None if args.resume else config_from_args(args)
    out = Path(args.resume or args.out or f"runs/{args.model}-{args.algo}-{args.target}-{args.codebook}-s{args.seed}")
    try:
        r = compress(config, out, resume=bool(args.resume), workers=args.workers, cache_dir=args.cache_dir,
                     focus=args.focus, progress=args.progress).to_dict()
    except FileExistsError as e:  # the folder holds a run: a user mistake, not a crash
        raise CLIError(str(e)) from None
    return _report(r, out)


def _report(r: dict, out: Path) -> int:
    """Print what a run delivered; exit status 1 when no vector is within the loss."""
    print(f"run: {out}  ({r['evaluations']} evaluations, {r['unique_evaluations']} distinct, {r['seconds']:.1f} s)")
    if r["ks"] is None:
        print(f"no vector within {r['max_loss']} point(s) of the validation baseline "
              f"{100 * r['baseline_val_accuracy']:.2f} %; try a larger --budget or --max-loss")
        return 1
    s, rt = r["search"], r["retrain"]
    print(f"best ks of the search: {s['ks']}" if rt["epochs"] else f"best ks: {r['ks']}")
    if rt["epochs"]:
        print(f"search alone: true CR {s['cr_true']:.2f}, validation {100 * s['val_accuracy']:.2f} % "
              f"(loss {100 * s['val_accuracy_loss']:.2f} points), test {100 * s['test_accuracy']:.2f} % "
              f"(loss {100 * s['test_accuracy_loss']:.2f} points)")
        how = "codebook values only" if rt["keep_indices"] else "clustering-preserving"
        print(f"retrained ({rt['epochs']} epochs, {how}, {rt['seconds']:.1f} s), highest CR first:")
        for t in rt["tried"]:
            print(f"  {t['ks']}: true CR {t['cr_true']:.2f}, validation loss {100 * (r['baseline_val_accuracy'] - t['val_accuracy_before']):.2f}"
                  f" -> {100 * (r['baseline_val_accuracy'] - t['val_accuracy']):.2f} points")
        for t in rt.get("refine", []):
            print(f"  refine {t['ks']}: true CR {t['cr_true']:.2f}, validation loss "
                  f"{100 * (r['baseline_val_accuracy'] - t['val_accuracy']):.2f} points: "
                  f"{'kept' if t['accepted'] else 'rejected'}")
        print(f"delivered: {r['ks']}")
    print(f"true CR: {r['cr_true']:.2f}  (thesis mean-of-layers CR: {r['cr_thesis_mean']:.2f})")
    print(f"validation accuracy: {100 * r['val_accuracy']:.2f} %  (loss {100 * r['val_accuracy_loss']:.2f} points)")
    print(f"test accuracy: {100 * r['test_accuracy']:.2f} %  (baseline {100 * r['baseline_test_accuracy']:.2f} %, "
          f"loss {100 * r['test_accuracy_loss']:.2f} points)")
    if "file_bytes" in r:
        print(f"compressed model: {out / 'compressed.ews'} ({r['file_bytes']:,} bytes)")
    if "focus" in r:
        ft = r["focus"]
        print(f"focus sweep of the clustering: validation {100 * ft['val_accuracy']:.2f} %, test {100 * ft['test_accuracy']:.2f} % "
              f"(loss {100 * ft['test_accuracy_loss']:.2f} points) at true CR {ft['cr_true']:.2f}")
    print(f"result: {out / 'result.json'}")
    return 0
