"""Which module holds the checks of which notebook: the one list to extend.

A notebook's checks live in ``course_utils/checks/<module>/``, named after the
notebook: a package, one file per exercise group, whose ``__init__`` re-exports
them.  Every ``check_*`` name in that module's ``__all__`` is exported by
``course_utils.checks`` (``from course_utils.checks import check_conv2d``),
snapshotted by the grader's guard, and run through the generic contract tests.
Adding a check means writing it in its notebook's module and listing it in that
module's ``__all__``; adding a notebook means one line here.
"""

from __future__ import annotations

# notebook (its folder under notebooks/) -> module of course_utils.checks
NOTEBOOKS = {
    "01_convolution": "convolution",
    "02_building_blocks": "building_blocks",
    "03_classic_architectures": "classic_architectures",
    "04_resnet": "resnet",
    "05_densenet_and_beyond": "densenet_and_beyond",
    "06_fcn": "fcn",
    "07_unet": "unet",
    "08_deeplab": "deeplab",
    "09_detection": "detection",
}


def check_names(module) -> list[str]:
    """The public checks of one notebook's module, in the order it lists them."""
    return [name for name in module.__all__ if name.startswith("check_")]
