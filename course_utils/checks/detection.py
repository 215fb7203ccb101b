"""Checks for notebook 09: detection, from R-CNN to Faster R-CNN.

Every expected answer comes from torchvision, computed when the case is built
(outside the learner's guards), and the learner may not call the function the
exercise re-implements:

* ``box_iou`` vs ``torchvision.ops.box_iou``, on random boxes and on disjoint,
  touching, nested, identical and zero-area boxes, and on empty inputs;
* ``nms`` vs ``torchvision.ops.nms``: the same set of kept indices, listed in
  decreasing score order.  torchvision's documentation does not promise an
  order among boxes of *exactly* equal scores (its CPU kernel sorts stably,
  so the lower index comes first, but CPU and GPU may differ), so where
  scores tie the check accepts any order among the tied kept boxes, and it
  builds tie cases only where the kept *set* does not depend on that order
  (tied boxes never overlap each other above the threshold);
* ``spatial_pyramid_pool`` vs bins computed here explicitly with the
  adaptive-pooling rule (bin i of n covers ⌊i·H/n⌋ … ⌈(i+1)·H/n⌉ − 1), the
  rule of ``F.adaptive_max_pool2d`` (the tests prove the two agree);
* ``roi_pool`` vs ``torchvision.ops.roi_pool``;
* ``make_anchors`` vs ``torchvision.models.detection.anchor_utils.AnchorGenerator``;
* ``encode_boxes`` / ``decode_boxes`` vs ``torchvision.models.detection._utils.BoxCoder``.

The wrong answers that the hints recognise are computed by :func:`roi_pool_reference`
and the other small reference functions below, each with a ``variant`` naming a mistake.
"""

from __future__ import annotations

import math

from .engine import mistakes_of
from .engine import (INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, generator, run_cases)

__all__ = ["check_box_iou", "check_nms", "check_spatial_pyramid_pool", "check_roi_pool", "check_make_anchors",
           "check_encode_boxes", "check_decode_boxes", "roi_pool_reference", "anchors_reference",
           "spp_reference", "c_round"]


# --------------------------------------------------------------------------
# Shared case builders
# --------------------------------------------------------------------------

def _random_boxes(g, n, *, low=0.0, high=40.0, min_size=1.0, max_size=20.0):
    """``n`` boxes (x1, y1, x2, y2) with x1 < x2 and y1 < y2, float32."""
    import torch
    xy = low + (high - low) * torch.rand(n, 2, generator=g)
    wh = min_size + (max_size - min_size) * torch.rand(n, 2, generator=g)
    return torch.cat([xy, xy + wh], dim=1)


def _torchvision_ops():
    import torchvision.ops as ops
    return ops


def _iou_forbidden():
    import torchvision.ops
    import torchvision.ops.boxes as boxes
    return [(torchvision.ops, "box_iou", "torchvision.ops.box_iou"), (boxes, "box_iou", "torchvision.ops.box_iou"),
            (torchvision.ops, "generalized_box_iou", "torchvision.ops.generalized_box_iou"),
            (boxes, "generalized_box_iou", "torchvision.ops.generalized_box_iou")]


def _nms_forbidden():
    import torchvision.ops
    import torchvision.ops.boxes as boxes
    return [(torchvision.ops, "nms", "torchvision.ops.nms"), (boxes, "nms", "torchvision.ops.nms"),
            (torchvision.ops, "batched_nms", "torchvision.ops.batched_nms"),
            (boxes, "batched_nms", "torchvision.ops.batched_nms")]


# --------------------------------------------------------------------------
# box_iou
# --------------------------------------------------------------------------

def _iou_variant(a, b, variant):
    """Pairwise IoU of a (N, 4) and b (M, 4) with a known mistake."""
    import torch
    plus = 1.0 if variant == "plus_one" else 0.0
    area_a = (a[:, 2] - a[:, 0] + plus) * (a[:, 3] - a[:, 1] + plus)
    area_b = (b[:, 2] - b[:, 0] + plus) * (b[:, 3] - b[:, 1] + plus)
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = rb - lt + plus
    if variant not in ("no_clamp", "clamp_product"):
        wh = wh.clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    if variant == "clamp_product":
        inter = inter.clamp(min=0)
    if variant == "no_minus_inter":
        union = area_a[:, None] + area_b[None, :]
    else:
        union = area_a[:, None] + area_b[None, :] - inter
    if variant == "over_first_area":
        return inter / area_a[:, None]
    if variant == "over_smaller_area":
        return inter / torch.min(area_a[:, None], area_b[None, :])
    return inter / union


_IOU_MISTAKES = [
    ("no_clamp", "Clamp the overlap's width and height at 0 before multiplying, `(rb - lt).clamp(min=0)`: for "
                 "disjoint boxes one side is negative (a negative 'intersection') or both are (a positive one)."),
    ("clamp_product", "Clamp the width and the height *each* at 0, before multiplying: two negative sides give a "
                      "positive product, so clamping the product is too late."),
    ("no_minus_inter", "The union counts the intersection once: area₁ + area₂ − intersection (adding the two areas "
                       "counts the overlap twice)."),
    ("plus_one", "torchvision uses continuous coordinates: a box's width is x2 − x1, not x2 − x1 + 1 (the '+1 "
                 "pixel' convention of old Caffe/MATLAB code)."),
    ("over_first_area", "IoU divides the intersection by the *union* of the two boxes, not by the first box's area."),
    ("over_smaller_area", "IoU divides the intersection by the *union* of the two boxes, not by the smaller area."),
]


def _iou_cases(seed, extended):
    import torch
    ops = _torchvision_ops()
    g = generator(seed)
    cases = []

    def add(label, a, b):
        expected = ops.box_iou(a, b)
        mistakes = [(hint, _iou_variant(a, b, variant)) for variant, hint in _IOU_MISTAKES]
        n, m = a.shape[0], b.shape[0]
        if n and m and n != m:
            mistakes.append(("The answer is pairwise, every box of boxes1 with every box of boxes2: shape (N, M), "
                             "not (M, N). Broadcast `boxes1[:, None, :]` against `boxes2[None, :, :]`.", (m, n)))
        if n != m or n > 1:
            mistakes.append(("The answer is pairwise, (N, M): every box of boxes1 with every box of boxes2, not box "
                             "i with box i. Broadcast `boxes1[:, None, :]` against `boxes2[None, :, :]`.",
                             (min(n, m),)))
        cases.append(Case(label, (a, b), expected=expected, mistakes=mistakes, atol=1e-5, rtol=1e-5))

    a, b = _random_boxes(g, 7), _random_boxes(g, 5)
    add("box_iou(7 random boxes, 5 random boxes)", a, b)
    # special pairs: first box against disjoint, touching (shared edge), nested, identical, zero-area boxes
    base = torch.tensor([[2.0, 3.0, 12.0, 9.0], [20.0, 20.0, 24.0, 30.0]])
    offset = torch.rand(1, 2, generator=g).repeat(1, 2)
    others = torch.tensor([[15.0, 3.0, 18.0, 9.0],     # disjoint (negative overlap in x)
                           [30.0, 40.0, 35.0, 42.0],   # disjoint in both x and y (two negative sides)
                           [12.0, 5.0, 16.0, 8.0],     # touching: shares the edge x = 12
                           [4.0, 4.0, 8.0, 7.0],       # nested inside the first
                           [2.0, 3.0, 12.0, 9.0],      # identical to the first
                           [5.0, 5.0, 5.0, 8.0],       # zero width, inside the first
                           [21.0, 22.0, 23.0, 22.0]])  # zero height, inside the second
    add("box_iou(2 boxes, 7 boxes: disjoint, touching, nested, identical, zero-area)", base + offset,
        others + offset)
    add("box_iou(0 boxes, 4 boxes): an empty first input", torch.zeros(0, 4), _random_boxes(g, 4))
    if extended:
        add("box_iou(3 random boxes, 0 boxes): an empty second input", _random_boxes(g, 3), torch.zeros(0, 4))
        a = _random_boxes(g, 30, high=20.0, max_size=15.0)
        add("box_iou(30 crowded boxes, the same 30 boxes)", a, a.clone())
        big = _random_boxes(g, 6, high=500.0, min_size=50.0, max_size=300.0)
        add("box_iou(6 large boxes, 9 large boxes)", big, _random_boxes(g, 9, high=500.0, min_size=50.0,
                                                                        max_size=300.0))
    return cases


def check_box_iou(box_iou, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``box_iou(boxes1, boxes2) -> (N, M)``: the IoU of every box of boxes1 (N, 4) with every box of
    boxes2 (M, 4), boxes as (x1, y1, x2, y2) with continuous coordinates (width x2 − x1).

    Compared with ``torchvision.ops.box_iou`` (which the learner may not call) on random boxes; on disjoint,
    touching, nested, identical and zero-area boxes; and on an empty input (N = 0; hidden: M = 0).  Two
    zero-area boxes at the same place would give 0 / 0 = NaN in torchvision: no case builds one.
    """
    from .engine import compare_tensor
    return run_cases("box_iou", box_iou, _iou_cases(seed, extended), compare=compare_tensor, strict=strict,
                     forbidden=_iou_forbidden(), op_pattern=r"^(generalized_)?box_iou$",
                     general_hint="area = (x2 − x1)·(y2 − y1); overlap: lt = max of the top-left corners, rb = min "
                                  "of the bottom-right corners, wh = (rb − lt).clamp(min=0); inter = w·h; "
                                  "IoU = inter / (area₁ + area₂ − inter), for every pair (broadcast to (N, M)).")


# --------------------------------------------------------------------------
# nms
# --------------------------------------------------------------------------

def _nms_variant(boxes, scores, threshold, variant=None):
    """Greedy NMS written out (or a known mistake); returns int64 indices."""
    import torch
    ops = _torchvision_ops()
    n = boxes.shape[0]
    if variant == "ascending":
        order = torch.sort(scores, descending=False, stable=True).indices
    elif variant == "unsorted":
        order = torch.arange(n)
    else:
        order = torch.sort(scores, descending=True, stable=True).indices
    iou = ops.box_iou(boxes, boxes)
    suppressed = torch.zeros(n, dtype=torch.bool)
    keep = []
    for pos, i in enumerate(order.tolist()):
        if suppressed[i] and variant != "suppressed_suppress":
            continue
        if variant == "suppressed_suppress":
            # keep a box unless ANY higher-scoring box overlaps it, suppressed or not
            higher = order[:pos]
            if not bool((iou[i, higher] > threshold).any()):
                keep.append(i)
            continue
        keep.append(i)
        over = iou[i] >= threshold if variant == "greater_equal" else iou[i] > threshold
        suppressed |= over
    keep = torch.tensor(keep, dtype=torch.int64)
    if variant == "index_order":
        keep = keep.sort().values
    if variant == "positions":
        rank = torch.empty(n, dtype=torch.int64)
        rank[order] = torch.arange(n)
        keep = rank[keep]
    return keep


_NMS_MISTAKES = [
    ("greater_equal", "Suppress a box only when its IoU is strictly *greater* than the threshold (`iou > "
                      "iou_threshold`), as torchvision does: a box at exactly the threshold stays."),
    ("ascending", "Visit the boxes from the *highest* score down: `scores.argsort(descending=True)`; starting from "
                  "the lowest keeps the worst box of each cluster."),
    ("unsorted", "Sort by score first: greedy NMS visits the boxes from the highest score down, not in index "
                 "order."),
    ("suppressed_suppress", "A box that was suppressed suppresses nothing: only boxes you *keep* remove their "
                            "neighbours (so a box overlapping only a suppressed box survives)."),
    ("index_order", "Return the kept indices in decreasing score order (the order they were kept in), not sorted "
                    "by index."),
    ("positions", "Return indices into the *original* `boxes`, not positions in the sorted order: map them back "
                  "with `order[k]`."),
]


def _nms_case(label, boxes, scores, threshold):
    ops = _torchvision_ops()
    expected = ops.nms(boxes, scores, threshold)
    mistakes = []
    for variant, hint in _NMS_MISTAKES:
        wrong = _nms_variant(boxes, scores, threshold, variant)
        if not (wrong.shape == expected.shape and bool((wrong == expected).all())):
            mistakes.append((hint, wrong))
    return Case(label, (boxes, scores, threshold), expected=expected, mistakes=mistakes)


def _clustered(g, clusters, per_cluster, *, spread=3.0):
    """Boxes jittered around a few centres, so that NMS has work to do."""
    import torch
    centres = _random_boxes(g, clusters, high=60.0, min_size=8.0, max_size=20.0)
    boxes = centres.repeat_interleave(per_cluster, dim=0)
    jitter = spread * (2 * torch.rand(boxes.shape, generator=g) - 1)
    boxes = boxes + jitter
    x1, x2 = torch.min(boxes[:, 0], boxes[:, 2]), torch.max(boxes[:, 0], boxes[:, 2]) + 0.5
    y1, y2 = torch.min(boxes[:, 1], boxes[:, 3]), torch.max(boxes[:, 1], boxes[:, 3]) + 0.5
    return torch.stack([x1, y1, x2, y2], dim=1)


def _nms_cases(seed, extended):
    import torch
    g = generator(seed)
    cases = []
    boxes = _clustered(g, 4, 5)
    perm = torch.randperm(boxes.shape[0], generator=g)
    boxes = boxes[perm]
    scores = torch.rand(boxes.shape[0], generator=g)
    cases.append(_nms_case("nms(20 boxes in 4 clusters, distinct scores, iou_threshold=0.5)", boxes, scores, 0.5))
    # a chain: A (best) overlaps B, B overlaps C, A does not overlap C: A and C are kept
    shift = float(torch.rand(1, generator=g)) * 5
    chain = torch.tensor([[0.0, 0.0, 10.0, 10.0], [6.0, 0.0, 16.0, 10.0], [12.0, 0.0, 22.0, 10.0],
                          [30.0, 30.0, 40.0, 40.0], [30.0, 30.0, 40.0, 35.0]]) + shift
    # the last pair: the second box covers half of the first, IoU exactly 0.5 (an exact binary fraction)
    chain_scores = torch.tensor([0.6, 0.9, 0.5, 0.8, 0.7])
    cases.append(_nms_case("nms(5 boxes: a chain A-B-C and a pair at IoU exactly 0.5, iou_threshold=0.3)",
                           chain, chain_scores, 0.3))
    cases.append(_nms_case("nms(the same 5 boxes, iou_threshold=0.5: the pair's IoU equals the threshold)",
                           chain, chain_scores, 0.5))
    # ties: equal scores on boxes that do not overlap each other, plus lower boxes they suppress
    tied = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 0.0, 60.0, 10.0], [0.0, 50.0, 10.0, 60.0],
                         [1.0, 1.0, 10.0, 10.0], [50.0, 1.0, 59.0, 10.0]]) + shift
    tied_scores = torch.tensor([0.7, 0.7, 0.7, 0.4, 0.4])
    cases.append(_nms_case("nms(5 boxes, three tied top scores on boxes that do not overlap, iou_threshold=0.5)",
                           tied, tied_scores, 0.5))
    cases.append(_nms_case("nms(0 boxes): an empty input", torch.zeros(0, 4), torch.zeros(0), 0.5))
    if extended:
        boxes = _clustered(g, 10, 12, spread=4.0)
        boxes = boxes[torch.randperm(boxes.shape[0], generator=g)]
        scores = torch.rand(boxes.shape[0], generator=g)
        for t in (0.3, 0.7):
            cases.append(_nms_case(f"nms(120 boxes in 10 clusters, iou_threshold={t})", boxes, scores, t))
        single = _random_boxes(g, 1)
        cases.append(_nms_case("nms(1 box)", single, torch.rand(1, generator=g), 0.5))
        same = _random_boxes(g, 1).repeat(4, 1)
        cases.append(_nms_case("nms(4 identical boxes, distinct scores, iou_threshold=0.9)", same,
                               torch.tensor([0.2, 0.9, 0.4, 0.3]), 0.9))
        far = torch.arange(6, dtype=torch.float32)[:, None] * 20 + _random_boxes(g, 1)
        cases.append(_nms_case("nms(6 boxes that do not overlap, all scores equal)", far, torch.full((6,), 0.5),
                               0.5))
    return cases


def _compare_indices(check, got, case, *, name, general_hint=None):
    """The kept indices: the same set as torchvision's, listed in decreasing score order."""
    import numpy as np
    import torch
    expected, scores = case.expected, case.args[1]
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint="Did you forget a `return` at the end of the function?",
                                  next_step="Return the kept indices as a tensor and run the check again."))
    if isinstance(got, np.ndarray) or not isinstance(got, torch.Tensor):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; the check expects a torch.Tensor.",
            case=case.label, hint="Return `torch.tensor(keep, dtype=torch.int64)` (an empty list gives an empty "
                                  "tensor that way too).",
            next_step="Return a tensor and run the check again."))
    if got.dtype == torch.bool:
        raise Verdict(CheckResult(
            check, INCORRECT, "the output is a boolean mask; expected the kept indices.", case=case.label,
            evidence=[f"expected int64 indices of shape {tuple(expected.shape)}, got a bool tensor of shape "
                      f"{tuple(got.shape)}"],
            hint="Return the indices of the kept boxes (int64), best first, as torchvision.ops.nms does.",
            next_step="Return indices and run the check again."))
    if got.dim() != 1:
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.", case=case.label,
                                  evidence=[f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"],
                                  hint="Return a 1-D tensor of kept indices.",
                                  next_step="Fix the shape first; then the indices are compared."))
    if got.dtype != torch.int64:
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong dtype.", case=case.label,
                                  evidence=[f"expected {torch.int64}, got {got.dtype}"],
                                  hint="Indices are int64: `torch.tensor(keep, dtype=torch.int64)` — also when "
                                       "nothing is kept (an empty input).",
                                  next_step="Fix the dtype and run the check again."))
    got = got.detach().cpu()
    wanted = sorted(expected.tolist())
    got_list = got.tolist()
    same_set = sorted(got_list) == wanted
    ordered = all(scores[a] >= scores[b] for a, b in zip(got_list, got_list[1:])) if same_set else False
    if same_set and ordered:
        return
    hint = None
    for mistake_hint, wrong in _pairs(case):
        if wrong.shape == got.shape and bool((wrong == got).all()):
            hint = mistake_hint
            break
    if hint is None and same_set:
        hint = "List the kept indices in decreasing score order: the order in which greedy NMS keeps them."
    evidence = [f"expected {len(wanted)} kept boxes, got {len(got_list)}"]
    missing = sorted(set(wanted) - set(got_list))
    extra = sorted(set(got_list) - set(wanted))
    if missing:
        evidence.append(f"{len(missing)} box(es) that should be kept are missing")
    if extra:
        evidence.append(f"{len(extra)} box(es) kept that should be suppressed (or indices that do not exist)")
    if same_set and not ordered:
        evidence.append("the right boxes, in an order that is not by decreasing score")
    raise Verdict(CheckResult(check, INCORRECT, "the kept boxes are wrong.", case=case.label, evidence=evidence,
                              hint=hint or general_hint,
                              next_step="Fix the computation, re-run its cell, then run this check again."))


def check_nms(nms, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``nms(boxes, scores, iou_threshold) -> int64 indices``: greedy non-maximum suppression.

    Visit the boxes from the highest score down; keep a box unless a box kept before it overlaps it with
    IoU **greater than** ``iou_threshold``; return the kept indices (into ``boxes``) in the order kept.
    Compared with ``torchvision.ops.nms`` (which the learner may not call): the same set of indices, listed
    in decreasing score order.  Among boxes of exactly equal score torchvision documents no order, so there
    the check accepts any order; tie cases are built so that the kept set does not depend on it.  Cases: a
    chain (A suppresses B, so C survives), an IoU exactly at the threshold, ties, an empty input (an empty
    int64 tensor); hidden: 120 boxes, one box, identical boxes.
    """
    return run_cases("nms", nms, _nms_cases(seed, extended), compare=_compare_indices, strict=strict,
                     forbidden=_nms_forbidden(), op_pattern=r"^(batched_)?nms$",
                     general_hint="order = scores.argsort(descending=True); take the first remaining box, keep it, "
                                  "remove every remaining box whose IoU with it is > iou_threshold; repeat.")


# --------------------------------------------------------------------------
# spatial_pyramid_pool
# --------------------------------------------------------------------------

def _bins(size, n, variant=None):
    """(start, end) of the n bins over ``size`` cells: the adaptive rule, or SPPNet's window/stride rule."""
    if variant == "sppnet":
        window, stride = math.ceil(size / n), math.floor(size / n)
        return [(i * stride, min(i * stride + window, size)) for i in range(n)]
    return [(math.floor(i * size / n), math.ceil((i + 1) * size / n)) for i in range(n)]


def spp_reference(x, levels, variant=None):
    """Spatial pyramid pooling of x (N, C, H, W), computed bin by bin; ``variant`` names a mistake."""
    import torch
    H, W = x.shape[-2:]
    order = list(reversed(levels)) if variant == "reversed_levels" else list(levels)
    parts = []
    for n in order:
        pooled = x.new_zeros(x.shape[0], x.shape[1], n, n)
        for i, (h0, h1) in enumerate(_bins(H, n, "sppnet" if variant == "sppnet" else None)):
            for j, (w0, w1) in enumerate(_bins(W, n, "sppnet" if variant == "sppnet" else None)):
                window = x[:, :, h0:h1, w0:w1]
                if variant == "average":
                    pooled[:, :, i, j] = window.mean(dim=(-2, -1))
                else:
                    pooled[:, :, i, j] = window.amax(dim=(-2, -1))
        if variant == "spatial_major":
            parts.append(pooled.permute(0, 2, 3, 1).flatten(1))
        else:
            parts.append(pooled.flatten(1))
    return torch.cat(parts, dim=1)


_SPP_MISTAKES = [
    ("average", "SPPNet max-pools each bin (`F.adaptive_max_pool2d`), not average-pools."),
    ("reversed_levels", "Concatenate the levels in the order given by `levels` (the 1 × 1 level first for "
                        "(1, 2, 4))."),
    ("spatial_major", "Flatten each level's (N, C, n, n) map with `.flatten(1)`: all bins of channel 0, then "
                      "of channel 1, … (channel-major), not the channels of bin 0 first."),
    ("sppnet", "The course uses adaptive pooling's bins (bin i covers rows ⌊i·H/n⌋ up to, not including, "
               "⌈(i+1)·H/n⌉, as `F.adaptive_max_pool2d`), not the paper's window ⌈H/n⌉ with stride ⌊H/n⌋."),
]


def _spp_cases(seed, extended):
    import torch
    g = generator(seed)
    settings = [((2, 3, 13, 9), (1, 2, 4)), ((1, 4, 7, 7), (1, 2, 4)), ((3, 2, 6, 11), (3, 1))]
    if extended:
        settings += [((2, 3, 3, 2), (1, 2, 4)), ((1, 5, 16, 16), (1, 2, 3, 6)), ((2, 2, 10, 7), (2,)),
                     ((1, 3, 31, 20), (1, 2, 4))]
    cases = []
    for shape, levels in settings:
        x = torch.randn(*shape, generator=g)
        N, C = shape[:2]
        length = C * sum(n * n for n in levels)
        mistakes = []
        for variant, hint in _SPP_MISTAKES:
            if variant == "sppnet" and min(shape[-2:]) < max(levels):
                continue   # the paper's stride ⌊H/n⌋ is 0 there: no answer to compare
            mistakes.append((hint, spp_reference(x, levels, variant)))
        mistakes.append(("Flatten each level to (N, C·n²) and concatenate along dim 1: the answer is one vector of "
                         "length C·Σn² per image.", (N, C, sum(n * n for n in levels))))
        if levels != (1, 2, 4):
            mistakes.append(("Use the `levels` argument: one n × n grid per entry, C·Σn² numbers in all.",
                             (N, C * 21)))
        cases.append(Case(f"spatial_pyramid_pool(x of shape {shape}, levels={levels}) -> ({N}, {length})",
                          (x,), dict(levels=levels), expected=spp_reference(x, levels), mistakes=mistakes,
                          atol=1e-6, rtol=1e-6))
    return cases


def check_spatial_pyramid_pool(spatial_pyramid_pool, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``spatial_pyramid_pool(features, levels=(1, 2, 4)) -> (N, C·Σn²)``.

    For each n in ``levels`` (in that order), max-pool (N, C, H, W) into an n × n grid of bins with the
    adaptive rule (bin i covers rows ⌊i·H/n⌋ … ⌈(i+1)·H/n⌉ − 1, as ``F.adaptive_max_pool2d``), flatten it to
    (N, C·n²) channel-major, and concatenate the levels.  Compared with bins computed explicitly here, on
    sizes that do not divide by n, odd sizes and custom levels; hidden: a map smaller than the finest grid.
    """
    from .engine import compare_tensor
    return run_cases("spatial_pyramid_pool", spatial_pyramid_pool, _spp_cases(seed, extended),
                     compare=compare_tensor, strict=strict,
                     general_hint="`torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in levels], dim=1)`.")


# --------------------------------------------------------------------------
# roi_pool
# --------------------------------------------------------------------------

def c_round(t):
    """C's ``round``: halves away from zero (``torch.round`` rounds halves to even); computed in float64,
    where v + 0.5 is exact for these magnitudes."""
    import torch
    d = t.double()
    return (torch.sign(d) * torch.floor(d.abs() + 0.5)).to(t.dtype)


def roi_pool_reference(features, rois, output_size, spatial_scale=1.0, variant=None):
    """RoI max pooling written out as torchvision's CPU kernel does it; ``variant`` names a mistake.

    Each roi (batch_index, x1, y1, x2, y2) is scaled by ``spatial_scale`` and rounded (C's round);
    its size is end − start + 1 (at least 1); bin (i, j) covers rows start + ⌊i·h/ph⌋ … start +
    ⌈(i+1)·h/ph⌉ − 1 (bin size h/ph in float32), clipped to the map; an empty bin gives 0.
    """
    import torch
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    K, (_, C, H, W) = rois.shape[0], features.shape
    out = features.new_zeros(K, C, ph, pw)
    scale = 1.0 if variant == "no_scale" else spatial_scale
    coords = rois[:, 1:].float() * torch.tensor(scale, dtype=torch.float32)
    if variant == "floor":
        coords = torch.floor(coords)
    elif variant == "torch_round":
        coords = torch.round(coords)
    elif variant == "half_up":
        coords = torch.floor(coords + 0.5)                   # right for v ≥ 0 only: −0.5 → 0, not −1
    elif variant != "no_round":
        coords = c_round(coords)
    for k in range(K):
        b = 0 if variant == "batch_zero" else int(rois[k, 0])
        x1, y1, x2, y2 = coords[k].tolist()
        plus = 0 if variant == "no_plus_one" else 1
        roi_w = torch.tensor(max(x2 - x1 + plus, 1.0), dtype=torch.float32)
        roi_h = torch.tensor(max(y2 - y1 + plus, 1.0), dtype=torch.float32)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        for i in range(ph):
            for j in range(pw):
                h0 = int(torch.floor(i * bin_h)) + y1
                h1 = (int(torch.floor((i + 1) * bin_h)) if variant == "floor_end" else
                      int(torch.ceil((i + 1) * bin_h))) + y1
                w0 = int(torch.floor(j * bin_w)) + x1
                w1 = (int(torch.floor((j + 1) * bin_w)) if variant == "floor_end" else
                      int(torch.ceil((j + 1) * bin_w))) + x1
                low = -(H + W) if variant == "no_clip_start" else 0   # a negative start slices from the end
                h0, h1 = min(max(int(math.floor(h0)), low), H), min(max(int(math.ceil(h1)), 0), H)
                w0, w1 = min(max(int(math.floor(w0)), low), W), min(max(int(math.ceil(w1)), 0), W)
                if h1 <= h0 or w1 <= w0:
                    if variant == "empty_neg_inf":
                        out[k, :, i, j] = float("-inf")
                    continue
                window = features[b, :, h0:h1, w0:w1]
                if window.numel() == 0:                       # only no_clip_start: Python's slice came out empty
                    continue
                out[k, :, i, j] = window.mean(dim=(-2, -1)) if variant == "average" else window.amax(dim=(-2, -1))
    return out


_ROI_MISTAKES = [
    ("no_scale", "Multiply the roi's image coordinates by `spatial_scale` (e.g. 1/16) to get feature-map "
                 "coordinates."),
    ("floor", "Round the scaled coordinates to the nearest cell, not down: C's round, halves away from zero, "
              "`torch.sign(v) * torch.floor(v.abs() + 0.5)`."),
    ("torch_round", "torchvision rounds with C's `round`, halves *away from zero* (2.5 → 3, −2.5 → −3); "
                    "`torch.round` rounds halves to even (2.5 → 2). Use `torch.sign(v) * torch.floor(v.abs() + 0.5)`."),
    ("half_up", "Coordinates may be negative, and C's `round` takes halves away from zero there too (−0.5 → −1, "
                "−1.5 → −2); `torch.floor(v + 0.5)` rounds them up (0, −1). Use "
                "`torch.sign(v) * torch.floor(v.abs() + 0.5)`."),
    ("no_clip_start", "A roi may start left of or above the map (negative coordinates): clip every bin's start "
                      "and end to [0, H) and [0, W) before slicing (a negative start slices from the end in "
                      "Python)."),
    ("no_round", "Round the scaled roi coordinates to whole cells first (RoI pooling quantises the roi; the "
                 "unrounded version is RoIAlign's idea)."),
    ("no_plus_one", "The rounded roi covers cells x1 … x2 *inclusive*: its width is x2 − x1 + 1 (at least 1)."),
    ("floor_end", "A bin ends at ⌈(i+1)·h/ph⌉ (ceil), so that neighbouring bins may overlap and no cell is left "
                  "out; only its start is floored."),
    ("average", "RoI pooling takes the *maximum* of each bin, not the mean."),
    ("batch_zero", "Read each roi from the image its first column names: `features[int(roi[0])]`."),
    ("empty_neg_inf", "A bin that falls outside the feature map (empty after clipping) gives 0, as torchvision's "
                      "does, not −inf."),
]


def _roi_cases(seed, extended):
    import torch
    ops = _torchvision_ops()
    g = generator(seed)
    cases = []

    def add(features, rois, output_size, scale, note):
        expected = ops.roi_pool(features, rois, output_size, scale)
        mistakes = []
        for variant, hint in _ROI_MISTAKES:
            wrong = roi_pool_reference(features, rois, output_size, scale, variant)
            if not torch.equal(wrong, expected):
                mistakes.append((hint, wrong))
        ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
        if ph != pw:
            mistakes.append(("output_size is (height, width): the output is (K, C, ph, pw).",
                             (rois.shape[0], features.shape[1], pw, ph)))
        label = (f"roi_pool(features {tuple(features.shape)}, {rois.shape[0]} rois, output_size={output_size}, "
                 f"spatial_scale={scale:g}){note}")
        cases.append(Case(label, (features, rois, output_size, scale), expected=expected, mistakes=mistakes,
                          atol=1e-6, rtol=1e-6))

    # 1. image coordinates with a stride-2 map; halves that round differently in C and torch
    f = torch.randn(2, 3, 12, 10, generator=g)
    rois = torch.tensor([[0, 1.0, 2.0, 9.0, 13.0], [1, 2.0, 0.0, 19.0, 23.0], [1, 5.0, 7.0, 11.0, 9.0],
                         [0, 0.0, 0.0, 4.0, 4.0], [1, 14.0, 16.0, 30.0, 30.0]])   # the last: partly off the map
    rois[:, 1:] += torch.rand(5, 4, generator=g) * 0.4   # non-integer coordinates, away from halves
    rois[2, 1:] = torch.tensor([5.0, 7.0, 11.0, 9.0])     # scaled by 0.5: 2.5, 3.5, 5.5, 4.5 — exact halves
    # negative coordinates: scaled −1.5, −0.5 (C's round: −2, −1), so the first bins start above and left of the map
    rois = torch.cat([rois, torch.tensor([[0, -3.0, -1.0, 9.0, 13.0]])])
    add(f, rois, (3, 2), 0.5, "")
    # 2. a VGG-16-like stride of 16: image coordinates up to ~200 px
    f = torch.randn(1, 4, 9, 13, generator=g)
    xy = torch.rand(5, 2, generator=g) * 120
    wh = 20 + torch.rand(5, 2, generator=g) * 80
    rois = torch.cat([torch.zeros(5, 1), xy, xy + wh], dim=1)
    add(f, rois, 2, 1 / 16, "")
    if extended:
        f = torch.randn(3, 2, 8, 8, generator=g)
        rois = torch.tensor([[2, -20.0, -8.0, 40.0, 30.0],     # partly outside the map
                             [1, 100.0, 100.0, 180.0, 150.0],  # wholly outside: every bin empty
                             [0, 30.0, 30.0, 20.0, 20.0],      # malformed (x2 < x1): a 1 × 1 roi
                             [1, 0.0, 0.0, 127.0, 127.0]])     # the whole map
        add(f, rois, (4, 3), 1 / 16, " (rois outside the map, malformed)")
        f = torch.randn(2, 3, 20, 15, generator=g)
        xy = torch.rand(8, 2, generator=g) * 12
        rois = torch.cat([torch.randint(0, 2, (8, 1), generator=g).float(), xy,
                          xy + 1 + torch.rand(8, 2, generator=g) * 10], dim=1)
        add(f, rois, 7, 1.0, "")
    return cases


def check_roi_pool(roi_pool, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``roi_pool(features, rois, output_size, spatial_scale=1.0) -> (K, C, ph, pw)``.

    ``features`` (N, C, H, W); ``rois`` (K, 5) rows (batch_index, x1, y1, x2, y2) in image coordinates;
    ``output_size`` an int or (ph, pw).  Compared with ``torchvision.ops.roi_pool`` (which the learner may not
    call), whose CPU kernel scales and rounds the roi (C's round), gives it size end − start + 1, floors each
    bin's start and ceils its end, clips to the map, and gives 0 for an empty bin.  Cases: non-integer
    coordinates, exact halves, negative coordinates, spatial_scale 1/2 and 1/16; hidden: rois partly or wholly
    outside the map and a malformed roi.
    """
    from .engine import compare_tensor
    import torchvision.ops
    forbidden = [(torchvision.ops, "roi_pool", "torchvision.ops.roi_pool"),
                 (torchvision.ops, "RoIPool", "torchvision.ops.RoIPool"),
                 (torchvision.ops, "roi_align", "torchvision.ops.roi_align")]
    return run_cases("roi_pool", roi_pool, _roi_cases(seed, extended), compare=compare_tensor, strict=strict,
                     forbidden=forbidden, op_pattern=r"^(roi_pool|roi_align)$",
                     general_hint="Per roi: scale the corners and round them with "
                                  "`torch.sign(v) * torch.floor(v.abs() + 0.5)`, h = y2 − y1 + 1 (≥ 1); bin i covers "
                                  "rows y1 + ⌊i·h/ph⌋ … y1 + ⌈(i+1)·h/ph⌉ − 1, clipped to [0, H); take the max (0 if "
                                  "empty).")


# --------------------------------------------------------------------------
# make_anchors
# --------------------------------------------------------------------------

def anchors_reference(feature_size, stride, sizes, ratios, variant=None):
    """Anchors as torchvision's AnchorGenerator makes them, written out; ``variant`` names a mistake."""
    import torch
    H, W = feature_size
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    ar = torch.as_tensor(ratios, dtype=torch.float32)
    h_ratios = torch.sqrt(ar)
    w_ratios = 1 / h_ratios
    if variant == "swapped":
        h_ratios, w_ratios = w_ratios, h_ratios
    if variant == "area_not_kept":
        ws = (torch.ones_like(ar)[:, None] * scales[None, :]).reshape(-1)
        hs = (ar[:, None] * scales[None, :]).reshape(-1)
    elif variant == "size_major":
        ws = (scales[:, None] * w_ratios[None, :]).reshape(-1)
        hs = (scales[:, None] * h_ratios[None, :]).reshape(-1)
    else:
        ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
        hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    half = 1 if variant == "full_size_offsets" else 2
    base = torch.stack([-ws, -hs, ws, hs], dim=1) / half
    if variant != "no_round":
        base = base.round()
    offset = stride / 2 if variant == "cell_centres" else 0.0
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32) * stride + offset,
                            torch.arange(W, dtype=torch.float32) * stride + offset, indexing="ij")
    if variant == "column_major":
        ys, xs = ys.t(), xs.t()
    shifts = torch.stack([xs.reshape(-1), ys.reshape(-1), xs.reshape(-1), ys.reshape(-1)], dim=1)
    if variant == "anchor_major":
        return (base[:, None, :] + shifts[None, :, :]).reshape(-1, 4)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


_ANCHOR_MISTAKES = [
    ("swapped", "A ratio r is height / width (torchvision's convention): h = s·√r and w = s/√r, so r = 2 is a tall "
                "anchor. Your widths and heights are swapped."),
    ("area_not_kept", "Every anchor of size s keeps the area s²: w = s/√r, h = s·√r (not w = s, h = s·r)."),
    ("size_major", "Order the A anchors of a position ratio by ratio, and within a ratio size by size: "
                   "`for r in ratios: for s in sizes` (torchvision's order)."),
    ("full_size_offsets", "The corners are the centre ± *half* the width and height: (−w/2, −h/2, w/2, h/2)."),
    ("no_round", "Like torchvision, round the base anchor's corner offsets (−w/2, −h/2, w/2, h/2) with "
                 "`torch.round` before adding the shifts."),
    ("cell_centres", "torchvision centres the anchors of feature cell (i, j) at (j·stride, i·stride), the cell's "
                     "top-left corner in image pixels, not at its centre (j + ½)·stride."),
    ("column_major", "Visit positions row by row (y outer, x inner): anchor index (i·W + j)·A + a for row i, "
                     "column j."),
    ("anchor_major", "Group the anchors by position: all A anchors of position (0, 0) first, then of (0, 1), …: "
                     "index (i·W + j)·A + a, not a·H·W + …"),
]


def _anchor_expected(feature_size, stride, sizes, ratios):
    import torch
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    gen = AnchorGenerator(sizes=(tuple(sizes),), aspect_ratios=(tuple(ratios),))
    return gen.grid_anchors([list(feature_size)], [[torch.tensor(stride), torch.tensor(stride)]])[0].float()


def _anchor_cases(seed, extended):
    """The same settings for every seed: anchors have no random inputs."""
    import torch
    settings = [((3, 4), 16, (32, 64), (0.5, 1.0, 2.0)), ((5, 2), 8, (24,), (0.5, 2.0)),
                ((2, 3), 32, (40, 90, 128), (1.0,))]
    if extended:
        settings += [((4, 4), 4, (10, 15), (0.25, 1.0, 4.0)), ((1, 1), 16, (128, 256, 512), (0.5, 1.0, 2.0)),
                     ((6, 7), 16, (33, 47), (0.7, 1.3))]
    cases = []
    for feature_size, stride, sizes, ratios in settings:
        expected = _anchor_expected(feature_size, stride, sizes, ratios)
        mistakes = []
        for variant, hint in _ANCHOR_MISTAKES:
            wrong = anchors_reference(feature_size, stride, sizes, ratios, variant)
            if not torch.equal(wrong, expected):
                mistakes.append((hint, wrong))
        H, W = feature_size
        A = len(sizes) * len(ratios)
        mistakes.append(("Return one row per anchor: reshape to (H·W·A, 4).", (H, W, A, 4)))
        mistakes.append(("Return one row per anchor: reshape to (H·W·A, 4).", (H * W, A, 4)))
        cases.append(Case(f"make_anchors(feature_size={feature_size}, stride={stride}, sizes={sizes}, "
                          f"ratios={ratios}) -> ({H * W * A}, 4)", (feature_size, stride, sizes, ratios),
                          expected=expected, mistakes=mistakes, atol=1e-4, rtol=1e-5))
    return cases


def _compare_anchors(check, got, case, *, name, general_hint=None):
    """compare_tensor, with a dtype hint that fits: the inputs are ints and tuples, the anchors float32."""
    import torch
    from .engine import compare_tensor
    if (isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(case.expected.shape)
            and got.dtype != case.expected.dtype):
        raise Verdict(CheckResult(
            check, INCORRECT, "the output has the wrong dtype.", case=case.label,
            evidence=[f"expected {case.expected.dtype}, got {got.dtype}"],
            hint="Anchors are float32, as torchvision's: the inputs are ints and tuples, so start from "
                 "`torch.as_tensor(sizes, dtype=torch.float32)` (or return `anchors.float()`).",
            next_step="Fix the dtype and run the check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def check_make_anchors(make_anchors, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_anchors(feature_size, stride, sizes, ratios) -> (H·W·A, 4)``, A = len(sizes)·len(ratios).

    Compared with ``torchvision.models.detection.anchor_utils.AnchorGenerator`` for the same settings: base
    anchors (−w/2, −h/2, w/2, h/2) rounded with ``torch.round``, w = s/√r and h = s·√r (r = height / width),
    ordered ratio by ratio and size by size within a ratio; shifted to (j·stride, i·stride) for every feature
    cell (i, j), row by row; anchor index (i·W + j)·A + a; float32.
    """
    import torchvision.models.detection.anchor_utils as anchor_utils
    return run_cases("make_anchors", make_anchors, _anchor_cases(seed, extended), compare=_compare_anchors,
                     strict=strict, forbidden=[(anchor_utils, "AnchorGenerator", "AnchorGenerator")],
                     general_hint="base = round(stack([-w, -h, w, h]) / 2) for r in ratios for s in sizes; shifts "
                                  "(x, y, x, y) with x = j·stride, y = i·stride, row by row; anchors = "
                                  "(shifts[:, None] + base[None]).reshape(-1, 4).")


# --------------------------------------------------------------------------
# encode_boxes / decode_boxes
# --------------------------------------------------------------------------

def _centre_form(boxes, plus=0.0):
    w = boxes[:, 2] - boxes[:, 0] + plus
    h = boxes[:, 3] - boxes[:, 1] + plus
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def encode_reference(reference, proposals, weights, variant=None):
    """(dx, dy, dw, dh) of ``reference`` boxes relative to ``proposals``; ``variant`` names a mistake."""
    import torch
    if variant == "swapped":
        reference, proposals = proposals, reference
    plus = 1.0 if variant == "plus_one" else 0.0
    px, py, pw, ph = _centre_form(proposals, plus)
    gx, gy, gw, gh = _centre_form(reference, plus)
    if variant == "corner":
        px, py, gx, gy = proposals[:, 0], proposals[:, 1], reference[:, 0], reference[:, 1]
    wx, wy, ww, wh = (1.0, 1.0, 1.0, 1.0) if variant == "no_weights" else weights
    if variant == "divide_weights":
        wx, wy, ww, wh = 1 / wx, 1 / wy, 1 / ww, 1 / wh
    norm_w, norm_h = (gw, gh) if variant == "reference_size" else (pw, ph)
    dx = wx * (gx - px) / norm_w
    dy = wy * (gy - py) / norm_h
    if variant == "no_log":
        dw, dh = ww * (gw / pw), wh * (gh / ph)
    elif variant == "difference":
        dw, dh = ww * (gw - pw) / pw, wh * (gh - ph) / ph
    else:
        dw, dh = ww * torch.log(gw / pw), wh * torch.log(gh / ph)
    return torch.stack([dx, dy, dw, dh], dim=1)


_ENCODE_MISTAKES = [
    ("no_log", "The size terms are logarithms of the ratios: dw = ww·log(w_ref / w_prop); without the log a "
               "perfect proposal gives 1, not 0."),
    ("difference", "The size terms are log-ratios, dw = ww·log(w_ref / w_prop), not relative differences."),
    ("no_weights", "Multiply by the weights (wx, wy, ww, wh): dx = wx·(x_ref − x_prop)/w_prop, …; Fast R-CNN's "
                   "heads use (10, 10, 5, 5)."),
    ("divide_weights", "encode *multiplies* by the weights (decode divides by them)."),
    ("reference_size", "Normalise the offsets by the *proposal's* size (the anchor's): dx = (x_ref − x_prop) / "
                       "w_prop, so that the target does not depend on the answer."),
    ("swapped", "The first argument is the box to encode (the ground truth), the second the proposal (anchor) "
                "it is encoded against, as in BoxCoder.encode_single(reference_boxes, proposals)."),
    ("corner", "Encode the *centres*: x = x1 + w/2, not the corner x1."),
    ("plus_one", "Widths are x2 − x1 (continuous coordinates, as torchvision), not x2 − x1 + 1."),
]


def _box_pairs(g, n, spread=0.3):
    """Proposals and reference boxes near them (as anchors and their matched ground truth)."""
    import torch
    proposals = _random_boxes(g, n, high=100.0, min_size=8.0, max_size=60.0)
    cx, cy, w, h = _centre_form(proposals)
    cx = cx + spread * w * (2 * torch.rand(n, generator=g) - 1)
    cy = cy + spread * h * (2 * torch.rand(n, generator=g) - 1)
    w = w * torch.exp(spread * (2 * torch.rand(n, generator=g) - 1))
    h = h * torch.exp(spread * (2 * torch.rand(n, generator=g) - 1))
    reference = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)
    return reference, proposals


def _encode_cases(seed, extended):
    from torchvision.models.detection._utils import BoxCoder
    g = generator(seed)
    settings = [(6, (1.0, 1.0, 1.0, 1.0)), (5, (10.0, 10.0, 5.0, 5.0))]
    if extended:
        settings += [(40, (2.0, 3.0, 0.5, 1.5)), (1, (1.0, 1.0, 1.0, 1.0)), (0, (1.0, 1.0, 1.0, 1.0))]
    cases = []
    for n, weights in settings:
        reference, proposals = _box_pairs(g, n)
        expected = BoxCoder(weights).encode_single(reference, proposals)
        mistakes = [(hint, encode_reference(reference, proposals, weights, variant))
                    for variant, hint in _ENCODE_MISTAKES]
        cases.append(Case(f"encode_boxes(reference {tuple(reference.shape)}, proposals {tuple(proposals.shape)}, "
                          f"weights={weights})", (reference, proposals), dict(weights=weights), expected=expected,
                          mistakes=mistakes, atol=1e-5, rtol=1e-4))
    return cases


def check_encode_boxes(encode_boxes, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``encode_boxes(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)) -> (N, 4)``.

    The regression target (dx, dy, dw, dh) of each reference box (x1, y1, x2, y2) relative to its proposal:
    dx = wx·(x_ref − x_prop)/w_prop, dy = wy·(y_ref − y_prop)/h_prop, dw = ww·log(w_ref/w_prop),
    dh = wh·log(h_ref/h_prop), with centres x and sizes w.  Compared with torchvision's
    ``BoxCoder(weights).encode_single(reference, proposals)``, for weights (1, 1, 1, 1) and (10, 10, 5, 5).
    """
    from .engine import compare_tensor
    import torchvision.models.detection._utils as det_utils
    return run_cases("encode_boxes", encode_boxes, _encode_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=[(det_utils, "BoxCoder", "BoxCoder")],
                     general_hint="Convert both to centre form (x, y, w, h) first; then dx = wx·(x_ref − x_prop)/"
                                  "w_prop, …, dw = ww·log(w_ref / w_prop), …")


def decode_reference(deltas, anchors, weights, variant=None):
    """Boxes from (dx, dy, dw, dh) applied to ``anchors``; ``variant`` names a mistake."""
    import torch
    ax, ay, aw, ah = _centre_form(anchors)
    wx, wy, ww, wh = (1.0, 1.0, 1.0, 1.0) if variant == "no_weights" else weights
    if variant == "multiply_weights":
        wx, wy, ww, wh = 1 / wx, 1 / wy, 1 / ww, 1 / wh
    dx, dy, dw, dh = deltas[:, 0] / wx, deltas[:, 1] / wy, deltas[:, 2] / ww, deltas[:, 3] / wh
    clip = math.log(1000.0 / 16)
    if variant == "symmetric_clamp":
        dw, dh = dw.clamp(-clip, clip), dh.clamp(-clip, clip)
    elif variant == "clamp_before_weights":
        dw, dh = deltas[:, 2].clamp(max=clip) / ww, deltas[:, 3].clamp(max=clip) / wh
    elif variant != "no_clamp":
        dw, dh = dw.clamp(max=clip), dh.clamp(max=clip)
    if variant == "unscaled_offsets":
        x, y = ax + dx, ay + dy
    else:
        x, y = ax + dx * aw, ay + dy * ah
    if variant == "no_exp":
        w, h = aw * dw, ah * dh
    elif variant == "exp_plus":
        w, h = aw + torch.exp(dw), ah + torch.exp(dh)
    else:
        w, h = aw * torch.exp(dw), ah * torch.exp(dh)
    if variant == "centre_form":
        return torch.stack([x, y, w, h], dim=1)
    return torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=1)


_DECODE_MISTAKES = [
    ("no_exp", "Undo the log: w = w_anchor·exp(dw), h = h_anchor·exp(dh)."),
    ("exp_plus", "The size terms scale the anchor: w = w_anchor·exp(dw), not w_anchor + exp(dw)."),
    ("no_weights", "Divide the deltas by the weights first: dx / wx, dy / wy, dw / ww, dh / wh."),
    ("multiply_weights", "decode *divides* the deltas by the weights (encode multiplied by them)."),
    ("unscaled_offsets", "The offsets are in units of the anchor's size: x = x_anchor + dx·w_anchor."),
    ("centre_form", "Return corners (x1, y1, x2, y2) = (x − w/2, y − h/2, x + w/2, y + h/2), not the centre "
                    "form (x, y, w, h)."),
    ("no_clamp", "Clamp dw and dh from above at log(1000 / 16) ≈ 4.135 (`.clamp(max=...)`) after dividing by "
                 "the weights and before `exp`, as torchvision's BoxCoder does (`bbox_xform_clip`): an untrained "
                 "network's huge deltas would overflow."),
    ("symmetric_clamp", "Clamp dw and dh from above only, `.clamp(max=math.log(1000 / 16))`: a very negative delta "
                        "gives a tiny box, which cannot overflow, and torchvision leaves it alone."),
    ("clamp_before_weights", "Divide dw and dh by their weights first, then clamp the result (`(d / ww).clamp(max="
                             "...)`): clamping the raw delta lets d / ww exceed log(1000 / 16)."),
]


def _decode_cases(seed, extended):
    import torch
    from torchvision.models.detection._utils import BoxCoder
    g = generator(seed)
    cases = []

    def add(label, deltas, anchors, weights):
        expected = BoxCoder(weights).decode_single(deltas, anchors)
        mistakes = [(hint, decode_reference(deltas, anchors, weights, variant)) for variant, hint in _DECODE_MISTAKES]
        cases.append(Case(label, (deltas, anchors), dict(weights=weights), expected=expected, mistakes=mistakes,
                          atol=1e-4, rtol=1e-4))

    anchors = _random_boxes(g, 6, high=100.0, min_size=8.0, max_size=60.0)
    deltas = 0.5 * torch.randn(6, 4, generator=g)
    add("decode_boxes(deltas (6, 4), anchors (6, 4), weights=(1.0, 1.0, 1.0, 1.0))", deltas, anchors,
        (1.0, 1.0, 1.0, 1.0))
    # the round trip: deltas that encode known boxes decode back to them
    reference, proposals = _box_pairs(g, 5)
    weights = (10.0, 10.0, 5.0, 5.0)
    deltas = BoxCoder(weights).encode_single(reference, proposals)
    add("decode_boxes(encode(b, a), a, weights=(10.0, 10.0, 5.0, 5.0)): the round trip gives b back", deltas,
        proposals, weights)
    # an untrained network's deltas: one dw beyond the clip
    anchors = _random_boxes(g, 3, high=50.0, min_size=8.0, max_size=30.0)
    deltas = 0.3 * torch.randn(3, 4, generator=g)
    deltas[1, 2] = 6.0 + float(torch.rand(1, generator=g))
    add("decode_boxes(deltas (3, 4) with one dw > log(1000/16), anchors (3, 4))", deltas, anchors,
        (1.0, 1.0, 1.0, 1.0))
    # torchvision's head weights, with a large positive dw and a large negative dh (after / 5: +5 and −6)
    anchors = _random_boxes(g, 4, high=80.0, min_size=10.0, max_size=40.0)
    deltas = 2.0 * torch.randn(4, 4, generator=g)
    deltas[2, 2], deltas[2, 3] = 25.0, -30.0
    add("decode_boxes(deltas (4, 4) with a dw of +25 and a dh of −30, anchors (4, 4), "
        "weights=(10.0, 10.0, 5.0, 5.0))", deltas, anchors, (10.0, 10.0, 5.0, 5.0))
    if extended:
        anchors = _random_boxes(g, 50, high=600.0, min_size=16.0, max_size=300.0)
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
    decode(encode(b, a), a) = b, a delta beyond the clamp, and (weights 10, 10, 5, 5) a large positive and a
    large negative delta.
    """
    from .engine import compare_tensor
    import torchvision.models.detection._utils as det_utils
    return run_cases("decode_boxes", decode_boxes, _decode_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=[(det_utils, "BoxCoder", "BoxCoder")],
                     general_hint="Anchor centre and size first; x = x_a + (dx/wx)·w_a, w = w_a·exp(min(dw/ww, "
                                  "log(1000/16))); then corners x ± w/2.")


def _pairs(case):
    """(hint, answer) of each known mistake of ``case`` (transitional, until this module uses keys)."""
    return [(m.hint, m.answer) for m in mistakes_of(case)]
