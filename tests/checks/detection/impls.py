"""Learner implementations for the tests of notebook 09's checks (detection).

Several correct styles per exercise, then one small function per plausible
mistake, each differing from a correct one in the place its comment names.
Nothing here types an expected number; the tests compute those.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
import torchvision

from checks.helpers import learner_copy, solution

# ==========================================================================
# box_iou(boxes1, boxes2)
# ==========================================================================


box_iou_broadcast = solution("09_detection", "box_iou")   # the notebook's solution, from its source


def box_iou_loops(boxes1, boxes2):
    """Two Python loops, one pair at a time."""
    out = torch.zeros(boxes1.shape[0], boxes2.shape[0])
    for i, (a1, b1, a2, b2) in enumerate(boxes1.tolist()):
        for j, (c1, d1, c2, d2) in enumerate(boxes2.tolist()):
            w = max(0.0, min(a2, c2) - max(a1, c1))
            h = max(0.0, min(b2, d2) - max(b1, d1))
            inter = torch.tensor(w, dtype=torch.float32) * torch.tensor(h, dtype=torch.float32)
            area_a = (torch.tensor(a2) - torch.tensor(a1)) * (torch.tensor(b2) - torch.tensor(b1))
            area_c = (torch.tensor(c2) - torch.tensor(c1)) * (torch.tensor(d2) - torch.tensor(d1))
            out[i, j] = inter / (area_a + area_c - inter)
    return out


def box_iou_unbind(boxes1, boxes2):
    """Column by column, with minimum/maximum and relu."""
    x1, y1, x2, y2 = boxes1.unbind(1)
    u1, v1, u2, v2 = boxes2.unbind(1)
    w = F.relu(torch.minimum(x2[:, None], u2[None]) - torch.maximum(x1[:, None], u1[None]))
    h = F.relu(torch.minimum(y2[:, None], v2[None]) - torch.maximum(y1[:, None], v1[None]))
    inter = w * h
    union = ((x2 - x1) * (y2 - y1))[:, None] + ((u2 - u1) * (v2 - v1))[None] - inter
    return inter / union


def box_iou_no_clamp(boxes1, boxes2):
    # mistake: negative overlaps not clamped
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = rb - lt
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :] - inter)


def box_iou_clamp_product(boxes1, boxes2):
    # mistake: the product clamped, not each side
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = rb - lt
    inter = (wh[..., 0] * wh[..., 1]).clamp(min=0)
    return inter / (area1[:, None] + area2[None, :] - inter)


def box_iou_double_union(boxes1, boxes2):
    # mistake: the union counts the overlap twice
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :])


def box_iou_plus_one(boxes1, boxes2):
    # mistake: the +1 pixel convention
    area1 = (boxes1[:, 2] - boxes1[:, 0] + 1) * (boxes1[:, 3] - boxes1[:, 1] + 1)
    area2 = (boxes2[:, 2] - boxes2[:, 0] + 1) * (boxes2[:, 3] - boxes2[:, 1] + 1)
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt + 1).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :] - inter)


def box_iou_over_first_area(boxes1, boxes2):
    # mistake: intersection over the first box's area
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    return wh[..., 0] * wh[..., 1] / area1[:, None]


def box_iou_diagonal(boxes1, boxes2):
    # mistake: box i with box i only
    n = min(boxes1.shape[0], boxes2.shape[0])
    return torch.diagonal(box_iou_broadcast(boxes1[:n], boxes2[:n]))


def box_iou_transposed(boxes1, boxes2):
    # mistake: (M, N)
    return box_iou_broadcast(boxes2, boxes1)


def box_iou_stacks_columns(boxes1, boxes2):
    # mistake: one column per box of boxes2, stacked: torch.stack of nothing raises when boxes2 is empty
    return torch.stack([box_iou_broadcast(boxes1, b[None])[:, 0] for b in boxes2], dim=1)


def box_iou_calls_torchvision(boxes1, boxes2):
    return torchvision.ops.box_iou(boxes1, boxes2)


def box_iou_calls_private_helper(boxes1, boxes2):
    # torchvision's private helper behind every IoU it computes
    inter, union = torchvision.ops.boxes._box_inter_union(boxes1, boxes2)
    return inter / union


# ==========================================================================
# nms(boxes, scores, iou_threshold)
# ==========================================================================


def _iou(boxes1, boxes2):
    return box_iou_broadcast(boxes1, boxes2)


nms_greedy = solution("09_detection", "nms")   # the notebook's solution, from its source


def nms_shrinking_order(boxes, scores, iou_threshold):
    """The classic loop: keep the best, drop its overlaps from the order, repeat."""
    order = torch.sort(scores, descending=True).indices
    keep = []
    while order.numel() > 0:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        overlaps = _iou(boxes[best][None], boxes[rest])[0]
        order = rest[overlaps <= iou_threshold]
    return torch.tensor(keep, dtype=torch.int64)


def nms_python_lists(boxes, scores, iou_threshold):
    """Plain Python lists and a scalar IoU."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0
    items = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    kept = []
    box_list = boxes.tolist()
    for i in items:
        if all(iou(box_list[i], box_list[k]) <= iou_threshold for k in kept):
            kept.append(i)
    return torch.tensor(kept, dtype=torch.int64)


def nms_greater_equal(boxes, scores, iou_threshold):
    # mistake: >= instead of >
    order = scores.argsort(descending=True)
    iou = _iou(boxes, boxes)
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] >= iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def nms_ascending(boxes, scores, iou_threshold):
    # mistake: the lowest score first
    order = scores.argsort()
    iou = _iou(boxes, boxes)
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def nms_unsorted(boxes, scores, iou_threshold):
    # mistake: index order, no sort
    iou = _iou(boxes, boxes)
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    keep = []
    for i in range(len(scores)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def nms_suppressed_suppress(boxes, scores, iou_threshold):
    # mistake: vectorised, but suppressed boxes still suppress
    order = scores.argsort(descending=True)
    iou = _iou(boxes[order], boxes[order]).triu(diagonal=1)
    keep = ~(iou > iou_threshold).any(dim=0)
    return order[keep]


def nms_index_order(boxes, scores, iou_threshold):
    # mistake: kept indices sorted by index
    return nms_greedy(boxes, scores, iou_threshold).sort().values


def nms_positions(boxes, scores, iou_threshold):
    # mistake: positions in the sorted order instead of indices into boxes
    order = scores.argsort(descending=True)
    sorted_boxes = boxes[order]
    iou = _iou(sorted_boxes, sorted_boxes)
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    keep = []
    for p in range(len(scores)):
        if suppressed[p]:
            continue
        keep.append(p)
        suppressed |= iou[p] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def nms_mask(boxes, scores, iou_threshold):
    # mistake: a boolean mask instead of indices
    mask = torch.zeros(len(scores), dtype=torch.bool)
    mask[nms_greedy(boxes, scores, iou_threshold)] = True
    return mask


def nms_int32(boxes, scores, iou_threshold):
    # mistake: int32 indices
    return nms_greedy(boxes, scores, iou_threshold).int()


def nms_empty_float(boxes, scores, iou_threshold):
    # mistake: torch.tensor([]) is float32 when nothing is kept
    keep = nms_greedy(boxes, scores, iou_threshold).tolist()
    return torch.tensor(keep)


def nms_calls_torchvision(boxes, scores, iou_threshold):
    return torchvision.ops.nms(boxes, scores, iou_threshold)


# ==========================================================================
# spatial_pyramid_pool(features, levels)
# ==========================================================================


# The notebook's solution (F.max_pool2d with the paper's window and stride), loaded from its source.
spp_max_pool = solution("09_detection", "spatial_pyramid_pool")


def _paper_rule(size, n):
    """The paper's window ⌈a/n⌉ and stride ⌊a/n⌋ for a = size."""
    return -(-size // n), size // n


def spp_loops(features, levels=(1, 2, 4)):
    """Bins sliced out one by one: bin i starts at i·stride and is a window wide."""
    N, C, H, W = features.shape
    parts = []
    for n in levels:
        (kh, sh), (kw, sw) = _paper_rule(H, n), _paper_rule(W, n)
        grid = torch.zeros(N, C, n, n)
        for i in range(n):
            for j in range(n):
                grid[:, :, i, j] = features[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].amax(dim=(2, 3))
        parts.append(grid.reshape(N, -1))
    return torch.cat(parts, dim=1)


def spp_unfold(features, levels=(1, 2, 4)):
    """Vectorised: Tensor.unfold makes every window a view, one amax per level."""
    H, W = features.shape[-2:]
    parts = []
    for n in levels:
        (kh, sh), (kw, sw) = _paper_rule(H, n), _paper_rule(W, n)
        windows = features.unfold(2, kh, sh).unfold(3, kw, sw)       # (N, C, n, n, kh, kw)
        parts.append(windows.amax(dim=(-2, -1)).flatten(1))
    return torch.cat(parts, dim=1)


def spp_module(features, levels=(1, 2, 4)):
    """nn.MaxPool2d modules built for this map's size."""
    H, W = features.shape[-2:]
    pools = [torch.nn.MaxPool2d((math.ceil(H / n), math.ceil(W / n)), (math.floor(H / n), math.floor(W / n)))
             for n in levels]
    return torch.cat([torch.flatten(pool(features), start_dim=1) for pool in pools], dim=1)


def _spp_pool(features, levels, *, pool=F.max_pool2d, swap=False, square=False, order=None, channels_last=False,
              ceil_mode=False):
    """The notebook's solution with one knob per mistake (the defaults are correct)."""
    H, W = features.shape[-2:]
    parts = []
    for n in (order(levels) if order else levels):
        (kh, sh), (kw, sw) = _paper_rule(H, n), _paper_rule(H if square else W, n)
        if swap:
            (kh, sh), (kw, sw) = (sh, kh), (sw, kw)
        pooled = pool(features, (kh, kw), (sh, sw), ceil_mode=ceil_mode)
        parts.append(pooled.permute(0, 2, 3, 1).flatten(1) if channels_last else pooled.flatten(1))
    return torch.cat(parts, dim=1)


def spp_average(features, levels=(1, 2, 4)):
    # mistake: average pooling over the same windows
    return _spp_pool(features, levels, pool=F.avg_pool2d)


def spp_reversed(features, levels=(1, 2, 4)):
    # mistake: finest level first
    return _spp_pool(features, levels, order=lambda levels: list(reversed(levels)))


def spp_spatial_major(features, levels=(1, 2, 4)):
    # mistake: channels-last flatten
    return _spp_pool(features, levels, channels_last=True)


def spp_floor_ceil(features, levels=(1, 2, 4)):
    # mistake: window ⌊a/n⌋ and stride ⌈a/n⌉ (floor and ceil exchanged)
    return _spp_pool(features, levels, swap=True)


def spp_square(features, levels=(1, 2, 4)):
    # mistake: the paper's a × a map taken literally: H's window and stride for the columns too
    return _spp_pool(features, levels, square=True)


def spp_ceil_mode(features, levels=(1, 2, 4)):
    # a mistake no hint names: ceil_mode=True rounds the number of windows up, an extra bin where a mod n ≥ 2
    return _spp_pool(features, levels, ceil_mode=True)


def spp_adaptive_by_hand(features, levels=(1, 2, 4)):
    # adaptive pooling's bins written out (⌊i·a/n⌋ … ⌈(i+1)·a/n⌉): not the paper's rule
    N, C, H, W = features.shape
    parts = []
    for n in levels:
        grid = torch.zeros(N, C, n, n)
        for i in range(n):
            for j in range(n):
                h0, h1 = (i * H) // n, -((-(i + 1) * H) // n)
                w0, w1 = (j * W) // n, -((-(j + 1) * W) // n)
                grid[:, :, i, j] = features[:, :, h0:h1, w0:w1].amax(dim=(2, 3))
        parts.append(grid.reshape(N, -1))
    return torch.cat(parts, dim=1)


def spp_adaptive(features, levels=(1, 2, 4)):
    # the one-line answer the exercise used to accept
    return torch.cat([F.adaptive_max_pool2d(features, n).flatten(1) for n in levels], dim=1)


def spp_adaptive_module(features, levels=(1, 2, 4)):
    return torch.cat([torch.nn.AdaptiveMaxPool2d(n)(features).flatten(1) for n in levels], dim=1)


def spp_adaptive_avg(features, levels=(1, 2, 4)):
    return torch.cat([F.adaptive_avg_pool2d(features, n).flatten(1) for n in levels], dim=1)


def spp_no_flatten(features, levels=(1, 2, 4)):
    # mistake: (N, C, Σn²)
    return torch.cat([_spp_pool(features, (n,)).reshape(features.shape[0], features.shape[1], -1) for n in levels],
                     dim=2)


def spp_fixed_levels(features, levels=(1, 2, 4)):
    # mistake: the levels argument ignored
    return _spp_pool(features, (1, 2, 4))


# ==========================================================================
# roi_pool(features, rois, output_size, spatial_scale)
# ==========================================================================


def _c_round(v):
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


roi_pool_loops = solution("09_detection", "roi_pool")   # the notebook's solution, from its source


def roi_pool_vectorised_bins(features, rois, output_size, spatial_scale=1.0):
    """Bin boundaries as tensors, then a masked max per bin."""
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    N, C, H, W = features.shape
    coords = rois[:, 1:] * torch.tensor(spatial_scale, dtype=torch.float32)
    coords = (torch.sign(coords.double()) * torch.floor(coords.double().abs() + 0.5)).long()
    outs = []
    rows, cols = torch.arange(H), torch.arange(W)
    for k in range(rois.shape[0]):
        x1, y1, x2, y2 = coords[k]
        bin_h = (y2 - y1 + 1).clamp(min=1).float() / ph
        bin_w = (x2 - x1 + 1).clamp(min=1).float() / pw
        hs = (torch.floor(torch.arange(ph) * bin_h).long() + y1).clamp(0, H)
        he = (torch.ceil(torch.arange(1, ph + 1) * bin_h).long() + y1).clamp(0, H)
        ws = (torch.floor(torch.arange(pw) * bin_w).long() + x1).clamp(0, W)
        we = (torch.ceil(torch.arange(1, pw + 1) * bin_w).long() + x1).clamp(0, W)
        in_row = (rows[None] >= hs[:, None]) & (rows[None] < he[:, None])     # (ph, H)
        in_col = (cols[None] >= ws[:, None]) & (cols[None] < we[:, None])     # (pw, W)
        mask = in_row[:, None, :, None] & in_col[None, :, None, :]            # (ph, pw, H, W)
        f = features[int(rois[k, 0])]                                          # (C, H, W)
        vals = torch.where(mask[None], f[:, None, None], torch.tensor(float("-inf")))
        best = vals.amax(dim=(-2, -1))
        outs.append(torch.where(torch.isinf(best), torch.zeros(()), best))
    return torch.stack(outs) if outs else features.new_zeros(0, C, ph, pw)


def _roi_variant(variant):
    roi_pool_reference = learner_copy("course_utils.checks.detection.pooling").roi_pool_reference

    def learner(features, rois, output_size, spatial_scale=1.0):
        return roi_pool_reference(features, rois, output_size, spatial_scale, f"roi_pool.{variant}")
    learner.__name__ = f"roi_pool_{variant}"
    return learner


roi_pool_no_scale = _roi_variant("no_scale")          # mistake: spatial_scale ignored
roi_pool_floor = _roi_variant("floor")                # mistake: coordinates floored
roi_pool_torch_round = _roi_variant("torch_round")    # mistake: halves to even
roi_pool_no_round = _roi_variant("no_round")          # mistake: no rounding at all
roi_pool_no_plus_one = _roi_variant("no_plus_one")    # mistake: width x2 − x1
roi_pool_floor_end = _roi_variant("floor_end")        # mistake: bin ends floored
roi_pool_average = _roi_variant("average")            # mistake: mean instead of max
roi_pool_batch_zero = _roi_variant("batch_zero")      # mistake: always image 0
roi_pool_empty_neg_inf = _roi_variant("empty_neg_inf")  # mistake: empty bins −inf


def roi_pool_half_up(features, rois, output_size, spatial_scale=1.0):
    # mistake: torch.floor(v + 0.5), right for v >= 0 only (-0.5 -> 0, -1.5 -> -1), written out
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    N, C, H, W = features.shape
    out = torch.zeros(rois.shape[0], C, ph, pw, dtype=features.dtype)
    corners = torch.floor(rois[:, 1:] * torch.tensor(spatial_scale, dtype=torch.float32) + 0.5).long()
    for k in range(rois.shape[0]):
        x1, y1, x2, y2 = corners[k].tolist()
        bin_h = torch.tensor(float(max(y2 - y1 + 1, 1))) / ph
        bin_w = torch.tensor(float(max(x2 - x1 + 1, 1))) / pw
        for i in range(ph):
            h0 = min(max(int(torch.floor(i * bin_h)) + y1, 0), H)
            h1 = min(max(int(torch.ceil((i + 1) * bin_h)) + y1, 0), H)
            for j in range(pw):
                w0 = min(max(int(torch.floor(j * bin_w)) + x1, 0), W)
                w1 = min(max(int(torch.ceil((j + 1) * bin_w)) + x1, 0), W)
                if h1 > h0 and w1 > w0:
                    out[k, :, i, j] = features[int(rois[k, 0]), :, h0:h1, w0:w1].amax(dim=(1, 2))
    return out


def roi_pool_no_clip_start(features, rois, output_size, spatial_scale=1.0):
    # mistake: bin starts not clipped at 0, so a negative start slices from the end; an empty slice gives 0
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    N, C, H, W = features.shape
    out = torch.zeros(rois.shape[0], C, ph, pw, dtype=features.dtype)
    scale = torch.tensor(spatial_scale, dtype=torch.float32)
    for k in range(rois.shape[0]):
        x1, y1, x2, y2 = [_c_round(float(v)) for v in rois[k, 1:] * scale]
        bin_h = torch.tensor(float(max(y2 - y1 + 1, 1))) / ph
        bin_w = torch.tensor(float(max(x2 - x1 + 1, 1))) / pw
        for i in range(ph):
            h0 = min(int(torch.floor(i * bin_h)) + y1, H)
            h1 = min(max(int(torch.ceil((i + 1) * bin_h)) + y1, 0), H)
            for j in range(pw):
                w0 = min(int(torch.floor(j * bin_w)) + x1, W)
                w1 = min(max(int(torch.ceil((j + 1) * bin_w)) + x1, 0), W)
                window = features[int(rois[k, 0]), :, h0:h1, w0:w1]
                if window.numel():
                    out[k, :, i, j] = window.amax(dim=(1, 2))
    return out


def roi_pool_swapped_size(features, rois, output_size, spatial_scale=1.0):
    # mistake: output_size read as (width, height)
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    return roi_pool_loops(features, rois, (pw, ph), spatial_scale)


def roi_pool_calls_torchvision(features, rois, output_size, spatial_scale=1.0):
    return torchvision.ops.roi_pool(features, rois, output_size, spatial_scale)


# ==========================================================================
# make_anchors(feature_size, stride, sizes, ratios)
# ==========================================================================


anchors_broadcast = solution("09_detection", "make_anchors")   # the notebook's solution, from its source


def anchors_loops(feature_size, stride, sizes, ratios):
    """Python loops in the same order."""
    H, W = feature_size
    base = []
    for r in ratios:
        hr = torch.sqrt(torch.tensor(float(r)))
        wr = 1 / hr
        for s in sizes:
            w, h = wr * s, hr * s
            base.append(torch.round(torch.stack([-w, -h, w, h]) / 2))
    rows = []
    for i in range(H):
        for j in range(W):
            for b in base:
                rows.append(b + torch.tensor([j * stride, i * stride, j * stride, i * stride], dtype=torch.float32))
    return torch.stack(rows)


def anchors_swapped(feature_size, stride, sizes, ratios):
    # mistake: ratio read as width / height
    return anchors_broadcast(feature_size, stride, sizes, [1 / r for r in ratios])


def _anchor_variant(variant):
    anchors_reference = learner_copy("course_utils.checks.detection.anchors").anchors_reference

    def learner(feature_size, stride, sizes, ratios):
        return anchors_reference(feature_size, stride, sizes, ratios, f"make_anchors.{variant}")
    learner.__name__ = f"anchors_{variant}"
    return learner


anchors_area_not_kept = _anchor_variant("area_not_kept")
anchors_size_major = _anchor_variant("size_major")
anchors_full_size = _anchor_variant("full_size_offsets")
anchors_no_round = _anchor_variant("no_round")
anchors_cell_centres = _anchor_variant("cell_centres")
anchors_column_major = _anchor_variant("column_major")
anchors_anchor_major = _anchor_variant("anchor_major")


def anchors_half_up(feature_size, stride, sizes, ratios):
    # mistake: the base anchors rounded with floor(v + 0.5), which takes −7.5 to −7 (torch.round: −8)
    H, W = feature_size
    h_ratios = torch.sqrt(torch.as_tensor(ratios, dtype=torch.float32))
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    ws, hs = (scales[None, :] / h_ratios[:, None]).reshape(-1), (scales[None, :] * h_ratios[:, None]).reshape(-1)
    base = torch.floor(torch.stack([-ws, -hs, ws, hs], dim=1) / 2 + 0.5)
    ys, xs = torch.meshgrid(torch.arange(H, dtype=torch.float32) * stride, torch.arange(W, dtype=torch.float32) * stride,
                            indexing="ij")
    shifts = torch.stack([xs.reshape(-1), ys.reshape(-1), xs.reshape(-1), ys.reshape(-1)], dim=1)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


def anchors_int64(feature_size, stride, sizes, ratios):
    # mistake: integer anchors (the inputs are ints; the corners rounded to whole pixels anyway)
    return anchors_broadcast(feature_size, stride, sizes, ratios).long()


def anchors_grid_shape(feature_size, stride, sizes, ratios):
    # mistake: (H, W, A, 4) not flattened
    H, W = feature_size
    return anchors_broadcast(feature_size, stride, sizes, ratios).reshape(H, W, -1, 4)


# ==========================================================================
# encode_boxes(reference, proposals, weights) / decode_boxes(deltas, anchors, weights)
# ==========================================================================


def _centre(boxes):
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


encode_columns = solution("09_detection", "encode_boxes")   # the notebook's solution, from its source


def encode_vectors(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    """Centres and sizes as (N, 2) tensors."""
    w = torch.tensor(weights, dtype=reference.dtype)
    p_size = proposals[:, 2:] - proposals[:, :2]
    g_size = reference[:, 2:] - reference[:, :2]
    p_ctr = proposals[:, :2] + 0.5 * p_size
    g_ctr = reference[:, :2] + 0.5 * g_size
    return torch.cat([(g_ctr - p_ctr) / p_size, torch.log(g_size / p_size)], dim=1) * w


def _encode_variant(variant):
    encode_reference = learner_copy("course_utils.checks.detection.anchors").encode_reference

    def learner(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
        return encode_reference(reference, proposals, weights, f"encode_boxes.{variant}")
    learner.__name__ = f"encode_{variant}"
    return learner


encode_no_log = _encode_variant("no_log")
encode_no_weights = _encode_variant("no_weights")
encode_divide_weights = _encode_variant("divide_weights")
encode_reference_size = _encode_variant("reference_size")
encode_swapped = _encode_variant("swapped")
encode_corner = _encode_variant("corner")
encode_plus_one = _encode_variant("plus_one")


def encode_no_log_written(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: the ratio, not its log (written out as a learner would)
    wx, wy, ww, wh = weights
    px, py, pw, ph = _centre(proposals)
    gx, gy, gw, gh = _centre(reference)
    return torch.stack([wx * (gx - px) / pw, wy * (gy - py) / ph, ww * (gw / pw), wh * (gh / ph)], dim=1)


def encode_one_weight_per_pair(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: wx for dy too and ww for dh (the weights read as one per pair)
    wx, _, ww, _ = weights
    px, py, pw, ph = _centre(proposals)
    gx, gy, gw, gh = _centre(reference)
    return torch.stack([wx * (gx - px) / pw, wx * (gy - py) / ph, ww * torch.log(gw / pw), ww * torch.log(gh / ph)],
                       dim=1)


def encode_stacks_rows(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: one box at a time, stacked: torch.stack of nothing raises when there is no box
    return torch.stack([encode_columns(g[None], p[None], weights)[0] for g, p in zip(reference, proposals)])


decode_columns = solution("09_detection", "decode_boxes")   # the notebook's solution, from its source


def decode_vectors(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    """(N, 2) centres and sizes."""
    d = deltas / torch.tensor(weights, dtype=deltas.dtype)
    size = anchors[:, 2:] - anchors[:, :2]
    ctr = anchors[:, :2] + 0.5 * size
    new_ctr = ctr + d[:, :2] * size
    new_size = size * torch.exp(torch.clamp(d[:, 2:], max=math.log(1000.0 / 16)))
    return torch.cat([new_ctr - 0.5 * new_size, new_ctr + 0.5 * new_size], dim=1)


def _decode_variant(variant):
    decode_reference = learner_copy("course_utils.checks.detection.anchors").decode_reference

    def learner(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
        return decode_reference(deltas, anchors, weights, f"decode_boxes.{variant}")
    learner.__name__ = f"decode_{variant}"
    return learner


decode_no_exp = _decode_variant("no_exp")
decode_exp_plus = _decode_variant("exp_plus")
decode_no_weights = _decode_variant("no_weights")
decode_multiply_weights = _decode_variant("multiply_weights")
decode_unscaled_offsets = _decode_variant("unscaled_offsets")
decode_centre_form = _decode_variant("centre_form")
decode_no_clamp = _decode_variant("no_clamp")


def decode_no_clamp_written(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: exp without the clamp (written out)
    wx, wy, ww, wh = weights
    ax, ay, aw, ah = _centre(anchors)
    x, y = ax + deltas[:, 0] / wx * aw, ay + deltas[:, 1] / wy * ah
    w, h = aw * torch.exp(deltas[:, 2] / ww), ah * torch.exp(deltas[:, 3] / wh)
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)


def decode_symmetric_clamp(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: dw and dh clamped from below as well
    wx, wy, ww, wh = weights
    ax, ay, aw, ah = _centre(anchors)
    clip = math.log(1000.0 / 16)
    dw, dh = (deltas[:, 2] / ww).clamp(-clip, clip), (deltas[:, 3] / wh).clamp(-clip, clip)
    x, y = ax + deltas[:, 0] / wx * aw, ay + deltas[:, 1] / wy * ah
    w, h = aw * torch.exp(dw), ah * torch.exp(dh)
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)


def decode_clamp_before_weights(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: the raw deltas clamped, then divided by the weights
    clipped = torch.cat([deltas[:, :2], deltas[:, 2:].clamp(max=math.log(1000.0 / 16))], dim=1)
    d = clipped / torch.tensor(weights, dtype=deltas.dtype)
    ax, ay, aw, ah = _centre(anchors)
    x, y = ax + d[:, 0] * aw, ay + d[:, 1] * ah
    w, h = aw * torch.exp(d[:, 2]), ah * torch.exp(d[:, 3])
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)


def decode_one_weight_per_pair(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: wx for dy too and ww for dh (the weights read as one per pair)
    wx, _, ww, _ = weights
    ax, ay, aw, ah = _centre(anchors)
    clip = math.log(1000.0 / 16)
    x, y = ax + deltas[:, 0] / wx * aw, ay + deltas[:, 1] / wx * ah
    w = aw * torch.exp((deltas[:, 2] / ww).clamp(max=clip))
    h = ah * torch.exp((deltas[:, 3] / ww).clamp(max=clip))
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)


def decode_stacks_rows(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    # mistake: one box at a time, stacked: torch.stack of nothing raises when there is no box
    return torch.stack([decode_columns(d[None], a[None], weights)[0] for d, a in zip(deltas, anchors)])
