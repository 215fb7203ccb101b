"""Helpers shared by the grading tests (tests/grader/test_grading.py, tests/grader/test_autograde.py) and
benchmarks/grading.py: a notebook's points, filled-in submissions and the standard class.

Every expected score is computed from the points in the source notebook, never typed.
"""

from __future__ import annotations

import json
import os
import re
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


def builds_on_others(solutions: dict[str, str]) -> bool:
    """Does some exercise's solution name another exercise (``make_unet`` calling ``match_size``)?
    Then its check must inject the course's reference part, and only the full matrix proves it does."""
    return any(re.search(rf"\b{re.escape(other)}\b", code)
               for exercise, code in solutions.items() for other in solutions if other != exercise)


def class_of(name: str, learner) -> dict:
    """Every notebook's class: the full solution, the untouched learner version, and submissions
    with exercises left as they were released (their stubs).

    By the course's convention the graded cell ``<id>_tests`` grades the exercise ``<id>`` and
    nothing else: an unfinished exercise costs its own points only.  Where exercises build on
    each other (``builds_on_others``), that is what could break, so the class holds the full
    matrix: one submission per exercise with only that one undone.  Elsewhere two complementary
    submissions (every other exercise undone, then the rest) prove the same for every exercise at
    a fraction of the grading time: a graded cell that leaned on a neighbouring exercise would
    lose points in one of them."""
    solutions, worth = solution_cells(name), points(name)
    total = sum(worth.values())
    released = {c.metadata["nbgrader"]["grade_id"]: c.source for c in learner.cells
                if c.metadata.get("nbgrader", {}).get("solution")}
    students = {"full": (submission(learner, solutions), total), "untouched": (learner, 0)}
    exercises = list(solutions)
    undone_sets = ([[exercise] for exercise in exercises] if builds_on_others(solutions)
                   else [exercises[0::2], exercises[1::2]])
    for undone in undone_sets:
        students["without_" + "_and_".join(undone)] = (
            submission(learner, solutions, replace={exercise: released[exercise] for exercise in undone}),
            total - sum(worth[f"{exercise}_tests"] for exercise in undone))
    return students


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
