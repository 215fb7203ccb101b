"""Helpers for the hands-on CNN course: checks, data, plots, progress, training, widgets.

Importing ``course_utils`` does nothing else: no seeding, no plotting style,
no downloads, and it does not even import torch.  Import the module you need:

    from course_utils.checks import check_conv2d
    from course_utils import data, plots
"""

import importlib

__version__ = "0.1.0"
__all__ = ["checks", "data", "plots", "progress", "train", "widgets"]


def __getattr__(name):
    # `course_utils.plots` works without an explicit submodule import, loaded on first use.
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")
