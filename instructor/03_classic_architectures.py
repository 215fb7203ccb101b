# %% [markdown]
# # 03 · Classic architectures: AlexNet, VGG, GoogLeNet
#
# Between 2012 and 2014 the ImageNet challenge (ILSVRC: 1.2 million images, 1,000 classes) produced
# three networks whose ideas every later CNN reuses: two winners of the classification task and
# VGG, its runner-up in 2014 (and winner of that year's localisation task). This notebook builds each of them
# and measures the design choices instead of quoting them.
#
# **You will**
# 1. build AlexNet and find out where its 61 million parameters live;
# 2. write a VGG builder from a configuration list, and count why 3 × 3 convolutions win;
# 3. compute what a 1 × 1 "bottleneck" convolution saves — and test a claim from the lecture notes;
# 4. build GoogLeNet's inception module, and a small network whose auxiliary classifiers run only in training;
# 5. compare the backbones in a table computed from the models themselves.
#
# Models are checked by **behaviour**: output shapes, parameter counts and amount of computation
# compared with torchvision's implementations, and train/eval differences. Big models are built on
# PyTorch's `meta` device, which records shapes without allocating memory, so everything here runs
# in seconds on a CPU.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torchvision
from IPython.display import Markdown, display
from torch.utils.flop_counter import FlopCounterMode

from course_utils import train
from course_utils.checks import (check_bottleneck_params, check_make_alexnet, check_make_inception,
                                 check_make_mini_googlenet, check_make_vgg, check_vgg_stack_params)

device = train.pick_device()
print("device:", device)


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


# %% [markdown]
# ## 1. AlexNet (Krizhevsky, Sutskever & Hinton, 2012)
#
# AlexNet won ILSVRC 2012 with a top-5 error of 15.3 %, against 26.2 % for the runner-up. Its
# key ideas:
# - **ReLU** activations (notebook 02): several times faster training than tanh;
# - training on **two GPUs** (3 GB each), the network split in two halves that exchange
#   activations only at some layers;
# - **local response normalisation** (a competition between neighbouring channels) and
#   **overlapping pooling** (3 × 3 windows, stride 2);
# - **data augmentation** (random crops and flips, colour perturbation) and **dropout** (p = 0.5)
#   in the dense layers against overfitting.
#
# The network has 5 convolutional and 3 dense layers. The first convolution uses large
# 11 × 11 kernels with stride 4: a wide view of the 224 × 224 image at once, at the price of
# many weights per kernel.
#
# torchvision's `alexnet` — the one we match — follows the single-GPU variant of Krizhevsky's
# *One weird trick* (2014): 64, 192, 384, 256, 256 kernels, no local response normalisation, and
# an adaptive average pool to 6 × 6 so other image sizes work too:
#
# | layer | operation | output for a 224 × 224 image |
# |---|---|---|
# | conv1 | 11 × 11, 64, stride 4, padding 2, ReLU; 3 × 3 / 2 max pool | 64 × 55 × 55 → 64 × 27 × 27 |
# | conv2 | 5 × 5, 192, padding 2, ReLU; 3 × 3 / 2 max pool | 192 × 27 × 27 → 192 × 13 × 13 |
# | conv3–5 | 3 × 3, 384 / 256 / 256, padding 1, ReLU; 3 × 3 / 2 max pool after conv5 | 256 × 13 × 13 → 256 × 6 × 6 |
# | pool | adaptive average pool to 6 × 6, flatten | 9216 |
# | fc6, fc7 | dropout 0.5, dense 4096, ReLU (twice) | 4096 |
# | fc8 | dense `num_classes` | 1000 |
#
# ### Exercise 1 — `make_alexnet`
#
# `make_alexnet(num_classes=1000) -> nn.Module` mapping (N, 3, 224, 224) images to (N, num_classes).
# The check builds your model for 10 classes, copies the (random) weights of torchvision's `alexnet`
# into it, layer by layer in the order your forward pass runs them, and compares the outputs on
# 112 × 96 images in eval and in training mode (the same dropout masks for both); then it builds yours
# with 1,000 classes on the meta device and compares its layers' shapes with torchvision's (61,100,840
# parameters). The graded cell adds 1,000 and 37 classes on 224 × 224 and 99 × 131 images. A
# `class AlexNet(nn.Module)` with `features`, `avgpool` and `classifier` parts, like torchvision's,
# reads best.

# %% solution="make_alexnet"
class AlexNet(nn.Module):
    """AlexNet as in torchvision (the single-GPU variant of Krizhevsky, 2014)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        ### BEGIN SOLUTION
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),   # (N, 64, 55, 55)
            nn.MaxPool2d(kernel_size=3, stride=2),                                         # (N, 64, 27, 27)
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),                                         # (N, 192, 13, 13)
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),                                         # (N, 256, 6, 6)
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = self.avgpool(self.features(x))          # (N, 256, 6, 6)
        return self.classifier(torch.flatten(x, 1))   # (N, num_classes)
        ### END SOLUTION


def make_alexnet(num_classes=1000):
    return AlexNet(num_classes)


# %%
check_make_alexnet(make_alexnet)

# %% tests="make_alexnet_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_alexnet(make_alexnet, strict=True)
### BEGIN HIDDEN TESTS
check_make_alexnet(make_alexnet, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **Where do the parameters live?** Count them per layer (torchvision's AlexNet, so this cell
# works before you finish the exercise).

# %%
with torch.device("meta"):
    alexnet = torchvision.models.alexnet()
layers = [(name, module) for name, module in alexnet.named_modules() if isinstance(module, (nn.Conv2d, nn.Linear))]
counts = [count_parameters(module) for _, module in layers]
labels = [f"conv{i + 1}" for i in range(5)] + [f"fc{i + 6}" for i in range(3)]
dense_share = sum(c for (_, m), c in zip(layers, counts) if isinstance(m, nn.Linear)) / sum(counts)
fig, ax = plt.subplots(figsize=(8, 3))
ax.bar(labels, [c / 1e6 for c in counts], color=["C0"] * 5 + ["C3"] * 3)
ax.set_ylabel("parameters (millions)")
ax.set_title(f"AlexNet: {sum(counts):,} parameters, {dense_share:.1%} of them in the dense layers")
plt.show()

# %% [markdown]
# The five convolutions, which do all the feature extraction, hold about 4 % of the weights; the
# first dense layer alone (9216 × 4096) holds over 60 %. Later networks attack exactly that.
#
# ## 2. VGG (Simonyan & Zisserman, 2015)
#
# VGG (runner-up in ILSVRC 2014's classification, winner of its localisation task) asked one question:
# how far does **depth** take you if the convolutions are 3 × 3 with stride 1 and padding 1 (only
# configuration C adds three 1 × 1 convolutions), and every downsampling a 2 × 2 max pool? The
# answer was 16–19 layers and a much better error. The whole family is described by one list —
# output channels of each 3 × 3 convolution, and `"M"` for a max pool:

# %%
from torchvision.models.vgg import cfgs  # noqa: E402  (the configurations of the paper's Table 1)

vgg16_cfg = cfgs["D"]
print("VGG-16:", vgg16_cfg)

# %% [markdown]
# After the convolutions: an adaptive average pool to 7 × 7, then dense 512·7·7 → 4096 → 4096 →
# classes with ReLU and dropout 0.5 (torchvision's order: dense, ReLU, dropout). With
# `batch_norm=True`, each convolution is followed by `nn.BatchNorm2d` before its ReLU.
#
# ### Exercise 2 — `make_vgg`
#
# `make_vgg(cfg, num_classes=1000, batch_norm=False) -> nn.Module`. The check builds VGG-11 with batch
# norm and 10 classes and VGG-13 without batch norm and 1,000 classes, copies torchvision's weights
# (and batch-norm statistics) into yours and compares the outputs on 64 × 48 images, in eval and in
# training mode (VGG-13: eval mode); the graded cell adds VGG-16 (138,357,544 parameters with 1,000
# classes) with 37 classes.

# %% solution="make_vgg"
def make_vgg(cfg, num_classes=1000, batch_norm=False):
    """A VGG network from a configuration list (channels of 3×3 convs, "M" for 2×2 max pooling)."""
    ### BEGIN SOLUTION
    layers, channels = [], 3
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))              # halves H and W
        else:
            layers.append(nn.Conv2d(channels, item, kernel_size=3, padding=1))  # keeps H and W
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            layers.append(nn.ReLU(inplace=True))
            channels = item
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )
    ### END SOLUTION


# %%
check_make_vgg(make_vgg)

# %% tests="make_vgg_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_vgg(make_vgg, strict=True)
### BEGIN HIDDEN TESTS
check_make_vgg(make_vgg, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Why 3 × 3? Exercise 3 — `vgg_stack_params`
#
# Three stacked 3 × 3 convolutions see a 7 × 7 patch (notebook 02), like one 7 × 7 convolution.
# With C channels in and out, count the parameters of both.
#
# `vgg_stack_params(channels, bias=True) -> (three_3x3, one_7x7)`. The check counts the
# parameters of the corresponding `nn.Conv2d` layers, for several channel counts with and without
# bias; the graded cell adds others.

# %% solution="vgg_stack_params"
def vgg_stack_params(channels, bias=True):
    """Parameters of three 3×3 convs C→C, and of one 7×7 conv C→C."""
    ### BEGIN SOLUTION
    biases = channels if bias else 0
    return 3 * (3 * 3 * channels * channels + biases), 7 * 7 * channels * channels + biases
    ### END SOLUTION


# %%
check_vgg_stack_params(vgg_stack_params)

# %% tests="vgg_stack_params_tests" points=1
# Graded (1 point): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_vgg_stack_params(vgg_stack_params, strict=True)
### BEGIN HIDDEN TESTS
check_vgg_stack_params(vgg_stack_params, strict=True, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Without biases that is $27C^2$ against $49C^2$ — 45 % fewer weights for the same field of view,
# and two extra ReLUs in between (a more expressive function). VGG's price: its 3 × 3 convolutions
# on large maps make it slow, and its dense layers still hold most of its 138 M parameters.
#
# ## 3. GoogLeNet (Szegedy et al., 2015)
#
# GoogLeNet won ILSVRC 2014 (top-5 error 6.7 %) with 22 layers and, the paper says, 12 times fewer
# parameters than AlexNet. torchvision's GoogLeNet has 6.6 million, 9 times fewer than its AlexNet's 61.1
# million; its inception branches use a 3 × 3 convolution where the paper's have 5 × 5, which saves
# 0.38 million (with the paper's kernels it would have 7.0 million). It combines **network in network** (Lin et al., 2014:
# 1 × 1 convolutions as small per-pixel networks, global average pooling instead of big dense
# layers) with **inception blocks** — nine of them — that look at the same input through several
# kernel sizes in parallel.
#
# ### 1 × 1 convolutions as channel reduction
#
# A 1 × 1 convolution mixes channels at each pixel and can change their number. Placed before an
# expensive 3 × 3 or 5 × 5 convolution it shrinks the channels that convolution must read: a
# "bottleneck".
#
# ### Exercise 4 — `bottleneck_params`
#
# `bottleneck_params(c_in, c_mid, c_out, kernel_size=3) -> (direct, reduced)`: the weights (no
# biases) of one k × k convolution from c_in to c_out, and of a 1 × 1 convolution c_in → c_mid followed
# by the k × k convolution c_mid → c_out. The check counts them from `nn.Conv2d`, for 3 × 3 and 5 × 5
# kernels; the graded cell adds other channel counts.

# %% solution="bottleneck_params"
def bottleneck_params(c_in, c_mid, c_out, kernel_size=3):
    """Weights of a direct k×k conv, and of a 1×1 reduction followed by the k×k conv."""
    ### BEGIN SOLUTION
    k2 = kernel_size * kernel_size
    return k2 * c_in * c_out, c_in * c_mid + k2 * c_mid * c_out
    ### END SOLUTION


# %%
check_bottleneck_params(bottleneck_params)

# %% tests="bottleneck_params_tests" points=1
# Graded (1 point): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_bottleneck_params(bottleneck_params, strict=True)
### BEGIN HIDDEN TESTS
check_bottleneck_params(bottleneck_params, strict=True, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **Testing the notes' claim.** The lecture notes say that a 1 × 1 convolution "enables about 30 %
# reduction of the number of parameters". Take a 3 × 3 convolution from 128 to 128 channels and put
# a 1 × 1 reduction to 32 channels in front of it:

# %%
direct, reduced = (9 * 128 * 128, 128 * 32 + 9 * 32 * 128)
if check_bottleneck_params(bottleneck_params):
    direct, reduced = bottleneck_params(128, 32, 128)
print(f"direct 3x3: {direct:,} weights; with a 1x1 reduction to 32: {reduced:,} weights")
print(f"the reduced block keeps {reduced / direct:.1%} of the weights: a saving of {1 - reduced / direct:.1%}")

# %%
widths = list(range(8, 129, 8))
kept = [(128 * m + 9 * m * 128) / (9 * 128 * 128) for m in widths]
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(widths, [100 * k for k in kept], "o-")
ax.axhline(100, color="0.5", linestyle="--", label="direct 3 × 3")
ax.set_xlabel("channels after the 1 × 1 reduction (c_mid)")
ax.set_ylabel("weights kept (%)")
ax.set_title("3 × 3 convolution 128 → 128, with a 1 × 1 reduction in front")
ax.legend()
plt.show()

# %% [markdown]
# So "about 30 %" is right only as the fraction *kept* for this example (27.8 %); the saving is
# 72 %. And neither number is a property of 1 × 1 convolutions: the fraction kept is
# $\frac{c_\text{mid}}{9\, c_\text{out}} + \frac{c_\text{mid}}{c_\text{in}}$, which depends entirely on the
# channel numbers — from 7 % with a reduction to 8 channels to 111 % (more weights than without it)
# when the reduction keeps all 128. Compute it for your layer rather than quoting a percentage.
#
# ### The inception module
#
# Four branches read the same input and are concatenated along the channels:
# 1. a 1 × 1 convolution (`c1` channels);
# 2. a 1 × 1 reduction (`c3_reduce`), then a 3 × 3 convolution (`c3`, padding 1);
# 3. a 1 × 1 reduction (`c5_reduce`), then a 5 × 5 convolution (`c5`, padding 2);
# 4. a 3 × 3 max pool with stride 1 and padding 1, then a 1 × 1 projection (`pool_proj`).
#
# Every convolution has a bias and is followed by a ReLU; the output has
# `c1 + c3 + c5 + pool_proj` channels and the input's height and width. Inception (3a), the first
# of the nine, is `(192, 64, 96, 128, 16, 32, 32)`: 192 channels in, 256 out.
#
# ### Exercise 5 — `make_inception`
#
# `make_inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj) -> nn.Module`. The check
# builds yours for inception (3a), (4a) and a small module, copies into it the weights of the paper's
# module (which it builds from six `nn.Conv2d` and ReLUs), layer by layer in the order your forward
# pass runs them, and compares the outputs on odd, non-square inputs — so the branch order
# `[1×1, 3×3, 5×5, pool]` and every ReLU count; the graded cell adds (5b) and a one-channel module on
# other sizes. (torchvision's GoogLeNet differs: batch norm, and a 3 × 3 where the paper has 5 × 5.)

# %% solution="make_inception"
class Inception(nn.Module):
    """GoogLeNet's inception module: four parallel branches, concatenated along channels."""

    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()
        ### BEGIN SOLUTION
        self.branch1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1), nn.ReLU(inplace=True))
        self.branch3 = nn.Sequential(nn.Conv2d(in_channels, c3_reduce, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(c3_reduce, c3, 3, padding=1), nn.ReLU(inplace=True))
        self.branch5 = nn.Sequential(nn.Conv2d(in_channels, c5_reduce, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(c5_reduce, c5, 5, padding=2), nn.ReLU(inplace=True))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                         nn.Conv2d(in_channels, pool_proj, 1), nn.ReLU(inplace=True))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        branches = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]
        return torch.cat(branches, dim=1)   # (N, c1 + c3 + c5 + pool_proj, H, W)
        ### END SOLUTION


def make_inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
    return Inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj)


# %%
check_make_inception(make_inception)

# %% tests="make_inception_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_inception(make_inception, strict=True)
### BEGIN HIDDEN TESTS
check_make_inception(make_inception, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Auxiliary classifiers: training only
#
# With 22 layers, GoogLeNet's authors worried that too little gradient would reach the lower
# layers. They attached two small **auxiliary classifiers** to intermediate inception outputs;
# during training their losses (weighted 0.3) are added to the main loss, injecting gradient
# directly into the lower layers. At test time they are switched off.
#
# ### Exercise 6 — auxiliary heads in `MiniGoogLeNet.forward`
#
# Below is a small GoogLeNet-like network for 32 × 32 images. (Its blocks are plain convolutions,
# not your `Inception`, so this exercise does not depend on the previous one.) Write its `forward`:
# in **training mode** (`self.training` is true) return `(logits, aux1, aux2)`, where `aux1` is
# `self.aux1` applied to the output of `block1` and `aux2` is `self.aux2` applied to the output of
# `block2`; in **eval mode** return `logits` alone, *without running the auxiliary heads*. The
# check verifies the outputs in both modes, that a loss on each auxiliary head reaches the first
# layer, and (with forward hooks) that the heads do not run in eval mode, for 10 and 7 classes; the
# graded cell adds 4 classes.

# %%
class AuxHead(nn.Module):
    """A small auxiliary classifier: pool, 1×1 conv, two dense layers with dropout 0.7 (as the paper)."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.conv = nn.Sequential(nn.Conv2d(in_channels, 32, 1), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 64), nn.ReLU(inplace=True),
                                        nn.Dropout(0.7), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(self.conv(self.pool(x)))


# %% solution="make_mini_googlenet"
def conv_block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True))


class MiniGoogLeNet(nn.Module):
    """stem -> three blocks -> global average pool -> dense; auxiliary heads after blocks 1 and 2."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.block1 = conv_block(32, 56)
        self.block2 = conv_block(56, 88)
        self.block3 = conv_block(88, 128)
        self.aux1 = AuxHead(56, num_classes)
        self.aux2 = AuxHead(88, num_classes)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, num_classes))

    def forward(self, x):
        ### BEGIN SOLUTION
        x = self.block1(self.stem(x))                          # (N, 56, H/2, W/2)
        aux1 = self.aux1(x) if self.training else None
        x = self.block2(x)                                     # (N, 88, H/2, W/2)
        aux2 = self.aux2(x) if self.training else None
        logits = self.head(self.block3(x))                     # (N, num_classes)
        if self.training:
            return logits, aux1, aux2
        return logits
        ### END SOLUTION


def make_mini_googlenet(num_classes=10):
    return MiniGoogLeNet(num_classes)


# %%
check_make_mini_googlenet(make_mini_googlenet)

# %% tests="make_mini_googlenet_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_mini_googlenet(make_mini_googlenet, strict=True)
### BEGIN HIDDEN TESTS
check_make_mini_googlenet(make_mini_googlenet, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# In a training loop the three outputs combine as in the paper:
# `loss = F.cross_entropy(logits, y) + 0.3 * (F.cross_entropy(aux1, y) + F.cross_entropy(aux2, y))`.
#
# ## 4. Choosing a backbone
#
# The table is computed from torchvision's models on the meta device: parameters, the
# multiply–add operations for one 224 × 224 image (counted by `FlopCounterMode`; one multiply–add
# is 2 FLOPs), the share of parameters in dense layers, and the number of layers with weights.
# ResNet (notebook 04) is included for comparison.

# %%
def describe(name):
    with torch.device("meta"):
        model = getattr(torchvision.models, name)(**({"aux_logits": False, "init_weights": False}
                                                     if name == "googlenet" else {}))
        model.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.empty(1, 3, 224, 224))
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    dense = sum(count_parameters(m) for m in weighted if isinstance(m, nn.Linear))
    total = count_parameters(model)
    return (name, total / 1e6, counter.get_total_flops() / 2e9, 100 * dense / total, len(weighted))


rows = [describe(name) for name in ("alexnet", "vgg16", "googlenet", "resnet18", "resnet50")]
table = ["| model | parameters (M) | GMACs per image | params in dense layers | layers with weights |",
         "|---|---|---|---|---|"]
table += [f"| {n} | {p:.1f} | {g:.2f} | {d:.0f} % | {w} |" for n, p, g, d, w in rows]
display(Markdown("\n".join(table)))

# %% [markdown]
# How to read it:
# - **AlexNet**: few operations, but most of its parameters sit in dense layers; historically
#   important, rarely a good choice today.
# - **VGG-16**: simple and uniform (popular for feature extraction and style transfer), but the
#   most computation and 138 M parameters.
# - **GoogLeNet**: the 1 × 1 reductions and global average pooling cut parameters by an order of
#   magnitude at a fraction of VGG's compute; more complex to modify.
# - **ResNet** (next notebook): skip connections make depth trainable; ResNet-50 is the common
#   default backbone.
#
# ## What to remember
#
# - AlexNet: ReLU, GPUs, overlapping pooling, augmentation, dropout; its dense layers hold about 96 %
#   of its 61 M parameters.
# - VGG: only 3 × 3 convolutions and 2 × 2 pools; three 3 × 3 = one 7 × 7 field with $27C^2$ instead
#   of $49C^2$ weights.
# - GoogLeNet: inception blocks of parallel 1 × 1, 3 × 3, 5 × 5 and pooling branches; 1 × 1
#   reductions whose saving depends entirely on the channel numbers; auxiliary classifiers in
#   training only.
