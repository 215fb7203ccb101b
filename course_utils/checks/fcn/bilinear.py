"""``bilinear_kernel``: FCN's initialisation of an upsampling ConvTranspose2d (Long et al., 2015).

Compared with the tent-filter definition; upsampling with it equals
``F.interpolate(mode="bilinear", align_corners=False)`` away from the border
(the test suite proves that of the definition).
"""

from __future__ import annotations

from ..engine import INCORRECT, Case, CheckResult, Verdict, compare_tensor, run_cases
from ..messages.fcn import M


def _bilinear_reference(channels, factor):
    """FCN's initialisation (Long et al., 2015), from the definition of bilinear interpolation: the tent
    kernel that course_utils.segmentation's upsamplers start from (the tests prove it equals
    F.interpolate away from the border)."""
    from ...segmentation import _tent_kernel
    return _tent_kernel(channels, factor)


def _bilinear_cases(seed, extended):
    import torch
    # (channels, factor): one channel and several, even and odd factors, and factor 1 (a 1 × 1 kernel: the identity)
    specs = [(1, 2), (3, 2), (2, 3), (2, 4), (3, 1)] + ([(4, 8), (1, 5), (5, 1)] if extended else [])
    cases = []
    for channels, factor in specs:
        expected = _bilinear_reference(channels, factor)
        k = expected.shape[-1]
        mistakes = [M.mistake("bilinear_kernel.size", (channels, channels, 2 * factor, 2 * factor)),
                    M.mistake("bilinear_kernel.size", (channels, channels, 2 * factor + 1, 2 * factor + 1))]
        if channels > 1:
            mistakes.append(M.mistake("bilinear_kernel.mixes_channels",
                                      expected[0, 0].expand(channels, channels, k, k).clone()))
        centre_wrong = factor - 1 if k % 2 == 0 else factor - 0.5
        taps = (1 - (torch.arange(k, dtype=torch.float32) - centre_wrong).abs() / factor).clamp(min=0)
        wrong_centre = torch.zeros_like(expected)
        wrong_centre[range(channels), range(channels)] = taps[:, None] * taps[None, :]
        mistakes.append(M.mistake("bilinear_kernel.centre", wrong_centre))
        if factor > 1:
            mistakes += [M.mistake("bilinear_kernel.not_divided", expected * factor ** 2),
                         M.mistake("bilinear_kernel.sums_to_one", expected / factor ** 2)]
        cases.append(Case(f"bilinear_kernel(channels={channels}, factor={factor})", (channels, factor),
                          expected=expected, mistakes=mistakes, atol=1e-5, rtol=1e-5))
    return cases


def _compare_kernel(check, got, case, *, name, general_hint=None):
    import torch
    if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(case.expected.shape) \
            and got.dtype != case.expected.dtype:
        raise Verdict(CheckResult(check, INCORRECT, M("bilinear_kernel.wrong_dtype"), case=case.label,
                                  evidence=[f"expected {case.expected.dtype}, got {got.dtype}"],
                                  hint=M("bilinear_kernel.dtype"), mistake="bilinear_kernel.dtype",
                                  next_step="Fix the dtype and run the check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def check_bilinear_kernel(bilinear_kernel, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``bilinear_kernel(channels, factor) -> Tensor (channels, channels, k, k)``, k = 2·factor − factor % 2.

    The weight of an ``nn.ConvTranspose2d(channels, channels, k, stride=factor,
    padding=factor // 2)`` that upsamples each channel bilinearly, compared
    with the tent-filter definition (FCN's initialisation).  Upsampling with
    it equals ``F.interpolate(mode="bilinear", align_corners=False)`` away
    from the border; the test suite proves that of the definition.
    """
    return run_cases("bilinear_kernel", bilinear_kernel, lambda: _bilinear_cases(seed, extended), compare=_compare_kernel,
                     strict=strict, general_hint=M("bilinear_kernel.general"))
