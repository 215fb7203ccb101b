"""Proof that the seven checks of notebook 09 (detection) work.

* correct implementations, in several styles, are registered in ``SPECS`` for
  the generic contract (``test_check_contract.py``);
* a catalogue of plausible wrong implementations fails, each with the message
  naming its mistake;
* the references the checks build their hints from agree with torchvision
  (``roi_pool_reference`` with ``torchvision.ops.roi_pool``, ``anchors_reference``
  with ``AnchorGenerator``, the explicit SPP bins with ``F.adaptive_max_pool2d``),
  so a hint can never be the expected answer itself.

Every expected number is computed, never typed.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
import torchvision.models.detection._utils as det_utils
import torchvision.models.detection.anchor_utils as anchor_utils
import torchvision.ops.boxes as tv_boxes

from course_utils.checks import (INCORRECT, check_box_iou, check_decode_boxes, check_encode_boxes,
                                 check_make_anchors, check_nms, check_roi_pool, check_spatial_pyramid_pool)
from course_utils.checks import detection
from course_utils.checks.detection import anchors as det_anchors, boxes as det_boxes, pooling as det_pooling
from course_utils.checks.messages.detection import M

from checks.detection import impls as impl
from checks.helpers import (CheckSpec, assert_hidden_cases_try_more, guards_fixture,  # noqa: F401
                           mistake_case as mistake, one_torch_thread)

SPECS = {
    "box_iou": CheckSpec(check=check_box_iou, kind="tensor",
                    correct=[impl.box_iou_broadcast, impl.box_iou_loops, impl.box_iou_unbind],
                    mistake=impl.box_iou_no_clamp, forbidden=impl.box_iou_calls_torchvision),
    # indices compared as a set in score order: the generic tensor tests (float32 dtype) do not apply
    "nms": CheckSpec(check=check_nms, kind="indices",
                correct=[impl.nms_greedy, impl.nms_shrinking_order, impl.nms_python_lists],
                mistake=impl.nms_greater_equal, forbidden=impl.nms_calls_torchvision),
    "spatial_pyramid_pool": CheckSpec(check=check_spatial_pyramid_pool, kind="tensor",
                                 correct=[impl.spp_adaptive, impl.spp_loops, impl.spp_module],
                                 mistake=impl.spp_average),
    "roi_pool": CheckSpec(check=check_roi_pool, kind="tensor",
                     correct=[impl.roi_pool_loops, impl.roi_pool_vectorised_bins],
                     mistake=impl.roi_pool_no_scale, forbidden=impl.roi_pool_calls_torchvision),
    # the first argument is a tuple (feature_size), not a tensor: generic tests only
    "make_anchors": CheckSpec(check=check_make_anchors, kind="anchors",
                         correct=[impl.anchors_broadcast, impl.anchors_loops], mistake=impl.anchors_swapped),
    "encode_boxes": CheckSpec(check=check_encode_boxes, kind="tensor",
                         correct=[impl.encode_columns, impl.encode_vectors], mistake=impl.encode_no_log),
    "decode_boxes": CheckSpec(check=check_decode_boxes, kind="tensor",
                         correct=[impl.decode_columns, impl.decode_vectors], mistake=impl.decode_no_exp),
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
}
REFERENCES = [("box_iou", "torchvision.ops.box_iou"), ("nms", "torchvision.ops.nms"),
              ("roi_pool", "torchvision.ops.roi_pool"), ("make_anchors", "AnchorGenerator"),
              ("encode_boxes", "BoxCoder"), ("decode_boxes", "BoxCoder")]


def references_still_work():
    """The refused functions run normally again (no guard mode left behind)."""
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 0.0, 3.0, 2.0]])
    assert torchvision.ops.box_iou(boxes, boxes).shape == (2, 2)
    assert torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist() == [0, 1]
    rois = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0]])
    assert torchvision.ops.roi_pool(torch.ones(1, 1, 3, 3), rois, 1).shape == (1, 1, 1, 1)


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
    cases = det_boxes.nms_cases(0, extended=False)
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


def test_spp_reference_bins_equal_adaptive_max_pool():
    """Are the check's explicit bins those of F.adaptive_max_pool2d, for sizes that divide and that do not,
    and for maps smaller than the grid?"""
    g = torch.Generator().manual_seed(0)
    for shape, levels in [((2, 3, 13, 9), (1, 2, 4)), ((1, 2, 3, 2), (1, 2, 4)), ((1, 1, 31, 20), (1, 2, 3, 6))]:
        x = torch.randn(*shape, generator=g)
        want = torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in levels], dim=1)
        assert torch.equal(detection.spp_reference(x, levels), want)


def test_spp_length_is_c_times_sum_of_squares_on_every_case():
    """Does every SPP case expect C·Σn² numbers per image, whatever H and W?"""
    for case in det_pooling.spp_cases(0, extended=True):
        x = case.args[0]
        levels = case.kwargs["levels"]
        assert case.expected.shape == (x.shape[0], x.shape[1] * sum(n * n for n in levels))


def test_sppnet_bins_differ_from_adaptive_bins_somewhere():
    """Is the paper's window/stride rule really different from adaptive pooling on a public case (so that the
    notebook's remark is true and the hint can fire)?"""
    assert any(any(m.key == "spatial_pyramid_pool.sppnet" for m in case.mistakes)
               for case in det_pooling.spp_cases(0, extended=False))
    assert det_pooling.bins(7, 4) != det_pooling.bins(7, 4, "spatial_pyramid_pool.sppnet")


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
        mistake("Does it refuse torchvision.ops.box_iou?", impl.box_iou_calls_torchvision, "torchvision.ops.box_iou",
                field="summary"),
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
        mistake("Does it notice the paper's window/stride bins?", impl.spp_sppnet_bins, M("spatial_pyramid_pool.sppnet")),
        mistake("Does it notice levels not flattened?", impl.spp_no_flatten, "one vector of length C·Σn²"),
        mistake("Does it notice the levels argument ignored?", impl.spp_fixed_levels, "Use the `levels` argument"),
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
