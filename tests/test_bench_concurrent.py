"""Several models on one device, thread splits, and the plots."""
import pytest

from course_lib import bench, zoo
from course_lib.bench import concurrent, export


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    return export.torch_to_onnx(zoo.load("lenet5-tanh"), (1, 1, 28, 28), tmp_path_factory.mktemp("c") / "l.onnx")


def test_thread_splits_are_all_compositions():
    assert concurrent.thread_splits(4, 2) == [(1, 3), (2, 2), (3, 1)]
    assert concurrent.thread_splits(3, 3) == [(1, 1, 1)]
    with pytest.raises(ValueError, match="cannot split"):
        concurrent.thread_splits(1, 2)


def test_two_models_in_threads_report_per_model_percentiles(onnx_path):
    res = bench.run_concurrent([{"model": onnx_path, "threads": 1, "name": "a"}, {"model": "lenet5-relu", "name": "b"}],
                               duration_s=0.3)
    assert [m["name"] for m in res["models"]] == ["a", "b"]
    for m in res["models"]:
        assert m["latency_ms"]["p99"] >= m["latency_ms"]["p50"] > 0 and m["throughput_per_s"] > 0
    assert res["total_throughput_per_s"] == pytest.approx(sum(m["throughput_per_s"] for m in res["models"]))


def test_processes_mode(onnx_path):
    res = bench.run_concurrent([str(onnx_path), str(onnx_path)], mode="processes", duration_s=0.3)
    assert res["mode"] == "processes" and all(m["latency_ms"]["n"] > 0 for m in res["models"])
    with pytest.raises(ValueError, match="mode"):
        bench.run_concurrent([onnx_path], mode="fibers")


def test_thread_split_search_keeps_only_splits_meeting_targets(onnx_path):
    found = bench.search_thread_split([onnx_path, onnx_path], [1e3, 1e3], total_threads=3, duration_s=0.2)
    assert len(found["candidates"]) == 2 and found["best"]["ok"]
    assert found["best"]["total_throughput_per_s"] == max(c["total_throughput_per_s"] for c in found["candidates"])
    impossible = bench.search_thread_split([onnx_path, onnx_path], [1e-6, 1e-6], total_threads=2, duration_s=0.2)
    assert impossible["best"] is None and not impossible["candidates"][0]["ok"]


def test_plots_draw_every_report(onnx_path):
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.bench import plots

    reports = [bench.benchmark(onnx_path, backend="onnxruntime"), bench.benchmark("lenet5-tanh", backend="pytorch")]
    ax = plots.latency_histogram(reports)
    assert len(ax.get_legend().get_texts()) == 2
    ax = plots.latency_cdf(reports)
    assert len(ax.get_lines()) == 2 + 4  # two CDFs, p50 and p99 markers each
    ax = plots.tradeoff_scatter([(reports[0], 0.976), (reports[1], 0.976)])
    assert len(ax.collections[0].get_offsets()) == 2
    ax = plots.energy_bars(reports)
    assert len(ax.patches) == 2
