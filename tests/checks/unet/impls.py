"""Learner implementations for the tests of notebook 07's checks (U-Net).

Several correct styles per exercise, then one small function per plausible
mistake, each differing from a correct one in the place its comment names.
Nothing here types an expected number; the tests compute those.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from checks.helpers import solution

# ==========================================================================
# match_size(x, size)
# ==========================================================================


# The notebook's solution: one F.pad; negative padding crops.
match_pad = solution("07_unet", "match_size")


def match_slices(x, size):
    """Explicit: a zero canvas, then copy the overlapping window."""
    H, W = size
    h, w = x.shape[-2:]
    out = x.new_zeros(*x.shape[:-2], H, W)
    top, left = (H - h) // 2, (W - w) // 2               # may be negative: then the map is cropped
    src_top, src_left = max(-top, 0), max(-left, 0)
    dst_top, dst_left = max(top, 0), max(left, 0)
    rows, cols = min(h - src_top, H - dst_top), min(w - src_left, W - dst_left)
    out[..., dst_top:dst_top + rows, dst_left:dst_left + cols] = x[..., src_top:src_top + rows,
                                                                   src_left:src_left + cols]
    return out


def match_crop_then_pad(x, size):
    """Two steps per axis: crop what is too large, then pad what is too small."""
    for axis, target in ((-2, int(size[0])), (-1, int(size[1]))):
        n = x.shape[axis]
        if n > target:
            start = -((target - n) // 2)                   # ⌈(n − target) / 2⌉ removed before
            x = x.narrow(axis, start, target)
        elif n < target:
            d = target - n
            pad = [0, 0, 0, 0]
            pad[0 if axis == -1 else 2], pad[1 if axis == -1 else 3] = d // 2, d - d // 2
            x = F.pad(x, pad)
    return x.clone()


def match_ceil(x, size):
    # mistake: the extra row goes before (rounded up), not after
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    return F.pad(x, [math.ceil(dw / 2), dw - math.ceil(dw / 2), math.ceil(dh / 2), dh - math.ceil(dh / 2)])


def match_top_left(x, size):
    # mistake: everything at the bottom and right
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    return F.pad(x, [0, dw, 0, dh])


def match_truncate(x, size):
    # mistake: int(d / 2) rounds toward zero
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    return F.pad(x, [int(dw / 2), dw - int(dw / 2), int(dh / 2), dh - int(dh / 2)])


def match_interpolate(x, size):
    # mistake: resizes instead of padding or cropping
    return F.interpolate(x, size=tuple(size), mode="nearest")


def match_pad_order_swapped(x, size):
    # mistake: F.pad's list read as (top, bottom, left, right)
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    return F.pad(x, [dh // 2, dh - dh // 2, dw // 2, dw - dw // 2])


def match_pad_abs(x, size):
    # mistake: always pads, by |d|
    dh, dw = abs(size[0] - x.shape[-2]), abs(size[1] - x.shape[-1])
    return F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])


def match_pad_only(x, size):
    # mistake: never crops
    dh, dw = max(size[0] - x.shape[-2], 0), max(size[1] - x.shape[-1], 0)
    return F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])


def match_replicate(x, size):
    # mistake: repeats the border (and, to crop, slices first)
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    x = F.pad(x, [min(dw // 2, 0), min(dw - dw // 2, 0), min(dh // 2, 0), min(dh - dh // 2, 0)])
    return F.pad(x, [max(dw // 2, 0), max(dw - dw // 2, 0), max(dh // 2, 0), max(dh - dh // 2, 0)],
                 mode="replicate")


def match_returns_input(x, size):
    # mistake: forgot to use the result
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
    return x


# ==========================================================================
# make_unet(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=...)
# ==========================================================================


def double_conv(c_in, c_out, batch_norm, *, bias_with_bn=False, convs=2):
    layers = []
    for i in range(convs):
        a = c_in if i == 0 else c_out
        if batch_norm:
            layers += [nn.Conv2d(a, c_out, 3, padding=1, bias=bias_with_bn), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        else:
            layers += [nn.Conv2d(a, c_out, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNetLists(nn.Module):
    """The notebook's style: ModuleLists for the encoder, the up-convolutions and the decoder.

    The keyword flags make one plausible mistake each (used by the wrong implementations below).
    """

    def __init__(self, in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad, *,
                 skip="cat", up="conv", up_keeps_channels=False, bias_with_bn=False, convs=2, head=1, order="skip_up",
                 align="match", padding=True, fixed_depth=None):
        super().__init__()
        depth = fixed_depth or depth
        self.match, self.skip, self.up_mode, self.order, self.align = match, skip, up, order, align
        w = [base_channels * 2 ** i for i in range(depth + 1)]
        block = lambda a, b: double_conv(a, b, batch_norm, bias_with_bn=bias_with_bn, convs=convs)  # noqa: E731
        self.down = nn.ModuleList(block(in_channels if i == 0 else w[i - 1], w[i]) for i in range(depth))
        self.bottom = block(w[depth - 1], w[depth])
        ups, decs = [], []
        for i in range(depth):
            if up == "conv":
                out = w[i + 1] if up_keeps_channels else w[i]
                ups.append(nn.ConvTranspose2d(w[i + 1], out, 2, stride=2))
            elif up == "conv3":
                out = w[i]
                ups.append(nn.ConvTranspose2d(w[i + 1], out, 3, stride=2, padding=1, output_padding=1))
            else:
                out = w[i + 1]
                ups.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
            decs.append(block(out + w[i] if skip in ("cat", "self") else out, w[i]))
        self.up, self.dec = nn.ModuleList(ups), nn.ModuleList(decs)
        self.head = nn.Conv2d(w[0], num_classes, head, padding=head // 2)
        if not padding:
            for m in self.modules():
                if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                    m.padding = (0, 0)

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)                      # (N, w_i, H_i, W_i)
            skips.append(x)
            x = F.max_pool2d(x, 2)            # floors odd sizes
        x = self.bottom(x)
        for i in reversed(range(len(skips))):
            up, skip = self.up[i](x), skips[i]
            if self.align == "match":
                up = self.match(up, skip.shape[-2:])
            elif self.align == "crop_skip":
                skip = self.match(skip, up.shape[-2:])
            elif self.align == "interpolate":
                up = F.interpolate(up, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            if self.skip == "cat":
                parts = [skip, up] if self.order == "skip_up" else [up, skip]
                x = torch.cat(parts, dim=1)
            elif self.skip == "self":
                x = torch.cat([up, up], dim=1)
            elif self.skip == "add":
                x = up + skip
            else:
                x = up
            x = self.dec[i](x)
        return self.head(x)


def unet_lists(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad):
    return UNetLists(in_channels, num_classes, depth, base_channels, batch_norm, match)


def unet_up_then_skip(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad):
    """torch.cat([up, skip]): the other order, equally correct."""
    return UNetLists(in_channels, num_classes, depth, base_channels, batch_norm, match, order="up_skip")


def unet_interpolates_to_skip(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=None):
    """Ignores `match` and resizes the upsampled map to the skip's size by interpolation: allowed."""
    return UNetLists(in_channels, num_classes, depth, base_channels, batch_norm, match, align="interpolate")


class Level(nn.Module):
    """Recursive style: one level holds its encoder block, the level below, its up-convolution and decoder."""

    def __init__(self, c_in, width, levels_below, batch_norm, match):
        super().__init__()
        self.match = match
        self.encode = double_conv(c_in, width, batch_norm)
        if levels_below == 0:
            self.inner = None
        else:
            self.inner = Level(width, 2 * width, levels_below - 1, batch_norm, match)
            self.upconv = nn.ConvTranspose2d(2 * width, width, kernel_size=2, stride=2)
            self.decode = double_conv(2 * width, width, batch_norm)

    def forward(self, x):
        skip = self.encode(x)
        if self.inner is None:
            return skip
        up = self.upconv(self.inner(F.max_pool2d(skip, 2)))
        return self.decode(torch.cat([skip, self.match(up, skip.shape[-2:])], dim=1))


class UNetRecursive(nn.Module):
    def __init__(self, in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad):
        super().__init__()
        self.body = Level(in_channels, base_channels, depth, batch_norm, match)
        self.head = nn.Conv2d(base_channels, num_classes, 1)

    def forward(self, x):
        return self.head(self.body(x))


def unet_recursive(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad):
    return UNetRecursive(in_channels, num_classes, depth, base_channels, batch_norm, match)


def _wrong(**flags):
    def make(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad):
        return UNetLists(in_channels, num_classes, depth, base_channels, batch_norm, match, **flags)
    return make


unet_ignores_odd_sizes = _wrong(align="none")            # concatenates without matching the sizes
unet_no_skip = _wrong(skip="none")                       # the decoder never sees the encoder's maps
unet_adds_skip = _wrong(skip="add")                      # adds instead of concatenating
unet_cat_with_itself = _wrong(skip="self")               # torch.cat([up, up])
unet_up_keeps_channels = _wrong(up_keeps_channels=True)  # ConvTranspose2d(w, w) instead of (2w, w)
unet_interpolate_up = _wrong(up="bilinear")              # nn.Upsample instead of the 2 × 2 up-convolution
unet_up_conv_3x3 = _wrong(up="conv3")                    # a 3 × 3 transposed convolution
unet_bias_with_bn = _wrong(bias_with_bn=True)            # conv bias before batch norm
unet_one_conv_per_level = _wrong(convs=1)                # one 3 × 3 convolution per level
unet_head_3x3 = _wrong(head=3)                           # a 3 × 3 head
unet_crops_skip = _wrong(align="crop_skip")              # crops the skip to the upsampled map
unet_no_padding = _wrong(padding=False)                  # valid convolutions: the map shrinks
unet_fixed_depth = _wrong(fixed_depth=4)                 # always 4 levels


def unet_ignores_batch_norm(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad):
    # mistake: always batch norm
    return UNetLists(in_channels, num_classes, depth, base_channels, True, match)


def unet_returns_softmax(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_pad):
    # not a mistake the check judges (it compares sizes, not values): probabilities have the logits' shape
    model = UNetLists(in_channels, num_classes, depth, base_channels, batch_norm, match)
    forward = model.forward
    model.forward = lambda x: forward(x).softmax(dim=1)
    return model


# ==========================================================================
# unet_output_size(size, depth=4)
# ==========================================================================


# The notebook's solution: follow one side through the U.
output_size_loop = solution("07_unet", "unet_output_size")


def output_size_layers(size, depth=4):
    """Layer by layer, with the size formula ⌊(n + 2p − k) / s⌋ + 1."""
    def out(n, k, s=1, p=0):
        return (n + 2 * p - k) // s + 1

    n = size
    for _ in range(depth):
        n = out(out(out(n, 3), 3), 2, 2)
    n = out(out(n, 3), 3)
    for _ in range(depth):
        n = out(out((n - 1) * 2 + 2, 3), 3)   # transposed conv: (n − 1)·s + k
    return n


def output_size_meta(size, depth=4):
    """Run a tiny valid U-Net on the meta device."""
    with torch.device("meta"):
        w = [2 ** i for i in range(depth + 1)]
        convs = lambda a, b: nn.Sequential(nn.Conv2d(a, b, 3), nn.Conv2d(b, b, 3))  # noqa: E731
        x = torch.empty(1, 1, size, size)
        skips = []
        for i in range(depth):
            x = convs(1 if i == 0 else w[i - 1], w[i])(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = convs(w[depth - 1], w[depth])(x)
        for i in reversed(range(depth)):
            x = nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2)(x)
            skip = match_pad(skips[i], x.shape[-2:])
            x = convs(2 * w[i], w[i])(torch.cat([skip, x], dim=1))
    return int(x.shape[-1])


def output_size_one_conv(size, depth=4):
    # mistake: −2 per level (one convolution counted)
    n = size
    for _ in range(depth):
        n = (n - 2) // 2
    n -= 2
    for _ in range(depth):
        n = 2 * n - 2
    return n


def output_size_padded(size, depth=4):
    # mistake: padded convolutions
    return size


def output_size_ceil(size, depth=4):
    # mistake: pooling rounds up
    n = size
    for _ in range(depth):
        n = math.ceil((n - 4) / 2)
    n -= 4
    for _ in range(depth):
        n = 2 * n - 4
    return n


def output_size_true_division(size, depth=4):
    # mistake: n / 2
    n = size
    for _ in range(depth):
        n = (n - 4) / 2
    n -= 4
    for _ in range(depth):
        n = 2 * n - 4
    return n


def output_size_no_bottom(size, depth=4):
    # mistake: the bottom's convolutions forgotten
    n = size
    for _ in range(depth):
        n = (n - 4) // 2
    for _ in range(depth):
        n = 2 * n - 4
    return n


def output_size_no_decoder_convs(size, depth=4):
    # mistake: the decoder only doubles
    n = size
    for _ in range(depth):
        n = (n - 4) // 2
    n -= 4
    for _ in range(depth):
        n = 2 * n
    return n


def output_size_extra_level(size, depth=4):
    # mistake: depth + 1 poolings
    return output_size_loop(size, depth + 1)
