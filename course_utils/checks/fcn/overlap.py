"""``overlap_counts``: how many kernel taps of a transposed convolution land on each output pixel.

The reference is a measurement, not a formula: ``F.conv_transpose2d`` of an
input of ones with a kernel of ones, computed here when the case is built
(outside the learner's guards).  While the learner's code runs every
convolution is refused — transposed or not, 1-D or 2-D — and so is ``F.fold``
(col2im), which adds up overlapping windows of ones just as well.

Known mistakes are computed by ``_formula_counts``, a closed form written here
from the index arithmetic (input pixel a, tap i lands on a·s + i − p), whose
``mistake=`` switch takes the message keys themselves; the test suite proves
that with no mistake it equals the measurement.
"""

from __future__ import annotations

from ..convolution import _conv2d_forbidden, conv_ops
from ..engine import DOES_THE_WORK, INCORRECT, Case, CheckResult, Verdict, compare_tensor, generator, run_cases
from ..messages.fcn import M

# (H, W, kernel_size, stride, padding).  Public: k = 3, s = 2 (uneven), k = 4, s = 2 (even) with padding, stride 1,
# a kernel smaller than the stride (gaps), k = 5, s = 3 with padding 2, k = s (one tap everywhere) on an input one
# pixel high, a 1 × 1 kernel; H ≠ W throughout.
_OVERLAP_SPECS = [(4, 6, 3, 2, 0), (5, 3, 4, 2, 1), (3, 5, 3, 1, 0), (4, 3, 2, 3, 0), (6, 4, 5, 3, 2), (1, 4, 3, 3, 0),
                  (3, 2, 1, 2, 0)]
# Hidden: a single input pixel, k = s, the notebook's 8 × 8 figure, k = 6, s = 4; and a few settings drawn from the
# seed (the same kinds, other sizes).
_OVERLAP_EXTENDED = [(1, 1, 3, 2, 0), (7, 2, 4, 4, 0), (8, 8, 3, 2, 1), (9, 5, 6, 4, 1)]
_DRAWN = 3


def _axis_counts(n, k, s, p):
    """Taps landing on each output position along one axis, in closed form.

    Output o is full-output position q = o + p; input pixel a reaches it with tap i = q − a·s, so
    a runs from max(0, ⌈(q − k + 1)/s⌉) to min(n − 1, ⌊q/s⌋).
    """
    import torch
    size = (n - 1) * s + k - 2 * p
    q = torch.arange(size, dtype=torch.int64) + p
    first = torch.clamp(-torch.div(-(q - k + 1), s, rounding_mode="floor"), min=0)   # ⌈(q − k + 1)/s⌉, ≥ 0
    last = torch.clamp(torch.div(q, s, rounding_mode="floor"), max=n - 1)
    return torch.clamp(last - first + 1, min=0)


def _formula_counts(h, w, k, s, p, *, mistake=None):
    """The count map from ``_axis_counts`` (taps along the rows times taps along the columns).

    With ``mistake=None`` it is the measurement (the test suite proves it); a message key makes that known
    mistake: ``"overlap_counts.no_overlap"`` marks each covered pixel once (``= 1`` instead of ``+= 1``),
    ``"overlap_counts.added"`` adds the two axes' counts instead of multiplying them,
    ``"overlap_counts.swapped"`` exchanges kernel size and stride, ``"overlap_counts.padding_ignored"``
    never crops the padding.
    """
    if mistake == "overlap_counts.swapped":
        k, s = s, k
    if mistake == "overlap_counts.padding_ignored":
        p = 0
    rows, cols = _axis_counts(h, k, s, p), _axis_counts(w, k, s, p)
    if mistake == "overlap_counts.no_overlap":
        rows, cols = (rows > 0).long(), (cols > 0).long()
    if mistake == "overlap_counts.added":
        return rows[:, None] + cols[None, :]
    return rows[:, None] * cols[None, :]


def _measured_counts(h, w, k, s, p):
    """The reference: F.conv_transpose2d of ones with a kernel of ones — every tap adds 1 where it lands."""
    import torch
    import torch.nn.functional as F
    ones = F.conv_transpose2d(torch.ones(1, 1, h, w, dtype=torch.float64), torch.ones(1, 1, k, k, dtype=torch.float64),
                              stride=s, padding=p)
    return ones[0, 0].round().to(torch.int64)


def _signature(answer, expected_shape):
    """What a learner's answer would have to be to match ``answer``: a shape where it differs, else the values."""
    if isinstance(answer, tuple):
        return ("shape", answer)
    if tuple(answer.shape) != tuple(expected_shape):
        return ("shape", tuple(answer.shape))
    return ("values", tuple(answer.flatten().tolist()))


def _overlap_mistakes(h, w, k, s, p, expected):
    """The known mistakes of one case; any two that would answer alike, or a mistake that answers right, are left
    out, so that a hint is only given where exactly one mistake explains the answer."""
    candidates = []
    for key in ("overlap_counts.no_overlap", "overlap_counts.added"):
        candidates.append(M.mistake(key, _formula_counts(h, w, k, s, p, mistake=key)))
    if (h - 1) * k + s - 2 * p >= 1 and (w - 1) * k + s - 2 * p >= 1:   # the swapped sizes exist
        candidates.append(M.mistake("overlap_counts.swapped",
                                    _formula_counts(h, w, k, s, p, mistake="overlap_counts.swapped")))
    if h * s - 2 * p >= 1 and w * s - 2 * p >= 1:
        candidates.append(M.mistake("overlap_counts.n_times_s", (h * s - 2 * p, w * s - 2 * p)))
    if p:
        candidates.append(M.mistake("overlap_counts.padding_ignored",
                                    _formula_counts(h, w, k, s, p, mistake="overlap_counts.padding_ignored")))
    right = _signature(expected, expected.shape)
    signatures = [_signature(m.answer, expected.shape) for m in candidates]
    return [m for m, sig in zip(candidates, signatures) if sig != right and signatures.count(sig) == 1]


def _drawn_specs(seed):
    """A few settings drawn from the seed: H, W in 1 … 9, k in 1 … 6, s in 1 … 4, p in 0 … (k − 1) // 2."""
    import torch
    g = generator(seed)
    specs = []
    for _ in range(_DRAWN):
        h, w, k, s = (int(torch.randint(low, high, (), generator=g)) for low, high in ((1, 10), (1, 10), (1, 7), (1, 5)))
        p = int(torch.randint(0, (k - 1) // 2 + 1, (), generator=g))
        specs.append((h, w, k, s, p))
    return specs


def _overlap_cases(seed, extended):
    specs = _OVERLAP_SPECS + (_OVERLAP_EXTENDED + _drawn_specs(seed) if extended else [])
    cases = []
    for h, w, k, s, p in specs:
        expected = _measured_counts(h, w, k, s, p)
        label = f"overlap_counts(in_size=({h}, {w}), kernel_size={k}, stride={s}, padding={p})"
        cases.append(Case(label, ((h, w), k, s), dict(padding=p), expected=expected,
                          mistakes=_overlap_mistakes(h, w, k, s, p, expected), atol=0, rtol=0))
    return cases


def _compare_counts(check, got, case, *, name, general_hint=None):
    """Counts in any integer dtype are accepted; float counts get their own hint."""
    import torch
    if isinstance(got, torch.Tensor) and not got.is_floating_point() and got.dtype not in (torch.int64, torch.bool):
        got = got.long()
    if isinstance(got, torch.Tensor) and got.is_floating_point() and tuple(got.shape) == tuple(case.expected.shape):
        raise Verdict(CheckResult(check, INCORRECT, M("overlap_counts.wrong_dtype"), case=case.label,
                                  evidence=[f"expected {case.expected.dtype}, got {got.dtype}"],
                                  hint=M("overlap_counts.float_counts"), mistake="overlap_counts.float_counts",
                                  next_step="Fix the dtype and run the check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def _overlap_forbidden():
    """Every convolution (the check counts with F.conv_transpose2d of ones: any of them would do the work), and
    F.fold, the overlap-add itself."""
    import torch
    import torch.nn.functional as F
    return _conv2d_forbidden(reimplements=()) + [
        (F, "conv_transpose1d", "F.conv_transpose1d", DOES_THE_WORK),
        (torch, "conv_transpose1d", "torch.conv_transpose1d", DOES_THE_WORK),
        (torch, "conv_transpose2d", "torch.conv_transpose2d", DOES_THE_WORK), (F, "fold", "F.fold", _fold())]


def _fold():
    return M.refusal("overlap_counts.refused_fold", "overlap_counts.refused_fold_hint")


def check_overlap_counts(overlap_counts, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``overlap_counts(in_size, kernel_size, stride, padding=0) -> LongTensor (H_out, W_out)``.

    ``in_size`` is (H, W); kernel, stride and padding are ints (the same along both axes).  Entry (o, o') counts
    the (input pixel, kernel tap) pairs of a transposed convolution that land on output pixel (o, o').
    Compared with ``F.conv_transpose2d`` of ones with a kernel of ones; every convolution function and
    ``F.fold`` are refused while the learner's code runs.
    """
    return run_cases("overlap_counts", overlap_counts, lambda: _overlap_cases(seed, extended), compare=_compare_counts,
                     strict=strict, forbidden=_overlap_forbidden(), op_pattern=conv_ops() + [(r"^col2im", _fold())],
                     general_hint=M("overlap_counts.general"))
