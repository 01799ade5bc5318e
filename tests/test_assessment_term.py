"""One simulated term on a temporary course root, with the real nbgrader commands.

Three students (alice, bob, carol); a small lab collected from a Moodle ZIP (bob two days late,
carol's file renamed and a PDF: both reported as not placed); the seminar paper (bob one day late),
the project defence (graded without running it, so its measured outputs survive) and the exam
(a variant per student; carol does not sit it). Hand grading is done through nbgrader's gradebook
API, as formgrader does. The roll-up then gives the expected totals, letters and pass/fail, and
flags carol's missing exam.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_lib.assessment import bank as exam_bank

REPO = Path(__file__).resolve().parents[1]
LAB = "lab99_tiny"
STUDENTS = ["alice", "bob", "carol"]
# hand-given points per graded cell (formgrader's job in a real term)
SEMINAR = {"alice": [4, 7, 7, 5, 4], "bob": [3, 5, 5, 4, 3], "carol": [2, 4, 4, 3, 2]}  # 27, 20, 15
DEFENCE = {"alice": [6, 7, 11, 5, 7], "bob": [3, 4, 7, 3, 5], "carol": [4, 5, 8, 4, 4]}  # 36, 22, 25
EXAM_SHORT = {"alice": [4, 3], "bob": [2, 2]}
BOB_CLOSED_RIGHT = 4  # bob answers his first 4 closed questions right, the other 7 wrong


def run(*args, root, solutions, module="course_lib.assessment"):
    cmd = [sys.executable, "-m", module, *args] if module == "course_lib.grading" else \
        [sys.executable, "-m", module, "--root", str(root), "--solutions", str(solutions), *args]
    if module == "course_lib.grading":
        cmd += ["--root", str(root), "--solutions", str(solutions)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def tiny_lab(folder: Path) -> None:
    """A 20-point lab: one function, one test cell (real nbgrader metadata)."""
    def meta(gid, **kw):
        return {"nbgrader": {"grade_id": gid, "schema_version": 3, "locked": False, "task": False, **kw}}
    cells = [nbformat.v4.new_code_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                                       metadata=meta("double", grade=False, solution=True)),
             nbformat.v4.new_code_cell("assert double(2) == 4, f'double(2) gave {double(2)}, expected 4'",
                                       metadata=meta("test-double", grade=True, solution=False, points=20, locked=True))]
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}}), folder / f"{LAB}.ipynb")


def term_file(root: Path) -> None:
    text = (REPO / "grading" / "term.toml").read_text()
    text = text.replace('assignments = ["lab03_quantization", "lab05_weight_sharing_search"]', f'assignments = ["{LAB}"]')
    text = text.replace("lab03_quantization = ", f"{LAB} = ")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("lab05_"))
    (root / "term.toml").write_text(text + "\n")


def submit(root: Path, student: str, assignment: str, nb, timestamp: str | None = None) -> Path:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    if timestamp:
        (folder / "timestamp.txt").write_text(timestamp)
    return folder


def moodle_zip(tmp: Path, solved) -> tuple[Path, Path]:
    """A 'Download all submissions' ZIP and its grading worksheet."""
    path = tmp / "Edge ML-Lab 99-123.zip"
    text = nbformat.writes(solved)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"Alice Smith_101_assignsubmission_file_{LAB}.ipynb", text)             # flat
        z.writestr(f"Bob Jones_102_assignsubmission_file/{LAB}.ipynb", text)               # in folders
        z.writestr(f"Carol White_103_assignsubmission_file_{LAB} (1).ipynb", text)         # renamed
        z.writestr("Carol White_103_assignsubmission_file_notes.pdf", b"%PDF-1.4")        # not a notebook
    sheet = tmp / "worksheet.csv"
    sheet.write_text("Identifier,Full name,Email address,ID number,Status,Last modified (submission)\n"
                     'Participant 101,Alice Smith,alice@uni.example,alice,Submitted,"Friday, 12 March 2027, 8:00 PM"\n'
                     'Participant 102,Bob Jones,bob@uni.example,,Submitted,"Monday, 15 March 2027, 1:00 AM"\n'
                     'Participant 103,Carol White,carol@uni.example,carol,Submitted,"Friday, 12 March 2027, 9:00 PM"\n')
    return path, sheet


def answered_exam(copy_path: Path, items, right: int | None = None):
    """The student's copy with answers: the first ``right`` closed items right, the rest wrong."""
    nb = nbformat.read(copy_path, 4)
    answer_cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    closed = 0
    for cell, item in zip(answer_cells, items):
        if cell.cell_type == "markdown":
            cell.source = "Rounding error and clipping error; calibration picks the range."
            continue
        good = right is None or closed < right
        closed += 1
        if item.options:
            letter = exam_bank.LETTERS[item.answer if good else (item.answer + 1) % len(item.options)]
            cell.source = f'answer = "{letter}"'
        elif item.id == "w03-scale-asymmetric" and good:
            cell.source = "answer = 4 / 255  # (max - min) / 255"
        else:
            cell.source = f"answer = {item.answer if good else 2 * item.answer + 1}"
    return nb


def hand_grade(root: Path, assignment: str, student: str, points: dict) -> None:
    """What a grader does in formgrader: a score per hand-graded cell."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for grade_id, score in points.items():
            grade = gb.find_grade(grade_id, assignment, assignment, student)
            grade.manual_score, grade.needs_manual_grade = score, False
        gb.db.commit()


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("term")
    root, solutions = tmp / "grading", tmp / "solutions"
    root.mkdir()
    shutil.copy(REPO / "grading" / "nbgrader_config.py", root)
    term_file(root)
    for name in ["project_defence", "seminar_paper", "final_exam"]:
        shutil.copytree(REPO / "solutions" / name, solutions / name)
    tiny_lab(solutions / LAB)
    out = {"root": root, "solutions": solutions, "tmp": tmp}
    out["schedule"] = run("schedule", root=root, solutions=solutions)

    # the lab, from the LMS
    solved = nbformat.read(solutions / LAB / f"{LAB}.ipynb", 4)
    zip_path, sheet = moodle_zip(tmp, solved)
    out["collect"] = run("collect", LAB, str(zip_path), "--worksheet", str(sheet), "--utc-offset", "+01:00",
                         root=root, solutions=solutions)

    # seminar and defence, handed in directly (bob's seminar a day late); the defence carries
    # an output measured elsewhere, which grading must not erase
    seminar = nbformat.read(root / "release" / "seminar_paper" / "seminar_paper.ipynb", 4)
    defence = nbformat.read(root / "release" / "project_defence" / "project_defence.ipynb", 4)
    code = [c for c in defence.cells if c.cell_type == "code"][0]
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="int8 p50 0.412 ms on Jetson Orin Nano\n")]
    for s in STUDENTS:
        submit(root, s, "seminar_paper", seminar,
               "2027-05-15 09:00:00+02:00" if s == "bob" else "2027-05-14 18:00:00+02:00")
        submit(root, s, "project_defence", defence, "2027-05-27 20:00:00+02:00")

    # the exam: a copy per student; alice and bob sit it, carol does not
    out["exam"] = run("exam", "make", "--students", "alice,bob,carol", root=root, solutions=solutions)
    record = json.loads((root / "exam" / "variants.json").read_text())
    bank = exam_bank.load_bank(record["bank"])
    items = {s: [bank.item(i) for i in ids] for s, ids in record["students"].items()}
    out["items"] = items
    submit(root, "alice", "final_exam", answered_exam(root / "exam" / "alice" / "final_exam.ipynb", items["alice"]),
           "2027-06-11 11:00:00+02:00")
    submit(root, "bob", "final_exam", answered_exam(root / "exam" / "bob" / "final_exam.ipynb", items["bob"],
                                                    BOB_CLOSED_RIGHT), "2027-06-11 11:30:00+02:00")

    # make autograde (the lab; the others are graded without running them), then hand grading
    run("autograde", LAB, root=root, solutions=solutions, module="course_lib.grading")
    out["finish"] = run("finish-autograde", root=root, solutions=solutions)
    seminar_ids = ["summary", "method", "evidence", "course", "writing"]
    defence_ids = ["goals", "methods", "experiments", "conclusions", "defence"]
    for s in STUDENTS:
        hand_grade(root, "seminar_paper", s, dict(zip(seminar_ids, SEMINAR[s])))
        hand_grade(root, "project_defence", s, dict(zip(defence_ids, DEFENCE[s])))
    for s, (a, b) in EXAM_SHORT.items():
        hand_grade(root, "final_exam", s, {"q12": a, "q13": b})

    # make grades: the existing export, then the roll-up
    run("grades", root=root, solutions=solutions, module="course_lib.grading")
    out["rollup"] = run("rollup", root=root, solutions=solutions)
    with open(root / "course_totals.csv") as f:
        out["totals"] = {r["student_id"]: r for r in csv.DictReader(f)}
    return out


def test_due_dates_are_in_the_gradebook(term):
    with Gradebook(f"sqlite:///{term['root'] / 'gradebook.db'}") as gb:
        due = {a.name: a.duedate for a in gb.assignments}
    assert str(due[LAB]) == "2027-03-12 22:59:00", due  # 23:59 at +01:00, stored in UTC
    assert str(due["seminar_paper"]) == "2027-05-14 21:59:00", due


def test_moodle_zip_is_collected_and_unplaceable_files_are_reported(term):
    report = term["collect"]
    assert "2 placed, 2 NOT placed" in report, report
    assert f"placed   alice/{LAB}/{LAB}.ipynb" in report and f"placed   bob/{LAB}/{LAB}.ipynb" in report, report
    assert f"{LAB} (1).ipynb" in report and "rename it" in report, report
    assert "notes.pdf: not a notebook" in report, report
    sub = term["root"] / "submitted"
    assert (sub / "alice" / LAB / f"{LAB}.ipynb").is_file() and not (sub / "carol" / LAB).exists()
    # the worksheet's time (server time +01:00) became nbgrader's timestamp, in UTC
    assert (sub / "bob" / LAB / "timestamp.txt").read_text().startswith("2027-03-15 00:00:00")


def test_late_lab_is_penalised_by_the_policy_in_nbgrader(term):
    """bob: 2 days 1 hour late -> 3 started days x 10 % of 20 points = 6 points (nbgrader's plugin step)."""
    with Gradebook(f"sqlite:///{term['root'] / 'gradebook.db'}") as gb:
        bob, alice = gb.find_submission(LAB, "bob"), gb.find_submission(LAB, "alice")
        assert bob.score == 20 and bob.late_submission_penalty == pytest.approx(6.0)
        assert alice.score == 20 and not alice.late_submission_penalty
    assert term["totals"]["bob"]["labs_fraction"] == "0.7" and term["totals"]["alice"]["labs_fraction"] == "1.0"


def test_defence_outputs_survive_autograding(term):
    graded = nbformat.read(term["root"] / "autograded" / "alice" / "project_defence" / "project_defence.ipynb", 4)
    code = [c for c in graded.cells if c.cell_type == "code"][0]
    assert "int8 p50 0.412 ms on Jetson Orin Nano" in "".join(o.get("text", "") for o in code.outputs)
    assert "without running it" in term["finish"]


def test_exam_copies_differ_but_weigh_the_same(term):
    root = term["root"]
    def graded_cells(student):
        nb = nbformat.read(root / "exam" / student / "final_exam.ipynb", 4)
        return ([(c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"].get("points")) for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("grade")],
                [c.source for c in nb.cells if "exam" in c.metadata])
    (cells_a, text_a), (cells_b, text_b) = graded_cells("alice"), graded_cells("bob")
    assert cells_a == cells_b and sum(p for _, p in cells_a) == 30
    assert text_a != text_b
    assert [i.slot for i in term["items"]["alice"]] == [i.slot for i in term["items"]["bob"]]


def test_exam_closed_items_scored_right_and_wrong(term):
    with Gradebook(f"sqlite:///{term['root'] / 'gradebook.db'}") as gb:
        def closed(student):
            return [gb.find_grade(f"q{k:02d}", "final_exam", "final_exam", student).manual_score for k in range(1, 12)]
        assert closed("alice") == [2.0] * 11
        assert closed("bob") == [2.0] * BOB_CLOSED_RIGHT + [0.0] * (11 - BOB_CLOSED_RIGHT)
        comment = gb.find_comment("q11", "final_exam", "final_exam", "bob").manual_comment
    assert comment.startswith("expected"), comment


def test_course_totals_letters_and_results(term):
    t = term["totals"]
    # alice: 27 + 36 + (22 + 7) = 92 -> A, pass
    assert (t["alice"]["seminar_points"], t["alice"]["project_points"], t["alice"]["exam_points"]) == ("27.0", "36.0", "29.0")
    assert (t["alice"]["total"], t["alice"]["letter"], t["alice"]["result"]) == ("92.0", "A", "pass")
    # bob: seminar 20 one day late -> 18; project 22; exam 4 x 2 + 4 = 12: 52 -> E, pass
    assert (t["bob"]["seminar_points"], t["bob"]["exam_points"]) == ("18.0", "12.0")
    assert (t["bob"]["total"], t["bob"]["letter"], t["bob"]["result"]) == ("52.0", "E", "pass")
    # carol: no exam -> not a silent zero
    assert t["carol"]["exam_points"] == "" and t["carol"]["result"] == "INCOMPLETE" and t["carol"]["letter"] == ""
    assert "exam: final_exam not submitted" in t["carol"]["missing"]
    assert "MISSING" in term["rollup"] and "INCOMPLETE" in term["rollup"]


def test_regrading_keeps_hand_given_scores(term):
    """`make autograde` again (e.g. after a fixed test) must not undo formgrader's work."""
    run("finish-autograde", root=term["root"], solutions=term["solutions"])
    run("rollup", root=term["root"], solutions=term["solutions"], )
    with open(term["root"] / "course_totals.csv") as f:
        again = {r["student_id"]: r for r in csv.DictReader(f)}
    assert again == term["totals"]
