"""Benchmark and results of the weight-sharing engine side by side in one run.

    .venv/bin/python scripts/bench_compression.py            # everything (a few minutes on 2 cores)
    .venv/bin/python scripts/bench_compression.py --quick    # fewer repeats and evaluations

Prints markdown tables:
1. 1-D clustering on each LeNet-5 layer: exact DP vs scikit-learn K-Means and Mini-Batch
   K-Means (median time over repeats, SSE), and the DP's one pass for every k <= 50.
2. One search evaluation: the cached evaluator vs. the thesis-style pipeline (cluster afresh with
   scikit-learn K-Means for every evaluation, then inference), on the 1,000-image val split.
3. The whole-model sweep (docs/method.md, section 2) of lenet5-tanh and lenet5-relu.
4. The thesis's vectors with both CR definitions (and the focus sweep).
Speed depends on the machine's load: the script prints the load average with the timings.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from course_lib import datasets, zoo
from course_lib.compression import (CachedEvaluator, cluster1d, focus_sweep, kmeans1d_all, reduce_space,
                                    share_model, sse, whole_model_sweep)
from course_lib.compression.layers import adapter

THESIS_VECTORS = {"lenet5-tanh": [3, 5, 3, 2, 2], "lenet5-relu": [2, 6, 8, 11, 4]}


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def load_note() -> str:
    la = os.getloadavg()
    return f"load average {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f} on {os.cpu_count()} cores ({platform.machine()}), torch threads {torch.get_num_threads()}"


def bench_clustering(model, repeats: int) -> None:
    print("\n## 1. 1-D clustering of LeNet-5 (tanh) layers: time (median of %d) and SSE\n" % repeats)
    print("| layer | weights | k | DP time | DP SSE | K-Means time | K-Means SSE | Mini-Batch time | Mini-Batch SSE |")
    print("|---|---|---|---|---|---|---|---|---|")
    ad = adapter(model)
    for i, layer in enumerate(ad.layers):
        w = ad.get(i).ravel()
        for k in (2, 8, 32):
            cells = []
            for method in ("dp", "kmeans", "minibatch-kmeans"):
                t, (c, lab) = median_time(lambda: cluster1d(w, k, method), repeats)
                cells.append(f"{1000 * t:.1f} ms | {sse(w, c, lab):.5g}")
            print(f"| {layer.name} | {layer.size} | {k} | " + " | ".join(cells) + " |")
    print("\nEvery k in 1..50 (what the evaluator caches): the DP in one pass vs. K-Means run 50 times:\n")
    print("| layer | weights | DP, all k <= 50 | K-Means, k = 1..50 one by one | total SSE over k: DP / K-Means |")
    print("|---|---|---|---|---|")
    for i, layer in enumerate(ad.layers):
        w = ad.get(i).ravel()
        t, path = median_time(lambda: kmeans1d_all(w, 50), repeats)
        t_km, sols = median_time(lambda: [cluster1d(w, k, "kmeans") for k in range(1, 51)], 1)
        sse_dp = sum(path.sse(k) for k in range(1, 51))
        sse_km = sum(sse(w, c, lab) for c, lab in sols)
        print(f"| {layer.name} | {layer.size} | {1000 * t:.0f} ms | {1000 * t_km:.0f} ms | {sse_dp:.5g} / {sse_km:.5g} |")
    print(f"\n({load_note()})")


def thesis_style_evaluation(model, ks, x, y) -> float:
    """What the thesis did per evaluation: K-Means on every layer afresh, write, infer."""
    ad = adapter(adapter(model).clone())
    for i, k in enumerate(ks):
        w = ad.get(i)
        c, lab = cluster1d(w, k, "kmeans")
        ad.set(i, c.astype(np.float32)[lab])
    return float((ad.predict(x) == y).mean())


def bench_evaluator(model, n_evals: int, n_thesis: int) -> None:
    x, y = datasets.load("mnist", "val")
    rng = np.random.default_rng(0)
    vectors = [[int(k) for k in rng.integers(1, 51, 5)] for _ in range(n_evals)]
    print(f"\n## 2. One search evaluation of LeNet-5 (tanh) on the {len(x)}-image validation split\n")
    t = time.perf_counter()
    # threads=None: both pipelines run under the same torch thread setting (--threads)
    ev = CachedEvaluator(model, x, y, codebook_format="float32", k_max=50, threads=None)
    t_init = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(len(ev.layer_sizes)):  # warm the clustering cache: every layer, every k
        for k in range(1, 51):
            ev.shared_weights(i, k)
    t_warm = time.perf_counter() - t
    plain = CachedEvaluator(model, x, y, codebook_format="float32", k_max=50, activation_cache_mb=0, threads=None)
    plain.clusters = ev.clusters  # same clustering cache
    n_plain = max(10, n_evals // 5)
    t_plain = statistics.median(plain(v)["seconds"] for v in vectors[:n_plain])
    # random vectors (random search); the activation cache fills up over the first ~50
    times = [ev(v)["seconds"] for v in vectors]
    half = len(times) // 2
    # GA-like children of the latest parents: keep a parent's first three k, draw the last two
    children = [v[:3] + [int(k) for k in rng.integers(1, 51, 2)] for v in vectors[-n_plain:]]
    t_children = statistics.median(ev(v)["seconds"] for v in children)
    thesis = [median_time(lambda v=v: thesis_style_evaluation(model, v, x, y), 1)[0] for v in vectors[:n_thesis]]
    t_thesis = statistics.median(thesis)
    rows = [(f"cached clustering, plain inference ({n_plain} random vectors)", t_plain),
            (f"cached clustering + activation reuse, all {len(times)} random vectors", statistics.median(times)),
            (f"... the last {len(times) - half} of them (activation cache warm)", statistics.median(times[half:])),
            (f"... GA-like children keeping a parent's first 3 k ({len(children)})", t_children)]
    print("| pipeline | median s / evaluation | evaluations / s | speed-up vs thesis-style |")
    print("|---|---|---|---|")
    print(f"| thesis-style: scikit-learn K-Means afresh + inference ({n_thesis} random vectors) | {t_thesis:.3f} | {1 / t_thesis:.1f} | 1x |")
    for name, t in rows:
        print(f"| {name} | {t:.4f} | {1 / t:.1f} | {t_thesis / t:.1f}x |")
    print(f"\nOne-off costs: evaluator set-up {t_init:.2f} s (baseline inference), clustering of all "
          f"5 layers x k = 1..50 {t_warm:.2f} s (exact DP + cast, kept in memory / on disk).")
    s = ev.stats
    print(f"Evaluator stats: {s['evaluations']} evaluations, clustering {s['cluster_seconds']:.2f} s, "
          f"inference {s['infer_seconds']:.2f} s, memo hits {s['memo_hits']}.")
    print(f"({load_note()})")


def bench_reduce_space(model) -> None:
    x, y = datasets.load("mnist", "val")
    print("\n## 2b. Search-space reduction, LeNet-5 (tanh), k = 1..50, float32 codebook\n")
    print("| threshold | seconds (5 layers x 50 k) | allowed k per layer |")
    print("|---|---|---|")
    ev = CachedEvaluator(model, x, y, k_max=50, threads=None)
    for kwargs in ({"max_loss_points": 1.0}, {"threshold": 0.97}):
        t = time.perf_counter()
        allowed = reduce_space(ev, range(1, 51), progress=False, **kwargs)
        spans = ", ".join(f"{n}: {compact(a)}" for n, a in zip(ev.layer_names, allowed))
        label = (f"val accuracy >= baseline {100 * ev.baseline_accuracy:.1f} % - 1 point"
                 if "max_loss_points" in kwargs else "val accuracy >= 97 % (thesis)")
        print(f"| {label} | {time.perf_counter() - t:.1f} | {spans} |")
    print(f"\n(the second row reuses the clustering and activation caches of the first; {load_note()})")


def compact(ks) -> str:
    """[2, 3, 4, 7, 8] -> '2-4, 7-8'."""
    if not ks:
        return "none"
    runs, start = [], ks[0]
    for a, b in zip(ks, ks[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}-{a}" if a != start else f"{a}")
            start = b
    return " ".join(runs)


def bench_whole_model(names, k_max: int) -> None:
    print(f"\n## 3. Whole-model weight sharing, k = 1..{k_max}, float32 codebook\n")
    for name in names:
        model = zoo.load(name)
        splits = {s: datasets.load("mnist", s) for s in ("val", "test")}
        ad = adapter(model)
        base = {s: float((ad.predict(x) == y).mean()) for s, (x, y) in splits.items()}
        rows = whole_model_sweep(model, range(1, k_max + 1), splits, progress=False)
        print(f"\n**{name}** (base: val {100 * base['val']:.2f} %, test {100 * base['test']:.2f} %)\n")
        print("| k | index bits | CR (true = thesis-mean for one group) | val acc % | val AL | test acc % | test AL |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['k']} | {r['index_bits']} | {r['cr_true']:.2f} | {100 * r['val_accuracy']:.2f} | "
                  f"{100 * (base['val'] - r['val_accuracy']):.2f} | {100 * r['test_accuracy']:.2f} | "
                  f"{100 * (base['test'] - r['test_accuracy']):.2f} |")
        ok = [r for r in rows if base["val"] - r["val_accuracy"] <= 0.01]
        if ok:
            b = max(ok, key=lambda r: r["cr_true"])
            print(f"\nMost compressed with val AL <= 1 point: k = {b['k']}, CR {b['cr_true']:.2f}, "
                  f"test AL {100 * (base['test'] - b['test_accuracy']):.2f} points.")


def bench_thesis_vectors(focuses) -> None:
    print("\n## 4. The thesis vectors on our models, both CR definitions\n")
    print("| model | ks | codebook | CR true | CR thesis-mean | val acc % (AL) | test acc % (AL) | after focus fine-tuning: val / test % (focus per layer) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ks in THESIS_VECTORS.items():
        model = zoo.load(name)
        (xv, yv), (xt, yt) = datasets.load("mnist", "val"), datasets.load("mnist", "test")
        ad = adapter(model)
        bv, bt = float((ad.predict(xv) == yv).mean()), float((ad.predict(xt) == yt).mean())
        for codebook in ("float32", "float16", "float8_e4m3"):
            sh = share_model(model, ks, codebook_format=codebook)
            sad = adapter(sh.model)
            av, at = float((sad.predict(xv) == yv).mean()), float((sad.predict(xt) == yt).mean())
            tuned = ""
            if codebook == "float16":
                r = focus_sweep(model, ks, xv, yv, codebook_format=codebook, focuses=focuses, progress=False)
                tt = float((adapter(r.shared.model).predict(xt) == yt).mean())
                tuned = (f"{100 * r.accuracy:.2f} / {100 * tt:.2f} "
                         f"({', '.join(f'{f:g}' for f in r.focus.values())})")
            print(f"| {name} | {ks} | {codebook} | {sh.cr('true'):.2f} | {sh.cr('thesis-mean'):.4f} | "
                  f"{100 * av:.2f} ({100 * (bv - av):.2f}) | {100 * at:.2f} ({100 * (bt - at):.2f}) | {tuned} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats, evaluations and focus values")
    p.add_argument("--threads", type=int, help="torch.set_num_threads for every pipeline (default: torch's)")
    p.add_argument("--repeat-evaluator", type=int, default=1, help="run part 2 this many times (load varies)")
    p.add_argument("--only", choices=["clustering", "evaluator", "reduce", "whole", "vectors"], help="run one part")
    args = p.parse_args()
    quick = args.quick
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# bench_compression.py{' --quick' if quick else ''}\n\n{load_note()}")
    model = zoo.load("lenet5-tanh")
    if args.only in (None, "clustering"):
        bench_clustering(model, 1 if quick else 3)
    if args.only in (None, "evaluator"):
        for _ in range(args.repeat_evaluator):
            bench_evaluator(model, 60 if quick else 200, 3 if quick else 5)
    if args.only in (None, "reduce"):
        bench_reduce_space(model)
    if args.only in (None, "whole"):
        bench_whole_model(list(THESIS_VECTORS), 50)
    if args.only in (None, "vectors"):
        bench_thesis_vectors([0, 1, 2, 4, 8] if quick else list(np.round(np.arange(0, 10, 0.2), 1)))


if __name__ == "__main__":
    main()
