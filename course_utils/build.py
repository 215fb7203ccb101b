"""Moved: the notebook builder is ``course_grader.build`` (``python3 course.py build``), the reference
solutions ``course_grader.solutions``.

This module only keeps the old import path for the tests that still use it (tests/test_progress.py,
tests/test_course_utils.py, tests/test_checks_densenet.py); delete it once they import from
``course_grader``.  Nothing a learner runs imports it.
"""

from course_grader.build import ROOT
from course_grader.solutions import load_solutions, solution_cells

__all__ = ["ROOT", "load_solutions", "solution_cells"]
