"""``feedback`` and ``grades``: what goes back to students and into the course's records.

Feedback is one HTML page per submission: the score of every test cell, the student's notebook with
its outputs, the visible tests, and the hidden tests replaced by a one-line note (so feedback reveals
no hidden input); outputs are already sanitised, and nbconvert sanitises the HTML again. A
submission that was not graded gets a page with the reason. ``grades.csv`` is ``nbgrader export``
plus a ``status`` column (``graded``, ``NOT GRADED: reason`` or ``not submitted``), so a failure is
never read as a zero.
"""
from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from . import course, gradebook, sanitize


def _reports(root: Path) -> dict[tuple[str, str], dict]:
    out = {}
    for path in sorted((root / "reports").glob("*.json")):
        try:
            report = json.loads(path.read_text())
        except ValueError:
            continue
        for e in report.get("submissions", []):
            out[(e["student"], e["assignment"])] = e
    return out


def _score_table(gb, name: str, student: str, notebook: str, nb) -> str:
    rows, total, best = [], 0.0, 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        grade = gb.find_grade(meta["grade_id"], notebook, name, student)
        score = grade.score
        shown = "to be graded by hand" if score is None else f"{score:g}"
        rows.append(f"| {meta['grade_id']} | {shown} | {grade.max_score:g} |")
        total += score or 0.0
        best += grade.max_score
    return "\n".join([f"# Feedback: {name}", "", f"**Score: {total:g} / {best:g}**", "",
                      "| cell | score | out of |", "|---|---|---|", *rows])


def feedback_page(root: Path, name: str, student: str, path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    with Gradebook(gradebook.db_url(root)) as gb:
        table = _score_table(gb, name, student, path.stem, nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            cell.source = sanitize.strip_hidden_tests(cell.source)
        cell.metadata.pop("nbgrader", None)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(table))
    return _html(nb)


def _html(nb) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(sanitize_html=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb)
    return body


def not_graded_page(name: str, entry: dict) -> str:
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in entry.get("reasons", []))
    return (f"<html><body><h1>Feedback: {html.escape(name)}</h1><p><b>Score: none.</b> "
            f"{html.escape(entry['status'])}</p><ul>{reasons}</ul>"
            "<p>Your instructor has been told and will look at it.</p></body></html>")


def feedback(root: Path = course.DEFAULT_ROOT, names: list[str] | None = None) -> list[str]:
    """Write ``ROOT/feedback/STUDENT/A/NOTEBOOK.html`` for every graded or not-graded submission."""
    root = course.check_root(root)
    reports = _reports(root)
    graded = sorted({d.name for d in Path(root, "autograded").glob("*/*") if d.is_dir()} |
                    {a for _, a in reports})
    if not graded:
        print(f"nothing autograded under {root / 'autograded'}: run autograde first")
        return []
    names = course.pick(names, graded, str(root / "autograded"))
    failed = []
    for name in names:
        for (student, assignment), entry in sorted(reports.items()):
            if assignment != name:
                continue
            dest = root / "feedback" / student / name
            try:
                dest.mkdir(parents=True, exist_ok=True)
                if entry["status"] != "graded":
                    (dest / f"{name}.html").write_text(not_graded_page(name, entry))
                    continue
                for path in sorted((root / "autograded" / student / name).glob("*.ipynb")):
                    (dest / f"{path.stem}.html").write_text(feedback_page(root, name, student, path))
            except Exception as e:  # noqa: BLE001  (one page failing must not cost the others theirs)
                failed.append(f"{name} {student}: {type(e).__name__}: {e}")
        print(f"feedback for {name} -> {root / 'feedback'}")
    if failed:
        raise course.GradingError("feedback failed for:\n" + "\n".join(failed))
    return names


def export_grades(root: Path = course.DEFAULT_ROOT, csv_path: Path | None = None) -> Path:
    """``nbgrader export`` to CSV (default ``ROOT/grades.csv``) with a ``status`` column added."""
    root = course.check_root(root)
    if not (root / "gradebook.db").exists():
        raise FileNotFoundError(f"no gradebook {root / 'gradebook.db'}: run generate and autograde first")
    csv_path = Path(csv_path).resolve() if csv_path else root / "grades.csv"
    course.nbgrader(root, "export", f"--to={csv_path}")
    reports = _reports(root)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    with Gradebook(gradebook.db_url(root)) as gb:
        for row in rows:
            entry = reports.get((row["student_id"], row["assignment"]))
            if entry:
                row["status"] = entry["status"]
            else:
                try:
                    gb.find_submission(row["assignment"], row["student_id"])
                    row["status"] = "graded"
                except MissingEntry:
                    row["status"] = "not submitted"
    fields = list(rows[0].keys()) if rows else ["assignment", "student_id", "score", "status"]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    not_graded = [r for r in rows if r["status"].startswith("NOT GRADED")]
    print(f"grades -> {csv_path}" + (f" ({len(not_graded)} NOT GRADED: see the status column)" if not_graded else ""))
    return csv_path
