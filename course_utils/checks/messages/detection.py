"""Notebook 09's verdict texts and hints, by key (``engine.messages``).

A key ``<exercise>.<mistake>`` is also the ``variant`` that the module's reference functions
take to compute that mistake's answer: a mistake is declared once, its text here, its computation where
the key is used.
"""

from ..engine.messages import Messages

M = Messages("09_detection", {
    # box_iou
    "box_iou.general": "area = (x2 − x1)·(y2 − y1); overlap: lt = max of the top-left corners, rb = min of the "
                       "bottom-right corners, wh = (rb − lt).clamp(min=0); inter = w·h; IoU = inter / (area₁ + area₂"
                       " − inter), for every pair (broadcast to (N, M)).",
    "box_iou.no_clamp": "Clamp the overlap's width and height at 0 before multiplying, `(rb - lt).clamp(min=0)`: for"
                        " disjoint boxes one side is negative (a negative 'intersection') or both are (a positive "
                        "one).",
    "box_iou.clamp_product": "Clamp the width and the height *each* at 0, before multiplying: two negative sides "
                             "give a positive product, so clamping the product is too late.",
    "box_iou.no_minus_inter": "The union counts the intersection once: area₁ + area₂ − intersection (adding the two "
                              "areas counts the overlap twice).",
    "box_iou.plus_one": "torchvision uses continuous coordinates: a box's width is x2 − x1, not x2 − x1 + 1 (the '+1"
                        " pixel' convention of old Caffe/MATLAB code).",
    "box_iou.over_first_area": "IoU divides the intersection by the *union* of the two boxes, not by the first box's"
                               " area.",
    "box_iou.over_smaller_area": "IoU divides the intersection by the *union* of the two boxes, not by the smaller "
                                 "area.",
    "box_iou.transposed": "The answer is pairwise, every box of boxes1 with every box of boxes2: shape (N, M), not "
                          "(M, N). Broadcast `boxes1[:, None, :]` against `boxes2[None, :, :]`.",
    "box_iou.diagonal": "The answer is pairwise, (N, M): every box of boxes1 with every box of boxes2, not box i "
                        "with box i. Broadcast `boxes1[:, None, :]` against `boxes2[None, :, :]`.",

    # nms
    "nms.general": "order = scores.argsort(descending=True); take the first remaining box, keep it, remove every "
                   "remaining box whose IoU with it is > iou_threshold; repeat.",
    "nms.greater_equal": "Suppress a box only when its IoU is strictly *greater* than the threshold (`iou > "
                         "iou_threshold`), as torchvision does: a box at exactly the threshold stays.",
    "nms.ascending": "Visit the boxes from the *highest* score down: `scores.argsort(descending=True)`; starting "
                     "from the lowest keeps the worst box of each cluster.",
    "nms.unsorted": "Sort by score first: greedy NMS visits the boxes from the highest score down, not in index "
                    "order.",
    "nms.suppressed_suppress": "A box that was suppressed suppresses nothing: only boxes you *keep* remove their "
                               "neighbours (so a box overlapping only a suppressed box survives).",
    "nms.index_order": "Return the kept indices in decreasing score order (the order they were kept in), not sorted "
                       "by index.",
    "nms.positions": "Return indices into the *original* `boxes`, not positions in the sorted order: map them back "
                     "with `order[k]`.",
    "nms.score_order": "List the kept indices in decreasing score order: the order in which greedy NMS keeps them.",
    "nms.no_return": "Did you forget a `return` at the end of the function?",
    "nms.not_a_tensor": "Return `torch.tensor(keep, dtype=torch.int64)` (an empty list gives an empty tensor that "
                        "way too).",
    "nms.mask": "Return the indices of the kept boxes (int64), best first, as torchvision.ops.nms does.",
    "nms.not_1d": "Return a 1-D tensor of kept indices.",
    "nms.int64": "Indices are int64: `torch.tensor(keep, dtype=torch.int64)` — also when nothing is kept (an empty "
                 "input).",

    # spatial_pyramid_pool
    "spatial_pyramid_pool.general": "For each n in `levels`: `F.max_pool2d(x, kernel_size=(ceil(H / n), ceil(W / "
                                    "n)), stride=(H // n, W // n))`, `.flatten(1)`; then `torch.cat(..., dim=1)`.",
    "spatial_pyramid_pool.refused_adaptive": "adaptive pooling, whose bins are not the paper's (window ⌈a/n⌉, "
                                             "stride ⌊a/n⌋)",
    "spatial_pyramid_pool.refused_adaptive_hint": "Max-pool each level with the paper's window and stride "
                                                  "(`F.max_pool2d`); `{called}` places its bins differently where "
                                                  "a mod n ≥ 2.",
    "spatial_pyramid_pool.average": "SPPNet max-pools each bin (`F.max_pool2d`), not average-pools.",
    "spatial_pyramid_pool.reversed_levels": "Concatenate the levels in the order given by `levels` (the 1 × 1 level "
                                            "first for (1, 2, 4)).",
    "spatial_pyramid_pool.spatial_major": "Flatten each level's (N, C, n, n) map with `.flatten(1)`: all bins of "
                                          "channel 0, then of channel 1, … (channel-major), not the channels of bin "
                                          "0 first.",
    "spatial_pyramid_pool.floor_ceil": "Window and stride are exchanged: the window is ⌈a/n⌉ (`math.ceil`) and the "
                                       "stride ⌊a/n⌋ (`//`), so that neighbouring windows overlap, not leave gaps.",
    "spatial_pyramid_pool.square": "The paper's map is a × a; yours is H × W: compute the window and the stride for "
                                   "each axis, from H for the rows and from W for the columns.",
    "spatial_pyramid_pool.adaptive": "Those are adaptive pooling's bins (⌊i·a/n⌋ up to ⌈(i+1)·a/n⌉, as "
                                     "`F.adaptive_max_pool2d`); the exercise asks for the paper's: window ⌈a/n⌉, "
                                     "stride ⌊a/n⌋. They differ where a mod n ≥ 2.",
    "spatial_pyramid_pool.not_flattened": "Flatten each level to (N, C·n²) and concatenate along dim 1: the answer "
                                          "is one vector of length C·Σn² per image.",
    "spatial_pyramid_pool.levels_ignored": "Use the `levels` argument: one n × n grid per entry, C·Σn² numbers in "
                                           "all.",

    # roi_pool
    "roi_pool.general": "Per roi: scale the corners and round them with `torch.sign(v) * torch.floor(v.abs() + "
                        "0.5)`, h = y2 − y1 + 1 (≥ 1); bin i covers rows y1 + ⌊i·h/ph⌋ … y1 + ⌈(i+1)·h/ph⌉ − 1, "
                        "clipped to [0, H); take the max (0 if empty).",
    "roi_pool.refused_align": "torchvision's RoI Align, which would do the binning this exercise asks you to write",
    "roi_pool.refused_align_hint": "Pool each roi yourself: scale and round its corners, split it into bins and "
                                   "take each bin's max; `{called}` samples bilinearly and averages instead.",
    "roi_pool.no_scale": "Multiply the roi's image coordinates by `spatial_scale` (e.g. 1/16) to get feature-map "
                         "coordinates.",
    "roi_pool.floor": "Round the scaled coordinates to the nearest cell, not down: C's round, halves away from zero,"
                      " `torch.sign(v) * torch.floor(v.abs() + 0.5)`.",
    "roi_pool.torch_round": "torchvision rounds with C's `round`, halves *away from zero* (2.5 → 3, −2.5 → −3); "
                            "`torch.round` rounds halves to even (2.5 → 2). Use `torch.sign(v) * torch.floor(v.abs()"
                            " + 0.5)`.",
    "roi_pool.half_up": "Coordinates may be negative, and C's `round` takes halves away from zero there too (−0.5 → "
                        "−1, −1.5 → −2); `torch.floor(v + 0.5)` rounds them up (0, −1). Use `torch.sign(v) * "
                        "torch.floor(v.abs() + 0.5)`.",
    "roi_pool.no_clip_start": "A roi may start left of or above the map (negative coordinates): clip every bin's "
                              "start and end to [0, H) and [0, W) before slicing (a negative start slices from the "
                              "end in Python).",
    "roi_pool.no_round": "Round the scaled roi coordinates to whole cells first (RoI pooling quantises the roi; the "
                         "unrounded version is RoIAlign's idea).",
    "roi_pool.no_plus_one": "The rounded roi covers cells x1 … x2 *inclusive*: its width is x2 − x1 + 1 (at least "
                            "1).",
    "roi_pool.floor_end": "A bin ends at ⌈(i+1)·h/ph⌉ (ceil), so that neighbouring bins may overlap and no cell is "
                          "left out; only its start is floored.",
    "roi_pool.average": "RoI pooling takes the *maximum* of each bin, not the mean.",
    "roi_pool.batch_zero": "Read each roi from the image its first column names: `features[int(roi[0])]`.",
    "roi_pool.empty_neg_inf": "A bin that falls outside the feature map (empty after clipping) gives 0, as "
                              "torchvision's does, not −inf.",
    "roi_pool.swapped_size": "output_size is (height, width): the output is (K, C, ph, pw).",

    # make_anchors
    "make_anchors.general": "base = round(stack([-w, -h, w, h]) / 2) for r in ratios for s in sizes; shifts (x, y, "
                            "x, y) with x = j·stride, y = i·stride, row by row; anchors = (shifts[:, None] + "
                            "base[None]).reshape(-1, 4).",
    "make_anchors.swapped": "A ratio r is height / width (torchvision's convention): h = s·√r and w = s/√r, so r = 2"
                            " is a tall anchor. Your widths and heights are swapped.",
    "make_anchors.area_not_kept": "Every anchor of size s keeps the area s²: w = s/√r, h = s·√r (not w = s, h = "
                                  "s·r).",
    "make_anchors.size_major": "Order the A anchors of a position ratio by ratio, and within a ratio size by size: "
                               "`for r in ratios: for s in sizes` (torchvision's order).",
    "make_anchors.full_size_offsets": "The corners are the centre ± *half* the width and height: (−w/2, −h/2, w/2, "
                                      "h/2).",
    "make_anchors.no_round": "Like torchvision, round the base anchor's corner offsets (−w/2, −h/2, w/2, h/2) with "
                             "`torch.round` before adding the shifts.",
    "make_anchors.half_up": "Round with `torch.round`, as torchvision: halves go to the even neighbour, on both sides "
                            "of 0 (7.5 → 8, −7.5 → −8); `floor(v + 0.5)` takes −7.5 to −7.",
    "make_anchors.cell_centres": "torchvision centres the anchors of feature cell (i, j) at (j·stride, i·stride), "
                                 "the cell's top-left corner in image pixels, not at its centre (j + ½)·stride.",
    "make_anchors.column_major": "Visit positions row by row (y outer, x inner): anchor index (i·W + j)·A + a for "
                                 "row i, column j.",
    "make_anchors.anchor_major": "Group the anchors by position: all A anchors of position (0, 0) first, then of (0,"
                                 " 1), …: index (i·W + j)·A + a, not a·H·W + …",
    "make_anchors.grid_shape": "Return one row per anchor: reshape to (H·W·A, 4).",
    "make_anchors.dtype": "Anchors are float32, as torchvision's: the inputs are ints and tuples, so start from "
                          "`torch.as_tensor(sizes, dtype=torch.float32)` (or return `anchors.float()`).",

    # encode_boxes
    "encode_boxes.general": "Convert both to centre form (x, y, w, h) first; then dx = wx·(x_ref − x_prop)/w_prop, "
                            "…, dw = ww·log(w_ref / w_prop), …",
    "encode_boxes.no_log": "The size terms are logarithms of the ratios: dw = ww·log(w_ref / w_prop); without the "
                           "log a perfect proposal gives 1, not 0.",
    "encode_boxes.difference": "The size terms are log-ratios, dw = ww·log(w_ref / w_prop), not relative "
                               "differences.",
    "encode_boxes.no_weights": "Multiply by the weights (wx, wy, ww, wh): dx = wx·(x_ref − x_prop)/w_prop, …; Fast "
                               "R-CNN's heads use (10, 10, 5, 5).",
    "encode_boxes.one_weight_per_pair": "Each term has its own weight, in the order (wx, wy, ww, wh): dx·wx, dy·wy, "
                                        "dw·ww, dh·wh — wy and wh may differ from wx and ww.",
    "encode_boxes.divide_weights": "encode *multiplies* by the weights (decode divides by them).",
    "encode_boxes.reference_size": "Normalise the offsets by the *proposal's* size (the anchor's): dx = (x_ref − "
                                   "x_prop) / w_prop, so that the target does not depend on the answer.",
    "encode_boxes.swapped": "The first argument is the box to encode (the ground truth), the second the proposal "
                            "(anchor) it is encoded against, as in BoxCoder.encode_single(reference_boxes, "
                            "proposals).",
    "encode_boxes.corner": "Encode the *centres*: x = x1 + w/2, not the corner x1.",
    "encode_boxes.plus_one": "Widths are x2 − x1 (continuous coordinates, as torchvision), not x2 − x1 + 1.",

    # decode_boxes
    "decode_boxes.general": "Anchor centre and size first; x = x_a + (dx/wx)·w_a, w = w_a·exp(min(dw/ww, "
                            "log(1000/16))); then corners x ± w/2.",
    "decode_boxes.no_exp": "Undo the log: w = w_anchor·exp(dw), h = h_anchor·exp(dh).",
    "decode_boxes.exp_plus": "The size terms scale the anchor: w = w_anchor·exp(dw), not w_anchor + exp(dw).",
    "decode_boxes.no_weights": "Divide the deltas by the weights first: dx / wx, dy / wy, dw / ww, dh / wh.",
    "decode_boxes.one_weight_per_pair": "Each delta has its own weight, in the order (wx, wy, ww, wh): dx / wx, "
                                        "dy / wy, dw / ww, dh / wh — wy and wh may differ from wx and ww.",
    "decode_boxes.multiply_weights": "decode *divides* the deltas by the weights (encode multiplied by them).",
    "decode_boxes.unscaled_offsets": "The offsets are in units of the anchor's size: x = x_anchor + dx·w_anchor.",
    "decode_boxes.centre_form": "Return corners (x1, y1, x2, y2) = (x − w/2, y − h/2, x + w/2, y + h/2), not the "
                                "centre form (x, y, w, h).",
    "decode_boxes.no_clamp": "Clamp dw and dh from above at log(1000 / 16) ≈ 4.135 (`.clamp(max=...)`) after "
                             "dividing by the weights and before `exp`, as torchvision's BoxCoder does "
                             "(`bbox_xform_clip`): an untrained network's huge deltas would overflow.",
    "decode_boxes.symmetric_clamp": "Clamp dw and dh from above only, `.clamp(max=math.log(1000 / 16))`: a very "
                                    "negative delta gives a tiny box, which cannot overflow, and torchvision leaves "
                                    "it alone.",
    "decode_boxes.clamp_before_weights": "Divide dw and dh by their weights first, then clamp the result (`(d / "
                                         "ww).clamp(max=...)`): clamping the raw delta lets d / ww exceed log(1000 /"
                                         " 16).",
})
