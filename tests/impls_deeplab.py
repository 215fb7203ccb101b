"""Correct and plausible wrong implementations of notebook 08's exercises (DeepLab), for the check tests."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


# ==========================================================================
# atrous_conv2d
# ==========================================================================

def _atrous(x, weight, bias=None, stride=1, padding=0, dilation=1, *, tap_step=None, stride_from_dilation=False,
            effective=True, use_bias=True):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    if stride_from_dilation:
        sh, sw, dh, dw = sh * dh, sw * dw, 1, 1
    if tap_step is not None:
        dh, dw = tap_step(dh), tap_step(dw)
    cout, cin, kh, kw = weight.shape
    xp = F.pad(x, [pw, pw, ph, ph])
    H, W = xp.shape[-2:]
    span_h, span_w = (dh * (kh - 1) + 1, dw * (kw - 1) + 1) if effective else (kh, kw)
    ho, wo = (H - span_h) // sh + 1, (W - span_w) // sw + 1
    out = x.new_zeros(x.shape[0], cout, ho, wo)
    for m in range(kh):
        for n in range(kw):
            window = xp[:, :, m * dh: m * dh + sh * (ho - 1) + 1: sh, n * dw: n * dw + sw * (wo - 1) + 1: sw]
            out = out + torch.einsum("bchw,oc->bohw", window, weight[:, :, m, n])
    if bias is not None and use_bias:
        out = out + bias[None, :, None, None]
    return out


def atrous_taps(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """One strided slice per kernel tap, offset by tap·dilation (the solution's way)."""
    return _atrous(x, weight, bias, stride, padding, dilation)


def atrous_dilated_kernel(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Insert d − 1 zeros between the taps, then an ordinary strided correlation by slices."""
    (dh, dw) = _pair(dilation)
    cout, cin, kh, kw = weight.shape
    big = weight.new_zeros(cout, cin, dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    big[:, :, ::dh, ::dw] = weight
    return _atrous(x, big, bias, stride, padding, 1)


def atrous_loops(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Explicit loops over output positions, with gather-style indexing."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    cout, cin, kh, kw = weight.shape
    xp = F.pad(x, [pw, pw, ph, ph])
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    rows = torch.arange(ho)[:, None] * sh + torch.arange(kh)[None, :] * dh     # (ho, kh)
    cols = torch.arange(wo)[:, None] * sw + torch.arange(kw)[None, :] * dw     # (wo, kw)
    patches = xp[:, :, rows[:, None, :, None], cols[None, :, None, :]]        # (N, C, ho, wo, kh, kw)
    out = torch.einsum("bchwmn,ocmn->bohw", patches, weight)
    return out if bias is None else out + bias[None, :, None, None]


def atrous_as_stride(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return _atrous(x, weight, bias, stride, padding, dilation, stride_from_dilation=True)


def atrous_holes_too_wide(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return _atrous(x, weight, bias, stride, padding, dilation, tap_step=lambda d: d + 1)


def atrous_ignores_dilation(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return _atrous(x, weight, bias, stride, padding, 1)


def atrous_no_bias(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return _atrous(x, weight, bias, stride, padding, dilation, use_bias=False)


def atrous_uses_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding, dilation=dilation)


def atrous_uses_unfold(x, weight, bias=None, stride=1, padding=0, dilation=1):
    cout, cin, kh, kw = weight.shape
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ho = (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = (weight.reshape(cout, -1) @ cols).reshape(x.shape[0], cout, ho, wo)
    return out if bias is None else out + bias[None, :, None, None]


# ==========================================================================
# make_separable_conv
# ==========================================================================

class SeparableConv(nn.Module):
    """Depthwise k × k (groups = C_in), then pointwise 1 × 1; no biases (the solution)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1, *, groups=True,
                 padding=None, bias=False, relu_between=False, stride_on_pointwise=False, dilation_arg=True):
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2 if padding is None else padding
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   stride=1 if stride_on_pointwise else stride, padding=pad,
                                   dilation=dilation if dilation_arg else 1,
                                   groups=in_channels if groups else 1, bias=bias)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, stride=stride if stride_on_pointwise else 1,
                                   bias=bias)
        self.relu_between = relu_between

    def forward(self, x):
        x = self.depthwise(x)
        if self.relu_between:
            x = F.relu(x)
        return self.pointwise(x)


def separable_module(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableConv(in_channels, out_channels, kernel_size, stride, dilation)


class SeparableSequential(nn.Sequential):
    """The same as an nn.Sequential with named children."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__()
        self.add_module("depthwise", nn.Conv2d(in_channels, in_channels, kernel_size, stride,
                                               dilation * (kernel_size - 1) // 2, dilation, groups=in_channels,
                                               bias=False))
        self.add_module("pointwise", nn.Conv2d(in_channels, out_channels, 1, bias=False))


def separable_sequential(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableSequential(in_channels, out_channels, kernel_size, stride, dilation)


def separable_functional(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    """Layers stored (the stride on the depthwise one), forward written with F.conv2d on their weights."""
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride, groups=in_channels,
                                       bias=False)
            self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

        def forward(self, x):
            pad = dilation * (kernel_size - 1) // 2
            x = F.conv2d(x, self.depthwise.weight, stride=self.depthwise.stride, padding=pad, dilation=dilation,
                         groups=in_channels)
            return F.conv2d(x, self.pointwise.weight)
    return Functional()


def separable_no_groups(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableConv(in_channels, out_channels, kernel_size, stride, dilation, groups=False)


class SeparableWithNorm(SeparableConv):
    """Batch norm after the pointwise step, inside the block."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__(in_channels, out_channels, kernel_size, stride, dilation)
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.norm(super().forward(x))


def separable_with_norm(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableWithNorm(in_channels, out_channels, kernel_size, stride, dilation)


def separable_with_bias(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableConv(in_channels, out_channels, kernel_size, stride, dilation, bias=True)


def separable_padding_not_scaled(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableConv(in_channels, out_channels, kernel_size, stride, dilation, padding=(kernel_size - 1) // 2)


def separable_ignores_dilation(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableConv(in_channels, out_channels, kernel_size, stride, dilation, padding=(kernel_size - 1) // 2,
                         dilation_arg=False)


def separable_stride_on_pointwise(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    """The stride on the 1 × 1 step: the same numbers, s² times the depthwise work."""
    return SeparableConv(in_channels, out_channels, kernel_size, stride, dilation, stride_on_pointwise=True)


def separable_relu_between(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableConv(in_channels, out_channels, kernel_size, stride, dilation, relu_between=True)


class PointwiseFirst(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__()
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.depthwise = nn.Conv2d(out_channels, out_channels, kernel_size, stride, dilation * (kernel_size - 1) // 2,
                                   dilation, groups=out_channels, bias=False)

    def forward(self, x):
        return self.depthwise(self.pointwise(x))


def separable_pointwise_first(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return PointwiseFirst(in_channels, out_channels, kernel_size, stride, dilation)


class StandardConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, dilation * (kernel_size - 1) // 2,
                              dilation, bias=False)

    def forward(self, x):
        return self.conv(x)


def separable_standard(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return StandardConv(in_channels, out_channels, kernel_size, stride, dilation)


class UnnamedSeparable(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__()
        self.dw = nn.Conv2d(in_channels, in_channels, kernel_size, stride, dilation * (kernel_size - 1) // 2,
                            dilation, groups=in_channels, bias=False)
        self.pw = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.pw(self.dw(x))


def separable_unnamed(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return UnnamedSeparable(in_channels, out_channels, kernel_size, stride, dilation)


# ==========================================================================
# make_aspp
# ==========================================================================

def _branch(cin, cout, k=1, rate=1, *, bias=False):
    pad = 0 if k == 1 else rate
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=pad, dilation=rate, bias=bias), nn.BatchNorm2d(cout),
                         nn.ReLU())


class ASPP(nn.Module):
    """ASPP in torchvision's layout (the solution), with switches for the catalogue's mistakes."""

    def __init__(self, in_channels, out_channels, rates=(6, 12, 18), *, pooling=True, pool="avg", bias=False,
                 rates_as_padding=False, fixed_rates=None, project_relu=True, reverse=False, pool_bias=False):
        super().__init__()
        rates = fixed_rates or rates
        branches = [_branch(in_channels, out_channels, bias=bias)]
        for r in rates:
            if rates_as_padding:
                branches.append(nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
                                              nn.BatchNorm2d(out_channels), nn.ReLU()))
            else:
                branches.append(_branch(in_channels, out_channels, 3, r, bias=bias))
        if pooling:
            pool_layer = nn.AdaptiveAvgPool2d(1) if pool == "avg" else nn.AdaptiveMaxPool2d(1)
            branches.append(nn.Sequential(pool_layer, nn.Conv2d(in_channels, out_channels, 1, bias=bias or pool_bias),
                                          nn.BatchNorm2d(out_channels), nn.ReLU()))
        self.convs = nn.ModuleList(branches)
        layers = [nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)]
        layers += [nn.ReLU(), nn.Dropout(0.5)] if project_relu else [nn.Dropout(0.5)]
        self.project = nn.Sequential(*layers)
        self.reverse = reverse

    def forward(self, x):
        size = x.shape[-2:]
        outs = []
        for i, branch in enumerate(self.convs):
            out = branch(x)
            if out.shape[-2:] != size and i == len(self.convs) - 1:
                out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
            outs.append(out)
        if self.reverse:
            outs = outs[::-1]
        return self.project(torch.cat(outs, dim=1))


def aspp_module(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates)


def aspp_torchvision(in_channels, out_channels, rates):
    return TorchvisionASPP(in_channels, list(rates), out_channels)


class ASPPExpand(ASPP):
    """The pooled branch broadcast with expand instead of interpolated (the same numbers)."""

    def forward(self, x):
        outs = [branch(x) for branch in self.convs[:-1]]
        pooled = self.convs[-1](x).expand(-1, -1, *x.shape[-2:])
        return self.project(torch.cat(outs + [pooled], dim=1))


def aspp_expand(in_channels, out_channels, rates):
    return ASPPExpand(in_channels, out_channels, rates)


def aspp_no_pooling(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates, pooling=False)


def aspp_max_pooling(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates, pool="max")


def aspp_fixed_rates(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates, fixed_rates=(6, 12, 18))


def aspp_rates_as_padding(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates, rates_as_padding=True)


def aspp_with_bias(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates, bias=True)


def aspp_pooling_bias(in_channels, out_channels, rates):
    """A bias on the image-pooling branch's convolution only (convs.4.1.bias)."""
    return ASPP(in_channels, out_channels, rates, pool_bias=True)


def aspp_project_no_relu(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates, project_relu=False)


def aspp_reversed(in_channels, out_channels, rates):
    return ASPP(in_channels, out_channels, rates, reverse=True)


class ASPPNoProject(ASPP):
    def forward(self, x):
        size = x.shape[-2:]
        outs = [branch(x) for branch in self.convs[:-1]]
        outs.append(F.interpolate(self.convs[-1](x), size=size, mode="bilinear", align_corners=False))
        return torch.cat(outs, dim=1)


def aspp_no_project(in_channels, out_channels, rates):
    return ASPPNoProject(in_channels, out_channels, rates)


class ASPPNoPadding(ASPP):
    """Atrous branches without padding: the maps shrink and the concatenation fails."""

    def __init__(self, in_channels, out_channels, rates):
        super().__init__(in_channels, out_channels, rates)
        for branch in list(self.convs)[1:-1]:
            branch[0].padding = (0, 0)


def aspp_no_padding(in_channels, out_channels, rates):
    return ASPPNoPadding(in_channels, out_channels, rates)


# ==========================================================================
# mean_field_step
# ==========================================================================

def _mf(unary, q, k_appearance, k_smooth, w_appearance, w_smooth, *, self_connection=False, sign=-1.0, unary_on=True,
        potts=True, normalise=False, from_q=True, softmax=True, dim=0, swap=False):
    L = q.shape[0]
    flat = q.reshape(L, -1) if from_q else torch.softmax(-unary.reshape(L, -1), dim=0)
    if swap:
        w_appearance, w_smooth = w_smooth, w_appearance
    message = w_appearance * flat @ k_appearance.t() + w_smooth * flat @ k_smooth.t()
    if not self_connection:
        message = message - (w_appearance * k_appearance.diagonal() + w_smooth * k_smooth.diagonal()) * flat
    if normalise:
        message = message / message.sum(dim=0, keepdim=True)
    pairwise = message.sum(dim=0, keepdim=True) - message if potts else message
    energy = (unary.reshape(L, -1) if unary_on else 0) + pairwise
    if not softmax:
        return torch.exp(-energy).reshape(q.shape)
    return torch.softmax(sign * energy, dim=dim).reshape(q.shape)


def mean_field_matrix(unary, q, k_appearance, k_smooth, w_appearance, w_smooth):
    """The solution: one matrix product per kernel, the diagonal's contribution subtracted."""
    return _mf(unary, q, k_appearance, k_smooth, w_appearance, w_smooth)


def mean_field_zero_diagonal(unary, q, k_appearance, k_smooth, w_appearance, w_smooth):
    """Zero the diagonal of the combined kernel; Potts as −message (the same up to a per-pixel constant)."""
    L = q.shape[0]
    kernel = w_appearance * k_appearance + w_smooth * k_smooth
    kernel = kernel - torch.diag(kernel.diagonal())
    message = q.reshape(L, -1) @ kernel.t()
    return torch.softmax(-unary.reshape(L, -1) + message, dim=0).reshape(q.shape)


def mean_field_einsum(unary, q, k_appearance, k_smooth, w_appearance, w_smooth):
    """Spatial layout kept: the kernels reshaped to (H, W, H, W), Potts as an explicit L × L matrix."""
    L, H, W = q.shape
    off = 1 - torch.eye(H * W)
    kernel = ((w_appearance * k_appearance + w_smooth * k_smooth) * off).reshape(H, W, H, W)
    message = torch.einsum("hwij,lij->lhw", kernel, q)
    potts = 1 - torch.eye(L)
    energy = unary + torch.einsum("lk,khw->lhw", potts, message)
    return torch.softmax(-energy, dim=0)


def mean_field_self_connection(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, self_connection=True)


def mean_field_plus(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, sign=1.0)


def mean_field_no_unary(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, unary_on=False)


def mean_field_no_potts(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, potts=False)


def mean_field_normalised(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, normalise=True)


def mean_field_ignores_q(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, from_q=False)


def mean_field_no_softmax(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, softmax=False)


def mean_field_softmax_pixels(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, dim=1)


def mean_field_swapped_weights(unary, q, ka, ks, wa, ws):
    return _mf(unary, q, ka, ks, wa, ws, swap=True)


def mean_field_transposed_image(unary, q, ka, ks, wa, ws):
    """Pixels numbered column by column (q.transpose before the reshape): the kernels' numbering is row-major."""
    L, H, W = q.shape
    flat = q.transpose(1, 2).reshape(L, -1)
    off = 1 - torch.eye(H * W)
    message = flat @ ((wa * ka + ws * ks) * off).t()
    message = message.reshape(L, W, H).transpose(1, 2).reshape(L, -1)
    pairwise = message.sum(0, keepdim=True) - message
    return torch.softmax(-(unary.reshape(L, -1) + pairwise), dim=0).reshape(q.shape)
