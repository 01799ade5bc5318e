"""A static, readable site of the lectures: ``make site`` (fast mode) writes ``site/``.

Every ``lectures/week*.ipynb`` is executed top to bottom (nbclient, in ``lectures/`` so relative
paths work) and written as one HTML page with its plots and tables (nbconvert, JupyterLab
template), plus ``index.html`` linking them in order. Widgets and quizzes need a kernel: the
pages show their last state and say so; the Colab badge on each page runs the real thing.

    python scripts/build_site.py OUT [NOTEBOOK ...]   # default: every lecture
"""
from __future__ import annotations

import argparse
import html
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTE = ("<p style='background:#fff6d5;padding:.6em 1em;border-radius:4px'>A static copy, executed in "
        "fast mode (<code>COURSE_FAST=1</code>): sliders and quizzes need a running kernel. "
        "Open the notebook in Colab (badge below) or in <code>make lab</code> to use them.</p>")


def title_of(nb) -> str:
    first = nb.cells[0].source.splitlines()[0] if nb.cells and nb.cells[0].source else "untitled"
    return first.lstrip("# ").strip()


def execute(path: Path, timeout: int = 900):
    """``path`` executed top to bottom in its own folder; raises on the first failing cell."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def render(nb, out: Path) -> Path:
    """Write the executed notebook ``nb`` as a standalone HTML page ``out`` (images embedded)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    body = body.replace("<body", "<body data-course-page=\"lecture\"", 1)
    marker = body.find(">", body.find("<body")) + 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body[:marker] + NOTE + body[marker:], encoding="utf-8")
    return out


def index(pages: list[tuple[str, str]], out_dir: Path) -> Path:
    items = "\n".join(f"<li><a href='{html.escape(href)}'>{html.escape(title)}</a></li>" for title, href in pages)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>EdgeML Course: lectures</title></head>"
            f"<body style='font-family:sans-serif;max-width:50em;margin:2em auto'><h1>EdgeML Course: lectures</h1>"
            f"<ol>\n{items}\n</ol></body></html>")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def build(out_dir: Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Execute and render ``notebooks`` (default: every lecture) into ``out_dir``; return the pages.

    A lecture that fails is reported with its error and the others are still built; the build
    then raises, so a broken lecture never passes unnoticed.
    """
    notebooks = notebooks or sorted((ROOT / "lectures").glob("week*.ipynb"))
    out_dir.mkdir(parents=True, exist_ok=True)
    pages, entries, failed = [], [], []
    for path in notebooks:
        t0 = time.perf_counter()
        try:
            nb = execute(Path(path).resolve())
        except Exception as err:  # noqa: BLE001 - report every failing lecture, then fail
            # nbclient's CellExecutionError names the notebook's own exception
            name, value = getattr(err, "ename", type(err).__name__), getattr(err, "evalue", str(err))
            failed.append(f"{Path(path).name}: {name}: {value}")
            print(f"FAILED {Path(path).name}", file=sys.stderr)
            continue
        page = render(nb, out_dir / (Path(path).stem + ".html"))
        pages.append(page)
        entries.append((title_of(nb), page.name))
        print(f"{page.relative_to(out_dir.parent) if out_dir.parent in page.parents else page}: "
              f"{time.perf_counter() - t0:.0f} s")
    index(entries, out_dir)
    if failed:
        raise RuntimeError("lectures that failed to execute:\n  " + "\n  ".join(failed))
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder (e.g. site)")
    parser.add_argument("notebooks", nargs="*", type=Path, help="lectures to build (default: all)")
    args = parser.parse_args(argv)
    try:
        pages = build(args.out, args.notebooks or None)
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{len(pages)} pages and index.html in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
