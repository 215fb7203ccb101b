"""ResNet's basic block (He et al., 2016): a model scenario against torchvision's ``BasicBlock``.

The state dict must have torchvision's keys and shapes; with the same random
weights and statistics the outputs must equal the reference's in eval and in
training mode.  The hints for a state dict that differs live here too: the
network's check (``network``) uses them for the blocks it holds.
"""

from __future__ import annotations

import functools

from ..engine import INCORRECT, RAISED, WEIGHTS_BY_KEYS, CheckResult, ModelCase, ModelScenario, Verdict, check_model, \
    finish
from ..messages.resnet import M

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
                if (stride, in_channels) != (1, out_channels):
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


def _block_structure_hint(problem):
    """The scenario's hint for a block whose state dict differs from torchvision's (``engine.models``)."""
    if problem.missing or problem.unexpected:
        (cin, cout), stride = problem.case.args, problem.case.kwargs["stride"]
        return _key_hint(problem.missing, problem.unexpected, in_block=f" (here {cin} → {cout}, stride {stride})")
    return _shape_hint(problem.shape_key)


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

# (in_channels, out_channels, stride, H, W): the identity shortcut, and a projection for a new stride and
# channel count, for a stride alone, and for a channel count alone
_BLOCK_SETTINGS = [(16, 16, 1, 9, 7), (16, 32, 2, 10, 7), (8, 8, 2, 9, 9), (6, 10, 1, 7, 8)]
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
                         diagnose=_block_structure_hint, probes=[_refuse_library_block],
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
