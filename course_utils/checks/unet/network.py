"""``make_unet``: the learner's U-Net against the check's own, as a model scenario.

Three steps, the cheap and specific ones first:

1. the parameter count, built on the meta device, equals a formula written
   from the architecture's description (the paper's 31-million configuration
   too); a wrong count names the layer mistake that gives it;
2. on odd and non-square inputs the output has the input's size, and each
   decoder level concatenates two different maps of w_i channels (the
   concatenations ``torch.cat`` sees);
3. the outputs equal the reference U-Net's (``reference.py``) with the same
   weights, in eval and in training mode (``engine.check_model``), on inputs
   whose sides 2^depth divides, where any way of matching sizes is exact.

The check passes its own ``match`` (``reference_match``), so a mistake in
``match_size`` costs points in that exercise only.
"""

from __future__ import annotations

from functools import partial

from ..engine import (INCORRECT, RAISED, UNCHECKABLE, Case, CheckResult, ModelCase, ModelScenario, Verdict,
                      build_learner_model, call_learner, callback, check_model, generator, matching_mistake)
from ..messages.unet import M
from .match_size import reference_match
from .reference import reference_unet_class

COUNT_MISTAKES = ("make_unet.no_skip", "make_unet.up_keeps_channels", "make_unet.interpolate_up",
                  "make_unet.up_conv_3x3", "make_unet.bias_with_bn", "make_unet.ignores_batch_norm",
                  "make_unet.one_conv_per_level", "make_unet.head_3x3")

# (in_channels, num_classes, depth, base_channels, batch_norm): the paper's configuration first
_COUNT_PUBLIC = [(1, 2, 4, 64, False), (3, 4, 2, 8, True), (3, 5, 3, 4, False)]
_COUNT_EXTENDED = [(1, 2, 4, 64, True), (2, 3, 1, 6, True), (4, 7, 5, 2, False)]
# (configuration, odd or non-square input shape, input shape that 2^depth divides): the forwards
_FORWARD_PUBLIC = [((3, 4, 2, 4, True), (2, 3, 7, 7), (2, 3, 8, 12)),
                   ((3, 4, 3, 4, False), (2, 3, 37, 50), (2, 3, 16, 24))]
_FORWARD_EXTENDED = [((1, 2, 4, 2, False), (1, 1, 35, 17), (1, 1, 32, 16)),
                     ((3, 6, 1, 5, True), (3, 3, 9, 4), (3, 3, 10, 4)),
                     ((2, 3, 3, 3, True), (2, 2, 64, 64), (2, 2, 24, 40))]


def unet_parameter_count(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, *, variant=None):
    """Parameters of the U-Net described in notebook 07, counted from its description (no model built).

    Widths w_i = base_channels · 2^i, i = 0 … depth.  Each level has two 3 × 3 convolutions: with
    batch norm, bias-free convolutions each followed by BatchNorm2d (2 parameters per channel);
    without, convolutions with a bias (the paper).  Encoder level i: (w_{i-1} or in_channels) → w_i,
    w_i → w_i; bottom: w_{depth-1} → w_depth → w_depth; each decoder level i: a 2 × 2 up-convolution
    w_{i+1} → w_i (with bias), then 2·w_i → w_i → w_i; head: 1 × 1 convolution w_0 → num_classes
    (with bias).  ``variant`` counts a known mistake instead: one of ``COUNT_MISTAKES``.
    """
    w = [base_channels * 2 ** i for i in range(depth + 1)]
    bn = True if variant == "make_unet.ignores_batch_norm" else batch_norm   # batch norm whatever the argument

    def conv3(a, b):
        if variant == "make_unet.bias_with_bn" and bn:
            return 9 * a * b + b + 2 * b
        return 9 * a * b + (2 * b if bn else b)

    def double(a, b):
        if variant == "make_unet.one_conv_per_level":
            return conv3(a, b)
        return conv3(a, b) + conv3(b, b)

    total = sum(double(in_channels if i == 0 else w[i - 1], w[i]) for i in range(depth))
    total += double(w[depth - 1], w[depth])
    for i in reversed(range(depth)):
        if variant == "make_unet.no_skip":
            total += 4 * w[i + 1] * w[i] + w[i] + double(w[i], w[i])
        elif variant == "make_unet.up_keeps_channels":
            total += 4 * w[i + 1] * w[i + 1] + w[i + 1] + double(w[i + 1] + w[i], w[i])
        elif variant == "make_unet.interpolate_up":   # no up-convolution: the decoder reads w_{i+1} + w_i channels
            total += double(w[i + 1] + w[i], w[i])
        elif variant == "make_unet.up_conv_3x3":
            total += 9 * w[i + 1] * w[i] + w[i] + double(2 * w[i], w[i])
        else:
            total += 4 * w[i + 1] * w[i] + w[i] + double(2 * w[i], w[i])
    head = 9 if variant == "make_unet.head_3x3" else 1
    total += head * w[0] * num_classes + num_classes
    return total


def _label(config):
    cin, k, depth, base, bn = config
    return f"make_unet({cin}, {k}, depth={depth}, base_channels={base}, batch_norm={bn}, match=reference_match_size)"


def _build(factory, config, *, first=False, meta=False):
    cin, k, depth, base, bn = config
    return build_learner_model("make_unet", factory, _label(config), cin, k, first=first, meta=meta, depth=depth,
                               base_channels=base, batch_norm=bn, match=reference_match)


# --------------------------------------------------------------------------
# 1. Parameter counts (a step before the cases)
# --------------------------------------------------------------------------

def _count_case(config):
    """What each configuration should count, and what each known mistake (a wrong depth among them) counts."""
    cin, k, depth, base, bn = config
    mistakes = [M.mistake(key, unet_parameter_count(*config, variant=key)) for key in COUNT_MISTAKES]
    mistakes += [M.mistake("make_unet.wrong_depth", unet_parameter_count(cin, k, d, base, bn), depth=depth, wrong=d)
                 for d in range(1, 7) if d != depth]
    return Case(_label(config), (), expected=unet_parameter_count(*config), mistakes=mistakes)


def parameter_counts(scenario, factory, *, configs):
    """Each configuration's parameter count (built on the meta device) equals the formula's; a wrong count is
    explained by the mistake that gives the learner's count on every configuration, else on this one."""
    cases = [_count_case(config) for config in configs]
    counts = [sum(p.numel() for p in _build(factory, config, first=index == 0, meta=True).parameters())
              for index, config in enumerate(configs)]
    for case, got in zip(cases, counts):
        if got == case.expected:
            continue
        everywhere = {m.key for m in case.mistakes if m.key != "make_unet.wrong_depth"
                      and all(got_there == next(w.answer for w in other.mistakes if w.key == m.key)
                              for other, got_there in zip(cases, counts))}
        ranked = Case(case.label, (), expected=case.expected,
                      mistakes=sorted(case.mistakes, key=lambda m: m.key not in everywhere))
        mistake = matching_mistake(got, ranked, by_shape=False)
        raise Verdict(CheckResult(
            scenario.check, INCORRECT, M("make_unet.params_differ"), case=case.label,
            evidence=[f"expected {case.expected:,} parameters, got {got:,}"],
            hint=mistake.hint if mistake else M("make_unet.params_general"),
            mistake=mistake.key if mistake else None, next_step="Fix the layers and run the check again."))


# --------------------------------------------------------------------------
# 2. Odd and non-square inputs, and the concatenations (a step before the cases)
# --------------------------------------------------------------------------

# torch's words for the errors of a U-Net that does not match sizes, and the hint each gets
_RAISED_HINTS = [(("Sizes of tensors must match",), "make_unet.odd_sizes"),
                 (("Kernel size can't be greater",), "make_unet.shrinks_to_nothing"),
                 (("channels", "expected input"), "make_unet.channels_mismatch")]


def _cat_recorder():
    """A torch function mode that records every concatenation: (dim, input shapes, distinct inputs?)."""
    import torch
    from torch.overrides import TorchFunctionMode
    names = {"cat", "concat", "concatenate"}

    @callback
    class Recorder(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if getattr(func, "__name__", "") in names and args:
                tensors = list(args[0])
                dim = kwargs.get("dim", kwargs.get("axis", args[1] if len(args) > 1 else 0))
                distinct = all(not (a is b or (a.shape == b.shape and torch.equal(a, b)))
                               for i, a in enumerate(tensors) for b in tensors[i + 1:])
                self.calls.append((dim % out.dim(), [tuple(t.shape) for t in tensors], distinct))
            return out

    return Recorder()


def _forward_recording_cats(model, x, label):
    """The learner's output on ``x`` (eval mode) and the concatenations it made; torch's size errors get a hint."""
    import torch
    recorder = _cat_recorder()
    name = f"{type(model).__name__}.forward"

    def run(x):
        with recorder, torch.no_grad():
            return model(x)
    try:
        out, _ = call_learner("make_unet", run, Case(label, (x,)), first=True, name=name)
    except Verdict as verdict:
        error = verdict.result.evidence[0] if verdict.result.evidence else ""
        if verdict.result.outcome == RAISED:
            verdict.result.hint = next((M(key) for words, key in _RAISED_HINTS if all(w in error for w in words)),
                                       verdict.result.hint)
        raise
    return out, recorder.calls


def _output_size_hint(got, want, depth):
    if got[1] != want[1]:
        return M("make_unet.head_3x3")
    if got[2] <= want[2] and got[3] <= want[3] and max(want[2] - got[2], want[3] - got[3]) < 2 ** depth:
        return M("make_unet.lost_rows")   # what the poolings floored away: fewer than 2^depth rows
    if got[2] < want[2] or got[3] < want[3]:   # far smaller (a skip kept after pooling halves it): no one cause
        return M("make_unet.general")
    return M("make_unet.input_size")


def _concatenations(check, label, shape, depth, base, calls):
    """Each decoder level concatenates, along the channels, two different maps of w_i channels."""
    widths = [base * 2 ** i for i in range(depth + 1)]
    sizes = [(shape[2], shape[3])]
    for _ in range(depth):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    channel_cats = [(shapes, distinct) for dim, shapes, distinct in calls if dim == 1]
    for level in reversed(range(depth)):
        need = (shape[0], 2 * widths[level], *sizes[level])
        found = [(s, distinct) for s, distinct in channel_cats
                 if (s[0][0], sum(t[1] for t in s), *s[0][2:]) == need and len(s) == 2]
        if not found:
            seen = [s for s, _ in channel_cats] or "none"
            raise Verdict(CheckResult(
                check, INCORRECT, M("make_unet.no_concat", level=level), case=label,
                evidence=[M("make_unet.no_concat_evidence", channels=widths[level], height=sizes[level][0],
                            width=sizes[level][1], seen=seen)],
                hint=M("make_unet.no_concat_hint"), next_step="Add the concatenation and run the check again."))
        if not any(distinct for _, distinct in found):
            raise Verdict(CheckResult(
                check, INCORRECT, M("make_unet.cat_with_itself", level=level), case=label,
                hint=M("make_unet.cat_with_itself_hint"), mistake="make_unet.cat_with_itself",
                next_step="Fix the concatenation and run the check again."))


def odd_sizes_and_skips(scenario, factory, *, forwards, seed):
    """On odd and non-square inputs (7 × 7 first) the output is (N, num_classes, H, W), and every level
    concatenates the skip."""
    import torch
    g = generator(seed)
    for config, shape, _ in forwards:
        model = _build(factory, config).eval()
        x = torch.randn(*shape, generator=g)
        label = f"{_label(config)}, eval mode, on x of shape {shape}"
        out, calls = _forward_recording_cats(model, x, label)
        want = (shape[0], config[1], shape[2], shape[3])
        if not isinstance(out, torch.Tensor):
            raise Verdict(CheckResult(scenario.check, INCORRECT if out is not None else UNCHECKABLE,
                                      M("make_unet.not_a_tensor", type=type(out).__name__), case=label,
                                      hint=M("make_unet.forgot_return"),
                                      next_step="Return the tensor and run the check again."))
        if tuple(out.shape) != want:
            raise Verdict(CheckResult(scenario.check, INCORRECT, M("make_unet.wrong_shape"), case=label,
                                      evidence=[f"expected {want}, got {tuple(out.shape)}"],
                                      hint=_output_size_hint(tuple(out.shape), want, config[2]),
                                      next_step="Fix the network and run the check again."))
        _concatenations(scenario.check, label, shape, config[2], config[3], calls)


# --------------------------------------------------------------------------
# 3. The outputs, by value (the model cases)
# --------------------------------------------------------------------------

def _other_order(unet):
    unet.skip_first = False   # torch.cat([up, skip]): the decoder's weights read the other half first


def _softmax(unet):
    import torch.nn as nn
    return nn.Sequential(unet, nn.Softmax(dim=1))


def _value_case(config, shape):
    cin, k, depth, base, bn = config
    return ModelCase(_label(config), partial(reference_unet_class(), cin, k, depth, base, bn), [shape], args=(cin, k),
                     kwargs=dict(depth=depth, base_channels=base, batch_norm=bn, match=reference_match),
                     equivalents=[_other_order], mistakes=[M.model_mistake("make_unet.softmax", _softmax)])


def unet_scenario(seed=0, extended=False) -> ModelScenario:
    forwards = _FORWARD_PUBLIC + (_FORWARD_EXTENDED if extended else [])
    counts = _COUNT_PUBLIC + (_COUNT_EXTENDED if extended else [])
    return ModelScenario(
        "make_unet", [_value_case(config, shape) for config, _, shape in forwards],
        general_hint=M("make_unet.general"), structure_hint=M("make_unet.params_general"),
        before=[partial(parameter_counts, configs=counts), partial(odd_sizes_and_skips, forwards=forwards, seed=seed)],
        passed=M("make_unet.passed", total=unet_parameter_count(1, 2, 4, 64, False)))


def check_make_unet(make_unet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_unet(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=...)``.

    The check passes its own reference ``match`` (pad or crop to a size, centre-aligned), so only the
    network is judged.  For several configurations, the paper's among them (1 input channel, 2 classes,
    4 poolings, 64 channels, no batch norm), the parameter count must equal
    :func:`unet_parameter_count`, a formula from the architecture's description; for odd and non-square
    inputs the output must be (N, num_classes, H, W); each level must concatenate, along the channels,
    two different maps of w_i channels each (the skip and the upsampled map); and with the reference
    U-Net's weights the outputs must equal its outputs, in eval and in training mode.
    """
    return check_model(make_unet, unet_scenario(seed, extended), strict=strict, seed=seed)
