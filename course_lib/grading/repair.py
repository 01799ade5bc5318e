"""Repair a submission before grading, and say what was repaired: :func:`find_notebook`, :func:`repair`.

What honest students do that nbgrader alone grades as 0 (or as an error for everyone after them):
a renamed file (``lab03 (1).ipynb``), cells pasted into a fresh notebook (no grading metadata), a
duplicated answer or test cell, a test cell with ``grade: false``, a notebook in an old schema.
Every repaired notebook is rebuilt cell by cell from the lab's own cells and metadata (found by
grade id, or by content when the id is gone); a test, read-only or missing cell is the lab's.
A notebook with none of the lab's cells is rejected with its reason, never scored as 0.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat

STUBS = ("# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE")
KEYS = ("grade", "solution", "locked", "task", "points")


class Rejected(ValueError):
    """The submission cannot be graded; the message is the reason given to the student."""


def find_notebook(folder: Path, expected: str) -> tuple[Path, list[str]]:
    """The notebook ``folder/expected`` or, renamed, the only other one there."""
    if (folder / expected).is_file():
        return folder / expected, []
    found = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if len(found) == 1:
        return found[0], [f"the notebook was named {found[0].name!r}: graded as {expected!r}"]
    if not found:
        raise Rejected(f"no notebook in the submission (expected {expected!r})")
    raise Rejected(f"{len(found)} notebooks and none named {expected!r}: "
                   f"{', '.join(repr(p.name) for p in found)}; submit only {expected!r}")


def read_any(path: Path):
    """Read a notebook of any nbformat version, without trusting its schema."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8", errors="replace"))
        return nbformat.reads(json.dumps(raw), as_version=4, capture_validation_error={})
    except Exception as e:  # noqa: BLE001  (a broken file is a reason, not a crash)
        raise Rejected(f"{Path(path).name} is not a readable notebook ({type(e).__name__}: {e})") from None


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _kind(meta: dict) -> str:
    if meta.get("solution"):
        return "solution"
    if meta.get("grade"):
        return "test"
    return "locked" if meta.get("locked") or meta.get("task") else "other"


def _identify(cell, lab: dict, by_source: dict, by_first: dict) -> tuple[str | None, str | None]:
    meta = cell.get("metadata", {}).get("nbgrader") or {}
    gid = meta.get("grade_id")
    if gid in lab:
        return gid, None
    src = _source(cell)
    found = by_source.get(src.strip()) or by_first.get((cell.get("cell_type"), _first_line(src)))
    if found:
        why = "had no grading metadata" if not gid else f"had the unknown id {gid!r}"
        return found, f"a cell that {why} was recognised as {found!r} by its content"
    if gid:
        return None, f"a cell with the unknown id {gid!r} was kept as an ordinary cell"
    return None, None


def _new_cell(cell_type: str, source: str, metadata: dict | None = None):
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}.get(
        cell_type, nbformat.v4.new_raw_cell)
    new = make(source)
    if metadata:
        new.metadata["nbgrader"] = json.loads(json.dumps(metadata))
    return new


def repair(student, release) -> tuple[nbformat.NotebookNode, list[str]]:
    """``(repaired notebook, reasons)``: ``student`` rebuilt on the cells of ``release``."""
    lab = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells if "grade_id" in c.metadata.get("nbgrader", {})}
    by_source = {c.source.strip(): g for g, c in lab.items() if _kind(c.metadata.nbgrader) != "solution" and c.source.strip()}
    by_first = {}
    for g, c in lab.items():
        first = _first_line(c.source)
        if _kind(c.metadata.nbgrader) == "solution" and first and not first.startswith(STUBS):
            by_first.setdefault((c.cell_type, first), g)
    reasons, picked = [], []  # picked: (grade id or None, student cell)
    for cell in student.get("cells", []):
        gid, why = _identify(cell, lab, by_source, by_first)
        if why:
            reasons.append(why)
        picked.append((gid, cell))
    _attach_by_position(picked, release, reasons)
    if not any(g for g, _ in picked):
        raise Rejected("none of the lab's cells are in this notebook (is it the right lab?)")
    keep = {}  # grade id -> index in picked of the copy that is graded
    for i, (gid, cell) in enumerate(picked):
        if gid is None:
            continue
        if gid in keep:
            answered = _source(cell).strip() != lab[gid].source.strip()
            if _kind(lab[gid].metadata.nbgrader) == "solution" and answered:
                keep[gid] = i  # the later, edited copy is the one whose code ran last
            reasons.append(f"a duplicate of cell {gid!r} was dropped (graded: the last edited copy)")
        else:
            keep[gid] = i
    out, placed = [], set()
    for i, (gid, cell) in enumerate(picked):
        if gid is None:
            out.append(_new_cell(cell.get("cell_type", "raw"), _source(cell)))
        elif keep[gid] == i:
            out.append(_lab_cell(gid, lab[gid], cell, reasons))
            placed.add(gid)
    _put_back_missing(out, placed, release, reasons)
    nb = nbformat.v4.new_notebook(cells=out, metadata=json.loads(json.dumps(release.metadata)))
    return nb, reasons


def _attach_by_position(picked: list, release, reasons: list[str]) -> None:
    """An answer cell still missing is the unrecognised cell of its type right after the lab cell
    that precedes it (a written answer pasted without metadata has no other clue)."""
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells]
    found = {g for g, _ in picked if g}
    for k, gid in enumerate(ids):
        cell = release.cells[k]
        if gid is None or gid in found or _kind(cell.metadata.nbgrader) != "solution" or k == 0:
            continue
        before = ids[k - 1]
        at = next((i for i, (g, _) in enumerate(picked) if g == before and before), None)
        if at is not None and at + 1 < len(picked):
            g, candidate = picked[at + 1]
            if g is None and candidate.get("cell_type") == cell.cell_type:
                picked[at + 1] = (gid, candidate)
                found.add(gid)
                reasons.append(f"the cell after {before!r} was taken as the answer {gid!r} (its metadata was lost)")


def _lab_cell(gid: str, lab_cell, cell, reasons: list[str]):
    meta = lab_cell.metadata.nbgrader
    theirs = cell.get("metadata", {}).get("nbgrader") or {}
    if theirs and any(theirs.get(k) != meta.get(k) for k in KEYS):
        reasons.append(f"the grading metadata of cell {gid!r} was changed: the lab's was restored")
    if _kind(meta) == "solution":
        return _new_cell(lab_cell.cell_type, _source(cell), meta)
    if _source(cell).strip() != lab_cell.source.strip():
        reasons.append(f"{_kind(meta)} cell {gid!r} was edited: the original was put back")
    return _new_cell(lab_cell.cell_type, lab_cell.source, meta)


def _put_back_missing(out: list, placed: set, release, reasons: list[str]) -> None:
    """Insert each missing lab cell after the lab cell that precedes it in the lab."""
    previous = None
    for cell in release.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid is None:
            continue
        if gid not in placed:
            at = 0
            if previous is not None:
                at = next(i for i, c in enumerate(out) if c.metadata.get("nbgrader", {}).get("grade_id") == previous) + 1
            out.insert(at, _new_cell(cell.cell_type, cell.source, cell.metadata.nbgrader))
            placed.add(gid)
            what = "an answer cell" if _kind(cell.metadata.nbgrader) == "solution" else f"{_kind(cell.metadata.nbgrader)} cell"
            reasons.append(f"{what} {gid!r} was missing: the lab's was put back")
        previous = gid
