"""Print the course's performance figures against its budgets.

    python3 course.py bench                 notebooks, check latency, im2col vs F.conv2d
    python3 course.py bench --fresh-clone   also: the whole test suite from a fresh clone, install included
    python3 course.py bench --browser       also: run the browser test and time it

Budgets: a notebook executes in at most 60 s on a 2-core CPU; a check call takes
at most 1 s (median); the reference im2col is within the check's speed bar of
F.conv2d; the test suite, install included, finishes within 12 minutes from a
fresh clone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COURSE_HEADLESS", "1")  # as in the tests and nbgrader: no live widgets


def row(name: str, value: str, budget: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("ok" if ok else "OVER BUDGET")
    print(f"  {name:<46} {value:>14}   {budget:<14} {mark}", flush=True)


def notebooks() -> None:
    import nbformat
    from nbclient import NotebookClient

    print("notebook execution, top to bottom (nbclient, one kernel)")
    for folder, label in (("source", "instructor version"), ("notebooks", "learner version")):
        for path in sorted((ROOT / folder).glob("*/*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            NotebookClient(nb, timeout=600, allow_errors=True,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            seconds = time.perf_counter() - start
            row(f"{path.stem} ({label})", f"{seconds:.1f} s", "<= 60 s", seconds <= 60)


def checks() -> None:
    from course_utils import checks as checks_module
    from course_grader.solutions import load_solutions

    print("check latency with the reference solutions (median of 5 calls)")
    for name in sorted(p.stem for p in (ROOT / "instructor").glob("[0-9][0-9]_*.py")):
        namespace = load_solutions(name)
        for check_name in sorted(n for n in dir(checks_module) if n.startswith("check_")):
            fn = namespace.get(check_name[len("check_"):])
            if fn is None:
                continue
            check = getattr(checks_module, check_name)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                assert check(fn, strict=True)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            row(check_name, f"{median * 1e3:.0f} ms", "<= 1000 ms", median <= 1.0)
            hidden = time.perf_counter()
            check(fn, strict=True, seed=2024, extended=True)
            row(f"  {check_name}(extended=True)", f"{(time.perf_counter() - hidden) * 1e3:.0f} ms", "", None)


def im2col() -> None:
    """The reference im2col against F.conv2d as check_conv2d_im2col measures it: one thread, CPU time, the
    best of alternating rounds (``convolution._speed_ratio``), against the check's bar; benchmarks/im2col.py
    times other learners' variants the same way."""
    import torch
    import torch.nn.functional as F

    from course_grader.solutions import load_solutions
    from course_utils.checks.convolution import IM2COL_SPEED_FACTOR, _cpu_clock, _speed_ratio, im2col_speed_case

    conv2d_im2col = load_solutions("01_convolution")["conv2d_im2col"]
    case = im2col_speed_case()
    clock = _cpu_clock()

    def mine() -> float:
        start = clock()
        conv2d_im2col(*case.args, **case.kwargs)
        return clock() - start

    print(f"reference im2col vs F.conv2d on {case.label} (torch {torch.__version__}, one thread, CPU time)")
    with torch.no_grad():
        ratios, refs, mines = [], [], []
        for _ in range(5):
            ref, best, _ = _speed_ratio(lambda: F.conv2d(*case.args, **case.kwargs), mine,
                                        factor=IM2COL_SPEED_FACTOR, budget=5.0)
            refs.append(ref)
            mines.append(best)
            ratios.append(best / ref)
    row("F.conv2d (best, median of 5 checks)", f"{statistics.median(refs) * 1e3:.2f} ms", "", None)
    row("conv2d_im2col (reference solution)", f"{statistics.median(mines) * 1e3:.2f} ms", "", None)
    worst = max(ratios)
    row("ratio (median, worst of 5)", f"{statistics.median(ratios):.1f}x, {worst:.1f}x",
        f"<= {IM2COL_SPEED_FACTOR:g}x (the check's bar)", worst <= IM2COL_SPEED_FACTOR)


def fresh_clone() -> None:
    print("the README's test command in a fresh clone, install included")
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "course"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "course.py", "test"], cwd=clone, env=env,
                                capture_output=True, text=True)
        seconds = time.perf_counter() - start
        print("\n".join(result.stdout.strip().splitlines()[-3:]))
        row("python3 course.py test (fresh clone)", f"{seconds / 60:.1f} min", "<= 12 min",
            result.returncode == 0 and seconds <= 720)


def _course_commands():
    import importlib.util
    spec = importlib.util.spec_from_file_location("course_commands", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start_lab(course, port: int, token: str, env: dict) -> tuple[subprocess.Popen, str]:
    """Start JupyterLab with the README's command when the environment is installed for these files
    (then `lab` only checks its stamp); otherwise, so as not to reinstall, with the same command line and
    environment (a learner's lab)."""
    args = ["--no-browser", f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    installed = course.STAMP.exists() and course.STAMP.read_text().strip() == course._fingerprint()
    command = ([sys.executable, str(ROOT / "course.py"), "lab", *args] if installed
               else course.lab_command(sys.executable, *args))
    label = "python3 course.py lab" if installed else "course.lab_command (environment stamp out of date)"
    return subprocess.Popen(command, cwd=ROOT, env=course.lab_env(env=env), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True), label


def lab_startup(runs: int = 3) -> None:
    """Seconds from the lab command to a JupyterLab that answers an authenticated API request."""
    import secrets
    import signal
    import socket
    import urllib.request

    course = _course_commands()
    env = {k: v for k, v in os.environ.items() if k != "COURSE_HEADLESS"}
    times, label = [], ""
    for run in range(runs + 1):  # the first run warms the disk cache and is not counted
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        token = secrets.token_hex(16)
        start = time.perf_counter()
        server, label = _start_lab(course, port, token, env)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/lab/api/settings",
                                         headers={"Authorization": f"token {token}"})
        try:
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    if server.poll() is not None or time.perf_counter() - start > 120:
                        raise RuntimeError("JupyterLab did not start") from None
                    time.sleep(0.05)
            if run:
                times.append(time.perf_counter() - start)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    print(f"JupyterLab start-up, warm machine ({label}; median of {runs})")
    row("lab command to an answering JupyterLab", f"{statistics.median(times):.1f} s", "", None)


def browser(run: bool) -> None:
    """The browser test's duration (tests/e2e/test_browser.py): run now with --browser, else its last run."""
    timings_file = ROOT / ".artifacts" / "browser" / "timings.json"
    if run:
        print("the browser test (tests/e2e/test_browser.py), every learner notebook in JupyterLab and Chromium")
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                 "tests/e2e/test_browser.py"], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        print("\n".join(result.stdout.strip().splitlines()[-1:]))
        row("tests/e2e/test_browser.py", f"{seconds:.0f} s", "<= 240 s", result.returncode == 0 and seconds <= 240)
    elif timings_file.exists():
        print(f"the browser test's last run ({timings_file.relative_to(ROOT)}; `--browser` runs it again)")
    else:
        return
    import json
    timings = json.loads(timings_file.read_text())
    if "lab_ready_s" in timings:
        row("  JupyterLab ready (test fixture)", f"{timings['lab_ready_s']:.1f} s", "", None)
    if "total_s" in timings:
        row("  whole test (server up to server down)", f"{timings['total_s']:.0f} s", "", None)
    for name, seconds in timings.get("notebooks", {}).items():
        row(f"  run all: {name}", f"{seconds:.1f} s", "", None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh-clone", action="store_true", help="also time the test suite from a fresh clone")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--browser", action="store_true", help="also run the browser test and time it")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    im2col()
    checks()
    if not args.skip_notebooks:
        notebooks()
    lab_startup()
    browser(args.browser)
    if args.fresh_clone:
        fresh_clone()
    return 0


if __name__ == "__main__":
    sys.exit(main())
