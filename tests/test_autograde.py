"""``python3 course.py grade``: a class graded in sandboxed, parallel kernels, with nothing lost.

One class of notebook 01 (the cheapest notebook) is graded through the command,
honest submissions side by side with a catalogue of broken and hostile ones:
infinite loops, a kernel crash, a memory hog, huge output, invalid JSON, a missing
and a renamed notebook, edited and deleted graded cells, reading the hidden tests,
the gradebook and another student's work (also through symbolic links), writing the
gradebook, the network, each monkeypatch that could turn a wrong answer into points,
start-up and configuration files shipped to run before the grader's snapshot, and an
honest helper module beside the notebook.  The run is interrupted (SIGTERM) once and
resumed.  Every expected score is computed from the source notebook's points, never typed.

``TestSandboxAndForkServer`` proves the rest on small courses and single sandboxes: a
kernel cannot reach the fork server that made it nor leave anything for the next
submission, every assignment's fork server starts, a changed ``timestamp.txt`` or a
vanished notebook is graded again, and a sandbox that cannot start stops the run.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from grading_helpers import class_of, nbgrader, points, submission

from course_utils.build import ROOT, solution_cells, tool_env

NAME = "01_convolution"
WORKERS = 2
MARK = "SANDBOX-PROBE"


def _probe(code: str) -> str:
    """A top-level cell fragment that prints whether ``code`` succeeded inside the kernel."""
    return (f"try:\n    {code}\n    print('{MARK} ok:', {code[:40]!r})\n"
            f"except BaseException as exc:\n    print('{MARK} refused:', {code[:40]!r}, type(exc).__name__)\n")


def _catalogue(course: Path, learner) -> dict:
    """student -> (notebook or raw bytes or None, expected score or None, expected flags)."""
    solutions, worth = solution_cells(NAME), points(NAME)
    total = sum(worth.values())
    order = list(worth)                                    # graded cells in notebook order
    flipped = solutions["conv2d"].replace("window, weight)", "window, weight.flip(-1, -2))")
    assert flipped != solutions["conv2d"]
    wrong_conv2d = total - worth["conv2d_tests"]

    def with_code(exercise: str, prefix: str = "", suffix: str = "", base: dict | None = None):
        code = (base or solutions)[exercise]
        return submission(learner, solutions, replace={exercise: prefix + code + suffix})

    def flipped_with(patch: str):
        return submission(learner, solutions, replace={"conv2d": flipped + "\n" + patch})

    honest = {"full": class_of(NAME, learner)["full"], "untouched": (learner, 0),
              "without_conv2d": class_of(NAME, learner)["without_conv2d"],
              "carol_partly_wrong": (submission(learner, solutions, replace={"conv2d": flipped}), wrong_conv2d)}
    students = {key: (nb, score, set()) for key, (nb, score) in honest.items()}
    loops = solutions["conv_output_size"].replace('"""\n', '"""\n    while True:\n        pass\n', 1)
    toplevel = "while True:\n    pass\n\n\n" + solutions["conv_param_count"]
    crash_at = order.index("conv2d_tests")
    students.update({
        "erin_infinite_loop": (submission(learner, solutions, replace={"conv_output_size": loops}),
                               total - worth["conv_output_size_tests"], set()),
        "heidi_toplevel_loop": (submission(learner, solutions, replace={"conv_param_count": toplevel}),
                                total - worth["conv_param_count_tests"], {"timeout"}),
        # the kernel dies in the conv2d exercise: the cells graded before it keep their points
        "ivan_kernel_crash": (with_code("conv2d", "import os\nos._exit(3)\n"),
                              sum(worth[g] for g in order[:crash_at]), {"kernel_died"}),
        "judy_memory_hog": (with_code("conv_param_count", "hog = bytearray(64 * 1024 ** 3)\n"),
                            total - worth["conv_param_count_tests"], {"memory"}),
        "ken_huge_output": (with_code("conv1d_full", "print('x' * 30_000_000)\n"), total, {"huge_output"}),
        "leo_invalid_json": (b'{"cells": [ this is not json', 0, {"invalid_notebook"}),
        "mallory_missing_notebook": (None, 0, {"missing_notebook"}),
        "nina_renamed": (class_of(NAME, learner)["full"][0], total, {"renamed"}),
        "frank_edited_graded_cell": (submission(learner, solutions, replace={"conv2d": flipped},
                                                graded={"conv2d_tests": "pass"}), wrong_conv2d, set()),
        "grace_deleted_graded_cell": (submission(learner, solutions, graded={"conv1d_full_tests": None}),
                                      total, set()),
    })
    secrets_ = [course / "source" / NAME / f"{NAME}.ipynb", course / "gradebook.db",
                course / "submitted" / "full" / NAME / f"{NAME}.ipynb", ROOT / "source" / NAME / f"{NAME}.ipynb",
                Path.home() / ".bashrc"]
    reads = "".join(_probe(f"open({str(p)!r}, 'rb').read(1)") for p in secrets_)
    network = _probe("__import__('socket').create_connection(('1.1.1.1', 80), timeout=3)")
    writes = "".join(_probe(f"open({str(p)!r}, 'ab').write(b'x')") for p in
                     [course / "gradebook.db", ROOT / "course_utils" / "evil.py", course / "grades.csv"])
    sqlite = _probe(f"__import__('sqlite3').connect({str(course / 'gradebook.db')!r}).execute("
                    "'update grade set auto_score = 100').connection.commit()")
    # oscar also ships links to the hidden tests and /etc/shadow beside his notebook: not copied, not followed
    reads += _probe("open('hidden.txt', 'rb').read(1)")
    SHIPPED_FILES["oscar_reads_secrets"] = {"hidden.txt": ("link", course / "source" / NAME / f"{NAME}.ipynb"),
                                           "shadow": ("link", Path("/etc/shadow"))}
    students["oscar_reads_secrets"] = (with_code("conv1d_full", reads + network), total, set())
    # a notebook that is a link to the instructor's source notebook (solutions included) is not graded
    students["trent_linked_notebook"] = (("link", course / "source" / NAME / f"{NAME}.ipynb"), 0,
                                         {"invalid_notebook"})
    students["peggy_writes_gradebook"] = (with_code("conv1d_full", writes + sqlite), total, set())
    # Monkeypatches run before the graded cell, each with a wrong conv2d: none may earn its points.
    patches = {
        "check_in_main": "check_conv2d = lambda *args, **kwargs: print('conv2d: passed — public checks passed.')",
        "check_in_package": ("import course_utils.checks as _c, course_utils.checks.convolution as _cc\n"
                             "_c.check_conv2d = _cc.check_conv2d = lambda *a, **k: True\n"
                             "check_conv2d = _c.check_conv2d"),
        "assertion_error": "import builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})",
        "torch_allclose": "torch.allclose = lambda *args, **kwargs: True\ntorch.isclose = lambda a, b, **k: a == a",
        "result_object": ("from course_utils.checks.engine import results, runner\n"
                          "runner.finish = lambda result, strict: result\n"
                          "results.CheckResult.__bool__ = lambda self: True\n"
                          "results.CheckResult.lines = lambda self: [f'{self.check}: passed — public checks passed.']"),
        "showtraceback": "get_ipython().showtraceback = lambda *args, **kwargs: None",
        "excepthook": "import sys\nsys.excepthook = lambda *args: None",
        "run_cell": ("_ip = get_ipython()\n_orig = _ip.run_cell\n"
                     "def _quiet(*args, **kwargs):\n"
                     "    result = _orig(*args, **kwargs)\n"
                     "    result.error_in_exec = None\n"
                     "    return result\n"
                     "_ip.run_cell = _quiet\n"
                     "get_ipython().showtraceback = lambda *args, **kwargs: None"),
        "event_callback": ("import torch as _t\n"
                           "get_ipython().events.register('pre_run_cell', "
                           "lambda *a: setattr(_t, 'allclose', lambda *x, **k: True))"),
        # the learner's own function patches torch while the check runs it
        "during_check": None,
    }
    for label, patch in patches.items():
        if patch is None:
            code = flipped.replace('"""\n', '"""\n    torch.allclose = lambda *a, **k: True\n', 1)
            nb = submission(learner, solutions, replace={"conv2d": code})
        else:
            nb = flipped_with(patch)
        # sys.excepthook plays no part in IPython's error reporting: harmless, so not flagged
        students[f"patch_{label}"] = (nb, wrong_conv2d, set() if label == "excepthook" else {"tampered"})
    # Files shipped beside the notebook that a kernel could run before the grader's snapshot
    # (IPython and Jupyter configuration in the folder, HOME and the user site; a module that
    # shadows torch): none may run, so the wrong conv2d scores as wrong, and nothing is tampered.
    students["rupert_startup_files"] = (flipped_with(""), wrong_conv2d, set())
    # An honest learner who keeps one answer in a module beside the notebook (nbgrader copies the
    # folder): it imports as in any kernel, and earns full marks.
    students["sybil_helper_module"] = (submission(learner, solutions, replace={
        "conv_param_count": "from my_helpers import conv_param_count\n"}), total, set())
    SHIPPED_FILES["sybil_helper_module"] = {"my_helpers.py": solutions["conv_param_count"]}
    return students


CHEAT = "import torch\ntorch.allclose = lambda *args, **kwargs: True\ntorch.isclose = lambda a, b, **k: a == a\n"
SHIPPED_FILES = {"rupert_startup_files": {
    "ipython_kernel_config.py": f"c.InteractiveShellApp.exec_lines = [{CHEAT!r}]\n",
    "ipython_config.py": f"c.InteractiveShellApp.exec_lines = [{CHEAT!r}]\n",
    ".jupyter/ipython_kernel_config.py": f"c.InteractiveShellApp.exec_lines = [{CHEAT!r}]\n",
    ".ipython/profile_default/startup/00-cheat.py": CHEAT,
    ".ipython/profile_default/ipython_kernel_config.py": f"c.InteractiveShellApp.exec_lines = [{CHEAT!r}]\n",
    ".local/lib/python3.11/site-packages/usercustomize.py": CHEAT,
    ".local/lib/python3.11/site-packages/cheat.pth": "import usercustomize\n",
    "sitecustomize.py": CHEAT,
    "torch.py": "raise SystemExit('a shipped torch.py was imported')\n",
}}


def _write(course: Path, students: dict) -> dict:
    expected = {}
    for student, (nb, score, flags) in students.items():
        folder = course / "submitted" / student / NAME
        folder.mkdir(parents=True)
        filename = f"{NAME} (1).ipynb" if student == "nina_renamed" else f"{NAME}.ipynb"
        for relative, text in SHIPPED_FILES.get(student, {}).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, tuple):   # ("link", target)
                (folder / relative).symlink_to(text[1])
            else:
                (folder / relative).write_text(text)
        if isinstance(nb, tuple):
            (folder / filename).symlink_to(nb[1])
        elif isinstance(nb, bytes):
            (folder / filename).write_bytes(nb)
        elif nb is not None:
            nbformat.write(nb, folder / filename)
        expected[student] = (score, flags)
    return expected


def _command(course: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "course_utils.autograde", NAME, "--course", str(course), "--workers",
            str(WORKERS), "--timeout", "15", "--limit", "120", *extra]


def _env() -> dict:
    env = tool_env()
    env["COURSE_CHECK_TIME_LIMIT"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Release notebook 01, submit the catalogue, grade it, stop the run once with SIGTERM, resume it."""
    course = tmp_path_factory.mktemp("grade-01")
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    shutil.copytree(ROOT / "source" / NAME, course / "source" / NAME)
    release = nbgrader(course, "generate_assignment", NAME, "--force")
    assert release.returncode == 0, release.stdout + release.stderr
    learner = nbformat.read(course / "notebooks" / NAME / f"{NAME}.ipynb", as_version=4)
    expected = _write(course, _catalogue(course, learner))

    states = lambda: sorted(course.glob(f"autograded/*/{NAME}/.grade.json"))  # noqa: E731
    first = subprocess.Popen(_command(course), cwd=course, env=_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while len(states()) < 4 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    first.send_signal(signal.SIGTERM)
    try:
        first_log, _ = first.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        tree = subprocess.run(["ps", "-eo", "pid,ppid,stat,etime,args"], capture_output=True, text=True).stdout
        first.kill()
        out, _ = first.communicate()
        raise AssertionError(f"still running 60 s after SIGTERM:\n{out[-3000:]}\n{tree[-6000:]}") from None
    done_before = {p.parent.parent.name: p.stat().st_mtime_ns for p in states()}
    started = time.monotonic()
    second = subprocess.run(_command(course), cwd=course, env=_env(), capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    with open(course / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return {"course": course, "expected": expected, "rows": rows, "first": (first.returncode, first_log),
            "second": second.stdout, "done_before": done_before, "seconds": seconds}


def test_every_submission_gets_its_expected_score(graded):
    """Does every honest, broken and hostile submission get exactly the score its correct exercises are worth?"""
    got = {s: float(graded["rows"][s]["score"]) for s in graded["expected"]}
    want = {s: float(score) for s, (score, _) in graded["expected"].items()}
    assert got == want


def test_faulty_submissions_are_flagged_in_the_export(graded):
    """Does the export's flag column name what went wrong with each faulty submission?"""
    for student, (_, flags) in graded["expected"].items():
        shown = set(filter(None, graded["rows"][student]["flag"].split(";")))
        assert flags <= shown, (student, shown)
    honest = ("full", "untouched", "without_conv2d", "carol_partly_wrong", "grace_deleted_graded_cell",
              "sybil_helper_module")
    for student in honest:
        assert graded["rows"][student]["flag"] == "", (student, graded["rows"][student]["flag"])


def test_the_sandbox_hides_the_course_the_gradebook_other_students_and_the_network(graded):
    """Inside a grading kernel, do reading hidden tests, the gradebook or another student's notebook,
    the network, and writing outside the scratch copy all fail?"""
    # oscar: 5 reads + the network; peggy: 3 writes + an UPDATE through sqlite
    for student, probes in (("oscar_reads_secrets", 7), ("peggy_writes_gradebook", 4)):
        nb = nbformat.read(graded["course"] / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert f"{MARK} ok" not in text, text[:2000]
        assert text.count(f"{MARK} refused") == probes, text[:2000]
    course = graded["course"]
    assert not (ROOT / "course_utils" / "evil.py").exists()
    if Path("/etc/shadow").exists():   # the link beside oscar's notebook changed nothing on the host
        assert Path("/etc/shadow").stat().st_uid == 0
    assert not (course / "autograded" / "oscar_reads_secrets" / NAME / "hidden.txt").exists()
    # the gradebook still holds the grader's scores, not the 100 the student tried to write
    assert float(graded["rows"]["peggy_writes_gradebook"]["score"]) == graded["expected"]["peggy_writes_gradebook"][0]
    assert (course / "grades.csv").read_text().count("\n") == len(graded["expected"]) + 1


def test_an_interrupted_run_resumes_without_regrading(graded):
    """Stopped with SIGTERM mid-class, does the next run keep what was done and grade only the rest?"""
    code, log = graded["first"]
    assert code != 0 and "interrupted" in log, log[-2000:]
    done = graded["done_before"]
    assert 4 <= len(done) < len(graded["expected"]), done
    assert f"{len(done)} already graded" in graded["second"], graded["second"][:500]
    for student, mtime in done.items():
        state = graded["course"] / "autograded" / student / NAME / ".grade.json"
        assert state.stat().st_mtime_ns == mtime, f"{student} was graded again"


def test_feedback_for_every_graded_submission_without_hidden_tests(graded):
    """Does every submitted notebook get feedback that shows verdicts and hides the hidden tests?"""
    course = graded["course"]
    for student, (_, flags) in graded["expected"].items():
        page = course / "feedback" / student / NAME / f"{NAME}.html"
        if flags & {"missing_notebook", "invalid_notebook"}:
            continue
        html = page.read_text()
        for secret in ("BEGIN HIDDEN TESTS", "seed=2024", "extended=True"):
            assert secret not in html, (student, secret)
    assert "conv2d: not yet correct" in (course / "feedback" / "carol_partly_wrong" / NAME / f"{NAME}.html").read_text()
    assert "GradingRejected" in (course / "feedback" / "patch_during_check" / NAME / f"{NAME}.html").read_text()


def test_class_report_counts_outcomes_and_names_the_common_mistake(graded):
    """Does the class report count passed / failed / not attempted / errored per check and name the most
    common hint (a flipped kernel, for conv2d)?"""
    course = graded["course"]
    with open(course / "reports" / NAME / "checks.csv", newline="") as handle:
        rows = {row["check"]: row for row in csv.DictReader(handle)}
    assert list(rows) == list(points(NAME))
    for row in rows.values():
        counts = [int(row[k]) for k in ("passed", "failed", "not_attempted", "errored")]
        assert sum(counts) == int(row["submissions"]) == len(graded["expected"])
    scores = {s: json.loads((course / "autograded" / s / NAME / ".grade.json").read_text())
              for s in graded["expected"]}
    passed_conv2d = sum(1 for s in scores.values() if s["cells"].get("conv2d_tests", {}).get("category") == "passed")
    assert int(rows["conv2d_tests"]["passed"]) == passed_conv2d
    assert int(rows["conv2d_tests"]["not_attempted"]) >= 2          # untouched, without_conv2d
    assert "flip" in rows["conv2d_tests"]["most_common_hint"].lower()
    assert (course / "reports" / NAME / "checks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run_in_kernel(zygote, code: str) -> str:
    """Start one kernel from the fork server, run ``code``, return its stdout, shut it down."""
    import asyncio

    from course_utils.sandbox import SandboxedKernelManager

    async def run() -> str:
        km = SandboxedKernelManager(kernel_name="python3", limits={"nproc": 512}, zygote=zygote)
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


def _graded_cell(outputs: list[dict]):
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    cell = new_code_cell("check_conv2d(conv2d, strict=True)")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "conv2d_tests", "points": 4, "solution": False,
                                 "locked": True, "schema_version": 3}
    cell.outputs = [new_output(**o) for o in outputs]
    return new_notebook(cells=[cell])


PASSED = {"output_type": "execute_result", "execution_count": 1,
          "data": {"text/plain": "conv2d: passed — public checks passed on 6 cases."}}


@pytest.mark.parametrize("outputs, record, executed, score, tampered", [
    ([PASSED], {"restore": [], "verify": [], "status": "ok"}, {0}, 4, False),
    # the check's verdict is missing although the cell "succeeded" (its call was swallowed)
    ([{"output_type": "stream", "name": "stdout", "text": "ok\n"}],
     {"restore": [], "verify": [], "status": "ok"}, {0}, 0, True),
    # something was patched while the graded cell ran
    ([PASSED], {"restore": [], "verify": ["torch.allclose"], "status": "ok"}, {0}, 0, True),
    # the grader's restore step did not answer
    ([PASSED], {"restore": None, "verify": [], "status": "ok"}, {0}, 0, True),
    # a patch found and undone before the cell: the cell's own verdict counts, and it is flagged
    ([PASSED], {"restore": ["torch.allclose"], "verify": [], "status": "ok"}, {0}, 4, True),
    # never executed (the kernel died earlier): 0, not tampering
    ([], None, set(), 0, False),
])
def test_a_graded_cell_scores_only_when_reply_errors_and_verdict_agree(outputs, record, executed, score, tampered):
    """Does the grader give a graded cell its points only when the kernel's reply, its error outputs and
    the check's 'passed' line agree, and put a rejection first so nbgrader's own rule scores it 0?"""
    from nbgrader.utils import determine_grade

    from course_utils.autograde import judge
    nb = _graded_cell(outputs)
    graded = {} if record is None else {"conv2d_tests": dict(record, checks=["conv2d"])}
    flags: set[str] = set()
    cells = judge(nb, graded, executed, flags)
    assert cells["conv2d_tests"]["score"] == score
    assert determine_grade(nb.cells[0])[0] == score          # what SaveAutoGrades will store
    assert ("tampered" in flags) == tampered


def test_a_tensor_subclass_cannot_answer_the_comparison_itself():
    """Does check_conv2d fail an answer of zeros wrapped in a Tensor subclass whose __torch_function__
    says torch.allclose is True (a cheat that needs no monkeypatch, so the guard cannot see it)?"""
    import torch

    from course_utils.checks import check_conv2d

    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func in (torch.allclose, torch.Tensor.allclose, torch.isclose, torch.equal):
                return True
            return super().__torch_function__(func, types, args, kwargs or {})

    def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
        from course_utils.checks.engine import pair
        (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
        height = (x.shape[2] + 2 * ph - dh * (weight.shape[2] - 1) - 1) // sh + 1
        width = (x.shape[3] + 2 * pw - dw * (weight.shape[3] - 1) - 1) // sw + 1
        return torch.zeros(x.shape[0], weight.shape[0], height, width).as_subclass(Liar)

    assert check_conv2d(conv2d).outcome == "not yet correct"
    assert check_conv2d(conv2d, seed=2024, extended=True).outcome == "not yet correct"


class TestSandboxAndForkServer:
    """Each on its own course or sandbox: one unit of work for the test workers, beside the class run above."""

    def test_a_new_timestamp_a_bad_one_or_a_vanished_notebook_is_handled_on_the_next_run(self, tmp_path):
        """Graded once, is a submission graded again when its timestamp.txt changes (the late penalty
        follows it), does an unreadable timestamp get flagged instead of passing as on time, and does a
        notebook that vanished lose its old feedback along with its points?"""
        from nbgrader.api import Gradebook
        course = tmp_path / "course"
        course.mkdir()
        (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text()
                                                   + '\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
        shutil.copytree(ROOT / "source" / NAME, course / "source" / NAME)
        release = nbgrader(course, "generate_assignment", NAME, "--force")
        assert release.returncode == 0, release.stdout + release.stderr
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            gb.update_or_create_assignment(NAME, duedate="2025-01-01 00:00:00 UTC")
        learner = nbformat.read(course / "notebooks" / NAME / f"{NAME}.ipynb", as_version=4)
        full, total = class_of(NAME, learner)["full"]
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
        from course_utils.autograde import source_imports
        cells = ["import math\nimport torch.nn as nn\nfrom course_utils import data, plots\n",
                 "%matplotlib inline\nimport numpy as np\n", "def f():\n    import json\n", "from . import x\n"]
        assert source_imports(cells) == ["math", "torch.nn", "course_utils", "course_utils.data", "course_utils.plots",
                                         "numpy"]

    def test_every_assignments_fork_server_starts_warm(self, tmp_path):
        """Does the fork server start for every notebook, having imported everything its source notebook
        imports (a module that fails, or one that starts a thread, would make forking unsafe)?"""
        from course_utils.autograde import Grader
        from course_utils.sandbox import Zygote
        for source in sorted((ROOT / "source").glob("[0-9][0-9]_*")):
            grader = Grader(ROOT, source.name, workers=1, limit=600, timeout=None, memory=0, quiet=True)
            preload = grader.preload()
            assert "torch" in preload and "course_utils.checks" in preload, (source.name, preload)
            zygote = Zygote(tmp_path / "s", tmp_path / "r", preload, tmp_path / "z.log")
            zygote.start()
            try:
                assert zygote.info["failed"] == [], (source.name, zygote.info)
            finally:
                zygote.stop()

    def test_a_kernel_cannot_reach_the_fork_server_nor_leave_anything_for_the_next(self, tmp_path):
        """Can a grading kernel stop or read the fork server that made it (it must not, grading as root), and
        does a process it leaves running, or a file in /tmp, survive into the next submission's kernel?"""
        from course_utils.sandbox import Zygote, _is_root
        zygote = Zygote(tmp_path / "s", tmp_path / "r", ["json"], tmp_path / "z.log")
        zygote.start()
        try:
            server = zygote.info["pid"]
            first = _run_in_kernel(zygote, (
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
                "        print(name, 'refused', type(exc).__name__)\n").replace("server", str(server)))
            assert "mem refused" in first, first
            if _is_root():
                assert "uid 65534" in first and "stop refused" in first, first
            sandbox = zygote.proc
            zygote.sweep()
            if _is_root():
                assert zygote.proc is sandbox, "the sweep failed and the sandbox was replaced"
            zygote.ensure()   # without root a kernel may stop the fork server: it is replaced, not trusted
            second = _run_in_kernel(zygote, (
                "import os\n"
                "print('left behind', os.path.exists('/tmp/left-behind'))\n"
                "print('planted', os.path.exists('planted.txt'))\n"
                "print('sleeping', [p for p in os.listdir('/proc') if p.isdigit()\n"
                "                   and 'sleep' in open(f'/proc/{p}/cmdline').read()])\n"))
            assert "left behind False" in second and "planted False" in second and "sleeping []" in second, second
        finally:
            zygote.stop()

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
        from course_utils import sandbox
        monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
        with pytest.raises(sandbox.SandboxUnavailable, match="never runs student code unsandboxed"):
            sandbox.require_bwrap(install=False)
        with pytest.raises(sandbox.SandboxUnavailable):
            sandbox.bwrap_command(["true"], scratch=Path("/tmp"), runtime=Path("/tmp"), env={})
