"""ResNet-18: a model scenario against torchvision's ``resnet18``, built with the course's reference block.

A preflight on the meta device judges the per-stage shapes of a 224 × 224
image (the spine of the architecture table); the scenario then loads
torchvision's random weights by key and compares the logits.
"""

from __future__ import annotations

import functools

from ..engine import EVAL, INCORRECT, RAISED, TRAIN, WEIGHTS_BY_KEYS, Case, CheckResult, ModelCase, ModelScenario, \
    Verdict, build_learner_model, call_learner, callback, check_model, finish, own_random_state
from ..messages.resnet import M
from .block import _rename_hint, _shape_hint, reference_basic_block

STAGES = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")


def _network_structure_hint(problem):
    missing, unexpected = list(problem.missing), list(problem.unexpected)
    if missing or unexpected:
        renamed = _rename_hint(missing, unexpected)
        if renamed:
            return renamed
        if any("downsample" in k for k in missing + unexpected):
            return M("make_resnet18.downsample_blocks")
        return M("make_resnet18.layer_names")
    if problem.shape_key.startswith("layer"):
        return M("make_resnet18.stage_channels")
    return _shape_hint(problem.shape_key)


def _stage_shapes(model, shape):
    """Output shapes of conv1, maxpool and layer1..layer4 for one (N, 3, H, W) input, on the model's device
    (the meta device: shapes without computation)."""
    import torch
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    shapes = {}
    hooks = [getattr(model, name).register_forward_hook(callback(
        lambda module, args, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))))
        for name in STAGES if isinstance(getattr(model, name, None), torch.nn.Module)]
    try:
        with torch.no_grad():
            out = model(torch.empty(*shape, device=device))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes, out


def _torchvision_resnet18(num_classes=1000, **changes):
    """torchvision's resnet18 on the meta device, optionally with stem layers changed (to predict a mistake's
    shapes)."""
    import torch
    import torchvision
    with own_random_state(), torch.device("meta"):
        model = torchvision.models.resnet18(num_classes=num_classes)
        for name, module in changes.items():
            setattr(model, name, module)
    return model.eval()


def _cpu_resnet18(num_classes):
    """torchvision's resnet18 on the CPU, built on the meta device and never initialised (a full initialisation
    costs a tenth of a second): the scenario gives it random weights."""
    return _torchvision_resnet18(num_classes).to_empty(device="cpu")


@functools.lru_cache(maxsize=None)
def _stage_shapes_224():
    return _stage_shapes(_torchvision_resnet18(10), (1, 3, 224, 224))[0]


def _stem_mistakes():
    """The stem's known mistakes by the shapes they give: (key, stem change), built on the meta device."""
    import torch
    import torch.nn as nn
    with own_random_state(), torch.device("meta"):
        return [("make_resnet18.stem_padding", dict(conv1=nn.Conv2d(3, 64, 7, 2, 1, bias=False))),
                ("make_resnet18.no_maxpool", dict(maxpool=nn.Identity())),
                ("make_resnet18.maxpool_padding", dict(maxpool=nn.MaxPool2d(3, 2, 0)))]


def _resnet18_preflight(factory, case, first):
    """Before the weights: on the meta device, the network is not torchvision's, and where its state dict is
    torchvision's, the per-stage shapes of a 224 × 224 image (the spine of the architecture table) and the
    output's shape are.  A state dict that differs is left to the scenario, which names the keys."""
    import torch
    import torchvision
    check, classes = "make_resnet18", case.kwargs["num_classes"]
    model = build_learner_model(check, factory, case.label, first=first, meta=True, **case.kwargs)
    if isinstance(model, torchvision.models.ResNet):
        raise Verdict(CheckResult(check, INCORRECT, "this is torchvision's ResNet.", case=case.label,
                                  hint=M("make_resnet18.refused"),
                                  next_step="Write your own and run the check again."))
    reference = _torchvision_resnet18(classes)
    if ({k: tuple(v.shape) for k, v in model.state_dict().items()}
            != {k: tuple(v.shape) for k, v in reference.state_dict().items()}):
        return
    size = (1, 3, 224, 224)
    expected = _stage_shapes_224()
    model.eval()
    label = f"{case.label} on x of shape {size}"
    mine, out = call_learner(check, lambda: _stage_shapes(model, size), Case(label, ()), first=True,
                             name=f"{type(model).__name__}.forward")[0]
    wrong = [name for name in STAGES if name in mine and mine[name] != expected[name]]
    if wrong:
        name = wrong[0]
        # A mistake explains the learner's model when it predicts every stage the model reports (one stage
        # alone is ambiguous: a stem padded 1 and a max pool padded 0 both give a 55 × 55 max pool output).
        key = next((key for key, change in _stem_mistakes()
                    if all(_stage_shapes(_torchvision_resnet18(classes, **change), size)[0].get(stage) == shape
                           for stage, shape in mine.items())), None)
        raise Verdict(CheckResult(check, INCORRECT, f"the output of `{name}` has the wrong shape.", case=label,
                                  evidence=[f"{name}: expected (C, H, W) = {expected[name]}, got {mine[name]}"],
                                  hint=M(key or "make_resnet18.stage_sizes"), mistake=key,
                                  next_step="Fix that layer and run the check again."))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, classes):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.", case=label,
                                  evidence=[f"expected {(1, classes)}, got {got}"], hint=M("make_resnet18.head"),
                                  next_step="Fix the head and run the check again."))


def _replace(name, module):
    def mutate(model):
        setattr(model, name, module)
    return mutate


def _softmax_after(model):
    import torch.nn as nn
    return nn.Sequential(model, nn.Softmax(dim=1))


def resnet18_scenario(extended=False) -> ModelScenario:
    """The network check as data: built with the course's reference block, 10 classes on a non-square image
    in eval and training mode, and the default 1000 classes on an odd size (a network that ignores
    num_classes, or fixes it, fails in public); hidden: also 1000 classes in both modes, 37 on another size."""
    import torch.nn as nn
    settings = [(10, (2, 3, 64, 80), (EVAL, TRAIN)), (1000, (2, 3, 49, 37), (EVAL,))]
    if extended:
        settings += [(1000, (3, 3, 97, 131), (EVAL, TRAIN)), (37, (2, 3, 71, 65), (TRAIN,))]
    mistakes = [M.model_mistake("make_resnet18.softmax", _softmax_after),
                M.model_mistake("make_resnet18.no_stem_relu", _replace("relu", nn.Identity())),
                M.model_mistake("make_resnet18.avgpool_in_stem", _replace("maxpool", nn.AvgPool2d(3, 2, 1)))]
    cases = [ModelCase(f"make_resnet18(num_classes={classes}, block=ReferenceBasicBlock)",
                       functools.partial(_cpu_resnet18, classes), [shape], modes=modes, mistakes=mistakes,
                       kwargs=dict(num_classes=classes, block=reference_basic_block()))
             for classes, shape, modes in settings]
    sizes = ", ".join(str(_stage_shapes_224()[name][1]) for name in STAGES)
    return ModelScenario("make_resnet18", cases, weights=WEIGHTS_BY_KEYS, general_hint=M("make_resnet18.general"),
                         diagnose=_network_structure_hint, preflight=_resnet18_preflight,
                         passed=M("make_resnet18.passed", sizes=sizes), atol=1e-3, rtol=1e-3)


class _Recorder:
    """The learner's factory, keeping what it built (to explain a failure by the model's parts)."""

    def __init__(self, factory):
        self.factory, self.built = factory, []
        self.__name__ = getattr(factory, "__name__", "make_resnet18")

    def __call__(self, *args, **kwargs):
        model = self.factory(*args, **kwargs)
        self.built.append(model)
        return model


def _explain_network_failure(result, built, shape):
    """Hints that need the failed verdict and the model built: how the check calls `block`, a fixed-size pool,
    a network that ignores `block`."""
    import torch
    import torchvision
    Reference = reference_basic_block()
    error = result.evidence[0] if result.evidence else ""
    if result.outcome == RAISED and error.startswith("TypeError") and Reference.__name__ in error:
        result.hint = M("make_resnet18.block_call")
    elif result.outcome == RAISED and error.startswith("TypeError") and "'block'" in error:
        result.hint = M("make_resnet18.block_argument")
    elif result.outcome == RAISED and built and any(
            isinstance(m, (torch.nn.AvgPool2d, torch.nn.MaxPool2d))
            and tuple(torch.nn.modules.utils._pair(m.kernel_size)) == (7, 7) for m in built[-1].modules()):
        result.hint = M("make_resnet18.fixed_pool", h=shape[2], w=shape[3])
    if (result.outcome in (INCORRECT, RAISED) and built and isinstance(built[-1], torch.nn.Module)
            and not any(isinstance(m, Reference) for m in built[-1].modules())
            and not isinstance(built[-1], torchvision.models.ResNet)):
        # A network that ignores `block` runs the learner's own blocks: a failure may be theirs, not the stem's.
        names = sorted({type(block).__name__ for name in ("layer1", "layer2", "layer3", "layer4")
                        if isinstance(getattr(built[-1], name, None), torch.nn.Sequential)
                        for block in getattr(built[-1], name)})
        what = (M("make_resnet18.stages_hold", names=", ".join(f"`{n}`" for n in names)) if names
                else M("make_resnet18.no_stages"))
        result.hint, result.mistake = M("make_resnet18.ignored_block", what=what), None


def check_make_resnet18(make_resnet18, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_resnet18(num_classes=1000, block=BasicBlock) -> nn.Module``.

    The network is built with the course's reference block as ``block`` (see
    :func:`reference_basic_block`), so this checks the stem, the four stages
    and the head only.  Its state dict must have the keys and shapes of
    torchvision's ``resnet18``; the outputs of conv1, maxpool and layer1–4
    must have the shapes of torchvision's for 224 × 224 images (112, 56, 56,
    28, 14, 7); and with torchvision's randomly initialised weights loaded
    (``strict=True``) the logits must equal torchvision's on non-square
    inputs, for 10 classes in eval and training mode and 1000 classes in eval
    mode (extended: also other sizes and class counts).
    """
    import torch
    scenario = resnet18_scenario(extended)
    factory = make_resnet18
    if callable(make_resnet18) and not isinstance(make_resnet18, torch.nn.Module):
        factory = _Recorder(make_resnet18)
    result = check_model(factory, scenario, strict=False, seed=seed)
    if not result.passed:
        shape = next((c.inputs[0] for c in scenario.cases if (result.case or "").startswith(c.label)),
                     scenario.cases[0].inputs[0])
        _explain_network_failure(result, getattr(factory, "built", []), shape)
    return finish(result, strict)
