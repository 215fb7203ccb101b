"""Notebook 02's layer exercises: max and average pooling, batch normalisation, a stable softmax.

References, computed at check time: ``F.max_pool2d``/``F.avg_pool2d``,
``nn.BatchNorm2d`` in train and eval mode, ``torch.softmax``; the learner's
code may call none of them.
"""

from __future__ import annotations

import functools

from ..engine import (DOES_THE_WORK, INCORRECT, REIMPLEMENTED, Case, CheckResult, Verdict, compare_parts,
                      compare_tensor, generator, later, mistakes_of, pair, randn, run_cases, shape_of)
from ..messages.building_blocks import M

POOL_OPS = r"^(_|quantized_|mkldnn_)?(max_pool|avg_pool|adaptive_|fractional_max_pool|lp_pool)"
SOFTMAX_OPS = r"softmax|^softmin"
BATCH_NORM_OPS = r"batch_norm|^instance_norm|^group_norm|^layer_norm"


# --------------------------------------------------------------------------
# max_pool2d and avg_pool2d
# --------------------------------------------------------------------------

# (N, C, H, W, kernel_size, stride, padding)
_POOL_SPECS = [
    (2, 3, 8, 6, 2, None, 0),                # the classic 2×2 / 2, stride defaulting to the kernel
    (2, 3, 9, 7, 3, 2, 0),                   # overlapping 3×3 / 2 (AlexNet), odd sizes
    (1, 2, 7, 10, 3, 2, 1),                  # padding
    (2, 4, 6, 9, (2, 3), (2, 1), 0),         # non-square kernel and stride
    (2, 3, 7, 8, (3, 2), (1, 2), (1, 0)),    # padding and stride that differ along H and W, stride 1 along H
    (1, 2, 5, 6, (5, 6), None, 0),           # one window covering the whole map
    (2, 2, 8, 9, (2, 3), None, 0),           # a non-square kernel whose stride defaults to it, axis by axis
]
_POOL_EXTENDED = [(3, 5, 13, 11, 3, 1, 1), (1, 1, 5, 5, 5, None, 0), (2, 2, 12, 7, (3, 2), (3, 2), (1, 1)),
                  (1, 3, 9, 12, (2, 3), (1, 3), (0, 1))]


def _pool_cases(kind, seed, extended):
    import torch.nn.functional as F
    g = generator(seed)
    reference = F.max_pool2d if kind == "max" else F.avg_pool2d
    other = F.avg_pool2d if kind == "max" else F.max_pool2d
    cases = []
    for n, c, h, w, k, s, p in _POOL_SPECS + (_POOL_EXTENDED if extended else []):
        x = randn(g, n, c, h, w) - 0.5   # mostly negative near the borders too: zero padding would show
        kwargs = dict(stride=s, padding=p)

        def ref(fn=reference, x=x, **over):
            return fn(x, k, **{**kwargs, **over})

        expected = ref()
        n_, c_, ho, wo = expected.shape
        kh, kw = pair(k)
        mistakes = [M.mistake("pool2d.other_kind", ref(fn=other))]
        if s is None:
            mistakes.append(M.mistake("pool2d.stride_default", tuple(ref(stride=1).shape)))
            if kh != kw:   # one side of the kernel as the stride along both axes
                mistakes += [M.mistake("pool2d.stride_default_side", ref(stride=side)) for side in (kh, kw)]
        if pair(p) != (0, 0):
            mistakes.append(M.mistake("pool2d.padding_ignored", tuple(ref(padding=0).shape)))
            if kind == "max":
                ph, pw = pair(p)
                zero_padded = F.max_pool2d(F.pad(x, (pw, pw, ph, ph)), k, stride=s)
                mistakes.append(M.mistake("max_pool2d.zero_padding", zero_padded))
            else:
                mistakes.append(M.mistake("avg_pool2d.padding_not_counted", ref(count_include_pad=False)))
        if kind == "avg":
            mistakes.append(M.mistake("avg_pool2d.window_sum", expected * kh * kw))
        mistakes.append(M.mistake("pool2d.ceil_mode", tuple(ref(ceil_mode=True).shape)))
        mistakes += [M.mistake("pool2d.off_by_one", (n_, c_, ho - 1, wo - 1)),
                     M.mistake("pool2d.off_by_one", (n_, c_, ho + 1, wo + 1))]
        mistakes.append(M.mistake("pool2d.channels_dropped", (n_, ho, wo)))
        label = f"x {shape_of(x)}, kernel_size={k}, stride={s}, padding={p}"
        cases.append(Case(label, (x, k), kwargs, expected=expected, mistakes=mistakes))
    return cases


def _pool_forbidden(kind=None):
    """The pooling functions refused while the learner's code runs: ``kind``'s own ("max", "avg") are what the
    exercise re-implements, the others another pooling that would do the work."""
    import torch
    import torch.nn.functional as F
    other = M.refusal("pool2d.refused_other_pooling", "pool2d.refused_other_pooling_hint")
    entries = [("max", F, "max_pool2d", "F.max_pool2d"), ("avg", F, "avg_pool2d", "F.avg_pool2d"),
               ("max", torch, "max_pool2d", "torch.max_pool2d"), ("avg", torch, "avg_pool2d", "torch.avg_pool2d"),
               ("max", F, "max_pool2d_with_indices", "F.max_pool2d_with_indices")]
    return [(owner, attr, shown, REIMPLEMENTED if own == kind else other) for own, owner, attr, shown in entries]


def _pool_ops():
    """Every other pooling operation of torch, however it is reached (adaptive, fractional, 1-D, 3-D, ...)."""
    return [(POOL_OPS, M.refusal("pool2d.refused_other_pooling", "pool2d.refused_other_pooling_hint"))]


def check_max_pool2d(max_pool2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``max_pool2d(x, kernel_size, stride=None, padding=0)`` against ``F.max_pool2d``.

    x: (N, C, H, W); kernel_size, stride, padding: int or (along H, along W);
    stride=None means stride = kernel_size.  Cases include overlapping 3×3/2
    windows, padding (which must act as -inf) and non-square inputs.
    """
    return run_cases("max_pool2d", max_pool2d, lambda: _pool_cases("max", seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_pool_forbidden("max"), op_pattern=_pool_ops(),
                     general_hint=M("max_pool2d.general"))


def check_avg_pool2d(avg_pool2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``avg_pool2d(x, kernel_size, stride=None, padding=0)`` against ``F.avg_pool2d``.

    Same contract as ``max_pool2d``; zero padding counts in the divisor
    (PyTorch's default ``count_include_pad=True``).
    """
    return run_cases("avg_pool2d", avg_pool2d, lambda: _pool_cases("avg", seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_pool_forbidden("avg"), op_pattern=_pool_ops(),
                     general_hint=M("avg_pool2d.general"))


# --------------------------------------------------------------------------
# batch_norm: train and eval mode, running statistics
# --------------------------------------------------------------------------

# (N, C, H, W, training, momentum, eps, quiet): ``quiet`` gives the first channel a spread of about 1e-3 (a
# variance of 1e-6, a running variance of 1e-6 in eval mode), where eps — its value and its place inside the
# square root — changes the output.
_BN_SPECS = [
    (4, 3, 5, 7, True, 0.1, 1e-5, False),
    (4, 3, 5, 7, False, 0.1, 1e-5, False),
    (2, 5, 3, 3, True, 0.3, 1e-5, False),
    (8, 2, 4, 6, False, 0.1, 1e-5, False),
    (4, 3, 5, 6, True, 0.1, 1e-3, True),
    (3, 4, 6, 5, False, 0.2, 1e-4, True),
]
_BN_EXTENDED = [(16, 4, 2, 3, True, 0.01, 1e-5, False), (3, 6, 7, 5, True, 0.5, 1e-5, True),
                (1, 3, 6, 6, False, 0.2, 1e-3, True), (5, 2, 3, 4, True, 0.1, 1e-4, True)]


def _bn_reference(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """nn.BatchNorm2d itself, loaded with these parameters and statistics."""
    import torch
    layer = torch.nn.BatchNorm2d(x.shape[1], eps=eps, momentum=momentum)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
        layer.running_mean.copy_(running_mean)
        layer.running_var.copy_(running_var)
        layer.train(training)
        y = layer(x)
    return y, layer.running_mean.clone(), layer.running_var.clone()


def _bn_cases(seed, extended):
    import torch
    g = generator(seed)
    cases = []
    for n, c, h, w, training, momentum, eps, quiet in _BN_SPECS + (_BN_EXTENDED if extended else []):
        scale, offset = torch.rand(1, c, 1, 1, generator=g) * 3 + 0.5, randn(g, 1, c, 1, 1) * 2
        running_var = torch.rand(c, generator=g) + 0.5
        if quiet:   # centred near 0.1, so that E[x²] − E[x]² still holds the variance in float32
            scale[0, 0], offset[0, 0], running_var[0] = 1e-3, 0.1, 1e-6
        x = randn(g, n, c, h, w) * scale + offset   # channels with their own mean and spread
        running_mean = randn(g, c)
        weight, bias = randn(g, c), randn(g, c)
        args = (x, running_mean, running_var, weight, bias, training)
        kwargs = dict(momentum=momentum, eps=eps)
        mode = "training" if training else "eval"
        quiet_note = ", channel 0 with a spread of 1e-3" if quiet else ""
        label = f"x {shape_of(x)}, {mode} mode, momentum={momentum}, eps={eps}{quiet_note}"
        # answered later (thirteen variants), from the check's copies of the inputs
        compute = functools.partial(_bn_answers, *[a.clone() if isinstance(a, torch.Tensor) else a for a in args],
                                    momentum=momentum, eps=eps)
        cases.append(Case(label, args, kwargs, **later(compute), atol=1e-4, rtol=1e-4))
    return cases


def _bn_answers(*args, momentum, eps):
    import torch
    expected = _bn_reference(*args, momentum, eps)
    training = args[-1]
    keys = _BN_TRAINING_MISTAKES if training else _BN_EVAL_MISTAKES
    mistakes = [M.mistake(key, _bn_mistake(key, *args, momentum, eps)) for key in keys]
    for key in _BN_EPS_MISTAKES:   # named only where eps makes a difference, as on a quiet channel
        y = _bn_mistake(key, *args, momentum, eps)[0]
        if not torch.allclose(y, expected[0], atol=1e-4, rtol=1e-4):
            mistakes.append(M.mistake(key, (y, *expected[1:])))
    return expected, mistakes


# The known mistakes of each mode, by key; _bn_mistake computes what each one answers.
_BN_TRAINING_MISTAKES = ("batch_norm.biased_running_var", "batch_norm.unbiased_normalisation",
                         "batch_norm.swapped_momentum", "batch_norm.running_in_training", "batch_norm.per_sample",
                         "batch_norm.no_update", "batch_norm.swapped_affine")
_BN_EVAL_MISTAKES = ("batch_norm.batch_in_eval", "batch_norm.update_in_eval", "batch_norm.swapped_affine")
# Mistakes with eps, in both modes: they show where the variance is small next to eps.
_BN_EPS_MISTAKES = ("batch_norm.eps_outside_sqrt", "batch_norm.no_eps", "batch_norm.fixed_eps")


def _bn_mistake(key, x, running_mean, running_var, weight, bias, training, momentum, eps):
    """What batch norm answers with the mistake ``key`` (of the message table) made."""
    dims = (0, 2, 3)
    m = x.shape[0] * x.shape[2] * x.shape[3]        # values per channel
    mean = x.mean(dim=dims)
    var = x.var(dim=dims, unbiased=False)
    if key == "batch_norm.per_sample":
        mean_map, var_map = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), unbiased=False, keepdim=True)
    else:
        mean_map, var_map = mean.view(1, -1, 1, 1), var.view(1, -1, 1, 1)
    if key == "batch_norm.no_eps":
        eps = 0.0
    elif key == "batch_norm.fixed_eps":    # the default 1e-5, whatever eps was passed
        eps = 1e-5

    def scaled(centred, v):
        if key == "batch_norm.eps_outside_sqrt":
            return centred / (v.sqrt() + eps)
        return centred / (v + eps).sqrt()

    if (training and key != "batch_norm.running_in_training") or key == "batch_norm.batch_in_eval":
        v = var_map * m / (m - 1) if key == "batch_norm.unbiased_normalisation" else var_map
        xhat = scaled(x - mean_map, v)
    else:
        xhat = scaled(x - running_mean.view(1, -1, 1, 1), running_var.view(1, -1, 1, 1))
    gamma, beta = (bias, weight) if key == "batch_norm.swapped_affine" else (weight, bias)
    y = xhat * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)
    if (training and key != "batch_norm.no_update") or key == "batch_norm.update_in_eval":
        batch_var = var if key == "batch_norm.biased_running_var" else var * m / (m - 1)
        a = 1 - momentum if key == "batch_norm.swapped_momentum" else momentum
        new_mean = (1 - a) * running_mean + a * mean
        new_var = (1 - a) * running_var + a * batch_var
    else:
        new_mean, new_var = running_mean.clone(), running_var.clone()
    return y, new_mean, new_var


_BN_PARTS = ("y", "new_running_mean", "new_running_var")


def _compare_bn(check, got, case, *, name, general_hint=None):
    """The learner returns (y, new_running_mean, new_running_var); compare each part."""
    compare_parts(check, got, case, name=name, parts=_BN_PARTS, compare=compare_tensor, shape="a tuple of 3 tensors",
                  return_hint="Return (y, new_running_mean, new_running_var).", general_hint=general_hint)


def _bn_ops():
    """Batch norm (F.batch_norm's name too) is what the exercise re-implements; the operations under it
    (native_batch_norm, ...) would do the work; instance, group and layer norm are other normalisations."""
    return [(r"^batch_norm$", REIMPLEMENTED), (r"batch_norm", DOES_THE_WORK),
            (BATCH_NORM_OPS, M.refusal("batch_norm.refused_other_norm", "batch_norm.refused_other_norm_hint"))]


def check_batch_norm(batch_norm, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``batch_norm(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5)``.

    x: (N, C, H, W); the four vectors have length C.  Returns
    ``(y, new_running_mean, new_running_var)`` without changing its inputs.
    Compared with ``nn.BatchNorm2d`` in training mode (batch statistics,
    running statistics updated with momentum and the unbiased variance) and
    in eval mode (running statistics, unchanged).
    """
    return run_cases("batch_norm", batch_norm, lambda: _bn_cases(seed, extended), compare=_compare_bn, strict=strict,
                     forbidden=[], op_pattern=_bn_ops(),
                     general_hint=M("batch_norm.general"))


# --------------------------------------------------------------------------
# softmax, numerically stable
# --------------------------------------------------------------------------

def _softmax_cases(seed, extended):
    import torch
    g = generator(seed)
    specs = [("logits (4, 10), dim=-1", randn(g, 4, 10) * 3, -1),
             ("logits in the thousands (3, 5), dim=-1", randn(g, 3, 5) * 2000 + 3000, -1),
             ("logits (6, 4), dim=0", randn(g, 6, 4) * 2, 0),
             ("logits (2, 7, 3), dim=1, rows far apart", randn(g, 2, 7, 3) + torch.tensor([0., 800., -800.]), 1),
             ("logits (6,) in the thousands, dim=0", randn(g, 6) * 3000, 0),
             ("logits (2, 3, 4), dim=-1, huge negative", randn(g, 2, 3, 4) - 5000, -1),
             ("equal logits (3, 4), dim=-1", torch.full((3, 4), -2.5), -1)]
    if extended:
        specs += [("equal logits (2, 5), dim=-1", torch.full((2, 5), 7.0), -1),
                  ("logits (5,) in the ten-thousands, dim=0", randn(g, 5) * 1e4, 0),
                  ("logits (3, 4, 5), dim=-1, huge negative", randn(g, 3, 4, 5) - 5000, -1)]
    cases = []
    for label, z, dim in specs:
        expected = torch.softmax(z, dim=dim)
        mistakes = [
            M.mistake("softmax.unstable", _naive_softmax(z, dim)),
            # along each other dimension (a family: none of them is ever the right answer)
            *[M.mistake("softmax.wrong_dim", torch.softmax(z, dim=other)) for other in range(z.dim())
              if other != dim % z.dim()],
            M.mistake("softmax.whole_tensor", torch.exp(z - z.max()) / torch.exp(z - z.max()).sum()),
            M.mistake("softmax.log_softmax", torch.log_softmax(z, dim=dim)),
            M.mistake("softmax.global_max", _global_max_softmax(z, dim)),
        ]
        # float32 holds a logit near |z| only to about |z|·6e-8, and z − max inherits that error:
        # a correct stable softmax of huge logits is that much off in relative terms.
        rtol = max(1e-4, 4 * 6e-8 * float(z.abs().max()))
        cases.append(Case(label, (z,), dict(dim=dim), expected=expected, mistakes=mistakes, atol=1e-6, rtol=rtol))
    return cases


def _naive_softmax(z, dim):
    import torch
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)


def _global_max_softmax(z, dim):
    import torch
    e = torch.exp(z - z.max())
    return e / e.sum(dim=dim, keepdim=True)


def _compare_softmax(check, got, case, *, name, general_hint=None):
    import torch
    if isinstance(got, torch.Tensor) and got.shape == case.expected.shape and not torch.isfinite(got).all():
        # name the mistake whose output has the same inf/NaN pattern and values; else the unstable one
        known = mistakes_of(case)
        mistake = next((m for m in known
                        if m.answer.shape == got.shape and torch.allclose(got.detach().cpu().double(), m.answer.double(),
                                                                          atol=case.atol, rtol=case.rtol,
                                                                          equal_nan=True)),
                       next(m for m in known if m.key == "softmax.unstable"))
        raise Verdict(CheckResult(
            check, INCORRECT, "the output contains inf or NaN.", case=case.label,
            evidence=[f"{int((~torch.isfinite(got)).sum())} of {got.numel()} values are not finite"],
            hint=mistake.hint, mistake=mistake.key,
            next_step="Make it stable, re-run its cell, then run this check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def check_softmax(softmax, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``softmax(z, dim=-1)`` against ``torch.softmax``, with logits in the thousands.

    No softmax function of torch may be called (the check compares with it).
    """
    return run_cases("softmax", softmax, lambda: _softmax_cases(seed, extended), compare=_compare_softmax,
                     strict=strict, forbidden=[], op_pattern=[(r"^softmax$", REIMPLEMENTED), (SOFTMAX_OPS, DOES_THE_WORK)],
                     general_hint=M("softmax.general"))
