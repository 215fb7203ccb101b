"""Notebook 09, pooling: ``spatial_pyramid_pool`` (the paper's bins written out) and ``roi_pool`` (vs torchvision.ops)."""

from __future__ import annotations

import functools
import math

from ..engine import REIMPLEMENTED, Case, CheckResult, compare_tensor, generator, later, run_cases
from ..messages.detection import M

__all__ = ["check_spatial_pyramid_pool", "check_roi_pool", "spp_reference", "roi_pool_reference", "c_round",
           "exact_bins"]


# --------------------------------------------------------------------------
# spatial_pyramid_pool
# --------------------------------------------------------------------------

# the mistakes spp_reference computes: their keys are its variants
SPP_VARIANTS = ("spatial_pyramid_pool.average", "spatial_pyramid_pool.reversed_levels",
                "spatial_pyramid_pool.spatial_major", "spatial_pyramid_pool.floor_ceil",
                "spatial_pyramid_pool.square", "spatial_pyramid_pool.adaptive")


def exact_bins(size, n):
    """Does the paper's rule (window ⌈a/n⌉, stride ⌊a/n⌋) give exactly n windows over ``size`` = a cells?

    With a = q·n + r it gives n + ⌊(r − 1)/q⌋ windows when r > 0 (n when r = 0), so exactly n when r ≤ q;
    and none at all when a < n (stride 0).
    """
    return size >= n and size % n <= size // n


def bins(size, n, variant=None, rule_size=None):
    """(start, end) of the windows over ``size`` cells at level n, by the paper's rule (window ⌈a/n⌉, stride
    ⌊a/n⌋ with a = ``rule_size``, by default ``size``; as many windows as fit, as a max pool makes them), or
    as a mistake makes them: ``"spatial_pyramid_pool.floor_ceil"`` window ⌊a/n⌋, stride ⌈a/n⌉;
    ``"spatial_pyramid_pool.adaptive"`` adaptive pooling's n bins, ⌊i·a/n⌋ … ⌈(i+1)·a/n⌉."""
    if variant == "spatial_pyramid_pool.adaptive":
        return [(math.floor(i * size / n), math.ceil((i + 1) * size / n)) for i in range(n)]
    a = size if rule_size is None else rule_size
    window, stride = math.ceil(a / n), math.floor(a / n)
    if variant == "spatial_pyramid_pool.floor_ceil":
        window, stride = stride, window
    count = (size - window) // stride + 1 if size >= window else 0
    return [(i * stride, i * stride + window) for i in range(count)]


def spp_reference(x, levels, variant=None):
    """Spatial pyramid pooling of x (N, C, H, W) by the paper's rule, written out bin by bin with slices;
    ``variant`` is the key of a mistake (``"spatial_pyramid_pool.square"``: the rows' window and stride used
    for the columns too).  None where the mistake has no answer (a window wider than the map)."""
    import torch
    H, W = x.shape[-2:]
    order = list(reversed(levels)) if variant == "spatial_pyramid_pool.reversed_levels" else list(levels)
    parts = []
    for n in order:
        rows = bins(H, n, variant)
        cols = bins(W, n, variant, rule_size=H if variant == "spatial_pyramid_pool.square" else None)
        if not rows or not cols:
            return None   # a window larger than the map: a max pool raises, there is no answer
        pooled = x.new_zeros(x.shape[0], x.shape[1], len(rows), len(cols))
        for i, (h0, h1) in enumerate(rows):
            for j, (w0, w1) in enumerate(cols):
                window = x[:, :, h0:h1, w0:w1]
                if variant == "spatial_pyramid_pool.average":
                    pooled[:, :, i, j] = window.mean(dim=(-2, -1))
                else:
                    pooled[:, :, i, j] = window.amax(dim=(-2, -1))
        if variant == "spatial_pyramid_pool.spatial_major":
            parts.append(pooled.permute(0, 2, 3, 1).flatten(1))
        else:
            parts.append(pooled.flatten(1))
    return torch.cat(parts, dim=1)


# (N, C, H, W), levels.  Every size gives exactly n bins at every level by the paper's rule (exact_bins); each
# public case has a size with a mod n ≥ 2 at some level, where the paper's bins differ from adaptive pooling's.
# Public: levels in increasing and in another order, a single level, a map side equal to a level (windows of one
# cell).
_SPP_SPECS = [((2, 3, 10, 15), (1, 2, 4)), ((1, 4, 8, 11), (3, 1)), ((3, 2, 14, 9), (2, 3)), ((1, 2, 10, 4), (4,))]
# hidden: the paper's own 13 × 13 map with levels (6, 3, 2, 1), where the two rules agree; larger maps, a single
# level, a map side equal to a level
_SPP_EXTENDED = [((2, 3, 13, 13), (6, 3, 2, 1)), ((1, 5, 19, 22), (1, 2, 4)), ((2, 2, 12, 5), (2,)),
                 ((1, 3, 31, 20), (1, 2, 4)), ((2, 2, 4, 9), (4, 2, 1))]


def spp_cases(seed, extended):
    import torch
    g = generator(seed)
    cases = []
    for shape, levels in _SPP_SPECS + (_SPP_EXTENDED if extended else []):
        x = torch.randn(*shape, generator=g)
        N, C = shape[:2]
        length = C * sum(n * n for n in levels)
        # answered later (the bins sliced out one by one, for each mistake too), from the check's copy of x
        cases.append(Case(f"spatial_pyramid_pool(x of shape {shape}, levels={levels}) -> ({N}, {length})",
                          (x,), dict(levels=levels), **later(functools.partial(_spp_answers, x.clone(), levels)),
                          atol=1e-6, rtol=1e-6))
    return cases


def _spp_answers(x, levels):
    N, C = x.shape[:2]
    expected = spp_reference(x, levels)
    mistakes = [M.mistake(key, wrong) for key in SPP_VARIANTS
                for wrong in [spp_reference(x, levels, key)] if wrong is not None]
    mistakes.append(M.mistake("spatial_pyramid_pool.not_flattened", (N, C, sum(n * n for n in levels))))
    ignored = spp_reference(x, (1, 2, 4)) if levels != (1, 2, 4) else None   # on this map: not always 21·C
    if ignored is not None:
        mistakes.append(M.mistake("spatial_pyramid_pool.levels_ignored", ignored))
    return expected, unambiguous(mistakes, expected)


def _answer_signature(answer, expected):
    """What a learner's answer must be to match ``answer``: its shape where that differs from the expected one,
    else its values."""
    if isinstance(answer, tuple):
        return ("shape", answer)
    if tuple(answer.shape) != tuple(expected.shape):
        return ("shape", tuple(answer.shape))
    return ("values", tuple(answer.flatten().tolist()))


def unambiguous(mistakes, expected):
    """The mistakes that answer wrongly, and unlike any other: a hint is given only where exactly one known
    mistake explains the answer."""
    signatures = [_answer_signature(m.answer, expected) for m in mistakes]
    right = _answer_signature(expected, expected)
    return [m for m, sig in zip(mistakes, signatures) if sig != right and signatures.count(sig) == 1]


def _adaptive():
    """Why adaptive pooling is refused: its bins are not the paper's (the reference slices the paper's)."""
    return M.refusal("spatial_pyramid_pool.refused_adaptive", "spatial_pyramid_pool.refused_adaptive_hint")


def _spp_forbidden():
    import torch
    import torch.nn.functional as F
    return [(F, name, f"F.{name}", _adaptive()) for name in ("adaptive_max_pool2d", "adaptive_avg_pool2d",
                                                             "adaptive_max_pool2d_with_indices", "adaptive_max_pool1d",
                                                             "adaptive_avg_pool1d")] + \
           [(torch, name, f"torch.{name}", _adaptive()) for name in ("adaptive_max_pool1d", "adaptive_avg_pool1d")]


# any adaptive pooling, however it is reached (nn.AdaptiveMaxPool2d calls F.adaptive_max_pool2d; the aten names)
ADAPTIVE_POOL_OPS = r"^_?adaptive_(max|avg)_pool"


def check_spatial_pyramid_pool(spatial_pyramid_pool, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``spatial_pyramid_pool(features, levels=(1, 2, 4)) -> (N, C·Σn²)``.

    For each n in ``levels`` (in that order), max-pool (N, C, H, W) with the paper's rule (He et al., 2014):
    window ⌈H/n⌉ × ⌈W/n⌉, stride ⌊H/n⌋ × ⌊W/n⌋, which gives n × n bins on the sizes the cases use
    (:func:`exact_bins`); flatten to (N, C·n²) channel-major and concatenate the levels.  Compared with the
    bins sliced out one by one here; adaptive pooling is refused, and every public case has a size where its
    bins differ from the paper's; a single level, and a map side equal to a level.  Hidden: the paper's 13 × 13
    map with levels (6, 3, 2, 1), larger maps.
    """
    return run_cases("spatial_pyramid_pool", spatial_pyramid_pool, lambda: spp_cases(seed, extended),
                     compare=compare_tensor, strict=strict, forbidden=_spp_forbidden(), op_pattern=[(ADAPTIVE_POOL_OPS, _adaptive())],
                     general_hint=M("spatial_pyramid_pool.general"))


# --------------------------------------------------------------------------
# roi_pool
# --------------------------------------------------------------------------

def c_round(t):
    """C's ``round``: halves away from zero (``torch.round`` rounds halves to even); computed in float64,
    where v + 0.5 is exact for these magnitudes."""
    import torch
    d = t.double()
    return (torch.sign(d) * torch.floor(d.abs() + 0.5)).to(t.dtype)


# the mistakes roi_pool_reference computes: their keys are its variants
ROI_VARIANTS = ("roi_pool.no_scale", "roi_pool.floor", "roi_pool.torch_round", "roi_pool.half_up",
                "roi_pool.no_clip_start", "roi_pool.no_round", "roi_pool.no_plus_one", "roi_pool.floor_end",
                "roi_pool.average", "roi_pool.batch_zero", "roi_pool.empty_neg_inf")


def roi_pool_reference(features, rois, output_size, spatial_scale=1.0, variant=None):
    """RoI max pooling written out as torchvision's CPU kernel does it; ``variant`` is the key of a mistake.

    Each roi (batch_index, x1, y1, x2, y2) is scaled by ``spatial_scale`` and rounded (C's round);
    its size is end − start + 1 (at least 1); bin (i, j) covers rows start + ⌊i·h/ph⌋ … start +
    ⌈(i+1)·h/ph⌉ − 1 (bin size h/ph in float32), clipped to the map; an empty bin gives 0.
    """
    import torch
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    K, (_, C, H, W) = rois.shape[0], features.shape
    out = features.new_zeros(K, C, ph, pw)
    scale = 1.0 if variant == "roi_pool.no_scale" else spatial_scale
    coords = rois[:, 1:].float() * torch.tensor(scale, dtype=torch.float32)
    if variant == "roi_pool.floor":
        coords = torch.floor(coords)
    elif variant == "roi_pool.torch_round":
        coords = torch.round(coords)
    elif variant == "roi_pool.half_up":
        coords = torch.floor(coords + 0.5)                   # right for v ≥ 0 only: −0.5 → 0, not −1
    elif variant != "roi_pool.no_round":
        coords = c_round(coords)
    floor_end = variant == "roi_pool.floor_end"
    for k in range(K):
        b = 0 if variant == "roi_pool.batch_zero" else int(rois[k, 0])
        x1, y1, x2, y2 = coords[k].tolist()
        plus = 0 if variant == "roi_pool.no_plus_one" else 1
        roi_w = torch.tensor(max(x2 - x1 + plus, 1.0), dtype=torch.float32)
        roi_h = torch.tensor(max(y2 - y1 + plus, 1.0), dtype=torch.float32)
        bin_h, bin_w = roi_h / ph, roi_w / pw
        for i in range(ph):
            for j in range(pw):
                h0 = int(torch.floor(i * bin_h)) + y1
                h1 = (int(torch.floor((i + 1) * bin_h)) if floor_end else int(torch.ceil((i + 1) * bin_h))) + y1
                w0 = int(torch.floor(j * bin_w)) + x1
                w1 = (int(torch.floor((j + 1) * bin_w)) if floor_end else int(torch.ceil((j + 1) * bin_w))) + x1
                low = -(H + W) if variant == "roi_pool.no_clip_start" else 0   # a negative start slices from the end
                h0, h1 = min(max(int(math.floor(h0)), low), H), min(max(int(math.ceil(h1)), 0), H)
                w0, w1 = min(max(int(math.floor(w0)), low), W), min(max(int(math.ceil(w1)), 0), W)
                if h1 <= h0 or w1 <= w0:
                    if variant == "roi_pool.empty_neg_inf":
                        out[k, :, i, j] = float("-inf")
                    continue
                window = features[b, :, h0:h1, w0:w1]
                if window.numel() == 0:                       # only no_clip_start: Python's slice came out empty
                    continue
                out[k, :, i, j] = (window.mean(dim=(-2, -1)) if variant == "roi_pool.average"
                                   else window.amax(dim=(-2, -1)))
    return out


def roi_cases(seed, extended):
    import torch
    import torchvision.ops as ops
    g = generator(seed)
    cases = []

    def answers(features, rois, output_size, scale):
        expected = ops.roi_pool(features, rois, output_size, scale)
        mistakes = []
        for key in ROI_VARIANTS:
            wrong = roi_pool_reference(features, rois, output_size, scale, key)
            if not torch.equal(wrong, expected):
                mistakes.append(M.mistake(key, wrong))
        ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
        if ph != pw:
            mistakes.append(M.mistake("roi_pool.swapped_size", (rois.shape[0], features.shape[1], pw, ph)))
        return expected, mistakes

    def add(features, rois, output_size, scale, note):
        label = (f"roi_pool(features {tuple(features.shape)}, {rois.shape[0]} rois, output_size={output_size}, "
                 f"spatial_scale={scale:g}){note}")
        # answered later (eleven mistakes written out in Python loops), from the check's own copies of the inputs
        compute = functools.partial(answers, features.clone(), rois.clone(), output_size, scale)
        cases.append(Case(label, (features, rois, output_size, scale), **later(compute), atol=1e-6, rtol=1e-6))

    # 1. image coordinates with a stride-2 map; halves that round differently in C and torch
    f = torch.randn(2, 3, 12, 10, generator=g)
    rois = torch.tensor([[0, 1.0, 2.0, 9.0, 13.0], [1, 2.0, 0.0, 19.0, 23.0], [1, 5.0, 7.0, 11.0, 9.0],
                         [0, 0.0, 0.0, 4.0, 4.0], [1, 14.0, 16.0, 30.0, 30.0]])   # the last: partly off the map
    rois[:, 1:] += torch.rand(5, 4, generator=g) * 0.4   # non-integer coordinates, away from halves
    rois[2, 1:] = torch.tensor([5.0, 7.0, 11.0, 9.0])     # scaled by 0.5: 2.5, 3.5, 5.5, 4.5 — exact halves
    # negative coordinates: scaled −1.5, −0.5 (C's round: −2, −1), so the first bins start above and left of the map
    rois = torch.cat([rois, torch.tensor([[0, -3.0, -1.0, 9.0, 13.0]])])
    add(f, rois, (3, 2), 0.5, "")
    # 2. a VGG-16-like stride of 16: image coordinates up to ~200 px
    f = torch.randn(1, 4, 9, 13, generator=g)
    xy = torch.rand(5, 2, generator=g) * 120
    wh = 20 + torch.rand(5, 2, generator=g) * 80
    rois = torch.cat([torch.zeros(5, 1), xy, xy + wh], dim=1)
    add(f, rois, 2, 1 / 16, "")
    # 3. a malformed roi (x2 < x1: one column wide) and a roi wholly off the map (every bin empty: zeros)
    f = torch.randn(2, 3, 6, 7, generator=g)
    rois = torch.tensor([[1, 20.0, 8.0, 8.0, 20.0],           # scaled: x 5 … 2, y 2 … 5
                         [0, 40.0, 4.0, 60.0, 16.0],          # scaled: x 10 … 15, beyond W = 7
                         [0, 2.0, 3.0, 17.0, 22.0]])          # scaled: 0.5, 0.75, 4.25, 5.5
    add(f, rois, (2, 3), 0.25, " (a malformed roi, a roi off the map)")
    if extended:
        f = torch.randn(3, 2, 8, 8, generator=g)
        rois = torch.tensor([[2, -20.0, -8.0, 40.0, 30.0],     # partly outside the map
                             [1, 140.0, 100.0, 180.0, 150.0],  # wholly outside (scaled x1 = 8.75): every bin empty
                             [0, 30.0, 30.0, 20.0, 20.0],      # malformed (x2 < x1): a 1 × 1 roi
                             [1, 0.0, 0.0, 127.0, 127.0]])     # the whole map
        add(f, rois, (4, 3), 1 / 16, " (rois outside the map, malformed)")
        f = torch.randn(2, 3, 20, 15, generator=g)
        xy = torch.rand(8, 2, generator=g) * 12
        rois = torch.cat([torch.randint(0, 2, (8, 1), generator=g).float(), xy,
                          xy + 1 + torch.rand(8, 2, generator=g) * 10], dim=1)
        add(f, rois, 7, 1.0, "")
    return cases


def check_roi_pool(roi_pool, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``roi_pool(features, rois, output_size, spatial_scale=1.0) -> (K, C, ph, pw)``.

    ``features`` (N, C, H, W); ``rois`` (K, 5) rows (batch_index, x1, y1, x2, y2) in image coordinates;
    ``output_size`` an int or (ph, pw).  Compared with ``torchvision.ops.roi_pool`` (which the learner may not
    call), whose CPU kernel scales and rounds the roi (C's round), gives it size end − start + 1, floors each
    bin's start and ceils its end, clips to the map, and gives 0 for an empty bin.  Cases: non-integer
    coordinates, exact halves, negative coordinates, rois partly or wholly outside the map, a malformed roi
    (x2 < x1), spatial_scale 1/2, 1/4 and 1/16; hidden: more rois, larger maps and output sizes, other seeds.
    """
    import torchvision.ops
    align = M.refusal("roi_pool.refused_align", "roi_pool.refused_align_hint")
    forbidden = [(torchvision.ops, "roi_pool", "torchvision.ops.roi_pool"),
                 (torchvision.ops, "RoIPool", "torchvision.ops.RoIPool"),
                 (torchvision.ops, "roi_align", "torchvision.ops.roi_align", align)]
    return run_cases("roi_pool", roi_pool, lambda: roi_cases(seed, extended), compare=compare_tensor, strict=strict,
                     forbidden=forbidden, op_pattern=[(r"^roi_pool$", REIMPLEMENTED), (r"^roi_align$", align)], general_hint=M("roi_pool.general"))
