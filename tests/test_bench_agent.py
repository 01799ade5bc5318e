"""The hardware-in-the-loop agent end to end on 127.0.0.1, and as a search evaluator."""
import pickle
import threading

import pytest

from course_lib import zoo
from course_lib.bench import export
from course_lib.bench.agent import RemoteDevice, RemoteError, make_server

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def agent():
    server = make_server(TOKEN, "127.0.0.1", 0, max_bytes=8 * 2 ** 20, job_timeout_s=60)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("agent")
    # untrained architectures of different cost: weights do not change latency
    return [export.torch_to_onnx(zoo.build(n), (1, 1, 28, 28), d / f"{n}.onnx")
            for n in ("lenet5-tanh", "cnn-student-mnist", "cnn-teacher-mnist")]


def test_binds_loopback_by_default(agent):
    url, server = agent
    assert server.server_address[0] == "127.0.0.1"
    assert RemoteDevice(url, TOKEN).health()["ok"] is True


def test_good_request_then_cached(agent, onnx_files):
    url, server = agent
    remote = RemoteDevice(url, TOKEN, threads=1)
    report = remote.benchmark(onnx_files[0])
    assert report["backend"] == "onnxruntime" and report["latency_ms"]["p50"] > 0
    assert report["options"]["intra_op_num_threads"] == 1 and report["cached"] is False
    runs = server.agent.jobs_run
    again = remote.benchmark(onnx_files[0])
    assert again["cached"] is True and again["latency_ms"] == report["latency_ms"]
    assert server.agent.jobs_run == runs  # served from the cache, no new job


def test_wrong_or_missing_token_is_401(agent, onnx_files):
    url, _ = agent
    for token in ("wrong-token-0123456789", ""):
        with pytest.raises(RemoteError) as e:
            RemoteDevice(url, token).benchmark(onnx_files[0])
        assert e.value.status == 401
    with pytest.raises(RemoteError) as e:
        RemoteDevice(url, "nope-nope-nope").info()
    assert e.value.status == 401


def test_oversized_file_is_413(agent):
    url, _ = agent
    with pytest.raises(RemoteError, match="at most") as e:
        RemoteDevice(url, TOKEN).benchmark(b"\0" * (9 * 2 ** 20))
    assert e.value.status == 413


def test_pickles_and_other_non_models_are_415(agent):
    url, _ = agent

    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))
    for body in (pickle.dumps(Evil()), b"import os; os.system('true')", b"\0" * 64):
        with pytest.raises(RemoteError) as e:
            RemoteDevice(url, TOKEN).benchmark(body)
        assert e.value.status == 415


def test_bad_options_are_400(agent, onnx_files):
    url, _ = agent
    with pytest.raises(ValueError, match="unknown option"):
        RemoteDevice(url, TOKEN, pickle_path="x")
    with pytest.raises(RemoteError) as e:
        RemoteDevice(url, TOKEN, backend="tflite").benchmark(onnx_files[0])
    assert e.value.status == 400 and "onnxruntime" in str(e.value)
    with pytest.raises(RemoteError) as e:
        RemoteDevice(url, TOKEN, threads="many").benchmark(onnx_files[0])
    assert e.value.status == 400


def test_long_job_times_out_504(agent, onnx_files):
    url, _ = agent
    remote = RemoteDevice(url, TOKEN, timeout_s=30)
    with pytest.raises(RemoteError) as e:
        remote.benchmark(onnx_files[1], timeout_s=1.0, min_duration_s=30, max_duration_s=30, target_rel_iqr=0)
    assert e.value.status == 504
    # the agent is still serving afterwards
    assert remote.health()["ok"]


def test_remote_device_as_a_search_evaluator(agent, onnx_files):
    """A search over three candidate models whose fitness is latency measured by the agent."""
    search = pytest.importorskip("course_lib.search")
    url, _ = agent
    remote = RemoteDevice(url, TOKEN, threads=1)

    def problem(genes):
        return remote(onnx_files[genes[0]])

    objective = search.Objective("latency_ms", minimize=True)
    results = [problem([i]) for i in range(len(onnx_files))]
    assert all(r["latency_ms"] > 0 for r in results) and len({r["model_sha256"] for r in results}) == 3
    scores = [objective.score(r) for r in results]
    best = max(range(len(scores)), key=scores.__getitem__)
    assert results[best]["latency_ms"] == min(r["latency_ms"] for r in results)
    assert remote.latency_ms(onnx_files[best]) == results[best]["latency_ms"]  # cached, same figure


def test_idle_connection_is_closed_after_the_idle_timeout():
    import socket
    import time

    server = make_server(TOKEN, "127.0.0.1", 0, idle_timeout_s=0.5)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=10) as s:
            t0 = time.perf_counter()
            s.sendall(b"POST /benchmark HTTP/1.1\r\n")  # then nothing: a slow or idle client
            assert s.recv(1024) == b""  # the server hung up
            assert time.perf_counter() - t0 < 5
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ValueError, match="idle_timeout_s must be positive"):
        make_server(TOKEN, "127.0.0.1", 0, idle_timeout_s=0)


def test_onnx_with_external_data_is_refused_422(agent, onnx_files, tmp_path):
    onnx = pytest.importorskip("onnx")
    url, server = agent
    model = onnx.load(str(onnx_files[0]))
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    # every initializer now points at a file beside the model, which the agent must never open
    for t in onnx.load(str(tmp_path / "ext.onnx"), load_external_data=False).graph.initializer:
        assert t.data_location == onnx.TensorProto.EXTERNAL
    assert export.onnx_external_data(onnx_files[0].read_bytes()) == []
    assert export.onnx_external_data((tmp_path / "ext.onnx").read_bytes())
    jobs = server.agent.jobs_run
    with pytest.raises(RemoteError) as e:
        RemoteDevice(url, TOKEN).benchmark((tmp_path / "ext.onnx").read_bytes())
    assert e.value.status == 422 and "external data" in str(e.value) and "weights.bin" in str(e.value)
    assert server.agent.jobs_run == jobs  # refused before any job ran


def test_result_cache_keeps_the_most_recently_used_reports():
    from course_lib.bench.agent import Agent

    a = Agent(TOKEN, max_cached_results=2)
    for key in ("a", "b"):
        a._remember(key, {"k": key})
    assert a._recall("a") == {"k": "a"}  # "a" used again: "b" is now the oldest
    a._remember("c", {"k": "c"})
    assert list(a.cache) == ["a", "c"] and a._recall("b") is None
    with pytest.raises(ValueError, match="max_cached_results >= 0"):
        Agent(TOKEN, max_cached_results=-1)
