"""Energy meters on fake sysfs trees (RAPL wrap-around and permissions, Jetson rails, Pi 5 PMIC)."""
from pathlib import Path

import pytest

from course_lib import bench
from course_lib.bench import devices, energy


def _rapl(root: Path, zone: str, uj: int, rng: int = 2 ** 32, name: str = "package-0"):
    d = root / zone
    d.mkdir(parents=True, exist_ok=True)
    (d / "energy_uj").write_text(f"{uj}\n")
    (d / "max_energy_range_uj").write_text(f"{rng}\n")
    (d / "name").write_text(name)


def test_rapl_counts_packages_not_subzones_and_unwraps(tmp_path):
    _rapl(tmp_path, "intel-rapl:0", 1_000_000)
    _rapl(tmp_path, "intel-rapl:0:0", 500_000, name="core")  # part of package 0: must not be added
    src = energy.RaplCounter(str(tmp_path))
    src.check()
    assert src.name == "rapl:package-0"
    a = src.sample()
    _rapl(tmp_path, "intel-rapl:0", 3_500_000)
    _rapl(tmp_path, "intel-rapl:0:0", 9_000_000, name="core")
    assert src.joules_between(a, src.sample()) == pytest.approx(2.5)
    # wrap-around: the counter restarted past max_energy_range_uj
    assert energy.RaplCounter.joules_between([(2 ** 32 - 1_000_000, 2 ** 32)], [(500_000, 2 ** 32)]) == pytest.approx(1.5)


def test_rapl_absent_or_unreadable_says_why(tmp_path, monkeypatch):
    with pytest.raises(energy.Unreadable, match="no RAPL zones"):
        energy.RaplCounter(str(tmp_path / "nothing")).check()
    _rapl(tmp_path, "intel-rapl:0", 1)
    real = Path.read_text

    def deny(self, *a, **k):
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)
    monkeypatch.setattr(Path, "read_text", deny)
    with pytest.raises(energy.Unreadable, match="permission denied.*root-only"):
        energy.RaplCounter(str(tmp_path)).check()


def _rails(root: Path, rails: dict, chip: str = "1-0040"):
    d = root / chip / "hwmon" / "hwmon3"
    d.mkdir(parents=True)
    for i, (label, (mv, ma)) in enumerate(rails.items(), start=1):
        (d / f"in{i}_label").write_text(label + "\n")
        (d / f"in{i}_input").write_text(str(mv))
        (d / f"curr{i}_input").write_text(str(ma))


def test_jetson_orin_nano_uses_the_input_rail_alone(tmp_path):
    _rails(tmp_path, {"VDD_IN": (5000, 1200), "VDD_CPU_GPU_CV": (5000, 400), "VDD_SOC": (5000, 300)})
    src = energy.Ina3221Power(str(tmp_path))
    src.check()
    assert src.selected == ["VDD_IN"]
    assert src.watts() == pytest.approx(6.0)  # 5 V x 1.2 A; the sub-rails are inside it


def test_jetson_agx_orin_sums_its_disjoint_rails(tmp_path):
    _rails(tmp_path, {"VDD_GPU_SOC": (5000, 1000), "VDD_CPU_CV": (5000, 200), "VIN_SYS_5V0": (5000, 400)})
    _rails(tmp_path, {"NC": (0, 0), "VDDQ_VDD2_1V8AO": (5000, 100)}, chip="1-0041")
    src = energy.Ina3221Power(str(tmp_path))
    src.check()
    assert sorted(src.selected) == sorted(["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"])
    assert src.watts() == pytest.approx(8.5)


def test_rpi5_pmic_parse():
    text = """ 3V7_WL_SW_A current(0)=0.10000000A
 3V3_SYS_A current(1)=0.20000000A
 3V7_WL_SW_V volt(8)=3.70000000V
 3V3_SYS_V volt(9)=3.30000000V
 EXT5V_V volt(24)=5.10000000V"""
    assert energy.RPi5Pmic.parse(text) == pytest.approx(0.1 * 3.7 + 0.2 * 3.3)
    with pytest.raises(energy.Unreadable, match="not found"):
        energy.RPi5Pmic(command=("no-such-vcgencmd",)).check()


def test_integration_and_idle_subtraction():
    assert energy.integrate([(0.0, 2.0), (1.0, 4.0), (2.0, 4.0)]) == pytest.approx(7.0)
    rec = energy.measured(joules=12.0, seconds=2.0, idle_w=3.0, n_inferences=100, source="rapl:package-0")
    assert rec["joules_per_inference"] == pytest.approx(0.06) and rec["kind"] == "measured"


def test_power_sensor_meter_integrates_over_the_window(tmp_path):
    _rails(tmp_path, {"VDD_IN": (5000, 1000)})
    src = energy.Ina3221Power(str(tmp_path))
    src.check()
    meter = energy.EnergyMeter(src)
    meter.start()
    import time
    time.sleep(0.1)
    j, s = meter.stop()
    assert j == pytest.approx(5.0 * s, rel=0.05)


def test_no_meter_falls_back_to_a_labelled_estimate(tmp_path):
    meter, why = energy.find_meter(sources=[energy.RaplCounter(str(tmp_path)), energy.Ina3221Power(str(tmp_path))])
    assert meter is None and set(why) == {"RaplCounter", "Ina3221Power"}
    r = bench.benchmark("lenet5-tanh", backend="onnxruntime", device_profile="raspberry-pi-5")
    if r.energy["kind"] == "estimate":  # a machine with readable RAPL measures instead
        assert r.energy["source"].startswith("estimate: device profile 'raspberry-pi-5'")
        p = devices.PROFILES["raspberry-pi-5"]
        expected = (p.active_watts - p.idle_watts) * r.latency_ms["p50"] / 1e3
        assert r.energy["joules_per_inference"] == pytest.approx(expected)
        assert r.energy["unreadable_meters"]


def test_estimate_uses_the_median_latency_not_the_mean(monkeypatch):
    """One run slowed 1000x by another process moves the mean tenfold, not the estimate."""
    import numpy as np

    from course_lib.bench import harness

    trace = np.array([0.002] * 99 + [2.0])  # seconds per batch: p50 2 ms, mean ~22 ms
    monkeypatch.setattr(harness._energy, "find_meter", lambda cuda=False: (None, {"RaplCounter": "none here"}))
    monkeypatch.setattr(harness.measure, "run_steady_state", lambda step, rule: (trace, 3))
    r = bench.benchmark("lenet5-tanh", backend="onnxruntime", scenario="offline", batch_size=4,
                        device_profile="raspberry-pi-5")
    p = devices.PROFILES["raspberry-pi-5"]
    assert r.latency_ms["p50"] == pytest.approx(2.0) and r.latency_ms["mean"] > 10 * r.latency_ms["p50"]
    assert r.energy["kind"] == "estimate" and r.batch_size == 4
    assert r.energy["joules_per_inference"] == pytest.approx((p.active_watts - p.idle_watts) * 0.002 / 4)
    assert "median (p50) latency" in r.energy["source"]
