"""Helpers shared by the grading tests (tests/grader/test_grading.py, tests/grader/test_autograde.py) and
benchmarks/grading.py: a notebook's points, filled-in submissions and the standard class.

Every expected score is computed from the points in the source notebook, never typed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from course_grader.build import ROOT
from course_grader.config import tool_env
from course_grader.solutions import solution_cells


def points(name: str) -> dict[str, float]:
    nb = nbformat.read(ROOT / "source" / name / f"{name}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def nbgrader(course: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = tool_env()
    env["COURSE_CHECK_TIME_LIMIT"] = "3"   # runaway learner code is stopped after 3 s, not 10
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=timeout)


def submission(learner, solutions: dict[str, str], *, replace: dict[str, str] | None = None,
                graded: dict[str, str | None] | None = None):
    """A filled-in copy of the learner notebook.

    ``replace`` swaps a solution's code; ``graded`` edits (str) or deletes
    (None) a graded test cell, as a student could in their copy.
    """
    nb = nbformat.from_dict(json.loads(json.dumps(learner)))
    replace, graded = replace or {}, graded or {}
    kept = []
    for cell in nb.cells:
        role = cell.metadata.get("nbgrader", {})
        gid = role.get("grade_id")
        if role.get("solution"):
            cell.source = replace.get(gid, solutions[gid])
        if role.get("grade") and gid in graded:
            if graded[gid] is None:
                continue
            cell.source = graded[gid]
        kept.append(cell)
    nb.cells = kept
    return nb


def depends_on(solutions: dict[str, str]) -> dict[str, set[str]]:
    """For each exercise, the other exercises its solution names (``make_unet`` calls ``match_size``)."""
    return {exercise: {other for other in solutions
                       if other != exercise and re.search(rf"\b{re.escape(other)}\b", code)}
            for exercise, code in solutions.items()}


def undone_sets(solutions: dict[str, str]) -> list[list[str]]:
    """Groups of exercises to leave undone together, one submission per group.

    By the course's convention the graded cell ``<id>_tests`` grades the exercise ``<id>`` and
    nothing else: an unfinished exercise costs its own points only.  Two exercises may share a
    group unless they are neighbours (a graded cell that leaned on the exercise above or below it
    would then lose points) or one builds on the other (``make_unet`` on ``match_size``: its
    graded cell must put the course's reference part in, and only a submission with the part
    undone and ``make_unet`` done proves it does).  Greedy colouring of that graph: two or three
    groups prove for every exercise what one submission per exercise would, at a fraction of
    the grading time."""
    exercises = list(solutions)
    needs = depends_on(solutions)
    apart = {e: set(needs[e]) for e in exercises}
    for e, uses in needs.items():
        for other in uses:
            apart[other].add(e)
    for a, b in zip(exercises, exercises[1:]):
        apart[a].add(b)
        apart[b].add(a)
    groups: list[list[str]] = []
    for exercise in exercises:
        group = next((g for g in groups if not apart[exercise] & set(g)), None)
        if group is None:
            groups.append(group := [])
        group.append(exercise)
    return groups


def class_of(name: str, learner, *, wrong: tuple[str, str] | None = None, full: bool = True) -> dict:
    """Every notebook's class: the full solution, the untouched learner version, and one submission
    per group of ``undone_sets``, with those exercises left as they were released (their stubs).

    ``full=False`` leaves the full solution out: every exercise is then done in one group's submission
    and undone in another's, so the class still proves that each earns exactly its points (the groups'
    scores are the total less each group's points), at about half the grading time.

    ``wrong`` is ``(exercise, code)``: that exercise, wrong but running, goes into a submission
    whose group leaves it done, and costs its own points there too (one submission fewer to grade
    than a separate partly wrong one).  Such a submission's name ends in ``__wrong_<exercise>``."""
    solutions, worth = solution_cells(name), points(name)
    total = sum(worth.values())
    released = {c.metadata["nbgrader"]["grade_id"]: c.source for c in learner.cells
                if c.metadata.get("nbgrader", {}).get("solution")}
    students = {"full": (submission(learner, solutions), total)} if full else {}
    students["untouched"] = (learner, 0)
    groups = undone_sets(solutions)
    assert full or len(groups) > 1, f"{name}: one group; without the full solution no exercise would be done"
    for undone in groups:
        replace = {exercise: released[exercise] for exercise in undone}
        score = total - sum(worth[f"{exercise}_tests"] for exercise in undone)
        student = "without_" + "_and_".join(undone)
        if wrong is not None and wrong[0] not in undone:
            replace[wrong[0]] = wrong[1]
            score -= worth[f"{wrong[0]}_tests"]
            student += f"__wrong_{wrong[0]}"
            wrong = None
        students[student] = (submission(learner, solutions, replace=replace), score)
    return students


def without(students: dict, exercise: str):
    """The class's submission that leaves ``exercise`` undone (and maybe others)."""
    return next(value for student, value in students.items()
                if student.startswith("without_") and exercise in student.split("__")[0][len("without_"):].split("_and_"))


def grade_command(course: Path, name: str, *extra: str) -> list[str]:
    """``python3 course.py grade NAME`` for a scratch course (what course.py runs: ``python -m course_grader``)."""
    return [sys.executable, "-m", "course_grader", name, "--course", str(course), *extra]


def grade_env() -> dict:
    """The environment of a grading run under test: runaway learner code is stopped after 3 s, and this
    checkout's packages come first."""
    env = tool_env()
    env["COURSE_CHECK_TIME_LIMIT"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def released_course(tmp_path_factory, name: str, config: str | None = None) -> Path:
    """A scratch course with ``name`` released and in its gradebook, ready for ``submitted/``.

    ``nbgrader generate_assignment "*"`` releases every notebook once per test session (a file lock
    lets the first test worker do it while the others wait); each caller gets a copy holding only
    its own assignment, so that notebooks are graded side by side without sharing a gradebook.
    One release of nine notebooks costs about what two single releases cost (nbgrader's start-up)."""
    from filelock import FileLock   # torch's own dependency
    from nbgrader.api import Gradebook

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    template = shared / "released-course"
    with FileLock(str(shared / "released-course.lock")):
        if not (template / ".released").exists():
            shutil.rmtree(template, ignore_errors=True)
            template.mkdir()
            shutil.copy(ROOT / "nbgrader_config.py", template / "nbgrader_config.py")
            shutil.copytree(ROOT / "source", template / "source")
            release = nbgrader(template, "generate_assignment", "*", "--force")
            assert release.returncode == 0, release.stdout[-3000:] + release.stderr[-3000:]
            (template / ".released").touch()
    course = tmp_path_factory.mktemp(f"course-{name}")
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text() + (config or ""))
    for folder in ("source", "notebooks"):
        shutil.copytree(template / folder / name, course / folder / name)
    shutil.copy(template / "gradebook.db", course / "gradebook.db")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in [a.name for a in gb.assignments if a.name != name]:
            gb.remove_assignment(assignment)
    return course
