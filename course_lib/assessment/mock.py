"""The mock exam for students: every item of the bank as a self-checking quiz cell
(``course_lib.notebook``), short answers with what a full-mark answer contains folded away."""
from __future__ import annotations

from pathlib import Path

import nbformat

from course_lib.notebook import answer_key

from . import bank as _bank

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "exams" / "mock_exam.ipynb"


def _cell(item: _bank.Item, slot: _bank.Slot) -> nbformat.NotebookNode:
    if slot.kind == "choice":
        return nbformat.v4.new_code_cell(f"quiz({item.question!r},\n     {list(item.options)!r},\n"
                                         f"     {answer_key(item.answer)!r},\n     {item.explanation!r})")
    if slot.kind == "numeric":
        tol = max(item.rel_tol, 1e-6)
        return nbformat.v4.new_code_cell(f"numeric_quiz({item.question!r},\n             {answer_key(item.answer)!r},\n"
                                         f"             {item.explanation!r}, rel_tol={tol!r})")
    return nbformat.v4.new_markdown_cell(f"{item.question}\n\n<details><summary>What a full-mark answer contains"
                                         f"</summary>\n\n{item.answer}\n\n</details>")


def _tag(item: _bank.Item) -> str:
    if item.source == "lecture":
        return f"Week {item.week} lecture, learning goal {item.goal_number}: {item.goal}."
    return f"Week {item.week} (syllabus topic): {item.goal}."


def mock_notebook(bank: _bank.Bank) -> nbformat.NotebookNode:
    points = sum(s.points for s in bank.slots)
    intro = (f"# Mock final exam\n\nThe final exam has {len(bank.slots)} questions worth {points:g} points: one "
             "question of each group below, drawn for you. Closed questions (numbers and multiple choice) are "
             "scored automatically, short answers by hand. Here every question of the bank is a quiz you can "
             "check yourself: a wrong answer gets one more try before the answer is shown.\n\n"
             "Each question names the week and the learning goal it tests; a *syllabus topic* is a week "
             "whose questions follow the syllabus's description of it.")
    cells = [nbformat.v4.new_markdown_cell(intro),
             nbformat.v4.new_code_cell("from course_lib.notebook import numeric_quiz, quiz")]
    for k, slot in enumerate(bank.slots, 1):
        pool = bank.pool(slot.id)
        cells.append(nbformat.v4.new_markdown_cell(f"## Group {k}: {slot.kind}, {slot.points:g} points"))
        for item in pool:
            cells.append(nbformat.v4.new_markdown_cell(f"*{_tag(item)}*"))
            cells.append(_cell(item, slot))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata.update({"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                        "language_info": {"name": "python"}})
    return nb


def write_mock(bank_path=_bank.DEFAULT_BANK, path: Path = DEFAULT_PATH) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(mock_notebook(_bank.load_bank(bank_path)), path)
    print(f"mock exam -> {path}")
    return path
