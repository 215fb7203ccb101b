"""Checks for notebook 02: pooling, batch normalisation, softmax, receptive fields, a first CNN.

References, computed at check time: ``F.max_pool2d``/``F.avg_pool2d``,
``nn.BatchNorm2d`` in train and eval mode, ``torch.softmax``, the receptive
field *measured* by back-propagating from one output unit through a real stack
of convolutions, and the learner's trained model scored on the bundled test
digits.
"""

from __future__ import annotations

from .engine import mistakes_of
from .engine import (INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, compare_int,
                      compare_parts, compare_tensor, generator, pair, randn, run_cases, shape_of)

__all__ = ["check_max_pool2d", "check_avg_pool2d", "check_batch_norm", "check_softmax",
           "check_receptive_field", "check_make_digits_cnn"]

POOL_OPS = r"^(_|quantized_|mkldnn_)?(max_pool|avg_pool|adaptive_|fractional_max_pool|lp_pool)"
SOFTMAX_OPS = r"softmax|^softmin"
BATCH_NORM_OPS = r"batch_norm|^instance_norm|^group_norm|^layer_norm"
DIGITS_ACCURACY = 0.98


# --------------------------------------------------------------------------
# max_pool2d and avg_pool2d
# --------------------------------------------------------------------------

# (N, C, H, W, kernel_size, stride, padding)
_POOL_SPECS = [
    (2, 3, 8, 6, 2, None, 0),          # the classic 2×2 / 2, stride defaulting to the kernel
    (2, 3, 9, 7, 3, 2, 0),             # overlapping 3×3 / 2 (AlexNet), odd sizes
    (1, 2, 7, 10, 3, 2, 1),            # padding
    (2, 4, 6, 9, (2, 3), (2, 1), 0),   # non-square kernel and stride
]
_POOL_EXTENDED = [(3, 5, 13, 11, 3, 1, 1), (1, 1, 5, 5, 5, None, 0), (2, 2, 12, 7, (3, 2), (3, 2), (1, 1))]


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
        mistakes = [("This is the other pooling: max pooling keeps the largest value of each window, "
                     "average pooling its mean.", ref(fn=other))]
        if s is None:
            mistakes.append(("stride=None means stride = kernel_size (non-overlapping windows), not 1.",
                             tuple(ref(stride=1).shape)))
        if pair(p) != (0, 0):
            mistakes.append(("Padding is ignored: pad both sides of H and W before pooling.",
                             tuple(ref(padding=0).shape)))
            if kind == "max":
                ph, pw = pair(p)
                zero_padded = F.max_pool2d(F.pad(x, (pw, pw, ph, ph)), k, stride=s)
                mistakes.append(("The padding was filled with zeros, which can win the max: max pooling pads "
                                 "with -inf, so padding never changes a result.", zero_padded))
            else:
                mistakes.append(("The padded zeros must count in the divisor (PyTorch's default "
                                 "count_include_pad=True): divide every window by kh·kw.",
                                 ref(count_include_pad=False)))
        if kind == "avg":
            mistakes.append(("That is the window *sum*; average pooling divides it by kh·kw.", expected * kh * kw))
        mistakes.append(("Windows that stick out past the edge are dropped (floor, as in a convolution): "
                         "H_out = ⌊(H + 2p − k)/s⌋ + 1.", tuple(ref(ceil_mode=True).shape)))
        off = "Off by one in the output size: H_out = ⌊(H + 2p − k)/s⌋ + 1."
        mistakes += [(off, (n_, c_, ho - 1, wo - 1)), (off, (n_, c_, ho + 1, wo + 1))]
        mistakes.append(("Pooling works on each channel separately; the channel dimension must stay.",
                         (n_, ho, wo)))
        label = f"x {shape_of(x)}, kernel_size={k}, stride={s}, padding={p}"
        cases.append(Case(label, (x, k), kwargs, expected=expected, mistakes=mistakes))
    return cases


def _pool_forbidden():
    import torch
    import torch.nn.functional as F
    return [(F, "max_pool2d", "F.max_pool2d"), (F, "avg_pool2d", "F.avg_pool2d"),
            (torch, "max_pool2d", "torch.max_pool2d"), (torch, "avg_pool2d", "torch.avg_pool2d"),
            (F, "max_pool2d_with_indices", "F.max_pool2d_with_indices")]


def check_max_pool2d(max_pool2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``max_pool2d(x, kernel_size, stride=None, padding=0)`` against ``F.max_pool2d``.

    x: (N, C, H, W); kernel_size, stride, padding: int or (along H, along W);
    stride=None means stride = kernel_size.  Cases include overlapping 3×3/2
    windows, padding (which must act as -inf) and non-square inputs.
    """
    return run_cases("max_pool2d", max_pool2d, _pool_cases("max", seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_pool_forbidden(), op_pattern=POOL_OPS,
                     general_hint="out[n, c, i, j] = max over the window x_padded[n, c, i*s : i*s + k, j*s : j*s + k].")


def check_avg_pool2d(avg_pool2d, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``avg_pool2d(x, kernel_size, stride=None, padding=0)`` against ``F.avg_pool2d``.

    Same contract as ``max_pool2d``; zero padding counts in the divisor
    (PyTorch's default ``count_include_pad=True``).
    """
    return run_cases("avg_pool2d", avg_pool2d, _pool_cases("avg", seed, extended), compare=compare_tensor,
                     strict=strict, forbidden=_pool_forbidden(), op_pattern=POOL_OPS,
                     general_hint="out[n, c, i, j] = sum of the window of x_padded, divided by kh·kw.")


# --------------------------------------------------------------------------
# batch_norm: train and eval mode, running statistics
# --------------------------------------------------------------------------

_BN_SPECS = [  # (N, C, H, W, training, momentum)
    (4, 3, 5, 7, True, 0.1),
    (4, 3, 5, 7, False, 0.1),
    (2, 5, 3, 3, True, 0.3),
    (8, 2, 4, 6, False, 0.1),
]
_BN_EXTENDED = [(16, 4, 2, 3, True, 0.01), (3, 6, 7, 5, True, 0.5), (1, 3, 6, 6, False, 0.2)]


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
    for n, c, h, w, training, momentum in _BN_SPECS + (_BN_EXTENDED if extended else []):
        scale = torch.rand(1, c, 1, 1, generator=g) * 3 + 0.5
        x = randn(g, n, c, h, w) * scale + randn(g, 1, c, 1, 1) * 2   # channels with their own mean/spread
        running_mean, running_var = randn(g, c), torch.rand(c, generator=g) + 0.5
        weight, bias = randn(g, c), randn(g, c)
        eps = 1e-5
        args = (x, running_mean, running_var, weight, bias, training)
        kwargs = dict(momentum=momentum, eps=eps)
        expected = _bn_reference(*args, momentum, eps)

        def variant(**over):
            return _bn_variant(x, running_mean, running_var, weight, bias, training, momentum, eps, **over)

        if training:
            mistakes = [
                ("The running variance is updated with the *unbiased* batch variance (divide by m − 1, "
                 "m = N·H·W), while the normalisation uses the biased one (divide by m).",
                 variant(running_unbiased=False)),
                ("Normalise with the *biased* batch variance (divide by m = N·H·W); only the running "
                 "variance uses the unbiased one.", variant(normalise_unbiased=True)),
                ("Momentum is the weight of the *new* statistic: running = (1 − momentum)·running + "
                 "momentum·batch.", variant(swap_momentum=True)),
                ("In training mode, normalise with the statistics of this batch, not the running ones.",
                 variant(use_running=True)),
                ("The statistics are per channel, over (N, H, W): mean over dims (0, 2, 3).",
                 variant(per_sample=True)),
                ("The running statistics were not updated in training mode.", variant(no_update=True)),
            ]
        else:
            mistakes = [
                ("In eval mode, normalise with the running statistics, not the batch's.",
                 variant(use_batch=True)),
                ("In eval mode the running statistics stay as they are.", variant(update_in_eval=True)),
            ]
        mistakes.append(("γ (weight) scales and β (bias) shifts: y = γ·x̂ + β; they look swapped.",
                         variant(swap_affine=True)))
        mode = "training" if training else "eval"
        label = f"x {shape_of(x)}, {mode} mode, momentum={momentum}, eps={eps}"
        cases.append(Case(label, args, kwargs, expected=expected, mistakes=mistakes, atol=1e-4, rtol=1e-4))
    return cases


def _bn_variant(x, running_mean, running_var, weight, bias, training, momentum, eps, *, running_unbiased=True,
                normalise_unbiased=False, swap_momentum=False, use_running=False, per_sample=False,
                no_update=False, use_batch=False, update_in_eval=False, swap_affine=False):
    """The output of batch norm with one plausible mistake switched on."""
    dims = (0, 2, 3)
    m = x.numel() // x.shape[1]
    mean = x.mean(dim=dims)
    var = x.var(dim=dims, unbiased=False)
    if per_sample:
        mean_map, var_map = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), unbiased=False, keepdim=True)
    else:
        mean_map, var_map = mean.view(1, -1, 1, 1), var.view(1, -1, 1, 1)
    normalising = training and not use_running or (not training and use_batch)
    if normalising:
        v = var_map * m / (m - 1) if normalise_unbiased else var_map
        xhat = (x - mean_map) / (v + eps).sqrt()
    else:
        xhat = (x - running_mean.view(1, -1, 1, 1)) / (running_var.view(1, -1, 1, 1) + eps).sqrt()
    gamma, beta = (bias, weight) if swap_affine else (weight, bias)
    y = xhat * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)
    if (training and not no_update) or (not training and update_in_eval):
        batch_var = var * m / (m - 1) if running_unbiased else var
        a = 1 - momentum if swap_momentum else momentum
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


def check_batch_norm(batch_norm, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``batch_norm(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5)``.

    x: (N, C, H, W); the four vectors have length C.  Returns
    ``(y, new_running_mean, new_running_var)`` without changing its inputs.
    Compared with ``nn.BatchNorm2d`` in training mode (batch statistics,
    running statistics updated with momentum and the unbiased variance) and
    in eval mode (running statistics, unchanged).
    """
    return run_cases("batch_norm", batch_norm, _bn_cases(seed, extended), compare=_compare_bn, strict=strict,
                     forbidden=[], op_pattern=BATCH_NORM_OPS,
                     general_hint="x̂ = (x − mean) / sqrt(var + eps) per channel over (N, H, W); y = γ·x̂ + β.")


# --------------------------------------------------------------------------
# softmax, numerically stable
# --------------------------------------------------------------------------

def _softmax_cases(seed, extended):
    import torch
    g = generator(seed)
    specs = [("logits (4, 10), dim=-1", randn(g, 4, 10) * 3, -1),
             ("logits in the thousands (3, 5), dim=-1", randn(g, 3, 5) * 2000 + 3000, -1),
             ("logits (6, 4), dim=0", randn(g, 6, 4) * 2, 0),
             ("logits (2, 7, 3), dim=1, rows far apart", randn(g, 2, 7, 3) + torch.tensor([0., 800., -800.]), 1)]
    if extended:
        specs += [("equal logits (2, 5), dim=-1", torch.full((2, 5), 7.0), -1),
                  ("logits (5,) in the ten-thousands, dim=0", randn(g, 5) * 1e4, 0),
                  ("logits (3, 4, 5), dim=-1, huge negative", randn(g, 3, 4, 5) - 5000, -1)]
    cases = []
    for label, z, dim in specs:
        expected = torch.softmax(z, dim=dim)
        other = 0 if dim not in (0,) else -1
        mistakes = [
            ("Unstable: exp of large logits overflows to inf (or underflows to 0 for all). Subtract the max "
             "along `dim` first: softmax(z) = softmax(z − max z), mathematically identical.",
             _naive_softmax(z, dim)),
            ("Softmax normalises along `dim` only; this looks normalised along another dimension.",
             torch.softmax(z, dim=other) if z.dim() > 1 else expected),
            ("The whole tensor was normalised at once; normalise along `dim` so each slice sums to 1.",
             torch.exp(z - z.max()) / torch.exp(z - z.max()).sum()),
            ("That is log-softmax; softmax is its exponential.", torch.log_softmax(z, dim=dim)),
            ("Subtract the max of each slice along `dim` (keepdim=True), not one global max: slices far "
             "below the global max underflow to 0/0.", _global_max_softmax(z, dim)),
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
        hint = next((h for h, wrong in _pairs(case)
                     if wrong.shape == got.shape and torch.allclose(got.detach().cpu().double(), wrong.double(),
                                                                    atol=case.atol, rtol=case.rtol, equal_nan=True)),
                    _pairs(case)[0][0])
        raise Verdict(CheckResult(
            check, INCORRECT, "the output contains inf or NaN.", case=case.label,
            evidence=[f"{int((~torch.isfinite(got)).sum())} of {got.numel()} values are not finite"],
            hint=hint, next_step="Make it stable, re-run its cell, then run this check again."))
    compare_tensor(check, got, case, name=name, general_hint=general_hint)


def check_softmax(softmax, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``softmax(z, dim=-1)`` against ``torch.softmax``, with logits in the thousands.

    No softmax function of torch may be called (the check compares with it).
    """
    return run_cases("softmax", softmax, _softmax_cases(seed, extended), compare=_compare_softmax,
                     strict=strict, forbidden=[], op_pattern=SOFTMAX_OPS,
                     general_hint="softmax(z)_i = exp(z_i − m) / Σ_j exp(z_j − m), m = max of z along dim.")


# --------------------------------------------------------------------------
# receptive_field: measured, not computed by the same formula
# --------------------------------------------------------------------------

_RF_SPECS = [
    [(3, 1)],
    [(3, 1), (3, 1), (3, 1)],                                   # three 3×3 convs see 7×7
    [(7, 2), (3, 2)],                                           # ResNet stem: 7×7/2 conv, 3×3/2 pool
    [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2)],           # two VGG stages
    [(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1)],  # AlexNet's features (conv and pool)
    [(3, 1, 2), (3, 1, 4)],                                     # dilated (kernel, stride, dilation)
]
_RF_EXTENDED = [[(1, 1)], [(5, 3), (4, 2), (3, 1, 3)], [(2, 2)] * 5, [(3, 2)] * 4 + [(3, 1, 2)]]


def measure_receptive_field(layers) -> int:
    """How many input pixels (along one axis) influence one output unit of this stack.

    Builds the stack as real 1-D convolutions with all-one weights, back-
    propagates from one output unit and measures the extent of the input
    gradient.  Independent of any formula.
    """
    import torch
    import torch.nn.functional as F
    specs = [(layer[0], layer[1], layer[2] if len(layer) > 2 else 1) for layer in layers]
    length = 1
    for k, s, d in reversed(specs):      # enough input for at least one output
        length = (length - 1) * s + d * (k - 1) + 1
    length += 2 * sum(s for _, s, _ in specs) + 8
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in specs:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, y.shape[-1] // 2].backward()
    touched = x.grad[0, 0].nonzero().flatten()
    return int(touched.max() - touched.min() + 1)


def _rf_mistakes(layers, expected):
    specs = [(layer[0], layer[1], layer[2] if len(layer) > 2 else 1) for layer in layers]
    r_no_stride = 1 + sum(d * (k - 1) for k, s, d in specs)
    r_own_stride, j = 1, 1
    for k, s, d in specs:            # multiplies by the layer's own stride instead of the jump so far
        j *= s
        r_own_stride += d * (k - 1) * j
    r_no_dilation, j = 1, 1
    for k, s, _ in specs:
        r_no_dilation += (k - 1) * j
        j *= s
    r_sum_kernels = sum(k for k, _, _ in specs)
    product = 1
    for k, _, _ in specs:
        product *= k
    candidates = [
        ("Strides are ignored: after a stride-s layer, one step in its output is s steps in its input, so "
         "later kernels reach further: r += (k − 1)·j, with j the product of the earlier strides.", r_no_stride),
        ("The jump j multiplies the strides of the layers *before* this one: add (k − 1)·j, then update "
         "j ← j·s.", r_own_stride),
        ("Dilation is ignored: a dilated kernel spans d·(k − 1) + 1 pixels.", r_no_dilation),
        ("Kernel sizes do not simply add up: each layer adds k − 1 steps of size j (the jump).", r_sum_kernels),
        ("Receptive fields grow by adding, not multiplying: r += (k − 1)·j.", product),
    ]
    return [(h, v) for h, v in candidates if v != expected]


def _rf_cases(extended):
    cases = []
    for layers in _RF_SPECS + (_RF_EXTENDED if extended else []):
        expected = measure_receptive_field(layers)
        cases.append(Case(f"receptive_field({layers})", (list(layers),), expected=expected,
                          mistakes=_rf_mistakes(layers, expected)))
    return cases


def check_receptive_field(receptive_field, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``receptive_field(layers) -> int`` for a stack of conv/pool layers.

    ``layers`` is a list of ``(kernel_size, stride)`` or ``(kernel_size, stride,
    dilation)`` tuples, first layer first.  The expected value is *measured*:
    which input pixels receive gradient from one output unit of a real stack.
    """
    return run_cases("receptive_field", receptive_field, _rf_cases(extended), compare=compare_int,
                     strict=strict,
                     general_hint="Start with r = 1, j = 1; for each layer: r += d·(k − 1)·j, then j *= s.")


# --------------------------------------------------------------------------
# make_digits_cnn: the architecture, and the trained model's test accuracy
# --------------------------------------------------------------------------

def check_make_digits_cnn(make_digits_cnn, *, strict=False, seed=0, extended=False, trained=None,
                          min_accuracy: float = DIGITS_ACCURACY, max_parameters: int = 500_000) -> CheckResult:
    """Check ``make_digits_cnn() -> nn.Module`` and, when given, the ``trained`` model.

    A fresh model must map (N, 1, 8, 8) digits to (N, 10) scores for any
    batch size, contain at least one ``nn.Conv2d``, and have at most
    ``max_parameters`` parameters.  The trained model (the one the notebook
    trains) must reach ``min_accuracy`` on the bundled held-out test digits,
    measured here in eval mode on the model's own device.
    """
    import torch

    from .. import data
    check = "make_digits_cnn"
    build = Case("make_digits_cnn()", ())

    def architecture_and_accuracy():
        model, _ = call_learner(check, make_digits_cnn, build, first=False)
        if not isinstance(model, torch.nn.Module):
            raise Verdict(CheckResult(check, UNCHECKABLE,
                                      f"`make_digits_cnn()` returned {type(model).__name__}; expected an nn.Module.",
                                      hint="Return the model, e.g. `return nn.Sequential(...)`.",
                                      next_step="Return the module and run the check again."))
        if not any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
            raise Verdict(CheckResult(check, INCORRECT, "the model has no convolution layer.",
                                      hint="This exercise builds a CNN: start with nn.Conv2d layers, then pool, "
                                           "then a small dense head.",
                                      next_step="Add convolutions and run the check again."))
        count = sum(p.numel() for p in model.parameters())
        if count > max_parameters:
            raise Verdict(CheckResult(check, INCORRECT, f"the model has {count:,} parameters.",
                                      evidence=[f"the limit is {max_parameters:,}: 8×8 digits need far fewer"],
                                      hint="Use fewer channels or a smaller dense layer (pooling shrinks what "
                                           "the dense layer sees).",
                                      next_step="Shrink it and run the check again."))
        device = next(iter(model.parameters())).device
        model.eval()
        for batch in ((5, 1) if not extended else (5, 1, 64)):
            case = Case(f"a fresh model on x of shape ({batch}, 1, 8, 8)",
                        (torch.rand(batch, 1, 8, 8, generator=generator(seed), device="cpu").to(device),))
            with torch.no_grad():
                out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (batch, 10):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise Verdict(CheckResult(check, INCORRECT, "the model's output has the wrong shape.",
                                          case=case.label, evidence=[f"expected ({batch}, 10), got {shape}"],
                                          hint="End with nn.Flatten() and nn.Linear(features, 10): one score per "
                                               "digit.", next_step="Fix the head and run the check again."))
        if trained is None:
            return "No trained model was given, so the accuracy was not measured."
        if not isinstance(trained, torch.nn.Module) or not any(True for _ in trained.parameters()):
            what = type(trained).__name__ if not isinstance(trained, torch.nn.Module) else "a module without parameters"
            raise Verdict(CheckResult(check, UNCHECKABLE, f"`trained=` got {what}; expected the trained model.",
                                      hint="Pass the model you trained (e.g. `trained=digits_model`), not the "
                                           "history that `fit` returns or the function that builds it.",
                                      next_step="Pass the trained nn.Module and run the check again."))
        test = data.load_digits("test")
        trained_device = next(iter(trained.parameters())).device
        was_training = trained.training
        trained.eval()
        x, y = test.tensors
        try:
            with torch.no_grad():
                scores, _ = call_learner(check, trained, Case(f"the trained model on the {len(y)} test digits",
                                                              (x.to(trained_device),)), first=False, name="model")
        finally:
            trained.train(was_training)
        if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (len(y), 10):
            got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise Verdict(CheckResult(check, INCORRECT, "the trained model's output has the wrong shape.",
                                      evidence=[f"expected ({len(y)}, 10), got {got}"],
                                      next_step="Pass the model built by make_digits_cnn and trained."))
        predictions = scores.argmax(dim=1).cpu()
        accuracy = (predictions == y).float().mean().item()
        figures = f"test accuracy {accuracy:.2%} on {len(y)} held-out digits ({int((predictions != y).sum())} wrong)"
        if accuracy < min_accuracy:
            raise Verdict(CheckResult(check, INCORRECT, "the trained model is not accurate enough yet.",
                                      evidence=[f"{figures}; the target is {min_accuracy:.0%}"],
                                      hint="Train longer or with a learning-rate schedule; batch norm after each "
                                           "convolution and a little dropout before the dense layer help.",
                                      next_step="Retrain and run the check again."))
        return f"The trained model: {figures}."

    result_cases = [build]

    def compare(check_name, got, case, *, name, general_hint=None):
        return None  # the real work happens in architecture_and_accuracy

    return run_cases(check, make_digits_cnn, result_cases, compare=compare, strict=strict,
                     after=architecture_and_accuracy)


def _pairs(case):
    """(hint, answer) of each known mistake of ``case`` (transitional, until this module uses keys)."""
    return [(m.hint, m.answer) for m in mistakes_of(case)]
