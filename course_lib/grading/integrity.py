"""Checksums of what a grading batch must not change: :func:`snapshot` before, :func:`changed` after."""
from __future__ import annotations

from pathlib import Path

from ..project import sha256 as _digest

# what grading writes; everything else under the course root must be byte-identical afterwards
WRITTEN = ("autograded", "feedback", "backups", "logs", "reports", "gradebook.db", "gradebook.db-journal",
           "grades.csv", "nbgrader.log")


def snapshot(*roots: Path, skip: tuple[str, ...] = WRITTEN) -> dict[str, str]:
    """``{path: sha256}`` of every file under ``roots`` (a file root is itself), minus ``skip``."""
    out = {}
    for root in roots:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
        for path in files:
            rel = path.relative_to(root) if root.is_dir() else Path(path.name)
            if rel.parts and rel.parts[0] in skip:
                continue
            out[str(path)] = "symlink:" + str(path.readlink()) if path.is_symlink() else _digest(path)
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Human-readable differences: added, removed and modified files."""
    out = [f"modified {p}" for p in before if p in after and before[p] != after[p]]
    out += [f"removed {p}" for p in before if p not in after]
    out += [f"added {p}" for p in after if p not in before]
    return sorted(out)
