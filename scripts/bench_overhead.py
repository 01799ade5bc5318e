"""How much does the harness add to a measured latency? One run, three timers, same model.

For ONNX Runtime and PyTorch (CPU, 1 thread, LeNet-5 at batch 1) it compares the median of

- a bare ``time.perf_counter`` loop around the inference call,
- ``torch.utils.benchmark.Timer.blocked_autorange`` (median of block means),
- ``course_lib.bench.benchmark`` (p50 of its trace),

interleaved over many short rounds in rotating order. A shared machine drifts, so the
harness is compared with the bare loop *within* each round (paired ratio) and the median of
those ratios is the overhead. Target: <= 2 %.

    python scripts/bench_overhead.py [--rounds 15] [--seconds 0.4]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.utils.benchmark as tb

from course_lib import bench, fast_mode, zoo
from course_lib.bench import export


def bare_loop(fn, seconds: float) -> float:
    """Median seconds of ``fn()`` timed one call at a time, after a short warm-up."""
    for _ in range(20):
        fn()
    lat, clock = [], time.perf_counter
    t_end = clock() + seconds
    while clock() < t_end:
        t0 = clock()
        fn()
        lat.append(clock() - t0)
    return float(np.median(lat))


def loop_cost_ns(seconds: float = 0.2, rounds: int = 5) -> tuple[float, float]:
    """Wall time per run of an empty step: bare loop vs the harness's loop (min over rounds).

    This is what the harness itself adds to every measured run, free of the model's noise.
    """
    from course_lib.bench import measure

    def noop():
        return None

    def bare_count() -> float:
        lat, clock = [], time.perf_counter
        t_end = clock() + seconds
        while clock() < t_end:
            t0 = clock()
            noop()
            lat.append(clock() - t0)
        return seconds / len(lat)

    rule = measure.StoppingRule(warmup_s=0, warmup_iters=0, min_duration_s=seconds, min_iters=1,
                                max_duration_s=seconds, max_iters=10**9, target_rel_iqr=0)
    timed = measure.perf_counter_timer(noop)
    bare = min(bare_count() for _ in range(rounds))
    harness = min(seconds / len(measure.measure(timed, rule)) for _ in range(rounds))
    return bare * 1e9, harness * 1e9


def timer_median(fn, seconds: float) -> float:
    return float(tb.Timer(stmt="fn()", globals={"fn": fn}, num_threads=1).blocked_autorange(min_run_time=seconds).median)


def harness_median(model, backend: str, seconds: float, **kw) -> float:
    r = bench.benchmark(model, backend=backend, threads=1, min_duration_s=seconds, max_duration_s=seconds,
                        target_rel_iqr=0.0, warmup_iters=20, energy=False, max_iters=10**7, **kw)
    return r.latency_ms["p50"] / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3 if fast_mode() else 30)
    ap.add_argument("--seconds", type=float, default=0.1 if fast_mode() else 0.15, help="per timer per round")
    args = ap.parse_args()

    torch.set_num_threads(1)
    model = zoo.load("lenet5-tanh")
    shape = (1, 1, 28, 28)
    path = export.torch_to_onnx(model, shape)

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feeds = {sess.get_inputs()[0].name: np.random.default_rng(0).random(shape, dtype=np.float32)}
    x = torch.from_numpy(feeds["input"])

    def ort_call():
        sess.run(None, feeds)

    def torch_call():
        model(x)

    results = {k: {"bare": [], "timer": [], "harness": []} for k in ("onnxruntime", "pytorch")}
    for rnd in range(args.rounds):
        order = [("bare", "timer", "harness"), ("harness", "bare", "timer"), ("timer", "harness", "bare")][rnd % 3]
        for method in order:
            if method == "bare":
                results["onnxruntime"]["bare"].append(bare_loop(ort_call, args.seconds))
                with torch.inference_mode():
                    results["pytorch"]["bare"].append(bare_loop(torch_call, args.seconds))
            elif method == "timer":
                results["onnxruntime"]["timer"].append(timer_median(ort_call, args.seconds))
                with torch.inference_mode():
                    results["pytorch"]["timer"].append(timer_median(torch_call, args.seconds))
            else:
                results["onnxruntime"]["harness"].append(harness_median(path, "onnxruntime", args.seconds))
                results["pytorch"]["harness"].append(harness_median(model, "pytorch", args.seconds, input_shape=shape))

    print(f"LeNet-5, batch 1, 1 thread, CPU; {args.rounds} interleaved rounds x {args.seconds} s per timer")
    print(f"{'backend':12s} {'bare loop us':>13s} {'torch Timer us':>15s} {'harness us':>11s} "
          f"{'harness/bare - 1 (paired)':>26s} {'IQR of paired':>14s}")
    for backend, r in results.items():
        bare, timer, harness = (statistics.median(r[k]) * 1e6 for k in ("bare", "timer", "harness"))
        paired = 100 * (np.asarray(r["harness"]) / np.asarray(r["bare"]) - 1)
        q25, q50, q75 = np.percentile(paired, [25, 50, 75])
        print(f"{backend:12s} {bare:>13.2f} {timer:>15.2f} {harness:>11.2f} {q50:>+25.2f}% "
              f"{q25:>+6.1f}..{q75:+.1f}%")
    print("(each column: median over rounds of the round's median; torch Timer reports block means)")
    bare_ns, harness_ns = loop_cost_ns()
    ort_us = statistics.median(results["onnxruntime"]["bare"]) * 1e6
    print(f"loop cost per run with an empty step (min of 5 x 0.2 s): bare {bare_ns:.0f} ns, harness {harness_ns:.0f} ns "
          f"-> the harness adds {harness_ns - bare_ns:.0f} ns per run = "
          f"{100 * (harness_ns - bare_ns) / 1e3 / ort_us:.2f} % of the ONNX Runtime median above")


if __name__ == "__main__":
    main()
