"""``convolutionalize``: a dense layer as a convolution (FCN's first step).

The reference is the dense layer applied window by window (unfold and a matrix
product, independent of any convolution).  This is not a model scenario
(``engine.check_model`` puts the reference's weights into the learner's model,
and here copying the dense layer's weights *is* the exercise): each case builds
the learner's convolution from a seeded dense layer, checks its layout, then
compares its outputs at the training size and on a larger input.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import (INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, compare_tensor, generator,
                      randn, run_cases)
from ..messages.fcn import M

CHECK = "convolutionalize"

# (C, H, W, out_features, bias)
# Public: square, H ≠ W and 1 × 1 inputs, with a bias and without, and one input channel (where every reading of
# the weight's layout is the same: the one kind of case that breaks code written for several channels only).
_CONVOLUTIONALIZE_SPECS = [(16, 4, 4, 10, True), (8, 3, 5, 6, True), (32, 1, 1, 7, False), (1, 5, 2, 3, True)]
_CONVOLUTIONALIZE_EXTENDED = [(3, 7, 2, 4, True), (1, 6, 6, 2, False)]


def _linear_windows(weight, bias, x, kh, kw):
    """The dense layer (weight, bias) applied to every kh × kw window of x: (N, out, H - kh + 1, W - kw + 1).

    Computed with unfold and a matrix product, independently of any convolution."""
    import torch
    n, c, h, w = x.shape
    patches = torch.nn.functional.unfold(x, (kh, kw))               # (N, C·kh·kw, L), channel-major like flatten
    out = patches.transpose(1, 2) @ weight.T                        # (N, L, out)
    if bias is not None:
        out = out + bias
    return out.transpose(1, 2).reshape(n, -1, h - kh + 1, w - kw + 1)


@dataclass
class DenseCase:
    """One dense layer to convolutionalize, and the inputs its convolution is run on."""

    label: str
    linear: object          # nn.Linear(C·H·W, out_features) with seeded weights
    in_shape: tuple         # (C, H, W)
    inputs: list            # [(x, what it is)]: the training size, then a larger input


def _dense_cases(seed, extended):
    import torch
    g = generator(seed)
    cases = []
    for c, h, w, out_features, bias in _CONVOLUTIONALIZE_SPECS + (_CONVOLUTIONALIZE_EXTENDED if extended else []):
        # skip_init: the weights are overwritten below, and nothing is drawn from the global RNG
        linear = torch.nn.utils.skip_init(torch.nn.Linear, c * h * w, out_features, bias=bias)
        with torch.no_grad():
            linear.weight.copy_(randn(g, out_features, c * h * w))
            if bias:
                linear.bias.copy_(randn(g, out_features))
        inputs = [(randn(g, 2, c, *size), name) for size, name in (((h, w), "the training size"),
                                                                   ((h + 3, w + 2), "a larger input"))]
        label = f"convolutionalize(nn.Linear({c * h * w}, {out_features}, bias={bias}), in_shape=({c}, {h}, {w}))"
        cases.append(DenseCase(label, linear, (c, h, w), inputs))
    return cases


def _layout(conv, case: DenseCase) -> None:
    """The convolution's type, weight shape and bias, before any value is compared."""
    import torch
    (c, h, w), linear = case.in_shape, case.linear
    if conv is None:
        raise Verdict(CheckResult(CHECK, UNCHECKABLE, M("convolutionalize.returned_none"), case=case.label,
                                  hint=M("convolutionalize.forgot_return"),
                                  next_step="Return the convolution and run the check again."))
    if not isinstance(conv, torch.nn.Conv2d):
        raise Verdict(CheckResult(CHECK, UNCHECKABLE, M("convolutionalize.not_a_conv", type=type(conv).__name__),
                                  case=case.label, next_step="Return an nn.Conv2d and run the check again."))
    want = (linear.out_features, c, h, w)
    if tuple(conv.weight.shape) != want:
        key = ("convolutionalize.kernel_size" if conv.weight.shape[0] == linear.out_features
               else "convolutionalize.out_channels")
        raise Verdict(CheckResult(CHECK, INCORRECT, M("convolutionalize.weight_shape"), case=case.label,
                                  evidence=[f"expected {want}, got {tuple(conv.weight.shape)}"], hint=M(key),
                                  mistake=key, next_step="Fix the layer and run the check again."))
    if (conv.bias is not None) != (linear.bias is not None):
        raise Verdict(CheckResult(CHECK, INCORRECT, M("convolutionalize.bias_differs"), case=case.label,
                                  evidence=[f"dense layer bias: {linear.bias is not None}; convolution bias: "
                                            f"{conv.bias is not None}"],
                                  hint=M("convolutionalize.bias_presence"), mistake="convolutionalize.bias_presence",
                                  next_step="Fix the bias and run the check again."))


def _forward_case(conv, case: DenseCase, x, name) -> Case:
    """The convolution on ``x`` should equal the dense layer on each window; what the known mistakes give."""
    import torch
    (c, h, w), linear = case.in_shape, case.linear
    with torch.no_grad():
        expected = _linear_windows(linear.weight, linear.bias, x, h, w)
        hwc = linear.weight.reshape(-1, h, w, c).permute(0, 3, 1, 2).reshape(linear.out_features, -1)
        mistakes = [M.mistake("convolutionalize.hwc_order", _linear_windows(hwc, linear.bias, x, h, w))]
        if linear.bias is not None and conv.bias.shape == linear.bias.shape:  # the right weights, the learner's bias
            mistakes.append(M.mistake("convolutionalize.bias_not_copied",
                                      _linear_windows(linear.weight, conv.bias.detach().cpu(), x, h, w)))
    return Case(_forward_label(case, x, name), (x,), expected=expected, mistakes=mistakes)


def _forward_label(case: DenseCase, x, name) -> str:
    return f"{case.label}, conv(x) on x of shape {tuple(x.shape)} ({name})"


def _convolutionalizes_each(convolutionalize, cases) -> str:
    import torch
    for index, case in enumerate(cases):
        snapshot = {k: v.clone() for k, v in case.linear.state_dict().items()}
        conv, _ = call_learner(CHECK, convolutionalize, Case(case.label, (case.linear, case.in_shape)),
                               first=index == 0)
        if any(not torch.equal(v, snapshot[k]) for k, v in case.linear.state_dict().items()):
            raise Verdict(CheckResult(CHECK, INCORRECT, M("convolutionalize.linear_changed"), case=case.label,
                                      hint=M("convolutionalize.writes_into_linear"),
                                      mistake="convolutionalize.writes_into_linear",
                                      next_step="Fix it and run the check again."))
        _layout(conv, case)
        for x, name in case.inputs:
            with torch.no_grad():   # before the answers exist
                got, _ = call_learner(CHECK, conv, Case(_forward_label(case, x, name), (x,)), first=False,
                                      name="conv.forward")
            forward = _forward_case(conv, case, x, name)
            compare_tensor(CHECK, got, forward, name="conv", general_hint=M("convolutionalize.general"))
    return M("convolutionalize.passed")


def check_convolutionalize(convolutionalize, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``convolutionalize(linear, in_shape) -> nn.Conv2d``.

    ``linear`` is an ``nn.Linear`` trained on flattened (C, H, W) inputs; the
    convolution must have kernel (H, W) and ``linear.out_features`` output
    channels and compute exactly the dense layer: on an input of the
    training size its (N, out, 1, 1) output equals ``linear(x.flatten(1))``,
    and on a larger input each output position equals the dense layer applied
    to that window.
    """
    cases = _dense_cases(seed, extended)
    return run_cases(CHECK, convolutionalize, [], compare=None, strict=strict,
                     after=lambda: _convolutionalizes_each(convolutionalize, cases))
