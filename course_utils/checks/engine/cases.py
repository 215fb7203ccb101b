"""Cases: one call of the learner's function, what it should return, and what known
mistakes would return instead; and the seeded helpers that case builders share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
