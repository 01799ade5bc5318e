"""TFLite conversion modes and the LiteRT-first interpreter (course_lib.tflite)."""
from __future__ import annotations

import numpy as np
import pytest

from course_lib import datasets, models, tflite, zoo
from course_lib.quantization import keras_from_torch


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("tfl")
    keras_model = keras_from_torch(zoo.load("lenet5-relu"), models.keras_lenet5("relu"))
    x, y = datasets.load("mnist", "val")
    x = datasets.to_channels_last(x[:300])
    paths = {m: tflite.convert(keras_model, out / f"{m}.tflite", m, x[:100] if m == "int8" else None)
             for m in tflite.MODES}
    return keras_model, paths, x, y[:300]


def test_each_mode_shrinks_as_expected_and_keeps_accuracy(converted):
    keras_model, paths, x, y = converted
    size = {m: tflite.file_bytes(p) for m, p in paths.items()}
    assert size["float32"] > 4 * 61706
    assert size["float32"] / size["dynamic"] > 3.0
    assert 1.7 < size["float32"] / size["float16"] < 2.1
    assert size["float32"] / size["int8"] > 3.0
    reference = np.asarray(keras_model(x)).argmax(1)
    for mode, path in paths.items():
        agree = (tflite.predict(path, x).argmax(1) == reference).mean()
        assert agree >= 0.98, f"{mode}: only {agree:.3f} of predictions agree with Keras"


def test_ops_and_dtypes_say_what_the_file_holds(converted):
    _, paths, _, _ = converted
    float_ops = tflite.ops(paths["float32"])
    assert float_ops.count("CONV_2D") == 3 and "FULLY_CONNECTED" in float_ops
    assert "DEQUANTIZE" in tflite.ops(paths["float16"])  # float16 weights are expanded at load
    assert tflite.tensor_dtypes(paths["float16"]).get("float16", 0) >= 5
    # dynamic range quantizes only weights of >= 1,024 values: conv2, conv3, fc1 (not conv1, fc2)
    assert tflite.tensor_dtypes(paths["dynamic"]).get("int8", 0) == 3
    int8 = tflite.tensor_dtypes(paths["int8"])
    assert int8.get("float32", 0) == 0 and int8["int8"] > 10
    assert tflite.gzip_bytes(paths["float32"]) < tflite.file_bytes(paths["float32"])


def test_bad_arguments_say_what_to_do(converted, tmp_path):
    keras_model = converted[0]
    with pytest.raises(ValueError, match="mode must be one of"):
        tflite.convert(keras_model, tmp_path / "a.tflite", "int4")
    with pytest.raises(ValueError, match="needs calibration_x"):
        tflite.convert(keras_model, tmp_path / "a.tflite", "int8")
    with pytest.raises(ValueError, match="uses no calibration data"):
        tflite.convert(keras_model, tmp_path / "a.tflite", "dynamic", np.zeros((2, 28, 28, 1)))
    with pytest.raises(FileNotFoundError, match="no TFLite file"):
        tflite.interpreter(tmp_path / "missing.tflite")
    assert not (tmp_path / "a.tflite").exists()


def test_runtime_is_named():
    _, name = tflite.runtime()
    assert name.startswith(("ai_edge_litert", "tensorflow.lite"))
