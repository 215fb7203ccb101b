"""Unit tests of notebook 09's helpers: course_utils.detection and plots.show_boxes.

Expected boxes come from how the test masks are drawn or from torchvision
(``masks_to_boxes``, ``box_iou``); expected AP values from the precision and
recall of a hand-ranked list, computed here.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402

from course_utils import data, detection, plots  # noqa: E402


def drawn_mask():
    """A 20 × 30 mask with known regions: (class, (x1, y1, x2, y2)) rectangles, and a diagonal pair."""
    rectangles = [(1, (2, 3, 7, 9)), (1, (20, 1, 28, 5)), (2, (10, 12, 18, 19)), (3, (22, 10, 30, 20))]
    mask = torch.zeros(20, 30, dtype=torch.int64)
    for c, (x1, y1, x2, y2) in rectangles:
        mask[y1:y2, x1:x2] = c
    return mask, rectangles


def test_boxes_from_mask_returns_the_drawn_rectangles():
    """Does every drawn rectangle come back as its box (x2 = last column + 1) with its class?"""
    mask, rectangles = drawn_mask()
    boxes, labels = detection.boxes_from_mask(mask, min_area=1)
    got = sorted(zip(labels.tolist(), [tuple(int(v) for v in b) for b in boxes.tolist()]))
    assert got == sorted(rectangles)
    assert boxes.dtype == torch.float32 and labels.dtype == torch.int64


def test_boxes_from_mask_agrees_with_torchvision_masks_to_boxes():
    """Is each region's box torchvision's masks_to_boxes (inclusive corners) plus one on x2 and y2?"""
    mask, rectangles = drawn_mask()
    boxes, labels = detection.boxes_from_mask(mask, min_area=1)
    for box, c in zip(boxes, labels):
        region = torch.zeros_like(mask, dtype=torch.bool)
        x1, y1, x2, y2 = box.long().tolist()
        region[y1:y2, x1:x2] = mask[y1:y2, x1:x2] == c
        tv = torchvision.ops.masks_to_boxes(region[None])[0]
        assert torch.equal(box, tv + torch.tensor([0.0, 0.0, 1.0, 1.0]))


def test_diagonal_neighbours_form_one_region_and_small_regions_are_dropped():
    """Are pixels that touch at a corner one region (8-connectivity), and regions under min_area dropped?"""
    mask = torch.zeros(6, 6, dtype=torch.int64)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = 1
    mask[5, 0] = 1
    labels = detection.connected_components(mask == 1)
    assert labels.max() == 2 and labels[1, 1] == labels[2, 2] == labels[3, 3] != labels[5, 0]
    boxes, _ = detection.boxes_from_mask(mask, min_area=2)
    assert boxes.tolist() == [[1.0, 1.0, 4.0, 4.0]]


def test_batched_boxes_equal_per_image_boxes_on_the_shapes_set():
    """Does boxes_from_masks on a batch give each image's boxes_from_mask, and does every visible pixel of
    each class lie in a tight box of its class?"""
    images, masks = data.make_shapes_segmentation(6, seed=3)
    batched = detection.boxes_from_masks(masks, min_area=1)
    for mask, (boxes, labels) in zip(masks, batched):
        single = detection.boxes_from_mask(mask, min_area=1)
        assert torch.equal(single[0], boxes) and torch.equal(single[1], labels)
        for c in mask.unique().tolist():
            if c == 0:
                continue
            covered = torch.zeros_like(mask, dtype=torch.bool)
            for (x1, y1, x2, y2) in boxes[labels == c].long().tolist():
                covered[y1:y2, x1:x2] = True
                inside = mask[y1:y2, x1:x2] == c
                # tight: the class touches every edge of its box
                assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            assert covered[mask == c].all()


def test_label_anchors_follows_faster_rcnn_rules():
    """Positive above 0.7 IoU or best for a true box, negative below 0.3, ignored between?"""
    truth = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]])
    anchors = torch.tensor([[0.0, 0.0, 10.0, 11.0],     # IoU 10/11 with the first: positive
                            [0.0, 0.0, 10.0, 20.0],     # 0.5: ignored
                            [30.0, 30.0, 40.0, 40.0],   # 0: negative
                            [52.0, 52.0, 64.0, 64.0]])  # below 0.7 but the best for the second: positive
    labels, matched = detection.label_anchors(anchors, truth)
    iou = torchvision.ops.box_iou(anchors, truth)
    assert iou[0, 0] > 0.7 and 0.3 <= iou[1, 0] < 0.7 and iou[3, 1] < 0.7
    assert labels.tolist() == [1, -1, 0, 1]
    assert matched[0] == 0 and matched[3] == 1
    none, _ = detection.label_anchors(anchors, torch.zeros(0, 4))
    assert none.tolist() == [0, 0, 0, 0]


def test_average_precision_of_a_hand_ranked_list():
    """Does AP equal the area under the non-increasing precision envelope of a ranked list with a hit, a
    duplicate (a false positive) and a second hit, and is recall the share of true boxes found?"""
    truth = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])]
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.5, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 31.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    result = detection.average_precision([(boxes, scores)], truth)
    precision = [1 / 1, 1 / 2, 2 / 3]       # hit, duplicate of the same truth (false positive), hit
    recall = [1 / 2, 1 / 2, 2 / 2]
    envelope = [max(precision[i:]) for i in range(3)]
    expected = sum((recall[i] - (recall[i - 1] if i else 0)) * envelope[i] for i in range(3))
    assert result["ap"] == pytest.approx(expected)
    assert result["recall"] == pytest.approx(1.0)
    assert torch.allclose(result["precision_curve"], torch.tensor(precision))


def test_average_precision_extremes():
    """Perfect detections give AP 1; none give 0; detections far from every box give 0."""
    truth = [torch.tensor([[0.0, 0.0, 5.0, 5.0]]), torch.tensor([[1.0, 1.0, 4.0, 9.0], [6.0, 6.0, 9.0, 9.0]])]
    perfect = [(t, torch.linspace(1, 0.5, len(t))) for t in truth]
    assert detection.average_precision(perfect, truth)["ap"] == pytest.approx(1.0)
    empty = [(torch.zeros(0, 4), torch.zeros(0)) for _ in truth]
    assert detection.average_precision(empty, truth)["ap"] == 0.0
    far = [(t + 100, torch.ones(len(t))) for t in truth]
    assert detection.average_precision(far, truth)["ap"] == 0.0


def test_warp_crops_stretches_each_box_to_a_square():
    """Is each crop size × size, and is the crop of the whole image at its own size the image itself?"""
    image = torch.rand(3, 12, 20)
    crops = detection.warp_crops(image, torch.tensor([[2.0, 3.0, 10.0, 7.0], [0.0, 0.0, 20.0, 12.0]]), size=9)
    assert crops.shape == (2, 3, 9, 9)
    whole = detection.warp_crops(image, torch.tensor([[0.0, 0.0, 20.0, 12.0]]), size=12)
    assert whole.shape == (1, 3, 12, 12)
    same = detection.warp_crops(torch.rand(3, 10, 10), torch.tensor([[0.0, 0.0, 10.0, 10.0]]), size=10)
    assert same.shape == (1, 3, 10, 10)
    flat = detection.warp_crops(torch.full((3, 10, 10), 0.25), torch.tensor([[1.0, 2.0, 6.0, 9.0]]), size=7)
    assert torch.allclose(flat, torch.full_like(flat, 0.25))


def test_show_boxes_draws_one_rectangle_per_box_with_labels():
    """Does show_boxes draw one rectangle and one label per box on the image, and return the figure?"""
    from matplotlib.patches import Rectangle
    image = torch.rand(3, 16, 24)
    boxes = torch.tensor([[1.0, 2.0, 8.0, 9.0], [10.0, 3.0, 20.0, 15.0]])
    fig = plots.show_boxes(image, boxes, labels=["a", "b"], scores=torch.tensor([0.9, 0.25]))
    ax = fig.axes[0]
    rectangles = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert [(r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in rectangles] == \
        [(1.0, 2.0, 7.0, 7.0), (10.0, 3.0, 10.0, 12.0)]
    assert [t.get_text() for t in ax.texts] == ["a 0.90", "b 0.25"]
    plt.close(fig)
