"""Comparing an answer with the expected one, NaN-safely, and naming the known mistake it matches."""

from __future__ import annotations

from typing import Sequence

from .cases import Case, Mistake
from .results import INCORRECT, UNCHECKABLE, CheckResult, Verdict


def clone(value):
    """A deep copy of tensors (and containers of tensors), to notice in-place mutation later."""
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(clone(v) for v in value)
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    return value


def equal_tensors(a, b) -> bool:
    """Same shape, dtype-independent same values, and NaN where the other has NaN.

    ``torch.equal`` says a tensor holding NaN differs from itself (NaN is never
    equal to NaN), so an input made with ``torch.empty`` could look mutated
    when nothing touched it; here NaN equals NaN, bit patterns aside.
    """
    import torch
    if a.shape != b.shape:
        return False
    if a.device.type == "meta" or b.device.type == "meta":  # shapes only: no values to compare
        return True
    if a.is_floating_point() or a.is_complex():
        return bool(torch.equal(a, b) or ((a == b) | (a.isnan() & b.isnan())).all())
    return bool(torch.equal(a, b))


def same(a, b) -> bool:
    """Whether ``b`` still holds what ``a`` held: tensors by :func:`equal_tensors`, containers item by item."""
    import torch
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and equal_tensors(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    try:
        return a is b or bool(a == b)
    except Exception:  # values without a usable ==: nothing to compare
        return True


def _fmt_shape(shape) -> str:
    return str(tuple(int(s) for s in shape))


def mistakes_of(case: Case) -> list[Mistake]:
    """The case's known mistakes: :class:`Mistake` objects, the one encoding (``M.mistake(key, answer)``)."""
    for mistake in case.mistakes:
        if not isinstance(mistake, Mistake):
            raise TypeError(f"case {case.label!r}: a known mistake must be a Mistake (M.mistake(key, answer)), "
                            f"not {type(mistake).__name__}")
    return list(case.mistakes)


def matching_mistake(got, case: Case, by_shape: bool) -> Mistake | None:
    """The first known mistake whose answer ``got`` equals: by shape when ``by_shape``, else by value."""
    import torch
    for mistake in mistakes_of(case):
        wrong = mistake.answer
        if isinstance(wrong, torch.Size) or (isinstance(wrong, tuple) and all(isinstance(s, int) for s in wrong)):
            if by_shape and tuple(got.shape) == tuple(wrong):
                return mistake
            continue
        if isinstance(wrong, torch.Tensor):
            if tuple(got.shape) != tuple(wrong.shape):
                continue
            if by_shape:
                if tuple(wrong.shape) != tuple(case.expected.shape):
                    return mistake
            elif torch.allclose(got.double(), wrong.double(), atol=case.atol, rtol=case.rtol, equal_nan=True):
                return mistake   # NaN where the mistake gives NaN is that mistake's answer too
        elif not isinstance(wrong, torch.Tensor) and not by_shape and got == wrong:
            return mistake
    return None


def _diagnosis(mistake: Mistake | None, general_hint: str | None) -> tuple[str | None, str | None]:
    """(hint, mistake key) for a verdict: the matched mistake's, else the general hint with no key."""
    return (mistake.hint, mistake.key) if mistake else (general_hint, None)


def compare_tensor(check: str, got, case: Case, *, name: str, general_hint: str | None = None) -> None:
    """Raise ``Verdict`` unless ``got`` matches ``case.expected``."""
    import numpy as np
    import torch

    expected: torch.Tensor = case.expected
    if got is None:
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
            hint="Did you forget a `return` at the end of the function?",
            next_step="Return the output tensor and run the check again."))
    if isinstance(got, np.ndarray):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned a NumPy array; the check expects a torch.Tensor.",
            case=case.label, hint="Convert with `torch.from_numpy(...)`, or compute with torch from the start.",
            next_step="Return a tensor and run the check again."))
    if not isinstance(got, torch.Tensor):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; the check expects a torch.Tensor.",
            case=case.label, next_step="Return a tensor and run the check again."))
    if type(got) is not torch.Tensor:  # a Tensor subclass must not answer the comparisons below itself
        with torch._C.DisableTorchFunctionSubclass():
            got = got.detach().as_subclass(torch.Tensor)
    if tuple(got.shape) != tuple(expected.shape):
        hint, key = _diagnosis(matching_mistake(got, case, by_shape=True), general_hint)
        raise Verdict(CheckResult(
            check, INCORRECT, "the output has the wrong shape.", case=case.label,
            evidence=[f"expected shape {_fmt_shape(expected.shape)}, got {_fmt_shape(got.shape)}"],
            hint=hint, next_step="Fix the shape first; then the values are compared.", mistake=key))
    if got.dtype != expected.dtype:
        raise Verdict(CheckResult(
            check, INCORRECT, "the output has the wrong dtype.", case=case.label,
            evidence=[f"expected {expected.dtype}, got {got.dtype}"],
            hint="Create the output with the input's dtype, e.g. `torch.zeros(..., dtype=x.dtype)`.",
            next_step="Fix the dtype and run the check again."))
    got_cpu = got.detach().cpu()
    if torch.allclose(got_cpu, expected, atol=case.atol, rtol=case.rtol, equal_nan=False):
        return
    diff = (got_cpu.double() - expected.double()).abs()
    bad = ~torch.isclose(got_cpu, expected, atol=case.atol, rtol=case.rtol)
    index = tuple(int(i) for i in bad.nonzero()[0])
    max_err = diff[~torch.isnan(diff)].max().item() if (~torch.isnan(diff)).any() else float("nan")
    evidence = [f"max abs error {max_err:.3g}; {int(bad.sum())} of {bad.numel()} values differ",
                f"first mismatch at index {index}: expected {expected[index].item():.4g}, "
                f"got {got_cpu[index].item():.4g}"]
    if torch.isnan(got_cpu).any():
        evidence.append("the output contains NaN")
    hint, key = _diagnosis(matching_mistake(got_cpu, case, by_shape=False), general_hint)
    raise Verdict(CheckResult(check, INCORRECT, "the output values are wrong.", case=case.label,
                              evidence=evidence, hint=hint, mistake=key,
                              next_step="Fix the computation, re-run its cell, then run this check again."))


def compare_int(check: str, got, case: Case, *, name: str, general_hint: str | None = None) -> None:
    """Raise ``Verdict`` unless ``got`` is the integer ``case.expected``."""
    import numbers

    if got is None:
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
            hint="Did you forget a `return` at the end of the function?",
            next_step="Return the number and run the check again."))
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; the check expects an int.",
            case=case.label, next_step="Return a plain Python int and run the check again."))
    if not isinstance(got, numbers.Integral):
        hint, key = "Sizes and counts are whole numbers: use floor division `//` (or `math.floor`) and return an int.", None
        for mistake in mistakes_of(case):
            if isinstance(mistake.answer, float) and abs(float(got) - mistake.answer) < 1e-9:
                hint, key = mistake.hint, mistake.key
        raise Verdict(CheckResult(
            check, INCORRECT, f"`{name}` returned the float {got!r}; expected an int.", case=case.label,
            evidence=[f"expected {case.expected}, got {got!r}"], hint=hint, mistake=key,
            next_step="Return an int and run the check again."))
    if int(got) == case.expected:
        return
    matched = next((m for m in mistakes_of(case) if isinstance(m.answer, int) and m.answer == int(got)), None)
    hint, key = _diagnosis(matched, general_hint)
    raise Verdict(CheckResult(check, INCORRECT, "the number is wrong.", case=case.label,
                              evidence=[f"expected {case.expected}, got {int(got)}"], hint=hint, mistake=key,
                              next_step="Fix the formula, re-run its cell, then run this check again."),
                  case=case, got=int(got))


def compare_parts(check: str, got, case: Case, *, name: str, parts: Sequence[str], compare, shape: str,
                  return_hint: str, general_hint: str | None = None) -> None:
    """Compare an answer made of several parts (a tuple), each part with ``compare``.

    ``case.expected`` and every wrong answer in ``case.mistakes`` are tuples
    with one entry per part; each part is compared with its own slice of the
    mistakes, so the hint names the mistake of the part that differs.
    ``shape`` says what is expected ("a pair of ints"); ``return_hint`` how
    to return it.
    """
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint=f"Did you forget a `return`? {return_hint}",
                                  next_step=f"Return {shape} and run the check again."))
    if not isinstance(got, (tuple, list)) or len(got) != len(parts):
        what = type(got).__name__ + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {what}; expected {shape}.",
                                  case=case.label, hint=return_hint,
                                  next_step=f"Return {shape} and run the check again."))
    for index, (part, got_part, expected_part) in enumerate(zip(parts, got, case.expected)):
        sub = Case(f"{case.label}; comparing {part}", (), expected=expected_part, atol=case.atol, rtol=case.rtol,
                   mistakes=[Mistake(m.key, m.answer[index], m.hint) for m in mistakes_of(case)])
        compare(check, got_part, sub, name=f"{name}(...)[{index}] ({part})", general_hint=general_hint)

