"""Getting a model into the file format a backend runs: torch -> ONNX, Keras -> TFLite.

Also the facts a report records about a model: size on disk, parameters and MACs.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path

MODEL_SUFFIXES = (".onnx", ".tflite")
# which backends run which file format (the first is the default for that format)
FORMAT_BACKENDS = {"onnx": ("onnxruntime", "tensorrt"), "tflite": ("tflite",)}


def cache_dir() -> Path:
    """Where exported models are cached (``COURSE_LIB_BENCH_CACHE`` or the system temp dir)."""
    d = Path(os.environ.get("COURSE_LIB_BENCH_CACHE", Path(tempfile.gettempdir()) / "course_lib_bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def is_torch_module(obj) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(obj, torch.nn.Module)


def is_keras_model(obj) -> bool:
    return hasattr(obj, "layers") and hasattr(obj, "count_params") and not is_torch_module(obj)


def zoo_input_shape(name: str) -> tuple:
    """Input shape ``(1, C, H, W)`` of a zoo model, from the dataset it was trained on."""
    from course_lib import zoo

    dataset = zoo.dataset(name)
    shapes = {"mnist": (1, 1, 28, 28), "digits": (1, 1, 8, 8), "cifar10": (1, 3, 32, 32), "shapes3d": (1, 128, 3)}
    if dataset not in shapes:
        raise ValueError(f"no known input shape for zoo model {name!r} (dataset {dataset!r}); pass input_shape=")
    return shapes[dataset]


def torch_to_onnx(model, input_shape, path=None, opset: int = 17) -> Path:
    """Export a torch module to ONNX with a dynamic batch dimension; returns the file path.

    Uses the TorchScript exporter (``dynamo=False``): it takes 0.2 s on LeNet-5 where the dynamo
    exporter takes several seconds, and the graphs are equivalent for these CNNs.
    """
    import torch

    shape = tuple(int(d) for d in input_shape)
    if path is None:
        # the cache key is the weights' hash, so a cached file is this very model
        path = cache_dir() / f"{state_hash(model, shape)}.onnx"
        if path.exists():
            return path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model.cpu(), (torch.zeros(shape, dtype=dtype),), str(tmp), dynamo=False,
                              opset_version=opset, input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        os.replace(tmp, path)  # atomic: parallel exports of the same model never see half a file
    finally:
        model.train(was_training)
        tmp.unlink(missing_ok=True)
    return path


def keras_to_tflite(model, path=None) -> Path:
    """Convert a Keras model to a float32 TFLite flatbuffer; returns the file path."""
    import tensorflow as tf

    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    if path is None:
        path = cache_dir() / f"{hashlib.sha256(data).hexdigest()[:16]}.tflite"
    Path(path).write_bytes(data)
    return Path(path)


def state_hash(model, input_shape) -> str:
    """A short hash of a torch module's class, weights and input shape (the export cache key)."""
    import torch

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    h = hashlib.sha256(buf.getvalue())
    h.update(f"{type(model).__qualname__}{tuple(input_shape)}".encode())
    return h.hexdigest()[:16]


def sniff_format(data: bytes) -> str | None:
    """``"tflite"``, ``"onnx"`` or None from a file's bytes (never executes anything)."""
    if len(data) >= 8 and data[4:8] == b"TFL3":
        return "tflite"
    try:
        import onnx

        m = onnx.load_model_from_string(data)
        onnx.checker.check_model(m)
        return "onnx" if len(m.graph.node) > 0 else None
    except Exception:  # noqa: BLE001 - any parse failure means "not an ONNX model"
        return None


def onnx_external_data(data: bytes) -> list[str]:
    """The external data files an ONNX model's tensors reference (``data_location`` EXTERNAL),
    in the graph and in every subgraph; empty for a self-contained model."""
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - not an ONNX model at all: no external data either
        return []
    found: list[str] = []

    def tensors(graph):
        yield from graph.initializer
        yield from (s.values for s in graph.sparse_initializer)
        for node in graph.node:
            for attr in node.attribute:
                yield from ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
                for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    yield from tensors(sub)

    for t in tensors(model.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            where = {e.key: e.value for e in t.external_data}.get("location", "?")
            found.append(f"{t.name or '(unnamed)'} -> {where}")
    return found


def onnx_model_info(path) -> dict:
    """Size on disk, parameters (initializer elements) and MACs of Conv/Gemm/MatMul per sample."""
    import numpy as np
    import onnx

    model = onnx.load(str(path))
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    try:
        macs = onnx_macs(model)
    except Exception:  # noqa: BLE001 - MACs are informative; an odd graph must not stop a benchmark
        macs = None
    return {"file_bytes": os.path.getsize(path), "parameters": params, "macs": macs}


def onnx_macs(model) -> int:
    """MACs of Conv, Gemm and MatMul nodes for one sample.

    Shapes come from running the graph once on zeros with the inputs and outputs of those nodes
    exposed: static shape inference gives up on exporter graphs whose padding is computed at run
    time (LeNet-5's), running it never does.
    """
    import numpy as np
    import onnx

    from .backends.onnxruntime import session

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name: list(t.dims) for t in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    have = {o.name for o in m.graph.output}
    for name in dict.fromkeys(t for n in nodes for t in (n.input[0], n.input[1], n.output[0])):
        if name not in inits and name not in have:
            m.graph.output.append(onnx.ValueInfoProto(name=name))
    sess = session(m.SerializeToString(), graph_optimization="none")  # keep every node
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        feeds[i.name] = np.zeros(shape, dtype=np.float16 if "float16" in i.type else np.float32)
    names = [o.name for o in sess.get_outputs()]
    shapes = {**inits, **{n: list(v.shape) for n, v in zip(names, sess.run(names, feeds))}}
    total = 0
    for node in nodes:
        out = shapes[node.output[0]]
        if node.op_type == "Conv":
            total += int(np.prod(out)) * int(np.prod(shapes[node.input[1]][1:]))  # Cin/groups * kH * kW each
        else:
            trans_a = any(a.name == "transA" and a.i for a in node.attribute)
            a = shapes[node.input[0]]
            total += int(np.prod(out)) * int(a[-2] if trans_a else a[-1])
    return total


def tflite_model_info(path) -> dict:
    """Size on disk of a TFLite file (parameters and MACs are not read from the flatbuffer: None)."""
    return {"file_bytes": os.path.getsize(path), "parameters": None, "macs": None}


def torch_model_info(model, input_shape) -> dict:
    """Serialised size, parameters and MACs (per sample) via :func:`course_lib.profile`."""
    from course_lib import profile

    try:
        p = profile(model, (1, *tuple(input_shape)[1:]))
        return {"file_bytes": p.file_bytes, "parameters": p.params, "macs": p.macs}
    except Exception:  # noqa: BLE001 - exotic modules: still report what is cheap to know
        buf = io.BytesIO()
        import torch

        torch.save(model.state_dict(), buf)
        return {"file_bytes": buf.getbuffer().nbytes,
                "parameters": sum(p.numel() for p in model.parameters()), "macs": None}
