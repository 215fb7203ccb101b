"""Proof that every graded check keeps the generic contract.

The checks of all notebooks (each described by a typed ``CheckSpec`` in its
notebook's folder, collected by ``registry.py`` from ``course_utils.checks.registry``)
are run through the same generic tests, once each:

* correct implementations, in every style of their catalogue, pass the
  public cases and, strictly, the hidden ``extended=True`` cases;
* the generic outcomes (not attempted, raised, cannot be checked, stopped)
  come out as documented, for every check and, by kind of answer, for
  tensors, integers, pairs of integers and model factories;
* ``strict=True`` raises a short ``CheckFailed``, results render, the guards
  put the forbidden functions back, verdicts are deterministic and the global
  RNG is left alone;
* every notebook's ``CATALOGUE`` of wrong implementations fails, each with
  the outcome and message that name its own mistake.

What is specific to one check (its references, the exact mistake keys, its
cases) stays in its notebook's folder, ``tests/checks/<module>/``.
"""

from __future__ import annotations

import gc
import importlib
import os
import re
import time
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

import course_utils.checks as checks
from course_utils.checks import (INCORRECT, NOT_ATTEMPTED, OUTCOMES, PASSED, RAISED, UNCHECKABLE, CheckFailed,
                                 CheckResult, check_conv_param_count)
from course_utils.checks import engine

from checks.helpers import field_text, guards_fixture, one_torch_thread, source_line_of  # noqa: F401
from checks.registry import (ALL, CATALOGUES, GUARDED, catalogue_module, INTEGER, MODELS, ORIGINALS, PAIRS, REFERENCES, SPECS, STAND_IN_MODELS, TENSOR,
                            correct_of, guarded_now, references_still_work)

COURSE_UTILS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(checks.__file__)))

CORRECT = [pytest.param(name, fn, id=f"{name}-{fn.__name__}") for name in ALL for fn in SPECS[name].correct]


guards_put_everything_back = guards_fixture(GUARDED, references_still_work)


def case_count(result):
    return int(re.search(r"passed on (\d+) cases?\b", result.summary).group(1))


# ==========================================================================
# 1. Correct implementations pass
# ==========================================================================

@pytest.mark.parametrize("name, learner", CORRECT)
def test_correct_implementation_passes_public_and_hidden_cases(name, learner):
    """Does a correct implementation, in any style, pass the public cases (seed 0), and the hidden cases
    (extended=True, seed=7) with strict=True (which returns the truthy result), on more cases than the public ones (or as many, where the hidden run only
    enlarges a case)?"""
    check = SPECS[name].check
    public = check(learner)
    assert public.outcome == PASSED, public.text()
    assert public and public.passed
    assert public.summary.startswith("public checks passed")
    assert "all tests passed" not in public.text()
    hidden = check(learner, extended=True, seed=7, strict=True)   # strict: a pass returns its truthy result
    assert isinstance(hidden, CheckResult) and hidden and hidden.outcome == PASSED, hidden.text()
    cases = SPECS[name].hidden_cases
    if cases == "same":  # e.g. make_digits_cnn: one build case; extended adds a batch of 64 inside it
        assert case_count(hidden) == case_count(public)
    elif cases == "more":
        assert case_count(hidden) > case_count(public)


# ==========================================================================
# 2. Generic outcomes, for every check
# ==========================================================================

def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def forgets_return_for(name):
    correct = correct_of(name)

    def forgets_return(*args, **kwargs):
        out = correct(*args, **kwargs)  # noqa: F841 - and then no return
    return forgets_return


def raises_index_error(*args, **kwargs):
    sizes = [1, 2, 3]
    return sizes[len(sizes)]


def spins_forever(*args, **kwargs):
    i = 0
    while i < 10:
        total = i * 2  # forgot i += 1
    return total


def spins_and_catches(*args, **kwargs):
    attempts = 0
    while attempts < 10:
        try:
            value = [0][1]
            attempts += value
        except Exception:  # swallows the IndexError, over and over
            pass


def swallows_everything_for(seconds):
    def swallows_everything(*args, **kwargs):
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            try:
                time.sleep(0.001)
            except:  # noqa: E722 - a bare except, as learners write it
                pass
    return swallows_everything


@pytest.mark.parametrize("name", ALL)
def test_stub_is_not_attempted(name):
    """Does every check call the untouched nbgrader stub 'not attempted'?"""
    result = SPECS[name].check(stub)
    assert result.outcome == NOT_ATTEMPTED, result.text()
    assert "NotImplementedError" in result.summary
    assert not result


@pytest.mark.parametrize("name", ALL)
def test_forgotten_return_is_uncheckable(name):
    """Does every check ask 'did you forget a return?' when the function returns None?"""
    result = SPECS[name].check(forgets_return_for(name))
    assert result.outcome == UNCHECKABLE, result.text()
    assert "return" in result.hint
    assert "None" in result.summary


@pytest.mark.parametrize("name", ALL)
def test_exception_shows_type_and_learner_line(name):
    """Does every check report the learner's exception with its type and the learner's own line?"""
    result = SPECS[name].check(raises_index_error)
    assert result.outcome == RAISED, result.text()
    assert "IndexError" in result.summary
    with pytest.raises(IndexError) as info:
        raises_index_error()
    assert result.evidence[0] == f"IndexError: {info.value}"
    line = source_line_of(raises_index_error, "return sizes[len(sizes)]")
    assert result.evidence[1] == f"in raises_index_error(), line {line}: return sizes[len(sizes)]"
    assert COURSE_UTILS_DIR not in result.text()


@pytest.mark.parametrize("name", ALL)
def test_infinite_loop_is_stopped(name, short_time_limit):
    """Does every check stop an infinite loop after the time limit and say so, even a loop that catches
    `except Exception:` inside?  (A plain loop is stopped in test_guards_restore_the_reference_functions.)"""
    start = time.perf_counter()
    result = SPECS[name].check(spins_and_catches)
    elapsed = time.perf_counter() - start
    assert result.outcome == UNCHECKABLE, result.text()
    assert "stopped" in result.summary
    assert f"{short_time_limit:g} s" in result.summary
    assert elapsed < short_time_limit + 5


def test_loop_with_bare_except_is_still_stopped(short_time_limit):
    """Does a check stop a loop that swallows everything with a bare `except:`?"""
    # Bounded at 3 × the limit so that this test ends even though the check does not stop it.
    result = check_conv_param_count(swallows_everything_for(3 * short_time_limit))
    assert "stopped" in result.summary, result.text()


def test_time_up_is_a_base_exception():
    """Is the time-up signal outside Exception, so that `except Exception:` cannot swallow it?"""
    assert issubclass(engine.TimeUp, BaseException)
    assert not issubclass(engine.TimeUp, Exception)
    assert not issubclass(engine.Forbidden, Exception)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("not_a_function", [None, 42], ids=["None", "a result instead of the function"])
def test_non_function_is_uncheckable(name, not_a_function):
    """Does every check refuse something that is not a function (e.g. None) as 'cannot be checked'?"""
    result = SPECS[name].check(not_a_function)
    assert result.outcome == UNCHECKABLE, result.text()
    assert type(not_a_function).__name__ in result.summary
    assert "Pass the function itself" in result.hint


# --------------------------------------------------------------------------
# Tensor answers
# --------------------------------------------------------------------------

def capturing(transform, correct):
    """A learner that returns ``transform(correct answer)`` and remembers what it returned."""
    seen = []

    def learner(*args, **kwargs):
        seen.append(transform(correct(*args, **kwargs)))
        return seen[-1]
    learner.seen = seen
    return learner


def on_main_output(name, transform):
    """``transform`` applied to the output the check compares first (y, for batch_norm's tuple)."""
    index = SPECS[name].main
    if index is None:
        return transform
    return lambda out: (*out[:index], transform(out[index]), *out[index + 1:])


def main_output(name, out):
    index = SPECS[name].main
    return out if index is None else out[index]


@pytest.mark.parametrize("name", TENSOR)
def test_wrong_shape_shows_both_shapes(name):
    """Does every tensor check report a wrong shape with the expected and the returned shape?"""
    learner = capturing(on_main_output(name, lambda out: out.unsqueeze(0)), correct_of(name))
    result = SPECS[name].check(learner)
    assert result.outcome == INCORRECT, result.text()
    got = main_output(name, learner.seen[0])   # every answer has the wrong shape: the first case fails
    assert result.evidence == [f"expected shape {tuple(got.shape[1:])}, got {tuple(got.shape)}"]
    assert "shape" in result.summary


@pytest.mark.parametrize("name", TENSOR)
def test_float64_output_is_a_dtype_error(name):
    """Does every tensor check fail a float64 output and name the dtypes?"""
    result = SPECS[name].check(capturing(on_main_output(name, lambda out: out.double()), correct_of(name)))
    assert result.outcome == INCORRECT, result.text()
    assert "dtype" in result.summary
    assert result.evidence == [f"expected {torch.float32}, got {torch.float64}"]


@pytest.mark.parametrize("name", TENSOR)
def test_numpy_output_is_uncheckable(name):
    """Does every tensor check refuse a NumPy array and say how to convert it?"""
    result = SPECS[name].check(capturing(on_main_output(name, lambda out: out.numpy()), correct_of(name)))
    assert result.outcome == UNCHECKABLE, result.text()
    assert "NumPy" in result.summary
    assert "torch.from_numpy" in result.hint


@pytest.mark.parametrize("name", TENSOR)
def test_in_place_change_of_an_input_is_caught(name):
    """Does every tensor check notice that the learner changed its first input tensor in place?"""
    correct = correct_of(name)

    def mutates_input(first, *args, **kwargs):
        out = correct(first, *args, **kwargs)
        first.mul_(2)  # reuses the input as scratch space
        return out
    result = SPECS[name].check(mutates_input)
    assert result.outcome == INCORRECT, result.text()
    assert "in place" in result.summary


# --------------------------------------------------------------------------
# Integer answers, and pairs of integers
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name", INTEGER)
def test_float_answer_is_incorrect(name):
    """Does every integer check fail a float answer, even a whole-valued one, showing both numbers?"""
    learner = capturing(float, correct_of(name))
    result = SPECS[name].check(learner)
    assert result.outcome == INCORRECT, result.text()
    got = learner.seen[0]
    assert got == int(got)  # whole-valued: only the type is wrong
    assert result.evidence == [f"expected {int(got)}, got {got!r}"]
    assert "whole numbers" in result.hint


@pytest.mark.parametrize("name", INTEGER)
def test_numpy_integer_answer_passes(name):
    """Does every integer check accept a NumPy integer (np.int64 is an Integral)?"""
    result = SPECS[name].check(capturing(np.int64, correct_of(name)))
    assert result.outcome == PASSED, result.text()


@pytest.mark.parametrize("name", PAIRS)
def test_pair_answer_of_numpy_integers_passes(name):
    """Does every pair check accept NumPy integers (np.int64 is an Integral)?"""
    correct = correct_of(name)
    result = SPECS[name].check(lambda *args, **kwargs: tuple(np.int64(v) for v in correct(*args, **kwargs)))
    assert result.outcome == PASSED, result.text()


@pytest.mark.parametrize("name", PAIRS)
def test_pair_as_list_passes(name):
    """Does every pair check accept a list of two ints as well as a tuple?"""
    correct = correct_of(name)
    result = SPECS[name].check(lambda *args, **kwargs: list(correct(*args, **kwargs)))
    assert result.outcome == PASSED, result.text()


# --------------------------------------------------------------------------
# Model factories
# --------------------------------------------------------------------------

class RaisesInForward(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        self.layer = nn.Linear(2, 2)

    def forward(self, x):
        return self.layer(x.flatten(1))


def raising_model(*args, **kwargs):
    return RaisesInForward()


@pytest.mark.parametrize("name", STAND_IN_MODELS)
def test_exception_in_forward_shows_learner_line(name):
    """Does every model check report an error inside forward with the learner's line in forward?"""
    result = SPECS[name].check(raising_model)
    assert result.outcome == RAISED, result.text()
    assert "RuntimeError" in result.summary
    line = source_line_of(RaisesInForward.forward, "return self.layer(")
    assert f"in forward(), line {line}: return self.layer(x.flatten(1))" in result.evidence


class SpinsInForward(nn.Module):
    def forward(self, x):
        i = 0
        while i < 10:
            x = x  # forgot i += 1
        return x


@pytest.mark.parametrize("name", STAND_IN_MODELS)
def test_model_forward_that_never_ends_is_stopped(name, short_time_limit):
    """Does every model check stop a forward that never ends, on the forward's case?"""
    result = SPECS[name].check(lambda *args, **kwargs: SpinsInForward())
    assert result.outcome == UNCHECKABLE, result.text()
    assert "stopped" in result.summary
    assert f"{short_time_limit:g} s" in result.summary
    assert "on x of shape" in result.case


@pytest.mark.parametrize("name", MODELS)
def test_correct_model_whose_forward_never_ends_is_stopped(name, short_time_limit):
    """Does every model check also stop a correct model whose forward never ends, naming the model?"""
    correct, built = correct_of(name), []

    def make_spinning_model(*args, **kwargs):
        model = correct(*args, **kwargs)
        model.forward = spins_forever
        built.append(model)
        return model
    result = SPECS[name].check(make_spinning_model)
    assert result.outcome == UNCHECKABLE, result.text()
    label = SPECS[name].forward_label.format(cls=type(built[-1]).__name__)
    assert f"{label} ran for more than" in result.summary


class ForwardStub(nn.Module):
    """The class skeleton of the notebook: layers given, forward still the nbgrader stub."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.layer = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError()


@pytest.mark.parametrize("name", STAND_IN_MODELS)
def test_forward_stub_is_not_attempted(name):
    """Does every model check call a model whose forward is still the stub 'not attempted'?"""
    result = SPECS[name].check(lambda *args, **kwargs: ForwardStub())
    assert result.outcome == NOT_ATTEMPTED, result.text()
    assert "NotImplementedError" in result.summary


# ==========================================================================
# 3. strict=True
# ==========================================================================

@pytest.mark.parametrize("name", ALL)
def test_strict_failure_raises_short_assertion_error(name):
    """Does strict=True raise a CheckFailed (an AssertionError) with the hint and a short traceback?"""
    check = SPECS[name].check
    expected = check(SPECS[name].mistake)
    with pytest.raises(CheckFailed) as info:
        check(SPECS[name].mistake, strict=True)
    exc = info.value
    assert isinstance(exc, AssertionError)
    assert expected.hint and expected.hint in str(exc)
    assert exc.result.text() == expected.text()
    rendered = exc._render_traceback_()
    assert isinstance(rendered, list) and 2 <= len(rendered) <= 10
    assert rendered[0].startswith("CheckFailed: ")
    assert not any(COURSE_UTILS_DIR in line or "course_utils" + os.sep in line for line in rendered)
    assert not any(line.lstrip().startswith("File ") for line in rendered)


@pytest.mark.parametrize("name", ALL)
def test_strict_not_attempted_raises_too(name):
    """Does strict=True withhold the points from the untouched stub as well?"""
    with pytest.raises(AssertionError, match="not attempted"):
        SPECS[name].check(stub, strict=True)


# ==========================================================================
# 4. Rendering
# ==========================================================================

def raises_with_angle_brackets(*args, **kwargs):
    raise ValueError("expected <Tensor> but got <None>")


def results_of_every_outcome(name):
    check = SPECS[name].check
    return [check(correct_of(name)), check(SPECS[name].mistake), check(stub),
            check(raises_with_angle_brackets), check(forgets_return_for(name))]


@pytest.mark.parametrize("name", ALL)
def test_results_render_as_html_and_text(name):
    """Does every outcome render as HTML with its outcome text, with repr() == text() and bool() true only when passed?"""
    results = results_of_every_outcome(name)
    assert sorted(r.outcome for r in results) == sorted(OUTCOMES)
    for result in results:
        page = result._repr_html_()
        assert result.outcome in page
        assert f"data-outcome='{result.outcome}'" in page
        assert repr(result) == result.text() == str(result)
        assert bool(result) is (result.outcome == PASSED)
        assert result.text().splitlines()[0].startswith(f"{name}: {result.outcome}")


@pytest.mark.parametrize("name", ALL)
def test_html_escapes_learner_messages(name):
    """Does the HTML escape '<' in the learner's own exception message?"""
    result = SPECS[name].check(raises_with_angle_brackets)
    assert "<Tensor>" in result.text()
    page = result._repr_html_()
    assert "&lt;Tensor&gt;" in page and "&lt;None&gt;" in page
    assert "<Tensor>" not in page and "<None>" not in page


# ==========================================================================
# 5. Guards: forbidden functions are refused while the learner runs, and come back
# ==========================================================================

def learners_for_guard_test(name):
    kinds = {"passing": correct_of(name), "failing": SPECS[name].mistake, "raising": raises_index_error,
             "stopped": spins_forever}
    if SPECS[name].forbidden is not None:
        kinds["forbidden"] = SPECS[name].forbidden
    return kinds


@pytest.mark.parametrize("name", ALL)
def test_guards_restore_the_reference_functions(name, short_time_limit):
    """Are the guarded functions the originals again, and do the refused ones run, after any check:
    passing, failing, raising, stopped, or refused for calling a forbidden function?"""
    for kind, learner in learners_for_guard_test(name).items():
        # strict changes only what happens after the guards are gone (a failure is raised): a pass and a
        # stop run once
        for strict in ((False,) if kind in ("stopped", "passing") else (False, True)):
            try:
                result = SPECS[name].check(learner, strict=strict)
            except CheckFailed:
                result = None
            if kind == "stopped":
                assert result.outcome == UNCHECKABLE and "stopped" in result.summary, result.text()
            assert guarded_now() == ORIGINALS, (kind, strict)
            assert all(guarded_now()[k] is ORIGINALS[k] for k in ORIGINALS), (kind, strict)
            references_still_work()


@pytest.mark.parametrize("name, reference", REFERENCES, ids=[f"{name}-{reference}" for name, reference in REFERENCES])
def test_reference_is_replaced_only_while_learner_runs(name, reference):
    """Is the reference replaced while the learner's code runs, and only then?"""
    correct = correct_of(name)
    owner, attr = GUARDED[reference]
    seen = []

    def spy(*args, **kwargs):
        seen.append(getattr(owner, attr) is ORIGINALS[reference])
        return correct(*args, **kwargs)
    result = SPECS[name].check(spy)
    assert result.outcome == PASSED, result.text()
    assert seen and not any(seen)
    assert getattr(owner, attr) is ORIGINALS[reference]


def refused_by(name):
    """What ``check_<name>`` refuses while the learner's code runs: (entries, op patterns) as ``forbid`` is
    given them (``engine.guards.entries`` and ``op_patterns``), over a run on a stub (the first call refuses)."""
    seen, real = [], engine.runner.forbid

    def spy(targets, op_pattern=None):
        seen.append((engine.guards.entries(targets), engine.guards.op_patterns(op_pattern)))
        return real(targets, op_pattern)
    engine.runner.forbid = spy
    try:
        SPECS[name].check(stub)
    finally:
        engine.runner.forbid = real
    entries = list({entry[2]: entry for found, _ in seen for entry in found if hasattr(entry[0], entry[1])}.values())
    patterns = list({pattern: (pattern, refusal) for _, found in seen for pattern, refusal in found}.values())
    return entries, patterns


def torch_operation(name):
    """A torch operation called ``name`` as a torch function mode sees one (an aten overload, a C function)."""
    def operation(*args, **kwargs):
        tensor = torch.zeros(1)
        if torch.overrides.has_torch_function((tensor,)):
            return torch.overrides.handle_torch_function(operation, (tensor,), tensor)
        raise AssertionError(f"no torch function mode saw {name}")
    operation.__name__ = name
    return operation


def op_names(pattern):
    """The names of torch's (and torchvision's) operations that ``pattern`` refuses."""
    import torchvision
    names = set(dir(torch)) | set(dir(torch.nn.functional)) | set(dir(torch._C._nn)) | set(dir(torch.Tensor)) \
        | set(dir(torchvision.ops))
    return sorted(n for n in names if not n.startswith("__") and re.search(pattern, n))


def assert_refused_truthfully(name, learner, called, refusals):
    """The check's verdict on ``learner``, which calls ``called``: not yet correct, naming ``called`` with the
    reason of one of ``refusals`` (the refused entry's own), "re-implements" only where the spec says so."""
    result = SPECS[name].check(learner)
    assert result.outcome == INCORRECT, (called, result.text())
    said = [r for r in refusals if result.summary == f"`{learner.__name__}` called `{called}`, "
            f"{r.why.format(called=called)}." and result.hint == r.hint.format(called=called)]
    assert said, (called, [r.why for r in refusals], result.text())
    reimplemented = called in SPECS[name].reimplements
    assert all((r is engine.REIMPLEMENTED) == reimplemented for r in said), (called, reimplemented, result.text())


@pytest.mark.parametrize("name", ALL)
def test_every_refused_call_is_named_with_its_own_reason(name):
    """Does a learner calling any function a check refuses (every entry it gives ``forbid``, and every torch
    operation its patterns match) get a verdict that names that call and gives the entry's own reason: "the very
    function this exercise re-implements" only for what the check compares against (``CheckSpec.reimplements``),
    another reason for the rest (F.fold in an overlap count, adaptive pooling in SPP, roi_align for roi_pool)?"""
    entries, patterns = refused_by(name)
    assert set(SPECS[name].reimplements) <= {shown for _, _, shown, _ in entries} | \
        {f"torch.{n}" for pattern, _ in patterns for n in op_names(pattern)}, "a declared reference is not refused"
    for owner, attr, shown, refusal in entries:
        def calls_it(*args, owner=owner, attr=attr, **kwargs):
            return getattr(owner, attr)(*args, **kwargs)
        assert_refused_truthfully(name, calls_it, shown, [refusal])
    for op in sorted({op for pattern, _ in patterns for op in op_names(pattern)}):
        entry = next((e for e in entries if e[2].endswith("." + op)), None)   # refused as that entry, else
        first = next(refusal for pattern, refusal in patterns if re.search(pattern, op))   # the first match's
        called, refusals = (entry[2], [entry[3]]) if entry else (f"torch.{op}", [first])

        def calls_op(*args, op=op, **kwargs):
            return torch_operation(op)(*args, **kwargs)
        assert_refused_truthfully(name, calls_op, called, refusals)


# ==========================================================================
# 6. Determinism, seeds and the global RNG
# ==========================================================================

def verdict(name, result):
    """The verdict text, without the measured speed sentence for timed checks (timings vary)."""
    text = result.text()
    return text.split(" Speed on")[0] if SPECS[name].timed else text


@pytest.mark.parametrize("name", ALL)
def test_same_seed_gives_same_verdict(name):
    """Does the same seed give the same verdict text for a failure, on the public and the hidden cases (its
    evidence shows the cases' values)?  A pass says the same whatever the cases, so a correct implementation
    runs once, for the next assertion: these runs also leave torch's global RNG state as it was (see the
    next-but-one test)."""
    check = SPECS[name].check
    before = torch.random.get_rng_state()
    assert check(correct_of(name), seed=3).outcome == PASSED
    for kwargs in ({"seed": 3}, {"seed": 3, "extended": True}):
        assert verdict(name, check(SPECS[name].mistake, **kwargs)) == verdict(name, check(SPECS[name].mistake, **kwargs))
    if not SPECS[name].rng_learners:
        assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("name", TENSOR)
def test_other_seed_gives_other_values(name):
    """Does seed= change the random values (the evidence of a wrong answer changes)?"""
    check, wrong = SPECS[name].check, SPECS[name].mistake
    first, second = check(wrong, seed=0), check(wrong, seed=1)
    assert first.outcome == second.outcome == INCORRECT
    assert first.hint == second.hint
    assert first.evidence != second.evidence


@pytest.mark.parametrize("name", ALL)
def test_checks_leave_the_global_rng_alone(name):
    """Does a check use its own generator, leaving torch's global RNG state untouched, on the public and
    the hidden cases?  The correct and the wrong implementation's public runs and the wrong one's hidden
    run are watched by ``test_same_seed_gives_same_verdict``; here, the correct one's hidden run.

    A learner's make_digits_cnn draws from the global RNG when its layers
    initialise, so for such a check the spec names learners that build their
    model with skip_init (``rng_learners``), run here on both.
    """
    rng_learners = SPECS[name].rng_learners
    before = torch.random.get_rng_state()
    for learner in rng_learners or [correct_of(name)]:
        if rng_learners:
            SPECS[name].check(learner)
        SPECS[name].check(learner, extended=True)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_every_exported_check_has_exactly_one_spec():
    """Is every check the course exports registered once in the contract (through its notebook's folder), and
    nothing else?"""
    exported = {name[len("check_"):] for name in checks.__all__ if name.startswith("check_")}
    assert set(SPECS) == exported
    for notebook, names in checks.CHECKS_BY_NOTEBOOK.items():
        module = checks.registry.NOTEBOOKS[notebook]
        assert {n[len("check_"):] for n in names} == set(catalogue_module(module).SPECS), notebook


# ==========================================================================
# Every notebook's catalogue of wrong implementations, run by one test
# ==========================================================================

CATALOGUE = [pytest.param(name, *entry.values, id=f"{name}: {entry.id}", marks=entry.marks)
             for module in CATALOGUES for name, entries in getattr(module, "CATALOGUE", {}).items()
             for entry in entries]


def messages_of(name):
    """The message table of the notebook that ``check_<name>`` belongs to."""
    notebook = next(nb for nb, names in checks.CHECKS_BY_NOTEBOOK.items() if f"check_{name}" in names)
    return importlib.import_module(f"course_utils.checks.messages.{checks.registry.NOTEBOOKS[notebook]}").M


def written_from(text: str, template: str) -> bool:
    """Is ``text`` the message ``template`` with its ``{placeholders}`` filled in?"""
    parts = re.split(r"\{[^{}]*\}", template)
    return re.fullmatch(".*?".join(re.escape(part) for part in parts), text, flags=re.S) is not None


def own_key(name, needle):
    """The message key a catalogue entry's needle names: the one key of the check's own (``<name>.``) whose
    text holds it, else the one key of the notebook's table; None when the needle is in no key or several."""
    texts = messages_of(name).texts
    for keys in ([k for k, t in texts.items() if k.startswith(name + ".") and needle in t],
                 [k for k, t in texts.items() if needle in t]):
        if keys:
            return keys[0] if len(keys) == 1 else None
    return None


@pytest.mark.parametrize("name, learner, outcome, field, needle, hidden", CATALOGUE)
def test_catalogue_entry_fails_with_its_own_message(name, learner, outcome, field, needle, hidden):
    """Does the check fail each wrong implementation of its notebook's catalogue (``CATALOGUE`` in
    ``tests/checks/<module>/test_<module>.py``) with the outcome and message that name its mistake, and does a
    hint that names a known mistake name exactly the entry's own (``CheckResult.mistake``, the key of the one
    message its needle is part of), in that key's words?"""
    check = SPECS[name].check
    result = check(learner, extended=True, seed=7) if hidden else check(learner)
    assert result.outcome == outcome, result.text()
    assert needle in field_text(result, field), result.text()
    assert not result
    texts = messages_of(name).texts
    key = own_key(name, needle) if field == "hint" else None
    if key is not None and outcome == INCORRECT and texts[key] != texts.get(f"{name}.general"):
        # the entry's own mistake, in its key's words; the verdict carries that key, or none (a diagnosis the
        # check makes without a key, e.g. from a shape), or the key of the summary that goes with this hint
        assert result.mistake is None or result.mistake == key or result.mistake == key.removesuffix("_hint"), \
            (key, result.mistake, result.text())
        if result.mistake is not None:
            assert written_from(result.hint, texts[key]), (key, result.text())


# ==========================================================================
# An unknown mistake never gets a known mistake's hint
# ==========================================================================

def unknown_variant(name, times):
    """A wrong answer no known mistake gives: the correct answer plus ``times`` a constant (tensors: 0.5 on the
    compared output; integers and pairs of integers: 17), or a model whose output is shifted by 0.5 ``times``."""
    correct, kind = correct_of(name), SPECS[name].kind
    if kind == "model":
        def make_shifted(*args, **kwargs):
            model = correct(*args, **kwargs)
            forward = model.forward

            def shifted(*inputs):
                out = forward(*inputs)
                return (tuple(o + 0.5 * times for o in out) if isinstance(out, (tuple, list))
                        else out + 0.5 * times)
            model.forward = shifted
            return model
        return make_shifted
    shift = {"tensor": on_main_output(name, lambda out: out + 0.5 * times), "int": lambda out: out + 17 * times,
             "pair": lambda out: type(out)(v + 17 * times for v in out)}[kind]
    return lambda *args, **kwargs: shift(correct(*args, **kwargs))


@pytest.mark.parametrize("name", TENSOR + INTEGER + PAIRS + MODELS)
def test_an_unknown_mistake_gets_no_known_mistakes_hint(name):
    """Does a wrong answer that no known mistake gives (the right one shifted by a constant) fail with no
    mistake named, and with the hint another unknown mistake (shifted twice as far) gets: a general one, not a
    diagnosis?  (Checks that compare no values, only a model's behaviour, pass a shifted output: skipped.)"""
    result = SPECS[name].check(unknown_variant(name, 1))
    if result.passed:
        pytest.skip(f"check_{name} compares no values with a reference")
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake is None, result.text()
    other = SPECS[name].check(unknown_variant(name, 2))
    assert other.mistake is None and other.hint == result.hint, other.text()


# ==========================================================================
# No expected answer exists while the learner's code runs
# ==========================================================================

def _tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _same_arg(a, b):
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return a is b
    try:
        return bool(a == b)
    except Exception:
        return False


def _close(a, b):
    return (a.shape == b.shape and a.dtype == b.dtype and not a.is_meta and not b.is_meta
            and a.device == b.device and bool(torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-5)))


class Watcher:
    """The correct implementation, watching for its own answer among what the check made before each of its
    calls: a tensor equal to the answer it computes (but to none of its inputs or earlier answers), or a case
    of the check's with these arguments and an expected answer.  What existed before the check started (the
    test modules' own cases) is not the check's: it is frozen out of ``gc.get_objects()`` (``gc.freeze``),
    which keeps each look to what the check made."""

    def __init__(self, name):
        self.name, self.leaks, self.own = name, [], []

    def watch(self, args, compute):
        with warnings.catch_warnings():   # isinstance() reads deprecated torch objects' __class__
            warnings.simplefilter("ignore")
            existing = gc.get_objects()   # what was made since the freeze
            tensors = [t for t in existing if isinstance(t, torch.Tensor)]
            # a case answered later (engine.later) holds a function, which the learner's code may not call
            cases = [c for c in existing if isinstance(c, engine.Case) and c.expected is not None
                     and not callable(c.expected)
                     and len(c.args) == len(args) and all(_same_arg(a, b) for a, b in zip(c.args, args))]
        del existing
        out = compute()
        inputs = _tensors(args)
        with torch._C.DisableTorchFunction():   # unseen by the check's torch function modes (it counts operations)
            for answer in _tensors(out):
                if answer.is_meta or any(_close(answer, x) for x in inputs + self.own):
                    continue
                self.leaks += [f"a tensor {tuple(t.shape)} equal to the answer" for t in tensors
                               if t is not answer and _close(t, answer)]
                self.own.append(answer.detach().clone())
        self.leaks += [f"the check's case {c.label!r}" for c in cases]
        return out

    def learner(self):
        correct = correct_of(self.name)
        if SPECS[self.name].kind != "model":
            return lambda *args, **kwargs: self.watch(args, lambda: correct(*args, **kwargs))

        def make(*args, **kwargs):
            model = correct(*args, **kwargs)
            forward = model.forward
            model.forward = lambda *inputs: self.watch(inputs, lambda: forward(*inputs))
            return model
        return make


@pytest.mark.parametrize("name", ALL)
def test_no_expected_answer_exists_while_the_learner_runs(name):
    """While a check runs the learner's code, is its expected answer nowhere yet (not among the objects the
    learner's code could reach through ``gc`` or the stack), on the public and the hidden cases?  The correct
    implementation, run by the check, looks for a tensor equal to the answer it is computing, and for the
    check's own case of its arguments.  (A model check's hidden run takes its public run's path through
    ``engine.models`` on larger models, seconds more each: the public run shows that path.)"""
    watcher = Watcher(name)
    gc.freeze()   # no collection first: garbage from before is frozen out too (a collection costs 0.2 s)
    try:
        for kwargs in ({},) if SPECS[name].kind == "model" else ({}, {"extended": True, "seed": 7}):
            result = SPECS[name].check(watcher.learner(), **kwargs)
            # watching takes time and lines of Python that grow with the objects it looks through: a check that
            # times the learner finds it slow, one that counts its work on two sizes finds it looping (after every
            # case passed)
            assert (result.passed or "loops over" in result.summary
                    or (SPECS[name].timed and "too slow" in result.summary)), result.text()
    finally:
        gc.unfreeze()
    assert not watcher.leaks, watcher.leaks[:5]
