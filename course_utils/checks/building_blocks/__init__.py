"""Checks for notebook 02: pooling, batch normalisation, softmax, receptive fields, a first CNN.

One module per exercise group: ``layers`` (pooling, batch norm, softmax,
compared with torch's own functions) and ``networks`` (the receptive field,
measured on a real stack; the digits CNN, probed and scored).
"""

from .layers import check_avg_pool2d, check_batch_norm, check_max_pool2d, check_softmax
from .networks import check_make_digits_cnn, check_receptive_field

__all__ = ["check_max_pool2d", "check_avg_pool2d", "check_batch_norm", "check_softmax",
           "check_receptive_field", "check_make_digits_cnn"]
