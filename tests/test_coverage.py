"""docs/coverage.md: every learning goal is checked by a quiz, a lab task or an exercise, the goal
tags sit where something checks, and the committed map is what scripts/coverage.py generates."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys

from notebook_utils import REPO

spec = importlib.util.spec_from_file_location("coverage_script", REPO / "scripts" / "coverage.py")
coverage = sys.modules["coverage_script"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coverage)


def test_every_goal_is_checked_somewhere():
    weeks, problems = coverage.collect()
    assert weeks, "no lectures found"
    assert not problems, "\n".join(problems)


def test_committed_map_is_up_to_date():
    assert (REPO / "docs" / "coverage.md").read_text() == coverage.render(*coverage.collect()), (
        "docs/coverage.md is out of date: run `python scripts/coverage.py`")


def _notebook(path, cells):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": [{"cell_type": t, "source": s, "metadata": m} for t, s, m in cells]}))


def test_an_unchecked_goal_or_a_stray_tag_is_reported(tmp_path):
    title = "# Week 9 · X\n\n**Learning goals.** After this lecture you can\n\n1. do a;\n2. do b;\n3. do c.\n\n**Runtime:** 1 s"
    _notebook(tmp_path / "lectures" / "week09_x.ipynb", [
        ("markdown", title, {}),
        ("code", "# Checks goal 1\nquiz('q?', ['a', 'b'], key, 'why')", {}),
        ("code", "print('Checks goal 3')", {}),  # not a quiz: a stray tag
        ("markdown", "## Exercises\n\n1. Try a thing. *(Checks goal 7.)*", {}),
    ])
    test = {"nbgrader": {"grade": True, "solution": False, "grade_id": "test-a", "points": 1}}
    _notebook(tmp_path / "solutions" / "lab09_x" / "lab09_x.ipynb", [("code", "# Checks goal 2\nassert True, 'x'", test)])
    weeks, problems = coverage.collect(tmp_path)
    assert [(w.number, sorted(w.checks)) for w in weeks] == [(9, [1, 2, 7])]
    assert weeks[0].checks[2] == [("lab", "lab 9 `test-a`")]
    text = "\n".join(problems)
    assert "goal 3 is checked nowhere" in text and "goal 7, which the lecture does not have" in text
    assert "cell [2] has a goal tag but is neither a quiz" in text
    assert "goal 1 is checked nowhere" not in text and "goal 2 is checked nowhere" not in text
    shutil.rmtree(tmp_path / "solutions")
    assert "goal 2 is checked nowhere" in "\n".join(coverage.collect(tmp_path)[1])
