"""A bubblewrap sandbox for one grading kernel (instructor side, Linux only).

nbgrader runs a student's code as the instructor (nbgrader issue #483).  Here
each submission's kernel runs in its own ``bwrap`` sandbox:

* **no network** and private IPC, PID and UTS namespaces (``--unshare-*``);
  the kernel talks to the grader over ZeroMQ's ``ipc`` transport, through
  socket files in a directory bound into the sandbox;
* **an allow-list file system**: a fresh root that holds only the system
  directories (``/usr``, ``/etc``, ``/lib*``) and the Python installation read-only,
  the course's ``course_utils/`` and ``data/`` read-only, the submission's
  own scratch copy read-write, and a private ``/tmp``.  The course folder
  (``source/`` with the hidden tests, ``gradebook.db``, ``submitted/`` with the
  other students' work) and ``$HOME`` are simply not there;
* **an unprivileged user**: when the grader runs as root, the sandbox switches
  to ``nobody`` (``setpriv``) before any student code runs, so files the
  system protects (``/etc/shadow``) stay unreadable;
* **resource limits** set by the trusted kernel launcher
  (``course_utils.guard``) before it imports anything: address space
  (4 GiB: ``import torch`` needs about that much), CPU time, file size,
  number of processes, no core files;
* ``--die-with-parent`` and ``--new-session``: the sandbox dies with its
  grader, and cannot push keystrokes into the grader's terminal.

``require_bwrap()`` installs bubblewrap with apt when it is missing and the
grader may (root, or ``sudo -n``); otherwise it raises ``SandboxUnavailable``.
Grading never falls back to running unsandboxed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Dict, Unicode

CODE_ROOT = Path(__file__).resolve().parent.parent      # holds course_utils/ and data/
SANDBOX_UID = 65534                                      # nobody
MEMORY_LIMIT = 6 * 1024 ** 3   # bytes of address space: torch + torchvision + matplotlib + ipykernel threads reserve ~4.5 GB


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing and could not be installed: grading refuses to run unsandboxed."""


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def require_bwrap(install: bool = True) -> str:
    """The path of ``bwrap``; install it (apt) when missing and allowed, else raise SandboxUnavailable."""
    found = shutil.which("bwrap")
    if found:
        return found
    if install and sys.platform.startswith("linux") and shutil.which("apt-get"):
        prefix = [] if _is_root() else (["sudo", "-n"] if shutil.which("sudo") else None)
        if prefix is not None:
            print("[grade] bubblewrap is missing: installing it with apt-get", flush=True)
            command = prefix + ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y",
                                "--no-install-recommends", "bubblewrap"]
            if subprocess.run(command, capture_output=True).returncode != 0:
                subprocess.run(prefix + ["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"], capture_output=True)
                subprocess.run(command, capture_output=True)
            found = shutil.which("bwrap")
            if found:
                return found
    raise SandboxUnavailable(
        "bubblewrap (bwrap) is not installed, and grading never runs student code unsandboxed. "
        "Install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap) "
        "and run the command again.")


def _python_paths() -> list[Path]:
    """What the kernel's interpreter needs: the venv, the base installation and their site-packages."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        value = sysconfig.get_paths().get(key)
        if value:
            paths.add(Path(value))
    resolved = set()
    for path in paths:
        for candidate in (path, path.resolve()):
            if candidate.exists():
                resolved.add(candidate)
    # the interpreter's real binary may live outside its prefix (a venv's symlink)
    resolved.add(Path(sys.executable).resolve().parent.parent)
    # keep only the outermost paths
    ordered = sorted(resolved, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in ordered:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


def bwrap_command(argv: list[str], *, scratch: Path, runtime: Path, env: dict[str, str]) -> list[str]:
    """``argv`` wrapped in a bwrap sandbox: ``scratch`` (the submission's copy) and ``runtime``
    (connection file and sockets) writable at their own paths, everything else hidden or read-only."""
    bwrap = require_bwrap()
    cmd = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--clearenv"]
    root = _is_root()
    if root:  # switch to nobody inside, after the mounts are made
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user"]
    for system in ("/usr", "/etc", "/opt"):
        if os.path.isdir(system):
            cmd += ["--ro-bind", system, system]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):
            cmd += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            cmd += ["--ro-bind", link, link]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(512 * 1024 ** 2), "--tmpfs", "/tmp"]
    if os.path.exists("/etc/shadow"):
        cmd += ["--ro-bind", "/dev/null", "/etc/shadow"]
    binds = [(p, "ro") for p in _python_paths()]
    binds += [(CODE_ROOT / "course_utils", "ro"), (CODE_ROOT / "data", "ro"), (scratch, "rw"), (runtime, "rw")]
    made: set[Path] = set()
    for path, _ in binds:
        for parent in _ancestors(path):
            if parent not in made and str(parent) not in ("/usr", "/etc", "/tmp", "/opt"):
                cmd += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
    for path, mode in binds:
        if path.exists():
            cmd += ["--ro-bind" if mode == "ro" else "--bind", str(path), str(path)]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--chdir", str(scratch)]
    if root:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            raise SandboxUnavailable("setpriv (util-linux) is missing: cannot drop root inside the sandbox.")
        cmd += [setpriv, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all"]
    return cmd + argv


def sandbox_env(scratch: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's whole environment (bwrap --clearenv drops everything else, JPY_PARENT_PID included)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch), "TMPDIR": "/tmp", "LANG": "C.UTF-8",
        "PYTHONPATH": str(CODE_ROOT), "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "COURSE_HEADLESS": "1", "NBGRADER_EXECUTION": "autograde",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MALLOC_ARENA_MAX": "2",
    }
    for key in ("COURSE_CHECK_TIME_LIMIT",):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra or {})
    return env


def prepare_dir(path: Path) -> None:
    """Make ``path`` writable for the sandbox's user (nobody when the grader is root)."""
    path.mkdir(parents=True, exist_ok=True)
    if _is_root():
        for folder, dirs, files in os.walk(path):
            os.chown(folder, SANDBOX_UID, SANDBOX_UID)
            for name in files:
                os.chown(os.path.join(folder, name), SANDBOX_UID, SANDBOX_UID)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is ``python -m course_utils.guard`` inside ``bwrap``.

    ``scratch`` is the submission's working copy (the kernel's cwd),
    ``runtime`` holds the connection file and the ipc sockets; both are bound
    at their own paths.  Interrupts travel as messages (a signal to bwrap
    would not reach the kernel in its own PID namespace and session).
    """

    scratch = Unicode("").tag(config=True)
    runtime = Unicode("").tag(config=True)
    limits = Dict({}).tag(config=True)   # --cpu, --memory, ... for the launcher
    preload = Unicode("").tag(config=True)  # modules the launcher imports before the snapshot

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        runtime = Path(self.runtime)
        prepare_dir(runtime)
        self.transport = "ipc"
        self.ip = str(runtime / "kernel")
        self.connection_file = str(runtime / "kernel.json")

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # the kernel's own chatter goes to a log beside its sockets, not into the grader's terminal
        kw["stdout"] = subprocess.DEVNULL
        kw["stderr"] = open(Path(self.runtime) / "kernel.log", "ab")
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    def format_kernel_cmd(self, extra_arguments=None):
        if os.path.exists(self.connection_file) and _is_root():
            os.chown(self.connection_file, SANDBOX_UID, SANDBOX_UID)
        scratch = Path(self.scratch)
        argv = [sys.executable, "-m", "course_utils.guard", "-f", self.connection_file,
                "--HistoryManager.hist_file=:memory:"]
        for key, value in self.limits.items():
            argv.insert(4, f"--limit-{key}={value}")
        if self.preload:
            argv.insert(4, f"--preload={self.preload}")
        return bwrap_command(argv, scratch=scratch, runtime=Path(self.runtime), env=sandbox_env(scratch))
