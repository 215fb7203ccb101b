"""Checks for notebook 04: ResNet (He et al., 2016).

The block and the network are model scenarios (``engine.models``) judged by
behaviour against torchvision's ``models/resnet.py``: the state dict must have
torchvision's keys and shapes (so its weights load with ``strict=True``), and
with the same random weights the learner's module must compute the same
outputs, in eval and in training mode.  Known mistakes are diagnosed by
computing what they would output.  Texts are in ``messages/resnet.py``; one
module per exercise:

* ``block``     — the basic block, and the hints for a state dict that differs from torchvision's;
* ``network``   — ResNet-18, built with the course's reference block;
* ``shapes``    — ResNet-18's per-stage shapes by arithmetic;
* ``gradients`` — the norm of the gradient that reaches a layer.
"""

from .block import check_make_basic_block, reference_basic_block
from .gradients import check_first_layer_grad_norm
from .network import check_make_resnet18
from .shapes import check_resnet18_shapes

__all__ = ["check_make_basic_block", "check_make_resnet18", "check_resnet18_shapes",
           "check_first_layer_grad_norm", "reference_basic_block"]
