"""Checks for notebook 05: DenseNet, SENet, EfficientNet's compound scaling, deformable convolution.

One module per group of exercises, texts in ``messages/densenet_and_beyond.py``:

* ``dense``       — the dense layer and the transition (model scenarios against
  torchvision's ``_DenseLayer`` and ``_Transition``), the channel count;
* ``dense_block`` — the dense block, built from the course's layers passed in;
* ``densenet``    — a whole DenseNet vs torchvision's (meta device: shapes,
  parameters, FLOPs; a small one by value);
* ``beyond``      — the SE block, compound scaling, deformable convolution.
"""

from .beyond import check_compound_scaling, check_deform_conv_zero_offset, check_make_se_block
from .dense import check_densenet_channels, check_make_dense_layer, check_make_transition
from .dense_block import check_make_dense_block
from .densenet import check_make_densenet

__all__ = ["check_make_dense_layer", "check_make_dense_block", "check_make_transition", "check_densenet_channels",
           "check_make_densenet", "check_make_se_block", "check_compound_scaling",
           "check_deform_conv_zero_offset"]
