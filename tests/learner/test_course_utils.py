"""course_utils beyond the checks: data, plots, widgets, training loop."""

from __future__ import annotations

import hashlib
import shutil

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from course_utils import data, plots, train, widgets  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------- data

def test_every_bundled_file_matches_its_checksum():
    """Does every file listed in data/checksums.sha256 exist with that exact SHA-256?"""
    names = data.verify_data()
    assert names
    listing = dict(line.split()[::-1] for line in (data.data_dir() / "checksums.sha256").read_text().splitlines())
    for name in names:
        assert hashlib.sha256((data.data_dir() / name).read_bytes()).hexdigest() == listing[name]


@pytest.mark.parametrize("name", data.list_images())
def test_images_load_as_float_tensors_in_unit_range(name):
    """Does each bundled photograph load offline as (3, H, W) or (H, W) floats in [0, 1]?"""
    colour, grey = data.load_image(name), data.load_image(name, gray=True)
    assert colour.ndim == 3 and colour.shape[0] == 3 and colour.dtype == torch.float32
    assert grey.shape == colour.shape[1:]
    assert 0.0 <= float(colour.min()) and float(colour.max()) <= 1.0
    assert float(colour.std()) > 0.05, "a real photograph, not a blank image"


def test_load_image_resizes_by_shorter_side_or_exact_size():
    """Does `size=` give the shorter side for an int and the exact (H, W) for a pair?"""
    assert min(data.load_image("chelsea", size=64).shape[1:]) == 64
    assert data.load_image("coffee", gray=True, size=(30, 50)).shape == (30, 50)


def test_missing_or_damaged_files_say_what_to_do(tmp_path, monkeypatch):
    """Does a deleted or corrupted data file give a specific message instead of a PIL traceback?"""
    shutil.copytree(data.data_dir(), tmp_path / "data")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "images" / "camera.png").unlink()
    with pytest.raises(data.DataError, match="missing.*git checkout -- data"):
        data.load_image("camera")
    (tmp_path / "data" / "images" / "coins.png").write_bytes(b"not a png")
    with pytest.raises(data.DataError, match="damaged"):
        data.load_image("coins")
    with pytest.raises(data.DataError, match="Available"):
        data.load_image("no_such_photo")


# --------------------------------------------------------------------- plots and widgets

def test_plot_functions_return_figures_and_draw_on_given_axes():
    """Does every plot helper return a Figure, and draw on the axes it is given?"""
    image = data.load_image("camera", gray=True, size=32)
    assert isinstance(plots.show_images([image, data.load_image("astronaut", size=32)], ["a", "b"]), plt.Figure)
    fig, ax = plt.subplots()
    assert plots.show_kernel(torch.eye(3), ax=ax) is fig
    assert isinstance(plots.plot_signals({"x": torch.arange(4.0)}), plt.Figure)
    assert isinstance(plots.plot_timings({"a": 1e-3, "b": 2e-3}), plt.Figure)
    assert isinstance(plots.plot_conv_window(image[:7, :7], 3, 2, 1, 2, position=3), plt.Figure)


@pytest.mark.parametrize("size,k,s,p,d", [(7, 3, 1, 0, 1), (7, 3, 2, 1, 1), (9, 3, 1, 2, 2), (8, 2, 3, 1, 3)])
def test_conv_window_geometry_matches_pytorch(size, k, s, p, d):
    """Is the explorer's picture right: output size as F.conv2d's, and the taps it marks are exactly
    the inputs that receive gradient from that output pixel?"""
    out_h, out_w, taps = plots.conv_geometry(size, size, k, s, p, d)
    x = torch.zeros(1, 1, size + 2 * p, size + 2 * p, requires_grad=True)
    y = F.conv2d(x, torch.ones(1, 1, k, k), stride=s, dilation=d)
    assert (out_h, out_w) == tuple(y.shape[-2:])
    i, j = out_h - 1, out_w // 2
    y[0, 0, i, j].backward()
    touched = {tuple(idx) for idx in x.grad[0, 0].nonzero().tolist()}
    assert touched == set(taps(i, j))


def test_widgets_are_thin_layers_that_build_without_a_frontend(monkeypatch):
    """Do the explorers build without a frontend, with the expected controls, over the plain functions?"""
    monkeypatch.delenv("COURSE_HEADLESS", raising=False)
    image = data.load_image("camera", gray=True, size=(7, 7))
    explorer = widgets.explore_convolution(image)
    names = {child.description for child in explorer.children if hasattr(child, "description")}
    assert {"kernel", "stride", "padding", "dilation", "output #"} <= names
    filters = widgets.explore_filters(data.load_image("camera", gray=True, size=16))
    assert len(filters.children[0].options) == len(widgets.classic_filters())
    assert widgets.enable_colab_widgets() is False  # not in Colab here


def test_explorers_draw_a_static_figure_in_headless_pipelines(monkeypatch):
    """With COURSE_HEADLESS=1 (tests, nbgrader), do the explorers draw a figure and open no widget?"""
    monkeypatch.setenv("COURSE_HEADLESS", "1")
    before = plt.get_fignums()
    assert widgets.explore_convolution(data.load_image("camera", gray=True, size=(7, 7))) is None
    assert widgets.explore_filters(data.load_image("camera", gray=True, size=16)) is None
    assert len(plt.get_fignums()) > len(before)


def test_filter_image_keeps_size_and_blur_keeps_mean_brightness():
    """Does `filter_image` give a same-size response, and does a normalised blur keep brightness inside?"""
    image = data.load_image("camera", gray=True, size=64)
    blurred = widgets.filter_image(image, widgets.classic_filters()["Gaussian blur σ=1"])
    assert blurred.shape == image.shape
    assert torch.allclose(blurred[8:-8, 8:-8].mean(), image[8:-8, 8:-8].mean(), atol=0.01)


# --------------------------------------------------------------------- training

def test_fit_reduces_the_loss_and_evaluate_reports_accuracy():
    """Does one readable `fit` loop learn a separable toy problem, and `evaluate` report it?"""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 2, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2).to(train.pick_device("cpu"))
    before = train.evaluate(model, loader)
    history = train.fit(model, loader, epochs=5, lr=0.05, val_loader=loader, progress=False)
    after = train.evaluate(model, loader)
    assert len(history["train_loss"]) == 5 * len(loader) and len(history["val_accuracy"]) == 5
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.95
    assert model.training, "fit/evaluate leave the model in the mode they found it"


def test_pick_device_and_count_parameters():
    """Is the device CUDA only when available, and is the parameter count nn's own?"""
    assert train.pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    layer = torch.nn.Conv2d(3, 8, 3)
    assert train.count_parameters(layer) == layer.weight.numel() + layer.bias.numel()


def test_autograding_is_true_only_under_nbgraders_autograder(monkeypatch):
    """Is train.autograding() true only while nbgrader autogrades (NBGRADER_EXECUTION=autograde),
    not while it validates, nor in a learner's session?"""
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not train.autograding()
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    assert not train.autograding()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert train.autograding()
