# %% [markdown]
# # 09 · Detection: from R-CNN to Faster R-CNN
#
# Segmentation (notebooks 06–08) labels every pixel. **Object detection** answers a different question:
# *which objects are in the image, and where* — a list of boxes, each with a class and a score. Between
# 2014 and 2015 four papers turned a CNN classifier into a detector, each removing the slowest part of the
# one before:
#
# | paper | the idea | what was slow before |
# |---|---|---|
# | **R-CNN** (Girshick, Donahue, Darrell & Malik, CVPR 2014) | run a CNN on each of ~2,000 *region proposals*, warped to 227 × 227 | — |
# | **SPPNet** (He, Zhang, Ren & Sun, ECCV 2014) | run the CNN *once*; pool each region's features to a fixed length with a *spatial pyramid* | 2,000 CNN passes per image |
# | **Fast R-CNN** (Girshick, ICCV 2015) | *RoI pooling* and one network trained end to end with a multi-task loss | multi-stage training, features cached on disk |
# | **Faster R-CNN** (Ren, He, Girshick & Sun, NIPS 2015) | a *region proposal network* on the same features, with *anchors* | proposals from selective search, on the CPU |
#
# **You will**
# 1. measure overlap with `box_iou` and remove duplicates with non-maximum suppression (`nms`);
# 2. see R-CNN's warped crops and time R-CNN's per-region CNN against one shared CNN pass;
# 3. implement SPPNet's `spatial_pyramid_pool` and Fast R-CNN's `roi_pool`;
# 4. generate Faster R-CNN's anchors, and encode and decode boxes relative to them;
# 5. train a tiny region proposal network on the course's shapes and measure its recall and average
#    precision against boxes known from the masks — a toy, not a detector.
#
# Every exercise is compared with an independent reference: torchvision's implementation of the same operation,
# or (spatial pyramid pooling) the paper's bins written out one by one. Exercises work as
# before: replace `raise NotImplementedError()`, run the cell, run the check. The training demonstration
# carries no points, and the autograder skips it.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator

from course_utils import data, detection, plots, train
from course_utils.checks import (check_box_iou, check_decode_boxes, check_encode_boxes, check_make_anchors,
                                 check_nms, check_roi_pool, check_spatial_pyramid_pool)

device = train.pick_device()  # CUDA when available, else the CPU: chosen once
print("device:", device)

# %% [markdown]
# ## 1. Boxes, and the boxes of the course's images
#
# A box is four numbers $(x_1, y_1, x_2, y_2)$: the top-left and the bottom-right corner, in pixels, $x$
# to the right and $y$ down — torchvision's format. Coordinates are *continuous*: pixel $j$ covers
# $[j, j+1)$, so a box around columns 3 … 7 has $x_1 = 3$, $x_2 = 8$ and width $x_2 - x_1 = 5$. (Old
# Caffe and MATLAB code counted $x_2 - x_1 + 1$ pixels; torchvision does not.)
#
# To detect, we need images whose boxes we know. The course has two: the real **coins** photo with its
# mask, and the generated **shapes** set (discs, squares, triangles on textured backgrounds). Their
# masks give boxes: each connected region of one class is an object, and its box is the smallest one
# around its pixels (`detection.boxes_from_mask`). On the shapes this is the box of what is *visible*:
# two touching objects of the same class become one box, and an object cut in two by another becomes two.
# (In the test image below, the large "disc" box holds two touching discs.)

# %%
coins_image, coins_mask = data.load_segmentation_photo("coins")          # (3, 303, 384), (303, 384)
coin_boxes, _ = detection.boxes_from_mask(coins_mask)
train_set, test_set = data.load_segmentation("train"), data.load_segmentation("test")
shape_image, shape_mask = test_set[3]
shape_boxes, shape_labels = detection.boxes_from_mask(shape_mask)
names = [data.SEGMENTATION_CLASSES[int(c)] for c in shape_labels]

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw=dict(width_ratios=[384 / 303, 1]))
plots.show_boxes(coins_image, coin_boxes, ax=axes[0], title=f"coins: {len(coin_boxes)} boxes from the mask")
plots.show_boxes(shape_image, shape_boxes, labels=names, ax=axes[1], color="C3",
                 title=f"shapes test image 3: {len(shape_boxes)} boxes")
plt.show()

# %% [markdown]
# ## 2. Intersection over union
#
# How well does a predicted box match a true one? Detection's standard measure is the **intersection
# over union** (IoU, the Jaccard index of the two boxes as sets of points):
#
# $$\text{IoU}(A, B) = \frac{|A \cap B|}{|A \cup B|} = \frac{|A \cap B|}{|A| + |B| - |A \cap B|}.$$
#
# The intersection of two boxes is a box again: its top-left corner is the larger of the two top-left
# corners, its bottom-right the smaller of the two bottom-right corners. When the boxes do not overlap,
# that "box" has a negative width or height — which must become 0, or two negative sides multiply into
# a positive area. IoU is 1 for identical boxes and 0 for disjoint (or merely touching) ones; PASCAL VOC
# counts a detection as correct when its IoU with a true box is at least 0.5.
#
# ### Exercise 1 — `box_iou`
#
# `box_iou(boxes1, boxes2) -> (N, M)`: boxes1 (N, 4) and boxes2 (M, 4) as $(x_1, y_1, x_2, y_2)$; entry
# $(i, j)$ is the IoU of box $i$ of boxes1 and box $j$ of boxes2. Broadcast (`boxes1[:, None, :]` against
# `boxes2[None, :, :]`) rather than loop. N = 0 or M = 0 must give an empty (0, M) or (N, 0) answer. The
# check compares with `torchvision.ops.box_iou` (which you may not call) on random boxes, on disjoint,
# touching, nested, identical and zero-area boxes, and on an empty input.

# %% solution="box_iou"
def box_iou(boxes1, boxes2):
    """IoU of every box in boxes1 (N, 4) with every box in boxes2 (M, 4): (N, M)."""
    ### BEGIN SOLUTION
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])   # (N,)
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])   # (M,)
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])                # (N, M, 2) top-left of the overlap
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])                # (N, M, 2) bottom-right
    wh = (rb - lt).clamp(min=0)                                             # no overlap: 0, not negative
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area1[:, None] + area2[None, :] - inter)
    ### END SOLUTION


# %%
check_box_iou(box_iou)

# %% tests="box_iou_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_box_iou(box_iou, strict=True)
### BEGIN HIDDEN TESTS
check_box_iou(box_iou, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Three pairs of boxes on the coins photo: a coin's true box (orange) against a shifted, a shrunk and a
# far-away box (blue), the intersection shaded:

# %%
if check_box_iou(box_iou):
    truth = coin_boxes[4:5]
    candidates = torch.stack([truth[0] + torch.tensor([15.0, 10.0, 15.0, 10.0]),
                              truth[0] + torch.tensor([8.0, 8.0, -8.0, -8.0]),
                              truth[0] + torch.tensor([70.0, 0.0, 70.0, 0.0])])
    ious = box_iou(truth, candidates)[0]
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, box, iou in zip(axes, candidates, ious):
        x1, y1 = torch.max(truth[0, :2], box[:2])
        x2, y2 = torch.min(truth[0, 2:], box[2:])
        region = torch.cat([truth, box[None]])
        view = torch.stack([region[:, 0].min() - 30, region[:, 1].min() - 30,
                            region[:, 2].max() + 30, region[:, 3].max() + 30]).clamp(min=0).int().tolist()
        crop = coins_image[:, view[1]:view[3], view[0]:view[2]]
        shift = torch.tensor([view[0], view[1], view[0], view[1]], dtype=torch.float32)
        plots.show_boxes(crop, torch.stack([truth[0], box]) - shift, color=["C1", "C0"], ax=ax,
                         title=f"IoU {iou:.2f}")
        if x2 > x1 and y2 > y1:
            plots.show_boxes(crop, torch.stack([x1, y1, x2, y2])[None] - shift, ax=ax, fill=True, alpha=0.35,
                             color="C2")
    plt.show()
else:
    print("Finish Exercise 1 to see IoU on the coins.")

# %% [markdown]
# ## 3. Non-maximum suppression
#
# A detector scores many boxes, and the boxes around one object overlap heavily: without a clean-up,
# every coin would be found ten times. **Greedy non-maximum suppression** keeps the best box of each
# cluster:
#
# 1. sort the boxes by score, highest first;
# 2. take the best remaining box and keep it;
# 3. remove every remaining box whose IoU with it is **greater than** the threshold;
# 4. repeat until no box remains.
#
# A box removed in step 3 removes nothing itself: if A suppresses B, and B overlaps C but A does not, C
# survives. R-CNN, Fast and Faster R-CNN all use this rule (Faster R-CNN with IoU 0.7 among the proposals).
#
# About **ties**: torchvision's CPU code visits equal scores in index order, lower index first (the course's
# tests confirm it on random inputs full of ties), but its documentation warns that for boxes of exactly
# equal score the result is not guaranteed to be the same on CPU and GPU. The check therefore accepts any
# order among exactly tied kept boxes, and builds its tie cases so that the *set* of kept boxes does not
# depend on that order.
#
# ### Exercise 2 — `nms`
#
# `nms(boxes, scores, iou_threshold) -> indices`: boxes (N, 4), scores (N,); return the indices (int64,
# into `boxes`) of the kept boxes, in decreasing score order — the order in which they are kept. Suppress
# when IoU > `iou_threshold` (a box at exactly the threshold stays). An empty input returns an empty int64
# tensor. Use `torchvision.ops.box_iou` for the overlaps, so that this exercise stands on its own (you
# wrote the same function above). The check compares with `torchvision.ops.nms` (which you may not call):
# a chain of boxes, an IoU exactly at the threshold, tied scores, an empty input.

# %% solution="nms"
def nms(boxes, scores, iou_threshold):
    """Greedy non-maximum suppression: int64 indices of the kept boxes, best first."""
    ### BEGIN SOLUTION
    order = scores.argsort(descending=True, stable=True)
    iou = torchvision.ops.box_iou(boxes, boxes)                 # (N, N)
    suppressed = torch.zeros(len(scores), dtype=torch.bool, device=boxes.device)   # on the boxes' device
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold                    # strictly greater: the threshold itself stays
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)
    ### END SOLUTION


# %%
check_nms(nms)

# %% tests="nms_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_nms(nms, strict=True)
### BEGIN HIDDEN TESTS
check_nms(nms, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# A simulated detector on the coins: twelve noisy boxes around each coin (corners moved by 6 % of the
# coin's size, at random), each scored by its IoU with the coin plus a little noise. NMS at IoU 0.5:

# %%
if check_nms(nms):
    g = torch.Generator().manual_seed(0)
    noisy = coin_boxes.repeat_interleave(12, dim=0)
    size = (noisy[:, 2:] - noisy[:, :2]).repeat(1, 2)
    noisy = noisy + 0.06 * size * torch.randn(noisy.shape, generator=g)
    noisy = torch.cat([noisy[:, :2].minimum(noisy[:, 2:]), noisy[:, :2].maximum(noisy[:, 2:])], dim=1)
    fit = torchvision.ops.box_iou(noisy, coin_boxes).max(dim=1).values
    noisy_scores = fit + 0.05 * torch.rand(len(noisy), generator=g)
    kept = nms(noisy, noisy_scores, 0.5)
    best_iou, which = torchvision.ops.box_iou(noisy[kept], coin_boxes).max(dim=1)
    print(f"{len(noisy)} boxes → {len(kept)} kept, on {which.unique().numel()} different coins of {len(coin_boxes)}; "
          f"median IoU with their coin: {fit.median():.2f} before, {best_iou.median():.2f} after")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    plots.show_boxes(coins_image, noisy, ax=axes[0], linewidth=0.6, title=f"before NMS: {len(noisy)} boxes")
    plots.show_boxes(coins_image, noisy[kept], ax=axes[1], title=f"after NMS: {len(kept)} boxes")
    plt.show()
else:
    print("Finish Exercise 2 to see NMS on the coins.")

# %% [markdown]
# ## 4. R-CNN: a CNN on every region proposal
#
# R-CNN (*Rich feature hierarchies for accurate object detection and semantic segmentation*, CVPR 2014)
# put a CNN classifier to work on detection in four steps:
#
# 1. **Region proposals.** *Selective search* (Uijlings et al., 2013), a method without learning that
#    repeatedly merges similar neighbouring regions of an over-segmented image, proposes about 2,000 boxes
#    per image that may contain an object.
# 2. **Warping.** Each proposal, enlarged so that 16 pixels of context surround it after warping, is cut
#    out and *warped* — stretched, whatever its aspect ratio — to the CNN's 227 × 227 input.
# 3. **Features.** An AlexNet-style CNN, pre-trained on ImageNet classification and fine-tuned on warped
#    proposals, turns each crop into a 4,096-dimensional feature vector.
# 4. **Decisions.** One linear SVM per class scores each vector; greedy NMS per class removes duplicates;
#    a class-specific linear **box regression** (its appendix C) moves each kept box closer to the object.
#
# It raised the mean average precision on PASCAL VOC 2012 by more than 30 % relative to the best earlier
# result, to 53.3 %. Its cost is step 3: 2,000 CNN passes per image (the paper gives 13 s per image on
# a GPU for the proposals and their features). Here are R-CNN's inputs for a few proposals on the coins
# photo — four true coin boxes, and four boxes of chosen shapes (one wide, one tall) at random places —
# warped to 227 × 227:

# %%
g = torch.Generator().manual_seed(1)
corner = torch.rand(4, 2, generator=g) * torch.tensor([250.0, 170.0])
sides = torch.tensor([[110.0, 40.0], [40.0, 110.0], [70.0, 55.0], [50.0, 80.0]])   # a wide, a tall, two others
random_boxes = torch.cat([corner, corner + sides], dim=1)                          # inside the photo
proposals = torch.cat([coin_boxes[[0, 7, 13, 20]], random_boxes])
crops = detection.warp_crops(coins_image, proposals, size=227, context=4)     # (8, 3, 227, 227)
plots.show_boxes(coins_image, proposals, color=["C1"] * 4 + ["C0"] * 4, labels=list(range(8)))
plt.title("8 proposals: 4 coins (orange), 4 other boxes (blue)")
plt.show()
sizes = [f"{k}: {round(float(b[2] - b[0]))}×{round(float(b[3] - b[1]))} px" for k, b in enumerate(proposals)]
plots.show_images(crops, sizes, ncols=8, size=1.7)
plt.show()

# %% [markdown]
# Each crop (its box's size above it) is stretched to the same 227 × 227 square, whatever its shape: the wide
# box 4 (110 × 40) is stretched far more in height than in width, so what it holds looks squeezed sideways;
# the tall box 5 (40 × 110) the other way round. Around each box
# the demo adds 4 pixels of the photo (`context=4`, at the photo's scale). R-CNN measured its 16 pixels of
# context at the *warped* scale instead (the box fills the middle 195 of the 227 pixels): 16 · w / 195
# image pixels for a box w pixels wide, about 4 for a 50-pixel coin.
#
# What does it cost to run a CNN on every crop instead of once on the whole image? Below, a small
# convolutional network (five convolutions, two poolings, random weights: only its cost matters here) runs on
# 100 warped 64 × 64 crops, against a single pass over the whole photo followed by cutting each box out of
# the *feature map* — SPPNet's and Fast R-CNN's idea, sections 5 and 6.

# %%
torch.manual_seed(0)
features_net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()).to(device).eval()   # stride 4
REGIONS = 100
g = torch.Generator().manual_seed(2)
corner = torch.rand(REGIONS, 2, generator=g) * torch.tensor([300.0, 220.0])
many = torch.cat([corner, corner + 16 + torch.rand(REGIONS, 2, generator=g) * 64], dim=1)  # inside the photo
image = coins_image[None].to(device)


def timed(fn, repeats=3):
    """The fastest of a few runs, in seconds (the first run also warms up)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


if train.autograding():   # a demonstration without points: nbgrader's autograder skips it
    print("Skipped while the autograder runs.")
else:
    with torch.no_grad():
        crops_64 = detection.warp_crops(coins_image, many, size=64).to(device)            # (100, 3, 64, 64)
        per_region = timed(lambda: features_net(crops_64))
        rois = torch.cat([torch.zeros(REGIONS, 1), many], dim=1).to(device)
        shared = timed(lambda: torchvision.ops.roi_pool(features_net(image), rois, 16, spatial_scale=1 / 4))
        shared_map = features_net(image)
        pooling = timed(lambda: torchvision.ops.roi_pool(shared_map, rois, 16, spatial_scale=1 / 4))
    covered = float((many[:, 2:] - many[:, :2]).prod(dim=1).sum())
    print(f"R-CNN style, one CNN pass per region:   {per_region * 1000:7.1f} ms for {REGIONS} regions: "
          f"{REGIONS} × 64² = {REGIONS * 64 * 64:,} pixels")
    print(f"one CNN pass over the image + RoI pool: {shared * 1000:7.1f} ms, of which RoI pooling "
          f"{pooling * 1000:.1f} ms: 303 × 384 = {303 * 384:,} pixels")
    print(f"shared pass {per_region / shared:.1f}× faster, on {REGIONS * 64 * 64 / (303 * 384):.1f}× fewer pixels; "
          f"the boxes cover {covered / (303 * 384):.1f}× the photo's area (overlaps counted again)")

# %% [markdown]
# The speed-up printed above depends on the machine and its load; most of it is the number of pixels the
# CNN has to process. Per region, R-CNN's way warps each box to a fixed size (small boxes are enlarged) and
# processes pixels that overlapping boxes share again and again; the shared pass processes each pixel of the
# photo once. The ratio grows with the number of proposals: the convolutional pass is shared and costs the
# same for 20 proposals or 2,000; only RoI pooling grows with their number, far more slowly than 2,000 CNN
# passes would.
#
# ## 5. SPPNet: a fixed-length vector from any size
#
# Convolutions accept any input size; the fully connected layers after them do not — they need a fixed
# number of inputs. That is why R-CNN warps every crop to 227 × 227. He, Zhang, Ren and Sun (*Spatial
# Pyramid Pooling in Deep Convolutional Networks for Visual Recognition*, ECCV 2014) put a **spatial
# pyramid pooling** layer between the two: it max-pools the last feature map (C channels, any H × W)
# into a fixed grid of bins at several levels — 1 × 1, 2 × 2, 4 × 4, … — and concatenates the results.
# Whatever H and W, the output has
#
# $$C \cdot \sum_{n \in \text{levels}} n^2 \quad\text{numbers; for levels } (1, 2, 4):\ 21\,C.$$
#
# For detection, SPPNet computes the convolutional feature map of the whole image **once** and pools each
# proposal's window of it; it reports detection 24–102 × faster than R-CNN at comparable accuracy (He et al.,
# ECCV 2014, the conference version; Pascal VOC 2007).
#
# **Bins: the paper's rule.** The paper builds each level as an ordinary max pool over the a × a map, with
# window ⌈a/n⌉ and stride ⌊a/n⌋. Write a = q·n + r with 0 ≤ r < n: the window is q + 1 cells (q when r = 0)
# and the stride q, so neighbouring windows overlap by one cell and the n-th window ends at cell n·q + 1 —
# when r ≥ 2 the last r − 1 rows are never pooled. A max pool fits ⌊(a − ⌈a/n⌉) / ⌊a/n⌋⌋ + 1 windows: n
# when r ≤ q, but n + ⌊(r − 1)/q⌋ when r > q (a = 7, n = 4: window 2, stride 1, six windows), and none when
# a < n (stride 0). So the rule, taken as written, gives an n × n grid only for some sizes. **This exercise
# follows the paper, and uses only maps whose height and width give exactly n bins at every level**
# (a ≥ n and a mod n ≤ ⌊a/n⌋); every case of the check does.
#
# **Adaptive pooling** (`F.adaptive_max_pool2d`) uses another rule: bin i of n covers cells ⌊i·a/n⌋ to
# ⌈(i + 1)·a/n⌉ − 1 — always n bins, covering the whole map. The two rules agree when a mod n is 0 or 1, as
# on the paper's 13 × 13 map with levels 6, 3, 2 and 1; they differ when a mod n ≥ 2: for a = 10 and n = 4
# the paper's windows start at rows 0, 2, 4, 6 (row 9 is never pooled), adaptive pooling's at 0, 2, 5, 7.
#
# ### Exercise 3 — `spatial_pyramid_pool`
#
# `spatial_pyramid_pool(features, levels=(1, 2, 4)) -> (N, C·Σn²)`: for each n in `levels`, in that order,
# max-pool features (N, C, H, W) with the paper's rule along each axis — window ⌈H/n⌉ × ⌈W/n⌉, stride
# ⌊H/n⌋ × ⌊W/n⌋ (`F.max_pool2d` is allowed, and so are slices) — flatten to (N, C·n²) with `.flatten(1)`
# (channel by channel), and concatenate along dim 1. You may assume that H and W give exactly n bins at every
# level. Adaptive pooling (`F.adaptive_max_pool2d`, `nn.AdaptiveMaxPool2d` and their average versions) is
# refused while your code runs, and every public case has a size where its bins differ from the paper's, so
# adaptive bins written out by hand fail too. The check compares with the paper's bins sliced out one by one,
# on H ≠ W, batches and channels > 1 and custom levels; hidden: the paper's 13 × 13 map with levels
# (6, 3, 2, 1), larger maps.

# %% solution="spatial_pyramid_pool"
def spatial_pyramid_pool(features, levels=(1, 2, 4)):
    """Max-pool (N, C, H, W) to an n × n grid for each level by SPPNet's rule, and concatenate: (N, C·Σn²)."""
    ### BEGIN SOLUTION
    H, W = features.shape[-2:]
    pooled = []
    for n in levels:
        window = (math.ceil(H / n), math.ceil(W / n))
        stride = (H // n, W // n)
        pooled.append(F.max_pool2d(features, window, stride).flatten(1))   # (N, C·n²)
    return torch.cat(pooled, 1)   # (N, C·Σn²)
    ### END SOLUTION


# %%
check_spatial_pyramid_pool(spatial_pyramid_pool)

# %% tests="spatial_pyramid_pool_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_spatial_pyramid_pool(spatial_pyramid_pool, strict=True)
### BEGIN HIDDEN TESTS
check_spatial_pyramid_pool(spatial_pyramid_pool, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Where the two rules part: the rows each bin covers, by the paper's rule (every window a max pool fits) and by
# adaptive pooling.

# %%
def paper_windows(a, n):
    """How many windows of ⌈a/n⌉ cells, ⌊a/n⌋ apart, fit in a cells (0 when a < n: the stride would be 0)."""
    return (a - math.ceil(a / n)) // (a // n) + 1 if a >= n else 0


for a, n in [(13, 3), (10, 4), (7, 4)]:
    window, stride, fits = math.ceil(a / n), a // n, paper_windows(a, n)
    paper = [f"{i * stride}–{i * stride + window - 1}" for i in range(fits)]
    adaptive = [f"{i * a // n}–{-(-(i + 1) * a // n) - 1}" for i in range(n)]
    print(f"a = {a:>2}, n = {n}: paper ({fits} windows) {', '.join(paper)};  adaptive {', '.join(adaptive)}")

# %% [markdown]
# The same network on inputs of four sizes. Where the feature map gives n × n bins at every level, your layer
# pools it to one vector length, the formula's; where it does not (the 6 × 8 map: 6 rows give 5 windows at
# level 4), adaptive pooling still does — which is why re-implementations of SPP, and torchvision's models,
# pool adaptively.

# %%
pyramid = (1, 2, 4)
pooled_by_you = check_spatial_pyramid_pool(spatial_pyramid_pool)
with torch.no_grad():
    for h, w in [(64, 64), (48, 100), (300, 200), (27, 33)]:
        fmap = features_net(torch.rand(1, 3, h, w, device=device)).cpu()
        H, W = fmap.shape[-2:]
        windows = [tuple(paper_windows(a, n) for a in (H, W)) for n in pyramid]   # (rows, columns) per level
        where = f"input {h:>3} × {w:<3} → feature map {tuple(fmap.shape[1:])}"
        if all(size == (n, n) for size, n in zip(windows, pyramid)):
            if pooled_by_you:
                vector = spatial_pyramid_pool(fmap, pyramid)
                print(f"{where} → your vector of {vector.shape[1]:,} (formula: {fmap.shape[1]} · 21 = "
                      f"{fmap.shape[1] * 21:,})")
            else:
                print(f"{where}: n × n bins at every level (finish Exercise 3 to pool it)")
        else:
            grids = ", ".join(f"{size} at level {n}" for size, n in zip(windows, pyramid))
            adaptive = torch.cat([F.adaptive_max_pool2d(fmap, n).flatten(1) for n in pyramid], dim=1)
            print(f"{where}: the paper's rule gives grids {grids}; adaptive pooling, a vector of "
                  f"{adaptive.shape[1]:,}")

# %% [markdown]
# ## 6. Fast R-CNN: RoI pooling and one network trained at once
#
# R-CNN and SPPNet trained in stages — fine-tune the CNN, cache features on disk, train SVMs, train box
# regressors — and SPPNet's fine-tuning could not update the layers below its pyramid. Girshick's
# **Fast R-CNN** (ICCV 2015) trains everything together:
#
# - **RoI pooling** is a one-level spatial pyramid on each region of interest: the proposal's box, scaled
#   by the feature map's stride (`spatial_scale`, 1/16 for VGG-16), is divided into a fixed grid (7 × 7 for
#   VGG-16), and each cell is max-pooled. Gradients flow through it to the shared convolutions.
# - **Single-pass training.** A mini-batch takes 2 images and 64 RoIs from each: the RoIs of one image
#   share its convolutional computation, so training is fast (the paper: VGG-16 trained 9 × faster than
#   R-CNN, and tested 213 × faster).
# - **Multi-task loss.** Two heads on each RoI's features: a softmax over K + 1 classes (background
#   included), and per class four box-regression offsets $t^k$. For a RoI of true class $u$ and
#   regression target $v$:
#
#   $$L = L_\text{cls}(p, u) + \lambda\,[u \ge 1]\,L_\text{loc}(t^u, v),\qquad L_\text{loc} = \sum_{i \in
#   \{x, y, w, h\}} \text{smooth}_{L_1}(t^u_i - v_i),$$
#
#   with the log loss for $L_\text{cls}$, $\lambda = 1$, no box loss for the background ($u = 0$), and
#   $\text{smooth}_{L_1}(x) = 0.5x^2$ if $|x| < 1$, else $|x| - 0.5$ (less sensitive to outliers than
#   the squared loss).
#
# **torchvision's exact rule** (its CPU kernel, which the check follows): scale the roi's corners and
# round them to the nearest cell with C's `round` (halves away from zero: 2.5 → 3 — `torch.round` rounds
# halves to *even*, 2.5 → 2); the roi covers cells $x_1 \dots x_2$ inclusive, so its width is
# $x_2 - x_1 + 1$ (at least 1); with $b = h / p_h$ (in float32), bin $i$ covers rows
# $y_1 + \lfloor i b \rfloor$ to $y_1 + \lceil (i+1) b \rceil - 1$, clipped to the map; an empty bin gives 0.
#
# ### Exercise 4 — `roi_pool`
#
# `roi_pool(features, rois, output_size, spatial_scale=1.0) -> (K, C, ph, pw)`: features (N, C, H, W);
# rois (K, 5), rows (batch_index, x1, y1, x2, y2) in image coordinates; `output_size` an int or (ph, pw).
# Loops over rois and bins are fine. Round with `torch.sign(v) * torch.floor(v.abs() + 0.5)` (C's `round`).
# Coordinates may be negative; clip every bin to [0, H) and [0, W) (a negative start would slice from the
# end in Python). The check compares with `torchvision.ops.roi_pool` (which you may not call) on non-integer
# coordinates, exact halves, negative coordinates, `spatial_scale` 1/2 and 1/16, a roi partly off the map,
# and (hidden) a roi entirely off the map and a malformed one (x2 < x1).

# %% solution="roi_pool"
def roi_pool(features, rois, output_size, spatial_scale=1.0):
    """Max-pool each roi's window of the feature map to a fixed grid: (K, C, ph, pw)."""
    ### BEGIN SOLUTION
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    N, C, H, W = features.shape
    out = features.new_zeros(rois.shape[0], C, ph, pw)
    scaled = rois[:, 1:] * torch.tensor(spatial_scale, dtype=torch.float32)
    corners = (torch.sign(scaled) * torch.floor(scaled.abs() + 0.5)).long()    # C's round: halves away from 0
    for k in range(rois.shape[0]):
        b = int(rois[k, 0])
        x1, y1, x2, y2 = corners[k].tolist()
        bin_h = torch.tensor(float(max(y2 - y1 + 1, 1))) / ph                   # float32, as torchvision
        bin_w = torch.tensor(float(max(x2 - x1 + 1, 1))) / pw
        for i in range(ph):
            h0 = min(max(int(torch.floor(i * bin_h)) + y1, 0), H)
            h1 = min(max(int(torch.ceil((i + 1) * bin_h)) + y1, 0), H)
            for j in range(pw):
                w0 = min(max(int(torch.floor(j * bin_w)) + x1, 0), W)
                w1 = min(max(int(torch.ceil((j + 1) * bin_w)) + x1, 0), W)
                if h1 > h0 and w1 > w0:                                         # an empty bin stays 0
                    out[k, :, i, j] = features[b, :, h0:h1, w0:w1].amax(dim=(1, 2))
    return out
    ### END SOLUTION


# %%
check_roi_pool(roi_pool)

# %% tests="roi_pool_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_roi_pool(roi_pool, strict=True)
### BEGIN HIDDEN TESTS
check_roi_pool(roi_pool, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Three coin boxes pooled from the feature map of the small network above (stride 4), 4 × 4 bins, one
# channel shown: boxes of any size become the same small grid, read from one shared map. The network's
# weights are random (it was never trained), so the channel means nothing in particular: look at the shapes,
# not at what the channel responds to.

# %%
if check_roi_pool(roi_pool):
    with torch.no_grad():
        fmap = features_net(image).cpu()                                       # (1, 32, 75, 96)
    chosen = coin_boxes[[0, 7, 20]]
    pooled = roi_pool(fmap, torch.cat([torch.zeros(3, 1), chosen], dim=1), 4, spatial_scale=1 / 4)
    channel = int(fmap[0].flatten(1).std(dim=1).argmax())
    shown = [coins_image, fmap[0, channel]] + [pooled[k, channel] for k in range(3)]
    plots.show_images(shown, ["image", f"feature map, channel {channel} {tuple(fmap.shape[-2:])}"]
                      + [f"coin {int(b[2] - b[0])}×{int(b[3] - b[1])} px → 4×4" for b in chosen],
                      size=2.4, normalize=True)
    plt.show()
else:
    print("Finish Exercise 4 to pool coin boxes here.")

# %% [markdown]
# ### What RoI pooling's rounding costs
#
# RoI pooling rounds twice: the box's corners to whole cells of the feature map, and each bin's edges
# (floor and ceil). The rounded box can be off by up to half a cell — 2 image pixels here at stride 4,
# 8 pixels at VGG-16's stride 16 — and the output is a step function of the box's coordinates: constant
# while the corners round to the same cells, then a jump when one crosses a rounding boundary. For
# classifying a box that is tolerable; for anything that must line up with the pixels (a mask, a
# keypoint) it is not. **RoIAlign** (He, Gkioxari, Dollár and Girshick, *Mask R-CNN*, ICCV 2017) removes the
# rounding: it keeps the box's exact coordinates, samples each bin at a few regular points by bilinear
# interpolation, and averages them (`torchvision.ops.roi_align`).
#
# The measurement: one coin box on the feature map above, shifted right by 0 to 8 image pixels (two cells)
# in steps of 0.25, pooled to 4 × 4 by both operations; for each shift, how far the pooled features are
# from those of the unshifted box.

# %%
with torch.no_grad():
    shared_features = features_net(image).cpu()                              # (1, 32, 75, 96), stride 4
    shifts = torch.arange(0, 8.01, 0.25)
    boxes = coin_boxes[0] + torch.stack([shifts, torch.zeros_like(shifts), shifts, torch.zeros_like(shifts)], dim=1)
    rois = torch.cat([torch.zeros(len(shifts), 1), boxes], dim=1)            # (33, 5)
    pooled = {
        "roi_pool": torchvision.ops.roi_pool(shared_features, rois, 4, spatial_scale=1 / 4),
        "roi_align": torchvision.ops.roi_align(shared_features, rois, 4, spatial_scale=1 / 4, sampling_ratio=2,
                                               aligned=True),
    }
change = {name: (out - out[0]).flatten(1).norm(dim=1) / out[0].norm() for name, out in pooled.items()}
print(f"box {[round(v) for v in coin_boxes[0].tolist()]}, corners at x1/4 = {coin_boxes[0, 0] / 4:.2f} "
      f"and x2/4 = {coin_boxes[0, 2] / 4:.2f} cells")
for name, out in pooled.items():
    moves = [f"{s:g}" for s, moved in zip(shifts[1:].tolist(), (out[1:] != out[:-1]).flatten(1).any(dim=1)) if moved]
    distinct = len(torch.unique(out.flatten(1), dim=0))
    print(f"{name:>9}: {distinct} different outputs for {len(shifts)} shifts; the output changes at shifts "
          + (", ".join(moves) if len(moves) <= 8 else f"{moves[0]}, {moves[1]}, … (every step)"))

fig, ax = plt.subplots(figsize=(7, 3))
for name, values in change.items():
    ax.plot(shifts, values, "o-", markersize=3, label=name)
ax.set_xlabel("shift of the box (image pixels; one feature cell = 4)")
ax.set_ylabel("relative change of the pooled features")
ax.legend()
plt.show()

# %% [markdown]
# RoI pooling's output stays put until a rounded corner jumps to the next cell, then changes all at once
# (above: only where $x_1/4$ crosses a half, $\ldots.5$, one cell apart); RoIAlign's follows the box
# continuously, so the features — and their gradient with respect to the box
# — reflect where the box really is. In Mask R-CNN's ablations (its Table 2) the switch from RoIPool to
# RoIAlign improved mask accuracy substantially, and more with stride-32 features than with stride 16.
# torchvision's two-stage detectors pool with RoIAlign (`MultiScaleRoIAlign`).

# %% [markdown]
# ## 7. Faster R-CNN: anchors and the region proposal network
#
# With Fast R-CNN, the slowest step left was selective search itself: about 2 s per image on a CPU. Ren,
# He, Girshick and Sun (*Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks*,
# NIPS 2015) compute the proposals with a small network on the **same** feature map, the **region
# proposal network** (RPN):
#
# - a 3 × 3 convolution slides over the feature map; at each position two sibling 1 × 1 convolutions
#   predict, for each of $k$ reference boxes called **anchors**, an **objectness** score (object or not)
#   and four **box deltas** that move and resize the anchor;
# - the paper uses $k = 9$ anchors per position: 3 sizes (128², 256², 512² pixels) × 3 aspect ratios
#   (1:2, 1:1, 2:1). Anchors are *translation-invariant*: the same $k$ shapes at every position;
# - training labels anchors by IoU with the true boxes: positive above 0.7 (and the best anchor of each
#   true box), negative below 0.3, ignored in between; each mini-batch samples 256 anchors of one image,
#   up to half of them positive;
# - NMS at IoU 0.7 reduces the ~20,000 decoded anchors of an image to about 2,000 proposals; Fast R-CNN's
#   head classifies the top ones (300 in the paper's main results) — 5 images per second with VGG-16 on a
#   GPU, all steps included.
#
# ### Exercise 5 — `make_anchors`
#
# `make_anchors(feature_size, stride, sizes, ratios) -> (H·W·A, 4)`, with feature_size = (H, W) and
# A = len(sizes) · len(ratios), following torchvision's `AnchorGenerator` exactly:
#
# - a ratio $r$ is **height / width**: for size $s$, $w = s / \sqrt{r}$ and $h = s \sqrt{r}$ (area $s^2$);
# - the A base anchors are ordered ratio by ratio, and within a ratio size by size (`for r in ratios:
#   for s in sizes`), each $(-w/2, -h/2, w/2, h/2)$ **rounded** with `torch.round` (compute $1/\sqrt{r}$
#   and $\sqrt{r}$ in float32, as torchvision does);
# - feature cell $(i, j)$ sits at $(x, y) = (j \cdot \text{stride}, i \cdot \text{stride})$ in image
#   pixels (torchvision's convention: the cell's top-left corner, not its centre);
# - cells row by row: anchor $a$ of cell $(i, j)$ is row $(i W + j) A + a$;
# - the output is **float32**, as torchvision's, although the inputs are ints and tuples.
#
# The check compares with `AnchorGenerator` for several settings.

# %% solution="make_anchors"
def make_anchors(feature_size, stride, sizes, ratios):
    """Anchors (x1, y1, x2, y2) for every cell of an H × W feature map: (H·W·A, 4)."""
    ### BEGIN SOLUTION
    H, W = feature_size
    scales = torch.as_tensor(sizes, dtype=torch.float32)
    h_ratios = torch.sqrt(torch.as_tensor(ratios, dtype=torch.float32))
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)                # ratio-major: for r, for s
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    base = (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()          # (A, 4), centred on 0
    ys, xs = torch.meshgrid(torch.arange(H) * stride, torch.arange(W) * stride, indexing="ij")
    shifts = torch.stack([xs, ys, xs, ys], dim=-1).reshape(-1, 1, 4)     # (H·W, 1, 4), row by row
    return (shifts + base[None]).reshape(-1, 4)
    ### END SOLUTION


# %%
check_make_anchors(make_anchors)

# %% tests="make_anchors_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_anchors(make_anchors, strict=True)
### BEGIN HIDDEN TESTS
check_make_anchors(make_anchors, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# The anchors we use for the shapes below: a stride-8 feature map of a 64 × 64 image (8 × 8 cells), sizes
# 12, 24 and 40, ratios 1:2, 1:1 and 2:1 — nine anchors at one position (left), and the 64 positions,
# one dot each (right). On the left the colour is the ratio h / w: white 0.5 (wide), orange 1 (square),
# green 2 (tall), three sizes each. The centres sit at the cells' top-left corners $(8j, 8i)$, from 0 to 56
# (torchvision's convention), not at their centres: the grid of dots is shifted up and to the left, and the
# right and bottom edges of the image are less covered than the top and left ones.

# %%
SIZES, RATIOS, STRIDE = (12, 24, 40), (0.5, 1.0, 2.0), 8
if check_make_anchors(make_anchors):
    anchors = make_anchors((8, 8), STRIDE, SIZES, RATIOS)                 # (576, 4)
    A = len(SIZES) * len(RATIOS)
    cell = (3 * 8 + 4) * A                                                # cell (3, 4)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
    by_ratio = ["white", "C1", "C2"]                                      # ratio 0.5, 1, 2: wide, square, tall
    plots.show_boxes(shape_image, anchors[cell:cell + A], ax=axes[0], color=[by_ratio[k // 3] for k in range(A)],
                     title=f"{A} anchors of cell (3, 4)")
    plots.show_boxes(shape_image, shape_boxes, ax=axes[1], color="C3", title=f"{len(anchors)} anchors: centres")
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    axes[1].scatter(centres[:, 0], centres[:, 1], s=6, color="white", edgecolor="black", linewidth=0.4)
    plt.show()
else:
    print("Finish Exercise 5 to draw the anchors.")

# %% [markdown]
# ### Encoding boxes relative to anchors
#
# The network does not predict corners directly. It predicts how to move and resize an anchor, in units of
# the anchor's own size — R-CNN's parameterisation, kept by Fast and Faster R-CNN. With centres $(x, y)$ and
# sizes $(w, h)$ of the proposal (anchor) $P$ and the reference (true) box $G$, and weights
# $(w_x, w_y, w_w, w_h)$:
#
# $$d_x = w_x \frac{x_G - x_P}{w_P},\quad d_y = w_y \frac{y_G - y_P}{h_P},\quad
#   d_w = w_w \log\frac{w_G}{w_P},\quad d_h = w_h \log\frac{h_G}{h_P}.$$
#
# Dividing by the anchor's size makes the targets scale-invariant — a 10-pixel shift means a lot for a
# small anchor, little for a large one — and the log makes the size change symmetric (twice as large:
# +log 2; half as large: −log 2) and lets `exp` keep predicted sizes positive. The weights only rescale
# the targets: Faster R-CNN's RPN uses (1, 1, 1, 1); torchvision's detection head uses (10, 10, 5, 5), the
# inverse of the fixed standard deviations (0.1, 0.1, 0.2, 0.2) of later released code (py-faster-rcnn's
# configuration). The Fast R-CNN paper itself normalised the targets by their empirical mean and standard
# deviation over the training set (§2.3).
#
# ### Exercise 6 — `encode_boxes`
#
# `encode_boxes(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)) -> (N, 4)`: the deltas of each
# reference box (row i of `reference`, (N, 4) corners) relative to its proposal (row i of `proposals`),
# by the formulas above. The check compares with torchvision's
# `BoxCoder(weights).encode_single(reference, proposals)` (which you may not use).

# %% solution="encode_boxes"
def encode_boxes(reference, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    """Deltas (dx, dy, dw, dh) of reference boxes relative to proposals: (N, 4)."""
    ### BEGIN SOLUTION
    wx, wy, ww, wh = weights
    pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    gw, gh = reference[:, 2] - reference[:, 0], reference[:, 3] - reference[:, 1]
    gx, gy = reference[:, 0] + 0.5 * gw, reference[:, 1] + 0.5 * gh
    return torch.stack([wx * (gx - px) / pw, wy * (gy - py) / ph,
                        ww * torch.log(gw / pw), wh * torch.log(gh / ph)], dim=1)
    ### END SOLUTION


# %%
check_encode_boxes(encode_boxes)

# %% tests="encode_boxes_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_encode_boxes(encode_boxes, strict=True)
### BEGIN HIDDEN TESTS
check_encode_boxes(encode_boxes, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 7 — `decode_boxes`
#
# `decode_boxes(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)) -> (N, 4)`: the inverse. Divide the deltas
# by the weights; then **clamp** $d_w$ and $d_h$ from above only (`.clamp(max=...)`), after dividing by the
# weights, at $\log(1000/16) \approx 4.135$ (as torchvision does, so that an untrained network's huge deltas
# cannot overflow `exp`; a very negative delta only makes a tiny box); then $x = x_A + d_x w_A$,
# $y = y_A + d_y h_A$, $w = w_A e^{d_w}$, $h = h_A e^{d_h}$; return corners
# $(x - w/2,\ y - h/2,\ x + w/2,\ y + h/2)$. The check compares with
# `BoxCoder(weights).decode_single(deltas, anchors)`, and includes the round trip
# decode(encode(b, a), a) = b, a delta beyond the clamp, and weights (10, 10, 5, 5) with a large positive and
# a large negative delta.

# %% solution="decode_boxes"
def decode_boxes(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    """Boxes (x1, y1, x2, y2) from deltas applied to anchors: (N, 4)."""
    ### BEGIN SOLUTION
    wx, wy, ww, wh = weights
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    clip = math.log(1000.0 / 16)
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw, dh = (deltas[:, 2] / ww).clamp(max=clip), (deltas[:, 3] / wh).clamp(max=clip)
    x, y = ax + dx * aw, ay + dy * ah
    w, h = aw * torch.exp(dw), ah * torch.exp(dh)
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)
    ### END SOLUTION


# %%
check_decode_boxes(decode_boxes)

# %% tests="decode_boxes_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_decode_boxes(decode_boxes, strict=True)
### BEGIN HIDDEN TESTS
check_decode_boxes(decode_boxes, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# The round trip on the shapes image: each true box encoded against the anchor that overlaps it most, then
# decoded again.

# %%
if check_make_anchors(make_anchors) and check_encode_boxes(encode_boxes) and check_decode_boxes(decode_boxes):
    best_anchor = torchvision.ops.box_iou(shape_boxes, anchors).argmax(dim=1)
    deltas = encode_boxes(shape_boxes, anchors[best_anchor])
    back = decode_boxes(deltas, anchors[best_anchor])
    for box, anchor, d in zip(shape_boxes.tolist(), anchors[best_anchor].tolist(), deltas.tolist()):
        print(f"box {[round(v) for v in box]}  anchor {[round(v) for v in anchor]}  "
              f"deltas ({', '.join(f'{v:+.2f}' for v in d)})")
    print("largest round-trip error:", f"{(back - shape_boxes).abs().max():.2g} px")
else:
    print("Finish Exercises 5, 6 and 7 to see the round trip.")

# %% [markdown]
# ## 8. A tiny region proposal network on the shapes (a toy)
#
# Everything together, at the smallest scale that still shows the idea. The image is 64 × 64; a small
# backbone (four 3 × 3 convolutions with batch norm, three 2 × 2 poolings) gives an 8 × 8 feature map
# (stride 8); the RPN head is a 3 × 3 convolution and two 1 × 1 convolutions: **9 objectness logits and
# 9 × 4 deltas per position**, one per anchor above (576 anchors per image). The targets are the boxes
# from the masks, *class-agnostic* (an RPN only says "object here"):
#
# - anchors labelled as in the paper: positive above IoU 0.7 or best for a true box, negative below 0.3
#   (`detection.label_anchors`); regression targets: each positive anchor's true box, encoded;
# - loss: binary cross-entropy over labelled anchors, positives and negatives weighted equally (the
#   paper samples them up to 1:1), plus smooth L1 on the positives' deltas (β = 1/9, torchvision's RPN value);
# - Adam with a one-cycle learning rate, 3 epochs over the 512 training images;
# - at test time: decode, clip to the image, NMS at IoU 0.5, keep the top 10 per image.
#
# These pieces come from `torchvision` (`AnchorGenerator`, `BoxCoder`, `ops.nms`) — the functions your
# checks compared with — so the demonstration runs whatever state your exercises are in. We measure on the
# 128 test images, against the boxes from their masks: **recall** (the share of true boxes found with IoU
# ≥ 0.5) and **average precision** at IoU 0.5 (AP@0.5, PASCAL VOC's measure: the area under the
# precision–recall curve of the ranked proposals, `detection.average_precision`). Two baselines tell us
# what training added: the same objectness scores without the box regression (the anchors themselves),
# and random scores on the anchors.

# %% [markdown]
# The model: a backbone that turns a 64 × 64 image into an 8 × 8 map, and the RPN head that reads 9 anchors'
# objectness and deltas off each of its cells.

# %%
def conv_bn_relu(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class TinyRPN(nn.Module):
    """A stride-8 backbone and Faster R-CNN's RPN head: objectness (N, H·W·A) and deltas (N, H·W·A, 4)."""

    def __init__(self, num_anchors):
        super().__init__()
        self.backbone = nn.Sequential(conv_bn_relu(3, 16), nn.MaxPool2d(2), conv_bn_relu(16, 32), nn.MaxPool2d(2),
                                      conv_bn_relu(32, 64), nn.MaxPool2d(2), conv_bn_relu(64, 64))
        self.conv = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())
        self.objectness = nn.Conv2d(64, num_anchors, 1)
        self.deltas = nn.Conv2d(64, 4 * num_anchors, 1)

    def forward(self, x):
        h = self.conv(self.backbone(x))                                    # (N, 64, 8, 8)
        n = x.shape[0]
        # channels last, so that the order is (cell row by row, then anchor): make_anchors' order
        objectness = self.objectness(h).permute(0, 2, 3, 1).reshape(n, -1)           # (N, 8·8·A)
        deltas = self.deltas(h).permute(0, 2, 3, 1).reshape(n, -1, 4)                # (N, 8·8·A, 4)
        return objectness, deltas


# %% [markdown]
# Training needs a target for every anchor (its label and its encoded true box) and the loss that compares the
# network's output with them:

# %%
tv_anchors = AnchorGenerator(sizes=(SIZES,), aspect_ratios=(RATIOS,)).grid_anchors(
    [[8, 8]], [[torch.tensor(STRIDE), torch.tensor(STRIDE)]])[0].float()   # (576, 4): your make_anchors' answer
coder = BoxCoder((1.0, 1.0, 1.0, 1.0))


def rpn_targets(true_boxes):
    """Anchor labels (1 / 0 / -1) and encoded regression targets for each image."""
    labels, targets = [], []
    for truth in true_boxes:
        label, matched = detection.label_anchors(tv_anchors, truth)
        labels.append(label)
        targets.append(coder.encode_single(truth[matched], tv_anchors) if len(truth) else torch.zeros_like(tv_anchors))
    return torch.stack(labels), torch.stack(targets)


def rpn_loss(objectness, deltas, labels, targets):
    bce = F.binary_cross_entropy_with_logits(objectness, labels.clamp(min=0).float(), reduction="none")
    positive, negative = labels == 1, labels == 0
    classification = bce[positive].mean() + bce[negative].mean()           # positives and negatives weighted equally
    regression = F.smooth_l1_loss(deltas[positive], targets[positive], beta=1 / 9)
    return classification + regression


# %% [markdown]
# At test time the deltas are applied to the anchors, and NMS turns 576 scored boxes into a few proposals:

# %%
def proposals_from(objectness, deltas, *, regress=True, top=10, iou_threshold=0.5):
    """Per image: decode, clip to the image, NMS, the top proposals and their scores."""
    out = []
    for scores, d in zip(objectness, deltas):
        boxes = coder.decode_single(d, tv_anchors) if regress else tv_anchors
        boxes = torchvision.ops.clip_boxes_to_image(boxes, (64, 64))
        keep = torchvision.ops.nms(boxes, scores, iou_threshold)[:top]
        out.append((boxes[keep], scores[keep]))
    return out


# %%
rpn, rpn_results = None, {}
if train.autograding():   # a demonstration without points: nbgrader's autograder skips it
    print("Skipped while the autograder runs.")
else:
    train_boxes = [b for b, _ in detection.boxes_from_masks(train_set.tensors[1])]
    test_boxes = [b for b, _ in detection.boxes_from_masks(test_set.tensors[1])]
    per_image = [len(b) for b in test_boxes]
    print(f"{sum(map(len, train_boxes))} training boxes, {sum(per_image)} test boxes "
          f"({min(per_image)} to {max(per_image)} per test image, {sum(per_image) / len(per_image):.1f} on average)")
    labels, targets = rpn_targets(train_boxes)
    print(f"per training image: {(labels == 1).sum(1).float().mean():.1f} positive, "
          f"{(labels == 0).sum(1).float().mean():.0f} negative, {(labels == -1).sum(1).float().mean():.0f} "
          "ignored anchors of 576")
    torch.manual_seed(0)
    rpn = TinyRPN(len(SIZES) * len(RATIOS)).to(device)
    epochs, batch = 3, 32
    optimizer = torch.optim.Adam(rpn.parameters(), lr=3e-3)
    steps = epochs * (len(train_set) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=steps)
    images = train_set.tensors[0]
    start = time.perf_counter()
    for epoch in range(epochs):
        order, total = torch.randperm(len(images)), 0.0
        for first in range(0, len(images) - batch + 1, batch):
            index = order[first:first + batch]
            objectness, deltas = rpn(images[index].to(device))
            loss = rpn_loss(objectness, deltas, labels[index].to(device), targets[index].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        print(f"epoch {epoch + 1}: mean loss {total / (len(images) // batch):.3f}")
    print(f"trained in {time.perf_counter() - start:.1f} s")
    rpn.eval()
    with torch.no_grad():
        test_objectness, test_deltas = (t.cpu() for t in rpn(test_set.tensors[0].to(device)))
    g = torch.Generator().manual_seed(0)
    runs = {"tiny RPN": proposals_from(test_objectness, test_deltas),
            "same scores, no regression": proposals_from(test_objectness, test_deltas, regress=False),
            "random scores on the anchors": proposals_from(torch.rand(test_objectness.shape, generator=g),
                                                           test_deltas, regress=False)}
    for name, found in runs.items():
        rpn_results[name] = detection.average_precision(found, test_boxes, iou_threshold=0.5)
        print(f"{name:>29}: AP@0.5 {rpn_results[name]['ap']:.2f}, recall with 10 proposals per image "
              f"{rpn_results[name]['recall']:.2f}")

# %% [markdown]
# On the course's machine (one CPU, 4–10 s of training depending on its load) the tiny RPN reached an AP@0.5
# of 0.39 and found 71 % of the test boxes among its top 10 proposals per image; without its box regression
# the same scores gave 0.26 and 62 %, and random scores 0.01 and 15 %. (On a GPU the numbers differ a little:
# its arithmetic is not bit-for-bit the CPU's.) Learned objectness does most of the work, and the regression
# moves the anchors onto the objects; three epochs are few, and the loss is still falling. Six test images,
# the true boxes in red: in the top row the 10 best-scored proposals before NMS, in the bottom row the (up
# to) 10 best kept after it:

# %%
if rpn_results:
    fig, axes = plt.subplots(2, 6, figsize=(15, 5.4))
    for column, index in enumerate([0, 1, 2, 3, 4, 5]):
        scores = test_objectness[index]
        boxes = torchvision.ops.clip_boxes_to_image(coder.decode_single(test_deltas[index], tv_anchors), (64, 64))
        top = scores.argsort(descending=True)[:10]
        kept = runs["tiny RPN"][index][0]
        for row, (shown, title) in enumerate([(boxes[top], "top 10 before NMS"), (kept, "after NMS")]):
            ax = axes[row, column]
            plots.show_boxes(test_set.tensors[0][index], test_boxes[index], ax=ax, color="C3", linewidth=2)
            plots.show_boxes(test_set.tensors[0][index], shown, ax=ax, color="C9", linewidth=0.8,
                             title=f"{index}: {title}")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# What this toy is **not**: a detector. It proposes class-agnostic boxes on synthetic 64 × 64 images
# with four to seven objects drawn on each (after merging and hiding, 1 to 6 visible boxes per test image,
# 3.6 on average, as printed above); it has no second stage (no RoI pooling and classification of the
# proposals), no pre-trained backbone and no augmentation, and its "true" boxes are those of visible
# regions (touching objects of one class merge). The real Faster R-CNN is trained on PASCAL VOC and COCO,
# with a pre-trained VGG-16 or ResNet, and classifies its proposals with Fast R-CNN's head. The numbers
# above measure the idea — anchors + objectness + deltas + NMS — not a detector's accuracy.
#
# ## What to remember
#
# - A detection is a box $(x_1, y_1, x_2, y_2)$, a class and a score. IoU = intersection / union, with each
#   side of the intersection clamped at 0; AP@0.5 counts a detection correct at IoU ≥ 0.5.
# - Greedy NMS: best box first, suppress IoU **>** threshold, suppressed boxes suppress nothing.
# - R-CNN: ~2,000 selective-search proposals, each warped to 227 × 227 and passed through a CNN; SVMs and
#   box regression on the features. Accurate, and slow: one CNN pass per proposal.
# - SPPNet: one CNN pass per image; a spatial pyramid of max-pooled bins turns any window into C·Σn²
#   numbers. (The paper's bins use window ⌈a/n⌉ and stride ⌊a/n⌋; adaptive pooling's rule always gives n.)
# - Fast R-CNN: RoI pooling (one pyramid level per roi, torchvision rounds the roi and floors/ceils the
#   bins), one network trained at once with $L_\text{cls} + \lambda [u \ge 1] L_\text{loc}$. The rounding
#   makes its output a step function of the box; RoIAlign (Mask R-CNN, 2017) samples bilinearly at the
#   exact coordinates instead, and replaced it.
# - Faster R-CNN: anchors (sizes × ratios at every feature cell) and a region proposal network that scores
#   and moves them; deltas $d_x = (x_G - x_A)/w_A$, $d_w = \log(w_G / w_A)$, decoded with `exp` after a clamp.
