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
# 2. measure why ReLU replaced the sigmoid in deep networks;
# 3. implement batch normalisation as a layer really runs it — in training *and* eval mode;
# 4. write a softmax that survives logits in the thousands;
# 5. compute receptive fields, and see why three stacked 3 × 3 convolutions see 7 × 7;
# 6. design, train and evaluate a small CNN on 1,797 real scanned digits (target: ≥ 98 % test accuracy).
#
# Exercises work as in notebook 01: replace `raise NotImplementedError()`, run the cell, run
# the check below it. Budget: the whole notebook runs in well under a minute on a laptop CPU.

# %%
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
#   on non-square inputs, overlapping windows and padding. `F.pad(x, ..., value=...)` and
#   `Tensor.unfold` are allowed; `pair` below turns an int into a pair.

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
# Graded (2 points): the check above, strict, plus hidden cases.
check_max_pool2d(max_pool2d, strict=True)
### BEGIN HIDDEN TESTS
check_max_pool2d(max_pool2d, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 — `avg_pool2d`
#
# Same signature and shapes as `max_pool2d`; each window's mean, with padded zeros counted in the
# divisor (every window is divided by $k_h k_w$). Compared with `F.avg_pool2d`.

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
# Graded (2 points): the check above, strict, plus hidden cases.
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
# The check loads the same numbers into `nn.BatchNorm2d` and compares all three results in both
# modes (you may not call a torch batch-norm function).

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
# Graded (3 points): the check above, strict, plus hidden cases.
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
# dimensions), same shape as `z`. The check compares with `torch.softmax` on logits in the
# thousands, along different dimensions (you may not call a torch softmax).

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
# Graded (2 points): the check above, strict, plus hidden cases.
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
# Three stacked 3 × 3 convolutions (stride 1) therefore see $1 + 2 + 2 + 2 = 7$ pixels: the same
# 7 × 7 field as one 7 × 7 convolution, with $3 \cdot 9 C^2 = 27C^2$ weights instead of $49C^2$
# and three non-linearities instead of one — the argument of VGG (Simonyan & Zisserman, 2015).
#
# ### Exercise 5 — `receptive_field`
#
# `receptive_field(layers) -> int`, where `layers` lists the stack from the input upwards as
# `(kernel_size, stride)` or `(kernel_size, stride, dilation)` tuples (convolutions and pooling
# layers alike). The check does not use the formula: it builds each stack as real convolutions,
# back-propagates from one output unit and measures which input pixels receive a gradient.

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
# Graded (2 points): the check above, strict, plus hidden cases.
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
# least **98 % accuracy on the held-out test digits**, measured by the check in eval mode.
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
# Graded (3 points): the check above (architecture and trained accuracy), strict, plus hidden cases.
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
# - Batch norm: per channel over (N, H, W); batch statistics in training, running statistics
#   (momentum, unbiased variance) in eval — call `model.eval()` before testing.
# - Softmax: subtract the max first.
# - Receptive field: $r \mathrel{+}= d(k-1)j$, $j \mathrel{*}= s$; three 3 × 3 convolutions see 7 × 7.
#
# Next: notebook 03 builds AlexNet, VGG and GoogLeNet from these blocks.
