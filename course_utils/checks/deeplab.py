"""Checks for notebook 08: DeepLab (atrous convolution, depthwise separable convolution, ASPP, dense CRF).

* ``atrous_conv2d`` (stride 1, by space-to-batch) is compared with ``F.conv2d(..., dilation=...)``; while
  the learner's code runs, a convolution or ``F.unfold`` with dilation ≠ 1 or a kernel larger than k × k is
  refused, and a dense one with the k × k kernel must be used.
* ``make_separable_conv`` is judged on its output shape, its strides (the stride on the depthwise step, the
  pointwise one at stride 1), its parameter count (a formula: k²·C_in + C_in·C_out) and its output
  against an independent composition of two ``F.conv2d`` calls (depthwise with ``groups=C_in``, then
  1 × 1) on the learner's own weights.
* ``make_aspp`` must have the output shape, the atrous rates as dilations of its 3 × 3 branches,
  an image-pooling branch, and torchvision's module layout: torchvision's
  ``deeplabv3.ASPP`` (random weights and batch-norm statistics) is loaded into it with
  ``strict=True`` and both must give the same output in eval mode.
* ``mean_field_step`` is compared with an explicit dense computation written here (every pair
  (i, j ≠ i), Potts compatibility, softmax over the labels), not with ``course_utils.crf``; also with
  zero pairwise weights (then the step is softmax(−unary)) and over five iterations.
"""

from __future__ import annotations

from .engine import (INCORRECT, RAISED, UNCHECKABLE, Case, CheckResult, Verdict, own_random_state, call_learner,
                      compare_tensor, generator, randn, run_cases, shape_of)
from .convolution import CONV_OPS

__all__ = ["check_atrous_conv2d", "check_make_separable_conv", "check_make_aspp", "check_mean_field_step",
           "separable_param_count"]


# --------------------------------------------------------------------------
# atrous_conv2d
# --------------------------------------------------------------------------

# (N, C_in, C_out, H, W, k, padding, dilation, bias); stride 1.  Padded sizes that are and are not multiples
# of d, padding 0 and "same" padding d(k − 1)/2, an even kernel, per-axis settings in the hidden ones.
_ATROUS_PUBLIC = [(2, 3, 4, 13, 11, 3, 2, 2, True), (1, 2, 3, 17, 15, 3, 0, 3, False),
                  (2, 4, 2, 12, 14, 3, 3, 3, True), (1, 3, 2, 8, 10, 3, 2, 2, True),
                  (1, 3, 2, 9, 10, 2, 1, 4, True)]
_ATROUS_EXTENDED = [(3, 2, 5, 20, 9, 3, (4, 1), (4, 1), True), (1, 1, 1, 25, 25, 5, 12, 6, False),
                    (2, 5, 3, 10, 21, 1, 0, 7, True), (1, 2, 2, 16, 19, (3, 2), 5, (5, 2), True),
                    (2, 3, 3, 11, 7, 3, 0, (2, 3), True)]

# Where the dilation sits in the positional arguments of the convolutions the guard inspects.
_DILATION_AT = {"conv1d": 5, "conv2d": 5, "conv3d": 5, "convolution": 5, "_convolution": 5,
                "conv_transpose1d": 7, "conv_transpose2d": 7, "conv_transpose3d": 7}

_DILATED_HINT = ("Use dilation=1 inside: the point is to get atrous convolution from an ordinary one. Split the "
                 "padded input into d × d sub-images x[..., i::d, j::d], stack them into the batch, run a dense "
                 "convolution with the k × k kernel, and interleave the outputs back.")
_DILATED_ON_SUBIMAGES_HINT = ("On the sub-images the kernel is compact: pixels d apart in the image are neighbours "
                              "in a sub-image, so the holes are already there; use dilation=1.")
_BIG_KERNEL_HINT = ("Keep the compact k × k kernel: a kernel with zeros inserted between its taps (a 'dilated "
                    "kernel') costs k_eff² instead of k² multiply-adds per output, and on the sub-images it is "
                    "wrong, since their neighbouring pixels are already d apart in the image.")
_NO_DENSE_HINT = ("This exercise builds atrous convolution from an ordinary one: split the padded input into "
                  "d × d sub-images x[..., i::d, j::d] (space to batch), call F.conv2d on them with the k × k "
                  "kernel and dilation=1, and interleave the outputs (batch to space).")


class _Refused(BaseException):
    """Raised inside the learner's code by the guard; a BaseException so that `except Exception` cannot hide it."""

    def __init__(self, summary, evidence, hint):
        super().__init__(summary)
        self.summary, self.evidence, self.hint = summary, evidence, hint


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
                               "Use F.conv2d (dilation=1) for the ordinary convolution.")
            else:
                return func(*args, **kwargs)
            dilation = tuple(dilation) if isinstance(dilation, (tuple, list)) else (dilation,)
            if any(int(v) != 1 for v in dilation):
                batch = getattr(inp, "shape", (None,))[0]
                raise _Refused(f"a convolution with dilation ≠ 1 was called: `{shown}(..., dilation="
                               f"{dilation[0] if len(set(dilation)) == 1 else dilation})`.",
                               [f"its input has shape {tuple(getattr(inp, 'shape', ()))}"],
                               _DILATED_ON_SUBIMAGES_HINT if batch == n * dh * dw and dh * dw > 1 else _DILATED_HINT)
            if len(size) == 2 and (size[0] > kernel[0] or size[1] > kernel[1]):
                raise _Refused(f"`{shown}` was called with a {size[0]} × {size[1]} kernel, larger than the "
                               f"{kernel[0]} × {kernel[1]} one the function was given.", [], _BIG_KERNEL_HINT)
            if tuple(size) == tuple(kernel):
                record.append(tuple(getattr(inp, "shape", ())))
            return func(*args, **kwargs)
    return DenseOnly()


def _space_to_batch(x, weight, bias, padding, dilation, variant=None):
    """Atrous convolution by space-to-batch, for the hints: ``variant`` makes a known mistake."""
    import torch.nn.functional as F

    from .engine import pair
    (ph, pw), (dh, dw) = pair(padding), pair(dilation)
    n, c = x.shape[:2]
    cout, _, kh, kw = weight.shape
    h_out, w_out = x.shape[2] + 2 * ph - dh * (kh - 1), x.shape[3] + 2 * pw - dw * (kw - 1)
    xp = x if variant == "pad_after_split" else F.pad(x, [pw, pw, ph, ph])
    hs, ws = -(-xp.shape[2] // dh), -(-xp.shape[3] // dw)
    if variant == "truncated":                        # rows beyond the last multiple of d cut off instead
        hs, ws = xp.shape[2] // dh, xp.shape[3] // dw
        xp = xp[:, :, :hs * dh, :ws * dw]
    xp = F.pad(xp, [0, ws * dw - xp.shape[3], 0, hs * dh - xp.shape[2]])
    sub = xp.reshape(n, c, hs, dh, ws, dw).permute(3, 5, 0, 1, 2, 4).reshape(dh * dw * n, c, hs, ws)
    if variant == "pad_after_split":
        sub = F.pad(sub, [pw, pw, ph, ph])
    y = F.conv2d(sub, weight, bias)
    ya, yb = y.shape[-2:]
    phases = (1, 0) if variant == "swapped_phases" else (0, 1)
    out = y.reshape(dh, dw, n, cout, ya, yb).permute(2, 3, 4, phases[0], 5, phases[1]).reshape(n, cout, ya * dh,
                                                                                                 yb * dw)
    if variant in ("uncropped", "truncated"):
        return out
    return out[:, :, :h_out, :w_out]


def _atrous_cases(seed, extended):
    import torch.nn.functional as F

    from .engine import pair
    g = generator(seed)
    cases = []
    for n, cin, cout, h, w, k, padding, dilation, has_bias in _ATROUS_PUBLIC + (
            _ATROUS_EXTENDED if extended else []):
        (kh, kw), (ph, pw), (dh, dw) = pair(k), pair(padding), pair(dilation)
        x, weight = randn(g, n, cin, h, w), randn(g, cout, cin, kh, kw)
        bias = randn(g, cout) if has_bias else None
        kwargs = dict(padding=padding, dilation=dilation)
        expected = F.conv2d(x, weight, bias, **kwargs)
        mistakes = []

        def add(hint, make):
            try:
                out = make()
            except RuntimeError:        # the mistake cannot even run on this case (e.g. a kernel too large)
                return
            if out.shape == expected.shape and out.dtype == expected.dtype:
                if not (out - expected).abs().max() < 1e-3:     # a mistake that changes nothing here is no hint
                    mistakes.append((hint, out))
            elif out.shape != expected.shape:
                mistakes.append((hint, tuple(out.shape)))
        if dh == dw > 1:
            add("The phases are interleaved in the wrong order (i and j transposed): output (a, b) of sub-image "
                "(i, j) = x_p[..., i::d, j::d] goes to row a·d + i, column b·d + j.",
                lambda: _space_to_batch(x, weight, bias, padding, dilation, "swapped_phases"))
        if (ph, pw) != (0, 0):
            add("Pad first, then split: the padding belongs to the image (p pixels around it), so take the "
                "sub-images of the padded input; padding each sub-image by p shifts the phases.",
                lambda: _space_to_batch(x, weight, bias, padding, dilation, "pad_after_split"))
        if bias is not None:
            add("The bias is missing: add bias[o] to every position of output channel o (passing it to F.conv2d "
                "on the sub-images does it once).", lambda: F.conv2d(x, weight, None, **kwargs))
            add("The bias is added twice: F.conv2d on the sub-images already adds it, do not add it again "
                "(nor once per phase).", lambda: expected + bias[None, :, None, None])
        add("Crop the interleaved output to H_out = H + 2p − d(k − 1) rows (and W_out columns): the sub-images "
            "were padded up to a multiple of d, so the interleaved map is a little larger.",
            lambda: _space_to_batch(x, weight, bias, padding, dilation, "uncropped"))
        add("Pad the input up to a multiple of d (zeros at the bottom and right) instead of cutting the last "
            "rows off: the outputs near the far edge need them. Then crop to H + 2p − d(k − 1).",
            lambda: _space_to_batch(x, weight, bias, padding, dilation, "truncated"))
        add("Your taps are d + 1 pixels apart; with dilation d they are d apart (one pixel skipped at rate 2): "
            "take every d-th pixel, x[..., i::d, j::d], d × d sub-images.",
            lambda: F.conv2d(x, weight, bias, padding=padding, dilation=(dh + 1, dw + 1)))
        add("Dilation is ignored: a dense k × k convolution of the whole image reads neighbouring pixels; run "
            "it on the d × d sub-images, where neighbours are d pixels apart in the image. H_out = H + 2p − "
            "d(k − 1).",
            lambda: F.conv2d(x, weight, bias, padding=padding))
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
    one is allowed, and must be used (with the k × k kernel) wherever the dilation matters.
    """
    from .engine import finish, pair
    check = "atrous_conv2d"
    cases = _atrous_cases(seed, extended)
    name = getattr(atrous_conv2d, "__name__", check)
    current = {"case": None}
    dense = {}

    def guarded(x, weight, *args, **kwargs):
        index = next(i for i, case in enumerate(cases) if case.args[0] is x)
        current["case"] = cases[index]
        dilation = pair(cases[index].kwargs["dilation"])
        record = dense.setdefault(index, [])
        with _dense_only((x.shape[0], *dilation), tuple(weight.shape[-2:]), record):
            return atrous_conv2d(x, weight, *args, **kwargs)
    guarded.__name__ = name

    def used_dense():
        for index, case in enumerate(cases):
            (kh, kw), (dh, dw) = case.args[1].shape[-2:], pair(case.kwargs["dilation"])
            if (dh > 1 and kh > 1 or dw > 1 and kw > 1) and not dense.get(index):
                raise Verdict(CheckResult(
                    check, INCORRECT, f"`{name}` gives the right numbers, but without an ordinary convolution.",
                    case=case.label, hint=_NO_DENSE_HINT,
                    next_step="Rewrite it with one dense F.conv2d on the stacked sub-images."))
        return "Each used an ordinary (dense) convolution with the k × k kernel."

    try:
        return run_cases(check, guarded if callable(atrous_conv2d) else atrous_conv2d, cases,
                         compare=compare_tensor, strict=strict, after=used_dense,
                         general_hint="out[b, o, r, c] = bias[o] + Σ over c', m, n of "
                                      "x_padded[b, c', r + m·d, c + n·d] · weight[o, c', m, n]; output (r, c) "
                                      "comes from sub-image (r mod d, c mod d), at (r // d, c // d).")
    except _Refused as refused:
        case = current["case"]
        return finish(CheckResult(check, INCORRECT, refused.summary, case=case.label if case else None,
                                  evidence=refused.evidence, hint=refused.hint,
                                  next_step="Rewrite it with a dense F.conv2d (dilation=1, the k × k kernel) on the "
                                            "sub-images, re-run its cell, then run this check again."), strict)


# --------------------------------------------------------------------------
# Model helpers shared by the two model checks
# --------------------------------------------------------------------------

def _build(check, factory, label, *args, first, **kwargs):
    from .classic_architectures import _learner_model
    return _learner_model(check, factory, label, *args, meta=False, first=first, **kwargs)


def _forward(check, model, x, label):
    """The learner's forward in eval mode, guarded; returns the output."""
    import torch
    model.eval()
    name = f"{type(model).__name__}.forward"
    case = Case(f"{label}, eval mode, on x of shape {tuple(x.shape)}", (x,))

    def run(x):
        with torch.no_grad():
            return model(x)
    run.__name__ = name
    out, _ = call_learner(check, run, case, first=True, name=name)
    if out is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint="Did you forget a `return` at the end of forward?",
                                  next_step="Return the output tensor and run the check again."))
    if not isinstance(out, torch.Tensor):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {type(out).__name__}; expected a tensor.",
                                  case=case.label, next_step="Return the output tensor and run the check again."))
    return out, case


def _shape_verdict(check, out, want, case, hint):
    if tuple(out.shape) != tuple(want):
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.", case=case.label,
                                  evidence=[f"expected {tuple(want)}, got {tuple(out.shape)}"], hint=hint,
                                  next_step="Fix the layers and run the check again."))


# --------------------------------------------------------------------------
# make_separable_conv
# --------------------------------------------------------------------------

def separable_param_count(in_channels, out_channels, kernel_size, *, variant=None):
    """Weights of a depthwise separable convolution without biases: k²·C_in (depthwise) + C_in·C_out (pointwise)."""
    k2 = kernel_size * kernel_size
    if variant == "no_groups":
        return k2 * in_channels * in_channels + in_channels * out_channels
    if variant == "pointwise_first":
        return in_channels * out_channels + k2 * out_channels
    if variant == "biases":
        return k2 * in_channels + in_channels + in_channels * out_channels + out_channels
    if variant == "standard":
        return k2 * in_channels * out_channels
    if variant == "batch_norm":   # BatchNorm2d after the pointwise step: 2 parameters per output channel
        return k2 * in_channels + in_channels * out_channels + 2 * out_channels
    if variant == "batch_norm_both":
        return k2 * in_channels + 2 * in_channels + in_channels * out_channels + 2 * out_channels
    return k2 * in_channels + in_channels * out_channels


_SEP_MISTAKES = [
    ("no_groups", "The depthwise convolution needs `groups=in_channels`: each input channel gets its own k × k "
                  "filter (k²·C_in weights). Without groups every filter spans all channels (k²·C_in² weights)."),
    ("pointwise_first", "Depthwise first, then pointwise: the k × k depthwise convolution works on the C_in input "
                        "channels, and the 1 × 1 pointwise convolution maps C_in to C_out."),
    ("biases", "Neither convolution has a bias here (`bias=False`): in DeepLab v3+ batch norm follows, and the "
               "formula k²·C_in + C_in·C_out counts weights only."),
    ("batch_norm", "This exercise's block is the two convolutions only: batch norm and ReLU come after it, in the "
                   "network (k²·C_in + C_in·C_out weights, no BatchNorm2d inside)."),
    ("batch_norm_both", "This exercise's block is the two convolutions only: batch norm and ReLU come after it, in the "
                        "network (k²·C_in + C_in·C_out weights, no BatchNorm2d inside)."),
    ("standard", "This is a standard convolution (k²·C_in·C_out weights): split it into a depthwise k × k "
                 "convolution (groups=C_in) and a 1 × 1 pointwise one."),
]

_STRIDE_HINT = ("Pass `stride` to the depthwise convolution: striding after it wastes s² times the depthwise "
                "work (the pointwise 1 × 1 convolution keeps stride 1).")

# (C_in, C_out, k, stride, dilation, x shape)
_SEP_PUBLIC = [(4, 6, 3, 1, 1, (2, 4, 9, 11)), (3, 5, 3, 1, 2, (1, 3, 12, 10)), (6, 4, 3, 2, 1, (2, 6, 13, 9))]
_SEP_EXTENDED = [(5, 5, 5, 1, 3, (1, 5, 17, 14)), (2, 7, 3, 2, 2, (3, 2, 15, 16)), (8, 3, 1, 1, 1, (1, 8, 6, 7))]


def _sep_label(cin, cout, k, stride, dilation):
    return f"make_separable_conv({cin}, {cout}, kernel_size={k}, stride={stride}, dilation={dilation})"


def check_make_separable_conv(make_separable_conv, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_separable_conv(in_channels, out_channels, kernel_size=3, stride=1, dilation=1)``.

    The module must have ``.depthwise`` (k × k, groups=C_in, stride, dilation, padding d·(k−1)/2, no bias) and
    ``.pointwise`` (1 × 1, C_in → C_out, stride 1, no bias) convolutions applied in that order.  Compared: the
    output shape, the strides of the two layers (the stride belongs to the depthwise one), the parameter count with :func:`separable_param_count`, and the output with
    ``F.conv2d(F.conv2d(x, depthwise.weight, stride, padding, dilation, groups=C_in), pointwise.weight)``.
    """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    check = "make_separable_conv"
    g = generator(seed)
    settings = _SEP_PUBLIC + (_SEP_EXTENDED if extended else [])

    def behaviour():
        for index, (cin, cout, k, stride, dilation, shape) in enumerate(settings):
            label = _sep_label(cin, cout, k, stride, dilation)
            with own_random_state():
                torch.manual_seed(int(seed) * 100 + index)
                model = _build(check, make_separable_conv, label, cin, cout, first=index == 0, kernel_size=k,
                               stride=stride, dilation=dilation)
            x = randn(g, *shape)
            out, case = _forward(check, model, x, label)
            padding = dilation * (k - 1) // 2
            hout = (shape[2] + 2 * padding - dilation * (k - 1) - 1) // stride + 1
            wout = (shape[3] + 2 * padding - dilation * (k - 1) - 1) // stride + 1
            want = (shape[0], cout, hout, wout)
            if tuple(out.shape) != want:
                got = tuple(out.shape)
                if got[1] != cout:
                    hint = "The pointwise 1 × 1 convolution maps C_in to C_out channels."
                elif stride > 1 and got[2:] == (shape[2], shape[3]):
                    hint = "Pass `stride` to the depthwise convolution."
                elif dilation > 1 and got[2] < hout:
                    hint = ("Scale the padding with the dilation, padding = d·(k − 1)/2, so that a stride-1 layer keeps "
                            "the size: the effective kernel is k + (k − 1)(d − 1).")
                else:
                    hint = ("Depthwise: kernel_size, stride, dilation, padding = dilation·(kernel_size − 1)//2, "
                            "groups=in_channels; pointwise: 1 × 1.")
                _shape_verdict(check, out, want, case, hint)
            dw, pw = getattr(model, "depthwise", None), getattr(model, "pointwise", None)
            if not isinstance(dw, nn.Conv2d) or not isinstance(pw, nn.Conv2d):
                raise Verdict(CheckResult(
                    check, INCORRECT, "the module has no `.depthwise` and `.pointwise` convolutions.", case=label,
                    hint="Store the two layers as `self.depthwise = nn.Conv2d(...)` and `self.pointwise = "
                         "nn.Conv2d(...)`: the check reads their weights.",
                    next_step="Name the two layers and run the check again."))
            got_count = sum(p.numel() for p in model.parameters())
            expected_count = separable_param_count(cin, cout, k)
            if got_count != expected_count:
                hint = next((h for v, h in _SEP_MISTAKES if separable_param_count(cin, cout, k, variant=v) == got_count),
                            "Count: depthwise k²·C_in weights (groups=C_in), pointwise C_in·C_out, no biases.")
                raise Verdict(CheckResult(check, INCORRECT, "the parameter count differs from the formula.",
                                          case=label, evidence=[f"expected k²·C_in + C_in·C_out = {expected_count:,}, "
                                                                f"got {got_count:,}"], hint=hint,
                                          next_step="Fix the layers and run the check again."))
            if dw.weight.shape != (cin, 1, k, k) or pw.weight.shape != (cout, cin, 1, 1):
                raise Verdict(CheckResult(
                    check, INCORRECT, "the two layers have the wrong weight shapes.", case=label,
                    evidence=[f"depthwise.weight {tuple(dw.weight.shape)} (expected {(cin, 1, k, k)}), pointwise."
                              f"weight {tuple(pw.weight.shape)} (expected {(cout, cin, 1, 1)})"],
                    hint=_SEP_MISTAKES[1][1], next_step="Fix the layers and run the check again."))
            if tuple(dw.stride) != (stride, stride) or tuple(pw.stride) != (1, 1):
                # Striding the 1 × 1 step instead gives the same numbers (subsampling commutes with a 1 × 1
                # convolution), but the depthwise step then runs at full resolution: s² times its work.
                raise Verdict(CheckResult(
                    check, INCORRECT, "the stride sits on the wrong convolution.", case=label,
                    evidence=[f"depthwise.stride {tuple(dw.stride)} (expected {(stride, stride)}), pointwise.stride "
                              f"{tuple(pw.stride)} (expected (1, 1))"],
                    hint=_STRIDE_HINT, next_step="Fix the layers and run the check again."))
            with torch.no_grad():
                def reference(dilation=dilation, stride=stride, padding=padding, order="dw"):
                    mid = F.conv2d(x, dw.weight, None, stride=stride, padding=padding, dilation=dilation, groups=cin)
                    return F.conv2d(mid, pw.weight)
                expected = reference()
                mistakes = []
                if dilation > 1:
                    wrong = reference(dilation=1, padding=(k - 1) // 2)
                    mistakes.append(("Pass `dilation` to the depthwise convolution (and padding = d·(k − 1)/2).",
                                     wrong))
                mistakes.append(("A ReLU (or another non-linearity) sits between the two convolutions; this "
                                 "exercise's layer has none (Xception's separable convolution, Chollet 2017).",
                                 F.conv2d(F.relu(F.conv2d(x, dw.weight, None, stride=stride, padding=padding,
                                                          dilation=dilation, groups=cin)), pw.weight)))
            compare_tensor(check, out.detach().cpu(), Case(case.label, (), expected=expected, mistakes=mistakes),
                           name=f"{type(model).__name__}.forward",
                           general_hint="forward = pointwise(depthwise(x)), nothing else in between.")
        return (f"Shapes, parameter counts (k²·C_in + C_in·C_out) and outputs match on {len(settings)} settings.")

    return run_cases(check, make_separable_conv, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# make_aspp
# --------------------------------------------------------------------------

# (C_in, C_out, rates, x shape)
_ASPP_PUBLIC = [(8, 4, (2, 3, 5), (2, 8, 11, 13)), (6, 5, (1, 4, 6), (1, 6, 9, 16))]
_ASPP_EXTENDED = [(5, 3, (3, 6, 9), (2, 5, 20, 14)), (4, 6, (12, 24, 36), (1, 4, 33, 33))]


def _aspp_label(cin, cout, rates):
    return f"make_aspp({cin}, {cout}, rates={rates})"


def _randomise_(module, g):
    """Random weights and batch-norm statistics from ``g`` (the check's generator), in place."""
    import torch
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                if name.endswith("running_var"):
                    tensor.copy_(torch.rand(tensor.shape, generator=g) + 0.5)
                else:
                    tensor.copy_(torch.randn(tensor.shape, generator=g) * 0.5)


def _aspp_variants(ref, x):
    """Outputs of torchvision's ASPP with one known mistake, for the hints."""
    import torch
    import torch.nn.functional as F
    with torch.no_grad():
        branches = [conv(x) for conv in ref.convs]
        pooled = ref.convs[4]
        maxed = x.amax(dim=(2, 3), keepdim=True)
        for layer in list(pooled)[1:]:
            maxed = layer(maxed)
        max_branch = F.interpolate(maxed, size=x.shape[-2:], mode="bilinear", align_corners=False)
        no_relu = ref.project[1](ref.project[0](torch.cat(branches, dim=1)))
        return [
            ("The image-pooling branch averages the whole map (`nn.AdaptiveAvgPool2d(1)`), it does not take the "
             "maximum.", ref.project(torch.cat(branches[:4] + [max_branch], dim=1))),
            ("The projection is conv 1 × 1 → BatchNorm2d → ReLU (then dropout): the ReLU is missing.", no_relu),
            ("Concatenate the branches in torchvision's order: 1 × 1, the three atrous rates (in the order given), "
             "image pooling.", ref.project(torch.cat(branches[::-1], dim=1))),
        ]


def check_make_aspp(make_aspp, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_aspp(in_channels, out_channels, rates)``: atrous spatial pyramid pooling (DeepLab v3).

    In eval mode the output must be (N, out_channels, H, W); the three 3 × 3 branches must have the rates as
    dilations (padding = rate); there must be an image-pooling branch; and torchvision's
    ``deeplabv3.ASPP(in_channels, rates, out_channels)``, with random weights and batch-norm statistics, must
    load into the learner's module with ``strict=True`` and give the same output.
    """
    import torch
    import torch.nn as nn
    from torchvision.models.segmentation.deeplabv3 import ASPP
    check = "make_aspp"
    g = generator(seed)
    settings = _ASPP_PUBLIC + (_ASPP_EXTENDED if extended else [])

    def behaviour():
        for index, (cin, cout, rates, shape) in enumerate(settings):
            label = _aspp_label(cin, cout, rates)
            model = _build(check, make_aspp, label, cin, cout, rates, first=index == 0)
            x = randn(g, *shape)
            try:
                out, case = _forward(check, model, x, label)
            except Verdict as verdict:
                error = verdict.result.evidence[0] if verdict.result.evidence else ""
                if verdict.result.outcome == RAISED and "Sizes of tensors must match" in error:
                    verdict.result.hint = ("The branches' maps have different sizes: give each 3 × 3 atrous "
                                           "convolution `padding=rate` (its effective kernel is 2·rate + 1), and "
                                           "upsample the pooled branch back to H × W.")
                raise
            want = (shape[0], cout, shape[2], shape[3])
            if tuple(out.shape) != want:
                got = tuple(out.shape)
                hint = ("Project the concatenation back to out_channels with a 1 × 1 convolution (5·out_channels → "
                        "out_channels)." if got[1] != cout else
                        "Every branch keeps the size: padding = rate for the 3 × 3 atrous convolutions, and the "
                        "pooled branch upsampled back to H × W.")
                _shape_verdict(check, out, want, case, hint)
            convs3 = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
            dilations = [m.dilation[0] for m in convs3]
            if sorted(dilations) != sorted(rates):
                raise Verdict(CheckResult(
                    check, INCORRECT, "the 3 × 3 branches do not use the given atrous rates.", case=label,
                    evidence=[f"expected dilations {list(rates)}, got {dilations}"],
                    hint=("Each rate is the *dilation* of a 3 × 3 convolution (`dilation=rate, padding=rate`), not its "
                          "padding alone." if dilations and all(d == 1 for d in dilations) else
                          "Use the `rates` argument, one 3 × 3 branch per rate, as `dilation=rate` (with "
                          "`padding=rate`), not fixed numbers such as DeepLab's (6, 12, 18)."),
                    next_step="Fix the branches and run the check again."))
            if not any(isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d))
                       for m in model.modules()):
                raise Verdict(CheckResult(
                    check, INCORRECT, "there is no image-pooling branch.", case=label,
                    hint="ASPP has five branches: a 1 × 1 convolution, three 3 × 3 atrous convolutions and image "
                         "pooling (nn.AdaptiveAvgPool2d(1) → 1 × 1 conv → BN → ReLU, upsampled back to H × W), "
                         "which gives every pixel the image's global context.",
                    next_step="Add the branch and run the check again."))
            with own_random_state():
                reference = ASPP(cin, list(rates), cout)
            _randomise_(reference, g)
            reference.eval()
            mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
            theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
            if mine != theirs:
                missing = sorted(set(theirs) - set(mine))
                extra = sorted(set(mine) - set(theirs))
                resized = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
                evidence = []
                if missing:
                    evidence.append(f"missing keys: {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}")
                if extra:
                    evidence.append(f"unexpected keys: {', '.join(extra[:4])}{' …' if len(extra) > 4 else ''}")
                for k in resized[:2]:
                    evidence.append(f"{k}: expected shape {theirs[k]}, got {mine[k]}")
                def is_conv_bias(key):   # e.g. convs.1.0.bias (a branch) or convs.4.1.bias (image pooling)
                    try:
                        return key.endswith(".bias") and isinstance(model.get_submodule(key.rsplit(".", 1)[0]),
                                                                    nn.Conv2d)
                    except AttributeError:
                        return False
                if any(is_conv_bias(k) for k in extra):
                    hint = "The convolutions have no bias (`bias=False`): batch norm follows each of them."
                elif any(k.startswith("project.0") for k in resized):
                    hint = ("The projection reads the concatenation of all five branches: "
                            "nn.Conv2d(5 * out_channels, out_channels, 1, bias=False).")
                else:
                    hint = ("Use torchvision's layout: `self.convs = nn.ModuleList([...five branches...])`, each an "
                            "nn.Sequential (conv, BatchNorm2d, ReLU; the pooling branch starts with "
                            "nn.AdaptiveAvgPool2d(1)), and `self.project = nn.Sequential(conv 1 × 1, BatchNorm2d, "
                            "ReLU, Dropout(0.5))`.")
                raise Verdict(CheckResult(check, INCORRECT, "its state_dict does not match torchvision's ASPP.",
                                          case=label, evidence=evidence, hint=hint,
                                          next_step="Fix the layout and run the check again."))
            model.load_state_dict(reference.state_dict(), strict=True)
            out, case = _forward(check, model, x, label + " with torchvision's weights loaded")
            with torch.no_grad():
                expected = reference(x)
            compare_tensor(check, out.detach().cpu(), Case(case.label, (), expected=expected,
                                                           mistakes=_aspp_variants(reference, x)),
                           name=f"{type(model).__name__}.forward",
                           general_hint="Run every branch on x, upsample the pooled one back to H × W "
                                        "(bilinear), concatenate along the channels, project.")
        return f"Shapes, rates, image pooling and outputs with torchvision's weights match on {len(settings)} settings."

    return run_cases(check, make_aspp, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# mean_field_step
# --------------------------------------------------------------------------

def _kernels(image, theta_alpha, theta_beta, theta_gamma):
    """The two dense kernel matrices, written out pair by pair with broadcasting (independent of course_utils.crf)."""
    import torch
    c, h, w = image.shape
    pos = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")).reshape(2, -1).double()
    col = image.reshape(c, -1).double()
    dp = ((pos[:, :, None] - pos[:, None, :]) ** 2).sum(0)
    dc = ((col[:, :, None] - col[:, None, :]) ** 2).sum(0)
    appearance = torch.exp(-dp / (2 * theta_alpha ** 2) - dc / (2 * theta_beta ** 2))
    smooth = torch.exp(-dp / (2 * theta_gamma ** 2))
    return appearance.float(), smooth.float()


def _step(unary, q, ka, ks, wa, ws, variant=None):
    """The mean-field update by explicit sums over j ≠ i, in float64; ``variant`` makes a known mistake."""
    import torch
    L = q.shape[0]
    n = q[0].numel()
    U, Q = unary.reshape(L, n).double(), q.reshape(L, n).double()
    Ka, Ks = ka.double(), ks.double()
    if variant == "swapped_weights":
        wa, ws = ws, wa
    off = 1 - torch.eye(n, dtype=torch.float64)
    if variant != "self":
        Ka, Ks = Ka * off, Ks * off
    if variant == "ignores_q":
        Q = torch.softmax(-U, dim=0)
    if variant == "column_major":   # pixels numbered column by column on the q side only
        h, w = q.shape[1:]
        Qt = q.transpose(1, 2).reshape(L, n).double()
        m = (wa * Qt @ Ka.t() + ws * Qt @ Ks.t()).reshape(L, w, h).transpose(1, 2).reshape(L, n)
    else:
        m = wa * Q @ Ka.t() + ws * Q @ Ks.t()                       # m[l, i] = Σ_j k(i, j) Q_j(l)
    if variant == "normalised":
        m = m / m.sum(dim=0, keepdim=True)
    if variant == "no_potts":
        pair = m
    elif variant == "sign_potts":
        pair = -(m.sum(dim=0, keepdim=True) - m)
    else:
        pair = m.sum(dim=0, keepdim=True) - m                     # μ(l, l') = [l ≠ l']
    energy = U + pair
    if variant == "no_unary":
        energy = pair
    if variant == "plus":
        out = torch.softmax(energy, dim=0)
    elif variant == "no_softmax":
        out = torch.exp(-energy)
    elif variant == "softmax_pixels":
        out = torch.softmax(-energy, dim=1)
    else:
        out = torch.softmax(-energy, dim=0)
    return out.float().reshape(q.shape)


_MF_MISTAKES = [
    ("self", "Leave out the self-connection j = i: subtract each kernel's diagonal contribution (k(i, i) = 1, times "
             "Q_i) from the message, or zero the diagonal of a copy (`k - torch.diag(k.diagonal())`, never in "
             "place: the same kernels serve every iteration). A pixel must not vote for itself."),
    ("plus", "The sign is flipped: Q ∝ exp(−E) with E = unary + pairwise, so take softmax of the *negative* energy."),
    ("no_unary", "The unary term is missing: E_i(l) = ψu_i(l) + pairwise_i(l); without ψu the network's scores are "
                 "forgotten."),
    ("no_potts", "Apply the Potts compatibility μ(l, l') = [l ≠ l']: label l is penalised by the messages of the "
                 "*other* labels (message.sum(over labels) − message), not by its own."),
    ("sign_potts", "The Potts term penalises disagreement: add (Σ_l' m(l') − m(l)) to the energy, do not subtract it."),
    ("normalised", "Do not normalise the message over the labels before the compatibility transform: the kernel "
                   "sums carry how many similar pixels vote, and dividing removes it."),
    ("swapped_weights", "The weights are swapped: w_appearance multiplies the appearance (bilateral) kernel, "
                        "w_smooth the smoothness kernel."),
    ("ignores_q", "The message is computed from the current marginals `q`, not from softmax(−unary): each step "
                  "starts from the previous step's Q."),
    ("no_softmax", "Normalise over the labels: Q_i(l) = exp(−E_i(l)) / Σ_l' exp(−E_i(l')), i.e. a softmax over dim 0."),
    ("column_major", "The kernels number the pixels row by row (i = row · W + column), as `q.reshape(L, -1)` does; "
                     "flatten q that way (no transpose) and reshape the result back the same way."),
    ("softmax_pixels", "The softmax runs over the labels (dim 0), not over the pixels: each pixel's marginals sum "
                       "to 1."),
]

# (L, H, W, C, w_appearance, theta_alpha, theta_beta, w_smooth, theta_gamma)
_MF_PUBLIC = [(3, 5, 6, 3, 4.0, 3.0, 20.0, 3.0, 1.0), (2, 7, 4, 1, 2.0, 5.0, 30.0, 1.5, 2.0),
              (4, 6, 6, 3, 1.0, 2.0, 40.0, 2.0, 1.5)]
_MF_EXTENDED = [(5, 4, 9, 3, 3.0, 4.0, 25.0, 0.5, 3.0), (2, 8, 8, 3, 5.0, 6.0, 15.0, 3.0, 1.0),
                (3, 3, 11, 2, 0.7, 1.5, 60.0, 4.0, 0.8)]


def _mf_cases(seed, extended):
    import torch
    g = generator(seed)
    cases = []
    settings = _MF_PUBLIC + (_MF_EXTENDED if extended else [])
    for L, h, w, c, wa, ta, tb, ws, tg in settings:
        unary = randn(g, L, h, w) * 2
        q = torch.softmax(randn(g, L, h, w) * 2, dim=0)
        image = torch.rand(c, h, w, generator=g) * 255
        ka, ks = _kernels(image, ta, tb, tg)
        args = (unary, q, ka, ks, wa, ws)
        mistakes = [(hint, _step(*args, variant=v)) for v, hint in _MF_MISTAKES]
        cases.append(Case(f"unary/q of shape {(L, h, w)}, kernels {tuple(ka.shape)}, w_appearance={wa}, "
                          f"w_smooth={ws} (θα={ta}, θβ={tb}, θγ={tg})", args, expected=_step(*args),
                          mistakes=mistakes, atol=1e-5, rtol=1e-4))
    # A known value: without pairwise weights the step is softmax(−unary), whatever q is.
    L, h, w = 3, 4, 5
    unary, q = randn(g, L, h, w), torch.softmax(randn(g, L, h, w), dim=0)
    ka, ks = _kernels(torch.rand(3, h, w, generator=g) * 255, 2.0, 20.0, 1.0)
    cases.append(Case(f"w_appearance=0, w_smooth=0 (the step must return softmax(−unary) over the labels), "
                      f"unary of shape {(L, h, w)}", (unary, q, ka, ks, 0.0, 0.0),
                      expected=torch.softmax(-unary, dim=0),
                      mistakes=[("With zero weights only the unary is left: Q = softmax(−unary) over the labels "
                                 "(dim 0); the sign or the axis is wrong.", torch.softmax(unary, dim=0)),
                                ("With zero weights only the unary is left: Q = softmax(−unary) over the labels "
                                 "(dim 0); the sign or the axis is wrong.",
                                 torch.softmax(-unary.reshape(L, -1), dim=1).reshape(L, h, w))]))
    return cases


def _iterated(step, steps):
    def iterate(unary, q, ka, ks, wa, ws):
        for _ in range(steps):
            q = step(unary, q, ka, ks, wa, ws)
        return q
    iterate.__name__ = getattr(step, "__name__", "mean_field_step")
    return iterate


def check_mean_field_step(mean_field_step, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``mean_field_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth) -> (L, H, W)``.

    unary, q: (L, H, W); k_appearance, k_smooth: (N, N) kernel matrices, N = H·W, pixels numbered row by
    row, diagonal 1.  Compared with an explicit computation: Q_i(l) = softmax over l of
    −(ψu_i(l) + Σ_l' [l ≠ l'] Σ_{j ≠ i} (w_a k_a(i, j) + w_s k_s(i, j)) Q_j(l')); on small random images, with
    zero weights (softmax(−unary)), and over five iterations.
    """
    import torch
    check = "mean_field_step"
    g = generator(seed + 1)
    shapes = [(3, 6, 5)] + ([(4, 7, 6)] if extended else [])

    def iterations():
        for L, h, w in shapes:
            unary = randn(g, L, h, w) * 2
            q = torch.softmax(-unary, dim=0)
            ka, ks = _kernels(torch.rand(3, h, w, generator=g) * 255, 3.0, 25.0, 1.0)
            expected = q
            for _ in range(5):
                expected = _step(unary, expected, ka, ks, 4.0, 3.0)
            case = Case(f"five iterations from q = softmax(−unary), unary of shape {(L, h, w)}, w_appearance=4, "
                        "w_smooth=3", (unary, q, ka, ks, 4.0, 3.0), expected=expected, atol=1e-4, rtol=1e-4)
            got, _ = call_learner(check, _iterated(mean_field_step, 5), case, first=False,
                                  name=getattr(mean_field_step, "__name__", check))
            compare_tensor(check, got, case, name=getattr(mean_field_step, "__name__", check),
                           general_hint="Each step: message from q, Potts compatibility, add the unary, softmax of "
                                        "the negative energy over the labels.")
        return "Five iterations in a row match too."

    return run_cases(check, mean_field_step, _mf_cases(seed, extended), compare=compare_tensor, strict=strict,
                     general_hint="E_i(l) = unary_i(l) + Σ_l' [l ≠ l'] m_i(l'), with m_i(l) = Σ_{j ≠ i} "
                                  "(w_a·K_a[i, j] + w_s·K_s[i, j]) q_j(l); return softmax(−E) over the labels.",
                     after=iterations)
