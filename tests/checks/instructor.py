"""The instructor's solution code, run from the notebook's text source: what the tests build on.

``course_grader.solutions.load_solutions`` runs a notebook's solution cells in order, after the
imports, functions and classes of the cells before them, and leaves the demonstrations out.
No test file carries a copy of a solution: ``instructor_object("04_resnet", "ResNet18")`` is the
class the notebook's source defines today.
"""

from __future__ import annotations

from course_grader.solutions import load_solutions


def instructor_object(notebook: str, name: str):
    """The class or function ``name`` as the instructor's solution of ``notebook`` defines it."""
    namespace = load_solutions(notebook)
    if name not in namespace:
        raise KeyError(f"{notebook}'s solutions define no {name!r}")
    return namespace[name]
