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

tests/grader/test_sandbox.py proves the rest on small courses and single sandboxes, and
tests/grader/test_judging.py the scoring rule of one graded cell.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from grading_helpers import class_of, grade_command, grade_env, points, released_course, submission, without

from course_grader.build import ROOT
from course_grader.solutions import solution_cells

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

    standard = class_of(NAME, learner)
    honest = {"full": standard["full"], "untouched": (learner, 0),
              "without_conv2d": without(standard, "conv2d"),
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
        "nina_renamed": (standard["full"][0], total, {"renamed"}),
        "frank_edited_graded_cell": (submission(learner, solutions, replace={"conv2d": flipped},
                                                graded={"conv2d_tests": "pass"}), wrong_conv2d, set()),
        "grace_deleted_graded_cell": (submission(learner, solutions, graded={"conv1d_full_tests": None}),
                                      total, set()),
    })
    secrets_ = [course / "source" / NAME / f"{NAME}.ipynb", course / "gradebook.db",
                course / "submitted" / "full" / NAME / f"{NAME}.ipynb", ROOT / "source" / NAME / f"{NAME}.ipynb",
                Path.home() / ".bashrc", ROOT / "course_grader" / "grader.py"]   # the host modules: not mounted
    reads = "".join(_probe(f"open({str(p)!r}, 'rb').read(1)") for p in secrets_)
    network = _probe("__import__('socket').create_connection(('1.1.1.1', 80), timeout=3)")
    writes = "".join(_probe(f"open({str(p)!r}, 'ab').write(b'x')") for p in
                     [course / "gradebook.db", ROOT / "course_utils" / "evil.py", course / "grades.csv",
                      ROOT / "course_grader" / "inside" / "evil.py"])
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
    # The answer borrowed while the check runs: from the check's own cases (course code, refused), and the
    # expected tensor found on the stack or through gc (it does not exist yet).
    students["uriel_borrows_the_checks_answers"] = (submission(learner, solutions, replace={
        "conv_output_size": BORROWS_THE_CASES}), total - worth["conv_output_size_tests"], set())
    students["vera_steals_the_expected_tensor"] = (submission(learner, solutions, replace={
        "conv2d": STEALS_THE_EXPECTED}), wrong_conv2d, set())
    # Cell metadata in the student's copy changes nothing about how graded cells run: execution tags, nbval's,
    # editable/deletable, a hidden source, nbgrader's own grade/solution/points flipped.
    for student, edits in METADATA_TAMPERING.items():
        nb = submission(learner, solutions, replace={"conv2d": flipped})
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in edits:
                edits[gid](cell.metadata)
        students[student] = (nb, wrong_conv2d, set())
    return students


BORROWS_THE_CASES = """def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    from course_utils.checks.convolution import _conv_output_size_cases
    for case in _conv_output_size_cases(True):
        if case.args == (size, kernel_size) and case.kwargs == dict(stride=stride, padding=padding,
                                                                     dilation=dilation):
            return case.expected
    return 0
"""
STEALS_THE_EXPECTED = """def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    import gc, sys
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    shape = (x.shape[0], weight.shape[0], (x.shape[2] + 2 * ph - dh * (weight.shape[2] - 1) - 1) // sh + 1,
             (x.shape[3] + 2 * pw - dw * (weight.shape[3] - 1) - 1) // sw + 1)
    found = [getattr(o, "expected", None) for o in gc.get_objects() if type(o).__name__ == "Case"
             and o.args and o.args[0] is x]
    frame = sys._getframe(1)
    while frame is not None:
        found += [v for k, v in frame.f_locals.items() if k == "expected"]
        found += [getattr(v, "expected", None) for v in frame.f_locals.values() if type(v).__name__ == "Case"]
        frame = frame.f_back
    return next((t for t in found if isinstance(t, torch.Tensor) and tuple(t.shape) == shape), None)
"""


def _tags(metadata):
    metadata["tags"] = ["skip-execution", "raises-exception", "nbval-skip", "nbval-ignore-output",
                        "nbval-raises-exception"]
    metadata["editable"], metadata["deletable"] = True, True
    metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}


def _not_graded(metadata):
    metadata["nbgrader"].update(grade=False, solution=True, points=0)


def _more_points(metadata):
    metadata["nbgrader"]["points"] = 1000


METADATA_TAMPERING = {
    "tess_tags_the_graded_cell": {"conv2d_tests": _tags},
    "ursula_ungrades_the_graded_cell": {"conv2d_tests": _not_graded, "conv1d_full_tests": _more_points},
    "walt_skips_every_graded_cell": {gid: _tags for gid in ("conv1d_full_tests", "conv2d_true_tests",
                                                            "conv_output_size_tests", "conv_param_count_tests",
                                                            "conv2d_tests", "conv2d_im2col_tests")},
}


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
    return grade_command(course, NAME, "--workers", str(WORKERS), "--timeout", "15", "--limit", "120", *extra)


def _env() -> dict:
    return grade_env()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Release notebook 01, submit the catalogue, grade it, stop the run once with SIGTERM, resume it."""
    course = released_course(tmp_path_factory, NAME)   # the session's one release (no nbgrader start here)
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
    # oscar: 6 reads + hidden.txt + the network; peggy: 4 writes + an UPDATE through sqlite
    for student, probes in (("oscar_reads_secrets", 8), ("peggy_writes_gradebook", 5)):
        nb = nbformat.read(graded["course"] / "autograded" / student / NAME / f"{NAME}.ipynb", as_version=4)
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert f"{MARK} ok" not in text, text[:2000]
        assert text.count(f"{MARK} refused") == probes, text[:2000]
    course = graded["course"]
    assert not (ROOT / "course_utils" / "evil.py").exists()
    assert not (ROOT / "course_grader" / "inside" / "evil.py").exists()
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
