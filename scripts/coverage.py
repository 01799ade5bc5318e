"""Map each lecture's learning goals to where they are checked, from the notebooks' goal tags.

    python scripts/coverage.py            # write docs/coverage.md
    python scripts/coverage.py --check    # exit 1 if a goal is checked nowhere, a tag is misplaced,
                                          # or docs/coverage.md is out of date

Goals are the numbered list after ``**Learning goals.**`` in a lecture's title cell
(``lectures/weekNN_*.ipynb``). A cell checks goals when it carries ``Checks goal N`` or
``Checks goals N, M`` (``lectures/README.md``, "Goal tags"):
- in a lecture, a quiz cell (code calling ``quiz`` or ``numeric_quiz``) or a line of the
  ``## Exercises`` cell (one tag per exercise);
- in ``solutions/labNN_*/``, a test cell or the read-only question cell right above a written
  answer; N is a goal of week NN's lecture.
Only the notebooks present are read, so the map grows with the course.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "coverage.md"
TAG = re.compile(r"Checks goals? (\d+(?:(?:, | and )\d+)*)")
GOAL = re.compile(r"^(\d+)\. (.+)$")
KINDS = ("quiz", "lab", "exercise")


@dataclass
class Week:
    number: int
    lecture: str
    goals: dict[int, str]
    checks: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # goal -> [(kind, where)]


def tagged_goals(text: str) -> list[int]:
    return [int(n) for m in TAG.finditer(text) for n in re.findall(r"\d+", m.group(1))]


def source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def read_goals(title: str) -> dict[int, str]:
    """The numbered items after **Learning goals.** in a title cell, up to the next blank line after them."""
    goals, started = {}, False
    for line in title.split("**Learning goals.**", 1)[-1].splitlines():
        m = GOAL.match(line.strip())
        if m:
            goals[int(m.group(1))], started = m.group(2).rstrip(" ;."), True
        elif started and not line.strip():
            break
    return goals


def lecture_checks(cells) -> tuple[list[tuple[int, str, str]], list[str]]:
    """(goal, kind, where) for every tag in a lecture, and the misplaced tags."""
    found, problems = [], []
    for i, cell in enumerate(cells):
        text = source(cell)
        if not TAG.search(text):
            continue
        if cell["cell_type"] == "code" and re.search(r"\b(numeric_)?quiz\(", text):
            found += [(g, "quiz", f"[{i}]") for g in tagged_goals(text)]
        elif cell["cell_type"] == "markdown" and re.search(r"^## Exercises", text, re.M):
            number = None
            for line in text.splitlines():
                m = re.match(r"\s*(\d+)\. ", line)
                number = m.group(1) if m else number
                found += [(g, "exercise", f"{number or '?'} [{i}]") for g in tagged_goals(line)]
        else:
            problems.append(f"cell [{i}] has a goal tag but is neither a quiz nor the Exercises cell")
    return found, problems


def grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def lab_checks(cells) -> tuple[list[tuple[int, str, str]], list[str]]:
    """(goal, 'lab', grade_id) for every tag in a lab source, and the misplaced tags."""
    found, problems = [], []
    for i, cell in enumerate(cells):
        if not TAG.search(source(cell)):
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        after = cells[i + 1].get("metadata", {}).get("nbgrader", {}) if i + 1 < len(cells) else {}
        if meta.get("grade") and not meta.get("solution"):
            where = grade_id(cell)
        elif cell["cell_type"] == "markdown" and after.get("grade") and after.get("solution"):
            where = grade_id(cells[i + 1])
        else:
            problems.append(f"cell [{i}] has a goal tag but is neither a test cell nor the question of a written answer")
            continue
        found += [(g, "lab", where) for g in tagged_goals(source(cell))]
    return found, problems


def collect(repo: Path = REPO) -> tuple[list[Week], list[str]]:
    weeks, problems = {}, []
    for path in sorted((repo / "lectures").glob("week[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        n = int(path.name[4:6])
        week = weeks[n] = Week(n, path.name, read_goals(source(cells[0])))
        if not week.goals:
            problems.append(f"{path.name}: no numbered learning goals after **Learning goals.** in the title cell")
        found, bad = lecture_checks(cells)
        problems += [f"{path.name}: {p}" for p in bad]
        for goal, kind, where in found:
            week.checks.setdefault(goal, []).append((kind, where))
    for path in sorted((repo / "solutions").glob("lab[0-9][0-9]_*/*.ipynb")):
        n = int(path.parent.name[3:5])
        found, bad = lab_checks(json.loads(path.read_text())["cells"])
        problems += [f"{path.parent.name}: {p}" for p in bad]
        if n not in weeks:
            problems += [f"{path.parent.name}: no lecture week{n:02d}_*.ipynb for its goal tags"] if found else []
            continue
        for goal, kind, where in found:
            weeks[n].checks.setdefault(goal, []).append((kind, f"lab {n} `{where}`"))
    for week in weeks.values():
        for goal in sorted(set(week.checks) - set(week.goals)):
            problems.append(f"{week.lecture}: a tag names goal {goal}, which the lecture does not have")
        for goal in week.goals:
            if goal not in week.checks:
                problems.append(f"{week.lecture}: goal {goal} is checked nowhere (no quiz, lab task or exercise)")
    return [weeks[n] for n in sorted(weeks)], problems


def render(weeks: list[Week], problems: list[str]) -> str:
    lines = ["# Learning goals and where they are checked", "",
             "Generated by `scripts/coverage.py` from the goal tags of the notebooks "
             "(`lectures/README.md`, \"Goal tags\"); do not edit by hand. Quiz and exercise cells are "
             "0-based cell indices of the lecture; lab tasks are nbgrader `grade_id`s.", ""]
    for week in weeks:
        lines += [f"## Week {week.number}: `lectures/{week.lecture}`", "",
                  "| goal | after this lecture you can | quiz | lab task | exercise |", "|---|---|---|---|---|"]
        for goal, text in week.goals.items():
            by_kind = {k: ", ".join(w for kind, w in week.checks.get(goal, []) if kind == k) or "—" for k in KINDS}
            lines.append(f"| {goal} | {text} | {by_kind['quiz']} | {by_kind['lab']} | {by_kind['exercise']} |")
        lines.append("")
    lines += ["## Problems", ""] + ([f"- {p}" for p in problems] or ["None: every goal is checked somewhere."])
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 on problems or a stale map")
    args = parser.parse_args(argv)
    weeks, problems = collect()
    text = render(weeks, problems)
    if args.check:
        stale = not OUT.exists() or OUT.read_text() != text
        for p in problems + (["docs/coverage.md is out of date: run python scripts/coverage.py"] if stale else []):
            print(p, file=sys.stderr)
        return 1 if problems or stale else 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(REPO)}: {len(weeks)} weeks, {len(problems)} problems")
    for p in problems:
        print("  " + p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
