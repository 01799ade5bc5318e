"""The term's pure parts: configuration, late policy, letters, the bank and its variants, answers,
Moodle file names, and that the committed exam source and mock exam follow the bank."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_lib.assessment import bank as B
from course_lib.assessment import collect, exam, late, mock, rollup, term

REPO = Path(__file__).resolve().parents[1]


def test_course_term_file_is_valid_and_follows_the_syllabus():
    t = term.load(REPO / "grading")
    points = {c.name: c.points for c in t.components}
    assert points == {"seminar": 30, "project": 40, "exam": 30, "labs": 0}
    assert t.pass_mark == 51 and dict(t.letters) == {"A": 90, "B": 80, "C": 70, "D": 60, "E": 51}
    assert set(t.due) >= {"seminar_paper", "project_defence", "final_exam"}


def test_bad_term_files_say_what_to_fix(tmp_path):
    good = (REPO / "grading" / "term.toml").read_text()
    cases = {"add up to 110": good.replace("points = 30\nassignments = [\"seminar_paper\"]",
                                           "points = 40\nassignments = [\"seminar_paper\"]"),
             "has no UTC offset": good.replace("2027-03-12T23:59:00+01:00", "2027-03-12T23:59:00"),
             "unknown key": good.replace("max_days = 5", "max_day = 5")}
    for message, text in cases.items():
        (tmp_path / "term.toml").write_text(text)
        with pytest.raises(term.TermError, match=message):
            term.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="copy grading/term.toml"):
        term.load(tmp_path / "nowhere")


def test_late_policy():
    p = term.LatePolicy(grace_minutes=15, percent_per_day=10, max_days=5)
    assert late.late_penalty(20, 10 * 60, p) == 0                  # within grace
    assert late.late_penalty(20, 3600, p) == pytest.approx(2)       # first started day: 10 %
    assert late.late_penalty(20, 2 * 86400 + 1, p) == pytest.approx(6)
    assert late.late_penalty(20, 5 * 86400 + 1, p) == 20            # past max_days: zero
    assert late.late_penalty(0, 86400, p) == 0


def test_letters_are_configurable_and_pass_is_at_51():
    default = term.load(REPO / "grading").letters
    assert [rollup.letter(x, default) for x in (100, 90, 89.99, 80, 70, 60, 51, 50.99, 0)] == \
        ["A", "A", "B", "B", "C", "D", "E", "F", "F"]
    assert rollup.letter(75, [("pass", 50), ("distinction", 75)]) == "distinction"


def test_bank_tags_every_item_with_week_goal_and_source():
    bank = B.load_bank()
    assert sum(s.points for s in bank.slots) == 30
    for item in bank.items:
        assert item.goal and item.source in ("lecture", "syllabus")
        # only weeks 3 and 5 have lectures; everything else is tagged as a syllabus topic
        assert (item.source == "lecture") == (item.week in (3, 5)), item.id
        assert (item.goal_number is not None) == (item.source == "lecture"), item.id
        if item.goal_number is not None:  # each lecture lists six goals
            assert 1 <= item.goal_number <= 6, item.id
    assert all(len(bank.pool(s.id)) >= 2 for s in bank.slots)


def test_variants_are_seeded_equally_weighted_and_differ():
    bank = B.load_bank()
    a1, a2, b = B.draw(bank, "alice", 7), B.draw(bank, "alice", 7), B.draw(bank, "bob", 7)
    assert a1 == a2 and [i.slot for i in a1] == [s.id for s in bank.slots] == [i.slot for i in b]
    assert a1 != b and a1 != B.draw(bank, "alice", 8)


def test_closed_answers_are_scored_right_and_wrong():
    bank = B.load_bank()
    num, choice = bank.item("w03-scale-asymmetric"), bank.item("w03-per-channel")
    assert B.score(num, exam.read_answer("answer = 4 / 255"), 2)[0] == 2
    assert B.score(num, exam.read_answer("answer = 0.02"), 2)[0] == 0
    assert B.score(choice, exam.read_answer('answer = "A"'), 2)[0] == 2
    assert B.score(choice, exam.read_answer('answer = "b"'), 2)[0] == 0
    pts, comment = B.score(num, exam.read_answer("answer = None  # your number"), 2)
    assert pts == 0 and comment == "no answer"
    pts, comment = B.score(num, exam.read_answer("answer = __import__('os').getcwd()"), 2)
    assert pts == 0 and "could not read" in comment  # nothing a student writes is run


def test_bank_errors_name_the_item(tmp_path):
    text = (B.DEFAULT_BANK.read_text()).replace('answer = 0.015686', 'answer = "a lot"', 1)
    (tmp_path / "bank.toml").write_text(text)
    with pytest.raises(ValueError, match="w03-scale-asymmetric.*number"):
        B.load_bank(tmp_path / "bank.toml")


def test_committed_exam_source_and_mock_exam_follow_the_bank():
    bank = B.load_bank()
    committed = nbformat.read(REPO / "solutions" / "final_exam" / "final_exam.ipynb", 4)
    assert [c.source for c in committed.cells] == [c.source for c in exam.master_notebook(bank).cells], \
        "run `python -m course_lib.assessment exam master` and `make labs`"
    committed = nbformat.read(mock.DEFAULT_PATH, 4)
    assert [c.source for c in committed.cells] == [c.source for c in mock.mock_notebook(bank).cells], \
        "run `python -m course_lib.assessment exam mock`"


def test_mock_exam_runs(tmp_path):
    out = tmp_path / "mock.ipynb"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                    str(mock.DEFAULT_PATH), "--output", str(out)], check=True, capture_output=True)
    nb = nbformat.read(out, 4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors


def test_moodle_names_are_placed_or_reported(tmp_path):
    (tmp_path / "x").mkdir()
    for name in ["Jan Novak_17_assignsubmission_file_lab.ipynb", "Eva Nova_18_assignsubmission_file_lab (2).ipynb",
                 "random.ipynb", "Jan Novak_17_assignsubmission_file_notes.pdf"]:
        (tmp_path / "x" / name).write_text("{}")
    report = {p.file.split("/")[-1]: p for p in collect.plan(tmp_path / "x", ["lab.ipynb"])}
    assert report["Jan Novak_17_assignsubmission_file_lab.ipynb"].student == "participant17"
    assert "rename it" in report["Eva Nova_18_assignsubmission_file_lab (2).ipynb"].reason
    assert "not Moodle's" in report["random.ipynb"].reason
    assert "not a notebook" in report["Jan Novak_17_assignsubmission_file_notes.pdf"].reason


def test_make_targets_call_the_term_steps():
    def recipe(*args):
        return subprocess.run(["make", "-n", "-o", ".venv/.installed", *args], cwd=REPO, capture_output=True,
                              text=True).stdout
    grades = recipe("grades")
    assert grades.index("course_lib.grading grades") < grades.index("course_lib.assessment rollup")
    assert "exam make --students" in recipe("exam", "STUDENTS=s.txt")
    assert 'collect "lab03_quantization" "m.zip"' in recipe("collect", "ZIP=m.zip", "ASSIGNMENT=lab03_quantization")
    assert "finish-autograde" in recipe("autograde")


def test_cli_reports_bad_input_without_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "course_lib.assessment", "--root", str(tmp_path), "rollup"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "term.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_feedback_is_packed_per_student(tmp_path):
    from course_lib.assessment import autograde

    for student in ("alice", "bob"):
        (tmp_path / "feedback" / student / "lab03").mkdir(parents=True)
        (tmp_path / "feedback" / student / "lab03" / "lab03.html").write_text(f"<p>{student}</p>")
    made = autograde.pack_feedback(tmp_path)
    assert [p.name for p in made] == ["alice.zip", "bob.zip"]
    with zipfile.ZipFile(tmp_path / "return" / "bob.zip") as z:
        assert z.read("lab03/lab03.html") == b"<p>bob</p>"


def test_seminar_levels_in_the_notebook_match_the_rubric():
    nb = nbformat.read(REPO / "solutions" / "seminar_paper" / "seminar_paper.ipynb", 4)
    rubric = (REPO / "grading" / "rubric_seminar.md").read_text()
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert sum(c.metadata["nbgrader"]["points"] for c in graded) == 30
    questions = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("-q")]
    assert len(questions) == len(graded) == 5
    for q in questions:
        full = next(line for line in q.splitlines() if line.startswith("| full |")).split("|")[3].strip()
        assert full in rubric, full
