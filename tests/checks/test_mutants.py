"""Does every model check reject the instructor's own model, changed in one small way?

Automatic mutants (issue 15): for every registered check of a model factory
(``kind="model"`` in its notebook's ``SPECS``, so a new architecture exercise
joins by being registered), the instructor's solution — run from the notebook's
source (``checks/instructor.py``), never copied — is changed by one mutation
operator, and the public check must answer INCORRECT:

* ``no-relu``: the first ReLU whose input has a negative value passes it on unchanged;
* ``pool-swap``: the first pooling whose result would change becomes the other kind (max ↔ average,
  adaptive max ↔ adaptive average);
* ``norm-moved``: the first batch norm that feeds a ReLU (or is fed by one) moves to its other side;
* ``softmax``: a softmax over dimension 1 is appended to every output;
* ``no-dropout``: the first active dropout passes its input on;
* ``dropout-rate``: the first active dropout uses half its rate;
* ``outputs-reordered``: a tuple of outputs comes back reversed.

A mutant is applied the way the check meets the learner's model: the factory
builds the solution's model, whose class is then swapped for a subclass whose
``forward`` runs the solution's forward with ``torch.nn.functional``'s ReLU,
pooling, batch norm and dropout replaced (nn.ReLU, nn.MaxPool2d, … call
those), so state-dict keys, layers and parameters are the solution's own.
The operators act where they change a value, on real tensors only (the
meta-device passes of a check compute shapes); one run of the check with the
unchanged solution records where each operator would act: an operator that
never would is not applicable to that check (skipped, with the reason).

Exercises whose network the learner designs have no reference to compare
with (``DESIGNED_BY_LEARNER``): there only what the statement forbids is a
mutant the check must reject; the other operators give other designs, which
it must accept.
"""

from __future__ import annotations

import contextlib
import functools

import pytest
import torch
import torch.nn.functional as F

from course_utils.checks import INCORRECT, PASSED
from course_utils.checks.registry import NOTEBOOKS

from checks.helpers import one_torch_thread  # noqa: F401
from checks.instructor import instructor_object
from checks.registry import MODELS, SPECS

OPERATORS = ("no-relu", "pool-swap", "norm-moved", "softmax", "no-dropout", "dropout-rate", "outputs-reordered")

# check -> the operators whose mutants break the exercise's statement, where the learner designs the network
# (the other operators give other designs, which the check must accept)
DESIGNED_BY_LEARNER = {
    # any CNN with a conv layer, at most 500,000 parameters and 98 % accuracy after training; its scores: logits
    "make_digits_cnn": ("softmax",),
}


def notebook_of(name: str) -> str:
    """The notebook whose checks module holds ``check_<name>``: course_utils.checks.<module>[.<part>]."""
    module = SPECS[name].check.__module__.split(".")[2]
    return next(notebook for notebook, checks_module in NOTEBOOKS.items() if checks_module == module)


# --------------------------------------------------------------------------
# Mutation operators, acting on torch.nn.functional while the mutant's forward runs
# --------------------------------------------------------------------------

def _real(tensor) -> bool:
    return isinstance(tensor, torch.Tensor) and not tensor.is_meta


def _differs(a, b) -> bool:
    return a.shape != b.shape or not torch.equal(a, b)


class Mutation:
    """One operator's state over one forward pass: where it acted, what it saw (``would``: the operators that
    could act somewhere; the unchanged solution's trace)."""

    def __init__(self, operator: str | None):
        self.operator, self.fired, self.would = operator, 0, set()
        self.busy, self.depth = False, 0
        self.reset()

    def reset(self):
        self.done, self.last_norm, self.last_relu = False, None, None

    def act(self, operator) -> bool:
        """Whether ``operator`` acts now (it could: the trace records that)."""
        self.would.add(operator)
        if self.operator == operator and not self.done:
            self.done = True
            self.fired += 1
            return True
        return False


def _patched(mutation: Mutation, originals: dict):
    relu, batch_norm = originals["relu"], originals["batch_norm"]
    max_pool, avg_pool = originals["max_pool2d"], originals["avg_pool2d"]
    adaptive_max, adaptive_avg = originals["adaptive_max_pool2d"], originals["adaptive_avg_pool2d"]
    dropout = originals["dropout"]

    def patched_relu(input, inplace=False):
        if not _real(input):
            return relu(input, inplace=inplace)
        before = input.clone() if inplace else input
        norm = mutation.last_norm
        if norm is not None and input is norm[0]:   # a batch norm's output: move the norm after the ReLU
            if mutation.act("norm-moved"):
                _, norm_input, args, kwargs = norm
                return _norm(batch_norm, relu(norm_input), args, kwargs)
        if bool((input < 0).any()) and mutation.act("no-relu"):
            return input
        out = relu(input, inplace=inplace)
        mutation.last_relu = (out, before)
        return out

    def patched_batch_norm(input, *args, **kwargs):
        if not _real(input):
            return batch_norm(input, *args, **kwargs)
        last = mutation.last_relu
        if last is not None and input is last[0] and mutation.act("norm-moved"):
            return relu(_norm(batch_norm, last[1], args, kwargs))   # the ReLU's input, normed, then the ReLU
        out = batch_norm(input, *args, **kwargs)
        mutation.last_norm = (out, input, args, kwargs)
        return out

    def swap(original, other, convert):
        def pooled(input, *args, **kwargs):
            out = original(input, *args, **kwargs)
            if not _real(input):
                return out
            converted = convert(*args, **kwargs)
            if converted is None:
                return out
            swapped = other(input, *converted[0], **converted[1])
            if _differs(out, swapped) and mutation.act("pool-swap"):
                return swapped
            return out
        return pooled

    def max_to_avg(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        if return_indices or dilation not in (1, (1, 1)):
            return None
        return (kernel_size, stride, padding, ceil_mode), {}

    def avg_to_max(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                   divisor_override=None):
        return (kernel_size, stride, padding), {"ceil_mode": ceil_mode}

    def patched_dropout(input, p=0.5, training=True, inplace=False):
        if _real(input) and training and 0 < p < 1:
            if mutation.act("no-dropout"):
                return input
            if mutation.act("dropout-rate"):
                return dropout(input, p / 2, training, inplace)
        return dropout(input, p, training, inplace)

    patched = {"relu": patched_relu, "batch_norm": patched_batch_norm, "dropout": patched_dropout,
               "max_pool2d": swap(max_pool, avg_pool, max_to_avg),
               "avg_pool2d": swap(avg_pool, max_pool, avg_to_max),
               "adaptive_max_pool2d": swap(adaptive_max, adaptive_avg, lambda output_size, return_indices=False:
                                           None if return_indices else ((output_size,), {})),
               "adaptive_avg_pool2d": swap(adaptive_avg, adaptive_max, lambda output_size: ((output_size,), {}))}
    return {name: _outermost(mutation, fn, originals[name]) for name, fn in patched.items()}


def _outermost(mutation: Mutation, patched, original):
    """``patched`` for the model's own calls; the original inside them.  Under a torch function mode (the
    checks' guards) a functional op dispatches again through ``torch.nn.functional``'s attribute, that is
    through the patched function: that inner call, and the ops the patched function runs, are not the
    model's."""
    def outermost(*args, **kwargs):
        if mutation.depth:
            return original(*args, **kwargs)
        mutation.depth += 1
        try:
            return patched(*args, **kwargs)
        finally:
            mutation.depth -= 1
    return outermost


def _norm(batch_norm, input, args, kwargs):
    """The recorded batch norm call on another input; its running statistics are not updated twice."""
    args = [a.clone() if isinstance(a, torch.Tensor) and i < 2 else a for i, a in enumerate(args)]
    kwargs = {k: v.clone() if k in ("running_mean", "running_var") and isinstance(v, torch.Tensor) else v
              for k, v in kwargs.items()}
    return batch_norm(input, *args, **kwargs)


@contextlib.contextmanager
def _functional_patched(mutation: Mutation):
    names = ("relu", "batch_norm", "dropout", "max_pool2d", "avg_pool2d", "adaptive_max_pool2d",
             "adaptive_avg_pool2d")
    originals = {name: getattr(F, name) for name in names}
    try:
        for name, replacement in _patched(mutation, originals).items():
            setattr(F, name, replacement)
        yield
    finally:
        for name, original in originals.items():
            setattr(F, name, original)


def _mutated_outputs(out, mutation: Mutation):
    if isinstance(out, (tuple, list)) and len(out) > 1 and all(_real(o) for o in out):
        if any(_differs(a, b) for a, b in zip(out, reversed(out))) and mutation.act("outputs-reordered"):
            return type(out)(reversed(out))
    tensors = list(out) if isinstance(out, (tuple, list)) else [out]
    if any(_real(t) and t.dim() >= 2 for t in tensors) and mutation.act("softmax"):
        soft = [t.softmax(dim=1) if isinstance(t, torch.Tensor) and t.dim() >= 2 else t for t in tensors]
        return type(out)(soft) if isinstance(out, (tuple, list)) else soft[0]
    return out


def mutated(model, mutation: Mutation):
    """``model`` as an instance of a subclass of its own class whose forward runs under ``mutation``."""
    cls = type(model)

    def forward(self, *args, **kwargs):
        if mutation.busy:   # a nested call (the model inside itself): already under the mutation
            return cls.forward(self, *args, **kwargs)
        mutation.reset()
        mutation.busy = True
        try:
            with _functional_patched(mutation):
                out = cls.forward(self, *args, **kwargs)
        finally:
            mutation.busy = False
        return _mutated_outputs(out, mutation)

    model.__class__ = type(cls.__name__, (cls,), {"forward": forward, "__module__": cls.__module__,
                                                   "__qualname__": cls.__qualname__})
    return model


def mutant_factory(name: str, operator: str | None):
    """The instructor's factory for ``name``, each model it builds mutated by ``operator`` (None: traced only);
    returns (factory, mutation)."""
    solution = instructor_object(notebook_of(name), name)
    mutation = Mutation(operator)

    @functools.wraps(solution)
    def make(*args, **kwargs):
        model = solution(*args, **kwargs)
        return mutated(model, mutation) if isinstance(model, torch.nn.Module) else model
    return make, mutation


@functools.cache
def applicable(name: str) -> frozenset:
    """The operators that act somewhere in the public check of ``name`` on the unchanged solution, which the
    check must pass (else a rejected mutant proves nothing)."""
    factory, trace = mutant_factory(name, None)
    result = SPECS[name].check(factory)
    assert result.outcome == PASSED, result.text()
    return frozenset(trace.would)


MUTANTS = [pytest.param(name, operator, id=f"{name}-{operator}") for name in MODELS for operator in OPERATORS
           if operator in DESIGNED_BY_LEARNER.get(name, OPERATORS)]
DESIGNS = [pytest.param(name, operator, id=f"{name}-{operator}") for name in DESIGNED_BY_LEARNER
           for operator in OPERATORS if operator not in DESIGNED_BY_LEARNER[name]]


@pytest.mark.parametrize("name, operator", MUTANTS)
def test_check_rejects_mutant_of_the_solution(name, operator):
    """Does the public check answer INCORRECT for the instructor's model with this one change?"""
    if operator not in applicable(name):
        pytest.skip(f"not applicable: the solution's forward has nothing for {operator} to change")
    factory, mutation = mutant_factory(name, operator)
    result = SPECS[name].check(factory)
    assert mutation.fired, f"the {operator} mutant never acted"
    assert result.outcome == INCORRECT, result.text()


@pytest.mark.parametrize("name, operator", DESIGNS)
def test_check_accepts_another_design(name, operator):
    """Where the learner designs the network, does the check accept the instructor's design changed in a way the
    statement allows (another activation, pooling or dropout is another design, not a mistake)?"""
    if operator not in applicable(name):
        pytest.skip(f"not applicable: the solution's forward has nothing for {operator} to change")
    factory, mutation = mutant_factory(name, operator)
    result = SPECS[name].check(factory)
    assert mutation.fired, f"the {operator} mutant never acted"
    assert result.outcome == PASSED, result.text()


def test_every_model_check_is_mutated():
    """Is every registered model check mutated (a new architecture exercise joins by being registered), with the
    instructor's solution of the same name?"""
    assert MODELS and {p.values[0] for p in MUTANTS} == set(MODELS)
    for name in MODELS:
        assert callable(instructor_object(notebook_of(name), name))
