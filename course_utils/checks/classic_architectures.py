"""Checks for notebook 03: AlexNet, VGG, GoogLeNet's inception module and auxiliary heads.

Architectures are judged by behaviour — output shapes, parameter counts,
train/eval differences — never by comparing layer lists.  References come
from torchvision's models and from ``nn.Conv2d`` modules, built on the
``meta`` device: shapes and parameter counts at no memory or compute cost.
"""

from __future__ import annotations

from ..train import count_parameters
from .engine import (INCORRECT, UNCHECKABLE, Case, CheckResult, Verdict, call_learner, compare_int,
                      compare_parts, run_cases)

__all__ = ["check_make_alexnet", "check_make_vgg", "check_vgg_stack_params", "check_bottleneck_params",
           "check_make_inception", "check_make_mini_googlenet"]




def _learner_model(check, factory, label, *args, meta=True, first=False, **kwargs):
    """Build the learner's model (on the meta device unless ``meta=False``); verdict if it is not a Module.

    ``first`` marks the check's first call: a NotImplementedError there is the untouched stub.
    """
    import torch
    if isinstance(factory, torch.nn.Module):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"got a built {type(factory).__name__} model; the check needs "
                                  "the function that builds it.", hint=f"Pass the function itself: `check_{check}"
                                  f"({check})`, not `{check}()`.", next_step="Pass the function and run the check again."))
    case = Case(label, args, kwargs)
    if meta:
        def on_meta(*a, **k):
            # The meta device cannot copy weights out (`.to(device)`, loading a state dict): build on the CPU then.
            try:
                with torch.device("meta"):
                    return factory(*a, **k)
            except NotImplementedError as exc:
                if "meta" not in str(exc).lower():
                    raise
                return factory(*a, **k)
        model, _ = call_learner(check, on_meta, case, first=first, name=getattr(factory, "__name__", check))
    else:
        model, _ = call_learner(check, factory, case, first=first)
    if model is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{label}` returned None.",
                                  hint="Did you forget a `return`? Return the model.",
                                  next_step="Return the nn.Module and run the check again."))
    if not isinstance(model, torch.nn.Module):
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{label}` returned {type(model).__name__}; expected an "
                                  "nn.Module.", next_step="Return the model and run the check again."))
    return model


def _model_device(model):
    import torch
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _forward_shape(check, model, label, shape, *, device=None):
    # Model calls count as first calls: a `forward` still raising NotImplementedError is an
    # exercise not attempted yet (the class skeleton is given), not a missing special case.
    import torch
    model.eval()
    device = device or _model_device(model)
    case = Case(f"{label} on x of shape {shape}", (torch.zeros(*shape, device=device),))
    with torch.no_grad():
        out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
    return out, case


def _layer_counts(model):
    """Parameter counts of the conv and dense layers, in the order they were created."""
    import torch
    return [(type(m).__name__, count_parameters(m)) for m in model.modules()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]


def _first_difference(mine, reference) -> str | None:
    for index, ((kind, got), (ref_kind, want)) in enumerate(zip(mine, reference)):
        if kind != ref_kind or got != want:
            return (f"layer {index + 1} with weights ({kind}) has {got:,} parameters; the reference's "
                    f"layer {index + 1} ({ref_kind}) has {want:,}")
    if len(mine) != len(reference):
        return f"{len(mine)} conv/dense layers; the reference has {len(reference)}"
    return None


def _compare_model(check, model, reference, label, input_shape, num_classes, hint):
    """Output shape, then the parameter count against the reference model."""
    import torch
    try:
        out, case = _forward_shape(check, model, label, input_shape)
    except Verdict as verdict:
        if verdict.result.outcome == "your code raised" and input_shape[-1] != 224:
            verdict.result.hint = (f"It runs on 224×224 images but not on {input_shape[-1]}×{input_shape[-1]}: an "
                                   "adaptive average pool before the dense layers makes their input size "
                                   "independent of the image size.")
        raise
    want = (input_shape[0], num_classes)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise Verdict(CheckResult(check, INCORRECT, "the model's output has the wrong shape.", case=case.label,
                                  evidence=[f"expected {want}, got {got}"],
                                  hint="The classifier ends with nn.Linear(4096, num_classes); check the flatten "
                                       "size after the adaptive average pool.",
                                  next_step="Fix the head and run the check again."))
    mine, theirs = count_parameters(model), count_parameters(reference)
    if mine != theirs:
        difference = _first_difference(_layer_counts(model), _layer_counts(reference))
        raise Verdict(CheckResult(check, INCORRECT, "the parameter count differs from torchvision's.",
                                  case=label, evidence=[f"expected {theirs:,} parameters, got {mine:,}"]
                                  + ([f"first difference: {difference}"] if difference else []),
                                  hint=hint, next_step="Fix that layer and run the check again."))
    from torch.utils.flop_counter import FlopCounterMode
    flops = []
    for net in (model, reference):
        net.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net(torch.zeros(*input_shape, device=_model_device(net)))
        flops.append(counter.get_total_flops())
    if abs(flops[0] - flops[1]) > 0.01 * flops[1]:
        raise Verdict(CheckResult(check, INCORRECT, "the amount of computation differs from torchvision's.",
                                  case=case.label,
                                  evidence=[f"expected {flops[1] / 1e9:.2f} GFLOPs per batch, got {flops[0] / 1e9:.2f}"],
                                  hint="The parameters match but the feature maps have the wrong size: check every "
                                       "stride, padding and pooling layer (the adaptive pool hides a missing one "
                                       "from the output shape).",
                                  next_step="Fix the feature-map sizes and run the check again."))


# --------------------------------------------------------------------------
# AlexNet
# --------------------------------------------------------------------------

def check_make_alexnet(make_alexnet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_alexnet(num_classes=1000) -> nn.Module``.

    Output (N, num_classes) for (N, 3, 224, 224) images, and exactly as many
    parameters as torchvision's ``alexnet`` (counted at check time), for 1000
    and for 10 classes.  Built on the meta device: no memory, no compute.
    """
    import torch
    import torchvision
    check = "make_alexnet"
    settings = [1000, 10] + ([37] if extended else [])
    sizes = [224, 256]  # a second size: the adaptive average pool must make the head size-independent

    def behaviour():
        for index, classes in enumerate(settings):
            model = _learner_model(check, make_alexnet, f"make_alexnet(num_classes={classes})", num_classes=classes,
                                   first=index == 0)
            with torch.device("meta"):
                reference = torchvision.models.alexnet(num_classes=classes)
            for size in sizes:
                _compare_model(check, model, reference, f"make_alexnet(num_classes={classes})",
                               (2, 3, size, size), classes,
                               hint="torchvision follows the single-GPU AlexNet: convs 64 (11×11/4, pad 2), 192 "
                                    "(5×5, pad 2), 384, 256, 256 (3×3, pad 1); 3×3/2 max pools after convs 1, 2 and "
                                    "5; adaptive average pool to 6×6; dense 9216 → 4096 → 4096 → classes.")
        with torch.device("meta"):
            total = count_parameters(torchvision.models.alexnet())
        return f"Output shapes, computation and parameters ({total:,} for 1000 classes) match torchvision's alexnet."

    return run_cases(check, make_alexnet, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# VGG
# --------------------------------------------------------------------------

def check_make_vgg(make_vgg, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_vgg(cfg, num_classes=1000, batch_norm=False) -> nn.Module``.

    ``cfg`` lists output channels of 3×3 convolutions (padding 1) and "M" for
    2×2/2 max pooling.  For VGG-11 and VGG-16 (and, with ``extended``,
    VGG-19, VGG-11 with batch norm and 10 classes), the output shape and the
    parameter count must equal torchvision's.
    """
    import torch
    import torchvision
    from torchvision.models.vgg import cfgs
    check = "make_vgg"
    settings = [("vgg11", "A", False, 1000), ("vgg16", "D", False, 1000)]
    if extended:
        settings += [("vgg19", "E", False, 1000), ("vgg11_bn", "A", True, 1000), ("vgg13", "B", False, 10)]

    def behaviour():
        for index, (name, key, batch_norm, classes) in enumerate(settings):
            label = f"make_vgg(<{name} cfg>, num_classes={classes}, batch_norm={batch_norm})"
            model = _learner_model(check, make_vgg, label, list(cfgs[key]), num_classes=classes,
                                   batch_norm=batch_norm, first=index == 0)
            with torch.device("meta"):
                reference = getattr(torchvision.models, name)(num_classes=classes)
            for size in (224, 256):
                _compare_model(check, model, reference, label, (2, 3, size, size), classes,
                               hint="Each number in cfg is a 3×3 conv (padding 1) from the previous channel count, "
                                    "followed by ReLU (with batch_norm: conv, BatchNorm2d, ReLU); 'M' is a 2×2/2 max "
                                    "pool. Then adaptive average pool to 7×7 and dense 512·7·7 → 4096 → 4096 → "
                                    "classes.")
        return "VGG-11 and VGG-16 match torchvision's output shapes, computation and parameter counts."

    return run_cases(check, make_vgg, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# Parameter arithmetic: 3×3 stacks, 1×1 reductions
# --------------------------------------------------------------------------

def _conv_params(cin, cout, k, bias):
    import torch
    return count_parameters(torch.nn.Conv2d(cin, cout, k, bias=bias, device="meta"))


def _vgg_stack_cases(extended):
    cases = []
    for channels, bias in [(64, False), (256, True), (3, True)] + ([(512, False), (1, True)] if extended else []):
        stack = sum(_conv_params(channels, channels, 3, bias) for _ in range(3))
        single = _conv_params(channels, channels, 7, bias)
        cases.append(Case(f"vgg_stack_params({channels}, bias={bias})", (channels,), dict(bias=bias),
                          expected=(stack, single)))
    return cases


def _compare_pair(check, got, case, *, name, general_hint=None):
    """The answer is a pair of ints; compare each with its own hint."""
    compare_parts(check, got, case, name=name, parts=("number 1 of the pair", "number 2 of the pair"),
                  compare=compare_int, shape="a pair of ints", return_hint="Return both numbers: `return first, second`.",
                  general_hint=general_hint)


def check_vgg_stack_params(vgg_stack_params, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``vgg_stack_params(channels, bias=True) -> (three_3x3, one_7x7)``.

    Parameters of three stacked 3×3 convolutions channels → channels, and of
    one 7×7 convolution channels → channels, counted from ``nn.Conv2d``.
    """
    cases = _vgg_stack_cases(extended)
    for case in cases:
        c, bias = case.args[0], case.kwargs["bias"]
        case.mistakes = [("Three layers, each 3·3·C·C weights (+ C biases): multiply one layer by 3.",
                          (9 * c * c + c * bias, 49 * c * c + c * bias)),
                         ("A k×k kernel from C to C channels has k·k·C·C weights: the input channels count too.",
                          (3 * (9 * c + c * bias), 49 * c + c * bias))]
    return run_cases("vgg_stack_params", vgg_stack_params, cases, compare=_compare_pair, strict=strict,
                     general_hint="A k×k conv from C to C channels has k·k·C·C weights, plus C biases with bias=True.")


def _bottleneck_cases(extended):
    specs = [(128, 32, 128, 3), (256, 64, 256, 3), (192, 16, 32, 5)]
    if extended:
        specs += [(480, 96, 208, 3), (64, 64, 64, 3), (512, 24, 64, 5)]
    cases = []
    for cin, mid, cout, k in specs:
        direct = _conv_params(cin, cout, k, False)
        reduced = _conv_params(cin, mid, 1, False) + _conv_params(mid, cout, k, False)
        mistakes = [("The reduced path has two convolutions: 1×1 from C_in to C_mid, then k×k from C_mid to C_out.",
                     (direct, k * k * mid * cout)),
                    ("The 1×1 convolution still has C_in·C_mid weights (one per input-output pair).",
                     (direct, mid + k * k * mid * cout))]
        cases.append(Case(f"bottleneck_params({cin}, {mid}, {cout}, kernel_size={k})", (cin, mid, cout),
                          dict(kernel_size=k), expected=(direct, reduced), mistakes=mistakes))
    return cases


def check_bottleneck_params(bottleneck_params, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``bottleneck_params(c_in, c_mid, c_out, kernel_size=3) -> (direct, reduced)``.

    Weights (no biases) of one k×k convolution c_in → c_out, and of a 1×1
    reduction c_in → c_mid followed by the k×k convolution c_mid → c_out,
    counted from ``nn.Conv2d``.
    """
    return run_cases("bottleneck_params", bottleneck_params, _bottleneck_cases(extended), compare=_compare_pair,
                     strict=strict, general_hint="direct = k·k·C_in·C_out; reduced = C_in·C_mid + k·k·C_mid·C_out.")


# --------------------------------------------------------------------------
# Inception module
# --------------------------------------------------------------------------

# GoogLeNet's inception (3a), (4a) and (5b) (Szegedy et al., 2015, Table 1), plus a small one.
_INCEPTION_SPECS = [(192, 64, 96, 128, 16, 32, 32, 9, 7), (480, 192, 96, 208, 16, 48, 64, 5, 6),
                    (8, 4, 6, 8, 2, 4, 3, 9, 7)]
_INCEPTION_EXTENDED = [(832, 384, 192, 384, 48, 128, 128, 4, 3), (3, 1, 1, 1, 1, 1, 1, 5, 11)]


def _inception_reference_params(cin, c1, c3r, c3, c5r, c5, pp):
    return (_conv_params(cin, c1, 1, True) + _conv_params(cin, c3r, 1, True) + _conv_params(c3r, c3, 3, True)
            + _conv_params(cin, c5r, 1, True) + _conv_params(c5r, c5, 5, True) + _conv_params(cin, pp, 1, True))


def check_make_inception(make_inception, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj) -> nn.Module``.

    The module of GoogLeNet (Szegedy et al., 2015): four parallel branches —
    1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3/1 max pool → 1×1 — each convolution with
    bias and ReLU, concatenated along channels in that order.  Checked: output
    (N, c1 + c3 + c5 + pool_proj, H, W) for odd and non-square H, W; outputs
    non-negative (ReLU); the parameter count of those six ``nn.Conv2d``; and
    branch order (the first c1 channels depend only on the 1×1 branch).
    """
    import torch
    check = "make_inception"
    g = torch.Generator().manual_seed(int(seed))

    def behaviour():
        specs = _INCEPTION_SPECS + (_INCEPTION_EXTENDED if extended else [])
        for index, (cin, c1, c3r, c3, c5r, c5, pp, h, w) in enumerate(specs):
            label = f"make_inception({cin}, {c1}, {c3r}, {c3}, {c5r}, {c5}, {pp})"
            model = _learner_model(check, make_inception, label, cin, c1, c3r, c3, c5r, c5, pp, meta=False,
                                   first=index == 0)
            model.eval()
            x = torch.randn(2, cin, h, w, generator=g)
            case = Case(f"{label} on x of shape {tuple(x.shape)}", (x,))
            with torch.no_grad():
                out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
            want = (2, c1 + c3 + c5 + pp, h, w)
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                hint = ("Concatenate the four branches along the channel dimension (dim=1)."
                        if isinstance(out, torch.Tensor) and out.shape[1] != want[1]
                        else "Every branch must keep H and W: padding 1 for 3×3, 2 for 5×5, and the max pool "
                             "is 3×3 with stride 1 and padding 1.")
                raise Verdict(CheckResult(check, INCORRECT, "the output has the wrong shape.", case=case.label,
                                          evidence=[f"expected {want}, got {got}"], hint=hint,
                                          next_step="Fix the branches and run the check again."))
            if out.min() < 0:
                raise Verdict(CheckResult(check, INCORRECT, "some outputs are negative.", case=case.label,
                                          hint="Each branch ends with a ReLU (after its last convolution).",
                                          next_step="Add the ReLUs and run the check again."))
            expected = _inception_reference_params(cin, c1, c3r, c3, c5r, c5, pp)
            mine = count_parameters(model)
            if mine != expected:
                raise Verdict(CheckResult(check, INCORRECT, "the parameter count is wrong.", case=label,
                                          evidence=[f"expected {expected:,}, got {mine:,}"],
                                          hint="Six convolutions, all with bias: 1×1 (c1); 1×1 (c3_reduce) → 3×3 "
                                               "(c3); 1×1 (c5_reduce) → 5×5 (c5); max pool → 1×1 (pool_proj).",
                                          next_step="Fix the branch widths and run the check again."))
            # Branch order: nudge one interior pixel. A 1×1 branch moves at most 1 output position,
            # a 3×3 (or 3×3-pool) branch at most 9, and a 5×5 branch reaches beyond 9 when the map allows.
            x2 = x.clone()
            x2[:, :, h // 2, w // 2] += 10.0
            with torch.no_grad():
                out2, _ = call_learner(check, model, Case(case.label, (x2,)), first=True,
                                       name=f"{type(model).__name__}.forward")
            bounds = [0, c1, c1 + c3, c1 + c3 + c5, c1 + c3 + c5 + pp]
            moved = [int(((out2 - out)[:, a:b].abs().amax(dim=(0, 1)) > 0).sum()) for a, b in zip(bounds, bounds[1:])]
            wrong = moved[0] > 1 or moved[1] > 9 or moved[3] > 9 or (h >= 5 and w >= 5 and 0 < moved[2] <= 9
                                                                         and moved[1] > 0 and c5 >= 4)
            if wrong:
                raise Verdict(CheckResult(check, INCORRECT, "the branches are concatenated in another order.",
                                          case=case.label,
                                          evidence=[f"a change at one pixel moved {moved} output positions in the "
                                                    f"channel groups of sizes {[c1, c3, c5, pp]}; expected at most "
                                                    "1, 9, 25, 9 (1×1, 3×3, 5×5, pool)"],
                                          hint="Concatenate in the paper's order: [1×1, 3×3, 5×5, pool projection].",
                                          next_step="Reorder the torch.cat and run the check again."))
        return "Output shapes, ReLUs, parameter counts and branch order match GoogLeNet's inception module."

    return run_cases(check, make_inception, [], compare=None, strict=strict, after=behaviour)


# --------------------------------------------------------------------------
# Auxiliary classifiers: training only
# --------------------------------------------------------------------------

def check_make_mini_googlenet(make_mini_googlenet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_mini_googlenet(num_classes=10) -> nn.Module`` with two auxiliary heads.

    In training mode the model returns ``(logits, aux1, aux2)``, each
    (N, num_classes), and a loss on an auxiliary head alone sends gradient into
    the first layer; in eval mode it returns the logits alone and does not run
    the auxiliary heads at all.
    """
    import torch
    check = "make_mini_googlenet"
    g = torch.Generator().manual_seed(int(seed))
    classes_list = [10] + ([7] if extended else [])

    def behaviour():
        for index, classes in enumerate(classes_list):
            label = f"make_mini_googlenet(num_classes={classes})"
            model = _learner_model(check, make_mini_googlenet, label, num_classes=classes, meta=False,
                                   first=index == 0)
            x = torch.randn(2, 3, 32, 32, generator=g)
            model.train()
            case = Case(f"{label} in training mode on x of shape {tuple(x.shape)}", (x,))
            order = []  # convolutions in the order the forward pass runs them: the first is the first layer
            hooks = [m.register_forward_hook(lambda module, *a: order.append(module))
                     for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
            try:
                out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
            finally:
                for hook in hooks:
                    hook.remove()
            if not (isinstance(out, (tuple, list)) and len(out) == 3
                    and all(isinstance(o, torch.Tensor) and tuple(o.shape) == (2, classes) for o in out)):
                shapes = ([tuple(o.shape) if isinstance(o, torch.Tensor) else type(o).__name__ for o in out]
                          if isinstance(out, (tuple, list)) else
                          (tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__))
                raise Verdict(CheckResult(check, INCORRECT, "in training mode the model must return three outputs.",
                                          case=case.label,
                                          evidence=[f"expected (logits, aux1, aux2), each (2, {classes}); got {shapes}"],
                                          hint="In forward: `if self.training: return logits, aux1, aux2`.",
                                          next_step="Return the auxiliary outputs in training mode."))
            if not order:
                raise Verdict(CheckResult(check, INCORRECT, "the model runs no convolution.", case=case.label,
                                          next_step="Run the stem and blocks in forward."))
            first_layer = order[0].weight

            def aux_gradient(index):
                model.zero_grad()
                aux = model(x)[index]
                if not aux.requires_grad:   # computed under no_grad or detached: no gradient at all
                    return None
                aux.sum().backward()
                return None if first_layer.grad is None else first_layer.grad.abs().sum().item()

            for index in (1, 2):
                probe = Case(f"{label}: a loss on auxiliary output {index} alone, back-propagated", (index,))
                reached, _ = call_learner(check, aux_gradient, probe, first=False, name=f"{type(model).__name__}.forward")
                if not reached:
                    raise Verdict(CheckResult(check, INCORRECT,
                                              f"auxiliary head {index} sends no gradient to the first layer.",
                                              case=case.label,
                                              hint="Each auxiliary head must be computed from an intermediate "
                                                   "feature map of the same network (not a detached copy, not "
                                                   "under torch.no_grad()).",
                                              next_step="Attach the heads to the main path."))
            model.eval()
            calls = []
            hooks = [m.register_forward_hook(lambda *a, name=name: calls.append(name))
                     for name, m in model.named_modules() if "aux" in name and name.count(".") == 0]
            case = Case(f"{label} in eval mode on x of shape {tuple(x.shape)}", (x,))
            with torch.no_grad():
                out, _ = call_learner(check, model, case, first=True, name=f"{type(model).__name__}.forward")
            for hook in hooks:
                hook.remove()
            if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, classes):
                got = type(out).__name__ if not isinstance(out, torch.Tensor) else tuple(out.shape)
                raise Verdict(CheckResult(check, INCORRECT, "in eval mode the model must return the logits alone.",
                                          case=case.label, evidence=[f"expected a tensor (2, {classes}), got {got}"],
                                          hint="Auxiliary classifiers only help training; at test time return "
                                               "`logits`.", next_step="Return the logits alone when not training."))
            with torch.no_grad():
                model.train()
                replay, _ = call_learner(check, model, Case(case.label, (x,)), first=True,
                                         name=f"{type(model).__name__}.forward")
                model.eval()
            # Compare eval logits with the training outputs (equal when the main path has no dropout/BN).
            close = [torch.allclose(out, o, atol=1e-5) for o in replay]
            if not close[0] and any(close[1:]):
                raise Verdict(CheckResult(check, INCORRECT, "the training outputs are in another order.",
                                          case=case.label, evidence=["eval's logits equal training output "
                                                                     f"{close.index(True) + 1} of 3, not the first"],
                                          hint="Return `(logits, aux1, aux2)`: the main logits first.",
                                          next_step="Reorder the returned tuple and run the check again."))
            if calls:
                raise Verdict(CheckResult(check, INCORRECT, "the auxiliary heads still run in eval mode.",
                                          case=case.label, evidence=[f"called: {sorted(set(calls))}"],
                                          hint="Compute aux1 and aux2 only `if self.training:`; in eval they waste "
                                               "time.", next_step="Skip them in eval mode."))
        return "Three outputs in training, logits alone in eval; the auxiliary heads feed the first layer."

    return run_cases(check, make_mini_googlenet, [], compare=None, strict=strict, after=behaviour)
