"""``match_size``: pad with zeros or crop a map to a size, centre-aligned.

Compared with an explicit index computation (output row ``i`` reads input row
``i - before``, zero where that row does not exist), not with ``F.pad``, on pads
and crops of odd and even differences.
"""

from __future__ import annotations

from ..engine import Case, CheckResult, compare_tensor, generator, run_cases
from ..messages.unet import M

# rows put before, of a difference d: the right split (None) and the known wrong ones, by message key
_SPLITS = {
    None: lambda d: d // 2,
    "match_size.ceil": lambda d: -((-d) // 2),
    "match_size.top_left": lambda d: 0,
    "match_size.truncate": lambda d: int(d / 2),      # rounds toward zero, not down
}


def offsets(n, m, mistake=None):
    """(rows added before, rows added after) to take a side of n to m; negative numbers remove rows.
    ``mistake`` names a known wrong split instead (a key of the notebook's message table)."""
    d = m - n
    before = _SPLITS[mistake](d)
    return before, d - before


def matched(x, size, mistake=None):
    """``x`` (N, C, h, w) padded with zeros or cropped to ``size``, by explicit indexing (no F.pad)."""
    import torch
    H, W = int(size[0]), int(size[1])
    h, w = x.shape[-2:]
    rows = torch.arange(H) - offsets(h, H, mistake)[0]   # the input row each output row reads
    cols = torch.arange(W) - offsets(w, W, mistake)[0]
    out = x.new_zeros(*x.shape[:-2], H, W)
    keep_r, keep_c = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    inner = x[..., rows[keep_r], :][..., cols[keep_c]]
    out[..., keep_r.nonzero()[:, 0, None], keep_c.nonzero()[:, 0]] = inner
    return out


def reference_match(x, size):
    """The check's own ``match``, passed to the learner's U-Net: pad with zeros or crop to ``size``,
    ⌊d/2⌋ before, the rest after."""
    import torch.nn.functional as F
    dh, dw = int(size[0]) - x.shape[-2], int(size[1]) - x.shape[-1]
    left, top = dw // 2, dh // 2
    return F.pad(x, [left, dw - left, top, dh - top])


_MATCH_PUBLIC = [((2, 3, 6, 6), (7, 7), True), ((1, 4, 9, 12), (12, 8), False), ((2, 2, 11, 10), (8, 9), True),
                 ((1, 3, 5, 5), (5, 5), False)]
_MATCH_EXTENDED = [((3, 1, 4, 7), (9, 2), False), ((2, 5, 13, 6), (13, 11), True), ((1, 2, 10, 3), (5, 6), True)]


def _match_cases(seed, extended):
    import torch
    import torch.nn.functional as F
    g = generator(seed)
    cases = []
    for shape, size, as_torch_size in _MATCH_PUBLIC + (_MATCH_EXTENDED if extended else []):
        x = torch.randn(*shape, generator=g)
        target = torch.Size(size) if as_torch_size else size
        n, c, h, w = shape
        dh, dw = size[0] - h, size[1] - w
        mistakes = [M.mistake(key, matched(x, size, key))
                    for key in ("match_size.truncate", "match_size.top_left", "match_size.ceil")]
        mistakes += [M.mistake("match_size.resized", F.interpolate(x, size=tuple(size), mode="nearest")),
                     M.mistake("match_size.pad_order", (n, c, h + dw, w + dh)),
                     M.mistake("match_size.never_crops", (n, c, max(h, size[0]), max(w, size[1]))),
                     M.mistake("match_size.pads_by_abs", (n, c, h + abs(dh), w + abs(dw)))]
        if dh > 0 or dw > 0:   # what is cropped is cropped; where rows are added, the border is repeated
            (top, bottom), (left, right) = offsets(h, size[0]), offsets(w, size[1])
            cropped = F.pad(x, [min(left, 0), min(right, 0), min(top, 0), min(bottom, 0)])
            mistakes.append(M.mistake("match_size.replicate", F.pad(
                cropped, [max(left, 0), max(right, 0), max(top, 0), max(bottom, 0)], mode="replicate")))
        cases.append(Case(f"match_size(x of shape {shape}, {tuple(size) if not as_torch_size else target})",
                          (x, target), expected=matched(x, size), mistakes=mistakes, atol=1e-6, rtol=1e-6))
    return cases


def check_match_size(match_size, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``match_size(x, size) -> tensor``: (N, C, h, w) padded with zeros or cropped to (N, C, H, W).

    With d = H − h (and likewise for the width), ⌊d/2⌋ rows are added before (at the top) and d − ⌊d/2⌋
    after (at the bottom); negative numbers remove rows, so a crop takes ⌈|d|/2⌉ from the top.  That is
    ``F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])``.  Compared with an explicit index
    computation on pads and crops of odd and even differences, with ``size`` a tuple or a ``torch.Size``.
    """
    return run_cases("match_size", match_size, lambda: _match_cases(seed, extended), compare=compare_tensor,
                     strict=strict, general_hint=M("match_size.general"))
