"""Checks for the course's exercises.

Each ``check_<exercise>(learner_function, *, strict=False, seed=0, extended=False)``
returns a :class:`CheckResult` that renders itself and is truthy only when the
check passed.  ``strict=True`` raises :class:`CheckFailed` (an
``AssertionError``) instead, which is how the nbgrader cells use them;
``extended=True`` adds the harder cases the hidden tests use.

The checks of each notebook live in the module named after it (``registry.py``
lists them); this package exports every one of them by name.  Check authors
build on ``course_utils.checks.engine``.
"""

from importlib import import_module

from .engine import INCORRECT, NOT_ATTEMPTED, OUTCOMES, PASSED, RAISED, UNCHECKABLE, CheckFailed, CheckResult
from .registry import NOTEBOOKS, check_names

__all__ = ["CheckResult", "CheckFailed", "OUTCOMES", "PASSED", "INCORRECT", "NOT_ATTEMPTED", "RAISED",
           "UNCHECKABLE"]

# notebook -> the names of its checks, in the notebook module's order
CHECKS_BY_NOTEBOOK: dict[str, list[str]] = {}

for _notebook, _module_name in NOTEBOOKS.items():
    _module = import_module(f"{__name__}.{_module_name}")
    CHECKS_BY_NOTEBOOK[_notebook] = check_names(_module)
    for _name in CHECKS_BY_NOTEBOOK[_notebook]:
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)

del _notebook, _module_name, _module, _name
