"""Notebook 02's network exercises: the receptive field of a stack, and a first CNN for the digits.

The receptive field is *measured* by back-propagating from one output unit
through a real stack of convolutions; the learner's trained model is scored
on the bundled test digits.
"""

from __future__ import annotations

from ..engine import INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, compare_int, generator, run_cases
from ..messages.building_blocks import M

DIGITS_ACCURACY = 0.98


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
    [(1, 1), (4, 2), (3, 1, 3), (2, 2)],                        # 1×1, even kernels, dilation after a stride
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
    candidates = [("receptive_field.no_stride", r_no_stride), ("receptive_field.own_stride", r_own_stride),
                  ("receptive_field.no_dilation", r_no_dilation), ("receptive_field.sum_kernels", r_sum_kernels),
                  ("receptive_field.product", product)]
    return [M.mistake(key, value) for key, value in candidates if value != expected]


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
    return run_cases("receptive_field", receptive_field, lambda: _rf_cases(extended), compare=compare_int,
                     strict=strict,
                     general_hint=M("receptive_field.general"))


# --------------------------------------------------------------------------
# make_digits_cnn: the architecture, and the trained model's test accuracy
# --------------------------------------------------------------------------

def _digits_architecture(model, max_parameters) -> None:
    """A CNN (at least one nn.Conv2d) with at most ``max_parameters`` parameters."""
    import torch
    if not any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        raise Verdict(CheckResult("make_digits_cnn", INCORRECT, "the model has no convolution layer.",
                                  hint=M("make_digits_cnn.no_conv"),
                                  next_step="Add convolutions and run the check again."))
    count = sum(p.numel() for p in model.parameters())
    if count > max_parameters:
        raise Verdict(CheckResult("make_digits_cnn", INCORRECT, f"the model has {count:,} parameters.",
                                  evidence=[f"the limit is {max_parameters:,}: 8×8 digits need far fewer"],
                                  hint=M("make_digits_cnn.too_big"), next_step="Shrink it and run the check again."))


def _digits_scores(model, batches, seed) -> None:
    """(N, 1, 8, 8) digits give (N, 10) scores (logits, not probabilities) for every batch size N, on the model's
    own device, in eval mode."""
    import torch
    device = next(iter(model.parameters())).device
    model.eval()
    for batch in batches:
        case = Case(f"a fresh model on x of shape ({batch}, 1, 8, 8)",
                    (torch.rand(batch, 1, 8, 8, generator=generator(seed), device="cpu").to(device),))
        with torch.no_grad():
            out, _ = call_learner("make_digits_cnn", model, case, first=True, name=f"{type(model).__name__}.forward")
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (batch, 10):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            # a batch of one that lost its batch dimension: squeeze() drops every size-1 dimension
            lost_batch = batch == 1 and shape == (10,)
            raise Verdict(CheckResult("make_digits_cnn", INCORRECT, "the model's output has the wrong shape.",
                                      case=case.label, evidence=[f"expected ({batch}, 10), got {shape}"],
                                      hint=M("make_digits_cnn.lost_batch" if lost_batch else "make_digits_cnn.head"),
                                      mistake="make_digits_cnn.lost_batch" if lost_batch else None,
                                      next_step="Fix the head and run the check again."))
        # by value: scores are logits; rows of probabilities (non-negative, summing to 1) mean a softmax at the end
        if batch > 1 and bool((out >= 0).all()) and torch.allclose(out.sum(dim=1), torch.ones_like(out[:, 0]),
                                                                    atol=1e-4):
            raise Verdict(CheckResult("make_digits_cnn", INCORRECT, "the model's scores are probabilities.",
                                      case=case.label, evidence=["every row is non-negative and sums to 1"],
                                      hint=M("make_digits_cnn.softmax"),
                                      next_step="Remove the softmax and run the check again."))


def _digits_accuracy(trained, min_accuracy) -> str:
    """The trained model's accuracy on the bundled held-out digits, in eval mode, its mode restored after."""
    import torch

    from ... import data
    if not isinstance(trained, torch.nn.Module) or not any(True for _ in trained.parameters()):
        what = type(trained).__name__ if not isinstance(trained, torch.nn.Module) else "a module without parameters"
        raise Verdict(CheckResult("make_digits_cnn", UNCHECKABLE, f"`trained=` got {what}; expected the trained model.",
                                  hint=M("make_digits_cnn.trained_argument"),
                                  next_step="Pass the trained nn.Module and run the check again."))
    x, y = data.load_digits("test").tensors
    was_training = trained.training
    trained.eval()
    try:
        with torch.no_grad():
            device = next(iter(trained.parameters())).device
            scores, _ = call_learner("make_digits_cnn", trained, Case(f"the trained model on the {len(y)} test digits",
                                                                     (x.to(device),)), first=False, name="model")
    finally:
        trained.train(was_training)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (len(y), 10):
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise Verdict(CheckResult("make_digits_cnn", INCORRECT, "the trained model's output has the wrong shape.",
                                  evidence=[f"expected ({len(y)}, 10), got {got}"],
                                  next_step="Pass the model built by make_digits_cnn and trained."))
    predictions = scores.argmax(dim=1).cpu()
    accuracy = (predictions == y).float().mean().item()
    figures = f"test accuracy {accuracy:.2%} on {len(y)} held-out digits ({int((predictions != y).sum())} wrong)"
    if accuracy < min_accuracy:
        raise Verdict(CheckResult("make_digits_cnn", INCORRECT, "the trained model is not accurate enough yet.",
                                  evidence=[f"{figures}; the target is {min_accuracy:.0%}"],
                                  hint=M("make_digits_cnn.not_accurate"), next_step="Retrain and run the check again."))
    return f"The trained model: {figures}."


def check_make_digits_cnn(make_digits_cnn, *, strict=False, seed=0, extended=False, trained=None,
                          min_accuracy: float = DIGITS_ACCURACY, max_parameters: int = 500_000) -> CheckResult:
    """Check ``make_digits_cnn() -> nn.Module`` and, when given, the ``trained`` model.

    A fresh model must map (N, 1, 8, 8) digits to (N, 10) scores for any
    batch size, contain at least one ``nn.Conv2d``, and have at most
    ``max_parameters`` parameters.  The trained model (the one the notebook
    trains) must reach ``min_accuracy`` on the bundled held-out test digits,
    measured here in eval mode on the model's own device.  The learner designs
    the network, so there is no reference to compare values with: probes, one
    of them by value (the scores are logits, not rows of probabilities).
    """
    import torch
    check = "make_digits_cnn"
    build = Case("make_digits_cnn()", ())

    def probes():
        model, _ = call_learner(check, make_digits_cnn, build, first=False)
        if not isinstance(model, torch.nn.Module):
            raise Verdict(CheckResult(check, UNCHECKABLE,
                                      f"`make_digits_cnn()` returned {type(model).__name__}; expected an nn.Module.",
                                      hint=M("make_digits_cnn.not_a_module"),
                                      next_step="Return the module and run the check again."))
        _digits_architecture(model, max_parameters)
        _digits_scores(model, (5, 1) if not extended else (5, 1, 64), seed)
        if trained is None:
            return "No trained model was given, so the accuracy was not measured."
        return _digits_accuracy(trained, min_accuracy)

    def built(check_name, got, case, *, name, general_hint=None):
        return None  # the first call only tells the untouched stub apart; the probes judge the model

    return run_cases(check, make_digits_cnn, [build], compare=built, strict=strict, after=probes)
