"""Checks for notebook 01: convolution.

Every expected answer comes from an independent reference computed at check
time: ``numpy.convolve``, ``torch.nn.functional.conv2d`` or an ``nn.Conv2d``
built on the ``meta`` device (shapes and parameter counts at no cost).
"""

from __future__ import annotations

import time

from .engine import (INCORRECT, Case, CheckResult, Verdict, call_learner, compare_int, compare_tensor,
                      count_torch_ops, generator, pair, randn, run_cases, shape_of)
from .messages.convolution import M

__all__ = ["check_conv1d_full", "check_conv2d_true", "check_conv2d", "check_conv_output_size",
           "check_conv_param_count", "check_conv2d_im2col"]

# im2col must not loop over output pixels: the number of torch operations one
# call runs may not grow with the image (counted, so independent of machine
# load).  Its time is shown beside F.conv2d's and must stay within this factor,
# a wide margin: the reference solution is ~1.5x (benchmarks/run.py).
IM2COL_SPEED_FACTOR = 50.0

# Any torch convolution, however it is reached: F.conv2d, torch.ops.aten.convolution,
# F.conv3d on an unsqueezed input, a transposed convolution, cudnn/mkldnn variants.
CONV_OPS = r"^(_|cudnn_|mkldnn_|miopen_)?conv"

# --------------------------------------------------------------------------
# conv1d_full — vs numpy.convolve
# --------------------------------------------------------------------------

def _conv1d_cases(seed, extended):
    import numpy as np
    import torch
    g = generator(seed)
    sizes = [(7, 3), (8, 4), (5, 5), (3, 6), (10, 1)]
    if extended:
        sizes += [(50, 7), (1, 1), (4, 9)]
    cases = []
    for length, k in sizes:
        signal, kernel = randn(g, length), randn(g, k)
        expected = torch.from_numpy(np.convolve(signal.numpy(), kernel.numpy(), mode="full"))
        correlated = torch.from_numpy(np.correlate(signal.numpy(), kernel.numpy(), mode="full"))
        mistakes = [M.mistake("conv1d_full.no_flip", correlated)] if k > 1 else []
        valid = max(length, k) - min(length, k) + 1
        mistakes += [M.mistake("conv1d_full.valid_length", (valid,)),
                     M.mistake("conv1d_full.same_length", (max(length, k),)),
                     M.mistake("conv1d_full.off_by_one", (length + k - 2,)),
                     M.mistake("conv1d_full.off_by_one", (length + k,))]
        cases.append(Case(f"signal {shape_of(signal)}, kernel {shape_of(kernel)}", (signal, kernel),
                          expected=expected, mistakes=mistakes))
    return cases


def _conv1d_forbidden():
    import numpy as np
    import torch
    import torch.nn.functional as F
    return [(np, "convolve", "np.convolve"), (np, "correlate", "np.correlate"), (np, "polymul", "np.polymul"),
            (np.polynomial.polynomial, "polymul", "np.polynomial.polynomial.polymul"),
            (F, "conv1d", "F.conv1d"), (torch, "conv1d", "torch.conv1d")]


def check_conv1d_full(conv1d_full, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv1d_full(signal, kernel)``: full 1-D convolution of two 1-D tensors.

    Compared with ``numpy.convolve(signal, kernel, mode="full")`` on lengths
    where the kernel is shorter, equal and longer than the signal.
    """
    return run_cases("conv1d_full", conv1d_full, lambda: _conv1d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv1d_forbidden(), op_pattern=CONV_OPS,
                     general_hint=M("conv1d_full.general"))


# --------------------------------------------------------------------------
# conv2d_true — true 2-D convolution (kernel flipped), 'valid' output
# --------------------------------------------------------------------------

def _conv2d_true_cases(seed, extended):
    import torch.nn.functional as F
    g = generator(seed)
    sizes = [((6, 5), (3, 3)), ((8, 6), (2, 3)), ((7, 9), (3, 2)), ((5, 5), (5, 5))]
    if extended:
        sizes += [((20, 17), (5, 4)), ((9, 4), (1, 3)), ((3, 8), (3, 1))]
    cases = []
    for (h, w), (kh, kw) in sizes:
        image, kernel = randn(g, h, w), randn(g, kh, kw)

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
        cases.append(Case(f"image {shape_of(image)}, kernel {shape_of(kernel)}", (image, kernel),
                          expected=expected, mistakes=mistakes))
    return cases


def check_conv2d_true(conv2d_true, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv2d_true(image, kernel)``: true 2-D convolution (kernel flipped), 'valid' size.

    ``image`` is (H, W), ``kernel`` is (kh, kw); the output is
    (H - kh + 1, W - kw + 1).  Compared with ``F.conv2d`` applied to the
    flipped kernel.
    """
    return run_cases("conv2d_true", conv2d_true, lambda: _conv2d_true_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(), op_pattern=CONV_OPS,
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
]
_CONV2D_EXTENDED = [
    (3, 5, 2, 16, 13, 5, 3, (3, 2), (2, 1), (2, 1), True),
    (1, 1, 1, 5, 5, 5, 5, 1, 0, 1, True),
    (2, 4, 6, 7, 12, 1, 1, 2, 0, 1, True),
    (1, 3, 2, 6, 6, 3, 3, 3, 2, 1, False),
]


def _conv2d_forbidden():
    import torch
    import torch.nn.functional as F
    return [(F, "conv2d", "F.conv2d"), (torch, "conv2d", "torch.conv2d"),
            (torch, "convolution", "torch.convolution"), (torch, "_convolution", "torch._convolution"),
            (F, "conv_transpose2d", "F.conv_transpose2d"), (F, "conv1d", "F.conv1d"), (F, "conv3d", "F.conv3d")]


def _conv2d_cases(seed, extended):
    import torch.nn.functional as F
    g = generator(seed)
    specs = _CONV2D_SPECS + (_CONV2D_EXTENDED if extended else [])
    cases = []
    for n, cin, cout, h, w, kh, kw, stride, padding, dilation, has_bias in specs:
        x, weight = randn(g, n, cin, h, w), randn(g, cout, cin, kh, kw)
        bias = randn(g, cout) if has_bias else None
        kw_args = dict(stride=stride, padding=padding, dilation=dilation)

        def ref(x=x, weight=weight, bias=bias, **over):
            return F.conv2d(x, weight, bias, **{**kw_args, **over})

        expected = ref()
        n_, c_, ho, wo = expected.shape
        (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
        mistakes = [M.mistake("conv2d.flipped", ref(weight=weight.flip(-1, -2)))]
        if bias is not None:
            mistakes.append(M.mistake("conv2d.no_bias", ref(bias=None)))
        if cin > 1:
            mistakes.append(M.mistake("conv2d.first_channel_only", ref(x=x[:, :1], weight=weight[:, :1])))
        mistakes.append(M.mistake("conv2d.channels_last", (n_, ho, wo, c_)))
        if (ph, pw) != (0, 0):
            mistakes.append(M.mistake("conv2d.padding_ignored", tuple(ref(padding=0).shape)))
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
        mistakes += [M.mistake("conv2d.off_by_one", shape) for shape in
                     [(n_, c_, ho - 1, wo - 1), (n_, c_, ho + 1, wo + 1), (n_, c_, ho - 1, wo), (n_, c_, ho, wo - 1),
                      (n_, c_, ho + 1, wo), (n_, c_, ho, wo + 1)]]
        label = (f"x {shape_of(x)}, weight {shape_of(weight)}, bias {shape_of(bias) if bias is not None else 'None'}, "
                 f"stride={stride}, padding={padding}, dilation={dilation}")
        cases.append(Case(label, (x, weight, bias), kw_args, expected=expected, mistakes=mistakes))
    return cases


def check_conv2d(conv2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1)``.

    x: (N, C_in, H, W); weight: (C_out, C_in, kh, kw); bias: (C_out,) or None;
    stride, padding, dilation: int or (along H, along W).  Compared with
    ``torch.nn.functional.conv2d``, which the learner's code may not call.
    """
    return run_cases("conv2d", conv2d, lambda: _conv2d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(), op_pattern=CONV_OPS, general_hint=M("conv2d.general"))


# --------------------------------------------------------------------------
# conv2d_im2col — same contract, vectorised, with a speed comparison
# --------------------------------------------------------------------------

def _interleaved_min_times(first, second, repeats=7):
    """Best-of-``repeats`` times of two functions, measured alternately on one thread.

    Alternating and taking the minimum keeps the ratio honest when other
    processes share the CPU (a parallel test run, a busy laptop).
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first(), second()  # warm-up
        a, b = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            first()
            a.append(time.perf_counter() - start)
            start = time.perf_counter()
            second()
            b.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return min(a), min(b)


def im2col_speed_case(seed=0, size=32):
    """The representative input of the speed comparison: a mid-network 3×3 layer."""
    g = generator(seed)
    x, weight, bias = randn(g, 8, 16, size, size), randn(g, 32, 16, 3, 3), randn(g, 32)
    return Case(f"x {shape_of(x)}, weight {shape_of(weight)}, bias {shape_of(bias)}, stride=1, padding=1, dilation=1",
                (x, weight, bias), dict(stride=1, padding=1, dilation=1))


def check_conv2d_im2col(conv2d_im2col, *, strict=False, seed=0, extended=False,
                        speed_factor: float = IM2COL_SPEED_FACTOR) -> CheckResult:
    """Check ``conv2d_im2col``: same contract as ``conv2d``, built from one matrix product.

    Correctness as ``check_conv2d`` (vs ``F.conv2d``; no torch convolution and
    no ``F.unfold`` may be called).  Then: the number of torch operations one
    call runs must be the same on a 16×16 and a 32×32 input (no Python loop
    over output positions), and its time on a (8, 16, 32, 32) input with 32
    3×3 filters is shown beside ``F.conv2d``'s (single thread, best of 7) and
    must be within ``speed_factor``.
    """
    import torch
    import torch.nn.functional as F
    forbidden = _conv2d_forbidden() + [(F, "unfold", "F.unfold")]
    op_pattern = CONV_OPS + r"|^im2col"
    name = getattr(conv2d_im2col, "__name__", "conv2d_im2col")

    def vectorised_and_fast():
        small, case = im2col_speed_case(seed, size=16), im2col_speed_case(seed)
        with torch.no_grad():
            ops = []
            for probe in (small, case):
                counted = Case(probe.label, (conv2d_im2col, *probe.args), probe.kwargs)
                got, _ = call_learner("conv2d_im2col", count_torch_ops, counted, forbidden=forbidden,
                                      op_pattern=op_pattern, name=name, first=False)
                ops.append(got)
            if ops[1] > ops[0]:
                raise Verdict(CheckResult(
                    "conv2d_im2col", INCORRECT, "correct, but it loops over output positions.",
                    case=case.label,
                    evidence=[f"torch operations per call: {ops[0]} on a 16×16 input, {ops[1]} on 32×32 "
                              "(a vectorised im2col runs the same number on any size)"],
                    hint=M("conv2d_im2col.loops"),
                    next_step="Remove the loop over output pixels and run the check again."))
            ref_time, mine = _interleaved_min_times(
                lambda: F.conv2d(*case.args, **case.kwargs),
                lambda: call_learner("conv2d_im2col", conv2d_im2col, case, forbidden=forbidden,
                                     op_pattern=op_pattern, name=name, first=False))
        ratio = mine / ref_time
        figures = f"{mine * 1e3:.2f} ms vs F.conv2d {ref_time * 1e3:.2f} ms ({ratio:.1f}× F.conv2d's time, one thread)"
        if ratio > speed_factor:
            raise Verdict(CheckResult(
                "conv2d_im2col", INCORRECT, "correct, but too slow for an im2col convolution.", case=case.label,
                evidence=[f"speed: {figures}; the target is within {speed_factor:g}×"],
                hint=M("conv2d_im2col.slow"),
                next_step="Speed it up and run the check again."))
        return f"Speed on x {shape_of(case.args[0])} with 3×3 filters: {figures}."

    return run_cases("conv2d_im2col", conv2d_im2col, lambda: _conv2d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=forbidden, op_pattern=op_pattern, general_hint=M("conv2d.general"),
                     after=vectorised_and_fast)


# --------------------------------------------------------------------------
# conv_output_size and conv_param_count — arithmetic vs nn.Conv2d on 'meta'
# --------------------------------------------------------------------------

_SIZE_SPECS = [(32, 3, 1, 1, 1), (28, 5, 1, 0, 1), (11, 3, 2, 0, 1), (224, 7, 2, 3, 1), (10, 3, 1, 0, 2),
               (17, 4, 3, 2, 2), (7, 3, 2, 1, 1), (20, 3, 1, 2, 1)]
_SIZE_EXTENDED = [(1, 1, 1, 0, 1), (13, 5, 4, 1, 3), (100, 11, 4, 2, 1), (6, 2, 5, 0, 1)]


def _conv_output_size_cases(extended):
    import torch
    import torch.nn.functional as F
    cases = []
    for size, k, s, p, d in _SIZE_SPECS + (_SIZE_EXTENDED if extended else []):
        out = F.conv2d(torch.empty(1, 1, size, size, device="meta"), torch.empty(1, 1, k, k, device="meta"),
                       stride=s, padding=p, dilation=d)
        expected = int(out.shape[-1])
        exact = (size + 2 * p - d * (k - 1) - 1) / s + 1
        candidates = [("conv_output_size.not_floored", exact),
                      ("conv_output_size.no_plus_one", expected - 1),
                      ("conv_output_size.dilation_ignored", (size + 2 * p - (k - 1) - 1) // s + 1),
                      ("conv_output_size.padding_once", (size + p - d * (k - 1) - 1) // s + 1),
                      ("conv_output_size.rounded_up", -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1)]
        mistakes = [M.mistake(key, value) for key, value in candidates
                    if value != expected and not (isinstance(value, float) and value == int(value))]
        cases.append(Case(f"conv_output_size({size}, kernel_size={k}, stride={s}, padding={p}, dilation={d})",
                          (size, k), dict(stride=s, padding=p, dilation=d), expected=expected, mistakes=mistakes))
    return cases


def check_conv_output_size(conv_output_size, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1) -> int``.

    Compared with the size ``F.conv2d`` really produces (run on the ``meta``
    device, so no memory is used), including cases where the floor matters.
    """
    return run_cases("conv_output_size", conv_output_size, lambda: _conv_output_size_cases(extended),
                     compare=compare_int, strict=strict,
                     general_hint=M("conv_output_size.general"))


_PARAM_SPECS = [(3, 64, 3, True), (64, 128, 3, False), (3, 96, 11, True), (16, 32, (3, 5), True),
                (1, 1, 1, True), (5, 7, (1, 4), False)]
_PARAM_EXTENDED = [(512, 512, 3, True), (256, 1000, 1, True), (7, 3, (7, 2), True)]


def _conv_param_count_cases(extended):
    import torch.nn as nn
    cases = []
    for cin, cout, k, bias in _PARAM_SPECS + (_PARAM_EXTENDED if extended else []):
        layer = nn.Conv2d(cin, cout, k, bias=bias, device="meta")
        expected = sum(p.numel() for p in layer.parameters())
        kh, kw = pair(k)
        candidates = [("conv_param_count.no_bias", kh * kw * cin * cout),
                      ("conv_param_count.bias_when_false", kh * kw * cin * cout + cout),
                      ("conv_param_count.no_input_channels", (kh * kw + bias) * cout),
                      ("conv_param_count.bias_per_pair", (kh * kw + bias) * cin * cout),
                      ("conv_param_count.one_side_only", (kh * cin + bias) * cout),
                      ("conv_param_count.kh_squared", (kh * kh * cin + bias) * cout)]
        mistakes = [M.mistake(key, value) for key, value in candidates if value != expected]
        cases.append(Case(f"conv_param_count({cin}, {cout}, kernel_size={k}, bias={bias})", (cin, cout, k),
                          dict(bias=bias), expected=expected, mistakes=mistakes))
    return cases


def check_conv_param_count(conv_param_count, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv_param_count(in_channels, out_channels, kernel_size, bias=True) -> int``.

    Compared with the number of parameters of the matching ``nn.Conv2d``
    (built on the ``meta`` device); ``kernel_size`` may be an int or (kh, kw).
    """
    return run_cases("conv_param_count", conv_param_count, lambda: _conv_param_count_cases(extended),
                     compare=compare_int, strict=strict,
                     general_hint=M("conv_param_count.general"))
