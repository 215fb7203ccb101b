# %% [markdown]
# # 08 · DeepLab: atrous convolution, separable convolution, ASPP and the dense CRF
#
# FCN (notebook 06) and U-Net (notebook 07) downsample and then climb back up. The DeepLab family
# (Chen, Papandreou, Kokkinos, Murphy & Yuille for v1 and v2; Chen, Papandreou, Schroff & Adam for v3,
# with Zhu for v3+) asks a different question: *why throw the resolution
# away in the first place?* Four ideas, one per paper, all in this notebook:
#
# - **atrous (dilated) convolution** — a kernel with holes, whose view grows without more weights and
#   without lowering the resolution (DeepLab v1, ICLR 2015; DeepLab v2, TPAMI vol. 40, 2018, online 2017);
# - the **fully connected CRF** as post-processing — every pixel linked to every other, pulling a blurry
#   score map onto the image's real edges (Krähenbühl & Koltun, NIPS 2011; used by DeepLab v1 and v2);
# - **atrous spatial pyramid pooling (ASPP)** — several rates side by side, plus the whole image's
#   average, to see objects at several scales (DeepLab v2; in its modern form DeepLab v3, *Rethinking
#   Atrous Convolution for Semantic Image Segmentation*, 2017);
# - **depthwise separable convolution** and a light decoder — DeepLab v3+ (*Encoder-Decoder with Atrous
#   Separable Convolution*, ECCV 2018).
#
# **You will**
# 1. build atrous convolution from an ordinary one (space to batch), measure its receptive field, and see the
#    *gridding* problem;
# 2. build a depthwise separable convolution and count what it saves;
# 3. build ASPP in torchvision's layout, so that torchvision's weights load into it;
# 4. train a small DeepLab v3+ made of your parts on the course's segmentation set;
# 5. implement one mean-field step of the dense CRF and measure what it does to a real photograph.
#
# Exercises work as before: replace `raise NotImplementedError()`, run the cell, run the check. The
# demonstrations that train carry no points; the autograder skips them (`train.autograding()`).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import crf, data, plots, segmentation, train
from course_utils.checks import (check_atrous_conv2d, check_make_aspp, check_make_separable_conv,
                                 check_mean_field_step)

device = train.pick_device()  # CUDA when available, else the CPU: chosen once
print("device:", device)

# %% [markdown]
# ## 1. Why atrous convolution: keep the resolution, keep the view
#
# A classification network reduces a 224 × 224 image to a 7 × 7 map: its **output stride** (input size
# ÷ feature-map size) is 32. Striding and pooling are what let a few 3 × 3 layers see the whole image —
# each stride doubles the step of every later layer — but a segmentation at 1/32 of the resolution is
# coarse (FCN-32s, notebook 06). Removing the last strides keeps the resolution, but then the later
# layers see less: their **receptive field** shrinks.
#
# DeepLab's answer: remove the strides *and* spread the later kernels apart. An **atrous** ("with holes",
# from the French *à trous* of the wavelet algorithm) or **dilated** convolution with rate $d$ reads
# every $d$-th pixel:
#
# $$y[i] = \sum_{m} x[i\cdot s + m\cdot d]\; w[m].$$
#
# A $k \times k$ kernel then covers $k_\text{eff} = k + (k-1)(d-1)$ pixels per side with the same
# $k^2$ weights, and the output size is the usual formula with $k_\text{eff}$ in place of $k$:
# $H_\text{out} = \lfloor (H + 2p - k_\text{eff})/s \rfloor + 1$. Padding $p = d(k-1)/2$ keeps the size at
# stride 1. DeepLab runs ResNet's last stages with rates 2 and 4 instead of strides: output stride 8
# instead of 32, with the same weights and the same view.
#
# ### Atrous convolution from an ordinary one
#
# Notebook 01's `conv2d` already takes a `dilation`. But how do you run a kernel with holes when your fast
# convolution code (im2col + matrix product, cuDNN) knows only dense kernels? DeepLab v2 (§3.1) names two ways:
# insert zeros between the kernel's taps — or, equivalently, sample the input sparsely, which DeepLab did
# inside Caffe's im2col — or **subsample the input**. At stride 1, output row $r$ reads input rows
# $r, r + d, r + 2d, \dots$ — all in the same **phase** $r \bmod d$. So split the (padded) input into $d \times d$ sub-images,
# `xp[..., i::d, j::d]`: inside one, pixels that were $d$ apart are neighbours, and the sparse atrous kernel
# becomes an ordinary **dense** $k \times k$ kernel. Stack the $d^2$ sub-images into the batch (**space to
# batch**), run *one* ordinary convolution, and put each output back into its phase (**batch to space**).
# TensorFlow's `tf.nn.atrous_conv2d`, which DeepLab's TensorFlow ports called, is written exactly so. It costs
# the same $k^2$ multiply-adds per output as the atrous convolution — nothing is spent on the holes — and runs
# on the well-tuned dense code.
#
# ### Exercise 1 — `atrous_conv2d` by space to batch
#
# `atrous_conv2d(x, weight, bias=None, padding=0, dilation=1) -> tensor`, stride 1, with x (N, C_in, H, W),
# weight (C_out, C_in, kh, kw), bias (C_out,) or None, and `padding`, `dilation` an int or a pair (along H,
# along W). Return (N, C_out, H_out, W_out) with $H_\text{out} = H + 2p_h - d_h(k_h - 1)$, likewise for W.
#
# 1. Pad x by `padding` (`F.pad`), then with zeros at the bottom and right up to multiples of $d_h$ and $d_w$,
#    so that every sub-image has the same size (the extra rows feed only outputs that you crop in step 4).
# 2. Space to batch: (N, C, H_p, W_p) → ($d_h d_w$ N, C, H_p/$d_h$, W_p/$d_w$), sub-image $(i, j)$ being
#    `xp[..., i::dh, j::dw]` (a `reshape` to (N, C, H_p/$d_h$, $d_h$, W_p/$d_w$, $d_w$) and a `permute` do all of
#    them at once; `torch.cat` of the slices works too).
# 3. **One** `F.conv2d(sub_images, weight, bias)`: dilation 1, the compact kernel.
# 4. Batch to space: output $(a, b)$ of sub-image $(i, j)$ is output row $a d_h + i$, column $b d_w + j$ (the
#    inverse `reshape`/`permute`); crop to $H_\text{out} \times W_\text{out}$.
#
# The check compares with `F.conv2d(x, weight, bias, padding=padding, dilation=dilation)` on batches with
# several channels, sizes that are and are not multiples of $d$, padding 0 and "same" padding $d(k-1)/2$, an even,
# a non-square and a 1 × 1 kernel, and padding and dilation that differ along H and W; the graded cell adds other
# sizes and seeds. While your code runs, any convolution (or `F.unfold`) with a dilation other than 1 is refused,
# and so is a kernel larger than k × k; a dense `F.conv2d` is allowed, and must be used — once per call, on all
# the sub-images stacked in the batch (one convolution per phase gives the right numbers, and fails).

# %% solution="atrous_conv2d"
def atrous_conv2d(x, weight, bias=None, padding=0, dilation=1):
    """Atrous cross-correlation at stride 1 by space to batch: (N, C_in, H, W) → (N, C_out, H_out, W_out)."""
    ### BEGIN SOLUTION
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    (ph, pw), (dh, dw) = pair(padding), pair(dilation)
    n, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    xp = F.pad(x, [pw, pw, ph, ph])                                     # (N, C_in, H_p, W_p)
    h_out, w_out = xp.shape[2] - dh * (kh - 1), xp.shape[3] - dw * (kw - 1)
    hs, ws = -(-xp.shape[2] // dh), -(-xp.shape[3] // dw)               # sub-image size ⌈H_p / d⌉ × ⌈W_p / d⌉
    xp = F.pad(xp, [0, ws * dw - xp.shape[3], 0, hs * dh - xp.shape[2]])   # (N, C_in, hs·dh, ws·dw)
    # space to batch: sub-image (i, j) = xp[..., i::dh, j::dw], stacked phase by phase
    sub = xp.reshape(n, c_in, hs, dh, ws, dw).permute(3, 5, 0, 1, 2, 4).reshape(dh * dw * n, c_in, hs, ws)
    y = F.conv2d(sub, weight, bias)          # dense, dilation 1: (dh·dw·N, C_out, hs − kh + 1, ws − kw + 1)
    # batch to space: output (a, b) of sub-image (i, j) goes to (a·dh + i, b·dw + j)
    ya, yb = y.shape[-2:]
    out = y.reshape(dh, dw, n, c_out, ya, yb).permute(2, 3, 4, 0, 5, 1).reshape(n, c_out, ya * dh, yb * dw)
    return out[:, :, :h_out, :w_out]                                    # (N, C_out, H_out, W_out)
    ### END SOLUTION


# %%
check_atrous_conv2d(atrous_conv2d)

# %% tests="atrous_conv2d_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_atrous_conv2d(atrous_conv2d, strict=True)
### BEGIN HIDDEN TESTS
check_atrous_conv2d(atrous_conv2d, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# What it costs, counted by PyTorch's `FlopCounterMode` (2 FLOPs per multiply-add) on a 64-channel 64 × 64 map
# at rate 2: the dilated convolution, your space to batch, and DeepLab v2's first way taken literally, a dense
# 5 × 5 kernel with zeros between the taps.

# %%
from torch.utils.flop_counter import FlopCounterMode


def multiply_adds(run):
    with FlopCounterMode(display=False) as counter:
        result = run()
    return counter.get_total_flops() // 2, result


if check_atrous_conv2d(atrous_conv2d):
    x, weight = torch.randn(1, 64, 64, 64), torch.randn(64, 64, 3, 3)
    zero_filled = torch.zeros(64, 64, 5, 5)
    zero_filled[:, :, ::2, ::2] = weight                                  # the 3 × 3 taps, 2 apart
    ways = {"F.conv2d with dilation=2": lambda: F.conv2d(x, weight, padding=2, dilation=2),
            "your space to batch": lambda: atrous_conv2d(x, weight, padding=2, dilation=2),
            "zero-filled 5 × 5 kernel": lambda: F.conv2d(x, zero_filled, padding=2)}
    reference = F.conv2d(x, weight, padding=2, dilation=2)
    for name, run in ways.items():
        madds, out = multiply_adds(run)
        print(f"{name:<26} {madds / 1e6:6.1f} M multiply-adds, max difference from the dilated one "
              f"{(out - reference).abs().max():.1e}")
else:
    print("Finish Exercise 1 to count its multiply-adds here.")

# %% [markdown]
# The same 151 M multiply-adds for the dilated convolution and for space to batch ($64 \cdot 64 \cdot 9$ per
# output pixel: channels in × channels out × taps); the zero-filled kernel multiplies its zeros too, $25/9
# \approx 2.8$ times the work.
#
# ### Receptive field, measured
#
# The receptive field of one output pixel is the set of input pixels that can change it. We can *measure*
# it: put an impulse of gradient on the centre output and see which input pixels receive any
# (`torch.autograd.grad`). Notebook 02's recursion (§5 there, your `receptive_field`) predicts it: from
# $r = 1, j = 1$ (receptive field $r$; jump $j$, the distance in input pixels between neighbouring units),
# each layer with kernel $k$, stride $s$ and dilation $d$ gives
#
# $$r \leftarrow r + d\,(k - 1)\, j, \qquad j \leftarrow j\, s,$$
#
# that is, $k_\text{eff} - 1 = d(k-1)$ in place of $k - 1$. Three ways to stack three 3 × 3 layers on a
# 33 × 33 input:

# %%
def measured_receptive_field(layers, size=33):
    """Side of the input region that reaches the centre output pixel (all-ones weights, no bias)."""
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv2d(y, torch.ones(1, 1, k, k), stride=s, padding=d * (k - 1) // 2, dilation=d)
    centre = y[0, 0, y.shape[2] // 2, y.shape[3] // 2]
    (grad,) = torch.autograd.grad(centre, x)
    rows = grad[0, 0].abs().sum(dim=1).nonzero()
    return int(rows.max() - rows.min() + 1), tuple(y.shape[-2:])


def formula_receptive_field(layers):
    """Notebook 02's recursion: r ← r + d·(k − 1)·j, j ← j·s, from r = j = 1."""
    r, j = 1, 1
    for k, s, d in layers:
        r, j = r + d * (k - 1) * j, j * s
    return r


stacks = {"3 × 3, stride 1": [(3, 1, 1)] * 3,
          "3 × 3, stride 2": [(3, 2, 1)] * 3,
          "3 × 3, rates 1, 2, 4": [(3, 1, 1), (3, 1, 2), (3, 1, 4)]}
for name, layers in stacks.items():
    measured, out_size = measured_receptive_field(layers)
    weights = sum(k * k for k, _, _ in layers)
    print(f"{name:<22} receptive field {measured:>2} (formula {formula_receptive_field(layers):>2}), "
          f"output {out_size[0]:>2} × {out_size[1]:<2} from 33 × 33, {weights} weights per channel pair")

# %% [markdown]
# Striding and dilating give the same 15 × 15 view with the same 27 weights, but striding shrinks the map
# from 33 × 33 to 5 × 5 (stride 8) while the atrous stack keeps every position. The price is compute: the atrous layers run at
# full resolution. That is why DeepLab v3 uses output stride 16 for training (cheaper) and 8 for the final
# evaluation (finer): the same weights serve both, with the rates doubled.
#
# ### The gridding problem
#
# An atrous kernel reads only every $d$-th pixel. Stack several with the same rate and the holes line up:
# the output depends on a **checkerboard** of input pixels and never sees the ones in between. Wang et al.
# (*Understanding Convolution for Semantic Segmentation*, WACV 2018) call it gridding and propose
# **hybrid dilated convolution (HDC)**: rates such as 1, 2, 3 whose holes do not align. Which input pixels
# reach one output pixel after three 3 × 3 layers, measured with the same impulse:

# %%
def reaching_pixels(rates, size=21):
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for d in rates:
        y = F.conv2d(y, torch.ones(1, 1, 3, 3), padding=d, dilation=d)
    (grad,) = torch.autograd.grad(y[0, 0, size // 2, size // 2], x)
    return grad[0, 0] > 0


fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, rates in zip(axes, [(2, 2, 2), (1, 2, 3)]):
    seen = reaching_pixels(rates)
    box = seen.nonzero()
    span = int(box[:, 0].max() - box[:, 0].min() + 1)
    inside = int(seen[box[:, 0].min():box[:, 0].max() + 1, box[:, 1].min():box[:, 1].max() + 1].sum())
    ax.imshow(seen, cmap="Blues")
    ax.set_title(f"rates {rates}: {span} × {span} field,\n{inside} of {span * span} pixels used ({inside / span ** 2:.0%})")
    ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("Input pixels that reach the centre output", y=1.04)
plt.show()

# %% [markdown]
# With rates (2, 2, 2) the output spans a 13 × 13 field but uses only 49 of its 169 pixels, every other
# row and column — a thin line or an edge that falls between the holes is invisible. Rates (1, 2, 3) span
# the same 13 × 13 field and use every pixel of it.
#
# ## 2. Depthwise separable convolution
#
# A standard $k \times k$ convolution from $C_\text{in}$ to $C_\text{out}$ channels mixes space and channels at
# once: $k^2 C_\text{in} C_\text{out}$ weights. A **depthwise separable** convolution splits it in two:
#
# 1. **depthwise**: one $k \times k$ filter per input channel, each channel on its own (`nn.Conv2d` has an
#    argument that splits the channels into independent groups):
#    $k^2 C_\text{in}$ weights;
# 2. **pointwise**: a 1 × 1 convolution that mixes the channels: $C_\text{in} C_\text{out}$ weights.
#
# MobileNets (Howard et al., 2017) are built from it for phones; Xception (Chollet, *Xception: Deep Learning
# with Depthwise Separable Convolutions*, CVPR 2017) replaced Inception's modules with it, and put no
# non-linearity between the two steps (it trained better). DeepLab v3+ uses a *modified* Xception backbone and
# **atrous separable** convolutions: the depthwise step takes the dilation. Unlike Chollet's original, DeepLab
# v3+'s modified Xception — like MobileNet v1 — puts batch norm and ReLU *between* the depthwise and the
# pointwise step (and after it). This exercise's block is the two convolutions only; the network below adds
# batch norm and ReLU after it.
#
# ### Exercise 2 — `DepthwiseSeparableConv`
#
# Complete `DepthwiseSeparableConv(in_channels, out_channels, kernel_size=3, stride=1, dilation=1)`:
#
# - `self.depthwise`: an `nn.Conv2d` from `in_channels` to `in_channels`, k × k, in which **each channel is
#   filtered on its own** (find the argument that does that, and its value); the stride and the dilation
#   belong here, and its padding must keep the size at stride 1 for any dilation (work it out from the
#   effective kernel); no bias;
# - `self.pointwise`: a 1 × 1 `nn.Conv2d` from `in_channels` to `out_channels`, no bias;
# - `forward(x)` = the depthwise step, then the pointwise one, nothing in between (batch norm and ReLU come
#   after the block in the network below).
#
# It maps (N, C_in, H, W) to (N, C_out, H_out, W_out). The check builds yours for several settings —
# kernels of 1, 3 and 5, with stride, with dilation, with both — loads a reference's random weights into
# `.depthwise` and `.pointwise` by their state-dict keys (so the parameter count must be
# $k^2 C_\text{in} + C_\text{in} C_\text{out}$), compares the outputs in eval and in training mode, and
# checks that the stride sits on the depthwise step; the graded cell adds other settings and sizes.

# %% solution="make_separable_conv"
class DepthwiseSeparableConv(nn.Module):
    """Depthwise k × k convolution (each channel on its own; stride, dilation), then pointwise 1 × 1; no biases."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
        super().__init__()
        ### BEGIN SOLUTION
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride=stride,
                                   padding=dilation * (kernel_size - 1) // 2, dilation=dilation,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.pointwise(self.depthwise(x))   # (N, C_in, H', W') → (N, C_out, H', W')
        ### END SOLUTION


def make_separable_conv(in_channels, out_channels, kernel_size=3, stride=1, dilation=1):
    return DepthwiseSeparableConv(in_channels, out_channels, kernel_size, stride, dilation)


# %%
check_make_separable_conv(make_separable_conv)

# %% tests="make_separable_conv_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_separable_conv(make_separable_conv, strict=True)
### BEGIN HIDDEN TESTS
check_make_separable_conv(make_separable_conv, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# What it saves on a realistic layer: 256 → 256 channels, 3 × 3, on a 65 × 65 map (DeepLab's ASPP input at
# output stride 8 for a 513 × 513 image). Parameters are counted from the built layers; multiply-adds are
# measured by PyTorch's `FlopCounterMode` (which counts 2 FLOPs per multiply-add):

# %%
def cost(layer, shape=(1, 256, 65, 65)):
    with torch.device("meta"):
        layer = layer.to("meta")
        with FlopCounterMode(display=False) as counter:
            layer(torch.empty(shape))
    return train.count_parameters(layer), counter.get_total_flops() // 2


if check_make_separable_conv(make_separable_conv):
    with torch.device("meta"):
        standard = nn.Conv2d(256, 256, 3, padding=1, bias=False)
        separable = make_separable_conv(256, 256, 3)
    (p_std, m_std), (p_sep, m_sep) = cost(standard), cost(separable)
    print(f"standard 3 × 3:   {p_std:>7,} weights, {m_std / 1e6:>6.1f} M multiply-adds")
    print(f"separable 3 × 3:  {p_sep:>7,} weights, {m_sep / 1e6:>6.1f} M multiply-adds "
          f"({p_sep / p_std:.1%} of the weights, {m_sep / m_std:.1%} of the work)")
    print(f"ratio predicted by 1/C_out + 1/k²: {1 / 256 + 1 / 9:.1%}")
else:
    print("Finish Exercise 2 to compare the two layers here.")

# %% [markdown]
# About 8.7 times fewer weights and multiply-adds: the saving is $1/C_\text{out} + 1/k^2$, almost $1/k^2$
# when there are many channels (Howard et al. report 8 to 9 times less computation for 3 × 3 kernels, at a
# small cost in accuracy). The depthwise step is cheap but sees one channel at a time; the pointwise step
# does all the mixing — and most of the remaining work.
#
# ## 3. Atrous spatial pyramid pooling (ASPP)
#
# Objects appear at many sizes. DeepLab v2 ran several atrous convolutions with different rates on the same
# map and fused them — a spatial pyramid without resizing the image. DeepLab v3 (Chen et al., 2017)
# noticed a flaw: with a large rate on a small map, most of a 3 × 3 kernel's taps land in the padding, and
# the filter degenerates to its centre tap, a 1 × 1 convolution. The share of taps that fall *inside* a
# 65 × 65 map, averaged over all output positions:

# %%
def valid_tap_share(size, rate):
    """Fraction of a 3 × 3 atrous kernel's taps inside a size × size map, averaged over output positions."""
    positions = torch.arange(size)
    inside = sum(((positions + m * rate >= 0) & (positions + m * rate < size)).float() for m in (-1, 0, 1)) / 3
    return (inside[:, None] * inside[None, :]).mean().item()


for rate in (1, 6, 12, 18, 24, 36, 64):
    print(f"rate {rate:>2}: {valid_tap_share(65, rate):.0%} of the taps inside the 65 × 65 map")

# %% [markdown]
# At rate 64 little more than the centre tap is left (12 %; the centre alone is 1/9 = 11 %). So DeepLab v3's ASPP adds **image-level features**:
# the map averaged over all positions, which brings the whole image's context to every pixel. Its five
# parallel branches, each ending in batch norm and ReLU:
#
# 1. a 1 × 1 convolution;
# 2. – 4. three 3 × 3 atrous convolutions with rates (6, 12, 18) at output stride 16 (doubled at output stride 8);
# 5. **image pooling**: global average pooling → 1 × 1 convolution → BN → ReLU → bilinear upsampling back
#    to H × W;
#
# then the five maps are **concatenated** (5 × out_channels) and **projected** by a 1 × 1 convolution, BN and
# ReLU (torchvision adds dropout 0.5).
#
# ### Exercise 3 — `ASPP`
#
# Complete `ASPP(in_channels, out_channels, rates)` in **torchvision's layout**, so that the state dict of
# `torchvision.models.segmentation.deeplabv3.ASPP` loads into yours:
#
# - `self.convs = nn.ModuleList([...])` of five `nn.Sequential`s, in the order above, each `Conv2d` (no bias),
#   `BatchNorm2d`, `ReLU`; the 3 × 3 ones atrous at the given rates, padded so that every branch keeps the
#   H × W size (work the padding out from the effective kernel); the pooling branch starts with
#   `nn.AdaptiveAvgPool2d(1)` before its 1 × 1 `Conv2d`, `BatchNorm2d`, `ReLU`;
# - `self.project = nn.Sequential(...)`: a 1 × 1 `Conv2d` from the concatenated channels to `out_channels`
#   (no bias), `BatchNorm2d`, `ReLU`, `nn.Dropout(0.5)`, in that order;
# - `forward(x)`: every branch on `x`, the pooled one upsampled with `F.interpolate(..., size=x.shape[-2:],
#   mode="bilinear", align_corners=False)`, `torch.cat` along the channels, `project`. It maps
#   (N, in_channels, H, W) to (N, out_channels, H, W).
#
# The check builds yours for two settings of channels and rates, loads torchvision's ASPP (random weights and
# batch-norm statistics) into it with `strict=True`, and compares the outputs in eval mode, and in training mode
# where the batch holds two images; the graded cell adds other rates and sizes.

# %% solution="make_aspp"
class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab v3): 1 × 1, three atrous 3 × 3, image pooling; concat; project."""

    def __init__(self, in_channels, out_channels, rates=(6, 12, 18)):
        super().__init__()
        ### BEGIN SOLUTION
        def branch(kernel_size, rate=1):
            return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=0 if kernel_size == 1
                                           else rate, dilation=rate, bias=False),
                                 nn.BatchNorm2d(out_channels), nn.ReLU())
        pooling = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                nn.BatchNorm2d(out_channels), nn.ReLU())
        self.convs = nn.ModuleList([branch(1)] + [branch(3, rate) for rate in rates] + [pooling])
        self.project = nn.Sequential(nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(0.5))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        outs = [conv(x) for conv in self.convs[:-1]]                              # 4 × (N, out, H, W)
        pooled = self.convs[-1](x)                                                # (N, out, 1, 1)
        outs.append(F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, dim=1))                               # (N, 5·out → out, H, W)
        ### END SOLUTION


def make_aspp(in_channels, out_channels, rates=(6, 12, 18)):
    return ASPP(in_channels, out_channels, rates)


# %%
check_make_aspp(make_aspp)

# %% tests="make_aspp_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_aspp(make_aspp, strict=True)
### BEGIN HIDDEN TESTS
check_make_aspp(make_aspp, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# DeepLab v3's head on a ResNet-101 backbone: 2,048 channels in, 256 out. Your ASPP against torchvision's,
# counted on the meta device:

# %%
from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP

if check_make_aspp(make_aspp):
    with torch.device("meta"):
        mine, theirs = make_aspp(2048, 256, (12, 24, 36)), TorchvisionASPP(2048, [12, 24, 36], 256)
    print(f"your ASPP: {train.count_parameters(mine):,} parameters; torchvision's: {train.count_parameters(theirs):,}")
    share = {name: train.count_parameters(m) for name, m in zip(["1 × 1", "rate 12", "rate 24", "rate 36", "pooling"],
                                                                 mine.convs)}
    print("per branch:", ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in share.items()),
          f"; projection {train.count_parameters(mine.project) / 1e6:.2f} M")
else:
    print("Finish Exercise 3 to count its parameters here.")

# %% [markdown]
# The three atrous branches hold 14.2 of the 15.5 million parameters — nine weights per channel pair each
# — which is why DeepLab v3+ makes them separable.
#
# ## 4. A small DeepLab v3+, made of your parts
#
# DeepLab v3+ (Chen, Zhu, Papandreou, Schroff & Adam, ECCV 2018) puts a light **decoder** after the DeepLab v3
# encoder: the ASPP output is upsampled to stride 4 — ×4 from output stride 16, as in the paper (§3.1),
# ×2 from output stride 8 — concatenated with **low-level
# features** from the backbone at stride 4 (their channels first reduced by a 1 × 1 convolution, so that
# they do not outweigh the encoder's), refined by two 3 × 3 convolutions, and upsampled ×4 to the image.
#
# `segmentation.TinyDeepLabV3Plus` is that design at the course's scale (64 × 64 images): a strided 3 × 3 stem,
# separable-convolution blocks to stride 4 (the low-level features) and 8, then a block with **rate 2 instead
# of a further stride** (output stride 8), ASPP with rates (2, 4, 6), and the decoder (×2 to stride 4, concat,
# two separable blocks, 1 × 1 classifier, bilinear ×4). It is built here from **your** `DepthwiseSeparableConv`
# and **your** `ASPP`, and trained exactly as notebook 07 trained its U-Net: `segmentation.fit_segmentation`,
# Adam with a one-cycle learning rate peaking at 0.01, batches of 8, 5 epochs, seed 0.

# %%
train_seg, test_seg = data.load_segmentation("train"), data.load_segmentation("test")
classes = data.SEGMENTATION_CLASSES
num_classes = len(classes)
deeplab_result = None
if train.autograding():   # a demonstration without points: nbgrader's autograder skips it
    print("Skipped while the autograder runs.")
elif check_make_separable_conv(make_separable_conv) and check_make_aspp(make_aspp):
    torch.manual_seed(0)
    deeplab = segmentation.TinyDeepLabV3Plus(num_classes, make_aspp=make_aspp,
                                             make_separable=make_separable_conv).to(device)
    seconds = segmentation.fit_segmentation(deeplab, train_seg, epochs=5)
    deeplab_result = segmentation.evaluate(deeplab, test_seg, num_classes)
    iou = ", ".join(f"{c} {v:.2f}" for c, v in zip(classes, deeplab_result["iou"].tolist()))
    print(f"DeepLab v3+: {train.count_parameters(deeplab):,} parameters, trained in {seconds:.1f} s; test mean IoU "
          f"{deeplab_result['mean_iou']:.3f}, pixel accuracy {deeplab_result['pixel_accuracy']:.1%} ({iou})")
else:
    print("Finish Exercises 2 and 3 to train your DeepLab v3+ here.")

# %%
if deeplab_result is not None:
    shown = [0, 1, 2]
    fig, axes = plt.subplots(len(shown), 3, figsize=(10, 3.3 * len(shown)))
    for row, index in enumerate(shown):
        plots.show_segmentation(test_seg.tensors[0][index], test_seg.tensors[1][index],
                                deeplab_result["predictions"][index], classes=classes, axes=axes[row], legend=row == 0)
    fig.tight_layout()
    plt.show()
    wrong = deeplab_result["predictions"] != test_seg.tensors[1]                          # (N, 64, 64)
    near_edge = torch.stack([crf.boundary_mask(mask, width=2) for mask in test_seg.tensors[1]])
    print(f"{wrong[near_edge].sum() / wrong.sum():.0%} of the wrong test pixels lie within 2 pixels of a true edge, "
          f"a band that holds {near_edge.float().mean():.0%} of all pixels")

# %% [markdown]
# Beside the models of notebooks 06 and 07, trained by the same recipe and measured by
# the course's segmentation calibration benchmark (one CPU thread; test mean IoU, from a run of it with this
# notebook's DeepLab v3+ in it): FCN-8s 0.858, U-Net (depth 3, 8 channels) 0.926, DeepLab v3+ 0.865. On these
# 64 × 64 shapes the small DeepLab v3+ draws level with FCN-8s and stays clearly behind the U-Net.
#
# Where are its errors? Mostly on the thin tips and along the outlines, where touching shapes also bleed into
# each other: the share printed under the figure puts nearly all wrong pixels in the narrow band around the true
# edges. That is what a decoder that stops at stride 4 gives:
# on 64 × 64 images its classifier sees a 16 × 16 grid, bilinearly interpolated to the image, so it cannot place
# an edge much more finely than about 4 pixels. The U-Net's last level sees every pixel.
#
# That is not a verdict on the paper (89.0 % mIoU on the PASCAL VOC 2012 test set, with an Xception backbone
# pre-trained on ImageNet and JFT-300M): its strength — context from ASPP over large images with objects at
# many scales — has little to work on in a set of small, similar shapes.

# %% [markdown]
# ## 5. The fully connected CRF
#
# DeepLab v1 and v2 had no decoder: their score maps, at output stride 8, were bilinearly upsampled and
# blurry at the edges. They sharpened them with a **fully connected conditional random field**
# (Krähenbühl & Koltun, *Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials*,
# NIPS 2011): every pixel $i$ is a node with a label $x_i$, and *every pair* of pixels is an edge. A CRF
# trusts the image where the network is vague: two nearby pixels of similar colour probably belong to the same
# object, so their labels should agree — and because every pixel is linked to every other, that agreement can
# travel along a whole edge, not only between neighbours.

# %% [markdown]
# ### The energy
#
# The energy of a labelling is
#
# $$E(x) = \sum_i \psi_u(x_i) + \sum_{i<j} \mu(x_i, x_j)\,\big[w_1 k_1(i, j) + w_2 k_2(i, j)\big],$$
#
# - the **unary** $\psi_u(x_i) = -\log P(x_i)$ from the network's probabilities;
# - the **appearance** (bilateral) kernel $k_1 = \exp\!\big(-\frac{|p_i - p_j|^2}{2\theta_\alpha^2}
#   - \frac{|I_i - I_j|^2}{2\theta_\beta^2}\big)$: nearby pixels of similar colour ($p$ position, $I$ colour on
#   the 0-255 scale) should share a label;
# - the **smoothness** kernel $k_2 = \exp\!\big(-\frac{|p_i - p_j|^2}{2\theta_\gamma^2}\big)$: removes small
#   isolated regions;
# - the **Potts** compatibility $\mu(l, l') = [l \ne l']$: a cost only when the labels differ.
#
# A labelling has low energy when it follows the network's probabilities *and* changes label only where the
# colour changes.

# %% [markdown]
# ### Mean field
#
# Exact inference is hopeless, so the CRF is solved by **mean field**: keep a distribution $Q_i(l)$ per pixel
# and repeat
#
# $$Q_i(l) \leftarrow \frac{1}{Z_i} \exp\Big(-\psi_u(l) - \sum_{l'} \mu(l, l') \sum_{j \ne i}
#   \big[w_1 k_1(i, j) + w_2 k_2(i, j)\big]\, Q_j(l')\Big).$$
#
# Why this approximation: mean field looks for the fully factorised distribution
# $Q(x) = \prod_i Q_i(x_i)$ — labels independent across pixels — closest to the CRF's own
# $P(x) \propto \exp(-E(x))$, in the sense that it minimises the KL divergence $\mathrm{KL}(Q \,\|\, P)$
# (Krähenbühl & Koltun, 2011, §3). The update above is the condition for that minimum with respect to one
# $Q_i$, the others held fixed; and because $Q$ factorises, it needs only each pixel's expected messages.
#
# Krähenbühl & Koltun's contribution was doing the sum over $j$ fast, with a permutohedral-lattice filter. At
# 5,000 pixels we can afford it exactly: `crf.crf_kernels(image, θα, θβ, θγ)` builds the two $N \times N$
# kernel matrices ($N = H \cdot W$ pixels numbered row by row, like `q.reshape(L, -1)`; diagonal 1), once, and
# each step is then two matrix products.

# %% [markdown]
# ### Exercise 4 — `mean_field_step`
#
# `mean_field_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth) -> tensor`: unary and q are
# (L, H, W) (L labels), the kernels (N, N). Return the new $Q$, (L, H, W):
#
# 1. the **message** $m_i(l) = \sum_{j \ne i} \big(w_1 K_1[i, j] + w_2 K_2[i, j]\big)\, q_j(l)$ — a matrix
#    product with `q.reshape(L, -1)`, *without* $j = i$: subtract the diagonal's share, or zero the diagonal
#    on a copy (e.g. `k - torch.diag(k.diagonal())`), never in place — the same kernels serve every iteration;
# 2. the **Potts** compatibility: label $l$ pays for the messages of the *other* labels,
#    $\sum_{l'} m_i(l') - m_i(l)$;
# 3. the energy: unary + that; the new $Q$ is the **softmax of minus the energy over the labels** (dim 0).
#
# The check compares with an explicit pair-by-pair computation on small random images, including a known
# value (with both weights 0 the step must return softmax(−unary)) and five steps in a row; the graded cell
# adds other sizes and seeds.

# %% solution="mean_field_step"
def mean_field_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth):
    """One mean-field update of the dense CRF with Potts compatibility: new marginals (L, H, W)."""
    ### BEGIN SOLUTION
    L = q.shape[0]
    flat = q.reshape(L, -1)                                                           # (L, N)
    message = (w_appearance * (flat @ k_appearance.t() - k_appearance.diagonal() * flat)
               + w_smooth * (flat @ k_smooth.t() - k_smooth.diagonal() * flat))       # Σ over j ≠ i
    pairwise = message.sum(dim=0, keepdim=True) - message                             # Potts: the other labels
    return torch.softmax(-(unary.reshape(L, -1) + pairwise), dim=0).reshape(q.shape)
    ### END SOLUTION


# %%
check_mean_field_step(mean_field_step)

# %% tests="mean_field_step_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_mean_field_step(mean_field_step, strict=True)
### BEGIN HIDDEN TESTS
check_mean_field_step(mean_field_step, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### The CRF on a real photograph
#
# The course's coins photograph with its mask (`data.load_segmentation_photo("coins")`, 0 background, 1 coin),
# at 64 × 81 pixels. A blurry score map to refine, as DeepLab had: a small network (three 3 × 3 convolutions,
# the second and third with stride 2: output stride 4, then a 1 × 1 classifier), trained for a second on the **left half** of the image only,
# predicts the whole image; its scores are upsampled bilinearly. We score the **right half**, which it never
# saw: mean IoU, and the accuracy in a band of ±2 pixels around the true coin edges (DeepLab's "trimap"
# measure).
#
# The CRF's starting parameters are the defaults of DeepLab v2's released script (`exper/run_densecrf.sh`
# of the deeplab-public-ver2 code, PASCAL VOC), not the cross-validated values of the released models: $w_1 = 4$, $\theta_\alpha = 49$, $\theta_\beta = 5$, $w_2 = 3$,
# $\theta_\gamma = 3$, 10 iterations (forks and re-implementations use other values, e.g. 50 and 3 for
# $\theta_\alpha$ and $\theta_\beta$ in a fork's CamVid script). DeepLab v1 and v2 kept $w_2 = 3$ and
# $\theta_\gamma = 3$ fixed and chose only $w_1$, $\theta_\alpha$ and $\theta_\beta$ by cross-validation. The two
# spatial widths are in pixels on images of about 500 × 375, so we also try them **scaled** to our 81-pixel
# width (× 81/500). All numbers below are measured in this run.

# %%
photo, photo_mask = data.load_segmentation_photo("coins", size=64)   # (3, 64, 81), (64, 81)
height, width = photo_mask.shape
half = width // 2


def photo_scores(prediction):
    """(mean IoU, accuracy within ±2 px of the true edges) on the right half of the photo."""
    right, truth = prediction[:, half:], photo_mask[:, half:]
    _, mean_iou, _ = segmentation.scores(segmentation.confusion(right, truth, 2))
    band = crf.boundary_mask(photo_mask, width=2)[:, half:]
    return mean_iou, (right[band] == truth[band]).float().mean().item()


crf_results = {}
if train.autograding():
    print("Skipped while the autograder runs.")
elif check_mean_field_step(mean_field_step):
    torch.manual_seed(0)
    # CPU on purpose: small (a 64 × 81 photo, a 4-layer network, 200 Adam steps: about a second)
    coarse = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                           nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                           nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(32, 2, 1))
    optimizer = torch.optim.Adam(coarse.parameters(), lr=1e-2)
    for _ in range(200):
        scores = F.interpolate(coarse(photo[None]), size=(height, width), mode="bilinear", align_corners=False)
        loss = F.cross_entropy(scores[..., :half], photo_mask[None, :, :half])   # the left half only
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        probabilities = F.interpolate(coarse(photo[None]), size=(height, width), mode="bilinear",
                                      align_corners=False).softmax(dim=1)[0]      # (2, 64, 81)
    crf_results["network (output stride 4, upsampled)"] = probabilities
    scale = width / 500
    settings = {"CRF, DeepLab v2's values": dict(theta_alpha=49.0, theta_gamma=3.0),
                f"CRF, θα and θγ scaled × {scale:.2f}": dict(theta_alpha=49.0 * scale, theta_gamma=3.0 * scale)}
    for name, widths in settings.items():
        # CPU on purpose: small (two 5,184 × 5,184 kernel matrices, 10 steps)
        crf_results[name] = crf.dense_crf(probabilities, photo * 255, iterations=10, step=mean_field_step,
                                          w_appearance=4.0, theta_beta=5.0, w_smooth=3.0, **widths)
    for name, q in crf_results.items():
        mean_iou, edge_accuracy = photo_scores(q.argmax(dim=0))
        print(f"{name:<36} right half: mean IoU {mean_iou:.3f}, accuracy within 2 px of an edge {edge_accuracy:.1%}")
else:
    print("Finish Exercise 4 to run the CRF with your step here.")

# %%
if crf_results:
    fig, axes = plt.subplots(1, len(crf_results) + 1, figsize=(4 * (len(crf_results) + 1), 3.6))
    plots.show_mask(photo, photo_mask, ax=axes[0], num_classes=2, title="the photo's mask")
    for ax, (name, q) in zip(axes[1:], crf_results.items()):
        plots.show_mask(photo, q.argmax(dim=0), ax=ax, num_classes=2, title=name)
        ax.axvline(half - 0.5, color="white", lw=1, ls="--")
    fig.suptitle("Left of the dashed line: the network's training half. Scores are measured on the right half.")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# The network's map misses parts of the brighter coins on the right and takes the bright strip along the right
# border for coin; its outlines follow its 4-pixel output grid. The CRF moves the labels towards the photo's own
# edges, and both settings raise the mean IoU (about 0.69 → 0.85) and the accuracy near the edges, on a half of
# the image the network never trained on — but not in the same way. With the published widths, the 49-pixel
# appearance kernel spans most of this small image, so the CRF relabels almost globally by grey level: it
# removes the strip but punches holes into coins whose grey level varies. With the scaled widths it fills the
# coins to their outlines (the best accuracy near the edges, about 94 % against 91 %) but keeps the strip,
# which is consistent in colour with its surroundings. The CRF knows nothing about coins: it only trusts that
# nearby pixels of similar colour belong together. Where that is false (a dark coin on a dark background, a
# shadow across an object), it can make things worse; the weights and widths trade these risks off, and must
# suit the image size.
#
# Why did DeepLab drop it? DeepLab v3 reached better accuracy without the CRF, its ASPP and (in v3+) decoder
# recovering the boundaries inside the network; the CRF is a separate, slow step with parameters of its own.
# Zheng et al. (*CRF as RNN*, ICCV 2015) showed that each mean-field step is a few differentiable operations —
# exactly your `mean_field_step` — so the CRF can also be trained end to end as layers of the network.
#
# ## What to remember
#
# - Atrous convolution reads every $d$-th pixel: effective kernel $k + (k-1)(d-1)$, the same $k^2$ weights,
#   a receptive field as large as striding gives, at full resolution. DeepLab replaces the last strides by
#   rates: output stride 8 or 16 instead of 32.
# - At stride 1 it is an ordinary convolution on the $d \times d$ phase sub-images (space to batch, dense
#   convolution, batch to space): the same multiply-adds, on dense-convolution code.
# - Stacked equal rates leave holes (gridding); rates like 1, 2, 3 (HDC) cover the whole field.
# - Depthwise separable = depthwise $k \times k$ (groups = C) + pointwise 1 × 1: $k^2 C_\text{in} +
#   C_\text{in} C_\text{out}$ weights instead of $k^2 C_\text{in} C_\text{out}$ — about 9 times less for 3 × 3.
# - ASPP = 1 × 1 + three atrous 3 × 3 + image pooling, concatenated and projected; image pooling supplies
#   the context that very large rates cannot.
# - DeepLab v3+ = that encoder + a light decoder with stride-4 low-level features.
# - The dense CRF (appearance + smoothness kernels, Potts, mean field) snaps a blurry score map to the image's
#   edges; its widths are in pixels and must be scaled with the image. Mean field approximates it by the
#   per-pixel factorised $Q$ that minimises $\mathrm{KL}(Q \,\|\, P)$.
