"""Helpers the per-lab grading tests share (tests/test_grading_labNN.py): read an nbgrader
source by grade id, plant code in its answer cells, and grade the planted submissions for real."""
from __future__ import annotations

import ast
import json
import shutil

import nbformat

from test_grading import REPO, SOLUTIONS, autograded, errors, grading, kind, notebook_of, submit

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"


def cells_by_id(nb) -> dict:
    """``{grade_id: cell}`` of the nbgrader cells of ``nb``."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


def visible_part(source: str) -> str:
    """What a student sees of a test cell: everything before its hidden tests."""
    return source.split(HIDDEN_BEGIN)[0]


def literal(source: str, name: str):
    """The value of `name = <literal>` (or `name = np.array(<literal>, ...)`) or, for name "for",
    of `for ... in <literal>:` in a cell's source."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            value = node.value.args[0] if isinstance(node.value, ast.Call) else node.value
            return ast.literal_eval(value)
        if name == "for" and isinstance(node, ast.For) and isinstance(node.iter, (ast.List, ast.Tuple)):
            return ast.literal_eval(node.iter)
    raise AssertionError(f"no literal {name} in the cell")


def with_cells(source, replacements: dict):
    """A copy of the notebook ``source`` whose cells ``replacements`` names ({grade_id: code}) are replaced."""
    nb = nbformat.from_dict(json.loads(json.dumps(source)))
    for gid, cell in cells_by_id(nb).items():
        if gid in replacements:
            cell.source = replacements[gid].strip()
    return nb


def grade_submissions(tmp_path_factory, lab: str, submissions: dict):
    """Release ``lab`` in a fresh course root, submit ``{student: notebook}``, autograde; the root."""
    base = tmp_path_factory.mktemp(lab)
    root, labs = base / "grading", base / "labs"
    root.mkdir()
    shutil.copy(REPO / "grading" / "nbgrader_config.py", root)
    grading("generate", lab, "--labs", str(labs), root=root)
    for student, nb in submissions.items():
        submit(root, student, lab, nb)
    grading("autograde", lab, root=root)  # the config's cell timeout: nothing planted here loops
    return root


def solution_source(lab: str):
    """The instructor's source notebook of ``lab``."""
    return nbformat.read(notebook_of(SOLUTIONS / lab), 4)


def failed_tests(root, student: str, lab: str) -> set[str]:
    """Grade ids of the test cells that failed in ``student``'s autograded notebook."""
    nb = cells_by_id(autograded(root, student, lab))
    return {gid for gid, c in nb.items() if kind(c) == "test" and errors(c)}
