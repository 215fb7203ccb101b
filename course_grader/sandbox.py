"""A bubblewrap sandbox for one grading worker's kernels, and the client of its fork server (host side, Linux only).

nbgrader runs a student's code as the instructor (nbgrader issue #483).  Here
each grading worker keeps one ``bwrap`` sandbox, in which a trusted fork server
(``course_grader.inside.forkserver``) forks one fresh kernel per submission:

* **no network** and private IPC, PID and UTS namespaces (``--unshare-*``);
  a kernel talks to the grader over ZeroMQ's ``ipc`` transport, through
  socket files in a directory bound into the sandbox;
* **an allow-list file system**: a fresh root that holds only the system
  directories (``/usr``, ``/etc``, ``/lib*``) and the Python installation read-only,
  the course's ``course_utils/``, ``data/`` and ``course_grader/inside/`` (with the
  import-free ``course_grader/__init__.py``, never the host modules) read-only, the worker's scratch
  folder (where each submission's copy goes, emptied between submissions)
  read-write, and a private ``/tmp``.  The course folder (``source/`` with the
  hidden tests, ``gradebook.db``, ``submitted/`` with the other students' work)
  and ``$HOME`` are simply not there;
* **an unprivileged user**: when the grader runs as root, the fork server keeps
  only ``CAP_SETUID``, ``CAP_SETGID`` and ``CAP_KILL`` and every kernel switches to
  ``nobody`` with no capabilities before any student code runs, so files the
  system protects (``/etc/shadow``) stay unreadable and the fork server is out of reach;
* **resource limits** set in each kernel before it runs anything: address space
  (6 GiB: torch, torchvision, matplotlib and ipykernel's threads reserve ~4.5 GB),
  CPU time, file size, number of processes, no core files;
* ``--die-with-parent`` and ``--new-session``: the sandbox dies with its
  worker, and cannot push keystrokes into the grader's terminal;
* **one submission at a time, then a sweep**: after each kernel every other process
  in the sandbox is killed and ``/tmp`` emptied; when that fails, or the fork server
  stops answering, the worker replaces the whole sandbox before the next submission.

``require_bwrap()`` installs bubblewrap with apt when it is missing and the
grader may (root, or ``sudo -n``); otherwise it raises ``SandboxUnavailable``.
Grading never falls back to running unsandboxed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Any, Dict

from course_grader.inside.protocol import SANDBOX_UID, LineReader, send

CODE_ROOT = Path(__file__).resolve().parent.parent      # holds course_utils/, course_grader/ and data/
# what the sandbox sees of the course, read-only: the learner package, its data, and the grader's inside
SANDBOX_CODE = (CODE_ROOT / "course_utils", CODE_ROOT / "data", CODE_ROOT / "course_grader" / "__init__.py",
                CODE_ROOT / "course_grader" / "inside")
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
    """``argv`` wrapped in a bwrap sandbox: ``scratch`` (where submissions are copied) and ``runtime``
    (connection files and sockets) writable at their own paths, everything else hidden or read-only."""
    bwrap = require_bwrap()
    cmd = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--clearenv"]
    root = _is_root()
    if root:  # the fork server keeps what it needs to make nobody-kernels and kill them, nothing more
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL"]
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
    binds += [(path, "ro") for path in SANDBOX_CODE] + [(scratch, "rw"), (runtime, "rw")]
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
    cmd += ["--chdir", "/"]
    return cmd + argv


def sandbox_env(scratch: Path) -> dict[str, str]:
    """The kernel's whole environment (bwrap --clearenv drops everything else, JPY_PARENT_PID included)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch), "TMPDIR": "/tmp", "LANG": "C.UTF-8",
        "PYTHONPATH": str(CODE_ROOT), "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "COURSE_HEADLESS": "1", "NBGRADER_EXECUTION": "autograde", "PYTHONNOUSERSITE": "1",
        # configuration comes from the private /tmp, never from the submission's folder (HOME, cwd)
        "IPYTHONDIR": "/tmp/.ipython", "JUPYTER_CONFIG_DIR": "/tmp/.jupyter", "JUPYTER_DATA_DIR": "/tmp/.jupyter",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "MALLOC_ARENA_MAX": "2",
    }
    for key in ("COURSE_CHECK_TIME_LIMIT",):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def prepare_dir(path: Path) -> None:
    """Make ``path`` writable for the sandbox's user (nobody when the grader is root)."""
    path.mkdir(parents=True, exist_ok=True)
    if _is_root():
        for folder, dirs, files in os.walk(path):   # never follows a link: chown would change its target
            os.chown(folder, SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)
            for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                os.chown(os.path.join(folder, name), SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)


def empty_dir(path: Path) -> None:
    """Remove what ``path`` holds and keep the folder itself (it is bound into a live sandbox)."""
    path.mkdir(parents=True, exist_ok=True)
    for item in path.iterdir():
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


class ForkServerClient:
    """One worker's sandbox: ``course_grader.inside.forkserver`` in bwrap, asked over its stdin/stdout
    (``course_grader.inside.protocol``) to fork kernels.

    ``scratch`` receives each submission's copy (the kernel's cwd) and ``runtime`` its
    connection file and ipc sockets; both stay bound for the sandbox's life and are
    emptied between submissions.  ``start`` raises ``SandboxUnavailable`` with the
    fork server's log when it does not come up.
    """

    def __init__(self, scratch: Path, runtime: Path, preload: list[str], log: Path):
        self.scratch, self.runtime, self.preload, self.log = Path(scratch), Path(runtime), list(preload), Path(log)
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}
        self._reader: LineReader | None = None

    def start(self) -> None:
        for folder in (self.scratch, self.runtime):
            empty_dir(folder)
            prepare_dir(folder)
        argv = [sys.executable, "-P", "-m", "course_grader.inside.forkserver", f"--preload={','.join(self.preload)}"]
        cmd = bwrap_command(argv, scratch=self.scratch, runtime=self.runtime, env=sandbox_env(self.scratch))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         start_new_session=True)
        self._reader = LineReader(self.proc.stdout.fileno())
        hello = self._reader.message(timeout=180)
        if not hello or not hello.get("ready"):
            self.stop()
            tail = self.log.read_text(errors="replace")[-1500:] if self.log.exists() else ""
            raise SandboxUnavailable(
                "bubblewrap could not start the grading sandbox; its log ends:\n" + (tail.strip() or "(empty)") +
                "\nIf it speaks of user namespaces or a uid map, this system restricts unprivileged user "
                "namespaces: grade as root (sudo), or allow them for bwrap.")
        self.info = hello

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                pipe.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def request(self, message: dict, timeout: float = 10) -> dict | None:
        """The fork server's answer, or None when it is gone or silent (the caller restarts it)."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            send(self.proc.stdin.fileno(), message)
        except OSError:   # BrokenPipeError included: the fork server is gone
            return None
        return self._reader.message(timeout)

    def ensure(self) -> None:
        """Before a submission: a live, answering fork server (a kernel may have killed or stopped it)."""
        if self.proc is None or (self.request({"op": "ping"}, timeout=5) or {}).get("ok") is not True:
            self.restart()

    def sweep(self) -> None:
        """After a submission: nothing of it may remain for the next one, or the sandbox is replaced."""
        answer = self.request({"op": "sweep"}, timeout=30)
        if not answer or not answer.get("clean"):
            self.restart()
        else:
            for folder in (self.scratch, self.runtime):
                empty_dir(folder)
                prepare_dir(folder)

    def spawn(self, connection_file: str, limits: dict) -> "ForkedKernel":
        if os.path.exists(connection_file) and _is_root():
            os.chown(connection_file, SANDBOX_UID, SANDBOX_UID)
        answer = self.request({"op": "spawn", "connection_file": connection_file, "cwd": str(self.scratch),
                               "log": str(self.runtime / "kernel.log"), "limits": limits}, timeout=30)
        if not answer or "pid" not in answer:
            raise RuntimeError(f"the grading sandbox could not start a kernel: {answer!r}")
        return ForkedKernel(self, int(answer["pid"]))


class ForkedKernel:
    """What jupyter_client's provisioner needs of a ``Popen`` (poll, wait, kill), for a kernel the
    fork server made.  Its pid lives in the sandbox's PID namespace: only the fork server signals it."""

    stdin = stdout = stderr = None

    def __init__(self, server: ForkServerClient, pid: int):
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            answer = self.server.request({"op": "poll", "pid": self.pid}, timeout=5)
            if answer is None:
                self.returncode = -signal.SIGKILL     # the fork server is gone: treat the kernel as dead
            elif answer.get("status") is not None:
                self.returncode = int(answer["status"])
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self.kill()

    def kill(self) -> None:
        if self.returncode is None:
            self.server.request({"op": "kill", "pid": self.pid}, timeout=5)

    terminate = kill


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is forked by a worker's sandboxed fork server (``ForkServerClient``).

    The fork server's ``runtime`` folder holds the connection file and the ipc sockets (bound
    into the sandbox at its own path); its ``scratch`` folder is the kernel's working
    folder.  Interrupts travel as messages (the kernel's pid is only meaningful inside the sandbox).
    """

    limits = Dict({}).tag(config=True)   # memory, cpu, fsize, nproc for the kernel
    fork_server = Any(None)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        runtime = self.fork_server.runtime
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
        provisioner = self.provisioner
        process = self.fork_server.spawn(self.connection_file, self.limits)
        provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, None
        provisioner.cwd = str(self.fork_server.scratch)
        self._reconcile_connection_info(provisioner.connection_info)
