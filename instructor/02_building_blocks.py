# %% [markdown]
# # 02 · Building blocks: pooling, activations, batch norm, receptive fields
#
# A convolutional network has two halves. **Convolution and pooling layers extract
# features**: edges, then textures, then parts. **Fully connected layers make the
# decision** from those features (which digit, which object). Notebook 01 built the
# convolution; this one builds the other pieces that make deep CNNs work and then trains a
# first CNN on real handwritten digits.
#
# **You will**
# 1. implement max and average pooling, including the overlapping 3 × 3 / 2 pooling of AlexNet;
# 2. measure why ReLU replaced the sigmoid in deep networks, how sparse its activations are, and see that
#    a ReLU network is a piecewise-linear function;
# 3. implement batch normalisation as a layer really runs it — in training *and* eval mode — and test
#    the original explanation of why it helps;
# 4. write a softmax that survives logits in the thousands;
# 5. compute receptive fields, and see why three stacked 3 × 3 convolutions see 7 × 7;
# 6. design, train and evaluate a small CNN on 1,797 real scanned digits (target: ≥ 98 % test accuracy).
#
# Exercises work as in notebook 01: replace `raise NotImplementedError()`, run the cell, run
# the check below it. Budget: the whole notebook runs in well under a minute on a laptop CPU.

# %%
import copy
import time

import matplotlib.pyplot as plt
import numpy as np  # noqa: F401 - for your own code
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import data, plots, train, widgets
from course_utils.checks import (check_avg_pool2d, check_batch_norm, check_make_digits_cnn, check_max_pool2d,
                                 check_receptive_field, check_softmax)

device = train.pick_device()  # CUDA when available, else the CPU: chosen once
print("device:", device)

# %% [markdown]
# ## 1. Pooling
#
# A pooling layer summarises each small window of a feature map by one number — its
# **maximum** (max pooling) or its **mean** (average pooling) — separately for every channel.
# With a 2 × 2 window and stride 2 it halves the height and width. Why shrink?
#
# - **Less compute** in every later layer (a quarter of the positions after each 2 × 2 pooling).
# - **Fewer parameters downstream**: the dense layers at the end see a smaller map.
# - **Some robustness**: a feature that moves by a pixel inside a window gives the same maximum.
#   Less detail also means less to overfit to.
#
# Max pooling keeps the strongest response ("is this feature present anywhere here?") and is
# the usual choice inside networks; average pooling keeps the overall level. AlexNet
# (Krizhevsky, Sutskever & Hinton, 2012) used **overlapping** pooling — 3 × 3 windows with
# stride 2 — and reported slightly lower error than non-overlapping 2 × 2 windows.
#
# The output size follows the convolution formula with dilation 1:
# $H_\text{out} = \lfloor (H + 2p - k)/s \rfloor + 1$, and `stride=None` means stride = kernel size.
# Padding for max pooling acts as $-\infty$ (a padded position never wins), and for average
# pooling as zeros that *count* in the divisor (PyTorch's default `count_include_pad=True`).
#
# ### Exercise 1 — `max_pool2d`
#
# `max_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor`
# - `x`: (N, C, H, W); `kernel_size`, `stride`, `padding`: int or pair (along H, along W);
# - returns (N, C, H_out, W_out). The check compares with `F.max_pool2d` (which you may not call)
#   on non-square inputs, overlapping windows, padding, `stride=None`, a window covering the whole
#   map, and kernel, stride and padding that differ along H and W; the graded cell adds other sizes
#   and seeds. `F.pad(x, ..., value=...)` and `Tensor.unfold` are allowed; `pair` below turns an int
#   into a pair.

# %%
def pair(value):
    """3 -> (3, 3); (2, 1) -> (2, 1)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# %% solution="max_pool2d"
def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over each (kh, kw) window of each channel, windows every (sh, sw) pixels."""
    ### BEGIN SOLUTION
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(kernel_size if stride is None else stride)
    padded = F.pad(x, (pw, pw, ph, ph), value=float("-inf"))   # padding never wins the max
    windows = padded.unfold(2, kh, sh).unfold(3, kw, sw)       # (N, C, H_out, W_out, kh, kw)
    return windows.amax(dim=(-2, -1))
    ### END SOLUTION


# %%
check_max_pool2d(max_pool2d)

# %% tests="max_pool2d_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_max_pool2d(max_pool2d, strict=True)
### BEGIN HIDDEN TESTS
check_max_pool2d(max_pool2d, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 — `avg_pool2d`
#
# Same signature and shapes as `max_pool2d`; each window's mean, with padded zeros counted in the
# divisor (every window is divided by $k_h k_w$). Compared with `F.avg_pool2d` on the same cases as
# `max_pool2d` (the graded cell adds the same other sizes and seeds).

# %% solution="avg_pool2d"
def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over each (kh, kw) window of each channel; padded zeros count in the mean."""
    ### BEGIN SOLUTION
    (kh, kw), (ph, pw) = pair(kernel_size), pair(padding)
    sh, sw = pair(kernel_size if stride is None else stride)
    padded = F.pad(x, (pw, pw, ph, ph))
    return padded.unfold(2, kh, sh).unfold(3, kw, sw).mean(dim=(-2, -1))
    ### END SOLUTION


# %%
check_avg_pool2d(avg_pool2d)

# %% tests="avg_pool2d_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_avg_pool2d(avg_pool2d, strict=True)
### BEGIN HIDDEN TESTS
check_avg_pool2d(avg_pool2d, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Pooling a photograph three times with 2 × 2 windows: max pooling keeps thin bright structures
# (the tripod, the buildings) that averaging washes out.

# %%
photo = data.load_image("camera", gray=True, size=256)[None, None]     # (1, 1, 256, 256)
pools = {"max": F.max_pool2d, "average": F.avg_pool2d}
if check_max_pool2d(max_pool2d) and check_avg_pool2d(avg_pool2d):
    pools = {"max (yours)": max_pool2d, "average (yours)": avg_pool2d}
pictures, titles = [photo[0, 0]], ["256 × 256"]
for name, pool in pools.items():
    x = photo
    for _ in range(3):
        x = pool(x, 2)
    pictures.append(x[0, 0])
    titles.append(f"{name} pooled ×3: {x.shape[-2]} × {x.shape[-1]}")
plots.show_images(pictures, titles, size=3.2)
plt.show()

# %% [markdown]
# **Global average pooling** (Lin, Chen & Yan, *Network in Network*, 2014) averages each whole
# channel to one number. `nn.AdaptiveAvgPool2d(output_size)` generalises it: it picks the
# windows so that *any* input size gives the requested output size — which is how ResNet and
# most modern networks accept images of any size before their dense layer.

# %%
gap = nn.AdaptiveAvgPool2d(1)
for size in [(7, 7), (10, 13), (33, 20)]:
    features = torch.randn(2, 512, *size)
    print(f"features {tuple(features.shape)} -> {tuple(gap(features).shape)}")

# %% [markdown]
# ## 2. Why ReLU: gradients through depth
#
# Back-propagation multiplies, layer by layer, the weights and the derivative of the
# activation. The sigmoid's derivative $\sigma'(x) = \sigma(x)(1 - \sigma(x))$ is at most
# $1/4$, so through many layers the gradient shrinks geometrically: the first layers barely
# learn (the *vanishing gradient*). ReLU, $\max(0, x)$, has derivative exactly 1 wherever
# it is active, so the gradient passes through unchanged there. (AlexNet's own argument for it,
# §3.1, was speed: networks of such non-saturating units trained several times faster than with
# tanh.) The experiment: the same 20-layer network with each activation, one
# batch of real digits, and the gradient norm reaching each layer's weights. To be fair, each
# activation gets a weight initialisation made for it: for the sigmoid, Glorot & Bengio's (2010),
# derived for a symmetric activation with f′(0) = 1 such as tanh and the usual choice for the
# sigmoid too; for ReLU, He et al.'s (2015). (With PyTorch's default initialisation ReLU's gradients
# also shrink with depth, only far less; try it by removing the `init` lines.)

# %%
def gradient_norms(activation, depth=20, width=64, seed=0):
    """Gradient norm of each layer's weights after one backward pass on real digits."""
    torch.manual_seed(seed)
    layers = [nn.Flatten(), nn.Linear(64, width), activation()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    for module in model:
        if isinstance(module, nn.Linear):
            if activation is nn.ReLU:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")   # He et al., 2015
            else:
                nn.init.xavier_normal_(module.weight)                         # Glorot & Bengio, 2010
            nn.init.zeros_(module.bias)
    x, y = data.load_digits("train").tensors
    F.cross_entropy(model(x[:256]), y[:256]).backward()
    return [m.weight.grad.norm().item() for m in model if isinstance(m, nn.Linear)]


fig, ax = plt.subplots(figsize=(7, 3.2))
for activation in (nn.Sigmoid, nn.ReLU):
    norms = gradient_norms(activation)
    ax.semilogy(range(1, len(norms) + 1), norms, "o-", label=activation.__name__)
ax.set_xlabel("layer (1 = nearest the input)")
ax.set_ylabel("gradient norm (log scale)")
ax.set_title("20 layers, each activation with its own initialisation, one batch of digits")
ax.legend()
plt.show()

# %% [markdown]
# With the sigmoid, the first layer receives a gradient about $10^{12}$ times smaller than the
# last, so it barely learns; with ReLU the gradient reaches the first layer at about the same
# size as the last.
#
# ### Sparse activations
#
# ReLU has two more properties worth seeing. The first: it outputs **exactly zero** for every
# negative input, so for a given image a good share of the hidden units are simply off — not
# small, zero. Glorot, Bordes and Bengio (*Deep Sparse Rectifier Neural Networks*, AISTATS 2011)
# argued that this sparsity helps: each input is described by a small set of active units, a
# different set for different inputs, and the off units pass no gradient for that input. A
# sigmoid or tanh unit is never exactly zero.
#
# The measurement: a small ReLU network (64 → 128 → 128 → 10) on the digits, before training and
# after 600 steps of SGD (momentum 0.9, batches of 64, about a second). For each hidden layer, the
# share of exactly-zero activations over the test digits, and the share of *dead* units (zero for
# every test digit).

# %%
def train_digits_mlp(steps=600, seed=0):
    """A 64-128-128-10 ReLU network trained on the digits with SGD; `steps=0` leaves it untrained."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    x, y = data.load_digits("train").tensors
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    batches = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        index = torch.randint(len(x), (64,), generator=batches)
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def hidden_activations(model, x):
    """The output of every ReLU of a Sequential model, in order."""
    outputs = []
    with torch.no_grad():
        for module in model:
            x = module(x)
            if isinstance(module, nn.ReLU):
                outputs.append(x)
    return outputs


digits_x, digits_y = data.load_digits("test").tensors
relu_net = train_digits_mlp()
for name, model in (("untrained", train_digits_mlp(steps=0)), ("trained", relu_net)):
    with torch.no_grad():
        accuracy = (model(digits_x).argmax(dim=1) == digits_y).float().mean()
    hidden = hidden_activations(model, digits_x)                         # [(359, 128), (359, 128)]
    shares = [(h == 0).float().mean() for h in hidden]
    dead = [(h == 0).all(dim=0).float().mean() for h in hidden]
    print(f"{name:>9} (test accuracy {accuracy:.1%}): exact zeros per hidden layer "
          + ", ".join(f"{share:.0%}" for share in shares) + "; dead units " + ", ".join(f"{d:.0%}" for d in dead))

# %% [markdown]
# Which units are off, digit by digit: the first hidden layer of the trained network on 40 test
# digits sorted by label (black = exactly zero). Each digit switches on its own subset of units, and
# digits of one class switch on similar subsets.

# %%
order = digits_y.argsort()[::9][:40]
first_layer = hidden_activations(relu_net, digits_x[order])[0]          # (40, 128)
fig, ax = plt.subplots(figsize=(9, 3.2))
ax.imshow((first_layer > 0).float(), cmap="gray", aspect="auto", interpolation="nearest")
ax.set_yticks(range(0, 40, 4), [str(digits_y[i].item()) for i in order[::4]])
ax.set_xlabel("hidden unit of layer 1")
ax.set_ylabel("test digit (label)")
ax.set_title(f"active (white) and exactly-zero (black) units: {(first_layer == 0).float().mean():.0%} zeros")
plt.show()

# %% [markdown]
# ### A ReLU network is a piecewise-linear function
#
# The second property, which the lecture notes list as ReLU "preserving properties of linear models":
# each ReLU is linear on either side of zero. Fix which units are on — the network's *activation
# pattern* — and every layer is a matrix product plus a bias, so the whole network is **affine**.
# The input space is therefore cut into regions, one per activation pattern, and inside each region the
# network is exactly affine (linear plus a constant); it bends only on the borders, where some unit
# switches. (Montúfar,
# Pascanu, Cho and Bengio, *On the Number of Linear Regions of Deep Neural Networks*, NeurIPS 2014,
# showed that the number of regions can grow exponentially with depth.)
#
# Check it along a straight line between two test digits, $x(t) = (1 - t)\,a + t\,b$, at 2,001 values of
# $t$: take the trained network's score for $b$'s class and its **second differences**
# $f(t - h) - 2f(t) + f(t + h)$, zero wherever $f$ is linear over the three points. We compute in float64
# so that rounding does not hide the zeros.

# %%
exact = copy.deepcopy(relu_net).double()
a, b = digits_x[0].double(), digits_x[1].double()
t = torch.linspace(0, 1, 2001, dtype=torch.float64)
line = (1 - t).view(-1, 1, 1, 1) * a + t.view(-1, 1, 1, 1) * b            # (2001, 1, 8, 8)
with torch.no_grad():
    score = exact(line)[:, digits_y[1]]                                   # (2001,)
pattern = torch.cat(hidden_activations(exact, line), dim=1) > 0         # (2001, 256): which units are on
switches = (pattern[1:] != pattern[:-1]).any(dim=1)                     # a unit switches between t_i and t_i+1
second = score[2:] - 2 * score[1:-1] + score[:-2]                       # centred at t_1 … t_1999
near_switch = switches[:-1] | switches[1:]                              # the three points straddle a switch
print(f"activation pattern changes {int(switches.sum())} times along the line")
print(f"second differences away from a switch: largest |value| {second[~near_switch].abs().max():.1e} "
      f"(float64 rounding) at {int((~near_switch).sum())} points")
print(f"second differences at a switch: largest |value| {second[near_switch].abs().max():.1e} "
      f"at {int(near_switch.sum())} points")

fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.4), sharex=True)
top.plot(t, score)
for kink in t[1:][switches]:
    top.axvline(kink, color="crimson", linewidth=0.6, alpha=0.5)
top.set_ylabel(f"score for class {digits_y[1].item()}")
top.set_title(f"from a {digits_y[0].item()} (t = 0) to a {digits_y[1].item()} (t = 1); red: a unit switches")
bottom.plot(t[1:-1], second.abs() + 1e-18)
bottom.set_yscale("log")
bottom.set_ylabel("|second difference|")
bottom.set_xlabel("t")
plt.show()

# %% [markdown]
# Between the red lines the score is a straight segment (its second differences are rounding
# noise); all the bending happens where a unit switches on or off. The network's
# output is a patchwork of linear pieces, and its gradient with respect to the input is constant
# inside each piece.
#
# ## 3. Batch normalisation
#
# Ioffe and Szegedy (*Batch Normalization*, 2015) normalise each feature with the statistics of
# the current mini-batch, then let the network rescale it. For a convolutional feature map the
# statistics are **per channel, over (N, H, W)** — all positions of all images share a
# channel's scale. With $m = N H W$ values per channel:
#
# $$\mu = \frac{1}{m}\sum x, \quad \sigma^2 = \frac{1}{m}\sum (x - \mu)^2, \quad
#   \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y = \gamma \hat x + \beta .$$
#
# At test time there may be a single image, so the layer keeps **running statistics** during
# training and uses them in **eval mode**. PyTorch updates them with momentum $\alpha$ (default 0.1)
# as $\text{running} \leftarrow (1 - \alpha)\,\text{running} + \alpha \cdot \text{batch}$, and the
# running *variance* uses the unbiased batch variance $\frac{m}{m - 1}\sigma^2$ (the normalisation
# itself uses the biased $\sigma^2$).
#
# ### Exercise 3 — `batch_norm`
#
# `batch_norm(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5)`
# - `x`: (N, C, H, W); `running_mean`, `running_var`, `weight` (γ), `bias` (β): (C,); `training`: bool;
# - returns the tuple `(y, new_running_mean, new_running_var)`, without changing its inputs:
#   in training mode, normalise with the batch statistics and return updated running statistics;
#   in eval mode, normalise with the running statistics and return them unchanged.
#
# The check loads the same numbers into `nn.BatchNorm2d` and compares all three results in training
# and eval mode, with other momentum and `eps` values, and with channels so quiet (spread 1e-3) that
# `eps`, and its place inside the square root, change the result; the graded cell adds other sizes and
# seeds. You may not call a torch batch-norm function.

# %% solution="batch_norm"
def batch_norm(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
    """Batch normalisation of (N, C, H, W) features; returns (y, new_running_mean, new_running_var)."""
    ### BEGIN SOLUTION
    if training:
        m = x.numel() // x.shape[1]                       # values per channel: N·H·W
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)        # biased: used to normalise
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)   # unbiased for the running var
    else:
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean.clone(), running_var.clone()
    x_hat = (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + eps)
    return weight.view(1, -1, 1, 1) * x_hat + bias.view(1, -1, 1, 1), new_mean, new_var
    ### END SOLUTION


# %%
check_batch_norm(batch_norm)

# %% tests="batch_norm_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_batch_norm(batch_norm, strict=True)
### BEGIN HIDDEN TESTS
check_batch_norm(batch_norm, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# The two modes matter in practice: in training mode an image's output depends on the other
# images in its batch; in eval mode it does not. Forgetting `model.eval()` before testing is a
# classic bug.

# %%
layer = nn.BatchNorm2d(3)
batch = torch.randn(8, 3, 4, 4)
layer.train()
alone, together = layer(batch[:1]), layer(batch)[:1]
print("training mode, image 0 alone vs in its batch: same output?", torch.allclose(alone, together))
layer.eval()
print("eval mode,     image 0 alone vs in its batch: same output?", torch.allclose(layer(batch[:1]), layer(batch)[:1]))

# %% [markdown]
# ### Why does batch norm help? The original reason, and a later finding
#
# Ioffe and Szegedy's motivation was **internal covariate shift**: a layer's inputs are the outputs
# of the layers below, whose weights change at every step, so the distribution each layer sees keeps
# moving and the layer must keep re-adapting to it. Fixing every feature's mean and variance was meant
# to stop that drift, and so to allow higher learning rates. The lecture notes give this reason too
# (as "Internal Covariance Shift"; the term is *covariate*: the inputs' distribution).
#
# Santurkar, Tsipras, Ilyas and Madry (*How Does Batch Normalization Help Optimization?*, NeurIPS 2018)
# tested the explanation directly. They injected random noise after every batch-norm layer, with a
# non-zero mean and a non-unit variance that changed at every step, so the layers' input distributions
# moved far more than with ordinary batch norm — and the networks still trained about as well as with
# ordinary batch norm, and better than without it. Their account of what batch norm does instead: it
# makes the loss landscape **smoother** (the loss and its gradient change more slowly as the weights
# move), so the gradient is a more reliable guide and larger steps are safe.
#
# A small version on the digits: an 8-layer ReLU network (width 64, He initialisation), 300 SGD steps
# on batches of 64, in three variants — no batch norm; `nn.BatchNorm1d` after every linear layer; and
# batch norm followed by a **random shift and scale** per unit, drawn anew at every training step
# (shift uniform in ±0.5, scale uniform in [1/1.5, 1.5]; off in eval mode). All three at learning rate
# 0.5, and the plain network also at 0.05. To measure the drift, we record at every step the batch mean
# of each input of the last layer, and report how much it wanders over steps 50–300 (its standard
# deviation over the steps, in units of the inputs' typical within-batch standard deviation).

# %%
class ShiftedBatchNorm(nn.BatchNorm1d):
    """Batch norm, then (in training) a random shift and scale per unit, drawn anew at every step."""

    def __init__(self, width, shift=0.5, scale=1.5):
        super().__init__(width)
        self.shift, self.scale = shift, scale

    def forward(self, h):
        h = super().forward(h)
        if self.training:
            shift = h.new_empty(h.shape[1]).uniform_(-self.shift, self.shift)
            scale = h.new_empty(h.shape[1]).uniform_(1 / self.scale, self.scale)
            h = h * scale + shift
        return h


def train_deep_mlp(norm, lr, steps=300, depth=8, width=64, seed=0):
    """Train a deep ReLU network on the digits; return its losses, its last layer's input means, test accuracy."""
    torch.manual_seed(seed)
    layers, fan_in = [nn.Flatten()], 64
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width)] + ([norm(width)] if norm else []) + [nn.ReLU()]
        fan_in = width
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    means, spreads = [], []

    def record(module, inputs):                      # the last layer's input, (64, width), at every step
        means.append(inputs[0].mean(dim=0).detach())
        spreads.append(inputs[0].std(dim=0).detach())

    hook = model[-1].register_forward_pre_hook(record)
    x, y = data.load_digits("train").tensors
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    batches = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        index = torch.randint(len(x), (64,), generator=batches)
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    hook.remove()
    model.eval()
    with torch.no_grad():
        accuracy = (model(digits_x).argmax(dim=1) == digits_y).float().mean().item()
    drift = (torch.stack(means[50:]).std(dim=0).mean() / torch.stack(spreads[50:]).mean()).item()
    return losses, torch.stack(means), drift, accuracy


start = time.perf_counter()
variants = {"no batch norm, lr 0.05": (None, 0.05), "no batch norm, lr 0.5": (None, 0.5),
            "batch norm, lr 0.5": (nn.BatchNorm1d, 0.5), "batch norm + random shifts, lr 0.5": (ShiftedBatchNorm, 0.5)}
bn_runs = {name: train_deep_mlp(norm, lr) for name, (norm, lr) in variants.items()}
print(f"4 runs in {time.perf_counter() - start:.1f} s")
for name, (losses, _, drift, accuracy) in bn_runs.items():
    print(f"{name:>35}: mean training loss over the last 50 steps {sum(losses[-50:]) / 50:.3f}, "
          f"drift of the last layer's inputs {drift:.2f}, test accuracy {accuracy:.1%}")
shifted, plain_bn = bn_runs["batch norm + random shifts, lr 0.5"][2], bn_runs["batch norm, lr 0.5"][2]
print(f"the random shifts multiply the drift by {shifted / plain_bn:.0f}")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.4))
for colour, (name, (losses, means, _, _)) in enumerate(bn_runs.items()):
    smooth = torch.tensor(losses).unfold(0, 20, 1).mean(dim=1)          # moving average over 20 steps
    left.plot(range(20, len(losses) + 1), smooth, color=f"C{colour}", label=name)
    if name != "no batch norm, lr 0.5":                                 # that one diverged: off the scale
        right.plot(means[:, 0], color=f"C{colour}", label=name)
left.set_yscale("log")
left.set_xlabel("training step")
left.set_ylabel("training loss (moving average)")
left.legend(fontsize=8)
right.set_xlabel("training step")
right.set_ylabel("batch mean of one input of the last layer")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# Read the printed numbers with the paper's argument in mind. At learning rate 0.5 the network without
# batch norm fails to train, and with batch norm it trains well. With the random shifts, the last layer's
# inputs drift several times more than with batch norm alone (the printed factor; the right panel shows
# one of them) — yet the network still trains at 0.5, where the one without batch norm failed, and tests
# as well as with batch norm alone. Its training loss is higher than batch norm's, but it is measured
# with the noise switched on. Whatever batch norm does for training here, keeping the layers' input
# distributions still is not all of it. (One small network and one seed: an illustration of Santurkar
# et al.'s experiment, not a replication.)
#
# ## 4. Softmax, stably
#
# A classifier's last layer gives one score (logit) $z_i$ per class; softmax turns them into
# probabilities, $\sigma(z)_i = e^{z_i} / \sum_j e^{z_j}$. Computed literally it overflows:
# $e^{1000}$ is `inf` in float32 (whose largest value is about $3.4 \times 10^{38} \approx e^{88.7}$).
# Subtracting any constant from all logits leaves the result unchanged
# ($e^{z_i - c}/\sum_j e^{z_j - c}$, the $e^{-c}$ cancels), so subtract the **maximum**: the
# largest exponent becomes $e^0 = 1$, nothing overflows, and the sum is at least 1.

# %%
z = torch.tensor([1000.0, 1001.0, 1002.0])
print("naive:", torch.exp(z) / torch.exp(z).sum())
print("shifted by the max:", torch.exp(z - z.max()) / torch.exp(z - z.max()).sum())

# %% [markdown]
# ### Exercise 4 — `softmax`
#
# `softmax(z, dim=-1) -> Tensor`: the softmax of `z` along `dim` (any dimension, any number of
# dimensions), same shape as `z`. The check compares with `torch.softmax` on 1-, 2- and 3-D logits
# along the first, a middle and the last dimension, logits in the thousands, hugely negative and all
# equal; the graded cell adds other sizes and seeds (you may not call a torch softmax).

# %% solution="softmax"
def softmax(z, dim=-1):
    """Numerically stable softmax along dim."""
    ### BEGIN SOLUTION
    exps = torch.exp(z - z.amax(dim=dim, keepdim=True))   # the largest exponent is e^0 = 1
    return exps / exps.sum(dim=dim, keepdim=True)
    ### END SOLUTION


# %%
check_softmax(softmax)

# %% tests="softmax_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_softmax(softmax, strict=True)
### BEGIN HIDDEN TESTS
check_softmax(softmax, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Receptive fields
#
# The **receptive field** of a unit is the patch of the input that can influence it. Stacking
# layers grows it. Track two numbers from the input upwards: the receptive field $r$ and the
# **jump** $j$, the distance in input pixels between neighbouring units of the current layer.
# Starting from $r = 1, j = 1$ (a pixel sees itself), a layer with kernel $k$, stride $s$ and
# dilation $d$ gives
#
# $$r \leftarrow r + d\,(k - 1)\, j, \qquad j \leftarrow j\, s .$$
#
# The lecture notes use the equivalent backward form: from one output unit ($r = 1$), walk down
# the layers with $r \leftarrow (r - 1)\,s + k$ (for dilation, $k$ becomes $d(k-1)+1$).
#
# > **A correction to the source notes.** The notes write this step as $(p - 1)\cdot s + k$ and say
# > that $p$ is "the pooling layer". It is not: $p$ is the receptive field measured *at the layer's
# > output* — how many of its output units are covered (1 for the top unit, then the result of the
# > previous step) — and the formula gives how many of its input units they cover. A window of $p$
# > outputs, $s$ apart, each reading $k$ inputs, spans $(p-1)s + k$ inputs. Pooling layers need no
# > special variable: they enter the walk like convolutions, with their own $k$ and $s$.
#
# Three stacked 3 × 3 convolutions (stride 1) therefore see $1 + 2 + 2 + 2 = 7$ pixels: the same
# 7 × 7 field as one 7 × 7 convolution, with $3 \cdot 9 C^2 = 27C^2$ weights instead of $49C^2$
# and three non-linearities instead of one — the argument of VGG (Simonyan & Zisserman, 2015).
#
# ### Exercise 5 — `receptive_field`
#
# `receptive_field(layers) -> int`, where `layers` lists the stack from the input upwards as
# `(kernel_size, stride)` or `(kernel_size, stride, dilation)` tuples (convolutions and pooling
# layers alike). The check does not use the formula: it builds each stack as real convolutions,
# back-propagates from one output unit and measures which input pixels receive a gradient — for stacks
# with strides, dilation (also after a stride), 1 × 1 and even kernels; the graded cell adds other stacks.

# %% solution="receptive_field"
def receptive_field(layers):
    """Receptive field (in input pixels, along one axis) of one unit after the stack `layers`."""
    ### BEGIN SOLUTION
    r, j = 1, 1
    for layer in layers:
        k, s = layer[0], layer[1]
        d = layer[2] if len(layer) > 2 else 1
        r += d * (k - 1) * j
        j *= s
    return r
    ### END SOLUTION


# %%
check_receptive_field(receptive_field)

# %% tests="receptive_field_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_receptive_field(receptive_field, strict=True)
### BEGIN HIDDEN TESTS
check_receptive_field(receptive_field, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Two VGG stages (two 3 × 3 convolutions, then a 2 × 2 / 2 max pool, twice): the receptive field
# grows by 2 per convolution until the pool doubles the jump, after which each convolution adds 4.

# %%
plots.plot_receptive_field([(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)])
plt.show()

# %% [markdown]
# Explore: a stack of identical layers. Stride makes the receptive field grow geometrically
# (each layer multiplies the jump); dilation grows it without losing resolution (notebook 08).

# %%
widgets.explore_receptive_field()

# %% [markdown]
# ## 6. A first CNN on real handwritten digits
#
# The data: scikit-learn's copy of 1,797 digits from the UCI *Optical Recognition of Handwritten
# Digits* set (Alpaydin & Kaynak; 5,620 digits in all), scanned at the University of Bogazici and
# reduced to 8 × 8 grey levels, bundled with the course. A fixed 20 % of each digit is held out as the test set.

# %%
train_set, test_set = data.load_digits("train"), data.load_digits("test")
print(f"{len(train_set)} training and {len(test_set)} test digits, each {tuple(train_set[0][0].shape)}")
plots.show_images([train_set[i][0][0] for i in range(10)], [f"label {train_set[i][1].item()}" for i in range(10)],
                  ncols=10, size=1.2)
plt.show()

# %% [markdown]
# ### Exercise 6 — `make_digits_cnn`
#
# `make_digits_cnn() -> nn.Module`: a fresh, untrained CNN mapping (N, 1, 8, 8) images to (N, 10)
# class scores (logits — no softmax: `F.cross_entropy` applies it). Requirements: at least one
# `nn.Conv2d`, at most 500,000 parameters, and after the training below (do not change it) at
# least **98 % accuracy on the held-out test digits**, measured by the check in eval mode. You design
# the network, so there is no reference to compare values with: the check runs a fresh model on
# batches of 5 and of 1 image (the graded cell also 64) and scores the trained one.
#
# A design that works: two or three 3 × 3 convolutions with padding 1 (32–64 channels), each
# followed by `nn.BatchNorm2d` and `nn.ReLU`, a 2 × 2 max pool after the second and the third
# (8 → 4 → 2), then `nn.Flatten()`, a little `nn.Dropout` and one `nn.Linear` to 10.

# %% solution="make_digits_cnn"
def make_digits_cnn():
    """A small CNN for 8×8 digits: (N, 1, 8, 8) -> (N, 10) logits."""
    ### BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),                      # (N, 32, 8, 8)
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),    # (N, 32, 4, 4)
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),    # (N, 64, 2, 2)
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 2 * 2, 10),                           # (N, 10)
    )
    ### END SOLUTION


# %% [markdown]
# Training: Adam with a cosine learning-rate decay for 15 epochs (a few seconds on a CPU).
# The seeds make the run repeatable.

# %%
digits_model, history = None, None
torch.manual_seed(0)
try:
    digits_model = make_digits_cnn().to(device)
except NotImplementedError:
    print("Finish Exercise 6 (make_digits_cnn) to train your CNN here.")
if digits_model is not None:
    loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=256)
    optimizer = torch.optim.Adam(digits_model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=15)
    start = time.perf_counter()
    history = train.fit(digits_model, loader, epochs=15, optimizer=optimizer, scheduler=scheduler,
                        val_loader=test_loader)
    print(f"trained in {time.perf_counter() - start:.1f} s; "
          f"final test accuracy {history['val_accuracy'][-1]:.2%}")

# %%
if history is not None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.plot(history["epoch_train_loss"], label="training loss")
    left.plot(history["val_loss"], label="test loss")
    left.set_xlabel("epoch")
    left.legend()
    right.plot(history["val_accuracy"], "o-")
    right.axhline(0.98, color="crimson", linestyle="--", label="target 98 %")
    right.set_xlabel("epoch")
    right.set_ylabel("test accuracy")
    right.legend()
    plt.show()

# %%
check_make_digits_cnn(make_digits_cnn, trained=digits_model)

# %% tests="make_digits_cnn_tests" points=3
# Graded (3 points): the check above (architecture and trained accuracy), strict, plus hidden cases:
# a batch of 64 as well.
check_make_digits_cnn(make_digits_cnn, strict=True, trained=digits_model)
### BEGIN HIDDEN TESTS
check_make_digits_cnn(make_digits_cnn, strict=True, trained=digits_model, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Which digits does it get wrong? Often ones a person would hesitate over too.

# %%
if digits_model is not None:
    digits_model.eval()
    images, labels = test_set.tensors
    with torch.no_grad():
        predicted = digits_model(images.to(device)).argmax(dim=1).cpu()
    wrong = (predicted != labels).nonzero().flatten()[:8]
    if len(wrong):
        plots.show_images([images[i, 0] for i in wrong],
                          [f"true {labels[i].item()}, said {predicted[i].item()}" for i in wrong],
                          ncols=len(wrong), size=1.6)
        plt.show()
    else:
        print("No test digit is misclassified.")

# %% [markdown]
# ## What to remember
#
# - CNN = convolution + pooling (features) + dense layers (decision).
# - Pooling shrinks maps per channel: max keeps the strongest response, average the level;
#   overlapping 3 × 3 / 2 (AlexNet); global/adaptive pooling gives a fixed size from any input.
# - The sigmoid's derivative is at most 1/4, so gradients vanish through depth; ReLU passes them.
# - ReLU's outputs are exactly zero for negative inputs: sparse activations (here about half the
#   hidden units, per digit). A ReLU network is piecewise linear: affine inside each region of fixed
#   activation pattern, bending only where a unit switches.
# - Batch norm: per channel over (N, H, W); batch statistics in training, running statistics
#   (momentum, unbiased variance) in eval — call `model.eval()` before testing.
# - Batch norm was proposed to reduce *internal covariate shift*; Santurkar et al. (2018) showed that
#   networks with extra shift injected after batch norm still train well, and credit batch norm with a
#   smoother loss landscape instead.
# - Softmax: subtract the max first.
# - Receptive field: $r \mathrel{+}= d(k-1)j$, $j \mathrel{*}= s$; three 3 × 3 convolutions see 7 × 7.
#   Walking down instead, $r \leftarrow (r-1)s + k$, where $r$ starts at 1 (not a "pooling layer").
#
# Next: notebook 03 builds AlexNet, VGG and GoogLeNet from these blocks.
