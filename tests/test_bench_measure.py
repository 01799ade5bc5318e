"""The timing loop's pure parts: statistics, stopping rule, Poisson server queueing."""
import time

import numpy as np
import pytest

from course_lib.bench import measure


def test_summarize_reports_milliseconds_and_percentiles():
    s = measure.summarize(np.arange(1, 101) / 1e3)  # 1..100 ms
    assert s["min"] == pytest.approx(1.0) and s["max"] == pytest.approx(100.0)
    assert s["mean"] == pytest.approx(50.5)
    assert s["p50"] == pytest.approx(50.5) and s["p99"] == pytest.approx(99.01)
    assert s["p90"] < s["p95"] < s["p99"]
    assert s["n"] == 100


def test_rel_iqr_zero_for_constant_and_large_for_spread():
    assert measure.rel_iqr([2.0] * 10) == 0.0
    assert measure.rel_iqr([1, 1, 10, 10]) > 1
    with pytest.raises(ValueError, match="empty"):
        measure.rel_iqr([])


@pytest.mark.parametrize("bad", [dict(min_iters=-1), dict(min_duration_s=5, max_duration_s=1),
                                 dict(min_iters=10, max_iters=5), dict(target_rel_iqr=-0.1)])
def test_stopping_rule_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        measure.StoppingRule(**bad)


def test_stable_step_stops_at_the_minimums():
    rule = measure.StoppingRule(warmup_s=0, warmup_iters=0, min_duration_s=0, min_iters=20, max_iters=10_000)
    trace = measure.measure(lambda: 0.001, rule)
    assert len(trace) == 20  # spread 0 <= target right at the minimum


def test_noisy_step_runs_until_the_maximum():
    rng = np.random.default_rng(0)
    rule = measure.StoppingRule(warmup_s=0, warmup_iters=0, min_duration_s=0, min_iters=10, max_iters=500,
                                target_rel_iqr=0.01)
    trace = measure.measure(lambda: float(rng.uniform(0.001, 0.01)), rule)
    assert len(trace) == 500


def test_minimum_duration_is_respected():
    rule = measure.StoppingRule(warmup_s=0, warmup_iters=0, min_duration_s=0.1, min_iters=1, max_duration_s=1,
                                max_iters=10**8)
    t0 = time.perf_counter()
    trace = measure.measure(measure.perf_counter_timer(lambda: None), rule)
    assert time.perf_counter() - t0 >= 0.1 and len(trace) > 64


def test_warm_up_meets_count_and_time():
    calls = []
    n = measure.warm_up(lambda: calls.append(1) or 0.0, measure.StoppingRule(warmup_s=0.02, warmup_iters=5))
    assert n == len(calls) >= 5


def test_poisson_arrivals_have_the_requested_rate():
    a = measure.poisson_arrivals(1000.0, 20_000, seed=1)
    assert np.all(np.diff(a) > 0)
    assert 20_000 / a[-1] == pytest.approx(1000, rel=0.03)
    with pytest.raises(ValueError, match="rate_per_s"):
        measure.poisson_arrivals(0, 10)


def test_server_latency_includes_queueing():
    # Five queries arriving together on one worker: the k-th waits for k-1 services.
    lat, service = measure.run_server(lambda: time.sleep(0.004), np.zeros(5))
    assert np.all(service >= 0.004)
    assert np.all(np.diff(lat) > 0.003)
    assert lat[-1] >= 5 * 0.004


def test_default_rule_lets_an_explicit_cap_lower_the_default_floor(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "0")
    rule = measure.StoppingRule.default(max_duration_s=1.0, max_iters=20)
    assert (rule.min_duration_s, rule.max_duration_s, rule.min_iters, rule.max_iters) == (1.0, 1.0, 20, 20)
    assert measure.StoppingRule.default(max_duration_s=5.0).min_duration_s == 2.0   # the floor fits: kept
    with pytest.raises(ValueError, match="max_duration_s"):                         # both given: still an error
        measure.StoppingRule.default(min_duration_s=3.0, max_duration_s=1.0)
