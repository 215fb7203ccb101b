"""Notebook 03, the mini GoogLeNet's auxiliary heads: ``make_mini_googlenet``, whose exercise writes ``forward``
only.  Probes judge the outputs' form in each mode and the heads' gradients; then, by value, the statement's
forward around the learner's own layers (``_statement_googlenet``)."""

from __future__ import annotations

from ..engine import (INCORRECT, Case, CheckResult, ModelCase, ModelScenario, Verdict, build_learner_model,
                     call_learner, callback, check_model)
from ..messages.classic_architectures import M

__all__ = ["check_make_mini_googlenet"]


# --------------------------------------------------------------------------
# Auxiliary classifiers: training only (probes, then the statement's forward by value)
# --------------------------------------------------------------------------

def _forward(model, x, label, *, training):
    """One forward call of the learner's model in the given mode, under the guards."""
    model.train(training)
    return call_learner("make_mini_googlenet", model, Case(label, (x,)), first=True,
                        name=f"{type(model).__name__}.forward")[0]


def _shapes(out):
    import torch
    if isinstance(out, (tuple, list)):
        return [tuple(o.shape) if isinstance(o, torch.Tensor) else type(o).__name__ for o in out]
    return tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__


def _three_outputs_in_training(model, x, classes, label):
    """Training mode returns (logits, aux1, aux2), each (N, classes); returns them and the first convolution."""
    import torch
    order = []  # convolutions in the order the forward pass runs them: the first is the first layer
    hooks = [m.register_forward_hook(callback(lambda module, *a: order.append(module)))
             for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        out = _forward(model, x, label, training=True)
    finally:
        for hook in hooks:
            hook.remove()
    want = (x.shape[0], classes)
    if not (isinstance(out, (tuple, list)) and len(out) == 3
            and all(isinstance(o, torch.Tensor) and tuple(o.shape) == want for o in out)):
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT,
                                  "in training mode the model must return three outputs.", case=label,
                                  evidence=[f"expected (logits, aux1, aux2), each {want}; got {_shapes(out)}"],
                                  hint=M("make_mini_googlenet.three_outputs"),
                                  next_step="Return the auxiliary outputs in training mode."))
    if not order:
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the model runs no convolution.", case=label,
                                  next_step="Run the stem and blocks in forward."))
    return out, order[0]


def _aux_heads_reach_first_layer(model, x, first_conv, label):
    """A loss on each auxiliary output alone sends gradient into the first convolution."""
    def aux_gradient(index):
        model.zero_grad()
        aux = model(x)[index]
        if not aux.requires_grad:   # computed under no_grad or detached: no gradient at all
            return None
        aux.sum().backward()
        return None if first_conv.weight.grad is None else first_conv.weight.grad.abs().sum().item()

    for index in (1, 2):
        probe = Case(f"{label}: a loss on auxiliary output {index} alone, back-propagated", (index,))
        reached, _ = call_learner("make_mini_googlenet", aux_gradient, probe, first=False,
                                  name=f"{type(model).__name__}.forward")
        if not reached:
            raise Verdict(CheckResult("make_mini_googlenet", INCORRECT,
                                      f"auxiliary head {index} sends no gradient to the first layer.", case=label,
                                      hint=M("make_mini_googlenet.no_gradient"),
                                      next_step="Attach the heads to the main path."))


def _logits_alone_in_eval(model, x, classes, label):
    """Eval mode returns the logits alone, equal to the first training output, without running the heads."""
    import torch
    calls = []
    hooks = [m.register_forward_hook(callback(lambda *a, name=name: calls.append(name)))
             for name, m in model.named_modules() if "aux" in name and name.count(".") == 0]
    try:
        with torch.no_grad():
            out = _forward(model, x, label, training=False)
    finally:
        for hook in hooks:
            hook.remove()
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (x.shape[0], classes):
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "in eval mode the model must return the logits "
                                  "alone.", case=label, evidence=[f"expected a tensor {(x.shape[0], classes)}, got "
                                                                  f"{_shapes(out)}"],
                                  hint=M("make_mini_googlenet.logits_alone"),
                                  next_step="Return the logits alone when not training."))
    with torch.no_grad():
        replay = _forward(model, x, label, training=True)
    model.eval()
    # eval's logits equal the training outputs' first (the main path has no dropout or batch norm)
    close = [torch.allclose(out, o, atol=1e-5) for o in replay]
    if not close[0] and any(close[1:]):
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the training outputs are in another order.",
                                  case=label, evidence=[f"eval's logits equal training output "
                                                        f"{close.index(True) + 1} of 3, not the first"],
                                  hint=M("make_mini_googlenet.output_order"),
                                  next_step="Reorder the returned tuple and run the check again."))
    if calls:
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the auxiliary heads still run in eval mode.",
                                  case=label, evidence=[f"called: {sorted(set(calls))}"],
                                  hint=M("make_mini_googlenet.heads_in_eval"), next_step="Skip them in eval mode."))


_GOOGLENET_PARTS = ("stem", "block1", "block2", "block3", "aux1", "aux2", "head")


def _statement_googlenet(net):
    """The reference for the exercise, which writes ``forward`` only: the statement's forward — main path
    stem → block1 → block2 → block3 → head; in training also aux1(block1's output) and aux2(block2's output) —
    applied to ``net``'s own layers (a copy of the learner's model)."""
    import torch
    missing = [name for name in _GOOGLENET_PARTS if not isinstance(getattr(net, name, None), torch.nn.Module)]
    if missing:
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the model lacks layers of the notebook's "
                                  "network.", evidence=[f"missing: {', '.join(missing)}"],
                                  hint=M("make_mini_googlenet.layers"),
                                  next_step="Keep the given __init__ and run the check again."))

    class StatementGoogLeNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.heads = (1, 2)   # the order the auxiliary heads run in (their dropout draws in that order)

        def forward(self, x):
            h1 = self.net.block1(self.net.stem(x))
            h2 = self.net.block2(h1)
            logits = self.net.head(self.net.block3(h2))
            if not self.training:
                return logits
            aux = {index: (self.net.aux1(h1) if index == 1 else self.net.aux2(h2)) for index in self.heads}
            return logits, aux[1], aux[2]

    return StatementGoogLeNet()


def _heads_in_other_order(reference):
    reference.heads = (2, 1)


def _googlenet_probes(classes_list, seed):
    """The scenario's first step: the outputs' form in each mode, the heads' gradients and their silence in
    eval, which name these mistakes more precisely than values do."""
    def probes(scenario, factory):
        import torch
        check = "make_mini_googlenet"
        g = torch.Generator().manual_seed(int(seed))
        for index, classes in enumerate(classes_list):
            label = f"make_mini_googlenet(num_classes={classes})"
            model = build_learner_model(check, factory, label, num_classes=classes, first=index == 0)
            x = torch.randn(2, 3, 32, 32, generator=g)
            shape = f"on x of shape {tuple(x.shape)}"
            _, first_conv = _three_outputs_in_training(model, x, classes, f"{label} in training mode {shape}")
            _aux_heads_reach_first_layer(model, x, first_conv, f"{label} in training mode {shape}")
            _logits_alone_in_eval(model, x, classes, f"{label} in eval mode {shape}")
    return probes


def check_make_mini_googlenet(make_mini_googlenet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_mini_googlenet(num_classes=10) -> nn.Module`` with two auxiliary heads.

    In training mode the model returns ``(logits, aux1, aux2)``, each
    (N, num_classes), and a loss on an auxiliary head alone sends gradient into
    the first layer; in eval mode it returns the logits alone and does not run
    the auxiliary heads at all.  Public: 10 and 7 classes; hidden: also 4.  Then, by value: the exercise writes
    ``forward`` only, so the reference is the statement's forward applied to a
    copy of the model's own layers (stem, block1–3, aux1, aux2, head), with the
    same seeded weights, in eval and in training mode (same dropout masks).
    """
    classes_list = [10, 7] + ([4] if extended else [])
    cases = [ModelCase(f"make_mini_googlenet(num_classes={classes})", _statement_googlenet, [(2, 3, 32, 32)],
                       kwargs=dict(num_classes=classes), equivalents=[_heads_in_other_order])
             for classes in classes_list]
    scenario = ModelScenario("make_mini_googlenet", cases, general_hint=M("make_mini_googlenet.values"),
                             before=[_googlenet_probes(classes_list, seed)], reference_wraps_model=True,
                             passed=M("make_mini_googlenet.passed"))
    return check_model(make_mini_googlenet, scenario, strict=strict, seed=seed)
