#!/usr/bin/env python3
"""The course's commands.  Needs only Python 3.10+ with venv and pip.

    python3 course.py lab     set up .venv (first run only) and open JupyterLab on the notebooks
    python3 course.py test    set up .venv (first run only), then run every notebook top to bottom as you
                              received it: each must run, and each check must answer "not attempted"

Set-up installs requirements.txt and the course's helper package, course_utils (editable), into the
project-local virtual environment `.venv`; it is repeated only when requirements.txt or pyproject.toml
change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".course-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> Path:
    """Create .venv and install the requirements, unless already done for these files."""
    if sys.version_info < (3, 10):
        sys.exit(f"The course needs Python 3.10 or newer; this is {sys.version.split()[0]}.")
    python = venv_python()
    if not python.exists():
        print(f"[course] creating the virtual environment {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as exc:  # e.g. Debian without python3-venv
            sys.exit(f"[course] could not create {VENV}: {exc}\n"
                     "On Debian/Ubuntu install the venv module first: sudo apt-get install python3-venv")
    fingerprint = _fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == fingerprint:
        return python
    print("[course] installing the course's packages (first run: a few minutes)", flush=True)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(pip + ["install", "--upgrade", "pip"], check=True, cwd=ROOT)
    subprocess.run(pip + ["install", "-r", "requirements.txt", "-e", "."], check=True, cwd=ROOT)
    STAMP.write_text(fingerprint + "\n")
    return python


def lab(args: list[str]) -> int:
    """JupyterLab on the notebooks, listening on 127.0.0.1 only, with a login token."""
    python = ensure_environment()
    command = [str(python), "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={ROOT}",
               "--LabApp.default_url=/lab/tree/notebooks", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    print("[course] starting JupyterLab; stop it with Ctrl-C", flush=True)
    return subprocess.call(command, cwd=ROOT)


def test(args: list[str]) -> int:
    """Every notebook, untouched, top to bottom (tests/), one notebook per CPU side by side."""
    python = ensure_environment()
    workers = os.environ.get("COURSE_TEST_WORKERS", "auto" if (os.cpu_count() or 1) > 1 else "0")
    command = [str(python), "-m", "pytest", "-n", workers, "tests", *args]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")   # parallelism comes from the workers: one math thread each
    env.setdefault("COURSE_HEADLESS", "1")   # explorers draw static figures in headless runs
    print("[course] " + " ".join(command[2:]), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


COMMANDS = {"lab": lab, "test": test}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
