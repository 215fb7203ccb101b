"""Checks for notebook 06: semantic segmentation and fully convolutional networks.

* ``convolutionalize`` (``convolutionalize.py``): ``nn.Linear`` applied window
  by window is the reference (convolutionalization);
* ``conv_transpose2d`` and ``conv_transpose_output_size`` (``transposed.py``):
  ``F.conv_transpose2d`` and its output size, mistakes by overlap-add;
* ``overlap_counts`` (``overlap.py``): ``F.conv_transpose2d`` of ones with a
  kernel of ones, the taps that land on each output pixel (checkerboards);
* ``bilinear_kernel`` (``bilinear.py``): the tent filter (FCN's initialisation);
* ``confusion_matrix`` and ``segmentation_scores`` (``scores.py``): per-class
  boolean masks, IoU from its definition.

``conv_transpose2d`` (a loop over the kernel's taps) and ``confusion_matrix``
(all pixels counted at once) must then do the same work on a 4 × bigger input:
as many torch operations and lines of the learner's Python
(``engine.no_more_work_on_more_pixels``); a loop over pixels does more.

Known mistakes are diagnosed by computing what they would return; every text a
learner reads is in ``messages/fcn.py``.
"""

from .bilinear import check_bilinear_kernel
from .convolutionalize import check_convolutionalize
from .overlap import check_overlap_counts
from .scores import check_confusion_matrix, check_segmentation_scores
from .transposed import check_conv_transpose2d, check_conv_transpose_output_size

__all__ = ["check_convolutionalize", "check_conv_transpose2d", "check_conv_transpose_output_size",
           "check_overlap_counts", "check_bilinear_kernel", "check_confusion_matrix", "check_segmentation_scores"]
