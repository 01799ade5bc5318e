"""`make site`: lectures executed and written as static HTML pages with their plots."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts" / "build_site.py")
build_site = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_site)


def _notebook(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# Week 98 · {path.stem}\n\nText."),
                                         nbformat.v4.new_code_cell(code)])
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_site_pages_show_plots_and_a_failing_lecture_fails_the_build(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline, as in a lecture
    good = _notebook(tmp_path / "week98_plot.ipynb",
                     "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.title('three points'); plt.show()")
    bad = _notebook(tmp_path / "week99_broken.ipynb", "raise ValueError('a broken lecture')")
    out = tmp_path / "site"
    with pytest.raises(RuntimeError, match="week99_broken.ipynb: ValueError"):
        build_site.build(out, [good, bad])
    page = (out / "week98_plot.html").read_text()
    assert page.count('src="data:image/png;base64,') == 1, "the plot is embedded in the page"
    assert "sliders and quizzes need a running kernel" in page
    index = (out / "index.html").read_text()
    assert "href='week98_plot.html'" in index and "Week 98 · week98_plot" in index
    assert "week99" not in index, "a lecture that failed is not listed"
