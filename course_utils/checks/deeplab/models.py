"""Notebook 08, model factories as model scenarios: ``make_separable_conv`` and ``make_aspp``.

Both exercises promise a layout — ``.depthwise`` and ``.pointwise`` convolutions; torchvision's
``deeplabv3.ASPP`` (``convs``, ``project``) — so the reference's seeded random weights go into the learner's
module by state-dict keys (``WEIGHTS_BY_KEYS``), and both run on the same inputs in eval and training mode.
A known wrong model is a mutation of the reference (``M.model_mistake``); a wrong layout is diagnosed from
the learner's module (``diagnose``); the one thing equal outputs cannot show, where the stride sits, is a probe.
"""

from __future__ import annotations

from ..engine import (EVAL, INCORRECT, TRAIN, WEIGHTS_BY_KEYS, CheckResult, ModelCase, ModelScenario, Verdict,
                      check_model)
from ..messages.deeplab import M

__all__ = ["check_make_separable_conv", "check_make_aspp", "separable_param_count"]


# --------------------------------------------------------------------------
# make_separable_conv
# --------------------------------------------------------------------------

# the parameter counts separable_param_count computes for known mistakes: their keys are its variants
COUNT_VARIANTS = ("make_separable_conv.no_groups", "make_separable_conv.pointwise_first",
                  "make_separable_conv.biases", "make_separable_conv.batch_norm",
                  "make_separable_conv.batch_norm_both", "make_separable_conv.standard")


def separable_param_count(in_channels, out_channels, kernel_size, *, variant=None):
    """Weights of a depthwise separable convolution without biases: k²·C_in (depthwise) + C_in·C_out (pointwise);
    ``variant``, the key of a known mistake (``COUNT_VARIANTS``), counts that mistake's parameters instead."""
    k2 = kernel_size * kernel_size
    if variant == "make_separable_conv.no_groups":
        return k2 * in_channels * in_channels + in_channels * out_channels
    if variant == "make_separable_conv.pointwise_first":
        return in_channels * out_channels + k2 * out_channels
    if variant == "make_separable_conv.biases":
        return k2 * in_channels + in_channels + in_channels * out_channels + out_channels
    if variant == "make_separable_conv.standard":
        return k2 * in_channels * out_channels
    if variant == "make_separable_conv.batch_norm":   # BatchNorm2d after the pointwise step: 2 per output channel
        return k2 * in_channels + in_channels * out_channels + 2 * out_channels
    if variant == "make_separable_conv.batch_norm_both":
        return k2 * in_channels + 2 * in_channels + in_channels * out_channels + 2 * out_channels
    return k2 * in_channels + in_channels * out_channels


# (C_in, C_out, k, stride, dilation, x shape): kernels of 1, 3 and 5, with stride and with dilation
SEP_PUBLIC = [(4, 6, 3, 1, 1, (2, 4, 9, 11)), (3, 5, 3, 1, 2, (1, 3, 12, 10)), (6, 4, 3, 2, 1, (2, 6, 13, 9)),
              (3, 4, 5, 2, 2, (2, 3, 14, 11)), (5, 3, 1, 1, 1, (1, 5, 6, 7))]
SEP_EXTENDED = [(5, 5, 5, 1, 3, (1, 5, 17, 14)), (2, 7, 3, 2, 2, (3, 2, 15, 16)), (8, 3, 1, 1, 1, (1, 8, 6, 7))]


def separable_reference(cin, cout, k, stride, dilation):
    """Depthwise k × k (groups = C_in, stride, dilation, padding d·(k − 1)/2), then pointwise 1 × 1; no biases."""
    from collections import OrderedDict

    import torch.nn as nn
    return nn.Sequential(OrderedDict(
        depthwise=nn.Conv2d(cin, cin, k, stride, dilation * (k - 1) // 2, dilation, groups=cin, bias=False),
        pointwise=nn.Conv2d(cin, cout, 1, bias=False)))


# Known wrong separable convolutions, as edits of the reference (its weights already in it).

def _dilation_ignored(ref):
    conv = ref.depthwise
    conv.dilation, conv.padding = (1, 1), tuple((k - 1) // 2 for k in conv.kernel_size)


def _padding_not_scaled(ref):
    ref.depthwise.padding = tuple((k - 1) // 2 for k in ref.depthwise.kernel_size)


def _stride_ignored(ref):
    ref.depthwise.stride = (1, 1)


def _relu_between(ref):
    import torch.nn as nn
    return nn.Sequential(ref.depthwise, nn.ReLU(), ref.pointwise)


def _separable_mistakes(stride, dilation):
    mistakes = []
    if dilation > 1:
        mistakes += [M.model_mistake("make_separable_conv.ignores_dilation", _dilation_ignored),
                     M.model_mistake("make_separable_conv.padding_not_scaled", _padding_not_scaled)]
    if stride > 1:
        mistakes.append(M.model_mistake("make_separable_conv.stride_ignored", _stride_ignored))
    return mistakes + [M.model_mistake("make_separable_conv.relu_between", _relu_between)]


def _named_convs(model):
    import torch.nn as nn
    dw, pw = getattr(model, "depthwise", None), getattr(model, "pointwise", None)
    return (dw, pw) if isinstance(dw, nn.Conv2d) and isinstance(pw, nn.Conv2d) else None


def diagnose_separable(problem):
    """Which known mistake explains a state dict unlike the reference's: names, then the parameter count."""
    model, reference = problem.model, problem.reference
    convs = _named_convs(model)
    if convs is None:
        return M.mistake("make_separable_conv.names", None)
    dw, pw = convs
    cin, cout = reference.depthwise.in_channels, reference.pointwise.out_channels
    k = reference.depthwise.kernel_size[0]
    got = sum(p.numel() for p in model.parameters())
    if got != separable_param_count(cin, cout, k):
        key = next((v for v in COUNT_VARIANTS if separable_param_count(cin, cout, k, variant=v) == got), None)
        if key is None and any(type(m).__name__.startswith("BatchNorm") for m in model.modules()):
            key = "make_separable_conv.batch_norm"   # a norm layer anywhere in the block (e.g. between the steps)
        if key is None:
            key = "make_separable_conv.out_channels" if pw.out_channels != cout else "make_separable_conv.count"
        return M.mistake(key, got)
    if tuple(dw.weight.shape) != (cin, 1, k, k) or tuple(pw.weight.shape) != (cout, cin, 1, 1):
        return M.mistake("make_separable_conv.pointwise_first", None)
    return None


def stride_on_depthwise(scenario, model, reference, case, inputs):
    """Probe: the stride belongs to the depthwise step.  Striding the 1 × 1 step instead gives the same numbers
    (subsampling commutes with a 1 × 1 convolution), but the depthwise step then runs at full resolution."""
    convs = _named_convs(model)
    if convs is None:
        raise Verdict(CheckResult(scenario.check, INCORRECT, "the module has no `.depthwise` and `.pointwise` "
                                  "convolutions.", case=case.label, hint=M("make_separable_conv.names"),
                                  mistake="make_separable_conv.names",
                                  next_step="Name the two layers and run the check again."))
    dw, pw = convs
    stride = tuple(reference.depthwise.stride)
    if tuple(dw.stride) != stride or tuple(pw.stride) != (1, 1):
        raise Verdict(CheckResult(
            scenario.check, INCORRECT, "the stride sits on the wrong convolution.", case=case.label,
            evidence=[f"depthwise.stride {tuple(dw.stride)} (expected {stride}), pointwise.stride "
                      f"{tuple(pw.stride)} (expected (1, 1))"],
            hint=M("make_separable_conv.stride_on_pointwise"), mistake="make_separable_conv.stride_on_pointwise",
            next_step="Fix the layers and run the check again."))


def separable_scenario(extended=False) -> ModelScenario:
    settings = SEP_PUBLIC + (SEP_EXTENDED if extended else [])
    cases = [ModelCase(f"make_separable_conv({cin}, {cout}, kernel_size={k}, stride={stride}, dilation={dilation})",
                       reference=lambda cin=cin, cout=cout, k=k, s=stride, d=dilation: separable_reference(
                           cin, cout, k, s, d),
                       inputs=[shape], args=(cin, cout), kwargs=dict(kernel_size=k, stride=stride, dilation=dilation),
                       mistakes=_separable_mistakes(stride, dilation))
             for cin, cout, k, stride, dilation, shape in settings]
    return ModelScenario("make_separable_conv", cases, weights=WEIGHTS_BY_KEYS,
                         general_hint=M("make_separable_conv.general"),
                         structure_hint=M("make_separable_conv.layers"), diagnose=diagnose_separable,
                         probes=[stride_on_depthwise],
                         passed=f"With the same weights, the outputs equal the reference's in eval and in training "
                                f"mode on {len(settings)} settings, and the stride sits on the depthwise step.")


def check_make_separable_conv(make_separable_conv, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_separable_conv(in_channels, out_channels, kernel_size=3, stride=1, dilation=1)``.

    The module must have ``.depthwise`` (k × k, groups=C_in, stride, dilation, padding d·(k−1)/2, no bias) and
    ``.pointwise`` (1 × 1, C_in → C_out, stride 1, no bias) convolutions applied in that order: the reference's
    random weights load into it by these state-dict keys (so its parameter count is k²·C_in + C_in·C_out,
    :func:`separable_param_count`), its outputs must equal the reference's in eval and training mode, and
    the stride must sit on the depthwise convolution.
    """
    return check_model(make_separable_conv, separable_scenario(extended), strict=strict, seed=seed)


# --------------------------------------------------------------------------
# make_aspp
# --------------------------------------------------------------------------

# (C_in, C_out, rates, x shape)
ASPP_PUBLIC = [(8, 4, (2, 3, 5), (2, 8, 11, 13)), (6, 5, (1, 4, 6), (1, 6, 9, 16))]
ASPP_EXTENDED = [(5, 3, (3, 6, 9), (2, 5, 20, 14)), (4, 6, (12, 24, 36), (1, 4, 33, 33))]


def aspp_reference(cin, cout, rates):
    from torchvision.models.segmentation.deeplabv3 import ASPP
    return ASPP(cin, list(rates), cout)


# Known wrong ASPPs, as edits of torchvision's (its weights already in it): convs = [1 × 1, three atrous
# 3 × 3, image pooling], project = [conv 1 × 1, BatchNorm2d, ReLU, Dropout].

def _max_pooling(ref):
    import torch.nn as nn
    ref.convs[-1][0] = nn.AdaptiveMaxPool2d(1)


def _project_no_relu(ref):
    import torch.nn as nn
    ref.project[2] = nn.Identity()


def _no_projection(ref):
    import torch.nn as nn
    ref.project = nn.Identity()


def _branches_reversed(ref):
    import torch.nn as nn
    ref.convs = nn.ModuleList(list(ref.convs)[::-1])


def _atrous_convs(ref):
    return [branch[0] for branch in ref.convs[1:-1]]


def _rates_as_padding(ref):
    for conv in _atrous_convs(ref):
        conv.dilation, conv.padding = (1, 1), (1, 1)


def _fixed_rates(ref):
    for conv, rate in zip(_atrous_convs(ref), (6, 12, 18)):   # DeepLab's rates, not the argument's
        conv.dilation, conv.padding = (rate, rate), (rate, rate)


def _aspp_mistakes(rates):
    mistakes = [M.model_mistake("make_aspp.max_pooling", _max_pooling),
                M.model_mistake("make_aspp.project_no_relu", _project_no_relu),
                M.model_mistake("make_aspp.branch_order", _branches_reversed),
                M.model_mistake("make_aspp.no_projection", _no_projection),
                M.model_mistake("make_aspp.rates_as_padding", _rates_as_padding)]
    if tuple(rates) != (6, 12, 18):
        mistakes.append(M.model_mistake("make_aspp.fixed_rates", _fixed_rates))
    return mistakes


def diagnose_aspp(problem):
    """Which known mistake explains a state dict unlike torchvision's ASPP: a missing branch, biases, the
    projection; else the layout itself."""
    import torch.nn as nn
    model, reference = problem.model, problem.reference
    if not any(isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d))
               for m in model.modules()):
        return M.mistake("make_aspp.no_pooling", None)
    mine, theirs = model.state_dict(), reference.state_dict()

    def is_conv_bias(key):   # e.g. convs.1.0.bias (a branch) or convs.4.1.bias (image pooling)
        try:
            return key.endswith(".bias") and isinstance(model.get_submodule(key.rsplit(".", 1)[0]), nn.Conv2d)
        except AttributeError:
            return False
    if any(is_conv_bias(k) for k in set(mine) - set(theirs)):
        return M.mistake("make_aspp.conv_bias", None)
    if not any(k.startswith("project.") for k in mine):
        return M.mistake("make_aspp.no_projection", None)
    if "project.0.weight" in mine and tuple(mine["project.0.weight"].shape) != tuple(theirs["project.0.weight"].shape):
        return M.mistake("make_aspp.projection_input", None)
    return None


def aspp_scenario(extended=False) -> ModelScenario:
    settings = ASPP_PUBLIC + (ASPP_EXTENDED if extended else [])
    # training mode needs two images: batch norm after image pooling sees one value per channel and image
    cases = [ModelCase(f"make_aspp({cin}, {cout}, rates={rates})",
                       reference=lambda cin=cin, cout=cout, rates=rates: aspp_reference(cin, cout, rates),
                       inputs=[shape], args=(cin, cout, rates), modes=(EVAL, TRAIN) if shape[0] > 1 else (EVAL,),
                       mistakes=_aspp_mistakes(rates))
             for cin, cout, rates, shape in settings]
    return ModelScenario("make_aspp", cases, weights=WEIGHTS_BY_KEYS, general_hint=M("make_aspp.general"),
                         structure_hint=M("make_aspp.layout"), diagnose=diagnose_aspp,
                         error_hints=[("Sizes of tensors must match", M("make_aspp.sizes_differ"))],
                         passed=f"With torchvision's ASPP weights loaded, the outputs equal its own on "
                                f"{len(settings)} settings (eval mode, and training mode for batches of two).")


def check_make_aspp(make_aspp, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_aspp(in_channels, out_channels, rates)``: atrous spatial pyramid pooling (DeepLab v3).

    torchvision's ``deeplabv3.ASPP(in_channels, rates, out_channels)``, with random weights and batch-norm
    statistics, must load into the learner's module with ``strict=True`` (its layout: ``convs`` — a 1 × 1
    branch, one 3 × 3 branch per rate with that dilation, image pooling — and ``project``), and both must give
    the same (N, out_channels, H, W) output in eval mode, and in training mode where the batch has two images.
    """
    return check_model(make_aspp, aspp_scenario(extended), strict=strict, seed=seed)
