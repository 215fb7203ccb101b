"""The registry of every graded check's typed spec the generic contract tests run over.

Each notebook's folder (``tests/checks/<module>/``, named after the check module
``course_utils/checks/<module>.py``) has a test module ``test_<module>.py`` that
keeps, next to its catalogue, ``SPECS``: check name -> :class:`CheckSpec` (``checks/helpers.py``).  The
notebooks come from ``course_utils.checks.registry.NOTEBOOKS``, so a new
notebook's checks join the contract by being registered there; a test proves
that every exported ``check_*`` has exactly one spec.

Optional module attributes: ``GUARDED`` (name -> (owner, attribute) of the
functions the guards replace while the learner runs), ``REFERENCES`` ((check
name, guarded name) pairs whose replacement is spied on) and
``references_still_work()`` (runs the refused functions once).
"""

from __future__ import annotations

from importlib import import_module

from course_utils.checks.registry import NOTEBOOKS

from checks.helpers import INT_KIND, MODEL_KIND, PAIR_KIND, TENSOR_KIND, CheckSpec

def catalogue_module(module_name: str):
    """The test module of one notebook's checks: ``tests/checks/<module>/test_<module>.py``."""
    return import_module(f"checks.{module_name}.test_{module_name}")


CATALOGUES = [catalogue_module(module) for module in NOTEBOOKS.values()]

SPECS: dict[str, CheckSpec] = {}
for _module in CATALOGUES:
    _clash = set(SPECS) & set(_module.SPECS)
    assert not _clash, f"{_module.__name__} registers checks already registered: {sorted(_clash)}"
    SPECS.update(_module.SPECS)

ALL = list(SPECS)


def of_kind(kind):
    return [name for name in ALL if SPECS[name].kind == kind]


TENSOR, INTEGER, PAIRS, MODELS = of_kind(TENSOR_KIND), of_kind(INT_KIND), of_kind(PAIR_KIND), of_kind(MODEL_KIND)
STAND_IN_MODELS = [name for name in MODELS if SPECS[name].stand_in_models]

GUARDED = {}
for _module in CATALOGUES:
    GUARDED.update(getattr(_module, "GUARDED", {}))
ORIGINALS = {name: getattr(owner, attr) for name, (owner, attr) in GUARDED.items()}

REFERENCES = [pair for _module in CATALOGUES for pair in getattr(_module, "REFERENCES", [])]
_STILL_WORK = [_module.references_still_work for _module in CATALOGUES
               if hasattr(_module, "references_still_work")]


def guarded_now():
    return {name: getattr(owner, attr) for name, (owner, attr) in GUARDED.items()}


def references_still_work():
    """Every catalogue's refused functions run normally (no guard mode left behind)."""
    for run in _STILL_WORK:
        run()


def correct_of(name):
    return SPECS[name].correct[0]
