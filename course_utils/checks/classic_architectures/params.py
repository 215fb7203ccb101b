"""Notebook 03, parameter arithmetic: ``vgg_stack_params`` (3×3 stacks vs one 7×7) and ``bottleneck_params``
(1×1 reductions), counted from ``nn.Conv2d`` on the ``meta`` device."""

from __future__ import annotations

from ...train import count_parameters
from ..engine import Case, CheckResult, compare_int, compare_parts, run_cases
from ..messages.classic_architectures import M

__all__ = ["check_vgg_stack_params", "check_bottleneck_params"]


# --------------------------------------------------------------------------
# Parameter arithmetic: 3×3 stacks, 1×1 reductions
# --------------------------------------------------------------------------

def _conv_params(cin, cout, k, bias):
    import torch
    return count_parameters(torch.nn.Conv2d(cin, cout, k, bias=bias, device="meta"))


def _vgg_stack_cases(extended):
    cases = []
    for c, bias in [(64, False), (256, True), (3, True)] + ([(512, False), (1, True)] if extended else []):
        stack = sum(_conv_params(c, c, 3, bias) for _ in range(3))
        single = _conv_params(c, c, 7, bias)
        mistakes = [M.mistake("vgg_stack_params.one_layer", (9 * c * c + c * bias, 49 * c * c + c * bias)),
                    M.mistake("vgg_stack_params.no_input_channels", (3 * (9 * c + c * bias), 49 * c + c * bias))]
        cases.append(Case(f"vgg_stack_params({c}, bias={bias})", (c,), dict(bias=bias), expected=(stack, single),
                          mistakes=mistakes))
    return cases


def _compare_pair(check, got, case, *, name, general_hint=None):
    """The answer is a pair of ints; compare each with its own hint."""
    compare_parts(check, got, case, name=name, parts=("number 1 of the pair", "number 2 of the pair"),
                  compare=compare_int, shape="a pair of ints", return_hint="Return both numbers: `return first, second`.",
                  general_hint=general_hint)


def check_vgg_stack_params(vgg_stack_params, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``vgg_stack_params(channels, bias=True) -> (three_3x3, one_7x7)``.

    Parameters of three stacked 3×3 convolutions channels → channels, and of
    one 7×7 convolution channels → channels, counted from ``nn.Conv2d``.
    """
    return run_cases("vgg_stack_params", vgg_stack_params, lambda: _vgg_stack_cases(extended), compare=_compare_pair,
                     strict=strict, general_hint=M("vgg_stack_params.general"))


def _bottleneck_cases(extended):
    specs = [(128, 32, 128, 3), (256, 64, 256, 3), (192, 16, 32, 5)]
    if extended:
        specs += [(480, 96, 208, 3), (64, 64, 64, 3), (512, 24, 64, 5)]
    cases = []
    for cin, mid, cout, k in specs:
        direct = _conv_params(cin, cout, k, False)
        reduced = _conv_params(cin, mid, 1, False) + _conv_params(mid, cout, k, False)
        mistakes = [M.mistake("bottleneck_params.no_reduction", (direct, k * k * mid * cout)),
                    M.mistake("bottleneck_params.c_mid_only", (direct, mid + k * k * mid * cout))]
        cases.append(Case(f"bottleneck_params({cin}, {mid}, {cout}, kernel_size={k})", (cin, mid, cout),
                          dict(kernel_size=k), expected=(direct, reduced), mistakes=mistakes))
    return cases


def check_bottleneck_params(bottleneck_params, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``bottleneck_params(c_in, c_mid, c_out, kernel_size=3) -> (direct, reduced)``.

    Weights (no biases) of one k×k convolution c_in → c_out, and of a 1×1
    reduction c_in → c_mid followed by the k×k convolution c_mid → c_out,
    counted from ``nn.Conv2d``.
    """
    return run_cases("bottleneck_params", bottleneck_params, lambda: _bottleneck_cases(extended), compare=_compare_pair,
                     strict=strict, general_hint=M("bottleneck_params.general"))
