"""Grade a whole class safely and fast: ``python3 course.py grade NN_name [--workers N]``.

Design
------
nbgrader's ``autograde`` runs every submission in one process, one after the other,
with the instructor's permissions, and pays ~4.5 s of start-up per call.  This
command keeps nbgrader's own preprocessors and gradebook and changes three things:

**Workers.**  ``--workers`` long-lived processes (default: one per CPU) each import nbgrader and
nbconvert once, start one bubblewrap sandbox with a fork server in it
(``course_utils.zygote``: it imports torch, matplotlib, IPython, the checks and whatever the
source notebook imports, once), and grade one submission at a time with nbgrader's
preprocessors: ``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``,
``OverwriteCells`` (graded cells come back from the gradebook; each worker reads a
private copy of it, so it never holds a lock on the real one), ``CheckCellMetadata``,
then ``GuardedExecute`` (nbgrader's ``Execute`` with a kernel forked for this submission
alone), ``IgnorePattern``, ``LimitOutput``.  A fresh kernel process costs nbgrader ~3 s
of imports per student; a forked one starts warm, which is most of why this command
beats sequential ``nbgrader autograde`` by more than its worker count alone allows
(benchmarks/grading.py prints the ratio).
A submission has a per-cell limit (the course's ``Execute.timeout``) and a
whole-submission limit (``--limit``); a worker that overruns it by 30 s is killed
and replaced.

**The parent is the only writer.**  It receives each finished notebook and writes
it into the gradebook with ``SaveAutoGrades`` and ``AssignLatePenalties`` (one writer: no
lock errors), writes
``autograded/``, the student's feedback (``GetGrades`` + the course's
``ScrubFeedback`` + nbconvert's feedback template), and a state file
``autograded/STUDENT/NN_name/.grade.json`` with a hash of the submission, the
source notebook and this grader.  A submission whose state matches is not graded
again: a run stopped by Ctrl-C, SIGTERM or a kill resumes where it was.  At the
end it writes ``grades.csv`` (nbgrader's columns plus ``flag``) and the class
report ``reports/NN_name/checks.csv`` + ``checks.png``.

**Sandbox and guarded graded cells.**  Kernels run in bubblewrap
(``course_utils.sandbox``: no network, only the submission's scratch copy writable, no
course folder, gradebook or other students, limits on memory, CPU, file size and
processes; as ``nobody`` when grading as root), one at a time per sandbox; after each,
every process it left is killed and ``/tmp`` emptied, or the sandbox is replaced.
Around every graded cell the grader runs the trusted restore/verify
steps of ``course_utils.guard``, and scores the cell from the kernel's
``execute_reply`` status, its error outputs and the check's ``<name>: passed``
line together; anything inconsistent scores 0 and flags ``tampered``.

Flags in ``grades.csv`` (several are joined with ``;``): ``missing_notebook``,
``invalid_notebook``, ``renamed`` (graded from the only notebook in the folder),
``kernel_died``, ``timeout`` (a cell or the whole submission ran out of time),
``memory`` (a ``MemoryError`` under the sandbox's limit), ``huge_output``
(outputs truncated), ``tampered``, ``bad_timestamp`` (``timestamp.txt`` empty or unreadable:
no late penalty could be computed), ``grader_error``.  A notebook that is a symbolic link, or
a folder that leads outside ``submitted/``, is not followed (``invalid_notebook``); symbolic
links beside the notebook are not copied.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from multiprocessing import get_context
from multiprocessing.connection import wait
from pathlib import Path

GRADER_VERSION = "course-grade 2"   # bump when a grade could come out differently
FLAGS = ("missing_notebook", "invalid_notebook", "renamed", "kernel_died", "timeout", "memory", "huge_output",
         "tampered", "bad_timestamp", "grader_error")
OUTPUT_LIMIT = 2_000_000           # characters of output one cell may produce before it is truncated
VERDICT = re.compile(r"^(?:CheckFailed: )?(\w+): (passed|not yet correct|not attempted|your code raised|"
                     r"cannot be checked) — (.*)$")
HINT = re.compile(r"^\s*hint: (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CHECK_CALL = re.compile(r"\bcheck_(\w+)\s*\(")


# --------------------------------------------------------------------------
# Course configuration
# --------------------------------------------------------------------------

def load_config(course: Path):
    """The course's nbgrader_config.py as a traitlets Config (what nbgrader itself would read)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = course / "nbgrader_config.py"
    if not path.exists():
        return Config()
    sys.path.insert(0, str(course))
    try:
        return PyFileConfigLoader(path.name, path=str(course)).load_config()
    finally:
        sys.path.remove(str(course))


def _dirs(config) -> dict[str, str]:
    cd = config.CourseDirectory
    return {key: cd.get(f"{key}_directory", key) for key in ("source", "submitted", "autograded", "feedback")}


def _db_url(course: Path, config) -> str:
    url = config.CourseDirectory.get("db_url", "sqlite:///gradebook.db")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{course / url[len('sqlite:///'):]}"
    return url


# --------------------------------------------------------------------------
# The worker: one submission at a time, nbgrader's preprocessors, a sandboxed kernel
# --------------------------------------------------------------------------

def _make_guarded_execute():
    """nbgrader's Execute with a sandboxed kernel and the guard around graded cells (built lazily:
    importing nbgrader costs a second, the parent's CLI parsing should not pay it)."""
    from nbclient.exceptions import DeadKernelError
    from nbclient.util import run_sync
    from nbformat.v4 import new_code_cell, new_output
    from nbgrader import utils
    from nbgrader.preprocessors import Execute
    from traitlets import Any, Dict, Float

    from course_utils.sandbox import SandboxedKernelManager

    class GuardedExecute(Execute):
        limits = Dict({})
        zygote = Any(None)       # the worker's sandboxed fork server
        deadline = Float(0.0)    # time.monotonic() when the whole submission must be done

        def create_kernel_manager(self):
            self.km = SandboxedKernelManager(kernel_name="python3", limits=self.limits, zygote=self.zygote,
                                             config=self.config)
            return self.km

        def _get_timeout(self, cell):
            timeout = super()._get_timeout(cell) or 10 ** 6
            return max(1, min(timeout, int(self.deadline - time.monotonic()) + 1))

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            self._output_size = getattr(self, "_output_size", 0) + size
            if self._output_size > OUTPUT_LIMIT:
                if not getattr(self, "_truncated", False):
                    self._truncated = True
                    self.flags.add("huge_output")
                    outs.append(new_output("stream", name="stderr",
                                           text=f"[grader] output truncated after {OUTPUT_LIMIT:,} characters\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

        def on_cell_executed(self, **kwargs):
            super().on_cell_executed(**kwargs)
            self._last_status = kwargs["execute_reply"]["content"].get("status")

        async def _guard_step(self, code: str, index: int) -> str:
            cell = new_code_cell(code)
            self._output_size, self._truncated = 0, False
            original = self.nb.cells[index]
            try:
                await self.async_execute_cell(cell, index, store_history=False)
            finally:
                self.nb.cells[index] = original   # nbclient stores the executed cell at its index
            return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")

        async def _run(self, cell, index):
            self._output_size, self._truncated = 0, False
            if not (utils.is_grade(cell) and cell.cell_type == "code"):
                await self.async_execute_cell(cell, index, store_history=True)
                return
            gid = cell.metadata.nbgrader["grade_id"]
            checks = sorted(set(CHECK_CALL.findall(cell.source)))
            nonce = secrets.token_hex(8)
            record = self.graded.setdefault(gid, {})
            text = await self._guard_step(
                f"__import__('sys').modules['course_utils.guard'].restore({nonce!r}, {checks!r})", index)
            record["restore"] = _guard_line(text, nonce, "restored")
            self._last_status = None
            self._output_size, self._truncated = 0, False
            await self.async_execute_cell(cell, index, store_history=True)
            record["status"] = self._last_status
            text = await self._guard_step(f"__import__('sys').modules['course_utils.guard'].verify({nonce!r})", index)
            record["verify"] = _guard_line(text, nonce, "verified")
            record["checks"] = checks

        def preprocess(self, nb, resources=None, km=None):
            from nbclient.client import NotebookClient
            NotebookClient.__init__(self, nb, km)
            self.reset_execution_trackers()
            self._check_assign_resources(resources)
            self.flags, self.graded, self.executed = set(), {}, set()
            try:
                with self.setup_kernel():
                    info = self.wait_for_reply(self.kc.kernel_info())
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                    nonce = secrets.token_hex(8)
                    armed = run_sync(self._guard_step)(
                        f"__import__('sys').modules['course_utils.guard'].arm({nonce!r})", 0)
                    if _guard_line(armed, nonce, "armed") is None:
                        self.flags.add("grader_error")
                        raise RuntimeError(f"the sandboxed kernel's guard did not arm: {armed!r}")
                    for index, cell in enumerate(self.nb.cells):
                        if cell.cell_type != "code":
                            continue
                        if time.monotonic() > self.deadline:
                            self.flags.add("timeout")
                            break
                        run_sync(self._run)(cell, index)
                        self.executed.add(index)
                        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                            self.flags.add("timeout")
                        if any(o.get("ename") == "MemoryError" for o in cell.outputs):
                            self.flags.add("memory")
            except DeadKernelError:
                self.flags.add("kernel_died")
            except RuntimeError as exc:
                if "did not arm" in str(exc):
                    raise
                self.flags.add("kernel_died")
            self.set_widgets_metadata()
            return self.nb, self.resources

    return GuardedExecute


def _guard_line(text: str, nonce: str, word: str) -> list[str] | None:
    """The changes a guard step reported (a list, empty when none), or None when its line is missing."""
    for line in text.splitlines():
        if line.startswith(f"course-guard {nonce} {word}"):
            rest = line.split(":", 1)[1].strip() if ":" in line else ""
            return [item for item in rest.split("; ") if item]
    return None


def _outputs_text(cell) -> list[str]:
    """Every line a cell showed: streams, plain-text results and error messages (ANSI removed)."""
    lines = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            lines += out.get("text", "").splitlines()
        elif kind in ("execute_result", "display_data"):
            lines += str(out.get("data", {}).get("text/plain", "")).splitlines()
        elif kind == "error":
            lines += f"{out.get('ename', '')}: {out.get('evalue', '')}".splitlines()
    return [ANSI.sub("", line) for line in lines]


def _verdict(cell) -> tuple[str | None, str | None]:
    """(outcome, hint) of the check a graded cell ran: the first verdict that did not pass, else 'passed'."""
    outcome, hint = None, None
    for line in _outputs_text(cell):
        match = VERDICT.match(line.strip())
        if match:
            if outcome in (None, "passed"):
                outcome = match.group(2)
            continue
        found = HINT.match(line)
        if found and hint is None and outcome not in (None, "passed"):
            hint = found.group(1).strip()
    return outcome, hint


def judge(nb, graded: dict, executed: set[int], flags: set[str]) -> dict:
    """Score every graded cell from reply status, error outputs and the verdict line together.

    A cell that should score but whose evidence is inconsistent gets an error output
    (so that nbgrader's ``SaveAutoGrades`` scores it 0) and the ``tampered`` flag.
    Returns ``{grade_id: {points, score, outcome, hint, category, note}}``.
    """
    from nbformat.v4 import new_output
    from nbgrader import utils

    cells = {}
    for index, cell in enumerate(nb.cells):
        if not utils.is_grade(cell):
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        points = float(cell.metadata.nbgrader.get("points", 0))
        record = graded.get(gid)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        outcome, hint = _verdict(cell)
        note = None
        if record is None or index not in executed:
            note = "not executed (the kernel died or the time ran out before this cell)"
        elif record.get("restore") is None or record.get("verify") is None:
            note = "the grader's restore/verify step did not answer"
        elif record["verify"]:
            note = "changed while the graded cell ran: " + "; ".join(record["verify"][:5])
        elif record.get("status") == "ok" and not errors:
            needed = record.get("checks", [])
            if needed and not any(line.strip().startswith(f"{needed[-1]}: passed — ") for line in _outputs_text(cell)):
                note = f"no '{needed[-1]}: passed' verdict in the output"
        elif record.get("status") == "ok" and errors:
            pass   # an error output: 0 points by nbgrader's own rule
        if record and record.get("restore"):
            flags.add("tampered")   # something was patched before this cell; it was put back
        if note is not None and cell.cell_type == "code":
            if record is not None and index in executed:
                flags.add("tampered")
            # first: nbgrader's determine_grade stops at the first error *or result* it meets
            cell.outputs.insert(0, new_output("error", ename="GradingRejected", evalue=f"0 points: {note}",
                                              traceback=[f"GradingRejected: 0 points: {note}"]))
        score = float(utils.determine_grade(cell)[0] or 0.0)   # exactly what SaveAutoGrades will store
        if score == points and points > 0:
            category = "passed"
        elif outcome == "not attempted":
            category = "not_attempted"
        elif outcome == "not yet correct" or (note and record is not None and index in executed):
            category = "failed"
        else:
            category = "errored"
        cells[gid] = {"points": points, "score": score, "outcome": outcome, "hint": hint,
                      "category": category, "note": note,
                      "restored": (record or {}).get("restore") or []}
    return cells


def grade_notebook(task: dict, options: dict) -> dict:
    """Grade one submission (in a worker).  Returns the executed notebook and what was found."""
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern,
                                        LimitOutput, OverwriteCells, OverwriteKernelspec)
    from traitlets.config import Config

    from course_utils.sandbox import prepare_dir

    config = Config(options["config"])
    name, student = options["name"], task["student"]
    result = {"student": student, "flags": set(task.get("flags", [])), "nb": None, "cells": {}}
    start = time.monotonic()
    if task["notebook"] is None:
        result["flags"].add("missing_notebook")
        return result
    try:
        nb = nbformat.read(task["notebook"], as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        result["flags"].add("invalid_notebook")
        result["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return result
    resources = {"nbgrader": {"notebook": name, "assignment": name, "student": student,
                              "db_url": options["db_copy"]}, "metadata": {"path": str(options["zygote"].scratch)}}
    try:
        for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
            nb, resources = pp(config=config).preprocess(nb, resources)
    except Exception as exc:
        result["flags"].add("invalid_notebook")
        result["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return result
    zygote = options["zygote"]
    zygote.ensure()
    try:
        scratch = zygote.scratch   # empty: the sweep after the last submission (or the start) emptied it
        _copy_files(Path(task["notebook"]).parent, scratch)
        _copy_source_data(Path(options["source_dir"]), scratch)
        prepare_dir(scratch)
        execute = options["execute_class"](config=config, limits=options["limits"], zygote=zygote,
                                           deadline=start + options["limit"],
                                           shutdown_kernel="immediate", record_timing=False)
        nb = nbformat.from_dict(nb)   # cells added back by OverwriteCells hold plain dicts
        try:
            nb, resources = execute.preprocess(nb, resources)
            result["flags"] |= execute.flags
            graded, executed = execute.graded, execute.executed
        except Exception as exc:
            result["flags"].add("grader_error")
            result["error"] = f"{type(exc).__name__}: {exc}"
            graded, executed = {}, set()
        nb, resources = IgnorePattern(config=config).preprocess(nb, resources)
        nb, resources = LimitOutput(config=config).preprocess(nb, resources)
        nb = nbformat.from_dict(nb)   # cells added back by OverwriteCells hold plain dicts
        result["cells"] = judge(nb, graded, executed, result["flags"])
        result["nb"] = nbformat.writes(nb)
    finally:
        zygote.sweep()   # nothing of this submission reaches the next one
    result["seconds"] = time.monotonic() - start
    return result


def _die_with_parent() -> None:
    from course_utils.zygote import PR_SET_PDEATHSIG, prctl
    try:  # Linux: the worker (and, through bwrap --die-with-parent, its kernel) dies with the grader
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _start_sandbox(conn, options: dict, slot: int):
    """The worker's sandboxed fork server, or None after telling the parent why it cannot start
    (the parent stops the run with that message: no student is graded unsandboxed)."""
    from course_utils.sandbox import SandboxUnavailable, Zygote

    work = Path(options["work"])
    zygote = Zygote(work / f"s{slot}", work / f"r{slot}", options["preload"], work / f"z{slot}.log")
    try:
        zygote.start()
    except Exception as exc:
        conn.send({"ready": False, "error": str(exc) if isinstance(exc, SandboxUnavailable)
                   else f"{type(exc).__name__}: {exc}"})
        return None
    return zygote


def _worker(conn, options: dict, slot: int) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the parent decides when to stop
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    zygote = _start_sandbox(conn, options, slot)
    if zygote is None:
        return
    options = dict(options, execute_class=_make_guarded_execute(), zygote=zygote)
    conn.send({"ready": True})
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            try:
                result = grade_notebook(task, options)
            except Exception:
                result = {"student": task["student"], "flags": {"grader_error"}, "nb": None, "cells": {},
                          "error": traceback.format_exc()[-2000:]}
            result["flags"] = sorted(result["flags"])
            conn.send(result)
    finally:
        zygote.stop()


# --------------------------------------------------------------------------
# The parent: discovery, scheduling, the only writer of the gradebook
# --------------------------------------------------------------------------

def _file_hash(*parts: bytes) -> str:
    digest = hashlib.sha256(GRADER_VERSION.encode())
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def discover(course: Path, name: str, dirs: dict) -> list[dict]:
    """One task per student folder ``submitted/STUDENT/NAME/``."""
    tasks = []
    root = course / dirs["submitted"]
    real_root = os.path.realpath(root)
    for folder in sorted(root.glob(f"*/{name}")):
        if not folder.is_dir():
            continue
        student = folder.parent.name
        notebook, flags = folder / f"{name}.ipynb", []
        if folder.is_symlink() or folder.parent.is_symlink() or \
                not os.path.realpath(folder).startswith(real_root + os.sep):
            notebook, flags = None, ["invalid_notebook"]     # never follow a link out of submitted/
        elif not notebook.exists() and not notebook.is_symlink():
            others = sorted(p for p in folder.glob("*.ipynb"))
            if len(others) == 1:
                notebook, flags = others[0], ["renamed"]
            else:
                notebook = None
        if notebook is not None and notebook.is_symlink():
            notebook, flags = None, ["invalid_notebook"]     # e.g. a link to the instructor's source notebook
        tasks.append({"student": student, "folder": str(folder), "notebook": str(notebook) if notebook else None,
                      "flags": flags, "content_hash": _folder_hash(folder) if notebook else "<missing>"})
    return tasks


def _folder_hash(folder: Path) -> str:
    """Everything in a submission that can change its grade: every file's path and bytes (the notebook,
    timestamp.txt, data files beside it); links count by their target, never followed."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if ".ipynb_checkpoints" in path.parts:
            continue
        if path.is_symlink():
            digest.update(f"link {relative} {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"file {relative} ".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _copy_files(source: Path, target: Path) -> None:
    """A submission's files beside its notebooks (data, helper modules), as nbgrader copies them;
    symbolic links are left out (one could point at the hidden tests or the gradebook)."""
    def ignored(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n.endswith(".ipynb") or n == ".ipynb_checkpoints"
                or os.path.islink(os.path.join(folder, n))}
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=ignored)


def _copy_source_data(source_dir: Path, target: Path) -> None:
    """The source assignment's files beside its notebook (data the notebook reads), as nbgrader copies them."""
    for item in source_dir.iterdir():
        if item.suffix != ".ipynb" and item.is_file():
            shutil.copy(item, target / item.name)


def ensure_assignment(course: Path, name: str, db_url: str) -> None:
    """The assignment must be in the gradebook (its graded cells are read from there)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(name)
            return
        except MissingEntry:
            pass
    import subprocess

    from course_utils.build import tool_env
    print(f"[grade] {name} is not in the gradebook yet: running nbgrader generate_assignment {name}", flush=True)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                           f"--CourseDirectory.root={course}"], cwd=course, env=tool_env(),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment {name} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def source_imports(cells) -> list[str]:
    """The modules that the top level of these code cells imports (``from a import b`` names ``a``
    and, when it is a submodule, ``a.b``), in order; cells with IPython syntax are read without it."""
    import ast
    names: list[str] = []
    for code in cells:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            try:
                tree = ast.parse("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
            except SyntaxError:
                continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
            else:
                continue
            names += [n for n in found if n not in names]
    return names


class Grader:
    def __init__(self, course: Path, name: str, *, workers: int, limit: float, timeout: int | None,
                 memory: int, regrade: bool = False, quiet: bool = False):
        from course_utils.sandbox import MEMORY_LIMIT, require_bwrap
        require_bwrap()   # loud, before anything: never grade unsandboxed
        self.course, self.name, self.quiet = course.resolve(), name, quiet
        self.config = load_config(self.course)
        if timeout is not None:
            self.config.Execute.timeout = timeout
        self.config.OverwriteCells.add_missing_cells = True
        self.dirs = _dirs(self.config)
        self.db_url = _db_url(self.course, self.config)
        self.workers, self.limit, self.regrade = max(1, workers), limit, regrade
        self.source_dir = self.course / self.dirs["source"] / name
        source_nb = self.source_dir / f"{name}.ipynb"
        if not source_nb.exists():
            raise SystemExit(f"no source notebook {source_nb}")
        self.source_hash = hashlib.sha256(source_nb.read_bytes()).hexdigest()
        cell_limit = int(self.config.Execute.get("timeout", 120) or 120)
        self.limits = {"memory": memory or MEMORY_LIMIT, "cpu": int(limit) + 60, "fsize": 256 * 1024 ** 2,
                       "nproc": 512}
        self.cell_limit = cell_limit
        self.results: dict[str, dict] = {}

    def log(self, text: str) -> None:
        if not self.quiet:
            print(f"[grade] {text}", flush=True)

    def preload(self) -> list[str]:
        """Modules each worker's fork server imports once, before any submission: what the source
        notebook imports (trusted: the instructor's own code), and torchvision when the
        assignment's checks compare with it."""
        import nbformat
        source = nbformat.read(self.source_dir / f"{self.name}.ipynb", as_version=4)
        modules = source_imports(c.source for c in source.cells if c.cell_type == "code")
        text = "".join(c.source for c in source.cells)
        used = set(CHECK_CALL.findall(text))
        checks_dir = Path(__file__).resolve().parent / "checks"
        for module in checks_dir.glob("*.py"):
            body = module.read_text()
            if any(f"def check_{name}(" in body for name in used):
                text += body
        if "torchvision" in text:
            modules += [m for m in ("torchvision", "torchvision.ops") if m not in modules]
        return modules

    # -- state -----------------------------------------------------------------
    def _out_dir(self, kind: str, student: str) -> Path:
        return self.course / self.dirs[kind] / student / self.name

    def _state_path(self, student: str) -> Path:
        return self._out_dir("autograded", student) / ".grade.json"

    def _task_hash(self, task: dict) -> str:
        return _file_hash(task["content_hash"].encode(), self.source_hash.encode(),
                          json.dumps(sorted(self.limits.items())).encode(), str(self.cell_limit).encode())

    def _done(self, task: dict) -> dict | None:
        path = self._state_path(task["student"])
        if self.regrade or not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
        except ValueError:
            return None
        if "grader_error" in state.get("flags", []):
            return None    # the grader's own failure: try again
        return state if state.get("hash") == self._task_hash(task) else None

    # -- the single writer ---------------------------------------------------------
    def record(self, task: dict, result: dict, gb) -> None:
        import nbformat
        from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

        student = task["student"]
        gb.update_or_create_student(student)
        timestamp = None
        stamp = Path(task["folder"]) / "timestamp.txt"
        has_stamp = stamp.is_file() and not stamp.is_symlink()
        if has_stamp:
            from nbgrader.utils import parse_utc
            try:
                timestamp = parse_utc(stamp.read_text().strip())
            except Exception:   # nbgrader itself stops the whole run here; one student's file must not
                timestamp = None
            if timestamp is None:
                result["flags"] = sorted(set(result["flags"]) | {"bad_timestamp"})
        if timestamp:
            gb.update_or_create_submission(self.name, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(self.name, student)
        out = self._out_dir("autograded", student)
        out.mkdir(parents=True, exist_ok=True)
        if result.get("nb"):   # what nbgrader's autograde leaves there: the student's files, the source's data
            _copy_files(Path(task["folder"]), out)
            _copy_source_data(self.source_dir, out)
        if has_stamp:
            shutil.copy(stamp, out / "timestamp.txt")
        else:
            (out / "timestamp.txt").unlink(missing_ok=True)
        resources = {"nbgrader": {"notebook": self.name, "assignment": self.name, "student": student,
                                  "db_url": self.db_url}}
        if result.get("nb"):
            nb = nbformat.reads(result["nb"], as_version=4)
            SaveAutoGrades(config=self.config).preprocess(nb, resources)
            AssignLatePenalties(config=self.config).preprocess(nb, resources)
            nbformat.write(nb, out / f"{self.name}.ipynb")
            try:
                self.feedback(nb, student)
            except Exception as exc:   # feedback must not lose a grade
                result.setdefault("error", f"feedback: {type(exc).__name__}: {exc}")
        else:
            submission = gb.find_submission_notebook(self.name, self.name, student)
            for grade in submission.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gb.db.commit()
            (out / f"{self.name}.ipynb").unlink(missing_ok=True)
            # an earlier grade's feedback would contradict the gradebook now
            (self._out_dir("feedback", student) / f"{self.name}.html").unlink(missing_ok=True)
        gb.db.expire_all()
        submission = gb.find_submission(self.name, student)
        penalty = submission.late_submission_penalty or 0.0
        state = {"hash": self._task_hash(task), "student": student, "score": submission.score - penalty,
                 "raw_score": submission.score, "late_penalty": penalty,
                 "max_score": submission.max_score, "flags": result["flags"], "cells": result.get("cells", {}),
                 "error": result.get("error"), "seconds": result.get("seconds")}
        gb.db.commit()   # hold no transaction between results: the next writer never waits on us
        tmp = self._state_path(student).with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self._state_path(student))
        self.results[student] = state
        flags = f"  [{', '.join(result['flags'])}]" if result["flags"] else ""
        late = f" (late: {submission.score:g} less a penalty of {penalty:g})" if penalty else ""
        self.log(f"{student}: {state['score']:g} / {submission.max_score:g}{late}{flags}")

    def feedback(self, nb, student: str) -> None:
        from nbconvert.exporters import HTMLExporter
        from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
        from nbgrader.preprocessors import GetGrades
        from traitlets.config import Config

        from course_utils.grading import ScrubFeedback

        if not hasattr(self, "_exporter"):
            import nbgrader
            base = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
            c = Config(self.config)
            c.HTMLExporter.template_name = "feedback"
            c.HTMLExporter.extra_template_basedirs = [str(base / "templates")]
            c.HTMLExporter.extra_template_paths = [str(base / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
            exporter = HTMLExporter(config=c)
            for pp in (GetGrades, ScrubFeedback, CSSHTMLHeaderPreprocessor):
                exporter.register_preprocessor(pp(config=c), enabled=True)
            self._exporter = exporter
        import copy
        resources = {"nbgrader": {"notebook": self.name, "assignment": self.name, "student": student,
                                  "db_url": self.db_url}}
        html, _ = self._exporter.from_notebook_node(copy.deepcopy(nb), resources=resources)
        out = self._out_dir("feedback", student)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{self.name}.html").write_text(html)

    # -- scheduling ------------------------------------------------------------------
    def run(self) -> dict:
        from nbgrader.api import Gradebook

        import warnings

        from sqlalchemy.exc import SAWarning
        warnings.filterwarnings("ignore", category=SAWarning)   # nbgrader's own session chatter, not ours to fix
        ensure_assignment(self.course, self.name, self.db_url)
        tasks = discover(self.course, self.name, self.dirs)
        if not tasks:
            self.log(f"no submissions: nothing in {self.course / self.dirs['submitted']}/*/{self.name}/")
        todo = []
        for task in tasks:
            state = self._done(task)
            if state is None:
                todo.append(task)
            else:
                self.results[task["student"]] = state
        self.log(f"{self.name}: {len(tasks)} submissions, {len(tasks) - len(todo)} already graded, "
                 + (f"{len(todo)} to grade with {min(self.workers, len(todo))} sandboxed "
                    f"worker{'s' if min(self.workers, len(todo)) > 1 else ''}" if todo else "nothing to grade"))
        start = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix="cg-"))   # short: ipc socket paths must stay under 107 bytes
        try:
            with Gradebook(self.db_url) as gb:
                for task in todo:
                    if task["notebook"] is None:
                        flags = set(task["flags"])
                        if "invalid_notebook" not in flags:
                            flags.add("missing_notebook")
                        self.record(task, {"flags": sorted(flags), "nb": None, "cells": {}}, gb)
                queue = [t for t in todo if t["notebook"] is not None]
                if queue:
                    self._schedule(queue, work, gb)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.log(f"graded {len(todo)} submissions in {time.monotonic() - start:.1f} s")
        self.export()
        self.report()
        return self.results

    def _schedule(self, queue: list[dict], work: Path, gb) -> None:
        db_copy = work / "gradebook.db"
        shutil.copy(self.db_url[len("sqlite:///"):], db_copy)   # the workers' read-only view of the source cells
        options = {"name": self.name, "config": dict(self.config), "db_copy": f"sqlite:///{db_copy}",
                   "source_dir": str(self.source_dir), "limits": self.limits, "limit": self.limit,
                   "preload": self.preload(), "work": str(work)}
        ctx = get_context("spawn")
        pending = list(queue)
        slots: list[dict] = []

        def start_worker(i: int) -> dict:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(child, options, i), daemon=True, name=f"grader-{i}")
            proc.start()
            child.close()
            return {"id": i, "proc": proc, "conn": parent, "task": None, "since": 0.0, "ready": False}

        def assign(slot: dict) -> None:
            if pending and slot["ready"] and slot["task"] is None:
                task = pending.pop(0)
                slot["task"], slot["since"] = task, time.monotonic()
                slot["conn"].send(task)

        restarts = [0]

        def retire(slot: dict, flags: list[str], error: str) -> None:
            task = slot["task"]
            restarts[0] += 1
            if restarts[0] > 5 + 2 * len(queue):
                raise RuntimeError(f"grading workers keep failing: {error}")
            slot["proc"].kill()
            slot["proc"].join(5)
            if task is not None:
                self.record(task, {"flags": sorted(set(task["flags"]) | set(flags)), "nb": None, "cells": {},
                                   "error": error}, gb)
            slots[slots.index(slot)] = start_worker(slot["id"])

        # Ctrl-C and SIGTERM only ask to stop; the loop stops at a safe point.  (A handler that raises
        # can land anywhere, e.g. in a weakref callback, whose exceptions Python prints and ignores: the
        # run then went on grading everyone, seen once under load.)
        stop: list[int] = []
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        for sig in previous:
            signal.signal(sig, lambda signum, frame: stop.append(signum))
        try:
            slots.extend(start_worker(i) for i in range(min(self.workers, len(queue))))
            hard_limit = self.limit + 30
            while pending or any(s["task"] is not None for s in slots):
                if stop:
                    raise KeyboardInterrupt
                for slot in slots:
                    assign(slot)
                waitables = [s["conn"] for s in slots] + [s["proc"].sentinel for s in slots]
                for ready in wait(waitables, timeout=1.0):
                    if stop:
                        break
                    slot = next((s for s in slots if s["conn"] is ready or s["proc"].sentinel == ready), None)
                    if slot is None:
                        continue
                    if slot["conn"] is ready:
                        try:
                            message = slot["conn"].recv()
                        except (EOFError, OSError):
                            retire(slot, ["grader_error"], "the grading worker exited")
                            continue
                        if message.get("ready"):
                            slot["ready"] = True
                            continue
                        if message.get("ready") is False:
                            from course_utils.sandbox import SandboxUnavailable
                            raise SandboxUnavailable(message.get("error", "the grading sandbox did not start"))
                        task, slot["task"] = slot["task"], None
                        self.record(task, message, gb)
                    elif not slot["proc"].is_alive():
                        retire(slot, ["grader_error"], "the grading worker exited")
                now = time.monotonic()
                for slot in list(slots):
                    if slot["task"] is not None and now - slot["since"] > hard_limit:
                        retire(slot, ["timeout"], f"the whole submission ran longer than {self.limit:g} s")
        except KeyboardInterrupt:
            again = "the same command without --regrade" if self.regrade else "the same command"
            self.log(f"interrupted: finished submissions are saved; run {again} again to resume")
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for slot in slots:
                try:
                    slot["conn"].send(None)
                except (OSError, BrokenPipeError):
                    pass
            for slot in slots:
                slot["proc"].join(2)
                if slot["proc"].is_alive():
                    slot["proc"].kill()
                    slot["proc"].join(2)

    # -- outputs -------------------------------------------------------------------
    def export(self) -> Path:
        """grades.csv: nbgrader's export plus a ``flag`` column."""
        from nbgrader.api import Gradebook
        from nbgrader.plugins.export import CsvExportPlugin

        dest = self.course / "grades.csv"
        with Gradebook(self.db_url) as gb:
            CsvExportPlugin(to=str(dest)).export(gb)
        with open(dest, newline="") as handle:
            rows = list(csv.DictReader(handle))
        fields = list(rows[0].keys()) if rows else ["assignment", "student_id", "score", "max_score"]
        for row in rows:
            flags = ""
            state_path = self.course / self.dirs["autograded"] / row["student_id"] / row["assignment"] / ".grade.json"
            if state_path.exists():
                try:
                    flags = ";".join(json.loads(state_path.read_text()).get("flags", []))
                except ValueError:
                    flags = "grader_error"
            row["flag"] = flags
        with open(dest, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields + ["flag"])
            writer.writeheader()
            writer.writerows(rows)
        self.log(f"wrote {dest.relative_to(self.course)}")
        return dest

    def report(self) -> Path:
        """reports/NAME/checks.csv and checks.png: per graded cell, what the class got right and wrong."""
        out = self.course / "reports" / self.name
        out.mkdir(parents=True, exist_ok=True)
        import nbformat
        from nbgrader import utils
        source = nbformat.read(self.source_dir / f"{self.name}.ipynb", as_version=4)
        order = [c.metadata.nbgrader["grade_id"] for c in source.cells if utils.is_grade(c)]
        points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader.get("points", 0)
                  for c in source.cells if utils.is_grade(c)}
        rows = []
        for gid in order:
            counts = Counter()
            hints = Counter()
            for state in self.results.values():
                cell = state.get("cells", {}).get(gid)
                if cell is None:
                    counts["not_attempted" if "missing_notebook" in state.get("flags", []) else "errored"] += 1
                    continue
                counts[cell["category"]] += 1
                if cell.get("hint") and cell["category"] != "passed":
                    hints[cell["hint"]] += 1
            top = hints.most_common(1)
            rows.append({"check": gid, "points": points[gid], "submissions": sum(counts.values()),
                         "passed": counts["passed"], "failed": counts["failed"],
                         "not_attempted": counts["not_attempted"], "errored": counts["errored"],
                         "most_common_hint": top[0][0] if top else "",
                         "hint_count": top[0][1] if top else 0})
        path = out / "checks.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["check"])
            writer.writeheader()
            writer.writerows(rows)
        self._plot(rows, out / "checks.png")
        self.log(f"wrote {path.relative_to(self.course)} and checks.png")
        return path

    def _plot(self, rows: list[dict], path: Path) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 0.45 * max(3, len(rows)) + 1.2))
        labels = [r["check"] for r in rows]
        left = [0] * len(rows)
        colours = {"passed": "#2e7d32", "failed": "#c62828", "not_attempted": "#9e9e9e", "errored": "#ef6c00"}
        for key, colour in colours.items():
            values = [r[key] for r in rows]
            ax.barh(labels, values, left=left, color=colour, label=key.replace("_", " "))
            left = [a + b for a, b in zip(left, values)]
        ax.invert_yaxis()
        ax.set_xlabel("submissions")
        ax.set_title(f"{self.name}: what the class got right and wrong")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)   # never over a bar
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def _size(text: str) -> int:
    """Bytes from ``6442450944``, ``6G``, ``6144M`` or ``512K``."""
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _cpus() -> int:
    """CPUs this process may use: one worker each (a worker keeps one core busy; on the 2-core machine
    2 and 3 workers graded benchmarks/grading.py's class equally fast, and 3 hold ~0.5 GB more)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 course.py grade", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", help="e.g. 01_convolution (submissions in submitted/STUDENT/NAME/)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("COURSE_GRADE_WORKERS", _cpus())),
                        help="sandboxed kernels side by side (default: one per CPU)")
    parser.add_argument("--course", default=str(Path(__file__).resolve().parent.parent),
                        help="the course folder (default: this repository)")
    parser.add_argument("--limit", type=float, default=600, help="seconds one whole submission may take (600)")
    parser.add_argument("--timeout", type=int, default=None, help="seconds one cell may take (default: the "
                        "course's Execute.timeout)")
    parser.add_argument("--memory", type=_size, default=0,
                        help="address-space limit of one kernel, e.g. 8G or 6144M (default 6G)")
    parser.add_argument("--regrade", action="store_true", help="grade every submission again")
    args = parser.parse_args(argv)
    from course_utils.sandbox import SandboxUnavailable

    course = Path(args.course).resolve()
    available = sorted(p.name for p in (course / "source").iterdir() if p.is_dir()) \
        if (course / "source").is_dir() else []
    if args.assignment not in available:
        if not available:
            print(f"{course} has no source/ folder of assignments: is --course the course folder?", file=sys.stderr)
        else:
            print(f"unknown assignment {args.assignment!r}; the course has: {', '.join(available)}", file=sys.stderr)
        return 2
    try:
        Grader(course, args.assignment, workers=args.workers, limit=args.limit, timeout=args.timeout,
               memory=args.memory, regrade=args.regrade).run()
    except KeyboardInterrupt:
        return 130
    except SandboxUnavailable as exc:
        print(f"[grade] stopped, nothing graded unsandboxed: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
