"""`make release DEST=DIR`: the student repository's tree, without answers."""
from __future__ import annotations

import importlib.util
import json
import re
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


STUDENT_TARGETS = {"help", "install", "lab", "test", "test-all", "site", "zoo"}


def _targets(makefile: Path) -> set[str]:
    """Rule names of a Makefile (not variables' rules such as ``$(STAMP):``, not ``.PHONY``)."""
    return {m.group(1) for m in re.finditer(r"^([A-Za-z][\w-]*):(?!=)", makefile.read_text(), re.M)}


def _make(tree: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=tree, capture_output=True, text=True)


def test_release_makefile_offers_only_what_works_for_a_student(release):
    makefile = release / "Makefile"
    assert make_release.BLOCK_BEGIN not in makefile.read_text() and make_release.BLOCK_END not in makefile.read_text()
    assert _targets(makefile) == STUDENT_TARGETS
    assert STUDENT_TARGETS < _targets(ROOT / "Makefile"), "the instructor's Makefile keeps every target"
    listed = set(re.findall(r"^make ([\w-]+)", _make(release, "-s", "help").stdout, re.M))
    assert listed == STUDENT_TARGETS - {"help"}, "make help lists exactly the targets the release has"
    for target in sorted(STUDENT_TARGETS):
        dry = _make(release, "-n", target)  # also checks that each prerequisite file is in the release
        assert dry.returncode == 0, f"make -n {target}: {dry.stdout + dry.stderr}"
        for module in re.findall(r"-m ((?:course_lib|scripts)[\w.]*)", dry.stdout):
            assert (release / module.replace(".", "/")).is_dir() or \
                (release / (module.replace(".", "/") + ".py")).is_file(), f"make {target} runs {module}, not released"
        for path in re.findall(r"(?<![\w./$-])((?:scripts|etc|course_lib)/[\w./-]+)", dry.stdout):
            assert (release / path).exists(), f"make {target} needs {path}, not released"
    for gone in ("autograde", "feedback", "grades", "exam", "release", "instructor-lab"):
        assert "No rule to make target" in _make(release, "-n", gone).stderr


def test_instructor_blocks_are_cut_and_must_balance():
    text = "a:\n\t@echo a\n# BEGIN INSTRUCTOR ONLY: why\n\t@echo b\nb:\n# END INSTRUCTOR ONLY\nc:\n"
    assert make_release.strip_instructor_blocks(text, "Makefile") == "a:\n\t@echo a\nc:\n"
    md = "# Title\n<!-- BEGIN INSTRUCTOR ONLY -->\n## For instructors\n<!-- END INSTRUCTOR ONLY -->\n## Licence\n"
    assert make_release.strip_instructor_blocks(md, "README.md") == "# Title\n## Licence\n"
    for bad, why in [("# BEGIN INSTRUCTOR ONLY\nx\n", "never closed"), ("x\n# END INSTRUCTOR ONLY\n", "without"),
                     ("# BEGIN INSTRUCTOR ONLY\n# BEGIN INSTRUCTOR ONLY\n", "inside the block")]:
        with pytest.raises(SystemExit, match=why):
            make_release.strip_instructor_blocks(bad, "Makefile")
