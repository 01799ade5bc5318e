import gzip
import hashlib
import http.server
import threading
import urllib.request

import numpy as np
import pytest

from course_lib import datasets


@pytest.mark.parametrize("split,n", [("train", 3000), ("val", 1000), ("test", 1000)])
def test_offline_mnist_shapes_and_dtypes(split, n):
    x, y = datasets.load("mnist", split)
    assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    assert set(np.unique(y)) == set(range(10))


def test_offline_mnist_splits_do_not_overlap_and_are_fixed():
    parts = {s: datasets.load("mnist", s)[0].reshape(-1, 784) for s in datasets.SPLITS}
    keys = {s: {hashlib.md5(row.tobytes()).hexdigest() for row in v} for s, v in parts.items()}
    assert not keys["train"] & keys["val"]
    assert not keys["train"] & keys["test"]
    assert not keys["val"] & keys["test"]
    x1, y1 = datasets.load("mnist", "test")
    np.testing.assert_array_equal(x1, parts["test"].reshape(-1, 1, 28, 28))


def test_digits():
    x, y = datasets.load("digits", "test")
    assert x.shape == (300, 1, 8, 8) and x.max() <= 1.0
    n = sum(len(datasets.load("digits", s)[1]) for s in datasets.SPLITS)
    assert n == 1797


def test_bad_names_are_named():
    with pytest.raises(ValueError, match="unknown dataset 'mnits'"):
        datasets.load("mnits")
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        datasets.load("mnist", "validation")


@pytest.mark.parametrize("name", ["fashion-mnist", "cifar10", "imagenette"])
def test_offline_without_files_says_what_to_download(name, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_LIB_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetNotAvailable) as e:
        datasets.load(name, "train")
    msg = str(e.value)
    assert "downloading is off" in msg and str(tmp_path / name) in msg
    assert all(r.url in msg for r in datasets.REMOTE[name].values())


def test_hidden_download_fails_loudly():
    # the test-wide network guard: a stray download must fail, not hang or succeed
    with pytest.raises(OSError, match="blocked"):
        urllib.request.urlopen("http://example.com/", timeout=5)


def _idx(arr: np.ndarray) -> bytes:
    code = b"\x00\x00\x08" + bytes([arr.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return gzip.compress(code + dims + arr.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist_server(tmp_path, monkeypatch):
    """Serve a tiny MNIST-format dataset on 127.0.0.1 and point the loader's URLs at it."""
    rng = np.random.default_rng(0)
    served = tmp_path / "served"
    served.mkdir()
    files = {
        "train-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (5100, 28, 28))),
        "train-labels-idx1-ubyte.gz": _idx(rng.integers(0, 10, 5100)),
        "t10k-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (50, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": _idx(rng.integers(0, 10, 50)),
    }
    for name, data in files.items():
        (served / name).write_bytes(data)

    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served), **k)  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    remote = {n: datasets.RemoteFile(base + n, hashlib.md5(d).hexdigest()) for n, d in files.items()}
    monkeypatch.setitem(datasets.REMOTE, "mnist", remote)
    monkeypatch.setenv("COURSE_LIB_DATA", str(tmp_path / "cache"))
    yield files
    server.shutdown()


def test_full_mnist_download_with_checksums(fake_mnist_server, tmp_path):
    x, y = datasets.load("mnist", "train", download=True)
    assert x.shape == (100, 1, 28, 28) and y.shape == (100,)  # 5,100 - 5,000 validation
    xv, _ = datasets.load("mnist", "val")  # now cached: used without download=True
    assert xv.shape == (5000, 1, 28, 28)
    xt, _ = datasets.load("mnist", "test")
    assert xt.shape == (50, 1, 28, 28)
    assert "full MNIST" in datasets.source("mnist")
    assert not list((tmp_path / "cache" / "mnist").glob("*.part"))


def test_checksum_mismatch_is_rejected_and_not_kept(fake_mnist_server, tmp_path, monkeypatch):
    bad = dict(datasets.REMOTE["mnist"])
    name = "t10k-labels-idx1-ubyte.gz"
    bad[name] = datasets.RemoteFile(bad[name].url, "0" * 32)
    monkeypatch.setitem(datasets.REMOTE, "mnist", bad)
    with pytest.raises(datasets.DatasetNotAvailable, match="checksum mismatch"):
        datasets.fetch("mnist", download=True)
    assert not (tmp_path / "cache" / "mnist" / name).exists()


def test_corrupt_cached_file_is_reported(fake_mnist_server, tmp_path):
    folder = datasets.fetch("mnist", download=True)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(datasets.DatasetNotAvailable, match="corrupt"):
        datasets.load("mnist", "test")


def test_framework_wrappers():
    x, y = datasets.load("digits", "val")
    batches = list(datasets.torch_loader(x, y, batch_size=128))
    assert batches[0][0].shape == (128, 1, 8, 8) and sum(len(b[1]) for b in batches) == 300
    assert datasets.to_channels_last(x).shape == (300, 8, 8, 1)
    ds = datasets.tf_dataset(x, y, batch_size=100)
    xb, yb = next(iter(ds))
    assert tuple(xb.shape) == (100, 8, 8, 1) and tuple(yb.shape) == (100,)


def test_offline_mnist_is_ordered_by_class_so_first_n_is_not_representative():
    # the documented reason subset() exists; if this ever fails, the README's warning can go
    x, y = datasets.load("mnist", "train")
    assert set(np.unique(y[:200])) == {0}
    assert set(np.unique(datasets.load("mnist", "val")[1][:200])) == {0, 1}


def test_subset_is_stratified_seeded_and_shuffled():
    x, y = datasets.load("mnist", "train")
    xs, ys = datasets.subset(x, y, 200)
    assert xs.shape == (200, 1, 28, 28) and ys.shape == (200,)
    counts = np.bincount(ys, minlength=10)
    assert counts.min() >= 19 and counts.max() <= 21, counts  # 200 * (290..317) / 3000
    assert len(set(ys[:20].tolist())) >= 5, ys[:20]  # shuffled, not grouped by class
    # every chosen image is a real, distinct image of the split with its own label
    rows = {x[i].tobytes(): y[i] for i in range(len(y))}
    assert len({r.tobytes() for r in xs}) == 200
    assert all(rows[r.tobytes()] == c for r, c in zip(xs, ys))
    xs2, ys2 = datasets.subset(x, y, 200)
    np.testing.assert_array_equal(xs, xs2)
    np.testing.assert_array_equal(ys, ys2)
    assert not np.array_equal(datasets.subset(x, y, 200, seed=1)[1], ys)


def test_subset_keeps_class_shares_with_largest_remainders():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    x = np.arange(10.0)[:, None]
    _, ys = datasets.subset(x, y, 5)
    assert np.bincount(ys, minlength=3).tolist() == [3, 2, 0]  # shares 3, 1.5, 0.5: tie to class 1
    xs, ys = datasets.subset(x, y, 10)
    assert sorted(xs[:, 0].tolist()) == list(range(10))  # n == len: a permutation of everything
    _, ys = datasets.subset(x, y, 4, stratified=False)
    assert len(ys) == 4


@pytest.mark.parametrize("n,match", [(0, "n must be an integer in 1..10"),
                                     (11, "n must be an integer in 1..10"),
                                     (2.5, "got 2.5"), (True, "got True")])
def test_subset_rejects_bad_n(n, match):
    with pytest.raises(ValueError, match=match):
        datasets.subset(np.zeros((10, 2)), np.zeros(10, np.int64), n)


def test_subset_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same number of samples.*x \(9, 2\) and y \(10,\)"):
        datasets.subset(np.zeros((9, 2)), np.zeros(10, np.int64), 3)
    with pytest.raises(ValueError, match="y must be 1-D"):
        datasets.subset(np.zeros((10, 2)), np.zeros((10, 1)), 3)
