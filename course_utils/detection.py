"""Detection helpers for notebook 09: boxes from masks, anchor labelling, average precision, warped crops.

Boxes are (x1, y1, x2, y2) in continuous pixel coordinates, as in torchvision: a box around the pixels
of columns 3 … 7 has x1 = 3 and x2 = 8 (pixel j covers [j, j + 1)), so its width x2 − x1 is its number of
columns.  None of these functions is an exercise of the notebook; they use ``torchvision.ops``.
"""

from __future__ import annotations

__all__ = ["connected_components", "boxes_from_mask", "boxes_from_masks", "label_anchors", "average_precision",
           "warp_crops"]


def _grow(labels):
    """The maximum of each pixel's 3 × 3 neighbourhood, as four shifted maxima (faster than max_pool2d)."""
    import torch
    rows = labels.clone()
    rows[..., 1:] = torch.maximum(rows[..., 1:], labels[..., :-1])
    rows[..., :-1] = torch.maximum(rows[..., :-1], labels[..., 1:])
    out = rows.clone()
    out[..., 1:, :] = torch.maximum(out[..., 1:, :], rows[..., :-1, :])
    out[..., :-1, :] = torch.maximum(out[..., :-1, :], rows[..., 1:, :])
    return out


def _region_ids(on, max_iterations=100_000):
    """(N, H, W) bool -> integer ids, one per 8-connected region (0 off), unique across the whole batch.

    Each pixel starts with its own number; every step gives each pixel the largest number among its
    3 × 3 neighbours that are on, until nothing changes (as many steps as the longest path inside a
    region).
    """
    import torch

    n, h, w = on.shape
    dtype = torch.int32 if n * h * w < 2 ** 31 - 1 else torch.int64
    ids = torch.arange(1, n * h * w + 1, dtype=dtype).reshape(n, h, w)
    zero = torch.zeros((), dtype=dtype)
    labels = torch.where(on, ids, zero)
    for _ in range(max_iterations):
        grown = torch.where(on, _grow(labels), zero)
        if torch.equal(grown, labels):
            break
        labels = grown
    return labels.long()


def connected_components(binary):
    """Label the 8-connected regions of a boolean map (H, W) or maps (N, H, W): 0 off, 1 … K in each map.

    The numbering within a map follows each region's last pixel in row-major order.
    """
    import torch

    single = binary.dim() == 2
    on = (binary[None] if single else binary).bool()
    labels = _region_ids(on)
    out = torch.zeros(on.shape, dtype=torch.int64)
    for i in range(on.shape[0]):
        values, inverse = torch.unique(labels[i], return_inverse=True)   # values[0] == 0 when any pixel is off
        out[i] = inverse + (0 if bool((values == 0).any()) else 1)
    return out[0] if single else out


def boxes_from_masks(masks, *, min_area: int = 20, num_classes: int | None = None):
    """:func:`boxes_from_mask` for a batch of masks (N, H, W) at once: a list of N (boxes, labels) pairs."""
    import torch

    masks = torch.as_tensor(masks)
    n, h, w = masks.shape
    num_classes = num_classes or int(masks.max()) + 1
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    found = []   # (image, class, x1, y1, x2, y2) per region
    for c in range(1, num_classes):
        labels = _region_ids(masks == c).reshape(-1)
        on = labels > 0
        if not bool(on.any()):
            continue
        values, inverse = torch.unique(labels[on], return_inverse=True)
        k = values.numel()
        px, py = xs.reshape(1, -1).expand(n, -1).reshape(-1)[on], ys.reshape(1, -1).expand(n, -1).reshape(-1)[on]
        area = torch.zeros(k, dtype=torch.int64).scatter_add_(0, inverse, torch.ones_like(inverse))
        big = torch.full((k,), h + w, dtype=torch.int64)
        x1 = big.clone().scatter_reduce_(0, inverse, px, "amin")
        y1 = big.clone().scatter_reduce_(0, inverse, py, "amin")
        x2 = torch.full((k,), -1, dtype=torch.int64).scatter_reduce_(0, inverse, px, "amax") + 1
        y2 = torch.full((k,), -1, dtype=torch.int64).scatter_reduce_(0, inverse, py, "amax") + 1
        image = ((values - 1) // (h * w)).long()
        keep = area >= min_area
        found.append(torch.stack([image, torch.full_like(image, c), x1, y1, x2, y2], dim=1)[keep])
    rows = torch.cat(found) if found else torch.zeros(0, 6, dtype=torch.int64)
    out = []
    for i in range(n):
        mine = rows[rows[:, 0] == i]
        mine = mine[torch.argsort(mine[:, 1] * (h + 1) * (w + 1) + mine[:, 3] * (w + 1) + mine[:, 2], stable=True)]
        out.append((mine[:, 2:].float(), mine[:, 1].clone()))
    return out


def boxes_from_mask(mask, *, min_area: int = 20):
    """Boxes of the visible regions of each class in a segmentation mask (H, W) of class indices.

    Each 8-connected region of one class (background 0 excluded) with at least ``min_area`` pixels gives
    one box (x1, y1, x2, y2) around its pixels (x2 = last column + 1) and its class; boxes are ordered
    by class, then top to bottom.  Returns ``(boxes (K, 4) float32, labels (K,) int64)``.  Two touching
    objects of the same class form one region, and an object cut in two by another in front of it forms
    two: these are boxes of what is *visible*, not of the objects as they were drawn.
    """
    import torch
    return boxes_from_masks(torch.as_tensor(mask)[None], min_area=min_area)[0]


def label_anchors(anchors, truth, *, high: float = 0.7, low: float = 0.3):
    """Faster R-CNN's labels for training a region proposal network (Ren et al., 2015, section 3.1.2).

    An anchor is positive (1) when its IoU with some true box is above ``high``, or when it is the
    anchor (or one of the anchors, on ties) with the highest IoU for some true box; negative (0) when its
    IoU with every true box is below ``low``; ignored (−1) otherwise.  Returns ``(labels (A,) int64,
    matched (A,) int64)``: ``matched`` is the index of the true box of highest IoU (0 when there is none).
    """
    import torch
    from torchvision.ops import box_iou

    A = anchors.shape[0]
    if truth.shape[0] == 0:
        return torch.zeros(A, dtype=torch.int64), torch.zeros(A, dtype=torch.int64)
    iou = box_iou(anchors, truth)                       # (A, G)
    best, matched = iou.max(dim=1)
    labels = torch.full((A,), -1, dtype=torch.int64)
    labels[best < low] = 0
    labels[best >= high] = 1
    best_per_truth = iou.max(dim=0).values              # (G,)
    is_best = (iou == best_per_truth[None]) & (best_per_truth[None] > 0)
    labels[is_best.any(dim=1)] = 1
    return labels, matched


def average_precision(detections, truths, *, iou_threshold: float = 0.5):
    """Class-agnostic average precision over a set of images, and the recall reached.

    ``detections``: one ``(boxes (D, 4), scores (D,))`` pair per image; ``truths``: one (G, 4) tensor of
    true boxes per image.  All detections are ranked by score; going down the list, a detection is a true
    positive when its IoU with a not yet matched true box of its image is at least ``iou_threshold``
    (the box of highest IoU is taken), else a false positive (PASCAL VOC's rule).  AP is the area under
    the precision–recall curve after making precision non-increasing (VOC 2010's all-point
    interpolation).  Returns ``dict(ap=..., recall=..., precision_curve=..., recall_curve=...)``: AP and the
    final recall as floats, and the curves (one point per ranked detection) as 1-D tensors.
    """
    import torch
    from torchvision.ops import box_iou

    total = sum(int(t.shape[0]) for t in truths)
    records = []   # (score, image, detection index)
    for image, (_, scores) in enumerate(detections):
        records += [(float(s), image, k) for k, s in enumerate(scores.tolist())]
    records.sort(key=lambda r: -r[0])
    used = [torch.zeros(t.shape[0], dtype=torch.bool) for t in truths]
    ious = [box_iou(boxes.float(), truths[i].float()) if truths[i].numel() else None
            for i, (boxes, _) in enumerate(detections)]
    hits = []
    for _, image, k in records:
        hit = False
        if ious[image] is not None:
            row = ious[image][k].clone()
            row[used[image]] = -1
            j = int(row.argmax())
            if row[j] >= iou_threshold:
                used[image][j] = True
                hit = True
        hits.append(hit)
    if total == 0 or not hits:
        empty = torch.zeros(0)
        return dict(ap=0.0, recall=0.0, precision_curve=empty, recall_curve=empty)
    tp = torch.tensor(hits, dtype=torch.float64).cumsum(0)
    precision = tp / torch.arange(1, len(hits) + 1, dtype=torch.float64)
    recall = tp / total
    # all-point interpolation: precision made non-increasing from the right
    envelope = torch.flip(torch.cummax(torch.flip(precision, [0]), 0).values, [0])
    steps = torch.diff(torch.cat([torch.zeros(1, dtype=torch.float64), recall]))
    ap = float((steps * envelope).sum())
    return dict(ap=ap, recall=float(recall[-1]), precision_curve=precision.float(), recall_curve=recall.float())


def warp_crops(image, boxes, size: int = 227, *, context: int = 0):
    """R-CNN's input: each box cut out of ``image`` (C, H, W) and *warped* (stretched, aspect ratio lost)
    to ``size`` × ``size`` with bilinear interpolation.  ``context`` pixels are added around each box
    first (R-CNN used 16, at the warped scale; here at the image's scale), clipped to the image.
    Returns (K, C, size, size).
    """
    import torch
    import torch.nn.functional as F

    C, H, W = image.shape
    crops = []
    for x1, y1, x2, y2 in boxes.tolist():
        x1, y1 = max(int(x1) - context, 0), max(int(y1) - context, 0)
        x2, y2 = min(int(round(x2)) + context, W), min(int(round(y2)) + context, H)
        patch = image[:, y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
        crops.append(F.interpolate(patch[None], size=(size, size), mode="bilinear", align_corners=False)[0])
    return torch.stack(crops) if crops else image.new_zeros(0, C, size, size)
