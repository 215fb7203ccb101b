"""Notebook 09, anchors and box coding: ``make_anchors`` (vs AnchorGenerator), ``encode_boxes`` and
``decode_boxes`` (vs BoxCoder)."""

from __future__ import annotations

import math

from ..engine import INCORRECT, Case, CheckResult, Verdict, compare_tensor, generator, run_cases
from ..messages.detection import M
from .boxes import random_boxes

__all__ = ["check_make_anchors", "check_encode_boxes", "check_decode_boxes", "anchors_reference"]


# --------------------------------------------------------------------------
# make_anchors
# --------------------------------------------------------------------------

# the mistakes anchors_reference computes: their keys are its variants
ANCHOR_VARIANTS = ("make_anchors.swapped", "make_anchors.area_not_kept", "make_anchors.size_major",
                   "make_anchors.full_size_offsets", "make_anchors.no_round", "make_anchors.cell_centres",
                   "make_anchors.column_major", "make_anchors.anchor_major", "make_anchors.half_up")


def anchors_reference(feature_size, stride, sizes, ratios, variant=None):
    """Anchors as torchvision's AnchorGenerator makes them, written out; ``variant`` is the key of a mistake."""
    import torch
    H, W = feature_size
    scales = torch.as_tensor(sizes).float()
    ar = torch.as_tensor(ratios, dtype=torch.float32)
    h_ratios = torch.sqrt(ar)
    w_ratios = 1 / h_ratios
    if variant == "make_anchors.swapped":
        h_ratios, w_ratios = w_ratios, h_ratios
    if variant == "make_anchors.area_not_kept":
        ws = (torch.ones_like(ar)[:, None] * scales[None, :]).reshape(-1)
        hs = (ar[:, None] * scales[None, :]).reshape(-1)
    elif variant == "make_anchors.size_major":
        ws = (scales[:, None] * w_ratios[None, :]).reshape(-1)
        hs = (scales[:, None] * h_ratios[None, :]).reshape(-1)
    else:
        ws = torch.outer(w_ratios, scales).reshape(-1)          # ratio-major, as torchvision
        hs = torch.outer(h_ratios, scales).reshape(-1)
    half = 1 if variant == "make_anchors.full_size_offsets" else 2
    base = torch.stack([-ws, -hs, ws, hs], dim=1) / half
    if variant == "make_anchors.half_up":
        base = torch.floor(base + 0.5)                       # −7.5 → −7, where torch.round gives −8
    elif variant != "make_anchors.no_round":
        base = base.round()
    offset = stride / 2 if variant == "make_anchors.cell_centres" else 0.0
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32) * stride + offset,
                            torch.arange(W, dtype=torch.float32) * stride + offset, indexing="ij")
    if variant == "make_anchors.column_major":
        ys, xs = ys.t(), xs.t()
    shifts = torch.stack([xs.reshape(-1), ys.reshape(-1), xs.reshape(-1), ys.reshape(-1)], dim=1)
    if variant == "make_anchors.anchor_major":
        return (base[:, None, :] + shifts[None, :, :]).reshape(-1, 4)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


def _anchor_expected(feature_size, stride, sizes, ratios):
    import torch
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    gen = AnchorGenerator(sizes=(tuple(sizes),), aspect_ratios=(tuple(ratios),))
    return gen.grid_anchors([list(feature_size)], [[torch.tensor(stride), torch.tensor(stride)]])[0].float()


def anchor_cases(seed, extended):
    """The same settings for every seed: anchors have no random inputs."""
    import torch
    # public: several sizes and ratios, one size, one ratio; one feature cell, with a half-size at an exact half
    # (15 / 2: rounded to even by torch.round, as torchvision does)
    settings = [((3, 4), 16, (32, 64), (0.5, 1.0, 2.0)), ((5, 2), 8, (24,), (0.5, 2.0)),
                ((2, 3), 32, (40, 90, 128), (1.0,)), ((1, 1), 16, (15, 40), (0.5, 1.0))]
    if extended:
        settings += [((4, 4), 4, (10, 15), (0.25, 1.0, 4.0)), ((1, 1), 16, (128, 256, 512), (0.5, 1.0, 2.0)),
                     ((6, 7), 16, (33, 47), (0.7, 1.3))]
    cases = []
    for feature_size, stride, sizes, ratios in settings:
        expected = _anchor_expected(feature_size, stride, sizes, ratios)
        mistakes = []
        for key in ANCHOR_VARIANTS:
            wrong = anchors_reference(feature_size, stride, sizes, ratios, key)
            if not torch.equal(wrong, expected):
                mistakes.append(M.mistake(key, wrong))
        H, W = feature_size
        A = len(sizes) * len(ratios)
        mistakes.append(M.mistake("make_anchors.grid_shape", (H, W, A, 4)))
        mistakes.append(M.mistake("make_anchors.grid_shape", (H * W, A, 4)))
        cases.append(Case(f"make_anchors(feature_size={feature_size}, stride={stride}, sizes={sizes}, "
                          f"ratios={ratios}) -> ({H * W * A}, 4)", (feature_size, stride, sizes, ratios),
                          expected=expected, mistakes=mistakes, atol=1e-4, rtol=1e-5))
    return cases


def _compare_anchors(check, got, case, *, name, general_hint=None):
    """compare_tensor, with a dtype hint that fits: the inputs are ints and tuples, the anchors float32."""
    import torch
    if (isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(case.expected.shape)
            and got.dtype != case.expected.dtype):
        raise Verdict(CheckResult(
            check, INCORRECT, "the output has the wrong dtype.", case=case.label,
            evidence=[f"expected {case.expected.dtype}, got {got.dtype}"], hint=M("make_anchors.dtype"),
            next_step="Fix the dtype and run the check again.", mistake="make_anchors.dtype"))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def check_make_anchors(make_anchors, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_anchors(feature_size, stride, sizes, ratios) -> (H·W·A, 4)``, A = len(sizes)·len(ratios).

    Compared with ``torchvision.models.detection.anchor_utils.AnchorGenerator`` for the same settings: base
    anchors (−w/2, −h/2, w/2, h/2) rounded with ``torch.round``, w = s/√r and h = s·√r (r = height / width),
    ordered ratio by ratio and size by size within a ratio; shifted to (j·stride, i·stride) for every feature
    cell (i, j), row by row; anchor index (i·W + j)·A + a; float32.
    """
    import torchvision.models.detection.anchor_utils as anchor_utils
    return run_cases("make_anchors", make_anchors, lambda: anchor_cases(seed, extended), compare=_compare_anchors,
                     strict=strict, forbidden=[(anchor_utils, "AnchorGenerator", "AnchorGenerator")],
                     general_hint=M("make_anchors.general"))


# --------------------------------------------------------------------------
# encode_boxes / decode_boxes
# --------------------------------------------------------------------------

def centre_form(boxes, plus=0.0):
    w = boxes[:, 2] - boxes[:, 0] + plus
    h = boxes[:, 3] - boxes[:, 1] + plus
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


# the mistakes encode_reference computes: their keys are its variants
ENCODE_VARIANTS = ("encode_boxes.no_log", "encode_boxes.difference", "encode_boxes.no_weights",
                   "encode_boxes.divide_weights", "encode_boxes.reference_size", "encode_boxes.swapped",
                   "encode_boxes.corner", "encode_boxes.plus_one", "encode_boxes.one_weight_per_pair")


def encode_reference(reference, proposals, weights, variant=None):
    """(dx, dy, dw, dh) of ``reference`` boxes relative to ``proposals``; ``variant`` is the key of a mistake."""
    import torch
    if variant == "encode_boxes.swapped":
        reference, proposals = proposals, reference
    plus = 1.0 if variant == "encode_boxes.plus_one" else 0.0
    px, py, pw, ph = centre_form(proposals, plus)
    gx, gy, gw, gh = centre_form(reference, plus)
    if variant == "encode_boxes.corner":
        px, py, gx, gy = proposals[:, 0], proposals[:, 1], reference[:, 0], reference[:, 1]
    wx, wy, ww, wh = (1.0, 1.0, 1.0, 1.0) if variant == "encode_boxes.no_weights" else weights
    if variant == "encode_boxes.divide_weights":
        wx, wy, ww, wh = 1 / wx, 1 / wy, 1 / ww, 1 / wh
    if variant == "encode_boxes.one_weight_per_pair":
        wy, wh = wx, ww
    norm_w, norm_h = (gw, gh) if variant == "encode_boxes.reference_size" else (pw, ph)
    dx = wx * (gx - px) / norm_w
    dy = wy * (gy - py) / norm_h
    if variant == "encode_boxes.no_log":
        dw, dh = ww * (gw / pw), wh * (gh / ph)
    elif variant == "encode_boxes.difference":
        dw, dh = ww * (gw - pw) / pw, wh * (gh - ph) / ph
    else:
        dw, dh = ww * torch.log(gw / pw), wh * torch.log(gh / ph)
    return torch.stack([dx, dy, dw, dh], dim=1)


def box_pairs(g, n, spread=0.3):
    """Proposals and reference boxes near them (as anchors and their matched ground truth)."""
    import torch
    proposals = random_boxes(g, n, high=100.0, min_size=8.0, max_size=60.0)
    cx, cy, w, h = centre_form(proposals)
    cx = cx + spread * w * (2 * torch.rand(n, generator=g) - 1)
    cy = cy + spread * h * (2 * torch.rand(n, generator=g) - 1)
    w = w * torch.exp(spread * (2 * torch.rand(n, generator=g) - 1))
    h = h * torch.exp(spread * (2 * torch.rand(n, generator=g) - 1))
    reference = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
    return reference, proposals


def encode_cases(seed, extended):
    from torchvision.models.detection._utils import BoxCoder
    g = generator(seed)
    # public: unit weights, torchvision's (10, 10, 5, 5), weights that differ within each pair on one box; no box
    settings = [(6, (1.0, 1.0, 1.0, 1.0)), (5, (10.0, 10.0, 5.0, 5.0)), (1, (3.0, 2.0, 1.5, 0.5)),
                (0, (1.0, 1.0, 1.0, 1.0))]
    if extended:
        settings += [(40, (2.0, 3.0, 0.5, 1.5)), (1, (1.0, 1.0, 1.0, 1.0)), (0, (1.0, 1.0, 1.0, 1.0))]
    cases = []
    for n, weights in settings:
        reference, proposals = box_pairs(g, n)
        expected = BoxCoder(weights).encode_single(reference, proposals)
        mistakes = [M.mistake(key, encode_reference(reference, proposals, weights, key)) for key in ENCODE_VARIANTS]
        cases.append(Case(f"encode_boxes(reference {tuple(reference.shape)}, proposals {tuple(proposals.shape)}, "
                          f"weights={weights})", (reference, proposals), dict(weights=weights), expected=expected,
                          mistakes=mistakes, atol=1e-5, rtol=1e-4))
    return cases


def check_encode_boxes(encode_boxes, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``encode_boxes(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)) -> (N, 4)``.

    The regression target (dx, dy, dw, dh) of each reference box (x1, y1, x2, y2) relative to its proposal:
    dx = wx·(x_ref − x_prop)/w_prop, dy = wy·(y_ref − y_prop)/h_prop, dw = ww·log(w_ref/w_prop),
    dh = wh·log(h_ref/h_prop), with centres x and sizes w.  Compared with torchvision's
    ``BoxCoder(weights).encode_single(reference, proposals)``, for weights (1, 1, 1, 1), (10, 10, 5, 5) and
    weights that differ within each pair (wx ≠ wy, ww ≠ wh), on one box and on none.
    """
    import torchvision.models.detection._utils as det_utils
    return run_cases("encode_boxes", encode_boxes, lambda: encode_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=[(det_utils, "BoxCoder", "BoxCoder")],
                     general_hint=M("encode_boxes.general"))


# the mistakes decode_reference computes: their keys are its variants
DECODE_VARIANTS = ("decode_boxes.no_exp", "decode_boxes.exp_plus", "decode_boxes.no_weights",
                   "decode_boxes.multiply_weights", "decode_boxes.unscaled_offsets", "decode_boxes.centre_form",
                   "decode_boxes.no_clamp", "decode_boxes.symmetric_clamp", "decode_boxes.clamp_before_weights",
                   "decode_boxes.one_weight_per_pair")


def decode_reference(deltas, anchors, weights, variant=None):
    """Boxes from (dx, dy, dw, dh) applied to ``anchors``; ``variant`` is the key of a mistake."""
    import torch
    ax, ay, aw, ah = centre_form(anchors)
    wx, wy, ww, wh = (1.0, 1.0, 1.0, 1.0) if variant == "decode_boxes.no_weights" else weights
    if variant == "decode_boxes.multiply_weights":
        wx, wy, ww, wh = 1 / wx, 1 / wy, 1 / ww, 1 / wh
    if variant == "decode_boxes.one_weight_per_pair":
        wy, wh = wx, ww
    dx, dy, dw, dh = deltas[:, 0] / wx, deltas[:, 1] / wy, deltas[:, 2] / ww, deltas[:, 3] / wh
    clip = math.log(62.5)            # torchvision's bbox_xform_clip, log(1000 / 16)
    if variant == "decode_boxes.symmetric_clamp":
        dw, dh = dw.clamp(-clip, clip), dh.clamp(-clip, clip)
    elif variant == "decode_boxes.clamp_before_weights":
        dw, dh = deltas[:, 2].clamp(max=clip) / ww, deltas[:, 3].clamp(max=clip) / wh
    elif variant != "decode_boxes.no_clamp":
        dw, dh = dw.clamp(max=clip), dh.clamp(max=clip)
    if variant == "decode_boxes.unscaled_offsets":
        x, y = ax + dx, ay + dy
    else:
        x, y = ax + aw * dx, ay + ah * dy
    if variant == "decode_boxes.no_exp":
        w, h = aw * dw, ah * dh
    elif variant == "decode_boxes.exp_plus":
        w, h = aw + torch.exp(dw), ah + torch.exp(dh)
    else:
        w, h = aw * dw.exp(), ah * dh.exp()
    if variant == "decode_boxes.centre_form":
        return torch.stack([x, y, w, h], dim=1)
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=1)


def decode_cases(seed, extended):
    import torch
    from torchvision.models.detection._utils import BoxCoder
    g = generator(seed)
    cases = []

    def add(label, deltas, anchors, weights):
        expected = BoxCoder(weights).decode_single(deltas, anchors)
        mistakes = [M.mistake(key, decode_reference(deltas, anchors, weights, key)) for key in DECODE_VARIANTS]
        cases.append(Case(label, (deltas, anchors), dict(weights=weights), expected=expected, mistakes=mistakes,
                          atol=1e-4, rtol=1e-4))

    anchors = random_boxes(g, 6, high=100.0, min_size=8.0, max_size=60.0)
    deltas = 0.5 * torch.randn(6, 4, generator=g)
    add("decode_boxes(deltas (6, 4), anchors (6, 4), weights=(1.0, 1.0, 1.0, 1.0))", deltas, anchors,
        (1.0, 1.0, 1.0, 1.0))
    # the round trip: deltas that encode known boxes decode back to them
    reference, proposals = box_pairs(g, 5)
    weights = (10.0, 10.0, 5.0, 5.0)
    deltas = BoxCoder(weights).encode_single(reference, proposals)
    add("decode_boxes(encode(b, a), a, weights=(10.0, 10.0, 5.0, 5.0)): the round trip gives b back", deltas,
        proposals, weights)
    # an untrained network's deltas: one dw beyond the clip
    anchors = random_boxes(g, 3, high=50.0, min_size=8.0, max_size=30.0)
    deltas = 0.3 * torch.randn(3, 4, generator=g)
    deltas[1, 2] = 6.0 + float(torch.rand(1, generator=g))
    add("decode_boxes(deltas (3, 4) with one dw > log(1000/16), anchors (3, 4))", deltas, anchors,
        (1.0, 1.0, 1.0, 1.0))
    # torchvision's head weights, with a large positive dw and a large negative dh (after / 5: +5 and −6)
    anchors = random_boxes(g, 4, high=80.0, min_size=10.0, max_size=40.0)
    deltas = 2.0 * torch.randn(4, 4, generator=g)
    deltas[2, 2], deltas[2, 3] = 25.0, -30.0
    add("decode_boxes(deltas (4, 4) with a dw of +25 and a dh of −30, anchors (4, 4), "
        "weights=(10.0, 10.0, 5.0, 5.0))", deltas, anchors, (10.0, 10.0, 5.0, 5.0))
    # weights that differ within each pair (wx ≠ wy, ww ≠ wh); no box
    anchors = random_boxes(g, 3, high=60.0, min_size=8.0, max_size=40.0)
    add("decode_boxes(deltas (3, 4), anchors (3, 4), weights=(3.0, 2.0, 1.5, 0.5))",
        0.5 * torch.randn(3, 4, generator=g), anchors, (3.0, 2.0, 1.5, 0.5))
    add("decode_boxes(deltas (0, 4), anchors (0, 4)): no box", torch.zeros(0, 4), torch.zeros(0, 4),
        (1.0, 1.0, 1.0, 1.0))
    if extended:
        anchors = random_boxes(g, 50, high=600.0, min_size=16.0, max_size=300.0)
        deltas = torch.randn(50, 4, generator=g)
        deltas[::7, 3] = 5.0
        add("decode_boxes(deltas (50, 4), anchors (50, 4), weights=(2.0, 3.0, 0.5, 1.5))", deltas, anchors,
            (2.0, 3.0, 0.5, 1.5))
        add("decode_boxes(deltas (0, 4), anchors (0, 4))", torch.zeros(0, 4), torch.zeros(0, 4),
            (1.0, 1.0, 1.0, 1.0))
    return cases


def check_decode_boxes(decode_boxes, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``decode_boxes(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)) -> (N, 4)``: the inverse of encode.

    dx, dy, dw, dh divided by the weights; then dw and dh clamped from above at log(1000/16); x = x_a + dx·w_a,
    y = y_a + dy·h_a, w = w_a·exp(dw), h = h_a·exp(dh); returned as corners (x1, y1, x2, y2).  Compared with
    torchvision's ``BoxCoder(weights).decode_single(deltas, anchors)``, including the round trip
    decode(encode(b, a), a) = b, a delta beyond the clamp, (weights 10, 10, 5, 5) a large positive and a
    large negative delta, weights that differ within each pair, and no box.
    """
    import torchvision.models.detection._utils as det_utils
    return run_cases("decode_boxes", decode_boxes, lambda: decode_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=[(det_utils, "BoxCoder", "BoxCoder")],
                     general_hint=M("decode_boxes.general"))
