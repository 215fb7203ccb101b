"""Checks for notebook 01: convolution.

Every expected answer comes from an independent reference computed at check
time: ``numpy.convolve``, ``torch.nn.functional.conv2d`` or an ``nn.Conv2d``
built on the ``meta`` device (shapes and parameter counts at no cost).
"""

from __future__ import annotations

import functools
import time

from .engine import (DOES_THE_WORK, INCORRECT, REIMPLEMENTED, UNCHECKABLE, Case, CheckResult, Verdict, call_learner,
                      compare_int, compare_tensor, count_torch_ops, generator, later, pair, randn, run_cases, shape_of)
from .messages.convolution import M

__all__ = ["check_conv1d_full", "check_conv2d_true", "check_conv2d", "check_conv_output_size",
           "check_conv_param_count", "check_conv2d_im2col"]

# im2col must not loop over output pixels: the number of torch operations one
# call runs may not grow with the image (counted, so independent of machine
# load).  Its time is shown beside F.conv2d's and must stay within this factor.
# Measured in CPU time, the check's own procedure repeated (the course's im2col benchmark;
# torch 2.14, 2 cores at load 6-11): well-made vectorised variants (as_strided or
# unfold laid out as columns, one matmul) 2.6-3.4x F.conv2d's time, the notebook's
# rows layout, index gathering and einsum 7-9x at worst; correct but poor ones
# 97x (np.einsum) to 400x (a broadcast product instead of a matmul), a loop over
# output pixels 100x.  20x leaves the slowest correct variant a margin of 2.
IM2COL_SPEED_FACTOR = 20.0
# Where no CPU clock is fine enough to time a millisecond call (Windows' 15.6 ms ticks), the wall clock
# is used, and it counts the time other processes hold the
# CPU: the notebook's own solution read 25-34x F.conv2d on a loaded 2-core machine.  The bar there is
# the one the check had in wall-clock time before it measured CPU time.
IM2COL_WALL_SPEED_FACTOR = 50.0
# Seconds of the learner's timed calls, all together, after which the speed
# comparison stops: a slow variant's best time so far is far over the bar anyway.
IM2COL_SPEED_BUDGET = 1.0

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
    return expected, mistakes


def check_conv2d(conv2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1)``.

    x: (N, C_in, H, W); weight: (C_out, C_in, kh, kw); bias: (C_out,) or None;
    stride, padding, dilation: int or (along H, along W).  Compared with
    ``torch.nn.functional.conv2d``, which the learner's code may not call.
    """
    return run_cases("conv2d", conv2d, lambda: _conv2d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(), op_pattern=conv_ops(), general_hint=M("conv2d.general"))


# --------------------------------------------------------------------------
# conv2d_im2col — same contract, vectorised, with a speed comparison
# --------------------------------------------------------------------------

def _cpu_clock():
    """This thread's CPU time where that clock is fine-grained, else the process's, else the wall clock.

    CPU time leaves out the time other processes hold the CPU: on a loaded
    2-core machine a 5 ms call is preempted so often that its best wall time
    of 7 was 3x its CPU time, while F.conv2d's 0.6 ms was not (the ratio of
    the notebook's own solution read 19x instead of 6x).  The timed calls run
    on this thread with torch on one thread, so the thread's clock is the
    one: the process's clock moves in scheduler ticks (3-4 ms) once a CPU
    limit is set (RLIMIT_CPU, as the grading sandbox sets it), where
    F.conv2d's 0.5 ms read 0.  Windows counts CPU time in 15.6 ms ticks, too
    coarse for a millisecond call.
    """
    for clock, name in ((time.thread_time, "thread_time"), (time.process_time, "process_time")):
        if time.get_clock_info(name).resolution <= 1e-5 and _clock_step(clock) <= 1e-5:
            return clock
    return time.perf_counter


def _clock_step(clock, spin: float = 0.005) -> float:
    """The smallest step ``clock`` is seen to take while this thread spins for up to ``spin`` s of wall time
    (inf when it never moves).  What the clock reports of itself is not enough: under RLIMIT_CPU (a grading
    sandbox's kernel) the process CPU clock reports 1 ns but moves in scheduler ticks."""
    end, last, step = time.perf_counter() + spin, clock(), float("inf")
    while time.perf_counter() < end:
        now = clock()
        if now != last:
            step, last = min(step, now - last), now
            if step <= 1e-6:
                break
    return step


def _speed_ratio(reference, mine, *, factor, budget=None, repeats=7, clock=None):
    """Best CPU times of ``reference()`` and ``mine()``, measured alternately on one thread.

    ``mine()`` runs the learner's code and returns the CPU time it took (so
    that the guards around it are not counted).  At most ``repeats`` rounds;
    fewer when the learner's calls together took over ``budget`` seconds of
    wall time, or when two rounds were each over three times the bar (noise
    in CPU time is far below that).  ``budget`` defaults to ``IM2COL_SPEED_BUDGET``
    (read at call time, so a test may lower it), ``clock`` to :func:`_cpu_clock`'s.
    Returns ``(reference best, mine best, rounds run)``.
    """
    import torch
    clock = clock or _cpu_clock()
    budget = IM2COL_SPEED_BUDGET if budget is None else budget
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reference()  # warm-up
        spent, best_ref, best_mine, over, rounds = 0.0, float("inf"), float("inf"), 0, 0
        while rounds < repeats:
            rounds += 1
            start = clock()
            reference()
            best_ref = min(best_ref, clock() - start)
            wall = time.perf_counter()
            took = mine()
            spent += time.perf_counter() - wall
            best_mine = min(best_mine, took)
            over += took > 3 * factor * best_ref
            if spent > budget or over >= 2:
                break
    finally:
        torch.set_num_threads(threads)
    return max(best_ref, 1e-9), best_mine, rounds


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
    call runs must be the same on an 8×8 and a 16×16 input (no Python loop
    over output positions), and its CPU time on a (8, 16, 32, 32) input with 32
    3×3 filters is shown beside ``F.conv2d``'s (single thread, best of up to 7,
    alternating) and must be within ``speed_factor``.  The timing stops early
    once the learner's calls took ``IM2COL_SPEED_BUDGET`` seconds, and a single
    call is stopped after that long: a slow variant costs about a second, not ten.
    """
    import torch
    import torch.nn.functional as F
    unfold = M.refusal("conv2d_im2col.refused_unfold", "conv2d_im2col.refused_unfold_hint")
    forbidden = _conv2d_forbidden() + [(F, "unfold", "F.unfold", unfold)]
    op_pattern = conv_ops() + [(r"^im2col", unfold)]
    name = getattr(conv2d_im2col, "__name__", "conv2d_im2col")
    clock = _cpu_clock()

    def too_slow(case, evidence):
        return Verdict(CheckResult(
            "conv2d_im2col", INCORRECT, "correct, but too slow for an im2col convolution.", case=case.label,
            evidence=evidence, hint=M("conv2d_im2col.slow"), next_step="Speed it up and run the check again."))

    def vectorised_and_fast():
        nonlocal clock
        small, medium, case = (im2col_speed_case(seed, size=8), im2col_speed_case(seed, size=16),
                               im2col_speed_case(seed))
        with torch.no_grad():
            ops = []
            for probe in (small, medium):
                counted = Case(probe.label, (conv2d_im2col, *probe.args), probe.kwargs)
                got, _ = call_learner("conv2d_im2col", count_torch_ops, counted, forbidden=forbidden,
                                      op_pattern=op_pattern, name=name, first=False)
                ops.append(got)
            if ops[1] > ops[0]:
                raise Verdict(CheckResult(
                    "conv2d_im2col", INCORRECT, "correct, but it loops over output positions.",
                    case=medium.label,
                    evidence=[f"torch operations per call: {ops[0]} on an 8×8 input, {ops[1]} on 16×16 "
                              "(a vectorised im2col runs the same number on any size)"],
                    hint=M("conv2d_im2col.loops"),
                    next_step="Remove the loop over output pixels and run the check again."))

            def timed(*args, **kwargs):   # the learner's CPU time alone, inside the guards
                start = clock()
                conv2d_im2col(*args, **kwargs)
                return clock() - start

            cap = max(IM2COL_SPEED_BUDGET, 0.05)   # seconds one timed call may run

            def mine():
                try:
                    took, _ = call_learner("conv2d_im2col", timed, case, forbidden=forbidden, op_pattern=op_pattern,
                                           seconds=cap, name=name, first=False)
                except Verdict as verdict:
                    if verdict.result.outcome == UNCHECKABLE and "was stopped" in verdict.result.summary:
                        ref_time, *_ = _speed_ratio(lambda: F.conv2d(*case.args, **case.kwargs), lambda: 0.0,
                                                    factor=speed_factor, repeats=3, clock=clock)
                        raise too_slow(case, [f"speed: one call ran for more than {cap:g} s and was "
                                              f"stopped; F.conv2d takes {ref_time * 1e3:.2f} ms (CPU time, one "
                                              f"thread); the target is within {speed_factor:g}×"]) from None
                    raise
                return took

            ref_time, mine_time, rounds = _speed_ratio(lambda: F.conv2d(*case.args, **case.kwargs), mine,
                                                       factor=speed_factor, clock=clock)
            if ref_time <= 1e-6 and clock is not time.perf_counter:   # a CPU clock too coarse after all
                clock = time.perf_counter
                ref_time, mine_time, rounds = _speed_ratio(lambda: F.conv2d(*case.args, **case.kwargs), mine,
                                                           factor=speed_factor, clock=clock)
        bar = max(speed_factor, IM2COL_WALL_SPEED_FACTOR) if clock is time.perf_counter else speed_factor
        ratio = mine_time / ref_time
        figures = (f"{mine_time * 1e3:.2f} ms vs F.conv2d {ref_time * 1e3:.2f} ms ({ratio:.1f}× F.conv2d's time; "
                   f"{'CPU' if clock is not time.perf_counter else 'wall-clock'} time, one thread, best of {rounds})")
        if ratio > bar:
            raise too_slow(case, [f"speed: {figures}; the target is within {bar:g}×"])
        return f"Speed on x {shape_of(case.args[0])} with 3×3 filters: {figures}."

    return run_cases("conv2d_im2col", conv2d_im2col, lambda: _conv2d_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=forbidden, op_pattern=op_pattern, general_hint=M("conv2d.general"),
                     after=vectorised_and_fast)


# --------------------------------------------------------------------------
# conv_output_size and conv_param_count — arithmetic vs nn.Conv2d on 'meta'
# --------------------------------------------------------------------------

# (size, kernel_size, stride, padding, dilation): the floor matters, a stride larger than the kernel, dilation 3
_SIZE_SPECS = [(32, 3, 1, 1, 1), (28, 5, 1, 0, 1), (11, 3, 2, 0, 1), (224, 7, 2, 3, 1), (10, 3, 1, 0, 2),
               (17, 4, 3, 2, 2), (7, 3, 2, 1, 1), (20, 3, 1, 2, 1), (9, 2, 4, 0, 1), (16, 5, 3, 1, 3)]
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
