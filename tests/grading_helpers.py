"""Helpers shared by the grading tests (tests/test_grading.py, tests/test_autograde.py) and
benchmarks/grading.py: a notebook's points, filled-in submissions and the standard class.

Every expected score is computed from the points in the source notebook, never typed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

from course_utils.build import ROOT, solution_cells, tool_env


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


def class_of(name: str, learner) -> dict:
    """Every notebook's class: the full solution, the untouched learner version, and one
    submission per exercise with only that exercise left as it was released (its stub).
    By the course's convention the graded cell ``<id>_tests`` grades the exercise ``<id>``
    and nothing else: an unfinished exercise costs its own points only."""
    solutions, worth = solution_cells(name), points(name)
    total = sum(worth.values())
    released = {c.metadata["nbgrader"]["grade_id"]: c.source for c in learner.cells
                if c.metadata.get("nbgrader", {}).get("solution")}
    students = {"full": (submission(learner, solutions), total), "untouched": (learner, 0)}
    for exercise in solutions:
        students[f"without_{exercise}"] = (submission(learner, solutions, replace={exercise: released[exercise]}),
                                           total - worth[f"{exercise}_tests"])
    return students
