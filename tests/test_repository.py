"""The repository's promises to a newcomer: layout, the two commands, CI, clean notebooks."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_layout():
    # the student repository (`make release`) has no solutions/ and only grading/rubric.md
    instructor = [] if (ROOT / ".student-release").exists() else ["solutions", "grading"]
    for name in ["README.md", "environment.yml", "pyproject.toml", "Makefile", "lectures", "labs",
                 "course_lib", "datasets", "tests", ".ci/run", *instructor]:
        assert (ROOT / name).exists(), name


def test_readme_shows_the_two_commands_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci/run").read_text()
    assert os.access(ROOT / ".ci/run", os.X_OK)


def test_environment_yml_uses_the_same_pins():
    env = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in env and "requirements.txt" in env
    pins = (ROOT / "requirements.txt").read_text()
    for pin in ["torch==2.14.1", "torchvision==0.29.1", "tensorflow-model-optimization==0.8.1", "nbgrader==0.9.6"]:
        assert pin in pins


def test_notebooks_are_committed_without_outputs():
    files = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for f in files:
        nb = json.loads((ROOT / f).read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and not cell.get("execution_count"), f


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_lab_serves_jupyterlab_on_the_given_port():
    port = _free_port()
    args = f"--no-browser --port {port} --IdentityProvider.token=course-test"
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, status, body = time.time() + 120, None, ""
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token=course-test", timeout=5) as r:
                    status, body = r.status, r.read().decode()
                break
            except OSError:
                time.sleep(1)
        assert status == 200, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer"
        assert "JupyterLab" in body
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_tensorflow_then_torch_optimizer_does_not_crash():
    # regression: TensorFlow loaded before torch._dynamo made the first optimizer step segfault
    code = ("import course_lib, tensorflow, torch\n"
            "m = torch.nn.Linear(3, 2); o = torch.optim.Adam(m.parameters())\n"
            "m(torch.zeros(1, 3)).sum().backward(); o.step(); print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-1000:]
