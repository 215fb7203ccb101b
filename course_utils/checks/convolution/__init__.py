"""Checks for notebook 01: convolution.

Every expected answer comes from an independent reference computed at check
time: ``numpy.convolve``, ``torch.nn.functional.conv2d`` or an ``nn.Conv2d``
built on the ``meta`` device (shapes and parameter counts at no cost).

One file per exercise group: ``direct`` (conv1d_full, conv2d_true, conv2d, and
the convolutions every check here refuses), ``im2col`` (conv2d_im2col, with its
operation count and speed comparison), ``sizes`` (conv_output_size,
conv_param_count).
"""

from __future__ import annotations

import time  # noqa: F401  (the clock ``im2col`` picks reads ``time``: a test patches it as ``convolution.time``)

from .direct import check_conv1d_full, check_conv2d, check_conv2d_true
from .im2col import check_conv2d_im2col
from .sizes import check_conv_output_size, check_conv_param_count

# The rest of what this module held when it was one file, for what imports it from here: the checks of
# notebooks 06 and 08 (what they refuse), the benchmarks (the speed procedure) and the tests (cases, clocks).
from .direct import (CONV_OPS as CONV_OPS, _CONV2D_EXTENDED as _CONV2D_EXTENDED, _CONV2D_SPECS as _CONV2D_SPECS,
                     _conv1d_cases as _conv1d_cases, _conv1d_forbidden as _conv1d_forbidden,
                     _conv2d_answers as _conv2d_answers, _conv2d_cases as _conv2d_cases,
                     _conv2d_forbidden as _conv2d_forbidden, _conv2d_true_cases as _conv2d_true_cases,
                     conv_ops as conv_ops)
from .im2col import (IM2COL_SPEED_FACTOR as IM2COL_SPEED_FACTOR, IM2COL_WALL_SPEED_FACTOR as IM2COL_WALL_SPEED_FACTOR,
                     _clock_step as _clock_step, _cpu_clock as _cpu_clock, _speed_ratio as _speed_ratio,
                     im2col_speed_case as im2col_speed_case)
from .sizes import (_PARAM_EXTENDED as _PARAM_EXTENDED, _PARAM_SPECS as _PARAM_SPECS,
                    _SIZE_EXTENDED as _SIZE_EXTENDED, _SIZE_SPECS as _SIZE_SPECS,
                    _conv_output_size_cases as _conv_output_size_cases,
                    _conv_param_count_cases as _conv_param_count_cases)

__all__ = ["check_conv1d_full", "check_conv2d_true", "check_conv2d", "check_conv_output_size",
           "check_conv_param_count", "check_conv2d_im2col"]

# Seconds of the learner's timed calls, all together, after which the speed
# comparison stops: a slow variant's best time so far is far over the bar anyway.
# Read at call time by ``im2col`` (from here), so a test may lower it
# (``monkeypatch.setattr(convolution, "IM2COL_SPEED_BUDGET", 0.3)``).
IM2COL_SPEED_BUDGET = 1.0
