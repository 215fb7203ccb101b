"""The learner's experience in a real browser: JupyterLab started as `python3 course.py lab` starts it,
driven by Debian's Chromium through playwright.

For every learner notebook (``notebooks/NN_*/``, new ones are picked up automatically) the test
opens it, runs every cell as a learner would (Run All, and after each graded cell that fails,
as it must in an untouched notebook, "Run Selected Cell and All Below" from the next cell), waits
for the kernel to go idle and asserts what a learner sees: each check renders its verdict
("not attempted"), each graded cell its short failure, plots appear as images, and an
ipywidgets explorer is a live control whose slider redraws the picture.  One instructor notebook
(solutions filled in) shows "passed" verdicts.  The learner's JupyterLab shows none of nbgrader's
instructor tools while its Validate button works, and `python3 course.py lab --instructor` (checked
over HTTP) has them all.  Screenshots go to ``.artifacts/browser/``.

The test installs what it needs: Debian's ``chromium`` (apt, as root or through ``sudo -n``)
and the pip package ``playwright`` (in requirements.txt; the browser is never downloaded:
``executable_path="/usr/bin/chromium"``).  It stops the server and its kernels even on failure.
"""

from __future__ import annotations

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
import sys
import time
import urllib.error
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
# nbgrader's instructor tools: lab plugins (ids of nbgrader 0.9) and the pages of its server extensions
# formgrader, course_list and assignment_list.  A learner's lab has none of them (course.py,
# LEARNER_JUPYTER_CONFIG) and keeps nbgrader's Validate button; `lab --instructor` has them all.
INSTRUCTOR_PLUGINS = {f"@jupyter/nbgrader:{name}"
                      for name in ("menu", "create-assignment", "formgrader", "course-list", "assignment-list")}
VALIDATE_PLUGIN = "@jupyter/nbgrader:validate-assignment"
INSTRUCTOR_PAGES = ("/formgrader", "/courses", "/assignments?course_id=cnn-course")
# Validate is tried on a short copy of a learner notebook (a committed one must not be saved), in an
# ignored folder under the server's root.
SCRATCH = ROOT / "build" / "browser-test"


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


def _status(base: str, token: str, path: str) -> int:
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _page_config(base: str, token: str) -> dict:
    """The page config JupyterLab's /lab page hands the browser (the plugins it leaves out among it)."""
    request = urllib.request.Request(f"{base}/lab", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        html = response.read().decode()
    return json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                html, re.S).group(1))


class Lab:
    def __init__(self, base: str, token: str, timings: dict, server: subprocess.Popen | None = None,
                 log_name: str = ""):
        self.base, self.token, self.timings, self.server, self.log_name = base, token, timings, server, log_name

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until the server answers an authenticated API request."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.server.poll() is None, f"JupyterLab exited; see {self.log_name}"
            try:
                _api(self.base, self.token, "/lab/api/settings")
                return
            except OSError:
                assert time.monotonic() < deadline, f"JupyterLab did not answer within {timeout} s"
                time.sleep(0.2)

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


@contextlib.contextmanager
def _jupyterlab(course, home: Path, log, instructor: bool = False, wait: bool = True):
    """A JupyterLab started as `python3 course.py lab` (`--instructor`: as `lab --instructor`) starts it, plus
    a port, a known token and no browser, with its Jupyter config and runtime folders under ``home``; ready
    (unless not ``wait``: then call its ``wait_ready``); stopped, kernels first, even on failure."""
    _settings(home / "config")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.pop("COURSE_HEADLESS", None)  # a learner's lab: the explorers are live widgets
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               COURSE_PROGRESS_FILE=str(home / "progress.json"), OMP_NUM_THREADS="1")
    server = subprocess.Popen(
        course.lab_command(sys.executable, "--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                           f"--IdentityProvider.token={token}"),
        cwd=ROOT, env=course.lab_env(instructor, env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        lab = Lab(base, token, {"notebooks": {}}, server, log.name)
        if wait:
            lab.wait_ready()
        yield lab
    finally:
        try:  # kernels first, then the server, politely; then for certain
            Lab(base, token, {}).shut_down_kernels()
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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab as `python3 course.py lab` starts it (a learner's), plus a port, a known token and no browser."""
    ensure_chromium()
    _ensure_playwright()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    committed = {p: p.read_bytes() for p in LEARNER + INSTRUCTOR}
    start = time.perf_counter()
    timings = {}
    try:
        with open(ARTIFACTS / "jupyterlab.log", "w") as log, \
                _jupyterlab(_load_course_module(), tmp_path_factory.mktemp("jupyter"), log) as lab:
            timings = lab.timings
            timings["lab_ready_s"] = round(time.perf_counter() - start, 2)
            yield lab
    finally:
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


def _open(page, lab: Lab, path: Path, shots: str, idle: bool = True) -> None:
    """Open the notebook at ``path`` with a kernel; ``idle``: and wait until the kernel is ready."""
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
    if idle:
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

def _short_copy(path: Path) -> Path:
    """A short copy of the learner notebook ``path`` in SCRATCH: its imports, its first exercise and that
    exercise's graded cell."""
    notebook = json.loads(path.read_text())
    cells = notebook["cells"]
    nbgrader = [i for i, cell in enumerate(cells) if cell["metadata"].get("nbgrader", {}).get("solution")
                or cell["metadata"].get("nbgrader", {}).get("grade")]
    exercise, graded = nbgrader[0], next(i for i in nbgrader if cells[i]["metadata"]["nbgrader"].get("grade"))
    imports = [cell for cell in cells[:exercise]
               if cell["cell_type"] == "code" and re.search(r"^(import|from) ", "".join(cell["source"]), re.M)]
    notebook["cells"] = [*imports, cells[exercise], cells[graded]]
    copy = SCRATCH / path.name
    SCRATCH.mkdir(parents=True, exist_ok=True)
    copy.write_text(json.dumps(notebook, indent=1))
    return copy


def test_lab_env_reads_the_learner_config_first_and_the_instructor_lab_not_at_all():
    """Does a learner's lab put the course's learner config before any other Jupyter config, and an instructor's
    lab drop it, even one started from a learner's lab terminal (which inherits it)?  (No browser, no server.)"""
    course = _load_course_module()
    learner, other = str(course.LEARNER_JUPYTER_CONFIG), str(ROOT / "elsewhere")
    assert course.lab_env(env={})["JUPYTER_CONFIG_PATH"] == learner
    assert course.lab_env(env={"JUPYTER_CONFIG_PATH": other})["JUPYTER_CONFIG_PATH"] == os.pathsep.join([learner, other])
    inherited = {"JUPYTER_CONFIG_PATH": os.pathsep.join([learner, other])}
    assert course.lab_env(env=inherited)["JUPYTER_CONFIG_PATH"] == os.pathsep.join([learner, other])
    assert course.lab_env(True, env=inherited)["JUPYTER_CONFIG_PATH"] == other
    assert "JUPYTER_CONFIG_PATH" not in course.lab_env(True, env={"JUPYTER_CONFIG_PATH": learner})
    plugins = json.loads((course.LEARNER_JUPYTER_CONFIG / "labconfig" / "page_config.json").read_text())
    assert {name for name, off in plugins["disabledExtensions"].items() if off} == INSTRUCTOR_PLUGINS


def test_learner_lab_shows_learner_tools_only_and_instructor_lab_all(page, lab, tmp_path):
    """Does a learner's JupyterLab leave out nbgrader's instructor tools (no Create Assignment panel, no Nbgrader
    menu, no formgrader, course list or assignment list, neither as plugins nor as server pages), while nbgrader's
    Validate button validates a learner notebook and shows its failing graded cell?  And does
    `python3 course.py lab --instructor` keep them all?  (The instructor's lab is checked over HTTP, in the
    page config that the learner's browser obeys, as seen here: a second browser session would cost far more.
    It starts, is checked and stops while the learner's lab works.)"""
    start = time.perf_counter()
    path = _short_copy(LEARNER[0])
    try:
        with open(ARTIFACTS / "jupyterlab-instructor.log", "w") as log, \
                _jupyterlab(_load_course_module(), tmp_path, log, instructor=True, wait=False) as instructor:
            disabled = set(_page_config(lab.base, lab.token)["disabledExtensions"])
            assert INSTRUCTOR_PLUGINS <= disabled and VALIDATE_PLUGIN not in disabled, sorted(disabled)
            for url in INSTRUCTOR_PAGES:
                assert _status(lab.base, lab.token, url) == 404, f"a learner's lab serves {url}"
            activated = []  # nbgrader's plugins log their activation (console.debug), in two wordings
            page.on("console", lambda message: activated.extend(name.replace("_", "-") for name in re.findall(
                r'[Ee]xtension "?([\w-]+)"? (?:is )?activated', message.text)))
            _open(page, lab, path, "learner-tools", idle=False)  # Validate runs its own kernel
            validate = page.locator(".jp-NotebookPanel-toolbar .validate-button")
            validate.wait_for()
            assert "Nbgrader" not in page.locator("#jp-menu-panel .lm-MenuBar-item").all_inner_texts()
            tabs = page.eval_on_selector_all(".jp-SideBar .lm-TabBar-tab",
                                             "tabs => tabs.map(t => `${t.dataset.id} ${t.title} ${t.innerText}`)")
            assert not [t for t in tabs if "nbgrader" in t or "Assignment" in t], tabs
            nbgrader = {plugin.split(":")[1] for plugin in INSTRUCTOR_PLUGINS | {VALIDATE_PLUGIN}}
            assert nbgrader & set(activated) == {"validate-assignment"}, activated
            validate.click()  # the learner's server validates while the instructor's lab is checked

            instructor.wait_ready()
            disabled = set(_page_config(instructor.base, instructor.token)["disabledExtensions"])
            assert not disabled & (INSTRUCTOR_PLUGINS | {VALIDATE_PLUGIN}), sorted(disabled)
            for url in INSTRUCTOR_PAGES:
                assert _status(instructor.base, instructor.token, url) == 200, f"an instructor's lab lacks {url}"

        message = page.locator(".jp-Dialog #validation-message")
        message.wait_for(timeout=RUN_TIMEOUT * 1000)
        page.screenshot(path=ARTIFACTS / "learner-tools-validated.png")
        assert "validation-failed" in message.get_attribute("class"), message.inner_text()
        assert "The following cell failed" in message.inner_text() and "not attempted" in message.inner_text()
        page.click(".jp-Dialog .jp-mod-accept")
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
        with contextlib.suppress(OSError):  # build/ too, when the test made it
            SCRATCH.parent.rmdir()
    lab.timings["learner_and_instructor_tools_s"] = round(time.perf_counter() - start, 1)


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
