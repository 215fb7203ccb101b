"""Course data: bundled, checksummed, offline.

Every file lives under the repository's ``data/`` folder (or the folder named
by the ``COURSE_DATA_DIR`` environment variable) and is verified against
``data/checksums.sha256`` when it is loaded.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["data_dir", "list_images", "load_image", "load_digits", "verify_data"]


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
