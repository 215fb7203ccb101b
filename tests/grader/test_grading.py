"""Grading every notebook: release, submit, grade, export, feedback.

Every notebook is released with the repository's own ``nbgrader_config.py`` in a scratch
course folder and graded for a class made of the untouched learner version and submissions with
groups of exercises left undone (``grading_helpers.class_of``), one of which also holds a wrong
exercise: every exercise is done in one submission and undone in another, so the scores prove that
each earns exactly its points.  Notebook 01's class also holds the full solution (the notebooks'
nbval runs execute every full solution with its hidden tests; grading it once more for every
notebook would double the grading time).  Notebook 01 goes through plain nbgrader's own commands (``generate_assignment``,
``autograde``, ``export``, ``generate_feedback``: the course stays compatible with them), with
a catalogue of wrong, raising, looping, edited and deleted-graded-cell submissions.  Every
other notebook goes through ``python3 course.py grade`` (``python -m course_grader``): the
same preprocessors and gradebook in warm, sandboxed kernels, several times faster than a cold
kernel per submission.  Hostile submissions, a loop at the top level of a cell and a crashed
kernel are in tests/grader/test_autograde.py.  Every expected score is computed from the
points in the source notebook, never typed.
"""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import nbformat
import pytest
from grading_helpers import class_of, grade_command, grade_env, nbgrader, points, released_course, submission

from course_grader.build import ROOT
from course_grader.solutions import solution_cells

NAMES = sorted(p.stem for p in (ROOT / "instructor").glob("[0-9][0-9]_*.py"))


# the shared helpers (tests/grading_helpers.py, also used by test_autograde.py and benchmarks/grading.py)
_points, _nbgrader, _submission, _class = points, nbgrader, submission, class_of


def _adversarial_01(learner) -> dict:
    """Notebook 01's catalogue of wrong, raising, looping and tampered submissions (the grade command
    meets these and worse in tests/grader/test_autograde.py; here plain nbgrader does)."""
    name = "01_convolution"
    solutions, points = solution_cells(name), _points(name)
    total = sum(points.values())
    flipped = solutions["conv2d"].replace("window, weight)", "window, weight.flip(-1, -2))")
    assert flipped != solutions["conv2d"]
    raises = solutions["conv1d_full"].replace('"""\n', '"""\n    raise ValueError("shapes do not match")\n', 1)
    loops = solutions["conv_output_size"].replace('"""\n', '"""\n    while True:\n        pass\n', 1)
    # One submission holds all four (independent exercises; one cold kernel instead of three): a raising
    # conv1d_full and a looping conv_output_size cost those exercises only; deleting a graded cell gains
    # nothing: add_missing_cells puts it back (here conv2d_true's, whose exercise is right); a wrong conv2d,
    # and its graded cell edited to `pass`, gains nothing: nbgrader restores the cell.
    return {
        "dave_raises_loops_deletes_and_edits": (
            _submission(learner, solutions,
                        replace={"conv1d_full": raises, "conv_output_size": loops, "conv2d": flipped},
                        graded={"conv2d_true_tests": None, "conv2d_tests": "pass"}),
            total - points["conv1d_full_tests"] - points["conv_output_size_tests"] - points["conv2d_tests"]),
    }


# One exercise per notebook made wrong but running; it joins one of the class's submissions
# (grading_helpers.class_of's ``wrong``), which then loses that exercise's points as well.
WRONG = {
    # softmax without the max subtraction: fine on small logits, inf/NaN on logits in the thousands
    "02_building_blocks": ("softmax", "z - z.amax(dim=dim, keepdim=True)", "z"),
    # inception branches concatenated in another order: right shape and parameters, wrong layout
    "03_classic_architectures": ("make_inception",
                                 "[self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]",
                                 "[self.branch3(x), self.branch1(x), self.branch5(x), self.branch_pool(x)]"),
    # rows and columns swapped: the right counts in the wrong places
    "06_fcn": ("confusion_matrix", "target[keep].long() * num_classes + pred[keep].long()",
               "pred[keep].long() * num_classes + target[keep].long()"),
    # the block's second ReLU before the addition: right shapes and keys, wrong values
    "04_resnet": ("make_basic_block", "return F.relu(out + identity)", "return F.relu(out) + identity"),
    # a transition that max-pools: right shapes and parameters, wrong values (DenseNet averages)
    "05_densenet_and_beyond": ("make_transition", "nn.AvgPool2d(kernel_size=2, stride=2)",
                               "nn.MaxPool2d(kernel_size=2, stride=2)"),
    # match_size aligned to the top-left corner: right shapes, wrong values (the map is not centred)
    "07_unet": ("match_size", "[dw // 2, dw - dw // 2, dh // 2, dh - dh // 2]", "[0, dw, 0, dh]"),
    # the smoothness kernel's self-connection kept: right shapes, marginals that still sum to 1, wrong values
    "08_deeplab": ("mean_field_step", "flat @ k_smooth.t() - k_smooth.diagonal() * flat", "flat @ k_smooth.t()"),
    # NMS that suppresses at IoU >= threshold: right on most boxes, wrong where an IoU equals the threshold
    "09_detection": ("nms", "suppressed |= iou[i] > iou_threshold", "suppressed |= iou[i] >= iou_threshold"),
}


def _wrong(name: str) -> tuple[str, str] | None:
    if name not in WRONG:
        return None
    exercise, old, new = WRONG[name]
    right = solution_cells(name)[exercise]
    assert old in right, f"{old!r} not found in the {exercise} solution"
    return exercise, right.replace(old, new)


def _release(name: str, tmp_path_factory):
    """A scratch course with one assignment released (``released_course``); its class submitted.  One course
    (and gradebook) per notebook: the notebooks are graded independently, so the test workers grade them
    side by side."""
    course = released_course(tmp_path_factory, name)
    learner = nbformat.read(course / "notebooks" / name / f"{name}.ipynb", as_version=4)
    students = _class(name, learner, wrong=_wrong(name), full=name == NAMES[0])
    if name == NAMES[0]:
        students.update(_adversarial_01(learner))
    expected: dict[tuple[str, str], float] = {}
    for student, (nb, score) in students.items():
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
        expected[(student, name)] = score
    return course, expected


def _rows(course: Path) -> dict:
    with open(course / "grades.csv", newline="") as handle:
        return {(row["student_id"], row["assignment"]): row for row in csv.DictReader(handle)}


def _nbgrader_round_trip(name: str, tmp_path_factory):
    """Plain nbgrader: autograde, export and generate feedback with its own commands."""
    course, expected = _release(name, tmp_path_factory)
    autograde = _nbgrader(course, "autograde", name)
    assert autograde.returncode == 0, autograde.stdout[-3000:] + autograde.stderr[-3000:]
    export = _nbgrader(course, "export", "--to=grades.csv")
    assert export.returncode == 0, export.stdout + export.stderr
    feedback = _nbgrader(course, "generate_feedback", name)
    assert feedback.returncode == 0, feedback.stdout[-3000:] + feedback.stderr[-3000:]
    return name, course, expected, _rows(course)


def _grade_command(name: str, tmp_path_factory):
    """``python3 course.py grade``: one sandboxed worker (the test workers grade two notebooks side by side),
    which writes autograded/, the feedback and grades.csv itself."""
    course, expected = _release(name, tmp_path_factory)
    done = subprocess.run(grade_command(course, name, "--workers", "1"), cwd=course, env=grade_env(),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return name, course, expected, _rows(course)


class _GradedNotebook:
    """The round trip for one notebook; one subclass per notebook (below), so that the test
    workers (``--dist loadscope``: one class is one unit of work) grade notebooks side by side."""

    name = ""
    grade = staticmethod(_grade_command)

    @pytest.fixture(scope="class")
    @classmethod
    def graded_class(cls, tmp_path_factory):
        return cls.grade(cls.name, tmp_path_factory)

    def test_every_submission_gets_exactly_its_expected_score(self, graded_class):
        """Does grading give each submission — untouched, exercises undone, partly wrong, and for notebook 01
        full, raising, looping, edited — exactly the score its correct exercises are worth?"""
        _, _, expected, rows = graded_class
        got = {key: float(rows[key]["score"]) for key in expected}
        assert got == {key: float(score) for key, score in expected.items()}

    def test_max_score_is_the_sum_of_the_graded_cells_points(self, graded_class):
        """Does the export's max score equal the points written in the source notebook?"""
        name, _, _, rows = graded_class
        for (student, assignment), row in rows.items():
            assert assignment == name
            assert float(row["max_score"]) == float(sum(_points(name).values())), student

    def test_feedback_shows_verdicts_but_never_hidden_tests(self, graded_class):
        """Does the feedback students receive keep the check verdicts and hide the hidden tests?"""
        name, course, expected, _ = graded_class
        pages = {student: (course / "feedback" / student / name / f"{name}.html").read_text()
                 for student, _ in expected}
        for student, page in pages.items():
            for secret in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "seed=2024", "extended=True"):
                assert secret not in page, f"{student}'s feedback reveals {secret!r}"
            assert "hidden tests run here" in page
        assert "not attempted" in pages["untouched"]
        if name == "01_convolution":
            page = pages["dave_raises_loops_deletes_and_edits"]
            assert "conv2d: not yet correct" in page
            assert "conv1d_full: your code raised" in page
            assert "conv_output_size: cannot be checked" in page
        if "train.autograding()" in (ROOT / "instructor" / f"{name}.py").read_text():
            # demonstrations without points are skipped under the autograder (nbgrader sets NBGRADER_EXECUTION)
            for student, page in pages.items():
                assert "Skipped while the autograder runs." in page, student
        wrong = [student for student in pages if "__wrong_" in student]
        assert len(wrong) == (name in WRONG)
        for student in wrong:
            exercise = student.split("__wrong_")[1]
            assert f"{exercise}: not yet correct" in pages[student]

    def test_autograded_notebooks_exist_for_every_student(self, graded_class):
        """Is every submission autograded (no student silently skipped)?"""
        name, course, expected, rows = graded_class
        for student, _ in expected:
            assert (course / "autograded" / student / name / f"{name}.ipynb").exists()
        assert set(expected) <= set(rows)


class TestGrading_01_convolution(_GradedNotebook):
    """Notebook 01 through plain nbgrader's own commands: the course stays compatible with them."""

    name = "01_convolution"
    grade = staticmethod(_nbgrader_round_trip)


class _GradeCommandNotebook(_GradedNotebook):
    def test_no_honest_or_merely_wrong_submission_is_flagged(self, graded_class):
        """Does the grade command flag none of these submissions (no false 'tampered' or 'timeout')?"""
        _, _, expected, rows = graded_class
        assert {key: rows[key]["flag"] for key in expected if rows[key]["flag"]} == {}


for _name in NAMES[1:]:   # TestGradeCommand_02_building_blocks, ...
    globals()[f"TestGradeCommand_{_name}"] = type(f"TestGradeCommand_{_name}", (_GradeCommandNotebook,),
                                                  {"name": _name})
assert NAMES[0] == TestGrading_01_convolution.name
