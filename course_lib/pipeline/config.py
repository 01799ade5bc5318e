"""The settings of one ``course-lib compress`` run, validated once and saved as ``config.json``."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

TARGET_KINDS = ("static", "dynamic", "extreme", "pareto")
CR_KEYS = ("cr_true", "cr_thesis_mean")


def thesis_cr_target(model_name: str) -> float:
    """The thesis's static CR target: 18 for ReLU LeNet-5, 14 otherwise (tanh)."""
    return 18.0 if "relu" in model_name else 14.0


@dataclass(frozen=True)
class CompressConfig:
    """What to compress and how; accuracies are fractions, names ending ``_points`` are
    percentage points. ``cr_target`` None: the thesis's target for the model (14 or 18).

    Steps (``docs/method.md``): search ``algo`` for ``budget`` evaluations with the ``target``
    fitness on the reduced space (``reduce_loss_points``), take the highest true CR within
    ``max_loss_points``, then retrain ``retrain_epochs`` epochs (0: search only, the thesis's
    setting) the candidates within ``retrain_slack_points`` more, and refine with up to
    ``refine_steps`` one-bit moves. ``absolute``: the thesis's absolute accuracy settings.
    """
    model_name: str = "lenet5-tanh"
    algo: str = "ga"
    budget: int = 400
    codebook_format: str = "float16"
    target: str = "dynamic"
    seed: int = 0
    max_loss_points: float = 1.0
    reduce_loss_points: float = 1.0
    absolute: bool = False
    cr_target: float | None = None
    cr_key: str = "cr_true"
    k_max: int = 50
    algo_kwargs: dict = field(default_factory=dict)
    retrain_epochs: int = 16
    keep_indices: bool = False
    retrain_slack_points: float = 1.0
    refine_steps: int = 4

    def __post_init__(self):
        from .. import zoo
        from ..compression.codebook import check_codebook
        from ..search.algorithms import ALGORITHMS

        if self.algo not in ALGORITHMS:
            raise ValueError(f"algo must be one of {', '.join(ALGORITHMS)}, got {self.algo!r}")
        if self.target not in TARGET_KINDS:
            raise ValueError(f"target must be one of {', '.join(TARGET_KINDS)}, got {self.target!r}")
        if self.cr_key not in CR_KEYS:
            raise ValueError(f"cr_key must be one of {', '.join(CR_KEYS)}, got {self.cr_key!r}")
        if self.model_name not in zoo.names():
            raise ValueError(f"unknown zoo model {self.model_name!r}; available: {', '.join(zoo.names())}")
        check_codebook(self.codebook_format)
        _check_counts(self)
        if self.cr_target is None:
            object.__setattr__(self, "cr_target", thesis_cr_target(self.model_name))

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path) -> None:
        from ..search.runner import atomic_write_json

        atomic_write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path) -> "CompressConfig":
        """The configuration saved in ``path`` (a run folder's ``config.json``)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: {path.parent} is not a compress run folder")
        saved = json.loads(path.read_text())
        unknown = set(saved) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"{path} has settings this version does not know ({', '.join(sorted(unknown))}): "
                             "it was written by an older version; start a new run")
        return cls(**saved)


def _check_counts(c: CompressConfig) -> None:
    """The numeric settings: counts are ints >= their minimum, losses are points >= 0."""
    if c.budget < 1:
        raise ValueError(f"budget (--budget) must be >= 1 evaluation, got {c.budget}")
    if c.k_max < 1:
        raise ValueError(f"k_max (--k-max) must be >= 1, got {c.k_max}")
    if c.max_loss_points < 0 or c.reduce_loss_points < 0:
        raise ValueError("max_loss_points and reduce_loss_points (--max-loss, --reduce-loss) are points >= 0, "
                         f"got {c.max_loss_points}, {c.reduce_loss_points}")
    if c.retrain_epochs < 0:
        raise ValueError("retrain_epochs (--retrain) is a number of epochs >= 0 (0 = no retraining), "
                         f"got {c.retrain_epochs}")
    if c.retrain_slack_points < 0:
        raise ValueError(f"retrain_slack_points (--retrain-slack) is points >= 0, got {c.retrain_slack_points}")
    if c.refine_steps < 0:
        raise ValueError("refine_steps (--refine) is a number of retrainings >= 0 (0 = no refinement), "
                         f"got {c.refine_steps}")
