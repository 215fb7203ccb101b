"""Proof that the six convolution checks of notebook 01 work.

A check that was never seen failing is not a check.  This module holds what
is specific to these checks:

* the correct implementations, in several styles, that
  ``test_check_contract.py`` runs on the public and hidden cases (registered
  through ``SPECS`` below, with the generic contract: not attempted, raised,
  cannot be checked, stopped, strict, rendering, guards, determinism);
* a catalogue of plausible wrong implementations fails, each with the hint
  that names its mistake, and the references are refused while the learner
  runs.

The "learner" functions below are written the way a learner would write
them; none of the correct ones calls the function its exercise re-implements.
Every expected number is computed (by torch, numpy, a formula or the check
itself), never typed in.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view

import course_utils.checks as checks
from checks.helpers import (CheckSpec, assert_no_new_kind, guards_fixture, mistake_case,  # noqa: F401
                           one_torch_thread)
from course_utils.checks import convolution
from course_utils.checks.messages.convolution import M
from course_utils.checks import (INCORRECT, PASSED, check_conv1d_full, check_conv2d, check_conv2d_im2col,
                                 check_conv2d_true,
                                 check_conv_output_size, check_conv_param_count)

COURSE_UTILS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(checks.__file__)))

# The functions the guards replace while the learner's code runs, and the
# originals they must put back.
GUARDED = {
    "F.conv2d": (F, "conv2d"), "torch.conv2d": (torch, "conv2d"),
    "torch.convolution": (torch, "convolution"), "F.conv_transpose2d": (F, "conv_transpose2d"),
    "numpy.convolve": (np, "convolve"), "numpy.correlate": (np, "correlate"),
    "F.conv1d": (F, "conv1d"), "torch.conv1d": (torch, "conv1d"), "F.unfold": (F, "unfold"),
}
# (check, guarded function) pairs: test_check_contract.py spies that the function is replaced
# while the learner's code runs, and only then.
REFERENCES = [("conv1d_full", "numpy.convolve"), ("conv2d_true", "F.conv2d"), ("conv2d", "F.conv2d"),
              ("conv2d", "torch.conv2d"), ("conv2d_im2col", "F.unfold"), ("conv2d_im2col", "F.conv2d")]


guards_put_everything_back = guards_fixture(GUARDED)


# ==========================================================================
# Learner implementations: shared helpers
# ==========================================================================

def pair(v):
    """An int or an (along H, along W) pair, as a pair."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def settings(x, weight, stride, padding, dilation):
    """Unpack the usual conv2d arguments and compute the output size."""
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo


# ==========================================================================
# conv1d_full(signal, kernel)
# ==========================================================================

def conv1d_full_loops(signal, kernel):
    """Explicit loops straight from the definition out[t] = sum_i s[i] * k[t - i]."""
    length, k = signal.shape[0], kernel.shape[0]
    out = torch.zeros(length + k - 1, dtype=signal.dtype)
    for t in range(length + k - 1):
        for i in range(max(0, t - k + 1), min(length, t + 1)):
            out[t] += signal[i] * kernel[t - i]
    return out


def conv1d_full_unfold(signal, kernel):
    """Pad with K-1 zeros, take every window with Tensor.unfold, dot with the flipped kernel."""
    zeros = signal.new_zeros(kernel.shape[0] - 1)
    padded = torch.cat([zeros, signal, zeros])
    windows = padded.unfold(0, kernel.shape[0], 1)  # (L + K - 1, K)
    return windows @ kernel.flip(0)


def conv1d_full_numpy(signal, kernel):
    """Scatter the outer product onto the anti-diagonals with numpy, then back to torch."""
    s, k = signal.numpy(), kernel.numpy()
    out = np.zeros(len(s) + len(k) - 1)
    np.add.at(out, np.add.outer(np.arange(len(s)), np.arange(len(k))), np.outer(s, k))
    return torch.from_numpy(out).to(signal.dtype)


def conv1d_full_cross_correlation(signal, kernel):
    # slides the kernel as it is, without flipping it
    zeros = signal.new_zeros(kernel.shape[0] - 1)
    windows = torch.cat([zeros, signal, zeros]).unfold(0, kernel.shape[0], 1)
    return windows @ kernel


def conv1d_full_valid_only(signal, kernel):
    # only the shifts where the kernel lies entirely inside the signal
    return signal.unfold(0, kernel.shape[0], 1) @ kernel.flip(0)


def conv1d_full_same_length(signal, kernel):
    # keeps the centred part, as long as the signal ('same')
    full = conv1d_full_unfold(signal, kernel)
    start = (kernel.shape[0] - 1) // 2
    return full[start:start + signal.shape[0]]


def _conv1d_with_length(signal, kernel, n_out):
    out = torch.zeros(n_out, dtype=signal.dtype)
    for t in range(n_out):
        for i in range(signal.shape[0]):
            if 0 <= t - i < kernel.shape[0]:
                out[t] += signal[i] * kernel[t - i]
    return out


def conv1d_full_one_short(signal, kernel):
    # the output length L + K - 2: forgot the last shift
    return _conv1d_with_length(signal, kernel, signal.shape[0] + kernel.shape[0] - 2)


def conv1d_full_one_long(signal, kernel):
    # the output length L + K: one shift too many
    return _conv1d_with_length(signal, kernel, signal.shape[0] + kernel.shape[0])


def conv1d_full_float64(signal, kernel):
    # numpy works in float64 and the result is never converted back
    s, k = signal.numpy(), kernel.numpy()
    out = np.zeros(len(s) + len(k) - 1)
    for i in range(len(s)):
        out[i:i + len(k)] += s[i] * k
    return torch.from_numpy(out)


def conv1d_full_calls_np_convolve(signal, kernel):
    return torch.from_numpy(np.convolve(signal.numpy(), kernel.numpy(), mode="full"))


def conv1d_full_calls_np_correlate(signal, kernel):
    return torch.from_numpy(np.correlate(signal.numpy(), kernel.numpy()[::-1].copy(), mode="full"))


def conv1d_full_calls_F_conv1d(signal, kernel):
    k = kernel.shape[0]
    return F.conv1d(signal[None, None], kernel.flip(0)[None, None], padding=k - 1)[0, 0]


# ==========================================================================
# conv2d_true(image, kernel): kernel flipped, 'valid' output
# ==========================================================================

def conv2d_true_loops(image, kernel):
    """Pure Python loops over plain lists, indexing the kernel backwards."""
    img, ker = image.tolist(), kernel.tolist()
    h, w = len(img), len(img[0])
    kh, kw = len(ker), len(ker[0])
    out = [[0.0] * (w - kw + 1) for _ in range(h - kh + 1)]
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            acc = 0.0
            for m in range(kh):
                for n in range(kw):
                    acc += img[i + m][j + n] * ker[kh - 1 - m][kw - 1 - n]
            out[i][j] = acc
    return torch.tensor(out, dtype=image.dtype)


def conv2d_true_unfold(image, kernel):
    """Every window with Tensor.unfold, then one einsum with the flipped kernel."""
    kh, kw = kernel.shape
    windows = image.unfold(0, kh, 1).unfold(1, kw, 1)  # (H_out, W_out, kh, kw)
    return torch.einsum("ijmn,mn->ij", windows, kernel.flip(0, 1))


def conv2d_true_numpy(image, kernel):
    """numpy's sliding_window_view and tensordot, converted back to torch."""
    k = np.flip(kernel.numpy(), (0, 1))
    windows = sliding_window_view(image.numpy(), k.shape)
    return torch.from_numpy(np.tensordot(windows, k, axes=([2, 3], [0, 1]))).to(image.dtype)


def correlate2d(image, kernel):
    """Slide the kernel as it is (no flip): the deep-learning 'convolution'."""
    kh, kw = kernel.shape
    return torch.einsum("ijmn,mn->ij", image.unfold(0, kh, 1).unfold(1, kw, 1), kernel)


def conv2d_true_cross_correlation(image, kernel):
    # the deep-learning habit: the kernel is not flipped
    return correlate2d(image, kernel)


def conv2d_true_flips_columns_only(image, kernel):
    # kernel[:, ::-1]: each row reversed (flip along W), the row order kept
    return correlate2d(image, kernel.flip(1))


def conv2d_true_flips_rows_only(image, kernel):
    # kernel[::-1, :]: the row order reversed (flip along H), each row kept
    return correlate2d(image, kernel.flip(0))


def conv2d_true_transposes_kernel(image, kernel):
    # "flips" the kernel with .T
    return correlate2d(image, kernel.T)


def conv2d_true_full_size(image, kernel):
    # pads kh-1 / kw-1 zeros on every side: the 'full' convolution
    kh, kw = kernel.shape
    return conv2d_true_unfold(F.pad(image, (kw - 1, kw - 1, kh - 1, kh - 1)), kernel)


def conv2d_true_same_size(image, kernel):
    # pads to keep the image size: the 'same' convolution
    kh, kw = kernel.shape
    return conv2d_true_unfold(F.pad(image, ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)), kernel)


def conv2d_true_one_short(image, kernel):
    # range(H - kh) instead of range(H - kh + 1)
    kh, kw = kernel.shape
    h, w = image.shape
    flipped = kernel.flip(0, 1)
    out = torch.zeros(h - kh, w - kw, dtype=image.dtype)
    for i in range(h - kh):
        for j in range(w - kw):
            out[i, j] = (image[i:i + kh, j:j + kw] * flipped).sum()
    return out


def conv2d_true_swapped_output(image, kernel):
    # allocates out as (W_out, H_out) and writes out[j, i]
    kh, kw = kernel.shape
    h, w = image.shape
    flipped = kernel.flip(0, 1)
    out = torch.zeros(w - kw + 1, h - kh + 1, dtype=image.dtype)
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            out[j, i] = (image[i:i + kh, j:j + kw] * flipped).sum()
    return out


def conv2d_true_calls_F_conv2d(image, kernel):
    return F.conv2d(image[None, None], kernel.flip(0, 1)[None, None])[0, 0]


def conv2d_true_calls_torch_conv2d(image, kernel):
    return torch.conv2d(image[None, None], kernel.flip(0, 1)[None, None])[0, 0]


# ==========================================================================
# conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1)
# ==========================================================================

def conv2d_loops(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """A loop over output pixels, each one a vectorised inner product over (C_in, kh, kw)."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = torch.zeros(n, c, h + 2 * ph, w + 2 * pw, dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    out = torch.zeros(n, o, ho, wo, dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[:, :, i, j] = (patch[:, None] * weight[None]).sum(dim=(2, 3, 4))  # (N, C_out)
    if bias is not None:
        out += bias[:, None, None]
    return out


def conv2d_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Tensor.unfold for the windows, a dilation step inside them, one einsum."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    windows = xp.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw]
    out = torch.einsum("nchwij,ocij->nohw", windows, weight)  # windows: (N, C, H_out, W_out, kh, kw)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def conv2d_numpy(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """numpy's sliding_window_view and einsum, converted back to torch with the input's dtype."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]
    out = np.einsum("nchwij,ocij->nohw", windows, weight.numpy())
    if bias is not None:
        out = out + bias.numpy()[None, :, None, None]
    return torch.from_numpy(np.ascontiguousarray(out)).to(x.dtype)


def conv2d_flipped_kernel(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # a true convolution, as in the maths lecture
    return conv2d_unfold(x, weight.flip(-1, -2), bias, stride, padding, dilation)


def conv2d_no_bias(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # forgets to add the bias
    return conv2d_unfold(x, weight, None, stride, padding, dilation)


def conv2d_ignores_padding(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_unfold(x, weight, bias, stride, 0, dilation)


def conv2d_ignores_stride(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_unfold(x, weight, bias, 1, padding, dilation)


def conv2d_ignores_dilation(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_unfold(x, weight, bias, stride, padding, 1)


def conv2d_one_short(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # H_out = (H + 2p - d(k-1) - 1) // s, forgetting the + 1
    return conv2d_unfold(x, weight, bias, stride, padding, dilation)[..., :-1, :-1]


def conv2d_channels_last(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # einsum "...->nhwo": the NHWC layout of TensorFlow
    return conv2d_unfold(x, weight, bias, stride, padding, dilation).permute(0, 2, 3, 1)


def conv2d_first_channel_only(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # slides over x[:, 0] only, as if images were grey
    return conv2d_unfold(x[:, :1], weight[:, :1], bias, stride, padding, dilation)


def conv2d_swapped_hw(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # reads stride=(a, b) as (along W, along H)
    return conv2d_unfold(x, weight, bias, pair(stride)[::-1], pair(padding)[::-1], pair(dilation)[::-1])


def conv2d_pads_one_side(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # zeros at the top and left only
    ph, pw = pair(padding)
    return conv2d_unfold(F.pad(x, (pw, 0, ph, 0)), weight, bias, stride, 0, dilation)


def conv_output_size_span_d_times_k(size, kernel_size, stride=1, padding=0, dilation=1):
    # the dilated kernel's span taken as d·k, not d·(k − 1) + 1
    return (size + 2 * padding - dilation * kernel_size) // stride + 1


def conv2d_dilation_pair_first_only(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # the first value of the dilation pair along both axes
    d = pair(dilation)[0]
    return conv2d_unfold(x, weight, bias, stride, padding, (d, d))


def conv2d_padding_pair_last_only(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # the second value of the padding pair along both axes
    p = pair(padding)[1]
    return conv2d_unfold(x, weight, bias, stride, (p, p), dilation)


def conv2d_calls_F_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


def conv2d_uses_nn_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=stride,
                      padding=padding, dilation=dilation, bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer(x).detach()


def conv2d_hides_reference_call(x, weight, bias=None, stride=1, padding=0, dilation=1):
    try:
        return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)
    except Exception:  # "in case the grader forbids it"
        return conv2d_unfold(x, weight, bias, stride, padding, dilation)


# ==========================================================================
# conv2d_im2col: the same contract, one matrix product
# ==========================================================================

def conv2d_im2col_strided(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """F.pad + as_strided patch view + reshape + a single matmul."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph)).contiguous()
    s = xp.stride()
    patches = xp.as_strided((n, c, kh, kw, ho, wo), (s[0], s[1], s[2] * dh, s[3] * dw, s[2] * sh, s[3] * sw))
    cols = patches.reshape(n, c * kh * kw, ho * wo)  # (N, C·kh·kw, H_out·W_out)
    out = weight.reshape(o, -1) @ cols  # (N, C_out, H_out·W_out)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Tensor.unfold windows laid out as columns (N, C·kh·kw, H_out·W_out), then weight @ columns."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    windows = xp.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw]
    cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo)
    out = weight.reshape(o, -1) @ cols  # (N, C_out, H_out·W_out)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_rows(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """The notebook's layout: windows as rows (N, H_out·W_out, C·kh·kw) @ weight.T, the result permuted back."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    windows = F.pad(x, (pw, pw, ph, ph)).unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    rows = windows[..., ::dh, ::dw].permute(0, 2, 3, 1, 4, 5).reshape(n, ho * wo, c * kh * kw)
    out = rows @ weight.reshape(o, -1).T
    if bias is not None:
        out = out + bias
    return out.reshape(n, ho, wo, o).permute(0, 3, 1, 2)


def conv2d_im2col_gather(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Row and column index grids, one advanced-indexing gather, one matmul."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    rows = (torch.arange(kh) * dh)[:, None] + (torch.arange(ho) * sh)[None, :]      # (kh, H_out)
    cols = (torch.arange(kw) * dw)[:, None] + (torch.arange(wo) * sw)[None, :]      # (kw, W_out)
    patches = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]              # (N, C, kh, kw, H_out, W_out)
    out = weight.reshape(o, -1) @ patches.reshape(n, c * kh * kw, ho * wo)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_einsum(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Tensor.unfold windows and one torch.einsum (one batched matmul inside)."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    windows = F.pad(x, (pw, pw, ph, ph)).unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)
    out = torch.einsum("nchwij,ocij->nohw", windows[..., ::dh, ::dw], weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def conv2d_im2col_taps(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """A loop over the kh·kw kernel taps (the notebook allows it): one strided slice each, stacked, one matmul."""
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    taps = [xp[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]
    out = weight.reshape(o, -1) @ torch.stack(taps, dim=2).reshape(n, c * kh * kw, ho * wo)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_flipped(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_im2col_strided(x, weight.flip(-1, -2), bias, stride, padding, dilation)


def conv2d_im2col_no_bias(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_im2col_strided(x, weight, None, stride, padding, dilation)


def conv2d_im2col_ignores_padding(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_im2col_strided(x, weight, bias, stride, 0, dilation)


def conv2d_im2col_ignores_stride(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_im2col_strided(x, weight, bias, 1, padding, dilation)


def conv2d_im2col_ignores_dilation(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return conv2d_im2col_strided(x, weight, bias, stride, padding, 1)


def conv2d_im2col_one_short(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # H_out = (H + 2p - d(k-1) - 1) // s, forgetting the + 1
    return conv2d_im2col_strided(x, weight, bias, stride, padding, dilation)[..., :-1, :-1]


def conv2d_im2col_first_channel_only(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # builds the patch matrix from x[:, 0] only
    return conv2d_im2col_strided(x[:, :1], weight[:, :1], bias, stride, padding, dilation)


def conv2d_im2col_swapped_hw(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # reads stride=(a, b) as (along W, along H)
    return conv2d_im2col_strided(x, weight, bias, pair(stride)[::-1], pair(padding)[::-1], pair(dilation)[::-1])


def conv2d_im2col_forgets_permute(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # rows @ weight.T is (N, H_out·W_out, C_out); reshaped without moving C_out first
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    windows = xp.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw]
    rows = windows.permute(0, 2, 3, 1, 4, 5).reshape(n, ho * wo, c * kh * kw)
    out = rows @ weight.reshape(o, -1).T
    if bias is not None:
        out = out + bias
    return out.reshape(n, ho, wo, o)


def conv2d_im2col_patch_order(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # patches flattened as (kh, kw, C) but the weight as (C, kh, kw)
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    windows = xp.unfold(2, dh * (kh - 1) + 1, sh).unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw]
    rows = windows.permute(0, 2, 3, 4, 5, 1).reshape(n, ho * wo, kh * kw * c)
    out = rows @ weight.reshape(o, -1).T
    if bias is not None:
        out = out + bias
    return out.permute(0, 2, 1).reshape(n, o, ho, wo)


def conv2d_im2col_patch_loop(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # correct, but fills the patch matrix with a Python loop over images and output pixels
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph))
    cols = x.new_empty(n, c * kh * kw, ho * wo)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                patch = xp[b, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                cols[b, :, i * wo + j] = patch.reshape(-1)
    out = weight.reshape(o, -1) @ cols
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_numpy_loop(x, weight, bias=None, stride=1, padding=0, dilation=1):
    # correct, but fills the patch matrix in NumPy with a loop over output pixels: the same few torch
    # operations on any size (the loop runs outside torch), many more lines of Python on a bigger image
    import numpy as np
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    xp = F.pad(x, (pw, pw, ph, ph)).numpy()
    cols = np.empty((n, c * kh * kw, ho * wo), dtype=xp.dtype)
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            cols[:, :, i * wo + j] = window.reshape(n, -1)
    out = weight.reshape(o, -1) @ torch.from_numpy(cols)
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_calls_F_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    out = weight.reshape(o, -1) @ cols
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_uses_nn_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo = settings(x, weight, stride, padding, dilation)
    cols = nn.Unfold((kh, kw), dilation=dilation, padding=padding, stride=stride)(x)
    out = weight.reshape(o, -1) @ cols
    if bias is not None:
        out = out + bias[:, None]
    return out.reshape(n, o, ho, wo)


def conv2d_im2col_calls_F_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


# ==========================================================================
# conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1) -> int
# ==========================================================================

def conv_output_size_floor_div(size, kernel_size, stride=1, padding=0, dilation=1):
    """The formula with floor division."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_output_size_math_floor(size, kernel_size, stride=1, padding=0, dilation=1):
    """True division, then math.floor (an int in Python 3)."""
    return math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def conv_output_size_count_windows(size, kernel_size, stride=1, padding=0, dilation=1):
    """No formula: slide a window over the padded input and count where it fits."""
    span = dilation * (kernel_size - 1) + 1
    count, start = 0, 0
    while start + span <= size + 2 * padding:
        count += 1
        start += stride
    return count


def conv_output_size_true_division(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1


def conv_output_size_missing_plus_one(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride


def conv_output_size_ignores_dilation(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - kernel_size) // stride + 1


def conv_output_size_pads_once(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_output_size_ceil(size, kernel_size, stride=1, padding=0, dilation=1):
    return math.ceil((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def conv_output_size_round(size, kernel_size, stride=1, padding=0, dilation=1):
    return round((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def conv_output_size_plus_one_inside(size, kernel_size, stride=1, padding=0, dilation=1):
    # the + 1 ended up inside the division
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1 + 1) // stride


def conv_output_size_ignores_stride(size, kernel_size, stride=1, padding=0, dilation=1):
    return size + 2 * padding - dilation * (kernel_size - 1)


# ==========================================================================
# conv_param_count(in_channels, out_channels, kernel_size, bias=True) -> int
# ==========================================================================

def conv_param_count_formula(in_channels, out_channels, kernel_size, bias=True):
    """(kh·kw·C_in + 1)·C_out, without the + 1 when there is no bias."""
    kh, kw = pair(kernel_size)
    return (kh * kw * in_channels + (1 if bias else 0)) * out_channels


def conv_param_count_shapes(in_channels, out_channels, kernel_size, bias=True):
    """Multiply out the weight's shape, then add the bias vector's length."""
    weight_shape = (out_channels, in_channels, *pair(kernel_size))
    return math.prod(weight_shape) + (out_channels if bias else 0)


def conv_param_count_meta_layer(in_channels, out_channels, kernel_size, bias=True):
    """Build the layer on the meta device and count its parameters."""
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias, device="meta")
    return sum(p.numel() for p in layer.parameters())


def conv_param_count_no_bias(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = pair(kernel_size)
    return kh * kw * in_channels * out_channels


def conv_param_count_always_bias(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = pair(kernel_size)
    return (kh * kw * in_channels + 1) * out_channels


def conv_param_count_no_in_channels(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = pair(kernel_size)
    return (kh * kw + bias) * out_channels


def conv_param_count_bias_per_pair(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = pair(kernel_size)
    return (kh * kw + bias) * in_channels * out_channels


def conv_param_count_k_not_k_squared(in_channels, out_channels, kernel_size, bias=True):
    kh, kw = pair(kernel_size)
    return (kh * in_channels + bias) * out_channels


def conv_param_count_kh_squared(in_channels, out_channels, kernel_size, bias=True):
    k = kernel_size[0] if isinstance(kernel_size, tuple) else kernel_size
    return (k * k * in_channels + bias) * out_channels


def conv_param_count_math_pow(in_channels, out_channels, kernel_size, bias=True):
    # math.pow returns a float, and so does the whole count
    area = math.pow(kernel_size, 2) if isinstance(kernel_size, int) else kernel_size[0] * kernel_size[1]
    return (area * in_channels + bias) * out_channels


# ==========================================================================
# The six checks, side by side
# ==========================================================================

SPECS = {
    "conv1d_full": CheckSpec(check=check_conv1d_full, kind="tensor",
                        correct=[conv1d_full_loops, conv1d_full_unfold, conv1d_full_numpy],
                        mistake=conv1d_full_cross_correlation, forbidden=conv1d_full_calls_np_convolve,
                        reimplements=("np.convolve",)),
    "conv2d_true": CheckSpec(check=check_conv2d_true, kind="tensor",
                        correct=[conv2d_true_loops, conv2d_true_unfold, conv2d_true_numpy],
                        mistake=conv2d_true_cross_correlation, forbidden=conv2d_true_calls_F_conv2d),
    "conv2d": CheckSpec(check=check_conv2d, kind="tensor",
                   correct=[conv2d_loops, conv2d_unfold, conv2d_numpy],
                   mistake=conv2d_flipped_kernel, forbidden=conv2d_calls_F_conv2d,
                   reimplements=("F.conv2d", "torch.conv2d")),
    "conv_output_size": CheckSpec(check=check_conv_output_size, kind="int",
                             correct=[conv_output_size_floor_div, conv_output_size_math_floor,
                                      conv_output_size_count_windows],
                             mistake=conv_output_size_missing_plus_one, forbidden=None),
    "conv_param_count": CheckSpec(check=check_conv_param_count, kind="int",
                             correct=[conv_param_count_formula, conv_param_count_shapes,
                                      conv_param_count_meta_layer],
                             mistake=conv_param_count_no_bias, forbidden=None),
    "conv2d_im2col": CheckSpec(check=check_conv2d_im2col, kind="tensor",
                          correct=[conv2d_im2col_strided, conv2d_im2col_unfold, conv2d_im2col_rows],
                          mistake=conv2d_im2col_flipped, forbidden=conv2d_im2col_calls_F_unfold, timed=True,
                          reimplements=("F.conv2d", "torch.conv2d")),
}
ALL = list(SPECS)
# Arguments a learner may ignore and still pass the public check (test_arguments.py proves that every other
# argument of every exercise here changes a public answer): none.
ARGUMENTS_IGNORABLE: dict = {}
TENSOR = [name for name in ALL if SPECS[name].kind == "tensor"]
INTEGER = [name for name in ALL if SPECS[name].kind == "int"]
WITH_FORBIDDEN = [name for name in ALL if SPECS[name].forbidden is not None]


# ==========================================================================
# 2. Catalogues of plausible wrong implementations
# ==========================================================================

CONV2D_FAMILY = [
    ("notices a flipped kernel", conv2d_flipped_kernel, conv2d_im2col_flipped, "*true* convolution"),
    ("notices a missing bias", conv2d_no_bias, conv2d_im2col_no_bias, "bias is missing"),
    ("notices ignored padding", conv2d_ignores_padding, conv2d_im2col_ignores_padding, "Padding is ignored"),
    ("notices ignored stride", conv2d_ignores_stride, conv2d_im2col_ignores_stride, "Stride is ignored"),
    ("notices ignored dilation", conv2d_ignores_dilation, conv2d_im2col_ignores_dilation,
     "Dilation is ignored"),
    ("notices an off-by-one output size", conv2d_one_short, conv2d_im2col_one_short, "Off by one"),
    ("notices a channels-last output", conv2d_channels_last, conv2d_im2col_forgets_permute, "channels-last"),
    ("notices only the first input channel", conv2d_first_channel_only, conv2d_im2col_first_channel_only,
     "Only the first input channel"),
    ("notices swapped H/W tuple settings", conv2d_swapped_hw, conv2d_im2col_swapped_hw,
     "Height and width settings are swapped"),
]


# Each check's catalogue of plausible wrong implementations: test_contract.py fails each one and
# expects the outcome and message that name its mistake.
CATALOGUE = {
    "conv1d_full": [
    mistake_case("notices cross-correlation (no flip)", conv1d_full_cross_correlation, "cross-correlation"),
    mistake_case("notices the 'valid' length", conv1d_full_valid_only, "'valid'"),
    mistake_case("gives the formula, not the 'same' length max(L, K), to a crop as long as the signal (shorter "
                 "than max(L, K) when the kernel is longer)", conv1d_full_same_length, "out[t] = sum over i"),
    mistake_case("notices an output one sample short", conv1d_full_one_short, "Off by one"),
    mistake_case("notices an output one sample long", conv1d_full_one_long, "Off by one"),
    mistake_case("notices a float64 numpy result", conv1d_full_float64, "input's dtype"),
    mistake_case("refuses np.convolve", conv1d_full_calls_np_convolve, "np.convolve", field="summary"),
    mistake_case("refuses np.correlate", conv1d_full_calls_np_correlate, "np.correlate", field="summary"),
    mistake_case("refuses F.conv1d", conv1d_full_calls_F_conv1d, "F.conv1d", field="summary"),
],
    "conv2d_true": [
    mistake_case("notices cross-correlation (no flip)", conv2d_true_cross_correlation, "cross-correlation"),
    mistake_case("notices a kernel flipped along W only", conv2d_true_flips_columns_only, "left–right only"),
    mistake_case("notices a kernel flipped along H only", conv2d_true_flips_rows_only, "up–down only"),
    mistake_case("notices a transposed kernel", conv2d_true_transposes_kernel, "transposed, not flipped"),
    mistake_case("notices the 'full' size", conv2d_true_full_size, "'full' size"),
    mistake_case("notices the 'same' size", conv2d_true_same_size, "'same' size"),
    mistake_case("notices an off-by-one output size", conv2d_true_one_short, "Off by one"),
    mistake_case("notices height and width swapped", conv2d_true_swapped_output, "Height and width are swapped"),
    mistake_case("refuses F.conv2d", conv2d_true_calls_F_conv2d, "F.conv2d", field="summary"),
    mistake_case("refuses torch.conv2d", conv2d_true_calls_torch_conv2d, "torch.conv2d", field="summary"),
],
    "conv2d": [
    mistake_case(question, learner, needle) for question, learner, _, needle in CONV2D_FAMILY] + [
    mistake_case("refuses F.conv2d", conv2d_calls_F_conv2d, "F.conv2d", field="summary"),
    mistake_case("refuses nn.Conv2d", conv2d_uses_nn_conv2d, "F.conv2d", field="summary"),
    mistake_case("refuses F.conv2d hidden behind except Exception", conv2d_hides_reference_call, "F.conv2d",
            field="summary"),
],
    "conv2d_im2col": [
    mistake_case(question, learner, needle) for question, _, learner, needle in CONV2D_FAMILY] + [
    mistake_case("notices mismatched patch and weight order", conv2d_im2col_patch_order, "x_padded"),
    mistake_case("notices a correct per-pixel loop (op count grows with the image)", conv2d_im2col_patch_loop,
            "loops over output positions", field="summary"),
    mistake_case("notices a correct per-pixel loop in NumPy (torch ops constant, lines of Python grow)",
                 conv2d_im2col_numpy_loop, "loops over output positions", field="summary"),
    mistake_case("refuses F.unfold", conv2d_im2col_calls_F_unfold, "F.unfold", field="summary"),
    mistake_case("refuses nn.Unfold", conv2d_im2col_uses_nn_unfold, "F.unfold", field="summary"),
    mistake_case("refuses F.conv2d", conv2d_im2col_calls_F_conv2d, "F.conv2d", field="summary"),
],
    "conv_output_size": [
    mistake_case("notices true division (a float)", conv_output_size_true_division, "floor division"),
    mistake_case("notices the missing + 1", conv_output_size_missing_plus_one, "Missing the +1"),
    mistake_case("notices ignored dilation", conv_output_size_ignores_dilation, "Dilation is ignored"),
    mistake_case("notices padding added once (though one case alone also fits 'missing +1')",
            conv_output_size_pads_once, "both sides"),
    mistake_case("notices rounding up (ceil)", conv_output_size_ceil, "Rounded up"),
    mistake_case("notices rounding to nearest", conv_output_size_round, "Rounded up"),
    mistake_case("gives the formula, not 'missing +1', to a + 1 inside the division (right whenever the stride "
                 "is 1, where a missing + 1 would show)", conv_output_size_plus_one_inside, "size_out = "),
    mistake_case("falls back to the formula for an ignored stride", conv_output_size_ignores_stride,
            "size_out = "),
],
    "conv_param_count": [
    mistake_case("notices a missing bias", conv_param_count_no_bias, "The bias is missing"),
    mistake_case("notices a bias counted despite bias=False", conv_param_count_always_bias, "bias=False"),
    mistake_case("notices missing input channels", conv_param_count_no_in_channels, "input channels are missing"),
    mistake_case("notices one bias per (in, out) pair", conv_param_count_bias_per_pair,
            "one bias per output channel"),
    mistake_case("notices k instead of k*k (though with C_in = k one case alone fits 'missing C_in')",
            conv_param_count_k_not_k_squared, "k × k"),
    mistake_case("notices kh*kh for a tuple kernel", conv_param_count_kh_squared, "not kh × kh"),
    mistake_case("notices a float count", conv_param_count_math_pow, "whole numbers"),
],
}


def test_check_conv2d_im2col_slow_loop_hint_points_to_one_matmul():
    """Does the loop verdict show the op counts that prove the loop and point to a single matrix product?"""
    result = check_conv2d_im2col(conv2d_im2col_patch_loop)
    assert result.outcome == INCORRECT, result.text()
    assert "single matrix product" in result.hint
    assert any("torch operations per call" in line for line in result.evidence)


def test_check_conv2d_im2col_speed_target_is_a_parameter():
    """Does a correct im2col fail as 'too slow' when the speed target is impossible to meet?"""
    result = check_conv2d_im2col(conv2d_im2col_strided, speed_factor=1e-9)
    assert result.outcome == INCORRECT, result.text()
    assert "too slow" in result.summary
    assert f"within {1e-9:g}" in result.evidence[0]


def test_check_conv1d_full_flip_advice_works_in_1d():
    """Does check_conv1d_full's no-flip hint give advice that runs on a 1-D kernel?"""
    result = check_conv1d_full(conv1d_full_cross_correlation)
    assert "cross-correlation" in result.hint
    advice = re.findall(r"`kernel\.(flip\([^`]*\))`", result.hint)
    kernel = torch.randn(3, generator=torch.Generator().manual_seed(0))
    for call in advice:
        eval(f"kernel.{call}", {"kernel": kernel})  # the advice must at least run


KEYED = [
    (check_conv1d_full, conv1d_full_cross_correlation, "conv1d_full.no_flip"),
    (check_conv1d_full, conv1d_full_valid_only, "conv1d_full.valid_length"),
    (check_conv1d_full, conv1d_full_one_short, "conv1d_full.off_by_one"),
    (check_conv2d_true, conv2d_true_cross_correlation, "conv2d_true.no_flip"),
    (check_conv2d_true, conv2d_true_flips_columns_only, "conv2d_true.flip_lr_only"),
    (check_conv2d_true, conv2d_true_flips_rows_only, "conv2d_true.flip_ud_only"),
    (check_conv2d_true, conv2d_true_transposes_kernel, "conv2d_true.transposed"),
    (check_conv2d_true, conv2d_true_full_size, "conv2d_true.full_size"),
    (check_conv2d_true, conv2d_true_swapped_output, "conv2d_true.swapped_hw"),
    (check_conv2d, conv2d_flipped_kernel, "conv2d.flipped"),
    (check_conv2d, conv2d_no_bias, "conv2d.no_bias"),
    (check_conv2d, conv2d_ignores_padding, "conv2d.padding_ignored"),
    (check_conv2d, conv2d_ignores_stride, "conv2d.stride_ignored"),
    (check_conv2d, conv2d_ignores_dilation, "conv2d.dilation_ignored"),
    (check_conv2d, conv2d_channels_last, "conv2d.channels_last"),
    (check_conv2d, conv2d_first_channel_only, "conv2d.first_channel_only"),
    (check_conv2d, conv2d_swapped_hw, "conv2d.hw_swapped"),
    (check_conv2d, conv2d_dilation_pair_first_only, "conv2d.pair_one_value"),
    (check_conv2d, conv2d_pads_one_side, "conv2d.padding_one_side"),
    (check_conv2d, conv2d_padding_pair_last_only, "conv2d.pair_one_value"),
    (check_conv2d_im2col, conv2d_im2col_flipped, "conv2d.flipped"),
    (check_conv_output_size, conv_output_size_missing_plus_one, "conv_output_size.no_plus_one"),
    (check_conv_output_size, conv_output_size_ignores_dilation, "conv_output_size.dilation_ignored"),
    (check_conv_output_size, conv_output_size_pads_once, "conv_output_size.padding_once"),
    (check_conv_output_size, conv_output_size_ceil, "conv_output_size.rounded_up"),
    (check_conv_output_size, conv_output_size_span_d_times_k, "conv_output_size.span"),
    (check_conv_param_count, conv_param_count_no_bias, "conv_param_count.no_bias"),
    (check_conv_param_count, conv_param_count_always_bias, "conv_param_count.bias_when_false"),
    (check_conv_param_count, conv_param_count_no_in_channels, "conv_param_count.no_input_channels"),
    (check_conv_param_count, conv_param_count_bias_per_pair, "conv_param_count.bias_per_pair"),
    (check_conv_param_count, conv_param_count_k_not_k_squared, "conv_param_count.one_side_only"),
    (check_conv_param_count, conv_param_count_kh_squared, "conv_param_count.kh_squared"),
]


@pytest.mark.parametrize("check, learner, key", KEYED, ids=[learner.__name__ for _, learner, _ in KEYED])
def test_a_named_mistake_carries_its_own_key(check, learner, key):
    """Does the verdict name exactly the learner's mistake: its key, and that key's text as the hint?"""
    result = check(learner)
    assert result.mistake == key, result.text()
    assert result.hint == M(key)


def test_an_unknown_mistake_gets_the_general_hint_and_no_key():
    """Is a wrong answer that matches no known mistake told the general formula, with no mistake named?"""
    def conv2d_off_by_a_constant(x, weight, bias=None, stride=1, padding=0, dilation=1):
        return conv2d_unfold(x, weight, bias, stride, padding, dilation) + 0.5

    result = check_conv2d(conv2d_off_by_a_constant)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake is None and result.hint == M("conv2d.general")


# ==========================================================================
# Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def conv2d_kinds(spec):
    n, cin, cout, h, w, kh, kw, stride, padding, dilation, bias = spec
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    yield from [k for k, present in [("stride", (sh, sw) != (1, 1)), ("padding", (ph, pw) != (0, 0)),
                                     ("dilation", (dh, dw) != (1, 1)), ("no bias", not bias),
                                     ("settings differ along H and W", sh != sw or ph != pw or dh != dw),
                                     ("non-square kernel", kh != kw), ("1×1 kernel", (kh, kw) == (1, 1)),
                                     ("one input channel", cin == 1), ("H ≠ W", h != w),
                                     ("kernel as large as the padded input",
                                      (dh * (kh - 1) + 1, dw * (kw - 1) + 1) == (h + 2 * ph, w + 2 * pw))]
                if present]


def conv1d_kinds(spec):
    length, k, dtype = spec
    yield ("kernel shorter" if k < length else "kernel longer" if k > length else "same length")
    yield from [kind for kind, present in [("kernel of 1", k == 1), ("signal of 1", length == 1)] if present]
    yield dtype


def conv2d_true_kinds(spec):
    (h, w), (kh, kw), dtype = spec
    yield from [kind for kind, present in [("non-square kernel", kh != kw), ("one row", kh == 1),
                                           ("one column", kw == 1), ("kernel = image", (kh, kw) == (h, w))]
                if present]
    yield dtype


def output_size_kinds(spec):
    size, k, s, p, d = spec
    yield from [kind for kind, present in [("stride", s > 1), ("padding", p > 0), ("dilation", d > 1),
                                           ("stride larger than the kernel", s > k),
                                           ("the floor matters", (size + 2 * p - d * (k - 1) - 1) % s != 0)]
                if present]


def param_count_kinds(spec):
    cin, cout, k, bias = spec
    yield from [kind for kind, present in [("no bias", not bias), ("(kh, kw) pair", isinstance(k, tuple)),
                                           ("1×1", pair(k) == (1, 1))] if present]


@pytest.mark.parametrize("public, hidden, kinds", [
    (convolution._CONV2D_SPECS, convolution._CONV2D_EXTENDED, conv2d_kinds),
    (convolution._SIZE_SPECS, convolution._SIZE_EXTENDED, output_size_kinds),
    (convolution._PARAM_SPECS, convolution._PARAM_EXTENDED, param_count_kinds),
], ids=["conv2d and conv2d_im2col", "conv_output_size", "conv_param_count"])
def test_hidden_cases_add_no_new_kind_of_case(public, hidden, kinds):
    """Does every kind of case of the hidden run (a stride, per-axis settings, a 1×1 kernel, ...) appear
    among the public cases too?"""
    assert_no_new_kind(public, hidden, kinds)


@pytest.mark.parametrize("cases, kinds", [(convolution._conv1d_cases, conv1d_kinds),
                                          (convolution._conv2d_true_cases, conv2d_true_kinds)],
                         ids=["conv1d_full", "conv2d_true"])
def test_hidden_1d_and_true_cases_add_no_new_kind(cases, kinds):
    """Do the hidden conv1d_full and conv2d_true cases (sizes and dtypes read off the cases themselves) bring
    no kind of case the public ones lack, float64 inputs included?"""
    def specs(extended):
        for case in cases(0, extended):
            a, b = case.args
            yield ((a.shape[0], b.shape[0]) if a.dim() == 1 else (tuple(a.shape), tuple(b.shape))) + (str(a.dtype)[6:],)
    assert_no_new_kind(list(specs(False)), list(specs(True)), kinds)


def test_float64_inputs_give_float64_outputs_in_public():
    """Do conv1d_full and conv2d_true, whose exercises promise the input's dtype, fail in public a learner who
    always answers in float32?"""
    for check, correct in [(check_conv1d_full, conv1d_full_unfold), (check_conv2d_true, conv2d_true_unfold)]:
        result = check(lambda *args: correct(*args).float())
        assert result.outcome == INCORRECT and "dtype" in result.summary, result.text()
        assert result.evidence == [f"expected {torch.float64}, got {torch.float32}"]


# ==========================================================================
# The speed comparison: CPU time, a small factor, a bounded cost
# ==========================================================================

def burns_cpu_on_the_speed_case(seconds):
    """A correct im2col that spends ``seconds`` of CPU time on the 32 × 32 speed case before answering."""
    def conv2d_im2col_burns_cpu(x, weight, bias=None, stride=1, padding=0, dilation=1):
        if x.shape[-1] == 32:
            end = time.process_time() + seconds
            while time.process_time() < end:
                pass
        return conv2d_im2col_strided(x, weight, bias, stride, padding, dilation)
    return conv2d_im2col_burns_cpu


def test_correct_im2col_in_the_notebooks_layout_passes_the_speed_bar():
    """Do the correct vectorised layouts the notebook allows — windows as rows (its own solution), index
    gathering, einsum, a loop over the kernel taps — pass the speed bar?  (They take 6–9× F.conv2d's CPU time
    at worst, as_strided 3×: benchmarks/im2col.py.)"""
    for learner in (conv2d_im2col_rows, conv2d_im2col_gather, conv2d_im2col_einsum, conv2d_im2col_taps):
        result = check_conv2d_im2col(learner)
        assert result.outcome == PASSED, result.text()
        assert "CPU time, one thread" in result.summary


def test_a_poor_im2col_fails_the_speed_bar_within_a_second_or_two():
    """Is a correct im2col that takes 100× F.conv2d's time (0.1 s of CPU a call) failed as too slow, after
    two timed rounds rather than eight calls?"""
    start = time.perf_counter()
    result = check_conv2d_im2col(burns_cpu_on_the_speed_case(0.1))
    elapsed = time.perf_counter() - start
    assert result.outcome == INCORRECT and "too slow" in result.summary, result.text()
    assert "best of 2)" in result.evidence[0]
    assert elapsed < 0.1 * 4 + 3


def test_a_very_slow_im2col_is_stopped_at_the_speed_budget(monkeypatch):
    """Is one call far over the budget stopped and reported as too slow (not as an endless loop), so that the
    whole check stays bounded?"""
    monkeypatch.setattr(convolution, "IM2COL_SPEED_BUDGET", 0.3)
    start = time.perf_counter()
    result = check_conv2d_im2col(burns_cpu_on_the_speed_case(20.0))
    elapsed = time.perf_counter() - start
    assert result.outcome == INCORRECT and "too slow" in result.summary, result.text()
    assert "ran for more than 0.3 s and was stopped" in result.evidence[0]
    assert "F.conv2d takes" in result.evidence[0]
    assert elapsed < 5


def test_cpu_time_falls_back_to_the_wall_clock_where_it_is_coarse(monkeypatch):
    """Where CPU time comes in coarse ticks (Windows: 15.6 ms), does the comparison use the wall clock?"""
    class Coarse:
        resolution = 0.0156
    monkeypatch.setattr(convolution.time, "get_clock_info", lambda name: Coarse())
    assert convolution._cpu_clock() is time.perf_counter


def test_the_thread_clock_is_used_where_a_cpu_limit_makes_the_process_clock_coarse():
    """Under RLIMIT_CPU (the grading sandbox sets one) the process CPU clock moves in scheduler ticks while it
    reports a 1 ns resolution; does the check time with this thread's clock, which stays fine?  (It read 0 for F.conv2d, then 25-34x in wall-clock time
    under load, and a correct submission lost its points now and then.)"""
    script = (
        "import resource, time\n"
        "resource.setrlimit(resource.RLIMIT_CPU, (3600, 3600))\n"
        "from course_utils.checks import convolution\n"
        "print(convolution._cpu_clock() is time.thread_time)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[3])   # the repository
    assert out.stdout.split() == ["True"], out.stderr
