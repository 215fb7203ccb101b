# %% [markdown]
# # 07 · U-Net: an encoder, a decoder, and a skip at every level
#
# FCN-8s (notebook 06) recovers detail by adding scores from two earlier layers. Ronneberger, Fischer
# and Brox took the idea to its end in *U-Net: Convolutional Networks for Biomedical Image
# Segmentation* (MICCAI 2015): a **contracting path** that halves the resolution and doubles the
# channels, a mirror-image **expanding path** that doubles the resolution and halves the channels,
# and at *every* level the encoder's feature map **concatenated** into the decoder. Trained on only 30
# annotated electron-microscopy images (with heavy augmentation), it beat the best earlier method on
# the ISBI 2012 EM segmentation challenge, and it won two categories of the ISBI 2015 cell-tracking
# challenge by a large margin. It is still the default architecture for medical image segmentation —
# and the denoiser inside many image diffusion models.
#
# **You will**
# 1. meet the 7 → 3 → 6 problem: why an encoder–decoder breaks on odd image sizes, and fix it with
#    `match_size`;
# 2. build `UNet(depth, base_channels)` that returns an output of its input's size for *any* size;
# 3. count the parameters of the paper's configuration with a formula (31.0 M; the paper gives no
#    count), and check your network against it;
# 4. follow the paper's unpadded U-Net from a 572 × 572 tile to its 388 × 388 output;
# 5. train a small U-Net on the course's segmentation set and compare it with notebook 06's FCN-8s.
#
# Exercises work as before: replace `raise NotImplementedError()`, run the cell, run the check. The
# notebook runs in about a minute on a laptop CPU; the training demonstration carries no points, so the
# autograder skips it (`train.autograding()`).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import data, plots, segmentation, train
from course_utils.checks import check_make_unet, check_match_size, check_unet_output_size

device = train.pick_device()  # CUDA when available, else the CPU: chosen once
print("device:", device)

# %% [markdown]
# ## 1. The shape of the U
#
# ```
#  input ─► [conv conv] ─────────────── copy ──────────────► [cat ─ conv conv] ─► 1×1 conv ─► output
#   H × W        │ w₀                                              ▲ 2·w₀ → w₀          (num_classes)
#             pool 2×2                                        up-conv 2×2
#                ▼                                                 │
#           [conv conv] ──────────── copy ──────────► [cat ─ conv conv]
#   H/2           │ w₁ = 2·w₀                              ▲ 2·w₁ → w₁
#              pool 2×2                               up-conv 2×2
#                 ▼                                        │
#                         [conv conv]  (the bottom: w_depth channels, H / 2^depth)
# ```
#
# - **Contracting path (encoder).** Each level applies two 3 × 3 convolutions, each followed by a ReLU,
#   then a 2 × 2 max pool with stride 2. Each level down doubles the channels: $w_i = w_0 \cdot 2^i$.
#   Deep levels see a large context (*what* is in the image) at a low resolution.
# - **Expanding path (decoder).** Each level up starts with a 2 × 2 **up-convolution** (a transposed
#   convolution with stride 2, notebook 06) that doubles the resolution and halves the channels,
#   $w_{i+1} \to w_i$; the result is **concatenated** with the encoder's map of the same level (saved
#   before pooling), giving $2 w_i$ channels, and two 3 × 3 convolutions bring it back to $w_i$.
# - **Head.** A 1 × 1 convolution maps the $w_0$ channels to one score per class, at every pixel.
#
# The concatenated maps carry *where*: exact edges, at full resolution, that pooling threw away.
# FCN-8s *adds* class scores from two earlier layers; U-Net *concatenates* whole feature maps at every
# level and lets the following convolutions decide how to combine them.
#
# ## 2. The 7 → 3 → 6 problem
#
# Max pooling with a 2 × 2 window and stride 2 **floors** an odd size, $\lfloor 7/2 \rfloor = 3$; the
# up-convolution doubles exactly, $3 \to 6$. The skip from the encoder still has 7 rows, and
# `torch.cat` refuses maps of different sizes:

# %%
skip = torch.randn(1, 8, 7, 7)                                # the encoder's map, before pooling
pooled = F.max_pool2d(skip, 2)                                # (1, 8, 3, 3): 7 // 2 = 3
up = nn.ConvTranspose2d(8, 8, kernel_size=2, stride=2)(pooled)  # (1, 8, 6, 6)
print("skip", tuple(skip.shape), "→ pooled", tuple(pooled.shape), "→ upsampled", tuple(up.shape))
try:
    torch.cat([skip, up], dim=1)
except RuntimeError as error:
    print("torch.cat:", error)

# %% [markdown]
# Which input sizes are safe? One that survives `depth` halvings without a remainder: a multiple of
# $2^{\text{depth}}$. With 4 poolings, only one size in 16:

# %%
def round_trip(size, depth):
    """The side length after `depth` poolings and as many doublings."""
    for _ in range(depth):
        size //= 2
    return size * 2 ** depth


print("size:      ", *[f"{n:>3}" for n in range(60, 73)])
print("round trip:", *[f"{round_trip(n, 4):>3}" for n in range(60, 73)])

# %% [markdown]
# Three ways out:
#
# 1. accept only multiples of $2^{\text{depth}}$ (pad the *input* image up to one, and crop the output);
# 2. bring the upsampled map to the skip's size by **padding** it (or, where it is larger, cropping it);
# 3. **interpolate** the upsampled map to the skip's size (`F.interpolate(up, size=skip.shape[-2:])`).
#
# The paper's own network never pads (section 5) and **crops the skip** instead — the encoder's maps
# are larger than the decoder's there. We pad the upsampled map: it keeps every pixel of the skip,
# and the output then has exactly the input's size.
#
# ### Exercise 1 — `match_size`
#
# `match_size(x, size) -> tensor`: take a map `x` of shape (N, C, h, w) to (N, C, H, W), where
# `size = (H, W)` (a tuple or a `torch.Size` such as `skip.shape[-2:]`), **centre-aligned**:
#
# - for the height, with $d = H - h$: add $\lfloor d/2 \rfloor$ rows at the top and $d - \lfloor d/2
#   \rfloor$ at the bottom, filled with **zeros**; when $d$ is odd the extra row goes at the bottom;
# - a **negative** $d$ means the map is too tall: the same numbers, negative, *remove* rows — for
#   $d = -3$, $\lfloor -3/2 \rfloor = -2$ rows from the top and $-1$ from the bottom;
# - the width likewise, with $d = W - w$ (left and right).
#
# `F.pad(x, [left, right, top, bottom])` does all of this in one call — its list starts with the **last**
# dimension, and negative padding crops. The check compares with an explicit index computation (output
# row $i$ reads input row $i - \lfloor d/2 \rfloor$, zero where that row does not exist), on pads and
# crops by odd and even amounts, both axes at once, with `size` a tuple or a `torch.Size`; the graded
# cell adds other sizes and seeds.

# %% solution="match_size"
def match_size(x, size):
    """Pad with zeros or crop (N, C, h, w) to (N, C, H, W), centre-aligned: ⌊d/2⌋ before, the rest after."""
    ### BEGIN SOLUTION
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]   # negative: crop
    return F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
    ### END SOLUTION


# %%
check_match_size(match_size)

# %% tests="match_size_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_match_size(match_size, strict=True)
### BEGIN HIDDEN TESTS
check_match_size(match_size, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# With it, the two maps of the example above concatenate:

# %%
if check_match_size(match_size):
    matched = match_size(up, skip.shape[-2:])
    print("upsampled", tuple(up.shape), "→ matched", tuple(matched.shape),
          "→ concatenated", tuple(torch.cat([skip, matched], dim=1).shape))
    print("zeros added: last row", bool((matched[..., -1, :] == 0).all()), "and last column",
          bool((matched[..., :, -1] == 0).all()))
else:
    print("Finish Exercise 1 to join the two maps here.")

# %% [markdown]
# ## 3. Building the U-Net
#
# The course's U-Net follows the paper with two modern changes, both optional through arguments:
#
# - **padded** 3 × 3 convolutions (`padding=1`), so that every convolution keeps the size and the
#   output matches the input (the paper's unpadded version is section 5);
# - **batch norm** (Ioffe & Szegedy, 2015, notebook 02) after each 3 × 3 convolution when
#   `batch_norm=True`: `conv (no bias) → BatchNorm2d → ReLU`, the course's `segmentation.conv_bn_relu`.
#   With `batch_norm=False` each convolution has a bias and is followed by a ReLU only, as in the paper.
#
# `double_conv` below (given) builds one level's pair of convolutions either way.

# %%
def double_conv(in_channels, out_channels, batch_norm=True):
    """Two 3 × 3 convolutions (padding 1), each followed by ReLU — with batch norm, and then without bias."""
    if batch_norm:
        return nn.Sequential(segmentation.conv_bn_relu(in_channels, out_channels),
                             segmentation.conv_bn_relu(out_channels, out_channels))
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True))


# %% [markdown]
# ### Exercise 2 — `UNet`
#
# Complete `UNet(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_size)`,
# mapping (N, in_channels, H, W) to class scores (N, num_classes, H, W) — logits, no softmax — for
# **any** H and W (at least $2^{\text{depth}}$), odd and non-square included. With widths
# $w_i = \text{base\_channels} \cdot 2^i$ for $i = 0, \dots, \text{depth}$:
#
# - encoder level $i = 0 \dots \text{depth} - 1$: `double_conv` from `in_channels` (level 0) or
#   $w_{i-1}$ to $w_i$; keep its output for the skip, then `F.max_pool2d(x, 2)`;
# - the bottom: `double_conv` from $w_{\text{depth}-1}$ to $w_{\text{depth}}$;
# - decoder level $i = \text{depth} - 1 \dots 0$: `nn.ConvTranspose2d(w_{i+1}, w_i, kernel_size=2, stride=2)`,
#   then `match(up, skip.shape[-2:])`, then `torch.cat([skip, up], dim=1)` ($2 w_i$ channels), then
#   `double_conv` from $2 w_i$ to $w_i$;
# - the head: `nn.Conv2d(w_0, num_classes, kernel_size=1)`.
#
# Use `match` (rather than `match_size` directly) to bring the upsampled map to the skip's size: the check passes
# its own reference `match` there, so that this exercise is graded on the network alone. `nn.ModuleList`
# holds a list of layers so that their parameters are registered.
#
# The check builds your network for several configurations — the paper's among them — and compares its
# parameter count with a formula written from the description above; runs it on odd and non-square
# inputs (7 × 7 first) and expects the input's size back; watches `torch.cat` to see that each
# level concatenates two different maps of $w_i$ channels; and finally puts the weights of its own
# reference U-Net into yours (layer by layer, in the order your forward pass runs them) and compares
# the **outputs value by value**, in eval and in training mode — so a missing ReLU, a batch norm in the
# wrong place or a softmax on the logits shows even when every shape is right. The graded cell adds
# other configurations and input sizes.

# %% solution="make_unet"
class UNet(nn.Module):
    """U-Net (Ronneberger, Fischer & Brox, 2015) with padded convolutions: the output has the input's size."""

    def __init__(self, in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_size):
        super().__init__()
        ### BEGIN SOLUTION
        self.match = match
        widths = [base_channels * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList(double_conv(in_channels if i == 0 else widths[i - 1], widths[i], batch_norm)
                                  for i in range(depth))
        self.bottom = double_conv(widths[depth - 1], widths[depth], batch_norm)
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], kernel_size=2, stride=2)
                                for i in range(depth))
        self.dec = nn.ModuleList(double_conv(2 * widths[i], widths[i], batch_norm) for i in range(depth))
        self.head = nn.Conv2d(base_channels, num_classes, kernel_size=1)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        skips = []
        for block in self.down:
            x = block(x)                                          # (N, w_i, H_i, W_i)
            skips.append(x)
            x = F.max_pool2d(x, 2)                                # (N, w_i, ⌊H_i/2⌋, ⌊W_i/2⌋)
        x = self.bottom(x)                                        # (N, w_depth, H_depth, W_depth)
        for i in reversed(range(len(skips))):
            up = self.match(self.up[i](x), skips[i].shape[-2:])   # (N, w_i, H_i, W_i)
            x = self.dec[i](torch.cat([skips[i], up], dim=1))     # (2·w_i →) (N, w_i, H_i, W_i)
        return self.head(x)                                       # (N, num_classes, H, W)
        ### END SOLUTION


def make_unet(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=match_size):
    return UNet(in_channels, num_classes, depth, base_channels, batch_norm, match)


# %%
check_make_unet(make_unet)

# %% tests="make_unet_tests" points=4
# Graded (4 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_make_unet(make_unet, strict=True)
### BEGIN HIDDEN TESTS
check_make_unet(make_unet, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Your network on several sizes, odd and non-square ones included:

# %%
if check_match_size(match_size) and check_make_unet(make_unet):
    torch.manual_seed(0)
    small = make_unet(3, 4, depth=3, base_channels=4).eval()
    with torch.no_grad():
        for h, w in [(64, 64), (61, 61), (37, 50), (8, 9)]:
            print(f"input {h} × {w} → output {tuple(small(torch.randn(1, 3, h, w)).shape[-2:])}")
else:
    print("Finish Exercises 1 and 2 to run your U-Net here.")

# %% [markdown]
# ## 4. The paper's configuration: how many parameters?
#
# The network of the paper's Fig. 1 has 1 input channel (grey microscopy images), 2 classes (cell or
# border), 4 poolings and 64 channels at the top — up to 1,024 at the bottom — no batch norm. Its
# parameters, counted from the description alone (a $k \times k$ convolution from $a$ to $b$ channels
# has $k^2 a b$ weights and $b$ biases; so does a 2 × 2 up-convolution):

# %%
def conv_params(c_in, c_out, k):
    return k * k * c_in * c_out + c_out


widths = [64 * 2 ** i for i in range(5)]   # 64 … 1024
per_level = []
for i, w in enumerate(widths):
    encoder = conv_params(1 if i == 0 else widths[i - 1], w, 3) + conv_params(w, w, 3)
    decoder = 0 if i == 4 else conv_params(widths[i + 1], w, 2) + conv_params(2 * w, w, 3) + conv_params(w, w, 3)
    per_level.append(encoder + decoder)
head = conv_params(64, 2, 1)
classic_count = sum(per_level) + head
layers = 2 * 4 + 2 + 2 * 4 + 4 + 1   # 3×3 convs (encoder, bottom, decoder), up-convolutions, the head
print(f"the paper's U-Net: {layers} convolutional layers, {classic_count:,} parameters")

fig, ax = plt.subplots(figsize=(7, 3))
ax.bar([f"level {i}\n({w} ch)" for i, w in enumerate(widths[:-1])] + ["bottom\n(1024 ch)"],
       [c / 1e6 for c in per_level], color=["C0"] * 4 + ["C3"])
ax.set_ylabel("parameters (millions)")
ax.set_title(f"The paper's U-Net: {classic_count / 1e6:.1f} M parameters, "
             f"{per_level[-1] / classic_count:.0%} of them at the bottom")
plt.show()

# %% [markdown]
# 23 convolutional layers, as the paper says, and 31.0 million parameters. Doubling the channels
# quadruples a convolution's weights ($9 \cdot 2w \cdot 2w$), so the two deepest levels hold most
# of them — the same pattern as ResNet's last stage (notebook 04). Your `UNet` with the same
# settings must have exactly this count:

# %%
if check_make_unet(make_unet):
    with torch.device("meta"):   # shapes only: 31 million parameters cost no memory here
        classic = make_unet(1, 2, depth=4, base_channels=64, batch_norm=False)
    mine = train.count_parameters(classic)
    print(f"your UNet(1, 2, depth=4, base_channels=64, batch_norm=False): {mine:,} parameters; "
          f"formula: {classic_count:,}; equal: {mine == classic_count}")
    with torch.device("meta"):
        with_bn = make_unet(1, 2, depth=4, base_channels=64, batch_norm=True)
    print(f"with batch norm (bias-free convolutions, 2 parameters per channel in each BatchNorm2d): "
          f"{train.count_parameters(with_bn):,}")
else:
    print("Finish Exercise 2 to count your own network's parameters here.")

# %% [markdown]
# ## 5. The paper's U-Net has no padding
#
# Ronneberger et al. used **unpadded** ("valid") 3 × 3 convolutions: each removes one pixel on every
# side, so the maps shrink as they go, and the decoder's maps are *smaller* than the encoder's. The
# skip is therefore **centre-cropped** to the upsampled map's size before the concatenation — your
# `match_size` would do it, with the skip as `x`. A 572 × 572 input tile becomes a 388 × 388
# segmentation: every output pixel has its full context inside the tile, with no zeros from padding.
# To segment a large image, the paper predicts overlapping tiles (the **overlap-tile strategy**) and
# mirrors the image at its borders to supply the missing context.
#
# ### Exercise 3 — `unet_output_size`
#
# `unet_output_size(size, depth=4) -> int`: the side length of the unpadded U-Net's output for a
# square input of side `size`. Follow one side through the U:
#
# - each encoder level: two unpadded 3 × 3 convolutions, then a 2 × 2 max pool with stride 2 (which
#   **floors** odd sizes);
# - the bottom: two unpadded 3 × 3 convolutions;
# - each decoder level: a 2 × 2 up-convolution with stride 2 (doubles the size), then two unpadded
#   3 × 3 convolutions (the cropped skip has the upsampled map's size).
#
# Use the size formula of notebook 01, $\lfloor (n + 2p - k)/s \rfloor + 1$, or reason directly; return
# an `int`. The check compares with a reference unpadded U-Net run on the meta device, for the paper's
# 572 and for other sizes and depths (odd sizes before a pooling included); the graded cell adds other
# sizes and depths.

# %% solution="unet_output_size"
def unet_output_size(size, depth=4):
    """Output side of the paper's unpadded U-Net for an input side of `size`."""
    ### BEGIN SOLUTION
    n = size
    for _ in range(depth):
        n = (n - 4) // 2      # two unpadded 3×3 convolutions (−2 each), then the 2×2 pool (floors)
    n -= 4                    # the bottom's two convolutions
    for _ in range(depth):
        n = 2 * n - 4         # up-convolution (×2), then two convolutions
    return n
    ### END SOLUTION


# %%
check_unet_output_size(unet_output_size)

# %% tests="unet_output_size_tests" points=2
# Graded (2 points): the check above, strict, plus hidden cases: the same kinds of case at other sizes and seeds.
check_unet_output_size(unet_output_size, strict=True)
### BEGIN HIDDEN TESTS
check_unet_output_size(unet_output_size, strict=True, seed=2024, extended=True)
### END HIDDEN TESTS

# %% [markdown]
# Which tile sizes suit the unpadded U-Net? Those whose size is **even before every pooling**: then no
# row is floored away, the skips are cropped by the same amount on both sides, and the output is
# exactly the centre of the tile. Around the paper's 572:

# %%
def even_before_every_pool(size, depth=4):
    for _ in range(depth):
        size -= 4
        if size % 2:
            return False
        size //= 2
    return True


if check_unet_output_size(unet_output_size):
    for size in range(564, 582, 2):
        out = unet_output_size(size)
        note = "even before every pool" if even_before_every_pool(size) else ""
        print(f"tile {size} → output {out:>3}  (border lost: {(size - out) / 2:g} px per side)  {note}")
else:
    print("Finish Exercise 3 to tabulate the tile sizes here.")

# %% [markdown]
# Only one even size in eight qualifies, and 572 is one of them: 574 … 580 give the same 388 × 388 output
# while throwing away more border, and 570 drops to 372. Even at 572, 92 pixels of context are lost on
# each side — the reason the paper predicts overlapping tiles.
#
# ## 6. U-Net against FCN-8s
#
# The course's segmentation set of notebook 06: 64 × 64 images, 4 classes (background, disc, square,
# triangle), objects whose colour is close to the background's, so that shape and texture decide. A
# small U-Net — depth 3, 8 channels at the top, batch norm — and notebook 06's FCN-8s
# (`segmentation.TinyFCN(4, "8s")`) are trained **the same way**: `segmentation.fit_segmentation`,
# Adam with a one-cycle learning rate peaking at 0.01, batches of 8, 5 epochs, the same batches in
# the same order, on the device chosen at the top. Both are scored on the 128 test images.

# %%
train_seg, test_seg = data.load_segmentation("train"), data.load_segmentation("test")
classes = data.SEGMENTATION_CLASSES
num_classes = len(classes)
builders = {"FCN-8s": lambda: segmentation.TinyFCN(num_classes, "8s"),
            "U-Net": lambda: make_unet(3, num_classes, depth=3, base_channels=8)}
models, results = {}, {}
if train.autograding():   # a demonstration without points: nbgrader's autograder skips it
    print("Skipped while the autograder runs.")
elif check_match_size(match_size) and check_make_unet(make_unet):
    for name, build in builders.items():
        torch.manual_seed(0)
        model = build().to(device)
        seconds = segmentation.fit_segmentation(model, train_seg, epochs=5)
        models[name], results[name] = model, segmentation.evaluate(model, test_seg, num_classes)
        iou = ", ".join(f"{c} {v:.2f}" for c, v in zip(classes, results[name]["iou"].tolist()))
        print(f"{name:>6}: {train.count_parameters(model):>7,} parameters, trained in {seconds:4.1f} s; test mean IoU "
              f"{results[name]['mean_iou']:.3f}, pixel accuracy {results[name]['pixel_accuracy']:.1%} ({iou})")
else:
    print("Finish Exercises 1 and 2 to train your U-Net here.")

# %% [markdown]
# With fewer parameters than FCN-8s, the U-Net reaches a clearly higher mean IoU (above 0.9 here),
# and the gain is largest on the classes that need exact outlines — squares and triangles, whose
# corners a coarse map rounds off. Where the two differ, on three test images (the first two, and the
# one where the models disagree most):

# %%
def image_scores(prediction, truth):
    """(pixel accuracy, mean IoU over the classes present in truth or prediction) of one image."""
    accuracy, mean_iou, _ = segmentation.scores(segmentation.confusion(prediction, truth, num_classes))
    return accuracy, mean_iou


if results:
    truth = test_seg.tensors[1]
    fcn_pred, unet_pred = results["FCN-8s"]["predictions"], results["U-Net"]["predictions"]
    disagreement = (fcn_pred != unet_pred).flatten(1).sum(dim=1)
    shown = [0, 1, int(disagreement.argmax())]
    fig, axes = plt.subplots(len(shown), 4, figsize=(13, 3.3 * len(shown)))
    for row, index in enumerate(shown):
        image = test_seg.tensors[0][index]
        plots.show_segmentation(image, truth[index], unet_pred[index], classes=classes, axes=axes[row, [0, 1, 3]],
                                legend=row == 0)
        axes[row, 3].set_title("U-Net: " + axes[row, 3].get_title().removeprefix("prediction: "))
        accuracy, mean_iou = image_scores(fcn_pred[index], truth[index])
        plots.show_mask(image, fcn_pred[index], ax=axes[row, 2], num_classes=num_classes,
                        title=f"FCN-8s: {accuracy:.1%} px, IoU {mean_iou:.2f}")
        axes[row, 0].set_title(f"test image {index}")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# FCN-8s's finest information comes from pool3, a map at 1/8 of the resolution: its outlines are
# blurred, corners rounded, and thin gaps between touching objects closed. The U-Net's last decoder
# level sees the full-resolution encoder map, so its outlines follow the pixels.
#
# Because it pads and matches sizes, the trained U-Net also segments crops of any size — here 61 × 47,
# which no pooling divides evenly:

# %%
if results:
    crop_image, crop_truth = test_seg.tensors[0][shown[-1], :, 3:64, 9:56], test_seg.tensors[1][shown[-1], 3:64, 9:56]
    model = models["U-Net"].eval()
    with torch.no_grad():
        scores = model(crop_image[None].to(device))[0].cpu()   # (num_classes, 61, 47)
    print("input", tuple(crop_image.shape[1:]), "→ scores", tuple(scores.shape))
    plots.show_segmentation(crop_image, crop_truth, scores, classes=classes, legend=False)
    plt.show()

# %% [markdown]
# A fair warning about what these numbers mean: the shapes are synthetic, and both networks learned
# *these* shapes and textures. They have never seen a photograph, so we do not run them on the course's
# real coins photo (`data.load_segmentation_photo("coins")`): whatever they predicted there would measure
# how far the training data is from the photo, not how good either architecture is. The paper's
# networks were trained on the kind of images they segment, with elastic deformations to make 30
# training images go a long way.
#
# ## What to remember
#
# - U-Net = contracting path (pool, double the channels) + expanding path (2 × 2 up-convolution, halve
#   the channels) + the encoder's map **concatenated** at every level + a 1 × 1 head.
# - Pooling floors odd sizes and the up-convolution doubles exactly: 7 → 3 → 6. Pad (or crop) the
#   upsampled map to the skip's size, interpolate it, or feed only multiples of $2^{\text{depth}}$.
# - The paper's configuration — 1 channel in, 2 classes, 64 … 1,024 channels, 23 convolutional layers
#   — has 31.0 million parameters, most of them in the two deepest levels.
# - The paper's convolutions are unpadded: a 572 × 572 tile gives a 388 × 388 output, the skips are
#   centre-cropped, and large images are segmented in overlapping tiles.
# - On the course's shapes a U-Net with fewer parameters than FCN-8s beats it clearly in mean IoU: the
#   full-resolution skips restore the outlines.
