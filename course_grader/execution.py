"""Grading one submission in a worker: nbgrader's preprocessors, with ``GuardedExecute`` (nbgrader's
``Execute`` with a kernel forked by the worker's sandboxed fork server, and the guard's arm / restore /
verify steps around graded cells) in place of ``Execute``."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from course_grader.judging import CHECK_CALL, judge
from course_grader.submissions import copy_files, copy_source_data

OUTPUT_LIMIT = 2_000_000           # characters of output one cell may produce before it is truncated
GUARD = "__import__('sys').modules['course_grader.inside.guard']"   # the guard, as a cell reaches it


def make_guarded_execute():
    """nbgrader's Execute with a sandboxed kernel and the guard around graded cells (built lazily:
    importing nbgrader costs a second, the parent's CLI parsing should not pay it)."""
    from nbclient.exceptions import DeadKernelError
    from nbclient.util import run_sync
    from nbformat.v4 import new_code_cell, new_output
    from nbgrader import utils
    from nbgrader.preprocessors import Execute
    from traitlets import Any, Dict, Float

    from course_grader.sandbox import SandboxedKernelManager

    class GuardedExecute(Execute):
        limits = Dict({})
        fork_server = Any(None)  # the worker's sandboxed fork server (a ForkServerClient)
        deadline = Float(0.0)    # time.monotonic() when the whole submission must be done

        def create_kernel_manager(self):
            self.km = SandboxedKernelManager(kernel_name="python3", limits=self.limits, fork_server=self.fork_server,
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
            text = await self._guard_step(f"{GUARD}.restore({nonce!r}, {checks!r})", index)
            record["restore"] = guard_line(text, nonce, "restored")
            self._last_status = None
            self._output_size, self._truncated = 0, False
            await self.async_execute_cell(cell, index, store_history=True)
            record["status"] = self._last_status
            text = await self._guard_step(f"{GUARD}.verify({nonce!r})", index)
            record["verify"] = guard_line(text, nonce, "verified")
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
                    armed = run_sync(self._guard_step)(f"{GUARD}.arm({nonce!r})", 0)
                    if guard_line(armed, nonce, "armed") is None:
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


def guard_line(text: str, nonce: str, word: str) -> list[str] | None:
    """The changes a guard step reported (a list, empty when none), or None when its line is missing."""
    for line in text.splitlines():
        if line.startswith(f"course-guard {nonce} {word}"):
            rest = line.split(":", 1)[1].strip() if ":" in line else ""
            return [item for item in rest.split("; ") if item]
    return None


def release_metadata(nb, source) -> None:
    """Give every cell of the submission that the source notebook defines (graded, solution, locked or task
    cells, by grade id) the source's metadata, whatever the student's copy carries: execution tags
    (``skip-execution``, ``raises-exception``, nbval's), ``editable``/``deletable``, ``jupyter`` settings, a
    flipped ``grade``/``solution``/``points``.  nbgrader's ``OverwriteCells`` then restores the graded cells'
    code from the gradebook, and each graded cell runs exactly as the source defines it.  Cells carrying
    nbgrader metadata for an id the source does not have lose it: they are the student's own cells."""
    import copy
    defined = {cell.metadata["nbgrader"]["grade_id"]: cell.metadata for cell in source.cells
               if cell.metadata.get("nbgrader", {}).get("grade_id")}
    for cell in nb.cells:
        role = cell.metadata.get("nbgrader")
        if role is None:
            continue
        gid = role.get("grade_id") if isinstance(role, dict) else None
        if gid in defined:
            cell.metadata = copy.deepcopy(defined[gid])
        else:
            del cell.metadata["nbgrader"]


def grade_notebook(task: dict, options: dict) -> dict:
    """Grade one submission (in a worker).  Returns the executed notebook and what was found.

    ``options`` holds the run's ``name``, ``config``, ``db_copy`` (the worker's copy of the gradebook),
    ``source_dir``, ``limits``, ``limit``, and the worker's ``fork_server`` and ``execute_class``.
    """
    import nbformat
    from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern,
                                        LimitOutput, OverwriteCells, OverwriteKernelspec)
    from traitlets.config import Config

    from course_grader.sandbox import prepare_dir

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
    fork_server = options["fork_server"]
    resources = {"nbgrader": {"notebook": name, "assignment": name, "student": student,
                              "db_url": options["db_copy"]}, "metadata": {"path": str(fork_server.scratch)}}
    try:
        release_metadata(nb, nbformat.read(Path(options["source_dir"]) / f"{name}.ipynb", as_version=4))
        for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
            nb, resources = pp(config=config).preprocess(nb, resources)
    except Exception as exc:
        result["flags"].add("invalid_notebook")
        result["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return result
    fork_server.ensure()
    try:
        scratch = fork_server.scratch   # empty: the sweep after the last submission (or the start) emptied it
        copy_files(Path(task["notebook"]).parent, scratch)
        copy_source_data(Path(options["source_dir"]), scratch)
        prepare_dir(scratch)
        execute = options["execute_class"](config=config, limits=options["limits"], fork_server=fork_server,
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
        fork_server.sweep()   # nothing of this submission reaches the next one
    result["seconds"] = time.monotonic() - start
    return result
