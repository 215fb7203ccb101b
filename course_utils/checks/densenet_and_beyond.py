"""Checks for notebook 05: DenseNet, SENet, EfficientNet's compound scaling, deformable convolution.

References, built at check time:

* the DenseNet parts are compared by **behaviour** with torchvision's own
  ``_DenseLayer``, ``_DenseBlock`` and ``_Transition``: the reference's
  weights and batch-norm statistics (drawn from a local generator) are copied
  into the learner's module layer by layer, in the order the layers run, and
  both outputs are compared in eval and in training mode;
* a whole DenseNet is compared with torchvision's ``densenet121`` (and, in
  the hidden cases, ``densenet161`` and a five-block DenseNet) on the meta
  device: output shape, parameter count, FLOPs; a small one also by
  value.  The learner's network is built from the course's reference dense
  blocks and transitions, passed in as arguments, so this exercise does not
  depend on the earlier ones;
* the squeeze-and-excitation block is compared with
  ``torchvision.ops.SqueezeExcitation`` (known mistakes with the same weights,
  by formula);
* compound scaling with the formulas of Tan & Le (2019);
* deformable convolution with zero offsets with ``F.conv2d`` (which the
  learner may not call).
"""

from __future__ import annotations

import functools
import math
import numbers
import re

from ..train import count_parameters
from .engine import mistakes_of
from .engine import (INCORRECT, RAISED, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, compare_int,
                      compare_parts, compare_tensor, finish, generator, pair, randn, run_cases)
from .classic_architectures import _learner_model

__all__ = ["check_make_dense_layer", "check_make_dense_block", "check_make_transition", "check_densenet_channels",
           "check_make_densenet", "check_make_se_block", "check_compound_scaling",
           "check_deform_conv_zero_offset"]


# --------------------------------------------------------------------------
# Shared: reference modules with known values, layers in the order they run
# --------------------------------------------------------------------------

def _fill_(module, g):
    """Give every conv, dense and batch-norm layer of ``module`` values from the local generator ``g``.

    Convolutions get He-scaled weights and batch norms statistics near (0, 1),
    so activations stay of order one through many layers.
    """
    import torch
    nn = torch.nn
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                shape = m.num_features
                m.weight.copy_(torch.rand(shape, generator=g) + 0.5)
                m.bias.copy_(0.2 * torch.randn(shape, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(shape, generator=g))
                m.running_var.copy_(torch.rand(shape, generator=g) + 0.5)
                m.num_batches_tracked.zero_()
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
    return module


def _reference(build, g):
    """``build()`` on the meta device (no global random numbers drawn), then on the CPU with values from ``g``."""
    import torch
    with torch.device("meta"):
        module = build()
    return _fill_(module.to_empty(device="cpu"), g)


def _leaf_types():
    import torch
    return (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d)


def _run_recording(check, model, x, label, counter=None):
    """Run the learner's model on ``x`` (no grad), recording its conv, dense and batch-norm layers in the
    order they run (and its FLOPs in ``counter``, a FlopCounterMode, if given).  Returns
    ``(output, layers, case)``."""
    import contextlib

    import torch
    order = []
    hooks = [m.register_forward_hook(lambda module, inputs, output: order.append(module))
             for m in model.modules() if isinstance(m, _leaf_types())]
    case = Case(f"{label} on x of shape {tuple(x.shape)}", (x,))
    try:
        with torch.no_grad(), (counter if counter is not None else contextlib.nullcontext()):
            out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
    finally:
        for hook in hooks:
            hook.remove()
    return out, list(dict.fromkeys(order)), case


def _layers_in_order(model, x):
    """The reference's conv, dense and batch-norm layers in the order they run (no learner code involved)."""
    import torch
    order = []
    hooks = [m.register_forward_hook(lambda module, inputs, output: order.append(module))
             for m in model.modules() if isinstance(m, _leaf_types())]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return list(dict.fromkeys(order))


def _describe(m, *, dense_1x1=False) -> str:
    """A layer by its shape, e.g. ``Conv2d(16→32, 1×1)``; with ``dense_1x1`` a 1×1 conv reads as a dense layer."""
    import torch
    nn = torch.nn
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d({m.num_features})"
    if isinstance(m, nn.Linear) or (dense_1x1 and isinstance(m, nn.Conv2d) and m.weight.shape[2:] == (1, 1)):
        if isinstance(m, nn.Linear):
            n_in, n_out = m.in_features, m.out_features
        else:
            n_in, n_out = m.in_channels, m.out_channels
        return f"dense({n_in}→{n_out})"
    kh, kw = m.kernel_size
    extra = "" if tuple(m.stride) == (1, 1) else f", stride {m.stride[0] if m.stride[0] == m.stride[1] else m.stride}"
    extra += ", bias" if m.bias is not None else ""
    return f"Conv2d({m.in_channels}→{m.out_channels}, {kh}×{kw}{extra})"


def _compare_layers(check, label, mine, reference, hints, general_hint, *, dense_1x1=False):
    """Verdict unless the learner's layers, in the order they ran, have the reference's shapes."""
    got = [_describe(m, dense_1x1=dense_1x1) for m in mine]
    want = [_describe(m, dense_1x1=dense_1x1) for m in reference]
    if got == want:
        return
    hint = next((h for test, h in hints if test(got, want)), general_hint)
    raise Verdict(CheckResult(check, INCORRECT, "the layers (in the order they ran) differ from the reference's.",
                              case=label, evidence=[f"ran: {', '.join(got) or 'no conv, dense or batch-norm layer'}",
                                                    f"expected: {', '.join(want)}"],
                              hint=hint, next_step="Fix the layers and run the check again."))


def _copy_state(reference_layers, learner_layers):
    """Copy weights, biases and running statistics layer by layer (reshaped: a 1×1 conv may meet a dense layer).

    A learner's layer without a bias gets none; the reference's bias is then zeroed so both compute the same.
    """
    import torch
    with torch.no_grad():
        for ref, mine in zip(reference_layers, learner_layers):
            for name in ("weight", "bias", "running_mean", "running_var"):
                source, target = getattr(ref, name, None), getattr(mine, name, None)
                if source is None:
                    continue
                if target is None:
                    source.zero_()
                    continue
                target.copy_(source.reshape(target.shape))


def _forward(check, model, x, label, training):
    import torch
    model.train(training)
    case = Case(f"{label} in {'training' if training else 'eval'} mode on x of shape {tuple(x.shape)}", (x,))
    with torch.no_grad():
        out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
    return out, case.label


def _bn(m, t, training):
    import torch.nn.functional as F
    if training:
        return F.batch_norm(t, None, None, m.weight, m.bias, True, 0.0, m.eps)
    return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)


def _shape_verdict(check, out, want, label, shape_hints, general_hint):
    import torch
    if out is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, "`forward` returned None.", case=label,
                                  hint="Did you forget a `return` at the end of `forward`?",
                                  next_step="Return the output tensor and run the check again."))
    if not isinstance(out, torch.Tensor):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`forward` returned {type(out).__name__}; expected a tensor.",
                                  case=label, next_step="Return one tensor and run the check again."))
    if tuple(out.shape) != tuple(want):
        hint = shape_hints.get(tuple(out.shape), general_hint)
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.", case=label,
                                  evidence=[f"expected shape {tuple(want)}, got {tuple(out.shape)}"], hint=hint,
                                  next_step="Fix the shape first; then the values are compared."))


# --------------------------------------------------------------------------
# make_dense_layer — vs torchvision's _DenseLayer
# --------------------------------------------------------------------------

# (in_channels, growth_rate, bn_size, N, H, W)
_DENSE_LAYER_SPECS = [(16, 8, 4, 2, 7, 5), (12, 6, 2, 3, 6, 9)]
_DENSE_LAYER_EXTENDED = [(64, 32, 4, 2, 8, 8), (5, 3, 1, 1, 4, 11)]

_DENSE_LAYER_HINT = ("A dense layer is BatchNorm2d → ReLU → 1×1 conv to bn_size·growth_rate channels → BatchNorm2d "
                     "→ ReLU → 3×3 conv (padding 1) to growth_rate channels, convolutions without bias; it returns "
                     "only the growth_rate new maps.")


def _compare_outputs(check, model, mine, reference, ref_layers, x, label, variants, hint):
    """With the reference's weights and statistics copied into the learner's layers, the outputs must
    equal the reference's in eval and in training mode; ``variants(reference, x, training)`` gives the
    (hint, output) of known mistakes."""
    import torch
    for training in (False, True):
        _copy_state(ref_layers, mine)
        reference.train(training)
        with torch.no_grad():
            expected = reference(x)
            mistakes = variants(reference, x, training)
        got, where = _forward(check, model, x, label, training)
        compare_tensor(check, got, Case(where, (), expected=expected, mistakes=mistakes),
                       name=f"{type(model).__name__}.forward", general_hint=hint)


def _dense_layer_variants(ref, x, training):
    """The reference layer's output, and outputs of known mistakes with the same weights."""
    import torch.nn.functional as F
    n1, c1, n2, c2 = ref.norm1, ref.conv1, ref.norm2, ref.conv2

    def conv(m, t):
        return F.conv2d(t, m.weight, None, m.stride, m.padding)

    def run(relu1=True, relu2=True, relu_first=False):
        t = F.relu(x) if relu_first else x
        t = _bn(n1, t, training)
        t = F.relu(t) if relu1 and not relu_first else t
        t = conv(c1, t)
        t = F.relu(t) if relu_first else t
        t = _bn(n2, t, training)
        t = F.relu(t) if relu2 and not relu_first else t
        return conv(c2, t)
    return [
        ("ReLU comes after the batch norm: BatchNorm2d → ReLU → conv (the pre-activation order of DenseNet).",
         run(relu_first=True)),
        ("The ReLUs are missing: BatchNorm2d → ReLU → conv, twice.", run(relu1=False, relu2=False)),
        ("A ReLU is missing: each conv is preceded by BatchNorm2d and ReLU.", run(relu1=False)),
        ("A ReLU is missing: each conv is preceded by BatchNorm2d and ReLU.", run(relu2=False)),
    ]


def check_make_dense_layer(make_dense_layer, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_dense_layer(in_channels, growth_rate, bn_size=4) -> nn.Module``.

    The module maps (N, in_channels, H, W) to the growth_rate new maps
    (N, growth_rate, H, W): BN → ReLU → 1×1 conv (bn_size·growth_rate) → BN →
    ReLU → 3×3 conv, no biases (DenseNet-B, Huang et al. 2017).  Compared with
    torchvision's ``_DenseLayer`` holding the same weights and statistics, in
    eval and in training mode, on odd and non-square maps.
    """
    from torchvision.models.densenet import _DenseLayer
    check = "make_dense_layer"
    g = generator(seed)
    specs = _DENSE_LAYER_SPECS + (_DENSE_LAYER_EXTENDED if extended else [])
    hints = [
        (lambda got, want: sum(d.startswith("Conv2d") for d in got) == 1,
         "A dense layer has two convolutions: a 1×1 bottleneck to bn_size·growth_rate channels, then the 3×3 "
         "to growth_rate channels."),
        (lambda got, want: got and got[0].startswith("Conv2d"),
         "DenseNet uses pre-activation: each conv is preceded by BatchNorm2d and ReLU, so the layer starts with "
         "BatchNorm2d(in_channels)."),
        (lambda got, want: any(", bias" in d for d in got),
         "The convolutions have no bias (bias=False): the batch norm after them has its own shift."),
        (lambda got, want: len(got) == len(want) and got[1] != want[1],
         "The 1×1 bottleneck outputs bn_size·growth_rate channels (4·k by default)."),
    ]

    def behaviour():
        for index, (cin, k, bn_size, n, h, w) in enumerate(specs):
            label = f"make_dense_layer({cin}, {k}, bn_size={bn_size})"
            model = _learner_model(check, make_dense_layer, label, cin, k, bn_size=bn_size, meta=False,
                                   first=index == 0)
            x = randn(g, n, cin, h, w)
            reference = _reference(lambda: _DenseLayer(cin, k, bn_size, drop_rate=0.0), g)
            model.eval()
            out, mine, case = _run_recording(check, model, x, label)
            _shape_verdict(check, out, (n, k, h, w), case.label,
                           {(n, cin + k, h, w): "Return only the growth_rate new maps; the dense block does the "
                                                "concatenation.",
                            (n, k, h - 2, w - 2): "The 3×3 convolution needs padding=1 to keep H and W.",
                            (n, bn_size * k, h, w): "The layer ends with the 3×3 conv to growth_rate channels."},
                           _DENSE_LAYER_HINT)
            ref_layers = _layers_in_order(reference, x)
            _compare_layers(check, label, mine, ref_layers, hints, _DENSE_LAYER_HINT)
            _compare_outputs(check, model, mine, reference, ref_layers, x, label, _dense_layer_variants,
                             _DENSE_LAYER_HINT)
        return "Shapes, layers and outputs (eval and training mode) match torchvision's _DenseLayer."

    return run_cases(check, make_dense_layer, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# make_dense_block — vs torchvision's _DenseBlock, with the course's layers passed in
# --------------------------------------------------------------------------

class _LayerFactory:
    """The ``make_layer`` the check passes to the learner's block: torchvision's _DenseLayer (bn_size 4), whose
    values come from the check's generator; it records every call."""

    def __init__(self, g, bn_size=4):
        self.g, self.bn_size, self.calls, self.layers = g, bn_size, [], []

    def __call__(self, in_channels, growth_rate, *args, **kwargs):
        import torch
        from torchvision.models.densenet import _DenseLayer

        class DenseLayer(_DenseLayer):
            """The course's reference dense layer: one tensor in, growth_rate maps out."""

            def forward(self, x):
                if not isinstance(x, torch.Tensor):
                    raise TypeError(f"a dense layer takes one tensor, got {type(x).__name__}: concatenate the "
                                    "feature maps first, torch.cat(features, dim=1)")
                return super().forward(x)

        self.calls.append((int(in_channels), int(growth_rate)))
        with torch.device("meta"):
            layer = DenseLayer(int(in_channels), int(growth_rate), self.bn_size, drop_rate=0.0)
        layer = _fill_(layer.to_empty(device="cpu"), self.g)
        self.layers.append(layer)
        return layer


# (num_layers, in_channels, growth_rate, N, H, W)
_DENSE_BLOCK_SPECS = [(3, 16, 8, 2, 5, 7), (4, 6, 4, 2, 6, 5)]
_DENSE_BLOCK_EXTENDED = [(6, 64, 32, 2, 8, 8), (1, 3, 5, 1, 4, 4), (5, 10, 12, 3, 3, 9)]

_DENSE_BLOCK_HINT = ("Layer i (from 0) reads the concatenation [input, output of layer 0, …, layer i−1]: "
                     "in_channels + i·growth_rate channels; the block returns the concatenation of the input and "
                     "every layer's output, in that order.")


def _block_variants(layers, x):
    """Outputs of known concatenation mistakes with the block's own layers (eval mode)."""
    import torch
    features = [x]
    for layer in layers:
        features.append(layer(torch.cat(features, 1)))
    newest_first = [x]
    for layer in layers:
        newest_first.append(layer(torch.cat(newest_first[::-1], 1)))
    return [
        ("Concatenate in order: [input, layer 1, …, layer L] (torch.cat(features, dim=1) with the input first).",
         torch.cat(features[::-1], 1)),
        ("Concatenate in order: [input, layer 1, …, layer L] (torch.cat(features, dim=1) with the input first).",
         torch.cat(features[1:] + features[:1], 1)),
        ("Each layer reads the maps in the order [input, layer 1, …]: keep one list, append, torch.cat it.",
         torch.cat(newest_first, 1)),
    ]


def check_make_dense_block(make_dense_block, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_dense_block(num_layers, in_channels, growth_rate, make_layer) -> nn.Module``.

    The check passes its own ``make_layer(in_channels, growth_rate)`` (torchvision's
    ``_DenseLayer``, bn_size 4) and verifies: the i-th layer is made for
    in_channels + i·growth_rate channels; the output has in_channels +
    num_layers·growth_rate channels and equals torchvision's ``_DenseBlock``
    holding the same layers; the layers are registered (their parameters are
    the block's).
    """
    import torch
    from torchvision.models.densenet import _DenseBlock
    check = "make_dense_block"
    g = generator(seed)
    specs = _DENSE_BLOCK_SPECS + (_DENSE_BLOCK_EXTENDED if extended else [])

    def behaviour():
        for index, (layers, cin, k, n, h, w) in enumerate(specs):
            factory = _LayerFactory(g)
            label = f"make_dense_block({layers}, {cin}, {k}, make_layer=<the course's dense layer>)"
            model = _learner_model(check, make_dense_block, label, layers, cin, k, make_layer=factory, meta=False,
                                   first=index == 0)
            want_calls = [(cin + i * k, k) for i in range(layers)]
            if factory.calls and factory.calls != want_calls:
                got_in = [c for c, _ in factory.calls]
                variants = [
                    ([cin] * layers, "Every layer read the block's input only: in a dense block layer i reads the "
                                     "input and all earlier outputs, in_channels + i·growth_rate."),
                    ([cin] + [k] * (layers - 1), "Each layer read only the previous layer's output (a chain): in a "
                                                 "dense block layer i reads the input and all earlier outputs."),
                    ([cin * 2 ** i for i in range(layers)], "The channels grow linearly, by growth_rate per layer "
                                                            "(in_channels + i·growth_rate), not geometrically."),
                ]
                if len(factory.calls) != layers:
                    hint = f"Make exactly num_layers = {layers} layers, each with its own make_layer(...) call."
                elif any(gr != k for _, gr in factory.calls):
                    hint = "Pass growth_rate to every make_layer call: each layer adds growth_rate maps."
                else:
                    hint = next((h for seq, h in variants if seq == got_in), _DENSE_BLOCK_HINT)
                raise Verdict(CheckResult(check, INCORRECT, "make_layer was called with the wrong channel counts.",
                                          case=label, evidence=[f"make_layer(in_channels, growth_rate) calls: "
                                                                f"{factory.calls}; expected {want_calls}"],
                                          hint=hint, next_step="Fix the channel counts and run the check again."))
            x = randn(g, n, cin, h, w)
            model.eval()
            out, _, case = _run_recording(check, model, x, label)
            want = (n, cin + layers * k, h, w)
            _shape_verdict(check, out, want, case.label,
                           {(n, k, h, w): "Return the concatenation of the input and every layer's output, not the "
                                          "last layer's output alone.",
                            (n, layers * k, h, w): "Keep the block's input in the concatenation: it has in_channels "
                                                   "+ num_layers·growth_rate channels.",
                            (n, cin, h, w): "A dense block concatenates the new maps (torch.cat along dim 1); "
                                            "it does not add them."},
                           _DENSE_BLOCK_HINT)
            if not factory.calls:
                raise Verdict(CheckResult(check, INCORRECT, "the block made no layer with `make_layer`.", case=label,
                                          hint="Build the layers with the `make_layer` argument: "
                                               "`make_layer(in_channels + i * growth_rate, growth_rate)`.",
                                          next_step="Use make_layer and run the check again."))
            expected_params = sum(count_parameters(layer) for layer in factory.layers)
            if count_parameters(model) != expected_params:
                raise Verdict(CheckResult(check, INCORRECT, "the block's parameters are not its layers' parameters.",
                                          case=label, evidence=[f"expected {expected_params:,} parameters (the "
                                                                f"layers'), got {count_parameters(model):,}"],
                                          hint="Keep the layers in an nn.ModuleList (a plain Python list hides them "
                                               "from .parameters(), .to(device) and the optimiser).",
                                          next_step="Register the layers and run the check again."))
            with torch.device("meta"):
                reference = _DenseBlock(layers, cin, 4, k, drop_rate=0.0)
            reference = reference.to_empty(device="cpu")
            reference.load_state_dict({f"denselayer{i + 1}.{key}": value for i, layer in enumerate(factory.layers)
                                       for key, value in layer.state_dict().items()})
            reference.eval()
            for layer in factory.layers:
                layer.eval()
            with torch.no_grad():
                expected = reference(x)
                mistakes = _block_variants(factory.layers, x)
            got, where = _forward(check, model, x, label, False)
            compare_tensor(check, got, Case(where, (), expected=expected, mistakes=mistakes),
                           name=f"{type(model).__name__}.forward", general_hint=_DENSE_BLOCK_HINT)
        return "Channel counts, output shapes and values match torchvision's _DenseBlock."

    return run_cases(check, make_dense_block, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# make_transition — vs torchvision's _Transition
# --------------------------------------------------------------------------

# (in_channels, out_channels, N, H, W): odd sizes too, where 2×2 average pooling drops the last row/column
_TRANSITION_SPECS = [(16, 8, 2, 8, 6), (12, 6, 2, 7, 9)]
_TRANSITION_EXTENDED = [(256, 128, 2, 8, 8), (5, 3, 3, 5, 3), (10, 10, 1, 11, 4)]

_TRANSITION_HINT = ("A transition is BatchNorm2d → ReLU → 1×1 conv (no bias) → 2×2 average pool with stride 2 "
                    "(nn.AvgPool2d(2, stride=2)).")


def _transition_variants(ref, x, training):
    import torch.nn.functional as F
    weight = ref.conv.weight

    def run(relu=True, pool="avg", relu_after_conv=False):
        t = _bn(ref.norm, x, training)
        t = F.relu(t) if relu and not relu_after_conv else t
        t = F.conv2d(t, weight)
        t = F.relu(t) if relu_after_conv else t
        if pool == "max":
            return F.max_pool2d(t, 2, 2)
        if pool == "adaptive":
            return F.adaptive_avg_pool2d(t, (t.shape[2] // 2, t.shape[3] // 2))
        if pool == "stride":
            return t[:, :, 0:2 * (t.shape[2] // 2):2, 0:2 * (t.shape[3] // 2):2]
        return F.avg_pool2d(t, 2, 2)
    return [
        ("DenseNet's transition uses 2×2 average pooling, not max pooling.", run(pool="max")),
        ("The ReLU is missing: BatchNorm2d → ReLU → 1×1 conv → average pool.", run(relu=False)),
        ("The ReLU comes before the convolution: BatchNorm2d → ReLU → 1×1 conv → average pool.",
         run(relu_after_conv=True)),
        ("An adaptive pool to (H // 2, W // 2) uses overlapping windows on odd sizes: use nn.AvgPool2d(2, stride=2).",
         run(pool="adaptive")),
        ("A stride-2 1×1 conv keeps one pixel in four; the transition averages each 2×2 window "
         "(1×1 conv, then nn.AvgPool2d(2, stride=2)).", run(pool="stride")),
    ]


def check_make_transition(make_transition, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_transition(in_channels, out_channels) -> nn.Module``.

    (N, in_channels, H, W) → (N, out_channels, H // 2, W // 2): BN → ReLU → 1×1
    conv (no bias) → 2×2 average pool, stride 2.  Compared with torchvision's
    ``_Transition`` holding the same weights, in eval and training mode, on
    even, odd and non-square maps.
    """
    from torchvision.models.densenet import _Transition
    check = "make_transition"
    g = generator(seed)
    specs = _TRANSITION_SPECS + (_TRANSITION_EXTENDED if extended else [])
    hints = [
        (lambda got, want: not got or not got[0].startswith("BatchNorm2d"),
         "The transition starts with BatchNorm2d(in_channels), then ReLU, before its 1×1 convolution."),
        (lambda got, want: any(", bias" in d for d in got), "The 1×1 convolution has no bias (bias=False)."),
        (lambda got, want: any("3×3" in d for d in got), "The transition's convolution is 1×1: it only changes "
                                                          "the number of channels."),
        (lambda got, want: any("stride" in d for d in got),
         "The 1×1 conv has stride 1; the 2×2 average pool does the downsampling, averaging each window instead of "
         "keeping one pixel in four."),
    ]

    def behaviour():
        for index, (cin, cout, n, h, w) in enumerate(specs):
            label = f"make_transition({cin}, {cout})"
            model = _learner_model(check, make_transition, label, cin, cout, meta=False, first=index == 0)
            x = randn(g, n, cin, h, w)
            reference = _reference(lambda: _Transition(cin, cout), g)
            model.eval()
            out, mine, case = _run_recording(check, model, x, label)
            _shape_verdict(check, out, (n, cout, h // 2, w // 2), case.label,
                           {(n, cout, h, w): "The 2×2 average pool with stride 2 halves H and W.",
                            (n, cout, (h + 1) // 2, (w + 1) // 2): "2×2 pooling with stride 2 drops an odd last "
                                                                   "row or column: H // 2 (no ceil_mode, no padding).",
                            (n, cin, h // 2, w // 2): "The 1×1 convolution maps in_channels to out_channels."},
                           _TRANSITION_HINT)
            ref_layers = _layers_in_order(reference, x)
            _compare_layers(check, label, mine, ref_layers, hints, _TRANSITION_HINT)
            _compare_outputs(check, model, mine, reference, ref_layers, x, label, _transition_variants,
                             _TRANSITION_HINT)
        return "Shapes, layers and outputs (eval and training mode) match torchvision's _Transition."

    return run_cases(check, make_transition, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# densenet_channels — the linear growth c0 + L·k
# --------------------------------------------------------------------------

def _densenet_channel_cases(extended):
    import torch
    from torchvision.models.densenet import _DenseBlock
    specs = [(64, 6, 32), (128, 12, 32), (16, 3, 12), (24, 1, 7)]
    if extended:
        specs += [(256, 24, 32), (96, 6, 48), (3, 10, 4), (5, 0, 9)]
    cases = []
    for c0, layers, k in specs:
        # Counted from torchvision's dense block on the meta device: its input and what each layer adds.
        with torch.device("meta"):
            block = _DenseBlock(layers, c0, 4, k, drop_rate=0.0)
        expected = c0 + sum(layer.conv2.out_channels for layer in block.values())
        mistakes = [("The channels grow linearly: each layer adds growth_rate maps, c0 + L·k — not geometrically "
                     "(the lecture notes' claim).", c0 * 2 ** layers),
                    ("The block's input is part of its output: c0 + L·k, not L·k.", layers * k),
                    ("Every one of the L layers adds growth_rate maps: c0 + L·k.", c0 + k),
                    ("Every one of the L layers adds growth_rate maps: c0 + L·k (not L − 1).", c0 + (layers - 1) * k),
                    ("Each layer adds growth_rate maps to the concatenation: c0 + L·k, a sum, not a product.",
                     c0 * layers * k)]
        cases.append(Case(f"densenet_channels({c0}, {layers}, {k})", (c0, layers, k), expected=expected,
                          mistakes=[(h, v) for h, v in mistakes if v != expected]))
    return cases


def check_densenet_channels(densenet_channels, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``densenet_channels(in_channels, num_layers, growth_rate) -> int``: the channels a dense block
    outputs, counted from torchvision's ``_DenseBlock`` on the meta device."""
    return run_cases("densenet_channels", densenet_channels, _densenet_channel_cases(extended), compare=compare_int,
                     strict=strict, general_hint="A dense block returns its input and every layer's growth_rate "
                                                 "new maps, concatenated.")


# --------------------------------------------------------------------------
# make_densenet — vs torchvision's DenseNets, built from the course's blocks
# --------------------------------------------------------------------------

class _BlockFactories:
    """The ``make_block`` and ``make_transition`` the check passes in: torchvision's parts, calls recorded."""

    def __init__(self):
        self.blocks, self.transitions = [], []

    def make_block(self, num_layers, in_channels, growth_rate, *args, **kwargs):
        from torchvision.models.densenet import _DenseBlock
        self.blocks.append((int(num_layers), int(in_channels), int(growth_rate)))
        return _DenseBlock(int(num_layers), int(in_channels), 4, int(growth_rate), drop_rate=0.0)

    def make_transition(self, in_channels, out_channels, *args, **kwargs):
        from torchvision.models.densenet import _Transition
        self.transitions.append((int(in_channels), int(out_channels)))
        return _Transition(int(in_channels), int(out_channels))


def _plan(growth, config, init, *, compression=True, last_transition=False, update=True):
    """The (make_block, make_transition) calls of a DenseNet, and variants with known mistakes."""
    blocks, transitions, c = [], [], init
    for i, layers in enumerate(config):
        blocks.append((layers, c, growth))
        out = c + layers * growth
        c = out if update else c
        if i < len(config) - 1 or last_transition:
            transitions.append((out, out // 2 if compression else out))
            c = (out // 2 if compression else out) if update else c
    return blocks, transitions


# (name of a torchvision builder or None, growth_rate, block_config, num_init_features, num_classes)
_DENSENET_SPECS = [("densenet121", 32, (6, 12, 24, 16), 64, 1000), (None, 12, (2, 3, 4), 24, 10)]
_DENSENET_EXTENDED = [("densenet161", 48, (6, 12, 36, 24), 96, 1000), (None, 8, (3, 2, 2, 1, 2), 16, 5)]
_DENSENET_HINT = ("Stem: 7×7 conv (stride 2, padding 3, no bias) to num_init_features, BatchNorm2d, ReLU, 3×3 max "
                  "pool (stride 2, padding 1); then the dense blocks with a transition (halving the channels) "
                  "between two blocks; then BatchNorm2d, ReLU, global average pool, Linear(channels, num_classes).")


def _torchvision_densenet(name, growth, config, init, classes):
    import torchvision
    if name is not None:
        return getattr(torchvision.models, name)(num_classes=classes)
    return torchvision.models.densenet.DenseNet(growth_rate=growth, block_config=config, num_init_features=init,
                                                num_classes=classes)


@functools.lru_cache(maxsize=None)
def _reference_counts(name, growth, config, init, classes, shape):
    """Parameters and FLOPs of torchvision's DenseNet on the meta device (cached: the meta forward is slow)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device("meta"):
        model = _torchvision_densenet(name, growth, config, init, classes)
        model.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.empty(*shape))
    return count_parameters(model), counter.get_total_flops()


def check_make_densenet(make_densenet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_densenet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
    num_classes=1000, make_block=..., make_transition=...) -> nn.Module``.

    The check passes torchvision's dense block and transition as ``make_block(num_layers, in_channels,
    growth_rate)`` and ``make_transition(in_channels, out_channels)`` and verifies: the channel counts they are
    called with; the output shape (N, num_classes); the parameter count and FLOPs of torchvision's
    ``densenet121`` (hidden: ``densenet161`` and a five-block DenseNet) on the meta device; and, for a small
    DenseNet, the output values with torchvision's weights copied in (training mode).
    """
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode
    check = "make_densenet"
    g = generator(seed)
    specs = _DENSENET_SPECS + (_DENSENET_EXTENDED if extended else [])

    def build(index, growth, config, init, classes, meta):
        factories = _BlockFactories()
        label = (f"make_densenet(growth_rate={growth}, block_config={config}, num_init_features={init}, "
                 f"num_classes={classes}, make_block=..., make_transition=...)")
        model = _learner_model(check, make_densenet, label, growth_rate=growth, block_config=config,
                               num_init_features=init, num_classes=classes, make_block=factories.make_block,
                               make_transition=factories.make_transition, meta=meta, first=index == 0)
        return model, factories, label

    def calls_verdict(factories, label, growth, config, init):
        want = _plan(growth, config, init)
        got = (factories.blocks, factories.transitions)
        if not factories.blocks and not factories.transitions or got == want:
            return
        variants = [
            (_plan(growth, config, init, compression=False), "A transition halves the channels: "
                                                             "make_transition(c, c // 2) (compression 0.5)."),
            (_plan(growth, config, init, last_transition=True), "No transition after the last block: it is followed "
                                                                "by BatchNorm2d, ReLU and the classifier."),
            (_plan(growth, config, init, update=False), "Keep track of the channels: after a block of n layers they "
                                                        "are c + n·growth_rate, after a transition half that."),
        ]
        hint = next((h for plan, h in variants if plan == got), None)
        if hint is None and [b[0] for b in factories.blocks] != list(config):
            hint = "Make one block per entry of block_config, with that many layers, in order."
        hint = hint or ("After a block of n layers the channels are c + n·growth_rate; a transition halves them "
                        "(c // 2); the first block reads num_init_features channels.")
        raise Verdict(CheckResult(check, INCORRECT, "the blocks or transitions were made with the wrong channel "
                                                    "counts.", case=label,
                                  evidence=[f"make_block(num_layers, in_channels, growth_rate) calls: "
                                            f"{factories.blocks}; expected {want[0]}",
                                            f"make_transition(in_channels, out_channels) calls: "
                                            f"{factories.transitions}; expected {want[1]}"],
                                  hint=hint, next_step="Fix the channel bookkeeping and run the check again."))

    def behaviour():
        for index, (name, growth, config, init, classes) in enumerate(specs):
            model, factories, label = build(index, growth, config, init, classes, meta=True)
            calls_verdict(factories, label, growth, config, init)
            scale = 2 ** (len(config) - 1)  # a small DenseNet: maps of at least 2×2 after the last transition
            shape = (2, 3, 224, 224) if name else (2, 3, 16 * scale, 12 * scale)
            model.eval()
            counter = FlopCounterMode(display=False)
            out, _, case = _run_recording(check, model, torch.empty(*shape, device="meta"), label, counter)
            _shape_verdict(check, out, (shape[0], classes), case.label, {},
                           "The network ends with a global average pool, flatten and Linear(channels, num_classes).")
            if not factories.blocks:
                raise Verdict(CheckResult(check, INCORRECT, "the network made no block with `make_block`.",
                                          case=label, hint="Build every dense block with the `make_block` argument "
                                                           "and every transition with `make_transition`.",
                                          next_step="Use them and run the check again."))
            theirs, reference_flops = _reference_counts(name, growth, config, init, classes, shape)
            mine = count_parameters(model)
            if mine != theirs:
                final = _plan(growth, config, init)[0][-1]
                channels = final[1] + final[0] * final[2]
                known = {-2 * channels: "The final BatchNorm2d (after the last block, before ReLU and pooling) "
                                        "is missing.",
                         init: "The stem's 7×7 convolution has no bias (bias=False): a batch norm follows it.",
                         -2 * init: "The stem has a BatchNorm2d after its 7×7 convolution."}
                raise Verdict(CheckResult(check, INCORRECT, "the parameter count differs from torchvision's.",
                                          case=label, evidence=[f"expected {theirs:,} parameters, got {mine:,}"],
                                          hint=known.get(mine - theirs, _DENSENET_HINT),
                                          next_step="Fix the stem or the head and run the check again."))
            flops = counter.get_total_flops(), reference_flops
            if abs(flops[0] - flops[1]) > 0.01 * flops[1]:
                raise Verdict(CheckResult(check, INCORRECT, "the amount of computation differs from torchvision's.",
                                          case=case.label, evidence=[f"expected {flops[1] / 1e9:.2f} GFLOPs per "
                                                                     f"batch, got {flops[0] / 1e9:.2f}"],
                                          hint="The parameters match but the maps have the wrong size: the stem's "
                                               "conv has stride 2 and padding 3, then a 3×3 max pool with stride 2 "
                                               "and padding 1.", next_step="Fix the stem and run the check again."))
            if name is None:  # small enough to compare values on the CPU
                model, factories, label = build(index, growth, config, init, classes, meta=False)
                x = randn(g, *shape)
                reference = _reference(lambda: _torchvision_densenet(name, growth, config, init, classes), g)
                reference.train()
                model.train()
                with torch.no_grad():
                    ref_layers = _layers_in_order(reference, x)
                _, mine_layers, _ = _run_recording(check, model, x, label)
                if [_describe(m) for m in mine_layers] != [_describe(m) for m in ref_layers]:
                    _compare_layers(check, label, mine_layers, ref_layers, [], _DENSENET_HINT)
                _copy_state(ref_layers, mine_layers)
                with torch.no_grad():
                    expected = reference(x)
                    features = reference.features(x)
                    no_final_relu = reference.classifier(F.adaptive_avg_pool2d(features, 1).flatten(1))
                _copy_state(ref_layers, mine_layers)  # training mode updated the running statistics
                got, where = _forward(check, model, x, label, True)
                compare_tensor(check, got, Case(where, (), expected=expected, atol=1e-3, rtol=1e-3, mistakes=[
                    ("A ReLU follows the final BatchNorm2d, before the global average pool.", no_final_relu)]),
                    name=f"{type(model).__name__}.forward",
                    general_hint="Check the stem's ReLU and max pool, and the ReLU and global *average* pool before "
                                 "the classifier.")
        total = _reference_counts(*_DENSENET_SPECS[0], (2, 3, 224, 224))[0]
        return (f"Channel counts, output shapes, computation and parameters ({total:,} for DenseNet-121) match "
                "torchvision's.")

    return run_cases(check, make_densenet, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# make_se_block — vs torchvision.ops.SqueezeExcitation
# --------------------------------------------------------------------------

# (channels, reduction, N, H, W)
_SE_SPECS = [(32, 4, 2, 5, 7), (48, 16, 3, 4, 4), (20, 8, 2, 6, 3)]
_SE_EXTENDED = [(64, 16, 2, 7, 7), (10, 2, 1, 1, 1), (96, 24, 2, 3, 5)]

_SE_HINT = ("s = sigmoid(W2 · ReLU(W1 · z + b1) + b2) with z the per-channel mean over H and W; W1: C → C // "
            "reduction, W2: back to C; return x · s (each channel scaled by its weight).")


def _se_variants(ref, x):
    import torch
    w1, b1 = ref.fc1.weight.flatten(1), ref.fc1.bias
    w2, b2 = ref.fc2.weight.flatten(1), ref.fc2.bias

    def run(pool="mean", relu=True, gate="sigmoid", combine="mul"):
        z = {"mean": x.mean(dim=(2, 3)), "max": x.amax(dim=(2, 3)), "sum": x.sum(dim=(2, 3))}[pool]
        h = z @ w1.T + b1
        h = torch.relu(h) if relu else h
        a = h @ w2.T + b2
        s = {"sigmoid": torch.sigmoid, "none": lambda t: t, "relu": torch.relu,
             "softmax": lambda t: torch.softmax(t, dim=1), "tanh": torch.tanh}[gate](a)[:, :, None, None]
        return x * s if combine == "mul" else x + s
    return [
        ("The excitation ends with a sigmoid: each channel's weight lies in (0, 1).", run(gate="none")),
        ("The gate is a sigmoid, not a softmax: channels are weighted independently, not made to compete.",
         run(gate="softmax")),
        ("The gate is a sigmoid (weights in (0, 1)), not a ReLU.", run(gate="relu")),
        ("The gate is a sigmoid (weights in (0, 1)), not a tanh.", run(gate="tanh")),
        ("The squeeze is global *average* pooling (the mean over H and W), not max pooling.", run(pool="max")),
        ("The squeeze is the mean over H and W, not the sum.", run(pool="sum")),
        ("A ReLU sits between the two dense layers.", run(relu=False)),
        ("Scale the input by the weights, x · s; do not add them.", run(combine="add")),
    ]


def check_make_se_block(make_se_block, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_se_block(channels, reduction=16) -> nn.Module``, the squeeze-and-excitation block.

    (N, C, H, W) → (N, C, H, W): squeeze (global average pool), excitation (dense C → C // reduction, ReLU,
    dense → C, sigmoid), then each channel of x scaled by its weight.  Dense layers may be ``nn.Linear`` or
    1×1 ``nn.Conv2d``, with biases or without.  Compared with ``torchvision.ops.SqueezeExcitation`` holding
    the same weights.
    """
    import torch
    from torchvision.ops import SqueezeExcitation
    check = "make_se_block"
    g = generator(seed)
    specs = _SE_SPECS + (_SE_EXTENDED if extended else [])

    def behaviour():
        for index, (channels, reduction, n, h, w) in enumerate(specs):
            label = f"make_se_block({channels}, reduction={reduction})"
            model = _learner_model(check, make_se_block, label, channels, reduction=reduction, meta=False,
                                   first=index == 0)
            x = randn(g, n, channels, h, w)
            squeeze = channels // reduction
            reference = _reference(lambda: SqueezeExcitation(channels, squeeze), g)
            model.eval()
            out, mine, case = _run_recording(check, model, x, label)
            _shape_verdict(check, out, (n, channels, h, w), case.label,
                           {(n, channels, 1, 1): "Return the input scaled by the weights, x · s, not the weights s.",
                            (n, channels): "Return the input scaled by the weights, x · s[:, :, None, None], "
                                           "not the weights s."},
                           _SE_HINT)
            ref_layers = _layers_in_order(reference, x)
            hints = [(lambda got, want: len(got) == 1, "The excitation has two dense layers: C → C // reduction, "
                                                       "ReLU, C // reduction → C."),
                     (lambda got, want: len(got) == 2 and got[0] == f"dense({channels}→{channels})",
                      "The first dense layer squeezes to C // reduction channels (a bottleneck), the second "
                      "restores C."),
                     (lambda got, want: any(d.startswith(("Conv2d", "BatchNorm2d")) for d in got),
                      "The excitation uses dense layers only (nn.Linear, or 1×1 convolutions).")]
            _compare_layers(check, label, mine, ref_layers, hints, _SE_HINT, dense_1x1=True)
            _copy_state(ref_layers, mine)
            with torch.no_grad():
                expected = reference(x)
                mistakes = _se_variants(reference, x)
            got, where = _forward(check, model, x, label, False)
            compare_tensor(check, got, Case(where, (), expected=expected, mistakes=mistakes),
                           name=f"{type(model).__name__}.forward", general_hint=_SE_HINT)
        return "Shapes, layers and outputs match torchvision.ops.SqueezeExcitation."

    return run_cases(check, make_se_block, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# compound_scaling — Tan & Le (2019)
# --------------------------------------------------------------------------

_SCALING_PARTS = ("depth multiplier", "width multiplier", "resolution multiplier", "FLOP factor")


def _compare_float(check, got, case, *, name, general_hint=None):
    """Raise ``Verdict`` unless ``got`` is a real number close to ``case.expected``."""
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint="Did you forget a `return`?", next_step="Return a number."))
    if hasattr(got, "item") and getattr(got, "ndim", 1) == 0:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; expected a number.",
                                  case=case.label, next_step="Return a float and run the check again."))
    if math.isclose(float(got), case.expected, rel_tol=1e-6, abs_tol=1e-9):
        return
    hint = next((h for h, wrong in _pairs(case)
                 if isinstance(wrong, float) and math.isclose(float(got), wrong, rel_tol=1e-6, abs_tol=1e-9)),
                general_hint)
    raise Verdict(CheckResult(check, INCORRECT, "the number is wrong.", case=case.label,
                              evidence=[f"expected {case.expected:.6g}, got {float(got):.6g}"], hint=hint,
                              next_step="Fix the formula, re-run its cell, then run this check again."))


def _scaling_cases(extended):
    specs = [(2, None), (0.5, None), (3, (1.1, 1.2, 1.25)), (1, None)]
    if extended:
        specs += [(0, None), (7, None), (1.5, (1.3, 1.05, 1.1)), (-1, None)]
    cases = []
    for phi, coefficients in specs:
        alpha, beta, gamma = coefficients or (1.2, 1.1, 1.15)
        d, w, r = alpha ** phi, beta ** phi, gamma ** phi
        expected = (d, w, r, d * w * w * r * r)  # FLOPs ∝ depth · width² · resolution²
        mistakes = [("φ is an exponent: depth α^φ, width β^φ, resolution γ^φ (not α·φ).",
                     (alpha * phi, beta * phi, gamma * phi, alpha * beta ** 2 * gamma ** 2 * phi)),
                    ("FLOPs grow with depth, width squared and resolution squared: (α·β²·γ²)^φ.",
                     (d, w, r, d * w * r)),
                    ("α·β²·γ² is only about 2: compute (α·β²·γ²)^φ with the given coefficients, not 2^φ.",
                     (d, w, r, 2.0 ** phi)),
                    ("α scales depth, β width and γ resolution.", (d, r, w, expected[3])),
                    ("α scales depth, β width and γ resolution.", (r, w, d, expected[3]))]
        if coefficients is not None:
            a, b, c = 1.2 ** phi, 1.1 ** phi, 1.15 ** phi
            mistakes.append(("Use the alpha, beta and gamma arguments: the paper's 1.2, 1.1, 1.15 are only their "
                             "defaults.", (a, b, c, a * b * b * c * c)))
        kwargs = {} if coefficients is None else dict(alpha=alpha, beta=beta, gamma=gamma)
        shown = "" if coefficients is None else f", alpha={alpha}, beta={beta}, gamma={gamma}"
        cases.append(Case(f"compound_scaling({phi}{shown})", (phi,), kwargs, expected=expected,
                          mistakes=[(h, tuple(float(v) for v in m)) for h, m in mistakes]))
    return cases


def _compare_scaling(check, got, case, *, name, general_hint=None):
    compare_parts(check, got, case, name=name, parts=_SCALING_PARTS, compare=_compare_float,
                  shape="four numbers (depth, width, resolution, flops)",
                  return_hint="Return all four: `return depth, width, resolution, flops`.",
                  general_hint=general_hint)


def check_compound_scaling(compound_scaling, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``compound_scaling(phi, alpha=1.2, beta=1.1, gamma=1.15) -> (depth, width, resolution, flops)``:
    the multipliers α^φ, β^φ, γ^φ and the FLOP factor (α·β²·γ²)^φ of EfficientNet (Tan & Le, 2019)."""
    return run_cases("compound_scaling", compound_scaling, _scaling_cases(extended), compare=_compare_scaling,
                     strict=strict, general_hint="depth = α^φ, width = β^φ, resolution = γ^φ; FLOPs scale with "
                                                 "depth · width² · resolution².")


# --------------------------------------------------------------------------
# deform_conv_zero_offset — vs F.conv2d
# --------------------------------------------------------------------------

# (N, C_in, H, W, C_out, kh, kw, stride, padding, dilation, bias)
_DEFORM_SPECS = [(2, 3, 7, 9, 4, 3, 3, 1, 1, 1, True), (1, 2, 8, 6, 3, 3, 2, 2, (1, 0), 1, False),
                 (2, 4, 9, 10, 2, 3, 3, 1, 2, 2, True)]
_DEFORM_EXTENDED = [(3, 1, 10, 7, 5, 5, 5, (2, 1), 2, (1, 2), True), (1, 3, 5, 5, 1, 1, 1, 1, 0, 1, False),
                    (2, 2, 12, 11, 3, 3, 3, 3, 0, 1, True)]

_OFFSET_HINT = ("The offset has shape (N, 2·kh·kw, H_out, W_out): two numbers (dy, dx) per kernel tap, at every "
                "*output* position — H_out = (H + 2·pad_h − dil_h·(kh − 1) − 1) // stride_h + 1, and likewise "
                "W_out with the width values.")


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
        mistakes = [("Offsets of zero keep every tap on its regular grid position; these were shifted (ones?).",
                     deform_conv2d(x, torch.ones(n, 2 * kh * kw, hout, wout), weight, b, **settings)),
                    ("A mask of zeros switches every tap off: leave mask=None (or pass ones).",
                     deform_conv2d(x, torch.zeros(n, 2 * kh * kw, hout, wout), weight, b,
                                   mask=torch.zeros(n, kh * kw, hout, wout), **settings))]
        if bias:
            mistakes.append(("Pass the bias on to deform_conv2d (bias=bias).", F.conv2d(x, weight, None, **settings)))
        if tuple(pair(stride)) != (1, 1) or tuple(pair(padding)) != (0, 0) or tuple(pair(dilation)) != (1, 1):
            mistakes.append(("Pass stride, padding and dilation on to deform_conv2d.",
                             tuple(F.conv2d(x, weight, b).shape)))
        kwargs = dict(bias=b, **settings)
        label = (f"x {tuple(x.shape)}, weight {tuple(weight.shape)}, bias {'yes' if bias else 'None'}, "
                 f"stride={stride}, padding={padding}, dilation={dilation}")
        cases.append(Case(label, (x, weight), kwargs, expected=expected, mistakes=mistakes))
    return cases


def _deform_forbidden():
    import torch
    import torch.nn.functional as F
    return [(F, "conv2d", "F.conv2d"), (torch, "conv2d", "torch.conv2d"), (torch, "convolution", "torch.convolution")]


_SETTINGS_HINT = ("Pass stride, padding and dilation on to deform_conv2d (`deform_conv2d(x, offset, weight, bias, "
                  "stride=stride, padding=padding, dilation=dilation)`): your offset has the right H_out × W_out, "
                  "but deform_conv2d computes the output size from the settings it is given, and its defaults "
                  "are stride 1, padding 0, dilation 1.")


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
    dilation, non-square maps and kernels.
    """
    check = "deform_conv_zero_offset"
    cases = _deform_cases(seed, extended)
    result = run_cases(check, deform_conv_zero_offset, cases, compare=compare_tensor,
                       strict=False, forbidden=_deform_forbidden(),
                       general_hint="With zero offsets a deformable convolution samples the regular grid: it "
                                    "equals F.conv2d with the same weight, bias, stride, padding and dilation.")
    if result.outcome == INCORRECT and "the very function this exercise re-implements" in result.summary:
        called = result.summary.split("`")[3]
        result.summary = f"`{result.summary.split('`')[1]}` called `{called}`; this exercise is about deform_conv2d."
        result.hint = ("Compute it with `torchvision.ops.deform_conv2d(x, offset, weight, bias, ...)` and zero "
                       f"offsets: `{called}` is what the check compares against.")
    elif result.outcome == RAISED and any("offset" in line.lower() for line in result.evidence):
        result.hint = _OFFSET_HINT
        dims = _offset_dims(result.evidence)
        expected = {case.label: tuple(case.expected.shape[2:]) for case in cases}.get(result.case)
        if dims is not None and expected is not None and dims[0] == expected != dims[1]:
            result.hint = _SETTINGS_HINT   # the offset is right; deform_conv2d was called with its defaults
    return finish(result, strict)


def _pairs(case):
    """(hint, answer) of each known mistake of ``case`` (transitional, until this module uses keys)."""
    return [(m.hint, m.answer) for m in mistakes_of(case)]
