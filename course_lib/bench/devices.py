"""Device profiles and a roofline estimator: what a model *could* do on a device you do not have.

Figures are nominal datasheet values (dense, no sparsity), rounded; real kernels reach a
fraction of them, so :func:`estimate` is a **lower bound** on latency and energy, never a
measurement. Energy per operation follows Horowitz (ISSCC 2014, 45 nm) scaled down for the
newer process nodes: treat it as an order of magnitude.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, replace

BYTES = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class DeviceProfile:
    """Peak compute in GFLOP/s (2 per MAC) per precision, memory bandwidth in GB/s, power in W."""
    name: str
    description: str
    peak_gflops: dict            # {"fp32": ..., "fp16": ..., "int8": ...} (int8: GOP/s)
    memory_bandwidth_gbs: float
    memory_gb: float
    idle_watts: float
    active_watts: float
    power_modes: dict = field(default_factory=dict)   # mode name -> watts budget
    dla_cores: int = 0
    pj_per_mac: dict = field(default_factory=lambda: {"fp32": 1.5, "fp16": 0.6, "int8": 0.2})
    pj_per_dram_byte: float = 20.0
    source: str = "nominal datasheet figures"

    def with_power_mode(self, mode: str) -> "DeviceProfile":
        """The profile with ``active_watts`` set to a power mode's budget, compute scaled with it."""
        if mode not in self.power_modes:
            raise ValueError(f"{self.name} has power modes {list(self.power_modes)}, not {mode!r}")
        scale = self.power_modes[mode] / max(self.power_modes.values())
        return replace(self, name=f"{self.name}@{mode}", active_watts=self.power_modes[mode],
                       peak_gflops={k: v * scale for k, v in self.peak_gflops.items()})

    to_dict = asdict


PROFILES: dict[str, DeviceProfile] = {p.name: p for p in [
    DeviceProfile("jetson-orin-nano", "Jetson Orin Nano 8 GB: 1024-core Ampere GPU @ 625 MHz, 6x A78AE, no DLA",
                  {"fp32": 1280, "fp16": 10_000, "int8": 20_000}, 68, 8, 4.0, 15.0,
                  {"7W": 7, "15W": 15}, dla_cores=0),
    DeviceProfile("jetson-orin-nx", "Jetson Orin NX 16 GB: 1024-core Ampere GPU @ 918 MHz, 2 DLA, 8x A78AE",
                  {"fp32": 1880, "fp16": 15_000, "int8": 30_000}, 102.4, 16, 5.0, 25.0,
                  {"10W": 10, "15W": 15, "25W": 25}, dla_cores=2),
    DeviceProfile("jetson-agx-orin", "Jetson AGX Orin 64 GB: 2048-core Ampere GPU @ 1.3 GHz, 2 DLA, 12x A78AE",
                  {"fp32": 5300, "fp16": 42_500, "int8": 85_000}, 204.8, 64, 8.0, 60.0,
                  {"15W": 15, "30W": 30, "50W": 50, "MAXN": 60}, dla_cores=2),
    DeviceProfile("raspberry-pi-4", "Raspberry Pi 4 B: 4x Cortex-A72 @ 1.5 GHz, LPDDR4-3200 32-bit",
                  {"fp32": 48, "fp16": 48, "int8": 96}, 12.8, 8, 2.7, 6.4, dla_cores=0,
                  pj_per_mac={"fp32": 3.0, "fp16": 3.0, "int8": 1.0}, pj_per_dram_byte=40.0),
    DeviceProfile("raspberry-pi-5", "Raspberry Pi 5: 4x Cortex-A76 @ 2.4 GHz, LPDDR4X-4267 32-bit",
                  {"fp32": 153.6, "fp16": 307.2, "int8": 307.2}, 17.1, 8, 2.7, 8.8, dla_cores=0,
                  pj_per_mac={"fp32": 2.0, "fp16": 1.0, "int8": 0.5}, pj_per_dram_byte=30.0),
]}


def local_profile(seconds: float = 0.3) -> DeviceProfile:
    """The machine at hand, *measured*: a float32 matmul for compute, a large copy for bandwidth.

    Power is not measurable this way: ``active_watts`` assumes 4 W per usable core (a server
    CPU's TDP share), labelled in ``source``.
    """
    import numpy as np

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    a = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    best = float("inf")
    t_end = time.perf_counter() + seconds / 2
    while time.perf_counter() < t_end or best == float("inf"):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    gflops = 2 * 512 ** 3 / best / 1e9
    src = np.ones(16 * 2 ** 20 // 4, dtype=np.float32)
    dst = np.empty_like(src)
    bw = 0.0
    t_end = time.perf_counter() + seconds / 2
    while time.perf_counter() < t_end or bw == 0.0:
        t0 = time.perf_counter()
        np.copyto(dst, src)
        bw = max(bw, 2 * src.nbytes / (time.perf_counter() - t0) / 1e9)  # read + write
    try:
        import psutil

        mem_gb = psutil.virtual_memory().total / 2 ** 30
    except ImportError:
        mem_gb = 0.0
    return DeviceProfile("local", f"this machine ({cores} usable cores), measured just now",
                         {"fp32": gflops, "fp16": gflops, "int8": 2 * gflops}, bw, round(mem_gb, 1),
                         idle_watts=0.0, active_watts=4.0 * cores,
                         source="measured compute and bandwidth; power assumed 4 W per core (no sensor)")


def get(device) -> DeviceProfile:
    """A profile by name (``"local"`` measures this machine) or a ``DeviceProfile`` itself."""
    if isinstance(device, DeviceProfile):
        return device
    if device == "local":
        return local_profile()
    name, _, mode = str(device).partition("@")
    if name not in PROFILES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join([*PROFILES, 'local'])} "
                         "(optionally NAME@POWER_MODE, e.g. jetson-orin-nano@7W)")
    return PROFILES[name].with_power_mode(mode) if mode else PROFILES[name]


@dataclass
class Estimate:
    """Roofline lower bounds per layer; ``layers`` rows hold seconds, joules and the bound."""
    device: str
    precision: str
    batch_size: int
    layers: list
    note: str = "ESTIMATE (roofline lower bound from a device profile), not a measurement"

    @property
    def latency_ms(self) -> float:
        return 1e3 * sum(r["latency_s"] for r in self.layers)

    @property
    def energy_mj(self) -> float:
        return 1e3 * sum(r["energy_j"] for r in self.layers)

    def to_dict(self) -> dict:
        return {"device": self.device, "precision": self.precision, "batch_size": self.batch_size,
                "latency_ms": self.latency_ms, "energy_mj": self.energy_mj, "layers": self.layers, "note": self.note}

    def table(self) -> str:
        lines = [f"{self.note}: {self.device}, {self.precision}, batch {self.batch_size}",
                 f"{'layer':20s} {'MACs':>12s} {'bytes':>10s} {'bound':>8s} {'latency us':>11s} {'energy uJ':>10s}"]
        for r in self.layers:
            lines.append(f"{r['layer'][:20]:20s} {r['macs']:>12,} {r['bytes']:>10,} {r['bound']:>8s} "
                         f"{1e6 * r['latency_s']:>11.2f} {1e6 * r['energy_j']:>10.2f}")
        lines.append(f"{'total':20s} {'':>12s} {'':>10s} {'':>8s} {1e3 * self.latency_ms:>11.2f} {1e3 * self.energy_mj:>10.2f}")
        return "\n".join(lines)

    __str__ = table


def estimate(model, device="local", *, precision: str = "fp32", input_shape=None, batch_size: int = 1) -> Estimate:
    """Roofline latency and energy lower bounds of ``model`` on ``device``, layer by layer.

    ``model``: a torch module, a Keras model or a zoo name; ``input_shape`` one sample (``(C, H, W)``
    for torch, optional for zoo names). Each layer takes ``max(2 * MACs / peak, bytes / bandwidth)``
    where bytes = its weights + input + output activations at ``precision``; energy = MACs x pJ/MAC +
    bytes x pJ/DRAM byte.
    """
    from course_lib import profile

    if precision not in BYTES:
        raise ValueError(f"precision must be one of {list(BYTES)}, got {precision!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    dev = get(device)
    if isinstance(model, str):
        from course_lib import zoo

        from .export import zoo_input_shape

        input_shape = input_shape or zoo_input_shape(model)[1:]
        model = zoo.load(model)
    if input_shape is None:
        raise ValueError("estimate() needs input_shape (one sample, e.g. (1, 28, 28)) for a model object")
    prof = profile(model, input_shape)
    scale = BYTES[precision] / 4  # the profiler counts float32 bytes
    peak = dev.peak_gflops[precision] * 1e9
    bw = dev.memory_bandwidth_gbs * 1e9
    rows = []
    prev_act = 4 * _numel(prof.input_shape)
    for layer in prof.layers:
        act_in, act_out = prev_act * batch_size, layer.activation_bytes * batch_size
        prev_act = layer.activation_bytes
        nbytes = int((layer.param_bytes + act_in + act_out) * scale)
        macs = layer.macs * batch_size
        compute_s, memory_s = 2 * macs / peak, nbytes / bw
        rows.append({"layer": layer.name, "kind": layer.kind, "macs": macs, "bytes": nbytes,
                     "compute_s": compute_s, "memory_s": memory_s,
                     "bound": "compute" if compute_s >= memory_s else "memory",
                     "latency_s": max(compute_s, memory_s),
                     "energy_j": (macs * dev.pj_per_mac[precision] + nbytes * dev.pj_per_dram_byte) * 1e-12})
    return Estimate(dev.name, precision, batch_size, rows)


def intensity(report, precision: str = "fp32") -> float:
    """Operational intensity of one inference in FLOP per byte (2 FLOP per MAC): the x axis of a
    roofline. ``report`` is a :class:`course_lib.profiling.ProfileReport`; bytes are the weights,
    the input and every layer's output moved once at ``precision`` (no reuse in caches)."""
    if precision not in BYTES:
        raise ValueError(f"precision must be one of {list(BYTES)}, got {precision!r}")
    moved = sum(r.param_bytes for r in report.layers) + 4 * _numel(report.input_shape) + report.activation_bytes
    return 2 * report.macs / (moved * BYTES[precision] / 4)


def attainable_gflops(device, flop_per_byte: float, precision: str = "fp32") -> float:
    """The roofline: ``min(peak compute, bandwidth x intensity)`` in GFLOP/s."""
    dev = get(device)
    return min(dev.peak_gflops[precision], dev.memory_bandwidth_gbs * flop_per_byte)


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
