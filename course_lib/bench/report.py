"""``Report``: the result of one benchmark, as a table for people and JSON for tools."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Report:
    """One benchmark run. Times are milliseconds, sizes bytes, energy joules.

    ``latency_ms`` holds ``min, mean, p50, p90, p95, p99, max, std, rel_iqr, n`` of the steady
    state; ``cold_start_ms`` the load time and the first inference, measured apart;
    ``trace_ms`` every measured run in order; ``energy`` is ``{"joules_per_inference": float or
    None, "source": str, ...}`` where ``source`` says where the number came from (a meter, or
    ``"estimate: ..."``, or why there is none).
    """
    backend: str
    model: str
    scenario: str
    batch_size: int
    input_shape: list
    latency_ms: dict
    throughput_per_s: float
    cold_start_ms: dict
    peak_rss_bytes: int | None
    energy: dict
    environment: dict
    options: dict = field(default_factory=dict)
    model_info: dict = field(default_factory=dict)
    stopping: dict = field(default_factory=dict)
    scenario_info: dict = field(default_factory=dict)
    cuda_max_allocated_bytes: int | None = None
    warnings: list = field(default_factory=list)
    trace_ms: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, path=None, indent: int = 2) -> str:
        """The full report as JSON; written to ``path`` too when given."""
        text = json.dumps(self.to_dict(), indent=indent, default=_jsonable)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: dict) -> "Report":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_json(cls, path) -> "Report":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def table(self) -> str:
        """A short human-readable summary."""
        lat = self.latency_ms
        e = self.energy or {}
        joules = e.get("joules_per_inference")
        energy = f"{joules * 1e3:.3f} mJ/inference ({e.get('source')})" if joules is not None else f"n/a ({e.get('source')})"
        rows = [
            ("model", self.model),
            ("backend", f"{self.backend}  {_fmt_options(self.options)}"),
            ("scenario", f"{self.scenario}, batch {self.batch_size}, input {tuple(self.input_shape)}"),
            ("cold start", f"import {self.cold_start_ms.get('import_runtime', float('nan')):.1f} ms, "
                           f"load {self.cold_start_ms.get('load', float('nan')):.1f} ms, "
                           f"first inference {self.cold_start_ms.get('first_inference', float('nan')):.2f} ms"),
            ("latency ms", "  ".join(f"{k} {lat[k]:.3f}" for k in ("min", "mean", "p50", "p90", "p95", "p99", "max") if k in lat)),
            ("spread", f"rel. IQR {lat.get('rel_iqr', float('nan')):.3f} over {lat.get('n', 0)} runs"),
            ("throughput", f"{self.throughput_per_s:,.1f} inferences/s"),
            ("peak RSS", _fmt_bytes(self.peak_rss_bytes)),
        ]
        if self.cuda_max_allocated_bytes is not None:
            rows.append(("CUDA max alloc", _fmt_bytes(self.cuda_max_allocated_bytes)))
        mi = self.model_info
        if mi:
            rows.append(("model", ", ".join(f"{k} {_fmt_count(k, v)}" for k, v in mi.items() if v is not None)))
        rows.append(("energy", energy))
        if self.scenario_info:
            rows.append(("scenario info", ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in self.scenario_info.items())))
        rows += [("warning", w) for w in self.warnings]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    __str__ = table


def _fmt_options(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items() if v is not None)


def _fmt_bytes(n) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def _fmt_count(key, v) -> str:
    if key.endswith("bytes"):
        return _fmt_bytes(v)
    return f"{v:,}" if isinstance(v, int) else str(v)


def _jsonable(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    if isinstance(o, Path):
        return str(o)
    return str(o)
