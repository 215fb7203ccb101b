"""Checks for notebook 03: AlexNet, VGG, GoogLeNet's inception module and auxiliary heads.

A model is judged by what it computes: ``check_model`` puts the reference's
seeded random weights into the learner's model (paired layer by layer in the
order the forward pass runs them) and compares the outputs by value, in eval
and in training mode with the same dropout masks.  The references are
torchvision's ``alexnet`` and ``vgg*`` and, for the inception module, the
paper's module built here from ``nn.Conv2d`` and ReLU.  The mini GoogLeNet's
exercise writes ``forward`` only: probes judge the outputs' form and the
heads' gradients, and the reference is the statement's forward around the
learner's own layers (``reference_wraps_model``).  The
parameter-count exercises compare with ``nn.Conv2d`` built on the ``meta``
device.
"""

from __future__ import annotations

from ..train import count_parameters
from .engine import (EVAL, INCORRECT, TRAIN, Case, CheckResult, ModelCase, ModelScenario, Verdict,
                     build_learner_model, call_learner, callback, check_model, compare_int, compare_parts, run_cases)
from .engine.weights import layers_in_forward_order, pair_layers
from .messages.classic_architectures import M

__all__ = ["check_make_alexnet", "check_make_vgg", "check_vgg_stack_params", "check_bottleneck_params",
           "check_make_inception", "check_make_mini_googlenet"]


def _torchvision(name, **kwargs):
    """A builder of torchvision's ``name`` with uninitialised weights: the check gives them seeded values, so
    torchvision's initialisation (a second per 100 M parameters) would be wasted."""
    def build():
        import torch
        import torchvision
        with torch.device("meta"):
            model = getattr(torchvision.models, name)(**kwargs)
        model = model.to_empty(device="cpu")
        for buffer in model.buffers():
            if not buffer.is_floating_point():
                buffer.zero_()   # num_batches_tracked
        return model
    return build


def _replace(model, kind, make):
    """Replace every submodule of type ``kind`` of ``model`` by ``make(module)``, in place; returns the model."""
    for name, child in model.named_children():
        if isinstance(child, kind):
            setattr(model, name, make(child))
        else:
            _replace(child, kind, make)
    return model


def _without_relus(model):
    import torch
    return _replace(model, torch.nn.ReLU, lambda relu: torch.nn.Identity())


def _without_feature(index):
    """A mutant: torchvision's ``features[index]`` (a max pool) left out."""
    def mutate(model):
        import torch
        model.features[index] = torch.nn.Identity()
    return mutate


# --------------------------------------------------------------------------
# AlexNet: torchvision's layout, by value
# --------------------------------------------------------------------------

# A non-square input: every pool still reduces, and the maps before the adaptive pool are 7 × 2: along W it
# enlarges to 6 (one cell per bin), along H it averages pairs of cells, so a max pool there shows (at 224 × 224
# and anything smaller each bin holds one cell and max equals mean; 255 is the least height that gives 7).  The
# plausible size mistakes (a missing pool, a convolution without padding) still run, so they show as wrong values.
_ALEXNET_PUBLIC = [(10, (2, 3, 255, 96))]
_ALEXNET_EXTENDED = [(1000, (1, 3, 224, 224)), (37, (2, 3, 99, 131))]


def _other_class_count(factory, shape):
    """A probe after a case's outputs matched: built with another ``num_classes`` (1000, or 10 where the case
    had 1000) on the meta device, the learner's AlexNet has the weighted layers of torchvision's with that
    count, by type and shape in forward order.  The class count changes the last layer's shape only, and
    comparing a second 61 M-parameter model by value would cost a second: so a network that ignores
    ``num_classes``, or fixes it at the case's value, fails here at no cost."""
    def probe(scenario, model, reference, case, inputs):
        import torch
        import torchvision
        classes = 10 if case.kwargs["num_classes"] == 1000 else 1000
        label = f"make_alexnet(num_classes={classes}), on the meta device"
        mine = build_learner_model(scenario.check, factory, label, first=False, meta=True, num_classes=classes)
        device = next((p.device for p in mine.parameters()), torch.device("meta"))   # CPU if it cannot use meta
        with torch.device("meta"):
            theirs = torchvision.models.alexnet(num_classes=classes)
        pair_layers(scenario, label,
                    layers_in_forward_order(scenario.check, mine, (torch.empty(*shape, device=device),),
                                            learner=True, label=label),
                    layers_in_forward_order(scenario.check, theirs, (torch.empty(*shape, device="meta"),),
                                            learner=False),
                    model=mine, reference=theirs)
    return probe


def check_make_alexnet(make_alexnet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_alexnet(num_classes=1000) -> nn.Module`` against torchvision's ``alexnet``.

    The learner's model gets the weights of torchvision's model (layer by layer in forward order) and must
    compute the same outputs on seeded images, in eval and in training mode (same dropout masks).  Then, built
    with 1000 classes on the meta device, its layers must have the shapes of torchvision's.  Public: 10 classes
    on 255×96 images; hidden: also 1000 classes on 224×224 and 37 classes on 99×131.
    """
    import torch
    import torchvision
    settings = _ALEXNET_PUBLIC + (_ALEXNET_EXTENDED if extended else [])
    no_relu = M.model_mistake("make_alexnet.no_relu", _without_relus)
    # one mutant per case costs a copy of 61 M parameters: the pool after conv2, the one most often left out
    missing_pool = M.model_mistake("make_alexnet.missing_pool", _without_feature(5))
    cases = [ModelCase(f"make_alexnet(num_classes={classes})", _torchvision("alexnet", num_classes=classes),
                       [shape], kwargs=dict(num_classes=classes), mistakes=[no_relu, missing_pool])
             for classes, shape in settings]
    with torch.device("meta"):
        total = count_parameters(torchvision.models.alexnet())
    scenario = ModelScenario("make_alexnet", cases, general_hint=M("make_alexnet.layout"),
                             raised_hint=M("make_alexnet.raised", size="e.g. 255×96"),
                             passed=M("make_alexnet.passed", total=total), build_on_meta=True,
                             probes=[_other_class_count(make_alexnet, settings[0][1])])
    return check_model(make_alexnet, scenario, strict=strict, seed=seed)


# --------------------------------------------------------------------------
# VGG: torchvision's configurations, by value
# --------------------------------------------------------------------------

# (torchvision name, its cfg key, batch_norm, classes, modes).  Each VGG has ~130 M parameters (its dense
# layers), so each case costs about a second; the two public ones differ in every argument (cfg, with and
# without batch norm, 10 and 1000 classes), so a builder that ignores one of them fails in public.  The
# second runs in eval mode only: training mode adds nothing there (dropout sits in the classifier, the
# same in both), and it saves a quarter of the case.
_VGG_PUBLIC = [("vgg11_bn", "A", True, 10, (EVAL, TRAIN)), ("vgg13", "B", False, 1000, (EVAL,))]
_VGG_EXTENDED = [("vgg16", "D", False, 37, (EVAL, TRAIN))]


def check_make_vgg(make_vgg, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_vgg(cfg, num_classes=1000, batch_norm=False) -> nn.Module`` against torchvision's VGGs.

    ``cfg`` lists output channels of 3×3 convolutions (padding 1) and "M" for 2×2/2 max pooling.  The
    learner's model gets the weights (and batch-norm statistics) of torchvision's model and must compute the
    same outputs on seeded 64×48 images in eval and training mode.  Public: VGG-11 with batch norm and 10
    classes (both modes), VGG-13 without batch norm and 1000 classes (eval mode); hidden: also VGG-16 with
    37 classes.
    """
    from torchvision.models.vgg import cfgs
    settings = _VGG_PUBLIC + (_VGG_EXTENDED if extended else [])
    cases = [ModelCase(f"make_vgg(<{name} cfg>, num_classes={classes}, batch_norm={batch_norm})",
                       _torchvision(name, num_classes=classes), [(2, 3, 64, 48)], args=(list(cfgs[key]),),
                       kwargs=dict(num_classes=classes, batch_norm=batch_norm), modes=modes)
             for name, key, batch_norm, classes, modes in settings]
    *others, last = dict.fromkeys(name for name, *_ in settings)
    names = f"{', '.join(others)} and {last}" if others else last
    scenario = ModelScenario("make_vgg", cases, general_hint=M("make_vgg.layout"),
                             raised_hint=M("make_vgg.raised", size="64×48"), passed=M("make_vgg.passed", names=names),
                             build_on_meta=True)
    return check_model(make_vgg, scenario, strict=strict, seed=seed)


# --------------------------------------------------------------------------
# Parameter arithmetic: 3×3 stacks, 1×1 reductions
# --------------------------------------------------------------------------

def _conv_params(cin, cout, k, bias):
    import torch
    return count_parameters(torch.nn.Conv2d(cin, cout, k, bias=bias, device="meta"))


def _vgg_stack_cases(extended):
    cases = []
    for c, bias in [(64, False), (256, True), (3, True)] + ([(512, False), (1, True)] if extended else []):
        stack = sum(_conv_params(c, c, 3, bias) for _ in range(3))
        single = _conv_params(c, c, 7, bias)
        mistakes = [M.mistake("vgg_stack_params.one_layer", (9 * c * c + c * bias, 49 * c * c + c * bias)),
                    M.mistake("vgg_stack_params.no_input_channels", (3 * (9 * c + c * bias), 49 * c + c * bias))]
        cases.append(Case(f"vgg_stack_params({c}, bias={bias})", (c,), dict(bias=bias), expected=(stack, single),
                          mistakes=mistakes))
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
    return run_cases("vgg_stack_params", vgg_stack_params, lambda: _vgg_stack_cases(extended), compare=_compare_pair,
                     strict=strict, general_hint=M("vgg_stack_params.general"))


def _bottleneck_cases(extended):
    specs = [(128, 32, 128, 3), (256, 64, 256, 3), (192, 16, 32, 5)]
    if extended:
        specs += [(480, 96, 208, 3), (64, 64, 64, 3), (512, 24, 64, 5)]
    cases = []
    for cin, mid, cout, k in specs:
        direct = _conv_params(cin, cout, k, False)
        reduced = _conv_params(cin, mid, 1, False) + _conv_params(mid, cout, k, False)
        mistakes = [M.mistake("bottleneck_params.no_reduction", (direct, k * k * mid * cout)),
                    M.mistake("bottleneck_params.c_mid_only", (direct, mid + k * k * mid * cout))]
        cases.append(Case(f"bottleneck_params({cin}, {mid}, {cout}, kernel_size={k})", (cin, mid, cout),
                          dict(kernel_size=k), expected=(direct, reduced), mistakes=mistakes))
    return cases


def check_bottleneck_params(bottleneck_params, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``bottleneck_params(c_in, c_mid, c_out, kernel_size=3) -> (direct, reduced)``.

    Weights (no biases) of one k×k convolution c_in → c_out, and of a 1×1
    reduction c_in → c_mid followed by the k×k convolution c_mid → c_out,
    counted from ``nn.Conv2d``.
    """
    return run_cases("bottleneck_params", bottleneck_params, lambda: _bottleneck_cases(extended), compare=_compare_pair,
                     strict=strict, general_hint=M("bottleneck_params.general"))


# --------------------------------------------------------------------------
# Inception module: the paper's, by value
# --------------------------------------------------------------------------

# GoogLeNet's inception (3a), (4a) and (5b) (Szegedy et al., 2015, Table 1), plus a small one; then H, W.
_INCEPTION_SPECS = [(192, 64, 96, 128, 16, 32, 32, 9, 7), (480, 192, 96, 208, 16, 48, 64, 5, 6),
                    (8, 4, 6, 8, 2, 4, 3, 9, 7)]
_INCEPTION_EXTENDED = [(832, 384, 192, 384, 48, 128, 128, 4, 3), (3, 1, 1, 1, 1, 1, 1, 5, 11)]


def _paper_inception(cin, c1, c3r, c3, c5r, c5, pool_proj):
    """The reference: GoogLeNet's inception module (Szegedy et al., 2015, Fig. 2b), built from nn.Conv2d."""
    import torch
    from torch import nn

    class PaperInception(nn.Module):
        def __init__(self):
            super().__init__()
            self.branches = nn.ModuleList([
                nn.Sequential(nn.Conv2d(cin, c1, 1)),
                nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(), nn.Conv2d(c3r, c3, 3, padding=1)),
                nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(), nn.Conv2d(c5r, c5, 5, padding=2)),
                nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(cin, pool_proj, 1))])
            self.order = (0, 1, 2, 3)           # the mutants below turn these knobs
            self.final_relu = [True] * 4

        def forward(self, x):
            outs = [branch(x) for branch in self.branches]
            outs = [torch.relu(y) if relu else y for y, relu in zip(outs, self.final_relu)]
            return torch.cat([outs[i] for i in self.order], dim=1)

    return PaperInception()


def _set(attribute, value):
    def mutate(model):
        setattr(model, attribute, value)
    return mutate


def _without_final_relu(branch):
    def mutate(model):
        model.final_relu = [i != branch for i in range(4)]
    return mutate


def _inception_mistakes():
    from torch import nn
    orders = [(1, 0, 2, 3), (0, 2, 1, 3), (3, 0, 1, 2), (0, 1, 3, 2), (1, 2, 3, 0)]
    mistakes = [M.model_mistake("make_inception.branch_order", _set("order", order)) for order in orders]
    mistakes += [M.model_mistake("make_inception.missing_branch", _set("order", tuple(i for i in range(4) if i != b)))
                 for b in range(4)]
    mistakes += [M.model_mistake("make_inception.missing_relu", _without_final_relu(b)) for b in range(4)]

    def without_inner_relus(model):
        _replace(model.branches, nn.ReLU, lambda relu: nn.Identity())
    mistakes.append(M.model_mistake("make_inception.inner_relu", without_inner_relus))
    return mistakes


def check_make_inception(make_inception, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_inception(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj) -> nn.Module``.

    The module of GoogLeNet (Szegedy et al., 2015): four parallel branches —
    1×1; 1×1 → 3×3; 1×1 → 5×5; 3×3/1 max pool → 1×1 — each convolution with
    bias and ReLU, concatenated along channels in that order.  The learner's
    module gets the reference's weights (its six convolutions paired in the
    order forward runs them) and must compute the same output on odd and
    non-square inputs.
    """
    mistakes = _inception_mistakes()
    cases = [ModelCase(f"make_inception({cin}, {c1}, {c3r}, {c3}, {c5r}, {c5}, {pp})",
                       (lambda spec=(cin, c1, c3r, c3, c5r, c5, pp): _paper_inception(*spec)), [(2, cin, h, w)],
                       args=(cin, c1, c3r, c3, c5r, c5, pp), mistakes=mistakes)
             for cin, c1, c3r, c3, c5r, c5, pp, h, w in _INCEPTION_SPECS + (_INCEPTION_EXTENDED if extended else [])]
    scenario = ModelScenario("make_inception", cases, general_hint=M("make_inception.structure"),
                             raised_hint=M("make_inception.raised"), passed=M("make_inception.passed"))
    return check_model(make_inception, scenario, strict=strict, seed=seed)


# --------------------------------------------------------------------------
# Auxiliary classifiers: training only (probes, then the statement's forward by value)
# --------------------------------------------------------------------------

def _forward(model, x, label, *, training):
    """One forward call of the learner's model in the given mode, under the guards."""
    model.train(training)
    return call_learner("make_mini_googlenet", model, Case(label, (x,)), first=True,
                        name=f"{type(model).__name__}.forward")[0]


def _shapes(out):
    import torch
    if isinstance(out, (tuple, list)):
        return [tuple(o.shape) if isinstance(o, torch.Tensor) else type(o).__name__ for o in out]
    return tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__


def _three_outputs_in_training(model, x, classes, label):
    """Training mode returns (logits, aux1, aux2), each (N, classes); returns them and the first convolution."""
    import torch
    order = []  # convolutions in the order the forward pass runs them: the first is the first layer
    hooks = [m.register_forward_hook(callback(lambda module, *a: order.append(module)))
             for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        out = _forward(model, x, label, training=True)
    finally:
        for hook in hooks:
            hook.remove()
    want = (x.shape[0], classes)
    if not (isinstance(out, (tuple, list)) and len(out) == 3
            and all(isinstance(o, torch.Tensor) and tuple(o.shape) == want for o in out)):
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT,
                                  "in training mode the model must return three outputs.", case=label,
                                  evidence=[f"expected (logits, aux1, aux2), each {want}; got {_shapes(out)}"],
                                  hint=M("make_mini_googlenet.three_outputs"),
                                  next_step="Return the auxiliary outputs in training mode."))
    if not order:
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the model runs no convolution.", case=label,
                                  next_step="Run the stem and blocks in forward."))
    return out, order[0]


def _aux_heads_reach_first_layer(model, x, first_conv, label):
    """A loss on each auxiliary output alone sends gradient into the first convolution."""
    def aux_gradient(index):
        model.zero_grad()
        aux = model(x)[index]
        if not aux.requires_grad:   # computed under no_grad or detached: no gradient at all
            return None
        aux.sum().backward()
        return None if first_conv.weight.grad is None else first_conv.weight.grad.abs().sum().item()

    for index in (1, 2):
        probe = Case(f"{label}: a loss on auxiliary output {index} alone, back-propagated", (index,))
        reached, _ = call_learner("make_mini_googlenet", aux_gradient, probe, first=False,
                                  name=f"{type(model).__name__}.forward")
        if not reached:
            raise Verdict(CheckResult("make_mini_googlenet", INCORRECT,
                                      f"auxiliary head {index} sends no gradient to the first layer.", case=label,
                                      hint=M("make_mini_googlenet.no_gradient"),
                                      next_step="Attach the heads to the main path."))


def _logits_alone_in_eval(model, x, classes, label):
    """Eval mode returns the logits alone, equal to the first training output, without running the heads."""
    import torch
    calls = []
    hooks = [m.register_forward_hook(callback(lambda *a, name=name: calls.append(name)))
             for name, m in model.named_modules() if "aux" in name and name.count(".") == 0]
    try:
        with torch.no_grad():
            out = _forward(model, x, label, training=False)
    finally:
        for hook in hooks:
            hook.remove()
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (x.shape[0], classes):
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "in eval mode the model must return the logits "
                                  "alone.", case=label, evidence=[f"expected a tensor {(x.shape[0], classes)}, got "
                                                                  f"{_shapes(out)}"],
                                  hint=M("make_mini_googlenet.logits_alone"),
                                  next_step="Return the logits alone when not training."))
    with torch.no_grad():
        replay = _forward(model, x, label, training=True)
    model.eval()
    # eval's logits equal the training outputs' first (the main path has no dropout or batch norm)
    close = [torch.allclose(out, o, atol=1e-5) for o in replay]
    if not close[0] and any(close[1:]):
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the training outputs are in another order.",
                                  case=label, evidence=[f"eval's logits equal training output "
                                                        f"{close.index(True) + 1} of 3, not the first"],
                                  hint=M("make_mini_googlenet.output_order"),
                                  next_step="Reorder the returned tuple and run the check again."))
    if calls:
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the auxiliary heads still run in eval mode.",
                                  case=label, evidence=[f"called: {sorted(set(calls))}"],
                                  hint=M("make_mini_googlenet.heads_in_eval"), next_step="Skip them in eval mode."))


_GOOGLENET_PARTS = ("stem", "block1", "block2", "block3", "aux1", "aux2", "head")


def _statement_googlenet(net):
    """The reference for the exercise, which writes ``forward`` only: the statement's forward — main path
    stem → block1 → block2 → block3 → head; in training also aux1(block1's output) and aux2(block2's output) —
    applied to ``net``'s own layers (a copy of the learner's model)."""
    import torch
    missing = [name for name in _GOOGLENET_PARTS if not isinstance(getattr(net, name, None), torch.nn.Module)]
    if missing:
        raise Verdict(CheckResult("make_mini_googlenet", INCORRECT, "the model lacks layers of the notebook's "
                                  "network.", evidence=[f"missing: {', '.join(missing)}"],
                                  hint=M("make_mini_googlenet.layers"),
                                  next_step="Keep the given __init__ and run the check again."))

    class StatementGoogLeNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.heads = (1, 2)   # the order the auxiliary heads run in (their dropout draws in that order)

        def forward(self, x):
            h1 = self.net.block1(self.net.stem(x))
            h2 = self.net.block2(h1)
            logits = self.net.head(self.net.block3(h2))
            if not self.training:
                return logits
            aux = {index: (self.net.aux1(h1) if index == 1 else self.net.aux2(h2)) for index in self.heads}
            return logits, aux[1], aux[2]

    return StatementGoogLeNet()


def _heads_in_other_order(reference):
    reference.heads = (2, 1)


def _googlenet_probes(classes_list, seed):
    """The scenario's first step: the outputs' form in each mode, the heads' gradients and their silence in
    eval, which name these mistakes more precisely than values do."""
    def probes(scenario, factory):
        import torch
        check = "make_mini_googlenet"
        g = torch.Generator().manual_seed(int(seed))
        for index, classes in enumerate(classes_list):
            label = f"make_mini_googlenet(num_classes={classes})"
            model = build_learner_model(check, factory, label, num_classes=classes, first=index == 0)
            x = torch.randn(2, 3, 32, 32, generator=g)
            shape = f"on x of shape {tuple(x.shape)}"
            _, first_conv = _three_outputs_in_training(model, x, classes, f"{label} in training mode {shape}")
            _aux_heads_reach_first_layer(model, x, first_conv, f"{label} in training mode {shape}")
            _logits_alone_in_eval(model, x, classes, f"{label} in eval mode {shape}")
    return probes


def check_make_mini_googlenet(make_mini_googlenet, *, strict=False, seed=0, extended=False) -> CheckResult:
    """Check ``make_mini_googlenet(num_classes=10) -> nn.Module`` with two auxiliary heads.

    In training mode the model returns ``(logits, aux1, aux2)``, each
    (N, num_classes), and a loss on an auxiliary head alone sends gradient into
    the first layer; in eval mode it returns the logits alone and does not run
    the auxiliary heads at all.  Public: 10 and 7 classes; hidden: also 4.  Then, by value: the exercise writes
    ``forward`` only, so the reference is the statement's forward applied to a
    copy of the model's own layers (stem, block1–3, aux1, aux2, head), with the
    same seeded weights, in eval and in training mode (same dropout masks).
    """
    classes_list = [10, 7] + ([4] if extended else [])
    cases = [ModelCase(f"make_mini_googlenet(num_classes={classes})", _statement_googlenet, [(2, 3, 32, 32)],
                       kwargs=dict(num_classes=classes), equivalents=[_heads_in_other_order])
             for classes in classes_list]
    scenario = ModelScenario("make_mini_googlenet", cases, general_hint=M("make_mini_googlenet.values"),
                             before=[_googlenet_probes(classes_list, seed)], reference_wraps_model=True,
                             passed=M("make_mini_googlenet.passed"))
    return check_model(make_mini_googlenet, scenario, strict=strict, seed=seed)
