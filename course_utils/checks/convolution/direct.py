"""Notebook 01, direct convolutions: ``conv1d_full`` (vs ``numpy.convolve``), ``conv2d_true`` and ``conv2d``
(vs ``F.conv2d``), and what the convolution checks refuse (``CONV_OPS``, ``conv_ops``, ``_conv2d_forbidden``),
which ``im2col`` and the checks of notebooks 06 and 08 share."""

from __future__ import annotations

import functools

from ..engine import (DOES_THE_WORK, REIMPLEMENTED, Case, CheckResult, compare_tensor, generator, later, pair, randn,
                      run_cases, shape_of)
from ..messages.convolution import M

__all__ = ["check_conv1d_full", "check_conv2d_true", "check_conv2d", "CONV_OPS", "conv_ops"]

# Any torch convolution, however it is reached: F.conv2d, torch.ops.aten.convolution,
# F.conv3d on an unsqueezed input, a transposed convolution, cudnn/mkldnn variants.
CONV_OPS = r"^(_|cudnn_|mkldnn_|miopen_)?conv(?!ert)"   # not the _convert_* operations (sparse formats, int4 packing)


def conv_ops():
    """Every convolution operation of torch, by name: a library function that would do the work (one named like a
    refused entry, e.g. "conv2d", is refused with that entry's refusal)."""
    return [(CONV_OPS, DOES_THE_WORK)]

# --------------------------------------------------------------------------
# conv1d_full — vs numpy.convolve
# --------------------------------------------------------------------------

def _conv1d_cases(seed, extended):
    import numpy as np
    import torch
    g = generator(seed)
    # (L, K, dtype): kernels shorter, as long as and longer than the signal, a one-sample signal and kernel,
    # and float64 inputs, whose result must stay float64 (the exercise promises the input's dtype)
    sizes = [(7, 3, "float32"), (8, 4, "float32"), (5, 5, "float32"), (3, 6, "float32"), (10, 1, "float32"),
             (1, 4, "float32"), (6, 3, "float64")]
    if extended:
        sizes += [(50, 7, "float32"), (1, 1, "float32"), (4, 9, "float64")]
    cases = []
    for length, k, dtype in sizes:
        signal, kernel = randn(g, length).to(getattr(torch, dtype)), randn(g, k).to(getattr(torch, dtype))
        expected = torch.from_numpy(np.convolve(signal.numpy(), kernel.numpy(), mode="full"))
        correlated = torch.from_numpy(np.correlate(signal.numpy(), kernel.numpy(), mode="full"))
        mistakes = [M.mistake("conv1d_full.no_flip", correlated)] if k > 1 else []
        valid = max(length, k) - min(length, k) + 1
        mistakes += [M.mistake("conv1d_full.valid_length", (valid,)),
                     M.mistake("conv1d_full.same_length", (max(length, k),)),
                     M.mistake("conv1d_full.off_by_one", (length + k - 2,)),
                     M.mistake("conv1d_full.off_by_one", (length + k,))]
        note = f", {dtype}" if dtype != "float32" else ""
        cases.append(Case(f"signal {shape_of(signal)}, kernel {shape_of(kernel)}{note}", (signal, kernel),
                          expected=expected, mistakes=mistakes))
    return cases


def _conv1d_forbidden():
    """np.convolve is what the exercise re-implements; correlation of the flipped kernel, polynomial
    multiplication and torch's 1-D convolution would compute the same full convolution."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    return [(np, "convolve", "np.convolve"), (np, "correlate", "np.correlate", DOES_THE_WORK),
            (np, "polymul", "np.polymul", DOES_THE_WORK),
            (np.polynomial.polynomial, "polymul", "np.polynomial.polynomial.polymul", DOES_THE_WORK),
            (F, "conv1d", "F.conv1d", DOES_THE_WORK), (torch, "conv1d", "torch.conv1d", DOES_THE_WORK)]


def check_conv1d_full(conv1d_full, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv1d_full(signal, kernel)``: full 1-D convolution of two 1-D tensors.

    Compared with ``numpy.convolve(signal, kernel, mode="full")`` on lengths
    where the kernel is shorter, equal and longer than the signal.
    """
    return run_cases("conv1d_full", conv1d_full, lambda: _conv1d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv1d_forbidden(), op_pattern=conv_ops(),
                     general_hint=M("conv1d_full.general"))


# --------------------------------------------------------------------------
# conv2d_true — true 2-D convolution (kernel flipped), 'valid' output
# --------------------------------------------------------------------------

def _conv2d_true_cases(seed, extended):
    import torch.nn.functional as F
    import torch
    g = generator(seed)
    # non-square images and kernels, a kernel as large as the image, kernels one row or one column wide, and
    # float64 inputs, whose result must stay float64 (the exercise promises the input's dtype)
    sizes = [((6, 5), (3, 3), "float32"), ((8, 6), (2, 3), "float32"), ((7, 9), (3, 2), "float32"),
             ((5, 5), (5, 5), "float32"), ((5, 8), (1, 3), "float32"), ((6, 4), (2, 1), "float32"),
             ((7, 6), (3, 3), "float64")]
    if extended:
        sizes += [((20, 17), (5, 4), "float32"), ((9, 4), (1, 3), "float64"), ((3, 8), (3, 1), "float32")]
    cases = []
    for (h, w), (kh, kw), dtype in sizes:
        image, kernel = randn(g, h, w).to(getattr(torch, dtype)), randn(g, kh, kw).to(getattr(torch, dtype))

        def corr(k):
            return F.conv2d(image[None, None], k[None, None])[0, 0]

        expected = corr(kernel.flip(0, 1))
        mistakes = [M.mistake("conv2d_true.no_flip", corr(kernel))]
        if kh > 1:
            mistakes.append(M.mistake("conv2d_true.flip_lr_only", corr(kernel.flip(1))))
        if kw > 1:
            mistakes.append(M.mistake("conv2d_true.flip_ud_only", corr(kernel.flip(0))))
        if kh == kw:
            mistakes.append(M.mistake("conv2d_true.transposed", corr(kernel.T)))
        else:   # a transposed (kw, kh) kernel shows in the output's shape
            mistakes.append(M.mistake("conv2d_true.transposed", (h - kw + 1, w - kh + 1)))
        mistakes += [M.mistake("conv2d_true.full_size", (h + kh - 1, w + kw - 1)),
                     M.mistake("conv2d_true.same_size", (h, w)),
                     M.mistake("conv2d_true.off_by_one", (h - kh, w - kw)),
                     M.mistake("conv2d_true.off_by_one", (h - kh + 2, w - kw + 2)),
                     M.mistake("conv2d_true.swapped_hw", (w - kw + 1, h - kh + 1))]
        note = f", {dtype}" if dtype != "float32" else ""
        cases.append(Case(f"image {shape_of(image)}, kernel {shape_of(kernel)}{note}", (image, kernel),
                          expected=expected, mistakes=mistakes))
    return cases


def check_conv2d_true(conv2d_true, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv2d_true(image, kernel)``: true 2-D convolution (kernel flipped), 'valid' size.

    ``image`` is (H, W), ``kernel`` is (kh, kw); the output is
    (H - kh + 1, W - kw + 1).  Compared with ``F.conv2d`` applied to the
    flipped kernel.
    """
    return run_cases("conv2d_true", conv2d_true, lambda: _conv2d_true_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(reimplements=()), op_pattern=conv_ops(),
                     general_hint=M("conv2d_true.general"))


# --------------------------------------------------------------------------
# conv2d — batched, multi-channel, stride, padding, dilation, bias
# --------------------------------------------------------------------------

# (N, C_in, C_out, H, W, kh, kw, stride, padding, dilation, bias)
_CONV2D_SPECS = [
    (2, 3, 4, 9, 7, 3, 2, 1, 0, 1, True),
    (2, 3, 4, 9, 7, 3, 3, 1, 1, 1, True),
    (2, 3, 4, 11, 8, 3, 3, 2, 0, 1, True),
    (1, 2, 3, 10, 9, 3, 3, 1, 0, 2, True),
    (2, 3, 5, 12, 9, 3, 2, (2, 1), (1, 2), (1, 2), False),
    (2, 4, 3, 7, 10, 1, 1, 2, 0, 1, True),              # a 1×1 kernel with a stride
    (1, 1, 2, 5, 6, 5, 6, 1, 0, 1, True),               # one input channel, a kernel as large as the image
]
_CONV2D_EXTENDED = [
    (3, 5, 2, 16, 13, 5, 3, (3, 2), (2, 1), (2, 1), True),
    (1, 1, 1, 5, 5, 5, 5, 1, 0, 1, True),
    (2, 4, 6, 7, 12, 1, 1, 2, 0, 1, True),
    (1, 3, 2, 6, 6, 3, 3, 3, 2, 1, False),
]


def _conv2d_forbidden(reimplements=("F.conv2d", "torch.conv2d")):
    """The convolution functions refused while the learner's code runs: those named in ``reimplements`` are what
    the exercise re-implements, the others library functions that would do its work."""
    import torch
    import torch.nn.functional as F
    entries = [(F, "conv2d", "F.conv2d"), (torch, "conv2d", "torch.conv2d"),
               (torch, "convolution", "torch.convolution"), (torch, "_convolution", "torch._convolution"),
               (F, "conv_transpose2d", "F.conv_transpose2d"), (F, "conv1d", "F.conv1d"), (F, "conv3d", "F.conv3d")]
    return [(owner, attr, shown, REIMPLEMENTED if shown in reimplements else DOES_THE_WORK)
            for owner, attr, shown in entries]


def _conv2d_cases(seed, extended):
    g = generator(seed)
    specs = _CONV2D_SPECS + (_CONV2D_EXTENDED if extended else [])
    cases = []
    for n, cin, cout, h, w, kh, kw, stride, padding, dilation, has_bias in specs:
        x, weight = randn(g, n, cin, h, w), randn(g, cout, cin, kh, kw)
        bias = randn(g, cout) if has_bias else None
        kw_args = dict(stride=stride, padding=padding, dilation=dilation)
        label = (f"x {shape_of(x)}, weight {shape_of(weight)}, bias {shape_of(bias) if bias is not None else 'None'}, "
                 f"stride={stride}, padding={padding}, dilation={dilation}")
        # answered later, from the check's copies of the inputs
        compute = functools.partial(_conv2d_answers, x.clone(), weight.clone(),
                                    None if bias is None else bias.clone(), kw_args)
        cases.append(Case(label, (x, weight, bias), kw_args, **later(compute)))
    return cases


def _conv2d_answers(x, weight, bias, kw_args):
    """F.conv2d's answer, and the known mistakes'."""
    import torch.nn.functional as F

    def ref(x=x, weight=weight, bias=bias, **over):
        return F.conv2d(x, weight, bias, **{**kw_args, **over})

    expected = ref()
    n_, c_, ho, wo = expected.shape
    cin = x.shape[1]
    (sh, sw), (ph, pw), (dh, dw) = pair(kw_args["stride"]), pair(kw_args["padding"]), pair(kw_args["dilation"])
    mistakes = [M.mistake("conv2d.flipped", ref(weight=weight.flip(-1, -2)))]
    if bias is not None:
        mistakes.append(M.mistake("conv2d.no_bias", ref(bias=None)))
    if cin > 1:
        mistakes.append(M.mistake("conv2d.first_channel_only", ref(x=x[:, :1], weight=weight[:, :1])))
    mistakes.append(M.mistake("conv2d.channels_last", (n_, ho, wo, c_)))

    def predict(key, **over):
        """The mistake that F.conv2d with ``over`` makes: its output, or its shape where that differs."""
        try:
            out = ref(**over)
        except RuntimeError:   # it cannot even run here, e.g. a kernel larger than the padded input
            return
        mistakes.append(M.mistake(key, out if out.shape == expected.shape else tuple(out.shape)))

    if (ph, pw) != (0, 0):
        mistakes.append(M.mistake("conv2d.padding_ignored", tuple(ref(padding=0).shape)))
        for one_side in ((pw, 0, ph, 0), (0, pw, 0, ph)):   # padded at the top and left only, or bottom and right
            predict("conv2d.padding_one_side", x=F.pad(x, one_side), padding=0)
    if (sh, sw) != (1, 1):
        mistakes.append(M.mistake("conv2d.stride_ignored", tuple(ref(stride=1).shape)))
    if (dh, dw) != (1, 1):
        mistakes.append(M.mistake("conv2d.dilation_ignored", tuple(ref(dilation=1).shape)))
    swapped = dict(stride=(sw, sh), padding=(pw, ph), dilation=(dw, dh))
    if any(a != b for a, b in ((sh, sw), (ph, pw), (dh, dw))):
        try:
            mistakes.append(M.mistake("conv2d.hw_swapped", tuple(ref(**swapped).shape)))
        except RuntimeError:
            pass
    # one value of a pair used along both axes (e.g. `d = dilation[0]`): named before "off by one", which the
    # same shape may also fit
    for setting, (a, b) in (("stride", (sh, sw)), ("padding", (ph, pw)), ("dilation", (dh, dw))):
        if a != b:
            for value in (a, b):
                predict("conv2d.pair_one_value", **{setting: (value, value)})
    mistakes += [M.mistake("conv2d.off_by_one", shape) for shape in
                 [(n_, c_, ho - 1, wo - 1), (n_, c_, ho + 1, wo + 1), (n_, c_, ho - 1, wo), (n_, c_, ho, wo - 1),
                  (n_, c_, ho + 1, wo), (n_, c_, ho, wo + 1)]]
    return expected, mistakes


def check_conv2d(conv2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1)``.

    x: (N, C_in, H, W); weight: (C_out, C_in, kh, kw); bias: (C_out,) or None;
    stride, padding, dilation: int or (along H, along W).  Compared with
    ``torch.nn.functional.conv2d``, which the learner's code may not call.
    """
    return run_cases("conv2d", conv2d, lambda: _conv2d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(), op_pattern=conv_ops(), general_hint=M("conv2d.general"))
