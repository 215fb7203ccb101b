"""Cases: one call of the learner's function, what it should return, and what known
mistakes would return instead; and the seeded helpers that case builders share."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

@dataclass(frozen=True)
class Mistake:
    """A known mistake on one case: its key in the notebook's message table, what it answers, and its hint.

    ``answer`` is a tensor (compared by value), a number (compared with ``==``)
    or, for a mistake that shows in the shape alone, a tuple of ints (compared
    with the shape of a wrong-shaped answer).  Build it with ``M.mistake(key,
    answer)`` (``engine.messages``).
    """

    key: str | None
    answer: Any
    hint: str


@dataclass
class Case:
    """One call of the learner's function and what it should return.

    ``mistakes`` lists :class:`Mistake` objects: what plausible mistakes
    answer on this case.  When the learner's answer matches one of them (by
    shape when the shapes differ from the expected one, else by value) the
    verdict names that mistake.

    No answer may exist while the learner's code runs (it could find it on
    the stack or through ``gc`` and return it): ``run_cases`` takes the
    function that builds the cases, keeps their questions, and builds them
    again for the answers once the learner's code has returned.  A builder
    that would rather not run twice gives ``expected`` and ``mistakes`` as
    functions of no arguments instead, called after the learner's code.
    """

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    expected: Any = None
    mistakes: list = field(default_factory=list)
    atol: float = 1e-4
    rtol: float = 1e-4


# While the engine resolves a check's answers (``answering``): each ``later`` function's answers, computed once.
_ANSWERING: list[dict] = []


def later(compute: Callable[[], tuple[Any, list]]) -> dict:
    """``expected=`` and ``mistakes=`` for a :class:`Case` answered by one function once the learner's code has
    returned: ``Case(label, args, **later(lambda: (expected, mistakes)))``.

    A builder whose reference costs more than its questions answers its cases this way: the engine then builds
    the cases once, and ``compute`` runs only for the answers, once each time the engine resolves them (see
    ``once``).  The learner's code is handed the very objects in the case's arguments and may keep them: a
    ``compute`` that needs a tensor or model among them reads the builder's copy of it, taken when it was made.
    """
    answers = once(compute)
    return {"expected": lambda: answers()[0], "mistakes": lambda: answers()[1]}


def once(compute: Callable[[], Any]) -> Callable[[], Any]:
    """``compute``, run at most once each time the engine resolves a check's answers (``answering``), however
    many cases ask for it (e.g. two cases on one model share its reference); nothing keeps the result after."""
    def run():
        if not _ANSWERING:
            return compute()
        memo = _ANSWERING[-1]
        if run not in memo:
            memo[run] = compute()
        return memo[run]
    return run


def answered(cases) -> list:
    """Copies of ``cases`` with their answers computed (those ``later`` gives): what the engine compares with,
    for the tests and tools that read a builder's cases."""
    import copy
    out = []
    with answering():
        for case in cases:
            case = copy.copy(case)
            case.expected = case.expected() if callable(case.expected) else case.expected
            case.mistakes = list(case.mistakes() if callable(case.mistakes) else case.mistakes)
            out.append(case)
    return out


@contextlib.contextmanager
def answering():
    """The engine resolving answers: each ``later`` function runs once in the block; its result goes after."""
    _ANSWERING.append({})
    try:
        yield
    finally:
        _ANSWERING.pop()


def pair(v):
    """3 -> (3, 3); (2, 1) -> (2, 1)."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def generator(seed):
    """A local torch generator: cases never touch the global random state."""
    import torch
    return torch.Generator().manual_seed(int(seed))


def randn(g, *shape):
    import torch
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def shape_of(t) -> str:
    return str(tuple(t.shape))
