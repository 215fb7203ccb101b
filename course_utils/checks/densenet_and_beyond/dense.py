"""DenseNet's dense layer and transition (model scenarios against torchvision's parts), and the channel count.

The dense layer and the transition are judged by ``engine.check_model``:
torchvision's ``_DenseLayer`` / ``_Transition`` get seeded random weights and
batch-norm statistics, which go into the learner's layers paired in the order
the forward pass runs them; both run on the same odd, non-square maps in eval
and in training mode.  Each known mistake is a copy of the reference changed
the way the mistake changes it.
"""

from __future__ import annotations

import functools

from ..engine import Case, CheckResult, ModelCase, ModelScenario, check_model, compare_int, later, run_cases
from ..messages.densenet_and_beyond import M
from ._shared import describe

# --------------------------------------------------------------------------
# Known mistakes: the reference, rewired
# --------------------------------------------------------------------------

def _sequence(*names, relu_at=(), relu_first=False):
    """A mistake that runs the reference's own layers ``names`` in order, with ReLUs after the positions in
    ``relu_at`` (and before everything when ``relu_first``)."""
    def mutate(reference):
        import torch.nn as nn
        layers = [nn.ReLU()] if relu_first else []
        for index, name in enumerate(names):
            layers.append(getattr(reference, name))
            if index in relu_at:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)
    return mutate


def _replace(name, make):
    def mutate(reference):
        setattr(reference, name, make())
    return mutate


def _set(name, **values):
    def mutate(reference):
        for attribute, value in values.items():
            setattr(getattr(reference, name), attribute, value)
    return mutate


def _concatenated_with_input(reference):
    import torch
    import torch.nn as nn

    class WithInput(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = reference

        def forward(self, x):
            return torch.cat([x, self.layer(x)], 1)
    return WithInput()


def _adaptive_half():
    import torch.nn as nn
    import torch.nn.functional as F

    class AdaptiveHalf(nn.Module):
        def forward(self, t):
            return F.adaptive_avg_pool2d(t, (t.shape[2] // 2, t.shape[3] // 2))
    return AdaptiveHalf()


def _strided_conv_instead_of_pool(reference):
    import torch.nn as nn
    reference.conv.stride, reference.pool = (2, 2), nn.Identity()


def _structure_diagnosis(tests, *, dense_1x1=False):
    """The scenario's diagnosis of layers that do not pair up: the known mistake of the first of ``tests``
    (got, want, key) that holds for the layers as they ran, described by shape."""
    def diagnose(problem):
        got = [describe(m, dense_1x1=dense_1x1) for m in problem.mine]
        want = [describe(m, dense_1x1=dense_1x1) for m in problem.theirs]
        return next((M.mistake(key, None) for test, key in tests if test(got, want)), None)
    return diagnose


# --------------------------------------------------------------------------
# make_dense_layer — vs torchvision's _DenseLayer
# --------------------------------------------------------------------------

# (in_channels, growth_rate, bn_size, N, H, W): in_channels is not one multiple of growth_rate on both public
# cases, so a layer that derives one from the other fails in public (the course's argument tests)
_DENSE_LAYER_SPECS = [(16, 8, 4, 2, 7, 5), (14, 6, 2, 3, 6, 9)]
_DENSE_LAYER_EXTENDED = [(64, 32, 4, 2, 8, 8), (5, 3, 1, 1, 4, 11)]

_DENSE_LAYER_STRUCTURE = [
    (lambda got, want: sum(d.startswith("Conv2d") for d in got) == 1, "make_dense_layer.one_conv"),
    (lambda got, want: got and got[0].startswith("Conv2d"), "make_dense_layer.post_activation"),
    (lambda got, want: any(", bias" in d for d in got), "make_dense_layer.conv_bias"),
    (lambda got, want: len(got) == len(want) and got[1] != want[1], "make_dense_layer.bottleneck_width"),
]


def _dense_layer_mistakes():
    import torch.nn as nn
    return [M.model_mistake("make_dense_layer.returns_concat", _concatenated_with_input),
            M.model_mistake("make_dense_layer.no_padding", _set("conv2", padding=(0, 0))),
            M.model_mistake("make_dense_layer.no_3x3", _sequence("norm1", "conv1", relu_at=(0,))),
            M.model_mistake("make_dense_layer.relu_first",
                            _sequence("norm1", "conv1", "norm2", "conv2", relu_at=(1,), relu_first=True)),
            M.model_mistake("make_dense_layer.no_relus", _sequence("norm1", "conv1", "norm2", "conv2")),
            M.model_mistake("make_dense_layer.relu_missing", _sequence("norm1", "conv1", "norm2", "conv2",
                                                                       relu_at=(2,))),
            M.model_mistake("make_dense_layer.relu_missing", _replace("relu2", nn.Identity))]


def dense_layer_scenario(extended=False) -> ModelScenario:
    from torchvision.models.densenet import _DenseLayer
    specs = _DENSE_LAYER_SPECS + (_DENSE_LAYER_EXTENDED if extended else [])
    cases = [ModelCase(f"make_dense_layer({cin}, {k}, bn_size={bn_size})",
                       functools.partial(_DenseLayer, cin, k, bn_size, drop_rate=0.0), [(n, cin, h, w)],
                       args=(cin, k), kwargs=dict(bn_size=bn_size), mistakes=_dense_layer_mistakes())
             for cin, k, bn_size, n, h, w in specs]
    return ModelScenario("make_dense_layer", cases, general_hint=M("make_dense_layer.general"),
                         diagnose=_structure_diagnosis(_DENSE_LAYER_STRUCTURE), passed=M("make_dense_layer.passed"))


def check_make_dense_layer(make_dense_layer, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_dense_layer(in_channels, growth_rate, bn_size=4) -> nn.Module``.

    The module maps (N, in_channels, H, W) to the growth_rate new maps
    (N, growth_rate, H, W): BN → ReLU → 1×1 conv (bn_size·growth_rate) → BN →
    ReLU → 3×3 conv, no biases (DenseNet-B, Huang et al. 2017).  Compared with
    torchvision's ``_DenseLayer`` holding the same weights and statistics, in
    eval and in training mode, on odd and non-square maps.
    """
    return check_model(make_dense_layer, dense_layer_scenario(extended), strict=strict, seed=seed)


# --------------------------------------------------------------------------
# make_transition — vs torchvision's _Transition
# --------------------------------------------------------------------------

# (in_channels, out_channels, N, H, W): odd sizes too, where 2×2 average pooling drops the last row/column, and
# an out_channels other than in_channels // 2 (DenseNet-BC's compression is the caller's choice, not the layer's)
_TRANSITION_SPECS = [(16, 8, 2, 8, 6), (12, 6, 2, 7, 9), (10, 6, 2, 5, 7)]
_TRANSITION_EXTENDED = [(256, 128, 2, 8, 8), (5, 3, 3, 5, 3), (10, 10, 1, 11, 4)]

_TRANSITION_STRUCTURE = [
    (lambda got, want: not got or not got[0].startswith("BatchNorm2d"), "make_transition.no_norm"),
    (lambda got, want: any(", bias" in d for d in got), "make_transition.conv_bias"),
    (lambda got, want: any("3×3" in d for d in got), "make_transition.conv_3x3"),
    (lambda got, want: any("stride" in d for d in got), "make_transition.conv_stride"),
    (lambda got, want: len(got) == len(want) and got[1] != want[1], "make_transition.channels"),
]


def _transition_mistakes():
    import torch.nn as nn
    return [M.model_mistake("make_transition.no_pool", _replace("pool", nn.Identity)),
            M.model_mistake("make_transition.ceil_mode", _replace("pool", lambda: nn.AvgPool2d(2, 2, ceil_mode=True))),
            M.model_mistake("make_transition.max_pool", _replace("pool", lambda: nn.MaxPool2d(2, 2))),
            M.model_mistake("make_transition.no_relu", _replace("relu", nn.Identity)),
            M.model_mistake("make_transition.relu_after_conv", _sequence("norm", "conv", "pool", relu_at=(1,))),
            M.model_mistake("make_transition.adaptive_pool", _replace("pool", _adaptive_half)),
            M.model_mistake("make_transition.strided_conv", _strided_conv_instead_of_pool)]


def transition_scenario(extended=False) -> ModelScenario:
    from torchvision.models.densenet import _Transition
    specs = _TRANSITION_SPECS + (_TRANSITION_EXTENDED if extended else [])
    cases = [ModelCase(f"make_transition({cin}, {cout})", functools.partial(_Transition, cin, cout),
                       [(n, cin, h, w)], args=(cin, cout), mistakes=_transition_mistakes())
             for cin, cout, n, h, w in specs]
    return ModelScenario("make_transition", cases, general_hint=M("make_transition.general"),
                         diagnose=_structure_diagnosis(_TRANSITION_STRUCTURE), passed=M("make_transition.passed"))


def check_make_transition(make_transition, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_transition(in_channels, out_channels) -> nn.Module``.

    (N, in_channels, H, W) → (N, out_channels, H // 2, W // 2): BN → ReLU → 1×1
    conv (no bias) → 2×2 average pool, stride 2.  Compared with torchvision's
    ``_Transition`` holding the same weights, in eval and training mode, on
    even, odd and non-square maps, with out_channels = in_channels // 2 and
    another out_channels.
    """
    return check_model(make_transition, transition_scenario(extended), strict=strict, seed=seed)


# --------------------------------------------------------------------------
# densenet_channels — the linear growth c0 + L·k
# --------------------------------------------------------------------------

def _channel_answers(c0, layers, k):
    """Counted from torchvision's dense block on the meta device: its input and what each layer adds."""
    import torch
    from torchvision.models.densenet import _DenseBlock
    with torch.device("meta"):
        block = _DenseBlock(layers, c0, 4, k, drop_rate=0.0)
    expected = c0 + sum(layer.conv2.out_channels for layer in block.values())
    candidates = [("densenet_channels.geometric", c0 * 2 ** layers), ("densenet_channels.no_input", layers * k),
                  ("densenet_channels.one_layer", c0 + k), ("densenet_channels.off_by_one", c0 + (layers - 1) * k),
                  ("densenet_channels.product", c0 * layers * k)]
    if layers == 0:   # the first layer's growth counted before the loop over the others
        candidates.append(("densenet_channels.empty_block", c0 + k))
    return expected, [M.mistake(key, v) for key, v in candidates if v != expected]


def _densenet_channel_cases(extended):
    # (in_channels, num_layers, growth_rate): a block of one layer, and of none (its output is its input)
    specs = [(64, 6, 32), (128, 12, 32), (16, 3, 12), (24, 1, 7), (12, 0, 5)]
    if extended:
        specs += [(256, 24, 32), (96, 6, 48), (3, 10, 4), (5, 0, 9)]
    # answered later: the reference builds a dense block, the questions are three numbers
    return [Case(f"densenet_channels({c0}, {layers}, {k})", (c0, layers, k),
                 **later(functools.partial(_channel_answers, c0, layers, k))) for c0, layers, k in specs]


def check_densenet_channels(densenet_channels, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``densenet_channels(in_channels, num_layers, growth_rate) -> int``: the channels a dense block
    outputs, counted from torchvision's ``_DenseBlock`` on the meta device."""
    return run_cases("densenet_channels", densenet_channels, lambda: _densenet_channel_cases(extended), compare=compare_int,
                     strict=strict, general_hint=M("densenet_channels.general"))
