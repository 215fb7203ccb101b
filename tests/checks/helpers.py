"""Helpers shared by the check test modules: the catalogues (checks/<module>/test_<module>.py) and the contract.

Import a fixture by name into a test module to use it there (pytest finds
fixtures among a module's attributes).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Callable

import pytest
import torch

from course_utils.checks import INCORRECT
from course_utils.checks.engine import Case

TENSOR_KIND, INT_KIND, PAIR_KIND, MODEL_KIND = "tensor", "int", "pair", "model"


@dataclass(frozen=True)
class CheckSpec:
    """What the generic contract needs to know about one check."""

    check: Callable
    kind: str                         # "tensor", "int", "pair", "model"; any other kind gets the generic tests only
    correct: tuple                    # correct implementations in several styles; the first is the reference learner
    mistake: Callable                 # a known wrong implementation
    forbidden: Callable | None = None  # a learner calling a refused function
    # the refused functions the exercise re-implements (what the check compares against), by the names its
    # verdicts show: only these may be called "the very function this exercise re-implements"
    reimplements: tuple = ()
    main: int | None = None           # index of the compared output when the answer is a tuple
    timed: bool = False               # the verdict contains a measured speed
    hidden_cases: str | None = "more"  # "more", "same" or None: hidden run's case count vs the public one
    rng_learners: tuple | None = None  # learners drawing nothing from torch's global RNG, where `correct` does
    stand_in_models: bool = True      # False where the check refuses a stand-in model before its forward
    forward_label: str = "`{cls}.forward`"   # how a stopped forward is named ({cls}: the model's class)

    def __post_init__(self):
        object.__setattr__(self, "correct", tuple(self.correct))


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run the importing module's checks with one torch thread.

    On the 2-core course machines, two-thread timings are bimodal: about one
    process in six runs every multi-threaded op ~15x slower (F.conv2d at
    ~30 ms instead of ~2 ms), which flips check_conv2d_im2col's speed verdict
    on correct code.  One thread measured steady at ~2.5 ms.  (Models that are
    tiny or on the meta device gain nothing from a second thread either.)
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def guards_fixture(guarded, still_work=None):
    """An autouse fixture: after every test, the ``guarded`` functions (name -> (owner, attribute)) are the
    originals again, and ``still_work()`` (running the refused functions once) succeeds."""
    originals = {name: getattr(owner, attr) for name, (owner, attr) in guarded.items()}

    @pytest.fixture(autouse=True)
    def guards_put_everything_back():
        """After every test, the guarded functions are the originals again and the refused ones run."""
        yield
        changed = [name for name, (owner, attr) in guarded.items() if getattr(owner, attr) is not originals[name]]
        assert not changed, f"a check left these functions replaced: {changed}"
        if still_work is not None:
            still_work()
    return guards_put_everything_back


def source_line_of(fn, snippet):
    """The file line number of the line of ``fn`` that contains ``snippet``."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if snippet in line)


def field_text(result, field):
    value = getattr(result, field)
    return "\n".join(value) if isinstance(value, list) else (value or "")


def mistake(question, learner, needle, *, field="hint", outcome=INCORRECT, bug=None):
    """One catalogue entry; ``bug`` names a defect of the check (strict xfail)."""
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(learner, outcome, field, needle, id=question, marks=marks)


def mistake_case(question, learner, needle, *, field="hint", outcome=INCORRECT, bug=None, hidden=False):
    """One catalogue entry with a fifth field: ``hidden`` runs the check's hidden cases for it.  A notebook's
    ``CATALOGUE`` (check name -> entries) is made of these; test_contract.py runs them all."""
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(learner, outcome, field, needle, hidden, id=question, marks=marks)


@functools.cache
def learner_copy(module_name: str):
    """A learner's own copy of a course module: its source text run as notebook code (another file name and
    module name), so that its functions are the learner's, not the course's, which a check refuses while it runs
    a learner's function.  For wrong implementations written as variants of the course's reference."""
    import importlib
    import types
    module = importlib.import_module(module_name)
    copy = types.ModuleType(f"learner_copy_of_{module_name.replace('.', '_')}")
    copy.__package__ = module.__package__
    with open(module.__file__, encoding="utf-8") as handle:
        exec(compile(handle.read(), f"<learner's copy of {module_name}>", "exec"), vars(copy))
    return copy


def spy(learner):
    """The learner, recording the arguments of every call in ``.calls``."""
    def recorded(*args, **kwargs):
        recorded.calls.append((args, kwargs))
        return learner(*args, **kwargs)
    recorded.calls = []
    recorded.__name__ = learner.__name__
    return recorded


def call_settings(calls):
    """What recorded calls were made with, comparable across runs: tensors by their shape (their values
    follow the seed), callables passed by keyword (fresh factories, injected reference parts) by the
    keyword's name."""
    def setting(value, keyword=None):
        if isinstance(value, torch.Tensor):
            return ("tensor", tuple(value.shape))
        if keyword is not None and callable(value):
            return keyword
        return value
    return {repr(([setting(a) for a in args], {k: setting(v, k) for k, v in kwargs.items()})) for args, kwargs in calls}


def assert_hidden_cases_try_more(check, learner):
    """The hidden run (extended=True) calls ``learner`` with every setting of the public run and more."""
    public, hidden = spy(learner), spy(learner)
    assert check(public)
    assert check(hidden, extended=True, seed=7)
    assert call_settings(public.calls) < call_settings(hidden.calls)


def assert_names_mistake(check, learner, outcome, field, needle, hidden=False):
    """The check fails ``learner`` (on the hidden cases if ``hidden``) with ``outcome``, ``needle`` in ``field``."""
    result = check(learner, extended=True, seed=7) if hidden else check(learner)
    assert result.outcome == outcome, result.text()
    assert needle in field_text(result, field), result.text()
    assert not result


def solution(notebook: str, name: str):
    """The instructor's own solution of exercise ``name``, taken from the notebook's text source
    (``checks/instructor.py``), so that no test file carries a copy of a solution.  The notebook's solutions
    are run now, not at the first call: that call is a learner's, inside a check's time limit."""
    from checks.instructor import instructor_object
    function = instructor_object(notebook, name)

    def instructor_solution(*args, **kwargs):
        return function(*args, **kwargs)
    instructor_solution.__name__ = instructor_solution.__qualname__ = f"{name}_solution"
    instructor_solution.notebook, instructor_solution.exercise = notebook, name   # to find the function itself
    return instructor_solution


def answered(case):
    """A copy of ``case`` whose answers are there: a case answered later (``engine.cases.later``: ``expected``
    and ``mistakes`` as functions, called once the learner's code has returned) is answered now."""
    import copy
    if not isinstance(case, Case) or not (callable(case.expected) or callable(case.mistakes)):
        return case
    done = copy.copy(case)
    done.expected = case.expected() if callable(case.expected) else case.expected
    done.mistakes = list(case.mistakes() if callable(case.mistakes) else case.mistakes)
    return done


def assert_no_new_kind(public, hidden, kinds):
    """The hidden cases bring no kind of case the public ones lack: ``kinds(spec)`` names the kinds of one
    case (a stride, padding that differs along H and W, eval mode, ...); each kind of a hidden case must be
    the kind of some public case too.  Hidden cases add sizes and seeds, never a new kind of mistake.  Cases
    answered later are answered first (``answered``)."""
    def all_kinds(specs):
        return set().union(*(set(kinds(answered(spec))) for spec in specs))
    missing = all_kinds(hidden) - all_kinds(public)
    assert not missing, f"kinds of case only the hidden cases have: {sorted(missing)}"
