"""`make lab` is the students' JupyterLab (no formgrader), `make instructor-lab` the instructor's."""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _serve(target: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(8)
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --port {port} --IdentityProvider.token={token}"
    proc = subprocess.Popen(["make", "-s", "-o", ".venv/.installed", target, f"LAB_ARGS={args}"], cwd=ROOT,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5).close()
            return proc, base, token
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                os.killpg(proc.pid, signal.SIGTERM) if proc.poll() is None else None
                pytest.fail(f"`make {target}` did not serve JupyterLab: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(1)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def _page_config(base: str, token: str) -> dict:
    with urllib.request.urlopen(f"{base}/lab?token={token}", timeout=60) as r:
        page = r.read().decode()
    start = page.index('id="jupyter-config-data"')
    body = page[page.index(">", start) + 1:page.index("</script>", start)]
    return json.loads(body)


@pytest.mark.slow
@pytest.mark.parametrize("target, formgrader", [("lab", False), ("instructor-lab", True)])
def test_formgrader_only_in_the_instructors_jupyterlab(target, formgrader):
    if formgrader and not (ROOT / "grading" / "nbgrader_config.py").exists():
        pytest.skip("the student repository has no nbgrader course root (grading/nbgrader_config.py)")
    proc, base, token = _serve(target)
    try:
        code = _status(f"{base}/formgrader?token={token}")
        disabled = _page_config(base, token).get("disabledExtensions", [])
        if formgrader:
            assert code == 200, f"`make instructor-lab`: /formgrader answered {code}"
            assert "@jupyter/nbgrader:formgrader" not in disabled
        else:
            assert code == 404, f"`make lab` serves formgrader to students (HTTP {code})"
            assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(disabled)
        assert "@jupyter/nbgrader:validate-assignment" not in disabled, "Validate stays for everyone"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
