"""The pipeline layer: a task loads once, retraining repeats bit for bit, resume == uninterrupted."""
import json

import numpy as np
import pytest
import torch

from course_lib import training
from course_lib.pipeline import CompressConfig, Task, compress, retrain


class Crash(Exception):
    pass


class CrashingEvaluator:
    """The task's evaluator, raising on the (n+1)-th evaluation like a killed process."""

    def __init__(self, evaluator, n: int):
        self._ev, self.n = evaluator, n

    def __getattr__(self, name):
        return getattr(self._ev, name)

    def __call__(self, ks):
        if self.n == 0:
            raise Crash("killed")
        self.n -= 1
        return self._ev(ks)


def _config(**kw):
    return CompressConfig("lenet5-tanh", "ga", budget=24, k_max=6, seed=1, retrain_epochs=1, refine_steps=1, **kw)


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_config_is_validated_with_the_flag_in_the_message(tmp_path):
    assert CompressConfig("lenet5-relu").cr_target == 18.0 and CompressConfig().cr_target == 14.0
    with pytest.raises(ValueError, match=r"max_loss_points and reduce_loss_points \(--max-loss"):
        CompressConfig(max_loss_points=-1)
    with pytest.raises(ValueError, match="unknown zoo model 'lenet7'"):
        CompressConfig("lenet7")
    with pytest.raises(ValueError, match="cr_key must be one of"):
        CompressConfig(cr_key="cr")
    (tmp_path / "config.json").write_text(json.dumps({"model": "lenet5-tanh", "codebook": "float16"}))
    with pytest.raises(ValueError, match="older version"):
        CompressConfig.load(tmp_path / "config.json")
    CompressConfig(seed=5).save(tmp_path / "config.json")
    assert CompressConfig.load(tmp_path / "config.json") == CompressConfig(seed=5)


def test_retraining_is_bit_identical_whatever_the_thread_setting():
    task = Task("lenet5-tanh", "float16", k_max=8)
    before = torch.get_num_threads()
    # two threads outside: without the deterministic block two such runs differ in the last bits
    torch.set_num_threads(2)
    try:
        first, acc1 = retrain(task, [8, 8, 4, 4, 4], epochs=1, progress=False)
        second, acc2 = retrain(task, [8, 8, 4, 4, 4], epochs=1, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert acc1 == acc2 and _same_weights(first.model, second.model)
    assert not torch.are_deterministic_algorithms_enabled()
    assert [c.k for c in first.codes] == [c.k for c in second.codes]
    for a, b in zip(first.codes, second.codes):
        np.testing.assert_array_equal(a.codebook, b.codebook)
        np.testing.assert_array_equal(a.indices, b.indices)


def test_deterministic_block_restores_settings_and_rejects_bad_threads():
    before = torch.get_num_threads()
    with training.deterministic(threads=1):
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == before and not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        with training.deterministic(threads=0):
            pass


def _without_times(result: dict) -> dict:
    r = dict(result, seconds=None)
    r["retrain"] = dict(r["retrain"], seconds=None)
    return r


@pytest.mark.slow
def test_killed_and_resumed_compress_equals_uninterrupted_bit_for_bit(tmp_path):
    full = compress(_config(), tmp_path / "runs" / "full", progress=False)
    assert full.retrain["tried"] and full.ks is not None
    again = compress(_config(), tmp_path / "runs" / "again", progress=False)
    assert _without_times(again.to_dict()) == _without_times(full.to_dict())
    # killed in the middle of the search, then resumed from its folder with a fresh task
    out = tmp_path / "runs" / "killed"
    task = Task("lenet5-tanh", "float16", k_max=6, cache_dir=tmp_path / "runs" / ".cache")
    with pytest.raises(Crash):
        compress(_config(), out, evaluator=CrashingEvaluator(task.evaluator, 10), progress=False)
    assert not (out / "result.json").exists()
    resumed = compress(None, out, resume=True, progress=False)
    assert _without_times(resumed.to_dict()) == _without_times(full.to_dict())
    assert (out / "compressed.ews").read_bytes() == (tmp_path / "runs" / "full" / "compressed.ews").read_bytes()
    assert _same_weights(resumed.shared.model, full.shared.model)
