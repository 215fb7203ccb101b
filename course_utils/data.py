"""Course data: bundled, checksummed, offline.

Every file lives under the repository's ``data/`` folder (or the folder named
by the ``COURSE_DATA_DIR`` environment variable) and is verified against
``data/checksums.sha256`` when it is loaded.  Generated data (the segmentation
set) is verified against ``data/generated.sha256`` instead: it is made on first
use, from fixed seeds, identically on every machine.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

__all__ = ["data_dir", "list_images", "load_image", "load_digits", "verify_data", "SEGMENTATION_CLASSES",
           "SEGMENTATION_PHOTOS", "make_shapes_segmentation", "load_segmentation", "load_segmentation_photo"]


class DataError(FileNotFoundError):
    """A course data file is missing or damaged; the message says what to do."""


def data_dir() -> Path:
    """The folder that holds the course data."""
    env = os.environ.get("COURSE_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def _checksums() -> dict[str, str]:
    listing = data_dir() / "checksums.sha256"
    if not listing.exists():
        raise DataError(f"{listing} is missing. The course data folder is incomplete: re-clone the "
                        "repository, or set COURSE_DATA_DIR to the folder that holds the course's data/.")
    sums = {}
    for line in listing.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip().lstrip("*")] = digest
    return sums


def _verified_path(relative: str) -> Path:
    sums = _checksums()
    if relative not in sums:
        raise DataError(f"'{relative}' is not a course data file. Available: {', '.join(sorted(sums))}.")
    path = data_dir() / relative
    if not path.exists():
        raise DataError(f"{path} is missing. Restore it with `git checkout -- data` in the course folder "
                        "(or re-clone the repository).")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sums[relative]:
        raise DataError(f"{path} is damaged (its SHA-256 does not match data/checksums.sha256). Restore it "
                        "with `git checkout -- data` in the course folder.")
    return path


def verify_data() -> list[str]:
    """Verify every listed data file; return their names (raises ``DataError`` on a problem)."""
    names = sorted(_checksums())
    for name in names:
        _verified_path(name)
    return names


def list_images() -> list[str]:
    """Names of the bundled photographs, for ``load_image``."""
    return sorted(Path(n).stem for n in _checksums() if n.startswith("images/"))


def load_image(name: str = "camera", *, gray: bool = False, size: int | tuple[int, int] | None = None):
    """Load a bundled photograph as a float tensor with values in [0, 1].

    Returns (H, W) when ``gray`` is true (colour photos are converted with
    ITU-R 601 luma weights), else (3, H, W) (grey photos are repeated on
    three channels).  ``size`` resizes to (H, W), or makes the shorter
    side equal to an int, with antialiasing.
    """
    import numpy as np
    import torch
    from PIL import Image

    if name not in list_images():
        raise DataError(f"No bundled image called '{name}'. Available: {', '.join(list_images())}.")
    with Image.open(_verified_path(f"images/{name}.png")) as im:
        im = im.convert("L" if gray else "RGB")
        if size is not None:
            if isinstance(size, int):
                scale = size / min(im.size)
                target = (max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale)))
            else:
                target = (size[1], size[0])
            im = im.resize(target, Image.LANCZOS)
        array = np.asarray(im, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.copy())
    return tensor if gray else tensor.permute(2, 0, 1).contiguous()


def load_digits(split: str = "train", *, test_fraction: float = 0.2):
    """The UCI handwritten digits (1,797 real 8×8 scans, 10 classes) as a ``TensorDataset``.

    Images are (1, 8, 8) floats in [0, 1]; labels are int64.  The split is
    fixed (stratified, seed 0): the same 20 % of each digit is always the
    test set, so accuracies are comparable across runs and learners.
    ``split`` is "train", "test" or "all".
    """
    import numpy as np
    import torch

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
    with np.load(_verified_path("digits.npz")) as archive:
        images, labels = archive["images"], archive["labels"]
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test[members[: round(len(members) * test_fraction)]] = True
    keep = {"train": ~test, "test": test, "all": np.ones_like(test)}[split]
    x = torch.from_numpy(images[keep].astype(np.float32) / 16.0).unsqueeze(1)
    y = torch.from_numpy(labels[keep].astype(np.int64))
    return torch.utils.data.TensorDataset(x, y)


# --------------------------------------------------------------------- segmentation

SEGMENTATION_CLASSES = ("background", "disc", "square", "triangle")


def _bilinear_upsample(low, size: int):
    """(N, C, L, L) -> (N, C, size, size), half-pixel centres, from exact elementwise operations only.

    F.interpolate would do; it is avoided because its vectorised code may round
    differently on another CPU, and the generated set must be identical byte for byte.
    """
    import torch

    length = low.shape[-1]
    pos = ((torch.arange(size, dtype=torch.float32) + 0.5) * (length / size) - 0.5).clamp(0, length - 1)
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=length - 1)
    w = pos - i0.float()
    columns = low[..., i0] * (1 - w) + low[..., i1] * w                         # (N, C, L, size)
    return columns[:, :, i0, :] * (1 - w)[:, None] + columns[:, :, i1, :] * w[:, None]   # (N, C, size, size)


def _distance_to_integer(t):
    """|t - round(t)|, in [0, 0.5]: a periodic ramp of period 1 (no sin: see _unit_vectors)."""
    return (t + 0.5 - (t + 0.5).floor() - 0.5).abs()


def _triangle_wave(t):
    """A periodic wave of period 1 between -1 and 1 (no sin: see _unit_vectors)."""
    return 4 * (t - t.floor() - 0.5).abs() - 1


def _unit_vectors(t, flip=None):
    """Directions from t in [-1, 1] (and a flip in [0, 1)): the rational parametrisation of the circle.

    ((1 - t²) / (1 + t²), 2t / (1 + t²)) needs no sin/cos, whose last bit may differ between CPUs.
    """
    c, s = (1 - t * t) / (1 + t * t), 2 * t / (1 + t * t)
    if flip is not None:
        sign = 1 - 2 * (flip >= 0.5).float()
        c, s = c * sign, s * sign
    return c, s


def make_shapes_segmentation(n: int, size: int = 64, *, seed: int = 0):
    """A deterministic synthetic segmentation set: discs, squares and triangles on textured backgrounds.

    Returns ``(images, masks)``: images (n, 3, size, size) float32 in [0, 1] (8-bit levels),
    masks (n, size, size) int64 indices into ``SEGMENTATION_CLASSES``.

    Each image holds 4 to 7 objects of random class, size (radius 7 to 18 pixels at size 64),
    rotation and colour, painted in order, so that a later object hides part of an earlier one
    (the mask shows what is visible); about half of them are placed against the previous
    object, so objects touch and overlap, and some are cut by the image's border.  A class is
    recognised by its shape *and* by its surface pattern: discs are dotted, squares striped
    diagonally, triangles checked (as a zebra is recognised by its stripes as much as by its
    outline); patterns have a period of 4 to 6 pixels, so a class is told from a neighbourhood,
    never from one pixel.  Colour carries no class information: an object's colour is its
    background's base colour moved by a random amount, and backgrounds are a smooth random
    colour field plus broad oriented stripes, under pixel noise.  A per-pixel colour classifier
    therefore fails; a network must look at a neighbourhood, and place boundaries exactly.

    Masks are exact by construction (shapes are drawn from coordinate grids, no antialiasing).
    Image ``i`` depends only on ``seed`` and ``i`` (one row of random numbers from a local
    ``torch.Generator``), so the first k images of a larger set are the set of size k.  Only
    operations that IEEE 754 rounds exactly are used (no sin, exp or sums), so every CPU
    generates the same bytes.
    """
    import torch

    if n < 0 or size < 16:
        raise ValueError(f"need n >= 0 and size >= 16, not n={n}, size={size}")
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, _SHAPES_PER_IMAGE + 3 * size * size, generator=g)
    # in chunks of 64 images: smaller temporaries, about 1.4x faster than all at once
    parts = [_paint_shapes(u[i:i + 64], size) for i in range(0, n, 64)]
    if not parts:
        return torch.zeros(0, 3, size, size), torch.zeros(0, size, size, dtype=torch.int64)
    return torch.cat([im for im, _ in parts]), torch.cat([m for _, m in parts])


_SLOTS, _LOW, _PER_OBJECT = 7, 5, 14    # objects at most, smooth field's grid size, random numbers per object
_SHAPES_PER_IMAGE = 3 + 1 + 3 * _LOW * _LOW + 1 + 3 + 1 + 1 + 1 + 1 + 1 + 1 + _SLOTS * _PER_OBJECT


def _paint_shapes(u, size):
    """make_shapes_segmentation's images and masks from their rows of random numbers u: (n, ...)."""
    import torch

    n, slots, low, per_object = u.shape[0], _SLOTS, _LOW, _PER_OBJECT
    cursor = 0

    def take(count=1):   # the next `count` random numbers of every image's row: (n, count)
        nonlocal cursor
        cursor += count
        return u[:, cursor - count:cursor]

    scale = size / 64
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = coords[None, :, None], coords[None, None, :]                      # (1, H, 1), (1, 1, W)

    def grid(values):    # (n,) -> (n, 1, 1), to broadcast against pixel grids
        return values[:, None, None]

    # background: base colour + smooth random colour field + broad oriented stripes
    base = 0.15 + 0.7 * take(3)                                                 # (n, 3)
    field_amp = 0.05 + 0.2 * take(1)
    field = _bilinear_upsample((2 * take(3 * low * low) - 1).reshape(n, 3, low, low), size)   # (n, 3, H, W)
    stripe_amp = 0.25 * take(1) ** 2
    stripe_colour = 2 * take(3) - 1
    sc, ss = _unit_vectors(2 * take(1)[:, 0] - 1)
    period = scale * (10 + 14 * take(1)[:, 0])
    phase = take(1)[:, 0]
    stripes = _triangle_wave(grid(1 / period) * (xs * grid(sc) + ys * grid(ss)) + grid(phase))   # (n, H, W)
    image = (base[:, :, None, None] + field_amp[:, :, None, None] * field
             + (stripe_amp * stripe_colour)[:, :, None, None] * stripes[:, None])
    noise_std = 0.02 + 0.03 * take(1)
    count = 4 + (take(1)[:, 0] * 4).floor()                                     # 4 to 7 objects
    pattern = (take(1)[:, 0] * 8).floor()

    mask = torch.zeros(n, size, size, dtype=torch.int64)
    top = torch.full((n, size, size), -1)            # which object is visible at each pixel (-1: none)
    texture = torch.zeros(n, size, size)             # its surface pattern there
    colours = torch.zeros(n, slots, 3)
    prev_x = prev_y = prev_r = None
    for k in range(slots):    # objects, painted in order: later ones hide earlier ones
        p = take(per_object)
        present = count > k
        cls = 1 + (p[:, 0] * 3).floor().clamp(max=2).long()                     # 1 disc, 2 square, 3 triangle
        r = scale * (7 + 11 * p[:, 1] ** 2)                                     # more small objects than large
        rc, rs = _unit_vectors(2 * p[:, 2] - 1)
        x = scale * 2 + (size - 4 * scale) * p[:, 3]
        y = scale * 2 + (size - 4 * scale) * p[:, 4]
        if k > 0:   # about half sit against the previous object: touching or overlapping it
            ac, as_ = _unit_vectors(2 * p[:, 6] - 1, p[:, 7])
            reach = (prev_r + r) * (0.65 + 0.4 * p[:, 8])
            attach = p[:, 5] < 0.5
            x = torch.where(attach, prev_x + reach * ac, x)
            y = torch.where(attach, prev_y + reach * as_, y)
        prev_x, prev_y, prev_r = x, y, r
        dx, dy = xs - grid(x), ys - grid(y)                                     # (n, H, W)
        along, across = dx * grid(rc) + dy * grid(rs), dy * grid(rc) - dx * grid(rs)
        disc = dx * dx + dy * dy <= grid(r * r)
        square = (along.abs() <= grid(0.9 * r)) & (across.abs() <= grid(0.9 * r))
        inner = grid(0.675 * r)                          # equilateral triangle, circumradius 1.35 r
        cos120, sin120 = -0.5, 0.8660254037844386
        triangle = ((along <= inner) & (along * cos120 + across * sin120 <= inner)
                    & (along * cos120 - across * sin120 <= inner))
        is_disc, is_square = grid(cls == 1), grid(cls == 2)
        shape = torch.where(is_disc, disc, torch.where(is_square, square, triangle)) & grid(present)

        # surface pattern, period 4-6 pixels, fixed to the image's axes (random phase): a grid of dots,
        # diagonal stripes, or a checkerboard
        frequency = grid(1 / (scale * (4 + 2 * p[:, 13])))
        rows, cols = ys * frequency + grid(p[:, 10]), xs * frequency + grid(p[:, 11])
        band_a, band_b = _distance_to_integer(rows) < 0.25, _distance_to_integer(cols) < 0.25
        diagonal = _distance_to_integer((rows + cols) * 0.7071067811865476) < 0.25
        pattern_k = torch.where(is_disc, band_a & band_b, torch.where(is_square, diagonal, band_a == band_b))
        # +a on the pattern, -a·f/(1-f) off it (f: the pattern's share of pixels), so that texture
        # does not change an object's mean colour: dots cover 25 %, stripes and checks 50 %
        amplitude = grid(0.2 + 0.1 * p[:, 12])
        on_share = torch.where(is_disc, 0.25, 0.5)
        lift = torch.where(pattern_k, amplitude * (1 - on_share), -amplitude * on_share) * 2
        texture = torch.where(shape, lift, texture)
        top = torch.where(shape, k, top)
        mask = torch.where(shape, grid(cls), mask)

        # colour: the background's base colour moved by 0.12-0.42 per channel, with a sign pattern
        # that differs between consecutive objects; reflected when it would leave [0, 1]
        bits = (pattern + 3 * k) % 8
        signs = torch.stack([1 - 2 * ((bits // d) % 2) for d in (1, 2, 4)], dim=1)
        delta = signs * (0.12 + 0.3 * p[:, 9:12])
        colours[:, k] = torch.where((base + delta < 0) | (base + delta > 1), base - delta, base + delta)

    visible = top.clamp(min=0).reshape(n, 1, size * size).expand(n, 3, size * size)
    surface = colours.transpose(1, 2).gather(2, visible).reshape(n, 3, size, size) + texture[:, None]
    image = torch.where((top >= 0)[:, None], surface, image)
    noise = (2 * take(3 * size * size) - 1).reshape(n, 3, size, size) * (noise_std * 3 ** 0.5)[:, :, None, None]
    image = ((image + noise).clamp(0, 1) * 255).round() / 255                  # 8-bit levels
    return image, mask


_SEGMENTATION_SPLITS = {"train": (512, 1), "test": (128, 2)}   # split: (number of images, seed)


def _segmentation_digest(images, masks) -> str:
    """SHA-256 of a segmentation set: its images as 8-bit levels, then its masks, as bytes (row-major)."""
    import torch

    digest = hashlib.sha256()
    digest.update((images * 255).round().to(torch.uint8).numpy().tobytes())
    digest.update(masks.to(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _generated_checksums() -> dict[str, str]:
    listing = data_dir() / "generated.sha256"
    if not listing.exists():
        raise DataError(f"{listing} is missing. The course data folder is incomplete: restore it with "
                        "`git checkout -- data` in the course folder (or re-clone the repository).")
    sums = {}
    for line in listing.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest
    return sums


@functools.lru_cache(maxsize=None)
def _generated_segmentation(split: str):
    images, masks = make_shapes_segmentation(_SEGMENTATION_SPLITS[split][0], seed=_SEGMENTATION_SPLITS[split][1])
    return images, masks, _segmentation_digest(images, masks)


def load_segmentation(split: str = "train"):
    """The course's segmentation set (notebooks 06-08) as a ``TensorDataset`` of (image, mask).

    Images are (3, 64, 64) float32 in [0, 1]; masks are (64, 64) int64 class indices into
    ``SEGMENTATION_CLASSES`` (background, disc, square, triangle).  "train" has 512 images,
    "test" 128; both are generated by ``make_shapes_segmentation`` with fixed seeds, checked
    against ``data/generated.sha256``, and kept in memory, so a second load is instant.  Each
    load returns fresh tensors: changing them in place does not change the next load.
    """
    import torch

    if split not in _SEGMENTATION_SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, _SEGMENTATION_SPLITS))}, not {split!r}")
    name = f"segmentation-{split}"
    expected = _generated_checksums().get(name)
    if expected is None:
        raise DataError(f"data/generated.sha256 has no line for '{name}'. Restore it with `git checkout -- data` "
                        "in the course folder.")
    images, masks, digest = _generated_segmentation(split)
    if digest != expected:
        raise DataError(
            f"The generated segmentation set '{split}' differs from the course's (its SHA-256 does not match "
            f"data/generated.sha256): this installation (torch {torch.__version__}) generated different data from "
            "the one the course was built with. Install the course's pinned versions (`pip install -r "
            "requirements.txt` in the course folder) and restart the kernel. If you changed the generator on "
            "purpose, run `python data/make_segmentation.py` to record the new checksums.")
    return torch.utils.data.TensorDataset(images.clone(), masks.clone())


SEGMENTATION_PHOTOS = {"coins": ("background", "coin")}   # photo: its mask's class names


def load_segmentation_photo(name: str = "coins", *, size: int | tuple[int, int] | None = None):
    """A real photograph with a segmentation mask, for demonstrations: ``(image, mask)``.

    image: (3, H, W) float32 in [0, 1] (a grey photo repeated on three channels); mask: (H, W)
    int64 class indices, named by ``SEGMENTATION_PHOTOS[name]`` (for "coins": 0 background,
    1 coin).  The mask was made by a documented watershed procedure (data/make_segmentation.py)
    and checked by eye: it is right to within a pixel or two at the coins' edges, not exact.
    ``size`` resizes both as ``load_image`` does (the mask by nearest neighbour).
    """
    import numpy as np
    import torch
    from PIL import Image

    if name not in SEGMENTATION_PHOTOS:
        raise DataError(f"No segmentation photo called '{name}'. Available: {', '.join(SEGMENTATION_PHOTOS)}.")
    image = load_image(name, size=size)
    with Image.open(_verified_path(f"masks/{name}.png")) as im:
        if size is not None:
            im = im.resize((image.shape[2], image.shape[1]), Image.NEAREST)
        mask = torch.from_numpy(np.asarray(im, dtype=np.int64).copy())
    return image, mask
