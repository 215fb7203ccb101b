"""Plotting helpers.  Each takes ``ax=None`` (or draws its own figure) and returns the figure.

Nothing here changes matplotlib's global style.
"""

from __future__ import annotations

__all__ = ["show_images", "show_kernel", "plot_signals", "plot_conv_window", "plot_timings", "plot_receptive_field",
           "show_mask", "show_segmentation", "show_boxes"]


def _to_numpy_image(image):
    """(H, W), (3, H, W) or (H, W, 3) tensor/array -> numpy (H, W) or (H, W, 3)."""
    import numpy as np
    try:
        import torch
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().float().numpy()
    except ImportError:  # pragma: no cover - torch is a course requirement
        pass
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
        image = np.moveaxis(image, 0, -1)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    return image


def _new_axes(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def show_images(images, titles=None, *, ncols=None, cmap="gray", size=3.0, normalize=False):
    """Show a list of images side by side; returns the figure.

    ``normalize=True`` stretches each grey image between its own 1st and 99th
    percentiles (filter responses are not in [0, 1], and a few extreme pixels
    would otherwise flatten the rest); otherwise 0 is black and 1 is white.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    images = list(images)
    titles = list(titles) if titles is not None else [None] * len(images)
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        array = _to_numpy_image(image)
        if array.ndim == 2:
            vmin, vmax = np.percentile(array, [1, 99]) if normalize else (0.0, 1.0)
            ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax)
        else:
            ax.imshow(np.clip(array, 0, 1))
        if title:
            ax.set_title(title)
    fig.tight_layout()
    return fig


def show_kernel(kernel, *, ax=None, title=None, annotate=True):
    """Draw a small 2-D kernel as a heat map with its values written in."""
    import numpy as np

    values = _to_numpy_image(kernel)
    fig, ax = _new_axes(ax, figsize=(0.6 * values.shape[1] + 1, 0.6 * values.shape[0] + 1))
    limit = max(abs(values.min()), abs(values.max()), 1e-12)
    ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
    if annotate:
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def plot_signals(signals: dict, *, ax=None, title=None, starts: dict | None = None):
    """Stem plots of a few 1-D signals (``{"name": tensor}``), nudged so they do not overlap.

    ``starts`` gives the index of a signal's first sample (default 0), e.g.
    ``-(K - 1)`` for a cross-correlation computed in NumPy's 'full' mode.
    """
    import numpy as np

    starts = starts or {}
    fig, ax = _new_axes(ax, figsize=(7, 3))
    for i, (name, signal) in enumerate(signals.items()):
        values = np.asarray(_to_numpy_image(signal), dtype=float).ravel()
        positions = np.arange(len(values)) + starts.get(name, 0) + 0.12 * i
        ax.stem(positions, values, linefmt=f"C{i}-", markerfmt=f"C{i}o", basefmt=" ", label=name)
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set_xlabel("index t")
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def conv_geometry(height, width, kernel_size, stride=1, padding=0, dilation=1):
    """Output size and the input pixels one output position reads.

    Returns ``(out_h, out_w, taps)`` where ``taps(i, j)`` lists the
    (row, col) coordinates in the *padded* input read for output (i, j).
    """
    k, s, p, d = kernel_size, stride, padding, dilation
    out_h = (height + 2 * p - d * (k - 1) - 1) // s + 1
    out_w = (width + 2 * p - d * (k - 1) - 1) // s + 1

    def taps(i, j):
        return [(i * s + m * d, j * s + n * d) for m in range(k) for n in range(k)]

    return out_h, out_w, taps


def plot_conv_window(image, kernel_size=3, stride=1, padding=0, dilation=1, position=0, *, axes=None):
    """Where one output pixel of a convolution looks in its input.

    Left: the zero-padded input with the kernel's taps for output number
    ``position`` (row-major) marked; right: the output grid with that pixel
    marked.  Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    array = _to_numpy_image(image)
    if array.ndim == 3:
        array = array.mean(axis=-1)
    h, w = array.shape
    out_h, out_w, taps = conv_geometry(h, w, kernel_size, stride, padding, dilation)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), gridspec_kw={"width_ratios": [h + 2 * padding, max(out_h, 1)]})
    fig = axes[0].figure
    left, right = axes
    left.clear()
    right.clear()
    padded = np.pad(array, padding, constant_values=np.nan)
    left.imshow(np.nan_to_num(padded, nan=0.0), cmap="gray", vmin=0, vmax=1)
    for r in range(padded.shape[0]):
        for c in range(padded.shape[1]):
            if np.isnan(padded[r, c]):
                left.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="#dfe7f2", edgecolor="#9aaecb", lw=0.5))
    left.set_title(f"input {h}×{w}, padding {padding}")
    if out_h < 1 or out_w < 1:
        left.text(0.5, 0.5, "kernel larger than the padded input:\nno output", transform=left.transAxes,
                  ha="center", va="center", color="crimson", fontsize=12)
        right.axis("off")
        return fig
    position = int(position) % (out_h * out_w)
    i, j = divmod(position, out_w)
    for r, c in taps(i, j):
        left.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=(1, 0.55, 0, 0.45), edgecolor="darkorange", lw=1.5))
    span = dilation * (kernel_size - 1) + 1
    left.add_patch(Rectangle((j * stride - 0.5, i * stride - 0.5), span, span, fill=False, edgecolor="crimson",
                             lw=2, ls="--"))
    grid = np.zeros((out_h, out_w))
    grid[i, j] = 1
    right.imshow(grid, cmap="Oranges", vmin=0, vmax=1.5)
    right.set_title(f"output {out_h}×{out_w}: pixel ({i}, {j})")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"kernel {kernel_size}×{kernel_size}, stride {stride}, dilation {dilation}: "
                 f"the window spans {span}×{span} input pixels")
    return fig


def plot_timings(timings: dict, *, ax=None, title="time per call", unit="ms"):
    """Horizontal bar chart of ``{"name": seconds}`` with the figures written on the bars."""
    fig, ax = _new_axes(ax, figsize=(7, 0.6 * len(timings) + 1))
    scale = {"ms": 1e3, "s": 1.0, "us": 1e6}[unit]
    names = list(timings)
    values = [timings[n] * scale for n in names]
    bars = ax.barh(names, values, color=[f"C{i}" for i in range(len(names))])
    ax.set_xscale("log")
    for bar, value in zip(bars, values):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value:.3g} {unit}", va="center")
    ax.set_xlabel(f"{unit} (log scale)")
    ax.invert_yaxis()
    ax.set_title(title)
    fig.tight_layout()
    return fig


def receptive_field_growth(layers):
    """Receptive field r and jump j after each layer: r += d·(k − 1)·j, then j *= s."""
    r, j, rows = 1, 1, []
    for layer in layers:
        k, s, d = (*layer, 1)[:3]                      # (kernel, stride[, dilation = 1])
        span = d * (k - 1)                             # how much farther the dilated kernel reaches
        r += span * j
        j *= s
        rows.append((r, j))
    return rows


def plot_receptive_field(layers, *, axes=None):
    """What one output unit of a layer stack sees: nested squares on the input, and r, j per layer."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    growth = receptive_field_growth(layers)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    fig = axes[0].figure
    left, right = axes
    size = growth[-1][0] if growth else 1
    left.set_xlim(-0.5, size + 0.5)
    left.set_ylim(size + 0.5, -0.5)
    left.set_aspect("equal")
    for i, (r, _) in enumerate(growth):
        offset = (size - r) / 2
        left.add_patch(Rectangle((offset, offset), r, r, fill=False, lw=2, color=f"C{i % 10}",
                                 label=f"after layer {i + 1}: {r}×{r}"))
    left.add_patch(Rectangle((size / 2 - 0.5, size / 2 - 0.5), 1, 1, color="black"))
    left.set_title("input pixels seen by one output unit")
    left.legend(loc="upper left", fontsize=8, bbox_to_anchor=(1.0, 1.0))
    left.set_xticks([])
    left.set_yticks([])
    index = range(1, len(growth) + 1)
    right.plot(index, [r for r, _ in growth], "o-", label="receptive field r")
    right.plot(index, [j for _, j in growth], "s--", label="jump j (input pixels per output step)")
    right.set_xlabel("layer")
    right.set_xticks(list(index))
    right.legend()
    right.set_title(" → ".join(f"{s[0]}/{s[1]}" + (f"·d{s[2]}" if len(s) > 2 else "") for s in layers))
    fig.tight_layout()
    return fig


def _class_colours(count):
    """A fixed RGB colour per class index: 0 (background) black, then matplotlib's tab10 cycle."""
    from matplotlib import colors

    tab10 = [colors.to_rgb(f"C{i}") for i in range(10)]
    return [(0.0, 0.0, 0.0)] + [tab10[i % 10] for i in range(max(count - 1, 0))]


def _to_label_map(mask):
    """(H, W) integer labels, or (K, H, W) scores/logits (reduced by argmax), -> numpy (H, W) ints."""
    import numpy as np

    array = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    if array.ndim == 3:
        array = array.argmax(axis=0)
    if array.ndim != 2:
        raise ValueError(f"a mask must be (H, W) class indices or (K, H, W) scores, not shape {array.shape}")
    return array.astype(np.int64)


def show_mask(image, mask, *, ax=None, num_classes=None, alpha=0.6, title=None):
    """Draw ``image`` in grey with ``mask`` tinted over it: class c in its fixed colour, background (0) untinted.

    ``mask`` is (H, W) class indices or (K, H, W) scores (their argmax is shown).  Returns the figure.
    """
    import numpy as np

    picture = np.clip(_to_numpy_image(image), 0, 1)
    labels = _to_label_map(mask)
    if picture.shape[:2] != labels.shape:
        raise ValueError(f"image {picture.shape[:2]} and mask {labels.shape} differ in size")
    grey = picture.mean(axis=-1) if picture.ndim == 3 else picture   # under the tint, so that it reads true
    count = max(num_classes or 0, int(labels.max()) + 1)
    palette = np.array(_class_colours(count))
    tint = (labels > 0)[..., None] * alpha
    blended = grey[..., None] * (1 - tint) + palette[labels] * tint
    fig, ax = _new_axes(ax)
    ax.imshow(blended, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def show_segmentation(image, truth, prediction=None, *, classes=None, axes=None, alpha=0.6, errors=False,
                      legend=True):
    """Image, ground truth and (optionally) a prediction side by side, masks tinted over the image.

    ``truth`` and ``prediction`` are (H, W) class indices, or (K, H, W) scores such as a model's
    logits for one image (their argmax is shown).  ``classes`` names the classes (e.g.
    ``data.SEGMENTATION_CLASSES``) for the legend; each class keeps the same colour in every
    panel and every figure.  ``errors=True`` adds a panel with the wrongly predicted pixels in
    red.  The prediction's title gives its pixel accuracy and mean IoU over the classes present
    in truth or prediction.  ``axes``: as many axes as panels.  Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Patch

    truth_map = _to_label_map(truth)
    pred_map = None if prediction is None else _to_label_map(prediction)
    count = max(len(classes) if classes else 0, int(truth_map.max()) + 1,
                0 if pred_map is None else int(pred_map.max()) + 1)
    panels = 2 + (pred_map is not None) + (pred_map is not None and errors)
    if axes is None:
        fig, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 3.4), squeeze=False)
        axes = axes[0]
    axes = list(np.ravel(axes))
    if len(axes) != panels:
        raise ValueError(f"show_segmentation draws {panels} panels here, but was given {len(axes)} axes")
    fig = axes[0].figure
    picture = _to_numpy_image(image)
    axes[0].imshow(np.clip(picture, 0, 1), cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1,
                   interpolation="nearest")
    axes[0].set_title("image")
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    show_mask(image, truth_map, ax=axes[1], num_classes=count, alpha=alpha, title="truth")
    if pred_map is not None:
        if pred_map.shape != truth_map.shape:
            raise ValueError(f"prediction {pred_map.shape} and truth {truth_map.shape} differ in size")
        wrong = pred_map != truth_map
        present = np.union1d(np.unique(truth_map), np.unique(pred_map))
        ious = [np.sum((truth_map == c) & (pred_map == c)) / np.sum((truth_map == c) | (pred_map == c))
                for c in present]
        show_mask(image, pred_map, ax=axes[2], num_classes=count, alpha=alpha,
                  title=f"prediction: {1 - wrong.mean():.1%} px, IoU {np.mean(ious):.2f}")
        if errors:
            grey = _to_numpy_image(image)
            grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
            shown = np.repeat(np.clip(grey, 0, 1)[..., None] * 0.6, 3, axis=-1)
            shown[wrong] = (0.9, 0.1, 0.1)
            axes[3].imshow(shown, interpolation="nearest")
            axes[3].set_title(f"errors: {wrong.sum()} px")
            axes[3].set_xticks([])
            axes[3].set_yticks([])
    if legend:
        palette = _class_colours(count)
        names = list(classes) if classes else [str(c) for c in range(count)]
        names += [str(c) for c in range(len(names), count)]
        handles = [Patch(facecolor=palette[c] if c else "white", edgecolor="0.4",
                         label=names[c] + (" (untinted)" if c == 0 else "")) for c in range(count)]
        axes[-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return fig


def show_boxes(image, boxes, *, labels=None, scores=None, ax=None, color="C1", title=None, linewidth=1.5,
               fill=False, alpha=1.0):
    """Draw ``image`` with rectangles for ``boxes`` (K, 4) as (x1, y1, x2, y2) in pixel coordinates.

    ``labels`` (K strings or numbers) and ``scores`` (K numbers) are written at each box's top-left
    corner; ``color`` is one matplotlib colour or one per box; ``fill=True`` shades the boxes.  Pixel
    j covers [j, j + 1), so a box x1 = 3, x2 = 8 frames columns 3 … 7 exactly.  Returns the figure.
    """
    import numpy as np
    from matplotlib.patches import Rectangle

    picture = _to_numpy_image(image)
    fig, ax = _new_axes(ax)
    h, w = picture.shape[:2]
    ax.imshow(np.clip(picture, 0, 1), cmap="gray" if picture.ndim == 2 else None, vmin=0, vmax=1,
              interpolation="nearest", extent=(0, w, h, 0))
    rows = boxes.tolist() if hasattr(boxes, "tolist") else list(boxes)
    colours = list(color) if isinstance(color, (list, tuple)) and len(color) == len(rows) else [color] * len(rows)
    for k, (x1, y1, x2, y2) in enumerate(rows):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=fill, edgecolor=colours[k],
                               facecolor=colours[k] if fill else "none", linewidth=linewidth, alpha=alpha))
        text = []
        if labels is not None:
            text.append(str(labels[k]))
        if scores is not None:
            text.append(f"{float(scores[k]):.2f}")
        if text:
            ax.text(x1, y1, " ".join(text), color="white", fontsize=7, va="bottom",
                    bbox=dict(facecolor=colours[k], edgecolor="none", pad=1, alpha=0.8))
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig
