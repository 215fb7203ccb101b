"""Proof that every argument of an exercise matters on the public cases.

A learner who ignores an argument — uses its default whatever the caller
passes, or hard-codes one value (the one the notebook happens to use) — must
fail the check the learner runs, not only the hidden graded cell.  For each
public check (its first correct implementation, spied on one public run), for
each parameter of the learner's function or builder, two wrappers ignore that
argument:

* ``default``: the parameter always gets its default;
* ``other case``: the parameter always gets the value another public call
  passed (the first recorded value that differs from this call's), i.e. one
  hard-coded value that is right for some public case and wrong for another.

Both must fail the public check (seed 0).  So every parameter takes at least
two different values in the public calls, and one of them differs from the
default.  A parameter that may honestly be ignored (a reference part the check
injects, such as the course's own block, which the learner's own correct one
replaces) is listed, with the reason, in ``ARGUMENTS_IGNORABLE`` of the
notebook's test module (``tests/checks/<module>/test_<module>.py``); a notebook
joins this test by defining that attribute (an empty dict when nothing may be
ignored).
"""

from __future__ import annotations

import inspect

import pytest
import torch

from course_utils.checks import PASSED

from checks.helpers import one_torch_thread  # noqa: F401
from checks.instructor import instructor_object
from checks.registry import CATALOGUES

# (module, check name, spec, ignorable parameters) of the notebooks that take part
JOINED = [(module, name, spec, module.ARGUMENTS_IGNORABLE.get(name, {}))
          for module in CATALOGUES if hasattr(module, "ARGUMENTS_IGNORABLE")
          for name, spec in module.SPECS.items()]
DEFAULT, OTHER = "default", "other case"


def same_value(a, b) -> bool:
    """Whether two argument values are the same setting: tensors by shape, dtype and values, modules and
    callables by identity, containers item by item, anything else by ``==``."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and a.dtype == b.dtype and bool(torch.equal(a, b)))
    if isinstance(a, torch.nn.Module) or isinstance(b, torch.nn.Module) or callable(a) or callable(b):
        return a is b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return a is b


def learner_of(spec):
    """The spec's first correct implementation; for the instructor's solution (``helpers.solution``), the
    notebook's function itself, whose signature is the exercise's (loaded here, outside the checks' time
    limit)."""
    learner = spec.correct[0]
    if hasattr(learner, "notebook"):
        return instructor_object(learner.notebook, learner.exercise)
    return learner


def recorded_calls(spec):
    """The parameters of the spec's first correct implementation and, for each public call of it, its
    arguments by parameter name (defaults filled in)."""
    learner = learner_of(spec)
    signature = inspect.signature(learner)
    calls = []

    def spy(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return learner(*args, **kwargs)
    spy.__name__ = getattr(learner, "__name__", "learner")
    result = spec.check(spy)
    assert result.outcome == PASSED, result.text()
    parameters = [p for p in signature.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return parameters, calls


def ignoring(spec, parameter, how, calls):
    """The learner, ignoring ``parameter``: ``how`` is DEFAULT or OTHER (see the module's docstring)."""
    learner = learner_of(spec)
    signature = inspect.signature(learner)
    values = [call[parameter.name] for call in calls]

    def replacement(current):
        if how == DEFAULT:
            return parameter.default
        return next(v for v in values if not same_value(v, current))

    def ignores(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        bound.arguments[parameter.name] = replacement(bound.arguments[parameter.name])
        return learner(*bound.args, **bound.kwargs)
    ignores.__name__ = getattr(learner, "__name__", "learner")
    return ignores


def wrappers_of(module, name, spec, ignorable):
    """(parameter, how) of every wrapper the check must fail; a parameter with no wrapper is an error."""
    parameters, calls = recorded_calls(spec)
    wrappers, constant = [], []
    for parameter in parameters:
        if parameter.name in ignorable:
            continue
        values = [call[parameter.name] for call in calls]
        distinct = [v for i, v in enumerate(values) if not any(same_value(v, w) for w in values[:i])]
        has_default = parameter.default is not inspect.Parameter.empty
        if len(distinct) < 2 or (has_default and all(same_value(v, parameter.default) for v in values)):
            constant.append(parameter.name)
            continue
        if has_default:
            wrappers.append((parameter, DEFAULT))
        wrappers.append((parameter, OTHER))
    return wrappers, calls, constant


@pytest.mark.parametrize("module, name, spec, ignorable", JOINED,
                         ids=[f"{module.__name__.split('.')[1]}-{name}" for module, name, *_ in JOINED])
def test_every_argument_changes_a_public_answer(module, name, spec, ignorable):
    """Does each argument of the exercise take two values on the public cases, one of them not its
    default, and does the public check fail a learner who ignores it (its default instead, or a value
    another public case passed)?"""
    wrappers, calls, constant = wrappers_of(module, name, spec, ignorable)
    assert not constant, (f"{name}: these arguments take one value (or only their default) on the public "
                          f"cases, so a learner who ignores them passes: {constant}")
    passed = []
    for parameter, how in wrappers:
        result = spec.check(ignoring(spec, parameter, how, calls))
        if result.outcome == PASSED:
            passed.append(f"{parameter.name} ({how})")
    assert not passed, f"{name}: the public check passes a learner who ignores {', '.join(passed)}"


@pytest.mark.parametrize("module", sorted({module for module, *_ in JOINED}, key=lambda m: m.__name__),
                         ids=lambda module: module.__name__.split(".")[1])
def test_no_known_mistake_fails_only_on_the_hidden_cases(module):
    """Does every wrong implementation of the notebook's catalogue fail the public check (its entry is not
    marked ``hidden``)?  The hidden cases add sizes and seeds, never a kind of mistake of their own: a learner
    who makes one of these mistakes learns it from the check in the notebook, not from the graded cell."""
    hidden_only = [f"{name}: {entry.id}" for name, entries in getattr(module, "CATALOGUE", {}).items()
                   for entry in entries if entry.values[-1]]
    assert not hidden_only, hidden_only
