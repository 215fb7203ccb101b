"""Notebook 03, AlexNet and VGG: ``make_alexnet`` and ``make_vgg`` against torchvision's models, by value
(their seeded weights put into the learner's model), and the model helpers the inception check shares."""

from __future__ import annotations

from ...train import count_parameters
from ..engine import EVAL, TRAIN, CheckResult, ModelCase, ModelScenario, build_learner_model, check_model
from ..engine.building import learner_forward_order
from ..engine.weights import layers_in_forward_order, pair_layers
from ..messages.classic_architectures import M

__all__ = ["check_make_alexnet", "check_make_vgg"]


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
        with torch.device("meta"):
            theirs = torchvision.models.alexnet(num_classes=classes)
        pair_layers(scenario, label,
                    learner_forward_order(scenario.check, mine, (torch.zeros(*shape),), label),
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
