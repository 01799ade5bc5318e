"""The ask/tell loop with a budget, a live history, checkpoints, resume and parallel evaluation.

``run(problem, algorithm, budget=...)`` repeats: ask a batch -> evaluate it (memoised; through any
``concurrent.futures.Executor`` if given) -> let the fitness see the batch (a dynamic target may
move; then remembered fitness is rescored) -> score -> tell. With ``out_dir`` it writes

- ``history.jsonl``: one line per evaluated point, appended and flushed as soon as it is known:
  ``evaluation, iteration, genes, <the problem's result keys>, fitness, <target>, cached, seconds``;
- ``checkpoint.json``: after every iteration, atomically (temp file + ``os.replace``): the
  algorithm's state with its RNG, the fitness state (target), the Pareto archive, the memo.

``run(..., resume=True)`` restarts from the checkpoint, drops history lines written after it
(the half-finished iteration) and continues; the result is identical to an uninterrupted run
with the same seed. Evaluations are counted per asked point (a memo hit still counts: it is a
point the algorithm spent its budget on) and the budget is exact: a last batch is cut short.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from tqdm.auto import tqdm

from .fitness import Objective
from .pareto import ParetoArchive

HISTORY, CHECKPOINT = "history.jsonl", "checkpoint.json"
_RESERVED = {"evaluation", "iteration", "genes", "fitness", "cached", "seconds", "target", "front_size"}


@dataclass
class RunResult:
    best_genes: list | None
    best_fitness: float
    evaluations: int
    seconds: float
    history: list[dict]
    archive: ParetoArchive | None = None
    out_dir: Path | None = None
    extra: dict = field(default_factory=dict)


class Lazy:
    """A problem built where it runs: ``Lazy(factory, *args, **kwargs)(genes)`` calls
    ``factory(*args, **kwargs)`` once per process and then evaluates with the result.

    Process pools and clusters (Dask, Ray) pickle the problem with every task; a heavy one (a
    model, a data split, cached clusterings) would be copied each time. ``Lazy`` pickles only
    the recipe. ``factory`` and its arguments must be picklable (module-level functions).
    """

    _built: dict = {}  # per process: recipe -> problem

    def __init__(self, factory: Callable, *args, **kwargs):
        self.factory, self.args, self.kwargs = factory, args, kwargs
        self.key = (getattr(factory, "__module__", ""), getattr(factory, "__qualname__", repr(factory)),
                    repr(args), repr(sorted(kwargs.items())))

    def __call__(self, genes):
        if self.key not in Lazy._built:
            Lazy._built[self.key] = self.factory(*self.args, **self.kwargs)
        return Lazy._built[self.key](genes)


def _timed_call(problem: Callable, genes: list) -> tuple[dict, float]:
    """Evaluate one point and time it (module level so process pools can pickle it)."""
    t0 = time.perf_counter()
    result = problem(genes)
    return _as_dict(result), time.perf_counter() - t0


def _as_dict(result) -> dict:
    if isinstance(result, dict):
        clash = _RESERVED & (set(result) - {"seconds"})
        if clash:
            raise ValueError(f"the problem's result uses reserved key(s) {sorted(clash)}; rename them")
        # numpy scalars -> Python numbers so every record is plain JSON
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in result.items() if k != "seconds"}
    return {"value": float(result)}


def _key(genes) -> str:
    return json.dumps(list(genes))


def atomic_write_json(path: Path, obj) -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_history(out_dir: str | Path) -> list[dict]:
    """The records of ``out_dir/history.jsonl`` (a torn last line from a crash is skipped)."""
    path = Path(out_dir) / HISTORY
    if not path.exists():
        raise FileNotFoundError(f"no {HISTORY} in {out_dir}: is it a search run folder?")
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def run(problem: Callable, algorithm, *, budget: int, fitness=None, out_dir: str | Path | None = None,
        resume: bool = False, executor=None, archive_keys: Sequence[str] | None = None,
        archive_ref: Sequence[float] | None = None, progress: bool = True,
        callback: Callable | None = None) -> RunResult:
    """Spend ``budget`` evaluations of ``problem(genes) -> dict | float`` on ``algorithm``.

    ``fitness`` defaults to ``Objective("value")`` (a problem returning a float is maximised).
    ``archive_keys`` (e.g. ``("accuracy", "cr_true")``) keeps a Pareto archive of the results
    (both maximised). ``executor`` evaluates each batch in parallel (``problem`` must then be
    picklable for process pools). ``callback(records)`` is called after each iteration.
    """
    if not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget is a number of evaluations >= 1, got {budget!r}")
    if resume and out_dir is None:
        raise ValueError("resume=True needs the out_dir of the run to continue")
    fitness = fitness if fitness is not None else Objective("value")
    archive = ParetoArchive(archive_ref) if archive_keys else None
    out = Path(out_dir) if out_dir is not None else None
    memo, history, evaluations, iteration, elapsed_before = _restore(out, resume, algorithm, fitness, archive)
    log = open(out / HISTORY, "a") if out is not None else None
    t_start = time.perf_counter()
    bar = tqdm(total=budget, initial=evaluations, disable=not progress, desc=algorithm.name, unit="eval")
    try:
        while evaluations < budget:
            asked = algorithm.ask()
            batch = asked[:budget - evaluations]
            results, seconds, cached = _evaluate(problem, batch, memo, executor)
            if fitness.update(results):
                algorithm.rescore(lambda g: fitness.score(memo[_key(g)]))
            scores = [fitness.score(r) for r in results]
            described = fitness.describe()
            records = []
            for genes, result, f, s, c in zip(batch, results, scores, seconds, cached):
                evaluations += 1
                rec = {"evaluation": evaluations, "iteration": iteration, "genes": list(genes), **result,
                       "fitness": f, **described, "cached": c, "seconds": s}
                records.append(rec)
                if archive is not None:
                    archive.add([result[k] for k in archive_keys], {"genes": list(genes), "evaluation": evaluations})
                if log is not None:
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
            history.extend(records)
            if len(batch) == len(asked):  # a batch cut short by the budget is recorded, not told
                algorithm.tell(batch, scores)
            iteration += 1
            bar.update(len(batch))
            if out is not None:
                atomic_write_json(out / CHECKPOINT, {"evaluations": evaluations, "iteration": iteration,
                                                     "seconds": elapsed_before + time.perf_counter() - t_start,
                                                     **_states(algorithm, fitness, archive),
                                                     "memo": list(memo.items())})
            if callback is not None:
                callback(records)
    finally:
        bar.close()
        log is not None and log.close()
    best_genes, best_fitness = algorithm.best()
    return RunResult(best_genes, best_fitness, evaluations, elapsed_before + time.perf_counter() - t_start,
                     history, archive, out, {"seconds_before": elapsed_before})


def _restore(out: Path | None, resume: bool, algorithm, fitness, archive):
    """``(memo, history, evaluations, iteration, seconds before)`` of the run in ``out``: loaded
    from its checkpoint into ``algorithm``, ``fitness`` and ``archive`` when resuming, else fresh;
    the history file is rewritten to exactly the checkpointed records."""
    memo, history, evaluations, iteration, elapsed_before = {}, [], 0, 0, 0.0
    if out is None:
        return memo, history, evaluations, iteration, elapsed_before
    out.mkdir(parents=True, exist_ok=True)
    if resume and (out / CHECKPOINT).exists():
        ckpt = json.loads((out / CHECKPOINT).read_text())
        algorithm.load_state_dict(ckpt["algorithm"])
        fitness.load_state_dict(ckpt["fitness"])
        if archive is not None:
            archive.load_state_dict(ckpt["archive"])
        memo = {k: v for k, v in ckpt["memo"]}
        evaluations, iteration, elapsed_before = ckpt["evaluations"], ckpt["iteration"], ckpt["seconds"]
        history = read_history(out)[:evaluations]  # drop the iteration the crash interrupted
    elif not resume and (out / HISTORY).exists() and (out / HISTORY).stat().st_size:
        raise FileExistsError(f"{out} already holds a run; resume it (resume=True) or pick a new folder")
    with open(out / HISTORY, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in history)
    return memo, history, evaluations, iteration, elapsed_before


def _states(algorithm, fitness, archive) -> dict:
    return {"algorithm": algorithm.state_dict(), "fitness": fitness.state_dict(),
            "archive": archive.state_dict() if archive is not None else None}


def _evaluate(problem, batch, memo, executor):
    """Results for ``batch`` in order; each distinct new point is evaluated once."""
    todo = list(dict.fromkeys(_key(g) for g in batch if _key(g) not in memo))
    fresh: dict[str, tuple[dict, float]] = {}
    genes_of = {_key(g): list(g) for g in batch}
    if executor is None:
        for k in todo:
            fresh[k] = _timed_call(problem, genes_of[k])
    else:
        outs = executor.map(_timed_call, [problem] * len(todo), [genes_of[k] for k in todo])
        fresh = dict(zip(todo, outs))
    results, seconds, cached = [], [], []
    for g in batch:
        k = _key(g)
        if k in fresh and k not in memo:
            memo[k], s = fresh[k]
            results.append(memo[k]); seconds.append(s); cached.append(False)
        else:
            results.append(memo[k]); seconds.append(0.0); cached.append(True)
    return results, seconds, cached
