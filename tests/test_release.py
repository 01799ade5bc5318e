"""`make release DEST=DIR`: the student repository's tree, without answers."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("make_release", ROOT / "scripts" / "make_release.py")
make_release = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_release)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    dest = tmp_path_factory.mktemp("release") / "student"
    r = subprocess.run(["make", "-s", "release", f"DEST={dest}"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no leaks found" in r.stdout
    return dest


def test_release_has_the_student_tree(release):
    for name in ["lectures", "labs", "course_lib", "datasets", "docs", "README.md", "pyproject.toml",
                 "requirements.txt", "constraints.txt", "environment.yml", "Makefile", "LICENSE", "grading/rubric.md"]:
        assert (release / name).exists(), f"the student release lacks {name}"
    assert sorted(p.name for p in (release / "labs").iterdir()) == sorted(p.name for p in (ROOT / "labs").iterdir())
    assert len(list((release / "lectures").glob("week*.ipynb"))) == len(list((ROOT / "lectures").glob("week*.ipynb")))


def test_release_has_no_answers(release):
    assert not (release / "solutions").exists()
    assert sorted(p.relative_to(release).as_posix() for p in (release / "grading").rglob("*")) == sorted(make_release.KEEP)
    assert not list(release.rglob("gradebook.db")) and not list(release.glob("tests/test_grading*"))
    assert not (release / "course_lib" / "grading").exists() and not (release / "course_lib" / "assessment").exists()
    secret = make_release.secret_lines(ROOT)
    assert len(secret) >= 20, "the solutions' own lines are what the leak check looks for"
    assert make_release.find_leaks(release, ROOT) == []


def test_leak_check_finds_planted_answers(release, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(release, leaky)
    solution = next((ROOT / "solutions").glob("lab*/lab*.ipynb"))
    shutil.copy(solution, leaky / "labs" / "copied.ipynb")  # a solution notebook in a student folder
    guide = next(line for line in sorted(make_release.secret_lines(ROOT)) if " " in line)
    (leaky / "docs" / "notes.md").write_text(f"Hints\n\n{guide}\n")  # one line of an answer, no markers
    (leaky / "grading" / "gradebook.db").write_bytes(b"SQLite format 3\0")
    leaks = make_release.find_leaks(leaky, ROOT)
    assert any(l.startswith("labs/copied.ipynb: contains 'BEGIN SOLUTION'") for l in leaks), leaks
    assert any(l.startswith("docs/notes.md: contains solution/hidden-test line") for l in leaks), leaks
    assert "grading/gradebook.db: instructor-only file" in leaks


def test_release_updates_an_earlier_release_and_refuses_other_folders(release, tmp_path):
    stale = release / "lectures" / "week00_removed.ipynb"
    stale.write_text(json.dumps({"cells": []}))
    (release / ".git").mkdir(exist_ok=True)
    (release / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    make_release.write_release(release, ROOT)
    assert not stale.exists(), "a file gone from the instructor repository is gone from the release"
    assert (release / ".git" / "HEAD").exists(), "the student repository's .git is kept"
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("mine")
    with pytest.raises(SystemExit, match="not empty"):
        make_release.write_release(other, ROOT)
    assert (other / "thesis.tex").read_text() == "mine", "nothing of a foreign folder is deleted"
    r = subprocess.run(["make", "-s", "release"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode != 0 and "DEST=DIR" in r.stdout + r.stderr
