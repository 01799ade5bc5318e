"""Give every notebook the canonical Colab badge and setup cell of ``course_lib.notebook``.

    python scripts/update_setup_cells.py           # rewrite lectures/ and solutions/, then run `make labs`
    python scripts/update_setup_cells.py --check   # list the notebooks that differ; exit 1 if any

The setup cell is the code cell right after the title cell: an outdated one is replaced, a
missing one (labs) is inserted as an ordinary cell (no nbgrader metadata, so it is neither graded
nor locked). The title cell's "Open in Colab" badge is replaced by (or given) the one pointing at
``REPO`` at ``RELEASE``; a lab's badge points at its student version under ``labs/``.
The student labs are generated from ``solutions/``, so `make labs` carries the change to them.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from course_lib.notebook import colab_badge, is_setup_cell, setup_cell  # noqa: E402

BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


# Assignments done in the course's own JupyterLab, never on Colab: the final exam (its cells are
# the exam's slots, checked against the question bank) and the seminar paper (prose only).
NOT_ON_COLAB = ("final_exam", "seminar_paper")


def notebooks(root: Path = ROOT, folders=("lectures", "solutions", "labs")) -> list[Path]:
    """Every course notebook under ``folders`` (checkpoints and ``NOT_ON_COLAB`` skipped), sorted."""
    found = []
    for folder in folders:
        found += [p for p in (root / folder).rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and p.parent.name not in NOT_ON_COLAB]
    return sorted(found)


def _with_badge(title: str, badge: str) -> str:
    if BADGE.search(title):
        return BADGE.sub(lambda _: badge, title, count=1)
    head, _, rest = title.partition("\n")  # no badge yet: put it under the heading line
    return f"{head}\n\n{badge}\n" + (f"\n{rest.lstrip()}" if rest.strip() else "")


def update(nb, rel_path: str) -> list[str]:
    """Bring notebook ``nb`` (at ``rel_path`` in the repository) in line; return what changed."""
    changes = []
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        raise ValueError(f"{rel_path}: the first cell must be the markdown title cell")
    title = _with_badge(nb.cells[0].source, colab_badge(rel_path))
    if title != nb.cells[0].source:
        nb.cells[0].source = title
        changes.append("badge")
    wanted = setup_cell()
    if len(nb.cells) > 1 and is_setup_cell(nb.cells[1]):
        if nb.cells[1].source != wanted:
            nb.cells[1].source = wanted
            changes.append("setup cell replaced")
    else:
        nb.cells.insert(1, nbformat.v4.new_code_cell(wanted))
        changes.append("setup cell added")
    # an id-less cell (nbformat < 4.5 notebooks) is left as it is; new cells get one
    return changes


def run(paths: list[Path], root: Path = ROOT, check: bool = False) -> dict[str, list[str]]:
    """Update (or with ``check``, only inspect) ``paths``; ``{relative path: changes}`` of those that differ."""
    differ = {}
    for path in paths:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        nb = nbformat.read(path, as_version=4)
        changes = update(nb, rel)
        if changes:
            differ[rel] = changes
            if not check:
                nbformat.write(nb, path)
    return differ


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook differs")
    parser.add_argument("paths", nargs="*", type=Path,
                        help="notebooks (default: lectures/ and solutions/; with --check also labs/)")
    args = parser.parse_args(argv)
    folders = ("lectures", "solutions", "labs") if args.check else ("lectures", "solutions")
    paths = args.paths or notebooks(ROOT, folders)
    differ = run(paths, ROOT, check=args.check)
    for rel, changes in differ.items():
        print(f"{'differs' if args.check else 'updated'}: {rel} ({', '.join(changes)})")
    if args.check:
        if differ:
            print("run `python scripts/update_setup_cells.py` and then `make labs`", file=sys.stderr)
        return 1 if differ else 0
    if any(r.startswith("solutions/") for r in differ):
        print("now run `make labs` so that labs/ gets the same cells")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
