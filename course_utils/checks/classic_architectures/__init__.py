"""Checks for notebook 03: AlexNet, VGG, GoogLeNet's inception module and auxiliary heads.

A model is judged by what it computes: ``check_model`` puts the reference's
seeded random weights into the learner's model (paired layer by layer in the
order the forward pass runs them) and compares the outputs by value, in eval
and in training mode with the same dropout masks.  The references are
torchvision's ``alexnet`` and ``vgg*`` and, for the inception module, the
paper's module built here from ``nn.Conv2d`` and ReLU.  The mini GoogLeNet's
exercise writes ``forward`` only: probes judge the outputs' form and the
heads' gradients, and the reference is the statement's forward around the
learner's own layers (``reference_wraps_model``).  The
parameter-count exercises compare with ``nn.Conv2d`` built on the ``meta``
device.

One file per exercise group: ``alexnet_vgg`` (make_alexnet, make_vgg), ``params``
(vgg_stack_params, bottleneck_params), ``inception`` (make_inception),
``googlenet`` (make_mini_googlenet).
"""

from __future__ import annotations

from .alexnet_vgg import check_make_alexnet, check_make_vgg
from .googlenet import check_make_mini_googlenet
from .inception import check_make_inception
from .params import check_bottleneck_params, check_vgg_stack_params

# The case tables and references this module held when it was one file, for what imports them from here
# (the tests read the public and hidden cases, and count the paper's inception module).
from .alexnet_vgg import (_ALEXNET_EXTENDED as _ALEXNET_EXTENDED, _ALEXNET_PUBLIC as _ALEXNET_PUBLIC,
                          _VGG_EXTENDED as _VGG_EXTENDED, _VGG_PUBLIC as _VGG_PUBLIC, _torchvision as _torchvision)
from .googlenet import _GOOGLENET_PARTS as _GOOGLENET_PARTS, _statement_googlenet as _statement_googlenet
from .inception import (_INCEPTION_EXTENDED as _INCEPTION_EXTENDED, _INCEPTION_SPECS as _INCEPTION_SPECS,
                        _paper_inception as _paper_inception)
from .params import _bottleneck_cases as _bottleneck_cases, _vgg_stack_cases as _vgg_stack_cases

__all__ = ["check_make_alexnet", "check_make_vgg", "check_vgg_stack_params", "check_bottleneck_params",
           "check_make_inception", "check_make_mini_googlenet"]
