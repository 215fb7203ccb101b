"""Checks for notebook 07: U-Net (Ronneberger, Fischer & Brox, MICCAI 2015).

* ``match_size`` (``match_size.py``) is compared with an explicit index
  computation, not with ``F.pad``, on pads and crops of odd and even differences;
* ``make_unet`` (``network.py``) is a model scenario: parameter counts from the
  architecture's description (the paper's configuration too), the input's size
  back on odd and non-square inputs, the skip concatenations, then the outputs
  by value against the check's own U-Net (``reference.py``) with the same weights;
* ``unet_output_size`` (``output_size.py``, the paper's unpadded "valid" U-Net)
  is compared with the reference valid U-Net run on the meta device.

Every text a learner reads is in ``messages/unet.py``.
"""

from .match_size import check_match_size
from .network import check_make_unet, unet_parameter_count
from .output_size import check_unet_output_size

__all__ = ["check_match_size", "check_make_unet", "check_unet_output_size", "unet_parameter_count"]
