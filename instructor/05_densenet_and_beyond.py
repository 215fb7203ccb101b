# %% [markdown]
# # 05 · DenseNet and beyond: concatenation, channel attention, compound scaling, deformable convolution
#
# ResNet (notebook 04) made depth trainable by *adding* a block's input to its output. The networks
# that followed asked what else a block could do with the features it receives:
#
# - **DenseNet** (Huang, Liu, van der Maaten & Weinberger, *Densely Connected Convolutional
#   Networks*, CVPR 2017) *concatenates* them: every layer sees the feature maps of all earlier
#   layers of its block;
# - **SENet** (Hu, Shen & Sun, *Squeeze-and-Excitation Networks*, CVPR 2018) lets a block
#   *reweight its own channels* from a summary of the whole image;
# - **EfficientNet** (Tan & Le, *EfficientNet: Rethinking Model Scaling for Convolutional Neural
#   Networks*, ICML 2019) asks how to make a network *bigger*: deeper, wider and on larger images
#   together, in fixed proportions;
# - **deformable convolution** (Dai et al., *Deformable Convolutional Networks*, ICCV 2017) lets the
#   kernel's sampling positions *move*, so that it can follow the shape of an object.
#
# **You will**
# 1. build DenseNet's dense layer, dense block and transition, and count the channels — they grow
#    *linearly*, not geometrically as the lecture notes say;
# 2. assemble DenseNet-121 with exactly torchvision's parameter count;
# 3. write a squeeze-and-excitation block;
# 4. compute EfficientNet's compound scaling, and check its FLOP prediction on a real network;
# 5. run a deformable convolution, see where it samples, and show that zero offsets give back an
#    ordinary convolution;
# 6. compare VGG, GoogLeNet, ResNet and DenseNet in a table computed from the models.
#
# Exercises work as before: replace `raise NotImplementedError()`, run the cell, run the check. Each
# exercise is graded on its own: the checks pass the course's reference parts to your functions where
# one exercise builds on another. Big models are built on the `meta` device (shapes without memory),
# so the notebook runs in seconds on a CPU.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from IPython.display import Markdown, display
from torch.utils.flop_counter import FlopCounterMode
from torchvision.ops import deform_conv2d

from course_utils import data, train
from course_utils.checks import (check_compound_scaling, check_deform_conv_zero_offset, check_densenet_channels,
                                 check_make_dense_block, check_make_dense_layer, check_make_densenet,
                                 check_make_se_block, check_make_transition)

device = train.pick_device()
print("device:", device)


# %% [markdown]
# ## 1. DenseNet: concatenate instead of add
#
# Write $x_\ell$ for the output of layer $\ell$ and $H_\ell$ for what the layer computes. A plain
# network chains the layers, a ResNet adds a shortcut, and a DenseNet **concatenates** along the
# channels:
#
# $$\text{plain: } x_\ell = H_\ell(x_{\ell-1}) \qquad
#   \text{ResNet: } x_\ell = H_\ell(x_{\ell-1}) + x_{\ell-1} \qquad
#   \text{DenseNet: } x_\ell = H_\ell\big([x_0, x_1, \dots, x_{\ell-1}]\big)$$
#
# Why? An addition mixes the input into the new features: after a few blocks, nothing tells the
# network which part came from where. A concatenation keeps every earlier feature map *as it is*, so
# a layer can reuse any of them directly, and the gradient reaches every layer through a short path.
# Because features are reused rather than recomputed, each layer can be narrow: it adds only $k$ new
# maps, the **growth rate** ($k = 32$ in DenseNet-121).
#
# **How many channels?** A block's input has $c_0$ channels; each of its $L$ layers appends $k$:
#
# $$c_\ell = c_0 + \ell \cdot k, \qquad \text{so a block outputs } c_0 + L\cdot k \text{ channels.}$$
#
# This is **linear** growth. The lecture notes say the channels "increase geometrically": they do
# not — nothing doubles; each layer adds the same $k$. What does grow quickly is the *input* of the
# later layers (the 16th layer of a block with $c_0 = 64$, $k = 32$ reads $64 + 15 \cdot 32 = 544$
# channels), which is why each layer starts with a cheap 1 × 1 convolution.

# %%
layers = range(0, 25)
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(layers, [64 + l * 32 for l in layers], "o-", label="DenseNet: $c_0 + \\ell k$ (linear)")
ax.plot(range(0, 6), [64 * 2 ** l for l in range(0, 6)], "s--", color="C3",
        label="'geometric': doubling per layer")
ax.set_xlabel("layers in the block ($\\ell$)")
ax.set_ylabel("channels after layer $\\ell$")
ax.set_ylim(0, 1000)
ax.set_title("Channels in a dense block with $c_0 = 64$, $k = 32$")
ax.legend()
plt.show()

# %% [markdown]
# ### The dense layer
#
# DenseNet orders each unit as **batch norm → ReLU → convolution** ("pre-activation", the order of
# He et al.'s improved ResNet): every layer receives a concatenation of maps with different
# statistics, and normalising them first puts them on one scale. DenseNet-B adds a **bottleneck**: a
# 1 × 1 convolution first reduces the wide input to $4k$ channels (`bn_size` = 4), then the 3 × 3
# convolution produces the $k$ new maps:
#
# BatchNorm2d($c_\text{in}$) → ReLU → Conv 1 × 1 ($c_\text{in} \to 4k$) → BatchNorm2d($4k$) → ReLU →
# Conv 3 × 3, padding 1 ($4k \to k$).
#
# The convolutions have no bias (the following batch norm has its own shift). A layer returns only
# its $k$ new maps; the block concatenates.
#
# ### Exercise 1 — `make_dense_layer`
#
# `make_dense_layer(in_channels, growth_rate, bn_size=4) -> nn.Module`, mapping (N, in_channels, H, W)
# to (N, growth_rate, H, W). Use `nn.BatchNorm2d` and `nn.Conv2d` modules. The check copies the weights
# and batch-norm statistics of torchvision's `_DenseLayer` into yours (layer by layer, in the order they
# run) and compares the outputs in eval and in training mode, on odd and non-square maps.

# %% solution="make_dense_layer"
class DenseLayer(nn.Module):
    """DenseNet-B layer: BN-ReLU-1x1 conv (bn_size*k) - BN-ReLU-3x3 conv (k); returns the k new maps."""

    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        ### BEGIN SOLUTION
        width = bn_size * growth_rate
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.norm2 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, growth_rate, kernel_size=3, padding=1, bias=False)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = self.conv1(F.relu(self.norm1(x)))   # (N, bn_size*k, H, W)
        return self.conv2(F.relu(self.norm2(x)))  # (N, k, H, W)
        ### END SOLUTION


def make_dense_layer(in_channels, growth_rate, bn_size=4):
    return DenseLayer(in_channels, growth_rate, bn_size)


# %%
check_make_dense_layer(make_dense_layer)

# %% tests="make_dense_layer_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_dense_layer(make_dense_layer, strict=True)
### BEGIN HIDDEN TESTS
check_make_dense_layer(make_dense_layer, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 — `make_dense_block`
#
# `make_dense_block(num_layers, in_channels, growth_rate, make_layer=None) -> nn.Module`, mapping
# (N, in_channels, H, W) to (N, in_channels + num_layers · growth_rate, H, W).
#
# Build the layers by calling `make_layer(channels, growth_rate)` — layer $i$ (from 0) for
# `in_channels + i * growth_rate` channels — and keep them in an `nn.ModuleList`. In `forward`, keep
# a list of feature maps, starting with the input; feed each layer the concatenation
# `torch.cat(features, dim=1)` and append its output; return the concatenation of the whole list,
# input first. With `make_layer=None` the block uses your `make_dense_layer`.
#
# The check passes its own `make_layer` (torchvision's dense layer, so this exercise does not depend
# on the previous one) and compares the channel counts it is called with, the output shape, that the
# layers' parameters are the block's, and the output with torchvision's `_DenseBlock` holding the same
# layers.

# %% solution="make_dense_block"
class DenseBlock(nn.Module):
    """num_layers dense layers; layer i reads the concatenation of the input and layers 0..i-1."""

    def __init__(self, num_layers, in_channels, growth_rate, make_layer=None):
        super().__init__()
        make_layer = make_layer or make_dense_layer   # looked up now: your latest make_dense_layer
        ### BEGIN SOLUTION
        self.layers = nn.ModuleList(make_layer(in_channels + i * growth_rate, growth_rate)
                                    for i in range(num_layers))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))   # each new map: (N, k, H, W)
        return torch.cat(features, dim=1)                          # (N, c0 + L*k, H, W)
        ### END SOLUTION


def make_dense_block(num_layers, in_channels, growth_rate, make_layer=None):
    return DenseBlock(num_layers, in_channels, growth_rate, make_layer)


# %%
check_make_dense_block(make_dense_block)

# %% tests="make_dense_block_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_dense_block(make_dense_block, strict=True)
### BEGIN HIDDEN TESTS
check_make_dense_block(make_dense_block, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **See the concatenation.** Run a block of your layers on a batch of real photographs and look at
# the channel count after each layer, and at the block's output: its first channels *are* the input.

# %%
photos = torch.stack([data.load_image(name, size=(64, 64)) for name in ("astronaut", "chelsea")])
if check_make_dense_layer(make_dense_layer) and check_make_dense_block(make_dense_block):
    demo_block = make_dense_block(4, 3, 6).to(device).eval()
    widths = [photos.shape[1]]
    hooks = [layer.register_forward_hook(lambda module, inputs, out: widths.append(widths[-1] + out.shape[1]))
             for layer in demo_block.layers]
    with torch.no_grad():
        out = demo_block(photos.to(device)).cpu()
    for hook in hooks:
        hook.remove()
    print("channels after each layer:", widths)
    print("output shape:", tuple(out.shape), "| first 3 channels equal the input:",
          torch.equal(out[:, :3], photos))
else:
    print("Finish exercises 1 and 2 to see your dense block at work.")

# %% [markdown]
# ### Exercise 3 — `densenet_channels`
#
# `densenet_channels(in_channels, num_layers, growth_rate) -> int`: the number of channels a dense
# block outputs. The check counts them from torchvision's `_DenseBlock` on the meta device.

# %% solution="densenet_channels"
def densenet_channels(in_channels, num_layers, growth_rate):
    """Channels after a dense block: the input's plus growth_rate for every layer."""
    ### BEGIN SOLUTION
    return in_channels + num_layers * growth_rate
    ### END SOLUTION


# %%
check_densenet_channels(densenet_channels)

# %% tests="densenet_channels_tests" points=1
# Graded (1 point): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_densenet_channels(densenet_channels, strict=True)
### BEGIN HIDDEN TESTS
check_densenet_channels(densenet_channels, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Transition layers
#
# Inside a block every map keeps its height and width — concatenation needs equal sizes. Between two
# blocks, a **transition** shrinks both: batch norm → ReLU → 1 × 1 convolution → 2 × 2 average pool with
# stride 2. The 1 × 1 convolution halves the channels (DenseNet-C's *compression* θ = 0.5), the pool
# halves H and W. The lecture notes write the transition as BN → 1 × 1 conv → 2 × 2 average pool, without
# a ReLU, but in the paper every "conv" stands for BN → ReLU → conv (Huang et al., 2017, caption of
# Table 1), the transition's 1 × 1 convolution included; torchvision's `_Transition` follows the paper,
# and so does this course (so that your parts reproduce its `densenet121`).
#
# DenseNet-121 starts with a 7 × 7 stride-2 convolution to 64 channels, batch norm, ReLU and a 3 × 3
# stride-2 max pool, then has four blocks of 6, 12, 24 and 16 layers with $k = 32$. Trace its
# channels by running torchvision's `densenet121` on the meta device, and — once Exercise 3 passes —
# compare each block with your formula:

# %%
formula_ready = bool(check_densenet_channels(densenet_channels))
with torch.device("meta"):
    reference121 = torchvision.models.densenet121().eval()
    fmap = torch.empty(1, 3, 224, 224)
    for name, module in reference121.features.named_children():
        c_in = fmap.shape[1]
        fmap = module(fmap)
        if name == "pool0" or name.startswith(("denseblock", "transition")):
            line = f"{name:12s} -> {fmap.shape[1]:5d} channels, {fmap.shape[2]:3d} x {fmap.shape[3]:3d}"
            if formula_ready and name.startswith("denseblock"):
                n = len(module)   # a _DenseBlock holds its dense layers
                line += f" | your densenet_channels({c_in}, {n}, 32) = {densenet_channels(c_in, n, 32)}"
            print(line)
if not formula_ready:
    print("Finish Exercise 3 (densenet_channels) to compare each block with your formula.")

# %% [markdown]
# ### Exercise 4 — `make_transition`
#
# `make_transition(in_channels, out_channels) -> nn.Module`, mapping (N, in_channels, H, W) to
# (N, out_channels, H // 2, W // 2): BatchNorm2d → ReLU → 1 × 1 conv (no bias) →
# `nn.AvgPool2d(2, stride=2)`. The check compares with torchvision's `_Transition` holding the same
# weights, in eval and training mode, on even, odd and non-square maps.

# %% solution="make_transition"
def make_transition(in_channels, out_channels):
    """DenseNet's transition: BN, ReLU, 1x1 conv, 2x2 average pool (stride 2)."""
    ### BEGIN SOLUTION
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
                         nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),   # (N, out, H, W)
                         nn.AvgPool2d(kernel_size=2, stride=2))                             # (N, out, H/2, W/2)
    ### END SOLUTION


# %%
check_make_transition(make_transition)

# %% tests="make_transition_tests" points=1
# Graded (1 point): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_transition(make_transition, strict=True)
### BEGIN HIDDEN TESTS
check_make_transition(make_transition, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Both the 1 × 1 convolution and the average pool are linear maps that act on different axes
# (channels vs positions), so they commute: pooling *first* gives the same result with a quarter of the
# multiplications. (The check accepts either order.)
#
# ### Exercise 5 — `make_densenet`
#
# `make_densenet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
# make_block=None, make_transition=None) -> nn.Module`, mapping (N, 3, H, W) images to (N, num_classes):
#
# 1. stem: `Conv2d(3, num_init_features, 7, stride=2, padding=3, bias=False)`, BatchNorm2d, ReLU,
#    `MaxPool2d(3, stride=2, padding=1)`;
# 2. for each entry `n` of `block_config`: `make_block(n, channels, growth_rate)`; between two blocks
#    (not after the last) `make_transition(channels, channels // 2)`;
# 3. head: BatchNorm2d, ReLU, global average pool, flatten, `Linear(channels, num_classes)`.
#
# With `None`, use your `make_dense_block` and `make_transition`. The check passes torchvision's block
# and transition instead (so this exercise does not depend on the others) and compares the channel
# counts they are called with, the output shape, and the parameters and FLOPs of torchvision's
# `densenet121` (hidden: `densenet161` and others) on the meta device; a small DenseNet is also
# compared by value.

# %% solution="make_densenet"
class DenseNet(nn.Module):
    """DenseNet (Huang et al., 2017): stem, dense blocks with transitions between them, BN-ReLU-pool-dense head."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
                 make_block=None, make_transition=None):
        super().__init__()
        make_block = make_block or make_dense_block
        # The argument `make_transition` hides the notebook's function of the same name; globals() fetches
        # that function (your latest version of it) when the argument is None.
        make_transition = make_transition or globals()["make_transition"]
        ### BEGIN SOLUTION
        layers = [nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
                  nn.BatchNorm2d(num_init_features), nn.ReLU(inplace=True),
                  nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]           # (N, c0, H/4, W/4)
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            layers.append(make_block(num_layers, channels, growth_rate))
            channels += num_layers * growth_rate                               # linear growth
            if i < len(block_config) - 1:
                layers.append(make_transition(channels, channels // 2))        # halves channels, H and W
                channels //= 2
        layers.append(nn.BatchNorm2d(channels))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = F.relu(self.features(x))                                # (N, C, H/32, W/32)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)           # (N, C)
        return self.classifier(x)                                   # (N, num_classes)
        ### END SOLUTION


def make_densenet(growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, num_classes=1000,
                  make_block=None, make_transition=None):
    return DenseNet(growth_rate, block_config, num_init_features, num_classes, make_block, make_transition)


# %%
check_make_densenet(make_densenet)

# %% tests="make_densenet_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_densenet(make_densenet, strict=True)
### BEGIN HIDDEN TESTS
check_make_densenet(make_densenet, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **Your own DenseNet-121**, built from *your* layer, block and transition, against torchvision's —
# counted on the meta device:

# %%
yours121 = None   # reference121: torchvision's densenet121 on the meta device, built above
if all(check(fn) for check, fn in [(check_make_dense_layer, make_dense_layer), (check_make_dense_block,
                                   make_dense_block), (check_make_transition, make_transition)]):
    try:
        with torch.device("meta"):
            yours121 = make_densenet()   # your parts: make_block=None, make_transition=None
        print(f"your DenseNet-121:        {train.count_parameters(yours121):,} parameters")
    except Exception as exc:  # make_densenet not written yet (or failing: its check above says why)
        print(f"make_densenet() does not build yet ({type(exc).__name__})")
print(f"torchvision's densenet121: {train.count_parameters(reference121):,} parameters")
convs = sum(isinstance(m, nn.Conv2d) for m in reference121.modules())
dense = sum(isinstance(m, nn.Linear) for m in reference121.modules())
print(f"layers with weights: {convs} convolutions + {dense} dense = {convs + dense} (hence the '121')")

# %% [markdown]
# DenseNet-121 has about a third of ResNet-50's parameters (the table at the end counts both) — the
# payoff of narrow layers that reuse features. Huang et al. report a top-1 error of 25.0 % on ImageNet
# for DenseNet-121 (one 224 × 224 crop) and find that DenseNets reach the accuracy of ResNets with fewer
# parameters and less computation. The price is memory: the concatenated maps of a block must all be
# kept for the backward pass.
#
# ## 2. SENet: squeeze and excitation (Hu et al., 2018)
#
# A convolution mixes channels only locally: each output pixel sees a small window. The
# squeeze-and-excitation block adds a **global** view at almost no cost, as *channel attention*:
# it decides, from the whole image, how much each channel matters, and rescales it. It won ILSVRC 2017.
# For a feature map $x$ with $C$ channels:
#
# 1. **squeeze** — global average pooling, one number per channel:
#    $z_c = \frac{1}{HW}\sum_{i,j} x_c(i, j)$;
# 2. **excitation** — a two-layer bottleneck with reduction ratio $r$ (16 in the paper) and a sigmoid:
#    $s = \sigma\big(W_2\,\mathrm{ReLU}(W_1 z)\big)$, $W_1: C \to C/r$, $W_2: C/r \to C$;
# 3. **scale** — every channel multiplied by its weight: $\tilde x_c = s_c \cdot x_c$.
#
# The sigmoid (not a softmax) lets several channels be important at once: each weight lies in $(0, 1)$
# independently. The cost is $2C^2/r$ weights per block, small beside a 3 × 3 convolution's $9C^2$.
#
# ### Exercise 6 — `make_se_block`
#
# `make_se_block(channels, reduction=16) -> nn.Module`, mapping (N, C, H, W) to (N, C, H, W). Use two
# `nn.Linear` layers (or 1 × 1 convolutions) from C to `C // reduction` and back, with biases or without.
# The check copies the weights of `torchvision.ops.SqueezeExcitation` into yours and compares the outputs.

# %% solution="make_se_block"
class SEBlock(nn.Module):
    """Squeeze (global average pool), excitation (dense-ReLU-dense-sigmoid), scale the channels."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        ### BEGIN SOLUTION
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        z = x.mean(dim=(2, 3))                                   # squeeze: (N, C)
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))         # excitation: (N, C), each in (0, 1)
        return x * s[:, :, None, None]                           # scale: (N, C, H, W)
        ### END SOLUTION


def make_se_block(channels, reduction=16):
    return SEBlock(channels, reduction)


# %%
check_make_se_block(make_se_block)

# %% tests="make_se_block_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_se_block(make_se_block, strict=True)
### BEGIN HIDDEN TESTS
check_make_se_block(make_se_block, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **What an SE block costs.** Its weights beside those of one 3 × 3 convolution with as many channels,
# at the channel widths of ResNet-50's four stages (torchvision's `SqueezeExcitation`, so this cell
# works before the exercise):

# %%
for c in (256, 512, 1024, 2048):
    with torch.device("meta"):
        se_params = train.count_parameters(torchvision.ops.SqueezeExcitation(c, c // 16))
        conv_params = train.count_parameters(nn.Conv2d(c, c, 3, bias=False))
    print(f"C = {c:4d}: SE block {se_params:9,} parameters = {se_params / conv_params:5.1%} of a 3x3 conv C -> C")

# %% [markdown]
# ## 3. EfficientNet: compound scaling (Tan & Le, 2019)
#
# There are three ways to make a network bigger: more layers (**depth** $d$), more channels (**width**
# $w$), larger images (**resolution** $r$). Each alone saturates quickly. Tan and Le scale all three
# together with one coefficient $\varphi$:
#
# $$d = \alpha^\varphi, \qquad w = \beta^\varphi, \qquad r = \gamma^\varphi, \qquad
#   \alpha \cdot \beta^2 \cdot \gamma^2 \approx 2, \quad \alpha, \beta, \gamma \ge 1.$$
#
# Why the squares? A convolution's FLOPs grow linearly with depth, but with the *square* of the width
# (input × output channels) and the square of the resolution (H × W). So the FLOPs grow by
# $(\alpha \beta^2 \gamma^2)^\varphi \approx 2^\varphi$: each step of $\varphi$ roughly doubles the
# computation. A small grid search on the baseline EfficientNet-B0 found α = 1.2, β = 1.1, γ = 1.15;
# B1 to B7 are B0 scaled up.
#
# ### Exercise 7 — `compound_scaling`
#
# `compound_scaling(phi, alpha=1.2, beta=1.1, gamma=1.15) -> (depth, width, resolution, flops)`: the
# three multipliers and the factor by which the FLOPs grow, as floats. The check compares with the
# formulas above, for whole and fractional φ and other coefficients.

# %% solution="compound_scaling"
def compound_scaling(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """EfficientNet's multipliers for depth, width and resolution, and the FLOP factor."""
    ### BEGIN SOLUTION
    depth, width, resolution = alpha ** phi, beta ** phi, gamma ** phi
    return depth, width, resolution, depth * width ** 2 * resolution ** 2
    ### END SOLUTION


# %%
check_compound_scaling(compound_scaling)

# %% tests="compound_scaling_tests" points=1
# Graded (1 point): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_compound_scaling(compound_scaling, strict=True)
### BEGIN HIDDEN TESTS
check_compound_scaling(compound_scaling, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **Does the prediction hold?** The formula assumes that *every* layer's cost grows with width² and
# resolution², and the number of layers with depth. Take a network for which that is true: a stack of
# 3 × 3 convolutions that all have the same width and work at the same resolution (base: 20 layers,
# 64 channels, 64 × 64 maps). Scale it by your multipliers — rounded, since layers, channels and
# pixels are whole numbers — and count its FLOPs on the meta device.

# %%
BASE_LAYERS, BASE_WIDTH, BASE_SIZE = 20, 64, 64


def uniform_cnn(layers, width):
    """`layers` 3 x 3 convolutions width -> width, each followed by a ReLU; padding 1 keeps the maps' size."""
    blocks = []
    for _ in range(layers):
        blocks += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.ReLU()]
    return nn.Sequential(*blocks)


def measured_flops(layers, width, size):
    with torch.device("meta"):
        net = uniform_cnn(layers, width)
        with FlopCounterMode(display=False) as counter:
            net(torch.empty(1, width, size, size))
    return counter.get_total_flops()


if check_compound_scaling(compound_scaling):
    phis = list(range(6))
    base = measured_flops(BASE_LAYERS, BASE_WIDTH, BASE_SIZE)
    predicted, measured = [], []
    for phi in phis:
        d, w, r, f = compound_scaling(phi)
        n_layers, n_channels, size = round(BASE_LAYERS * d), round(BASE_WIDTH * w), round(BASE_SIZE * r)
        rounded = (n_layers / BASE_LAYERS) * (n_channels / BASE_WIDTH) ** 2 * (size / BASE_SIZE) ** 2
        predicted.append(f)
        measured.append(measured_flops(n_layers, n_channels, size) / base)
        print(f"phi = {phi}: {n_layers:2d} layers, {n_channels:3d} channels, {size:3d} x {size:<3d} | FLOPs x "
              f"{measured[-1]:6.3f} measured, x {rounded:6.3f} from the rounded sizes, x {f:6.3f} predicted")
    gap = max(abs(m / p - 1) for m, p in zip(measured, predicted))
    print(f"largest gap between measured and predicted: {gap:.2%}")
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.semilogy(phis, predicted, "o-", label="predicted $(\\alpha\\beta^2\\gamma^2)^\\varphi$")
    ax.semilogy(phis, measured, "s--", label="measured (rounded layers, channels, pixels)")
    ax.semilogy(phis, [2.0 ** p for p in phis], ":", color="0.5", label="$2^\\varphi$")
    ax.set_xlabel("$\\varphi$")
    ax.set_ylabel("FLOPs / FLOPs at $\\varphi = 0$")
    ax.set_title("Compound scaling of a uniform stack of 3 × 3 convolutions")
    ax.legend()
    plt.show()
    print(f"alpha * beta^2 * gamma^2 = {compound_scaling(1)[3]:.4f}; at phi = 7: (alpha * beta^2 * gamma^2)^7 = "
          f"{compound_scaling(7)[3]:.1f}, while 2^7 = {2 ** 7}")
else:
    print("Finish Exercise 7 (compound_scaling) to scale this network with your multipliers.")

# %% [markdown]
# The measured growth follows the prediction, and here is why: each layer of this network costs
# $2 \cdot 9 \cdot C^2 \cdot S^2$ FLOPs (9 multiply–adds per input channel, output channel and output
# pixel), so the whole stack costs $L \cdot 18 \, C^2 S^2$ and grows by exactly
# $(L'/L)(C'/C)^2(S'/S)^2$ — the "from the rounded sizes" column equals the measured one. The small
# remaining gap to $(\alpha\beta^2\gamma^2)^\varphi$ comes only from rounding layers, channels and
# pixels to whole numbers.
#
# A real network is not this uniform, so its FLOPs need not follow the formula: its first convolution
# reads the 3 colour channels whatever the width, so its cost grows with $\beta$, not $\beta^2$; and its
# layers are not equally expensive (the first convolution of each stage reads the narrower output of
# the stage before), so the layers added for depth raise the FLOPs by more or by less than $\alpha$,
# depending on which kind they are. And "≈ 2" is only approximate: the last printed line shows how far
# $2^\varphi$ drifts from the true factor after seven steps — compute with the coefficients themselves.
#
# ## 4. Deformable convolution (Dai et al., 2017)
#
# A 3 × 3 convolution always samples the same rigid grid around each pixel
# $\mathcal R = \{(-1,-1), (-1,0), \dots, (1,1)\}$:
#
# $$y(p_0) = \sum_{p_n \in \mathcal R} w(p_n)\, x(p_0 + p_n).$$
#
# But objects bend: an arm, a leg, a cat's curled tail. A **deformable** convolution adds a learned
# offset $\Delta p_n$ to every tap, different at every output position:
#
# $$y(p_0) = \sum_{p_n \in \mathcal R} w(p_n)\, x(p_0 + p_n + \Delta p_n).$$
#
# The offsets are fractional, so $x$ is read by bilinear interpolation (which keeps everything
# differentiable), and they are predicted by an ordinary convolution from the same input — trained
# with the rest of the network. In `torchvision.ops.deform_conv2d(input, offset, weight, bias, stride,
# padding, dilation)` the offset tensor has shape **(N, 2 · kh · kw, H_out, W_out)**: a pair
# $(\Delta y, \Delta x)$ for each of the kh · kw taps, at every *output* position.
#
# ### Exercise 8 — `deform_conv_zero_offset`
#
# `deform_conv_zero_offset(x, weight, bias=None, stride=1, padding=0, dilation=1) -> Tensor`: call
# `deform_conv2d` with offsets of zeros of the right shape (compute H_out and W_out with the output-size
# formula of notebook 01; stride, padding and dilation may be ints or (h, w) pairs). With zero offsets
# every tap stays on its grid, so the check compares with `F.conv2d` — which your code may not call —
# on cases with stride, padding, dilation, and non-square maps and kernels.

# %% solution="deform_conv_zero_offset"
def deform_conv_zero_offset(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """A deformable convolution whose offsets are all zero: an ordinary convolution."""
    ### BEGIN SOLUTION
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    kh, kw = weight.shape[2:]
    h_out = (x.shape[2] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (x.shape[3] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    offset = torch.zeros(x.shape[0], 2 * kh * kw, h_out, w_out, dtype=x.dtype, device=x.device)
    return deform_conv2d(x, offset, weight, bias, stride=stride, padding=padding, dilation=dilation)
    ### END SOLUTION


# %%
check_deform_conv_zero_offset(deform_conv_zero_offset)

# %% tests="deform_conv_zero_offset_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_deform_conv_zero_offset(deform_conv_zero_offset, strict=True)
### BEGIN HIDDEN TESTS
check_deform_conv_zero_offset(deform_conv_zero_offset, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **Where does it sample?** Below, a 3 × 3 kernel (dilation 10, so the taps are visible) at three
# positions of a photograph. On the left the regular grid; on the right offsets that rotate and stretch
# it — a different deformation at each position, as a trained offset network would produce. The
# positions are read from the offset tensor exactly as `deform_conv2d` reads it: channel $2n$ holds
# $\Delta y$ and channel $2n + 1$ holds $\Delta x$ of tap $n$ (taps in row-major order).

# %%
image = data.load_image("chelsea", gray=True, size=(150, 225))   # (H, W)
k, dil = 3, 10
taps = torch.tensor([(a, b) for a in range(k) for b in range(k)], dtype=torch.float32) - (k - 1) / 2
centres = [(60, 60), (85, 130), (110, 190)]
offset = torch.zeros(1, 2 * k * k, *image.shape)   # offsets for a stride-1 'same' conv: one per pixel
for (cy, cx), angle, stretch in zip(centres, (0.5, -0.7, 1.1), (1.3, 0.8, 1.5)):
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = stretch * (dil * taps) @ rotation.T            # where each tap should sample, relative to p0
    delta = moved - dil * taps                              # the offset that moves it there
    offset[0, 0::2, cy, cx], offset[0, 1::2, cy, cx] = delta[:, 0], delta[:, 1]

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for ax, title, use_offsets in zip(axes, ("regular grid: $p_0 + p_n$", "deformed: $p_0 + p_n + \\Delta p_n$"),
                                  (False, True)):
    ax.imshow(image, cmap="gray")
    for cy, cx in centres:
        dy = offset[0, 0::2, cy, cx] if use_offsets else 0
        dx = offset[0, 1::2, cy, cx] if use_offsets else 0
        ys, xs = cy + dil * taps[:, 0] + dy, cx + dil * taps[:, 1] + dx
        ax.scatter(xs, ys, s=28, c="C1", edgecolors="k")
        ax.scatter([cx], [cy], s=60, c="C3", marker="x")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# **Offsets can imitate dilation.** Give each tap of a 3 × 3 kernel the offset $\Delta p_n = p_n$: every
# tap moves twice as far from the centre — the sampling grid of a dilated convolution (dilation 2).
# On the photograph, with an edge-detecting kernel:

# %%
x = image[None, None].to(device)                                     # (1, 1, H, W)
laplace = torch.tensor([[0., 1., 0.], [1., -4., 1.], [0., 1., 0.]], device=device)[None, None]
double = taps.flatten()                                              # (dy, dx) of tap n = p_n, tap by tap
offsets = double[None, :, None, None].repeat(1, 1, *image.shape).to(device)  # (1, 18, H, W), same at every pixel
deformed = deform_conv2d(x, offsets, laplace, padding=1)
dilated = F.conv2d(x, laplace, padding=2, dilation=2)
print("largest difference from F.conv2d(dilation=2):", (deformed - dilated).abs().max().item())
fig, axes = plt.subplots(1, 3, figsize=(11, 2.8))
for ax, img, title in zip(axes, (x, F.conv2d(x, laplace, padding=1), deformed),
                          ("photo", "3×3 Laplacian, zero offsets", "offsets $\\Delta p_n = p_n$ (= dilation 2)")):
    ax.imshow(img[0, 0].cpu(), cmap="gray")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# In a deformable network the offsets are not chosen by hand: a small convolution predicts them from the
# features (`torchvision.ops.DeformConv2d` takes them as an input), so the sampling grid can follow the
# object. Dai et al. replaced the last 3 × 3 convolutions of a ResNet backbone this way and improved
# detection and segmentation.
#
# ## 5. What to remember
#
# The key ideas of the architectures of notebooks 03–05, with numbers computed from torchvision's
# models on the meta device: parameters, multiply–adds for one 224 × 224 image (`FlopCounterMode`
# counts 2 FLOPs per multiply–add), and the layers with weights (convolutions and dense layers).

# %%
def describe(name, model):
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(1, 3, 224, 224, device="meta"))
    weighted = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    return name, train.count_parameters(model) / 1e6, counter.get_total_flops() / 2e9, weighted


ideas = {"vgg16": "repeated 3 × 3 convolutions: depth", "googlenet": "1 × 1 reductions, parallel branches",
         "resnet18": "skip connections: add the input", "resnet50": "skip connections with 1 × 1 bottlenecks",
         "densenet121": "concatenate all earlier maps"}
rows = []
with torch.device("meta"):
    for name in ideas:
        options = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
        rows.append(describe(name, getattr(torchvision.models, name)(**options)) + (ideas[name],))
    if yours121 is not None:
        rows.append(describe("your DenseNet-121", yours121) + (ideas["densenet121"],))
table = ["| model | key idea | parameters (M) | GMACs per image | layers with weights |", "|---|---|---|---|---|"]
table += [f"| {n} | {idea} | {p:.1f} | {g:.2f} | {w} |" for n, p, g, w, idea in rows]
display(Markdown("\n".join(table)))

# %% [markdown]
# The last column counts *every* convolution and dense layer, including ResNet's 1 × 1 projection
# shortcuts and GoogLeNet's parallel branches; the names count only the layers with weights on the
# longest path from input to output. So ResNet-18's 21 are the 18 layers of its main path plus 3
# projection shortcuts, ResNet-50's 54 are 50 plus 4, and GoogLeNet is "22 layers deep" (Szegedy et al.,
# 2015, counting layers with parameters) although it holds 58. VGG-16 and DenseNet-121 have nothing
# beside their main path, so there both counts agree.
#
# - **VGG**: depth from repeated 3 × 3 convolutions (three of them see 7 × 7 with fewer weights).
# - **GoogLeNet**: 1 × 1 convolutions reduce channels before expensive branches.
# - **ResNet**: skip connections, $x + F(x)$, make very deep networks trainable.
# - **DenseNet**: concatenation, $H_\ell([x_0, \dots, x_{\ell-1}])$; channels grow *linearly*,
#   $c_0 + \ell k$ — not geometrically; transitions (BN, ReLU, 1 × 1 conv, 2 × 2 average
#   pool) halve channels and resolution between blocks; far fewer parameters than VGG-16 or ResNet-50.
# - **SENet**: squeeze (global average pool), excitation (bottleneck, sigmoid), scale: channel attention
#   for about $2C^2/r$ extra weights.
# - **EfficientNet**: scale depth, width and resolution together, $\alpha^\varphi, \beta^\varphi,
#   \gamma^\varphi$; FLOPs grow by $(\alpha\beta^2\gamma^2)^\varphi \approx 2^\varphi$.
# - **Deformable convolution**: learned offsets $\Delta p_n$ move each tap; offsets of shape
#   (N, 2·kh·kw, H_out, W_out); zero offsets give back the ordinary convolution.
