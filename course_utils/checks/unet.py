"""Checks for notebook 07: U-Net (Ronneberger, Fischer & Brox, MICCAI 2015).

* ``match_size`` is compared with an explicit index computation (output row
  ``i`` reads input row ``i - before``, zero where that row does not exist),
  not with ``F.pad``, on pads and crops of odd and even differences.
* ``make_unet`` is judged by behaviour: its parameter count equals a formula
  written here from the architecture's description (for the paper's
  configuration too), its output has the input's size for odd and non-square
  inputs, and every level concatenates two different maps of the right widths.
  The check passes its own reference ``match`` function, so a mistake in
  ``match_size`` costs points in that exercise only.
* ``unet_output_size`` (the unpadded, "valid" U-Net of the paper) is compared
  with a reference valid U-Net run on the meta device.
"""

from __future__ import annotations

import math

from .engine import (INCORRECT, RAISED, Case, CheckResult, Verdict, own_random_state, call_learner, compare_int,
                      compare_tensor, generator, run_cases)

__all__ = ["check_match_size", "check_make_unet", "check_unet_output_size", "unet_parameter_count"]


# --------------------------------------------------------------------------
# match_size
# --------------------------------------------------------------------------

def _offsets(n, m, variant=None):
    """(rows added before, rows added after) to take a side of n to m; negative numbers remove rows."""
    d = m - n
    if variant == "ceil":
        before = -((-d) // 2)
    elif variant == "top_left":
        before = 0
    elif variant == "truncate":   # int(d / 2): rounds toward zero, not down
        before = int(d / 2)
    else:
        before = d // 2
    return before, d - before


def _matched(x, size, variant=None):
    """``x`` (N, C, h, w) padded with zeros or cropped to ``size``, by explicit indexing (no F.pad)."""
    import torch
    H, W = int(size[0]), int(size[1])
    h, w = x.shape[-2:]
    rows = torch.arange(H) - _offsets(h, H, variant)[0]   # the input row each output row reads
    cols = torch.arange(W) - _offsets(w, W, variant)[0]
    out = x.new_zeros(*x.shape[:-2], H, W)
    keep_r, keep_c = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    inner = x[..., rows[keep_r], :][..., cols[keep_c]]
    out[..., keep_r.nonzero()[:, 0, None], keep_c.nonzero()[:, 0]] = inner
    return out


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
        h, w = shape[-2:]
        dh, dw = size[0] - h, size[1] - w
        mistakes = [
            ("`int(d / 2)` rounds toward zero, so a negative odd difference (a crop) comes out one off: use floor "
             "division `d // 2`.", _matched(x, size, "truncate")),
            ("Centre-align the map: pad (or crop) on both sides, ⌊d/2⌋ before and d − ⌊d/2⌋ after, not only at the "
             "bottom and right.", _matched(x, size, "top_left")),
            ("Centre-align: put ⌊d/2⌋ rows before (top/left) and the rest, d − ⌊d/2⌋, after (bottom/right): `d // 2`, "
             "not rounded up.", _matched(x, size, "ceil")),
            ("Pad or crop; do not resize: interpolation moves every pixel, while padding and cropping keep each "
             "pixel where it was relative to the centre.",
             F.interpolate(x, size=tuple(size), mode="nearest")),
            ("`F.pad`'s list starts with the last dimension: (left, right, top, bottom) — the width's pair first, "
             "then the height's.", (shape[0], shape[1], h + dw, w + dh)),
            ("When the map is larger than the target (d < 0), crop it: negative padding in `F.pad` removes rows.",
             (shape[0], shape[1], max(h, size[0]), max(w, size[1]))),
            ("A negative difference means the map is too large: crop it (negative padding in `F.pad` removes rows), "
             "do not pad by |d|.", (shape[0], shape[1], h + abs(dh), w + abs(dw))),
        ]
        if dh >= 0 and dw >= 0 and dh + dw > 0:
            (top, bottom), (left, right) = _offsets(h, size[0]), _offsets(w, size[1])
            mistakes.append(("Pad with zeros (`F.pad`'s default, mode='constant'), not by repeating the border.",
                             F.pad(x, [left, right, top, bottom], mode="replicate")))
        cases.append(Case(f"match_size(x of shape {shape}, {tuple(size) if not as_torch_size else target})",
                          (x, target), expected=_matched(x, size), mistakes=mistakes, atol=1e-6, rtol=1e-6))
    return cases


def check_match_size(match_size, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``match_size(x, size) -> tensor``: (N, C, h, w) padded with zeros or cropped to (N, C, H, W).

    With d = H − h (and likewise for the width), ⌊d/2⌋ rows are added before (at the top) and d − ⌊d/2⌋
    after (at the bottom); negative numbers remove rows, so a crop takes ⌈|d|/2⌉ from the top.  That is
    ``F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])``.  Compared with an explicit index
    computation on pads and crops of odd and even differences, with ``size`` a tuple or a ``torch.Size``.
    """
    return run_cases("match_size", match_size, _match_cases(seed, extended), compare=compare_tensor,
                     strict=strict,
                     general_hint="For each side, d = target − current; ⌊d/2⌋ before, d − ⌊d/2⌋ after; zeros where "
                                  "rows are added, rows removed where d < 0: "
                                  "`F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])`.")


# --------------------------------------------------------------------------
# make_unet: the parameter count from the architecture's description
# --------------------------------------------------------------------------

def unet_parameter_count(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, *, variant=None):
    """Parameters of the U-Net described in notebook 07, counted from its description (no model built).

    Widths w_i = base_channels · 2^i, i = 0 … depth.  Each level has two 3 × 3 convolutions: with
    batch norm, bias-free convolutions each followed by BatchNorm2d (2 parameters per channel);
    without, convolutions with a bias (the paper).  Encoder level i: (w_{i-1} or in_channels) → w_i,
    w_i → w_i; bottom: w_{depth-1} → w_depth → w_depth; each decoder level i: a 2 × 2 up-convolution
    w_{i+1} → w_i (with bias), then 2·w_i → w_i → w_i; head: 1 × 1 convolution w_0 → num_classes
    (with bias).  ``variant`` counts a known mistake instead.
    """
    w = [base_channels * 2 ** i for i in range(depth + 1)]
    bn = True if variant == "ignores_batch_norm" else batch_norm   # batch norm whatever the argument

    def conv3(a, b):
        if variant == "bias_with_bn" and bn:
            return 9 * a * b + b + 2 * b
        return 9 * a * b + (2 * b if bn else b)

    def double(a, b):
        if variant == "one_conv_per_level":
            return conv3(a, b)
        return conv3(a, b) + conv3(b, b)

    total = sum(double(in_channels if i == 0 else w[i - 1], w[i]) for i in range(depth))
    total += double(w[depth - 1], w[depth])
    for i in reversed(range(depth)):
        if variant == "no_skip":
            total += 4 * w[i + 1] * w[i] + w[i] + double(w[i], w[i])
        elif variant == "up_keeps_channels":
            total += 4 * w[i + 1] * w[i + 1] + w[i + 1] + double(w[i + 1] + w[i], w[i])
        elif variant == "interpolate_up":   # no up-convolution: the decoder reads w_{i+1} + w_i channels
            total += double(w[i + 1] + w[i], w[i])
        elif variant == "up_conv_3x3":
            total += 9 * w[i + 1] * w[i] + w[i] + double(2 * w[i], w[i])
        else:
            total += 4 * w[i + 1] * w[i] + w[i] + double(2 * w[i], w[i])
    head = 9 if variant == "head_3x3" else 1
    total += head * w[0] * num_classes + num_classes
    return total


_COUNT_MISTAKES = [
    ("no_skip", "The decoder's first convolution reads 2·w_i channels: the upsampled map (w_i) concatenated with the "
                "encoder's map of the same level (w_i), `torch.cat([skip, up], dim=1)`."),
    ("up_keeps_channels", "The 2 × 2 up-convolution halves the channels: nn.ConvTranspose2d(w_{i+1}, w_i, "
                          "kernel_size=2, stride=2)."),
    ("interpolate_up", "Upsample with the paper's 2 × 2 up-convolution (nn.ConvTranspose2d(w_{i+1}, w_i, 2, "
                       "stride=2)), which also halves the channels, not with interpolation."),
    ("up_conv_3x3", "The up-convolution is 2 × 2 with stride 2 (`kernel_size=2`)."),
    ("bias_with_bn", "A convolution followed by batch norm needs no bias (`bias=False`, as in "
                     "`segmentation.conv_bn_relu`): batch norm subtracts the mean anyway."),
    ("ignores_batch_norm", "Follow the `batch_norm` argument: True → conv (no bias) + BatchNorm2d + ReLU; "
                           "False → conv with bias + ReLU, as in the paper."),
    ("one_conv_per_level", "Every level has two 3 × 3 convolutions (conv → ReLU → conv → ReLU), in the encoder, at "
                           "the bottom and in the decoder."),
    ("head_3x3", "The head is a 1 × 1 convolution from base_channels to num_classes."),
]

# (in_channels, num_classes, depth, base_channels, batch_norm): the paper's configuration first
_COUNT_PUBLIC = [(1, 2, 4, 64, False), (3, 4, 2, 8, True), (3, 5, 3, 4, False)]
_COUNT_EXTENDED = [(1, 2, 4, 64, True), (2, 3, 1, 6, True), (4, 7, 5, 2, False)]
# (in_channels, num_classes, depth, base_channels, batch_norm, input shape): odd and non-square sizes
_FORWARD_PUBLIC = [(3, 4, 2, 4, True, (2, 3, 7, 7)), (3, 4, 3, 4, False, (2, 3, 37, 50))]
_FORWARD_EXTENDED = [(1, 2, 4, 2, False, (1, 1, 35, 17)), (3, 6, 1, 5, True, (3, 3, 9, 4)),
                     (2, 3, 3, 3, True, (2, 2, 64, 64))]

SIZE_HINT = ("This is the 7 → 3 → 6 problem: max pooling floors an odd size (7 → 3), the up-convolution doubles it "
             "(3 → 6), and the skip still has 7 rows. Bring the upsampled map to the skip's size before "
             "concatenating: `up = match(up, skip.shape[-2:])`.")


def _label(args):
    cin, k, depth, base, bn = args
    return f"make_unet({cin}, {k}, depth={depth}, base_channels={base}, batch_norm={bn}, match=reference_match_size)"


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _cat_recorder():
    """A torch function mode that records every concatenation: (dim, input shapes, distinct inputs?)."""
    import torch
    from torch.overrides import TorchFunctionMode
    names = {"cat", "concat", "concatenate"}

    class Recorder(TorchFunctionMode):
        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if getattr(func, "__name__", "") in names and args:
                tensors = list(args[0])
                dim = kwargs.get("dim", kwargs.get("axis", args[1] if len(args) > 1 else 0))
                distinct = all(not (a is b or (a.shape == b.shape and torch.equal(a, b)))
                               for i, a in enumerate(tensors) for b in tensors[i + 1:])
                self.calls.append((dim % out.dim(), [tuple(t.shape) for t in tensors], distinct))
            return out

    return Recorder()


def check_make_unet(make_unet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_unet(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=...)``.

    The check passes its own reference ``match`` (pad or crop to a size, centre-aligned), so only the
    network is judged.  For several configurations, the paper's among them (1 input channel, 2 classes,
    4 poolings, 64 channels, no batch norm), the parameter count must equal
    :func:`unet_parameter_count`, a formula from the architecture's description; for odd and non-square
    inputs the output must be (N, num_classes, H, W); and each level must concatenate, along the channels,
    two different maps of w_i channels each (the skip and the upsampled map).
    """
    import torch
    check = "make_unet"
    g = generator(seed)

    def behaviour():
        # 1. The parameter count: built on the meta device (the paper's 31 million weights cost nothing there).
        configs = _COUNT_PUBLIC + (_COUNT_EXTENDED if extended else [])
        counts = []
        for index, args in enumerate(configs):
            model = _build(check, make_unet, _label(args), *args[:2], first=index == 0, meta=True,
                           depth=args[2], base_channels=args[3], batch_norm=args[4], match=_reference_match)
            counts.append(_count(model))
        for args, got in zip(configs, counts):
            expected = unet_parameter_count(*args)
            if got == expected:
                continue
            explained = [hint for variant, hint in _COUNT_MISTAKES
                         if all(unet_parameter_count(*a, variant=variant) == c for a, c in zip(configs, counts))]
            explained = explained or [hint for variant, hint in _COUNT_MISTAKES
                                      if unet_parameter_count(*args, variant=variant) == got]
            if not explained:
                wrong_depth = [d for d in range(1, 7) if d != args[2]
                               and unet_parameter_count(args[0], args[1], d, args[3], args[4]) == got]
                if wrong_depth:
                    explained = [f"Build `depth` levels (here {args[2]}); your network has the parameters of "
                                 f"depth {wrong_depth[0]}."]
            raise Verdict(CheckResult(
                check, INCORRECT, "the parameter count differs from the architecture's.", case=_label(args),
                evidence=[f"expected {expected:,} parameters, got {got:,}"],
                hint=explained[0] if explained else (
                    "Count layer by layer: two 3 × 3 convolutions per level (encoder, bottom, decoder), a 2 × 2 "
                    "up-convolution w_{i+1} → w_i before each decoder level, whose first convolution reads 2·w_i "
                    "channels, and a 1 × 1 head."),
                next_step="Fix the layers and run the check again."))
        # 2. Output of the input's size, for odd and non-square inputs; 3. the concatenations.
        forwards = _FORWARD_PUBLIC + (_FORWARD_EXTENDED if extended else [])
        for cin, k, depth, base, bn, shape in forwards:
            label = _label((cin, k, depth, base, bn))
            model = _build(check, make_unet, label, cin, k, first=False, meta=False, depth=depth,
                           base_channels=base, batch_norm=bn, match=_reference_match)
            model.eval()
            x = torch.randn(*shape, generator=g)
            recorder = _cat_recorder()
            case = Case(f"{label}, eval mode, on x of shape {shape}", (x,))

            def run(x, recorder=recorder, model=model):
                with recorder, torch.no_grad():
                    return model(x)
            run.__name__ = f"{type(model).__name__}.forward"
            try:
                out, _ = call_learner(check, run, case, first=True, name=f"{type(model).__name__}.forward")
            except Verdict as verdict:
                error = verdict.result.evidence[0] if verdict.result.evidence else ""
                if verdict.result.outcome == RAISED and "Sizes of tensors must match" in error:
                    verdict.result.hint = SIZE_HINT
                elif verdict.result.outcome == RAISED and "Kernel size can't be greater" in error:
                    verdict.result.hint = ("The map shrank to nothing: pad the 3 × 3 convolutions (`padding=1`) so "
                                           "that each keeps the size, as the course's U-Net does.")
                elif verdict.result.outcome == RAISED and "channels" in error and "expected input" in error:
                    verdict.result.hint = ("A convolution got a different number of channels than it was built for: "
                                           "the decoder's first convolution reads the concatenation, 2·w_i channels.")
                raise
            want = (shape[0], k, shape[2], shape[3])
            if not isinstance(out, torch.Tensor):
                raise Verdict(CheckResult(check, INCORRECT if out is not None else "cannot be checked",
                                          f"the forward returned {type(out).__name__}; expected a tensor.",
                                          case=case.label, hint="Did you forget a `return` in forward? Return the "
                                                                "head's output, (N, num_classes, H, W).",
                                          next_step="Return the tensor and run the check again."))
            if tuple(out.shape) != want:
                got = tuple(out.shape)
                if got[1] != k:
                    hint = "The head is a 1 × 1 convolution from base_channels to num_classes."
                elif got[2] < want[2] or got[3] < want[3]:
                    hint = ("The output lost rows or columns. Pad the 3 × 3 convolutions (`padding=1`), and bring the "
                            "upsampled map to the skip's size (`match(up, skip.shape[-2:])`), not the skip to the "
                            "upsampled map's: cropping the skip drops the row that pooling floored away.")
                else:
                    hint = "The output must have the input's height and width."
                raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.", case=case.label,
                                          evidence=[f"expected {want}, got {got}"], hint=hint,
                                          next_step="Fix the network and run the check again."))
            widths = [base * 2 ** i for i in range(depth + 1)]
            sizes = [(shape[2], shape[3])]
            for _ in range(depth):
                sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
            channel_cats = [(shapes, distinct) for dim, shapes, distinct in recorder.calls if dim == 1]
            for level in reversed(range(depth)):
                need = (shape[0], 2 * widths[level], *sizes[level])
                found = [(s, distinct) for s, distinct in channel_cats
                         if (s[0][0], sum(t[1] for t in s), *s[0][2:]) == need and len(s) == 2]
                if not found:
                    raise Verdict(CheckResult(
                        check, INCORRECT, f"decoder level {level} does not concatenate the skip.", case=case.label,
                        evidence=[f"expected a torch.cat along dim=1 of two maps of {widths[level]} channels and "
                                  f"size {sizes[level][0]} × {sizes[level][1]}; saw "
                                  f"{[s for s, _ in channel_cats] or 'none'}"],
                        hint="At each level, concatenate the encoder's map (before pooling) with the upsampled map "
                             "along the channels: `torch.cat([skip, up], dim=1)` — that is the skip connection.",
                        next_step="Add the concatenation and run the check again."))
                if not any(distinct for _, distinct in found):
                    raise Verdict(CheckResult(
                        check, INCORRECT, f"decoder level {level} concatenates a map with itself.", case=case.label,
                        hint="Concatenate two different maps: the encoder's output of that level (saved before "
                             "pooling) and the upsampled map. A map joined with itself carries no fine detail.",
                        next_step="Fix the concatenation and run the check again."))
        total = unet_parameter_count(1, 2, 4, 64, False)
        return (f"Parameter counts ({total:,} for the paper's configuration), output sizes on odd and non-square "
                "inputs and the skip concatenations match the architecture.")

    return run_cases(check, make_unet, [], compare=None, strict=strict, after=behaviour)


def _build(check, factory, label, *args, first, meta, **kwargs):
    from .classic_architectures import _learner_model
    return _learner_model(check, factory, label, *args, meta=meta, first=first, **kwargs)


def _reference_match(x, size):
    """The check's own ``match``: pad with zeros or crop to ``size``, ⌊d/2⌋ before, the rest after."""
    import torch.nn.functional as F
    dh, dw = int(size[0]) - x.shape[-2], int(size[1]) - x.shape[-1]
    return F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])


# --------------------------------------------------------------------------
# unet_output_size: the paper's unpadded ("valid") U-Net
# --------------------------------------------------------------------------

_VALID_UNET = None


def valid_unet_class():
    """A U-Net with unpadded 3 × 3 convolutions, as in the paper; skips cropped to the upsampled map."""
    global _VALID_UNET
    if _VALID_UNET is None:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        def double(a, b):
            return nn.Sequential(nn.Conv2d(a, b, 3), nn.ReLU(), nn.Conv2d(b, b, 3), nn.ReLU())

        class ValidUNet(nn.Module):
            def __init__(self, depth, base=1, in_channels=1, num_classes=2):
                super().__init__()
                w = [base * 2 ** i for i in range(depth + 1)]
                self.down = nn.ModuleList(double(in_channels if i == 0 else w[i - 1], w[i]) for i in range(depth))
                self.bottom = double(w[depth - 1], w[depth])
                self.up = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2) for i in range(depth))
                self.dec = nn.ModuleList(double(2 * w[i], w[i]) for i in range(depth))
                self.head = nn.Conv2d(w[0], num_classes, 1)

            def forward(self, x):
                skips = []
                for block in self.down:
                    x = block(x)
                    skips.append(x)
                    x = F.max_pool2d(x, 2)
                x = self.bottom(x)
                for i in reversed(range(len(skips))):
                    x = self.up[i](x)
                    x = self.dec[i](torch.cat([_reference_match(skips[i], x.shape[-2:]), x], dim=1))
                return self.head(x)

        _VALID_UNET = ValidUNet
    return _VALID_UNET


def _valid_output(size, depth):
    """The output side of the valid U-Net, by running it on the meta device."""
    import torch
    with own_random_state(), torch.device("meta"):
        model = valid_unet_class()(depth)
        return int(model(torch.empty(1, 1, size, size)).shape[-1])


def _output_by_formula(size, depth, variant=None):
    if variant == "padded":
        return size
    loss = {"one_conv": 2, "padded": 0}.get(variant, 4)   # pixels lost per level's pair of 3 × 3 convolutions
    n = size
    for _ in range(depth + (1 if variant == "extra_level" else 0)):
        n -= loss
        n = math.ceil(n / 2) if variant == "ceil" else (n / 2 if variant == "true_division" else n // 2)
    if variant != "no_bottom":
        n -= loss
    for _ in range(depth + (1 if variant == "extra_level" else 0)):
        n = 2 * n
        if variant != "no_decoder_convs":
            n -= loss
    return n


def _output_cases(extended):
    settings = [(572, 4), (188, 2), (189, 3)] + ([(700, 4), (97, 1), (333, 3), (1004, 5)] if extended else [])
    mistakes = [("Each 3 × 3 convolution without padding removes 2 pixels (1 on each side), so each level's pair "
                 "removes 4.", "one_conv"),
                ("The classic U-Net uses unpadded (valid) 3 × 3 convolutions: each removes 2 pixels, so the output is "
                 "smaller than the input.", "padded"),
                ("Max pooling floors odd sizes: `n // 2`, not rounded up.", "ceil"),
                ("Sizes are whole numbers: pool with floor division `n // 2`.", "true_division"),
                ("The bottom of the U (after the last pooling) has its two convolutions too: subtract 4 there.",
                 "no_bottom"),
                ("After each up-convolution (×2) the decoder level applies two convolutions: subtract 4 after "
                 "doubling.", "no_decoder_convs"),
                ("`depth` counts the poolings (the paper's U-Net has depth 4: 572 → 388).", "extra_level")]
    cases = []
    for size, depth in settings:
        expected = _valid_output(size, depth)
        wrong = [(hint, _output_by_formula(size, depth, variant)) for hint, variant in mistakes]
        cases.append(Case(f"unet_output_size({size}, depth={depth})", (size,), dict(depth=depth),
                          expected=expected, mistakes=[(h, v) for h, v in wrong if v != expected]))
    return cases


def check_unet_output_size(unet_output_size, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``unet_output_size(size, depth=4) -> int``: the output side of the paper's unpadded U-Net.

    Compared with a reference valid U-Net (unpadded 3 × 3 convolutions, 2 × 2 max pooling that floors,
    2 × 2 up-convolutions, skips centre-cropped) run on the meta device: 572 → 388 for depth 4, and
    other sizes and depths, odd pre-pooling sizes included.
    """
    return run_cases("unet_output_size", unet_output_size, _output_cases(extended), compare=compare_int,
                     strict=strict,
                     general_hint="Follow one side through the U: each level −4 (two valid 3 × 3 convolutions), "
                                  "then `// 2`; the bottom −4; then per level ×2 and −4.")
