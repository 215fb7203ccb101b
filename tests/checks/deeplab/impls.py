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

def _atrous(x, weight, bias=None, padding=0, dilation=1, *, variant=None):
    """Space-to-batch with a reshape and a permute (the solution's way); ``variant`` makes one known mistake."""
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    if variant == "holes_too_wide":
        dh, dw = dh + 1, dw + 1
    n, c = x.shape[:2]
    cout, _, kh, kw = weight.shape
    h_out, w_out = x.shape[2] + 2 * ph - dh * (kh - 1), x.shape[3] + 2 * pw - dw * (kw - 1)
    xp = x if variant == "pad_after_split" else F.pad(x, [pw, pw, ph, ph])
    if variant == "truncated":
        hs, ws = xp.shape[2] // dh, xp.shape[3] // dw
        xp = xp[:, :, :hs * dh, :ws * dw]
    else:
        hs, ws = -(-xp.shape[2] // dh), -(-xp.shape[3] // dw)
        xp = F.pad(xp, [0, ws * dw - xp.shape[3], 0, hs * dh - xp.shape[2]])
    sub = xp.reshape(n, c, hs, dh, ws, dw).permute(3, 5, 0, 1, 2, 4).reshape(dh * dw * n, c, hs, ws)
    if variant == "pad_after_split":
        sub = F.pad(sub, [pw, pw, ph, ph])
    if variant == "dilated_on_subimages":
        y = F.conv2d(sub, weight, bias if variant != "no_bias" else None, dilation=(dh, dw),
                     padding=(dh * (kh - 1) // 2, dw * (kw - 1) // 2))
    else:
        y = F.conv2d(sub, weight, None if variant == "no_bias" else bias)
    ya, yb = y.shape[-2:]
    order = (2, 3, 4, 1, 5, 0) if variant == "swapped_phases" else (2, 3, 4, 0, 5, 1)
    out = y.reshape(dh, dw, n, cout, ya, yb).permute(*order).reshape(n, cout, ya * dh, yb * dw)
    if variant == "bias_twice" and bias is not None:
        out = out + bias[None, :, None, None]
    if variant in ("uncropped", "truncated"):
        return out
    if variant == "crop_without_dilation":   # the crop of a dense k × k convolution
        return out[:, :, :x.shape[2] + 2 * ph - kh + 1, :x.shape[3] + 2 * pw - kw + 1]
    return out[:, :, :h_out, :w_out]


def atrous_space_to_batch(x, weight, bias=None, padding=0, dilation=1):
    """Pad to a multiple of d, reshape + permute into the batch, one F.conv2d, permute back, crop."""
    return _atrous(x, weight, bias, padding, dilation)


def atrous_stack_and_scatter(x, weight, bias=None, padding=0, dilation=1):
    """torch.stack of the phases' slices into the batch, one F.conv2d, each phase's output written into its
    rows and columns by a loop over the phases."""
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    n, kh, kw = x.shape[0], *weight.shape[-2:]
    xp = F.pad(x, [pw, pw, ph, ph])
    h_out, w_out = xp.shape[2] - dh * (kh - 1), xp.shape[3] - dw * (kw - 1)
    xp = F.pad(xp, [0, (-xp.shape[3]) % dw, 0, (-xp.shape[2]) % dh])
    phases = [(i, j) for i in range(dh) for j in range(dw)]
    y = F.conv2d(torch.stack([xp[:, :, i::dh, j::dw] for i, j in phases]).flatten(0, 1), weight, bias)
    y = y.unflatten(0, (len(phases), n))
    out = x.new_zeros(n, weight.shape[0], y.shape[-2] * dh, y.shape[-1] * dw)
    for k, (i, j) in enumerate(phases):
        out[:, :, i::dh, j::dw] = y[k]
    return out[:, :, :h_out, :w_out]


def atrous_phase_loop(x, weight, bias=None, padding=0, dilation=1):
    """Right numbers, but one F.conv2d per phase on x_p[..., i::d, j::d] (sub-images of unequal sizes), written
    into its phase: d² convolutions, not space to batch's one."""
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    kh, kw = weight.shape[-2:]
    xp = F.pad(x, [pw, pw, ph, ph])
    h_out, w_out = xp.shape[2] - dh * (kh - 1), xp.shape[3] - dw * (kw - 1)
    out = x.new_zeros(x.shape[0], weight.shape[0], h_out, w_out)
    for i in range(min(dh, h_out)):
        for j in range(min(dw, w_out)):
            y = F.conv2d(xp[:, :, i::dh, j::dw], weight, bias)
            rows, cols = len(range(i, h_out, dh)), len(range(j, w_out, dw))
            out[:, :, i::dh, j::dw] = y[:, :, :rows, :cols]
    return out


def atrous_cat_module(x, weight, bias=None, padding=0, dilation=1):
    """torch.cat of the sliced sub-images, an nn.Conv2d holding the kernel, torch.stack to interleave."""
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    n = x.shape[0]
    cout, cin, kh, kw = weight.shape
    xp = F.pad(x, [pw, pw, ph, ph])
    h_out, w_out = xp.shape[2] - dh * (kh - 1), xp.shape[3] - dw * (kw - 1)
    xp = F.pad(xp, [0, (-xp.shape[3]) % dw, 0, (-xp.shape[2]) % dh])
    conv = nn.Conv2d(cin, cout, (kh, kw), bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
        y = conv(torch.cat([xp[:, :, i::dh, j::dw] for i in range(dh) for j in range(dw)]))
    phases = y.reshape(dh, dw, n, cout, *y.shape[-2:])                 # (dh, dw, N, C_out, a, b)
    out = torch.stack([torch.stack(list(row), dim=-1) for row in phases], dim=-3)   # (N, C_out, a, dh, b, dw)
    return out.reshape(n, cout, y.shape[-2] * dh, y.shape[-1] * dw)[:, :, :h_out, :w_out]


def atrous_taps(x, weight, bias=None, padding=0, dilation=1):
    """Right numbers without any convolution: one strided slice per kernel tap (the old exercise)."""
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    cout, cin, kh, kw = weight.shape
    xp = F.pad(x, [pw, pw, ph, ph])
    ho, wo = xp.shape[2] - dh * (kh - 1), xp.shape[3] - dw * (kw - 1)
    out = x.new_zeros(x.shape[0], cout, ho, wo)
    for m in range(kh):
        for n in range(kw):
            out = out + torch.einsum("bchw,oc->bohw", xp[:, :, m * dh: m * dh + ho, n * dw: n * dw + wo],
                                     weight[:, :, m, n])
    return out if bias is None else out + bias[None, :, None, None]


def atrous_dilated_kernel(x, weight, bias=None, padding=0, dilation=1):
    """Zeros inserted between the taps, then a dense F.conv2d of the whole image with that big kernel."""
    (dh, dw) = _pair(dilation)
    cout, cin, kh, kw = weight.shape
    big = weight.new_zeros(cout, cin, dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    big[:, :, ::dh, ::dw] = weight
    return F.conv2d(x, big, bias, padding=padding)


def atrous_dilated_on_subimages(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="dilated_on_subimages")


def atrous_swapped_phases(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="swapped_phases")


def atrous_pad_after_split(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="pad_after_split")


def atrous_no_bias(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="no_bias")


def atrous_bias_twice(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="bias_twice")


def atrous_uncropped(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="uncropped")


def atrous_crop_without_dilation(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="crop_without_dilation")


def atrous_truncated(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="truncated")


def atrous_holes_too_wide(x, weight, bias=None, padding=0, dilation=1):
    return _atrous(x, weight, bias, padding, dilation, variant="holes_too_wide")


def atrous_ignores_dilation(x, weight, bias=None, padding=0, dilation=1):
    """A dense convolution of the whole image: the kernel's holes forgotten."""
    return F.conv2d(x, weight, bias, padding=padding)


def atrous_uses_conv2d(x, weight, bias=None, padding=0, dilation=1):
    return F.conv2d(x, weight, bias, padding=padding, dilation=dilation)


def atrous_uses_nn_conv(x, weight, bias=None, padding=0, dilation=1):
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[-2:], padding=padding, dilation=dilation,
                     bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)
        return conv(x)


def atrous_uses_unfold(x, weight, bias=None, padding=0, dilation=1):
    cout, cin, kh, kw = weight.shape
    cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding)
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    ho = x.shape[2] + 2 * ph - dh * (kh - 1)
    wo = x.shape[3] + 2 * pw - dw * (kw - 1)
    out = (weight.reshape(cout, -1) @ cols).reshape(x.shape[0], cout, ho, wo)
    return out if bias is None else out + bias[None, :, None, None]


def atrous_unfold_subimages(x, weight, bias=None, padding=0, dilation=1):
    """Space-to-batch with F.unfold (dilation 1, the k × k kernel) and a matrix product: correct."""
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    n = x.shape[0]
    cout, cin, kh, kw = weight.shape
    xp = F.pad(x, [pw, pw, ph, ph])
    h_out, w_out = xp.shape[2] - dh * (kh - 1), xp.shape[3] - dw * (kw - 1)
    xp = F.pad(xp, [0, (-xp.shape[3]) % dw, 0, (-xp.shape[2]) % dh])
    hs, ws = xp.shape[2] // dh, xp.shape[3] // dw
    sub = xp.reshape(n, cin, hs, dh, ws, dw).permute(3, 5, 0, 1, 2, 4).reshape(dh * dw * n, cin, hs, ws)
    cols = F.unfold(sub, (kh, kw))                                      # (B, C_in·kh·kw, a·b)
    y = (weight.reshape(cout, -1) @ cols).reshape(dh, dw, n, cout, hs - kh + 1, ws - kw + 1)
    if bias is not None:
        y = y + bias[:, None, None]
    out = y.permute(2, 3, 4, 0, 5, 1).reshape(n, cout, (hs - kh + 1) * dh, (ws - kw + 1) * dw)
    return out[:, :, :h_out, :w_out]


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


class PointwiseRegisteredFirst(nn.Module):
    """The solution with `pointwise` registered before `depthwise` (and applied after it): correct."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__()
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, dilation * (kernel_size - 1) // 2,
                                   dilation, groups=in_channels, bias=False)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def separable_pointwise_registered_first(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return PointwiseRegisteredFirst(in_channels, out_channels, kernel_size, stride, dilation)


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


class SeparableNormBetween(SeparableConv):
    """Batch norm and ReLU between the depthwise and the pointwise step (Xception's middle flow), inside the block."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__(in_channels, out_channels, kernel_size, stride, dilation)
        self.norm = nn.BatchNorm2d(in_channels)

    def forward(self, x):
        return self.pointwise(torch.relu(self.norm(self.depthwise(x))))


def separable_norm_between(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return SeparableNormBetween(in_channels, out_channels, kernel_size, stride, dilation)


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


class ASPPProjectFirst(ASPP):
    """The solution with `project` registered before `convs`: the same state-dict keys, in another order."""

    def __init__(self, in_channels, out_channels, rates):
        super().__init__(in_channels, out_channels, rates)
        convs = self.convs
        del self.convs
        self.convs = convs


def aspp_project_first(in_channels, out_channels, rates):
    return ASPPProjectFirst(in_channels, out_channels, rates)


def aspp_no_dropout(in_channels, out_channels, rates):
    """The projection without its Dropout(0.5): the same numbers in eval mode, not in training mode."""
    model = ASPP(in_channels, out_channels, rates)
    model.project[-1] = nn.Identity()
    return model


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


def mean_field_fill_diagonal_inplace(unary, q, k_appearance, k_smooth, w_appearance, w_smooth):
    """The right numbers, but the kernels' diagonals zeroed in place: the next iteration's kernels are changed."""
    k_appearance.fill_diagonal_(0)
    k_smooth.fill_diagonal_(0)
    L = q.shape[0]
    message = q.reshape(L, -1) @ (w_appearance * k_appearance + w_smooth * k_smooth).t()
    pairwise = message.sum(0, keepdim=True) - message
    return torch.softmax(-(unary.reshape(L, -1) + pairwise), dim=0).reshape(q.shape)
