"""The sandbox and its fork server (course_grader.sandbox, course_grader.inside), each test on its own
small course or single sandbox: a kernel cannot reach the fork server that made it nor leave anything
for the next submission, every assignment's fork server starts warm, the sandbox mounts only what it
should, a changed ``timestamp.txt`` or a vanished notebook is graded again, and a sandbox that cannot
start stops the run."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from grading_helpers import grade_command, grade_env, points, released_course, submission

from course_grader.build import ROOT
from course_grader.solutions import solution_cells

NAME = "01_convolution"


def _command(course: Path, *extra: str) -> list[str]:
    # one worker: these classes are tiny, and each worker's sandbox costs a fork server's start-up
    return grade_command(course, NAME, "--workers", "1", "--timeout", "15", "--limit", "120", *extra)


def _env() -> dict:
    return grade_env()


def _run_in_kernel(server, code: str) -> str:
    """Start one kernel from the fork server, run ``code``, return its stdout, shut it down."""
    import asyncio

    from course_grader.sandbox import SandboxedKernelManager

    async def run() -> str:
        km = SandboxedKernelManager(kernel_name="python3", limits={"nproc": 512}, fork_server=server)
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            out: list[str] = []
            reply = await kc.execute_interactive(code, timeout=60, output_hook=lambda msg: out.append(
                msg["content"].get("text", "") if msg["msg_type"] == "stream" else ""))
            assert reply["content"]["status"] == "ok", reply["content"]
            return "".join(out)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
    return asyncio.run(run())


class TestSandboxAndForkServer:
    """Each on its own course or sandbox: one unit of work for the test workers, beside test_autograde's class."""

    def test_a_new_timestamp_a_bad_one_or_a_vanished_notebook_is_handled_on_the_next_run(self, tmp_path_factory):
        """Graded once, is a submission graded again when its timestamp.txt changes (the late penalty
        follows it), does an unreadable timestamp get flagged instead of passing as on time, and does a
        notebook that vanished lose its old feedback along with its points?"""
        from nbgrader.api import Gradebook
        course = released_course(tmp_path_factory, NAME, config='\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            gb.update_or_create_assignment(NAME, duedate="2025-01-01 00:00:00 UTC")
        learner = nbformat.read(course / "notebooks" / NAME / f"{NAME}.ipynb", as_version=4)
        # one exercise done, the others as released: points to lose, at half a full solution's grading time
        solutions = solution_cells(NAME)
        released = {c.metadata["nbgrader"]["grade_id"]: c.source for c in learner.cells
                    if c.metadata.get("nbgrader", {}).get("solution")}
        full = submission(learner, solutions, replace={e: released[e] for e in solutions if e != "conv_output_size"})
        total = points(NAME)["conv_output_size_tests"]
        stamps = {"ontime": "2024-12-31 12:00:00.000000 UTC", "garbled": "yesterday at noon", "vanishes": None}
        for student, stamp in stamps.items():
            folder = course / "submitted" / student / NAME
            folder.mkdir(parents=True)
            nbformat.write(full, folder / f"{NAME}.ipynb")
            if stamp:
                (folder / "timestamp.txt").write_text(stamp)

        def grade() -> dict:
            done = subprocess.run(_command(course), cwd=course, env=_env(), capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            with open(course / "grades.csv", newline="") as handle:
                return {row["student_id"]: row for row in csv.DictReader(handle)} | {"log": done.stdout}

        first = grade()
        assert {s: float(first[s]["score"]) for s in stamps} == {s: total for s in stamps}
        assert first["garbled"]["flag"] == "bad_timestamp" and first["ontime"]["flag"] == ""
        feedback = course / "feedback" / "vanishes" / NAME / f"{NAME}.html"
        assert feedback.exists()
        (course / "submitted" / "ontime" / NAME / "timestamp.txt").write_text("2025-02-01 12:00:00.000000 UTC")
        (course / "submitted" / "vanishes" / NAME / f"{NAME}.ipynb").unlink()
        second = grade()
        assert "1 already graded, 2 to grade" in second["log"], second["log"]
        assert float(second["ontime"]["score"]) == 0 and float(second["ontime"]["raw_score"]) == total
        assert float(second["vanishes"]["score"]) == 0 and second["vanishes"]["flag"] == "missing_notebook"
        assert not feedback.exists(), "the old feedback still shows full marks"

    def test_modules_the_fork_server_preloads_are_the_source_notebooks_imports(self):
        """Does the grader preload exactly what the source notebook imports at top level (so a kernel
        starts warm), reading cells that hold IPython magics too?"""
        from course_grader.preload import source_imports
        cells = ["import math\nimport torch.nn as nn\nfrom course_utils import data, plots\n",
                 "%matplotlib inline\nimport numpy as np\n", "def f():\n    import json\n", "from . import x\n"]
        assert source_imports(cells) == ["math", "torch.nn", "course_utils", "course_utils.data", "course_utils.plots",
                                         "numpy"]

    def test_every_assignments_fork_server_starts_warm(self, tmp_path):
        """Does the fork server start for every notebook, having imported everything its source notebook
        imports (a module that fails, or one that starts a thread, would make forking unsafe)?  One server
        imports what all nine preload (each module fails or starts a thread on its own, whatever came
        before it): one start of about two seconds instead of nine."""
        from course_grader.grader import Grader
        from course_grader.sandbox import ForkServerClient
        union: dict[str, None] = {}
        for source in sorted((ROOT / "source").glob("[0-9][0-9]_*")):
            grader = Grader(ROOT, source.name, workers=1, limit=600, timeout=None, memory=0, quiet=True)
            preload = grader.preload()
            assert "torch" in preload and "course_utils.checks" in preload, (source.name, preload)
            union.update(dict.fromkeys(preload))
        server = ForkServerClient(tmp_path / "s", tmp_path / "r", list(union), tmp_path / "z.log")
        server.start()
        try:
            assert server.info["failed"] == [], server.info
        finally:
            server.stop()

    def test_a_kernel_cannot_reach_the_fork_server_nor_leave_anything_for_the_next(self, tmp_path):
        """Can a grading kernel stop or read the fork server that made it (it must not, grading as root), and
        does a process it leaves running, or a file in /tmp, survive into the next submission's kernel?"""
        from course_grader.sandbox import ForkServerClient, _is_root
        server = ForkServerClient(tmp_path / "s", tmp_path / "r", ["json"], tmp_path / "z.log")
        server.start()
        try:
            pid = server.info["pid"]
            first = _run_in_kernel(server, (
                "import os, signal, subprocess\n"
                "subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
                "open('/tmp/left-behind', 'w').write('x')\n"
                "open('planted.txt', 'w').write('x')\n"
                "print('uid', os.getuid())\n"
                "for name, act in (('mem', lambda: open(f'/proc/{server}/mem', 'rb').read(1)),\n"
                "                  ('stop', lambda: os.kill(server, signal.SIGSTOP))):\n"
                "    try:\n"
                "        act(); print(name, 'allowed')\n"
                "    except OSError as exc:\n"
                "        print(name, 'refused', type(exc).__name__)\n").replace("server", str(pid)))
            assert "mem refused" in first, first
            if _is_root():
                assert "uid 65534" in first and "stop refused" in first, first
            sandbox = server.proc
            server.sweep()
            if _is_root():
                assert server.proc is sandbox, "the sweep failed and the sandbox was replaced"
            server.ensure()   # without root a kernel may stop the fork server: it is replaced, not trusted
            second = _run_in_kernel(server, (
                "import os\n"
                "print('left behind', os.path.exists('/tmp/left-behind'))\n"
                "print('planted', os.path.exists('planted.txt'))\n"
                "print('sleeping', [p for p in os.listdir('/proc') if p.isdigit()\n"
                "                   and 'sleep' in open(f'/proc/{p}/cmdline').read()])\n"))
            assert "left behind False" in second and "planted False" in second and "sleeping []" in second, second
        finally:
            server.stop()

    def test_the_sandbox_mounts_the_graders_inside_and_not_its_host_modules(self, tmp_path):
        """Does a grading kernel see course_utils/, data/ and course_grader/inside/ (what it runs), and none
        of the grader's host modules (its gradebook writer, its pool, its sandbox launcher)?"""
        from course_grader.sandbox import ForkServerClient
        server = ForkServerClient(tmp_path / "s", tmp_path / "r", ["json"], tmp_path / "z.log")
        server.start()
        try:
            out = _run_in_kernel(server, (
                "import importlib.util, os, course_grader, course_grader.inside.protocol\n"
                "print('package', sorted(os.listdir(os.path.dirname(course_grader.__file__))))\n"
                "print('host', [m for m in ('course_grader.grader', 'course_grader.sandbox', 'course_grader.cli')\n"
                "               if importlib.util.find_spec(m) is not None])\n"
                f"print('data', os.path.isdir({str(ROOT / 'data')!r}))\n"))
        finally:
            server.stop()
        assert "package ['__init__.py', 'inside']" in out, out
        assert "host []" in out and "data True" in out, out

    def test_a_sandbox_that_cannot_start_stops_the_run_with_its_reason(self, tmp_path):
        """When bwrap is installed but cannot make a sandbox (e.g. unprivileged user namespaces are switched
        off, as on Ubuntu 24.04), does the command stop at once with bwrap's own message, grading no one?"""
        course = tmp_path / "course"
        course.mkdir()
        shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
        shutil.copytree(ROOT / "source" / NAME, course / "source" / NAME)
        (course / "submitted" / "alice" / NAME).mkdir(parents=True)
        shutil.copy(ROOT / "source" / NAME / f"{NAME}.ipynb", course / "submitted" / "alice" / NAME)
        fake = tmp_path / "bin"
        fake.mkdir()
        (fake / "bwrap").write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
        (fake / "bwrap").chmod(0o755)
        env = _env()
        env["PATH"] = os.pathsep.join([str(fake), env["PATH"]])
        started = time.monotonic()
        done = subprocess.run(_command(course), cwd=course, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
        assert "nothing graded unsandboxed" in done.stderr and "uid map: Permission denied" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        assert not (course / "autograded" / "alice" / NAME / ".grade.json").exists()
        assert time.monotonic() - started < 120

    def test_grading_refuses_to_run_without_a_sandbox(self, monkeypatch):
        """With bubblewrap missing and no way to install it, does grading stop with a clear error
        instead of running student code unsandboxed?"""
        from course_grader import sandbox
        monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
        with pytest.raises(sandbox.SandboxUnavailable, match="never runs student code unsandboxed"):
            sandbox.require_bwrap(install=False)
        with pytest.raises(sandbox.SandboxUnavailable):
            sandbox.bwrap_command(["true"], scratch=Path("/tmp"), runtime=Path("/tmp"), env={})
