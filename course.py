#!/usr/bin/env python3
"""The course's commands.  Needs only Python 3.10+ with venv and pip.

    python3 course.py lab     set up .venv (first run only) and open JupyterLab on the course
                              (--instructor: with nbgrader's instructor tools, e.g. the formgrader)
    python3 course.py test    set up .venv (first run only), lint with ruff, run the whole test suite
    python3 course.py build   regenerate the notebooks from instructor/*.py (instructors)
    python3 course.py bench   print the course's performance figures
    python3 course.py grade NN_name [--workers N]
                              grade submitted/*/NN_name/ in sandboxed, parallel kernels (instructors)
    python3 course.py release DEST [--repository URL]
                              write the learner edition into DEST: no solutions, no hidden tests (instructors)

Set-up installs requirements.txt and the course's packages (editable: course_utils, and
course_grader with its `grading` extra) into the project-local virtual environment `.venv`;
it is repeated only when requirements.txt or pyproject.toml change.
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
    if os.environ.get("CI"):
        pip.append("--no-color")
    subprocess.run(pip + ["install", "--upgrade", "pip"], check=True, cwd=ROOT)
    # the course's two packages: course_utils (the learner's) and course_grader with its extra
    subprocess.run(pip + ["install", "-r", "requirements.txt", "-e", ".[grading]"], check=True, cwd=ROOT)
    STAMP.write_text(fingerprint + "\n")
    return python


# A learner's JupyterLab reads this Jupyter config folder first (JUPYTER_CONFIG_PATH): it switches off
# nbgrader's instructor tools, server extensions (jupyter_server_config.d/) and lab plugins
# (labconfig/page_config.json), in this server only; `lab --instructor` leaves it out.
LEARNER_JUPYTER_CONFIG = ROOT / "jupyter-config" / "learner"


def lab_command(python: Path | str, *args: str) -> list[str]:
    """The JupyterLab command line of `lab`: the course folder, 127.0.0.1 only, a login token.

    One definition, used by `lab` and by the browser test and the benchmark, so
    that they start JupyterLab exactly as a learner does (`args` add, for
    example, `--no-browser` and a port), with the environment of `lab_env`.
    Jupyter makes a random token unless one is given.
    """
    command = [str(python), "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.root_dir={ROOT}", "--LabApp.default_url=/lab/tree/notebooks", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def lab_env(instructor: bool = False, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of `lab_command`: `env` (default: this process's), in which a learner's lab
    reads LEARNER_JUPYTER_CONFIG before any other Jupyter config, the user's own included, and an
    instructor's does not read it at all (not even when started from a learner's lab terminal)."""
    env = dict(os.environ if env is None else env)
    paths = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)
             if p and Path(p).resolve() != LEARNER_JUPYTER_CONFIG]
    if not instructor:
        paths.insert(0, str(LEARNER_JUPYTER_CONFIG))
    if paths:
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    else:
        env.pop("JUPYTER_CONFIG_PATH", None)
    return env


def lab(args: list[str]) -> int:
    instructor = "--instructor" in args
    args = [arg for arg in args if arg != "--instructor"]
    python = ensure_environment()
    print(f"[course] starting JupyterLab{' with the instructor tools' if instructor else ''}; "
          "stop it with Ctrl-C", flush=True)
    return subprocess.call(lab_command(python, *args), cwd=ROOT, env=lab_env(instructor))


def test(args: list[str]) -> int:
    python = ensure_environment()
    workers = os.environ.get("COURSE_TEST_WORKERS", "auto" if (os.cpu_count() or 1) > 1 else "0")
    command = [str(python), "-m", "pytest", "-n", workers, "--dist", "loadscope", "--no-loadscope-reorder",
               "--nbval-lax", "--nbval-cell-timeout=300", "tests", "source", *args]
    env = dict(os.environ)  # the venv's scripts (jupyter, nbgrader, alembic) first on PATH
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])
    # Parallelism comes from the test workers; one math thread per process keeps
    # workers and the kernels they start from oversubscribing the cores.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("COURSE_HEADLESS", "1")  # explorers draw static figures in headless runs
    lint = [str(python), "-m", "ruff", "check", "."]   # the rules live in pyproject.toml [tool.ruff]
    print("[course] ruff check .", flush=True)
    if subprocess.call(lint, cwd=ROOT, env=env) != 0:
        print("[course] lint failed: fix the lines above (`ruff check --fix .` mends many), then test again",
              flush=True)
        return 1
    print("[course] " + " ".join(command[2:]), flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def build(args: list[str]) -> int:
    python = ensure_environment()
    return subprocess.call([str(python), "-m", "course_grader.build", *args], cwd=ROOT)


def bench(args: list[str]) -> int:
    python = ensure_environment()
    return subprocess.call([str(python), str(ROOT / "benchmarks" / "run.py"), *args], cwd=ROOT)


def grade(args: list[str]) -> int:
    python = ensure_environment()
    # --course is read from where you are, although the grader runs from the repository
    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--course" and i + 1 < len(args):
            args[i + 1] = os.path.abspath(args[i + 1])
        elif arg.startswith("--course="):
            args[i] = "--course=" + os.path.abspath(arg.split("=", 1)[1])
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])   # nbgrader runs alembic by name
    env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.call([str(python), "-m", "course_grader", *args], cwd=ROOT, env=env)


def release(args: list[str]) -> int:
    python = ensure_environment()
    # DEST is read from where you are, although the command runs from the repository
    args = list(args)
    for i, arg in enumerate(args):
        if not arg.startswith("-") and (i == 0 or args[i - 1] != "--repository"):
            args[i] = os.path.abspath(arg)
    return subprocess.call([str(python), "-m", "course_grader.release", *args], cwd=ROOT)


COMMANDS = {"lab": lab, "test": test, "build": build, "bench": bench, "grade": grade, "release": release}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
