"""Write the student repository's tree: ``make release DEST=DIR`` (Python standard library only).

The instructor repository (private) holds everything; the student repository (public, the
``course_lib.notebook.REPO`` that Colab badges and setup cells point at) gets the files that git
tracks here minus what only graders may see:

- ``solutions/`` (solutions, hidden tests, graders' guides) and ``grading/`` except ``rubric.md``;
- the instructors' tooling and its tests (``INSTRUCTOR_ONLY`` below);
- in the files that are kept, every block from a line ``# BEGIN INSTRUCTOR ONLY`` to the next
  ``# END INSTRUCTOR ONLY`` (``<!-- BEGIN INSTRUCTOR ONLY -->`` in Markdown): the Makefile's
  targets that need ``solutions/``, ``grading/`` or the grading tooling, their lines of
  ``make help``, and the README's instructor section.

Then the tree is checked for leaks (:func:`find_leaks`) and the command fails if it finds any.
``DEST`` must be new, empty, or an earlier release (it holds ``RELEASE_MARK``): its files are then
replaced, and its ``.git`` is kept, so a clone of the student repository can be updated in place.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASE_MARK = ".student-release"
INSTRUCTOR_ONLY = (
    "solutions/",
    "grading/",            # nbgrader course root, gradebook, graders' README (rubric.md is kept)
    "lectures/README.md",  # the authors' guide: how solutions and hidden tests are written
    "scripts/make_release.py",
    "scripts/update_setup_cells.py",
    "scripts/colab_check.sh",
    "tests/test_grading",  # prefix: test_grading.py, test_grading_labNN.py (they hold solutions)
    "tests/test_assessment",  # prefix: the term's tests build exams with their answers
    "tests/test_lab_rules.py",  # reads the nbgrader sources in solutions/
    "tests/test_coverage.py",  # the goal map is built from solutions/ too (docs/coverage.md ships)
    "scripts/coverage.py",
    "course_lib/assessment/",  # the exam bank with its answers, the grade roll-up, LMS collection
    "course_lib/grading/",  # the autograder (sandbox, harness): it handles hidden tests
    "tests/lab_grading.py",  # helpers of the per-lab grading tests
    "tests/test_release.py",
    "tests/test_setup_cells.py",
)
KEEP = (  # public: students are graded by these and choose from them
    "grading/rubric.md", "grading/rubric_seminar.md", "grading/seminar_topics.md", "grading/seminar_template.md",
)
BLOCK_BEGIN, BLOCK_END = "# BEGIN INSTRUCTOR ONLY", "# END INSTRUCTOR ONLY"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN INSTRUCTOR ONLY")
BLOCK = re.compile(r"(?:###|===) BEGIN (SOLUTION|HIDDEN TESTS)(?: ===)?\n(.*?)(?:###|===) END \1", re.S)
MIN_SECRET_LINE = 20  # shorter lines ("return x", "pass") are too common to mean a leak


def tracked_files(root: Path = ROOT) -> list[str]:
    """Files git tracks (and new ones it does not ignore), relative POSIX paths."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    return sorted({p for p in out.split("\0") if p and (root / p).is_file()})


def is_public(path: str) -> bool:
    return path in KEEP or not path.startswith(INSTRUCTOR_ONLY)


def _prepare(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise SystemExit(f"DEST={dest} is a file; give a new or empty folder")
    if dest.is_dir():
        entries = [p for p in dest.iterdir() if p.name != ".git"]
        if entries and not (dest / RELEASE_MARK).is_file():
            raise SystemExit(f"DEST={dest} is not empty and holds no earlier release ({RELEASE_MARK}); "
                             "give a new or empty folder, or a clone of the student repository")
        for p in entries:  # an earlier release: replace it whole, keep its .git
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    dest.mkdir(parents=True, exist_ok=True)


def _marker(line: str) -> str | None:
    """``"BEGIN"`` or ``"END"`` for a block marker line (``# ...`` or ``<!-- ... -->``), else None."""
    body = line.strip()
    body = body[4:-3] if body.startswith("<!--") and body.endswith("-->") else body[1:] if body.startswith("#") else ""
    m = re.match(r"\s*(BEGIN|END) INSTRUCTOR ONLY\b", body)
    return m.group(1) if m else None


def strip_instructor_blocks(text: str, where: str) -> str:
    """``text`` without its lines from ``BLOCK_BEGIN`` to ``BLOCK_END`` (both included, each on a
    line of its own, as ``# ...`` or ``<!-- ... -->``); unbalanced or nested markers stop the release."""
    out, begun = [], None
    for n, line in enumerate(text.splitlines(keepends=True), start=1):
        if _marker(line) == "BEGIN":
            if begun:
                raise SystemExit(f"{where}:{n}: {BLOCK_BEGIN!r} inside the block begun on line {begun}; "
                                 f"close that one with {BLOCK_END!r} first")
            begun = n
        elif _marker(line) == "END":
            if not begun:
                raise SystemExit(f"{where}:{n}: {BLOCK_END!r} without a {BLOCK_BEGIN!r} above it")
            begun = None
        elif not begun:
            out.append(line)
    if begun:
        raise SystemExit(f"{where}:{begun}: {BLOCK_BEGIN!r} is never closed by {BLOCK_END!r}")
    return "".join(out)


def _copy(src: Path, dst: Path, rel: str) -> None:
    text = _text(src)
    if text is None or "BEGIN INSTRUCTOR ONLY" not in text:
        shutil.copy2(src, dst)
        return
    dst.write_text(strip_instructor_blocks(text, rel), encoding="utf-8")
    shutil.copystat(src, dst)


def write_release(dest: Path, root: Path = ROOT) -> list[str]:
    """Copy the public files of ``root`` to ``dest``, instructor-only blocks cut; return their paths."""
    dest = Path(dest).resolve()
    if dest == root.resolve() or root.resolve() in dest.parents:
        raise SystemExit(f"DEST={dest} is inside the instructor repository; give a folder outside it")
    _prepare(dest)
    files = [p for p in tracked_files(root) if is_public(p)]
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        _copy(root / rel, dest / rel, rel)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    (dest / RELEASE_MARK).write_text(f"student release of instructor commit {commit or 'unknown'}\n")
    return files


def _cell_sources(path: Path) -> list[str]:
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary (checkpoints, images): holds no source text


def _lines(text: str) -> set[str]:
    # notebooks are JSON: compare the cells' text, not their escaped JSON lines
    return {line.strip() for line in text.splitlines() if line.strip()}


def secret_lines(root: Path = ROOT) -> set[str]:
    """Lines of solutions, hidden tests and graders' guides that no public source file contains."""
    secret = set()
    for nb in (root / "solutions").rglob("*.ipynb"):
        for source in _cell_sources(nb):
            for match in BLOCK.finditer(source + "\n"):
                secret |= {line for line in _lines(match.group(2)) if len(line) >= MIN_SECRET_LINE}
    public = set()
    for rel in tracked_files(root):
        if is_public(rel) and (text := _text(root / rel)) is not None:
            public |= _lines("\n".join(_cell_sources(root / rel)) if rel.endswith(".ipynb") else text)
    return secret - public


def find_leaks(dest: Path, root: Path = ROOT) -> list[str]:
    """What of the instructor-only material is in the tree ``dest``: one line per finding."""
    dest = Path(dest)
    leaks, secret = [], secret_lines(root)
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and ".git" not in p.relative_to(dest).parts):
        rel = path.relative_to(dest).as_posix()
        if rel.startswith(("solutions/", "grading/")) and rel not in KEEP or path.name == "gradebook.db":
            leaks.append(f"{rel}: instructor-only file")
            continue
        text = _text(path)
        if text is None:
            continue
        leaks += [f"{rel}: contains {m!r}" for m in MARKERS if m in text]
        found = _lines("\n".join(_cell_sources(path)) if rel.endswith(".ipynb") else text) & secret
        leaks += [f"{rel}: contains solution/hidden-test line {line!r}" for line in sorted(found)[:3]]
    return leaks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="new or empty folder, or an earlier release")
    args = parser.parse_args(argv)
    files = write_release(args.dest)
    leaks = find_leaks(args.dest)
    if leaks:
        print("the release leaks instructor-only material:\n  " + "\n  ".join(leaks), file=sys.stderr)
        return 1
    print(f"wrote the student release to {args.dest.resolve()}: {len(files)} files, no leaks found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
