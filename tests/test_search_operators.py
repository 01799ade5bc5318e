"""Search space, genetic operators, fitness and Pareto archive: each on tiny inputs."""
import numpy as np
import pytest

from course_lib import search
from course_lib.search.algorithms import genetic


def rng(seed=0):
    return np.random.default_rng(seed)


# --- space ---------------------------------------------------------------------------------
def test_space_round_trips_and_rounds_to_allowed_values():
    space = search.Space([search.integer("k", [1, 2, 4, 8]), search.categorical("act", ["relu", "tanh"])])
    assert space.cardinality() == 8
    assert space.to_indices([4, "tanh"]).tolist() == [2, 1]
    assert space.from_indices([3, 0]) == [8, "relu"]
    assert space.to_coords([4, "tanh"]).tolist() == [4.0, 1.0]
    assert space.nearest([5.9, 0.2]) == [4, "relu"]   # 5.9 is nearer to 4 than to 8
    assert space.nearest([6.1, 0.8]) == [8, "tanh"]
    for row in space.sample_indices(rng(), 50):
        space.validate(space.from_indices(row))


def test_space_rejects_bad_genes_with_the_allowed_values():
    space = search.Space.integers([[1, 2, 3]], names=["conv1"])
    with pytest.raises(ValueError, match="conv1.*allowed.*1, 2, 3"):
        space.validate([7])
    with pytest.raises(ValueError, match="expected 1 genes"):
        space.validate([1, 2])
    with pytest.raises(ValueError, match="sorted"):
        search.integer("k", [3, 1])
    with pytest.raises(ValueError, match="no allowed values"):
        search.integer("k", [])


# --- selection -----------------------------------------------------------------------------
def test_roulette_is_proportional_to_fitness():
    picks = genetic.roulette(np.array([1.0, 3.0]), 20000, rng())
    assert abs(np.mean(picks == 1) - 0.75) < 0.02


@pytest.mark.parametrize("bad", [[1.0, 0.0], [2.0, -1.0], [1.0, np.inf]])
def test_roulette_rejects_non_positive_fitness_clearly(bad):
    with pytest.raises(ValueError, match="strictly positive.*tournament"):
        genetic.roulette(np.array(bad), 4, rng())


def test_ga_with_roulette_on_negative_fitness_raises_and_tournament_works():
    space = search.Space.integers([range(10)] * 3)
    from course_lib.search.problems import Sphere
    with pytest.raises(ValueError, match="roulette"):
        search.run(Sphere([5, 5, 5]), search.make("ga", space, seed=0), budget=30, progress=False)
    res = search.run(Sphere([5, 5, 5]), search.make("ga", space, seed=0, selection="tournament"),
                     budget=30, progress=False)
    assert res.evaluations == 30


def test_tournament_prefers_fitter_and_accepts_negative_values():
    picks = genetic.tournament(np.array([-5.0, -1.0, -3.0]), 3000, rng(), size=3)
    counts = np.bincount(picks, minlength=3)
    assert counts[1] > counts[2] > counts[0]


# --- crossover and mutation ----------------------------------------------------------------
def test_one_point_crossover_gives_complementary_children_with_one_cut():
    a, b = np.zeros(6, int), np.ones(6, int)
    for seed in range(20):
        c1, c2 = genetic.one_point(a, b, rng(seed))
        assert (c1 + c2 == 1).all()                      # complementary
        cut = int(np.argmax(c1 != c1[0]))
        assert 1 <= cut <= 5 and c1[0] == 0 and (c1[cut:] == 1).all()


def test_uniform_crossover_is_complementary_and_mixes():
    a, b = np.zeros(40, int), np.ones(40, int)
    c1, c2 = genetic.uniform(a, b, rng())
    assert (c1 + c2 == 1).all() and 5 < c1.sum() < 35


def test_mutation_rate_and_always_changes_a_hit_gene():
    sizes = np.full(2000, 5)
    idx = np.zeros(2000, int)
    out = genetic.mutate(idx, sizes, 0.2, rng())
    assert abs(np.mean(out != idx) - 0.2) < 0.03
    assert out.min() >= 0 and out.max() <= 4
    assert (genetic.mutate(idx, sizes, 0.0, rng()) == idx).all()
    assert (genetic.mutate(idx, sizes, 1.0, rng()) != idx).all()   # never "mutates" to itself
    assert (genetic.mutate(np.zeros(3, int), np.ones(3, int), 1.0, rng()) == 0).all()  # one value: untouched


def test_ga_keeps_its_elite_unmutated():
    space = search.Space.integers([range(20)] * 4)
    from course_lib.search.problems import OneMax
    algo = search.make("ga", space, seed=1, pop_size=6, elitism=1, mutation_rate=1.0)
    problem = OneMax([3, 3, 3, 3])
    best_so_far = -np.inf
    for _ in range(15):
        genes = algo.ask()
        fit = [problem(g)["value"] for g in genes]
        algo.tell(genes, fit)
        assert len(algo.population) == 6
        assert algo.fitness.max() >= best_so_far      # the elite survives every generation
        best_so_far = algo.fitness.max()


# --- fitness -------------------------------------------------------------------------------
def test_distance_fitness_matches_the_formula():
    f = search.distance_fitness(0.97, 10.0, 0.99, 14.0)
    assert f == pytest.approx(1 / np.hypot(1 - 0.97 / 0.99, 1 - 10 / 14))
    assert search.distance_fitness(0.99, 14.0, 0.99, 14.0) == 1e12


def test_dynamic_target_moves_only_for_points_passing_the_thresholds():
    t = search.move_target((0.99, 14.0), [(0.96, 30.0)], (0.97, 1.0), (0.001, 0.1))
    assert t == (0.99, 14.0)                           # below the accuracy threshold: ignored
    t = search.move_target((0.99, 14.0), [(0.975, 16.0)], (0.97, 1.0), (0.001, 0.1))
    assert t == pytest.approx((0.99, 16.1))            # beats CR only: CR moves to 16 + 0.1
    t = search.move_target((0.01, 1.0), [(0.98, 5.0), (0.985, 4.0)], (0.97, 1.0), (0.001, 0.1))
    assert t == pytest.approx((0.986, 5.1))            # extreme start: both move, in order


def test_target_fitness_scores_the_batch_against_the_moved_target():
    fit = search.TargetFitness.extreme(thresholds=(0.97, 1.0))
    batch = [{"accuracy": 0.98, "cr_true": 10.0}, {"accuracy": 0.975, "cr_true": 12.0}]
    assert fit.update(batch) is True
    assert fit.target == pytest.approx((0.981, 12.1))
    scores = [fit.score(r) for r in batch]
    assert scores == [pytest.approx(search.distance_fitness(r["accuracy"], r["cr_true"], 0.981, 12.1)) for r in batch]
    assert fit.update(batch) is False                  # nothing new beats the target


def test_relative_targets_follow_the_baseline():
    fit = search.TargetFitness.relative("dynamic", 0.973, 14.0)
    assert fit.target == pytest.approx((0.9766, 14.0)) and fit.thresholds == pytest.approx((0.963, 1.0))
    with pytest.raises(ValueError, match="static, dynamic or extreme"):
        search.TargetFitness.relative("moving", 0.973, 14.0)
    with pytest.raises(ValueError, match="percentage"):
        search.TargetFitness.static(99, 14)


# --- Pareto --------------------------------------------------------------------------------
def test_pareto_archive_keeps_only_non_dominated_points():
    arch = search.ParetoArchive(ref=(0.0, 0.0))
    assert arch.add([0.9, 10]) and arch.add([0.95, 5])
    assert not arch.add([0.85, 9])                     # dominated by (0.9, 10)
    assert not arch.add([0.9, 10])                     # duplicate
    assert arch.add([0.96, 10])                        # dominates both
    assert arch.points == [[0.96, 10.0]]
    pts = np.array([[1, 3], [2, 2], [3, 1], [1, 1]])
    assert search.non_dominated(pts).tolist() == [True, True, True, False]


def test_hypervolume_2d_of_a_staircase():
    # union of rectangles [0,1]x[0,3], [0,2]x[0,2], [0,3]x[0,1] = 3 + 2 + 1
    assert search.hypervolume_2d(np.array([[1, 3], [2, 2], [3, 1]]), (0, 0)) == pytest.approx(6.0)
    assert search.hypervolume_2d(np.array([[1, 3], [2, 2], [3, 1]]), (1, 1)) == pytest.approx(3.0 - 2.0)
    assert search.hypervolume_2d(np.array([[0.5, 0.5]]), (1, 1)) == 0.0


def test_pareto_fitness_gives_front_points_one():
    fit = search.ParetoFitness()
    batch = [{"accuracy": 0.9, "cr_true": 10}, {"accuracy": 0.8, "cr_true": 5}, {"accuracy": 0.95, "cr_true": 2}]
    fit.update(batch)
    assert [fit.score(r) for r in batch] == [1.0, 0.5, 1.0]


def test_relative_target_in_points_and_the_old_fraction_keyword():
    f = search.TargetFitness.relative("dynamic", 0.97, 14.0, margin_points=0.5, max_loss_points=2.0)
    assert f.target == pytest.approx((0.975, 14.0)) and f.thresholds[0] == pytest.approx(0.95)
    with pytest.deprecated_call(match="use max_loss_points"):
        old = search.TargetFitness.relative("dynamic", 0.97, 14.0, margin_points=0.5, threshold_loss=0.02)
    assert old.thresholds == f.thresholds
