"""DenseNet's dense block: vs torchvision's ``_DenseBlock``, with the course's layers passed in.

The learner's block builds its layers with the ``make_layer`` the check
passes, so the reference is made of the very layers the block made: the
check follows the calls (channel counts), the registration (parameters) and
the values (concatenation order) — no weights to load, so no model scenario.
"""

from __future__ import annotations

from ...train import count_parameters
from ..engine import INCORRECT, Case, CheckResult, Verdict, build_learner_model, compare_tensor, generator, randn, run_cases
from ..messages.densenet_and_beyond import M
from ._shared import fill_, forward, run_recording, shape_verdict

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
        layer = fill_(layer.to_empty(device="cpu"), self.g)
        self.layers.append(layer)
        return layer


# (num_layers, in_channels, growth_rate, N, H, W)
_DENSE_BLOCK_SPECS = [(3, 16, 8, 2, 5, 7), (4, 6, 4, 2, 6, 5)]
_DENSE_BLOCK_EXTENDED = [(6, 64, 32, 2, 8, 8), (1, 3, 5, 1, 4, 4), (5, 10, 12, 3, 3, 9)]

def _block_variants(layers, x):
    """Outputs of known concatenation mistakes with the block's own layers (eval mode)."""
    import torch
    features = [x]
    for layer in layers:
        features.append(layer(torch.cat(features, 1)))
    newest_first = [x]
    for layer in layers:
        newest_first.append(layer(torch.cat(newest_first[::-1], 1)))
    return [M.mistake("make_dense_block.output_order", torch.cat(features[::-1], 1)),
            M.mistake("make_dense_block.output_order", torch.cat(features[1:] + features[:1], 1)),
            M.mistake("make_dense_block.newest_first", torch.cat(newest_first, 1))]


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
            model = build_learner_model(check, make_dense_block, label, layers, cin, k, make_layer=factory,
                                        first=index == 0)
            want_calls = [(cin + i * k, k) for i in range(layers)]
            if factory.calls and factory.calls != want_calls:
                got_in = [c for c, _ in factory.calls]
                variants = [("make_dense_block.same_input", [cin] * layers),
                            ("make_dense_block.chain", [cin] + [k] * (layers - 1)),
                            ("make_dense_block.geometric", [cin * 2 ** i for i in range(layers)])]
                if len(factory.calls) != layers:
                    key, hint = "make_dense_block.layer_count", M("make_dense_block.layer_count", layers=layers)
                elif any(gr != k for _, gr in factory.calls):
                    key, hint = "make_dense_block.growth_rate", M("make_dense_block.growth_rate")
                else:
                    key = next((key for key, seq in variants if seq == got_in), None)
                    hint = M(key or "make_dense_block.general")
                raise Verdict(CheckResult(check, INCORRECT, "make_layer was called with the wrong channel counts.",
                                          case=label, evidence=[f"make_layer(in_channels, growth_rate) calls: "
                                                                f"{factory.calls}; expected {want_calls}"],
                                          hint=hint, mistake=key,
                                          next_step="Fix the channel counts and run the check again."))
            x = randn(g, n, cin, h, w)
            model.eval()
            out, _, case = run_recording(check, model, x, label)
            want = (n, cin + layers * k, h, w)
            shape_verdict(check, out, want, case.label,
                          {(n, k, h, w): M("make_dense_block.last_only"),
                           (n, layers * k, h, w): M("make_dense_block.without_input"),
                           (n, cin, h, w): M("make_dense_block.added")},
                          M("make_dense_block.general"))
            if not factory.calls:
                raise Verdict(CheckResult(check, INCORRECT, "the block made no layer with `make_layer`.", case=label,
                                          hint=M("make_dense_block.no_make_layer"),
                                          next_step="Use make_layer and run the check again."))
            expected_params = sum(count_parameters(layer) for layer in factory.layers)
            if count_parameters(model) != expected_params:
                raise Verdict(CheckResult(check, INCORRECT, "the block's parameters are not its layers' parameters.",
                                          case=label, evidence=[f"expected {expected_params:,} parameters (the "
                                                                f"layers'), got {count_parameters(model):,}"],
                                          hint=M("make_dense_block.unregistered"),
                                          next_step="Register the layers and run the check again."))
            with torch.device("meta"):
                reference = _DenseBlock(layers, cin, 4, k, drop_rate=0.0)
            reference = reference.to_empty(device="cpu")
            reference.load_state_dict({f"denselayer{i + 1}.{key}": value for i, layer in enumerate(factory.layers)
                                       for key, value in layer.state_dict().items()})
            reference.eval()
            for layer in factory.layers:
                layer.eval()
            got, where = forward(check, model, x, label, False)   # before the reference's answers exist
            with torch.no_grad():
                expected = reference(x)
                mistakes = _block_variants(factory.layers, x)
            compare_tensor(check, got, Case(where, (), expected=expected, mistakes=mistakes),
                           name=f"{type(model).__name__}.forward", general_hint=M("make_dense_block.general"))
        return M("make_dense_block.passed")

    return run_cases(check, make_dense_block, [], compare=None, strict=strict, after=behaviour)
