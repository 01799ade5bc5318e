"""Executes one prepared notebook inside the sandbox: ``python runner.py JOB``.

``JOB/run.ipynb`` is the repaired submission whose test cells are ``__grader__.test(ID)`` calls;
``JOB/plan.json`` is read (and deleted) by the harness when the kernel starts. Writes
``JOB/out/executed.ipynb`` after every cell (so a run cut short still shows how far it got) and
``JOB/out/status.json`` (``{"finished": bool, "reason": str}``). Nothing here decides a score:
the grader outside reads the harness's verdicts. Imports only nbclient and nbformat.
"""
import json
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError


def cap_outputs(cell, max_bytes: int) -> None:
    """Keep a cell's outputs under ``max_bytes`` (text cut, later outputs dropped, with a notice)."""
    kept, used = [], 0
    for out in cell.get("outputs", []):
        size = len(json.dumps(out))
        if used + size > max_bytes:
            if out.get("output_type") == "stream":
                out["text"] = out["text"][: max(0, max_bytes - used - 200)]
                kept.append(out)
            kept.append(nbformat.v4.new_output("stream", name="stdout", text=(
                f"\n[output cut: this cell printed more than {max_bytes} bytes]\n")))
            break
        kept.append(out)
        used += size
    cell["outputs"] = kept


def main(job: Path) -> int:
    settings = json.loads((job / "settings.json").read_text())
    out = job / "out"
    nb = nbformat.read(job / "run.ipynb", as_version=4)
    kernels = Path(os.environ["JUPYTER_DATA_DIR"]) / "kernels" / "grader"
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 f"--IPKernelApp.exec_files={settings['harness']}"],
        "display_name": "grader", "language": "python"}))
    client = NotebookClient(nb, timeout=settings["cell_timeout"], interrupt_on_timeout=True, allow_errors=True,
                            kernel_name="grader", iopub_timeout=60, raise_on_iopub_timeout=False,
                            resources={"metadata": {"path": str(job / "work")}})

    def after_cell(cell, cell_index, execute_reply):
        cap_outputs(cell, settings["cell_output_bytes"])
        nbformat.write(nb, out / "executed.ipynb")

    client.on_cell_executed = after_cell
    status = {"finished": False, "reason": ""}
    try:
        client.execute()
        status["finished"] = True
    except DeadKernelError as e:
        index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and not c.get("execution_count")),
                     None)
        status["reason"] = f"the kernel died at cell {index} (a crash, os._exit or out of memory): {e}"
    except Exception as e:  # noqa: BLE001  (any failure is reported, never a silent zero)
        status["reason"] = f"{type(e).__name__}: {e}"
    nbformat.write(nb, out / "executed.ipynb")
    (out / "status.json").write_text(json.dumps(status))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
