"""A fully connected CRF (Krähenbühl & Koltun, NeurIPS 2011) in plain PyTorch, for notebook 08.

DeepLab v1 and v2 (Chen et al., ICLR 2015 and TPAMI vol. 40, 2018, online 2017) sharpen a
network's blurry score map with it: every pixel is connected to every other pixel, and mean-field
inference pulls each pixel's label distribution towards those of pixels that are close *and* similar in colour.

The energy of a labelling x is  E(x) = Σ_i ψu(x_i) + Σ_{i<j} μ(x_i, x_j) Σ_m w_m k_m(f_i, f_j), with

* the appearance (bilateral) kernel  k_1 = exp(−|p_i − p_j|² / 2θα² − |I_i − I_j|² / 2θβ²),
* the smoothness kernel               k_2 = exp(−|p_i − p_j|² / 2θγ²),
* the Potts compatibility             μ(l, l') = [l ≠ l'],

p the pixel position (row, column) and I its colour (0-255, as in DeepLab's code).  A mean-field
step replaces the marginals Q by

    Q_i(l) ∝ exp(−ψu_i(l) − Σ_l' μ(l, l') Σ_m w_m Σ_{j ≠ i} k_m(f_i, f_j) Q_j(l')).

The sums over all pairs are computed exactly from two N × N kernel matrices, built once (no
permutohedral lattice): fine for images of up to about 5,000 pixels (64 × 81: 107 MB per matrix).
"""

from __future__ import annotations

__all__ = ["kernel_matrix", "pixel_features", "crf_kernels", "mean_field_step", "dense_crf",
           "unary_from_probabilities", "boundary_mask", "DEEPLAB_V2"]

# The DenseCRF settings of DeepLab v2's released script exper/run_densecrf.sh (PASCAL VOC, images of
# about 500 × 375): Bi_W=4, Bi_X_STD=Bi_Y_STD=49, Bi_R_STD=Bi_G_STD=Bi_B_STD=5, POS_W=3, POS_X_STD=3,
# MAX_ITER=10.  theta_alpha and theta_gamma are in pixels: scale them with the image size.
DEEPLAB_V2 = dict(w_appearance=4.0, theta_alpha=49.0, theta_beta=5.0, w_smooth=3.0, theta_gamma=3.0, iterations=10)


def pixel_features(image, theta_position, theta_colour=None):
    """(H·W, D) features, one row per pixel (row-major): (row, column) / θ_position, then colour / θ_colour."""
    import torch
    h, w = image.shape[-2:]
    rows, cols = torch.meshgrid(torch.arange(h, dtype=image.dtype, device=image.device),
                                torch.arange(w, dtype=image.dtype, device=image.device), indexing="ij")
    parts = [torch.stack([rows, cols], dim=-1).reshape(-1, 2) / theta_position]
    if theta_colour is not None:
        parts.append(image.reshape(image.shape[0], -1).t() / theta_colour)
    return torch.cat(parts, dim=1)


def kernel_matrix(features, *, chunk=1024):
    """K[i, j] = exp(−½ |f_i − f_j|²) for features (N, D): an (N, N) matrix, diagonal 1 (i = j included).

    Exact (every pair), built ``chunk`` rows at a time.  N = 64 × 81 pixels gives 5,184² numbers: 107 MB.
    """
    import torch
    f = features.contiguous()
    sq = (f * f).sum(dim=1)
    out = torch.empty(f.shape[0], f.shape[0], dtype=f.dtype, device=f.device)
    for start in range(0, f.shape[0], chunk):
        rows = f[start:start + chunk]
        d2 = sq[start:start + chunk, None] + sq[None, :] - 2 * rows @ f.t()   # squared distances
        out[start:start + chunk] = torch.exp(-0.5 * d2.clamp_min(0))
    out.diagonal().fill_(1.0)   # exactly 1, whatever the rounding of |f_i|² + |f_i|² − 2 f_i·f_i
    return out


def crf_kernels(image, theta_alpha=49.0, theta_beta=5.0, theta_gamma=3.0):
    """The two kernel matrices (N, N) of an image (C, H, W) with colours on the 0-255 scale.

    appearance: exp(−|p_i − p_j|² / 2θα² − |I_i − I_j|² / 2θβ²); smoothness: exp(−|p_i − p_j|² / 2θγ²).
    Pixels are numbered row by row (i = row · W + column), as ``tensor.reshape(L, -1)`` numbers them.
    """
    return (kernel_matrix(pixel_features(image, theta_alpha, theta_beta)),
            kernel_matrix(pixel_features(image, theta_gamma)))


def mean_field_step(unary, q, k_appearance, k_smooth, w_appearance=4.0, w_smooth=3.0):
    """One mean-field update of the dense CRF: new marginals (L, H, W) from ``q`` (L, H, W).

    unary: (L, H, W) energies ψu (e.g. −log of a network's probabilities); k_appearance, k_smooth:
    (N, N) kernel matrices with N = H·W (from :func:`crf_kernels`).  Potts compatibility; the
    self-connection j = i is left out.
    """
    flat = q.flatten(1)                                                       # (L, N)
    kernel = w_appearance * k_appearance + w_smooth * k_smooth                # (N, N)
    message = flat @ kernel.t() - kernel.diagonal() * flat                    # Σ_{j ≠ i} k(i, j) Q_j(l)
    pairwise = message.sum(dim=0) - message                                   # Potts: the mass on other labels
    energy = unary.flatten(1) + pairwise                                      # (L, N)
    return (-energy).softmax(dim=0).view_as(q)


def unary_from_probabilities(probabilities, eps=1e-6):
    """Unary energies −log p, with p clamped away from 0 (a network's softmax output, (L, H, W))."""
    return -probabilities.clamp_min(eps).log()


def dense_crf(probabilities, image, *, iterations=10, step=None, w_appearance=4.0, theta_alpha=49.0,
              theta_beta=5.0, w_smooth=3.0, theta_gamma=3.0):
    """Mean-field inference from a network's probabilities (L, H, W): the refined marginals (L, H, W).

    image: (C, H, W) on the 0-255 scale.  The kernels are built once; Q starts at the probabilities
    (Q₀ = softmax(−ψu)), as in Krähenbühl & Koltun's code.  ``step`` replaces :func:`mean_field_step`
    (notebook 08 passes the learner's).
    """
    step = step or mean_field_step
    k_appearance, k_smooth = crf_kernels(image, theta_alpha, theta_beta, theta_gamma)
    unary = unary_from_probabilities(probabilities)
    q = probabilities / probabilities.sum(dim=0, keepdim=True)
    for _ in range(iterations):
        q = step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth)
    return q


def boundary_mask(mask, width=2):
    """Pixels within ``width`` pixels (chessboard distance) of a label change in ``mask`` (H, W): a bool (H, W).

    The "trimap" band in which DeepLab (after Kohli et al., 2009) measures accuracy near boundaries.
    """
    import torch.nn.functional as F
    m = mask[None, None].float()
    k = 2 * width + 1
    high = F.max_pool2d(m, k, stride=1, padding=width)
    low = -F.max_pool2d(-m, k, stride=1, padding=width)
    return (high != low)[0, 0]
