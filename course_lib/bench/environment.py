"""What a benchmark ran on: versions, CPU model and governor, GPU and clocks, Jetson power mode,
and the git revision of the course. Every field is best effort: unknown is ``None``, never an error.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
from functools import lru_cache
from pathlib import Path

PACKAGES = ["numpy", "torch", "onnx", "onnxruntime", "onnxruntime-gpu", "tensorflow", "ai-edge-litert",
            "tensorrt", "edgeml-course"]
REPO = Path(__file__).resolve().parents[2]


def _read(path) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _run(cmd: list[str], timeout: float = 3.0) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            pass
    return out


def cpu() -> dict:
    fields = {}
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    # x86 names the CPU in "model name" ("model" is a number there); ARM boards in "Hardware" or
    # "Model" (a Raspberry Pi: "Raspberry Pi 4 Model B Rev 1.4").
    model = fields.get("model name") or fields.get("hardware")
    if not model and not fields.get("model", "").isdigit():
        model = fields.get("model")
    governors = {_read(p) for p in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor")}
    governors.discard(None)
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {"model": model or platform.processor() or None, "machine": platform.machine(),
            "logical_cores": os.cpu_count(), "usable_cores": affinity,
            "governor": ",".join(sorted(governors)) if governors else None,
            "max_mhz": _khz_to_mhz(_read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"))}


def _khz_to_mhz(v):
    return int(v) // 1000 if v and v.isdigit() else None


def gpu() -> list[dict]:
    """NVIDIA GPUs via nvidia-smi (name, driver, SM/memory clocks, power limit)."""
    q = "name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit,memory.total"
    out = _run(["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader,nounits"])
    if not out:
        return []
    keys = ["name", "driver", "sm_clock_mhz", "max_sm_clock_mhz", "mem_clock_mhz", "power_limit_w", "memory_mib"]
    return [dict(zip(keys, (v.strip() for v in line.split(",")))) for line in out.splitlines()]


def jetson(root: str = "/") -> dict | None:
    """Jetson release, nvpmodel power mode and throttling state; None when not a Jetson."""
    r = Path(root)
    release = _read(r / "etc/nv_tegra_release")
    model = _read(r / "proc/device-tree/model")
    if release is None and not (model and "jetson" in model.lower()):
        return None
    mode = _run(["nvpmodel", "-q"]) if root == "/" else None
    throttle = {}
    for zone in sorted((r / "sys/class/thermal").glob("thermal_zone*")):
        t = _read(zone / "temp")
        if t and t.lstrip("-").isdigit():
            throttle[_read(zone / "type") or zone.name] = int(t) / 1000
    gpu_freq = None
    for p in (r / "sys/devices/platform").glob("*gpu*/devfreq/*/cur_freq"):
        gpu_freq = _read(p)
    return {"model": model.strip("\x00") if model else None, "l4t_release": release,
            "power_mode": mode.splitlines()[0] if mode else None, "temperatures_c": throttle,
            "gpu_cur_freq_hz": gpu_freq,
            "throttled": any(v >= 95.0 for v in throttle.values()) if throttle else None}


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    rev = _run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])
    if rev and _run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"]):
        rev += "-dirty"
    return rev


@lru_cache(maxsize=1)
def _static() -> dict:
    return {"versions": versions(), "os": platform.platform(), "cpu": cpu(), "gpus": gpu(),
            "jetson": jetson(), "course_git_revision": git_revision(), "hostname": platform.node()}


def collect(**extra) -> dict:
    """The environment record of a report; ``extra`` (backend options, threads) is merged in."""
    from course_lib import fast_mode

    env = dict(_static())
    env["fast_mode"] = fast_mode()
    env["cpu_load_avg"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    env.update(extra)
    return env
