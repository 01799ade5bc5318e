"""Week 5 runs top to bottom in fast mode and shows what it teaches; every number of its summary is
printed by the notebook and checked here against the cells that measured it. (The lab's solution
is executed by nbgrader in tests/test_grading.py and tests/test_grading_lab05.py.)"""
from __future__ import annotations

import re

import pytest

from notebook_utils import REPO, outputs_text, run_notebook

LECTURE = REPO / "lectures" / "week05_evolutionary_search.ipynb"
STRATEGIES = {"random search", "REINFORCE controller", "aging evolution", "GA, roulette selection", "GA, tournament selection"}


def number(pattern: str, text: str, group: int = 1) -> float:
    m = re.search(pattern, text, re.M)
    assert m, f"no line matching {pattern!r} in the notebook's output"
    return float(m.group(group))


@pytest.mark.slow
def test_week05_lecture_runs_and_its_claims_hold():
    nb, seconds = run_notebook(LECTURE, timeout=600)
    text = outputs_text(nb)
    print(f"week05 lecture: {seconds:.0f} s in fast mode")

    # noise statement, once, from the split in use
    se = number(r"one standard error = ([\d.]+) point", text)
    assert 0.2 < se < 1.0

    # section 1: learning strategies beat random sampling on the toy space; summary repeats the numbers
    best = {m.group(1).strip(): float(m.group(2))
            for m in re.finditer(r"^(.+?) +best after \d+ evaluations: ([\d.]+) %", text, re.M)}
    assert set(best) == STRATEGIES
    assert best["REINFORCE controller"] > best["random search"]
    assert best["GA, tournament selection"] > best["random search"]
    assert best["aging evolution"] > best["random search"]
    assert f"random\n  search reached {best['random search']:.2f} %" in text or f"random search reached {best['random search']:.2f} %" in text

    # sections 3 and 5: per layer beats one k for the whole model, at most 1 point of validation loss
    whole = number(r"whole model: best CR within 1 point of loss = ([\d.]+)", text)
    ga = re.search(r"best within 1 point: \[([\d, ]+)\]  CR true ([\d.]+), validation loss ([\d.]+) ± [\d.]+ points", text)
    assert ga, "the GA's result line is missing"
    assert float(ga.group(3)) <= 1.0
    assert float(ga.group(2)) > whole + 3, "per-layer sharing should clearly beat one k for the whole model"
    assert re.search(r"generation +\d+: evaluations +\d+, best fitness", text), "the live GA log is missing"
    assert f"One $k$ for the whole model stops at CR {whole:.2f}" in text
    conv3_share = number(r"conv3 ([\d.]+) %", text)
    assert conv3_share > 70 and f"holds {conv3_share:.0f} % of the weights" in text
    smallest = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+) +smallest k within 1 point: (\d+)", text, re.M)}
    assert smallest["conv3"] <= 4 < smallest["conv1"], "the text says conv3 tolerates fewer index bits than conv1"

    # GA vs random search: the summary's verdict agrees with the numbers
    med = {m.group(1).strip(): float(m.group(2)) for m in
           re.finditer(r"^(GA|random search) +best CR within 1 point, seeds 0-2: .*\(median ([\d.]+)\)", text, re.M)}
    assert set(med) == {"GA", "random search"}
    assert f"median CR was {med['GA']:.2f} vs {med['random search']:.2f}" in text

    # section 5b: retraining at the same CR wins back validation accuracy; moving weights most
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"^(clustering only \(thesis\)|trained codebooks|clustering-preserving) +([\d.]+) +(-?[\d.]+)",
                                 text, re.M)}
    assert len(rows) == 3, "the retraining table of section 5b is missing"
    assert len({cr for cr, _ in rows.values()}) == 1  # same CR for all three
    assert rows["clustering-preserving"][1] < rows["clustering only (thesis)"][1]
    assert rows["trained codebooks"][1] <= rows["clustering only (thesis)"][1]
    co, tc, cp = (rows[n][1] for n in ("clustering only (thesis)", "trained codebooks", "clustering-preserving"))
    assert f"cut the validation loss from {co:.1f} to {tc:.1f} points" in text and f"to {cp:.1f} with clustering-preserving" in text

    # section 6: the thesis's mean CR and the true ratio of the same vector
    assert "thesis vector: mean of layer ratios 20.55, true ratio of bits 17.15" in text
    assert "the thesis's 20.55 for `[3, 5, 3, 2, 2]` is 17.15" in text
    assert "interactive(children=(IntSlider" in text  # the widget drew with its defaults
    assert seconds < 180 * 3, "far over the 3-minute fast-mode budget even allowing for a loaded machine"
