"""Checks for notebook 04: ResNet (He et al., 2016).

The block and the network are judged by behaviour against torchvision's
``models/resnet.py``: the state dict must have torchvision's keys and shapes
(so its weights load with ``strict=True``), and with the same random weights
the learner's module must compute the same outputs, in eval and in training
mode.  Known mistakes are diagnosed by computing what they would output.
"""

from __future__ import annotations

import numbers

from .engine import mistakes_of
from .engine import (INCORRECT, RAISED, UNCHECKABLE, Case, CheckResult, Verdict, own_random_state, call_learner,
                      compare_tensor, generator, run_cases)

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
# Shared helpers: building the learner's module, comparing state dicts
# --------------------------------------------------------------------------

def _build(check, factory, label, *args, first, meta=False, **kwargs):
    """The learner's module, built under the guards; a verdict if it is not an nn.Module."""
    from .classic_architectures import _learner_model
    return _learner_model(check, factory, label, *args, meta=meta, first=first, **kwargs)


def _randomize(module, g):
    """Give every weight and batch-norm statistic a seeded random value (the defaults, all ones and
    zeros, would hide a batch norm applied in the wrong place)."""
    import torch
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var") or (name.endswith("weight") and tensor.dim() == 1):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=g))
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=g))
            else:  # convolution and dense weights, He-scaled so activations neither vanish nor explode
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=g) * (2.0 / fan_in) ** 0.5)


def _state_dict_problem(mine, reference):
    """(summary, evidence, missing keys, unexpected keys) of the first way ``mine`` differs from ``reference``,
    or None.  A weight of the wrong shape has no missing or unexpected key: its name leads the evidence."""
    missing = [k for k in reference if k not in mine]
    unexpected = [k for k in mine if k not in reference]
    if missing or unexpected:
        evidence = []
        if missing:
            evidence.append(f"missing: {', '.join(missing[:4])}" + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
        if unexpected:
            evidence.append(f"unexpected: {', '.join(unexpected[:4])}"
                            + (f" and {len(unexpected) - 4} more" if len(unexpected) > 4 else ""))
        return "the state dict's keys differ from torchvision's.", evidence, missing, unexpected
    for key, tensor in reference.items():
        if tuple(mine[key].shape) != tuple(tensor.shape):
            return ("a weight has the wrong shape.",
                    [f"{key}: expected shape {tuple(tensor.shape)}, got {tuple(mine[key].shape)}"], [], [])
    return None


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
    pairs = ", ".join(f"`{mine}` to `{theirs}`" for mine, theirs in renames.items())
    return f"Rename {pairs}, as torchvision names them, so that its weights load."


def _key_hint(missing, unexpected, *, in_block=""):
    """One hint for the commonest naming and layout mistakes of a residual block."""
    renamed = _rename_hint(missing, unexpected)
    if renamed:
        return renamed
    if any(k.endswith(".bias") and "conv" in k.split(".")[-2] for k in unexpected) or any(
            k.endswith("downsample.0.bias") for k in unexpected):
        return ("A convolution followed by batch norm needs no bias (`bias=False`): batch norm subtracts the mean "
                "and adds its own shift anyway.")
    if any("downsample" in k for k in missing) and not any("downsample" in k for k in unexpected):
        if all(".1." in k or k.endswith((".1.weight", ".1.bias")) or "downsample.1" in k for k in missing):
            return ("The projection shortcut is a 1×1 convolution followed by batch norm: "
                    "`self.downsample = nn.Sequential(nn.Conv2d(..., 1, stride=stride, bias=False), "
                    "nn.BatchNorm2d(out_channels))`.")
        return (f"When the stride is not 1 or the channels change{in_block}, the shortcut must project x: "
                "`self.downsample = nn.Sequential(1×1 conv with the stride, BatchNorm2d)`.")
    if any("downsample" in k for k in unexpected) and not any("downsample" in k for k in missing):
        return ("When the stride is 1 and the channels stay the same, the shortcut is the identity: no parameters, "
                "`self.downsample = None`.")
    return ("Name the layers as torchvision does — conv1, bn1, conv2, bn2 and `downsample` (an nn.Sequential of the "
            "1×1 conv and its BatchNorm2d) — so that ResNet weights load into your block.")


def _network_key_hint(missing, unexpected):
    renamed = _rename_hint(missing, unexpected)
    if renamed:
        return renamed
    if any("downsample" in k for k in missing + unexpected):
        return ("Only the first block of layer2, layer3 and layer4 has stride 2 and changes the channels (64 → 128 → "
                "256 → 512), so only those three blocks have a `downsample`; layer1 and every second block keep "
                "stride 1 and their channels.")
    return ("Name the parts as torchvision does: conv1 and bn1 (the stem), layer1 … layer4 (an nn.Sequential of two "
            "blocks each) and fc, so that torchvision's weights load.")


def _shape_hint(key):
    if "downsample.0" in key:
        return "The projection is a 1×1 convolution from in_channels to out_channels (with the block's stride)."
    if key.startswith("fc"):
        return ("The classifier is nn.Linear(512, num_classes), after the global average pool "
                "(nn.AdaptiveAvgPool2d(1)) and a flatten.")
    if "downsample.1" in key or key.split(".")[-2].startswith("bn"):
        return ("Batch norm has one weight per channel of the convolution it follows: "
                "`nn.BatchNorm2d(out_channels)`.")
    if key.endswith("conv1.weight") and key.count(".") == 1:
        return "The stem is a 7×7 convolution from 3 to 64 channels, stride 2, padding 3, no bias."
    return ("Both convolutions of a block are 3×3: the first from in_channels to out_channels (with the stride), "
            "the second from out_channels to out_channels.")


def _network_shape_hint(key):
    if key.startswith("layer"):
        return ("Each stage's first block goes from the previous stage's channels to its own (64 → 64, 64 → 128, "
                "128 → 256, 256 → 512); the second block keeps them.")
    return _shape_hint(key)


def _forward(check, model, x, label, *, training):
    import torch
    model.train(training)
    case = Case(f"{label}, {'training' if training else 'eval'} mode, on x of shape {tuple(x.shape)}", (x,))
    with torch.no_grad():
        out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
    return out, case


# --------------------------------------------------------------------------
# BasicBlock
# --------------------------------------------------------------------------

def _block_variant(sd, x, stride, training, variant=None):
    """What a basic block computes with state dict ``sd``, or with one known mistake (``variant``)."""
    import torch.nn.functional as F

    def bn(t, prefix):
        return F.batch_norm(t, sd[f"{prefix}.running_mean"].clone(), sd[f"{prefix}.running_var"].clone(),
                            sd[f"{prefix}.weight"], sd[f"{prefix}.bias"], training, 0.1, 1e-5)

    s1, s2 = (1, stride) if variant == "stride_on_conv2" else (stride, 1)
    out = F.conv2d(x, sd["conv1.weight"], stride=s1, padding=1)
    out = bn(F.relu(out), "bn1") if variant == "relu_before_bn" else F.relu(bn(out, "bn1"))
    if variant == "no_inner_relu":
        out = bn(F.conv2d(x, sd["conv1.weight"], stride=s1, padding=1), "bn1")
    out = bn(F.conv2d(out, sd["conv2.weight"], stride=s2, padding=1), "bn2")
    if "downsample.0.weight" in sd:
        shortcut = bn(F.conv2d(x, sd["downsample.0.weight"], stride=stride), "downsample.1")
    else:
        shortcut = x
    if variant == "no_shortcut":
        return F.relu(out)
    if variant == "relu_before_add":
        return F.relu(out) + shortcut
    if variant == "no_final_relu":
        return out + shortcut
    return F.relu(out + shortcut)


_BLOCK_MISTAKES = [
    ("no_final_relu", "After adding the shortcut, apply the ReLU: `out = relu(out + identity)`."),
    ("relu_before_add", "The second ReLU comes after the addition, not before it: `relu(bn2(conv2(...)) + identity)`."),
    ("no_shortcut", "The shortcut is missing: add `identity` (x, or its projection) to the residual branch before "
                    "the last ReLU."),
    ("stride_on_conv2", "Put the stride on the first 3×3 convolution (as torchvision does), not on the second."),
    ("relu_before_bn", "Each convolution is followed by batch norm, then ReLU: conv → BN → ReLU."),
    ("no_inner_relu", "Apply a ReLU between the two convolutions: conv1 → bn1 → ReLU → conv2 → bn2."),
]

_BLOCK_SETTINGS = [(16, 16, 1, 9, 7), (16, 32, 2, 10, 7), (8, 8, 2, 9, 9)]
_BLOCK_EXTENDED = [(3, 5, 1, 6, 11), (32, 64, 2, 7, 5)]


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
    import torch
    from torchvision.models.resnet import BasicBlock
    check = "make_basic_block"
    g = generator(seed)
    Reference = reference_basic_block()

    def behaviour():
        settings = _BLOCK_SETTINGS + (_BLOCK_EXTENDED if extended else [])
        for index, (cin, cout, stride, h, w) in enumerate(settings):
            label = f"make_basic_block({cin}, {cout}, stride={stride})"
            model = _build(check, make_basic_block, label, cin, cout, stride=stride, first=index == 0)
            if isinstance(model, BasicBlock):   # torchvision's, or the course's reference built on it
                raise Verdict(CheckResult(check, INCORRECT, "this is torchvision's (or the course's) BasicBlock.",
                                          case=label, hint="Write the block yourself from nn.Conv2d, nn.BatchNorm2d "
                                                           "and the shortcut.",
                                          next_step="Define your own nn.Module and run the check again."))
            with own_random_state():
                reference = Reference(cin, cout, stride)
            _randomize(reference, g)
            sd = reference.state_dict()
            problem = _state_dict_problem(model.state_dict(), sd)
            if problem:
                summary, evidence, missing, unexpected = problem
                hint = (_key_hint(missing, unexpected, in_block=f" (here {cin} → {cout}, stride {stride})")
                        if missing or unexpected else _shape_hint(evidence[0].split(":")[0]))
                raise Verdict(CheckResult(check, INCORRECT, summary, case=label, evidence=evidence, hint=hint,
                                          next_step="Fix the layers and run the check again."))
            model.load_state_dict(sd, strict=True)
            x = torch.randn(4, cin, h, w, generator=g)
            for training in (False, True):
                reference.train(training)
                with torch.no_grad():
                    expected = reference(x.clone())
                    mistakes = [(hint, _block_variant(sd, x, stride, training, variant))
                                for variant, hint in _BLOCK_MISTAKES]
                try:
                    out, case = _forward(check, model, x, label, training=training)
                except Verdict as verdict:
                    if verdict.result.outcome == RAISED and _is_size_mismatch(verdict.result.evidence):
                        verdict.result.hint = ("The residual branch and the shortcut must have the same shape to be "
                                               "added: both 3×3 convolutions need padding 1, and the 1×1 projection "
                                               "the block's stride.")
                    raise
                case.expected, case.mistakes = expected, mistakes
                case.atol = case.rtol = 1e-4
                compare_tensor(check, out, case, name=f"{type(model).__name__}.forward",
                               general_hint="conv3×3 (stride, padding 1) → BN → ReLU → conv3×3 (padding 1) → BN; "
                                            "add the shortcut (x, or downsample(x)); then ReLU.")
        return ("Identity and projection shortcuts match torchvision's BasicBlock: same keys, same outputs in eval "
                "and training mode.")

    return run_cases(check, make_basic_block, [], compare=None, strict=strict, after=behaviour)


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


def _torchvision_resnet18(num_classes=1000, *, meta=True, **changes):
    """torchvision's resnet18, optionally with one stem layer changed (to predict a mistake's shapes)."""
    import torch
    import torchvision
    with own_random_state(), torch.device("meta" if meta else "cpu"):
        model = torchvision.models.resnet18(num_classes=num_classes)
        for name, module in changes.items():
            setattr(model, name, module)
    return model.eval()


def _cpu_resnet18(num_classes, state_dict=None, **changes):
    """torchvision's resnet18 on the CPU, built on the meta device and never initialised (a full initialisation
    costs a tenth of a second): it holds ``state_dict``, or zeros for the caller to fill."""
    model = _torchvision_resnet18(num_classes, **changes).to_empty(device="cpu")
    if state_dict is None:
        for tensor in model.state_dict().values():
            tensor.zero_()
    else:
        model.load_state_dict(state_dict, strict=True)
    return model


def _stem_mistakes():
    """(hint, stem change) pairs, the changed layers built on the meta device like the models they go into."""
    import torch
    import torch.nn as nn
    with own_random_state(), torch.device("meta"):
        return [("The notes' stem uses padding 1; a 7×7 convolution with stride 2 needs padding 3 to turn 224 into 112.",
                 dict(conv1=nn.Conv2d(3, 64, 7, 2, 1, bias=False))),
                ("The stem ends with a 3×3 max pool, stride 2, padding 1 (112 → 56) before layer1.",
                 dict(maxpool=nn.Identity())),
                ("The stem's max pool has padding 1: nn.MaxPool2d(3, stride=2, padding=1).",
                 dict(maxpool=nn.MaxPool2d(3, 2, 0)))]


def _ignored_block_hint(model):
    """The hint for a network that does not use the ``block`` it was given, naming what its stages hold."""
    import torch
    names = sorted({type(block).__name__ for name in ("layer1", "layer2", "layer3", "layer4")
                    if isinstance(getattr(model, name, None), torch.nn.Sequential) for block in getattr(model, name)})
    what = (f"Your stages hold {', '.join(f'`{n}`' for n in names)} instead" if names
            else "Your network has no stages built from it")
    return ("Build the stages from the `block` argument: the check passes its reference block there, so that only "
            f"the stem, the stages and the head are judged. {what}.")


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
    import torchvision
    check = "make_resnet18"
    g = generator(seed)
    Reference = reference_basic_block()
    # Public: 10 classes (a network that ignores num_classes fails at once); hidden: also the default 1000.
    settings = [(10, (2, 3, 64, 80), (False,))] + ([(1000, (3, 3, 97, 131), (False, True))] if extended else [])

    built = []

    def build(label, classes, first, meta):
        try:
            model = _build(check, make_resnet18, label, num_classes=classes, block=Reference, first=first, meta=meta)
        except Verdict as verdict:
            error = verdict.result.evidence[0] if verdict.result.evidence else ""
            if verdict.result.outcome == RAISED and error.startswith("TypeError") and Reference.__name__ in error:
                verdict.result.hint = ("The check's block is called as `block(in_channels, out_channels, stride)` "
                                       "and builds its own shortcut: pass those three arguments, no `downsample`.")
            elif verdict.result.outcome == RAISED and error.startswith("TypeError") and "'block'" in error:
                verdict.result.hint = ("`make_resnet18(num_classes=1000, block=BasicBlock)` must accept `block`: the "
                                       "check passes its own reference block there.")
            raise
        built.append(model)
        return model

    def uses_block(model):
        return any(isinstance(module, Reference) for module in model.modules())

    def judged():
        try:
            return behaviour()
        except Verdict as verdict:
            # A network that ignores `block` runs the learner's own blocks: a failure may be theirs, not the stem's.
            if (verdict.result.outcome in (INCORRECT, RAISED) and built and not uses_block(built[-1])
                    and not isinstance(built[-1], torchvision.models.ResNet)):
                verdict.result.hint = _ignored_block_hint(built[-1])
            raise

    def behaviour():
        for index, (classes, shape, modes) in enumerate(settings):
            label = f"make_resnet18(num_classes={classes}, block=ReferenceBasicBlock)"
            model = build(label, classes, index == 0, meta=True)
            if isinstance(model, torchvision.models.ResNet):
                raise Verdict(CheckResult(check, INCORRECT, "this is torchvision's ResNet.", case=label,
                                          hint="Build the network yourself from the stem, four stages of `block` "
                                               "and the head.", next_step="Write your own and run the check again."))
            reference = _torchvision_resnet18(classes)
            problem = _state_dict_problem(model.state_dict(), reference.state_dict())
            if problem:
                summary, evidence, missing, unexpected = problem
                hint = _network_key_hint(missing, unexpected) if (missing or unexpected) else _network_shape_hint(
                    evidence[0].split(":")[0])
                raise Verdict(CheckResult(check, INCORRECT, summary, case=label, evidence=evidence, hint=hint,
                                          next_step="Fix the layers and run the check again."))
            # The per-stage shapes for a 224 × 224 image: the spine of the architecture table.
            size = (1, 3, 224, 224)
            expected = stage_shapes = _stage_shapes(reference, size)[0]
            model.eval()
            mine, out = call_learner(check, lambda: _stage_shapes(model, size), Case(
                f"{label} on x of shape {size}", ()), first=True, name=f"{type(model).__name__}.forward")[0]
            wrong = [name for name in STAGES if name in mine and mine[name] != expected[name]]
            if wrong:
                name = wrong[0]
                # A mistake explains the learner's model when it predicts every stage the model reports (one stage
                # alone is ambiguous: a stem padded 1 and a max pool padded 0 both give a 55 × 55 max pool output).
                hint = next((h for h, change in _stem_mistakes()
                             if all(_stage_shapes(_torchvision_resnet18(classes, **change), size)[0].get(stage)
                                    == shape for stage, shape in mine.items())),
                            "Stage k ≥ 2 starts with a stride-2 block; layer1 keeps 56 × 56.")
                raise Verdict(CheckResult(check, INCORRECT, f"the output of `{name}` has the wrong shape.",
                                          case=f"{label} on x of shape {size}",
                                          evidence=[f"{name}: expected (C, H, W) = {expected[name]}, got {mine[name]}"],
                                          hint=hint, next_step="Fix that layer and run the check again."))
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, classes):
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.",
                                          case=f"{label} on x of shape {size}",
                                          evidence=[f"expected {(1, classes)}, got {got}"],
                                          hint="After layer4: adaptive average pool to 1 × 1, `torch.flatten(x, 1)`, "
                                               "then fc.", next_step="Fix the head and run the check again."))
            # The same weights, the same logits: torchvision's state dict loads with strict=True.
            model = build(label, classes, False, meta=False)
            reference = _cpu_resnet18(classes)
            _randomize(reference, g)
            try:
                model.load_state_dict(reference.state_dict(), strict=True)
            except RuntimeError as exc:
                raise Verdict(CheckResult(check, INCORRECT, "torchvision's weights do not load with strict=True.",
                                          case=label, evidence=[str(exc).splitlines()[0][:200]],
                                          hint="The parameters must be registered as torchvision's: same names, "
                                               "same shapes.", next_step="Fix the layers and run the check again.")
                              ) from None
            x = torch.randn(*shape, generator=g)
            for training in modes:
                reference.train(training)
                with torch.no_grad():
                    expected_logits = reference(x.clone())
                    mistakes = [("torchvision's resnet18 returns logits; leave the softmax to the loss "
                                 "(nn.CrossEntropyLoss applies log-softmax itself).", expected_logits.softmax(1))]
                    for hint, change in (("The stem is conv → BN → ReLU → max pool: the ReLU is missing.",
                                          dict(relu=torch.nn.Identity())),
                                         ("The stem's pool is a max pool (3 × 3, stride 2, padding 1), not an "
                                          "average pool.", dict(maxpool=torch.nn.AvgPool2d(3, 2, 1)))):
                        variant = _cpu_resnet18(classes, reference.state_dict(), **change)
                        mistakes.append((hint, variant.train(training)(x.clone())))
                try:
                    out, case = _forward(check, model, x, label, training=training)
                except Verdict as verdict:
                    fixed_pool = [m for m in model.modules() if isinstance(m, (torch.nn.AvgPool2d, torch.nn.MaxPool2d))
                                  and tuple(torch.nn.modules.utils._pair(m.kernel_size)) == (7, 7)]
                    if verdict.result.outcome == RAISED and fixed_pool:
                        verdict.result.hint = (f"A fixed 7 × 7 pool works only for 224 × 224 images (the check also "
                                               f"uses {shape[2]} × {shape[3]}): nn.AdaptiveAvgPool2d(1) pools any size "
                                               "to 1 × 1.")
                    raise
                case.expected, case.mistakes = expected_logits, mistakes
                case.atol = case.rtol = 1e-3
                compare_tensor(check, out, case, name=f"{type(model).__name__}.forward",
                               general_hint="stem: conv1 → bn1 → ReLU → maxpool; then layer1 … layer4; then "
                                            "avgpool → flatten → fc. Use every layer once, in that order.")
        sizes = ", ".join(str(stage_shapes[name][1]) for name in STAGES)
        return (f"Keys, shapes, per-stage sizes ({sizes}) and logits match torchvision's resnet18 "
                "with its weights loaded strictly.")

    return run_cases(check, make_resnet18, [], compare=None, strict=strict, after=judged)


# --------------------------------------------------------------------------
# Per-stage shapes by arithmetic
# --------------------------------------------------------------------------

def _shapes_by_formula(h, w, *, stem_padding=3, pool_padding=1, rounding=None, layer1_stride=1):
    import math

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
        mistakes = [("The notes' stem padding of 1 is wrong: a 7×7 convolution with stride 2 needs padding 3.",
                     _shapes_by_formula(h, w, stem_padding=1)),
                    ("The stem's max pool (3 × 3, stride 2) has padding 1.", _shapes_by_formula(h, w, pool_padding=0)),
                    ("Sizes round down: floor((n + 2p − k) / s) + 1, i.e. `(n + 2 * p - k) // s + 1`.",
                     _shapes_by_formula(h, w, rounding="ceil")),
                    ("layer1 keeps the size: its blocks have stride 1 (the max pool has just halved it).",
                     _shapes_by_formula(h, w, layer1_stride=2)),
                    ("Each value is (channels, height, width): the height comes before the width.",
                     {name: (c, width, height) for name, (c, height, width) in expected.items()}),
                    ("PyTorch orders a feature map channels first: (channels, height, width), not (height, "
                     "width, channels).", {name: (height, width, c) for name, (c, height, width) in expected.items()})]
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
                                  hint="Did you forget a `return`? Return the dict of shapes.",
                                  next_step="Return the dict and run the check again."))
    if not isinstance(got, dict):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; expected a dict.",
                                  case=case.label, hint=f"Return {{'conv1': (C, H, W), 'maxpool': …, 'layer1': …, …, "
                                                        f"'layer4': …}} with the keys {', '.join(STAGES)}.",
                                  next_step="Return a dict and run the check again."))
    missing = [k for k in STAGES if k not in got]
    if missing:
        raise Verdict(CheckResult(check, UNCHECKABLE, "the dict lacks some stages.", case=case.label,
                                  evidence=[f"missing keys: {', '.join(missing)}"],
                                  hint=f"Use exactly these keys: {', '.join(STAGES)}.",
                                  next_step="Add them and run the check again."))
    for key in STAGES:
        shape = _as_shape(got[key])
        if shape is None:
            raise Verdict(CheckResult(check, UNCHECKABLE, f"`{key}` is not a (C, H, W) triple.", case=case.label,
                                      evidence=[f"got {got[key]!r}"[:120]],
                                      hint="Each value is a tuple of three ints: (channels, height, width).",
                                      next_step="Return triples and run the check again."))
        if any(not isinstance(v, numbers.Integral) for v in shape):
            raise Verdict(CheckResult(check, INCORRECT, f"`{key}` holds floats; sizes are whole numbers.",
                                      case=case.label, evidence=[f"{key}: got {shape}"],
                                      hint="Use floor division: `(n + 2 * p - k) // s + 1`.",
                                      next_step="Return ints and run the check again."))
    mine = {key: tuple(int(v) for v in _as_shape(got[key])) for key in STAGES}
    if mine == case.expected:
        return
    key = next(k for k in STAGES if mine[k] != case.expected[k])
    hint = next((h for h, wrong in _pairs(case) if wrong == mine), general_hint)
    raise Verdict(CheckResult(check, INCORRECT, f"the shape after `{key}` is wrong.", case=case.label,
                              evidence=[f"{key}: expected {case.expected[key]}, got {mine[key]}"], hint=hint,
                              next_step="Fix the arithmetic, re-run its cell, then run this check again."))


def check_resnet18_shapes(resnet18_shapes, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``resnet18_shapes(height, width) -> dict``: (C, H, W) after conv1, maxpool, layer1 … layer4.

    Compared with the shapes torchvision's resnet18 produces (forward hooks on
    the meta device) for square, non-square and odd image sizes.
    """
    return run_cases("resnet18_shapes", resnet18_shapes, _shape_cases(extended), compare=_compare_shapes,
                     strict=strict,
                     general_hint="Each size follows floor((n + 2p − k) / s) + 1: stem 7×7/2 pad 3, max pool 3×3/2 pad "
                                  "1, layer1 keeps the size, layer2–4 each halve it with a 3×3/2 pad 1 convolution.")


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
        mistakes = [("Average the loss over the batch (F.cross_entropy's default reduction='mean'), not the sum.",
                     summed.norm().item()),
                    ("Return the L2 norm, `grad.norm()`, not its square.", norm ** 2),
                    ("Return the L2 norm (`grad.norm()`), not the sum of absolute values.", grad.abs().sum().item()),
                    ("Only the gradient of `layer.weight`, not of all the model's parameters.",
                     sum(float(t.pow(2).sum()) for t in grads) ** 0.5),
                    ("The norm of the weight's gradient (`layer.weight.grad`), not of the weight itself.",
                     weight.detach().norm().item()),
                    ("Leave the model in the mode it is in: do not call model.train() or model.eval().",
                     other.norm().item())]
        # The gradient of another parameter (the last layer, the first parameter, ...): name the one it is.
        names = [name for name, p in model.named_parameters() if p.requires_grad]
        mistakes += [(f"That is the gradient of `{name}`; measure the layer passed in: `layer.weight.grad`.",
                      other_grad.norm().item())
                     for name, other_grad in zip(names, grads) if name != f"{layer_name}.weight"]
        mode = "training" if training else "eval"
        for call in ("first call", "second call on the same model"):
            case = Case(f"{label} ({mode} mode), layer {layer_name}, images {tuple(images.shape)}: {call}",
                        (model, layer, images, labels), expected=norm,
                        mistakes=mistakes + ([("Reset the gradients before backward (`model.zero_grad()`): "
                                               ".grad accumulates, so a second call would add to the first.",
                                               2 * norm)] if call.startswith("second") else []))
            case.training = training
            case.snapshot = {k: v.detach().clone() for k, v in model.named_parameters()}
            cases.append(case)
    return cases


def _compare_norm(check, got, case, *, name, general_hint=None):
    import math

    import torch
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint="Did you forget a `return`? Return the norm as a float.",
                                  next_step="Return the number and run the check again."))
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; expected a float.",
                                  case=case.label, hint="Return one number: `layer.weight.grad.norm().item()`.",
                                  next_step="Return a float and run the check again."))
    model = case.args[0]
    changed = [k for k, v in model.named_parameters() if not torch.equal(v.detach(), case.snapshot[k])]
    if changed:
        raise Verdict(CheckResult(check, INCORRECT, "the model's weights changed.", case=case.label,
                                  evidence=[f"changed: {', '.join(changed[:3])}"],
                                  hint="Measure the gradient only: no optimizer step, no writes to the weights.",
                                  next_step="Remove the update and run the check again."))
    if model.training != case.training:
        raise Verdict(CheckResult(check, INCORRECT, "the model's mode changed.", case=case.label,
                                  evidence=[f"the model was in {'training' if case.training else 'eval'} mode and is "
                                            f"now in {'training' if model.training else 'eval'} mode"],
                                  hint="Leave the model in the mode it is in: do not call model.train() or "
                                       "model.eval().", next_step="Remove that call and run the check again."))
    got = float(got)
    if math.isclose(got, case.expected, rel_tol=1e-4, abs_tol=1e-7):
        return
    hint = next((h for h, wrong in _pairs(case) if math.isclose(got, wrong, rel_tol=1e-3, abs_tol=1e-7)),
                general_hint)
    raise Verdict(CheckResult(check, INCORRECT, "the gradient norm is wrong.", case=case.label,
                              evidence=[f"expected {case.expected:.6g}, got {got:.6g}"], hint=hint,
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
                     compare=_compare_norm, strict=strict,
                     general_hint="zero the gradients, loss = F.cross_entropy(model(images), labels), "
                                  "loss.backward(), then `layer.weight.grad.norm().item()`.")


def _pairs(case):
    """(hint, answer) of each known mistake of ``case`` (transitional, until this module uses keys)."""
    return [(m.hint, m.answer) for m in mistakes_of(case)]
