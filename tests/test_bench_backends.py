"""Every backend installed here measured on LeNet-5; the missing ones reported, never a crash."""
import json

import numpy as np
import pytest

from course_lib import bench, zoo
from course_lib.bench import backends, export

REPORT_KEYS = {"backend", "latency_ms", "throughput_per_s", "peak_rss_bytes", "energy", "environment", "trace_ms"}


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    return export.torch_to_onnx(zoo.load("lenet5-tanh"), (1, 1, 28, 28), tmp_path_factory.mktemp("m") / "lenet5.onnx")


@pytest.fixture(scope="module")
def tflite_path(tmp_path_factory):
    from course_lib.models import keras_lenet5

    return export.keras_to_tflite(keras_lenet5(), tmp_path_factory.mktemp("t") / "lenet5.tflite")


def _check(report, backend, batch=1):
    d = report.to_dict()
    assert REPORT_KEYS <= set(d)
    assert d["backend"] == backend and report.batch_size == batch
    lat = report.latency_ms
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert len(report.trace_ms) == lat["n"] >= 10
    assert report.throughput_per_s > 0 and report.peak_rss_bytes > 10 * 2 ** 20
    assert report.cold_start_ms["load"] > 0 and report.cold_start_ms["first_inference"] > 0
    assert report.energy["source"] and "versions" in report.environment
    json.loads(report.to_json())


def test_registry_lists_every_backend_with_reason_or_ok():
    rows = backends.available_backends()
    assert {r["backend"] for r in rows} == set(backends.NAMES)
    for r in rows:
        assert r["available"] == (r["reason"] is None)
        if not r["available"]:
            assert r["install_hint"], r
    ok = {r["label"] for r in rows if r["available"]}
    assert {"pytorch (CPU)", "onnxruntime (CPU EP)", "tflite (XNNPACK on/off)"} <= ok
    assert "unavailable" in bench.format_backends() or all(r["available"] for r in rows)


def test_onnxruntime_on_an_onnx_file(onnx_path):
    r = bench.benchmark(onnx_path, backend="onnxruntime", threads=1)
    _check(r, "onnxruntime")
    assert r.options["providers_in_use"][0] == "CPUExecutionProvider"
    assert r.options["intra_op_num_threads"] == 1
    assert r.model_info["parameters"] == 61_706
    assert r.model_info["macs"] == 416_520  # conv1 117,600 + conv2 240,000 + conv3 48,000 + fc 10,920


def test_pytorch_on_a_module_and_zoo_name():
    r = bench.benchmark(zoo.load("lenet5-tanh"), backend="pytorch", input_shape=(1, 1, 28, 28), threads=1)
    _check(r, "pytorch")
    assert r.options == {"device": "cpu", "dtype": "fp32", "compile": False, "threads": 1, "timer": "perf_counter"}
    assert r.model_info["parameters"] == 61_706
    r = bench.benchmark("lenet5-relu", backend="pytorch")
    assert r.input_shape == [1, 1, 28, 28] and r.model == "lenet5-relu"


def test_zoo_name_on_onnxruntime_exports_once():
    r = bench.benchmark("lenet5-tanh", backend="onnxruntime")
    _check(r, "onnxruntime")


@pytest.mark.slow  # importing TensorFlow and converting takes ~10-25 s on 2 busy cores
@pytest.mark.parametrize("xnnpack", [True, False])
def test_tflite_with_and_without_xnnpack(tflite_path, xnnpack):
    r = bench.benchmark(tflite_path, backend="tflite", xnnpack=xnnpack, threads=1)
    _check(r, "tflite")
    assert r.options["xnnpack"] is xnnpack and r.options["runtime"]
    assert r.input_shape == [1, 28, 28, 1]


def test_offline_and_server_scenarios(onnx_path):
    r = bench.benchmark(onnx_path, backend="onnxruntime", scenario="batch", batch_size=8)
    _check(r, "onnxruntime", batch=8)
    assert r.scenario == "offline" and r.input_shape[0] == 8
    # throughput counts samples: batch x runs / busy time
    assert r.throughput_per_s == pytest.approx(8 * len(r.trace_ms) / (np.sum(r.trace_ms) / 1e3), rel=1e-6)
    s = bench.benchmark(onnx_path, backend="onnxruntime", scenario="server", server_load=0.3)
    assert s.scenario == "server" and s.scenario_info["offered_load"] == pytest.approx(0.3)
    assert s.scenario_info["queries"] == len(s.trace_ms)
    # latency under load counts from arrival, so it is never below the service time alone
    assert s.latency_ms["p50"] >= s.scenario_info["service_p50_ms"] * 0.99


def test_report_json_round_trip(onnx_path, tmp_path):
    r = bench.benchmark(onnx_path, backend="onnxruntime")
    r.to_json(tmp_path / "r.json")
    back = bench.Report.from_json(tmp_path / "r.json")
    assert back.latency_ms == r.latency_ms and back.trace_ms == r.trace_ms
    assert "p50" in r.table() and "throughput" in r.table()


def test_unavailable_backends_raise_a_clear_error(onnx_path):
    rows = {r["label"]: r for r in backends.available_backends()}
    cases = [("tensorrt", {}, "tensorrt (GPU, FP16/INT8)"),
             ("onnxruntime", {"provider": "cuda"}, "onnxruntime (CUDA EP)"),
             ("onnxruntime", {"provider": "tensorrt"}, "onnxruntime (TensorRT EP)")]
    for backend, opts, label in cases:
        if rows[label]["available"]:
            continue
        with pytest.raises(bench.BackendUnavailable) as e:
            bench.benchmark(onnx_path, backend=backend, **opts)
        assert e.value.reason == rows[label]["reason"] and e.value.install_hint
    if not rows["pytorch (CUDA, fp32/fp16)"]["available"]:
        with pytest.raises(bench.BackendUnavailable, match="CUDA"):
            bench.benchmark("lenet5-tanh", backend="pytorch", device="cuda")


def test_bad_inputs_name_the_problem(onnx_path, tmp_path):
    tflite_path = tmp_path / "fake.tflite"
    tflite_path.write_bytes(b"\0\0\0\0TFL3")
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        bench.benchmark(onnx_path, backend="nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        bench.benchmark("missing.onnx")
    with pytest.raises(ValueError, match="neither a model file"):
        bench.benchmark("not-a-zoo-model")
    with pytest.raises(ValueError, match="input_shape"):
        bench.benchmark(zoo.load("lenet5-tanh"), backend="pytorch")
    with pytest.raises(ValueError, match="cannot run a .tflite"):
        bench.benchmark(tflite_path, backend="onnxruntime")
    with pytest.raises(ValueError, match="unknown option"):
        bench.benchmark(onnx_path, backend="onnxruntime", xnnpack=False)
    with pytest.raises(ValueError, match="scenario"):
        bench.benchmark(onnx_path, scenario="burst")
    with pytest.raises(ValueError, match="threads"):
        bench.benchmark(onnx_path, threads=0)


@pytest.mark.skipif(not any(r["available"] for r in backends.available_backends()
                            if r["label"] == "pytorch (CUDA, fp32/fp16)"), reason="no CUDA device here")
@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_pytorch_cuda_timed_with_events(dtype):
    r = bench.benchmark("lenet5-tanh", backend="pytorch", device="cuda", dtype=dtype)
    assert r.options["timer"] == "cuda-events" and r.cuda_max_allocated_bytes > 0


def test_tensorrt_engine_and_placement_where_importable(onnx_path):
    pytest.importorskip("tensorrt")
    if backends.get("tensorrt").check() is not None:
        pytest.skip(backends.get("tensorrt").check())
    r = bench.benchmark(onnx_path, backend="tensorrt", precision="fp16")
    assert r.options["precision"] == "fp16" and r.latency_ms["p50"] > 0
