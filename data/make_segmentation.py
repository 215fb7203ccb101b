"""Rebuild the segmentation data's derived files (maintainers only; learners never run this).

    python data/make_segmentation.py          # from the course folder, in the course environment

1. ``masks/coins.png``: the background/coin mask of ``images/coins.png``, made by the
   watershed procedure of scikit-image's gallery example "Comparing edge-based and
   region-based segmentation": the Sobel gradient magnitude as elevation map; markers
   "background" where grey < 30 and "coin" where grey > 150 (0-255 scale); watershed; holes
   filled; objects under 30 pixels removed.  Needs scikit-image and SciPy (not course
   requirements).  The mask is approximate at the boundaries (within a pixel or two) and
   was checked by eye; it is stored as an 8-bit palette PNG whose pixel values are the class
   indices (0 background, 1 coin).
2. ``checksums.sha256``: the line for ``masks/coins.png``.
3. ``generated.sha256``: the SHA-256 of ``load_segmentation``'s "train" and "test" sets as this
   installation generates them (run it only when the generator was changed on purpose).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def coins_mask() -> np.ndarray:
    from scipy import ndimage as ndi
    from skimage.filters import sobel
    from skimage.segmentation import watershed

    grey = np.asarray(Image.open(HERE / "images" / "coins.png").convert("L"))
    elevation = sobel(grey / 255.0)
    markers = np.zeros_like(grey, dtype=np.int32)
    markers[grey < 30] = 1
    markers[grey > 150] = 2
    coins = watershed(elevation, markers) == 2
    coins = ndi.binary_fill_holes(coins)
    labels, count = ndi.label(coins)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    coins = coins & (sizes[labels] >= 30)
    return coins.astype(np.uint8)


def save_palette_png(mask: np.ndarray, path: Path) -> None:
    image = Image.fromarray(mask, mode="P")
    image.putpalette([0, 0, 0, 255, 200, 0] + [0, 0, 0] * 254)   # 0 black, 1 gold: viewable as it is
    path.parent.mkdir(exist_ok=True)
    image.save(path, optimize=True)


def update_listing(listing: Path, name: str, digest: str) -> None:
    lines = [line for line in listing.read_text().splitlines() if line.strip() and not line.endswith(f"  {name}")]
    listing.write_text("\n".join(lines + [f"{digest}  {name}"]) + "\n")


def main() -> None:
    mask = coins_mask()
    target = HERE / "masks" / "coins.png"
    save_palette_png(mask, target)
    assert np.array_equal(np.asarray(Image.open(target)), mask)
    update_listing(HERE / "checksums.sha256", "masks/coins.png", hashlib.sha256(target.read_bytes()).hexdigest())
    print(f"{target.relative_to(HERE)}: {mask.shape}, coin fraction {mask.mean():.3f}, {target.stat().st_size} bytes")

    from course_utils import data
    lines = ["# SHA-256 of the generated data sets (course_utils.data._segmentation_digest);"
             " written by make_segmentation.py"]
    for split in data._SEGMENTATION_SPLITS:
        images, masks, digest = data._generated_segmentation(split)
        lines.append(f"{digest}  segmentation-{split}")
        print(f"segmentation-{split}: {tuple(images.shape)}, {digest[:16]}...")
    (HERE / "generated.sha256").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
