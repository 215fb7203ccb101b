"""Checks for notebook 08: DeepLab (atrous convolution, depthwise separable convolution, ASPP, dense CRF).

* ``atrous_conv2d`` (stride 1, by space-to-batch) is compared with ``F.conv2d(..., dilation=...)``; while
  the learner's code runs, a convolution or ``F.unfold`` with dilation ≠ 1 or a kernel larger than k × k is
  refused, and a dense one with the k × k kernel must be used (``atrous``).
* ``make_separable_conv`` and ``make_aspp`` are model scenarios (``models``): the reference's seeded random
  weights are loaded into the learner's module by their state-dict keys — ``.depthwise`` / ``.pointwise``
  for the separable convolution, torchvision's ``deeplabv3.ASPP`` layout for ASPP — and both run on the same
  inputs, in eval and in training mode, with the same outputs expected.  Known wrong models (dilation not
  passed on, a ReLU between the steps, max image pooling, the projection's ReLU missing, …) are mutations of
  the reference, so a hint names a mistake only when the learner's outputs equal that mistake's.
* ``mean_field_step`` is compared with an explicit dense computation written here (every pair
  (i, j ≠ i), Potts compatibility, softmax over the labels), not with ``course_utils.crf``; also with
  zero pairwise weights (then the step is softmax(−unary)) and over five iterations (``crf``).

Every hint is in the notebook's message table, ``messages/deeplab.py``.
"""

from __future__ import annotations

from .atrous import check_atrous_conv2d
from .crf import check_mean_field_step
from .models import check_make_aspp, check_make_separable_conv, separable_param_count

__all__ = ["check_atrous_conv2d", "check_make_separable_conv", "check_make_aspp", "check_mean_field_step",
           "separable_param_count"]
