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
* ``spatial_pyramid_pool`` vs bins sliced out here one by one with the paper's
  rule (He et al., 2014: window ⌈a/n⌉, stride ⌊a/n⌋ along an axis of a cells;
  the tests prove they are ``F.max_pool2d``'s), on sizes where that rule gives
  exactly n bins (``exact_bins``); adaptive pooling, whose bins differ where
  a mod n ≥ 2, is refused;
* ``roi_pool`` vs ``torchvision.ops.roi_pool``;
* ``make_anchors`` vs ``torchvision.models.detection.anchor_utils.AnchorGenerator``;
* ``encode_boxes`` / ``decode_boxes`` vs ``torchvision.models.detection._utils.BoxCoder``.

The wrong answers that the hints recognise are computed by :func:`roi_pool_reference`
and the other small reference functions, each with a ``variant`` that is the key of a
mistake in the notebook's message table (``messages/detection.py``).

One file per exercise group: ``boxes`` (box_iou, nms), ``pooling`` (spatial_pyramid_pool,
roi_pool), ``anchors`` (make_anchors, encode_boxes, decode_boxes).
"""

from __future__ import annotations

from .anchors import anchors_reference, check_decode_boxes, check_encode_boxes, check_make_anchors
from .boxes import check_box_iou, check_nms
from .pooling import c_round, check_roi_pool, check_spatial_pyramid_pool, exact_bins, roi_pool_reference, spp_reference

__all__ = ["check_box_iou", "check_nms", "check_spatial_pyramid_pool", "check_roi_pool", "check_make_anchors",
           "check_encode_boxes", "check_decode_boxes", "roi_pool_reference", "anchors_reference",
           "spp_reference", "exact_bins", "c_round"]
