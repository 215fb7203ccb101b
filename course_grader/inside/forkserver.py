"""The trusted fork server inside one grading worker's sandbox (``python -P -m course_grader.inside.forkserver``).

Why: a fresh Python kernel spends ~3 s of CPU importing torch, numpy, matplotlib,
IPython and the course's checks before a submission's first cell runs, and nbgrader
pays that for every student.  The fork server pays it once per worker: it imports what
the assignment's source notebook imports, then forks one kernel per submission
(the technique Android's zygote and Python's ``forkserver`` use).  Each kernel is a
fresh process with its own copy of that memory; nothing a kernel does reaches the
fork server or the next kernel:

* **before any student file exists**: the fork server starts while the worker's scratch
  folder is empty, with ``-P`` (no script folder on ``sys.path``), no user site
  packages, and IPython and Jupyter configuration folders under its private
  ``/tmp``; a kernel reads its configuration in ``/`` and only then moves into the
  submission's copy, whose folder joins ``sys.path`` (for helper modules shipped beside
  the notebook, as in any kernel) only after the grader's snapshot
  (``course_grader.inside.guard``), so a submission cannot ship a ``torch.py``,
  ``ipython_kernel_config.py``, IPython start-up file or ``usercustomize.py`` that
  runs before it;
* **another user** (grading as root): the fork server keeps uid 0 with only
  ``CAP_SETUID``, ``CAP_SETGID`` and ``CAP_KILL``; a kernel drops to ``nobody`` with
  no capabilities and ``no_new_privs`` before it runs anything, so it cannot signal,
  trace or read the fork server.  Without root (a user namespace maps one uid) the fork server
  is not dumpable (no ptrace, no ``/proc/PID/mem``); a kernel can still kill or stop
  it, which only costs its own worker a restart (the grader pings the fork server before
  each submission);
* **talks only over its inherited pipes** (stdin/stdout: ``course_grader.inside.protocol``),
  which a kernel closes first thing; no socket a kernel could reach;
* **sweeps after each kernel**: every other process in the sandbox's PID namespace
  is killed, and ``/tmp`` and ``/dev/shm`` are emptied by a process with the kernels'
  identity; if anything remains, the grader replaces the whole sandbox.

The requests it answers are listed in ``course_grader.inside.protocol``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

from course_grader.inside.protocol import SANDBOX_UID, LineReader, decode, send

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SCRATCH_AREAS = ("/tmp", "/dev/shm")
BASE_PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "course_utils.checks",
                "course_utils.checks.engine", "course_grader.inside.guard", "ipykernel.kernelapp",
                "ipykernel.ipkernel",
                "ipykernel.zmqshell", "ipykernel.iostream", "ipykernel.heartbeat", "ipykernel.comm",
                "IPython.core.interactiveshell", "IPython.core.completer", "matplotlib", "matplotlib.pyplot")

_libc = ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def apply_limits(limits: dict[str, int]) -> None:
    """Address space, CPU seconds, file size and processes for one kernel; never a core file."""
    import resource
    table = {"memory": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU, "fsize": resource.RLIMIT_FSIZE,
             "nproc": resource.RLIMIT_NPROC}
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for key, value in limits.items():
        resource.setrlimit(table[key], (int(value), int(value)))


def _drop_identity() -> None:
    """In the child, before anything else: the kernels' user, no capabilities, no way back."""
    if os.getuid() == 0:
        os.setgroups([])
        os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
        os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)   # clears every capability (no keepcaps)
        if os.getuid() != SANDBOX_UID or os.geteuid() != SANDBOX_UID:   # pragma: no cover - defensive
            os._exit(70)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_DUMPABLE, 1)   # as after an ordinary exec: its own /proc entries belong to it


def _kernel(request: dict) -> None:
    """The forked child: become a kernel (never returns)."""
    try:
        os.setsid()
        _drop_identity()
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 65536)             # the fork server's pipes and anything else it held
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        apply_limits(request.get("limits", {}))
        import numpy
        numpy.random.seed()                  # a fresh process draws its own entropy; so does each kernel
        from ipykernel.kernelapp import IPKernelApp

        from course_grader.inside import guard
        os.chdir("/")                        # configuration is read here, never from the submission
        app = IPKernelApp.instance()
        app.initialize(["-f", request["connection_file"], "--HistoryManager.hist_file=:memory:"])
        guard.attach(app, cwd_on_path=True)   # after the grader's snapshot, as an ordinary kernel has it
        backend = sys.modules.get("matplotlib_inline.backend_inline")
        if backend is not None:              # imported before the shell existed: hook it up now
            backend._enable_matplotlib_integration()
        os.chdir(request["cwd"])
        app.start()
    except SystemExit as exc:
        os._exit(exc.code if isinstance(exc.code, int) else 0)
    except BaseException:  # pragma: no cover - reported in the kernel's log
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(71)
    os._exit(0)


def _others() -> list[int]:
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]


def _wipe(path: str, keep: set[str] = frozenset()) -> None:
    for entry in os.scandir(path):
        if entry.name in keep:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                os.chmod(entry.path, 0o700)
                _wipe(entry.path)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


BASELINE: dict[str, set[str]] = {}   # what the scratch areas held before any kernel: the sandbox's own


def _cleaner() -> None:
    """A child with the kernels' identity empties the writable areas (it can remove what they made)."""
    pid = os.fork()
    if pid == 0:
        try:
            _drop_identity()
            for area in SCRATCH_AREAS:
                if os.path.isdir(area):
                    _wipe(area, keep=BASELINE.get(area, set()))
        except BaseException:
            os._exit(1)
        os._exit(0)
    os.waitpid(pid, 0)


def _leftovers() -> list[str]:
    """What a kernel left behind in the scratch areas (the sandbox's own entries excepted: the bound
    folders' parents and matplotlib's cache; as root, kernels cannot write into them)."""
    return [os.path.join(area, name) for area in SCRATCH_AREAS if os.path.isdir(area)
            for name in os.listdir(area) if name not in BASELINE.get(area, set())]


def sweep() -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        others = _others()
        if not others:
            break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:   # reap our own children; orphans are the namespace's init's to reap
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        time.sleep(0.01)
    _cleaner()
    left = [f"process {p}" for p in _others()] + _leftovers()
    return {"clean": not left, "left": left[:10]}


def _preload(modules: list[str]) -> list[str]:
    import importlib
    import types
    failed = []
    for name in modules:
        parent, _, attr = name.rpartition(".")
        if parent in sys.modules and not isinstance(getattr(sys.modules[parent], attr, types), types.ModuleType):
            continue   # `from a import f` names a function f, not a module a.f
        try:
            importlib.import_module(name)
        except Exception:   # a module the source names but the system lacks: the kernel will say so
            failed.append(name)
    return failed


def serve(preload: list[str]) -> None:
    prctl(PR_SET_DUMPABLE, 0)     # no ptrace and no /proc/PID/mem for a kernel with the same uid
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.chdir("/")
    failed = _preload(list(BASE_PRELOAD) + [m for m in preload if m not in BASE_PRELOAD])
    for area in SCRATCH_AREAS:
        if os.path.isdir(area):
            BASELINE[area] = set(os.listdir(area))
    import threading
    if threading.active_count() != 1:   # fork copies only the calling thread: refuse to run half a library
        raise SystemExit(f"fork server: {threading.active_count()} threads after the preload; forking is unsafe")
    reader = LineReader(0)
    reply = lambda message: send(1, message)  # noqa: E731
    reply({"ready": True, "pid": os.getpid(), "uid": os.getuid(), "failed": failed})
    children: dict[int, int | None] = {}
    while True:
        line = reader.line()
        if line is None:
            return
        try:
            request = decode(line)
            op = request.get("op")
            if op == "spawn":
                pid = os.fork()
                if pid == 0:
                    _kernel(request)
                children[pid] = None
                reply({"pid": pid})
            elif op == "poll":
                pid = int(request["pid"])
                if children.get(pid) is None and pid in children:
                    try:
                        done, status = os.waitpid(pid, os.WNOHANG)
                        if done:
                            children[pid] = os.waitstatus_to_exitcode(status)
                    except ChildProcessError:
                        children[pid] = -9
                reply({"status": children.get(pid, -9)})
            elif op == "kill":
                pid = int(request["pid"])
                for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                    try:
                        target()
                    except OSError:
                        pass
                reply({"ok": True})
            elif op == "sweep":
                result = sweep()
                children.clear()
                reply(result)
            elif op == "ping":
                reply({"ok": True})
            else:
                reply({"error": f"unknown op {op!r}"})
        except Exception as exc:   # a bad request is answered, never fatal
            reply({"error": f"{type(exc).__name__}: {exc}"})


def main(argv: list[str]) -> int:
    """``--preload=a,b.c``: import those modules, then serve requests until the worker closes the pipe."""
    modules = [m for a in argv if a.startswith("--preload=") for m in a.split("=", 1)[1].split(",") if m]
    serve(modules)
    return 0


if __name__ == "__main__":
    from course_grader.inside import forkserver   # run the importable module, not a __main__ copy
    sys.exit(forkserver.main(sys.argv[1:]))
