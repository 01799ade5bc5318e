"""What a student sees: JupyterLab started like `make lab`, driven by a real Chromium (Playwright).

One JupyterLab serves a copy of the lectures and the student labs for every test here. The tests
run lecture 5 and look at its plot, move a slider of its widget, answer a quiz wrongly then rightly,
run the student version of lab 3 and see its visible tests fail with NotImplementedError, check that
the student's JupyterLab hides nbgrader's instructor tools, and open a page of the static site.
Screenshots go to ``test-artifacts/browser/`` (git-ignored).

Chromium is Debian's (``apt-get install chromium``; `.ci/run` installs it): Playwright's own
browser download is not used, and the flags below keep Chromium off the network.
"""
from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "browser"
LECTURE = "lectures/week05_evolutionary_search.ipynb"
LAB = "labs/lab03_quantization/lab03_quantization.ipynb"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]  # any other host fails at once

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return (f"no Chromium at {CHROMIUM}: `apt-get install chromium` (or set COURSE_CHROMIUM to its path); "
                ".ci/run installs it")
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed: pip install -r requirements.txt -c constraints.txt"
    return None


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token, student_root)`` of a JupyterLab started by `make lab` on a copy of the course."""
    tmp = tmp_path_factory.mktemp("browser")
    student = tmp / "student"  # what a student has: the lectures and the generated (student) labs
    for folder in ("lectures", "labs"):
        shutil.copytree(ROOT / folder, student / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = _free_port(), secrets.token_hex(16)
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --port {port} --IdentityProvider.token={token} "
            f"--LabApp.workspaces_dir={tmp / 'workspaces'} "
            f"--LabApp.user_settings_dir={tmp / 'settings'} --LabApp.news_url=None "
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    log = open(tmp / "jupyter.log", "w")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # conftest's Agg would hide the plots
    proc = subprocess.Popen(["make", "-s", "-o", ".venv/.installed", "lab", f"LAB_ROOT={student}", f"LAB_ARGS={args}"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (tmp / "jupyter.log").read_text()[-3000:])
                time.sleep(1)
        yield base, token, student
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page():
    if reason := _missing():
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI always runs the browser test)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


@contextlib.contextmanager
def screenshot_on_failure(page, name: str):
    try:
        yield
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / f"FAILED_{name}.png"))
        raise


# --- helpers: what a person does in JupyterLab -------------------------------------------------
BUSY = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].some(p => p.textContent.includes('*'))"


def open_notebook(page, lab, rel: str):
    """Open ``rel`` and wait until the server reports its kernel started and idle."""
    base, token, _ = lab
    page.goto(f"{base}/lab/tree/{rel}?token={token}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()
    news = page.locator(".jp-toast-button", has_text=re.compile("^No$"))  # "get notified about news?"
    if news.count():
        news.first.click()
    deadline = time.time() + 180
    while time.time() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=30) as r:
            states = {s["path"]: (s.get("kernel") or {}).get("execution_state") for s in json.load(r)}
        if states.get(rel) == "idle":
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the kernel of {rel} did not start in 180 s: {states}")
    page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=60_000)


def menu(page, top: str, item: str):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


def wait_idle(page, timeout_s: float):
    """Until no cell shows ``[*]`` (running or queued) and the kernel is idle."""
    page.wait_for_function(f"() => !({BUSY})()", timeout=timeout_s * 1000)
    page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(timeout=timeout_s * 1000)


def code_cells(page):
    return page.locator(".jp-NotebookPanel:visible .jp-CodeCell")


def texts(locator) -> list[str]:
    """textContent of each match (innerText is empty for cells scrolled out of view)."""
    return locator.evaluate_all("els => els.map(e => e.textContent)")


def tracebacks(page) -> list[str]:
    stderr = page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [t for t in texts(stderr) if "Traceback" in t]


def first_quiz(path: Path):
    """``(question, n_options, answer index)`` of the first quiz cell of the notebook at ``path``."""
    from course_lib.notebook import _read_key

    for cell in nbformat.read(path, 4).cells:
        if cell.cell_type != "code" or "quiz(" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "quiz":
                args = {k.arg: k.value for k in node.keywords}
                question = ast.literal_eval(node.args[0] if node.args else args["question"])
                options = ast.literal_eval(node.args[1] if len(node.args) > 1 else args["options"])
                key = ast.literal_eval(node.args[2] if len(node.args) > 2 else args["key"])
                return question, len(options), key if isinstance(key, int) else _read_key(key)
    raise AssertionError(f"{path.name} has no quiz(...) cell")


# --- the tests ----------------------------------------------------------------------------------
def test_student_jupyterlab_hides_instructor_tools(page, lab):
    base, token, _ = lab
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=30)
    assert err.value.code == 404, "formgrader's server extension must be off in the students' JupyterLab"
    page.goto(f"{base}/lab?token={token}")
    page.locator(".lm-MenuBar-itemLabel").first.wait_for()
    config = page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent)")
    disabled = config.get("disabledExtensions", [])
    for plugin in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"):
        assert plugin in disabled, f"{plugin} is enabled for students; disabled: {disabled}"
    assert "@jupyter/nbgrader:validate-assignment" not in disabled, "students keep Validate"


def test_lecture_runs_with_plots_slider_and_quiz(page, lab):
    with screenshot_on_failure(page, "lecture"):
        _lecture(page, lab)


def _lecture(page, lab):
    _, _, student = lab
    open_notebook(page, lab, LECTURE)
    t0 = time.perf_counter()
    menu(page, "Run", "Run All Cells")
    page.wait_for_function(BUSY, timeout=60_000)  # the run has started
    wait_idle(page, 600)
    seconds = time.perf_counter() - t0
    prompts = texts(code_cells(page).locator(".jp-InputPrompt"))
    assert not tracebacks(page), f"errors while running {LECTURE}: {tracebacks(page)[:1]}"
    # a cell whose input is collapsed (the quizzes hide their answer keys) shows no prompt, so check
    # the count instead: the last prompt's number equals the number of code cells when all ran
    numbers = [int(m.group(1)) for p in prompts if (m := re.search(r"\[(\d+)\]", p))]
    assert numbers and numbers == sorted(numbers) and numbers[-1] == len(prompts), f"cells left unexecuted: {prompts}"
    plots = page.locator(".jp-NotebookPanel:visible .jp-RenderedImage img[src^='data:image/png']")
    assert plots.count() >= 3, f"expected the lecture's plots, saw {plots.count()} images"
    plots.first.scroll_into_view_if_needed()
    assert plots.first.evaluate("img => img.complete && img.naturalWidth > 100"), "the first plot did not render"
    page.screenshot(path=str(ARTIFACTS / "lecture05_plot.png"))
    print(f"lecture ran in the browser in {seconds:.0f} s ({len(prompts)} code cells, {plots.count()} plots)")

    # a slider of the interactive widget: a new value redraws the plot under it
    widget = page.locator(".widget-interact").first
    widget.scroll_into_view_if_needed()
    image = widget.locator(".jp-OutputArea-output img")
    image.wait_for()
    before = image.get_attribute("src")
    readout = widget.locator(".widget-readout").first
    readout.scroll_into_view_if_needed()
    page.wait_for_function("el => el.textContent.trim().length > 0", arg=readout.element_handle())
    old = int(readout.text_content())
    new = old - 1 if old > 1 else old + 1
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(new))
    page.keyboard.press("Enter")
    page.wait_for_function("([el, src]) => { const i = el.querySelector('.jp-OutputArea-output img');"
                           " return i && i.getAttribute('src') !== src; }",
                           arg=[widget.element_handle(), before], timeout=120_000)
    assert int(readout.text_content()) == new
    widget.screenshot(path=str(ARTIFACTS / "lecture05_slider.png"))

    # a quiz: a wrong answer, then the right one; the feedback changes from retry to correct
    question, n_options, answer = first_quiz(student / LECTURE)
    box = page.locator(".widget-vbox", has=page.locator(".widget-radio-box")).filter(has_text=question[:40]).first
    box.scroll_into_view_if_needed()
    options = box.locator(".widget-radio-box label")
    assert options.count() == n_options
    feedback = box.locator(".widget-html").last
    options.nth((answer + 1) % n_options).click()
    box.get_by_role("button", name="Check").click()
    page.wait_for_function("el => el.innerText.trim().length > 0", arg=feedback.element_handle())
    wrong = feedback.inner_text()
    assert "Not quite" in wrong, f"a wrong answer got {wrong!r}"
    options.nth(answer).click()
    box.get_by_role("button", name="Check").click()
    page.wait_for_function("([el, old]) => el.innerText !== old", arg=[feedback.element_handle(), wrong])
    right = feedback.inner_text()
    assert right.startswith("Correct."), f"the right answer got {right!r} (after {wrong!r})"
    box.screenshot(path=str(ARTIFACTS / "lecture05_quiz.png"))

    # save what the browser executed, and read it as a page of the static site
    menu(page, "File", "Save Notebook")
    deadline = time.time() + 60
    executed = nbformat.read(student / LECTURE, 4)
    while not any(c.get("outputs") for c in executed.cells):
        assert time.time() < deadline, "File > Save Notebook did not write the outputs"
        time.sleep(1)
        executed = nbformat.read(student / LECTURE, 4)
    html_page = _load_script("build_site").render(executed, student / "site" / "week05.html")
    page.goto(html_page.as_uri(), wait_until="domcontentloaded")
    images = page.locator("img[src^='data:image/png']")
    assert images.count() >= 3 and page.locator("body[data-course-page='lecture']").count() == 1
    assert "Traceback" not in page.locator("body").inner_text()
    page.screenshot(path=str(ARTIFACTS / "site_week05.png"))


def test_student_lab_shows_failing_visible_tests(page, lab):
    with screenshot_on_failure(page, "lab"):
        _student_lab(page, lab)


def _student_lab(page, lab):
    _, _, student = lab
    nb = nbformat.read(student / LAB, 4)
    assert "raise NotImplementedError()" in str(nb), "this must be the student version"
    open_notebook(page, lab, LAB)
    validate = page.locator(".jp-NotebookPanel:visible .jp-Toolbar").get_by_text("Validate")
    assert validate.count() >= 1, "the Validate button of nbgrader is missing from the students' toolbar"
    page.locator(".jp-NotebookPanel:visible .jp-Cell").first.click()
    page.keyboard.press("Escape")  # command mode: Shift+Enter runs the cell and selects the next
    for _ in nb.cells:  # one at a time: Run All stops at the first error, a student goes on
        page.keyboard.press("Shift+Enter")
        wait_idle(page, 300)
    outputs = code_cells(page).evaluate_all("cells => cells.map(c => c.querySelector('.jp-OutputArea').textContent)")
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    assert len(outputs) >= len(sources)  # Shift+Enter on the last cell adds an empty one below
    failing = [i for i, text in enumerate(outputs) if "NotImplementedError" in text]
    tests = [i for i in failing if "assert" in sources[i] and "NotImplementedError" not in sources[i]]
    assert len(failing) >= 2 and tests, (
        f"expected answer cells and visible tests failing with NotImplementedError; {len(failing)} cells "
        f"fail with it, {len(tests)} of them tests")
    cell = code_cells(page).nth(tests[0])
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the cells scrolled into view paint before the picture
    cell.screenshot(path=str(ARTIFACTS / "lab03_student_test_fails.png"))
