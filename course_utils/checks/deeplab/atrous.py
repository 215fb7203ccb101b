"""Notebook 08, ``atrous_conv2d``: atrous convolution by space-to-batch, against ``F.conv2d(..., dilation=d)``.

While the learner's code runs, a convolution (or ``F.unfold``) with dilation ≠ 1 or a kernel larger than
k × k is refused, and a dense one with the k × k kernel must be used wherever the dilation matters: once per
call, on every sub-image stacked in the batch (one convolution per phase is not space to batch).
"""

from __future__ import annotations

import math

from ..convolution import CONV_OPS
from ..engine import (INCORRECT, Case, CheckResult, Verdict, callback, compare_tensor, finish, generator, pair,
                      randn, run_cases, shape_of)
from ..messages.deeplab import M

__all__ = ["check_atrous_conv2d"]

# (N, C_in, C_out, H, W, k, padding, dilation, bias); stride 1.  Padded sizes that are and are not multiples
# of d, padding 0 and "same" padding d(k − 1)/2, an even kernel, a non-square kernel with padding and
# dilation that differ along H and W, a 1 × 1 kernel (whose dilation changes nothing).
ATROUS_PUBLIC = [(2, 3, 4, 13, 11, 3, 2, 2, True), (1, 2, 3, 17, 15, 3, 0, 3, False),
                 (2, 4, 2, 12, 14, 3, 3, 3, True), (1, 3, 2, 8, 10, 3, 2, 2, True),
                 (1, 3, 2, 9, 10, 2, 1, 4, True), (2, 2, 3, 11, 13, (3, 2), (2, 1), (2, 3), True),
                 (1, 3, 2, 7, 6, 1, 0, 3, False),
                 # no padding, dilations that differ along H and W, and sides that are multiples of neither:
                 # phases of unequal sizes, which a per-phase convolution without the padding to multiples of
                 # the dilation gets wrong
                 (2, 3, 3, 11, 7, 3, 0, (2, 3), True)]
ATROUS_EXTENDED = [(3, 2, 5, 20, 9, 3, (4, 1), (4, 1), True), (1, 1, 1, 25, 25, 5, 12, 6, False),
                   (2, 5, 3, 10, 21, 1, 0, 7, True), (1, 2, 2, 16, 19, (3, 2), 5, (5, 2), True)]

# Where the dilation sits in the positional arguments of the convolutions the guard inspects.
_DILATION_AT = {"conv1d": 5, "conv2d": 5, "conv3d": 5, "convolution": 5, "_convolution": 5,
                "conv_transpose1d": 7, "conv_transpose2d": 7, "conv_transpose3d": 7}


class _Refused(BaseException):
    """Raised inside the learner's code by the guard; a BaseException so that `except Exception` cannot hide it."""

    def __init__(self, summary, evidence, key):
        super().__init__(summary)
        self.summary, self.evidence, self.key = summary, evidence, key


def _dense_only(shape, kernel, record):
    """A torch function mode: convolutions (and F.unfold) run only with dilation 1 and a kernel no larger than
    the learner's ``kernel`` (kh, kw); ``record`` collects the input shapes of those with exactly that kernel.

    The engine's ``forbid`` refuses a function whatever its arguments; here a dense ``F.conv2d`` is the tool
    the exercise asks for, and only its dilated use is refused.
    """
    import re

    import torch.nn.functional as F
    from torch.overrides import TorchFunctionMode

    unfold = F.unfold
    n, dh, dw = shape

    def arg(args, kwargs, index, name, default):
        return args[index] if len(args) > index else kwargs.get(name, default)

    @callback
    class DenseOnly(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if func is unfold or name == "im2col":
                shown, inp = "F.unfold", arg(args, kwargs, 0, "input", None)
                dilation, size = arg(args, kwargs, 2, "dilation", 1), arg(args, kwargs, 1, "kernel_size", 1)
                size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
            elif name in _DILATION_AT:
                shown = f"{'F.' if name.startswith('conv') else 'torch.'}{name}"
                inp = arg(args, kwargs, 0, "input", None)
                dilation = arg(args, kwargs, _DILATION_AT[name], "dilation", 1)
                size = tuple(arg(args, kwargs, 1, "weight", None).shape[2:])
            elif re.match(CONV_OPS, name):
                raise _Refused(f"`atrous_conv2d` called `torch.{name}`, which the check cannot inspect.", [],
                               "atrous_conv2d.uninspectable")
            else:
                return func(*args, **kwargs)
            dilation = tuple(dilation) if isinstance(dilation, (tuple, list)) else (dilation,)
            if any(int(v) != 1 for v in dilation):
                batch = getattr(inp, "shape", (None,))[0]
                raise _Refused(f"a convolution with dilation ≠ 1 was called: `{shown}(..., dilation="
                               f"{dilation[0] if len(set(dilation)) == 1 else dilation})`.",
                               [f"its input has shape {tuple(getattr(inp, 'shape', ()))}"],
                               "atrous_conv2d.dilated_on_subimages" if batch == n * dh * dw and dh * dw > 1
                               else "atrous_conv2d.dilated")
            if len(size) == 2 and (size[0] > kernel[0] or size[1] > kernel[1]):
                raise _Refused(f"`{shown}` was called with a {size[0]} × {size[1]} kernel, larger than the "
                               f"{kernel[0]} × {kernel[1]} one the function was given.", [],
                               "atrous_conv2d.big_kernel")
            if tuple(size) == tuple(kernel):
                record.append(tuple(getattr(inp, "shape", ())))
            return func(*args, **kwargs)
    return DenseOnly()


def space_to_batch(x, weight, bias, padding, dilation, variant=None):
    """Atrous convolution by space-to-batch; ``variant``, the key of a mistake, makes that mistake."""
    import torch.nn.functional as F

    (ph, pw), (dh, dw) = pair(padding), pair(dilation)
    n, c = x.shape[:2]
    cout, _, kh, kw = weight.shape
    h_out, w_out = x.shape[2] + 2 * ph - dh * (kh - 1), x.shape[3] + 2 * pw - dw * (kw - 1)
    pad_after_split = variant == "atrous_conv2d.pad_after_split"
    xp = x if pad_after_split else F.pad(x, [pw, pw, ph, ph])
    hs, ws = math.ceil(xp.shape[2] / dh), math.ceil(xp.shape[3] / dw)
    if variant == "atrous_conv2d.truncated":          # rows beyond the last multiple of d cut off instead
        hs, ws = xp.shape[2] // dh, xp.shape[3] // dw
        xp = xp[:, :, :hs * dh, :ws * dw]
    xp = F.pad(xp, [0, -xp.shape[3] % dw, 0, -xp.shape[2] % dh])            # up to a multiple of d
    sub = xp.reshape(n, c, hs, dh, ws, dw).permute(3, 5, 0, 1, 2, 4).reshape(dh * dw * n, c, hs, ws)
    if pad_after_split:
        sub = F.pad(sub, [pw, pw, ph, ph])
    y = F.conv2d(sub, weight, bias=bias)
    ya, yb = y.shape[-2:]
    phases = (1, 0) if variant == "atrous_conv2d.swapped_phases" else (0, 1)
    out = y.reshape(dh, dw, n, cout, ya, yb).permute(2, 3, 4, phases[0], 5, phases[1]).reshape(n, cout, ya * dh,
                                                                                                 yb * dw)
    if variant in ("atrous_conv2d.uncropped", "atrous_conv2d.truncated"):
        return out
    return out[:, :, :h_out, :w_out]


def atrous_cases(seed, extended):
    import torch.nn.functional as F

    g = generator(seed)
    cases = []
    for n, cin, cout, h, w, k, padding, dilation, has_bias in ATROUS_PUBLIC + (ATROUS_EXTENDED if extended else []):
        (kh, kw), (ph, pw), (dh, dw) = pair(k), pair(padding), pair(dilation)
        x, weight = randn(g, n, cin, h, w), randn(g, cout, cin, kh, kw)
        bias = randn(g, cout) if has_bias else None
        kwargs = dict(padding=padding, dilation=dilation)
        expected = F.conv2d(x, weight, bias, **kwargs)
        mistakes = []

        def add(key, make):
            try:
                out = make()
            except RuntimeError:        # the mistake cannot even run on this case (e.g. a kernel too large)
                return
            if out.shape == expected.shape and out.dtype == expected.dtype:
                if not (out - expected).abs().max() < 1e-3:     # a mistake that changes nothing here is no hint
                    mistakes.append(M.mistake(key, out))
            elif out.shape != expected.shape:
                mistakes.append(M.mistake(key, tuple(out.shape)))

        def by_space_to_batch(key):
            return lambda: space_to_batch(x, weight, bias, padding, dilation, key)
        if dh > 1 or dw > 1:   # per-axis dilations too: wherever the learner's swapped phases show
            add("atrous_conv2d.swapped_phases", by_space_to_batch("atrous_conv2d.swapped_phases"))
        if (ph, pw) != (0, 0):
            add("atrous_conv2d.pad_after_split", by_space_to_batch("atrous_conv2d.pad_after_split"))
        if bias is not None:
            add("atrous_conv2d.no_bias", lambda: F.conv2d(x, weight, None, **kwargs))
            add("atrous_conv2d.bias_twice", lambda: expected + bias[None, :, None, None])
        add("atrous_conv2d.uncropped", by_space_to_batch("atrous_conv2d.uncropped"))
        if (dh > 1 and kh > 1) or (dw > 1 and kw > 1):   # cropped to the size of a dense k × k convolution
            add("atrous_conv2d.crop_without_dilation",
                lambda: by_space_to_batch("atrous_conv2d.uncropped")()[:, :, :h + 2 * ph - kh + 1, :w + 2 * pw - kw + 1])
        add("atrous_conv2d.truncated", by_space_to_batch("atrous_conv2d.truncated"))
        add("atrous_conv2d.holes_too_wide",
            lambda: F.conv2d(x, weight, bias, padding=padding, dilation=(dh + 1, dw + 1)))
        add("atrous_conv2d.ignores_dilation", lambda: F.conv2d(x, weight, bias, padding=padding))
        hp, wp = h + 2 * ph, w + 2 * pw
        note = "" if (hp % dh, wp % dw) == (0, 0) else f"; padded size {hp} × {wp}, not a multiple of d"
        label = (f"x {shape_of(x)}, weight {shape_of(weight)}, bias {shape_of(bias) if bias is not None else 'None'}, "
                 f"padding={padding}, dilation={dilation}{note}")
        cases.append(Case(label, (x, weight, bias), kwargs, expected=expected, mistakes=mistakes))
    return cases


def check_atrous_conv2d(atrous_conv2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``atrous_conv2d(x, weight, bias=None, padding=0, dilation=1)``: stride 1, by space-to-batch.

    x: (N, C_in, H, W); weight: (C_out, C_in, kh, kw); padding, dilation: int or (along H, along W).  Compared
    with ``F.conv2d(x, weight, bias, padding=padding, dilation=dilation)``.  While the learner's code runs, a
    convolution (or ``F.unfold``) with dilation ≠ 1, or with a kernel larger than k × k, is refused; a dense
    one is allowed, and must be used (with the k × k kernel) wherever the dilation matters, once per call.
    """
    check = "atrous_conv2d"
    first = [atrous_cases(seed, extended)]   # run_cases strips its answers; `cases` keeps the questions only
    cases = [Case(c.label, c.args, c.kwargs) for c in first[0]]
    name = getattr(atrous_conv2d, "__name__", check)
    current = {"case": None}
    dense = {}

    def guarded(x, weight, *args, **kwargs):
        index = next(i for i, case in enumerate(cases) if case.args[0] is x)
        current["case"] = cases[index]
        dilation = pair(cases[index].kwargs["dilation"])
        record = []   # this call's dense k × k convolutions
        try:
            with _dense_only((x.shape[0], *dilation), tuple(weight.shape[-2:]), record):
                return atrous_conv2d(x, weight, *args, **kwargs)
        finally:
            dense.setdefault(index, []).append(len(record))
    guarded.__name__ = name

    def used_dense():
        for index, case in enumerate(cases):
            (kh, kw), (dh, dw) = case.args[1].shape[-2:], pair(case.kwargs["dilation"])
            if not (dh > 1 and kh > 1 or dw > 1 and kw > 1):
                continue
            counts = dense.get(index) or [0]
            if not any(counts):
                raise Verdict(CheckResult(
                    check, INCORRECT, f"`{name}` gives the right numbers, but without an ordinary convolution.",
                    case=case.label, hint=M("atrous_conv2d.no_dense"), mistake="atrous_conv2d.no_dense",
                    next_step="Rewrite it with one dense F.conv2d on the stacked sub-images."))
            if max(counts) > 1:
                raise Verdict(CheckResult(
                    check, INCORRECT, f"`{name}` gives the right numbers, but with {max(counts)} convolutions in one "
                    "call, not one.", case=case.label,
                    evidence=[f"{max(counts)} calls of a dense {kh} × {kw} convolution; dilation {(dh, dw)} makes "
                              f"{dh * dw} sub-images, which space to batch stacks into one batch"],
                    hint=M("atrous_conv2d.per_phase"), mistake="atrous_conv2d.per_phase",
                    next_step="Stack the sub-images into the batch, call F.conv2d once, and run this check again."))
        return "Each used one ordinary (dense) convolution with the k × k kernel."

    try:
        return run_cases(check, guarded if callable(atrous_conv2d) else atrous_conv2d,
                         lambda: first.pop() if first else atrous_cases(seed, extended),
                         compare=compare_tensor, strict=strict, after=used_dense,
                         general_hint=M("atrous_conv2d.general"))
    except _Refused as refused:
        case = current["case"]
        return finish(CheckResult(check, INCORRECT, refused.summary, case=case.label if case else None,
                                  evidence=refused.evidence, hint=M(refused.key), mistake=refused.key,
                                  next_step="Rewrite it with a dense F.conv2d (dilation=1, the k × k kernel) on the "
                                            "sub-images, re-run its cell, then run this check again."), strict)
