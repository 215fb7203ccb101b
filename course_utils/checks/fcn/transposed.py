"""Transposed convolution by overlap-add (``conv_transpose2d``) and its output size.

References: ``F.conv_transpose2d`` (the learner's code may call no convolution
function), and its output size on the meta device.  Known mistakes are computed
by ``_overlap_add``, written here from the definition, whose ``mistake=``
switch takes the message keys themselves.
"""

from __future__ import annotations

import functools

from ..convolution import _conv2d_forbidden, conv_ops
from ..engine import (Case, CheckResult, compare_int, compare_tensor, generator, later, no_more_work_on_more_pixels,
                      pair, randn, run_cases, shape_of)
from ..messages.fcn import M

# n, c_in, c_out, h, w, kh, kw, stride, padding, output_padding, bias
# The first case has C_in = C_out, so that a weight read as (C_out, C_in, …) gives a wrong answer to name
# rather than a shape error.
_TRANSPOSE_SPECS = [(2, 3, 3, 4, 5, 3, 3, 2, 1, 1, True),
                    (2, 3, 4, 5, 4, 3, 3, 2, 1, 1, True), (1, 2, 3, 4, 6, 4, 4, 2, 1, 0, False),
                    (2, 3, 2, 3, 5, 3, 2, 1, 0, 0, True), (1, 4, 2, 6, 3, 2, 3, 3, 1, 2, True),
                    (1, 2, 3, 5, 4, 3, 2, (2, 1), (1, 0), (1, 0), True),   # (height, width) pairs differ per axis
                    (2, 1, 1, 1, 3, 3, 3, 2, 1, 1, True)]   # one channel in and out, an input one pixel high
_TRANSPOSE_EXTENDED = [(3, 1, 1, 7, 7, 5, 5, 2, 2, 1, False), (1, 5, 3, 2, 9, 4, 3, (2, 3), (1, 0), (1, 2), True),
                       (1, 2, 2, 1, 1, 3, 3, 2, 0, 0, True)]


def _transposed_reference(x, weight, bias, stride, padding, output_padding):
    import torch.nn.functional as F
    return F.conv_transpose2d(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding)


def _overlap_add(x, weight, bias, stride, padding, output_padding, *, mistake=None):
    """Transposed convolution by overlap-add, written here from its definition (no convolution function).

    With ``mistake=None`` it is ``F.conv_transpose2d`` (the test suite proves it); a message key makes that
    known mistake: ``"conv_transpose2d.assigns"`` writes each stamp over the previous ones,
    ``"conv_transpose2d.bias_per_stamp"`` adds the bias to every stamp, ``"conv_transpose2d.no_bias"``
    leaves the bias out.
    """
    import torch
    n, cin, h, w = x.shape
    cout, kh, kw = weight.shape[1], weight.shape[2], weight.shape[3]
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    full_h, full_w = sh * (h - 1) + kh + oh, sw * (w - 1) + kw + ow     # where the last stamp ends
    out = torch.zeros(n, cout, full_h, full_w)
    for i in range(kh):
        for j in range(kw):
            contribution = torch.einsum("nchw,cd->ndhw", x, weight[:, :, i, j])
            if mistake == "conv_transpose2d.bias_per_stamp" and bias is not None:
                contribution = contribution + bias[None, :, None, None]
            window = out[:, :, i:i + (h - 1) * sh + 1:sh, j:j + (w - 1) * sw + 1:sw]
            if mistake == "conv_transpose2d.assigns":
                window.copy_(contribution)
            else:
                window += contribution
    out = out.narrow(2, ph, full_h - 2 * ph).narrow(3, pw, full_w - 2 * pw)   # padding crops both sides
    once = bias is not None and mistake not in ("conv_transpose2d.no_bias", "conv_transpose2d.bias_per_stamp")
    return out + bias[None, :, None, None] if once else out


def _transposed_mistakes(x, weight, bias, stride, padding, output_padding):
    """The known mistakes of one case, computed with ``_overlap_add`` (values) or from the sizes (shapes)."""
    n, cin, h, w = x.shape
    cout, kh, kw = weight.shape[1], weight.shape[2], weight.shape[3]
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    full_h, full_w = sh * (h - 1) + kh + oh, sw * (w - 1) + kw + ow     # where the last stamp ends
    settings = (stride, padding, output_padding)

    def overlap(key, weight=weight, mistake=None):
        return M.mistake(key, _overlap_add(x, weight, bias, *settings, mistake=mistake))

    mistakes = []
    if kh > sh or kw > sw:   # overlapping windows: only then does '=' differ from '+='
        mistakes.append(overlap("conv_transpose2d.assigns", mistake="conv_transpose2d.assigns"))
    if kh > 1 or kw > 1:
        mistakes.append(overlap("conv_transpose2d.flipped", weight=weight.flip(-1, -2)))
    if cin == cout:
        mistakes.append(overlap("conv_transpose2d.weight_out_in", weight=weight.transpose(0, 1)))
    if bias is not None:
        mistakes += [overlap(key, mistake=key) for key in ("conv_transpose2d.no_bias",
                                                           "conv_transpose2d.bias_per_stamp")]
    if ph or pw:
        mistakes += [M.mistake("conv_transpose2d.padding_ignored", (n, cout, full_h, full_w)),
                     M.mistake("conv_transpose2d.crops_one_side", (n, cout, full_h - ph, full_w - pw))]
    if oh or ow:
        mistakes.append(M.mistake("conv_transpose2d.output_padding_ignored",
                                  (n, cout, full_h - oh - 2 * ph, full_w - ow - 2 * pw)))
    if (sh, ph, oh) != (sw, pw, ow):   # per-axis settings read from the height's value only
        mistakes.append(M.mistake("conv_transpose2d.first_axis_only",
                                  (n, cout, full_h - 2 * ph, (w - 1) * sh - 2 * ph + kw + oh)))
    return mistakes


def _transposed_cases(seed, extended):
    g = generator(seed)
    cases = []
    for n, cin, cout, h, w, kh, kw, stride, padding, output_padding, has_bias in (
            _TRANSPOSE_SPECS + (_TRANSPOSE_EXTENDED if extended else [])):
        x, weight = randn(g, n, cin, h, w), randn(g, cin, cout, kh, kw)
        bias = randn(g, cout) if has_bias else None
        kwargs = dict(stride=stride, padding=padding, output_padding=output_padding)
        label = (f"x {shape_of(x)}, weight {shape_of(weight)}, bias {shape_of(bias) if bias is not None else None}, "
                 f"stride={stride}, padding={padding}, output_padding={output_padding}")
        # answered later, from the check's copies of the inputs
        compute = functools.partial(_transposed_answers, *[t if t is None else t.clone() for t in (x, weight, bias)],
                                    **kwargs)
        cases.append(Case(label, (x, weight, bias), kwargs, **later(compute), atol=1e-4, rtol=1e-4))
    return cases


def _transposed_answers(x, weight, bias, **kwargs):
    return _transposed_reference(x, weight, bias, **kwargs), _transposed_mistakes(x, weight, bias, **kwargs)


def check_conv_transpose2d(conv_transpose2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0)``.

    ``x`` is (N, C_in, H, W) and ``weight`` (C_in, C_out, kH, kW), as for
    ``F.conv_transpose2d``, which it is compared with; every convolution
    function is refused while it runs (build it by overlap-add).
    """
    forbidden = _conv2d_forbidden(reimplements=("F.conv_transpose2d",))

    def no_pixel_loop():
        """The statement's overlap-add loops over the kernel's taps: the same work on a 6 × 6 and a 12 × 12 input
        with the same 3 × 3 kernel; a loop over input or output pixels does more on the bigger one."""
        g = generator(seed + 1)
        weight = randn(g, 2, 3, 3, 3)
        small, big = (Case(f"x (1, 2, {side}, {side}), weight (2, 3, 3, 3), stride=2", (randn(g, 1, 2, side, side),
                                                                                      weight), dict(stride=2))
                      for side in (6, 12))
        no_more_work_on_more_pixels(
            "conv_transpose2d", conv_transpose2d, small, big, sizes=("a 6×6 input", "12×12"),
            summary="correct, but it loops over pixels, not over the kernel's taps.",
            hint=M("conv_transpose2d.loops"), mistake="conv_transpose2d.loops",
            vectorised="a loop over the k × k taps runs the same numbers on any size", forbidden=forbidden,
            op_pattern=conv_ops())

    return run_cases("conv_transpose2d", conv_transpose2d, lambda: _transposed_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=forbidden, op_pattern=conv_ops(), general_hint=M("conv_transpose2d.general"),
                     after=no_pixel_loop)


# --------------------------------------------------------------------------
# conv_transpose_output_size — vs F.conv_transpose2d on the meta device
# --------------------------------------------------------------------------

def _transposed_size(n, k, s, p, op, d):
    import torch
    import torch.nn.functional as F
    x = torch.empty(1, 1, n, 1, device="meta")
    w = torch.empty(1, 1, k, 1, device="meta")
    return int(F.conv_transpose2d(x, w, stride=(s, 1), padding=(p, 0), output_padding=(op, 0),
                                  dilation=(d, 1)).shape[2])


def _transposed_size_cases(extended):
    # (n, kernel_size, stride, padding, output_padding, dilation).  Public: each setting alone and together, a
    # stride larger than the kernel with output padding and dilation, a one-pixel input and kernel.
    specs = [(7, 3, 2, 1, 1, 1), (4, 4, 2, 1, 0, 1), (5, 3, 1, 0, 0, 1), (3, 5, 3, 2, 2, 1), (6, 3, 2, 0, 0, 2),
             (5, 2, 3, 1, 1, 3), (1, 1, 3, 0, 0, 1)]
    if extended:
        specs += [(1, 1, 1, 0, 0, 1), (10, 16, 8, 4, 0, 1), (9, 2, 4, 3, 3, 2), (2, 7, 5, 0, 4, 3)]
    cases = []
    for n, k, s, p, op, d in specs:
        expected = _transposed_size(n, k, s, p, op, d)
        candidates = [("conv_transpose_output_size.no_output_padding", expected - op),
                      ("conv_transpose_output_size.pads_once", expected + p),
                      ("conv_transpose_output_size.stretch", expected + s - 1),
                      ("conv_transpose_output_size.n_times_s", expected + s),
                      ("conv_transpose_output_size.no_dilation", expected - (d - 1) * (k - 1)),
                      # a dilated kernel's span taken as d·k, not d·(k − 1) + 1
                      ("conv_transpose_output_size.span", expected + d - 1),
                      ("conv_transpose_output_size.no_plus_one", expected - 1),
                      ("conv_transpose_output_size.output_padding_twice", expected + op),
                      ("conv_transpose_output_size.conv_formula", (n + 2 * p - d * (k - 1) - 1) // s + 1)]
        cases.append(Case(f"conv_transpose_output_size({n}, kernel_size={k}, stride={s}, padding={p}, "
                          f"output_padding={op}, dilation={d})", (n,),
                          dict(kernel_size=k, stride=s, padding=p, output_padding=op, dilation=d), expected=expected,
                          mistakes=[M.mistake(key, value) for key, value in candidates if value != expected]))
    return cases


def check_conv_transpose_output_size(conv_transpose_output_size, *, strict=False, seed=0,
                                     extended=False) -> CheckResult:
    """Check ``conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1)``.

    Compared with the output size of ``F.conv_transpose2d`` on the meta device.
    """
    return run_cases("conv_transpose_output_size", conv_transpose_output_size, lambda: _transposed_size_cases(extended),
                     compare=compare_int, strict=strict, general_hint=M("conv_transpose_output_size.general"))
