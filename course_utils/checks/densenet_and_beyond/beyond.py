"""Beyond DenseNet: squeeze-and-excitation, EfficientNet's compound scaling, deformable convolution.

* the SE block, a model scenario against ``torchvision.ops.SqueezeExcitation``
  (its dense layers may be ``nn.Linear`` or 1×1 convolutions, with biases or
  without: ``dense_forms``); each known mistake a copy of the reference,
  changed;
* compound scaling with the formulas of Tan & Le (2019);
* deformable convolution with zero offsets with ``F.conv2d`` (which the
  learner may not call).
"""

from __future__ import annotations

import functools
import math
import numbers
import re

from ..engine import (INCORRECT, RAISED, UNCHECKABLE, Case, CheckResult, ModelCase, ModelScenario, Verdict,
                      check_model, compare_parts, compare_tensor, finish, generator, mistakes_of, pair, randn,
                      run_cases)
from ..messages.densenet_and_beyond import M

# (channels, reduction, N, H, W): the default reduction and others, C not a multiple of the reduction with a
# fraction above one half (22 / 8 = 2.75: floor 2, while round and ceil give 3), and a batch of one (where
# squeezing the pooled (1, C, 1, 1) map drops the batch axis too)
_SE_SPECS = [(32, 4, 2, 5, 7), (48, 16, 3, 4, 4), (22, 8, 2, 6, 3), (12, 4, 1, 3, 2)]
_SE_EXTENDED = [(64, 16, 2, 7, 7), (10, 2, 1, 1, 1), (96, 24, 2, 3, 5)]


def _se_module(scale):
    """A mutant of torchvision's SE block: ``scale(block, x)`` computes its output from the block's layers."""
    def mutate(reference):
        import torch.nn as nn

        class Rewired(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = reference

            def forward(self, x):
                return scale(self.block, x)
        return Rewired()
    return mutate


def _set_part(name, make):
    def mutate(reference):
        setattr(reference, name, make())
    return mutate


def _sum_squeeze():
    import torch.nn as nn

    class SumPool(nn.Module):
        def forward(self, x):
            return x.sum(dim=(2, 3), keepdim=True)
    return SumPool()


def _se_mistakes():
    """Known mistakes, each a copy of torchvision's SqueezeExcitation (avgpool, fc1, activation, fc2,
    scale_activation) changed the way the mistake changes it."""
    import torch.nn as nn
    return [M.model_mistake("make_se_block.returns_scale", _se_module(lambda se, x: se._scale(x))),
            M.model_mistake("make_se_block.returns_scale_2d", _se_module(lambda se, x: se._scale(x).flatten(1))),
            M.model_mistake("make_se_block.no_sigmoid", _set_part("scale_activation", nn.Identity)),
            M.model_mistake("make_se_block.softmax", _set_part("scale_activation", lambda: nn.Softmax(dim=1))),
            M.model_mistake("make_se_block.relu_gate", _set_part("scale_activation", nn.ReLU)),
            M.model_mistake("make_se_block.tanh_gate", _set_part("scale_activation", nn.Tanh)),
            M.model_mistake("make_se_block.max_squeeze", _set_part("avgpool", lambda: nn.AdaptiveMaxPool2d(1))),
            M.model_mistake("make_se_block.sum_squeeze", _set_part("avgpool", _sum_squeeze)),
            M.model_mistake("make_se_block.no_inner_relu", _set_part("activation", nn.Identity)),
            M.model_mistake("make_se_block.adds", _se_module(lambda se, x: x + se._scale(x)))]


def _se_structure(problem):
    """The known mistake of excitation layers that do not pair up with torchvision's, by their shapes (a 1×1
    convolution reads as a dense layer)."""
    from ..engine.weights import dense_shape
    if not problem.mine or problem.model is None:
        return None
    mine = [dense_shape(m) for m in problem.mine]
    if any(shape is None for shape in mine):
        return M.mistake("make_se_block.dense_only", None)
    if len(mine) == 1:
        return M.mistake("make_se_block.one_dense", None)
    channels = dense_shape(problem.theirs[0])[1]
    if len(mine) == 2 and mine[0][:2] == (channels, channels):
        return M.mistake("make_se_block.no_bottleneck", None)
    return None


def se_block_scenario(extended=False) -> ModelScenario:
    from torchvision.ops import SqueezeExcitation
    specs = _SE_SPECS + (_SE_EXTENDED if extended else [])
    cases = [ModelCase(f"make_se_block({channels}, reduction={reduction})",
                       functools.partial(SqueezeExcitation, channels, channels // reduction), [(n, channels, h, w)],
                       args=(channels,), kwargs=dict(reduction=reduction), mistakes=_se_mistakes())
             for channels, reduction, n, h, w in specs]
    return ModelScenario("make_se_block", cases, general_hint=M("make_se_block.general"), diagnose=_se_structure,
                         dense_forms=True, passed=M("make_se_block.passed"))


def check_make_se_block(make_se_block, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_se_block(channels, reduction=16) -> nn.Module``, the squeeze-and-excitation block.

    (N, C, H, W) → (N, C, H, W): squeeze (global average pool), excitation (dense C → C // reduction, ReLU,
    dense → C, sigmoid), then each channel of x scaled by its weight.  Dense layers may be ``nn.Linear`` or
    1×1 ``nn.Conv2d``, with biases or without (the reference's are then zero).  A model scenario: the
    weights of ``torchvision.ops.SqueezeExcitation`` go into the learner's dense layers, paired in the order
    forward runs them, and both run on the same inputs in eval and training mode.
    """
    return check_model(make_se_block, se_block_scenario(extended), strict=strict, seed=seed)


# --------------------------------------------------------------------------
# compound_scaling — Tan & Le (2019)
# --------------------------------------------------------------------------

_SCALING_PARTS = ("depth multiplier", "width multiplier", "resolution multiplier", "FLOP factor")


def _compare_float(check, got, case, *, name, general_hint=None):
    """Raise ``Verdict`` unless ``got`` is a real number close to ``case.expected``."""
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint=M("compound_scaling.no_return"), next_step="Return a number."))
    if hasattr(got, "item") and getattr(got, "ndim", 1) == 0:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; expected a number.",
                                  case=case.label, next_step="Return a float and run the check again."))
    if math.isclose(float(got), case.expected, rel_tol=1e-6, abs_tol=1e-9):
        return
    matched = next((m for m in mistakes_of(case) if isinstance(m.answer, float)
                    and math.isclose(float(got), m.answer, rel_tol=1e-6, abs_tol=1e-9)), None)
    raise Verdict(CheckResult(check, INCORRECT, "the number is wrong.", case=case.label,
                              evidence=[f"expected {case.expected:.6g}, got {float(got):.6g}"],
                              hint=matched.hint if matched else general_hint, mistake=matched.key if matched else None,
                              next_step="Fix the formula, re-run its cell, then run this check again."))


def _scaling_cases(extended):
    # φ: integer, fractional, 1, 0 (every multiplier 1) and negative (a smaller network); other coefficients
    specs = [(2, None), (0.5, None), (3, (1.1, 1.2, 1.25)), (1, None), (0, None), (-1, None)]
    if extended:
        specs += [(0, None), (7, None), (1.5, (1.3, 1.05, 1.1)), (-1, None)]
    cases = []
    for phi, coefficients in specs:
        alpha, beta, gamma = coefficients or (1.2, 1.1, 1.15)
        d, w, r = alpha ** phi, beta ** phi, gamma ** phi
        expected = (d, w, r, d * w * w * r * r)  # FLOPs ∝ depth · width² · resolution²
        mistakes = [("compound_scaling.linear_phi",
                     (alpha * phi, beta * phi, gamma * phi, alpha * beta ** 2 * gamma ** 2 * phi)),
                    ("compound_scaling.flops_no_squares", (d, w, r, d * w * r)),
                    ("compound_scaling.flops_two", (d, w, r, 2.0 ** phi)),
                    ("compound_scaling.swapped", (d, r, w, expected[3])),
                    ("compound_scaling.swapped", (r, w, d, expected[3]))]
        if coefficients is not None:
            a, b, c = 1.2 ** phi, 1.1 ** phi, 1.15 ** phi
            mistakes.append(("compound_scaling.default_coefficients", (a, b, c, a * b * b * c * c)))
        kwargs = {} if coefficients is None else dict(alpha=alpha, beta=beta, gamma=gamma)
        shown = "" if coefficients is None else f", alpha={alpha}, beta={beta}, gamma={gamma}"
        cases.append(Case(f"compound_scaling({phi}{shown})", (phi,), kwargs, expected=expected,
                          mistakes=[M.mistake(key, tuple(float(v) for v in m)) for key, m in mistakes]))
    return cases


def _compare_scaling(check, got, case, *, name, general_hint=None):
    compare_parts(check, got, case, name=name, parts=_SCALING_PARTS, compare=_compare_float,
                  shape="four numbers (depth, width, resolution, flops)",
                  return_hint=M("compound_scaling.return_four"),
                  general_hint=general_hint)


def check_compound_scaling(compound_scaling, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``compound_scaling(phi, alpha=1.2, beta=1.1, gamma=1.15) -> (depth, width, resolution, flops)``:
    the multipliers α^φ, β^φ, γ^φ and the FLOP factor (α·β²·γ²)^φ of EfficientNet (Tan & Le, 2019)."""
    return run_cases("compound_scaling", compound_scaling, lambda: _scaling_cases(extended), compare=_compare_scaling,
                     strict=strict, general_hint=M("compound_scaling.general"))


# --------------------------------------------------------------------------
# deform_conv_zero_offset — vs F.conv2d
# --------------------------------------------------------------------------

# (N, C_in, H, W, C_out, kh, kw, stride, padding, dilation, bias)
_DEFORM_SPECS = [(2, 3, 7, 9, 4, 3, 3, 1, 1, 1, True), (1, 2, 8, 6, 3, 3, 2, 2, (1, 0), 1, False),
                 (2, 4, 9, 10, 2, 3, 3, 1, 2, 2, True), (1, 1, 5, 7, 2, 1, 1, 2, 0, 1, False)]  # 1×1, one channel in
_DEFORM_EXTENDED = [(3, 1, 10, 7, 5, 5, 5, (2, 1), 2, (1, 2), True), (1, 3, 5, 5, 1, 1, 1, 1, 0, 1, False),
                    (2, 2, 12, 11, 3, 3, 3, 3, 0, 1, True)]

def _deform_cases(seed, extended):
    import torch
    import torch.nn.functional as F
    from torchvision.ops import deform_conv2d
    g = generator(seed)
    cases = []
    for n, cin, h, w, cout, kh, kw, stride, padding, dilation, bias in \
            _DEFORM_SPECS + (_DEFORM_EXTENDED if extended else []):
        x, weight = randn(g, n, cin, h, w), randn(g, cout, cin, kh, kw)
        b = randn(g, cout) if bias else None
        settings = dict(stride=stride, padding=padding, dilation=dilation)
        expected = F.conv2d(x, weight, b, **settings)
        hout, wout = expected.shape[2:]
        mistakes = [M.mistake("deform_conv_zero_offset.ones",
                              deform_conv2d(x, torch.ones(n, 2 * kh * kw, hout, wout), weight, b, **settings)),
                    M.mistake("deform_conv_zero_offset.zero_mask",
                              deform_conv2d(x, torch.zeros(n, 2 * kh * kw, hout, wout), weight, b,
                                            mask=torch.zeros(n, kh * kw, hout, wout), **settings))]
        if bias:
            mistakes.append(M.mistake("deform_conv_zero_offset.no_bias", F.conv2d(x, weight, None, **settings)))
        if tuple(pair(stride)) != (1, 1) or tuple(pair(padding)) != (0, 0) or tuple(pair(dilation)) != (1, 1):
            mistakes.append(M.mistake("deform_conv_zero_offset.settings_ignored",
                                      tuple(F.conv2d(x, weight, b).shape)))
        kwargs = dict(bias=b, **settings)
        label = (f"x {tuple(x.shape)}, weight {tuple(weight.shape)}, bias {'yes' if bias else 'None'}, "
                 f"stride={stride}, padding={padding}, dilation={dilation}")
        cases.append(Case(label, (x, weight), kwargs, expected=expected, mistakes=mistakes))
    return cases


def _deform_forbidden():
    """The convolutions the check compares against (this exercise is about deform_conv2d)."""
    import torch
    import torch.nn.functional as F
    refused = M.refusal("deform_conv_zero_offset.refused_conv2d", "deform_conv_zero_offset.conv2d_called")
    return [(F, "conv2d", "F.conv2d", refused), (torch, "conv2d", "torch.conv2d", refused),
            (torch, "convolution", "torch.convolution", refused)]


def _offset_dims(evidence):
    """The (offset's, computed) output sizes from torchvision's size-mismatch error, or None."""
    for line in evidence:
        found = re.search(r"offset output dims: \((\d+), (\d+)\) - computed output dims: \((\d+), (\d+)\)", line)
        if found:
            sizes = tuple(int(v) for v in found.groups())
            return sizes[:2], sizes[2:]
    return None


def check_deform_conv_zero_offset(deform_conv_zero_offset, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``deform_conv_zero_offset(x, weight, bias=None, stride=1, padding=0, dilation=1)``.

    It must call ``torchvision.ops.deform_conv2d`` with zero offsets of shape (N, 2·kh·kw, H_out, W_out); the
    result is compared with ``F.conv2d`` (which the learner's code may not call) on cases with stride, padding,
    dilation, non-square maps and kernels, a 1×1 kernel and one input channel.
    """
    check = "deform_conv_zero_offset"
    result = run_cases(check, deform_conv_zero_offset, lambda: _deform_cases(seed, extended), compare=compare_tensor,
                       strict=False, forbidden=_deform_forbidden(),
                       general_hint=M("deform_conv_zero_offset.general"))
    if result.outcome == RAISED and any("offset" in line.lower() for line in result.evidence):
        result.hint = M("deform_conv_zero_offset.offset_shape")
        dims = _offset_dims(result.evidence)
        expected = {case.label: tuple(case.expected.shape[2:])
                    for case in _deform_cases(seed, extended)}.get(result.case)
        if dims is not None and expected is not None and dims[0] == expected != dims[1]:
            # the offset is right; deform_conv2d was called with its defaults
            result.hint = M("deform_conv_zero_offset.settings_not_passed")
    return finish(result, strict)
