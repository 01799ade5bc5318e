"""Run a notebook top to bottom in a fresh kernel, as a reader would (shared by notebook tests)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]


def run_notebook(path, timeout: int = 300, cwd=None, env: dict | None = None):
    """Execute every cell of ``path`` (cwd: its folder unless given); return ``(notebook, seconds)``.

    Fails with nbclient's ``CellExecutionError`` (the failing cell and traceback) on the first
    error, or ``CellTimeoutError`` if a cell runs longer than ``timeout`` seconds. The kernel
    inherits ``os.environ`` (COURSE_FAST=1 under pytest) plus ``env``.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(cwd or path.parent)}})
        t0 = time.perf_counter()
        client.execute()
        return nb, time.perf_counter() - t0
    finally:
        os.environ.clear()
        os.environ.update(old)


def outputs_text(nb) -> str:
    """All stream, text/plain and text/markdown outputs of an executed notebook, joined (for asserting on prints)."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts += [out["data"][m] for m in ("text/plain", "text/markdown") if m in out["data"]]
    return "\n".join(parts)
