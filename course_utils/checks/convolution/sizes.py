"""Notebook 01, arithmetic: ``conv_output_size`` and ``conv_param_count``, against the size ``F.conv2d`` gives
and the parameters of an ``nn.Conv2d``, both on the ``meta`` device."""

from __future__ import annotations

from ..engine import Case, CheckResult, compare_int, pair, run_cases
from ..messages.convolution import M

__all__ = ["check_conv_output_size", "check_conv_param_count"]


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
                      ("conv_output_size.span", (size + 2 * p - d * k) // s + 1),   # the span taken as d·k
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
