"""``course-lib bench`` and its errors."""
import json

import pytest

from course_lib.cli import main


def test_bench_zoo_model_writes_the_full_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(["bench", "lenet5-tanh", "--backend", "onnxruntime", "--scenario", "single-stream",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "latency ms" in printed and "p99" in printed
    d = json.loads(out.read_text())
    assert d["backend"] == "onnxruntime"
    assert {"p50", "p90", "p99", "mean"} <= set(d["latency_ms"])
    assert d["throughput_per_s"] > 0 and d["peak_rss_bytes"] > 0
    assert "source" in d["energy"] and "joules_per_inference" in d["energy"]
    assert d["environment"]["versions"]["onnxruntime"] and len(d["trace_ms"]) == d["latency_ms"]["n"]


@pytest.mark.parametrize("argv, message", [
    (["bench", "lenet5-tanh", "--backend", "nope"], "unknown backend 'nope'"),
    (["bench", "no/such/model.onnx"], "does not exist"),
    (["bench", "lenet5-tanh", "--backend", "tensorrt"], "unavailable"),
    (["bench", "lenet5-tanh", "--input-shape", "1,a"], "--input-shape"),
    (["bench"], "give a MODEL"),
])
def test_mistakes_exit_2_with_one_line(argv, message, capsys):
    pytest.importorskip("onnxruntime")
    if "tensorrt" in argv:
        from course_lib.bench import backends
        if backends.get("tensorrt").check() is None:
            pytest.skip("TensorRT is usable here")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_list_backends_and_estimate(capsys):
    assert main(["bench", "--list-backends"]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime (CPU EP)" in out and "tensorrt" in out
    assert main(["bench", "lenet5-tanh", "--estimate", "jetson-agx-orin", "--precision", "fp16"]) == 0
    assert "ESTIMATE" in capsys.readouterr().out
