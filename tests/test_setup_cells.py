"""Every lecture and lab has the canonical Colab badge and setup cell (course_lib.notebook)."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import nbformat
import pytest

from course_lib import notebook

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("update_setup_cells", ROOT / "scripts" / "update_setup_cells.py")
update_setup_cells = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_setup_cells)
NOTEBOOKS = update_setup_cells.notebooks(ROOT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_has_the_canonical_badge_and_setup_cell(path):
    nb = nbformat.read(path, 4)
    rel = path.relative_to(ROOT).as_posix()
    assert notebook.colab_badge(rel) in nb.cells[0].source, (
        f"{rel}: the title cell's Colab badge is missing or outdated; run `python scripts/update_setup_cells.py` "
        "and `make labs`")
    assert nb.cells[1].cell_type == "code" and nb.cells[1].source == notebook.setup_cell(), (
        f"{rel}: the cell after the title is not the canonical setup cell; run "
        "`python scripts/update_setup_cells.py` and `make labs`")
    assert "nbgrader" not in nb.cells[1].metadata or not nb.cells[1].metadata["nbgrader"].get("grade"), \
        "the setup cell is never graded"


def test_check_mode_finds_and_the_script_fixes_an_outdated_notebook(tmp_path):
    lecture = tmp_path / "lectures" / "week99_x.ipynb"
    lab = tmp_path / "solutions" / "lab99_x" / "lab99_x.ipynb"
    old = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Week 99 · X\n\n[![Open In Colab](https://colab.research.google.com/assets/"
                                      "colab-badge.svg)](https://colab.research.google.com/github/a/b/blob/main/x.ipynb)"),
        nbformat.v4.new_code_cell("# Setup: on Colab install what Colab lacks\nimport os"),
        nbformat.v4.new_code_cell("x = 1")])
    no_setup = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lab 99: X\n\nText."),
                                               nbformat.v4.new_code_cell("import numpy")])
    for path, nb in [(lecture, old), (lab, no_setup)]:
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
    paths = [lecture, lab]
    found = update_setup_cells.run(paths, tmp_path, check=True)
    assert found == {"lectures/week99_x.ipynb": ["badge", "setup cell replaced"],
                     "solutions/lab99_x/lab99_x.ipynb": ["badge", "setup cell added"]}
    assert nbformat.read(lecture, 4).cells[1].source.startswith("# Setup: on Colab"), "--check changes nothing"
    update_setup_cells.run(paths, tmp_path)
    assert update_setup_cells.run(paths, tmp_path, check=True) == {}
    fixed = nbformat.read(lab, 4)
    assert [c.source for c in fixed.cells[1:]] == [notebook.setup_cell(), "import numpy"]
    assert "blob/" + notebook.RELEASE + "/labs/lab99_x/lab99_x.ipynb" in fixed.cells[0].source, "a lab's badge opens its student version"
    assert nbformat.read(lecture, 4).cells[0].source.count("Open In Colab") == 1


def test_setup_cell_on_colab_installs_the_release_and_keeps_colabs_packages(monkeypatch):
    calls = []
    monkeypatch.setattr("subprocess.run", lambda cmd, check: calls.append(cmd))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(notebook.setup_cell(), {"__name__": "__main__"})
    (cmd,) = calls
    assert cmd[-1] == f"edgeml-course[colab] @ git+{notebook.REPO}@{notebook.RELEASE}"
    import numpy
    assert f"numpy=={numpy.__version__}" in cmd, "Colab's numpy is pinned to what is installed"
    monkeypatch.delitem(sys.modules, "google.colab")
    calls.clear()
    exec(notebook.setup_cell(), {"__name__": "__main__"})
    assert calls == [], "locally the setup cell installs nothing"


def test_colab_url_points_at_the_release_of_the_student_repository():
    assert notebook.colab_url("lectures/week03_quantization.ipynb") == (
        f"https://colab.research.google.com/github/edgeml-course/edgeml-course/blob/{notebook.RELEASE}"
        "/lectures/week03_quantization.ipynb")
    assert notebook.student_path("solutions/lab03_quantization/lab03_quantization.ipynb") == \
        "labs/lab03_quantization/lab03_quantization.ipynb"
    with pytest.raises(ValueError, match="relative"):
        notebook.colab_url("/abs/x.ipynb")
