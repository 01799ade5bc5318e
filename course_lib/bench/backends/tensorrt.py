"""Native TensorRT: build an engine from ONNX (FP16 / INT8 calibration, optional DLA core with
GPU fallback), report where each layer runs, and time ``execute_async_v3`` with CUDA events.

Written against the TensorRT 8.6-10.x Python API (``tensorrt``); device buffers come from
PyTorch CUDA tensors, so no pycuda is needed. Not runnable without an NVIDIA GPU.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .base import BackendUnavailable, Session, random_input, reject_unknown

NAME = "tensorrt"
INSTALL_HINT = ("pip install tensorrt  (x86 + NVIDIA GPU); on a Jetson it ships with JetPack "
                "(python3-libnvinfer); PyTorch with CUDA is needed for the device buffers")
OPTIONS = {"precision", "dla_core", "calibration_data", "workspace_mb", "device_id"}


def import_runtime() -> None:
    import tensorrt  # noqa: F401


def check(dla_core=None, **_) -> str | None:
    try:
        import tensorrt as trt
    except ImportError as e:
        return f"tensorrt is not importable ({e})"
    try:
        import torch
    except ImportError:
        return "PyTorch is needed for CUDA buffers and is not importable"
    if not torch.cuda.is_available():
        return "no CUDA device visible (torch.cuda.is_available() is False)"
    if dla_core is not None:
        n = trt.Builder(trt.Logger(trt.Logger.ERROR)).num_DLA_cores
        if n == 0:
            return "this GPU has no DLA cores (DLA exists on Jetson AGX/NX Orin and Xavier)"
        if not 0 <= int(dla_core) < n:
            return f"dla_core={dla_core} but the device has {n} DLA core(s): use 0..{n - 1}"
    return None


class _EntropyCalibrator:
    """INT8 calibration from a numpy array ``(N, C, H, W)`` fed in batches (entropy method 2)."""

    def __new__(cls, data, batch_size, cache_file):
        import tensorrt as trt
        import torch

        class Calibrator(trt.IInt8EntropyCalibrator2):
            def __init__(self):
                super().__init__()
                self.data, self.batch, self.i, self.cache = data, batch_size, 0, Path(cache_file)
                self.device_batch = torch.empty((batch_size, *data.shape[1:]), dtype=torch.float32, device="cuda")

            def get_batch_size(self):
                return self.batch

            def get_batch(self, names):
                if self.i + self.batch > len(self.data):
                    return None
                self.device_batch.copy_(torch.from_numpy(self.data[self.i:self.i + self.batch]))
                self.i += self.batch
                return [int(self.device_batch.data_ptr())]

            def read_calibration_cache(self):
                return self.cache.read_bytes() if self.cache.exists() else None

            def write_calibration_cache(self, cache):
                self.cache.write_bytes(bytes(cache))
        return Calibrator()


def placement_report(network, config) -> list[dict]:
    """Per layer: name, type, whether it can run on the DLA and where the builder will put it."""
    import tensorrt as trt

    rows = []
    dla_wanted = config.default_device_type == trt.DeviceType.DLA
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        can_dla = bool(config.can_run_on_DLA(layer)) if dla_wanted else False
        device = "DLA" if (dla_wanted and can_dla) else "GPU"
        rows.append({"layer": layer.name, "type": str(layer.type).split(".")[-1], "can_run_on_dla": can_dla,
                     "device": device})
    return rows


def build_engine(onnx_path, *, precision: str = "fp16", dla_core=None, calibration_data=None,
                 workspace_mb: int = 1024, batch_size: int = 1):
    """``(serialized engine bytes, placement rows, warnings)`` for an ONNX file."""
    import tensorrt as trt

    if precision not in ("fp32", "fp16", "int8"):
        raise ValueError(f"precision must be 'fp32', 'fp16' or 'int8', got {precision!r}")
    if dla_core is not None and precision == "fp32":
        raise ValueError("the DLA runs only FP16 or INT8: use precision='fp16' or 'int8' with dla_core")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # required before TRT 10, gone after
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    warnings = []
    inp = network.get_input(0)
    if any(d < 0 for d in inp.shape):  # dynamic batch: one optimisation profile at batch_size
        shape = tuple(batch_size if d < 0 else d for d in inp.shape)
        profile = builder.create_optimization_profile()
        profile.set_shape(inp.name, shape, shape, shape)
        config.add_optimization_profile(profile)
    if precision in ("fp16", "int8"):
        if hasattr(trt.BuilderFlag, "FP16"):
            config.set_flag(trt.BuilderFlag.FP16)
        else:
            warnings.append("this TensorRT has no FP16 builder flag (strongly typed networks): "
                            "export the ONNX model in fp16 instead")
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        if calibration_data is None:
            shape = tuple(batch_size if d < 0 else d for d in inp.shape)
            calibration_data = random_input((8 * shape[0], *shape[1:]), seed=1)
            warnings.append("INT8 calibrated on random inputs: pass calibration_data= (real samples) "
                            "or the scales, and the accuracy, are meaningless")
        digest = hashlib.sha256(Path(onnx_path).read_bytes() + calibration_data.tobytes()).hexdigest()[:16]
        from ..export import cache_dir

        config.int8_calibrator = _EntropyCalibrator(calibration_data.astype("float32"), batch_size,
                                                    cache_dir() / f"{digest}.calib")
    if dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    placement = placement_report(network, config)
    if dla_core is not None:
        fell_back = [r["layer"] for r in placement if r["device"] == "GPU"]
        if fell_back:
            warnings.append(f"{len(fell_back)} of {len(placement)} layers cannot run on DLA core {dla_core} "
                            f"and fall back to the GPU (each switch costs a copy): {', '.join(fell_back[:8])}"
                            + (" ..." if len(fell_back) > 8 else ""))
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise RuntimeError(f"TensorRT failed to build an engine for {onnx_path} (see the log above)")
    return bytes(engine), placement, warnings


def load(path, input_shape=None, *, threads=None, precision: str = "fp16", dla_core=None,
         calibration_data=None, workspace_mb: int = 1024, device_id: int = 0, batch_size: int = 1,
         **options) -> Session:
    """Build (or take from the cache) an engine for ``path`` (``.onnx``) and time it."""
    reject_unknown(NAME, options, OPTIONS)
    reason = check(dla_core)
    if reason:
        raise BackendUnavailable(NAME, reason, INSTALL_HINT)
    import tensorrt as trt
    import torch

    if input_shape is not None:
        batch_size = int(input_shape[0])
    torch.cuda.set_device(device_id)
    serialized, placement, warnings = build_engine(path, precision=precision, dla_core=dla_core,
                                                   calibration_data=calibration_data,
                                                   workspace_mb=workspace_mb, batch_size=batch_size)
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    if dla_core is not None:
        runtime.DLA_core = int(dla_core)
    engine = runtime.deserialize_cuda_engine(serialized)
    context = engine.create_execution_context()
    buffers, in_shape = {}, None
    to_torch = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int8: torch.int8, trt.int32: torch.int32}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        shape = tuple(engine.get_tensor_shape(name))
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
            shape = tuple(batch_size if d < 0 else d for d in shape)
            context.set_input_shape(name, shape)
            in_shape = shape
            buffers[name] = torch.from_numpy(random_input(shape)).to("cuda", to_torch[engine.get_tensor_dtype(name)])
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if name not in buffers:
            shape = tuple(context.get_tensor_shape(name))
            buffers[name] = torch.empty(shape, dtype=to_torch[engine.get_tensor_dtype(name)], device="cuda")
        context.set_tensor_address(name, buffers[name].data_ptr())
    stream = torch.cuda.Stream()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def step():
        context.execute_async_v3(stream.cuda_stream)
        stream.synchronize()

    def timed_step() -> float:
        start.record(stream)
        context.execute_async_v3(stream.cuda_stream)
        end.record(stream)
        end.synchronize()
        return start.elapsed_time(end) / 1e3

    layers_json = None
    try:
        inspector = engine.create_engine_inspector()
        layers_json = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
    except AttributeError:
        pass
    recorded = {"precision": precision, "dla_core": dla_core, "tensorrt": trt.__version__,
                "gpu": torch.cuda.get_device_name(device_id), "timer": "cuda-events",
                "engine_bytes": len(serialized)}
    return Session(step=step, timed_step=timed_step, options=recorded, input_shape=in_shape, cuda=True,
                   warnings=warnings, extra={"placement": placement, "engine_layers_json": layers_json})


def devices() -> list[str]:
    if check() is not None:
        return []
    import tensorrt as trt

    n = trt.Builder(trt.Logger(trt.Logger.ERROR)).num_DLA_cores
    return ["gpu"] + [f"dla:{i}" for i in range(n)]
