"""Grade a whole class safely and fast: ``python3 course.py grade NN_name [--workers N]``
(``python -m course_grader``; this module is its ``Grader``, the rest one job a module).

Design
------
nbgrader's ``autograde`` runs every submission in one process, one after the other,
with the instructor's permissions, and pays ~4.5 s of start-up per call.  This
command keeps nbgrader's own preprocessors and gradebook and changes three things:

**Workers.**  ``--workers`` long-lived processes (default: one per CPU) each import nbgrader and
nbconvert once, start one bubblewrap sandbox with a fork server in it
(``course_grader.inside.forkserver``: it imports torch, matplotlib, IPython, the checks and
whatever the source notebook imports, once), and grade one submission at a time with nbgrader's
preprocessors: ``ClearOutput``, ``DeduplicateIds``, ``OverwriteKernelspec``,
``OverwriteCells`` (graded cells come back from the gradebook; each worker reads a
private copy of it, so it never holds a lock on the real one), ``CheckCellMetadata``,
then ``GuardedExecute`` (``course_grader.execution``: nbgrader's ``Execute`` with a kernel
forked for this submission alone), ``IgnorePattern``, ``LimitOutput``.  A fresh kernel process costs nbgrader ~3 s
of imports per student; a forked one starts warm, which is most of why this command
beats sequential ``nbgrader autograde`` by more than its worker count alone allows
(benchmarks/grading.py prints the ratio).
A submission has a per-cell limit (the course's ``Execute.timeout``) and a
whole-submission limit (``--limit``); a worker that overruns it by 30 s is killed
and replaced (``course_grader.pool``).

**The parent is the only writer.**  It receives each finished notebook and writes
it into the gradebook (``course_grader.outputs``) with ``SaveAutoGrades`` and
``AssignLatePenalties`` (one writer: no lock errors), writes ``autograded/``, the student's
feedback (``GetGrades`` + the course's ``ScrubFeedback`` + nbconvert's feedback template:
``course_grader.feedback``), and a state file
``autograded/STUDENT/NN_name/.grade.json`` with a hash of the submission, the
source notebook and this grader.  A submission whose state matches is not graded
again: a run stopped by Ctrl-C, SIGTERM or a kill resumes where it was.  At the
end it writes ``grades.csv`` (nbgrader's columns plus ``flag`` and ``similar``), the class
report ``reports/NN_name/checks.csv`` + ``checks.png`` (``course_grader.report``) and the similarity
report ``reports/NN_name/similarity.csv`` + ``similarity.html`` (``course_grader.similarity``: which
answers resemble each other, the solution or the course's reference code; it changes no score).

**Sandbox and guarded graded cells.**  Kernels run in bubblewrap
(``course_grader.sandbox``: no network, only the submission's scratch copy writable, no
course folder, gradebook or other students, limits on memory, CPU, file size and
processes; as ``nobody`` when grading as root), one at a time per sandbox; after each,
every process it left is killed and ``/tmp`` emptied, or the sandbox is replaced.
Around every graded cell the grader runs the trusted restore/verify
steps of ``course_grader.inside.guard``, and scores the cell from the kernel's
``execute_reply`` status, its error outputs and the check's ``<name>: passed``
line together (``course_grader.judging``); anything inconsistent scores 0 and flags
``tampered``.

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

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

from course_grader.config import course_dirs, db_url, load_config
from course_grader.outputs import Outputs
from course_grader.pool import run_pool
from course_grader.preload import preload_modules
from course_grader.report import write_report
from course_grader.submissions import discover, ensure_assignment


class Grader:
    """One assignment's run: which submissions need grading, the pool that grades them, the outputs."""

    def __init__(self, course: Path, name: str, *, workers: int, limit: float, timeout: int | None,
                 memory: int, regrade: bool = False, quiet: bool = False):
        from course_grader.sandbox import MEMORY_LIMIT, require_bwrap
        require_bwrap()   # loud, before anything: never grade unsandboxed
        self.course, self.name, self.quiet = course.resolve(), name, quiet
        self.config = load_config(self.course)
        if timeout is not None:
            self.config.Execute.timeout = timeout
        self.config.OverwriteCells.add_missing_cells = True
        self.dirs = course_dirs(self.config)
        self.db_url = db_url(self.course, self.config)
        self.workers, self.limit, self.regrade = max(1, workers), limit, regrade
        self.source_dir = self.course / self.dirs["source"] / name
        self.source_nb = self.source_dir / f"{name}.ipynb"
        if not self.source_nb.exists():
            raise SystemExit(f"no source notebook {self.source_nb}")
        source_hash = hashlib.sha256(self.source_nb.read_bytes()).hexdigest()
        cell_limit = int(self.config.Execute.get("timeout", 120) or 120)
        self.limits = {"memory": memory or MEMORY_LIMIT, "cpu": int(limit) + 60, "fsize": 256 * 1024 ** 2,
                       "nproc": 512}
        run_parts = (source_hash.encode(), json.dumps(sorted(self.limits.items())).encode(), str(cell_limit).encode())
        self.outputs = Outputs(self.course, name, self.config, self.dirs, self.db_url, self.source_dir, run_parts,
                               self.log)
        self.results: dict[str, dict] = {}

    def log(self, text: str) -> None:
        if not self.quiet:
            print(f"[grade] {text}", flush=True)

    def preload(self) -> list[str]:
        """Modules each worker's fork server imports once, before any submission (``course_grader.preload``)."""
        return preload_modules(self.source_nb)

    def record(self, task: dict, result: dict, gb) -> None:
        self.results[task["student"]] = self.outputs.record(task, result, gb)

    def run(self) -> dict:
        """Grade what is new or changed, then write grades.csv and the class report; return the states."""
        import warnings

        from nbgrader.api import Gradebook
        from sqlalchemy.exc import SAWarning
        warnings.filterwarnings("ignore", category=SAWarning)   # nbgrader's own session chatter, not ours to fix
        ensure_assignment(self.course, self.name, self.db_url)
        tasks = discover(self.course, self.name, self.dirs)
        if not tasks:
            self.log(f"no submissions: nothing in {self.course / self.dirs['submitted']}/*/{self.name}/")
        todo = []
        for task in tasks:
            state = None if self.regrade else self.outputs.done(task)
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
                    self._grade(queue, work, gb)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.log(f"graded {len(todo)} submissions in {time.monotonic() - start:.1f} s")
        self.similarity()
        self.outputs.export()
        self.report()
        return self.results

    def _grade(self, queue: list[dict], work: Path, gb) -> None:
        db_copy = work / "gradebook.db"
        shutil.copy(self.db_url[len("sqlite:///"):], db_copy)   # the workers' read-only view of the source cells
        options = {"name": self.name, "config": dict(self.config), "db_copy": f"sqlite:///{db_copy}",
                   "source_dir": str(self.source_dir), "limits": self.limits, "limit": self.limit,
                   "preload": self.preload(), "work": str(work)}
        try:
            run_pool(queue, options, workers=self.workers, limit=self.limit,
                     on_result=lambda task, result: self.record(task, result, gb))
        except KeyboardInterrupt:
            again = "the same command without --regrade" if self.regrade else "the same command"
            self.log(f"interrupted: finished submissions are saved; run {again} again to resume")
            raise

    def similarity(self) -> None:
        """reports/NAME/similarity.csv and .html, before grades.csv is written (its ``similar`` column)."""
        from course_grader import similarity
        start = time.monotonic()
        try:
            matches = similarity.run_similarity(self.course, self.name, self.config, self.dirs)
            self.log(f"{similarity.summary(self.name, matches)} in {time.monotonic() - start:.1f} s")
        except Exception as exc:   # the report must never cost the grades; no stale report either
            for stale in ("similarity.csv", "similarity.html"):
                (self.course / "reports" / self.name / stale).unlink(missing_ok=True)
            self.log(f"no similarity report: {type(exc).__name__}: {exc}")

    def report(self) -> Path:
        """reports/NAME/checks.csv and checks.png: per graded cell, what the class got right and wrong."""
        path = write_report(self.course / "reports" / self.name, self.name, self.source_nb, self.results)
        self.log(f"wrote {path.relative_to(self.course)} and checks.png")
        return path
