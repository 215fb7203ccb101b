"""The gradient that reaches a layer: its norm, vs torch.autograd.grad on a copy of the model."""

from __future__ import annotations

import functools
import math
import numbers

from ..engine import (INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, generator, later, mistakes_of, once,
                      run_cases)
from ..messages.resnet import M


def _tiny_net(blocks, residual, seed, classes=10, channels=8):
    """A small conv net on (N, 1, 8, 8) images, plain or residual, with batch norm."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            return F.relu(out + x) if residual else F.relu(out)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                      nn.ReLU())
            self.blocks = nn.Sequential(*[Block() for _ in range(blocks)])
            self.fc = nn.Linear(channels, classes)

        def forward(self, x):
            return self.fc(self.blocks(self.stem(x)).mean(dim=(2, 3)))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Net()


def _grad_reference(model, layer_name, images, labels, *, training, reduction="mean"):
    """The gradient reaching ``layer_name``'s weight, computed on a copy with torch.autograd.grad."""
    import copy

    import torch
    import torch.nn.functional as F
    twin = copy.deepcopy(model).train(training)
    weight = twin.get_submodule(layer_name).weight
    loss = F.cross_entropy(twin(images), labels, reduction=reduction)
    params = [p for p in twin.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params)
    by_param = dict(zip(map(id, params), grads))
    return by_param[id(weight)], grads, weight, loss


def _grad_answers(model, layer_name, images, labels, training):
    """The gradient norm reaching ``layer_name``'s weight, and the known mistakes' answers."""
    grad, grads, weight, loss = _grad_reference(model, layer_name, images, labels, training=training)
    other, *_ = _grad_reference(model, layer_name, images, labels, training=not training)
    summed, *_ = _grad_reference(model, layer_name, images, labels, training=training, reduction="sum")
    norm = grad.norm().item()
    mistakes = [M.mistake("first_layer_grad_norm.sum_reduction", summed.norm().item()),
                M.mistake("first_layer_grad_norm.squared", norm ** 2),
                M.mistake("first_layer_grad_norm.l1", grad.abs().sum().item()),
                M.mistake("first_layer_grad_norm.all_parameters", sum(float(t.pow(2).sum()) for t in grads) ** 0.5),
                M.mistake("first_layer_grad_norm.weight_norm", weight.detach().norm().item()),
                M.mistake("first_layer_grad_norm.mode_changed", other.norm().item())]
    # The gradient of another parameter (the last layer, the first parameter, ...): name the one it is.
    names = [name for name, p in model.named_parameters() if p.requires_grad]
    mistakes += [M.mistake("first_layer_grad_norm.other_parameter", other_grad.norm().item(), name=name)
                 for name, other_grad in zip(names, grads) if name != f"{layer_name}.weight"]
    return norm, mistakes


def _grad_cases(seed, extended):
    import copy

    import torch
    g = generator(seed)
    # the first layer of plain and residual nets, in training and eval mode, and a layer inside the network
    specs = [("residual, 3 blocks", 3, True, True, "stem.0", 16, 10), ("plain, 3 blocks", 3, False, False, "stem.0", 8, 10),
             ("residual, 4 blocks", 4, True, False, "blocks.1.conv2", 6, 5)]
    if extended:
        specs += [("residual, 6 blocks", 6, True, True, "blocks.2.conv1", 5, 3)]
    cases = []
    for index, (label, blocks, residual, training, layer_name, batch, classes) in enumerate(specs):
        model = _tiny_net(blocks, residual, seed=int(seed) * 10 + index, classes=classes).train(training)
        layer = model.get_submodule(layer_name)
        images = torch.rand(batch, 1, 8, 8, generator=g)
        labels = torch.randint(0, classes, (batch,), generator=g)
        # answered once the learner's code returned (three backward passes), from the check's own copies: the
        # learner's code is given the model and may train it (its batch-norm statistics) or keep it
        answers = once(functools.partial(_grad_answers, copy.deepcopy(model), layer_name, images.clone(),
                                         labels.clone(), training))
        mode = "training" if training else "eval"
        for call, second in (("first call", False), ("second call on the same model", True)):
            def compute(answers=answers, second=second):
                norm, mistakes = answers()
                return norm, mistakes + ([M.mistake("first_layer_grad_norm.no_zero_grad", 2 * norm)] if second else [])
            case = Case(f"{label} ({mode} mode), layer {layer_name}, images {tuple(images.shape)}: {call}",
                        (model, layer, images, labels), **later(compute))
            case.training = training
            case.snapshot = {k: v.detach().clone() for k, v in model.named_parameters()}
            cases.append(case)
    return cases


def _compare_norm(check, got, case, *, name, general_hint=None):
    import torch
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint=M("first_layer_grad_norm.no_return"),
                                  next_step="Return the number and run the check again."))
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; expected a float.",
                                  case=case.label, hint=M("first_layer_grad_norm.not_a_number"),
                                  next_step="Return a float and run the check again."))
    model = case.args[0]
    changed = [k for k, v in model.named_parameters() if not torch.equal(v.detach(), case.snapshot[k])]
    if changed:
        raise Verdict(CheckResult(check, INCORRECT, "the model's weights changed.", case=case.label,
                                  evidence=[f"changed: {', '.join(changed[:3])}"],
                                  hint=M("first_layer_grad_norm.weights_changed"),
                                  next_step="Remove the update and run the check again."))
    if model.training != case.training:
        raise Verdict(CheckResult(check, INCORRECT, "the model's mode changed.", case=case.label,
                                  evidence=[f"the model was in {'training' if case.training else 'eval'} mode and is "
                                            f"now in {'training' if model.training else 'eval'} mode"],
                                  hint=M("first_layer_grad_norm.mode_changed"), next_step="Remove that call and run the check again."))
    got = float(got)
    if math.isclose(got, case.expected, rel_tol=1e-4, abs_tol=1e-7):
        return
    matched = next((m for m in mistakes_of(case) if math.isclose(got, m.answer, rel_tol=1e-3, abs_tol=1e-7)), None)
    raise Verdict(CheckResult(check, INCORRECT, "the gradient norm is wrong.", case=case.label,
                              evidence=[f"expected {case.expected:.6g}, got {got:.6g}"],
                              hint=matched.hint if matched else general_hint, mistake=matched.key if matched else None,
                              next_step="Fix the computation, re-run its cell, then run this check again."))


def check_first_layer_grad_norm(first_layer_grad_norm, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``first_layer_grad_norm(model, layer, images, labels) -> float``.

    The L2 norm of the gradient of the mean cross-entropy loss of
    ``model(images)`` against ``labels`` with respect to ``layer.weight``,
    with the model left in its mode and its weights unchanged.  Compared with
    ``torch.autograd.grad`` on a copy of the model, on plain and residual
    networks in training and eval mode, for their first layer and a layer inside
    them; each model is passed twice, so stale gradients from the first call
    must not add up.
    """
    return run_cases("first_layer_grad_norm", first_layer_grad_norm, lambda: _grad_cases(seed, extended),
                     compare=_compare_norm, strict=strict, general_hint=M("first_layer_grad_norm.general"))
