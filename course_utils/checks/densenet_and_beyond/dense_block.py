"""DenseNet's dense block: a model scenario against torchvision's ``_DenseBlock``, with the course's layers.

The learner's block builds its layers with the ``make_layer`` the check
passes (torchvision's ``_DenseLayer``, one tensor in).  A preflight follows
the calls (the channel bookkeeping: layer i is made for in_channels + i·k)
and the registration (the layers' parameters are the block's); the scenario
then puts the seeded weights of torchvision's ``_DenseBlock`` into the
learner's layers, paired in the order the forward pass runs them, and
compares the outputs in eval and in training mode: the concatenation order
by value.
"""

from __future__ import annotations

import functools

from ...train import count_parameters
from ..engine import INCORRECT, CheckResult, ModelCase, ModelScenario, Verdict, build_learner_model, check_model
from ..messages.densenet_and_beyond import M
from ._shared import fill_, run_recording


class _LayerFactory:
    """The ``make_layer`` the check passes to the learner's block: torchvision's _DenseLayer (bn_size 4), taking
    one tensor; it records every call.  The layers' values are placeholders: the scenario loads the
    reference's."""

    def __init__(self, bn_size=4):
        self.bn_size, self.calls, self.layers = bn_size, [], []

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
        layer = fill_(layer.to_empty(device="cpu"), torch.Generator().manual_seed(len(self.calls)))
        self.layers.append(layer)
        return layer


# (num_layers, in_channels, growth_rate, N, H, W)
_DENSE_BLOCK_SPECS = [(3, 16, 8, 2, 5, 7), (4, 6, 4, 2, 6, 5)]
_DENSE_BLOCK_EXTENDED = [(6, 64, 32, 2, 8, 8), (1, 3, 5, 1, 4, 4), (5, 10, 12, 3, 3, 9)]


def _rewired(output=None, newest_first=False):
    """A mutant of torchvision's dense block: each layer reads the maps so far (newest first if
    ``newest_first``), and ``output(features)`` makes the block's output from [input, layer 1, …, layer L]."""
    def mutate(reference):
        import torch
        import torch.nn as nn

        class Rewired(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = reference

            def forward(self, x):
                features = [x]
                for layer in self.block.values():
                    features.append(layer(torch.cat(features[::-1] if newest_first else features, 1)))
                return output(features) if output else torch.cat(features, 1)
        return Rewired()
    return mutate


def _dense_block_mistakes():
    import torch
    return [M.model_mistake("make_dense_block.last_only", _rewired(lambda f: f[-1])),
            M.model_mistake("make_dense_block.without_input", _rewired(lambda f: torch.cat(f[1:], 1))),
            M.model_mistake("make_dense_block.output_order", _rewired(lambda f: torch.cat(f[::-1], 1))),
            M.model_mistake("make_dense_block.output_order", _rewired(lambda f: torch.cat(f[1:] + f[:1], 1))),
            M.model_mistake("make_dense_block.newest_first", _rewired(newest_first=True))]


def _preflight(factory, case, first):
    """Before the weights: the calls to ``make_layer`` (channel counts, one per layer, growth_rate each) and
    the registration of the layers it made, on a block built with a factory of its own."""
    check = "make_dense_block"
    layers, cin, k = case.args
    calls = _LayerFactory()
    model = build_learner_model(check, factory, case.label, layers, cin, k, make_layer=calls, first=first)
    want = [(cin + i * k, k) for i in range(layers)]
    if calls.calls and calls.calls != want:
        got_in = [c for c, _ in calls.calls]
        variants = [("make_dense_block.same_input", [cin] * layers),
                    ("make_dense_block.chain", [cin] + [k] * (layers - 1)),
                    ("make_dense_block.geometric", [cin * 2 ** i for i in range(layers)])]
        if len(calls.calls) != layers:
            key, hint = "make_dense_block.layer_count", M("make_dense_block.layer_count", layers=layers)
        elif any(growth != k for _, growth in calls.calls):
            key, hint = "make_dense_block.growth_rate", M("make_dense_block.growth_rate")
        else:
            key = next((key for key, seq in variants if seq == got_in), None)
            hint = M(key or "make_dense_block.general")
        raise Verdict(CheckResult(check, INCORRECT, "make_layer was called with the wrong channel counts.",
                                  case=case.label, evidence=[f"make_layer(in_channels, growth_rate) calls: "
                                                             f"{calls.calls}; expected {want}"],
                                  hint=hint, mistake=key, next_step="Fix the channel counts and run the check again."))
    if not calls.calls:
        # a forward first: what it does (raises, loops, is the stub) says more than the missing layers
        import torch
        model.eval()
        run_recording(check, model, torch.zeros(case.inputs[0]), case.label)
        raise Verdict(CheckResult(check, INCORRECT, "the block made no layer with `make_layer`.", case=case.label,
                                  hint=M("make_dense_block.no_make_layer"),
                                  next_step="Use make_layer and run the check again."))
    expected = sum(count_parameters(layer) for layer in calls.layers)
    if count_parameters(model) != expected:
        raise Verdict(CheckResult(check, INCORRECT, "the block's parameters are not its layers' parameters.",
                                  case=case.label, evidence=[f"expected {expected:,} parameters (the layers'), got "
                                                             f"{count_parameters(model):,}"],
                                  hint=M("make_dense_block.unregistered"),
                                  next_step="Register the layers and run the check again."))


def _torchvision_block(layers, cin, k):
    import torch
    from torchvision.models.densenet import _DenseBlock
    with torch.device("meta"):
        block = _DenseBlock(layers, cin, 4, k, drop_rate=0.0)
    return block.to_empty(device="cpu")   # the scenario gives it seeded values


def dense_block_scenario(extended=False) -> ModelScenario:
    specs = _DENSE_BLOCK_SPECS + (_DENSE_BLOCK_EXTENDED if extended else [])
    cases = [ModelCase(f"make_dense_block({layers}, {cin}, {k}, make_layer=...)",
                       functools.partial(_torchvision_block, layers, cin, k), [(n, cin, h, w)], args=(layers, cin, k),
                       kwargs=dict(make_layer=_LayerFactory()), mistakes=_dense_block_mistakes())
             for layers, cin, k, n, h, w in specs]
    return ModelScenario("make_dense_block", cases, general_hint=M("make_dense_block.general"), preflight=_preflight,
                         passed=M("make_dense_block.passed"))


def check_make_dense_block(make_dense_block, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_dense_block(num_layers, in_channels, growth_rate, make_layer) -> nn.Module``.

    The check passes its own ``make_layer(in_channels, growth_rate)`` (torchvision's ``_DenseLayer``, bn_size 4)
    and verifies: the i-th layer is made for in_channels + i·growth_rate channels; the layers are registered
    (their parameters are the block's); and, with the weights of torchvision's ``_DenseBlock`` in its layers,
    the block computes what that block computes, (N, in_channels + num_layers·growth_rate, H, W), in eval
    and in training mode.
    """
    return check_model(make_dense_block, dense_block_scenario(extended), strict=strict, seed=seed)
