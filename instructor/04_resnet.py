# %% [markdown]
# # 04 · ResNet: why depth needs a shortcut
#
# By 2014, VGG and GoogLeNet had shown that deeper networks see more. The obvious next step —
# stack even more layers — failed, and not because of overfitting. He, Zhang, Ren and Sun
# (*Deep Residual Learning for Image Recognition*, CVPR 2016) found the reason and the fix: let
# each block learn a **correction to its input** instead of a whole new function. An ensemble of
# ResNets, up to 152 layers deep, won ILSVRC 2015 with 3.57 % top-5 test error, and the skip
# connection is now in nearly every deep network, transformers included.
#
# **You will**
# 1. watch a 32-layer plain network train *worse* than an 8-layer one on real digits — and the same
#    32 layers with skip connections train as well as the shallow ones;
# 2. measure the gradient that reaches the first layer, plain vs residual;
# 3. build ResNet's basic block, with identity and projection shortcuts;
# 4. compute ResNet-18's feature-map sizes — and fix the lecture notes' padding;
# 5. build ResNet-18 so exactly that torchvision's weights load into it;
# 6. compare the original block with the "pre-activation" block.
#
# Exercises work as before: replace `raise NotImplementedError()`, run the cell, run the check.
# The whole notebook runs in well under a minute on a laptop CPU. The training demonstrations carry no
# points, so the autograder skips them (`train.autograding()`) to grade a class quickly.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from course_utils import data, train
from course_utils.checks import (check_first_layer_grad_norm, check_make_basic_block, check_make_resnet18,
                                 check_resnet18_shapes)

device = train.pick_device()  # CUDA when available, else the CPU: chosen once
print("device:", device)

# %% [markdown]
# ## 1. The degradation problem
#
# Take a network that trains well and add layers. In principle the deeper network can do at least as
# well: the extra layers could learn the identity and copy their input. In practice He et al. saw the
# opposite: on CIFAR-10 a 56-layer plain network had **higher training error** than a 20-layer one,
# and on ImageNet a 34-layer plain network higher than an 18-layer one. Higher *training* error rules out overfitting (overfitting lowers training error and
# raises test error). The deeper network is simply harder to **optimise** — even with batch norm and
# careful initialisation, which had already fixed the worst vanishing gradients.
#
# We repeat the experiment on the course's real handwritten digits (1,438 training scans, 8 × 8).
# Four networks of the same width (16 channels, 3 × 3 convolutions, batch norm after each):
# - **plain**: `conv → BN → ReLU → conv → BN → ReLU`, repeated;
# - **residual**: the same two convolutions, but the block's input is added back before the last ReLU.
#
# Each is trained with the same optimiser (SGD with momentum, as in the paper), the same batches in
# the same order, for the same 3 epochs.

# %%
class DigitsBlock(nn.Module):
    """Two 3×3 convolutions with batch norm; with residual=True the input is added back (He et al., 2016)."""

    def __init__(self, channels, residual):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x) if self.residual else F.relu(out)


class DigitsNet(nn.Module):
    """A stem, `blocks` blocks and a linear head: 2 · blocks + 2 layers with weights."""

    def __init__(self, blocks, residual, channels=16, block=DigitsBlock):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        self.blocks = nn.Sequential(*[block(channels, residual) for _ in range(blocks)])
        self.fc = nn.Linear(channels, 10)

    def forward(self, x):
        x = self.blocks(self.stem(x))    # (N, 16, 8, 8)
        return self.fc(x.mean(dim=(2, 3)))   # global average pool, then (N, 10)


train_set = data.load_digits("train")
images, labels = train_set.tensors
print(f"{len(train_set)} training images of shape {tuple(images.shape[1:])}")


def train_digits(blocks, residual, epochs=3, block=DigitsBlock):
    """Train one DigitsNet from the same seed on the same batches; return its per-batch training losses."""
    torch.manual_seed(0)
    model = DigitsNet(blocks, residual, block=block).to(device)
    loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = train.fit(model, loader, epochs=epochs, optimizer=optimizer, progress=False)
    return history["train_loss"]


# %%
def smooth(values, window=10):
    """Moving average, so that the curves are readable (the raw per-batch loss is noisy)."""
    values = torch.tensor(values)
    kernel = torch.ones(1, 1, window) / window
    return F.conv1d(F.pad(values[None, None], (window - 1, 0), mode="replicate"), kernel)[0, 0]


runs = {}
if train.autograding():   # a demonstration without points: nbgrader's autograder skips it
    print("Skipped while the autograder runs.")
else:
    start = time.perf_counter()
    for blocks in (3, 15):
        for residual in (False, True):
            name = f"{'residual' if residual else 'plain'}, {2 * blocks + 2} layers"
            runs[name] = train_digits(blocks, residual)
    print(f"trained 4 networks in {time.perf_counter() - start:.1f} s")

    fig, ax = plt.subplots(figsize=(8, 4))
    styles = {"plain, 8 layers": ("C0", ":"), "plain, 32 layers": ("C0", "-"),
              "residual, 8 layers": ("C3", ":"), "residual, 32 layers": ("C3", "-")}
    for name, losses in runs.items():
        colour, line = styles[name]
        ax.plot(smooth(losses), color=colour, linestyle=line,
                label=f"{name} (last epoch {sum(losses[-23:]) / 23:.2f})")
    ax.set_xlabel("training step (batch of 64)")
    ax.set_ylabel("training loss (moving average)")
    ax.set_title("Same data, same steps: the deep plain network trains worst")
    ax.legend()
    plt.show()

# %% [markdown]
# The 32-layer **plain** network ends far above the 8-layer plain network: four times the layers, a much
# worse *training* loss. That is the degradation problem on a small scale. The 32-layer **residual**
# network — the same layers, plus the additions — ends next to the 8-layer residual network and below
# the 8-layer plain one: one addition (`+ x`) per block removes the problem. (The legend's numbers are
# the mean loss over the last epoch's 23 batches.)
#
# ## 2. How much gradient reaches the first layer?
#
# Training moves each weight by its gradient. In a plain network, the gradient for the first layer is a
# product of one factor per layer above it: thirty factors a little below 1 make it vanish, thirty a
# little above 1 make it explode. In a residual network each block computes
# $x_{l+1} = \mathrm{ReLU}(x_l + F(x_l))$, so (ignoring the ReLU) $\partial x_{l+1} / \partial x_l = I +
# \partial F / \partial x_l$: the identity term carries the gradient from the loss straight down, and
# each factor stays close to 1. The textbook story is "vanishing gradients" — but He et al. noted that
# their plain networks, with batch norm, had "healthy" gradient norms. Measure it rather than assume it.
#
# ### Exercise 1 — `first_layer_grad_norm`
#
# `first_layer_grad_norm(model, layer, images, labels) -> float`: the L2 norm of the gradient of the
# cross-entropy loss (averaged over the batch, `F.cross_entropy`'s default) with respect to
# `layer.weight`.
# - Reset the gradients first (`model.zero_grad()`): `.grad` **accumulates** across `backward()` calls.
# - Leave the model as it is: no `model.train()` / `model.eval()`, no optimiser step.
#
# The check compares with `torch.autograd.grad` on a copy of the model, for plain and residual networks
# in training and eval mode, for their first layer and a layer inside them, calling your function twice
# on each model; the graded cell adds a deeper network and other seeds.

# %% solution="first_layer_grad_norm"
def first_layer_grad_norm(model, layer, images, labels):
    """L2 norm of d(mean cross-entropy)/d(layer.weight) for one batch."""
    ### BEGIN SOLUTION
    model.zero_grad()
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    return layer.weight.grad.norm().item()
    ### END SOLUTION


# %%
check_first_layer_grad_norm(first_layer_grad_norm)

# %% tests="first_layer_grad_norm_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_first_layer_grad_norm(first_layer_grad_norm, strict=True)
### BEGIN HIDDEN TESTS
check_first_layer_grad_norm(first_layer_grad_norm, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Now measure it at initialisation, before any training, for networks of growing depth: one batch of
# 128 digits, three random initialisations per depth (the line is their median).

# %%
if train.autograding():   # a demonstration without points
    print("Skipped while the autograder runs.")
elif check_first_layer_grad_norm(first_layer_grad_norm):
    depths, norms = [2, 4, 8, 16, 32], {False: [], True: []}
    batch_x, batch_y = images[:128].to(device), labels[:128].to(device)
    for residual in (False, True):
        for blocks in depths:
            samples = []
            for seed in range(3):
                torch.manual_seed(seed)
                model = DigitsNet(blocks, residual).to(device)
                samples.append(first_layer_grad_norm(model, model.stem[0], batch_x, batch_y))
            norms[residual].append(torch.tensor(samples).median().item())
    layers = [2 * b + 2 for b in depths]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(layers, norms[False], "o-", color="C0", label="plain")
    ax.semilogy(layers, norms[True], "o-", color="C3", label="residual")
    ax.set_xlabel("layers with weights")
    ax.set_ylabel("‖∂loss/∂W‖ of the first layer")
    ax.set_title("Gradient reaching the first layer, at initialisation")
    ax.legend()
    plt.show()
    for residual, name in ((False, "plain"), (True, "residual")):
        growth = norms[residual][-1] / norms[residual][layers.index(10)]
        print(f"{name:>8}: from 10 to {layers[-1]} layers the first layer's gradient grows {growth:,.0f}×")
else:
    print("Finish Exercise 1 to measure the gradients here.")

# %% [markdown]
# The plain networks' gradient does not vanish — it **explodes**, by orders of magnitude between 10 and
# 66 layers. Batch norm keeps the *forward* signal well scaled, but at initialisation it makes the
# gradients of deep plain networks grow exponentially with depth (Yang et al., *A Mean Field Theory of
# Batch Normalization*, ICLR 2019). The bottom layers then get steps far larger, relative to their
# weights, than the top layers, and no single learning rate suits both ends. In the residual networks
# the gradient grows only a few times over the same range: every block stays close to an identity map,
# forward and backward.
#
# ## 3. The residual block
#
# A block that must output $H(x)$ is asked instead to output the **residual** $F(x) = H(x) - x$, and
# the shortcut adds $x$ back:
#
# $$y = \mathrm{ReLU}\big(F(x) + x\big), \qquad F(x) = \mathrm{BN}(W_2 * \mathrm{ReLU}(\mathrm{BN}(W_1 * x))).$$
#
# If the best thing a block can do is nothing, it only has to drive its weights towards zero — much
# easier than learning an identity map through two convolutions and two nonlinearities.
#
# > **A correction to the source notes.** The notes read $H(x) = F(x) + x$ as a goal: "the aim is to
# > minimise $H(x)$, that is $F(x) + x$; $x$ is fixed, so the aim is to minimise $F(x)$; as $F(x)$ goes
# > to 0, $H(x)$ equals $x$ — so the closer the output is to the input, the better the network
# > performs." Neither step holds. Training minimises the **loss**, not $H(x)$ or $F(x)$: $F$ becomes
# > whatever the loss needs, and nothing pushes it to zero for its own sake. And the identity is not
# > the aim — a stack of identities computes nothing. He et al.'s argument (*Deep Residual Learning*,
# > CVPR 2016, §3.1) is about what is easy to *reach*: a block that is not needed can fall back to
# > the identity by setting $F$ to zero, so a deeper residual network should train no worse than a
# > shallower one; and where the best mapping is *close* to the identity, a small correction $F$ is
# > easier to find than the whole mapping. The paper says outright that identity mappings are unlikely
# > to be optimal in practice; the reformulation only *preconditions* the problem. (Its Fig. 7 found
# > the learned residuals' responses small — close to the identity, not equal to it.)
#
# ResNet's **basic block** (used in ResNet-18 and -34):
#
# ```
# x ─┬─ conv 3×3 (stride s) ─ BN ─ ReLU ─ conv 3×3 ─ BN ─(+)─ ReLU ─ y
#    └──────────────────── shortcut ────────────────────┘
# ```
#
# - **Identity shortcut**: when the block keeps the size and the channels, the shortcut is $x$ itself
#   — no parameters, no computation.
# - **Projection shortcut**: when the block halves the size (stride 2) or changes the channels, $x$ no
#   longer has $y$'s shape; a **1 × 1 convolution with the same stride**, followed by batch norm,
#   projects it (option B of the paper).
# - **Batch norm after every convolution**, before the ReLU; the convolutions therefore need no bias
#   (batch norm subtracts the mean, and adds its own learned shift).
#
# ### Exercise 2 — `BasicBlock`
#
# Complete `BasicBlock(in_channels, out_channels, stride=1)`, mapping (N, in_channels, H, W) to
# (N, out_channels, ⌊(H − 1) / stride⌋ + 1, ⌊(W − 1) / stride⌋ + 1). Name the layers as torchvision
# does — `conv1`, `bn1`, `conv2`, `bn2`, and `downsample` (an `nn.Sequential` of the 1 × 1 convolution
# and its `BatchNorm2d`, or `None` for an identity shortcut) — so that the `state_dict` keys match and
# real ResNet weights could load. The stride goes on the first 3 × 3 convolution.
#
# The check builds your block for an identity shortcut and for projections (for a new stride and
# channel count, a stride alone, a channel count alone), loads random weights and batch-norm statistics
# from torchvision's `BasicBlock` into it, and compares the outputs in eval and training mode on odd,
# non-square inputs; the graded cell adds other sizes and seeds.

# %% solution="make_basic_block"
class BasicBlock(nn.Module):
    """ResNet's basic block: two 3×3 convolutions with batch norm, plus a shortcut (He et al., 2016)."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None   # identity shortcut
        if stride != 1 or in_channels != out_channels:   # projection shortcut (option B)
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        identity = x if self.downsample is None else self.downsample(x)   # (N, out_channels, H', W')
        out = F.relu(self.bn1(self.conv1(x)))                              # (N, out_channels, H', W')
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)
        ### END SOLUTION


def make_basic_block(in_channels, out_channels, stride=1):
    return BasicBlock(in_channels, out_channels, stride)


# %%
check_make_basic_block(make_basic_block)

# %% tests="make_basic_block_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_basic_block(make_basic_block, strict=True)
### BEGIN HIDDEN TESTS
check_make_basic_block(make_basic_block, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. A residual network is many networks at once
#
# Veit, Wilber and Belongie (*Residual Networks Behave Like Ensembles of Relatively Shallow Networks*,
# NIPS 2016) unrolled the sum: each block either applies its $F$ or lets the signal skip past, so
# $n$ blocks contain $2^n$ paths from input to output, of every length from 0 to $n$. The number of
# paths of length $k$ is $\binom{n}{k}$ — most of them are about $n/2$ blocks long. They also showed that
# deleting a single block from a trained ResNet barely hurts it, while deleting a layer of VGG destroys
# it: the paths act like an ensemble.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, (n, label) in zip(axes, [(8, "ResNet-18 (8 basic blocks)"), (54, "ResNet-110 (54 basic blocks)")]):
    counts = [math.comb(n, k) for k in range(n + 1)]
    ax.bar(range(n + 1), [c / 2 ** n for c in counts], color="C3")
    ax.set_title(f"{label}: 2^{n} = {2 ** n:.3g} paths")
    ax.set_xlabel("blocks on the path")
    ax.set_ylabel("share of all paths")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. ResNet-18
#
# ResNet-18 is the smallest ImageNet ResNet: a stem, four **stages** of two basic blocks each, and a
# classifier. The first block of stages 2–4 halves the feature map (stride 2) and doubles the
# channels, so it needs a projection shortcut; all other shortcuts are identities.
#
# | part | layers | output for a 224 × 224 × 3 image |
# |---|---|---|
# | conv1 | 7 × 7 conv, 64, stride 2, **padding 3**; BN; ReLU | 112 × 112 × 64 |
# | maxpool | 3 × 3 max pool, stride 2, padding 1 | 56 × 56 × 64 |
# | layer1 | 2 basic blocks, 64 channels | 56 × 56 × 64 |
# | layer2 | 2 basic blocks, 128 channels (the first with stride 2) | 28 × 28 × 128 |
# | layer3 | 2 basic blocks, 256 channels (the first with stride 2) | 14 × 14 × 256 |
# | layer4 | 2 basic blocks, 512 channels (the first with stride 2) | 7 × 7 × 512 |
# | avgpool, fc | adaptive average pool to 1 × 1; dense 512 → 1000 | 1000 logits |
#
# Counting the layers with weights on the main path: 1 + 4 · 2 · 2 + 1 = 18. The softmax is not part of
# the network: `nn.CrossEntropyLoss` applies it (as log-softmax) inside the loss, so the model returns
# logits.
#
# **A correction to the lecture notes.** The notes give the stem as a 7 × 7 convolution with stride 2
# and padding 1. With the size formula from notebook 01, $\lfloor (n + 2p - k)/s \rfloor + 1$, that
# cannot produce 112 × 112. Let PyTorch decide:

# %%
for padding in (1, 3):
    with torch.device("meta"):  # shapes only: no memory, no computation
        stem = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=padding)
        out = stem(torch.empty(1, 3, 224, 224))
    print(f"7×7 conv, stride 2, padding {padding}: 224 × 224 → {out.shape[2]} × {out.shape[3]}")

# %% [markdown]
# Padding 3 — that is, $\lfloor k/2 \rfloor$ for an odd kernel $k$ — is what keeps the output at exactly
# half the input.
#
# ### Exercise 3 — `resnet18_shapes`
#
# `resnet18_shapes(height, width) -> dict`: the (channels, height, width) of the feature map after each
# part, with keys `"conv1"`, `"maxpool"`, `"layer1"`, `"layer2"`, `"layer3"`, `"layer4"`, for an input of
# any size — not only 224 × 224. Use the size formula (integer arithmetic); the stride-2 blocks halve
# the size with a 3 × 3 convolution of padding 1 (their 1 × 1 projection gives the same size).
#
# The check compares with the shapes torchvision's `resnet18` produces (recorded with forward hooks
# on the meta device) for square images, images wider than high and higher than wide, and odd sizes;
# the graded cell adds other sizes.

# %% solution="resnet18_shapes"
def resnet18_shapes(height, width):
    """(C, H, W) after conv1, maxpool and layer1 … layer4 of ResNet-18 for a (3, height, width) image."""
    ### BEGIN SOLUTION
    def size(n, k, s, p):
        return (n + 2 * p - k) // s + 1

    h, w = size(height, 7, 2, 3), size(width, 7, 2, 3)
    shapes = {"conv1": (64, h, w)}
    h, w = size(h, 3, 2, 1), size(w, 3, 2, 1)
    shapes["maxpool"] = shapes["layer1"] = (64, h, w)
    for name, channels in (("layer2", 128), ("layer3", 256), ("layer4", 512)):
        h, w = size(h, 3, 2, 1), size(w, 3, 2, 1)
        shapes[name] = (channels, h, w)
    return shapes
    ### END SOLUTION


# %%
check_resnet18_shapes(resnet18_shapes)

# %% tests="resnet18_shapes_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_resnet18_shapes(resnet18_shapes, strict=True)
### BEGIN HIDDEN TESTS
check_resnet18_shapes(resnet18_shapes, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 4 — `ResNet18`
#
# Complete `ResNet18(num_classes=1000, block=BasicBlock)`, mapping (N, 3, H, W) images to
# (N, num_classes) logits, following the table above and torchvision's names: `conv1`, `bn1`, `relu`,
# `maxpool`, `layer1` … `layer4` (use `_make_stage`, given), `avgpool`, `fc`. Its `state_dict` must
# have exactly the keys and shapes of `torchvision.models.resnet18()`.
#
# The blocks come from the `block` argument, which defaults to your `BasicBlock`. The check passes the
# course's reference block instead, so this exercise is graded on the stem, the stages and the head
# alone. It compares the keys and shapes with torchvision's, the output shape of every part for a
# 224 × 224 image, and then **loads torchvision's (randomly initialised) weights into your model with
# `strict=True`** and compares the logits with torchvision's: for 10 classes in eval and in training
# mode, and for 1,000 classes in eval mode, on non-square inputs. The graded cell adds other sizes and
# class counts.

# %% solution="make_resnet18"
class ResNet18(nn.Module):
    """ResNet-18 (He et al., 2016), with torchvision's parameter names."""

    def __init__(self, num_classes=1000, block=BasicBlock):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_stage(block, 64, 64, stride=1)
        self.layer2 = self._make_stage(block, 64, 128, stride=2)
        self.layer3 = self._make_stage(block, 128, 256, stride=2)
        self.layer4 = self._make_stage(block, 256, 512, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        ### END SOLUTION

    @staticmethod
    def _make_stage(block, in_channels, out_channels, stride):
        """Two blocks: the first may change the stride and the channels, the second keeps them."""
        return nn.Sequential(block(in_channels, out_channels, stride), block(out_channels, out_channels, 1))

    def forward(self, x):
        ### BEGIN SOLUTION
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))   # (N, 64, 56, 56)
        x = self.layer1(x)                                      # (N, 64, 56, 56)
        x = self.layer2(x)                                      # (N, 128, 28, 28)
        x = self.layer3(x)                                      # (N, 256, 14, 14)
        x = self.layer4(x)                                      # (N, 512, 7, 7)
        x = torch.flatten(self.avgpool(x), 1)                   # (N, 512)
        return self.fc(x)                                       # (N, num_classes)
        ### END SOLUTION


def make_resnet18(num_classes=1000, block=BasicBlock):
    return ResNet18(num_classes, block)


# %%
check_make_resnet18(make_resnet18)

# %% tests="make_resnet18_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_resnet18(make_resnet18, strict=True)
### BEGIN HIDDEN TESTS
check_make_resnet18(make_resnet18, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# With both exercises done, your own blocks and your own network together load torchvision's weights.
# (In a course without a network connection the weights are random; with `weights="DEFAULT"`, the same
# line would load the ImageNet-trained ones.)

# %%
if check_make_basic_block(make_basic_block) and check_make_resnet18(make_resnet18):
    torch.manual_seed(0)
    mine, theirs = ResNet18().eval(), torchvision.models.resnet18().eval()
    print(mine.load_state_dict(theirs.state_dict(), strict=True))
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        print("same logits:", torch.allclose(mine(x), theirs(x), atol=1e-5))
else:
    print("Finish Exercises 2 and 4 to load torchvision's weights into your own ResNet-18.")

# %% [markdown]
# Where do ResNet-18's 11.7 million parameters sit? Counted on torchvision's model (so this works
# before you finish the exercises):

# %%
with torch.device("meta"):
    resnet = torchvision.models.resnet18()
parts = ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]
counts = [train.count_parameters(getattr(resnet, part)) for part in parts]
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar(parts, [c / 1e6 for c in counts], color=["C7", "C3", "C3", "C3", "C3", "C0"])
ax.set_ylabel("parameters (millions)")
ax.set_title(f"ResNet-18: {train.count_parameters(resnet):,} parameters; "
             f"{counts[4] / train.count_parameters(resnet):.0%} in layer4")
plt.show()

# %% [markdown]
# Doubling the channels quadruples a 3 × 3 convolution's weights ($9 C^2$), so the last stage holds most
# of the parameters, while the dense head — 96 % of AlexNet's weights (notebook 03) — is now a single
# 512 × 1000 layer after global average pooling.
#
# ## 6. Where should batch norm and ReLU go?
#
# The original block ends with a ReLU *after* the addition, so the shortcut path still passes through a
# nonlinearity at every block. In *Identity Mappings in Deep Residual Networks* (ECCV 2016), He et al.
# tried the alternatives and found the best was **pre-activation**: BN and ReLU move *before* each
# convolution, and nothing follows the addition,
#
# $$x_{l+1} = x_l + W_2 * \mathrm{ReLU}(\mathrm{BN}(W_1 * \mathrm{ReLU}(\mathrm{BN}(x_l)))),$$
#
# so that $x_L = x_l + \sum_{i=l}^{L-1} F(x_i)$: any block's signal reaches any later block, forward and
# backward, unchanged. Their CIFAR-10 results (test error, Table 3 of the paper): 6.61 % → 6.37 % for
# 110 layers, 5.93 % → 5.46 % for 164 layers, and 7.61 % → 4.92 % for 1001 layers, where the original
# block had started to degrade. The gain grows with depth.
#
# A small measurement of our own: the 32-layer residual network of section 1, with pre-activation
# blocks instead, trained on exactly the same batches.

# %%
class PreActDigitsBlock(nn.Module):
    """Pre-activation block (He et al., ECCV 2016): BN → ReLU → conv, twice; nothing after the addition."""

    def __init__(self, channels, residual=True):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return x + out


if train.autograding():   # a demonstration without points
    print("Skipped while the autograder runs.")
else:
    runs["pre-activation, 32 layers"] = train_digits(15, True, block=PreActDigitsBlock)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name, colour in (("plain, 32 layers", "C0"), ("residual, 32 layers", "C3"),
                         ("pre-activation, 32 layers", "C2")):
        last = sum(runs[name][-23:]) / 23
        ax.plot(smooth(runs[name]), color=colour, label=f"{name} (last epoch {last:.3f})")
    ax.set_yscale("log")
    ax.set_xlabel("training step (batch of 64)")
    ax.set_ylabel("training loss (moving average, log scale)")
    ax.set_title("32 layers on the digits: post- vs pre-activation")
    ax.legend()
    plt.show()

# %% [markdown]
# At 32 layers both residual versions train far better than the plain network, and the difference
# between them is small: a single short run on 1,438 digits cannot settle the question. The paper's
# evidence is the place to look: the advantage of pre-activation is small at ~100 layers and large at
# 1,000. torchvision's ResNets keep the original (post-activation) block, which is the one whose
# weights you just loaded.
#
# ## What to remember
#
# - Deeper plain networks can have higher **training** error than shallower ones: an optimisation
#   problem (degradation), not overfitting.
# - A residual block learns $F(x) = H(x) - x$ and outputs $\mathrm{ReLU}(F(x) + x)$; the identity term
#   carries the gradient to the first layers, so depth becomes trainable. The loss, not $F$, is what
#   training minimises: $F = 0$ is an easy fallback, not a goal (the notes' reading is wrong).
# - Shortcuts are identities when shapes match, and 1 × 1 convolutions with the block's stride
#   (plus batch norm) when the size halves or the channels change.
# - ResNet-18: 7 × 7/2 stem with **padding 3** (the notes' padding 1 gives 110, not 112), 3 × 3/2 max
#   pool, four stages of two basic blocks (64, 128, 256, 512 channels), global average pool, one dense
#   layer — logits, with the softmax left to the loss.
# - $n$ residual blocks hold $2^n$ paths of mixed lengths; pre-activation blocks (BN → ReLU → conv)
#   keep the shortcut path completely clean and help most in very deep networks.
