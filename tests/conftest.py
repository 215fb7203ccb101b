"""Shared fixtures for the course's test suite.

Kept cheap on purpose: nothing heavy is imported at collection time, so test
modules that do not need torch do not pay for it.
"""

from __future__ import annotations

import os

import pytest

# Notebooks executed by the tests (nbval, nbclient, nbgrader) inherit this:
# the ipywidgets explorers draw static figures there (course_utils.widgets.is_headless).
os.environ.setdefault("COURSE_HEADLESS", "1")


@pytest.fixture
def short_time_limit(monkeypatch):
    """Lower the checks' per-call time limit so that tests of runaway learner code stay fast.

    The engine reads ``TIME_LIMIT`` at call time, so patching the module
    attribute is enough; monkeypatch puts the original back afterwards.
    Returns the limit in force.
    """
    from course_utils.checks import _engine

    monkeypatch.setattr(_engine, "TIME_LIMIT", 0.5)
    return _engine.TIME_LIMIT


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Scheduling groups for the test workers (``--dist loadgroup``, see course.py).

    Every test file is one group, as with ``--dist loadfile`` (module fixtures
    run once), except the grading round trip: each notebook's class is its
    own group, so the workers grade notebooks side by side.  Grading groups
    are moved to the front: they are the longest, and starting them first
    keeps a worker from picking one up at the end.
    """
    grading, rest = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        notebook = callspec.params.get("graded_class") if callspec else None
        if notebook is not None:
            item.add_marker(pytest.mark.xdist_group(f"grading-{notebook}"))
            grading.append(item)
        else:
            item.add_marker(pytest.mark.xdist_group(str(item.path.relative_to(config.rootpath))))
            rest.append(item)
    items[:] = grading + rest
