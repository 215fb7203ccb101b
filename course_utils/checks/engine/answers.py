"""The cases' answers held back while the learner's code runs: the check keeps public copies of the
questions, and the expected answers and known mistakes exist only once asked for, after the learner's code
returned (``_Answers``; a rebuilt case builder is matched to the first build by ``_fingerprint``)."""

from __future__ import annotations

import copy

from .cases import Case, answering


class _Answers:
    """The cases' questions now, their expected answers and known mistakes only once asked for.

    ``cases`` is the function that builds the cases (preferred) or a list.  While the learner's code runs,
    the check holds public copies only (label, arguments, tolerances): no expected answer exists that the
    learner's code could find (on the stack, through ``gc``) and return.  A case whose ``expected`` (and
    ``mistakes``) are functions is answered by calling them; otherwise the builder runs again (it must be
    deterministic: seeded from a local generator) and the answers asked for are taken from that build.
    """

    def __init__(self, check: str, cases):
        self.check = check
        self.build = cases if callable(cases) else None
        built = list(cases() if self.build is not None else cases)
        self.public = [Case(c.label, c.args, dict(c.kwargs), atol=c.atol, rtol=c.rtol) for c in built]
        self.lazy = [c if _lazy(c) else None for c in built]
        self.questions = ([(c.label, _fingerprint((c.args, c.kwargs))) for c in built]
                          if any(c is None for c in self.lazy) else None)
        if self.build is None and any(c is None for c in self.lazy):
            raise TypeError(f"check {check!r}: pass the function that builds the cases (e.g. `lambda: "
                            "_cases(seed, extended)`), not the list, so that the expected answers exist only "
                            "after the learner's code returned; or give each case its answers as functions")

    def __len__(self) -> int:
        return len(self.public)

    def resolved(self, indices) -> dict[int, Case]:
        indices = list(indices)
        rebuilt = None
        if any(self.lazy[i] is None for i in indices):
            rebuilt = list(self.build())
            if [(c.label, _fingerprint((c.args, c.kwargs))) for c in rebuilt] != self.questions:
                raise RuntimeError(f"check {self.check!r}: its case builder gave other cases the second time; "
                                   "build them from a seeded local generator")
        out = {}
        with answering():
            for i in indices:
                source = self.lazy[i] if self.lazy[i] is not None else rebuilt[i]
                case = copy.copy(source)   # with what else the builder noted on it, asked of the learner's arguments
                case.args, case.kwargs = self.public[i].args, self.public[i].kwargs
                case.expected = source.expected() if callable(source.expected) else source.expected
                case.mistakes = list(source.mistakes() if callable(source.mistakes) else source.mistakes)
                out[i] = case
        return out


def _fingerprint(value):
    """What identifies a case's arguments as they were built, to tell whether a second build asks the same:
    tensors by shape, dtype and two sums, modules by their state, containers item by item, numbers and strings
    by value, other objects by type.  Taken before the learner's code runs (it may train a module it is given)."""
    import torch
    if isinstance(value, torch.Tensor):
        if value.is_meta or value.numel() == 0:
            return ("tensor", tuple(value.shape), str(value.dtype))
        flat = torch.nan_to_num(value.detach().reshape(-1).double().cpu(), nan=0.5, posinf=1e300, neginf=-1e300)
        weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64)
        return ("tensor", tuple(value.shape), str(value.dtype), round(float(flat.sum()), 6),
                round(float((flat * weights).sum()), 4))
    if isinstance(value, torch.nn.Module):
        return (type(value).__qualname__, _fingerprint(dict(value.state_dict())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, *[_fingerprint(v) for v in value])
    if isinstance(value, dict):
        return ("dict", *[(k, _fingerprint(v)) for k, v in value.items()])
    if isinstance(value, (int, float, str, bool, type(None))):
        return value
    return type(value).__qualname__


def _lazy(case: Case) -> bool:
    """Does the case hold no answer yet (its answers are functions, or it has none)?"""
    return ((case.expected is None or callable(case.expected))
            and (callable(case.mistakes) or not case.mistakes))
