"""The worker pool: ``--workers`` long-lived processes, each with one sandboxed fork server, grade one
submission at a time; the parent hands out submissions, replaces a worker that dies or overruns the
whole-submission limit by 30 s, and passes every result to the one writer (``on_result``).

Ctrl-C and SIGTERM only ask the loop to stop; it stops at a safe point and raises KeyboardInterrupt.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from multiprocessing import get_context
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable


def _die_with_parent() -> None:
    from course_grader.inside.forkserver import PR_SET_PDEATHSIG, prctl
    try:  # Linux: the worker (and, through bwrap --die-with-parent, its kernel) dies with the grader
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _start_sandbox(conn, options: dict, slot: int):
    """The worker's sandboxed fork server, or None after telling the parent why it cannot start
    (the parent stops the run with that message: no student is graded unsandboxed)."""
    from course_grader.sandbox import ForkServerClient, SandboxUnavailable

    work = Path(options["work"])
    server = ForkServerClient(work / f"s{slot}", work / f"r{slot}", options["preload"], work / f"z{slot}.log")
    try:
        server.start()
    except Exception as exc:
        conn.send({"ready": False, "error": str(exc) if isinstance(exc, SandboxUnavailable)
                   else f"{type(exc).__name__}: {exc}"})
        return None
    return server


def _worker(conn, options: dict, slot: int) -> None:
    """One worker process: start the sandbox, say ready, grade each task the parent sends until None."""
    from course_grader.execution import grade_notebook, make_guarded_execute

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the parent decides when to stop
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    server = _start_sandbox(conn, options, slot)
    if server is None:
        return
    options = dict(options, execute_class=make_guarded_execute(), fork_server=server)
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
        server.stop()


def run_pool(queue: list[dict], options: dict, *, workers: int, limit: float,
             on_result: Callable[[dict, dict], None]) -> None:
    """Grade every task of ``queue`` in ``workers`` sandboxed workers; ``on_result(task, result)`` is called
    in this process for each, in the order they finish (a worker that failed gives a result without a
    notebook).  ``options`` go to every worker (see ``execution.grade_notebook``; ``work`` is a scratch
    folder for the sandboxes, ``preload`` what their fork servers import).  Raises SandboxUnavailable
    when a sandbox cannot start, KeyboardInterrupt after Ctrl-C or SIGTERM."""
    from course_grader.sandbox import SandboxUnavailable

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
            on_result(task, {"flags": sorted(set(task["flags"]) | set(flags)), "nb": None, "cells": {},
                             "error": error})
        slots[slots.index(slot)] = start_worker(slot["id"])

    # Ctrl-C and SIGTERM only ask to stop; the loop stops at a safe point.  (A handler that raises
    # can land anywhere, e.g. in a weakref callback, whose exceptions Python prints and ignores: the
    # run then went on grading everyone, seen once under load.)
    stop: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.append(signum))
    try:
        slots.extend(start_worker(i) for i in range(min(workers, len(queue))))
        hard_limit = limit + 30
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
                        raise SandboxUnavailable(message.get("error", "the grading sandbox did not start"))
                    task, slot["task"] = slot["task"], None
                    on_result(task, message)
                elif not slot["proc"].is_alive():
                    retire(slot, ["grader_error"], "the grading worker exited")
            now = time.monotonic()
            for slot in list(slots):
                if slot["task"] is not None and now - slot["since"] > hard_limit:
                    retire(slot, ["timeout"], f"the whole submission ran longer than {limit:g} s")
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
