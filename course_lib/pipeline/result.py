"""What ``course-lib compress`` delivers: :class:`CompressResult`, written as ``result.json``."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

# present in result.json only when they apply
_OPTIONAL = ("restarts", "ks_stored", "baseline_test_accuracy", "retrain", "file_bytes", "focus")


@dataclass
class CompressResult:
    """The delivered model of a compress run and how it was found.

    Accuracies are fractions; ``*_accuracy_loss`` are fractions too (baseline minus accuracy);
    ``max_loss`` is percentage points; ``codebook`` is the codebook format. The top-level
    figures describe the delivered model (retrained unless retraining was off); ``search`` keeps
    the search's best as the search saw it, ``retrain`` the settings and every candidate and
    refinement step. ``ks`` None: no vector within ``max_loss``. ``shared``: the delivered
    :class:`Shared` model (not written to JSON).
    """
    model: str
    algo: str
    target: str
    codebook: str
    seed: int
    evaluations: int
    unique_evaluations: int
    baseline_val_accuracy: float
    max_loss: float
    hypervolume: float
    space_sizes: list
    final_target: list | None = None
    restarts: int | None = None
    ks: list | None = None
    ks_stored: list | None = None
    cr_true: float | None = None
    cr_thesis_mean: float | None = None
    val_accuracy: float | None = None
    val_accuracy_loss: float | None = None
    test_accuracy: float | None = None
    test_accuracy_loss: float | None = None
    baseline_test_accuracy: float | None = None
    found_at_evaluation: int | None = None
    search: dict | None = None
    retrain: dict | None = None
    file_bytes: int | None = None
    focus: dict | None = None
    seconds: float = 0.0
    shared: object = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "shared"}
        return {k: v for k, v in out.items() if not (k in _OPTIONAL and v is None)}

    def to_json(self, indent: int = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    # read access by key, as for the dict that compress returned before
    def __getitem__(self, key: str):
        return self.to_dict()[key]

    def __contains__(self, key: str) -> bool:
        return key in self.to_dict()

    def get(self, key: str, default=None):
        return self.to_dict().get(key, default)
