"""ResNet-18's per-stage shapes by arithmetic, vs the shapes torchvision's resnet18 produces on the meta device."""

from __future__ import annotations

import functools
import math
import numbers

from ..engine import INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, later, mistakes_of, run_cases
from ..messages.resnet import M
from .network import STAGES, _stage_shapes, _torchvision_resnet18


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


def _shape_answers(h, w):
    """The shapes torchvision's resnet18 produces (a forward on the meta device), and the known mistakes'."""
    expected, _ = _stage_shapes(_torchvision_resnet18(), (1, 3, h, w))
    mistakes = [M.mistake("resnet18_shapes.stem_padding", _shapes_by_formula(h, w, stem_padding=1)),
                M.mistake("resnet18_shapes.pool_padding", _shapes_by_formula(h, w, pool_padding=0)),
                M.mistake("resnet18_shapes.rounded_up", _shapes_by_formula(h, w, rounding="ceil")),
                M.mistake("resnet18_shapes.layer1_stride", _shapes_by_formula(h, w, layer1_stride=2)),
                M.mistake("resnet18_shapes.width_first",
                          {name: (c, width, height) for name, (c, height, width) in expected.items()}),
                M.mistake("resnet18_shapes.channels_last",
                          {name: (height, width, c) for name, (c, height, width) in expected.items()})]
    return expected, mistakes


def _shape_cases(extended):
    # square, wider than high and higher than wide, odd sizes where the floors matter
    sizes = [(224, 224), (256, 320), (97, 131), (131, 45)] + ([(33, 33), (500, 375), (64, 7)] if extended else [])
    # answered later: the reference is a forward of resnet18, the questions two numbers
    return [Case(f"resnet18_shapes({h}, {w})", (h, w), **later(functools.partial(_shape_answers, h, w)))
            for h, w in sizes]


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
                              hint=matched.hint if matched else general_hint, mistake=matched.key if matched else None,
                              next_step="Fix the arithmetic, re-run its cell, then run this check again."))


def check_resnet18_shapes(resnet18_shapes, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``resnet18_shapes(height, width) -> dict``: (C, H, W) after conv1, maxpool, layer1 … layer4.

    Compared with the shapes torchvision's resnet18 produces (forward hooks on
    the meta device) for square, non-square and odd image sizes.
    """
    return run_cases("resnet18_shapes", resnet18_shapes, lambda: _shape_cases(extended), compare=_compare_shapes,
                     strict=strict, general_hint=M("resnet18_shapes.general"))
