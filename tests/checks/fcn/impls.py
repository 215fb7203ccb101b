"""Learner implementations for the tests of notebook 06's checks (FCN).

Written the way a learner would write them: several correct styles per
exercise, then one small function per plausible mistake, each differing from
a correct one in the one place its comment names.  Nothing here types an
expected number; the tests compute those.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from checks.helpers import solution


def pair(v):
    """An int or an (along H, along W) pair, as a pair."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ==========================================================================
# convolutionalize(linear, in_shape) -> nn.Conv2d
# ==========================================================================

# The notebook's own solution, loaded from its source rather than copied here.
convolutionalize_copy = solution("06_fcn", "convolutionalize")


def convolutionalize_view(linear, in_shape):
    """New Parameters made from a view of the dense weight (cloned, so the two layers do not share memory)."""
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, (h, w), bias=linear.bias is not None)
    conv.weight = nn.Parameter(linear.weight.detach().view(-1, c, h, w).clone())
    if linear.bias is not None:
        conv.bias = nn.Parameter(linear.bias.detach().clone())
    return conv


def convolutionalize_state_dict(linear, in_shape):
    """Build the convolution, then load_state_dict with the dense layer's tensors renamed and reshaped."""
    c, h, w = in_shape
    conv = nn.Conv2d(in_channels=c, out_channels=linear.out_features, kernel_size=(h, w),
                     bias=linear.bias is not None)
    state = {name: value.reshape(getattr(conv, name).shape) for name, value in linear.state_dict().items()}
    conv.load_state_dict(state)
    return conv


def convolutionalize_hwc_order(linear, in_shape):
    # reads the flattened weight as (H, W, C), channels last, then moves the channels first
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, kernel_size=(h, w), bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, h, w, c).permute(0, 3, 1, 2))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def convolutionalize_bias_not_copied(linear, in_shape):
    # the layer has a bias, but it keeps its random initial values
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, kernel_size=(h, w), bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, c, h, w))
    return conv


def convolutionalize_never_bias(linear, in_shape):
    # bias=False always, "the weights are what matters"
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, kernel_size=(h, w), bias=False)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, c, h, w))
    return conv


def convolutionalize_one_by_one(linear, in_shape):
    # a 1×1 convolution over C·H·W channels, as for the second dense layer
    c, h, w = in_shape
    conv = nn.Conv2d(c * h * w, linear.out_features, kernel_size=1, bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, c * h * w, 1, 1))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


def convolutionalize_channels_swapped(linear, in_shape):
    # nn.Conv2d(out_features, C, ...): the channel arguments in the order of the weight of a transposed conv
    c, h, w = in_shape
    conv = nn.Conv2d(linear.out_features, c, kernel_size=(h, w), bias=False)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(c, linear.out_features, h, w))
    return conv


def convolutionalize_returns_linear(linear, in_shape):
    # "a dense layer already is a convolution"
    return linear


def convolutionalize_reshapes_linear(linear, in_shape):
    # reshapes the dense layer's own weight, then hands that Parameter to the convolution
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, kernel_size=(h, w), bias=linear.bias is not None)
    linear.weight.data = linear.weight.data.view(linear.out_features, c, h, w)
    conv.weight = linear.weight
    if linear.bias is not None:
        conv.bias = linear.bias
    return conv


# ==========================================================================
# conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0)
# ==========================================================================

def _transposed(x, weight, bias, stride, padding, output_padding, *, accumulate=True, flip=False,
                crop="both", use_output_padding=True, bias_mode="once", channels_first=False):
    """The tap loop of the notebook, with one knob per known mistake (the defaults are correct)."""
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    if not use_output_padding:
        oh = ow = 0
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    c_out = weight.shape[0] if channels_first else weight.shape[1]
    if flip:
        weight = weight.flip(-1, -2)
    full_h, full_w = (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow
    out = x.new_zeros(n, c_out, full_h, full_w)
    for i in range(kh):
        for j in range(kw):
            tap = weight[:, :, i, j]                                    # (C_in, C_out)
            contribution = torch.einsum("nchw,dc->ndhw" if channels_first else "nchw,cd->ndhw", x, tap)
            if bias_mode == "per stamp" and bias is not None:
                contribution = contribution + bias[None, :, None, None]
            window = out[:, :, i:i + (h - 1) * sh + 1:sh, j:j + (w - 1) * sw + 1:sw]
            if accumulate:
                window += contribution
            else:
                window[...] = contribution
    if crop == "both":
        out = out[:, :, ph:full_h - ph, pw:full_w - pw]
    elif crop == "top left":
        out = out[:, :, ph:, pw:]
    if bias_mode == "once" and bias is not None:
        out = out + bias[None, :, None, None]
    return out


def conv_transpose2d_taps(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """The notebook's solution: loop over the kernel's taps, add each into a strided slice, crop, add the bias."""
    return _transposed(x, weight, bias, stride, padding, output_padding)


def conv_transpose2d_pixels(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Right numbers by a loop over the input pixels, each stamping the whole kernel weighted by its C_in values:
    not the statement's loop over the kernel's taps (and H·W Python steps instead of kH·kW)."""
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    out = torch.zeros(n, c_out, (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow, dtype=x.dtype)
    for a in range(h):
        for b in range(w):
            stamp = torch.einsum("nc,cdij->ndij", x[:, :, a, b], weight)   # (N, C_out, kh, kw)
            out[:, :, a * sh:a * sh + kh, b * sw:b * sw + kw] += stamp
    out = out[:, :, ph:out.shape[2] - ph, pw:out.shape[3] - pw]
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def conv_transpose2d_zero_insertion(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Insert s − 1 zeros between input pixels, pad k − 1 − p (plus output_padding at the bottom/right), then
    correlate with the flipped kernel, channels swapped: im2col with F.unfold and one matrix product."""
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    dilated = x.new_zeros(n, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1)
    dilated[:, :, ::sh, ::sw] = x
    padded = F.pad(dilated, (kw - 1 - pw, kw - 1 - pw + ow, kh - 1 - ph, kh - 1 - ph + oh))  # negative crops
    kernel = weight.flip(-1, -2).transpose(0, 1)                        # (C_out, C_in, kh, kw)
    cols = F.unfold(padded, (kh, kw))                                   # (N, C_in·kh·kw, H_out·W_out)
    out = kernel.reshape(c_out, -1) @ cols                              # (N, C_out, H_out·W_out)
    out = out.reshape(n, c_out, padded.shape[2] - kh + 1, padded.shape[3] - kw + 1)
    if bias is not None:
        out = out + bias[:, None, None]
    return out


def conv_transpose2d_fold(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Every input pixel's stamp as a column, then F.fold sums the overlapping stamps (col2im)."""
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    stamps = torch.einsum("ncab,cdij->ndijab", x, weight).reshape(n, c_out * kh * kw, h * w)
    full = F.fold(stamps, ((h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow), (kh, kw), stride=(sh, sw))
    out = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    return out if bias is None else out + bias[None, :, None, None]


def conv_transpose2d_assigns(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # out[...] = contribution instead of +=: overlapping stamps overwrite each other
    return _transposed(x, weight, bias, stride, padding, output_padding, accumulate=False)


def conv_transpose2d_flipped(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # flips the kernel, as a true convolution would
    return _transposed(x, weight, bias, stride, padding, output_padding, flip=True)


def conv_transpose2d_ignores_padding(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # returns the full overlap-add output, never cropped
    return _transposed(x, weight, bias, stride, padding, output_padding, crop="none")


def conv_transpose2d_crops_one_side(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # out[:, :, p:, p:]: crops the top and left border only
    return _transposed(x, weight, bias, stride, padding, output_padding, crop="top left")


def conv_transpose2d_ignores_output_padding(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # allocates (H − 1)·s + k rows, without output_padding
    return _transposed(x, weight, bias, stride, padding, output_padding, use_output_padding=False)


def conv_transpose2d_bias_per_stamp(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # adds the bias inside the tap loop, to every stamp
    return _transposed(x, weight, bias, stride, padding, output_padding, bias_mode="per stamp")


def conv_transpose2d_no_bias(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # forgets the bias
    return _transposed(x, weight, bias, stride, padding, output_padding, bias_mode="none")


def conv_transpose2d_weight_out_in(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # reads weight as (C_out, C_in, kH, kW), the layout of nn.Conv2d
    return _transposed(x, weight, bias, stride, padding, output_padding, channels_first=True)


def conv_transpose2d_calls_F(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    return F.conv_transpose2d(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding)


def conv_transpose2d_calls_torch(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    return torch.conv_transpose2d(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding)


def conv_transpose2d_uses_module(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    layer = nn.ConvTranspose2d(weight.shape[0], weight.shape[1], tuple(weight.shape[2:]), stride=stride,
                               padding=padding, output_padding=output_padding, bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
        return layer(x)


def conv_transpose2d_zero_insertion_F_conv2d(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    # the zero-insertion idea, but the correlation done by F.conv2d
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    dilated = x.new_zeros(n, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1)
    dilated[:, :, ::sh, ::sw] = x
    padded = F.pad(dilated, (kw - 1 - pw, kw - 1 - pw + ow, kh - 1 - ph, kh - 1 - ph + oh))
    return F.conv2d(padded, weight.flip(-1, -2).transpose(0, 1), bias)


# ==========================================================================
# conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1) -> int
# ==========================================================================

def transpose_size_formula(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """The formula of the notebook."""
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def transpose_size_span(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """No formula to remember: where the last stamp starts, plus the span of a dilated kernel, then trim."""
    last_start = (n - 1) * stride
    span = (kernel_size - 1) * dilation + 1
    return last_start + span - padding - padding + output_padding


def transpose_size_meta_layer(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Run an nn.ConvTranspose1d on the meta device (shapes only, nothing computed)."""
    layer = nn.ConvTranspose1d(1, 1, kernel_size, stride=stride, padding=padding, output_padding=output_padding,
                               dilation=dilation, device="meta")
    return layer(torch.empty(1, 1, n, device="meta")).shape[-1]


def transpose_size_conv_formula(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # the formula of an ordinary convolution
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def transpose_size_no_output_padding(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + 1


def transpose_size_pads_once(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # − p instead of − 2p
    return (n - 1) * stride - padding + dilation * (kernel_size - 1) + output_padding + 1


def transpose_size_n_times_s(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # n·s instead of (n − 1)·s
    return n * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def transpose_size_ignores_dilation(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return (n - 1) * stride - 2 * padding + kernel_size + output_padding


def transpose_size_span_d_times_k(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # a dilated kernel's span taken as d·k
    return (n - 1) * stride - 2 * padding + dilation * kernel_size + output_padding


def transpose_size_no_plus_one(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding


def transpose_size_output_padding_twice(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + 2 * output_padding + 1


# ==========================================================================
# overlap_counts(in_size, kernel_size, stride, padding=0) -> LongTensor (H_out, W_out)
# ==========================================================================

# The notebook's own solution (a loop over the k × k taps, strided slices), loaded from its source.
overlap_counts_taps = solution("06_fcn", "overlap_counts")


def overlap_counts_pixels(in_size, kernel_size, stride, padding=0):
    """Four plain loops: every input pixel, every tap, and a bounds test after cropping the padding."""
    h, w = in_size
    k, s, p = kernel_size, stride, padding
    out_h, out_w = (h - 1) * s + k - 2 * p, (w - 1) * s + k - 2 * p
    counts = torch.zeros(out_h, out_w, dtype=torch.long)
    for a in range(h):
        for b in range(w):
            for i in range(k):
                for j in range(k):
                    row, col = a * s + i - p, b * s + j - p
                    if 0 <= row < out_h and 0 <= col < out_w:
                        counts[row, col] += 1
    return counts


def _positions(n, k, s, p):
    """Where every (input pixel, tap) pair of one axis lands: a·s + i − p, all at once."""
    return (torch.arange(n)[:, None] * s + torch.arange(k)[None, :] - p).flatten()


def _axis_bincount(n, k, s, p):
    """Taps per output position along one axis: a bincount of the landing positions inside the cropped map."""
    size = (n - 1) * s + k - 2 * p
    where = _positions(n, k, s, p)
    return torch.bincount(where[(where >= 0) & (where < size)], minlength=size)


def overlap_counts_bincount(in_size, kernel_size, stride, padding=0):
    """Vectorised: one bincount per axis of the landing positions, then the outer product."""
    rows, cols = (_axis_bincount(n, kernel_size, stride, padding) for n in in_size)
    return torch.outer(rows, cols)


def overlap_counts_numpy(in_size, kernel_size, stride, padding=0):
    """NumPy: np.add.at on the uncropped axes, crop, np.outer, then back to torch."""
    axes = []
    for n in in_size:
        full = np.zeros((n - 1) * stride + kernel_size, dtype=np.int64)
        np.add.at(full, (np.arange(n)[:, None] * stride + np.arange(kernel_size)[None, :]).ravel(), 1)
        axes.append(full[padding:len(full) - padding])
    return torch.from_numpy(np.outer(axes[0], axes[1]))


def _tap_loop(in_size, kernel_size, stride, padding, *, assign=False, full_size=None, crop=True,
              skip_last=False, dtype=torch.long):
    """The notebook's tap loop, with one knob per mistake (the defaults are correct)."""
    h, w = in_size
    k, s, p = kernel_size, stride, padding
    full_h, full_w = full_size(h, w) if full_size else ((h - 1) * s + k, (w - 1) * s + k)
    last_h, last_w = (h - 2, w - 2) if skip_last else (h - 1, w - 1)
    counts = torch.zeros(full_h, full_w, dtype=dtype)
    for i in range(k):
        for j in range(k):
            window = counts[i:i + last_h * s + 1:s, j:j + last_w * s + 1:s]
            if assign:
                window[...] = 1
            else:
                window += 1
    return counts[p:full_h - p, p:full_w - p] if crop else counts


def overlap_counts_assigns(in_size, kernel_size, stride, padding=0):
    # window[...] = 1 instead of += 1: a pixel covered by several stamps counts once
    return _tap_loop(in_size, kernel_size, stride, padding, assign=True)


def overlap_counts_adds_axes(in_size, kernel_size, stride, padding=0):
    # one count per axis, right, but combined with + instead of ×
    rows, cols = (_axis_bincount(n, kernel_size, stride, padding) for n in in_size)
    return rows[:, None] + cols[None, :]


def overlap_counts_swapped(in_size, kernel_size, stride, padding=0):
    # stamps `stride` wide, starting `kernel_size` apart
    return _tap_loop(in_size, stride, kernel_size, padding)


def overlap_counts_n_times_s(in_size, kernel_size, stride, padding=0):
    # the full map taken as H·s by W·s (the slices stop silently at its end)
    return _tap_loop(in_size, kernel_size, stride, padding, full_size=lambda h, w: (h * stride, w * stride))


def overlap_counts_no_crop(in_size, kernel_size, stride, padding=0):
    # returns the full map: padding never cropped
    return _tap_loop(in_size, kernel_size, stride, padding, crop=False)


def overlap_counts_float(in_size, kernel_size, stride, padding=0):
    # torch.zeros' default dtype: float32 counts
    return _tap_loop(in_size, kernel_size, stride, padding, dtype=torch.float32)


def overlap_counts_skips_last_input(in_size, kernel_size, stride, padding=0):
    # a mistake no hint names: the last input row and column never stamp (range(H − 1) thinking)
    return _tap_loop(in_size, kernel_size, stride, padding, skip_last=True)


def overlap_counts_calls_F(in_size, kernel_size, stride, padding=0):
    ones = torch.ones(1, 1, *in_size)
    return F.conv_transpose2d(ones, torch.ones(1, 1, kernel_size, kernel_size), stride=stride,
                              padding=padding)[0, 0].long()


def overlap_counts_uses_module(in_size, kernel_size, stride, padding=0):
    layer = nn.ConvTranspose2d(1, 1, kernel_size, stride=stride, padding=padding, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1)
        return layer(torch.ones(1, 1, *in_size))[0, 0].long()


def overlap_counts_fold(in_size, kernel_size, stride, padding=0):
    # col2im adds up the overlapping windows: F.fold of columns of ones is the answer in one call
    h, w = in_size
    size = ((h - 1) * stride + kernel_size - 2 * padding, (w - 1) * stride + kernel_size - 2 * padding)
    cols = torch.ones(1, kernel_size * kernel_size, h * w)
    return F.fold(cols, size, kernel_size, stride=stride, padding=padding)[0, 0].long()


def overlap_counts_conv_transpose1d(in_size, kernel_size, stride, padding=0):
    # one transposed convolution per axis, then the outer product
    rows, cols = (F.conv_transpose1d(torch.ones(1, 1, n), torch.ones(1, 1, kernel_size), stride=stride,
                                     padding=padding)[0, 0] for n in in_size)
    return torch.outer(rows, cols).long()


# ==========================================================================
# bilinear_kernel(channels, factor) -> (channels, channels, k, k)
# ==========================================================================

# The notebook's own solution, loaded from its source rather than copied here.
bilinear_kernel_outer = solution("06_fcn", "bilinear_kernel")


def bilinear_kernel_loops(channels, factor):
    """Python loops and math, as in FCN's upsample_filt; the centre is (k − 1) / 2 for both parities."""
    k = 2 * factor - factor % 2
    centre = (k - 1) / 2
    weight = torch.zeros(channels, channels, k, k)
    for i in range(k):
        for j in range(k):
            value = (1 - abs(i - centre) / factor) * (1 - abs(j - centre) / factor)
            for c in range(channels):
                weight[c, c, i, j] = value
    return weight


def bilinear_kernel_numpy_eye(channels, factor):
    """numpy's ogrid for the 2-D tent, an identity matrix for the channels, broadcast together."""
    k = 2 * factor - factor % 2
    centre = factor - 1 if k % 2 else factor - 0.5
    rows, cols = np.ogrid[:k, :k]
    tent = (1 - np.abs(rows - centre) / factor) * (1 - np.abs(cols - centre) / factor)
    weight = np.eye(channels)[:, :, None, None] * tent
    return torch.from_numpy(weight).float()


def _bilinear(channels, factor, *, centre=None, k=None, mixed=False, scale=1.0, dtype=torch.float32):
    k = 2 * factor - factor % 2 if k is None else k
    centre = (factor - 1 if k % 2 == 1 else factor - 0.5) if centre is None else centre
    tent = (1 - (torch.arange(k, dtype=dtype) - centre).abs() / factor).clamp(min=0)
    kernel = torch.outer(tent, tent) * scale
    weight = torch.zeros(channels, channels, k, k, dtype=dtype)
    for c in range(channels):
        if mixed:
            weight[c, :] = kernel
        else:
            weight[c, c] = kernel
    return weight


def bilinear_kernel_centre_swapped(channels, factor):
    # the two centres exchanged: factor − 0.5 for odd k, factor − 1 for even k
    k = 2 * factor - factor % 2
    return _bilinear(channels, factor, centre=factor - 0.5 if k % 2 == 1 else factor - 1)


def bilinear_kernel_size_2f(channels, factor):
    # k = 2·factor for odd factors too
    return _bilinear(channels, factor, k=2 * factor, centre=factor - 0.5)


def bilinear_kernel_mixes_channels(channels, factor):
    # weight[c, :] = kernel: every output channel sums all input channels
    return _bilinear(channels, factor, mixed=True)


def bilinear_kernel_not_divided(channels, factor):
    # t_i = factor − |i − centre| (forgot to divide by the factor)
    return _bilinear(channels, factor, scale=float(factor * factor))


def bilinear_kernel_sums_to_one(channels, factor):
    # normalises the 2-D kernel to sum 1, like a blur kernel
    return _bilinear(channels, factor, scale=1.0 / (factor * factor))


def bilinear_kernel_float64(channels, factor):
    # torch.arange(k, dtype=torch.float64), never converted
    return _bilinear(channels, factor, dtype=torch.float64)


# ==========================================================================
# confusion_matrix(pred, target, num_classes, ignore_index=255) -> LongTensor (K, K)
# ==========================================================================

# The notebook's own solution, loaded from its source rather than copied here.
confusion_bincount = solution("06_fcn", "confusion_matrix")


def confusion_one_hot(pred, target, num_classes, ignore_index=255):
    """One-hot rows for truth and prediction; their product counts every (t, p) pair."""
    keep = target != ignore_index
    truth = F.one_hot(target[keep], num_classes)                      # (P, K), int64
    guess = F.one_hot(pred[keep], num_classes)
    return truth.T @ guess


def confusion_loops(pred, target, num_classes, ignore_index=255):
    """One boolean mask per (t, p), counted with sum."""
    keep = target != ignore_index
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t in range(num_classes):
        for p in range(num_classes):
            matrix[t, p] = ((target == t) & (pred == p) & keep).sum()
    return matrix


def confusion_numpy(pred, target, num_classes, ignore_index=255):
    """numpy's add.at, scattering a 1 per pixel, back to torch."""
    t, p = target.numpy().ravel(), pred.numpy().ravel()
    keep = t != ignore_index
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (t[keep], p[keep]), 1)
    return torch.from_numpy(matrix)


def confusion_pixel_loop(pred, target, num_classes, ignore_index=255):
    # right counts, one pixel at a time over Python lists: the same few torch operations on any size
    matrix = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(target.flatten().tolist(), pred.flatten().tolist()):
        if t != ignore_index:
            matrix[t][p] += 1
    return torch.tensor(matrix)


def confusion_transposed(pred, target, num_classes, ignore_index=255):
    # pred·K + target: rows are the predictions
    keep = target != ignore_index
    pairs = pred[keep] * num_classes + target[keep]
    return torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def confusion_valid_range(pred, target, num_classes, ignore_index=255):
    # keeps 0 <= target < K instead of target != ignore_index: the ignore label stays when it is a class id
    keep = (target >= 0) & (target < num_classes)
    pairs = target[keep] * num_classes + pred[keep]
    return torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def confusion_loops_never_ignore(pred, target, num_classes, ignore_index=255):
    # the mask loop without `keep`: pixels labelled 255 match no class anyway... unless ignore_index is one
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t in range(num_classes):
        for p in range(num_classes):
            matrix[t, p] = ((target == t) & (pred == p)).sum()
    return matrix


def confusion_bincount_no_minlength(pred, target, num_classes, ignore_index=255):
    # bincount sized by the largest index present: too short when the last class is on no pixel
    keep = target != ignore_index
    return torch.bincount(target[keep] * num_classes + pred[keep]).reshape(num_classes, num_classes)


def confusion_one_hot_sized_by_pixels(pred, target, num_classes, ignore_index=255):
    # one_hot without num_classes: as wide as the largest label present
    keep = target != ignore_index
    return F.one_hot(target[keep]).T @ F.one_hot(pred[keep])


def confusion_float_counts(pred, target, num_classes, ignore_index=255):
    # one-hot rows made float "for the matrix product"
    keep = target != ignore_index
    truth = F.one_hot(target[keep], num_classes).float()
    guess = F.one_hot(pred[keep], num_classes).float()
    return truth.T @ guess


# ==========================================================================
# segmentation_scores(matrix) -> (pixel_accuracy, mean_iou, iou)
# ==========================================================================

def scores_nanmean(matrix):
    """The notebook's solution: vectorised, NaN from 0/0, torch.nanmean."""
    m = matrix.double()
    tp = m.diagonal()
    iou = tp / (m.sum(dim=0) + m.sum(dim=1) - tp)
    return (tp.sum() / m.sum()).item(), torch.nanmean(iou).item(), iou


def scores_masks(matrix):
    """Class by class, with an explicit mask for the classes whose union is not empty."""
    m = matrix.float()
    tp = torch.diag(m)
    fp = m.sum(0) - tp
    fn = m.sum(1) - tp
    union = tp + fp + fn
    defined = union > 0
    iou = torch.full_like(tp, float("nan"))
    iou[defined] = tp[defined] / union[defined]
    return float(tp.sum() / m.sum()), float(iou[defined].mean()), iou


def scores_numpy(matrix):
    """numpy with errstate: nanmean over the classes, floats out, the IoU vector back to torch."""
    m = matrix.numpy().astype(np.float64)
    tp = np.diag(m)
    with np.errstate(invalid="ignore"):
        iou = tp / (m.sum(0) + m.sum(1) - tp)
    return float(np.trace(m) / m.sum()), float(np.nanmean(iou)), torch.from_numpy(iou)


def scores_dice(matrix):
    # 2·TP / (2·TP + FP + FN): the Dice coefficient (F1) instead of IoU
    m = matrix.double()
    tp = m.diagonal()
    dice = 2 * tp / (m.sum(dim=0) + m.sum(dim=1))
    return (tp.sum() / m.sum()).item(), torch.nanmean(dice).item(), dice


def scores_recall(matrix):
    # TP / row sum: the per-class accuracy (recall), false positives not counted
    m = matrix.double()
    tp = m.diagonal()
    recall = tp / m.sum(dim=1)
    return (tp.sum() / m.sum()).item(), torch.nanmean(recall).item(), recall


def scores_absent_as_zero(matrix):
    # nan_to_num on the IoU vector: an absent class scores 0
    m = matrix.double()
    tp = m.diagonal()
    iou = (tp / (m.sum(dim=0) + m.sum(dim=1) - tp)).nan_to_num(0.0)
    return (tp.sum() / m.sum()).item(), iou.mean().item(), iou


def scores_mean_counts_absent_as_zero(matrix):
    # the IoU vector is right, but its mean counts the absent class as 0
    m = matrix.double()
    tp = m.diagonal()
    iou = tp / (m.sum(dim=0) + m.sum(dim=1) - tp)
    return (tp.sum() / m.sum()).item(), (iou.nan_to_num(0.0).sum() / len(iou)).item(), iou


def scores_mean_over_true_classes(matrix):
    # the mean over the classes present in the truth: a class only predicted (IoU 0) is left out
    m = matrix.double()
    tp = m.diagonal()
    iou = tp / (m.sum(dim=0) + m.sum(dim=1) - tp)
    return (tp.sum() / m.sum()).item(), iou[m.sum(dim=1) > 0].mean().item(), iou


def scores_plain_mean(matrix):
    # iou.mean(): NaN as soon as one class is absent
    m = matrix.double()
    tp = m.diagonal()
    iou = tp / (m.sum(dim=0) + m.sum(dim=1) - tp)
    return (tp.sum() / m.sum()).item(), iou.mean().item(), iou


def scores_accuracy_as_class_mean(matrix):
    # "pixel accuracy" as the mean over the classes of the per-class accuracy
    m = matrix.double()
    tp = m.diagonal()
    iou = tp / (m.sum(dim=0) + m.sum(dim=1) - tp)
    return torch.nanmean(tp / m.sum(dim=1)).item(), torch.nanmean(iou).item(), iou


def scores_integer_division(matrix):
    # divides the integer counts with //: every IoU below 1 becomes 0
    tp = matrix.diagonal()
    union = matrix.sum(dim=0) + matrix.sum(dim=1) - tp
    iou = (tp // union.clamp(min=1)).double()
    return (tp.sum() / matrix.sum()).item(), iou.mean().item(), iou


def scores_list_of_iou(matrix):
    # returns the IoUs as a Python list
    pixel_accuracy, mean_iou, iou = scores_nanmean(matrix)
    return pixel_accuracy, mean_iou, iou.tolist()


def scores_returns_dict(matrix):
    # returns a dict, as torchmetrics would
    pixel_accuracy, mean_iou, iou = scores_nanmean(matrix)
    return {"pixel_accuracy": pixel_accuracy, "mean_iou": mean_iou, "iou": iou}



def conv_transpose2d_first_axis_only(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Reads only the first value of each (height, width) pair and uses it for both axes."""
    def first(v):
        return v[0] if isinstance(v, (tuple, list)) else v
    return _transposed(x, weight, bias, first(stride), first(padding), first(output_padding))


def confusion_bincount_unmasked(pred, target, num_classes, ignore_index=255):
    """bincount over every pixel: an ignore label of 255 indexes far beyond K·K, and reshape fails."""
    pairs = target.flatten() * num_classes + pred.flatten()
    return torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
