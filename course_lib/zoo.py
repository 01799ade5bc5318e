"""Trained models shipped in the repository, and how to reproduce them.

``load(name)`` returns a PyTorch model in eval mode with the weights committed under
``course_lib/checkpoints/``; ``card(name)`` returns what was recorded when it was trained
(validation and test accuracy on the offline data split, seed, recipe, versions).
``course-lib zoo train NAME`` retrains it from scratch with the same seed on the CPU.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

CHECKPOINTS = Path(__file__).parent / "checkpoints"


@dataclass(frozen=True)
class Recipe:
    dataset: str
    epochs: int
    lr: float = 2e-3
    batch_size: int = 64
    max_shift: int = 2
    weight_decay: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class Entry:
    name: str
    build: Callable
    recipe: Recipe
    description: str
    kwargs: dict = field(default_factory=dict)


def _lenet(activation):
    from .models import LeNet5

    return LeNet5(activation)


def _teacher():
    from .models import teacher_student

    return teacher_student(in_channels=1)[0]


def _student():
    from .models import teacher_student

    return teacher_student(in_channels=1)[1]


def _vit():
    from .models import TinyViT

    return TinyViT()


def _pointnet():
    from .models import PointNetTiny

    return PointNetTiny()


def _mid_bn():
    from .models import ConvNet

    return ConvNet(in_channels=1, widths=(16, 32, 64))


REGISTRY: dict[str, Entry] = {e.name: e for e in [
    Entry("lenet5-tanh", lambda: _lenet("tanh"), Recipe("mnist", epochs=40),
          "LeNet-5 (tanh), the thesis's network; 61,706 parameters"),
    Entry("lenet5-relu", lambda: _lenet("relu"), Recipe("mnist", epochs=40),
          "LeNet-5 (ReLU); 61,706 parameters"),
    Entry("cnn-teacher-mnist", _teacher, Recipe("mnist", epochs=15, lr=2e-3),
          "teacher CNN for distillation (widths 64-128-256)"),
    Entry("cnn-student-mnist", _student, Recipe("mnist", epochs=25, lr=3e-3),
          "student CNN trained alone (widths 8-16-32): the no-distillation baseline"),
    Entry("vit-tiny-mnist", _vit, Recipe("mnist", epochs=15, lr=3e-3, batch_size=128, max_shift=1),
          "tiny vision transformer: 16 patches of 7x7, 2 blocks, dim 32"),
    Entry("pointnet-tiny-shapes3d", _pointnet, Recipe("shapes3d", epochs=20, lr=3e-3, max_shift=0),
          "tiny PointNet on the synthetic 3-D shapes (5 classes)"),
    Entry("cnn-bn-mnist", _mid_bn, Recipe("mnist", epochs=8, lr=3e-3),
          "mid-size BatchNorm CNN (widths 16-32-64) for channel pruning"),
]}


def names() -> list[str]:
    return list(REGISTRY)


def _entry(name: str) -> Entry:
    if name not in REGISTRY:
        raise ValueError(f"unknown zoo model {name!r}; available: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def dataset(name: str) -> str:
    """The dataset zoo model ``name`` was trained on (a ``course_lib.datasets`` name, e.g. "mnist")."""
    return _entry(name).recipe.dataset


def checkpoint_paths(name: str) -> tuple[Path, Path]:
    return CHECKPOINTS / f"{name}.pt", CHECKPOINTS / f"{name}.json"


def card(name: str) -> dict:
    """The recorded facts of a trained checkpoint (accuracies are fractions in [0, 1])."""
    _entry(name)
    _, meta = checkpoint_paths(name)
    if not meta.exists():
        raise FileNotFoundError(f"no checkpoint card {meta}; run `course-lib zoo train {name}`")
    return json.loads(meta.read_text())


def build(name: str):
    """An untrained model of the zoo architecture ``name``."""
    return _entry(name).build()


def load(name: str):
    """The trained PyTorch model ``name`` in eval mode (weights from the repository)."""
    import torch

    model = build(name)
    weights, _ = checkpoint_paths(name)
    if not weights.exists():
        raise FileNotFoundError(f"no checkpoint {weights}; run `course-lib zoo train {name}`")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def train(name: str, out_dir: Path | None = None, progress: bool = True) -> dict:
    """Retrain ``name`` from its recipe (seeded, CPU) and write ``.pt`` and ``.json``."""
    import platform

    import torch

    from . import datasets
    from .training import accuracy, fit, seed_everything

    entry = _entry(name)
    r = entry.recipe
    x, y = datasets.load(r.dataset, "train")
    xv, yv = datasets.load(r.dataset, "val")
    xt, yt = datasets.load(r.dataset, "test")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    seed_everything(r.seed)
    model = entry.build()
    t0 = time.perf_counter()
    history = fit(model, x, y, xv, yv, epochs=r.epochs, lr=r.lr, batch_size=r.batch_size,
                  max_shift=r.max_shift, weight_decay=r.weight_decay, seed=r.seed, progress=progress)
    seconds = time.perf_counter() - t0
    meta = {
        "name": name,
        "description": entry.description,
        "dataset": r.dataset,
        "data_source": datasets.source(r.dataset),
        "val_accuracy": accuracy(model, xv, yv),
        "test_accuracy": accuracy(model, xt, yt),
        "parameters": sum(p.numel() for p in model.parameters()),
        "recipe": asdict(r),
        "best_epoch": history["best_epoch"],
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    out = Path(out_dir) if out_dir else CHECKPOINTS
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / f"{name}.pt")
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


# --- CLI ------------------------------------------------------------------------------------

def _cmd_list(args) -> int:
    if args.names:
        print("\n".join(REGISTRY))
        return 0
    print(f"{'name':20s} {'dataset':8s} {'params':>8s} {'val acc':>8s} {'test acc':>9s}  description")
    for name, e in REGISTRY.items():
        try:
            c = card(name)
            val, test, params = f"{100 * c['val_accuracy']:.2f}%", f"{100 * c['test_accuracy']:.2f}%", f"{c['parameters']:,}"
        except FileNotFoundError:
            val, test, params = "-", "untrained", "-"
        print(f"{name:20s} {e.recipe.dataset:8s} {params:>8s} {val:>8s} {test:>9s}  {e.description}")
    return 0


def _cmd_train(args) -> int:
    meta = train(args.name, Path(args.out) if args.out else None)
    print(f"{args.name}: val {100 * meta['val_accuracy']:.2f}%  test {100 * meta['test_accuracy']:.2f}%  "
          f"({meta['train_seconds']} s, data: {meta['data_source']})")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("zoo", help="list or retrain the model zoo")
    zsub = p.add_subparsers(dest="zoo_command", required=True)
    pl = zsub.add_parser("list", help="each model with its recorded accuracy")
    pl.add_argument("--names", action="store_true", help="print only the names")
    pl.set_defaults(func=_cmd_list)
    pt = zsub.add_parser("train", help="retrain a checkpoint with its fixed seed (CPU)")
    pt.add_argument("name", choices=list(REGISTRY))
    pt.add_argument("--out", help="folder for the .pt/.json (default: the package's checkpoints/)")
    pt.set_defaults(func=_cmd_train)
