"""The segmentation data of notebooks 06-08: generated set, photo with mask, show_segmentation."""

from __future__ import annotations

import hashlib
import shutil

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import data, plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _listing(name):
    for line in (data.data_dir() / "generated.sha256").read_text().splitlines():
        if line.endswith(f"  {name}"):
            return line.split()[0]
    raise AssertionError(f"no line for {name}")


@pytest.mark.parametrize("split,count", [("train", 512), ("test", 128)])
def test_generated_set_is_identical_on_every_load_and_matches_its_checksum(split, count):
    """Is the generated set identical on every load and does it match its checksum (hashed here independently)?"""
    first = data.load_segmentation(split)
    images, masks = first.tensors
    assert images.shape == (count, 3, 64, 64) and images.dtype == torch.float32
    assert masks.shape == (count, 64, 64) and masks.dtype == torch.int64
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    levels = np.round(images.numpy() * 255)
    assert np.allclose(levels / 255, images.numpy(), atol=1e-7), "8-bit levels"
    digest = hashlib.sha256(levels.astype(np.uint8).tobytes() + masks.numpy().astype(np.uint8).tobytes()).hexdigest()
    assert digest == _listing(f"segmentation-{split}")
    original = images.clone()
    images.sub_(0.5)                       # a learner normalising in place must not change the next load
    second = data.load_segmentation(split)
    assert torch.equal(second.tensors[0], original) and torch.equal(second.tensors[1], masks)


def test_generator_is_deterministic_and_prefix_stable():
    """Does the same seed give the same set, another seed another set, and are the first k images the set of size k?"""
    images, masks = data.make_shapes_segmentation(40, seed=5)
    again = data.make_shapes_segmentation(40, seed=5)
    assert torch.equal(images, again[0]) and torch.equal(masks, again[1])
    head = data.make_shapes_segmentation(7, seed=5)
    assert torch.equal(images[:7], head[0]) and torch.equal(masks[:7], head[1])
    assert not torch.equal(masks, data.make_shapes_segmentation(40, seed=6)[1])
    big_images, big_masks = data.make_shapes_segmentation(3, size=96, seed=5)
    assert big_images.shape == (3, 3, 96, 96) and big_masks.shape == (3, 96, 96)


def test_masks_contain_every_class_and_objects_touch_or_overlap():
    """Do masks contain every class, in varied sizes, with objects of different classes touching or overlapping?"""
    images, masks = data.load_segmentation("train").tensors
    counts = torch.bincount(masks.flatten(), minlength=len(data.SEGMENTATION_CLASSES))
    assert len(counts) == len(data.SEGMENTATION_CLASSES) == 4
    assert (counts[1:] > 0.05 * masks.numel()).all() and counts[0] > 0.5 * masks.numel()
    # pixels whose right or lower neighbour belongs to another object class: touching or overlapping objects
    right = (masks[:, :, 1:] != masks[:, :, :-1]) & (masks[:, :, 1:] > 0) & (masks[:, :, :-1] > 0)
    down = (masks[:, 1:] != masks[:, :-1]) & (masks[:, 1:] > 0) & (masks[:, :-1] > 0)
    touching = right.flatten(1).any(1) | down.flatten(1).any(1)
    assert touching.float().mean() > 0.3, "many images with objects of different classes in contact"
    per_image = (masks > 0).flatten(1).float().mean(1)
    assert per_image.min() > 0.0 and per_image.max() - per_image.min() > 0.3, "varied object sizes and counts"
    # colour alone is no answer: the mean colour of each class is close to the background's
    means = torch.stack([images.permute(1, 0, 2, 3)[:, masks == c].mean(1) for c in range(4)])
    assert (means[1:] - means[0]).abs().max() < 0.05


def test_corrupted_or_missing_checksum_raises_a_data_error_that_says_what_to_do(tmp_path, monkeypatch):
    """Does a corrupted or missing checksum raise a DataError that says what to do?"""
    shutil.copytree(data.data_dir(), tmp_path / "data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    listing = tmp_path / "data" / "generated.sha256"
    listing.write_text(listing.read_text().replace(_listing("segmentation-test"), "0" * 64))
    with pytest.raises(data.DataError, match=r"differs.*pip install -r requirements.txt.*make_segmentation.py"):
        data.load_segmentation("test")
    data.load_segmentation("train")        # the other split is still fine
    listing.unlink()
    with pytest.raises(data.DataError, match="missing.*git checkout -- data"):
        data.load_segmentation("train")
    with pytest.raises(ValueError, match="split"):
        data.load_segmentation("validation")


def test_show_segmentation_returns_a_figure_with_three_panels():
    """Does show_segmentation return a figure with three panels (image, truth, prediction), also from logits?"""
    image, truth = data.load_segmentation("test")[0]
    logits = torch.nn.functional.one_hot(truth, 4).permute(2, 0, 1).float()
    fig = plots.show_segmentation(image, truth, logits, classes=data.SEGMENTATION_CLASSES)
    assert isinstance(fig, plt.Figure) and len(fig.axes) == 3
    assert "100.0%" in fig.axes[2].get_title() and "IoU 1.00" in fig.axes[2].get_title()
    labels = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert labels[1:] == list(data.SEGMENTATION_CLASSES[1:])
    assert len(plots.show_segmentation(image, truth).axes) == 2
    assert len(plots.show_segmentation(image, truth, torch.zeros_like(truth), errors=True).axes) == 4
    fig, axes = plt.subplots(1, 3)
    assert plots.show_segmentation(image, truth, truth, axes=axes) is fig
    with pytest.raises(ValueError, match="panels"):
        plots.show_segmentation(image, truth, truth, axes=axes[:2])
    assert isinstance(plots.show_mask(image, truth), plt.Figure)


def test_photo_mask_is_the_image_size_with_the_expected_classes(tmp_path, monkeypatch):
    """Is the photo's mask the image's size with the expected classes, resized with it, and checksummed?"""
    image, mask = data.load_segmentation_photo("coins")
    assert image.shape == (3, 303, 384) and image.dtype == torch.float32
    assert mask.shape == image.shape[1:] and mask.dtype == torch.int64
    assert mask.unique().tolist() == list(range(len(data.SEGMENTATION_PHOTOS["coins"]))) == [0, 1]
    assert 0.25 < mask.float().mean() < 0.45, "24 coins cover about a third of the photo"
    grey = data.load_image("coins", gray=True)
    assert grey[mask == 1].mean() > grey[mask == 0].mean() + 0.3, "coins are the bright objects"
    small_image, small_mask = data.load_segmentation_photo("coins", size=64)
    assert small_mask.shape == small_image.shape[1:] == (64, 81) and set(small_mask.unique().tolist()) == {0, 1}
    shutil.copytree(data.data_dir(), tmp_path / "data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "masks" / "coins.png").write_bytes(b"not a png")
    with pytest.raises(data.DataError, match="damaged"):
        data.load_segmentation_photo("coins")
    with pytest.raises(data.DataError, match="Available"):
        data.load_segmentation_photo("horse")
