"""A whole DenseNet: vs torchvision's DenseNets, built from the course's blocks.

The check passes torchvision's dense block and transition as the learner's
``make_block`` and ``make_transition`` and follows their calls (the channel
bookkeeping); DenseNet-121 (hidden: DenseNet-161, a five-block net) is
compared on the meta device by output shape, parameter count and FLOPs; a
small DenseNet also by value, as a model scenario: torchvision's seeded
weights in the learner's layers (paired in the order forward runs them),
eval and training mode, known mistakes as changed copies of the reference.
"""

from __future__ import annotations

import functools

from ...train import count_parameters
from ..engine import INCORRECT, CheckResult, ModelCase, ModelScenario, Verdict, build_learner_model, check_model
from ..messages.densenet_and_beyond import M
from ._shared import run_recording, shape_verdict

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


def _build(factory, spec, *, meta, first):
    """The learner's DenseNet for one spec, built with the check's block and transition factories."""
    _, growth, config, init, classes = spec
    factories = _BlockFactories()
    label = _label(spec)
    model = build_learner_model("make_densenet", factory, label, growth_rate=growth, block_config=config,
                                num_init_features=init, num_classes=classes, make_block=factories.make_block,
                                make_transition=factories.make_transition, meta=meta, first=first)
    return model, factories, label


def _label(spec):
    _, growth, config, init, classes = spec
    return (f"make_densenet(growth_rate={growth}, block_config={config}, num_init_features={init}, "
            f"num_classes={classes}, make_block=..., make_transition=...)")


def _calls_verdict(factories, label, growth, config, init):
    want = _plan(growth, config, init)
    got = (factories.blocks, factories.transitions)
    if not factories.blocks and not factories.transitions or got == want:
        return
    variants = [("make_densenet.no_compression", _plan(growth, config, init, compression=False)),
                ("make_densenet.last_transition", _plan(growth, config, init, last_transition=True)),
                ("make_densenet.stale_channels", _plan(growth, config, init, update=False))]
    key = next((key for key, plan in variants if plan == got), None)
    general = ("make_densenet.block_config" if [b[0] for b in factories.blocks] != list(config)
               else "make_densenet.channels")
    raise Verdict(CheckResult("make_densenet", INCORRECT, "the blocks or transitions were made with the wrong "
                                                          "channel counts.", case=label,
                              evidence=[f"make_block(num_layers, in_channels, growth_rate) calls: "
                                        f"{factories.blocks}; expected {want[0]}",
                                        f"make_transition(in_channels, out_channels) calls: "
                                        f"{factories.transitions}; expected {want[1]}"],
                              hint=M(key or general), mistake=key,
                              next_step="Fix the channel bookkeeping and run the check again."))


def _input_shape(spec):
    name, _, config, _, _ = spec
    scale = 2 ** (len(config) - 1)  # a small DenseNet: maps of at least 2×2 after the last transition
    return (2, 3, 224, 224) if name else (2, 3, 16 * scale, 12 * scale)


def _on_meta(factory, spec, first):
    """The network's bookkeeping on the meta device: the calls of ``make_block`` and ``make_transition``, the
    output's shape, the parameter count and the FLOPs of torchvision's DenseNet of the same spec."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    check, (name, growth, config, init, classes) = "make_densenet", spec
    model, factories, label = _build(factory, spec, meta=True, first=first)
    _calls_verdict(factories, label, growth, config, init)
    shape = _input_shape(spec)
    model.eval()
    counter = FlopCounterMode(display=False)
    out, _, case = run_recording(check, model, torch.empty(*shape, device="meta"), label, counter)
    shape_verdict(check, out, (shape[0], classes), case.label, {}, M("make_densenet.head"))
    if not factories.blocks:
        raise Verdict(CheckResult(check, INCORRECT, "the network made no block with `make_block`.", case=label,
                                  hint=M("make_densenet.no_factories"), next_step="Use them and run the check again."))
    theirs, reference_flops = _reference_counts(name, growth, config, init, classes, shape)
    mine = count_parameters(model)
    if mine != theirs:
        final = _plan(growth, config, init)[0][-1]
        channels = final[1] + final[0] * final[2]
        known = {-2 * channels: "make_densenet.no_final_norm", init: "make_densenet.stem_bias",
                 -2 * init: "make_densenet.no_stem_norm"}
        key = known.get(mine - theirs)
        raise Verdict(CheckResult(check, INCORRECT, "the parameter count differs from torchvision's.", case=label,
                                  evidence=[f"expected {theirs:,} parameters, got {mine:,}"],
                                  hint=M(key or "make_densenet.general"), mistake=key,
                                  next_step="Fix the stem or the head and run the check again."))
    flops = counter.get_total_flops(), reference_flops
    if abs(flops[0] - flops[1]) > 0.01 * flops[1]:
        raise Verdict(CheckResult(check, INCORRECT, "the amount of computation differs from torchvision's.",
                                  case=case.label, evidence=[f"expected {flops[1] / 1e9:.2f} GFLOPs per batch, got "
                                                             f"{flops[0] / 1e9:.2f}"],
                                  hint=M("make_densenet.flops"), next_step="Fix the stem and run the check again."))


def _cpu_densenet(spec):
    """torchvision's DenseNet of ``spec`` on the CPU, never initialised: the scenario gives it seeded values."""
    import torch
    with torch.device("meta"):
        model = _torchvision_densenet(*spec)
    model = model.to_empty(device="cpu")
    for buffer in model.buffers():
        if not buffer.is_floating_point():
            buffer.zero_()   # num_batches_tracked
    return model


def _without_final_relu(reference):
    """torchvision's DenseNet with its forward's F.relu after the final batch norm left out."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class NoFinalRelu(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = reference

        def forward(self, x):
            pooled = F.adaptive_avg_pool2d(self.net.features(x), (1, 1))
            return self.net.classifier(torch.flatten(pooled, 1))
    return NoFinalRelu()


def _stem_avg_pool(reference):
    import torch.nn as nn
    reference.features.pool0 = nn.AvgPool2d(kernel_size=3, stride=2, padding=1)


def densenet_scenario(extended=False) -> ModelScenario:
    """The network check as data: the large DenseNets by their bookkeeping on the meta device (``before``), the
    small ones also by value with torchvision's weights, in eval and in training mode."""
    specs = _DENSENET_SPECS + (_DENSENET_EXTENDED if extended else [])
    large = [spec for spec in specs if spec[0] is not None]

    def before(scenario, factory):
        for index, spec in enumerate(large):
            _on_meta(factory, spec, first=index == 0)

    mistakes = [M.model_mistake("make_densenet.no_final_relu", _without_final_relu),
                M.model_mistake("make_densenet.stem_avg_pool", _stem_avg_pool)]
    cases = []
    for spec in (spec for spec in specs if spec[0] is None):
        _, growth, config, init, classes = spec
        factories = _BlockFactories()
        cases.append(ModelCase(_label(spec), functools.partial(_cpu_densenet, spec), [_input_shape(spec)],
                               kwargs=dict(growth_rate=growth, block_config=config, num_init_features=init,
                                           num_classes=classes, make_block=factories.make_block,
                                           make_transition=factories.make_transition), mistakes=mistakes))
    specs_by_label = {_label(spec): spec for spec in specs}
    total = _reference_counts(*_DENSENET_SPECS[0], (2, 3, 224, 224))[0]
    return ModelScenario("make_densenet", cases, general_hint=M("make_densenet.values"),
                         structure_hint=M("make_densenet.general"), before=[before],
                         preflight=lambda factory, case, first: _on_meta(factory, specs_by_label[case.label],
                                                                         first=False),
                         passed=M("make_densenet.passed", total=total))


def check_make_densenet(make_densenet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_densenet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
    num_classes=1000, make_block=..., make_transition=...) -> nn.Module``.

    The check passes torchvision's dense block and transition as ``make_block(num_layers, in_channels,
    growth_rate)`` and ``make_transition(in_channels, out_channels)`` and verifies, on the meta device: the
    channel counts they are called with; the output shape (N, num_classes); the parameter count and FLOPs of
    torchvision's ``densenet121`` (hidden: ``densenet161`` and a five-block DenseNet).  A small DenseNet is
    then a model scenario: torchvision's seeded weights go into the learner's layers, paired in the order
    forward runs them, and the outputs must be equal in eval and in training mode.
    """
    return check_model(make_densenet, densenet_scenario(extended), strict=strict, seed=seed)
