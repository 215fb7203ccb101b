"""The registry of every graded check, for the generic contract tests.

``test_check_contract.py`` runs each generic test (stub, None, exception,
infinite loop, wrong type, strict, rendering, guards, determinism) once over
the union of the checks registered here.  Each catalogue module keeps its own
``SPECS`` table next to the implementations it names; a new notebook's checks
join the contract by adding that module to ``CATALOGUES``.

What a catalogue module provides:

* ``SPECS``: check name -> dict with ``check``, ``kind`` ("tensor", "int",
  "pair" or "model"; any other kind, e.g. "dict" or "float", gets the
  generic tests only), ``correct`` (implementations, the first one the
  reference learner), ``mistake`` (a known wrong one) and, optionally,
  ``forbidden`` (a learner calling a refused function), ``main`` (the index
  of the compared output when the answer is a tuple), ``timed`` (the verdict
  contains a measured speed), ``hidden_cases`` ("more", the default, "same" or
  None: how many cases the hidden run passes compared with the public one) and
  ``rng_learners`` (learners that draw nothing from torch's global RNG, when
  the correct implementation and the mistake do), for model checks
  ``stand_in_models`` (False where the check refuses a stand-in model, e.g.
  one without convolutions, before running its forward) and
  ``forward_label`` (how a stopped forward is named, ``{cls}`` the model's
  class; by default "`{cls}.forward`");
* optionally ``SPEC_DEFAULTS`` (keys every entry of its ``SPECS`` gets unless
  it sets them itself), ``GUARDED`` (name -> (owner, attribute) of the functions the
  guards replace while the learner runs), ``REFERENCES`` ((check name,
  guarded name) pairs whose replacement is spied on) and
  ``references_still_work()`` (runs the refused functions once).

The catalogue modules are plain test modules on ``sys.path`` (pytest puts
``tests/`` there, having no ``__init__.py``), so importing them here gives the
very module objects pytest collects.
"""

from __future__ import annotations

import test_checks_architectures
import test_checks_blocks
import test_checks_conv
import test_checks_deeplab
import test_checks_densenet
import test_checks_detection
import test_checks_fcn
import test_checks_resnet
import test_checks_unet

CATALOGUES = [test_checks_conv, test_checks_blocks, test_checks_architectures, test_checks_resnet,
              test_checks_densenet, test_checks_fcn, test_checks_unet, test_checks_deeplab,
              test_checks_detection]

SPECS = {}
for _module in CATALOGUES:
    _clash = set(SPECS) & set(_module.SPECS)
    assert not _clash, f"{_module.__name__} registers checks already registered: {sorted(_clash)}"
    _defaults = getattr(_module, "SPEC_DEFAULTS", {})
    SPECS.update({name: {**_defaults, **spec} for name, spec in _module.SPECS.items()})

ALL = list(SPECS)


def of_kind(kind):
    return [name for name in ALL if SPECS[name]["kind"] == kind]


TENSOR, INTEGER, PAIRS, MODELS = of_kind("tensor"), of_kind("int"), of_kind("pair"), of_kind("model")
STAND_IN_MODELS = [name for name in MODELS if SPECS[name].get("stand_in_models", True)]

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
    return SPECS[name]["correct"][0]
