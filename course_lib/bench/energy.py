"""Joules per inference, with the source named.

Two kinds of meters:

- *counters* (Intel/AMD RAPL via powercap, NVML total energy) are read before and after the
  measured run; the difference is the energy (RAPL wraps around: handled per zone).
- *power sensors* (Jetson INA3221 rails, Raspberry Pi 5 PMIC) are sampled by a background
  thread during the run and integrated (trapezoid rule).

From both, an idle baseline (watts measured while nothing runs) times the window is subtracted,
so the figure is the energy the inferences *added*. Where no meter is readable, the report
carries an estimate from a device profile, labelled ``"estimate: ..."``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

POWERCAP = "/sys/class/powercap"
INA3221 = "/sys/bus/i2c/drivers/ina3221"
# A module's input rail already contains its sub-rails (VDD_IN = CPU_GPU_CV + SOC + the rest on
# Orin Nano/NX; POM_5V_IN likewise on Xavier/Nano): when one is present it is the total alone.
INPUT_RAILS = ("VDD_IN", "POM_5V_IN")
# AGX Orin has no input rail on its INA3221s; these four are disjoint supplies and are summed.
AGX_ORIN_RAILS = ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO")


class Unreadable(OSError):
    """The meter exists in principle but cannot be read here; the message says why."""


# --- counters --------------------------------------------------------------------------------

class RaplCounter:
    """Package-level RAPL zones (``intel-rapl:N``; AMD exposes the same names) via powercap.

    Sub-zones (``intel-rapl:N:M``: core, uncore, dram) are parts of their package and are not
    added, so nothing is counted twice. RAPL measures the whole socket, other processes included.
    """
    kind = "counter"

    def __init__(self, root: str = POWERCAP):
        self.root = Path(root)
        self.name = "rapl"

    def zones(self) -> list[Path]:
        return sorted(p for p in self.root.glob("intel-rapl:*") if re.fullmatch(r"intel-rapl:\d+", p.name))

    def check(self) -> None:
        zones = self.zones()
        if not zones:
            raise Unreadable(f"no RAPL zones under {self.root} (not an x86 host, a VM without RAPL, "
                             "or the intel_rapl/powercap driver is not loaded)")
        for z in zones:
            try:
                int((z / "energy_uj").read_text())
            except PermissionError:
                raise Unreadable(f"permission denied reading {z / 'energy_uj'}: root-only since the "
                                 "PLATYPUS fix (CVE-2020-8694); run `sudo chmod a+r "
                                 f"{self.root}/intel-rapl:*/energy_uj` or benchmark as root") from None
            except (OSError, ValueError) as e:
                raise Unreadable(f"cannot read {z / 'energy_uj'}: {e}") from None
        names = [(_read(z / "name") or z.name) for z in zones]
        self.name = "rapl:" + "+".join(names)

    def sample(self) -> list[tuple[int, int]]:
        """``[(energy_uj, max_energy_range_uj)]`` per package zone."""
        return [(int((z / "energy_uj").read_text()), int(_read(z / "max_energy_range_uj") or 0)) for z in self.zones()]

    @staticmethod
    def joules_between(a, b) -> float:
        """Energy between two samples; a counter that wrapped past its range is unwrapped."""
        total = 0
        for (ea, rng), (eb, _) in zip(a, b):
            d = eb - ea
            if d < 0:
                if rng <= 0:
                    raise Unreadable("RAPL counter went backwards and max_energy_range_uj is unknown")
                d += rng
            total += d
        return total / 1e6


class NvmlCounter:
    """NVML ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since driver load; Volta and newer)."""
    kind = "counter"

    def __init__(self, index: int = 0):
        self.index = index
        self.name = f"nvml:gpu{index}"
        self._handle = None

    def check(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise Unreadable("pynvml is not installed (pip install nvidia-ml-py)") from None
        try:
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)
            self.name = f"nvml:{pynvml.nvmlDeviceGetName(self._handle)}"
        except pynvml.NVMLError as e:
            raise Unreadable(f"NVML energy counter not readable: {e}") from None

    def sample(self) -> int:
        import pynvml

        return int(pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    @staticmethod
    def joules_between(a, b) -> float:
        return (b - a) / 1e3


# --- power sensors ---------------------------------------------------------------------------

class Ina3221Power:
    """Jetson INA3221 rails from hwmon sysfs (``inN_label``, ``inN_input`` mV, ``currN_input`` mA)."""
    kind = "power"

    def __init__(self, root: str = INA3221):
        self.root = Path(root)
        self.name = "jetson-ina3221"
        self.selected: list[str] = []

    def rails(self) -> dict[str, tuple[Path, Path]]:
        out = {}
        for label in sorted(self.root.glob("*/hwmon/hwmon*/in*_label")):
            name = (_read(label) or "").strip()
            n = re.fullmatch(r"in(\d+)_label", label.name).group(1)
            volt, curr = label.parent / f"in{n}_input", label.parent / f"curr{n}_input"
            if name and name != "NC" and "sum of" not in name.lower() and volt.exists() and curr.exists():
                out[name] = (volt, curr)
        return out

    def select(self, names) -> list[str]:
        """Which rails make the board total, never an input rail together with its sub-rails."""
        names = list(names)
        for rail in INPUT_RAILS:
            if rail in names:
                return [rail]
        agx = [r for r in AGX_ORIN_RAILS if r in names]
        return agx or names

    def check(self) -> None:
        rails = self.rails()
        if not rails:
            raise Unreadable(f"no INA3221 rails under {self.root} (not a Jetson, or an older L4T layout)")
        self.selected = self.select(rails)
        try:
            self.watts()
        except (OSError, ValueError) as e:
            raise Unreadable(f"INA3221 rails not readable: {e}") from None
        self.name = "jetson-ina3221:" + "+".join(self.selected)

    def rail_watts(self) -> dict[str, float]:
        rails = self.rails()
        return {n: int(v.read_text()) * int(c.read_text()) / 1e6 for n, (v, c) in rails.items()}

    def watts(self) -> float:
        w = self.rail_watts()
        return sum(w[r] for r in (self.selected or self.select(w)))


class RPi5Pmic:
    """Raspberry Pi 5 PMIC rails via ``vcgencmd pmic_read_adc`` (sum of V x I over the rails)."""
    kind = "power"
    LINE = re.compile(r"^\s*(\S+?)_([AV])\s+\w+\(\d+\)=([\d.]+)[AV]\s*$")

    def __init__(self, command=("vcgencmd", "pmic_read_adc")):
        self.command = list(command)
        self.name = "rpi5-pmic"

    def check(self) -> None:
        if shutil.which(self.command[0]) is None:
            raise Unreadable(f"{self.command[0]} not found (not a Raspberry Pi, or raspi-utils missing)")
        try:
            self.watts()
        except (OSError, ValueError, subprocess.SubprocessError) as e:
            raise Unreadable(f"`{' '.join(self.command)}` gave no PMIC readings: {e}") from None

    @classmethod
    def parse(cls, text: str) -> float:
        amps, volts = {}, {}
        for line in text.splitlines():
            m = cls.LINE.match(line)
            if m:
                (amps if m.group(2) == "A" else volts)[m.group(1)] = float(m.group(3))
        both = set(amps) & set(volts)
        if not both:
            raise ValueError("no rail has both a current and a voltage reading")
        return sum(amps[r] * volts[r] for r in both)

    def watts(self) -> float:
        out = subprocess.run(self.command, capture_output=True, text=True, timeout=2, check=True).stdout
        return self.parse(out)


class PowerIntegrator:
    """Samples ``source.watts()`` every ``interval_s`` on a thread and integrates to joules."""

    def __init__(self, source, interval_s: float = 0.02):
        self.source, self.interval_s = source, interval_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = None

    def _loop(self):
        while not self._stop.wait(self.interval_s):
            self.samples.append((time.perf_counter(), self.source.watts()))

    def start(self):
        # First and last samples are taken on the caller's thread, so the integral spans the
        # whole window however late the sampling thread gets scheduled.
        self.samples, self._stop = [(time.perf_counter(), self.source.watts())], threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), self.source.watts()))
        return integrate(self.samples)


def integrate(samples) -> float:
    """Trapezoid integral of ``[(t_s, watts)]`` in joules."""
    return float(sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(samples, samples[1:])))


# --- meter -----------------------------------------------------------------------------------

class EnergyMeter:
    """``start()`` / ``stop() -> joules`` over any source above."""

    def __init__(self, source):
        self.source = source
        self.name = source.name
        self._a = None
        self._integrator = PowerIntegrator(source) if source.kind == "power" else None

    def start(self):
        self._t0 = time.perf_counter()
        if self._integrator:
            self._integrator.start()
        else:
            self._a = self.source.sample()

    def stop(self) -> tuple[float, float]:
        """``(joules, seconds)`` since ``start``."""
        if self._integrator:
            j = self._integrator.stop()
        else:
            j = self.source.joules_between(self._a, self.source.sample())
        return j, time.perf_counter() - self._t0

    def idle_watts(self, seconds: float) -> float:
        """Average power over ``seconds`` of doing nothing: the baseline to subtract."""
        self.start()
        time.sleep(seconds)
        j, s = self.stop()
        return j / s


def default_sources(cuda: bool = False) -> list:
    sources = [RaplCounter(), Ina3221Power(), RPi5Pmic()]
    return ([NvmlCounter()] + sources) if cuda else sources


def find_meter(cuda: bool = False, sources=None) -> tuple[EnergyMeter | None, dict]:
    """The first readable meter (NVML first for CUDA runs) and ``{source: why not}`` for the rest."""
    reasons = {}
    for src in sources if sources is not None else default_sources(cuda):
        try:
            src.check()
            return EnergyMeter(src), reasons
        except Unreadable as e:
            reasons[type(src).__name__] = str(e)
    return None, reasons


def measured(joules: float, seconds: float, idle_w: float, n_inferences: int, source: str) -> dict:
    """Energy record: joules per inference above the idle baseline."""
    net = joules - idle_w * seconds
    return {"joules_per_inference": net / n_inferences if n_inferences else None, "source": source,
            "kind": "measured", "joules_total": joules, "window_s": seconds, "idle_watts": idle_w,
            "n_inferences": n_inferences,
            "note": "negative or tiny values mean the run was within the meter's noise; lengthen it"
            if net <= 0 else None}


def estimated(latency_s: float, batch_size: int, profile, unreadable: dict) -> dict:
    """Energy record from a device profile: (active - idle) power x the median latency of one
    batch (``latency_s``, seconds: p50, robust to the outliers of a shared machine) / batch, labelled."""
    watts = profile.active_watts - profile.idle_watts
    return {"joules_per_inference": watts * latency_s / batch_size,
            "source": f"estimate: device profile {profile.name!r} ({watts:.1f} W above idle x median (p50) latency)",
            "kind": "estimate", "unreadable_meters": unreadable}


def _read(p) -> str | None:
    try:
        return Path(p).read_text().strip()
    except OSError:
        return None
