# %% [markdown]
# # 06 · Semantic segmentation and fully convolutional networks
#
# A classifier gives one label per image. **Semantic segmentation** gives one label per *pixel*:
# this pixel is road, that one is car. (It does not separate two cars from each other; that is
# *instance* segmentation.) Convolutional networks had been applied to segmentation before, but the
# **fully convolutional network** of Long, Shelhamer and Darrell (*Fully Convolutional Networks for
# Semantic Segmentation*, CVPR 2015) was the first trained end to end, pixels in and pixels out, from
# a network pre-trained for classification. Its ideas, all in this notebook:
#
# - a network made only of convolutions accepts images of any size and outputs a *map* of
#   predictions instead of a single vector;
# - the coarse map is brought back to the image's resolution by **learned upsampling** (transposed
#   convolution);
# - **skip connections** from earlier, finer layers restore the detail that pooling threw away.
#
# **You will**
# 1. turn a trained digit classifier into a fully convolutional network and slide it over a larger
#    image;
# 2. implement transposed convolution by overlap-add, and its output size;
# 3. count the kernel taps that land on each output pixel, see why that makes checkerboard artifacts,
#    and initialise upsampling bilinearly;
# 4. measure segmentations with a confusion matrix, pixel accuracy and mean IoU;
# 5. train FCN-32s, FCN-16s and FCN-8s on the course's segmentation set and compare them;
# 6. build hypercolumns: per-pixel features from several layers at once.
#
# Exercises work as before: replace `raise NotImplementedError()`, run the cell, run the check.
# Demonstrations that only train and plot carry no points; the autograder skips them.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import data, plots, train
from course_utils.checks import (check_bilinear_kernel, check_confusion_matrix, check_conv_transpose2d,
                                 check_conv_transpose_output_size, check_convolutionalize, check_overlap_counts,
                                 check_segmentation_scores)

device = train.pick_device()  # CUDA when available, else the CPU: chosen once
print("device:", device)

# %% [markdown]
# ## 1. From classifier to fully convolutional network
#
# A dense layer that reads a (C, H, W) feature map computes, for each output unit, a weighted sum
# over all C·H·W inputs. A convolution with an H × W kernel computes exactly the same sum at one
# position — and at every other position too, if the input is larger. So any dense layer can be
# rewritten as a convolution (**convolutionalization**), and the network then accepts larger
# images, producing one prediction per window instead of one per image.
#
# A small classifier for the course's 8 × 8 digits, trained for a few seconds:

# %%
train_set, test_set = data.load_digits("train"), data.load_digits("test")
torch.manual_seed(0)
classifier = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (N, 16, 4, 4)
    nn.Flatten(),                                                  # (N, 256)
    nn.Linear(16 * 4 * 4, 64), nn.ReLU(),                          # (N, 64)
    nn.Linear(64, 10),                                             # (N, 10)
).to(device)
loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
history = train.fit(classifier, loader, epochs=8, lr=3e-3, progress=False)
test_loader = torch.utils.data.DataLoader(test_set, batch_size=512)
print(f"test accuracy: {train.evaluate(classifier, test_loader)['accuracy']:.1%}")

# %% [markdown]
# ### Exercise 1 — `convolutionalize`
#
# `convolutionalize(linear, in_shape) -> nn.Conv2d`: `linear` is an `nn.Linear` trained on flattened
# (C, H, W) inputs, `in_shape = (C, H, W)`. Return an `nn.Conv2d(C, linear.out_features,
# kernel_size=(H, W))` that computes exactly the same sums: copy `linear.weight` (shape
# (out_features, C·H·W), flattened channel first, the order of `nn.Flatten`) reshaped to
# (out_features, C, H, W), and the bias when there is one.
#
# The check builds your convolution for seeded dense layers — square, H ≠ W and 1 × 1 inputs, several
# channels and one, with a bias and without — and compares it on inputs of the training size with
# `linear(x.flatten(1))`, and on larger inputs with the dense layer applied to every window; the graded
# cell adds other sizes and seeds.

# %% solution="convolutionalize"
def convolutionalize(linear, in_shape):
    """An nn.Conv2d computing `linear` on every (C, H, W) window of its input."""
    ### BEGIN SOLUTION
    c, h, w = in_shape
    conv = nn.Conv2d(c, linear.out_features, kernel_size=(h, w), bias=linear.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, c, h, w))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv.to(linear.weight.device)
    ### END SOLUTION


# %%
check_convolutionalize(convolutionalize)

# %% tests="convolutionalize_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_convolutionalize(convolutionalize, strict=True)
### BEGIN HIDDEN TESTS
check_convolutionalize(convolutionalize, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# The first dense layer reads the (16, 4, 4) map, so it becomes a 4 × 4 convolution; the second reads
# a vector of 64 values — a (64, 1, 1) map — so it becomes a 1 × 1 convolution. Same weights, same
# outputs on the test digits:

# %%
if check_convolutionalize(convolutionalize):
    fully_convolutional = nn.Sequential(
        *classifier[:3],                                   # the same convolution and pooling
        convolutionalize(classifier[4], (16, 4, 4)), nn.ReLU(),
        convolutionalize(classifier[6], (64, 1, 1)),       # (N, 10, 1, 1) for 8 × 8 digits
    ).eval()
    digits_x = test_set.tensors[0].to(device)
    with torch.no_grad():
        dense_out = classifier.eval()(digits_x)
        conv_out = fully_convolutional(digits_x)
    print("output shape:", tuple(conv_out.shape))
    print(f"largest difference on {len(digits_x)} test digits: {(conv_out.flatten(1) - dense_out).abs().max():.2e}")
else:
    fully_convolutional = None
    print("Finish Exercise 1 to convolutionalize the classifier.")

# %% [markdown]
# > **A correction to the source notes.** Both sets of lecture notes say that FCN turns the classifier's
# > fully connected layers into **1 × 1** convolutions (and the VGG summary lists "1 × 1 convolution for
# > fully connected layers"). That is true only of a dense layer whose input is a vector — a 1 × 1 map,
# > like the second layer above. The *first* dense layer reads a whole k × k map, so it becomes a
# > **k × k** convolution: a 1 × 1 convolution sees one position at a time and has too few weights to
# > hold the trained ones. In VGG-16 — converted this way in VGG's own testing (Simonyan & Zisserman,
# > 2015, §3.2) and in FCN — fc6 reads pool5's 7 × 7 × 512 map and becomes a 7 × 7 convolution; only
# > fc7 and fc8 become 1 × 1. The weight counts:

# %%
dense = classifier[4]                                          # nn.Linear(256, 64) on the (16, 4, 4) map
print(f"our first dense layer: {dense.weight.numel():,} weights; a 4 × 4 convolution 16 → 64 has "
      f"{64 * 16 * 4 * 4:,}; a 1 × 1 convolution 16 → 64 has {64 * 16:,}")
print(f"VGG-16's fc6: {7 * 7 * 512 * 4096:,} weights, those of a 7 × 7 convolution 512 → 4,096; "
      f"a 1 × 1 convolution 512 → 4,096 has {512 * 4096:,}")

# %% [markdown]
# Now the point of it all: the fully convolutional network takes a larger image. We paste four test
# digits onto a 16 × 40 canvas; the network answers with a 5 × 17 map of class scores — one
# prediction per 8 × 8 window, every 2 pixels (the stride of the pooling layer). For each pasted
# digit, the map of its class's probability; the white square marks the window that holds exactly
# that digit.

# %%
if fully_convolutional is not None:
    images_t, labels_t = test_set.tensors
    with torch.no_grad():   # for each digit, the first test image of it that the classifier gets right
        right = classifier.eval()(images_t.to(device)).argmax(dim=1).cpu() == labels_t
    picks = [int(((labels_t == d) & right).nonzero()[0]) for d in (3, 1, 7, 5)]
    corners = [(0, 2), (8, 12), (2, 22), (8, 30)]   # even offsets: each digit fills one window exactly
    canvas = torch.zeros(1, 1, 16, 40)
    for (row, col), index in zip(corners, picks):
        canvas[0, 0, row:row + 8, col:col + 8] = images_t[index, 0]
    with torch.no_grad():
        scores = fully_convolutional(canvas.to(device)).softmax(dim=1)[0].cpu()   # (10, 5, 17)
    fig, axes = plt.subplots(1, 5, figsize=(14, 2.2))
    axes[0].imshow(canvas[0, 0], cmap="gray")
    axes[0].set_title(f"canvas {tuple(canvas.shape[2:])}")
    for ax, index, (row, col) in zip(axes[1:], picks, corners):
        digit = int(labels_t[index])
        ax.imshow(scores[digit], cmap="magma", vmin=0, vmax=1)
        ax.add_patch(plt.Rectangle((col // 2 - 0.5, row // 2 - 0.5), 1, 1, fill=False, edgecolor="w", linewidth=2))
        ax.set_title(f"P(digit {digit}), map {tuple(scores.shape[1:])}")
    for ax in axes:
        ax.axis("off")
    plt.show()

# %% [markdown]
# Where a window holds a whole digit, the network recognises it: a classifier trained on single 8 × 8
# digits has become a detector that runs on any image size, in one pass, sharing the computation of
# overlapping windows. Elsewhere the maps also light up — on windows that cut a digit in half or hold
# parts of two. The classifier never saw such windows in training, so its answers there are
# confident guesses; this is why a segmentation network is trained on **dense labels**, one per pixel.
# And the map is coarse (here one value per 2 pixels; in a VGG-16 FCN, one per 32). Getting back to one
# label per pixel is the next problem.
#
# ## 2. Upsampling with transposed convolution
#
# A convolution with stride s maps many input pixels to one output pixel. A **transposed
# convolution** goes the other way: each *input* pixel stamps a copy of the kernel, scaled by its
# value, onto the output at position (i·s, j·s); where stamps overlap, they **add up**
# (overlap-add). With stride 2 it doubles the resolution, and its kernel is learned like any other.
# (It is sometimes called "deconvolution", but it does not invert a convolution: it is the convolution's
# *transpose*, the operation that back-propagation through a convolution performs.)
#
# For an input of size n, kernel k, stride s, the stamps cover (n − 1)·s + k pixels. Two parameters
# then trim or extend that: `padding` p removes p rows and columns from **each** border, and
# `output_padding` adds rows and columns at the bottom and right, to pick one of the several sizes that
# a stride-s convolution maps to the same output size:
#
# $$n_\text{out} = (n - 1)\,s - 2p + d\,(k - 1) + \text{output\_padding} + 1 .$$
#
# A single pixel and a pair of pixels, stamped with a 3 × 3 kernel of ones at stride 2 — the middle
# column is stamped twice:

# %%
kernel = torch.ones(1, 1, 3, 3)
fig, axes = plt.subplots(1, 2, figsize=(7, 2.8))
for ax, x, title in zip(axes, (torch.tensor([[[[1.]]]]), torch.tensor([[[[1., 1.]]]])),
                        ("one input pixel", "two input pixels, stride 2")):
    out = F.conv_transpose2d(x, kernel, stride=2)
    ax.imshow(out[0, 0], cmap="viridis", vmin=0, vmax=2)
    for (i, j), value in zip(torch.cartesian_prod(torch.arange(out.shape[2]), torch.arange(out.shape[3])).tolist(),
                             out[0, 0].flatten().tolist()):
        ax.text(j, i, f"{value:g}", ha="center", va="center", color="w")
    ax.set_title(f"{title}: {tuple(x.shape[2:])} → {tuple(out.shape[2:])}")
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Exercise 2 — `conv_transpose2d`
#
# `conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0)` with `x` of shape
# (N, C_in, H, W) and `weight` of shape **(C_in, C_out, kH, kW)** (input channels first, as in
# `F.conv_transpose2d` and `nn.ConvTranspose2d`); `stride`, `padding` and `output_padding` are ints or
# (height, width) pairs. Build it by overlap-add: allocate the full output of size
# ((H − 1)·s + kH + output_padding, …), loop over the kernel's kH × kW taps (not over pixels) and add
# each tap's contribution `torch.einsum("nchw,cd->ndhw", x, weight[:, :, i, j])` into a strided slice
# of the output; then crop `padding` from each border and add the bias.
#
# The check compares with `F.conv_transpose2d` (every convolution function is refused while your code runs)
# on cases with stride 1, 2 and 3, windows that overlap and windows with gaps between them (a kernel smaller
# than its stride), padding, output padding, (height, width) pairs that differ, non-square kernels and
# inputs, C_in = C_out and C_in ≠ C_out, one channel, an input one pixel high, with a bias and without; the
# graded cell adds other sizes and seeds. Then it runs your function on a 6 × 6 and a 12 × 12 input with the
# same 3 × 3 kernel and fails it if it does more work on the bigger one (more torch operations or lines of
# your Python): a loop over pixels, not over the taps.

# %% solution="conv_transpose2d"
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution by overlap-add; same arguments and result as F.conv_transpose2d."""
    ### BEGIN SOLUTION
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)

    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    full_h, full_w = (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow
    out = x.new_zeros(n, c_out, full_h, full_w)
    for i in range(kh):
        for j in range(kw):
            # every input pixel (a, b) adds weight[:, :, i, j] · x[:, :, a, b] at (a·sh + i, b·sw + j)
            out[:, :, i:i + (h - 1) * sh + 1:sh, j:j + (w - 1) * sw + 1:sw] += torch.einsum(
                "nchw,cd->ndhw", x, weight[:, :, i, j])
    out = out[:, :, ph:full_h - ph, pw:full_w - pw]
    if bias is not None:
        out = out + bias[None, :, None, None]
    return out
    ### END SOLUTION


# %%
check_conv_transpose2d(conv_transpose2d)

# %% tests="conv_transpose2d_tests" points=3
# Graded (3 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_conv_transpose2d(conv_transpose2d, strict=True)
### BEGIN HIDDEN TESTS
check_conv_transpose2d(conv_transpose2d, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3 — `conv_transpose_output_size`
#
# `conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1) -> int`:
# the formula above. The check compares with the size `F.conv_transpose2d` produces (on the `meta` device),
# with stride, padding, output padding and dilation, a stride larger than the kernel, and an input and a
# kernel of 1; the graded cell adds other sizes.

# %% solution="conv_transpose_output_size"
def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output size of a transposed convolution along one dimension."""
    ### BEGIN SOLUTION
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    ### END SOLUTION


# %%
check_conv_transpose_output_size(conv_transpose_output_size)

# %% tests="conv_transpose_output_size_tests" points=1
# Graded (1 point): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_conv_transpose_output_size(conv_transpose_output_size, strict=True)
### BEGIN HIDDEN TESTS
check_conv_transpose_output_size(conv_transpose_output_size, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# **Why `output_padding` exists.** A 3 × 3 convolution with stride 2 and padding 1 maps both 7 and 8
# pixels to 4. Going back, the transposed convolution with the same settings must choose; by default it
# gives 7, and `output_padding=1` gives 8:

# %%
for n in (7, 8):
    down = nn.Conv2d(1, 1, 3, stride=2, padding=1)(torch.zeros(1, 1, n, n)).shape[-1]
    ups = [nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=op)(torch.zeros(1, 1, down, down)).shape[-1]
           for op in (0, 1)]
    print(f"{n} → conv → {down} → transposed conv: {ups[0]} (output_padding=0), {ups[1]} (output_padding=1)")

# %% [markdown]
# ## 3. Checkerboard artifacts, and bilinear initialisation
#
# Where do the stamps overlap, and how often? Along one axis, input pixel a puts tap i of the kernel
# (i = 0 … k − 1) on output position **o = a·s + i − p**. The number of taps that land on o is the number
# of pairs (a, i) with a·s + i = o + p, 0 ≤ a < n and 0 ≤ i < k. Away from the borders every a is
# available, so this is the number of taps i ≡ o + p (mod s) among 0 … k − 1: with r = (o + p) mod s,
#
# $$\text{taps}(o) = \left\lceil \frac{k - r}{s} \right\rceil .$$
#
# If s divides k this is k/s for every r: every interior position receives the same number of taps. If
# not, some residues receive one tap more than the others: with k = 3 and s = 2, two taps land on every
# other position and one on the rest. In 2-D, pixel (o, o′) receives one tap for every pair (row tap,
# column tap), so the counts **multiply**, to 1, 2 or 4 per pixel. Even a constant input, upsampled with
# a constant kernel, comes out checkered; a network has to learn weights that cancel the pattern — often
# it does not, and its images show a **checkerboard** (Odena, Dumoulin & Olah, *Deconvolution and
# Checkerboard Artifacts*, Distill 2016). With k = 4 and s = 2, two taps land on every interior position
# along each axis, four per pixel. A third option avoids the problem by construction: **resize, then
# convolve** — nearest (or bilinear) upsampling followed by an ordinary k × k convolution, in which every
# interior output pixel is a sum of exactly k² values.
#
# ### Exercise 4 — `overlap_counts`
#
# `overlap_counts(in_size, kernel_size, stride, padding=0) -> LongTensor (H_out, W_out)`: `in_size` is
# (H, W); kernel size, stride and padding are ints, the same along both axes. Entry `[o, o′]` counts the
# (input pixel, kernel tap) pairs of a transposed convolution with these settings that land on output pixel
# (o, o′), after `padding` has cropped p rows and columns from each border, as in `F.conv_transpose2d`.
# Work from the index arithmetic above, not from a convolution: allocate the full
# ((H − 1)·s + k) × ((W − 1)·s + k) map of zeros (`dtype=torch.int64`), add 1 for every tap — a loop over
# the k × k taps, each adding into a strided slice as in Exercise 2, or one axis at a time and an outer
# product — then crop p from each border.
#
# The check measures the same thing another way: it runs `F.conv_transpose2d` on an input of ones with a
# kernel of ones (each tap adds 1 where it lands). While your code runs it refuses every convolution
# function and `F.fold` (which adds up overlapping windows too). Its cases: k = 3, s = 2 (uneven) and
# k = 4, s = 2 (even), stride 1 and 3, a kernel smaller than its stride (gaps), k = s (one tap
# everywhere), a 1 × 1 kernel, an input one pixel high, padding, and H ≠ W; the graded cell adds other
# sizes, some drawn from its seed.

# %% solution="overlap_counts"
def overlap_counts(in_size, kernel_size, stride, padding=0):
    """How many kernel taps of a transposed convolution land on each output pixel: (H_out, W_out), int64."""
    ### BEGIN SOLUTION
    h, w = in_size
    k, s, p = kernel_size, stride, padding
    full_h, full_w = (h - 1) * s + k, (w - 1) * s + k
    counts = torch.zeros(full_h, full_w, dtype=torch.int64)
    for i in range(k):
        for j in range(k):
            # tap (i, j) of every input pixel (a, b) lands on (a·s + i, b·s + j) of the full map
            counts[i:i + (h - 1) * s + 1:s, j:j + (w - 1) * s + 1:s] += 1
    return counts[p:full_h - p, p:full_w - p]
    ### END SOLUTION


# %%
check_overlap_counts(overlap_counts)

# %% tests="overlap_counts_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_overlap_counts(overlap_counts, strict=True)
### BEGIN HIDDEN TESTS
check_overlap_counts(overlap_counts, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# The count maps of the three ways to double an 8 × 8 map: the two transposed convolutions by your
# `overlap_counts` (by `F.conv_transpose2d` of ones until its check passes), and resize-then-convolve
# measured by running it on ones. Below each map, the counts along its middle row.

# %%
# the check's measurement, for the figure until your overlap_counts passes
def measured_counts(in_size, kernel_size, stride, padding=0):
    """F.conv_transpose2d of ones with a kernel of ones: the check's measurement."""
    ones = torch.ones(1, 1, *in_size)
    return F.conv_transpose2d(ones, torch.ones(1, 1, kernel_size, kernel_size), stride=stride,
                              padding=padding)[0, 0].long()


counter = overlap_counts if check_overlap_counts(overlap_counts) else measured_counts
ones = torch.ones(1, 1, 8, 8)
options = {f"transposed k=3, s=2 ({counter.__name__})": counter((8, 8), 3, 2, padding=1),
           f"transposed k=4, s=2 ({counter.__name__})": counter((8, 8), 4, 2, padding=1),
           "nearest ×2, then 3 × 3 conv": F.conv2d(F.interpolate(ones, scale_factor=2), torch.ones(1, 1, 3, 3),
                                                   padding=1)[0, 0].long()}
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, (title, counts) in zip(axes, options.items()):
    ax.imshow(counts, cmap="viridis")
    inner = counts[2:-2, 2:-2]
    ax.set_title(f"{title}\ninterior: {inner.min()} to {inner.max()}", fontsize=9)
    ax.axis("off")
    print(f"{title:>38}, row {counts.shape[0] // 2}: {counts[counts.shape[0] // 2].tolist()}")
plt.show()

# %% [markdown]
# With k = 3 and s = 2 the interior alternates 1, 2, 1, 2 along a row (and 2, 4, 2, 4 on the next): the
# checkerboard, before any learning. With k = 4, s = 2 and with resize-then-convolve the interior is flat;
# only the borders, which fewer stamps reach, differ.
#
# FCN initialises its upsampling layers to **bilinear interpolation**: Long et al. let training refine
# the intermediate 2× layers and keep the final one fixed (here, all of them are trained).
# For an upsampling factor f, the kernel has size k = 2f − f mod 2, stride f and padding ⌊f/2⌋; its
# weights are the outer product of a 1-D "tent", $t_i = 1 - |i - c| / f$ for i = 0 … k − 1, centred at
# c = f − 1 when k is odd and at c = f − 1/2 when k is even. Each channel is upsampled on its own, so
# the weight of a C → C layer holds the tent on its diagonal (`weight[c, c]`) and zeros elsewhere.
#
# ### Exercise 5 — `bilinear_kernel`
#
# `bilinear_kernel(channels, factor) -> Tensor` of shape (channels, channels, k, k), float32. The check
# compares with the tent definition above, for one channel and several, even and odd factors, and factor 1
# (a 1 × 1 kernel); the graded cell adds other channel counts and factors. Below, you will see that a
# transposed convolution with it reproduces `F.interpolate(mode="bilinear")`.

# %% solution="bilinear_kernel"
def bilinear_kernel(channels, factor):
    """Weight of a ConvTranspose2d(channels, channels, k, stride=factor, padding=factor // 2) that upsamples
    each channel bilinearly."""
    ### BEGIN SOLUTION
    k = 2 * factor - factor % 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    tent = 1 - (torch.arange(k, dtype=torch.float32) - centre).abs() / factor
    weight = torch.zeros(channels, channels, k, k)
    for c in range(channels):
        weight[c, c] = torch.outer(tent, tent)
    return weight
    ### END SOLUTION


# %%
check_bilinear_kernel(bilinear_kernel)

# %% tests="bilinear_kernel_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_bilinear_kernel(bilinear_kernel, strict=True)
### BEGIN HIDDEN TESTS
check_bilinear_kernel(bilinear_kernel, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# A photograph shrunk 4 × and brought back with your kernel, against `F.interpolate`:

# %%
if check_bilinear_kernel(bilinear_kernel):
    photo = data.load_image("chelsea", size=(120, 180))[None]           # (1, 3, 120, 180)
    small = F.avg_pool2d(photo, 4)                                       # (1, 3, 30, 45)
    factor = 4
    upsample = nn.ConvTranspose2d(3, 3, kernel_size=2 * factor, stride=factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        upsample.weight.copy_(bilinear_kernel(3, factor))
        mine = upsample(small)
    reference = F.interpolate(small, scale_factor=factor, mode="bilinear", align_corners=False)
    inner = (..., slice(factor, -factor), slice(factor, -factor))
    print(f"largest difference from F.interpolate away from the border: {(mine - reference)[inner].abs().max():.1e}")
    plots.show_images([small[0], mine[0].clamp(0, 1), reference[0]],
                      ["1/4 size", "ConvTranspose2d, bilinear kernel", "F.interpolate(bilinear)"], size=3.3)
    plt.show()
else:
    print("Finish Exercise 5 to upsample a photograph with your kernel.")

# %% [markdown]
# The only differences are at the border, where the transposed convolution sees zeros beyond the
# image and `F.interpolate` repeats the edge pixel.
#
# ## 4. Measuring a segmentation
#
# **Pixel accuracy** — the share of pixels labelled correctly — is easy to read and easy to fool: when
# most of an image is background, predicting "background" everywhere scores high. The standard
# measure is the **intersection over union** per class,
#
# $$\mathrm{IoU}_c = \frac{|\text{pred}_c \cap \text{truth}_c|}{|\text{pred}_c \cup \text{truth}_c|}
# = \frac{TP_c}{TP_c + FP_c + FN_c},$$
#
# averaged over the classes: **mean IoU** (mIoU). All of these come from one **confusion matrix**
# `m[t, p]` = number of pixels of true class t predicted as p: $TP_c$ is the diagonal entry, $FP_c$ the
# rest of column c, $FN_c$ the rest of row c. Datasets mark pixels that should not count (object
# borders, unlabelled regions) with an **ignore label**, 255 by convention (PASCAL VOC); those pixels
# are left out of the matrix.
#
# ### Exercise 6 — `confusion_matrix`
#
# `confusion_matrix(pred, target, num_classes, ignore_index=255) -> LongTensor (num_classes,
# num_classes)`: `pred` and `target` are integer tensors of the same shape (e.g. (N, H, W)); rows are
# true classes, columns predictions; pixels whose **target** equals `ignore_index` are left out (note
# that `ignore_index` may also be a valid class id). No Python loop over pixels: `torch.bincount` on
# `target * num_classes + pred` counts all pairs at once. The check compares with a count made with one
# boolean mask per (true, predicted) pair, on cases with ignored pixels (labelled 255 or −1), an
# `ignore_index` that is also a class id, a class on no pixel at all (the matrix is still num_classes ×
# num_classes), and a single pixel; the graded cell adds other sizes and seeds. Then it runs your function on
# 2 × 8 × 8 and on 2 × 16 × 16 pixels and fails it if it does more work on the bigger input: more torch
# operations, or more lines of your Python (a loop over pixels, their `.tolist()` or a NumPy copy).

# %% solution="confusion_matrix"
def confusion_matrix(pred, target, num_classes, ignore_index=255):
    """m[t, p] = number of pixels of true class t predicted as p, ignoring target == ignore_index."""
    ### BEGIN SOLUTION
    keep = target != ignore_index
    pairs = target[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    ### END SOLUTION


# %%
check_confusion_matrix(confusion_matrix)

# %% tests="confusion_matrix_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_confusion_matrix(confusion_matrix, strict=True)
### BEGIN HIDDEN TESTS
check_confusion_matrix(confusion_matrix, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 7 — `segmentation_scores`
#
# `segmentation_scores(matrix) -> (pixel_accuracy, mean_iou, iou)`: two floats (Python floats or 0-d
# tensors) and a float tensor
# with one IoU per class. A class that appears in neither the truth nor the prediction has
# TP + FP + FN = 0: its IoU is undefined — make it NaN (0 / 0 in floating point does that) and leave it
# out of the mean (`torch.nanmean`). A class that no pixel truly has but the model predicts is different:
# its IoU is 0 / FP = 0, and it counts. The check compares with the definitions, class by class, on
# confusion matrices with an absent class, with a class that is only predicted, and with a single class;
# the graded cell adds other sizes and seeds.

# %% solution="segmentation_scores"
def segmentation_scores(matrix):
    """Pixel accuracy, mean IoU and per-class IoU from a confusion matrix m[true, predicted]."""
    ### BEGIN SOLUTION
    m = matrix.double()
    tp = m.diagonal()
    iou = tp / (m.sum(dim=0) + m.sum(dim=1) - tp)     # NaN where the union is empty
    pixel_accuracy = (tp.sum() / m.sum()).item()
    return pixel_accuracy, torch.nanmean(iou).item(), iou
    ### END SOLUTION


# %%
check_segmentation_scores(segmentation_scores)

# %% tests="segmentation_scores_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_segmentation_scores(segmentation_scores, strict=True)
### BEGIN HIDDEN TESTS
check_segmentation_scores(segmentation_scores, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# A real photograph first: scikit-image's coins, with a coin/background mask that ships with the course
# (made by a documented watershed procedure and checked by eye — right to a pixel or two at the edges,
# not exact). The simplest possible segmenter thresholds the brightness at its mean:

# %%
coins, coins_mask = data.load_segmentation_photo("coins")          # (3, H, W), (H, W) with 0/1
threshold_prediction = (coins.mean(dim=0) > coins.mean()).long()    # bright = coin
if check_confusion_matrix(confusion_matrix) and check_segmentation_scores(segmentation_scores):
    matrix = confusion_matrix(threshold_prediction, coins_mask, 2)
    pixel_accuracy, mean_iou, iou = segmentation_scores(matrix)
    print("confusion matrix (rows: truth background/coin; columns: prediction):")
    print(matrix)
    print(f"pixel accuracy {pixel_accuracy:.1%}, IoU background {iou[0]:.3f}, coin {iou[1]:.3f}, "
          f"mean IoU {mean_iou:.3f}")
plots.show_segmentation(coins, coins_mask, threshold_prediction, classes=data.SEGMENTATION_PHOTOS["coins"],
                        errors=True)
plt.show()

# %% [markdown]
# The brighter background at the top (uneven lighting) and the dark details inside the coins defeat a
# single global threshold: the errors panel shows where. Mean IoU, not pixel accuracy, shows how much.
#
# Why pixel accuracy is not enough, measured on the course's segmentation set (next section): predict
# "background" for every test pixel.

# %%
train_seg, test_seg = data.load_segmentation("train"), data.load_segmentation("test")
classes = data.SEGMENTATION_CLASSES
num_classes = len(classes)
if check_confusion_matrix(confusion_matrix) and check_segmentation_scores(segmentation_scores):
    truth = test_seg.tensors[1]
    all_background = torch.zeros_like(truth)
    pixel_accuracy, mean_iou, iou = segmentation_scores(confusion_matrix(all_background, truth, num_classes))
    print(f"'background everywhere': pixel accuracy {pixel_accuracy:.1%}, mean IoU {mean_iou:.3f}")
    print("per-class IoU:", {name: round(v, 3) for name, v in zip(classes, iou.tolist())})
else:
    print("Finish Exercises 6 and 7 to score a prediction here.")

# %% [markdown]
# Most pixels are right, yet three of the four classes are never found: mean IoU says so, pixel
# accuracy does not. (The foreground classes get IoU 0, not NaN: they are present in
# the truth, so their union is not empty.)
#
# ## 5. FCN-32s, FCN-16s and FCN-8s
#
# The course's segmentation set: 64 × 64 images with 4 classes — background, disc, square, triangle.
# Objects overlap, touch and vary in size; backgrounds are textured and noisy; an object's colour is
# random (close to the background's), so only **shape and surface pattern** tell the classes apart.
# 512 training and 128 test images, generated deterministically and checked against a checksum.

# %%
fig, axes = plt.subplots(3, 2, figsize=(5.5, 8))
for row, index in enumerate((0, 1, 2)):
    image, mask = test_seg[index]
    plots.show_segmentation(image, mask, classes=classes, axes=axes[row], legend=row == 0)
plt.show()

# %% [markdown]
# The FCN of Long et al. is a VGG-16 whose dense layers are convolutionalized; its prediction is a
# score map at 1/32 of the image resolution. Three ways to get back to full resolution:
#
# - **FCN-32s**: upsample the stride-32 scores by 32 in one transposed convolution;
# - **FCN-16s**: upsample them ×2, add scores computed (by a 1 × 1 convolution) from pool4, a
#   stride-16 map that has seen less pooling; then upsample ×16;
# - **FCN-8s**: the same once more with pool3 (stride 8), then upsample ×8.
#
# The skips combine *what* (deep, coarse layers) with *where* (shallower, finer layers). Every
# upsampling layer starts as bilinear interpolation — with your `bilinear_kernel` once its check
# passes — and is trained with the rest. The network here is a small version for 64 × 64 images:
# five stages of 3 × 3 convolutions with batch norm and 2 × 2 max pooling (8 … 64 channels), then the
# convolutionalized fc6/fc7. Its code is in `course_utils/segmentation.py` (`TinyFCN`), short enough to
# read in one go. On a 64 × 64 image the stride-32 map is only 2 × 2.
#
# All three are trained the same way (Adam, one-cycle learning rate, 5 epochs, the same batches in the
# same order) and scored on the test images.

# %%
from course_utils import segmentation

kernel = bilinear_kernel if check_bilinear_kernel(bilinear_kernel) else None
scored_by_you = check_confusion_matrix(confusion_matrix) and check_segmentation_scores(segmentation_scores)
score_functions = (dict(confusion_fn=confusion_matrix, scores_fn=segmentation_scores) if scored_by_you else {})
fcns, results = {}, {}
if train.autograding():   # a demonstration without points: nbgrader's autograder skips it
    print("Skipped while the autograder runs.")
else:
    for variant in ("32s", "16s", "8s"):
        torch.manual_seed(0)
        model = segmentation.TinyFCN(num_classes, variant, kernel=kernel).to(device)
        seconds = segmentation.fit_segmentation(model, train_seg, epochs=5)
        fcns[variant], results[variant] = model, segmentation.evaluate(model, test_seg, num_classes, **score_functions)
        print(f"FCN-{variant}: {train.count_parameters(model):,} parameters, trained in {seconds:.1f} s; test pixel "
              f"accuracy {results[variant]['pixel_accuracy']:.1%}, mean IoU {results[variant]['mean_iou']:.3f}")
    print("scored with", "your confusion_matrix and segmentation_scores" if scored_by_you else "the course's functions")

# %%
if results:
    fig, axes = plt.subplots(3, 5, figsize=(12, 7.6))
    for row, index in enumerate((3, 4, 5)):
        image, mask = test_seg[index]
        plots.show_segmentation(image, mask, classes=classes, axes=axes[row, :2], legend=False)
        for col, variant in enumerate(("32s", "16s", "8s")):
            plots.show_mask(image, results[variant]["predictions"][index], ax=axes[row, 2 + col],
                            num_classes=num_classes, title=f"FCN-{variant}" if row == 0 else None)
    plt.tight_layout()
    plt.show()

# %% [markdown]
# FCN-32s can only paint blobs: its whole prediction is interpolated from a 2 × 2 grid of scores, so it
# cannot place a boundary more precisely than the grid allows, and small objects vanish. Each skip
# adds a finer grid (4 × 4 from pool4, 8 × 8 from pool3), and the boundaries sharpen with it — the
# mean IoU rises accordingly. Long et al. saw the same ordering on PASCAL VOC 2011 (their Table 2, mean
# IU on a validation subset: FCN-32s 59.4, FCN-16s 62.4, FCN-8s 62.7), with much smaller gaps: on
# their images of up to 500 × 500 pixels the stride-32 map has up to 16 × 16 cells, not 2 × 2. (FCN-32s
# has the *most* parameters of the three: its one ×32 upsampling layer has a 64 × 64 kernel per class
# pair.)
#
# ## 6. Hypercolumns
#
# FCN combines *scores* from several layers. Hariharan, Arbeláez, Girshick and Malik (*Hypercolumns for
# Object Segmentation and Fine-grained Localization*, CVPR 2015) combine *features* instead: for each
# pixel, stack the activations above it in several layers — upsampled to the image's resolution — into
# one long vector, the **hypercolumn**, and classify that vector. Early layers contribute precise
# location and edges, late layers meaning.
#
# **How hypercolumns began.** The paper did not label every pixel of the image, and its system was not
# one network from image to label map as FCN is. It started from **detections**: the boxes of an R-CNN
# style detector (notebook 09). Inside each detected box it computed the hypercolumns of the box's
# pixels and classified them for one of three tasks — figure or background for *simultaneous detection
# and segmentation* (one mask per detected object), which part for *part labelling*, near a keypoint or
# not for *keypoint localisation*. Because the same feature means different things at the top or the
# bottom of a box (a head is rarely at a person's feet), it learned a coarse grid of classifiers over
# the box and interpolated between them. The classifiers were written as extra layers and trained with
# the network, but the whole system stays two-stage: detect first, then label the pixels of each box.
# That is what the lecture notes mean by "similar to FCN but not end to end; it uses the bounding boxes
# separately".
#
# The demonstration below borrows only the representation: it classifies every pixel of the whole image,
# without boxes, the way FCN does.
#
# With the trained FCN-8s's backbone frozen, the hypercolumn of pool1 … pool3 (8 + 16 + 32 = 56 values
# per pixel) against pool3 alone (32 values), each classified per pixel by a 1 × 1 convolution trained
# for two epochs:

# %%
class PixelClassifier(nn.Module):
    """A 1 × 1 convolution on frozen backbone features, upsampled to the image's size and concatenated."""

    def __init__(self, backbone, stages, num_classes):
        super().__init__()
        self.backbone, self.stages = backbone, stages
        channels = [backbone.stages[i][-2][0].out_channels for i in stages]   # the last conv of each stage
        self.classify = nn.Conv2d(sum(channels), num_classes, 1)

    def train(self, mode=True):
        super().train(mode)
        self.backbone.eval()   # frozen: its batch norms keep their statistics
        return self

    def forward(self, x):
        with torch.no_grad():   # no gradient into the backbone: only `classify` learns
            features = self.backbone.features(x)
        size = x.shape[-2:]
        column = torch.cat([F.interpolate(features[i], size=size, mode="bilinear", align_corners=False)
                            for i in self.stages], dim=1)   # (N, sum of channels, H, W): one hypercolumn per pixel
        return self.classify(column)


if results:
    for name, stages in (("pool3 only", [2]), ("hypercolumn pool1-pool3", [0, 1, 2])):
        torch.manual_seed(0)
        probe = PixelClassifier(fcns["8s"], stages, num_classes).to(device)
        seconds = segmentation.fit_segmentation(probe, train_seg, epochs=2)
        probe_result = segmentation.evaluate(probe, test_seg, num_classes)
        print(f"{name:>24}: {probe.classify.in_channels} features per pixel, test mean IoU "
              f"{probe_result['mean_iou']:.3f} (trained in {seconds:.1f} s)")


# %% [markdown]
# Mixing layers helps even without training the backbone for it: the pool1 and pool2 features carry
# exact edges that pool3, at stride 8, has already blurred. A single 1 × 1 convolution on hypercolumns
# does about as well as the whole FCN-8s head above — compare the printed numbers. (Both probes use the FCN-8s backbone as it
# is; only their 1 × 1 convolutions learn.)
#
# ## What to remember
#
# - Semantic segmentation labels every pixel; mean IoU (per class TP / (TP + FP + FN), averaged) is the
#   measure to report — pixel accuracy rewards predicting the majority class.
# - Any dense layer is a convolution with a kernel the size of its input: a classifier becomes a
#   fully convolutional network that runs on any image size and outputs a map. The first dense layer
#   becomes a k × k convolution (7 × 7 in VGG-16), the later ones 1 × 1 — not all 1 × 1.
# - A transposed convolution stamps its kernel at every input pixel (stride s apart) and adds the
#   overlaps; its size is (n − 1)·s − 2p + d·(k − 1) + output_padding + 1. Counting the taps from the
#   index arithmetic (input a, tap i → output a·s + i − p) shows that kernels that are not a multiple of
#   the stride overlap unevenly — k = 3, s = 2 gives 1, 2 or 4 taps per pixel — the seed of checkerboard
#   artifacts. Bilinear initialisation, or resize-then-convolve, avoids them.
# - FCN-32s upsamples the coarsest scores in one jump; FCN-16s and FCN-8s add scores from pool4 and
#   pool3 and recover the boundaries. Hypercolumns stack features of several layers per pixel; they
#   began (Hariharan et al., 2015) as per-box pixel classifiers run after a detector — detection first,
#   then a mask, parts or keypoints inside each box.
