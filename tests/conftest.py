"""Shared fixtures for the course's test suite.

Kept cheap on purpose: nothing heavy is imported at collection time, so test
modules that do not need torch do not pay for it.
"""

from __future__ import annotations

import os
import tempfile

import pytest

# Notebooks executed by the tests (nbval, nbclient, nbgrader) inherit this:
# the ipywidgets explorers draw static figures there (course_utils.widgets.is_headless).
os.environ.setdefault("COURSE_HEADLESS", "1")
# Checks that pass record the learner's progress (course_utils.progress): the suite's
# passes go to a scratch file, never into the progress of whoever runs the tests.
os.environ.setdefault("COURSE_PROGRESS_FILE", os.path.join(tempfile.gettempdir(),
                                                           f"course-test-progress-{os.getpid()}.json"))


@pytest.fixture
def short_time_limit(monkeypatch):
    """Lower the checks' per-call time limit so that tests of runaway learner code stay fast.

    The engine reads ``TIME_LIMIT`` at call time, so patching the module
    attribute is enough; monkeypatch puts the original back afterwards.
    Returns the limit in force.
    """
    from course_utils.checks.engine import guards

    monkeypatch.setattr(guards, "TIME_LIMIT", 0.2)
    return guards.TIME_LIMIT


def pytest_collection_modifyitems(config, items):
    """The longest units first, longest of all first.

    The test workers run ``--dist loadscope --no-loadscope-reorder`` (course.py): a
    test file is one unit of work, a test class too — each notebook's grading round
    trip is a class of tests/grader/test_grading.py — and units are handed out in
    collection order. Starting the long ones first, longest first, keeps a worker from
    picking one up at the end while the other idles. Measured on the 2-core machine:
    tests/e2e/test_browser.py (every learner notebook in one JupyterLab) ~5 min, the
    hostile class of tests/grader/test_autograde.py ~3 min, notebook 01's plain-nbgrader
    round trip ~2.5 min, the sandbox tests ~2 min, then the grade command's round trips
    (0.5-2 min each). (Not ``--dist loadgroup``: with pytest 9.2 and xdist 3.8 its
    group marks are silently ignored, which split a notebook's nbval cells across
    workers and kernels.)
    """
    first = ("tests/e2e/test_browser.py::", "tests/grader/test_autograde.py::",
             "tests/grader/test_grading.py::TestGrading_", "tests/grader/test_sandbox.py::",
             "tests/grader/test_grading.py::TestGradeCommand_")

    def rank(item) -> int:
        return next((i for i, prefix in enumerate(first) if item.nodeid.startswith(prefix)), len(first))

    items.sort(key=rank)   # stable: every unit's tests stay together and in order
