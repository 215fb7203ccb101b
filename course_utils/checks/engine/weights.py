"""Putting the reference's weights into the learner's model: by state-dict keys, or by structure (the
layers that hold weights, paired in the order the forward pass runs them), with a verdict that names the
first layer that does not fit, and the scenario's diagnosis of why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .cases import Case, Mistake
from .guards import own_random_state
from .results import INCORRECT, CheckResult, Verdict
from .runner import call_learner


@dataclass
class StructureProblem:
    """What did not fit when the reference's weights were put into the learner's model.

    By state-dict keys: ``missing`` and ``unexpected`` keys, or the first key of the wrong shape; by
    structure: the weighted layers of both models (``mine``, ``theirs``) in the order forward runs them.
    """

    case: Any                        # the ModelCase
    model: Any
    reference: Any
    missing: Sequence[str] = ()
    unexpected: Sequence[str] = ()
    shape_key: str | None = None
    mine: Sequence[Any] = ()
    theirs: Sequence[Any] = ()



def forward_name(model) -> str:
    return f"{type(model).__name__}.forward"


def _weighted(module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))


def describe_layer(module) -> str:
    """``Conv2d(3, 64, kernel_size=(11, 11), stride=(4, 4), padding=(2, 2))``: how PyTorch prints it."""
    return f"{type(module).__name__}({module.extra_repr()})"


def on_inputs(inputs) -> str:
    """How a verdict names the inputs of a forward call: "on x of shape (2, 3, 64, 48)"."""
    shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
    return f"on x of shape {shapes}" if len(inputs) == 1 else f"on inputs of shape {shapes}"


def layers_in_forward_order(check: str, model, inputs: tuple, *, learner: bool, label: str = ""):
    """The modules that own weights or buffers, in the order one forward pass (training mode) runs them;
    those the pass never runs follow in the order they were registered."""
    import torch
    order, seen = [], set()

    def record(module, *_):
        if id(module) not in seen:
            seen.add(id(module))
            order.append(module)

    weighted = [m for m in model.modules() if _weighted(m)]
    hooks = [m.register_forward_hook(record) for m in weighted]
    try:
        model.train()
        with torch.no_grad(), own_random_state():
            if learner:
                call_learner(check, model, Case(f"{label}, a forward pass in training mode, {on_inputs(inputs)}",
                                                inputs), first=True, name=forward_name(model))
            else:
                model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return order + [m for m in weighted if id(m) not in seen]


def _tensor_shapes(module) -> list[tuple[str, tuple]]:
    return ([(n, tuple(p.shape)) for n, p in module.named_parameters(recurse=False)]
            + [(n, tuple(b.shape)) for n, b in module.named_buffers(recurse=False)])


def _shapes_text(module) -> str:
    return ", ".join(f"{name} {shape}" for name, shape in _tensor_shapes(module)) or "no tensors"


def dense_shape(module):
    """(out, in, has a bias) of a layer that computes a dense map of its channels: an ``nn.Linear``, or a 1×1
    ``nn.Conv2d`` with stride 1, no padding and one group; else None."""
    import torch.nn as nn
    if isinstance(module, nn.Linear):
        return module.out_features, module.in_features, module.bias is not None
    if (isinstance(module, nn.Conv2d) and tuple(module.kernel_size) == (1, 1) and tuple(module.stride) == (1, 1)
            and module.padding in ((0, 0), "valid") and module.groups == 1):
        return module.out_channels, module.in_channels, module.bias is not None
    return None


def dense_forms_fit(mine, theirs) -> bool:
    """Whether the learner's layer may take the reference's weights as another form of the same dense layer:
    both dense (``dense_shape``) with the same sizes, the learner's bias optional (the reference's is then
    zeroed)."""
    a, b = dense_shape(mine), dense_shape(theirs)
    return a is not None and b is not None and a[:2] == b[:2] and (b[2] or not a[2])


def _structure_diagnosis(scenario, problem: StructureProblem) -> tuple[str | None, str | None]:
    """(hint, mistake key) for layers that differ from the reference's: the scenario's diagnosis, else its text."""
    found = scenario.diagnose(problem) if scenario.diagnose and problem.model is not None else None
    if isinstance(found, Mistake):
        return found.hint, found.key
    return found or scenario.structure_hint or scenario.general_hint, None


def pair_layers(scenario, case_label: str, mine: list, theirs: list, *, case=None, model=None,
                reference=None) -> list[tuple[Any, Any]]:
    """Pair the learner's weighted layers with the reference's, or a verdict naming the first that differs."""
    check = scenario.check
    dense_forms = getattr(scenario, "dense_forms", False)
    for index, (a, b) in enumerate(zip(mine, theirs), start=1):
        if dense_forms and dense_forms_fit(a, b):
            continue
        if type(a) is not type(b) and not (isinstance(a, type(b)) or isinstance(b, type(a))):
            problem = f"layer {index} is {describe_layer(a)}; the reference's is {describe_layer(b)}"
        elif [s for _, s in _tensor_shapes(a)] != [s for _, s in _tensor_shapes(b)]:
            problem = (f"layer {index} is {describe_layer(a)}, with {_shapes_text(a)}; "
                       f"the reference's is {describe_layer(b)}, with {_shapes_text(b)}")
        else:
            continue
        hint, key = _structure_diagnosis(scenario, StructureProblem(case, model, reference, mine=mine, theirs=theirs))
        raise Verdict(CheckResult(check, INCORRECT, "a layer with weights differs from the reference's "
                                  "(layers counted in the order forward runs them).",
                                  case=case_label, evidence=[problem], hint=hint, mistake=key,
                                  next_step="Fix that layer and run the check again."))
    if len(mine) != len(theirs):
        extra = mine[len(theirs)] if len(mine) > len(theirs) else theirs[len(mine)]
        whose = "yours has" if len(mine) > len(theirs) else "the reference has"
        hint, key = _structure_diagnosis(scenario, StructureProblem(case, model, reference, mine=mine, theirs=theirs))
        raise Verdict(CheckResult(check, INCORRECT, "the model has a different number of layers with weights.",
                                  case=case_label,
                                  evidence=[f"{len(mine)} layers with weights, the reference {len(theirs)}; "
                                            f"{whose} one more: {describe_layer(extra)}"],
                                  hint=hint, mistake=key, next_step="Fix the layers and run the check again."))
    return list(zip(mine, theirs))


def pair_by_name(model, reference) -> list[tuple[Any, Any]]:
    """Each weighted layer of the reference with the learner's of the same name (their state dicts matched,
    so the names exist on both sides, whatever order the learner registered the layers in)."""
    mine = dict(model.named_modules())
    return [(mine[name], theirs) for name, theirs in reference.named_modules() if _weighted(theirs) and name in mine]


def load_by_structure(pairs, *, dense_forms: bool = False) -> None:
    """Copy every weight and buffer of each reference layer into its learner counterpart.

    With ``dense_forms``, a dense layer may meet another form of itself (``dense_forms_fit``): the weight is
    copied reshaped, and a learner's layer without a bias zeroes the reference's, so both compute the same.
    """
    import torch
    with torch.no_grad():
        for mine, theirs in pairs:
            if dense_forms and dense_shape(mine) is not None and dense_forms_fit(mine, theirs):
                mine.weight.copy_(theirs.weight.reshape(mine.weight.shape))
                if mine.bias is not None:
                    mine.bias.copy_(theirs.bias)
                elif theirs.bias is not None:
                    theirs.bias.zero_()
                continue
            for (_, a), (_, b) in zip(list(mine.named_parameters(recurse=False)) + list(mine.named_buffers(recurse=False)),
                                      list(theirs.named_parameters(recurse=False))
                                      + list(theirs.named_buffers(recurse=False))):
                a.copy_(b)


def load_by_keys(scenario, case_label: str, model, reference, case=None) -> None:
    """Load the reference's state dict with ``strict=True``, or a verdict listing the keys that differ."""
    mine, theirs = model.state_dict(), reference.state_dict()
    missing = [k for k in theirs if k not in mine]
    unexpected = [k for k in mine if k not in theirs]
    evidence = []
    if missing:
        evidence.append("missing: " + ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
    if unexpected:
        evidence.append("unexpected: " + ", ".join(unexpected[:4])
                        + (f" and {len(unexpected) - 4} more" if len(unexpected) > 4 else ""))
    shape_key = None
    if not evidence:
        shape_key = next((k for k, t in theirs.items() if tuple(mine[k].shape) != tuple(t.shape)), None)
        if shape_key is not None:
            evidence = [f"{shape_key}: expected shape {tuple(theirs[shape_key].shape)}, "
                        f"got {tuple(mine[shape_key].shape)}"]
    if evidence:
        problem = StructureProblem(case, model, reference, missing=missing, unexpected=unexpected,
                                   shape_key=shape_key)
        hint, key = _structure_diagnosis(scenario, problem)
        raise Verdict(CheckResult(scenario.check, INCORRECT, "the state dict differs from the reference's.",
                                  case=case_label, evidence=evidence, hint=hint, mistake=key,
                                  next_step="Fix the layers and run the check again."))
    model.load_state_dict(theirs, strict=True)


