"""The ``compress`` command on the real LeNet-5 (one small run) and its input checks."""
import json

import pytest

from course_lib.cli import main
from course_lib.search.compress import best_within_loss, make_fitness


def test_best_within_loss_picks_highest_cr_inside_the_allowed_loss():
    recs = [{"evaluation": 1, "accuracy": 0.97, "cr_true": 10.0}, {"evaluation": 2, "accuracy": 0.955, "cr_true": 20.0},
            {"evaluation": 3, "accuracy": 0.962, "cr_true": 14.0}, {"evaluation": 4, "accuracy": 0.965, "cr_true": 14.0}]
    assert best_within_loss(recs, 0.97, 1.0)["evaluation"] == 4     # 14 beats 10; tie -> more accurate
    assert best_within_loss(recs, 0.97, 2.0)["evaluation"] == 2
    assert best_within_loss(recs, 0.99, 0.5) is None


def test_fitness_settings():
    f = make_fitness("dynamic", 0.973, 14.0)
    assert f.dynamic and f.target[0] == pytest.approx(0.9766) and f.thresholds[0] == pytest.approx(0.963)
    f = make_fitness("static", 0.973, 14.0, absolute=True)
    assert not f.dynamic and f.target == (0.99, 14.0) and f.thresholds[0] == 0.97
    with pytest.raises(ValueError, match="target must be one of"):
        make_fitness("moving", 0.973, 14.0)


@pytest.mark.slow
def test_compress_cli_runs_reports_and_resumes(tmp_path, capsys):
    out = tmp_path / "runs" / "ga"
    args = ["compress", "--model", "lenet5-tanh", "--algo", "ga", "--budget", "30", "--k-max", "8",
            "--codebook", "float16", "--target", "dynamic", "--seed", "0", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    for key in ("ks", "cr_true", "cr_thesis_mean", "val_accuracy", "test_accuracy", "test_accuracy_loss",
                "evaluations", "seconds"):
        assert key in result
    assert result["evaluations"] == 30 and len(result["ks"]) == 5 and max(result["ks"]) <= 8
    assert 0 <= result["val_accuracy"] <= 1 and 0 <= result["test_accuracy"] <= 1
    assert result["baseline_val_accuracy"] - result["val_accuracy"] <= 0.01 + 1e-9
    assert result["cr_true"] > 4                 # <= 8 clusters is <= 3 bits per weight: CR >= ~10
    assert str(result["ks"]) in printed and "test accuracy" in printed
    assert len((out / "history.jsonl").read_text().splitlines()) == 30
    # a finished run resumed is the same run; --finetune adds the spec section 7 focus sweep
    assert main(["compress", "--resume", str(out), "--no-progress", "--finetune"]) == 0
    again = json.loads((out / "result.json").read_text())
    assert again["ks"] == result["ks"] and again["evaluations"] == 30
    ft = again["finetune"]
    assert ft["val_accuracy"] >= ft["val_accuracy_before"] and 0 <= ft["test_accuracy"] <= 1
    assert "fine-tuned clustering" in capsys.readouterr().out
    # the folder is taken: a new run there is refused with the fix in the message
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err


def test_compress_cli_rejects_bad_input(tmp_path, capsys):
    assert main(["compress", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "not a compress run folder" in capsys.readouterr().err
    assert main(["compress", "--budget", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--budget" in capsys.readouterr().err
    assert main(["compress", "--codebook", "float12", "--out", str(tmp_path / "y")]) == 2
    assert "unknown codebook 'float12'" in capsys.readouterr().err and not (tmp_path / "y").exists()
    assert main(["compress", "--model", "lenet7", "--out", str(tmp_path / "z")]) == 2
    assert "unknown zoo model 'lenet7'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compress", "--algo", "simplex"])
