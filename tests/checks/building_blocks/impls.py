"""Learner implementations for notebook 02's exercises, correct and wrong.

Used by ``test_building_blocks.py``.  Written the way a learner would write
them: the correct ones never call the function their exercise re-implements
(no pooling, softmax or batch-norm function of torch); each wrong one carries
one plausible mistake, named in its comment.
"""

from __future__ import annotations

import itertools
import math
import operator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import max_pool2d as bound_max_pool2d  # bound before any check runs

from checks.helpers import solution


def pair(v):
    """An int or an (along H, along W) pair, as a pair."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def pool_settings(x, kernel_size, stride, padding):
    """Unpack the pooling arguments (stride=None means stride = kernel_size) and compute the output size."""
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(kernel_size if stride is None else stride)
    n, c, h, w = x.shape
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    return n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo


def padded(x, ph, pw, fill):
    """x with ph rows and pw columns of ``fill`` on both sides, built by slicing into a new tensor."""
    n, c, h, w = x.shape
    out = torch.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def windows(x, kernel_size, stride, padding, fill):
    """Every pooling window with Tensor.unfold: (N, C, H_out, W_out, kh, kw)."""
    n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo = pool_settings(x, kernel_size, stride, padding)
    return F.pad(x, (pw, pw, ph, ph), value=fill).unfold(2, kh, sh).unfold(3, kw, sw)


# ==========================================================================
# max_pool2d(x, kernel_size, stride=None, padding=0)
# ==========================================================================

def max_pool2d_loops(x, kernel_size, stride=None, padding=0):
    """Explicit loops over output pixels; -inf padding so that it never wins."""
    n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo = pool_settings(x, kernel_size, stride, padding)
    xp = padded(x, ph, pw, float("-inf"))
    out = torch.empty(n, c, ho, wo, dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = window.reshape(n, c, -1).max(dim=-1).values
    return out


def max_pool2d_unfold(x, kernel_size, stride=None, padding=0):
    """Tensor.unfold for the windows, then amax over the last two dimensions."""
    return windows(x, kernel_size, stride, padding, float("-inf")).amax(dim=(-2, -1))


def max_pool2d_shifted_maximum(x, kernel_size, stride=None, padding=0):
    """No windows at all: the elementwise maximum of kh·kw strided slices of the padded input."""
    n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo = pool_settings(x, kernel_size, stride, padding)
    xp = padded(x, ph, pw, float("-inf"))
    out = None
    for a in range(kh):
        for b in range(kw):
            part = xp[:, :, a:a + sh * (ho - 1) + 1:sh, b:b + sw * (wo - 1) + 1:sw]
            out = part if out is None else torch.maximum(out, part)
    return out.clone()


def max_pool2d_is_avg(x, kernel_size, stride=None, padding=0):
    # averages the windows: the other pooling
    return windows(x, kernel_size, stride, padding, 0.0).mean(dim=(-2, -1))


def max_pool2d_stride_default_one(x, kernel_size, stride=None, padding=0):
    # reads stride=None as stride 1
    return max_pool2d_unfold(x, kernel_size, 1 if stride is None else stride, padding)


def max_pool2d_zero_padding(x, kernel_size, stride=None, padding=0):
    # F.pad's default fill is 0, and 0 beats the negative values near the border
    return windows(x, kernel_size, stride, padding, 0.0).amax(dim=(-2, -1))


def max_pool2d_ignores_padding(x, kernel_size, stride=None, padding=0):
    return max_pool2d_unfold(x, kernel_size, stride, 0)


def max_pool2d_ceil_mode(x, kernel_size, stride=None, padding=0):
    # H_out = ceil((H + 2p - k) / s) + 1: the last window may stick out past the edge
    n, c, h, w, kh, kw, sh, sw, ph, pw, _, _ = pool_settings(x, kernel_size, stride, padding)
    ho = math.ceil((h + 2 * ph - kh) / sh) + 1
    wo = math.ceil((w + 2 * pw - kw) / sw) + 1
    extra_h, extra_w = (ho - 1) * sh + kh - (h + 2 * ph), (wo - 1) * sw + kw - (w + 2 * pw)
    xp = F.pad(x, (pw, pw + extra_w, ph, ph + extra_h), value=float("-inf"))
    return xp.unfold(2, kh, sh).unfold(3, kw, sw).amax(dim=(-2, -1))


def max_pool2d_collapses_channels(x, kernel_size, stride=None, padding=0):
    # takes the max over the channels as well
    return windows(x, kernel_size, stride, padding, float("-inf")).amax(dim=(1, -2, -1))


def max_pool2d_one_short(x, kernel_size, stride=None, padding=0):
    # range(H_out - 1): forgot the last window
    return max_pool2d_unfold(x, kernel_size, stride, padding)[..., :-1, :-1]


def max_pool2d_swapped_hw(x, kernel_size, stride=None, padding=0):
    # reads the (along H, along W) pairs the other way round
    s = None if stride is None else pair(stride)[::-1]
    return max_pool2d_unfold(x, pair(kernel_size)[::-1], s, pair(padding)[::-1])


def max_pool2d_calls_F(x, kernel_size, stride=None, padding=0):
    return F.max_pool2d(x, kernel_size, stride, padding)


def max_pool2d_calls_torch(x, kernel_size, stride=None, padding=0):
    return torch.max_pool2d(x, kernel_size, kernel_size if stride is None else stride, padding)


def max_pool2d_uses_nn_module(x, kernel_size, stride=None, padding=0):
    return nn.MaxPool2d(kernel_size, stride, padding)(x)


def max_pool2d_calls_bound_function(x, kernel_size, stride=None, padding=0):
    # `from torch.nn.functional import max_pool2d` at the top of the notebook
    return bound_max_pool2d(x, kernel_size, stride, padding)


def max_pool2d_uses_adaptive_pool(x, kernel_size, stride=None, padding=0):
    # adaptive pooling to the output size: equals max pooling only for some sizes
    n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo = pool_settings(x, kernel_size, stride, padding)
    return F.adaptive_max_pool2d(x, (ho, wo))


# ==========================================================================
# avg_pool2d(x, kernel_size, stride=None, padding=0)
# ==========================================================================

def avg_pool2d_loops(x, kernel_size, stride=None, padding=0):
    """Explicit loops; every window's sum divided by kh·kw, padded zeros included."""
    n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo = pool_settings(x, kernel_size, stride, padding)
    xp = padded(x, ph, pw, 0.0)
    out = torch.zeros(n, c, ho, wo, dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].sum(dim=(-2, -1)) / (kh * kw)
    return out


def avg_pool2d_unfold(x, kernel_size, stride=None, padding=0):
    """Tensor.unfold for the windows, then the mean of each."""
    return windows(x, kernel_size, stride, padding, 0.0).mean(dim=(-2, -1))


def avg_pool2d_box_filter(x, kernel_size, stride=None, padding=0):
    """A depthwise 'convolution' written by hand: sum kh·kw strided slices, divide once."""
    n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo = pool_settings(x, kernel_size, stride, padding)
    xp = padded(x, ph, pw, 0.0)
    total = torch.zeros(n, c, ho, wo, dtype=x.dtype)
    for a in range(kh):
        for b in range(kw):
            total += xp[:, :, a:a + sh * (ho - 1) + 1:sh, b:b + sw * (wo - 1) + 1:sw]
    return total / (kh * kw)


def avg_pool2d_is_max(x, kernel_size, stride=None, padding=0):
    # keeps the largest value: the other pooling
    return windows(x, kernel_size, stride, padding, float("-inf")).amax(dim=(-2, -1))


def avg_pool2d_stride_default_one(x, kernel_size, stride=None, padding=0):
    return avg_pool2d_unfold(x, kernel_size, 1 if stride is None else stride, padding)


def avg_pool2d_excludes_padding(x, kernel_size, stride=None, padding=0):
    # divides each window by the number of real (unpadded) pixels in it
    ones = torch.ones_like(x[:, :1])
    sums = windows(x, kernel_size, stride, padding, 0.0).sum(dim=(-2, -1))
    counts = windows(ones, kernel_size, stride, padding, 0.0).sum(dim=(-2, -1))
    return sums / counts


def avg_pool2d_window_sum(x, kernel_size, stride=None, padding=0):
    # forgets to divide by kh·kw
    return windows(x, kernel_size, stride, padding, 0.0).sum(dim=(-2, -1))


def avg_pool2d_ignores_padding(x, kernel_size, stride=None, padding=0):
    return avg_pool2d_unfold(x, kernel_size, stride, 0)


def avg_pool2d_ceil_mode(x, kernel_size, stride=None, padding=0):
    # H_out = ceil((H + 2p - k) / s) + 1, the overhang filled with zeros
    n, c, h, w, kh, kw, sh, sw, ph, pw, _, _ = pool_settings(x, kernel_size, stride, padding)
    ho = math.ceil((h + 2 * ph - kh) / sh) + 1
    wo = math.ceil((w + 2 * pw - kw) / sw) + 1
    extra_h, extra_w = (ho - 1) * sh + kh - (h + 2 * ph), (wo - 1) * sw + kw - (w + 2 * pw)
    xp = F.pad(x, (pw, pw + extra_w, ph, ph + extra_h))
    return xp.unfold(2, kh, sh).unfold(3, kw, sw).mean(dim=(-2, -1))


def avg_pool2d_collapses_channels(x, kernel_size, stride=None, padding=0):
    # averages over the channels as well
    return windows(x, kernel_size, stride, padding, 0.0).mean(dim=(1, -2, -1))


def avg_pool2d_one_long(x, kernel_size, stride=None, padding=0):
    # range(H_out + 1), the extra window clipped at the border
    n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo = pool_settings(x, kernel_size, stride, padding)
    xp = F.pad(x, (pw, pw + sw + kw, ph, ph + sh + kh))
    return xp.unfold(2, kh, sh).unfold(3, kw, sw)[:, :, :ho + 1, :wo + 1].mean(dim=(-2, -1))


def avg_pool2d_calls_F(x, kernel_size, stride=None, padding=0):
    return F.avg_pool2d(x, kernel_size, stride, padding)


def avg_pool2d_uses_nn_module(x, kernel_size, stride=None, padding=0):
    return nn.AvgPool2d(kernel_size, stride, padding)(x)


def avg_pool2d_calls_max_pool(x, kernel_size, stride=None, padding=0):
    # "-max(-x)" tricks aside, any pooling function of torch is refused
    return F.max_pool2d(x, kernel_size, stride, padding)


# ==========================================================================
# batch_norm(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5)
# ==========================================================================

def channel(v):
    """A length-C vector shaped to broadcast over (N, C, H, W)."""
    return v.view(1, -1, 1, 1)


def batch_norm_torch_var(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    """torch.var with unbiased=False to normalise and unbiased=True for the running variance."""
    if training:
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * x.var(dim=(0, 2, 3), unbiased=True)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.clone(), running_var.clone()
    y = weight.view(1, -1, 1, 1) * (x - channel(mean)) / torch.sqrt(channel(var) + eps) + channel(bias)
    return y, new_mean, new_var


def batch_norm_explicit_sums(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    """Explicit sums over a channels-first view, the m/(m-1) correction written out."""
    c = x.shape[1]
    flat = x.transpose(0, 1).reshape(c, -1)  # (C, N·H·W)
    m = flat.shape[1]
    if training:
        mean = flat.sum(dim=1) / m
        sq = ((flat - mean[:, None]) ** 2).sum(dim=1)
        var = sq / m
        new_mean = running_mean + momentum * (mean - running_mean)
        new_var = running_var + momentum * (sq / (m - 1) - running_var)
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean + 0, running_var + 0
    inv_std = 1.0 / (var + eps) ** 0.5
    y = (x - channel(mean)) * channel(inv_std * weight) + channel(bias)
    return y, new_mean, new_var


def batch_norm_per_channel_loop(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    """A Python loop over the channels, each one normalised on its own."""
    y = torch.empty_like(x)
    new_mean, new_var = running_mean.clone(), running_var.clone()
    for ch in range(x.shape[1]):
        values = x[:, ch]
        if training:
            mu, var = values.mean(), values.var(unbiased=False)
            new_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * mu
            new_var[ch] = (1 - momentum) * running_var[ch] + momentum * values.var(unbiased=True)
        else:
            mu, var = running_mean[ch], running_var[ch]
        y[:, ch] = (values - mu) / torch.sqrt(var + eps) * weight[ch] + bias[ch]
    return y, new_mean, new_var


def _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, *, running_unbiased=True,
        normalise_unbiased=False, new_weight=None, stats="batch", dims=(0, 2, 3), update=None):
    """A learner's batch norm with knobs for the mistakes below."""
    a = momentum if new_weight is None else new_weight
    if training if update is None else update:
        new_mean = (1 - a) * running_mean + a * x.mean(dim=(0, 2, 3))
        new_var = (1 - a) * running_var + a * x.var(dim=(0, 2, 3), unbiased=running_unbiased)
    else:
        new_mean, new_var = running_mean.clone(), running_var.clone()
    if stats == "batch":
        mu, v = x.mean(dim=dims, keepdim=True), x.var(dim=dims, unbiased=normalise_unbiased, keepdim=True)
    else:
        mu, v = channel(running_mean), channel(running_var)
    y = channel(weight) * (x - mu) / torch.sqrt(v + eps) + channel(bias)
    return y, new_mean, new_var


def batch_norm_biased_running_var(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # the running variance takes the biased batch variance
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, running_unbiased=False,
               stats="batch" if training else "running")


def batch_norm_unbiased_normalisation(x, running_mean, running_var, weight, bias, training, momentum=0.1,
                                      eps=1e-5):
    # torch.var's default (unbiased=True) used to normalise too
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, normalise_unbiased=True,
               stats="batch" if training else "running")


def batch_norm_swapped_momentum(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # running = momentum·running + (1 − momentum)·batch (the Keras convention)
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, new_weight=1 - momentum,
               stats="batch" if training else "running")


def batch_norm_running_stats_in_training(x, running_mean, running_var, weight, bias, training, momentum=0.1,
                                         eps=1e-5):
    # always normalises with the running statistics
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, stats="running")


def batch_norm_per_sample(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # mean over (H, W) only: one statistic per sample and channel (instance norm)
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, dims=(2, 3),
               stats="batch" if training else "running")


def batch_norm_no_update(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # returns the running statistics as they came in
    y, _, _ = batch_norm_torch_var(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return y, running_mean, running_var


def batch_norm_batch_stats_in_eval(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # ignores `training` for the normalisation: always the batch statistics
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, stats="batch")


def batch_norm_updates_in_eval(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # updates the running statistics whatever the mode
    return _bn(x, running_mean, running_var, weight, bias, training, momentum, eps, update=True,
               stats="batch" if training else "running")


def batch_norm_swapped_affine(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # y = β·x̂ + γ
    return batch_norm_torch_var(x, running_mean, running_var, bias, weight, training, momentum, eps)


def _bn_eps(x, running_mean, running_var, weight, bias, training, momentum, eps, *, outside_sqrt=False):
    y, new_mean, new_var = batch_norm_torch_var(x, running_mean, running_var, weight, bias, training, momentum, eps)
    mean = x.mean(dim=(0, 2, 3)) if training else running_mean
    var = x.var(dim=(0, 2, 3), unbiased=False) if training else running_var
    std = torch.sqrt(channel(var)) + eps if outside_sqrt else torch.sqrt(channel(var) + eps)
    return channel(weight) * (x - channel(mean)) / std + channel(bias), new_mean, new_var


def batch_norm_eps_outside_sqrt(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # x̂ = (x − mean) / (sqrt(var) + eps), as some write it "to avoid dividing by zero"
    return _bn_eps(x, running_mean, running_var, weight, bias, training, momentum, eps, outside_sqrt=True)


def batch_norm_no_eps(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # leaves eps out: x̂ = (x − mean) / sqrt(var)
    return _bn_eps(x, running_mean, running_var, weight, bias, training, momentum, 0.0)


def batch_norm_fixed_eps(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # writes the usual 1e-5 instead of the eps passed in
    return _bn_eps(x, running_mean, running_var, weight, bias, training, momentum, 1e-5)


def batch_norm_in_place_update(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # updates the running statistics in place, as nn.BatchNorm2d does with its buffers
    y, new_mean, new_var = batch_norm_torch_var(x, running_mean, running_var, weight, bias, training, momentum,
                                                eps)
    running_mean.copy_(new_mean)
    running_var.copy_(new_var)
    return y, running_mean, running_var


def batch_norm_returns_only_y(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # forgets the running statistics in the return
    y, _, _ = batch_norm_torch_var(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return y


def batch_norm_returns_two(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    # returns (new_running_mean, new_running_var) and forgets y
    return batch_norm_torch_var(x, running_mean, running_var, weight, bias, training, momentum, eps)[1:]


def batch_norm_calls_F(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    new_mean, new_var = running_mean.clone(), running_var.clone()
    y = F.batch_norm(x, new_mean, new_var, weight, bias, training, momentum, eps)
    return y, new_mean, new_var


def batch_norm_uses_nn_module(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    layer = nn.BatchNorm2d(x.shape[1], eps=eps, momentum=momentum)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
        layer.running_mean.copy_(running_mean)
        layer.running_var.copy_(running_var)
        y = layer.train(training)(x)
    return y, layer.running_mean.clone(), layer.running_var.clone()


# ==========================================================================
# softmax(z, dim=-1)
# ==========================================================================

# The notebook's own softmax: exp(z − max) / sum, the max taken per slice along dim (keepdim).
softmax_max_shift = solution("02_building_blocks", "softmax")


def softmax_logsumexp(z, dim=-1):
    """exp(z − logsumexp(z)), with torch.logsumexp."""
    return torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))


def softmax_shifted_logsumexp(z, dim=-1):
    """torch.logsumexp of the max-shifted logits, so that nothing large is subtracted at the end."""
    shifted = z - z.amax(dim=dim, keepdim=True)
    return torch.exp(shifted - torch.logsumexp(shifted, dim=dim, keepdim=True))


def softmax_moved_dim_loop(z, dim=-1):
    """Moves `dim` last, loops over the slices in Python, shifts each by its own max."""
    moved = z.movedim(dim, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    out = torch.empty_like(rows)
    for r in range(rows.shape[0]):
        e = (rows[r] - rows[r].max()).exp()
        out[r] = e / e.sum()
    return out.reshape(moved.shape).movedim(-1, dim)


def softmax_naive(z, dim=-1):
    # exp(z) / sum exp(z): overflows for large logits
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)


def softmax_always_last_dim(z, dim=-1):
    # ignores `dim`
    e = torch.exp(z - z.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


def softmax_always_dim_0(z, dim=-1):
    # normalises down the columns whatever `dim` says
    e = torch.exp(z - z.amax(dim=0, keepdim=True))
    return e / e.sum(dim=0, keepdim=True)


def softmax_global_normalisation(z, dim=-1):
    # one sum over the whole tensor
    e = torch.exp(z - z.max())
    return e / e.sum()


def softmax_log_softmax(z, dim=-1):
    # stops one step early: log-softmax
    shifted = z - z.amax(dim=dim, keepdim=True)
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def softmax_global_max(z, dim=-1):
    # subtracts one global max instead of the max of each slice
    e = torch.exp(z - z.max())
    return e / e.sum(dim=dim, keepdim=True)


def softmax_subtracts_in_place(z, dim=-1):
    # z -= max: stable, but rewrites the caller's logits
    z -= z.amax(dim=dim, keepdim=True)
    e = z.exp()
    return e / e.sum(dim=dim, keepdim=True)


def softmax_calls_torch(z, dim=-1):
    return torch.softmax(z, dim=dim)


def softmax_calls_F(z, dim=-1):
    return F.softmax(z, dim=dim)


def softmax_calls_method(z, dim=-1):
    return z.softmax(dim)


def softmax_uses_nn_module(z, dim=-1):
    return nn.Softmax(dim=dim)(z)


def softmax_exp_of_log_softmax(z, dim=-1):
    return torch.log_softmax(z, dim=dim).exp()


# ==========================================================================
# receptive_field(layers) -> int
# ==========================================================================

def unpack(layer):
    """(kernel_size, stride) or (kernel_size, stride, dilation) as (k, s, d)."""
    return layer[0], layer[1], layer[2] if len(layer) > 2 else 1


def receptive_field_forward(layers):
    """First layer to last: r grows by d·(k − 1)·j, the jump j by the stride."""
    r, j = 1, 1
    for layer in layers:
        k, s, d = unpack(layer)
        r += d * (k - 1) * j
        j *= s
    return r


def receptive_field_backward(layers):
    """Last layer to first: a window of r outputs needs (r − 1)·s + k_eff inputs."""
    r = 1
    for layer in reversed(layers):
        k, s, d = unpack(layer)
        r = (r - 1) * s + d * (k - 1) + 1
    return r


def receptive_field_closed_form(layers):
    """r = 1 + Σ_l d_l·(k_l − 1)·(s_1·…·s_{l−1}), the jumps from itertools.accumulate."""
    specs = [unpack(layer) for layer in layers]
    jumps = itertools.accumulate([1] + [s for _, s, _ in specs[:-1]], operator.mul)
    return 1 + sum(d * (k - 1) * j for (k, _, d), j in zip(specs, jumps))


def receptive_field_reverses_in_place(layers):
    # list.reverse() for the backward loop: right answer, but the caller's list is now reversed
    layers.reverse()
    r = 1
    for layer in layers:
        k, s, d = unpack(layer)
        r = (r - 1) * s + d * (k - 1) + 1
    return r


def receptive_field_ignores_strides(layers):
    r = 1
    for layer in layers:
        k, s, d = unpack(layer)
        r += d * (k - 1)
    return r


def receptive_field_own_stride(layers):
    # updates the jump before using it
    r, j = 1, 1
    for layer in layers:
        k, s, d = unpack(layer)
        j *= s
        r += d * (k - 1) * j
    return r


def receptive_field_ignores_dilation(layers):
    r, j = 1, 1
    for layer in layers:
        k, s = layer[0], layer[1]
        r += (k - 1) * j
        j *= s
    return r


def receptive_field_sums_kernels(layers):
    return sum(layer[0] for layer in layers)


def receptive_field_multiplies_kernels(layers):
    return math.prod(layer[0] for layer in layers)


def receptive_field_starts_at_zero(layers):
    # r = 0 to begin with: off by one
    r, j = 0, 1
    for layer in layers:
        k, s, d = unpack(layer)
        r += d * (k - 1) * j
        j *= s
    return r


def receptive_field_adds_k(layers):
    # adds k instead of k − 1 per layer
    r, j = 1, 1
    for layer in layers:
        k, s, d = unpack(layer)
        r += (d * (k - 1) + 1) * j
        j *= s
    return r


# ==========================================================================
# make_digits_cnn() -> nn.Module
# ==========================================================================

# The notebook's own CNN: three 3×3 convolutions with batch norm, two 2×2 max pools, dropout, one linear layer.
digits_cnn_batch_norm = solution("02_building_blocks", "make_digits_cnn")


class DigitsNet(nn.Module):
    """A subclassed nn.Module with a functional forward and a global average pool."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        return self.head(x.mean(dim=(2, 3)))


def digits_cnn_subclass():
    return DigitsNet()


def digits_cnn_without_rng():
    """Built with skip_init and constant weights: no draw from torch's global RNG."""
    conv = nn.utils.skip_init(nn.Conv2d, 1, 4, 3, padding=1)
    linear = nn.utils.skip_init(nn.Linear, 4 * 4 * 4, 10)
    for p in [*conv.parameters(), *linear.parameters()]:
        nn.init.constant_(p, 0.01)
    return nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), linear)


def digits_cnn_forgets_return():
    model = digits_cnn_batch_norm()  # noqa: F841 - and then no return


def digits_cnn_returns_class():
    # returns the class, not an instance
    return DigitsNet


def digits_cnn_returns_layer_list():
    return [nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10)]


def digits_mlp():
    # a dense network: no convolution
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def digits_cnn_too_big():
    # no pooling, wide channels: a huge dense layer
    return nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(128 * 8 * 8, 256), nn.ReLU(), nn.Linear(256, 10))


def digits_cnn_nine_classes():
    # one score short
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 9))


def digits_cnn_softmax():
    # probabilities instead of logits: a softmax after the last linear layer
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10), nn.Softmax(dim=1))


def digits_cnn_no_flatten():
    # the linear layer applied to the feature map's last dimension
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Linear(4, 10))


class Squeezes(nn.Module):
    """Squeezes all size-1 dimensions: fine for a batch of 5, wrong for a batch of 1."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.body(x).squeeze())


def digits_cnn_squeezes():
    return Squeezes()


def digits_cnn_for_28x28():
    # sized for MNIST's 28×28 images: the linear layer does not fit 8×8 inputs
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 13 * 13, 10))
