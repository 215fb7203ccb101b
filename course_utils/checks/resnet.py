"""Checks for notebook 04: ResNet (He et al., 2016).

The block and the network are model scenarios (``engine.models``) judged by
behaviour against torchvision's ``models/resnet.py``: the state dict must have
torchvision's keys and shapes (so its weights load with ``strict=True``), and
with the same random weights the learner's module must compute the same
outputs, in eval and in training mode.  Known mistakes are diagnosed by
computing what they would output.  Texts are in ``messages/resnet.py``.
"""

from __future__ import annotations

import functools
import math
import numbers

from .engine import (EVAL, INCORRECT, RAISED, TRAIN, UNCHECKABLE, WEIGHTS_BY_KEYS, Case, CheckResult, ModelCase,
                     ModelScenario, Verdict, build_learner_model, call_learner, check_model, finish, generator,
                     mistakes_of, own_random_state, run_cases)
from .messages.resnet import M

__all__ = ["check_make_basic_block", "check_make_resnet18", "check_resnet18_shapes",
           "check_first_layer_grad_norm", "reference_basic_block"]

STAGES = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")

_REFERENCE_BLOCK = None


def reference_basic_block():
    """The course's reference block class: ``ReferenceBasicBlock(in_channels, out_channels, stride=1)``.

    torchvision's ``BasicBlock`` with the projection shortcut built inside
    (1×1 convolution with the stride, then batch norm) whenever the stride
    or the number of channels changes.  ``check_make_resnet18`` builds the
    learner's network with it, so that a mistake in the block costs points
    in the block's exercise only.
    """
    global _REFERENCE_BLOCK
    if _REFERENCE_BLOCK is None:
        import torch.nn as nn
        from torchvision.models.resnet import BasicBlock

        class ReferenceBasicBlock(BasicBlock):
            def __init__(self, in_channels, out_channels, stride=1):
                downsample = None
                if stride != 1 or in_channels != out_channels:
                    downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                               nn.BatchNorm2d(out_channels))
                super().__init__(in_channels, out_channels, stride, downsample)

        _REFERENCE_BLOCK = ReferenceBasicBlock
    return _REFERENCE_BLOCK


# --------------------------------------------------------------------------
# Hints for a state dict that differs from torchvision's
# --------------------------------------------------------------------------

def _renames(missing, unexpected):
    """{learner's name: torchvision's name} when the keys differ only by renamed parts (``shortcut.0.weight``
    for ``downsample.0.weight``), else None."""
    if not missing or len(missing) != len(unexpected):
        return None
    renames, left = {}, list(missing)
    for key in unexpected:
        parts = key.split(".")
        for candidate in left:
            other = candidate.split(".")
            diff = [i for i, (a, b) in enumerate(zip(parts, other)) if a != b] if len(other) == len(parts) else []
            if len(diff) == 1 and renames.get(parts[diff[0]], other[diff[0]]) == other[diff[0]]:
                renames[parts[diff[0]]] = other[diff[0]]
                left.remove(candidate)
                break
        else:
            return None
    return renames


def _rename_hint(missing, unexpected):
    renames = _renames(missing, unexpected)
    if not renames:
        return None
    return M("make_basic_block.rename", pairs=", ".join(f"`{mine}` to `{theirs}`" for mine, theirs in renames.items()))


def _key_hint(missing, unexpected, *, in_block=""):
    """One hint for the commonest naming and layout mistakes of a residual block."""
    renamed = _rename_hint(missing, unexpected)
    if renamed:
        return renamed
    if any(k.endswith(".bias") and "conv" in k.split(".")[-2] for k in unexpected) or any(
            k.endswith("downsample.0.bias") for k in unexpected):
        return M("make_basic_block.conv_bias")
    if any("downsample" in k for k in missing) and not any("downsample" in k for k in unexpected):
        if all(".1." in k or k.endswith((".1.weight", ".1.bias")) or "downsample.1" in k for k in missing):
            return M("make_basic_block.projection_layout")
        return M("make_basic_block.needs_projection", in_block=in_block)
    if any("downsample" in k for k in unexpected) and not any("downsample" in k for k in missing):
        return M("make_basic_block.identity_shortcut")
    return M("make_basic_block.layer_names")


def _shape_hint(key):
    if "downsample.0" in key:
        return M("make_basic_block.projection_shape")
    if key.startswith("fc"):
        return M("make_resnet18.fc_shape")
    if "downsample.1" in key or key.split(".")[-2].startswith("bn"):
        return M("make_basic_block.bn_shape")
    if key.endswith("conv1.weight") and key.count(".") == 1:
        return M("make_resnet18.stem_shape")
    return M("make_basic_block.conv_shape")


def _block_structure_hint(case, problem):
    """The scenario's hint for a block whose state dict differs from torchvision's (``engine.models``)."""
    if problem["missing"] or problem["unexpected"]:
        (cin, cout), stride = case.args, case.kwargs["stride"]
        return _key_hint(problem["missing"], problem["unexpected"], in_block=f" (here {cin} → {cout}, stride {stride})")
    return _shape_hint(problem["shape_key"])


def _network_structure_hint(case, problem):
    missing, unexpected = problem["missing"], problem["unexpected"]
    if missing or unexpected:
        renamed = _rename_hint(missing, unexpected)
        if renamed:
            return renamed
        if any("downsample" in k for k in missing + unexpected):
            return M("make_resnet18.downsample_blocks")
        return M("make_resnet18.layer_names")
    if problem["shape_key"].startswith("layer"):
        return M("make_resnet18.stage_channels")
    return _shape_hint(problem["shape_key"])


# --------------------------------------------------------------------------
# BasicBlock
# --------------------------------------------------------------------------

def _block_variant(sd, x, stride, training, variant=None):
    """What a basic block computes with state dict ``sd``, or with one known mistake: ``variant`` is the mistake's
    key in the message table."""
    import torch.nn.functional as F

    def bn(t, prefix):
        return F.batch_norm(t, sd[f"{prefix}.running_mean"].clone(), sd[f"{prefix}.running_var"].clone(),
                            sd[f"{prefix}.weight"], sd[f"{prefix}.bias"], training, 0.1, 1e-5)

    s1, s2 = (1, stride) if variant == "make_basic_block.stride_on_conv2" else (stride, 1)
    out = F.conv2d(x, sd["conv1.weight"], stride=s1, padding=1)
    out = bn(F.relu(out), "bn1") if variant == "make_basic_block.relu_before_bn" else F.relu(bn(out, "bn1"))
    if variant == "make_basic_block.no_inner_relu":
        out = bn(F.conv2d(x, sd["conv1.weight"], stride=s1, padding=1), "bn1")
    out = bn(F.conv2d(out, sd["conv2.weight"], stride=s2, padding=1), "bn2")
    if "downsample.0.weight" in sd:
        shortcut = bn(F.conv2d(x, sd["downsample.0.weight"], stride=stride), "downsample.1")
    else:
        shortcut = x
    if variant == "make_basic_block.no_shortcut":
        return F.relu(out)
    if variant == "make_basic_block.relu_before_add":
        return F.relu(out) + shortcut
    if variant == "make_basic_block.no_final_relu":
        return out + shortcut
    return F.relu(out + shortcut)


# The known mistakes of the block, by key: `_block_variant` computes each.
BLOCK_MISTAKES = ("make_basic_block.no_final_relu", "make_basic_block.relu_before_add", "make_basic_block.no_shortcut",
                  "make_basic_block.stride_on_conv2", "make_basic_block.relu_before_bn",
                  "make_basic_block.no_inner_relu")

# (in_channels, out_channels, stride, H, W)
_BLOCK_SETTINGS = [(16, 16, 1, 9, 7), (16, 32, 2, 10, 7), (8, 8, 2, 9, 9)]
_BLOCK_EXTENDED = [(3, 5, 1, 6, 11), (32, 64, 2, 7, 5)]


def _block_mistake(key, stride):
    """The wrong block of one known mistake: the reference's weights, ``_block_variant``'s computation."""
    import torch.nn as nn

    class WrongBlock(nn.Module):
        def __init__(self, reference):
            super().__init__()
            self.reference = reference

        def forward(self, x):
            return _block_variant(self.reference.state_dict(), x, stride, self.training, key)

    return M.model_mistake(key, WrongBlock)


def _refuse_library_block(scenario, model, reference, case, inputs):
    """Probe: torchvision's block (or the course's, built on it) computes the right thing but is not the exercise."""
    from torchvision.models.resnet import BasicBlock
    if isinstance(model, BasicBlock):
        raise Verdict(CheckResult(scenario.check, INCORRECT, "this is torchvision's (or the course's) BasicBlock.",
                                  case=case.label, hint=M("make_basic_block.refused"),
                                  next_step="Define your own nn.Module and run the check again."))


def block_scenario(extended=False) -> ModelScenario:
    """The block check as data: one case per setting (identity and projection shortcuts, odd non-square maps)."""
    Reference = reference_basic_block()
    cases = [ModelCase(f"make_basic_block({cin}, {cout}, stride={stride})",
                       functools.partial(Reference, cin, cout, stride), [(4, cin, h, w)], args=(cin, cout),
                       kwargs=dict(stride=stride), mistakes=[_block_mistake(key, stride) for key in BLOCK_MISTAKES])
             for cin, cout, stride, h, w in _BLOCK_SETTINGS + (_BLOCK_EXTENDED if extended else [])]
    return ModelScenario("make_basic_block", cases, weights=WEIGHTS_BY_KEYS, general_hint=M("make_basic_block.general"),
                         structure_hint=_block_structure_hint, probes=[_refuse_library_block],
                         passed=M("make_basic_block.passed"))


def _is_size_mismatch(evidence):
    """Whether torch's error (the first evidence line) says that two tensors' sizes do not match."""
    return bool(evidence) and ("must match the size" in evidence[0] or "match the broadcast shape" in evidence[0])


def check_make_basic_block(make_basic_block, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_basic_block(in_channels, out_channels, stride=1) -> nn.Module``.

    ResNet's basic block (He et al., 2016): conv3×3 (stride) → BN → ReLU →
    conv3×3 → BN, plus the shortcut — the identity, or a 1×1 convolution with
    the stride followed by BN when the stride or the channels change — then a
    ReLU.  The state dict must have the keys and shapes of torchvision's
    ``BasicBlock`` (conv1, bn1, conv2, bn2, downsample.0, downsample.1).  With
    the same random weights and statistics, the outputs must equal
    torchvision's in eval and in training mode, for identity and projection
    shortcuts and odd, non-square inputs.
    """
    result = check_model(make_basic_block, block_scenario(extended), strict=False, seed=seed)
    if result.outcome == RAISED and _is_size_mismatch(result.evidence):
        result.hint = M("make_basic_block.size_mismatch")
    return finish(result, strict)


# --------------------------------------------------------------------------
# ResNet-18
# --------------------------------------------------------------------------

def _stage_shapes(model, shape):
    """Output shapes of conv1, maxpool and layer1..layer4 for one (N, 3, H, W) input, on the model's device
    (the meta device: shapes without computation)."""
    import torch
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    shapes = {}
    hooks = [getattr(model, name).register_forward_hook(
        lambda module, args, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
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
    (a network that ignores num_classes fails at once); hidden: also the default 1000, an odd size, training mode."""
    import torch.nn as nn
    settings = [(10, (2, 3, 64, 80), (EVAL,))] + ([(1000, (3, 3, 97, 131), (EVAL, TRAIN))] if extended else [])
    mistakes = [M.model_mistake("make_resnet18.softmax", _softmax_after),
                M.model_mistake("make_resnet18.no_stem_relu", _replace("relu", nn.Identity())),
                M.model_mistake("make_resnet18.avgpool_in_stem", _replace("maxpool", nn.AvgPool2d(3, 2, 1)))]
    cases = [ModelCase(f"make_resnet18(num_classes={classes}, block=ReferenceBasicBlock)",
                       functools.partial(_cpu_resnet18, classes), [shape], modes=modes, mistakes=mistakes,
                       kwargs=dict(num_classes=classes, block=reference_basic_block()))
             for classes, shape, modes in settings]
    sizes = ", ".join(str(_stage_shapes_224()[name][1]) for name in STAGES)
    return ModelScenario("make_resnet18", cases, weights=WEIGHTS_BY_KEYS, general_hint=M("make_resnet18.general"),
                         structure_hint=_network_structure_hint, preflight=_resnet18_preflight,
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
    (``strict=True``) the logits must equal torchvision's on a non-square
    input, for 10 classes (extended: also 1000 classes, an odd size and training mode).
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


# --------------------------------------------------------------------------
# Per-stage shapes by arithmetic
# --------------------------------------------------------------------------

def _shapes_by_formula(h, w, *, stem_padding=3, pool_padding=1, rounding=None, layer1_stride=1):
    def out(n, k, s, p):
        return (math.ceil if rounding == "ceil" else math.floor)((n + 2 * p - k) / s) + 1

    shapes = {}
    h, w = out(h, 7, 2, stem_padding), out(w, 7, 2, stem_padding)
    shapes["conv1"] = (64, h, w)
    h, w = out(h, 3, 2, pool_padding), out(w, 3, 2, pool_padding)
    shapes["maxpool"] = (64, h, w)
    h, w = out(h, 3, layer1_stride, 1), out(w, 3, layer1_stride, 1)
    shapes["layer1"] = (64, h, w)
    for name, channels in (("layer2", 128), ("layer3", 256), ("layer4", 512)):
        h, w = out(h, 3, 2, 1), out(w, 3, 2, 1)
        shapes[name] = (channels, h, w)
    return shapes


def _shape_cases(extended):
    sizes = [(224, 224), (256, 320), (97, 131)] + ([(33, 33), (500, 375), (64, 7)] if extended else [])
    cases = []
    for h, w in sizes:
        expected, _ = _stage_shapes(_torchvision_resnet18(), (1, 3, h, w))
        mistakes = [M.mistake("resnet18_shapes.stem_padding", _shapes_by_formula(h, w, stem_padding=1)),
                    M.mistake("resnet18_shapes.pool_padding", _shapes_by_formula(h, w, pool_padding=0)),
                    M.mistake("resnet18_shapes.rounded_up", _shapes_by_formula(h, w, rounding="ceil")),
                    M.mistake("resnet18_shapes.layer1_stride", _shapes_by_formula(h, w, layer1_stride=2)),
                    M.mistake("resnet18_shapes.width_first",
                              {name: (c, width, height) for name, (c, height, width) in expected.items()}),
                    M.mistake("resnet18_shapes.channels_last",
                              {name: (height, width, c) for name, (c, height, width) in expected.items()})]
        cases.append(Case(f"resnet18_shapes({h}, {w})", (h, w), expected=expected, mistakes=mistakes))
    return cases


def _as_shape(value):
    if isinstance(value, (tuple, list)) and len(value) == 3 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        return tuple(value)
    try:  # a torch.Size is a tuple; anything else is not a shape
        import torch
        if isinstance(value, torch.Size) and len(value) == 3:
            return tuple(value)
    except ImportError:
        pass
    return None


def _compare_shapes(check, got, case, *, name, general_hint=None):
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint=M("resnet18_shapes.no_return"),
                                  next_step="Return the dict and run the check again."))
    if not isinstance(got, dict):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; expected a dict.",
                                  case=case.label, hint=M("resnet18_shapes.not_a_dict", stages=", ".join(STAGES)),
                                  next_step="Return a dict and run the check again."))
    missing = [k for k in STAGES if k not in got]
    if missing:
        raise Verdict(CheckResult(check, UNCHECKABLE, "the dict lacks some stages.", case=case.label,
                                  evidence=[f"missing keys: {', '.join(missing)}"],
                                  hint=M("resnet18_shapes.stage_keys", stages=", ".join(STAGES)),
                                  next_step="Add them and run the check again."))
    for key in STAGES:
        shape = _as_shape(got[key])
        if shape is None:
            raise Verdict(CheckResult(check, UNCHECKABLE, f"`{key}` is not a (C, H, W) triple.", case=case.label,
                                      evidence=[f"got {got[key]!r}"[:120]],
                                      hint=M("resnet18_shapes.not_a_triple"),
                                      next_step="Return triples and run the check again."))
        if any(not isinstance(v, numbers.Integral) for v in shape):
            raise Verdict(CheckResult(check, INCORRECT, f"`{key}` holds floats; sizes are whole numbers.",
                                      case=case.label, evidence=[f"{key}: got {shape}"],
                                      hint=M("resnet18_shapes.floats"),
                                      next_step="Return ints and run the check again."))
    mine = {key: tuple(int(v) for v in _as_shape(got[key])) for key in STAGES}
    if mine == case.expected:
        return
    key = next(k for k in STAGES if mine[k] != case.expected[k])
    matched = next((m for m in mistakes_of(case) if m.answer == mine), None)
    raise Verdict(CheckResult(check, INCORRECT, f"the shape after `{key}` is wrong.", case=case.label,
                              evidence=[f"{key}: expected {case.expected[key]}, got {mine[key]}"],
                              hint=matched.hint if matched else general_hint, mistake=matched and matched.key,
                              next_step="Fix the arithmetic, re-run its cell, then run this check again."))


def check_resnet18_shapes(resnet18_shapes, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``resnet18_shapes(height, width) -> dict``: (C, H, W) after conv1, maxpool, layer1 … layer4.

    Compared with the shapes torchvision's resnet18 produces (forward hooks on
    the meta device) for square, non-square and odd image sizes.
    """
    return run_cases("resnet18_shapes", resnet18_shapes, _shape_cases(extended), compare=_compare_shapes,
                     strict=strict, general_hint=M("resnet18_shapes.general"))


# --------------------------------------------------------------------------
# Gradient reaching the first layer
# --------------------------------------------------------------------------

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


def _grad_cases(seed, extended):
    import torch
    g = generator(seed)
    specs = [("residual, 3 blocks", 3, True, True, "stem.0", 16, 10), ("plain, 3 blocks", 3, False, False, "stem.0", 8, 10)]
    if extended:
        specs += [("residual, 6 blocks", 6, True, True, "blocks.2.conv1", 5, 3)]
    cases = []
    for index, (label, blocks, residual, training, layer_name, batch, classes) in enumerate(specs):
        model = _tiny_net(blocks, residual, seed=int(seed) * 10 + index, classes=classes).train(training)
        layer = model.get_submodule(layer_name)
        images = torch.rand(batch, 1, 8, 8, generator=g)
        labels = torch.randint(0, classes, (batch,), generator=g)
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
        mode = "training" if training else "eval"
        for call in ("first call", "second call on the same model"):
            case = Case(f"{label} ({mode} mode), layer {layer_name}, images {tuple(images.shape)}: {call}",
                        (model, layer, images, labels), expected=norm,
                        mistakes=mistakes + ([M.mistake("first_layer_grad_norm.no_zero_grad", 2 * norm)]
                                             if call.startswith("second") else []))
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
                              hint=matched.hint if matched else general_hint, mistake=matched and matched.key,
                              next_step="Fix the computation, re-run its cell, then run this check again."))


def check_first_layer_grad_norm(first_layer_grad_norm, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``first_layer_grad_norm(model, layer, images, labels) -> float``.

    The L2 norm of the gradient of the mean cross-entropy loss of
    ``model(images)`` against ``labels`` with respect to ``layer.weight``,
    with the model left in its mode and its weights unchanged.  Compared with
    ``torch.autograd.grad`` on a copy of the model, on plain and residual
    networks in training and eval mode; each model is passed twice, so stale
    gradients from the first call must not add up.
    """
    return run_cases("first_layer_grad_norm", first_layer_grad_norm, _grad_cases(seed, extended),
                     compare=_compare_norm, strict=strict, general_hint=M("first_layer_grad_norm.general"))

