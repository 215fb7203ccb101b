# %% [markdown]
# # 01 · Convolution: from the integral to the image
#
# Every layer of a convolutional network repeats one operation: slide a small
# grid of weights over an image and take a weighted sum at each position. This
# notebook builds that operation from its definition, step by step, and ends
# with a version fast enough to be useful.
#
# **You will**
# 1. read the continuous and discrete definitions of convolution and see why the kernel is *flipped*;
# 2. implement full 1-D convolution and true 2-D convolution, and apply classic filters to a real photograph;
# 3. learn the difference between convolution and the *cross-correlation* that deep-learning libraries compute;
# 4. implement the convolution layer of a CNN — batches, channels, stride, padding, dilation, bias —
#    with its output-size and parameter-count formulas;
# 5. make it fast with **im2col**: turn the whole convolution into one matrix product.
#
# **How the exercises work.** Each exercise gives a function signature and the shapes involved.
# Replace `raise NotImplementedError()` with your code, run the cell, then run the check
# below it. A check compares your function with an independent reference (NumPy or
# PyTorch) on several random cases and answers in a few lines: *passed*, *not yet correct*
# (with the failing case and a hint), *not attempted*, *your code raised*, or *cannot be
# checked*. The locked cells marked **Graded** run the same checks for the autograder,
# plus hidden cases.
#
# Budget: this notebook runs top to bottom in well under a minute on a laptop CPU.

# %%
import math  # noqa: F401 - for your own code (e.g. math.floor)
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import data, plots, widgets
from course_utils.checks import (check_conv1d_full, check_conv2d, check_conv2d_im2col, check_conv2d_true,
                                 check_conv_output_size, check_conv_param_count)
from course_utils.train import pick_device

device = pick_device()  # CUDA when available, else the CPU: chosen once, used everywhere below
print("device:", device)

# %% [markdown]
# ## 1. Continuous convolution
#
# For two functions $f$ and $g$ of a real variable, the convolution is
#
# $$(f * g)(t) = \int_{-\infty}^{\infty} f(\tau)\, g(t - \tau)\, d\tau .$$
#
# Read it as a recipe: **flip** $g$ (the $-\tau$), **shift** it to position $t$, **multiply** with $f$
# and **integrate** the overlap. Substituting $\tau \to t - \tau$ shows that the order does not matter:
# $f * g = g * f$ (convolution is *commutative*), that is
# $(f * g)(t) = \int f(t - \tau)\, g(\tau)\, d\tau$.
#
# > **A correction to the source notes.** The lecture notes write this second form as
# > $\int f(t-\tau)\, g(t)\, d\tau$. With $g(t)$ in place of $g(\tau)$, $g$ no longer depends on the
# > integration variable and comes out of the integral: the expression is $g(t) \int f$, the value of
# > $g$ at $t$ times the area under $f$ — no sliding, no overlap, not a convolution. The substitution
# > $\tau \to t - \tau$ changes *both* arguments: $f(\tau) \to f(t-\tau)$ and $g(t-\tau) \to g(\tau)$.
#
# A classic example: the convolution of two unit boxes is a triangle — the overlap area grows
# linearly as the boxes slide into each other, then shrinks. Below we approximate the integral
# by a sum on a fine grid (step $\Delta t$), which is exactly what the discrete convolution does.

# %%
dt = 0.01
t = np.arange(-2, 2, dt)
box = ((t >= -0.5) & (t < 0.5)).astype(float)           # f = g = unit box of width 1
triangle = np.convolve(box, box, mode="same") * dt       # ∫ f(τ) g(t − τ) dτ ≈ Σ f g Δt

fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(t, box, label="f = g = box")
ax.plot(t, triangle, label="f * g (triangle)")
ax.set_xlabel("t")
ax.legend()
plt.show()
print("peak of f * g:", triangle.max().round(3), " (the overlap of two unit boxes is at most 1)")
print("commutative:", np.allclose(np.convolve(box, t ** 2), np.convolve(t ** 2, box)))

# %% [markdown]
# ## 2. Discrete convolution in 1-D
#
# For sequences, the integral becomes a sum:
#
# $$(f * g)[t] = \sum_{i} f[i]\, g[t - i] = \sum_i f[t - i]\, g[i].$$
#
# With a signal of length $L$ and a kernel of length $K$, the sum has at least one term with
# both indices in range for $t = 0, \dots, L + K - 2$: the **full** convolution has $L + K - 1$
# samples. (NumPy calls the shorter results *same* — length $\max(L, K)$ — and *valid* — only
# the shifts where the shorter sequence lies entirely inside the longer, length $|L - K| + 1$.)
#
# ### Exercise 1 — `conv1d_full`
#
# `conv1d_full(signal, kernel) -> Tensor`
# - `signal`: 1-D float tensor of length $L$; `kernel`: 1-D float tensor of length $K$ (it may be longer than the signal);
# - returns the full convolution, a 1-D tensor of length $L + K - 1$ with the input's dtype.
#
# Loops are fine here. The check compares your result with `numpy.convolve(signal, kernel,
# mode="full")` for kernels shorter than, as long as and longer than the signal, a one-sample signal,
# and float64 inputs (the result must stay float64); the graded cell adds other lengths and seeds.
# While your function runs the check refuses every ready-made convolution: `np.convolve`,
# `np.correlate`, `np.polymul`, `np.polynomial.polynomial.polymul`, `F.conv1d`, `torch.conv1d`, and
# any other torch operation whose name begins with `conv` (such as `torch.conv2d`,
# `F.conv_transpose1d` or `torch.convolution`).
#
# *Hint:* each input sample `signal[i]` adds a scaled copy of the kernel, starting at output index `i`.

# %% solution="conv1d_full"
def conv1d_full(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Full 1-D convolution: out[t] = sum_i signal[i] * kernel[t - i], length L + K - 1."""
    ### BEGIN SOLUTION
    length, k = signal.shape[0], kernel.shape[0]
    out = torch.zeros(length + k - 1, dtype=signal.dtype, device=signal.device)
    for i in range(length):
        out[i:i + k] += signal[i] * kernel  # signal[i] scales a copy of the kernel placed at i
    return out
    ### END SOLUTION


# %%
check_conv1d_full(conv1d_full)

# %% tests="conv1d_full_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_conv1d_full(conv1d_full, strict=True)
### BEGIN HIDDEN TESTS
check_conv1d_full(conv1d_full, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Here is why the kernel is flipped. Think of the kernel as the *response* of a system to one
# impulse — say a decaying echo $[1, 0.5, 0.25]$. A signal is a sum of scaled, shifted impulses,
# so the output is a sum of scaled, shifted copies of the echo: sample $i$ of the signal
# contributes $f[i]\,g[t - i]$ at time $t$. Written as a sum over $i$, that is exactly the
# convolution, and the $t - i$ is the flip. Each impulse leaves an *unreversed* copy of the
# kernel after it. Cross-correlation (no flip, `np.correlate`) would instead put a *reversed*
# copy before each impulse — an echo heard before the sound. (NumPy's 'full' correlation starts
# at lag $-(K-1)$; the plot places it there.)

# %%
signal = torch.tensor([0.0, 1.0, 0.0, 0.0, 2.0, 0.0])
kernel = torch.tensor([1.0, 0.5, 0.25])   # a decaying echo
echo = np.convolve(signal.numpy(), kernel.numpy())            # convolution: the kernel as it is
reversed_echo = np.correlate(signal.numpy(), kernel.numpy(), mode="full")  # no flip: reversed copies
plots.plot_signals({"signal": signal, "signal * kernel (convolution)": echo,
                    "cross-correlation": reversed_echo},
                   starts={"cross-correlation": -(len(kernel) - 1)},
                   title="convolution leaves a copy of the echo after each impulse")
plt.show()

# %% [markdown]
# ## 3. Convolution in 2-D, and a real photograph
#
# An image $I$ and a kernel $K$ are functions of two indices, so the sum runs over two:
#
# $$(I * K)(i, j) = \sum_m \sum_n I(m, n)\, K(i - m,\ j - n) = \sum_m \sum_n I(i - m,\ j - n)\, K(m, n).$$
#
# > **A correction to the source notes.** The lecture notes this course grew from write the
# > second form as $I(i-m,\ i-n)$: the second index must be $j - n$, otherwise the column
# > index never enters the sum.
#
# As in 1-D, the kernel is flipped — now along both axes. We keep only the positions where
# the flipped kernel lies entirely inside the image (*valid* size): an $H \times W$ image and a
# $k_h \times k_w$ kernel give an $(H - k_h + 1) \times (W - k_w + 1)$ output. Indexing that
# output from 0, $\text{out}[i, j] = (I * K)(i + k_h - 1,\ j + k_w - 1)$, which, with the flipped
# kernel $\tilde K[m, n] = K[k_h - 1 - m,\ k_w - 1 - n]$, reads
#
# $$\text{out}[i, j] = \sum_{m=0}^{k_h-1} \sum_{n=0}^{k_w-1} I[i + m,\ j + n]\ \tilde K[m, n].$$
#
# ### Exercise 2 — `conv2d_true`
#
# `conv2d_true(image, kernel) -> Tensor`
# - `image`: (H, W) float tensor; `kernel`: (kh, kw) float tensor, not necessarily square;
# - returns the true (flipped-kernel) convolution of valid size (H − kh + 1, W − kw + 1), input dtype.
#
# The check compares with `F.conv2d` applied to the flipped kernel (you may not call `F.conv2d`) on
# non-square images and kernels, kernels one row high or one column wide, a kernel as large as the
# image, and float64 inputs (the result must stay float64); the graded cell adds other sizes and seeds.

# %% solution="conv2d_true"
def conv2d_true(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """True 2-D convolution (kernel flipped on both axes), 'valid' output size."""
    ### BEGIN SOLUTION
    kh, kw = kernel.shape
    height, width = image.shape
    flipped = kernel.flip(0, 1)
    out = torch.empty(height - kh + 1, width - kw + 1, dtype=image.dtype, device=image.device)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i:i + kh, j:j + kw] * flipped).sum()
    return out
    ### END SOLUTION


# %%
check_conv2d_true(conv2d_true)

# %% tests="conv2d_true_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_conv2d_true(conv2d_true, strict=True)
### BEGIN HIDDEN TESTS
check_conv2d_true(conv2d_true, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Filters on a photograph
#
# Long before networks *learned* their kernels, image processing designed them by hand. A
# **box** or **Gaussian** kernel averages neighbours (blur); a **Sobel** kernel takes a
# difference across one direction, so it responds to edges perpendicular to it; the
# **Laplacian** responds to changes in every direction. Here they are on the bundled
# `camera` photograph (reduced to 256 × 256, grey), applied as the layers of §4 apply them
# (cross-correlation; for Sobel that only flips the sign). Responses can be negative, so each
# is shown stretched to its own range (zero is roughly mid-grey for the Sobel filters).

# %%
camera = data.load_image("camera", gray=True, size=256)   # (256, 256), values in [0, 1]
filters = widgets.classic_filters()
names = ["Gaussian blur σ=1", "Sobel x (vertical edges)", "Sobel y (horizontal edges)", "Laplacian"]
responses = [widgets.filter_image(camera, filters[name]) for name in names]
plots.show_images([camera] + responses, ["camera"] + names, normalize=True, size=2.8)
plt.show()

# %% [markdown]
# Try the other filters interactively. (In a static view — or while grading — the
# explorer draws its first setting only.)

# %%
widgets.explore_filters(data.load_image("camera", gray=True, size=256))

# %% [markdown]
# ## 4. Convolution or cross-correlation?
#
# A convolution layer in PyTorch, TensorFlow or JAX does **not** flip its kernel: it computes
# the *cross-correlation* $\text{out}[i, j] = \sum_{m, n} I[i + m, j + n]\, K[m, n]$. For a
# learned kernel the difference is immaterial — the network simply learns the flipped
# weights — but it matters the moment you copy a kernel from a textbook. Let us verify it
# with your `conv2d_true` and the Sobel kernel, which is antisymmetric: flipping it on both axes
# negates it, so convolution and cross-correlation give the same edge map with the opposite sign —
# the same positions light up, bright where the other is dark.

# %%
crop = data.load_image("camera", gray=True, size=64)   # small, so the loop version is quick
sobel_x = filters["Sobel x (vertical edges)"]
library = F.conv2d(crop[None, None], sobel_x[None, None])[0, 0]   # what nn.Conv2d computes
if check_conv2d_true(conv2d_true):
    mine = conv2d_true(crop, sobel_x)
    print("conv2d_true == F.conv2d with flipped kernel:",
          torch.allclose(mine, F.conv2d(crop[None, None], sobel_x.flip(0, 1)[None, None])[0, 0], atol=1e-5))
    print("conv2d_true == -F.conv2d (Sobel is antisymmetric):", torch.allclose(mine, -library, atol=1e-5))
    plots.show_images([mine, library], ["convolution (conv2d_true)", "cross-correlation (F.conv2d)"],
                      normalize=True, size=3)
    plt.show()
else:
    print("Finish Exercise 2 to compare your conv2d_true with F.conv2d.")

# %% [markdown]
# From here on, "convolution" means what the layers compute: cross-correlation, no flip.
#
# ## 5. The convolution layer: channels, stride, padding, dilation
#
# A colour image has 3 channels, a feature map in a network has dozens or hundreds. A
# convolution layer with $C_\text{in}$ input and $C_\text{out}$ output channels holds
# $C_\text{out}$ kernels, each of shape $C_\text{in} \times k_h \times k_w$: **one kernel spans all
# input channels**, and the products are summed over the channels too, giving one output
# map per kernel. Three settings change where the kernel goes:
#
# - **padding** $p$ adds $p$ rows/columns of zeros around the input, so the kernel can be centred
#   on border pixels too; with $p = (k-1)/2$ and stride 1 the output keeps the input's size;
# - **stride** $s$ moves the kernel $s$ pixels at a time, shrinking the output by a factor of about $s$;
# - **dilation** $d$ spreads the kernel's taps $d$ pixels apart: a $k \times k$ kernel then
#   spans $d(k - 1) + 1$ pixels with the same $k^2$ weights (notebook 08 builds on this).
#
# Drag the sliders to see which input pixels one output pixel reads (orange), how padding
# (blue frame) and stride change the output grid, and how dilation spreads the taps.

# %%
widgets.explore_convolution(data.load_image("camera", gray=True, size=(7, 7)))

# %% [markdown]
# ### Exercise 3 — `conv_output_size`
#
# Counting the positions where the (dilated) kernel fits in the padded input gives the output
# size along each axis (Dumoulin & Visin, *A guide to convolution arithmetic for deep
# learning*, 2016):
#
# $$H_\text{out} = \left\lfloor \frac{H + 2p - d(k - 1) - 1}{s} \right\rfloor + 1 .$$
#
# `conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1) -> int` for one
# spatial axis. The check compares with the size `F.conv2d` really produces (it runs `F.conv2d` on the
# `meta` device, which computes shapes only), with strides, padding and dilation, strides larger than
# the kernel, and cases where the floor matters; the graded cell adds other sizes.

# %% solution="conv_output_size"
def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution along one axis."""
    ### BEGIN SOLUTION
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    ### END SOLUTION


# %%
check_conv_output_size(conv_output_size)

# %% tests="conv_output_size_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_conv_output_size(conv_output_size, strict=True)
### BEGIN HIDDEN TESTS
check_conv_output_size(conv_output_size, strict=True, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 4 — `conv_param_count`
#
# Each output channel has $k_h k_w C_\text{in}$ weights plus one bias, so a layer has
# $(k_h k_w C_\text{in} + 1)\, C_\text{out}$ parameters — independent of the image size.
#
# `conv_param_count(in_channels, out_channels, kernel_size, bias=True) -> int`, where
# `kernel_size` is an int $k$ (a $k \times k$ kernel) or a pair $(k_h, k_w)$. The check compares
# with the number of parameters of the matching `nn.Conv2d`, with and without bias, for int and pair
# kernels (1 × 1 included); the graded cell adds other sizes.

# %% solution="conv_param_count"
def conv_param_count(in_channels: int, out_channels: int, kernel_size, bias: bool = True) -> int:
    """Number of learnable parameters of nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)."""
    ### BEGIN SOLUTION
    kh, kw = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    return (kh * kw * in_channels + int(bias)) * out_channels
    ### END SOLUTION


# %%
check_conv_param_count(conv_param_count)

# %% tests="conv_param_count_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_conv_param_count(conv_param_count, strict=True)
### BEGIN HIDDEN TESTS
check_conv_param_count(conv_param_count, strict=True, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# The parameter count does not depend on the image: AlexNet's first layer (Krizhevsky et al.,
# 2012: 96 kernels of 11 × 11 × 3) has the same 34,944 parameters on any input size, while a
# dense layer from a 224 × 224 × 3 image to just 96 units would need over 14 million. That
# *weight sharing* is why convolutions scale to images.

# %%
alexnet_conv1 = nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=2)
dense = 224 * 224 * 3 * 96 + 96
print(f"conv 11x11x3 -> 96: {sum(p.numel() for p in alexnet_conv1.parameters()):,} parameters")
print(f"dense 224*224*3 -> 96: {dense:,} parameters")
print("AlexNet conv1 output:", tuple(alexnet_conv1(torch.zeros(1, 3, 224, 224)).shape))

# %% [markdown]
# ### Exercise 5 — `conv2d`, the layer
#
# `conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1) -> Tensor`
# - `x`: (N, C_in, H, W); `weight`: (C_out, C_in, kh, kw); `bias`: (C_out,) or `None`;
# - `stride`, `padding`, `dilation`: an int, or a pair `(along H, along W)`;
# - returns (N, C_out, H_out, W_out), with $H_\text{out}$ and $W_\text{out}$ from the formula above; no kernel flip.
#
# Write it with loops over the output positions; vectorise the sum over channels and kernel
# taps (e.g. multiply a window by the weights and `sum`, or `torch.einsum`). `F.pad` is
# allowed; `F.conv2d` is not — the check compares with it, on cases where H ≠ W, C_in ≠ C_out,
# N > 1, with stride, padding and dilation (also pairs that differ along H and W), non-square and
# 1 × 1 kernels, one input channel, with a bias and without; the graded cell adds other sizes and
# seeds. The helper `pair` turns an int into a pair.

# %%
def pair(value):
    """3 -> (3, 3); (2, 1) -> (2, 1)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# %% solution="conv2d"
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Cross-correlation of a batch x (N, C_in, H, W) with weight (C_out, C_in, kh, kw)."""
    ### BEGIN SOLUTION
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c_in, height, width = x.shape
    c_out, _, kh, kw = weight.shape
    padded = F.pad(x, (pw, pw, ph, ph))                       # (N, C_in, H + 2ph, W + 2pw)
    h_out = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    w_out = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = torch.zeros(n, c_out, h_out, w_out, dtype=x.dtype, device=x.device)
    for i in range(h_out):
        for j in range(w_out):
            # the dilated window read by output (i, j): (N, C_in, kh, kw)
            window = padded[:, :, i * sh: i * sh + dh * (kh - 1) + 1: dh, j * sw: j * sw + dw * (kw - 1) + 1: dw]
            out[:, :, i, j] = torch.einsum("nchw,ochw->no", window, weight)
    if bias is not None:
        out += bias.view(1, c_out, 1, 1)
    return out
    ### END SOLUTION


# %%
check_conv2d(conv2d)

# %% tests="conv2d_tests" points=4
# Graded (4 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_conv2d(conv2d, strict=True)
### BEGIN HIDDEN TESTS
check_conv2d(conv2d, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# One 3-channel kernel on a colour photograph gives **one** output map: the layer mixes the
# channels. Here a kernel that takes "red minus blue" at the centre pixel highlights red
# regions of the astronaut photograph, and a Sobel kernel repeated over the three channels
# finds edges in the brightness.

# %%
red_minus_blue = torch.zeros(1, 3, 3, 3)
red_minus_blue[0, 0, 1, 1], red_minus_blue[0, 2, 1, 1] = 1.0, -1.0
edges = sobel_x.expand(1, 3, 3, 3) / 3
if check_conv2d(conv2d):
    small = data.load_image("astronaut", size=96)[None]       # (1, 3, 96, 96): quick for loops
    maps = [conv2d(small, w, padding=1)[0, 0] for w in (red_minus_blue, edges)]
    plots.show_images([small[0], *maps], ["input (3 channels)", "red − blue", "Sobel over RGB"], normalize=True)
    plt.show()
else:
    print("Finish Exercise 5 to see your conv2d on a colour photograph.")

# %% [markdown]
# ## 6. Making it fast: im2col
#
# The loops above launch one small computation per output pixel. Chellapilla, Puri and
# Simard (*High performance convolutional neural networks for document processing*, 2006)
# showed how to turn the whole convolution into **one matrix product**, which linear-algebra
# libraries run at close to peak speed:
#
# 1. **im2col**: copy every window the kernel visits into a row of a matrix of shape
#    $(N \cdot H_\text{out} W_\text{out}) \times (C_\text{in} k_h k_w)$;
# 2. reshape the weights to $(C_\text{out}) \times (C_\text{in} k_h k_w)$;
# 3. multiply, add the bias, and reshape the result back to $(N, C_\text{out}, H_\text{out}, W_\text{out})$.
#
# The price is memory: each input pixel is copied up to $k_h k_w$ times. `Tensor.unfold(dim, size, step)`
# returns all windows of length `size` taken every `step` along `dim`, without copying, as a new
# last dimension: `xp.unfold(2, kh, sh)` has shape (N, C_in, H_out, W_p, kh), and a second
# `.unfold(3, kw, sw)` gives (N, C_in, H_out, W_out, kh, kw) — every window of the padded input
# `xp`. For a dilated kernel take windows of the full span $d(k-1)+1$ and keep every $d$-th tap.
#
# Mind the order of the columns: `weight.reshape(C_out, -1)` lists each filter's numbers in the
# order (C_in, kh, kw), so permute the windows to (N, H_out, W_out, C_in, kh, kw) before
# reshaping them to (N, H_out·W_out, C_in·kh·kw); then `columns @ weight_matrix.T` is
# (N, H_out·W_out, C_out).
#
# ### Exercise 6 — `conv2d_im2col`
#
# Same signature, shapes and check cases as `conv2d` (the graded cell adds the same other sizes and
# seeds), plus two more tests:
# - **no loop over output positions**: the check counts the torch operations and the lines of your
#   Python one call runs, on an 8 × 8 and on a 16 × 16 input. A vectorised im2col runs the same
#   numbers on both; a loop over pixels runs more on the bigger one, in torch or in NumPy. (A loop
#   over the $k_h k_w$ kernel taps is fine.)
# - **speed**: its CPU time on a (8, 16, 32, 32) input with 32 filters of 3 × 3 is shown beside
#   `F.conv2d`'s (one thread, best of up to 7) and must stay within 20× of it. A vectorised im2col
#   takes 2–9× (the layout below about 6×); one that multiplies without a matrix product, or goes
#   through NumPy's `einsum`, takes 100× or more. The timing stops after about a second, so a slow
#   version is told so quickly.
#
# No torch convolution and no `F.unfold` may be called; `Tensor.unfold` may.

# %% solution="conv2d_im2col"
def conv2d_im2col(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """conv2d as one matrix product over all windows (im2col)."""
    ### BEGIN SOLUTION
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    n, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    padded = F.pad(x, (pw, pw, ph, ph))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = padded.unfold(2, span_h, sh).unfold(3, span_w, sw)   # (N, C_in, H_out, W_out, span_h, span_w)
    windows = windows[..., ::dh, ::dw]                              # (N, C_in, H_out, W_out, kh, kw)
    h_out, w_out = windows.shape[2], windows.shape[3]
    columns = windows.permute(0, 2, 3, 1, 4, 5).reshape(n, h_out * w_out, c_in * kh * kw)  # the im2col matrix
    out = columns @ weight.reshape(c_out, c_in * kh * kw).T        # (N, H_out·W_out, C_out)
    if bias is not None:
        out = out + bias
    return out.reshape(n, h_out, w_out, c_out).permute(0, 3, 1, 2)
    ### END SOLUTION


# %%
check_conv2d_im2col(conv2d_im2col)

# %% tests="conv2d_im2col_tests" points=3
# Graded (3 points): the check above (correctness, no per-pixel loop, speed), strict, plus hidden cases:
# the same kinds of case at other sizes and seeds.
check_conv2d_im2col(conv2d_im2col, strict=True)
### BEGIN HIDDEN TESTS
check_conv2d_im2col(conv2d_im2col, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# How much did it buy? The same (8, 16, 32, 32) input through the three implementations
# (median of a few runs; your loop `conv2d` runs only twice, as it may take a few seconds;
# note the log scale).

# %%
def median_seconds(fn, *args, repeats=5, **kwargs):
    fn(*args, **kwargs)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


generator = torch.Generator().manual_seed(0)
x = torch.randn(8, 16, 32, 32, generator=generator)
weight, bias = torch.randn(32, 16, 3, 3, generator=generator), torch.randn(32, generator=generator)
timings = {}
with torch.no_grad():
    if check_conv2d(conv2d):
        timings["conv2d (loops)"] = median_seconds(conv2d, x, weight, bias, padding=1, repeats=1)
    if check_conv2d_im2col(conv2d_im2col):
        timings["conv2d_im2col"] = median_seconds(conv2d_im2col, x, weight, bias, padding=1)
    timings["F.conv2d"] = median_seconds(F.conv2d, x, weight, bias, padding=1)
plots.plot_timings(timings, title="one convolution layer, (8, 16, 32, 32) input, 32 3×3 filters, CPU")
plt.show()

# %% [markdown]
# ### The same code on a GPU
#
# Nothing in `conv2d_im2col` names a device: it creates no tensors of its own, so it runs
# wherever its inputs live. On a machine with CUDA, `device` above is `cuda` and this cell
# runs there; elsewhere it runs on the CPU. (On recent NVIDIA GPUs `F.conv2d` may use TF32,
# a faster format with a 10-bit mantissa, so the comparison allows errors of about 1e-2.)

# %%
if check_conv2d_im2col(conv2d_im2col):
    x_dev, w_dev, b_dev = x.to(device), weight.to(device), bias.to(device)
    with torch.no_grad():
        same = torch.allclose(conv2d_im2col(x_dev, w_dev, b_dev, padding=1),
                              F.conv2d(x_dev, w_dev, b_dev, padding=1), atol=1e-2, rtol=1e-3)
    print(f"on {device}: conv2d_im2col matches F.conv2d: {same}")
else:
    print("Finish Exercise 6 to run your conv2d_im2col on", device)

# %% [markdown]
# ## What to remember
#
# - Convolution flips the kernel and slides it: $(f * g)[t] = \sum_i f[i]\, g[t - i]$; it is commutative,
#   and swapping the roles changes both arguments: $\sum_i f[t - i]\, g[i]$ (the notes' $g(t)$ is a typo).
#   In 2-D: $(I * K)(i, j) = \sum_{m,n} I(i - m, j - n) K(m, n)$.
# - Deep-learning "convolution" layers compute **cross-correlation** (no flip). Learned kernels do not care;
#   hand-designed ones (Sobel) change sign or direction.
# - One kernel spans **all input channels**; a layer with $C_\text{out}$ kernels has
#   $(k_h k_w C_\text{in} + 1) C_\text{out}$ parameters, whatever the image size.
# - Output size: $\lfloor (H + 2p - d(k-1) - 1)/s \rfloor + 1$.
# - **im2col** turns a convolution into one matrix product: far faster than loops, at the cost of memory.
#
# Next: notebook 02 adds pooling, activations and batch normalisation, and trains a first CNN.
