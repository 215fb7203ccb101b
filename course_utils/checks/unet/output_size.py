"""``unet_output_size``: the output side of the paper's unpadded ("valid") U-Net.

Compared with the reference valid U-Net run on the meta device; each known
mistake is a message key, and the size formula computes what it answers.
"""

from __future__ import annotations

import functools
import math

from ..engine import Case, CheckResult, compare_int, later, own_random_state, run_cases
from ..messages.unet import M
from .reference import make_valid_unet

MISTAKES = ("unet_output_size.one_conv", "unet_output_size.padded", "unet_output_size.ceil",
            "unet_output_size.true_division", "unet_output_size.no_bottom", "unet_output_size.no_decoder_convs",
            "unet_output_size.extra_level")


def _valid_output(size, depth):
    """The output side of the valid U-Net, by running it on the meta device."""
    import torch
    with own_random_state(), torch.device("meta"):
        model = make_valid_unet(depth)
        return int(model(torch.empty(1, 1, size, size)).shape[-1])


def output_by_formula(size, depth, mistake):
    """What the known mistake ``mistake`` (a key of ``MISTAKES``) answers for the output side."""
    if mistake == "unet_output_size.padded":
        return size
    loss = 2 if mistake == "unet_output_size.one_conv" else 4   # pixels lost per level's pair of 3 × 3 convolutions
    levels = depth + (1 if mistake == "unet_output_size.extra_level" else 0)
    n = size
    for _ in range(levels):
        n -= loss
        n = (math.ceil(n / 2) if mistake == "unet_output_size.ceil"
             else n / 2 if mistake == "unet_output_size.true_division" else n // 2)
    if mistake != "unet_output_size.no_bottom":
        n -= loss
    for _ in range(levels):
        n = 2 * n
        if mistake != "unet_output_size.no_decoder_convs":
            n -= loss
    return n


def _output_answers(size, depth):
    """The reference valid U-Net's output side, and the known mistakes' (those that answer otherwise here)."""
    expected = _valid_output(size, depth)
    wrong = [M.mistake(key, output_by_formula(size, depth, key)) for key in MISTAKES]
    return expected, [m for m in wrong if m.answer != expected]


def _output_cases(extended):
    settings = [(572, 4), (188, 2), (189, 3)] + ([(700, 4), (97, 1), (333, 3), (1004, 5)] if extended else [])
    # answered later: the reference is a U-Net run on the meta device, the questions two numbers
    return [Case(f"unet_output_size({size}, depth={depth})", (size,), dict(depth=depth),
                 **later(functools.partial(_output_answers, size, depth))) for size, depth in settings]


def check_unet_output_size(unet_output_size, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``unet_output_size(size, depth=4) -> int``: the output side of the paper's unpadded U-Net.

    Compared with a reference valid U-Net (unpadded 3 × 3 convolutions, 2 × 2 max pooling that floors,
    2 × 2 up-convolutions, skips centre-cropped) run on the meta device: 572 → 388 for depth 4, and
    other sizes and depths, odd pre-pooling sizes included.
    """
    return run_cases("unet_output_size", unet_output_size, lambda: _output_cases(extended), compare=compare_int,
                     strict=strict, general_hint=M("unet_output_size.general"))
