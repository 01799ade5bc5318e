import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from course_lib import datasets, pruning as P, zoo
from course_lib.compression import huffman, load_compressed, save_compressed, train_codebooks
from course_lib.compression.sparse_format import relative_indices, write_deep
from course_lib.deep_compression import deep_compress, share_survivors


def test_huffman_round_trip_is_optimal_and_canonical():
    rng = np.random.default_rng(0)
    symbols = np.minimum(rng.geometric(0.3, 5000) - 1, 15)
    counts = np.bincount(symbols, minlength=16)
    lengths = huffman.code_lengths(counts)
    data = huffman.encode(symbols, lengths)
    np.testing.assert_array_equal(huffman.decode(data, lengths, symbols.size), symbols)
    assert len(data) == -(-huffman.encoded_bits(counts, lengths) // 8)
    p = counts[counts > 0] / counts.sum()
    entropy = -(p * np.log2(p)).sum()
    assert entropy <= huffman.encoded_bits(counts, lengths) / symbols.size < entropy + 1  # Shannon bounds
    # the textbook example: counts 45, 13, 12, 16, 9, 5 (CLRS) -> lengths 1, 3, 3, 3, 4, 4
    np.testing.assert_array_equal(huffman.code_lengths([45, 13, 12, 16, 9, 5]), [1, 3, 3, 3, 4, 4])
    assert huffman.canonical_codes([1, 3, 3, 3, 4, 4])[0] == (0b0, 1)
    assert huffman.canonical_codes([1, 3, 3, 3, 4, 4])[5] == (0b1111, 4)
    np.testing.assert_array_equal(huffman.decode(huffman.encode([2, 2, 2], [0, 0, 1]), [0, 0, 1], 3), [2, 2, 2])


def test_huffman_rejects_corrupt_tables_and_short_streams():
    with pytest.raises(ValueError, match="Kraft"):
        huffman.decode(b"\x00", [1, 1, 1], 1)
    lengths = huffman.code_lengths([5, 3, 1, 1])
    with pytest.raises(ValueError, match="truncated"):
        huffman.decode(huffman.encode([0, 1, 2, 3], lengths)[:0], lengths, 4)


def test_relative_indices_bridge_long_zero_runs_with_fillers():
    nonzero = np.zeros(40, bool)
    nonzero[[0, 3, 20, 39]] = True
    gaps, positions = relative_indices(nonzero, 3)
    np.testing.assert_array_equal(gaps, [0, 2, 7, 7, 0, 7, 7, 2])
    np.testing.assert_array_equal(positions, [0, 3, 11, 19, 20, 28, 36, 39])
    assert set(np.flatnonzero(nonzero)) <= set(positions) and (gaps < 8).all()


@pytest.fixture(scope="module")
def shared_lenet():
    """lenet5-tanh pruned to 90 % (no retraining) and shared: the file's input, in seconds."""
    model = zoo.load("lenet5-tanh")
    P.make_permanent(P.apply_masks(model, P.global_magnitude_masks(model, 0.9)))
    return share_survivors(model, [8, 16, 16, 8, 8], "float16")


def test_file_round_trip_restores_every_weight_and_prediction(shared_lenet, tmp_path):
    info = write_deep(shared_lenet.model, tmp_path / "m.edc", "lenet5-tanh")
    assert info["file_bytes"] == (tmp_path / "m.edc").stat().st_size
    assert not [p for p in tmp_path.iterdir() if p.name != "m.edc"]  # no temporary file left over
    loaded = load_compressed(tmp_path / "m.edc")
    want, got = shared_lenet.model.state_dict(), loaded.model.state_dict()
    assert sorted(want) == sorted(got)
    for key in want:
        if key.endswith("weight"):
            torch.testing.assert_close(got[key], want[key], rtol=0, atol=0)  # weights exact (float16 codebooks)
        else:
            torch.testing.assert_close(got[key], want[key], rtol=1e-3, atol=1e-3)  # biases stored as float16
    x, y = datasets.load("mnist", "val")
    agree = (loaded.model(torch.from_numpy(x)).argmax(1) == shared_lenet.model(torch.from_numpy(x)).argmax(1))
    assert agree.float().mean() >= 0.998
    assert P.sparsity_report(loaded.model)["sparsity"] == pytest.approx(0.9, abs=1e-4)
    assert all(c.codebook[0] == 0 and c.k <= 17 for c in loaded.codes)
    assert 4 * 61706 / info["file_bytes"] > 20  # 90 % sparse, <= 16 clusters: over 20x without retraining


def _damaged(tmp_path, shared_lenet, how):
    path = tmp_path / "m.edc"
    write_deep(shared_lenet.model, path, "lenet5-tanh")
    raw = bytearray(path.read_bytes())
    if how == "flip":
        raw[len(raw) // 2] ^= 0x40
    elif how == "truncate":
        raw = raw[: len(raw) - 100]
    elif how == "magic":
        raw[:4] = b"XXXX"
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("how,message", [("flip", "corrupt"), ("truncate", "corrupt or truncated"),
                                         ("magic", "magic")])
def test_damaged_files_give_clear_errors(shared_lenet, tmp_path, how, message):
    with pytest.raises(ValueError, match=message):
        load_compressed(_damaged(tmp_path, shared_lenet, how))


def test_writer_refuses_unshared_weights_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.edc"
    path.write_bytes(b"previous")
    with pytest.raises(ValueError, match="layer 'conv1'.*share them"):
        write_deep(zoo.load("lenet5-tanh"), path, "lenet5-tanh")
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["m.edc"]


def test_old_codebook_keyword_still_works(shared_lenet, tmp_path):
    """``codebook=`` (a format name) is now ``codebook_format=``: the old keyword warns and gives the same result."""
    from course_lib.deep_compression import stage_bytes

    def run(what, **kw):
        shared = share_survivors(shared_lenet.model, [4, 4, 4, 4, 4], **kw)
        info = write_deep(shared.model, tmp_path / f"{what}.edc", "lenet5-tanh", **kw)
        sizes = stage_bytes(shared_lenet.model, shared.model, info["file_bytes"], **kw)
        return [c.codebook.tolist() for c in shared.codes], (tmp_path / f"{what}.edc").read_bytes(), sizes

    new = run("new", codebook_format="float8_e4m3")
    with pytest.deprecated_call() as w:
        old = run("old", codebook="float8_e4m3")
    assert sorted({str(r.message) for r in w}) == [
        f"course_lib.{where}(codebook=...) is deprecated; use course_lib.{where}(codebook_format=...)"
        for where in ("compression.sparse_format.write_deep", "deep_compression.share_survivors",
                      "deep_compression.stage_bytes")]
    assert old == new
    default = share_survivors(shared_lenet.model, [4, 4, 4, 4, 4])  # float16
    assert [c.codebook.tolist() for c in default.codes] != new[0]
    with pytest.deprecated_call(match=r"deep_compression\.deep_compress\(codebook=\.\.\.\)"):
        with pytest.raises(ValueError, match="sparsity"):  # the keyword is accepted before the arguments are checked
            deep_compress("lenet5-relu", tmp_path / "r.edc", sparsity=1.5, codebook="float16")


def test_ews_files_still_load_through_the_same_function(tmp_path):
    info = save_compressed(zoo.load("lenet5-tanh"), [3, 5, 3, 2, 2], tmp_path / "m.ews", "float16",
                           model_id="lenet5-tanh")
    assert load_compressed(tmp_path / "m.ews").ks_stored == info["shared"].ks_stored


def test_trained_codebooks_keep_pruned_weights_at_zero(shared_lenet):
    x, y = datasets.load("mnist", "train")
    xv, yv = datasets.load("mnist", "val")
    trained = train_codebooks(shared_lenet, x[:500], y[:500], xv, yv, epochs=1, lr=1e-2, keep_zero=True,
                              progress=False)
    for name in ["conv1", "conv3", "fc1"]:
        before = getattr(shared_lenet.model, name).weight.detach().numpy()
        after = getattr(trained.model, name).weight.detach().numpy()
        np.testing.assert_array_equal(after == 0, before == 0)


def test_pipeline_without_retraining_reports_the_contract_keys(tmp_path):
    r = deep_compress("lenet5-relu", tmp_path / "r.edc", sparsity=0.7, ks=[8, 16, 16, 8, 8], epochs=0,
                      steps=1, codebook_epochs=0)
    assert r["original_bytes"] == 4 * 61706
    assert r["file_bytes"] == (tmp_path / "r.edc").stat().st_size
    assert r["ratio"] == pytest.approx(r["original_bytes"] / r["file_bytes"])
    assert r["sparsity"] == pytest.approx(0.7, abs=1e-4)
    for k in ("val_accuracy", "test_accuracy"):
        assert 0.5 < r[k] <= 1
    assert r["test_accuracy_loss"] == pytest.approx(100 * (r["base_test_accuracy"] - r["test_accuracy"]))
    stages = {s["stage"]: s for s in r["stages"]}
    assert list(stages) == ["original", "pruned", "shared", "huffman"]
    assert stages["huffman"]["bytes"] == r["file_bytes"]
    assert stages["original"]["bytes"] > stages["pruned"]["bytes"] > stages["shared"]["bytes"] > r["file_bytes"]
    x, y = datasets.load("mnist", "test")
    loaded = load_compressed(tmp_path / "r.edc").model
    assert (loaded(torch.from_numpy(x)).argmax(1).numpy() == y).mean() == r["test_accuracy"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "course_lib.cli", "deep-compress", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("sparsity", ["1.0", "-0.2"])
def test_cli_refuses_bad_sparsity_and_writes_nothing(tmp_path, sparsity):
    res = _cli("--model", "lenet5-tanh", "--out", str(tmp_path / "x.edc"), "--json", str(tmp_path / "r.json"),
               "--sparsity", sparsity)
    assert res.returncode == 2 and "sparsity must be in [0, 1)" in res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_reaches_40x_within_one_point(tmp_path):
    # the full-mode retraining (the test session runs with COURSE_FAST=1, which shortens the defaults)
    res = _cli("--model", "lenet5-tanh", "--out", str(tmp_path / "t.edc"), "--json", str(tmp_path / "r.json"),
               "--epochs", "8", "--codebook-epochs", "5")
    assert res.returncode == 0, res.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["ratio"] >= 40 and r["test_accuracy_loss"] <= 1.0, r
    from course_lib.training import accuracy

    x, y = datasets.load("mnist", "test")
    assert accuracy(load_compressed(tmp_path / "t.edc").model, x, y) == r["test_accuracy"]  # the round trip


def test_length_limited_codes_fit_in_nibbles_and_still_decode():
    counts = np.array([2 ** i for i in range(20)])  # Fibonacci-like skew: an unlimited code needs 19 bits
    assert huffman.code_lengths(counts).max() > 15
    lengths = huffman.limited_code_lengths(counts, 15)
    assert lengths.max() <= 15 and (lengths > 0).all()
    np.testing.assert_array_equal(huffman.unpack_lengths(huffman.pack_lengths(lengths), 20), lengths)
    symbols = np.repeat(np.arange(20), [1] * 10 + [3] * 10)
    np.testing.assert_array_equal(huffman.decode(huffman.encode(symbols, lengths), lengths, symbols.size), symbols)
