"""What the checks of notebook 05 share: seeded values, layers in the order they run, shape verdicts.

The model checks are scenarios (``engine.models``); these helpers serve
their preflights on the meta device (the DenseNet's bookkeeping) and the
structure diagnoses (a layer described by its shape).
"""

from __future__ import annotations

import math

from ..engine import INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, callback, untraced_dispatch


def fill_(module, g):
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


def leaf_types():
    import torch
    return (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d)


def run_recording(check, model, x, label, counter=None):
    """Run the learner's model on ``x`` (no grad), recording its conv, dense and batch-norm layers in the
    order they run (and its FLOPs in ``counter``, a FlopCounterMode, if given: its operations then run
    untraced, ``engine.untraced_dispatch``).  Returns ``(output, layers, case)``."""
    import contextlib

    import torch
    order = []
    hooks = [m.register_forward_hook(callback(lambda module, inputs, output: order.append(module)))
             for m in model.modules() if isinstance(m, leaf_types())]
    case = Case(f"{label} on x of shape {tuple(x.shape)}", (x,))
    try:
        with torch.no_grad(), (counter if counter is not None else contextlib.nullcontext()), \
                (untraced_dispatch() if counter is not None else contextlib.nullcontext()):
            out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
    finally:
        for hook in hooks:
            hook.remove()
    return out, list(dict.fromkeys(order)), case


def describe(m, *, dense_1x1=False) -> str:
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


def shape_verdict(check, out, want, label, shape_hints, general_hint):
    """Verdict unless ``out`` is a tensor of shape ``want``; ``shape_hints``: wrong shape -> hint."""
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
