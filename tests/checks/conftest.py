"""The check tests' set-up: the instructor's solutions are loaded before a test runs, never inside a check."""

from __future__ import annotations


def pytest_runtest_setup(item):
    from checks.helpers import load_solutions_for
    load_solutions_for(item)
