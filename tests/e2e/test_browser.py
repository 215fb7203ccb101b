"""The learner's experience in a real browser: JupyterLab started as `python3 course.py lab` starts it,
driven by Debian's Chromium through playwright.

For every learner notebook (``notebooks/NN_*/``, new ones are picked up automatically) the test
opens it, runs every cell as a learner would (Run All, and after each graded cell that fails,
as it must in an untouched notebook, "Run Selected Cell and All Below" from the next cell), waits
for the kernel to go idle and asserts what a learner sees: each check renders its verdict
("not attempted"), each graded cell its short failure, plots appear as images, and an
ipywidgets explorer is a live control whose slider redraws the picture.  One instructor notebook
(solutions filled in) shows "passed" verdicts.  Screenshots go to ``.artifacts/browser/``.

The test installs what it needs: Debian's ``chromium`` (apt, as root or through ``sudo -n``)
and the pip package ``playwright`` (in requirements.txt; the browser is never downloaded:
``executable_path="/usr/bin/chromium"``).  It stops the server and its kernels even on failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from chromium import CHROMIUM, ensure_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "browser"
LEARNER = sorted(ROOT.glob("notebooks/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))
# One instructor notebook is enough to see "passed" verdicts render; the first one is the cheapest.
INSTRUCTOR = sorted(ROOT.glob("source/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))[:1]
# Seconds a notebook may take to run in the browser (the budget is 60 s on the 2-core CPU;
# the browser, the server and another test worker share those cores).  COURSE_BROWSER_TIMEOUT
# changes it (a slower machine).
RUN_TIMEOUT = int(os.environ.get("COURSE_BROWSER_TIMEOUT", "240"))
CHECK_CELL = re.compile(r"check_\w+\(\w+\)\s*$")


def _ensure_playwright() -> None:
    if importlib.util.find_spec("playwright") is None:  # requirements.txt lists it; install it if missing
        subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        next(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                             if line.startswith("playwright"))], check=True)
        importlib.invalidate_caches()


def _load_course_module():
    spec = importlib.util.spec_from_file_location("course_commands", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(config_dir: Path) -> None:
    """User settings of this server only: no autosave (the course's notebooks stay untouched) and every
    cell in the DOM (JupyterLab's windowing would defer off-screen cells)."""
    user = config_dir / "lab" / "user-settings" / "@jupyterlab"
    for plugin, values in (("docmanager-extension/plugin", {"autosave": False}),
                           ("notebook-extension/tracker", {"windowingMode": "none"}),
                           ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False})):
        path = user / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _api(base: str, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"},
                                     data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


class Lab:
    def __init__(self, base: str, token: str, timings: dict):
        self.base, self.token, self.timings = base, token, timings

    def url(self, path: Path) -> str:
        # `reset` starts from an empty workspace, so no notebook of an earlier test reopens.
        return f"{self.base}/lab/tree/{path.relative_to(ROOT).as_posix()}?reset&token={self.token}"

    def has_kernel(self, path: Path) -> bool:
        """Does the notebook at ``path`` have a session with a kernel?"""
        relative = path.relative_to(ROOT).as_posix()
        return any(s["path"] == relative and s.get("kernel") for s in _api(self.base, self.token, "/api/sessions"))

    def shut_down_kernels(self) -> None:
        for session in _api(self.base, self.token, "/api/sessions"):
            _api(self.base, self.token, f"/api/sessions/{session['id']}", "DELETE")
        for kernel in _api(self.base, self.token, "/api/kernels"):
            _api(self.base, self.token, f"/api/kernels/{kernel['id']}", "DELETE")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as `python3 course.py lab` starts it, plus a port, a known token and no browser."""
    ensure_chromium()
    _ensure_playwright()
    course = _load_course_module()
    home = tmp_path_factory.mktemp("jupyter")
    _settings(home / "config")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.pop("COURSE_HEADLESS", None)  # a learner's lab: the explorers are live widgets
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               COURSE_PROGRESS_FILE=str(home / "progress.json"), OMP_NUM_THREADS="1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "jupyterlab.log", "w")
    committed = {p: p.read_bytes() for p in LEARNER + INSTRUCTOR}
    start = time.perf_counter()
    server = subprocess.Popen(
        course.lab_command(sys.executable, "--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                           f"--IdentityProvider.token={token}"),
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    timings = {"notebooks": {}}
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"JupyterLab exited; see {ARTIFACTS / 'jupyterlab.log'}"
            try:
                _api(base, token, "/lab/api/settings")
                break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not answer within 120 s"
                time.sleep(0.2)
        timings["lab_ready_s"] = round(time.perf_counter() - start, 2)
        yield Lab(base, token, timings)
    finally:
        try:  # kernels first, then the server, politely; then for certain
            Lab(base, token, timings).shut_down_kernels()
            _api(base, token, "/api/shutdown", "POST")
            server.wait(timeout=20)
        except Exception:
            pass
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
        timings["total_s"] = round(time.perf_counter() - start, 1)
        (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
        for path, content in committed.items():  # the test must never change a committed notebook
            if path.read_bytes() != content:
                path.write_bytes(content)
                pytest.fail(f"the browser test changed {path}; restored")


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()
        lab.shut_down_kernels()  # one notebook's kernel at a time


# --------------------------------------------------------------------------
# Driving JupyterLab like a learner
# --------------------------------------------------------------------------

def _menu(page, command: str) -> None:
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click(f"li.lm-Menu-item[data-command='{command}']")


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt",
                                     "els => els.map(e => e.innerText.trim())")


def _wait_idle(page, start: int, deadline: float) -> None:
    """Wait until the cell at ``start`` ran, nothing is queued or running, and the kernel is idle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    try:
        _wait_for_idle(page, start, deadline)
    except PlaywrightTimeout:
        status = page.get_attribute(".jp-Notebook-ExecutionIndicator", "data-status")
        page.screenshot(path=ARTIFACTS / "timeout.png")
        raise AssertionError(f"the notebook did not finish within {RUN_TIMEOUT} s; kernel {status}, "
                             f"prompts {_prompts(page)}") from None


def _wait_for_idle(page, start: int, deadline: float) -> None:
    page.wait_for_function(
        """start => {
            const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
                .map(e => e.innerText.trim());
            const status = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
            return /\\[\\d+\\]/.test(prompts[start]) && !prompts.some(p => p.includes('*')) && status === 'idle';
        }""", arg=start, timeout=max(1, deadline - time.monotonic()) * 1000, polling=250)


def _open(page, lab: Lab, path: Path, shots: str) -> None:
    page.goto(lab.url(path))
    page.wait_for_selector(".jp-Notebook .jp-CodeCell")
    # On a busy machine JupyterLab sometimes asks which kernel to start (its kernel list came late):
    # accept its choice, Python 3, as a learner would.
    deadline = time.monotonic() + 90
    while not lab.has_kernel(path):
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count() and accept.first.is_visible():
            page.screenshot(path=ARTIFACTS / f"{shots}-kernel-dialog.png")
            accept.first.click()
        assert time.monotonic() < deadline, f"no kernel started for {path.name}"
        time.sleep(0.25)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")  # kernel ready
    page.screenshot(path=ARTIFACTS / f"{shots}-opened.png")


def _run_everything(page, path: Path) -> float:
    """Run All, then continue below each cell that stopped the run (an untouched graded cell fails).

    Returns the seconds taken."""
    start = time.perf_counter()
    deadline = time.monotonic() + RUN_TIMEOUT
    _menu(page, "runmenu:run-all")
    first = 0
    for _ in range(200):
        _wait_idle(page, first, deadline)
        prompts = _prompts(page)
        pending = [i for i, p in enumerate(prompts) if not re.search(r"\[\d+\]", p)]
        if not pending:
            return time.perf_counter() - start
        first = pending[0]
        page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").nth(first).click()
        _menu(page, "notebook:run-all-below")
    raise AssertionError(f"{path.name}: the notebook did not finish")


def _code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def _rendered(page) -> list[dict]:
    """What each code cell shows: check verdicts, images, error text."""
    return page.eval_on_selector_all(".jp-Notebook .jp-CodeCell", """cells => cells.map(cell => ({
        verdicts: [...cell.querySelectorAll('.jp-OutputArea-output .course-check')].map(e => e.dataset.outcome),
        images: cell.querySelectorAll('.jp-OutputArea-output img').length,
        stderr: [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                  .map(e => e.innerText),
        widgets: cell.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length,
        progress: [...cell.querySelectorAll('.jp-OutputArea-output table.course-progress tr')]
                    .map(row => [...row.querySelectorAll('td')].map(td => td.innerText.trim())),
    }))""")


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _error_text(texts: list[str]) -> str:
    return "\n".join(t for t in texts if "Traceback" in t or re.search(r"^\w*(Error|Exception|Failed)\b", t, re.M))


def _explore(page, index: int, shots: str) -> None:
    """Move the first slider of the explorer in code cell ``index`` with the keyboard; the picture must change."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
    handle = cell.locator(".widget-slider .noUi-handle, .widget-slider input[type=range]").first
    image = cell.locator(".widget-output img, .jp-OutputArea-output img").last
    handle.scroll_into_view_if_needed()
    before = image.get_attribute("src")
    cell.screenshot(path=ARTIFACTS / f"{shots}-explorer-before.png")
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        """([index, before]) => {
            const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
            const images = cell.querySelectorAll('.widget-output img, .jp-OutputArea-output img');
            const last = images[images.length - 1];
            return last && last.getAttribute('src') !== before;
        }""", arg=[index, before], timeout=30_000, polling=200)
    cell.screenshot(path=ARTIFACTS / f"{shots}-explorer-after.png")


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------

@pytest.mark.parametrize("path", LEARNER, ids=[p.stem for p in LEARNER])
def test_learner_notebook_in_jupyterlab(page, lab, path):
    """Run top to bottom in a browser, does an untouched learner notebook show "not attempted" verdicts,
    short graded failures, its plots as images and live explorers whose slider redraws the picture?"""
    shots = f"learner-{path.stem}"
    _open(page, lab, path, shots)
    seconds = _run_everything(page, path)
    lab.timings["notebooks"][path.stem] = round(seconds, 1)
    page.screenshot(path=ARTIFACTS / f"{shots}-ran.png")
    cells = _code_cells(path)
    shown = _rendered(page)
    assert len(shown) == len(cells), "every code cell should be in the page"
    for cell, seen in zip(cells, shown):
        source = _source(cell)
        graded = cell["metadata"].get("nbgrader", {}).get("grade")
        if graded:
            failure = "\n".join(seen["stderr"])
            assert "CheckFailed" in failure and "not attempted" in failure, (source, seen)
            assert "Traceback" not in failure, "a graded failure renders in a few lines, without a traceback"
        else:
            assert not _error_text(seen["stderr"]), f"cell failed in the browser:\n{source}\n{seen['stderr']}"
        if CHECK_CELL.match(source.strip()):
            assert seen["verdicts"] == ["not attempted"], (source, seen)
    assert sum(s["images"] for s in shown) >= 1, "the notebook's plots should appear as images"
    assert any(r and r[0] == path.stem for r in shown[-1]["progress"]), "the progress table should close the notebook"
    explorers = [i for i, c in enumerate(cells) if re.search(r"widgets\.explore_\w+\(", _source(c))]
    for index in explorers:
        assert shown[index]["widgets"], f"the explorer should render as a live widget:\n{_source(cells[index])}"
    sliders = [i for i in explorers if page.locator(".jp-Notebook .jp-CodeCell").nth(i)
               .locator(".widget-slider").count()]
    if sliders:
        _explore(page, sliders[0], shots)


@pytest.mark.parametrize("path", INSTRUCTOR, ids=[p.stem for p in INSTRUCTOR])
def test_instructor_notebook_shows_passed_verdicts(page, lab, path):
    """With the solutions filled in, does every check render "passed" in the browser, graded cells silently?"""
    shots = f"instructor-{path.stem}"
    _open(page, lab, path, shots)
    lab.timings["notebooks"][f"{path.stem} (instructor)"] = round(_run_everything(page, path), 1)
    page.screenshot(path=ARTIFACTS / f"{shots}-ran.png")
    cells, shown = _code_cells(path), _rendered(page)
    checks = 0
    for cell, seen in zip(cells, shown):
        assert not _error_text(seen["stderr"]), f"cell failed:\n{_source(cell)}\n{seen['stderr']}"
        if CHECK_CELL.match(_source(cell).strip()):
            assert seen["verdicts"] == ["passed"], (_source(cell), seen)
            checks += 1
    assert checks, "the notebook should call its checks"
    # Its closing progress table counts this notebook complete: the passes were recorded.
    row = next(r for r in shown[-1]["progress"] if r and r[0] == path.stem)
    done, total = row[1].split(" / ")
    assert done == total, row
    first = page.locator(".course-check[data-outcome='passed']").first
    first.scroll_into_view_if_needed()
    first.screenshot(path=ARTIFACTS / f"{shots}-passed-verdict.png")
