"""ONNX Runtime adapters of course_lib.quantization: static quantization prints nothing, dynamic
quantization writes a smaller model of the same accuracy with run-time activation ranges."""
from __future__ import annotations

from collections import Counter

import onnx

from course_lib import datasets, zoo
from course_lib import quantization as Q


def test_static_is_quiet_and_dynamic_quantizes_at_run_time(tmp_path, capsys):
    x_train, _ = datasets.load("mnist", "train")
    x_val, y_val = datasets.load("mnist", "val")
    fp32 = Q.export_onnx(zoo.load("lenet5-relu"), tmp_path / "lenet5.onnx", input_shape=(1, 1, 28, 28))
    capsys.readouterr()
    Q.ort_quantize_static(fp32, tmp_path / "static.onnx", x_train[:50], method="kl")
    dynamic = Q.ort_quantize_dynamic(fp32, tmp_path / "dynamic.onnx")
    printed = capsys.readouterr()
    assert "Collecting tensor" not in printed.out + printed.err and "pre-processing" not in printed.out + printed.err
    ops = Counter(n.op_type for n in onnx.load(str(dynamic)).graph.node)
    assert ops["DynamicQuantizeLinear"] > 0 and ops["QuantizeLinear"] == 0  # ranges measured per input, no calibration
    assert Q.file_size_kb(fp32) / Q.file_size_kb(dynamic) >= 3
    assert Q.onnx_accuracy(fp32, x_val, y_val) - Q.onnx_accuracy(dynamic, x_val, y_val) <= 0.01
    assert not (tmp_path / "dynamic.pre.onnx").exists(), "the pre-processed copy is removed"
