"""Training and evaluation of PyTorch classifiers on numpy arrays (CPU-friendly, seeded)."""
from __future__ import annotations

import contextlib
import copy
import random

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic(threads: int = 1):
    """Bit-identical PyTorch CPU training inside the block: ``threads`` intra-op threads and
    ``torch.use_deterministic_algorithms(True)``; both settings are restored afterwards.

    A multi-threaded reduction adds its partial sums in an order that depends on the thread
    count and scheduling, and training amplifies those last-bit differences into different
    weights; with one thread and deterministic kernels a seeded :func:`fit` repeats exactly.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    before_threads, before_algos = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before_algos)
        torch.set_num_threads(before_threads)


@torch.inference_mode()
def predict(model: nn.Module, x, batch_size: int = 1000) -> np.ndarray:
    """Class predictions, int64 ``(N,)``, in eval mode; ``x`` a numpy array or a tensor."""
    was_training = model.training
    model.eval()
    xt = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, np.float32))
    out = [model(xt[i:i + batch_size]).argmax(1).numpy() for i in range(0, len(xt), batch_size)]
    model.train(was_training)
    return np.concatenate(out) if out else np.empty(0, np.int64)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Top-1 accuracy as a fraction in [0, 1]."""
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}")
    return float((predict(model, x, batch_size) == y).mean())


def random_shift(xb: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels (zero fill): cheap augmentation that
    matters when only a few thousand training digits are available."""
    if max_shift <= 0:
        return xb
    n, _, h, w = xb.shape
    padded = nn.functional.pad(xb, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def fit(model: nn.Module, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
        epochs: int = 10, lr: float = 1e-3, batch_size: int = 64, weight_decay: float = 0.0,
        max_shift: int = 0, seed: int = 0, loss_fn=None, progress: bool = True) -> dict:
    """Train with Adam and a cosine schedule; keep the weights of the best validation epoch.

    ``loss_fn(logits, targets, inputs)`` replaces cross-entropy when given (distillation uses
    it). Returns the history ``{"loss": [...], "val_accuracy": [...], "best_epoch": i}``.
    """
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * ((len(x) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    ce = nn.CrossEntropyLoss()
    history = {"loss": [], "val_accuracy": [], "best_epoch": -1}
    best_acc, best_state = -1.0, None
    for epoch in tqdm(range(epochs), desc="epochs", disable=not progress):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            xb = random_shift(xt[idx], max_shift, gen)
            logits = model(xb)
            loss = loss_fn(logits, yt[idx], xb) if loss_fn else ce(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = accuracy(model, x_val, y_val)
        history["loss"].append(total / len(x))
        history["val_accuracy"].append(acc)
        if acc > best_acc:
            best_acc, best_state = acc, copy.deepcopy(model.state_dict())
            history["best_epoch"] = epoch
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
