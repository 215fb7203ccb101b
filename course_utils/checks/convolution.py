"""Checks for notebook 01: convolution.

Every expected answer comes from an independent reference computed at check
time: ``numpy.convolve``, ``torch.nn.functional.conv2d`` or an ``nn.Conv2d``
built on the ``meta`` device (shapes and parameter counts at no cost).
"""

from __future__ import annotations

import time

from .engine import (INCORRECT, Case, CheckResult, Verdict, call_learner, compare_int, compare_tensor,
                      count_torch_ops, generator, pair, randn, run_cases, shape_of)

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

_FLIP_HINT_1D = ("Your output equals the cross-correlation: convolution flips the kernel "
                 "(out[t] uses kernel[t - i], not kernel[i - t]); reverse it with `kernel.flip(0)`.")
_FLIP_HINT = ("Your output equals the cross-correlation: true convolution flips the kernel "
              "(index K[i - m, j - n]), e.g. `kernel.flip(0, 1)` before sliding it.")
_NOFLIP_HINT = ("Your output equals a *true* convolution (kernel flipped). Deep-learning conv layers, "
                "like F.conv2d, compute cross-correlation: slide the kernel as it is, without flipping.")


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
        mistakes = [(_FLIP_HINT_1D, correlated)] if k > 1 else []
        valid = max(length, k) - min(length, k) + 1
        mistakes += [
            ("That is only the 'valid' part, where the kernel fits entirely inside the signal. 'Full' keeps every "
             "shift with at least one sample of overlap: length L + K - 1.", (valid,)),
            ("That is the 'same' length max(L, K). 'Full' keeps every shift with at least one sample of "
             "overlap: length L + K - 1.", (max(length, k),)),
            ("Off by one: the full convolution of lengths L and K has L + K - 1 samples.", (length + k - 2,)),
            ("Off by one: the full convolution of lengths L and K has L + K - 1 samples.", (length + k,)),
        ]
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
    return run_cases("conv1d_full", conv1d_full, _conv1d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv1d_forbidden(), op_pattern=CONV_OPS,
                     general_hint="out[t] = sum over i of signal[i] * kernel[t - i], for every i where "
                                  "both indices are inside their tensors.")


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
        mistakes = [(_FLIP_HINT, corr(kernel))]
        if kh > 1:
            mistakes.append(("The kernel was flipped left–right only (`flip(1)`); flip it up–down too: "
                             "`kernel.flip(0, 1)`.", corr(kernel.flip(1))))
        if kw > 1:
            mistakes.append(("The kernel was flipped up–down only (`flip(0)`); flip it left–right too: "
                             "`kernel.flip(0, 1)`.", corr(kernel.flip(0))))
        if kh == kw:
            mistakes.append(("The kernel was transposed, not flipped: flipping reverses both axes "
                             "(`kernel.flip(0, 1)`), it does not swap them.", corr(kernel.T)))
        mistakes += [
            ("That is the 'full' size. This exercise keeps only positions where the kernel lies entirely "
             "inside the image: (H - kh + 1, W - kw + 1).", (h + kh - 1, w + kw - 1)),
            ("That is the 'same' size. This exercise keeps only positions where the kernel lies entirely "
             "inside the image: (H - kh + 1, W - kw + 1).", (h, w)),
            ("Off by one in the output size: it is (H - kh + 1, W - kw + 1).", (h - kh, w - kw)),
            ("Off by one in the output size: it is (H - kh + 1, W - kw + 1).", (h - kh + 2, w - kw + 2)),
            ("Height and width are swapped: the output is (H - kh + 1, W - kw + 1), rows first.",
             (w - kw + 1, h - kh + 1)),
        ]
        cases.append(Case(f"image {shape_of(image)}, kernel {shape_of(kernel)}", (image, kernel),
                          expected=expected, mistakes=mistakes))
    return cases


def check_conv2d_true(conv2d_true, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv2d_true(image, kernel)``: true 2-D convolution (kernel flipped), 'valid' size.

    ``image`` is (H, W), ``kernel`` is (kh, kw); the output is
    (H - kh + 1, W - kw + 1).  Compared with ``F.conv2d`` applied to the
    flipped kernel.
    """
    return run_cases("conv2d_true", conv2d_true, _conv2d_true_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(), op_pattern=CONV_OPS,
                     general_hint="out[i, j] = sum over m, n of image[i + m, j + n] * "
                                  "kernel[kh - 1 - m, kw - 1 - n].")


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
        mistakes = [(_NOFLIP_HINT, ref(weight=weight.flip(-1, -2)))]
        if bias is not None:
            mistakes.append(("The bias is missing: add bias[c_out] to every output position of channel c_out.",
                             ref(bias=None)))
        if cin > 1:
            mistakes.append(("Only the first input channel contributes: one kernel spans all C_in input "
                             "channels, and the products are summed over channels too.",
                             ref(x=x[:, :1], weight=weight[:, :1])))
        mistakes += [
            ("The output is channels-last (N, H_out, W_out, C_out); PyTorch uses (N, C_out, H_out, W_out).",
             (n_, ho, wo, c_)),
        ]
        if (ph, pw) != (0, 0):
            mistakes.append(("Padding is ignored: pad x with `padding` zeros on both sides of H and of W "
                             "before sliding the kernel.", tuple(ref(padding=0).shape)))
        if (sh, sw) != (1, 1):
            mistakes.append(("Stride is ignored: move the window `stride` pixels at a time, so output "
                             "position i reads input row i * stride.", tuple(ref(stride=1).shape)))
        if (dh, dw) != (1, 1):
            mistakes.append(("Dilation is ignored: kernel tap m reads input row i * stride + m * dilation; the "
                             "kernel spans d·(k−1)+1 pixels.", tuple(ref(dilation=1).shape)))
        swapped = dict(stride=(sw, sh), padding=(pw, ph), dilation=(dw, dh))
        if any(a != b for a, b in ((sh, sw), (ph, pw), (dh, dw))):
            try:
                mistakes.append(("Height and width settings are swapped: a tuple like stride=(2, 1) means "
                                 "(along H, along W).", tuple(ref(**swapped).shape)))
            except RuntimeError:
                pass
        off = "Off by one in the output size: H_out = ⌊(H + 2p − d(k−1) − 1) / s⌋ + 1."
        mistakes += [(off, (n_, c_, ho - 1, wo - 1)), (off, (n_, c_, ho + 1, wo + 1)),
                     (off, (n_, c_, ho - 1, wo)), (off, (n_, c_, ho, wo - 1)),
                     (off, (n_, c_, ho + 1, wo)), (off, (n_, c_, ho, wo + 1))]
        label = (f"x {shape_of(x)}, weight {shape_of(weight)}, bias {shape_of(bias) if bias is not None else 'None'}, "
                 f"stride={stride}, padding={padding}, dilation={dilation}")
        cases.append(Case(label, (x, weight, bias), kw_args, expected=expected, mistakes=mistakes))
    return cases


_CONV2D_HINT = ("out[b, o, i, j] = bias[o] + sum over c, m, n of "
                "x_padded[b, c, i*s + m*d, j*s + n*d] * weight[o, c, m, n].")


def check_conv2d(conv2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1)``.

    x: (N, C_in, H, W); weight: (C_out, C_in, kh, kw); bias: (C_out,) or None;
    stride, padding, dilation: int or (along H, along W).  Compared with
    ``torch.nn.functional.conv2d``, which the learner's code may not call.
    """
    return run_cases("conv2d", conv2d, _conv2d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(), op_pattern=CONV_OPS, general_hint=_CONV2D_HINT)


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
                    hint="Build the patch matrix for all positions at once with `Tensor.unfold` (or indexing), "
                         "then do a single matrix product with the weights as (C_out, C_in·kh·kw).",
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
                hint="Avoid Python loops and per-element work: one `unfold`-style gather, one reshape, one matmul.",
                next_step="Speed it up and run the check again."))
        return f"Speed on x {shape_of(case.args[0])} with 3×3 filters: {figures}."

    return run_cases("conv2d_im2col", conv2d_im2col, _conv2d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=forbidden, op_pattern=op_pattern, general_hint=_CONV2D_HINT,
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
        candidates = [
            ("Round down: the window only counts when it fits entirely, so use floor division "
             "`(size + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1`.", exact),
            ("Missing the +1: the first window position counts too.", expected - 1),
            ("Dilation is ignored: a dilated kernel spans dilation·(k−1)+1 pixels.",
             (size + 2 * p - (k - 1) - 1) // s + 1),
            ("Padding is added on both sides: use 2·padding.", (size + p - d * (k - 1) - 1) // s + 1),
            ("Rounded up: a window that sticks out past the (padded) edge does not count; use floor.",
             -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1),
        ]
        mistakes = []
        for hint, value in candidates:
            if isinstance(value, float) and value == int(value):
                continue
            if value != expected:
                mistakes.append((hint, value))
        cases.append(Case(f"conv_output_size({size}, kernel_size={k}, stride={s}, padding={p}, dilation={d})",
                          (size, k), dict(stride=s, padding=p, dilation=d), expected=expected, mistakes=mistakes))
    return cases


def check_conv_output_size(conv_output_size, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1) -> int``.

    Compared with the size ``F.conv2d`` really produces (run on the ``meta``
    device, so no memory is used), including cases where the floor matters.
    """
    return run_cases("conv_output_size", conv_output_size, _conv_output_size_cases(extended),
                     compare=compare_int, strict=strict,
                     general_hint="size_out = ⌊(size + 2·padding − dilation·(kernel_size − 1) − 1) / stride⌋ + 1.")


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
        candidates = [
            ("The bias is missing: with bias=True each output channel has one bias.", kh * kw * cin * cout),
            ("With bias=False there is no bias term at all.", kh * kw * cin * cout + cout),
            ("The input channels are missing: each filter is kh × kw × C_in.", (kh * kw + 1) * cout),
            ("There is one bias per output channel, not one per (input, output) pair.",
             (kh * kw + 1) * cin * cout),
            ("A kernel of size k has k × k weights per channel (or kh × kw for a tuple).",
             (kh * cin + bias) * cout),
            ("For a tuple kernel_size=(kh, kw) use kh × kw, not kh × kh.", (kh * kh * cin + bias) * cout),
        ]
        mistakes = [(h, v) for h, v in candidates if v != expected]
        cases.append(Case(f"conv_param_count({cin}, {cout}, kernel_size={k}, bias={bias})", (cin, cout, k),
                          dict(bias=bias), expected=expected, mistakes=mistakes))
    return cases


def check_conv_param_count(conv_param_count, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv_param_count(in_channels, out_channels, kernel_size, bias=True) -> int``.

    Compared with the number of parameters of the matching ``nn.Conv2d``
    (built on the ``meta`` device); ``kernel_size`` may be an int or (kh, kw).
    """
    return run_cases("conv_param_count", conv_param_count, _conv_param_count_cases(extended),
                     compare=compare_int, strict=strict,
                     general_hint="params = (kh · kw · C_in + 1) · C_out with a bias, without the +1 otherwise.")
