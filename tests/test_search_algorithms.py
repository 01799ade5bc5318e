"""Each algorithm on cheap synthetic problems: optimum within budget, resume == uninterrupted."""
import json
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from course_lib import search
from course_lib.search.problems import OneMax, Sphere, ToyCompression

OPTIMUM = [7, 13, 4, 10, 12]
SPACE = search.Space.integers([range(1, 17)] * 5)        # 16^5 ~ 1e6 points
SMALL = search.Space.integers([range(1, 9)] * 5)         # 8^5 ~ 3e4 points

# (algorithm, kwargs, space, optimum): the exact optimum within 400 evaluations in >= 2 of 3 seeds
CASES = [
    ("ga", {"selection": "tournament"}, SMALL, [7, 3, 1, 2, 8]),
    ("ga", {"selection": "tournament", "crossover": "uniform"}, SMALL, [7, 3, 1, 2, 8]),
    ("pso", {"setting": "constriction"}, SPACE, OPTIMUM),
    ("blackhole", {"setting": "constriction"}, SPACE, OPTIMUM),
    ("annealing", {"t_start": 20.0, "cooling": 0.98}, SPACE, OPTIMUM),
]


@pytest.mark.parametrize("name,kwargs,space,optimum", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_finds_the_optimum_of_an_integer_bowl(name, kwargs, space, optimum):
    hits = 0
    for seed in range(3):
        res = search.run(Sphere(optimum), search.make(name, space, seed=seed, **kwargs), budget=400, progress=False)
        assert res.evaluations == 400 == len(res.history)
        hits += res.best_genes == optimum
    assert hits >= 2, f"{name} found the optimum in {hits}/3 seeds"


@pytest.mark.parametrize("name", ["pso", "blackhole"])
def test_thesis_pso_setting_gets_close(name):
    # w = 0.8 with c_p = c_g = 2.05 does not converge (it needs w > (c_p + c_g)/2 - 1): the swarm
    # keeps oscillating at v_max, so it gets near the optimum but rarely onto it
    for seed in range(3):
        res = search.run(Sphere(OPTIMUM), search.make(name, SPACE, seed=seed), budget=400, progress=False)
        assert res.best_fitness >= -2


def test_ga_with_roulette_solves_onemax_on_categorical_genes():
    space = search.Space([search.categorical(f"g{i}", ["a", "b", "c", "d"]) for i in range(8)])
    target = list("abcdabcd")
    res = search.run(OneMax(target), search.make("ga", space, seed=0, mutation_rate=0.1), budget=400, progress=False)
    assert res.best_genes == target and res.best_fitness == 9


def test_random_search_finds_the_optimum_of_a_small_space():
    space = search.Space.integers([range(4)] * 3)       # 64 points, 400 samples
    res = search.run(Sphere([3, 0, 2]), search.make("random", space, seed=0), budget=400, progress=False)
    assert res.best_genes == [3, 0, 2] and res.best_fitness == 0


def test_the_bowl_is_not_trivial_for_random_search():
    rnd = search.run(Sphere(OPTIMUM), search.make("random", SPACE, seed=0), budget=400, progress=False)
    assert rnd.best_fitness < -5


def test_pso_clamps_velocity_and_stays_in_bounds():
    algo = search.make("pso", SPACE, seed=0, v_max=2.0)
    for _ in range(10):
        genes = algo.ask()
        algo.tell(genes, [Sphere(OPTIMUM)(g)["value"] for g in genes])
        assert np.abs(algo.v).max() <= 2.0 and algo.x.min() >= 1 and algo.x.max() <= 16


def test_blackhole_restarts_slow_particles_on_the_global_best():
    space = search.Space.integers([range(10)] * 2)
    algo = search.make("blackhole", space, seed=0, n_particles=3)
    algo.x[:] = [[4, 4], [4, 4], [9, 0]]
    algo.v[:] = [[0.1, 0.0], [3.0, 0.0], [0.1, 0.1]]  # particle 0 slow, 1 fast, 2 elsewhere
    genes = algo.ask()
    algo.tell(genes, [10.0, 10.0, 1.0])                # (4, 4) is the global best
    assert algo.pbest_fit[0] == -np.inf and algo.restarts == 1  # swallowed: personal best cleared
    assert algo.pbest_fit[1] == 10.0 and algo.pbest_fit[2] == 1.0
    assert algo.gbest.tolist() == [4.0, 4.0] and algo.gbest_fit == 10.0  # the global best is kept


def test_annealing_accepts_worse_moves_only_while_hot():
    space = search.Space.integers([range(100)])
    hot = search.make("annealing", space, seed=0, t_start=1e6, cooling=1.0)
    cold = search.make("annealing", space, seed=0, t_start=1e-9, cooling=1.0)
    for algo in (hot, cold):
        algo.tell(algo.ask(), [0.0])
        start = algo.current.copy()
        algo.tell(algo.ask(), [-1.0])                  # a worse neighbour
        moved = (algo.current != start).any()
        assert moved == (algo is hot)


def test_budget_is_exact_and_the_cut_batch_is_recorded():
    res = search.run(Sphere(OPTIMUM), search.make("pso", SPACE, seed=0), budget=50, progress=False)
    assert res.evaluations == 50 and [r["evaluation"] for r in res.history] == list(range(1, 51))
    with pytest.raises(ValueError, match="budget"):
        search.run(Sphere(OPTIMUM), search.make("pso", SPACE, seed=0), budget=0)


# --- runs that survive -------------------------------------------------------------------------
class Crash(RuntimeError):
    pass


class CrashAfter:
    """Wraps a problem and raises on the (n+1)-th real evaluation, like a killed process."""

    def __init__(self, problem, n):
        self.problem, self.n, self.calls = problem, n, 0

    def __call__(self, genes):
        self.calls += 1
        if self.calls > self.n:
            raise Crash(f"killed after {self.n} evaluations")
        return self.problem(genes)


def _strip(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def _fitness(kind):
    return {"objective": None, "dynamic": search.TargetFitness.extreme(thresholds=(0.95, 1.0)),
            "static": search.TargetFitness.static(0.99, 14.0), "pareto": search.ParetoFitness()}[kind]


RESUME_CASES = [("ga", {}, "dynamic"), ("pso", {}, "dynamic"), ("blackhole", {}, "static"),
                ("random", {}, "pareto"), ("annealing", {"t_start": 50.0}, "dynamic"),
                ("ga", {"selection": "tournament", "crossover": "uniform"}, "pareto")]


@pytest.mark.parametrize("name,kwargs,fit", RESUME_CASES, ids=lambda c: str(c))
def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path, name, kwargs, fit):
    problem = ToyCompression()
    keys = ("accuracy", "cr_true")
    full = search.run(problem, search.make(name, SPACE, seed=3, **kwargs), budget=150, fitness=_fitness(fit),
                      out_dir=tmp_path / "full", archive_keys=keys, archive_ref=(0.9, 1.0), progress=False)

    out = tmp_path / "killed"
    with pytest.raises(Crash):
        search.run(CrashAfter(problem, 67), search.make(name, SPACE, seed=3, **kwargs), budget=150,
                   fitness=_fitness(fit), out_dir=out, archive_keys=keys, archive_ref=(0.9, 1.0), progress=False)
    partial = search.read_history(out)
    assert 0 < len(partial) < 150
    # a kill between writing history lines and the next checkpoint leaves extra and torn lines
    with open(out / "history.jsonl", "a") as f:
        f.write(json.dumps({**partial[-1], "evaluation": len(partial) + 1}) + "\n" + '{"evaluation": 9')
    # a fresh process: new objects built the same way, state comes from the checkpoint only
    resumed = search.run(problem, search.make(name, SPACE, seed=3, **kwargs), budget=150, fitness=_fitness(fit),
                         out_dir=out, resume=True, archive_keys=keys, archive_ref=(0.9, 1.0), progress=False)

    assert _strip(resumed.history) == _strip(full.history)
    assert _strip(search.read_history(out)) == _strip(search.read_history(tmp_path / "full"))
    assert (resumed.best_genes, resumed.best_fitness) == (full.best_genes, full.best_fitness)
    assert resumed.archive.points == full.archive.points
    assert resumed.archive.hypervolume() == full.archive.hypervolume()


def test_checkpoint_is_plain_json_and_a_used_folder_is_not_overwritten(tmp_path):
    search.run(Sphere(OPTIMUM), search.make("pso", SPACE, seed=0), budget=40, out_dir=tmp_path, progress=False)
    ckpt = json.loads((tmp_path / "checkpoint.json").read_text())
    assert ckpt["evaluations"] == 40 and ckpt["algorithm"]["algorithm"] == "pso"
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(FileExistsError, match="resume"):
        search.run(Sphere(OPTIMUM), search.make("pso", SPACE, seed=0), budget=40, out_dir=tmp_path, progress=False)
    # resuming a finished run does nothing more
    again = search.run(Sphere(OPTIMUM), search.make("pso", SPACE, seed=0), budget=40, out_dir=tmp_path,
                       resume=True, progress=False)
    assert again.evaluations == 40 and len(again.history) == 40


def test_history_records_what_the_issue_asks(tmp_path):
    res = search.run(ToyCompression(), search.make("ga", SPACE, seed=0), budget=30,
                     fitness=search.TargetFitness.extreme(thresholds=(0.95, 1.0)), out_dir=tmp_path, progress=False)
    rec = search.read_history(tmp_path)[0]
    assert {"evaluation", "genes", "accuracy", "cr_true", "fitness", "target", "seconds", "cached"} <= set(rec)
    assert len(res.history) == 30


@pytest.mark.parametrize("make_executor", [lambda: ThreadPoolExecutor(2), lambda: ProcessPoolExecutor(2)],
                         ids=["threads", "processes"])
def test_parallel_evaluation_gives_the_same_run(make_executor):
    fit = lambda: search.TargetFitness.extreme(thresholds=(0.95, 1.0))  # noqa: E731
    serial = search.run(ToyCompression(), search.make("ga", SPACE, seed=5), budget=60, fitness=fit(), progress=False)
    with make_executor() as ex:
        # Lazy: each worker builds the problem once instead of receiving a pickled copy per task
        parallel = search.run(search.Lazy(ToyCompression), search.make("ga", SPACE, seed=5), budget=60,
                              fitness=fit(), executor=ex, progress=False)
    assert _strip(parallel.history) == _strip(serial.history)


def test_plots_draw_fronts_progress_and_explored_points():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.search import plots

    runs = {name: [search.run(ToyCompression(), search.make(name, SPACE, seed=s), budget=60,
                              fitness=search.TargetFitness.extreme(thresholds=(0.95, 1.0)), progress=False).history
                   for s in range(2)] for name in ("ga", "pso")}
    h = runs["ga"][0]
    ax = plots.plot_pareto(h, 0.98, target=h[-1]["target"])
    front = ax.lines[0].get_xdata()
    assert len(front) >= 1 and len(ax.collections) == 2          # explored + target
    ax = plots.plot_progress(runs, plots.feasible_cr(0.98, 1.0))
    assert len(ax.lines) == 2
    best = plots.best_so_far(h, "fitness")
    assert np.all(np.diff(best[~np.isnan(best)]) >= 0)
    plots.plot_explored(h)


@pytest.mark.parametrize("which", ["optuna-tpe", "optuna-nsga2", "pymoo-ga"])
def test_external_optimisers_spend_the_exact_budget_on_the_same_space(which):
    from course_lib.search import external

    fit = search.TargetFitness.static(0.99, 14.0)
    if which == "pymoo-ga":
        recs = external.pymoo_ga(ToyCompression(), SPACE, 40, seed=0, fitness=fit)
    else:
        recs = external.optuna_search(ToyCompression(), SPACE, 40, sampler=which.split("-")[1], seed=0, fitness=fit)
    assert [r["evaluation"] for r in recs] == list(range(1, 41))
    for r in recs:
        SPACE.validate(r["genes"])
        assert r["fitness"] == pytest.approx(fit.score(r))
