"""Building the learner's model for a model scenario, and the values the reference gets.

``build_learner_model`` builds it under the guards (a verdict unless it is an
``nn.Module``), on the meta device where the scenario asks; ``materialise``
allocates such a model; ``learner_forward_order`` finds the order of its
weighted layers, on the meta device where it can; ``randomize_`` gives a
reference its seeded random weights and statistics.
"""

from __future__ import annotations

from .cases import Case
from .results import UNCHECKABLE, CheckResult, Verdict
from .runner import call_learner
from .weights import layers_in_forward_order


def build_learner_model(check: str, factory, label: str, *args, first: bool = True, meta: bool = False, **kwargs):
    """The learner's model, built under the guards; a verdict unless it is an ``nn.Module``.

    ``first`` marks the check's first call (a NotImplementedError there is the
    untouched stub); ``meta`` builds on the meta device where the factory
    allows it (shapes and parameter counts at no cost).
    """
    import torch
    if isinstance(factory, torch.nn.Module):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"got a built {type(factory).__name__} model; the check needs "
                                  "the function that builds it.", hint=f"Pass the function itself: `check_{check}"
                                  f"({check})`, not `{check}()`.", next_step="Pass the function and run the check again."))
    case = Case(label, args, kwargs)
    if meta:
        def on_meta(*a, **k):
            # The meta device cannot copy weights out (`.to(device)`, loading a state dict): build on the CPU then.
            try:
                with torch.device("meta"):
                    return factory(*a, **k)
            except NotImplementedError as exc:
                if "meta" not in str(exc).lower():
                    raise
                return factory(*a, **k)
        model, _ = call_learner(check, on_meta, case, first=first, name=getattr(factory, "__name__", check))
    else:
        model, _ = call_learner(check, factory, case, first=first)
    if model is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{label}` returned None.",
                                  hint="Did you forget a `return`? Return the model.",
                                  next_step="Return the nn.Module and run the check again."))
    if not isinstance(model, torch.nn.Module):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{label}` returned {type(model).__name__}; expected an "
                                  "nn.Module.", next_step="Return the model and run the check again."))
    return model


# A prime period, far above any layer's fan-in (VGG's 25,088): a weight tensor larger than this repeats one
# random block shifted from row to row, so no row repeats another and no row holds a value twice.  Drawing
# 100 M random values costs 0.4 s, copying a block over them 0.16 s.
RANDOM_PERIOD = 1_048_573


def _uniform_(tensor, bound: float, g) -> None:
    n = tensor.numel()
    if n <= RANDOM_PERIOD or not tensor.is_contiguous():
        tensor.uniform_(-bound, bound, generator=g)
        return
    import torch
    block = torch.empty(RANDOM_PERIOD, dtype=tensor.dtype).uniform_(-bound, bound, generator=g)
    flat, whole = tensor.view(-1), n // RANDOM_PERIOD
    flat[:whole * RANDOM_PERIOD].view(whole, RANDOM_PERIOD).copy_(block.expand(whole, RANDOM_PERIOD))
    flat[whole * RANDOM_PERIOD:].copy_(block[:n - whole * RANDOM_PERIOD])


def randomize_(module, g) -> None:
    """Give every floating-point weight, bias and batch-norm statistic of ``module`` a seeded random value.

    Norm weights and running variances in [0.5, 1.5), biases and running means
    around 0, other weights He-scaled so that activations neither vanish nor
    explode through a deep stack (a tensor of more than ``RANDOM_PERIOD``
    values repeats a random block of that prime length, shifted row to row).
    """
    import torch
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var") or (name.endswith("weight") and tensor.dim() == 1):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=g))
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=g))
            else:   # He-uniform: variance 2 / fan_in (uniform draws cost a third of normal ones)
                fan_in = tensor[0].numel() if tensor.dim() > 1 else tensor.numel()
                bound = (6.0 / max(fan_in, 1)) ** 0.5
                _uniform_(tensor, bound, g)


def _has_meta(module) -> bool:
    return any(t.is_meta for t in module.parameters()) or any(t.is_meta for t in module.buffers())


def _on_meta(inputs) -> tuple:
    import torch
    return tuple(torch.empty(x.shape, dtype=x.dtype, device="meta") for x in inputs)


def materialise(module, *, zeros: bool = False) -> None:
    """Allocate a module built on the meta device on the CPU, in place: the floating-point values unset (they
    get the reference's), or zeros (for a forward pass before they do); the others (num_batches_tracked)
    zeroed."""
    if _has_meta(module):
        module.to_empty(device="cpu")
        for tensor in [*module.parameters(), *module.buffers()]:
            if zeros or not tensor.is_floating_point():
                tensor.detach().zero_()


def learner_forward_order(check: str, model, inputs: tuple, label: str):
    """The learner's weighted layers in forward order (``layers_in_forward_order``): found on the meta device,
    at no cost, for a model built there; on the CPU for one that is not, or whose forward needs values (then
    allocated with zeros first, and a verdict is the CPU's).  ``inputs`` are the CPU inputs."""
    if _has_meta(model):
        try:
            return layers_in_forward_order(check, model, _on_meta(inputs), learner=True, label=label)
        except Verdict:
            materialise(model, zeros=True)
    return layers_in_forward_order(check, model, inputs, learner=True, label=label)
