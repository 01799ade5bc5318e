"""Which searched vectors to deliver or retrain: the highest true CR within an accuracy loss.

Accuracies are fractions; losses are percentage points of validation accuracy.
"""
from __future__ import annotations


def within_loss(baseline_accuracy: float, accuracy: float, max_loss_points: float) -> bool:
    """Whether ``accuracy`` is at most ``max_loss_points`` points below ``baseline_accuracy``."""
    return (baseline_accuracy - accuracy) * 100 <= max_loss_points + 1e-9


def best_within_loss(records: list[dict], baseline_accuracy: float, max_loss_points: float = 1.0,
                     cr_key: str = "cr_true") -> dict | None:
    """The record with the highest ``cr_key`` whose accuracy loss is <= ``max_loss_points``
    (ties: the more accurate, then the earliest); None when no record qualifies."""
    ok = [r for r in records if within_loss(baseline_accuracy, r["accuracy"], max_loss_points)]
    return max(ok, key=lambda r: (r[cr_key], r["accuracy"], -r["evaluation"]), default=None)


def retrain_candidates(records: list[dict], baseline_accuracy: float, max_loss_points: float,
                       slack_points: float) -> list[dict]:
    """The distinct best records within ``max_loss_points``, plus half and all of ``slack_points``
    (:func:`best_within_loss`), highest true CR first."""
    found = {}
    for extra in (0.0, slack_points / 2, slack_points) if slack_points > 0 else (0.0,):
        r = best_within_loss(records, baseline_accuracy, max_loss_points + extra)
        if r is not None:
            found.setdefault(tuple(r["genes"]), r)
    return sorted(found.values(), key=lambda r: -r["cr_true"])
