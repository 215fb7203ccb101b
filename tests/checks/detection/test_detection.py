"""Proof that the seven checks of notebook 09 (detection) work.

* correct implementations, in several styles, are registered in ``SPECS`` for
  the generic contract (``test_check_contract.py``);
* a catalogue of plausible wrong implementations fails, each with the message
  naming its mistake;
* the references the checks build their hints from agree with torchvision
  (``roi_pool_reference`` with ``torchvision.ops.roi_pool``, ``anchors_reference``
  with ``AnchorGenerator``, the explicit SPP bins with ``F.max_pool2d`` of the
  paper's window and stride, and its adaptive variant with ``F.adaptive_max_pool2d``),
  so a hint can never be the expected answer itself.

Every expected number is computed, never typed.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
import torchvision.models.detection._utils as det_utils
import torchvision.models.detection.anchor_utils as anchor_utils
import torchvision.ops.boxes as tv_boxes

from course_utils.checks import (INCORRECT, RAISED, check_box_iou, check_decode_boxes, check_encode_boxes,
                                 check_make_anchors, check_nms, check_roi_pool, check_spatial_pyramid_pool)
from course_utils.checks import detection
from course_utils.checks.detection import anchors as det_anchors, boxes as det_boxes, pooling as det_pooling
from course_utils.checks.engine import answered
from course_utils.checks.messages.detection import M

from checks.detection import impls as impl
from checks.helpers import (CheckSpec, assert_hidden_cases_try_more, assert_no_new_kind, guards_fixture,  # noqa: F401
                           mistake_case as mistake, one_torch_thread)

# every argument of every exercise changes a public answer (tests/checks/test_arguments.py); none may be ignored
ARGUMENTS_IGNORABLE: dict = {}

SPECS = {
    "box_iou": CheckSpec(check=check_box_iou, kind="tensor",
                    correct=[impl.box_iou_broadcast, impl.box_iou_loops, impl.box_iou_unbind],
                    mistake=impl.box_iou_no_clamp, forbidden=impl.box_iou_calls_torchvision,
                    reimplements=("torchvision.ops.box_iou",)),
    # indices compared as a set in score order: the generic tensor tests (float32 dtype) do not apply
    "nms": CheckSpec(check=check_nms, kind="indices",
                correct=[impl.nms_greedy, impl.nms_shrinking_order, impl.nms_python_lists],
                mistake=impl.nms_greater_equal, forbidden=impl.nms_calls_torchvision,
                reimplements=("torchvision.ops.nms",)),
    "spatial_pyramid_pool": CheckSpec(check=check_spatial_pyramid_pool, kind="tensor",
                                 correct=[impl.spp_max_pool, impl.spp_loops, impl.spp_unfold, impl.spp_module],
                                 mistake=impl.spp_average, forbidden=impl.spp_adaptive),
    "roi_pool": CheckSpec(check=check_roi_pool, kind="tensor",
                     correct=[impl.roi_pool_loops, impl.roi_pool_vectorised_bins],
                     mistake=impl.roi_pool_no_scale, forbidden=impl.roi_pool_calls_torchvision,
                     reimplements=("torchvision.ops.roi_pool", "torchvision.ops.RoIPool")),
    # the first argument is a tuple (feature_size), not a tensor: generic tests only
    "make_anchors": CheckSpec(check=check_make_anchors, kind="anchors",
                         correct=[impl.anchors_broadcast, impl.anchors_loops], mistake=impl.anchors_swapped,
                         reimplements=("AnchorGenerator",)),
    "encode_boxes": CheckSpec(check=check_encode_boxes, kind="tensor",
                         correct=[impl.encode_columns, impl.encode_vectors], mistake=impl.encode_no_log,
                         reimplements=("BoxCoder",)),
    "decode_boxes": CheckSpec(check=check_decode_boxes, kind="tensor",
                         correct=[impl.decode_columns, impl.decode_vectors], mistake=impl.decode_no_exp,
                         reimplements=("BoxCoder",)),
}
ALL = list(SPECS)

# The functions the guards replace while the learner runs, and the originals they must put back.
GUARDED = {
    "torchvision.ops.box_iou": (torchvision.ops, "box_iou"), "boxes.box_iou": (tv_boxes, "box_iou"),
    "torchvision.ops.nms": (torchvision.ops, "nms"), "boxes.nms": (tv_boxes, "nms"),
    "torchvision.ops.batched_nms": (torchvision.ops, "batched_nms"),
    "torchvision.ops.roi_pool": (torchvision.ops, "roi_pool"),
    "torchvision.ops.roi_align": (torchvision.ops, "roi_align"),
    "AnchorGenerator": (anchor_utils, "AnchorGenerator"), "BoxCoder": (det_utils, "BoxCoder"),
    "F.adaptive_max_pool2d": (F, "adaptive_max_pool2d"), "F.adaptive_avg_pool2d": (F, "adaptive_avg_pool2d"),
    "F.adaptive_max_pool2d_with_indices": (F, "adaptive_max_pool2d_with_indices"),
    "F.adaptive_max_pool1d": (F, "adaptive_max_pool1d"), "F.adaptive_avg_pool1d": (F, "adaptive_avg_pool1d"),
    "torch.adaptive_max_pool1d": (torch, "adaptive_max_pool1d"),
    "torch.adaptive_avg_pool1d": (torch, "adaptive_avg_pool1d"),
}
REFERENCES = [("box_iou", "torchvision.ops.box_iou"), ("nms", "torchvision.ops.nms"),
              ("spatial_pyramid_pool", "F.adaptive_max_pool2d"), ("spatial_pyramid_pool", "F.adaptive_avg_pool2d"),
              ("roi_pool", "torchvision.ops.roi_pool"), ("make_anchors", "AnchorGenerator"),
              ("encode_boxes", "BoxCoder"), ("decode_boxes", "BoxCoder")]


def references_still_work():
    """The refused functions run normally again (no guard mode left behind)."""
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0]])
    assert torchvision.ops.box_iou(boxes, boxes).shape == (2, 2)
    assert torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]
    rois = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0]])
    assert torchvision.ops.roi_pool(torch.ones(1, 1, 3, 3), rois, 1).shape == (1, 1, 1, 1)
    assert F.adaptive_max_pool2d(torch.ones(1, 1, 3, 3), 2).shape == (1, 1, 2, 2)
    assert torch.nn.AdaptiveAvgPool2d(2)(torch.ones(1, 1, 3, 3)).shape == (1, 1, 2, 2)


guards_put_everything_back = guards_fixture(GUARDED, references_still_work)


# ==========================================================================
# 1. Hidden cases try what the public ones do not; public cases cover the named situations
# ==========================================================================

@pytest.mark.parametrize("name", ALL)
def test_hidden_cases_call_the_learner_on_more_settings(name):
    """Do the hidden cases call the learner with settings the public cases never use?"""
    assert_hidden_cases_try_more(SPECS[name].check, SPECS[name].correct[0])


def test_box_iou_public_cases_hold_the_special_pairs():
    """Do the public IoU cases contain an empty input and disjoint, touching, nested, identical and zero-area
    pairs (IoU 0 with a zero-area box, exactly 0 for touching, exactly 1 for identical)?"""
    cases = det_boxes.iou_cases(0, extended=False)
    assert any(0 in c.expected.shape for c in cases)
    special = cases[1]
    a, b = special.args
    areas_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    assert (areas_b == 0).sum() >= 2
    iou = torchvision.ops.box_iou(a, b)
    assert (iou == 1).any() and (iou == 0).sum() >= 3
    touching = (b[:, 0] == a[0, 2])   # shares the edge x = x2 of the first box
    assert touching.any() and (iou[0, touching] == 0).all()
    extended = det_boxes.iou_cases(0, extended=True)
    assert any(c.expected.shape[1] == 0 for c in extended)


def test_nms_public_cases_hold_a_threshold_tie_a_chain_and_an_empty_input():
    """Do the public NMS cases include an IoU exactly at the threshold (where > and >= differ), score ties,
    and an empty input whose answer is an empty int64 tensor?"""
    cases = answered(det_boxes.nms_cases(0, extended=False))
    at_threshold = [c for c in cases if len(c.args[0]) and
                    (torchvision.ops.box_iou(c.args[0], c.args[0]) == c.args[2]).any()]
    assert at_threshold
    assert any(c.args[1].unique().numel() < c.args[1].numel() for c in cases)
    empty = [c for c in cases if c.args[0].shape[0] == 0]
    assert empty and empty[0].expected.dtype == torch.int64 and empty[0].expected.numel() == 0


def test_nms_tie_cases_have_one_kept_set_whatever_the_order_among_ties():
    """Where scores tie, is the kept set the same for every order of the tied boxes (so that the check judges
    only what torchvision defines)?"""
    import itertools
    for case in det_boxes.nms_cases(0, extended=True):
        boxes, scores, t = case.args
        if scores.unique().numel() == scores.numel():
            continue
        sets = set()
        for perm in itertools.permutations(range(len(scores))):
            if len(sets) > 1 or len(scores) > 6:
                break
            order = torch.tensor(perm)
            s = scores[order]
            kept = torchvision.ops.nms(boxes[order], s, t)
            sets.add(tuple(sorted(order[kept].tolist())))
        assert len(sets) == 1, case.label


def test_torchvision_cpu_nms_visits_tied_scores_in_index_order():
    """Does torchvision's CPU nms equal greedy NMS over a *stable* descending sort on inputs full of ties
    (the notebook says so; torchvision's documentation promises no order for exact ties)?"""
    for trial in range(20):
        g = torch.Generator().manual_seed(trial)
        n = int(torch.randint(2, 300, (1,), generator=g))
        corner = torch.rand(n, 2, generator=g) * 100
        boxes = torch.cat([corner, corner + 20], dim=1)
        scores = (torch.rand(n, generator=g) * 3).floor()          # three distinct values: many ties
        assert impl.nms_greedy(boxes, scores, 0.5).tolist() == torchvision.ops.nms(boxes, scores, 0.5).tolist()


def test_nms_accepts_any_order_among_tied_kept_boxes():
    """Does check_nms accept the tied kept boxes in another order than torchvision's (undocumented) one?"""
    def reversed_ties(boxes, scores, iou_threshold):
        keep = impl.nms_greedy(boxes, scores, iou_threshold)
        # within each run of equal scores, reverse the order
        out, i = [], 0
        while i < len(keep):
            j = i
            while j < len(keep) and scores[keep[j]] == scores[keep[i]]:
                j += 1
            out += reversed(keep[i:j].tolist())
            i = j
        return torch.tensor(out, dtype=torch.int64)
    assert check_nms(reversed_ties, extended=True)


def spp_settings():
    """(x, levels) of the SPP check's public and hidden cases, for two seeds."""
    return [(case.args[0], case.kwargs["levels"]) for seed in (0, 7) for extended in (False, True)
            for case in det_pooling.spp_cases(seed, extended) if extended or seed == 0]


@pytest.mark.parametrize("x, levels", spp_settings(), ids=lambda v: str(tuple(v.shape)) if hasattr(v, "shape") else str(v))
def test_spp_reference_is_the_papers_max_pool(x, levels):
    """Are the check's bins, sliced out one by one, those of F.max_pool2d with the paper's window ⌈a/n⌉ and stride
    ⌊a/n⌋ per axis — n × n of them at every level — and its adaptive variant those of F.adaptive_max_pool2d?"""
    H, W = x.shape[-2:]
    pooled = [F.max_pool2d(x, (math.ceil(H / n), math.ceil(W / n)), (math.floor(H / n), math.floor(W / n)))
              for n in levels]
    assert [tuple(p.shape[-2:]) for p in pooled] == [(n, n) for n in levels]
    assert torch.equal(detection.spp_reference(x, levels), torch.cat([p.flatten(1) for p in pooled], dim=1))
    adaptive = torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in levels], dim=1)
    assert torch.equal(detection.spp_reference(x, levels, "spatial_pyramid_pool.adaptive"), adaptive)


@pytest.mark.parametrize("size", range(1, 41))
def test_exact_bins_says_when_the_papers_rule_gives_n_windows(size):
    """Is exact_bins(a, n) true exactly when F.max_pool2d with window ⌈a/n⌉ and stride ⌊a/n⌋ gives n windows
    (it gives more where a mod n > ⌊a/n⌋, and cannot run where a < n), and are bins() those windows?"""
    for n in range(1, 8):
        if size < n:
            assert not det_pooling.exact_bins(size, n)
            continue
        windows = F.max_pool2d(torch.zeros(1, 1, size, 1), (math.ceil(size / n), 1), (size // n, 1)).shape[2]
        assert det_pooling.exact_bins(size, n) == (windows == n), (size, n, windows)
        assert len(det_pooling.bins(size, n)) == windows


def test_spp_cases_give_n_bins_and_differ_from_adaptive_pooling_in_public():
    """Design: does every case use sizes where the paper's rule gives exactly n × n bins at every level, and does
    every public case have a size and level where the paper's bins differ from adaptive pooling's (so an adaptive
    answer, written by hand, fails before grading)?"""
    for seed, extended in ((0, False), (0, True), (7, True)):
        for case in answered(det_pooling.spp_cases(seed, extended)):
            H, W = case.args[0].shape[-2:]
            levels = case.kwargs["levels"]
            assert all(det_pooling.exact_bins(a, n) for a in (H, W) for n in levels), case.label
            assert case.expected.shape == (case.args[0].shape[0], case.args[0].shape[1] * sum(n * n for n in levels))
    for case in answered(det_pooling.spp_cases(0, extended=False)):
        x, levels = case.args[0], case.kwargs["levels"]
        assert any(a % n >= 2 for a in x.shape[-2:] for n in levels), case.label
        adaptive = torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in levels], dim=1)
        assert not torch.equal(adaptive, case.expected), case.label
        assert x.shape[0] > 1 or x.shape[1] > 1
        assert x.shape[-2] != x.shape[-1]
    assert det_pooling.bins(10, 4) != det_pooling.bins(10, 4, "spatial_pyramid_pool.adaptive")
    assert det_pooling.bins(13, 3) == det_pooling.bins(13, 3, "spatial_pyramid_pool.adaptive")   # 13 mod 3 = 1


def test_spp_mistakes_are_unambiguous():
    """Does every SPP case name at most one mistake for any wrong answer, and none for the right one?"""
    for seed, extended in ((0, False), (7, True)):
        for case in answered(det_pooling.spp_cases(seed, extended)):
            signatures = [det_pooling._answer_signature(m.answer, case.expected) for m in case.mistakes]
            assert len(set(signatures)) == len(signatures), case.label
            assert det_pooling._answer_signature(case.expected, case.expected) not in signatures


def test_spp_unknown_mistake_gets_the_general_message():
    """Does ceil_mode=True (an extra window where a mod n ≥ 2), a mistake no hint names, get the general message
    without a mistake key?"""
    result = check_spatial_pyramid_pool(impl.spp_ceil_mode)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake is None and result.hint == M("spatial_pyramid_pool.general")


def test_spp_predicted_mistakes_are_what_the_wrong_implementations_compute():
    """Does each SPP mistake the check predicts equal what the implementation making it returns, on every public
    and hidden case that predicts it, and is each reachable on a public case?"""
    learners = {"spatial_pyramid_pool.average": impl.spp_average,
                "spatial_pyramid_pool.reversed_levels": impl.spp_reversed,
                "spatial_pyramid_pool.spatial_major": impl.spp_spatial_major,
                "spatial_pyramid_pool.floor_ceil": impl.spp_floor_ceil,
                "spatial_pyramid_pool.square": impl.spp_square,
                "spatial_pyramid_pool.adaptive": impl.spp_adaptive_by_hand}
    for key, learner in learners.items():
        reachable = False
        for seed, extended in ((0, False), (7, True)):
            for case in answered(det_pooling.spp_cases(seed, extended)):
                predicted = [m.answer for m in case.mistakes if m.key == key]
                if not predicted:
                    continue
                got = learner(*case.args, **case.kwargs)
                assert got.shape == predicted[0].shape and torch.allclose(got, predicted[0], atol=1e-6), \
                    (key, case.label)
                reachable |= not extended
        assert reachable, key


def test_roi_pool_reference_equals_torchvision_on_random_rois():
    """Does the check's written-out RoI pooling equal torchvision.ops.roi_pool on many random rois, scales
    and output sizes (so its variants differ from the answer only by their mistake)?"""
    g = torch.Generator().manual_seed(1)
    for trial in range(6):
        f = torch.randn(2, 2, 7 + trial, 9, generator=g)
        scale = [1.0, 0.5, 0.25, 1 / 16, 1 / 8, 1 / 3][trial]
        xy = torch.rand(6, 2, generator=g) * 10 / scale - 2 / scale
        wh = torch.rand(6, 2, generator=g) * 8 / scale
        rois = torch.cat([torch.randint(0, 2, (6, 1), generator=g).float(), xy, xy + wh], dim=1)
        for size in (1, 3, (2, 5)):
            assert torch.equal(detection.roi_pool_reference(f, rois, size, scale),
                               torchvision.ops.roi_pool(f, rois, size, scale))


def test_roi_pool_public_case_has_exact_halves():
    """Does a public roi_pool case hold scaled coordinates at exact halves, where C's round and torch.round
    disagree?"""
    case = det_pooling.roi_cases(0, extended=False)[0]
    _, rois, _, scale = case.args
    scaled = rois[:, 1:] * scale
    halves = (scaled - scaled.floor()) == 0.5
    assert halves.any()
    assert not torch.equal(detection.c_round(scaled[halves]), torch.round(scaled[halves]))


def test_roi_pool_public_case_has_negative_coordinates_at_halves():
    """Does a public roi_pool case hold a roi with negative scaled coordinates at exact halves, where C's round
    and floor(v + 0.5) disagree and the first bins start off the map?"""
    case = det_pooling.roi_cases(0, extended=False)[0]
    _, rois, _, scale = case.args
    scaled = rois[:, 1:] * scale
    negative_halves = (scaled < 0) & ((scaled - scaled.floor()) == 0.5)
    assert negative_halves.any()
    assert not torch.equal(detection.c_round(scaled[negative_halves]), torch.floor(scaled[negative_halves] + 0.5))
    assert (detection.c_round(scaled) < 0).any()


def test_decode_public_case_has_weights_and_large_deltas_both_ways():
    """Does a public decode case have non-unit weights and, after dividing by them, a dw or dh above
    log(1000/16) and one below −log(1000/16) (where the clamp's side and its order with the division matter)?"""
    import math
    clip = math.log(1000.0 / 16)
    found = False
    for case in det_anchors.decode_cases(0, extended=False):
        weights = case.kwargs["weights"]
        if weights == (1.0, 1.0, 1.0, 1.0):
            continue
        d = case.args[0][:, 2:] / torch.tensor(weights[2:])
        found |= bool((d > clip).any() and (d < -clip).any())
    assert found


def test_anchor_reference_equals_anchor_generator():
    """Does the check's anchor formula equal torchvision's AnchorGenerator on every case?"""
    for case in det_anchors.anchor_cases(0, extended=True):
        assert torch.equal(detection.anchors_reference(*case.args), case.expected)


def test_decode_of_encode_gives_the_boxes_back():
    """Do the notebook-style encode and decode make a round trip on the check's pairs, and does the check's
    round-trip case expect the original boxes?"""
    g = torch.Generator().manual_seed(3)
    reference, proposals = det_anchors.box_pairs(g, 20)
    for weights in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
        deltas = impl.encode_columns(reference, proposals, weights)
        assert torch.allclose(impl.decode_columns(deltas, proposals, weights), reference, atol=1e-4)
    case = det_anchors.decode_cases(0, extended=False)[1]
    assert "round trip" in case.label


# ==========================================================================
# 2. Catalogues of plausible wrong implementations (run by test_contract.py's generic test)
# ==========================================================================

CATALOGUE = {
    "box_iou": [
        mistake("Does check_box_iou notice the missing clamp on a negative overlap?", impl.box_iou_no_clamp,
                M("box_iou.no_clamp")),
        mistake("Does it notice the product clamped instead of each side?", impl.box_iou_clamp_product,
                M("box_iou.clamp_product")),
        mistake("Does it notice a union that counts the overlap twice?", impl.box_iou_double_union,
                M("box_iou.no_minus_inter")),
        mistake("Does it notice the +1 pixel convention?", impl.box_iou_plus_one, M("box_iou.plus_one")),
        mistake("Does it notice intersection over the first area?", impl.box_iou_over_first_area,
                M("box_iou.over_first_area")),
        mistake("Does it notice box i compared with box i only?", impl.box_iou_diagonal, "not box i with box i"),
        mistake("Does it notice an (M, N) answer?", impl.box_iou_transposed, "not (M, N)"),
        mistake("Does it fail, in public, columns stacked one per box of boxes2 (which raises on an empty second "
                "input)?", impl.box_iou_stacks_columns, "an empty second input", field="case", outcome=RAISED),
        mistake("Does it refuse torchvision.ops.box_iou?", impl.box_iou_calls_torchvision, "torchvision.ops.box_iou",
                field="summary"),
        mistake("Does it refuse torchvision's private intersection-and-union helper?",
                impl.box_iou_calls_private_helper, "_box_inter_union", field="summary"),
    ],
    "nms": [
        mistake("Does check_nms notice >= instead of >?", impl.nms_greater_equal, M("nms.greater_equal")),
        mistake("Does it notice the lowest score kept first?", impl.nms_ascending, M("nms.ascending")),
        mistake("Does it notice boxes visited in index order (no sort)?", impl.nms_unsorted, M("nms.unsorted")),
        mistake("Does it notice suppressed boxes that still suppress?", impl.nms_suppressed_suppress,
                M("nms.suppressed_suppress")),
        mistake("Does it notice indices sorted by index?", impl.nms_index_order, M("nms.index_order")),
        mistake("Does it notice positions in the sorted order returned?", impl.nms_positions, M("nms.positions")),
        mistake("Does it notice a boolean mask returned?", impl.nms_mask, "boolean mask", field="summary"),
        mistake("Does it notice int32 indices?", impl.nms_int32, "Indices are int64"),
        mistake("Does it notice a float tensor when nothing is kept?", impl.nms_empty_float, "also when nothing"),
        mistake("Does it refuse torchvision.ops.nms?", impl.nms_calls_torchvision, "torchvision.ops.nms",
                field="summary"),
    ],
    "spatial_pyramid_pool": [
        mistake("Does check_spatial_pyramid_pool notice average pooling?", impl.spp_average,
                M("spatial_pyramid_pool.average")),
        mistake("Does it notice the levels concatenated in the wrong order?", impl.spp_reversed,
                M("spatial_pyramid_pool.reversed_levels")),
        mistake("Does it notice a channels-last flatten?", impl.spp_spatial_major,
                M("spatial_pyramid_pool.spatial_major")),
        mistake("Does it notice floor and ceil exchanged (window ⌊a/n⌋, stride ⌈a/n⌉)?", impl.spp_floor_ceil,
                M("spatial_pyramid_pool.floor_ceil")),
        mistake("Does it notice the rows' window and stride used for the columns (an a × a map assumed)?",
                impl.spp_square, M("spatial_pyramid_pool.square")),
        mistake("Does it notice adaptive pooling's bins written out by hand, on a public case where they differ?",
                impl.spp_adaptive_by_hand, M("spatial_pyramid_pool.adaptive")),
        mistake("Does it notice levels not flattened?", impl.spp_no_flatten, "one vector of length C·Σn²"),
        mistake("Does it notice the levels argument ignored?", impl.spp_fixed_levels, "Use the `levels` argument"),
        mistake("Does it refuse F.adaptive_max_pool2d (the one-line answer)?", impl.spp_adaptive,
                "F.adaptive_max_pool2d", field="summary"),
        mistake("Does it refuse nn.AdaptiveMaxPool2d (through the functional it calls)?", impl.spp_adaptive_module,
                "F.adaptive_max_pool2d", field="summary"),
        mistake("Does it refuse F.adaptive_avg_pool2d?", impl.spp_adaptive_avg, "F.adaptive_avg_pool2d",
                field="summary"),
    ],
    "roi_pool": [
        mistake("Does check_roi_pool notice spatial_scale ignored?", impl.roi_pool_no_scale, M("roi_pool.no_scale")),
        mistake("Does it notice coordinates floored?", impl.roi_pool_floor, M("roi_pool.floor")),
        mistake("Does it notice torch.round's halves to even?", impl.roi_pool_torch_round, M("roi_pool.torch_round")),
        mistake("Does it notice floor(v + 0.5), which rounds negative halves up?", impl.roi_pool_half_up,
                M("roi_pool.half_up")),
        mistake("Does it notice bin starts not clipped at 0 (negative coordinates)?", impl.roi_pool_no_clip_start,
                M("roi_pool.no_clip_start")),
        mistake("Does it notice coordinates not rounded?", impl.roi_pool_no_round, M("roi_pool.no_round")),
        mistake("Does it notice the roi width without +1?", impl.roi_pool_no_plus_one, M("roi_pool.no_plus_one")),
        mistake("Does it notice bin ends floored?", impl.roi_pool_floor_end, M("roi_pool.floor_end")),
        mistake("Does it notice average pooling?", impl.roi_pool_average, M("roi_pool.average")),
        mistake("Does it notice the batch index ignored?", impl.roi_pool_batch_zero, M("roi_pool.batch_zero")),
        mistake("Does it notice empty bins set to -inf?", impl.roi_pool_empty_neg_inf, M("roi_pool.empty_neg_inf")),
        mistake("Does it notice output_size read as (width, height)?", impl.roi_pool_swapped_size,
                "(height, width)"),
        mistake("Does it refuse torchvision.ops.roi_pool?", impl.roi_pool_calls_torchvision,
                "torchvision.ops.roi_pool", field="summary"),
    ],
    "make_anchors": [
        mistake("Does check_make_anchors notice widths and heights swapped?", impl.anchors_swapped,
                M("make_anchors.swapped")),
        mistake("Does it notice anchors whose area is not s²?", impl.anchors_area_not_kept,
                M("make_anchors.area_not_kept")),
        mistake("Does it notice size-major order?", impl.anchors_size_major, M("make_anchors.size_major")),
        mistake("Does it notice full-size offsets?", impl.anchors_full_size, M("make_anchors.full_size_offsets")),
        mistake("Does it notice base anchors not rounded?", impl.anchors_no_round, M("make_anchors.no_round")),
        mistake("Does it notice anchors at cell centres?", impl.anchors_cell_centres, M("make_anchors.cell_centres")),
        mistake("Does it notice positions visited column by column?", impl.anchors_column_major,
                M("make_anchors.column_major")),
        mistake("Does it notice anchors grouped by anchor, not position?", impl.anchors_anchor_major,
                M("make_anchors.anchor_major")),
        mistake("Does it notice an (H, W, A, 4) answer?", impl.anchors_grid_shape, "(H·W·A, 4)"),
        mistake("Does it notice floor(v + 0.5), on a public case with a half-size at an exact half?",
                impl.anchors_half_up, M("make_anchors.half_up")),
        mistake("Does it notice int64 anchors, with a hint that says float32?", impl.anchors_int64,
                "Anchors are float32"),
    ],
    "encode_boxes": [
        mistake("Does check_encode_boxes notice the log missing?", impl.encode_no_log_written,
                M("encode_boxes.no_log")),
        mistake("Does it notice the weights ignored?", impl.encode_no_weights, M("encode_boxes.no_weights")),
        mistake("Does it notice weights divided?", impl.encode_divide_weights, M("encode_boxes.divide_weights")),
        mistake("Does it notice offsets normalised by the reference's size?", impl.encode_reference_size,
                M("encode_boxes.reference_size")),
        mistake("Does it notice the arguments swapped?", impl.encode_swapped, M("encode_boxes.swapped")),
        mistake("Does it notice corners encoded instead of centres?", impl.encode_corner, M("encode_boxes.corner")),
        mistake("Does it notice the +1 width?", impl.encode_plus_one, M("encode_boxes.plus_one")),
        mistake("Does it notice wx used for dy and ww for dh, on a public case whose weights differ within each pair?",
                impl.encode_one_weight_per_pair, M("encode_boxes.one_weight_per_pair")),
        mistake("Does it fail, in public, boxes encoded one at a time and stacked (which raises on no box)?",
                impl.encode_stacks_rows, "(0, 4)", field="case", outcome=RAISED),
    ],
    "decode_boxes": [
        mistake("Does check_decode_boxes notice the exp missing?", impl.decode_no_exp, M("decode_boxes.no_exp")),
        mistake("Does it notice exp added instead of multiplied?", impl.decode_exp_plus, M("decode_boxes.exp_plus")),
        mistake("Does it notice the weights ignored?", impl.decode_no_weights, M("decode_boxes.no_weights")),
        mistake("Does it notice weights multiplied?", impl.decode_multiply_weights,
                M("decode_boxes.multiply_weights")),
        mistake("Does it notice offsets not scaled by the anchor?", impl.decode_unscaled_offsets,
                M("decode_boxes.unscaled_offsets")),
        mistake("Does it notice the centre form returned?", impl.decode_centre_form, M("decode_boxes.centre_form")),
        mistake("Does it notice the clamp missing?", impl.decode_no_clamp_written, M("decode_boxes.no_clamp")),
        mistake("Does it notice dw and dh clamped from below as well?", impl.decode_symmetric_clamp,
                M("decode_boxes.symmetric_clamp")),
        mistake("Does it notice the raw deltas clamped before the division by the weights?",
                impl.decode_clamp_before_weights, M("decode_boxes.clamp_before_weights")),
        mistake("Does it notice wx used for dy and ww for dh, on a public case whose weights differ within each pair?",
                impl.decode_one_weight_per_pair, M("decode_boxes.one_weight_per_pair")),
        mistake("Does it fail, in public, boxes decoded one at a time and stacked (which raises on no box)?",
                impl.decode_stacks_rows, "no box", field="case", outcome=RAISED),
    ],
}

# The catalogue entries whose hint names a known mistake: the one key of the check whose text holds the needle.
NAMED = [pytest.param(name, keys[0], entry.values[0], id=f"{name}: {entry.id}")
         for name, entries in CATALOGUE.items() for entry in entries if entry.values[2] == "hint"
         for keys in [[k for k, text in M.texts.items() if k.startswith(name + ".") and entry.values[3] in text]]
         if len(keys) == 1]


@pytest.mark.parametrize("name, key, learner", NAMED)
def test_a_named_mistake_carries_its_key(name, key, learner):
    """Does the verdict that shows a known mistake's hint also carry that mistake's key (``result.mistake``),
    so that a hint's text can change without the catalogue losing track of which mistake it names?"""
    result = SPECS[name].check(learner)
    assert result.mistake == key, result.text()
    assert result.hint == M(key)


def test_most_catalogue_hints_name_a_key():
    """Does every catalogue entry whose needle is a hint find its one key (so the keyed test covers it)?"""
    hints = [entry for entries in CATALOGUE.values() for entry in entries if entry.values[2] == "hint"]
    assert len(NAMED) == len(hints)


def test_nms_names_the_score_order_when_the_kept_set_is_right():
    """Does check_nms name the score order (its key and hint) when the kept set is right but listed worst first?"""
    def worst_first(boxes, scores, iou_threshold):
        return impl.nms_greedy(boxes, scores, iou_threshold).flip(0)
    result = check_nms(worst_first)
    assert result.mistake == "nms.score_order", result.text()
    assert result.hint == M("nms.score_order")


def test_every_message_is_used_and_every_use_has_a_message():
    """Is every key of notebook 09's table used by the check modules, and every key they use in the table?"""
    import pathlib
    import re
    folder = pathlib.Path(detection.__file__).parent
    used = set()
    for path in folder.glob("*.py"):
        used |= set(re.findall(r'"((?:box_iou|nms|spatial_pyramid_pool|roi_pool|make_anchors|encode_boxes|'
                               r'decode_boxes)\.\w+)"', path.read_text()))
    assert used == set(M.keys())


def test_a_direct_call_of_the_torchvision_operator_is_named_as_the_public_function():
    """Does a learner who calls the registered operator (torch.ops.torchvision.nms) hear
    `torchvision.ops.nms`, the name they know, rather than a `torch.nms` that does not exist?"""
    def calls_the_operator(boxes, scores, iou_threshold):
        return torch.ops.torchvision.nms(boxes, scores, iou_threshold)
    result = check_nms(calls_the_operator)
    assert not result
    assert "torchvision.ops.nms" in result.summary and "torch.nms" not in result.summary


def test_a_wrong_answer_is_incorrect_not_uncheckable():
    """Is a wrong NMS answer 'not yet correct' (an outcome the learner can act on)?"""
    assert check_nms(impl.nms_unsorted).outcome == INCORRECT


# ==========================================================================
# 3. Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def named_mistakes(case):
    """The known mistakes a case tells from the right answer (a different shape, or values beyond the case's
    tolerance): a hidden case may name no mistake that no public case names."""
    expected = case.expected
    for m in case.mistakes:
        answer = m.answer
        if isinstance(answer, tuple):
            differs = answer != tuple(expected.shape)
        elif answer.shape != expected.shape:
            differs = True
        else:
            differs = not torch.allclose(answer.double(), expected.double(), atol=case.atol, rtol=case.rtol,
                                         equal_nan=True)
        if differs:
            yield f"names {m.key}"


def box_iou_kinds(case):
    a, b = case.args
    kinds = [kind for kind, present in [("an empty first input", len(a) == 0), ("an empty second input", len(b) == 0),
                                        ("N ≠ M", len(a) != len(b))] if present]
    if len(a) and len(b):
        lt, rb = torch.max(a[:, None, :2], b[None, :, :2]), torch.min(a[:, None, 2:], b[None, :, 2:])
        overlap = rb - lt                                            # (N, M, 2): negative where apart along an axis
        inside = ((a[:, None, :2] <= b[None, :, :2]) & (b[None, :, 2:] <= a[:, None, 2:])).all(-1) \
            | ((b[None, :, :2] <= a[:, None, :2]) & (a[:, None, 2:] <= b[None, :, 2:])).all(-1)
        same = (a[:, None, :] == b[None, :, :]).all(-1)
        area = lambda boxes: (boxes[:, 2:] - boxes[:, :2]).prod(-1)   # noqa: E731
        kinds += [kind for kind, present in [
            ("apart along one axis", bool(((overlap < 0).sum(-1) == 1).any())),
            ("apart along both axes", bool((overlap < 0).all(-1).any())),
            ("touching", bool(((overlap == 0).any(-1) & (overlap >= 0).all(-1)).any())),
            ("nested", bool((inside & ~same).any())), ("identical", bool(same.any())),
            ("a zero-area box", bool((area(a) == 0).any() or (area(b) == 0).any()))] if present]
    return kinds + list(named_mistakes(case))


def nms_kinds(case):
    boxes, scores, threshold = case.args
    n, kept = len(boxes), len(case.expected)
    iou = torchvision.ops.box_iou(boxes, boxes)
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    return [kind for kind, present in [
        ("no box", n == 0), ("one box", n == 1), ("tied scores", scores.unique().numel() < n),
        ("boxes suppressed", kept < n), ("no box suppressed among several", n > 1 and kept == n),
        ("identical boxes", bool((iou[off_diagonal] == 1).any())),
        ("an IoU exactly at the threshold", bool((iou[off_diagonal] == threshold).any()))] if present] \
        + list(named_mistakes(case))


def spp_kinds(case):
    x, levels = case.args[0], case.kwargs["levels"]
    h, w = x.shape[-2:]
    return [kind for kind, present in [
        ("one level", len(levels) == 1), ("levels in increasing order", list(levels) == sorted(levels)
                                          and len(levels) > 1),
        ("levels in another order", list(levels) != sorted(levels)), ("level 1", 1 in levels),
        ("a level with windows of one cell", any(n in (h, w) for n in levels)),
        ("bins other than adaptive pooling's", any(a % n >= 2 for a in (h, w) for n in levels)),
        ("H ≠ W", h != w)] if present] + list(named_mistakes(case))


def roi_kinds(case):
    features, rois, output_size, scale = case.args
    height, width = features.shape[-2:]
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    scaled = rois[:, 1:] * scale
    x1, y1, x2, y2 = detection.c_round(scaled).unbind(1)
    return [kind for kind, present in [
        ("non-integer coordinates", bool((rois[:, 1:] != rois[:, 1:].floor()).any())),
        ("scaled coordinates at exact halves", bool(((scaled - scaled.floor()) == 0.5).any())),
        ("a negative coordinate", bool((rois[:, 1:] < 0).any())),
        ("a roi partly off the map", bool(((x2 >= width) | (y2 >= height) | (x1 < 0) | (y1 < 0)).any())),
        ("a roi wholly off the map", bool(((x1 >= width) | (y1 >= height) | (x2 < 0) | (y2 < 0)).any())),
        ("a malformed roi (x2 < x1 or y2 < y1)", bool(((x2 < x1) | (y2 < y1)).any())),
        ("rois on several images", rois[:, 0].unique().numel() > 1), ("ph ≠ pw", ph != pw)] if present] \
        + list(named_mistakes(case))


def anchor_kinds(case):
    (height, width), stride, sizes, ratios = case.args
    ar = torch.as_tensor(ratios, dtype=torch.float32)
    half = torch.cat([torch.outer(1 / torch.sqrt(ar), torch.as_tensor(sizes).float()),
                      torch.outer(torch.sqrt(ar), torch.as_tensor(sizes).float())]).flatten() / 2
    return [kind for kind, present in [
        ("one cell", (height, width) == (1, 1)), ("H ≠ W", height != width), ("one size", len(sizes) == 1),
        ("several sizes", len(sizes) > 1), ("one ratio", len(ratios) == 1), ("several ratios", len(ratios) > 1),
        ("a ratio other than 1", any(r != 1 for r in ratios)),
        ("a half-size at an exact half", bool(((half - half.floor()) == 0.5).any()))] if present] \
        + list(named_mistakes(case))


def coder_weight_kinds(n, weights):
    wx, wy, ww, wh = weights
    return [kind for kind, present in [
        ("no box", n == 0), ("one box", n == 1), ("unit weights", weights == (1.0, 1.0, 1.0, 1.0)),
        ("other weights", weights != (1.0, 1.0, 1.0, 1.0)), ("weights that differ within a pair", wx != wy or ww != wh)]
        if present]


def encode_kinds(case):
    return coder_weight_kinds(len(case.args[0]), case.kwargs["weights"]) + list(named_mistakes(case))


def decode_kinds(case):
    deltas, weights = case.args[0], case.kwargs["weights"]
    clip = math.log(1000.0 / 16)
    scaled = deltas[:, 2:] / torch.tensor(weights[2:])
    return coder_weight_kinds(len(deltas), weights) + [kind for kind, present in [
        ("a size delta beyond the clip", bool((scaled > clip).any())),
        ("a size delta below −clip", bool((scaled < -clip).any()))] if present] + list(named_mistakes(case))


@pytest.mark.parametrize("seed", [0, 7, 2024])
@pytest.mark.parametrize("cases, kinds", [
    (det_boxes.iou_cases, box_iou_kinds), (det_boxes.nms_cases, nms_kinds), (det_pooling.spp_cases, spp_kinds),
    (det_pooling.roi_cases, roi_kinds), (det_anchors.anchor_cases, anchor_kinds),
    (det_anchors.encode_cases, encode_kinds), (det_anchors.decode_cases, decode_kinds),
], ids=["box_iou", "nms", "spatial_pyramid_pool", "roi_pool", "make_anchors", "encode_boxes", "decode_boxes"])
def test_hidden_cases_add_no_new_kind_of_case(cases, kinds, seed):
    """Does every kind of case of the hidden run (an empty second input, one box, identical boxes, a roi wholly
    off the map, one anchor cell, weights that differ within a pair, ...), read off the cases' data, and every
    known mistake a hidden case names, appear among the public cases (seed 0) too?"""
    assert_no_new_kind(cases(0, False), cases(seed, True), kinds)
