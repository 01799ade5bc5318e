"""Collect an LMS download (Moodle's "Download all submissions" ZIP) with ``nbgrader zip_collect``.

Moodle names each file ``Full Name_PARTICIPANT_assignsubmission_file_NOTEBOOK`` (flat) or puts it
in a folder ``Full Name_PARTICIPANT_assignsubmission_file/NOTEBOOK``. The participant number is
Moodle's per-assignment id; its grading worksheet (CSV: ``Identifier`` "Participant N",
``Email address``, ``ID number``, ``Last modified (submission)``) maps it to the student and gives
the submission time, which nbgrader writes to ``timestamp.txt`` for the late policy.

Every file in the ZIP ends up in exactly one line of the report: placed (student, notebook) or
not placed, with the reason and what to do.
"""
from __future__ import annotations

import csv
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from dateutil import parser as dateparser
from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

from . import term as _term

MOODLE_REGEXP = (r".*[/\\](?P<full_name>[^/\\]+?)_(?P<participant>\d+)_assignsubmission_file_?[/\\]?"
                 r"(?P<file_id>[^/\\]+)$")


def read_worksheet(path, utc_offset: str = "+00:00") -> dict[str, dict]:
    """Moodle grading worksheet CSV -> ``{participant: {"student_id", "timestamp"}}``.

    The student id is the ``ID number`` column when filled in, else the e-mail's local part;
    the timestamp is ``Last modified (submission)`` in the server's time zone ``utc_offset``.
    """
    rows = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            ident = row.get("Identifier", "")
            m = re.search(r"(\d+)", ident)
            if not m:
                raise ValueError(f"{path}: row without a participant number in 'Identifier' ({ident!r}); "
                                 "download the worksheet again from Moodle (Assignment > Download grading worksheet)")
            student = (row.get("ID number") or "").strip() or (row.get("Email address") or "").split("@")[0].strip()
            modified = (row.get("Last modified (submission)") or "").strip()
            stamp = None
            if modified and modified != "-":
                # one token with the offset: nbgrader's parse_utc reads a separate "+0100" as seconds
                stamp = dateparser.parse(modified).strftime("%Y-%m-%dT%H:%M:%S") + utc_offset
            rows[m.group(1)] = {"student_id": student or f"participant{m.group(1)}", "timestamp": stamp}
    return rows


class MoodleCollector(FileNameCollectorPlugin):
    """nbgrader collector for Moodle file names; ``worksheet`` maps participants to students."""

    named_regexp = Unicode(MOODLE_REGEXP).tag(config=True)
    worksheet = Unicode("", help="Moodle grading worksheet CSV (participant -> student, time)").tag(config=True)
    utc_offset = Unicode("+00:00", help="time zone of the worksheet's times, e.g. +01:00").tag(config=True)

    def collect(self, submitted_file: str):
        info = super().collect(submitted_file)
        if not info:
            return None
        return self.place(info)

    def place(self, info: dict) -> dict | None:
        if not self.worksheet:
            return {"student_id": f"participant{info['participant']}", "file_id": info["file_id"]}
        found = read_worksheet(self.worksheet, self.utc_offset).get(info["participant"])
        if found is None:
            self.log.warning("participant %s is not in the worksheet %s", info["participant"], self.worksheet)
            return None
        out = {"student_id": found["student_id"], "file_id": info["file_id"]}
        if found["timestamp"]:
            out["timestamp"] = found["timestamp"]
        return out


@dataclass
class Placement:
    file: str               # path inside the ZIP
    student: str | None     # None: not placed
    notebook: str | None
    reason: str = ""


def plan(extracted: Path, released: list[str], worksheet=None, utc_offset="+00:00") -> list[Placement]:
    """Where each extracted file goes, with the same rules ``zip_collect --strict`` applies."""
    plugin = MoodleCollector(worksheet=str(worksheet or ""), utc_offset=utc_offset)
    sheet = read_worksheet(worksheet, utc_offset) if worksheet else None
    out = []
    for path in sorted(p for p in Path(extracted).rglob("*") if p.is_file()):
        rel = str(path.relative_to(extracted))
        m = re.match(MOODLE_REGEXP, str(path))
        if path.suffix != ".ipynb":
            out.append(Placement(rel, None, None, f"not a notebook ({path.suffix or 'no extension'}): "
                                                  "ask for the .ipynb, or grade it by hand"))
        elif not m:
            out.append(Placement(rel, None, None, "name is not Moodle's NAME_PARTICIPANT_assignsubmission_file_FILE"))
        elif sheet is not None and m["participant"] not in sheet:
            out.append(Placement(rel, None, None, f"participant {m['participant']} is not in the worksheet"))
        elif m["file_id"] not in released:
            out.append(Placement(rel, None, None, f"notebook {m['file_id']!r} is not one of {', '.join(released)}: "
                                                  "rename it and copy it to submitted/STUDENT/ASSIGNMENT/"))
        else:
            placed = plugin.place(m.groupdict())
            out.append(Placement(rel, placed["student_id"], m["file_id"]))
    return out


def collect(root: Path, assignment: str, zip_path: Path, worksheet=None, utc_offset: str = "+00:00",
            solutions: Path | None = None) -> list[Placement]:
    """Run ``nbgrader zip_collect`` on ``zip_path`` for ``assignment``; print and return the report.

    The ZIP is copied to ``ROOT/downloaded/ASSIGNMENT/archive/``; files go to
    ``ROOT/submitted/STUDENT/ASSIGNMENT/`` (with ``timestamp.txt`` when the worksheet has the time).
    The report is also written to ``ROOT/downloaded/ASSIGNMENT/report.txt``.
    """
    from course_lib import grading

    root = Path(root).resolve()
    _term.load(root)  # a missing or broken term file is reported before anything moves
    zip_path = Path(zip_path).resolve()
    if not zip_path.is_file():
        raise FileNotFoundError(f"no ZIP {zip_path}: download it from the LMS (Moodle: 'Download all submissions')")
    if worksheet is not None and not Path(worksheet).is_file():
        raise FileNotFoundError(f"no worksheet {worksheet}: download it (Moodle: 'Download grading worksheet') or omit it")
    release = root / "release" / assignment
    if not any(release.glob("*.ipynb")):
        grading.generate(root, Path(solutions) if solutions else grading.DEFAULT_SOLUTIONS, labs=None, names=[assignment])
    released = sorted(p.name for p in release.glob("*.ipynb"))
    base = root / "downloaded" / assignment
    shutil.rmtree(base, ignore_errors=True)
    (base / "archive").mkdir(parents=True)
    shutil.copy2(zip_path, base / "archive" / zip_path.name)
    args = ["zip_collect", assignment, "--force", "--strict",
            "--collector=course_lib.assessment.collect.MoodleCollector",
            f"--MoodleCollector.utc_offset={utc_offset}"]
    if worksheet is not None:
        args.append(f"--MoodleCollector.worksheet={Path(worksheet).resolve()}")
    grading.nbgrader(root, *args)
    report = plan(base / "extracted", released, worksheet, utc_offset)
    text = format_report(assignment, zip_path.name, report)
    (base / "report.txt").write_text(text)
    print(text)
    return report


def format_report(assignment: str, zip_name: str, report: list[Placement]) -> str:
    placed = [p for p in report if p.student]
    lost = [p for p in report if not p.student]
    lines = [f"collected {assignment} from {zip_name}: {len(placed)} placed, {len(lost)} NOT placed"]
    lines += [f"  placed   {p.student}/{assignment}/{p.notebook}  <- {p.file}" for p in placed]
    lines += [f"  NOT PLACED {p.file}: {p.reason}" for p in lost]
    return "\n".join(lines) + "\n"
