"""Device profiles and the roofline estimator."""
import pytest

from course_lib.bench import devices


def test_profiles_cover_the_course_devices():
    assert {"jetson-orin-nano", "jetson-orin-nx", "jetson-agx-orin", "raspberry-pi-4", "raspberry-pi-5"} <= set(devices.PROFILES)
    assert devices.PROFILES["jetson-agx-orin"].dla_cores == 2 and devices.PROFILES["jetson-orin-nano"].dla_cores == 0
    assert "7W" in devices.PROFILES["jetson-orin-nano"].power_modes


def test_estimate_is_a_per_layer_roofline():
    est = devices.estimate("lenet5-tanh", "jetson-orin-nano")
    prof = devices.PROFILES["jetson-orin-nano"]
    assert "ESTIMATE" in est.note and "ESTIMATE" in est.table()
    by_name = {r["layer"]: r for r in est.layers}
    conv2 = by_name["conv2"]
    assert conv2["macs"] == 240_000
    assert conv2["compute_s"] == pytest.approx(2 * 240_000 / (prof.peak_gflops["fp32"] * 1e9))
    assert conv2["latency_s"] == max(conv2["compute_s"], conv2["memory_s"])
    assert est.latency_ms == pytest.approx(1e3 * sum(r["latency_s"] for r in est.layers))
    assert sum(r["macs"] for r in est.layers) == 416_520


def test_estimate_responds_to_precision_power_mode_and_device():
    fp32 = devices.estimate("lenet5-tanh", "jetson-orin-nano", precision="fp32")
    int8 = devices.estimate("lenet5-tanh", "jetson-orin-nano", precision="int8")
    assert int8.latency_ms < fp32.latency_ms and int8.energy_mj < fp32.energy_mj
    slow = devices.estimate("lenet5-tanh", "jetson-orin-nano@7W")
    assert slow.latency_ms >= fp32.latency_ms
    pi4 = devices.estimate("lenet5-tanh", "raspberry-pi-4")
    assert pi4.latency_ms > fp32.latency_ms


def test_estimate_bad_arguments():
    with pytest.raises(ValueError, match="unknown device"):
        devices.estimate("lenet5-tanh", "jetson-tx9")
    with pytest.raises(ValueError, match="power modes"):
        devices.get("jetson-orin-nano@99W")
    with pytest.raises(ValueError, match="precision"):
        devices.estimate("lenet5-tanh", "raspberry-pi-5", precision="fp8")


def test_local_profile_is_measured():
    p = devices.local_profile(0.05)
    assert p.peak_gflops["fp32"] > 0.1 and p.memory_bandwidth_gbs > 0.1
    assert "assumed" in p.source


def test_roofline_intensity_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib import models, profile
    from course_lib.bench import devices, plots

    lenet = profile(models.LeNet5(), (1, 28, 28))
    x = devices.intensity(lenet)
    moved = sum(r.param_bytes for r in lenet.layers) + 4 * 28 * 28 + lenet.activation_bytes
    assert x == pytest.approx(2 * lenet.macs / moved)
    assert devices.intensity(lenet, "int8") == pytest.approx(4 * x)
    pi = devices.PROFILES["raspberry-pi-5"]
    assert devices.attainable_gflops(pi, 0.1) == pytest.approx(0.1 * pi.memory_bandwidth_gbs)
    assert devices.attainable_gflops(pi, 1e4) == pi.peak_gflops["fp32"]
    ax = plots.roofline(["raspberry-pi-5", "jetson-orin-nano"], {"LeNet-5": lenet})
    labels = ax.get_legend_handles_labels()[1]
    assert all("ESTIMATE" in l for l in labels) and "153.6" not in labels[0] and "154 GFLOP/s" in labels[0]
    with pytest.raises(ValueError, match="at least one model"):
        plots.roofline(["raspberry-pi-5"], {})
