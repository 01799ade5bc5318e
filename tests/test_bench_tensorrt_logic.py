"""The TensorRT backend's own logic (flags, DLA placement report, fallback warning) against a
*fake* ``tensorrt`` module that mimics the few API calls it makes. This checks the harness's
decisions, not TensorRT itself: that runs only where TensorRT and a GPU exist."""
import sys
import types

import pytest

from course_lib.bench.backends import onnxruntime as ort_backend


def _fake_tensorrt(dla_layers: set, num_dla: int = 2):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.fake"

    class Enum:
        def __init__(self, *names):
            for n in names:
                setattr(self, n, f"{n}")
    trt.Logger = type("Logger", (), {"WARNING": 2, "ERROR": 1, "__init__": lambda self, level=0: None})
    trt.MemoryPoolType = Enum("WORKSPACE")
    trt.ProfilingVerbosity = Enum("DETAILED")
    trt.BuilderFlag = Enum("FP16", "INT8", "GPU_FALLBACK")
    trt.DeviceType = Enum("GPU", "DLA")
    trt.NetworkDefinitionCreationFlag = Enum()  # TensorRT 10: no EXPLICIT_BATCH

    class Layer:
        def __init__(self, name, kind):
            self.name, self.type = name, f"LayerType.{kind}"

    class Tensor:
        name, shape = "input", (1, 1, 28, 28)

    class Network:
        layers = [Layer("conv1", "CONVOLUTION"), Layer("tanh1", "ACTIVATION"), Layer("pad", "SLICE"),
                  Layer("fc1", "MATRIX_MULTIPLY")]
        num_layers = len(layers)

        def get_layer(self, i):
            return self.layers[i]

        def get_input(self, i):
            return Tensor()

    class Config:
        def __init__(self):
            self.flags, self.default_device_type, self.DLA_core, self.int8_calibrator = set(), trt.DeviceType.GPU, -1, None

        def set_memory_pool_limit(self, pool, size):
            self.workspace = size

        def set_flag(self, flag):
            self.flags.add(flag)

        def can_run_on_DLA(self, layer):
            return layer.name in dla_layers

    class Builder:
        num_DLA_cores = num_dla

        def __init__(self, logger):
            pass

        def create_network(self, flags):
            assert flags == 0
            return Network()

        def create_builder_config(self):
            self.config = Config()
            return self.config

        def build_serialized_network(self, network, config):
            trt.last_config = config
            return b"engine"

    class Parser:
        num_errors = 0

        def __init__(self, network, logger):
            pass

        def parse(self, data):
            return data.startswith(b"fake-onnx")

        def get_error(self, i):
            return "bad graph"
    trt.Builder, trt.OnnxParser = Builder, Parser
    return trt


@pytest.fixture
def fake_trt(monkeypatch):
    def install(dla_layers):
        trt = _fake_tensorrt(dla_layers)
        monkeypatch.setitem(sys.modules, "tensorrt", trt)
        return trt
    return install


def test_dla_build_reports_placement_and_warns_on_gpu_fallback(fake_trt, tmp_path):
    from course_lib.bench.backends import tensorrt as backend

    trt = fake_trt({"conv1", "tanh1", "fc1"})
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"fake-onnx")
    engine, placement, warnings = backend.build_engine(onnx, precision="fp16", dla_core=1)
    assert engine == b"engine"
    assert [(r["layer"], r["device"]) for r in placement] == [("conv1", "DLA"), ("tanh1", "DLA"), ("pad", "GPU"),
                                                             ("fc1", "DLA")]
    assert len(warnings) == 1 and "1 of 4 layers cannot run on DLA core 1" in warnings[0] and "pad" in warnings[0]
    cfg = trt.last_config
    assert cfg.default_device_type == "DLA" and cfg.DLA_core == 1
    assert {"FP16", "GPU_FALLBACK"} <= cfg.flags


def test_gpu_build_sets_precision_flags_and_no_fallback_warning(fake_trt, tmp_path):
    from course_lib.bench.backends import tensorrt as backend

    trt = fake_trt(set())
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"fake-onnx")
    _, placement, warnings = backend.build_engine(onnx, precision="fp16")
    assert all(r["device"] == "GPU" for r in placement) and warnings == []
    assert trt.last_config.flags == {"FP16"}
    with pytest.raises(ValueError, match="DLA runs only FP16 or INT8"):
        backend.build_engine(onnx, precision="fp32", dla_core=0)
    with pytest.raises(ValueError, match="precision"):
        backend.build_engine(onnx, precision="fp4")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="could not parse"):
        backend.build_engine(bad)


def test_onnxruntime_provider_lists():
    assert ort_backend._provider_list("cpu", False, 0) == ["CPUExecutionProvider"]
    cuda = ort_backend._provider_list("cuda", False, 1)
    assert cuda[0] == ("CUDAExecutionProvider", {"device_id": 1}) and cuda[-1] == "CPUExecutionProvider"
    trt = ort_backend._provider_list("tensorrt", True, 0)
    assert trt[0][0] == "TensorrtExecutionProvider" and trt[0][1]["trt_fp16_enable"] is True
    assert [p if isinstance(p, str) else p[0] for p in trt] == ["TensorrtExecutionProvider", "CUDAExecutionProvider",
                                                               "CPUExecutionProvider"]
