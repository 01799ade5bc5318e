import numpy as np
import pytest
import torch

from course_lib import models, profile


def weight_sizes(model):
    return [m.weight.numel() for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


@pytest.mark.parametrize("act,cls", [("tanh", torch.nn.Tanh), ("relu", torch.nn.ReLU)])
def test_lenet5_matches_the_spec(act, cls):
    m = models.LeNet5(act)
    assert weight_sizes(m) == [150, 2400, 48000, 10080, 840]
    assert sum(p.numel() for p in m.parameters()) == 61706
    assert sum(isinstance(x, cls) for x in m.modules()) == 4
    assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_lenet5_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        models.LeNet5("sigmoid")


def test_small_cnn_mobilenet_teacher_student_shapes():
    x = torch.zeros(2, 3, 32, 32)
    assert models.small_cnn()(x).shape == (2, 10)
    m_full, m_half = models.mobilenet_v2(1.0), models.mobilenet_v2(0.5)
    assert m_half(x).shape == (2, 10)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(m_half) < 0.5 * n(m_full)
    teacher, student = models.teacher_student()
    xm = torch.zeros(2, 1, 28, 28)
    assert teacher(xm).shape == student(xm).shape == (2, 10)
    assert n(teacher) > 30 * n(student)


def test_keras_twins_match_pytorch_parameter_counts():
    km = models.keras_lenet5("relu")
    assert km.count_params() == 61706
    assert [l.name for l in km.layers if l.weights] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    out = km(np.zeros((2, 28, 28, 1), np.float32))
    assert tuple(out.shape) == (2, 10)
    kc = models.keras_small_cnn()
    pt = models.small_cnn()
    # BatchNorm moving statistics are weights in Keras and buffers in PyTorch: compare trainables
    trainable = sum(int(np.prod(w.shape)) for w in kc.trainable_weights)
    assert trainable == sum(p.numel() for p in pt.parameters())


def test_profile_lenet_torch_and_keras_agree():
    pt = profile(models.LeNet5("tanh"), (1, 28, 28))
    ke = profile(models.keras_lenet5("tanh"), (28, 28, 1))
    assert pt.params == ke.params == 61706
    # conv1: 28*28*6 outputs x 25 MACs; conv2: 10*10*16 x 150; conv3: 120 x 400; fc: 10080 + 840
    assert pt.macs == ke.macs == 117600 + 240000 + 48000 + 10080 + 840
    conv1 = next(r for r in pt.layers if r.name == "conv1")
    assert conv1.output_shape == (6, 28, 28) and conv1.activation_bytes == 6 * 28 * 28 * 4
    assert pt.file_bytes > 4 * 61706  # serialised float32 weights plus a header
    assert "total" in pt.table() and "61,706" in pt.table()
    assert pt.to_dict()["totals"]["macs"] == pt.macs


def test_profile_depthwise_groups_are_counted():
    m = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, groups=8, bias=False))
    assert profile(m, (8, 10, 10)).macs == 8 * 8 * 8 * 9


def test_profile_bad_input():
    with pytest.raises(ValueError, match="one sample"):
        profile(models.LeNet5(), (4, 1, 28, 28))
    with pytest.raises(TypeError, match="torch.nn.Module or a Keras model"):
        profile(object(), (1, 28, 28))
    with pytest.raises(ValueError, match="no parameters"):
        profile(torch.nn.ReLU(), (1, 4, 4))
