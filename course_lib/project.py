"""A compression project's bookkeeping: targets, the Pareto front, the choice, reproducibility.

A project measures several variants of one model (pruned, quantized, shared, ...) the same way
and keeps one row per variant: a dict of numbers such as ``val_accuracy`` (fraction),
``file_bytes``, ``p50_ms`` and ``energy_mj``. This module decides with those rows; it trains and
times nothing:

- :class:`Targets` states the project's goals as thresholds relative to the baseline;
- :func:`check` says which targets one variant meets, with the numbers;
- :func:`choose` picks the best variant that meets all of them, on **validation** accuracy with
  a margin, so that the one test evaluation afterwards is an honest report;
- :func:`pareto_mask` marks the variants no other variant beats in every objective;
- :func:`checklist` reads a results record and says what a reader needs to reproduce it.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .search.pareto import non_dominated


@dataclass(frozen=True)
class Targets:
    """A project's goals, relative to its baseline (``None``: no such goal).

    max_loss_points: accuracy the variant may lose against the baseline, in percentage points.
    margin_points: safety margin on validation: a variant is chosen only if its validation loss
        is at most ``max_loss_points - margin_points``, since the test split will differ by noise.
    max_bytes: the model file's size limit, bytes.
    max_latency_ratio: p50 latency limit as a fraction of the baseline's (0.7: 30 % faster).
    max_energy_ratio: energy-per-inference limit as a fraction of the baseline's.
    """
    max_loss_points: float = 1.0
    margin_points: float = 0.5
    max_bytes: int | None = None
    max_latency_ratio: float | None = None
    max_energy_ratio: float | None = None

    def __post_init__(self):
        if not (isinstance(self.max_loss_points, (int, float)) and self.max_loss_points >= 0):
            raise ValueError(f"max_loss_points must be a number >= 0 (points), got {self.max_loss_points!r}")
        if not (isinstance(self.margin_points, (int, float)) and 0 <= self.margin_points <= self.max_loss_points):
            raise ValueError(f"margin_points must lie in [0, max_loss_points={self.max_loss_points}], "
                             f"got {self.margin_points!r}")
        for name in ("max_bytes", "max_latency_ratio", "max_energy_ratio"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"{name} must be a positive number or None, got {v!r}")

    to_dict = asdict


REQUIRED = ("name", "val_accuracy", "file_bytes", "p50_ms", "energy_mj")


def _check_rows(rows, baseline=None) -> list[dict]:
    rows = list(rows)
    if not rows:
        raise ValueError("no variants: pass a non-empty list of row dicts")
    for r in rows + ([baseline] if baseline is not None else []):
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise ValueError(f"variant {r.get('name', r)!r} lacks {missing}; every row needs {list(REQUIRED)}")
    return rows


def check(row: dict, baseline: dict, targets: Targets, *, accuracy_key: str = "val_accuracy") -> dict:
    """Which targets ``row`` meets against ``baseline``: ``{goal: (measured, limit, met)}``.

    Accuracy is compared as a loss in points (``100 * (baseline - row)``) against
    ``max_loss_points - margin_points`` on validation; pass ``accuracy_key="test_accuracy"``
    and a zero-margin ``Targets`` to check the final report instead.
    """
    _check_rows([row], baseline)
    out = {}
    loss = 100 * (baseline[accuracy_key] - row[accuracy_key])
    limit = targets.max_loss_points - (targets.margin_points if accuracy_key == "val_accuracy" else 0.0)
    out["accuracy loss (points)"] = (loss, limit, loss <= limit + 1e-9)
    if targets.max_bytes is not None:
        out["file (bytes)"] = (row["file_bytes"], targets.max_bytes, row["file_bytes"] <= targets.max_bytes)
    if targets.max_latency_ratio is not None:
        ratio = row["p50_ms"] / baseline["p50_ms"]
        out["latency / baseline"] = (ratio, targets.max_latency_ratio, ratio <= targets.max_latency_ratio)
    if targets.max_energy_ratio is not None:
        ratio = row["energy_mj"] / baseline["energy_mj"]
        out["energy / baseline"] = (ratio, targets.max_energy_ratio, ratio <= targets.max_energy_ratio)
    return out


def choose(rows, baseline: dict, targets: Targets, *, minimize: str = "energy_mj") -> dict | None:
    """The variant meeting every target (on validation, with the margin) that has the smallest
    ``minimize``; ties go to the higher validation accuracy. ``None`` if no variant qualifies."""
    rows = _check_rows(rows, baseline)
    if minimize not in rows[0]:
        raise ValueError(f"cannot minimize {minimize!r}: the rows have {sorted(rows[0])}")
    ok = [r for r in rows if all(met for _, _, met in check(r, baseline, targets).values())]
    return min(ok, key=lambda r: (r[minimize], -r["val_accuracy"])) if ok else None


def pareto_mask(rows, maximize=("val_accuracy",), minimize=("p50_ms",)) -> np.ndarray:
    """Boolean mask ``(N,)``: True for the rows no other row beats in every objective."""
    rows = list(rows)
    if not rows:
        raise ValueError("pareto_mask() needs at least one row")
    keys = list(maximize) + list(minimize)
    if not keys:
        raise ValueError("name at least one objective to maximize or minimize")
    for k in keys:
        if any(k not in r for r in rows):
            raise ValueError(f"objective {k!r} is missing from some rows")
    pts = np.array([[r[k] for k in maximize] + [-r[k] for k in minimize] for r in rows], float)
    return non_dominated(pts)


def sha256(path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _has(d, *keys) -> bool:
    for k in keys:
        if not isinstance(d, dict) or d.get(k) in (None, "", [], {}):
            return False
        d = d[k]
    return True


def checklist(record: dict) -> list[dict]:
    """What a reader needs to reproduce ``record``, item by item: ``[{"item", "ok", "evidence"}]``.

    ``record`` keys read: ``environment`` (``course_lib.bench.environment.collect()``), ``data``
    (``source`` and ``splits`` sizes), ``seeds``, ``latency`` (``statistic``, ``rounds``,
    ``threads``, ``batch_size``), ``artefacts`` (``{name: {"path", "sha256"}}``), ``labels``
    (``{quantity: "ESTIMATE ..." or "measured ..."}``) and ``test_evaluations``.
    """
    if not isinstance(record, dict):
        raise ValueError(f"record must be a dict, got {type(record).__name__}")
    env, data, lat = record.get("environment") or {}, record.get("data") or {}, record.get("latency") or {}
    versions = env.get("versions") or {}
    items = []

    def add(item, ok, evidence):
        items.append({"item": item, "ok": bool(ok), "evidence": evidence})

    add("environment recorded (versions, CPU, load)",
        all(k in versions for k in ("python", "torch", "onnxruntime")) and _has(env, "cpu"),
        ", ".join(f"{k} {versions[k]}" for k in ("python", "torch", "onnxruntime") if k in versions) or "missing")
    add("data source and split sizes named", _has(data, "source") and _has(data, "splits"),
        f"{data.get('source', 'missing')}; splits {data.get('splits', 'missing')}")
    seeds = list(record.get("seeds") or [])
    add("every training run seeded, at least 2 seeds", len(seeds) >= 2, f"seeds {seeds}")
    add("latency: a median over rounds, with threads and batch size",
        "median" in str(lat.get("statistic", "")) and (lat.get("rounds") or 0) >= 3
        and lat.get("threads") is not None and lat.get("batch_size") is not None,
        f"{lat.get('statistic', 'missing')}, {lat.get('rounds', '?')} rounds, "
        f"{lat.get('threads', '?')} thread(s), batch {lat.get('batch_size', '?')}")
    arts = record.get("artefacts") or {}
    bad = [n for n, a in arts.items() if not (Path(a.get("path", "")).is_file() and sha256(a["path"]) == a.get("sha256"))]
    add("artefacts on disk match their SHA-256", arts and not bad,
        f"{len(arts) - len(bad)} of {len(arts)} files match" + (f"; changed or missing: {bad}" if bad else ""))
    labels = record.get("labels") or {}
    unlabelled = [q for q, text in labels.items()
                  if not any(w in str(text) for w in ("measured", "ESTIMATE", "PREDICTED", "SIMULATED", "PUBLISHED", "RECORDED"))]
    add("every number's kind labelled (measured, ESTIMATE, ...)", labels and not unlabelled,
        "; ".join(f"{q}: {t}" for q, t in labels.items()) or "missing")
    n_test = record.get("test_evaluations")
    add("test split evaluated once, after the choice", n_test == 1, f"{n_test} test evaluation(s)")
    return items

