"""Checks for notebook 06: semantic segmentation and fully convolutional networks.

References are computed at check time: ``nn.Linear`` applied window by
window (convolutionalization), ``F.conv_transpose2d`` (transposed
convolution and its output size), ``F.interpolate`` (the bilinear kernel),
and per-class boolean masks (confusion matrix, IoU).  Known mistakes are
diagnosed by computing what they would return.
"""

from __future__ import annotations

import math
import numbers

from .engine import mistakes_of
from .engine import (INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, compare_int,
                      compare_tensor, generator, pair, randn, run_cases, shape_of)
from .convolution import CONV_OPS, _conv2d_forbidden

__all__ = ["check_convolutionalize", "check_conv_transpose2d", "check_conv_transpose_output_size",
           "check_bilinear_kernel", "check_confusion_matrix", "check_segmentation_scores"]


# --------------------------------------------------------------------------
# Convolutionalization: a dense layer as a convolution
# --------------------------------------------------------------------------

def _linear_windows(weight, bias, x, kh, kw):
    """The dense layer (weight, bias) applied to every kh × kw window of x: (N, out, H - kh + 1, W - kw + 1).

    Computed with unfold and a matrix product, independently of any convolution."""
    import torch
    n, c, h, w = x.shape
    patches = torch.nn.functional.unfold(x, (kh, kw))               # (N, C·kh·kw, L), channel-major like flatten
    out = patches.transpose(1, 2) @ weight.T                        # (N, L, out)
    if bias is not None:
        out = out + bias
    return out.transpose(1, 2).reshape(n, -1, h - kh + 1, w - kw + 1)


_CONVOLUTIONALIZE_SPECS = [(16, 4, 4, 10, True), (8, 3, 5, 6, True), (32, 1, 1, 7, False)]
_CONVOLUTIONALIZE_EXTENDED = [(3, 7, 2, 4, True), (1, 6, 6, 2, False)]


def check_convolutionalize(convolutionalize, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``convolutionalize(linear, in_shape) -> nn.Conv2d``.

    ``linear`` is an ``nn.Linear`` trained on flattened (C, H, W) inputs; the
    convolution must have kernel (H, W) and ``linear.out_features`` output
    channels and compute exactly the dense layer: on an input of the
    training size its (N, out, 1, 1) output equals ``linear(x.flatten(1))``,
    and on a larger input each output position equals the dense layer applied
    to that window.
    """
    import torch
    check = "convolutionalize"
    g = generator(seed)

    def behaviour():
        specs = _CONVOLUTIONALIZE_SPECS + (_CONVOLUTIONALIZE_EXTENDED if extended else [])
        for index, (c, h, w, out_features, bias) in enumerate(specs):
            # skip_init: the weights are overwritten below, and nothing is drawn from the global RNG
            linear = torch.nn.utils.skip_init(torch.nn.Linear, c * h * w, out_features, bias=bias)
            with torch.no_grad():
                linear.weight.copy_(randn(g, out_features, c * h * w))
                if bias:
                    linear.bias.copy_(randn(g, out_features))
            snapshot = {k: v.clone() for k, v in linear.state_dict().items()}
            label = f"convolutionalize(nn.Linear({c * h * w}, {out_features}, bias={bias}), in_shape=({c}, {h}, {w}))"
            case = Case(label, (linear, (c, h, w)))
            conv, _ = call_learner(check, convolutionalize, case, first=index == 0)
            if conv is None:
                raise Verdict(CheckResult(check, UNCHECKABLE, "`convolutionalize` returned None.", case=label,
                                          hint="Did you forget a `return`? Return the nn.Conv2d.",
                                          next_step="Return the convolution and run the check again."))
            if not isinstance(conv, torch.nn.Conv2d):
                raise Verdict(CheckResult(check, UNCHECKABLE, f"`convolutionalize` returned {type(conv).__name__}; "
                                          "expected an nn.Conv2d.", case=label,
                                          next_step="Return an nn.Conv2d and run the check again."))
            if any(not torch.equal(v, snapshot[k]) for k, v in linear.state_dict().items()):
                raise Verdict(CheckResult(check, INCORRECT, "the dense layer's weights changed.", case=label,
                                          hint="Copy the weights into the convolution; do not write into the "
                                               "dense layer.", next_step="Fix it and run the check again."))
            want = (out_features, c, h, w)
            if tuple(conv.weight.shape) != want:
                hint = ("The kernel covers the whole (H, W) input: nn.Conv2d(C, out_features, kernel_size=(H, W))."
                        if conv.weight.shape[0] == out_features else
                        "One output channel per output feature of the dense layer: out_channels = out_features.")
                raise Verdict(CheckResult(check, INCORRECT, "the convolution's weight has the wrong shape.",
                                          case=label, evidence=[f"expected {want}, got {tuple(conv.weight.shape)}"],
                                          hint=hint, next_step="Fix the layer and run the check again."))
            if (conv.bias is not None) != bias:
                raise Verdict(CheckResult(check, INCORRECT, "the bias does not match the dense layer's.", case=label,
                                          evidence=[f"dense layer bias: {bias}; convolution bias: "
                                                    f"{conv.bias is not None}"],
                                          hint="Give the convolution a bias exactly when the dense layer has one, "
                                               "and copy it.", next_step="Fix the bias and run the check again."))
            for size, name in (((h, w), "the training size"), ((h + 3, w + 2), "a larger input")):
                x = randn(g, 2, c, *size)
                with torch.no_grad():
                    expected = _linear_windows(linear.weight, linear.bias, x, h, w)
                    hwc = linear.weight.reshape(out_features, h, w, c).permute(0, 3, 1, 2).reshape(out_features, -1)
                    mistakes = [("The weights are laid out in the wrong order: `linear.weight` flattens (C, H, W) "
                                 "channel first, so reshape it to (out_features, C, H, W) — not (…, H, W, C).",
                                 _linear_windows(hwc, linear.bias, x, h, w))]
                    if bias and conv.bias.shape == linear.bias.shape:   # the right weights with the learner's bias
                        mistakes.append(("Copy the bias too: `conv.bias.copy_(linear.bias)` (a new layer's bias "
                                         "holds random initial values).",
                                         _linear_windows(linear.weight, conv.bias.detach().cpu(), x, h, w)))
                forward = Case(f"{label}, conv(x) on x of shape {tuple(x.shape)} ({name})", (x,), expected=expected,
                               mistakes=mistakes)
                with torch.no_grad():
                    got, _ = call_learner(check, conv, forward, first=False, name="conv.forward")
                compare_tensor(check, got, forward, name="conv",
                               general_hint="conv.weight = linear.weight.view(out_features, C, H, W); "
                                            "conv.bias = linear.bias.")
        return "The convolutions compute the dense layers exactly, at the training size and on larger inputs."

    return run_cases(check, convolutionalize, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# Transposed convolution, by overlap-add
# --------------------------------------------------------------------------

# n, c_in, c_out, h, w, kh, kw, stride, padding, output_padding, bias
# The first case has C_in = C_out, so that a weight read as (C_out, C_in, …) gives a wrong answer to name
# rather than a shape error.
_TRANSPOSE_SPECS = [(2, 3, 3, 4, 5, 3, 3, 2, 1, 1, True),
                    (2, 3, 4, 5, 4, 3, 3, 2, 1, 1, True), (1, 2, 3, 4, 6, 4, 4, 2, 1, 0, False),
                    (2, 3, 2, 3, 5, 3, 2, 1, 0, 0, True), (1, 4, 2, 6, 3, 2, 3, 3, 1, 2, True),
                    (1, 2, 3, 5, 4, 3, 2, (2, 1), (1, 0), (1, 0), True)]   # (height, width) pairs differ per axis
_TRANSPOSE_EXTENDED = [(3, 1, 1, 7, 7, 5, 5, 2, 2, 1, False), (1, 5, 3, 2, 9, 4, 3, (2, 3), (1, 0), (1, 2), True),
                       (1, 2, 2, 1, 1, 3, 3, 2, 0, 0, True)]


def _transposed_reference(x, weight, bias, stride, padding, output_padding):
    import torch.nn.functional as F
    return F.conv_transpose2d(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding)


def _overlap_add(x, weight, bias, stride, padding, output_padding, *, accumulate=True, stamp_bias=False,
                 add_bias=True):
    """Transposed convolution by overlap-add, written here from its definition (no convolution function).

    With the defaults it is ``F.conv_transpose2d`` (the test suite proves it); the keywords make the known
    mistakes: ``accumulate=False`` writes each stamp over the previous ones, ``stamp_bias`` adds the bias to
    every stamp, ``add_bias=False`` leaves out the final bias.
    """
    import torch
    n, cin, h, w = x.shape
    cout, kh, kw = weight.shape[1], weight.shape[2], weight.shape[3]
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    full_h, full_w = (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow
    out = torch.zeros(n, cout, full_h, full_w)
    for i in range(kh):
        for j in range(kw):
            contribution = torch.einsum("nchw,cd->ndhw", x, weight[:, :, i, j])
            if stamp_bias and bias is not None:
                contribution = contribution + bias[None, :, None, None]
            window = out[:, :, i:i + (h - 1) * sh + 1:sh, j:j + (w - 1) * sw + 1:sw]
            if accumulate:
                window += contribution
            else:
                window.copy_(contribution)
    out = out[:, :, ph:full_h - ph, pw:full_w - pw]
    return out if bias is None or not add_bias else out + bias[None, :, None, None]


def _transposed_mistakes(x, weight, bias, stride, padding, output_padding):
    """(hint, wrong output) of the known mistakes, computed with ``_overlap_add``."""
    n, cin, h, w = x.shape
    cout, kh, kw = weight.shape[1], weight.shape[2], weight.shape[3]
    (sh, sw), (ph, pw), (oh, ow) = pair(stride), pair(padding), pair(output_padding)
    full_h, full_w = (h - 1) * sh + kh + oh, (w - 1) * sw + kw + ow
    settings = (stride, padding, output_padding)

    def overlap(weight, **mistake):
        return _overlap_add(x, weight, bias, *settings, **mistake)

    mistakes = []
    if kh > sh or kw > sw:   # overlapping windows: only then does '=' differ from '+='
        mistakes.append(("Where kernel windows overlap, their contributions add up (overlap-add): use `+=`, "
                         "not `=`, when writing into the output.", overlap(weight, accumulate=False)))
    if kh > 1 or kw > 1:
        mistakes.append(("The kernel is used as it is in a transposed convolution (each input pixel stamps "
                         "weight[:, :, i, j] at offset (i, j)); do not flip it.", overlap(weight.flip(-1, -2))))
    if cin == cout:
        mistakes.append(("The weight of a transposed convolution is (C_in, C_out, kH, kW), input channels first "
                         "(the reverse of nn.Conv2d's): weight[:, :, i, j] maps C_in to C_out.",
                         overlap(weight.transpose(0, 1))))
    if bias is not None:
        mistakes.append(("The bias is missing: add bias[d] to every output pixel of channel d, once, after "
                         "cropping.", overlap(weight, add_bias=False)))
        mistakes.append(("Add the bias once per output pixel (after the overlap-add), not to every stamp: where "
                         "stamps overlap it is counted several times.",
                         overlap(weight, stamp_bias=True, add_bias=False)))
    if ph or pw:
        mistakes.append(("In a transposed convolution `padding` crops p rows and columns from each border of the "
                         "full overlap-add output.", (n, cout, full_h, full_w)))
        mistakes.append(("padding p crops p rows and columns from *each* side of the full output, so the "
                         "size shrinks by 2p.", (n, cout, full_h - ph, full_w - pw)))
    if oh or ow:
        mistakes.append(("output_padding adds rows/columns at the bottom/right end of the output: the size is "
                         "(H − 1)·s − 2p + k + output_padding.", (n, cout, full_h - oh - 2 * ph, full_w - ow - 2 * pw)))
    if (sh, ph, oh) != (sw, pw, ow):   # per-axis settings read from the height's value only
        mistakes.append(("stride, padding and output_padding may be (height, width) pairs that differ: use the "
                         "second value for the width.", (n, cout, full_h - 2 * ph, (w - 1) * sh - 2 * ph + kw + oh)))
    return mistakes


def _transposed_cases(seed, extended):
    g = generator(seed)
    cases = []
    for n, cin, cout, h, w, kh, kw, stride, padding, output_padding, has_bias in (
            _TRANSPOSE_SPECS + (_TRANSPOSE_EXTENDED if extended else [])):
        x, weight = randn(g, n, cin, h, w), randn(g, cin, cout, kh, kw)
        bias = randn(g, cout) if has_bias else None
        kwargs = dict(stride=stride, padding=padding, output_padding=output_padding)
        expected = _transposed_reference(x, weight, bias, **kwargs)
        label = (f"x {shape_of(x)}, weight {shape_of(weight)}, bias {shape_of(bias) if bias is not None else None}, "
                 f"stride={stride}, padding={padding}, output_padding={output_padding}")
        cases.append(Case(label, (x, weight, bias), kwargs, expected=expected,
                          mistakes=_transposed_mistakes(x, weight, bias, **kwargs), atol=1e-4, rtol=1e-4))
    return cases


def check_conv_transpose2d(conv_transpose2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0)``.

    ``x`` is (N, C_in, H, W) and ``weight`` (C_in, C_out, kH, kW), as for
    ``F.conv_transpose2d``, which it is compared with; every convolution
    function is refused while it runs (build it by overlap-add).
    """
    return run_cases("conv_transpose2d", conv_transpose2d, _transposed_cases(seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_conv2d_forbidden(), op_pattern=CONV_OPS,
                     general_hint="Each input pixel x[n, :, a, b] stamps the kernel into the output at "
                                  "(a·s, b·s) (weighted sum over C_in), windows add up, then padding crops p from "
                                  "each border and output_padding extends the bottom/right.")


def _transposed_size(n, k, s, p, op, d):
    import torch
    import torch.nn.functional as F
    x = torch.empty(1, 1, n, 1, device="meta")
    w = torch.empty(1, 1, k, 1, device="meta")
    return int(F.conv_transpose2d(x, w, stride=(s, 1), padding=(p, 0), output_padding=(op, 0),
                                  dilation=(d, 1)).shape[2])


def _transposed_size_cases(extended):
    specs = [(7, 3, 2, 1, 1, 1), (4, 4, 2, 1, 0, 1), (5, 3, 1, 0, 0, 1), (3, 5, 3, 2, 2, 1), (6, 3, 2, 0, 0, 2)]
    if extended:
        specs += [(1, 1, 1, 0, 0, 1), (10, 16, 8, 4, 0, 1), (9, 2, 4, 3, 3, 2), (2, 7, 5, 0, 4, 3)]
    cases = []
    for n, k, s, p, op, d in specs:
        expected = _transposed_size(n, k, s, p, op, d)
        mistakes = [("Forgot output_padding: it adds to the size.", expected - op),
                    ("padding crops from both sides: subtract 2·p, not p.", expected + p),
                    ("The input grid is stretched to (n − 1)·s + 1 positions, not n·s.", expected + s - 1),
                    ("The last input pixel's stamp starts at (n − 1)·s, not n·s.", expected + s),
                    ("A dilated kernel spans d·(k − 1) + 1 pixels.", expected - (d - 1) * (k - 1)),
                    ("That inverts the convolution formula the wrong way round: the transposed size is "
                     "(n − 1)·s − 2p + d·(k − 1) + output_padding + 1.", (n + 2 * p - d * (k - 1) - 1) // s + 1)]
        cases.append(Case(f"conv_transpose_output_size({n}, kernel_size={k}, stride={s}, padding={p}, "
                          f"output_padding={op}, dilation={d})", (n,),
                          dict(kernel_size=k, stride=s, padding=p, output_padding=op, dilation=d),
                          expected=expected, mistakes=[(h, v) for h, v in mistakes if v != expected]))
    return cases


def check_conv_transpose_output_size(conv_transpose_output_size, *, strict=False, seed=0,
                                     extended=False) -> CheckResult:
    """Check ``conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1)``.

    Compared with the output size of ``F.conv_transpose2d`` on the meta device.
    """
    return run_cases("conv_transpose_output_size", conv_transpose_output_size, _transposed_size_cases(extended),
                     compare=compare_int, strict=strict,
                     general_hint="out = (n − 1)·stride − 2·padding + dilation·(kernel_size − 1) + output_padding + 1.")


# --------------------------------------------------------------------------
# Bilinear kernel for upsampling
# --------------------------------------------------------------------------

def _bilinear_reference(channels, factor):
    """FCN's initialisation (Long et al., 2015), from the definition of bilinear interpolation: the tent
    kernel that course_utils.segmentation's upsamplers start from (the tests prove it equals
    F.interpolate away from the border)."""
    from ..segmentation import _tent_kernel
    return _tent_kernel(channels, factor)


def _bilinear_cases(seed, extended):
    import torch
    specs = [(1, 2), (3, 2), (2, 3), (2, 4)] + ([(4, 8), (1, 5), (5, 1)] if extended else [])
    cases = []
    for channels, factor in specs:
        expected = _bilinear_reference(channels, factor)
        k = expected.shape[-1]
        mistakes = [("The kernel size is 2·factor − factor % 2.", (channels, channels, 2 * factor, 2 * factor)),
                    ("The kernel size is 2·factor − factor % 2.", (channels, channels, 2 * factor + 1, 2 * factor + 1))]
        if channels > 1:
            mistakes.append(("Each channel is upsampled on its own: weight[c, c] holds the kernel and weight[c, d] "
                             "= 0 for d ≠ c.", expected[0, 0].expand(channels, channels, k, k).clone()))
        centre_wrong = factor - 1 if k % 2 == 0 else factor - 0.5
        taps = (1 - (torch.arange(k, dtype=torch.float32) - centre_wrong).abs() / factor).clamp(min=0)
        wrong_centre = torch.zeros_like(expected)
        wrong_centre[range(channels), range(channels)] = taps[:, None] * taps[None, :]
        mistakes.append(("The tent is centred at factor − 1 when the kernel size is odd and at factor − 0.5 when "
                         "it is even.", wrong_centre))
        if factor > 1:
            mistakes.append(("Divide by the factor: t[i] = 1 − |i − centre| / factor, so that the tent is 1 at its "
                             "centre.", expected * factor ** 2))
            mistakes.append(("Do not normalise the kernel to sum 1: each output pixel receives several stamps, and "
                             "the tents (1 at the centre) already make their weights add up to 1.",
                             expected / factor ** 2))
        case = Case(f"bilinear_kernel(channels={channels}, factor={factor})", (channels, factor), expected=expected,
                    mistakes=mistakes, atol=1e-5, rtol=1e-5)
        cases.append(case)
    return cases


def check_bilinear_kernel(bilinear_kernel, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``bilinear_kernel(channels, factor) -> Tensor (channels, channels, k, k)``, k = 2·factor − factor % 2.

    The weight of an ``nn.ConvTranspose2d(channels, channels, k, stride=factor,
    padding=factor // 2)`` that upsamples each channel bilinearly, compared
    with the tent-filter definition (FCN's initialisation).  Upsampling with
    it equals ``F.interpolate(mode="bilinear", align_corners=False)`` away
    from the border; the test suite proves that of the definition.
    """
    return run_cases("bilinear_kernel", bilinear_kernel, _bilinear_cases(seed, extended), compare=_compare_kernel,
                     strict=strict,
                     general_hint="t[i] = 1 − |i − centre| / factor for i = 0 … k − 1 (centre = factor − 1 if k is "
                                  "odd, else factor − 0.5); weight[c, c] = outer(t, t); zeros elsewhere.")


def _compare_kernel(check, got, case, *, name, general_hint=None):
    import torch
    if isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(case.expected.shape) \
            and got.dtype != case.expected.dtype:
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong dtype.", case=case.label,
                                  evidence=[f"expected {case.expected.dtype}, got {got.dtype}"],
                                  hint="A layer's weight is float32: build the tent with `torch.arange(k, "
                                       "dtype=torch.float32)`, or convert with `.float()` (numpy gives float64).",
                                  next_step="Fix the dtype and run the check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


# --------------------------------------------------------------------------
# Confusion matrix and scores
# --------------------------------------------------------------------------

def _confusion_reference(pred, target, num_classes, ignore_index):
    """Counted with one boolean mask per (true, predicted) pair: slow, obvious, independent of bincount."""
    import torch
    keep = target != ignore_index
    matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for t in range(num_classes):
        for p in range(num_classes):
            matrix[t, p] = int(((target == t) & (pred == p) & keep).sum())
    return matrix


def _confusion_cases(seed, extended):
    import torch
    g = generator(seed)
    # the last public case has an ignore label that is also a class id: there only the mask on the target works
    specs = [((2, 6, 5), 3, 255, 0.1), ((1, 7, 9), 4, 255, 0.0), ((3, 4, 4), 2, 255, 0.3), ((2, 5, 6), 5, -1, 0.2),
             ((2, 4, 5), 3, 0, 0.0)]
    if extended:
        specs += [((1, 1, 1), 2, 255, 0.0), ((4, 16, 12), 7, 255, 0.15), ((2, 3, 3), 6, 0, 0.0)]
    cases = []
    for shape, classes, ignore, fraction in specs:
        target = torch.randint(0, classes, shape, generator=g)
        # a prediction right about 60 % of the time, so that the matrix is far from diagonal and far from uniform
        noise = torch.randint(0, classes, shape, generator=g)
        pred = torch.where(torch.rand(shape, generator=g) < 0.6, target, noise)
        if ignore == 0:   # an ignore label that is also a class id: only the target is masked
            pass
        else:
            target = torch.where(torch.rand(shape, generator=g) < fraction, torch.full_like(target, ignore), target)
        expected = _confusion_reference(pred, target, classes, ignore)
        keep_all = torch.zeros(classes, classes, dtype=torch.int64)
        valid = (target >= 0) & (target < classes)
        for t in range(classes):
            for p in range(classes):
                keep_all[t, p] = int(((target == t) & (pred == p) & valid).sum())
        mistakes = [("Rows are the true classes and columns the predictions: matrix[t, p] counts pixels of true "
                     "class t predicted as p.", expected.T.contiguous())]
        if ignore == 0:
            mistakes.append(("Drop the pixels whose *target* is ignore_index (even when it is also a class id).",
                             keep_all))
        label = f"pred and target of shape {shape}, num_classes={classes}, ignore_index={ignore}"
        cases.append(Case(label, (pred, target, classes), dict(ignore_index=ignore), expected=expected,
                          mistakes=mistakes, atol=0, rtol=0))
    return cases


def check_confusion_matrix(confusion_matrix, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``confusion_matrix(pred, target, num_classes, ignore_index=255) -> LongTensor (K, K)``.

    ``matrix[t, p]`` counts the pixels of true class t predicted as p; pixels
    whose target is ``ignore_index`` are left out.  Compared with a count made
    with one boolean mask per (t, p) pair.
    """
    from .engine import RAISED, finish
    result = run_cases("confusion_matrix", confusion_matrix, _confusion_cases(seed, extended),
                       compare=_compare_counts, strict=False,
                       general_hint="keep = target != ignore_index; index = target[keep] * K + pred[keep]; "
                                    "torch.bincount(index, minlength=K * K).reshape(K, K).")
    if result.outcome == RAISED and not result.hint and "ignore_index" in (result.case or ""):
        # a bincount over unmasked targets: 255 (or -1) makes indices outside 0 … K·K − 1
        result.hint = ("Drop the pixels whose target equals ignore_index before counting (`keep = target != "
                       "ignore_index`): an ignore label of 255 or −1 is not a class, so it cannot index the matrix.")
    return finish(result, strict)


def _compare_counts(check, got, case, *, name, general_hint=None):
    import torch
    if isinstance(got, torch.Tensor) and not got.is_floating_point() and got.dtype != torch.int64 \
            and got.dtype != torch.bool:
        got = got.long()   # any integer dtype holds counts
    if isinstance(got, torch.Tensor) and got.is_floating_point() and tuple(got.shape) == tuple(case.expected.shape):
        raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong dtype.", case=case.label,
                                  evidence=[f"expected {case.expected.dtype}, got {got.dtype}"],
                                  hint="Counts are whole numbers: return an integer tensor (`torch.bincount` gives "
                                       "int64; convert a float product with `.long()`).",
                                  next_step="Fix the dtype and run the check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def _scores_reference(matrix):
    """Pixel accuracy, mean IoU and per-class IoU from the definitions (NaN for a class absent everywhere)."""
    import torch
    m = matrix.double()
    total = m.sum()
    pixel_accuracy = float(m.diagonal().sum() / total) if total > 0 else float("nan")
    iou = []
    for c in range(m.shape[0]):
        tp, fp, fn = m[c, c], m[:, c].sum() - m[c, c], m[c, :].sum() - m[c, c]
        union = tp + fp + fn
        iou.append(float(tp / union) if union > 0 else float("nan"))
    present = [v for v in iou if not math.isnan(v)]
    mean_iou = sum(present) / len(present) if present else float("nan")
    return pixel_accuracy, mean_iou, torch.tensor(iou, dtype=torch.float64)


def _scores_cases(seed, extended):
    import torch
    g = generator(seed)
    specs = [(3, False), (4, True), (2, False), (5, True)] + ([(6, True), (1, False), (8, False)] if extended else [])
    cases = []
    for classes, with_absent in specs:
        matrix = torch.randint(0, 40, (classes, classes), generator=g) + 60 * torch.eye(classes, dtype=torch.int64)
        if with_absent:   # one class absent from both truth and prediction: its IoU is undefined
            matrix[classes - 1, :] = 0
            matrix[:, classes - 1] = 0
        pa, miou, iou = _scores_reference(matrix)
        m = matrix.double()
        tp = m.diagonal()
        dice = [float(2 * tp[c] / (m[:, c].sum() + m[c, :].sum())) if m[:, c].sum() + m[c, :].sum() > 0
                else float("nan") for c in range(classes)]
        recall = [float(tp[c] / m[c, :].sum()) if m[c, :].sum() > 0 else float("nan") for c in range(classes)]
        zero_filled = [0.0 if math.isnan(v) else v for v in iou.tolist()]
        union = m.sum(dim=0) + m.sum(dim=1) - tp
        # per-class answers (tensors) first, then mean IoUs (floats)
        mistakes = [("That is the Dice coefficient 2·TP / (2·TP + FP + FN); IoU is TP / (TP + FP + FN).",
                     torch.tensor(dice, dtype=torch.float64)),
                    ("That is the per-class accuracy (recall, TP / (TP + FN)); IoU also counts false positives: "
                     "TP / (TP + FP + FN).", torch.tensor(recall, dtype=torch.float64)),
                    ("Integer division rounds every IoU below 1 down to 0: convert the counts to float first "
                     "(`matrix.double()`).", torch.div(matrix.diagonal(), union.long().clamp(min=1),
                                                      rounding_mode="floor").double()),
                    ("That is the mean of per-class accuracies (recall, TP / (TP + FN)); IoU also counts false "
                     "positives: TP / (TP + FP + FN).", _nanmean(recall)),
                    ("That is the Dice coefficient 2·TP / (2·TP + FP + FN); IoU is TP / (TP + FP + FN).",
                     _nanmean(dice)),
                    ("A class absent from both truth and prediction has no IoU (0/0): leave it out of the mean "
                     "(NaN, then `torch.nanmean`), do not count it as 0.", sum(zero_filled) / classes)]
        case = Case(f"segmentation_scores(<{classes}×{classes} confusion matrix"
                    f"{', last class absent' if with_absent else ''}>)", (matrix,), expected=(pa, miou, iou),
                    mistakes=mistakes)
        cases.append(case)
    return cases


def _nanmean(values):
    present = [v for v in values if not math.isnan(v)]
    return sum(present) / len(present) if present else float("nan")


def _as_float(value):
    import torch
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def _same_values(a, b):
    """Same NaNs in the same places, and the other values within 1e-6."""
    import torch
    return (a.shape == b.shape and torch.equal(torch.isnan(a), torch.isnan(b))
            and torch.allclose(a.nan_to_num(-1), b.double().nan_to_num(-1), atol=1e-6))


def _close(a, b, tol=1e-6):
    return (math.isnan(a) and math.isnan(b)) or (not math.isnan(a) and not math.isnan(b) and abs(a - b) <= tol)


def _compare_scores(check, got, case, *, name, general_hint=None):
    import torch
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint="Did you forget a `return`? Return `pixel_accuracy, mean_iou, iou`.",
                                  next_step="Return the three results and run the check again."))
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        what = type(got).__name__ + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {what}; expected (pixel_accuracy, "
                                  "mean_iou, iou).", case=case.label,
                                  hint="Return a tuple: two floats and a tensor of one IoU per class.",
                                  next_step="Return the three results and run the check again."))
    pa, miou, iou = got
    want_pa, want_miou, want_iou = case.expected
    for label, value in (("pixel_accuracy", pa), ("mean_iou", miou)):
        if _as_float(value) is None:
            raise Verdict(CheckResult(check, UNCHECKABLE, f"{label} is {type(value).__name__}; expected a float.",
                                      case=case.label, hint="Return Python floats (`.item()` on a 0-d tensor).",
                                      next_step="Fix the type and run the check again."))
    if not isinstance(iou, torch.Tensor) or iou.shape != want_iou.shape:
        got_shape = tuple(iou.shape) if isinstance(iou, torch.Tensor) else type(iou).__name__
        raise Verdict(CheckResult(check, INCORRECT, "iou must be a tensor with one value per class.", case=case.label,
                                  evidence=[f"expected shape {tuple(want_iou.shape)}, got {got_shape}"],
                                  hint="iou[c] = TP_c / (TP_c + FP_c + FN_c) for every class c.",
                                  next_step="Fix it and run the check again."))
    if not _close(_as_float(pa), want_pa):
        raise Verdict(CheckResult(check, INCORRECT, "the pixel accuracy is wrong.", case=case.label,
                                  evidence=[f"expected {want_pa:.6g}, got {_as_float(pa):.6g}"],
                                  hint="Pixel accuracy = correctly classified pixels / all counted pixels = "
                                       "trace / sum.", next_step="Fix it and run the check again."))
    mine = iou.detach().double().cpu()
    same_nan = torch.equal(torch.isnan(mine), torch.isnan(want_iou))
    if not _same_values(mine, want_iou):
        hint = "iou[c] = TP / (TP + FP + FN): TP = m[c, c], FP = column sum − TP, FN = row sum − TP."
        if not same_nan:
            hint = ("A class absent from both truth and prediction has union 0: its IoU is undefined — return NaN "
                    "for it (0/0 in floating point gives NaN), never 0 or 1.")
        hint = next((h for h, wrong in _pairs(case) if isinstance(wrong, torch.Tensor) and _same_values(mine, wrong)),
                    hint)
        raise Verdict(CheckResult(check, INCORRECT, "the per-class IoU is wrong.", case=case.label,
                                  evidence=[f"first class that differs: {int((~torch.isclose(mine, want_iou, equal_nan=True)).nonzero()[0])}"],
                                  hint=hint, next_step="Fix it and run the check again."))
    got_miou = _as_float(miou)
    if not _close(got_miou, want_miou):
        hint = next((h for h, wrong in _pairs(case) if isinstance(wrong, float) and _close(got_miou, wrong)),
                    "mean IoU = the mean of iou over the classes whose IoU is defined (`torch.nanmean(iou)`).")
        raise Verdict(CheckResult(check, INCORRECT, "the mean IoU is wrong.", case=case.label,
                                  evidence=[f"expected {want_miou:.6g}, got {got_miou:.6g}"], hint=hint,
                                  next_step="Fix it and run the check again."))


def check_segmentation_scores(segmentation_scores, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``segmentation_scores(matrix) -> (pixel_accuracy, mean_iou, iou)`` from a confusion matrix.

    ``matrix[t, p]`` counts pixels of true class t predicted as p.  Pixel
    accuracy = trace / sum; ``iou[c]`` = TP / (TP + FP + FN), NaN for a class
    absent from both truth and prediction; ``mean_iou`` the mean over the
    defined IoUs.  Compared with the definitions, computed class by class.
    """
    return run_cases("segmentation_scores", segmentation_scores, _scores_cases(seed, extended),
                     compare=_compare_scores, strict=strict)


def _pairs(case):
    """(hint, answer) of each known mistake of ``case`` (transitional, until this module uses keys)."""
    return [(m.hint, m.answer) for m in mistakes_of(case)]
