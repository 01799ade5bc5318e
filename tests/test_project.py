"""course_lib.project (targets, choice, Pareto front, checklist) and interleaved latency."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from course_lib import project
from course_lib.bench import compare, environment
from course_lib.project import Targets, check, checklist, choose, pareto_mask

BASE = {"name": "baseline", "val_accuracy": 0.982, "file_bytes": 300_000, "p50_ms": 0.14, "energy_mj": 0.08}
ROWS = [
    BASE,
    {"name": "int8", "val_accuracy": 0.983, "file_bytes": 92_000, "p50_ms": 0.08, "energy_mj": 0.021},
    {"name": "pruned", "val_accuracy": 0.979, "file_bytes": 120_000, "p50_ms": 0.09, "energy_mj": 0.05},
    {"name": "pruned int8", "val_accuracy": 0.978, "file_bytes": 40_000, "p50_ms": 0.07, "energy_mj": 0.012},
    {"name": "pruned hard", "val_accuracy": 0.950, "file_bytes": 20_000, "p50_ms": 0.05, "energy_mj": 0.004},
]


def test_check_reports_each_target_with_its_numbers():
    t = Targets(max_loss_points=1.0, margin_points=0.5, max_bytes=100_000, max_latency_ratio=0.7, max_energy_ratio=0.5)
    got = check(ROWS[3], BASE, t)
    loss, limit, met = got["accuracy loss (points)"]
    assert loss == pytest.approx(0.4) and limit == 0.5 and met
    assert got["file (bytes)"] == (40_000, 100_000, True)
    assert got["latency / baseline"][0] == pytest.approx(0.5) and got["latency / baseline"][2]
    assert got["energy / baseline"][0] == pytest.approx(0.15)
    # the margin applies on validation only: the test report is checked against the target itself
    test_row = {**ROWS[3], "test_accuracy": 0.973}
    final = check(test_row, {**BASE, "test_accuracy": 0.982}, t, accuracy_key="test_accuracy")
    assert final["accuracy loss (points)"][1] == 1.0 and final["accuracy loss (points)"][2]


def test_choose_takes_the_cheapest_variant_inside_the_margin():
    t = Targets(max_loss_points=1.0, margin_points=0.5, max_bytes=100_000)
    assert choose(ROWS, BASE, t)["name"] == "pruned int8"          # 0.4 points <= 0.5: allowed
    tight = Targets(max_loss_points=1.0, margin_points=0.7)         # 0.4 > 0.3: now too lossy
    assert choose(ROWS, BASE, tight)["name"] == "int8"
    assert choose(ROWS, BASE, Targets(max_bytes=10_000)) is None    # nothing fits
    assert choose(ROWS, BASE, Targets(max_loss_points=5, margin_points=0), minimize="file_bytes")["name"] == "pruned hard"


def test_pareto_mask_keeps_only_unbeaten_rows():
    mask = pareto_mask(ROWS)  # maximize val accuracy, minimize p50
    assert [r["name"] for r, m in zip(ROWS, mask) if m] == ["int8", "pruned int8", "pruned hard"]
    mask = pareto_mask(ROWS, maximize=("val_accuracy",), minimize=("file_bytes", "energy_mj"))
    assert not mask[0] and mask[1] and mask[4]


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_loss_points=-1), "max_loss_points"),
    (dict(max_loss_points=1.0, margin_points=2.0), "margin_points"),
    (dict(max_bytes=0), "max_bytes"),
    (dict(max_latency_ratio="fast"), "max_latency_ratio"),
])
def test_targets_refuse_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Targets(**kwargs)


def test_bad_rows_get_clear_errors():
    with pytest.raises(ValueError, match="non-empty"):
        choose([], BASE, Targets())
    with pytest.raises(ValueError, match="lacks \\['p50_ms'\\]"):
        choose([{k: v for k, v in BASE.items() if k != "p50_ms"}], BASE, Targets())
    with pytest.raises(ValueError, match="cannot minimize 'watts'"):
        choose(ROWS, BASE, Targets(), minimize="watts")
    with pytest.raises(ValueError, match="missing from some rows"):
        pareto_mask(ROWS, minimize=("latency",))


def _record(tmp_path):
    f = tmp_path / "model.onnx"
    f.write_bytes(b"weights")
    return {"environment": environment.collect(), "data": {"source": "offline", "splits": {"val": 1000}},
            "seeds": [0, 1], "latency": {"statistic": "median of per-round p50", "rounds": 3, "threads": 1, "batch_size": 1},
            "artefacts": {"model": {"path": str(f), "sha256": project.sha256(f)}},
            "labels": {"energy": "ESTIMATE (roofline)", "latency": "measured on this CPU"}, "test_evaluations": 1}


def test_checklist_passes_a_complete_record_and_names_what_breaks(tmp_path):
    record = _record(tmp_path)
    json.dumps(record)  # a record is plain JSON
    items = checklist(record)
    assert len(items) == 7 and all(i["ok"] for i in items), [i for i in items if not i["ok"]]
    (tmp_path / "model.onnx").write_bytes(b"retrained")      # the artefact changed after the record
    record.update(seeds=[0], test_evaluations=3, labels={"energy": "about 0.1 mJ"})
    failed = {i["item"]: i["evidence"] for i in checklist(record) if not i["ok"]}
    assert "changed or missing: ['model']" in failed["artefacts on disk match their SHA-256"]
    assert failed["test split evaluated once, after the choice"] == "3 test evaluation(s)"
    assert "every training run seeded, at least 2 seeds" in failed
    assert "every number's kind labelled (measured, ESTIMATE, ...)" in failed
    assert all(not i["ok"] for i in checklist({}))
    with pytest.raises(ValueError, match="must be a dict"):
        checklist([record])


def test_cpu_model_is_the_name_not_the_x86_model_number(monkeypatch):
    x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel\t\t: 17\nmodel name\t: AMD EPYC 7B13\n"
    pi = "processor\t: 0\nBogoMIPS\t: 108.00\n\nRevision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"
    for text, want in ((x86, "AMD EPYC 7B13"), (pi, "Raspberry Pi 4 Model B Rev 1.4")):
        monkeypatch.setattr(environment, "_read", lambda p, text=text: text if p == "/proc/cpuinfo" else None)
        assert environment.cpu()["model"] == want


class _FakeReport:
    def __init__(self, ms):
        self.latency_ms = {"p50": ms, "rel_iqr": 0.1}


def test_interleaved_latency_rotates_the_order_and_takes_medians_of_ratios(monkeypatch):
    calls = []
    drift = iter([1, 1, 1, 3, 3, 3, 1, 1, 1])  # round 2 runs on a machine 3x slower

    def fake(model, backend, input_shape, **kw):
        calls.append(model)
        return _FakeReport(model * next(drift))

    monkeypatch.setattr("course_lib.bench.benchmark", fake)
    res = compare.interleaved_latency({"ref": 2.0, "half": 1.0, "quarter": 0.5}, (1, 4), rounds=3)
    assert calls == [2.0, 1.0, 0.5, 1.0, 0.5, 2.0, 0.5, 2.0, 1.0]
    assert res["half"]["speedup"] == pytest.approx(2.0) and res["quarter"]["speedup"] == pytest.approx(4.0)
    assert res["ref"]["rounds_ms"] == [2.0, 6.0, 2.0] and res["ref"]["p50_ms"] == 2.0
    with pytest.raises(ValueError, match="rounds"):
        compare.interleaved_latency({"a": 1}, (1, 4), rounds=0)
    with pytest.raises(ValueError, match="non-empty dict"):
        compare.interleaved_latency([], (1, 4))


def test_paired_latency_sees_a_much_smaller_model_as_faster():
    torch.manual_seed(0)
    big = torch.nn.Sequential(*[torch.nn.Linear(512, 512) for _ in range(8)]).eval()
    small = torch.nn.Sequential(torch.nn.Linear(512, 8)).eval()
    from course_lib.pruning import paired_latency

    res = paired_latency(big, small, (1, 512), rounds=3, threads=1, max_duration_s=0.2)
    assert res["speedup"] > 2 and len(res["rounds"]) == 3
    assert np.isclose(res["a_ms"] / res["b_ms"], res["speedup"], rtol=1.0)
