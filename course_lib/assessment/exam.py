"""The final exam as one nbgrader assignment with a seeded variant per student.

``solutions/final_exam/final_exam.ipynb`` (the *master*, made by :func:`master_notebook`) holds one
answer cell per slot of the bank, with the slot's points; nbgrader records those cells. Each
student's copy (:func:`make_exam`) is the released master with their own questions written into
plain markdown cells, so every copy has the same graded cells and points. Closed items are scored
by :func:`grade_exam` outside any kernel: it reads ``answer = ...`` from the submitted notebook,
compares it with the student's item, and writes the score and a comment into the gradebook (no
student code runs). Short answers are graded by hand in formgrader with ``exam/key.md``.
"""
from __future__ import annotations

import ast
import json
import operator
from pathlib import Path

import nbformat

from . import bank as _bank
from . import term as _term

NOTEBOOK = "final_exam.ipynb"
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.Pow: operator.pow, ast.USub: operator.neg, ast.UAdd: operator.pos}
STUB = {"numeric": "answer = None  # your number, e.g. answer = 0.125 (arithmetic such as 4 / 255 is fine)",
        "choice": 'answer = None  # the letter of your choice in quotes, e.g. answer = "b"'}


def _meta(grade_id: str, points: float = 0.0, *, grade: bool, solution: bool, locked: bool) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def master_notebook(bank: _bank.Bank, assignment: str = "final_exam") -> nbformat.NotebookNode:
    """The instructor's source: an intro, then per slot a question cell and an answer cell."""
    total = sum(s.points for s in bank.slots)
    intro = (f"# Final exam ({total:g} points)\n\nAnswer every question in the cell below it: closed questions as "
             "`answer = ...` (a number, or a letter in quotes), short answers in the text cell. Do not add, "
             "delete or move cells; the notebook is graded without running it, so nothing needs to run.")
    cells = [nbformat.v4.new_markdown_cell(intro, metadata=_meta(f"{assignment}-intro", grade=False,
                                                                  solution=False, locked=True))]
    for k, slot in enumerate(bank.slots, 1):
        cells.append(nbformat.v4.new_markdown_cell(
            f"**Question {k}** ({slot.points:g} points, {slot.kind}): printed here in your own copy of the exam.",
            metadata={"exam": {"slot": slot.id}}))
        meta = _meta(f"q{k:02d}", slot.points, grade=True, solution=True, locked=False)
        if slot.kind == "short":
            cells.append(nbformat.v4.new_markdown_cell(
                "=== BEGIN SOLUTION ===\nGraders: exam/key.md says what a full-mark answer contains.\n"
                "=== END SOLUTION ===", metadata=meta))
        else:
            cells.append(nbformat.v4.new_code_cell("### BEGIN SOLUTION\nanswer = None\n### END SOLUTION", metadata=meta))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.update({"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                        "language_info": {"name": "python"}})
    return nb


def question_markdown(k: int, slot: _bank.Slot, item: _bank.Item) -> str:
    text = f"**Question {k}** ({slot.points:g} points, {slot.kind}). {item.question}"
    if item.options:
        text += "\n\n" + "\n".join(f"- ({_bank.LETTERS[j]}) {o}" for j, o in enumerate(item.options))
    return text


def variant_notebook(release: nbformat.NotebookNode, bank: _bank.Bank, items: list, student: str):
    """``release`` (the student version of the master) with ``student``'s questions filled in."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    by_slot = {i.slot: i for i in items}
    k = 0
    for cell in nb.cells:
        slot_id = cell.metadata.get("exam", {}).get("slot")
        if slot_id:
            k += 1
            cell.source = question_markdown(k, bank.slot(slot_id), by_slot[slot_id])
            current = bank.slot(slot_id)
        elif cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = STUB[current.kind]
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(f"*Exam copy of **{student}**. Hand in this file under its "
                                                     f"name, `{NOTEBOOK}`.*"))
    return nb


def _number(node):
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_number(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_number(node.left), _number(node.right))
    raise ValueError("only numbers, strings and + - * / ** are read")


def read_answer(source: str):
    """The value of the last ``answer = ...`` in a cell (numbers, a string, arithmetic); None if absent."""
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return f"<unreadable: {e.msg}>"
    value = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "answer" for t in stmt.targets):
            try:
                value = _number(stmt.value)
            except (ValueError, ZeroDivisionError, OverflowError) as e:
                value = f"<unreadable: {e}>"
    return value


def _variants_file(root: Path) -> Path:
    return Path(root) / "exam" / "variants.json"


def make_exam(root: Path, students: list[str], seed: int | None = None, bank_path=_bank.DEFAULT_BANK,
              solutions: Path | None = None) -> dict[str, list[str]]:
    """Write ``ROOT/exam/STUDENT/final_exam.ipynb`` per student, ``exam/variants.json`` and
    ``exam/key.md``; return ``{student: [item id per slot]}``. ``seed`` defaults to term.toml's."""
    from course_lib import grading

    root = Path(root).resolve()
    t = _term.load(root)
    seed = t.exam_seed if seed is None else int(seed)
    bank = _bank.load_bank(bank_path)
    solutions = Path(solutions) if solutions else grading.DEFAULT_SOLUTIONS
    master = solutions / t.exam_assignment / NOTEBOOK
    expected = master_notebook(bank, t.exam_assignment)
    if not master.is_file() or [c.source for c in nbformat.read(master, 4).cells] != [c.source for c in expected.cells]:
        raise ValueError(f"{master} does not match the slots of {bank_path}: run "
                         "`python -m course_lib.assessment exam master` and `make labs` first")
    if not students or len(set(students)) != len(students):
        raise ValueError(f"give each student id once (got {students!r}), e.g. STUDENTS=students.txt with one id a line")
    grading.generate(root, solutions, labs=None, names=[t.exam_assignment])
    release = nbformat.read(root / "release" / t.exam_assignment / NOTEBOOK, 4)
    out, key = {}, [f"# Exam key (seed {seed}, bank {Path(bank_path).name})\n"]
    for student in students:
        items = _bank.draw(bank, student, seed)
        folder = root / "exam" / student
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(variant_notebook(release, bank, items, student), folder / NOTEBOOK)
        out[student] = [i.id for i in items]
        key.append(f"## {student}\n")
        key += [f"{k}. [{i.id}, week {i.week}] answer: "
                f"{_bank.LETTERS[i.answer] if i.options else i.answer}" for k, i in enumerate(items, 1)]
        key.append("")
    record = {"seed": seed, "bank": str(Path(bank_path).resolve()), "assignment": t.exam_assignment, "students": out}
    _variants_file(root).write_text(json.dumps(record, indent=1))
    (root / "exam" / "key.md").write_text("\n".join(key) + "\n")
    print(f"exam: {len(out)} copies in {root / 'exam'}; key (instructors only) in {root / 'exam' / 'key.md'}")
    return out


def grade_exam(root: Path) -> dict[str, float]:
    """Score the closed items of every submitted exam into the gradebook; return points per student."""
    from nbgrader.api import MissingEntry

    root = Path(root).resolve()
    path = _variants_file(root)
    if not path.is_file():
        print(f"exam: no {path} (no exam made with `make exam`): nothing to score")
        return {}
    record = json.loads(path.read_text())
    bank, name = _bank.load_bank(record["bank"]), record["assignment"]
    totals = {}
    with _term.gradebook(root) as gb:
        for student, item_ids in record["students"].items():
            nb_path = root / "submitted" / student / name / NOTEBOOK
            try:
                gb.find_submission(name, student)
            except MissingEntry:
                continue  # not submitted or not autograded yet
            cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nbformat.read(nb_path, 4).cells}
            totals[student] = 0.0
            for k, item_id in enumerate(item_ids, 1):
                item, grade_id = bank.item(item_id), f"q{k:02d}"
                slot = bank.slot(item.slot)
                if slot.kind == "short":
                    continue
                cell = cells.get(grade_id)
                points, comment = _bank.score(item, read_answer(cell.source) if cell else None, slot.points)
                grade = gb.find_grade(grade_id, Path(NOTEBOOK).stem, name, student)
                grade.manual_score, grade.needs_manual_grade = points, False
                gb.find_comment(grade_id, Path(NOTEBOOK).stem, name, student).manual_comment = comment
                totals[student] += points
            gb.db.commit()
            print(f"exam: {student} closed items {totals[student]:g} points")
    return totals
