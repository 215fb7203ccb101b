"""Notebook 09, boxes: ``box_iou`` and ``nms``, against torchvision.ops."""

from __future__ import annotations

import functools

from ..engine import (DOES_THE_WORK, INCORRECT, REIMPLEMENTED, UNCHECKABLE, Case, CheckResult, Verdict, compare_tensor,
                      generator, later, mistakes_of, run_cases)
from ..messages.detection import M

__all__ = ["check_box_iou", "check_nms"]


def random_boxes(g, n, *, low=0.0, high=40.0, min_size=1.0, max_size=20.0):
    """``n`` boxes (x1, y1, x2, y2) with x1 < x2 and y1 < y2, float32."""
    import torch
    xy = low + (high - low) * torch.rand(n, 2, generator=g)
    wh = min_size + (max_size - min_size) * torch.rand(n, 2, generator=g)
    return torch.cat([xy, xy + wh], dim=1)


def _iou_forbidden():
    import torchvision.ops
    import torchvision.ops.boxes as boxes
    return [(torchvision.ops, "box_iou", "torchvision.ops.box_iou"), (boxes, "box_iou", "torchvision.ops.box_iou"),
            (torchvision.ops, "generalized_box_iou", "torchvision.ops.generalized_box_iou", DOES_THE_WORK),
            (boxes, "generalized_box_iou", "torchvision.ops.generalized_box_iou", DOES_THE_WORK)] + [
        # the other IoUs torchvision computes, and the private helper they share (intersection and union)
        (owner, name, f"torchvision.ops.{'boxes.' if name.startswith('_') else ''}{name}", DOES_THE_WORK)
        for name in ("complete_box_iou", "distance_box_iou", "_box_inter_union", "_box_diou_iou")
        for owner in (torchvision.ops, boxes) if hasattr(owner, name)]


def _nms_forbidden():
    import torchvision.ops
    import torchvision.ops.boxes as boxes
    return [(torchvision.ops, "nms", "torchvision.ops.nms"), (boxes, "nms", "torchvision.ops.nms"),
            (torchvision.ops, "batched_nms", "torchvision.ops.batched_nms", DOES_THE_WORK),
            (boxes, "batched_nms", "torchvision.ops.batched_nms", DOES_THE_WORK)]


# --------------------------------------------------------------------------
# box_iou
# --------------------------------------------------------------------------

# the mistakes iou_variant computes: their keys are its variants
IOU_VARIANTS = ("box_iou.no_clamp", "box_iou.clamp_product", "box_iou.no_minus_inter", "box_iou.plus_one",
                "box_iou.over_first_area", "box_iou.over_smaller_area")


def iou_variant(a, b, variant):
    """Pairwise IoU of a (N, 4) and b (M, 4) with the known mistake ``variant`` (a key of IOU_VARIANTS)."""
    import torch
    plus = 1.0 if variant == "box_iou.plus_one" else 0.0
    area_a = (a[:, 2] - a[:, 0] + plus) * (a[:, 3] - a[:, 1] + plus)
    area_b = (b[:, 2] - b[:, 0] + plus) * (b[:, 3] - b[:, 1] + plus)
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    wh = rb - lt + plus
    if variant not in ("box_iou.no_clamp", "box_iou.clamp_product"):
        wh = wh.clamp(min=0)
    inter = wh.prod(dim=-1)
    if variant == "box_iou.clamp_product":
        inter = inter.clamp(min=0)
    if variant == "box_iou.no_minus_inter":
        union = area_a[:, None] + area_b[None, :]
    else:
        union = area_a[:, None] + area_b[None, :] - inter
    if variant == "box_iou.over_first_area":
        return inter / area_a[:, None]
    if variant == "box_iou.over_smaller_area":
        return inter / torch.min(area_a[:, None], area_b[None, :])
    return inter / union


def iou_cases(seed, extended):
    import torch
    import torchvision.ops as ops
    g = generator(seed)
    cases = []

    def add(label, a, b):
        expected = ops.box_iou(a, b)
        mistakes = [M.mistake(key, iou_variant(a, b, key)) for key in IOU_VARIANTS]
        n, m = a.shape[0], b.shape[0]
        if n != m:
            mistakes.append(M.mistake("box_iou.transposed", (m, n)))
        if n != m or n > 1:
            mistakes.append(M.mistake("box_iou.diagonal", (min(n, m),)))
        cases.append(Case(label, (a, b), expected=expected, mistakes=mistakes, atol=1e-5, rtol=1e-5))

    a, b = random_boxes(g, 7), random_boxes(g, 5)
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
    add("box_iou(0 boxes, 4 boxes): an empty first input", torch.zeros(0, 4), random_boxes(g, 4))
    add("box_iou(2 random boxes, 0 boxes): an empty second input", random_boxes(g, 2), torch.zeros(0, 4))
    if extended:
        add("box_iou(3 random boxes, 0 boxes): an empty second input", random_boxes(g, 3), torch.zeros(0, 4))
        a = random_boxes(g, 30, high=20.0, max_size=15.0)
        add("box_iou(30 crowded boxes, the same 30 boxes)", a, a.clone())
        big = random_boxes(g, 6, high=500.0, min_size=50.0, max_size=300.0)
        add("box_iou(6 large boxes, 9 large boxes)", big, random_boxes(g, 9, high=500.0, min_size=50.0,
                                                                       max_size=300.0))
    return cases


def check_box_iou(box_iou, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``box_iou(boxes1, boxes2) -> (N, M)``: the IoU of every box of boxes1 (N, 4) with every box of
    boxes2 (M, 4), boxes as (x1, y1, x2, y2) with continuous coordinates (width x2 − x1).

    Compared with ``torchvision.ops.box_iou`` (which the learner may not call) on random boxes; on disjoint,
    touching, nested, identical and zero-area boxes; and on empty inputs (N = 0, M = 0); hidden: more and larger
    boxes.  Two zero-area boxes at the same place would give 0 / 0 = NaN in torchvision: no case builds one.
    """
    return run_cases("box_iou", box_iou, lambda: iou_cases(seed, extended), compare=compare_tensor, strict=strict,
                     forbidden=_iou_forbidden(), op_pattern=[(r"^box_iou$", REIMPLEMENTED), (r"^generalized_box_iou$", DOES_THE_WORK)],
                     general_hint=M("box_iou.general"))


# --------------------------------------------------------------------------
# nms
# --------------------------------------------------------------------------

# the mistakes nms_variant computes: their keys are its variants
NMS_VARIANTS = ("nms.greater_equal", "nms.ascending", "nms.unsorted", "nms.suppressed_suppress", "nms.index_order",
                "nms.positions")


def nms_variant(boxes, scores, threshold, variant=None):
    """Greedy NMS written out, or with the known mistake ``variant`` (a key of NMS_VARIANTS); int64 indices."""
    import torch
    import torchvision.ops as ops
    n = boxes.shape[0]
    if variant == "nms.ascending":
        order = torch.sort(scores, descending=False, stable=True).indices
    elif variant == "nms.unsorted":
        order = torch.arange(n)
    else:
        order = torch.sort(scores, descending=True, stable=True).indices
    iou = ops.box_iou(boxes, boxes)
    suppressed = torch.zeros(n, dtype=torch.bool)
    keep = []
    for pos, i in enumerate(order.tolist()):
        if variant == "nms.suppressed_suppress":
            # keep a box unless ANY higher-scoring box overlaps it, suppressed or not
            higher = order[:pos]
            if not bool((iou[i, higher] > threshold).any()):
                keep.append(i)
            continue
        if suppressed[i]:
            continue
        keep.append(i)
        over = iou[i] >= threshold if variant == "nms.greater_equal" else iou[i] > threshold
        suppressed |= over
    keep = torch.tensor(keep, dtype=torch.int64)
    if variant == "nms.index_order":
        keep = keep.sort().values
    if variant == "nms.positions":
        rank = torch.empty(n, dtype=torch.int64)
        rank[order] = torch.arange(n)
        keep = rank[keep]
    return keep


def _nms_answers(boxes, scores, threshold):
    import torchvision.ops as ops
    expected = ops.nms(boxes, scores, threshold)
    mistakes = []
    for key in NMS_VARIANTS:
        wrong = nms_variant(boxes, scores, threshold, key)
        if not (wrong.shape == expected.shape and bool((wrong == expected).all())):
            mistakes.append(M.mistake(key, wrong))
    return expected, mistakes


def _nms_case(label, boxes, scores, threshold):
    # answered later (each mistake is a greedy loop of its own), from the check's copies of the inputs
    compute = functools.partial(_nms_answers, boxes.clone(), scores.clone(), threshold)
    return Case(label, (boxes, scores, threshold), **later(compute))


def _clustered(g, clusters, per_cluster, *, spread=3.0):
    """Boxes jittered around a few centres, so that NMS has work to do."""
    import torch
    centres = random_boxes(g, clusters, high=60.0, min_size=8.0, max_size=20.0)
    boxes = centres.repeat_interleave(per_cluster, dim=0)
    jitter = spread * (2 * torch.rand(boxes.shape, generator=g) - 1)
    boxes = boxes + jitter
    x1, x2 = torch.min(boxes[:, 0], boxes[:, 2]), torch.max(boxes[:, 0], boxes[:, 2]) + 0.5
    y1, y2 = torch.min(boxes[:, 1], boxes[:, 3]), torch.max(boxes[:, 1], boxes[:, 3]) + 0.5
    return torch.stack([x1, y1, x2, y2], dim=1)


def nms_cases(seed, extended):
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
    cases.append(_nms_case("nms(1 box)", random_boxes(g, 1), torch.rand(1, generator=g), 0.5))
    cases.append(_nms_case("nms(3 identical boxes, distinct scores, iou_threshold=0.7)", random_boxes(g, 1).repeat(3, 1),
                           torch.tensor([0.3, 0.8, 0.5]), 0.7))
    if extended:
        boxes = _clustered(g, 10, 12, spread=4.0)
        boxes = boxes[torch.randperm(boxes.shape[0], generator=g)]
        scores = torch.rand(boxes.shape[0], generator=g)
        for t in (0.3, 0.7):
            cases.append(_nms_case(f"nms(120 boxes in 10 clusters, iou_threshold={t})", boxes, scores, t))
        single = random_boxes(g, 1)
        cases.append(_nms_case("nms(1 box)", single, torch.rand(1, generator=g), 0.5))
        same = random_boxes(g, 1).repeat(4, 1)
        cases.append(_nms_case("nms(4 identical boxes, distinct scores, iou_threshold=0.9)", same,
                               torch.tensor([0.2, 0.9, 0.4, 0.3]), 0.9))
        far = torch.arange(6, dtype=torch.float32)[:, None] * 20 + random_boxes(g, 1)
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
                                  hint=M("nms.no_return"),
                                  next_step="Return the kept indices as a tensor and run the check again."))
    if isinstance(got, np.ndarray) or not isinstance(got, torch.Tensor):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; the check expects a torch.Tensor.",
            case=case.label, hint=M("nms.not_a_tensor"), mistake="nms.not_a_tensor", next_step="Return a tensor and run the check again."))
    if got.dtype == torch.bool:
        raise Verdict(CheckResult(
            check, INCORRECT, "the output is a boolean mask; expected the kept indices.", case=case.label,
            evidence=[f"expected int64 indices of shape {tuple(expected.shape)}, got a bool tensor of shape "
                      f"{tuple(got.shape)}"],
            hint=M("nms.mask"), mistake="nms.mask", next_step="Return indices and run the check again."))
    if got.dim() != 1:
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.", case=case.label,
                                  evidence=[f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"],
                                  hint=M("nms.not_1d"), mistake="nms.not_1d",
                                  next_step="Fix the shape first; then the indices are compared."))
    if got.dtype != torch.int64:
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong dtype.", case=case.label,
                                  evidence=[f"expected {torch.int64}, got {got.dtype}"], hint=M("nms.int64"), mistake="nms.int64",
                                  next_step="Fix the dtype and run the check again."))
    got = got.detach().cpu()
    wanted = sorted(expected.tolist())
    got_list = got.tolist()
    same_set = sorted(got_list) == wanted
    ordered = all(scores[a] >= scores[b] for a, b in zip(got_list, got_list[1:])) if same_set else False
    if same_set and ordered:
        return
    matched = next((m for m in mistakes_of(case)
                    if m.answer.shape == got.shape and bool((m.answer == got).all())), None)
    if matched is not None:
        hint, key = matched.hint, matched.key
    elif same_set:
        hint, key = M("nms.score_order"), "nms.score_order"
    else:
        hint, key = general_hint, None
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
                              hint=hint, mistake=key,
                              next_step="Fix the computation, re-run its cell, then run this check again."))


def check_nms(nms, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``nms(boxes, scores, iou_threshold) -> int64 indices``: greedy non-maximum suppression.

    Visit the boxes from the highest score down; keep a box unless a box kept before it overlaps it with
    IoU **greater than** ``iou_threshold``; return the kept indices (into ``boxes``) in the order kept.
    Compared with ``torchvision.ops.nms`` (which the learner may not call): the same set of indices, listed
    in decreasing score order.  Among boxes of exactly equal score torchvision documents no order, so there
    the check accepts any order; tie cases are built so that the kept set does not depend on it.  Cases: a
    chain (A suppresses B, so C survives), an IoU exactly at the threshold, ties, an empty input (an empty
    int64 tensor), one box, identical boxes; hidden: 120 boxes, other thresholds and seeds.
    """
    return run_cases("nms", nms, lambda: nms_cases(seed, extended), compare=_compare_indices, strict=strict,
                     forbidden=_nms_forbidden(), op_pattern=[(r"^nms$", REIMPLEMENTED), (r"^batched_nms$", DOES_THE_WORK)], general_hint=M("nms.general"))
