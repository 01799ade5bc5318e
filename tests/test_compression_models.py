"""Weight sharing of real models: adapters, per-layer/whole sharing, the file, the evaluator, CLI."""
from __future__ import annotations

import copy
import json
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from course_lib import datasets, zoo
from course_lib.compression import (CachedEvaluator, compression_rate, load_compressed, read_header,
                                    save_compressed, share_model, share_values, share_whole,
                                    weight_layers)
from course_lib.compression.rate import layer_bits
from course_lib.training import accuracy, predict

KS = [3, 5, 3, 2, 2]


@pytest.fixture(scope="module")
def lenet():
    return zoo.load("lenet5-tanh")


@pytest.fixture(scope="module")
def val():
    x, y = datasets.load("mnist", "val")
    return x[:300], y[:300]


def distinct(t):
    return len(np.unique(t.detach().numpy()))


def test_weight_layers_of_lenet(lenet):
    layers = weight_layers(lenet)
    assert [l.name for l in layers] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert [l.size for l in layers] == [150, 2400, 48000, 10080, 840]
    assert layers[0].shape == (6, 1, 5, 5)


def test_share_model_per_layer(lenet):
    before = lenet.conv1.weight.detach().clone()
    shared = share_model(lenet, KS)
    assert torch.equal(lenet.conv1.weight, before)  # the original is untouched (works on a copy)
    for (name, k), code in zip(zip(["conv1", "conv2", "conv3", "fc1", "fc2"], KS), shared.codes):
        assert distinct(getattr(shared.model, name).weight) == k == code.k
        np.testing.assert_array_equal(getattr(shared.model, name).weight.detach().numpy(), code.weights())
    assert torch.equal(shared.model.conv1.bias, lenet.conv1.bias)  # biases are not shared
    assert shared.cr() == pytest.approx(compression_rate([150, 2400, 48000, 10080, 840], KS, 32))


def test_share_model_by_name_order_and_freeze_with_retraining(lenet):
    calls = []
    x, y = (torch.from_numpy(a[:64]) for a in datasets.load("mnist", "val"))

    def retrain(model):  # one SGD step on whatever is trainable
        calls.append([n for n, p in model.named_parameters() if not p.requires_grad])
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    ks = {"fc2": 2, "fc1": 2, "conv3": 3, "conv2": 5, "conv1": 3}
    shared = share_model(lenet, ks, order=["fc2", "fc1", "conv3", "conv2", "conv1"], freeze=True, retrain=retrain)
    assert calls[0] == ["fc2.weight"] and calls[-1] == ["conv2.weight", "conv3.weight", "fc1.weight", "fc2.weight"]
    assert len(calls) == 4
    # retraining changed the later-shared layers, yet every shared layer kept exactly its k values
    assert not torch.equal(shared.model.conv1.bias, lenet.conv1.bias)
    for name, k in ks.items():
        assert distinct(getattr(shared.model, name).weight) == k
    assert all(p.requires_grad for p in shared.model.parameters())  # freezing is undone at the end
    with pytest.raises(ValueError, match="freeze=True"):
        share_model(lenet, KS, retrain=retrain)


def test_share_whole(lenet):
    shared = share_whole(lenet, 8, codebook_format="float16")
    values = np.concatenate([getattr(shared.model, n).weight.detach().numpy().ravel()
                             for n in ["conv1", "conv2", "conv3", "fc1", "fc2"]])
    assert len(np.unique(values)) == 8
    assert shared.cr() == pytest.approx(61470 * 32 / (61470 * 3 + 8 * (16 + 3)))


@pytest.mark.parametrize("codebook,ks", [("float16", KS), ("float8_e4m3", [9, 17, 30, 12, 4]),
                                         ("float32", 6)])
def test_save_load_round_trip(lenet, val, tmp_path, codebook, ks):
    path = tmp_path / "m.ews"
    info = save_compressed(lenet, ks, path, codebook, model_id="lenet5-tanh")
    shared = info["shared"]
    loaded = load_compressed(path)
    np.testing.assert_array_equal(predict(loaded.model, val[0]), predict(shared.model, val[0]))
    for a, b in zip(loaded.model.state_dict().values(), shared.model.state_dict().values()):
        assert torch.equal(a, b)
    # the weight payload is the formula's bits rounded up to bytes: within 1 %
    formula_bytes = sum(layer_bits(p, k, {"float16": 16, "float8_e4m3": 8, "float32": 32}[codebook])
                        for p, k in zip(shared.group_sizes, shared.ks_stored)) / 8
    assert info["payload_bytes"] == pytest.approx(formula_bytes, rel=0.01)
    assert info["file_bytes"] == path.stat().st_size
    assert info["file_bytes"] == info["payload_bytes"] + info["rest_bytes"] + info["header_bytes"]
    header, _ = read_header(path)
    assert header["codebook"] == codebook and header["model"] == "lenet5-tanh"


def test_load_with_a_skeleton_and_bad_files(lenet, val, tmp_path):
    path = tmp_path / "m.ews"
    info = save_compressed(lenet, KS, path, "bfloat16")  # no model id: needs a skeleton
    with pytest.raises(ValueError, match="model="):
        load_compressed(path)
    loaded = load_compressed(path, model=zoo.build("lenet5-tanh"))  # untrained: all weights come from the file
    np.testing.assert_array_equal(predict(loaded.model, val[0]), predict(info["shared"].model, val[0]))
    with pytest.raises(ValueError, match="weight layers"):
        load_compressed(path, model=torch.nn.Sequential(torch.nn.Linear(3, 2)))
    bad = tmp_path / "bad.ews"
    bad.write_bytes(b"PK\x03\x04 not ours")
    with pytest.raises(ValueError, match="not a weight-sharing file"):
        load_compressed(bad)


def test_bad_input_names_the_problem(lenet):
    with pytest.raises(ValueError, match="must be an int >= 1"):
        share_model(lenet, [0, 5, 3, 2, 2])
    with pytest.raises(ValueError, match="conv1.*distinct values"):
        share_model(lenet, [151, 5, 3, 2, 2])
    with pytest.raises(ValueError, match="4 entries but the model has 5 weight layers"):
        share_model(lenet, [3, 5, 3, 2])
    with pytest.raises(ValueError, match="unknown codebook 'float12'"):
        share_model(lenet, KS, codebook_format="float12")
    with pytest.raises(ValueError, match="no weight layers"):
        share_model(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Flatten()), [])
    nan_model = zoo.build("lenet5-tanh")
    with torch.no_grad():
        nan_model.conv2.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="'conv2' has NaN"):
        share_model(nan_model, KS)
    with pytest.raises(ValueError, match="NaN"):
        CachedEvaluator(nan_model, np.zeros((2, 1, 28, 28), np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="unknown layer names"):
        share_model(lenet, {"conv9": 3})


# --- the evaluator --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evaluator(lenet, val, tmp_path_factory):
    return CachedEvaluator(lenet, *val, codebook_format="float16", k_max=20,
                           cache_dir=tmp_path_factory.mktemp("ev"))


def test_evaluator_matches_share_model(evaluator, lenet, val):
    assert evaluator.layer_names == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert evaluator.layer_sizes == [150, 2400, 48000, 10080, 840]
    assert evaluator.baseline_accuracy == accuracy(lenet, *val)
    for ks in ([3, 5, 3, 2, 2], [20, 1, 7, 4, 9], [2, 2, 2, 2, 2]):
        r = evaluator(ks)
        shared = share_model(lenet, ks, codebook_format="float16")
        assert r["accuracy"] == accuracy(shared.model, *val)
        assert r["cr_true"] == pytest.approx(shared.cr("true"))
        assert r["cr_thesis_mean"] == pytest.approx(shared.cr("thesis-mean"))
        assert 0.0 <= r["accuracy"] <= 1.0 and r["seconds"] >= 0
    x_test, y_test = datasets.load("mnist", "test")
    assert evaluator.accuracy_on(KS, x_test[:200], y_test[:200]) == accuracy(
        share_model(lenet, KS, codebook_format="float16").model, x_test[:200], y_test[:200])


def test_evaluator_memo_staged_and_disk_cache(evaluator, lenet, val):
    hits = evaluator.stats["memo_hits"]
    evaluator([3, 5, 3, 2, 2])
    evaluator([3, 5, 3, 2, 2])
    assert evaluator.stats["memo_hits"] >= hits + 1
    assert evaluator.stats["staged_inference"] is True
    assert evaluator.stats["cluster_seconds"] > 0 and evaluator.stats["infer_seconds"] > 0
    # plain inference (no activation reuse) and a fresh evaluator on the same disk cache agree
    plain = CachedEvaluator(lenet, *val, codebook_format="float16", k_max=20, activation_cache_mb=0,
                            cache_dir=evaluator.cache_dir)
    rng = np.random.default_rng(0)
    for _ in range(6):
        ks = [int(k) for k in rng.integers(1, 21, 5)]
        assert plain(ks)["accuracy"] == evaluator(ks)["accuracy"]
    assert plain.stats["disk_cache_hits"] > 0


def test_evaluator_bad_vectors(evaluator):
    with pytest.raises(ValueError, match="one k per layer"):
        evaluator([3, 5, 3])
    with pytest.raises(ValueError, match="must be an int >= 1"):
        evaluator([3, 5, 0, 2, 2])
    with pytest.raises(ValueError, match="exceeds k_max=20"):
        evaluator([3, 5, 30, 2, 2])


def test_reduce_space_is_cached(evaluator, lenet, val):
    from course_lib.compression import reduce_space

    allowed = reduce_space(evaluator, range(1, 9), max_loss_points=1.0, progress=False)
    assert len(allowed) == 5
    cut = evaluator.baseline_accuracy - 0.01
    names = evaluator.layer_names
    for i, k in [(0, 2), (0, 6), (2, 1), (2, 5), (4, 3)]:  # recomputed independently of the evaluator
        model = copy.deepcopy(lenet)
        weight = getattr(model, names[i]).weight
        cb, idx = share_values(weight.detach().numpy(), k, "float16")
        with torch.no_grad():
            weight.copy_(torch.from_numpy(cb[idx].reshape(weight.shape)))
        assert (k in allowed[i]) == (accuracy(model, *val) >= cut)
    assert 1 not in allowed[2]  # conv3 with a single value breaks the network
    files = list(evaluator.cache_dir.glob("reduced-space-*.json"))
    assert len(files) == 1
    n = evaluator.stats["evaluations"]
    assert reduce_space(evaluator, range(1, 9), max_loss_points=1.0, progress=False) == allowed
    # the old method: same answer (from the same cache file), with a warning naming the new function
    with pytest.deprecated_call(match="course_lib.compression.reduce_space"):
        assert evaluator.reduce_space(threshold_loss=1.0, k_range=range(1, 9), progress=False) == allowed
    with pytest.raises(ValueError, match="exactly one"):
        reduce_space(evaluator, threshold=0.97, max_loss_points=1.0)
    with pytest.raises(ValueError, match="fraction"):
        reduce_space(evaluator, threshold=97)
    with pytest.raises(ValueError, match="max_loss_points is percentage points >= 0"):
        reduce_space(evaluator, max_loss_points=-1)
    assert evaluator.stats["evaluations"] == n


def test_evaluator_pickles_and_threads(evaluator):
    twin = pickle.loads(pickle.dumps(evaluator))
    assert twin._staged is not None and twin._staged.bytes == 0  # rebuilt, activations not shipped
    assert twin([4, 4, 4, 4, 4])["accuracy"] == evaluator([4, 4, 4, 4, 4])["accuracy"]
    assert twin([4, 4, 4, 9, 4])["accuracy"] == evaluator([4, 4, 4, 9, 4])["accuracy"]
    vectors = [[k, 3, 3, 3, 3] for k in range(1, 9)]
    with ThreadPoolExecutor(4) as pool:
        threaded = [r["accuracy"] for r in pool.map(evaluator, vectors)]
    assert threaded == [evaluator(v)["accuracy"] for v in vectors]


# --- CLI ------------------------------------------------------------------------------------

def test_cli_share_writes_file_and_json(tmp_path, capsys):
    from course_lib.cli import main

    out, res = tmp_path / "l.ews", tmp_path / "r.json"
    assert main(["share", "--model", "lenet5-tanh", "--ks", "3,5,3,2,2", "--codebook", "float16",
                 "--out", str(out), "--json", str(res)]) == 0
    text = capsys.readouterr().out
    assert "CR true 17.15" in text and "20.5451" in text
    r = json.loads(res.read_text())
    for key in ("ks", "val_accuracy", "test_accuracy", "test_accuracy_loss", "cr_true", "cr_thesis_mean", "file_bytes"):
        assert key in r
    assert r["ks"] == KS and 0 <= r["val_accuracy"] <= 1 and 0 <= r["test_accuracy"] <= 1
    assert r["test_accuracy_loss"] == pytest.approx(r["base_test_accuracy"] - r["test_accuracy"])
    assert r["file_bytes"] == out.stat().st_size
    loaded = load_compressed(out)
    x, y = datasets.load("mnist", "test")
    assert accuracy(loaded.model, x, y) == r["test_accuracy"]


def test_cli_whole_sweep_and_errors(capsys):
    from course_lib.cli import main

    assert main(["share", "--model", "lenet5-relu", "--whole", "--sweep", "1-3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([l for l in lines if l[:3].strip() in {"1", "2", "3"}]) == 3
    assert main(["share", "--model", "lenet5-tanh", "--ks", "3,5,3,2", "--out", "x.ews"]) == 2
    assert "give one k per layer" in capsys.readouterr().err
    assert main(["share", "--model", "lenet5-tanh", "--ks", "3,x", "--out", "x.ews"]) == 2
    assert "--ks must be integers" in capsys.readouterr().err
    assert main(["share", "--model", "lenet5-tanh", "--sweep", "1-3"]) == 2


# --- focusing the clustering space (docs/method.md) ------------------------------------------

def test_lift_and_cluster_lifted():
    from course_lib.compression import cluster_lifted, kmeans1d, lift

    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, 2000)
    assert np.all(lift(w, 0.0)[:, 1] == 0)
    pts = lift(w, 3.0, spread=2.0)
    order = np.argsort(w)
    assert np.all(np.diff(pts[order, 1]) >= 0)  # the lift is monotone in x
    assert np.abs(pts[:, 1]).max() <= 2.0 * (w.max() - w.min())
    c0, l0 = cluster_lifted(w, 6, 0.0)
    c1, l1 = kmeans1d(w, 6)
    np.testing.assert_array_equal(c0, c1)
    c, lab = cluster_lifted(w, 6, 5.0)
    for j in range(len(c)):  # representatives are the members' mean x
        assert c[j] == pytest.approx(w[lab == j].mean())


@pytest.mark.parametrize("call", ["share_model", "share_whole", "whole_model_sweep", "focus_sweep",
                                  "save_compressed", "CachedEvaluator"])
def test_old_codebook_keyword_still_works(lenet, val, tmp_path, call):
    """``codebook=`` (a format name) is now ``codebook_format=``: the old keyword warns and gives the same result."""
    from course_lib import compression as C

    def codes(shared):
        return [(c.codebook.tolist(), c.indices.tolist()) for c in shared.codes]

    def written(**kw):
        C.save_compressed(lenet, KS, tmp_path / "m.ews", **kw)
        return (tmp_path / "m.ews").read_bytes()

    runs = {
        "share_model": lambda **kw: codes(C.share_model(lenet, KS, **kw)),
        "share_whole": lambda **kw: codes(C.share_whole(lenet, 6, **kw)),
        "whole_model_sweep": lambda **kw: C.whole_model_sweep(lenet, [4], {"val": val}, progress=False, **kw),
        "focus_sweep": lambda **kw: codes(C.focus_sweep(lenet, KS, *val, focuses=[0, 3], progress=False, **kw).shared),
        "save_compressed": written,
        "CachedEvaluator": lambda **kw: C.CachedEvaluator(lenet, *val, k_max=5, **kw)(KS)["cr_true"],
    }
    new = runs[call](codebook_format="float8_e5m2")
    renamed = rf"{call}\(codebook=\.\.\.\) is deprecated; use .*{call}\(codebook_format=\.\.\.\)"
    with pytest.deprecated_call(match=renamed):
        old = runs[call](codebook="float8_e5m2")
    assert old == new and new != runs[call](), "the old keyword's format reached the result"


def test_focus_sweep_greedy(lenet, val):
    from course_lib.compression import finetune, focus_sweep

    r = focus_sweep(lenet, KS, *val, codebook_format="float16", focuses=[0, 2, 6], progress=False).to_dict()
    with pytest.deprecated_call(match="use course_lib.compression.focus_sweep"):
        old = finetune(lenet, KS, *val, codebook_format="float16", focuses=[0, 2, 6], progress=False)
    assert {k: v for k, v in old.items() if k != "shared"} == {k: v for k, v in r.items() if k != "shared"}
    assert r["evaluations"] == 1 + 5 * 3
    assert set(r["focus"]) == {"conv1", "conv2", "conv3", "fc1", "fc2"}
    assert r["accuracy"] >= r["accuracy_focus0"]
    assert r["accuracy_focus0"] == accuracy(share_model(lenet, KS, codebook_format="float16").model, *val)
    assert r["accuracy"] == accuracy(r["shared"].model, *val)
    for name, k in zip(r["focus"], KS):
        assert distinct(getattr(r["shared"].model, name).weight) <= k
    with pytest.raises(ValueError, match="non-negative"):
        focus_sweep(lenet, KS, *val, focuses=[-1.0], progress=False)


def test_cli_whole_single_k(tmp_path, capsys):
    from course_lib.cli import main

    out = tmp_path / "w.ews"
    assert main(["share", "--model", "lenet5-tanh", "--whole", "--ks", "8", "--out", str(out)]) == 0
    assert "CR true 10.65" in capsys.readouterr().out
    loaded = load_compressed(out)
    assert loaded.whole and loaded.ks_stored == [8]
