"""Model scenarios: check a learner's model against a reference by what it computes.

A :class:`ModelScenario` describes, as data, how to judge a factory that builds
an ``nn.Module``: for each :class:`ModelCase`, the arguments to build with, a
reference model, the shapes of the seeded inputs, and the modes to run in.
:func:`check_model` then, for every case,

1. builds the learner's model under the guards (a stub, ``None``, an exception
   or a loop each gets its own verdict);
2. gives the reference seeded random weights and batch-norm statistics (the
   defaults, ones and zeros, would hide a norm layer in the wrong place) and
   puts them into the learner's model — by ``state_dict`` keys where the
   exercise promises a layout (torchvision's weights load), otherwise by
   structure: the layers that hold weights, in the order the forward pass runs
   them, must pair up by type and shapes, or the verdict names the first one
   that differs;
3. runs both on the same seeded inputs, in eval and in training mode, with the
   same random state (so dropout draws the same masks), and compares the
   outputs by value — every element of a tuple of outputs, in order;
4. when they differ, names the first layer where the two computations part
   (the weighted layers pair up, so their inputs and outputs can be compared
   one by one), and the known mistake whose output the learner's equals, if any.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .cases import Case, Mistake
from .compare import compare_tensor
from .guards import own_random_state
from .results import INCORRECT, RAISED, UNCHECKABLE, CheckResult, Verdict
from .runner import call_learner, run_cases

WEIGHTS_BY_STRUCTURE = "structure"
WEIGHTS_BY_KEYS = "state_dict"
EVAL, TRAIN = "eval", "train"


@dataclass(frozen=True)
class ModelMistake:
    """A known wrong model: ``mutate`` edits a deep copy of the reference (weights already in it) in place,
    or returns a replacement; when the learner's outputs equal the mutant's, the verdict shows ``hint``.
    Build it with ``M.model_mistake(key, mutate)`` (``engine.messages``)."""

    key: str | None
    mutate: Callable[[Any], Any]
    hint: str


@dataclass
class ModelCase:
    """One model to build and what to run it on."""

    label: str                                   # how the verdict names the build, e.g. "make_alexnet(num_classes=10)"
    reference: Callable[[], Any]                 # builds the reference nn.Module (the same architecture)
    inputs: Sequence[tuple[int, ...]]            # shapes of the seeded standard-normal inputs of one forward call
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    modes: Sequence[str] = (EVAL, TRAIN)
    mistakes: Sequence[ModelMistake] = ()


@dataclass
class ModelScenario:
    """How to judge one model factory: its cases and what to say."""

    check: str
    cases: Sequence[ModelCase]
    weights: str = WEIGHTS_BY_STRUCTURE          # or WEIGHTS_BY_KEYS: the state dict's keys and shapes must match
    general_hint: str | None = None              # for outputs that match no known mistake
    structure_hint: str | None = None            # for weighted layers that do not pair up with the reference's
    raised_hint: str | None = None               # for a forward that raises on the case's inputs
    # build the learner's model on the meta device, then allocate it (empty) on the CPU: every weight is the
    # reference's anyway, and initialising 100 M parameters costs a second (a factory that cannot build on
    # the meta device is built on the CPU)
    build_on_meta: bool = False
    refuse_types: tuple = ()                     # classes the learner must not return (the reference itself)
    passed: str = "The outputs equal the reference's, with the same weights, in eval and in training mode."
    # check-specific probes run after a case's outputs matched: probe(scenario, model, reference, case, inputs)
    # raises Verdict on a problem (e.g. a gradient that must reach the first layer)
    probes: Sequence[Callable[..., None]] = ()
    atol: float = 1e-4
    rtol: float = 1e-4


def check_model(factory, scenario: ModelScenario, *, strict: bool, seed: int = 0) -> CheckResult:
    """Run ``scenario`` on the learner's ``factory``; the check's result (raised as ``CheckFailed`` if strict)."""
    def all_cases():
        import torch
        g = torch.Generator().manual_seed(int(seed))
        for index, case in enumerate(scenario.cases):
            run_model_case(scenario, factory, case, g, first=index == 0)
        return scenario.passed

    return run_cases(scenario.check, factory, [], compare=None, strict=strict, after=all_cases)


# --------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------

def build_learner_model(check: str, factory, label: str, *args, first: bool = True, meta: bool = False, **kwargs):
    """The learner's model, built under the guards; a verdict unless it is an ``nn.Module``.

    ``first`` marks the check's first call (a NotImplementedError there is the
    untouched stub); ``meta`` builds on the meta device where the factory
    allows it (shapes and parameter counts at no cost).
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


def randomize_(module, g) -> None:
    """Give every floating-point weight, bias and batch-norm statistic of ``module`` a seeded random value.

    Norm weights and running variances in [0.5, 1.5), biases and running means
    around 0, other weights He-scaled so that activations neither vanish nor
    explode through a deep stack.
    """
    import torch
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var") or (name.endswith("weight") and tensor.dim() == 1):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=g))
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=g))
            else:   # He-uniform: variance 2 / fan_in (uniform draws cost a third of normal ones)
                fan_in = tensor[0].numel() if tensor.dim() > 1 else tensor.numel()
                bound = (6.0 / max(fan_in, 1)) ** 0.5
                tensor.uniform_(-bound, bound, generator=g)


def forward_name(model) -> str:
    return f"{type(model).__name__}.forward"


# --------------------------------------------------------------------------
# Putting the reference's weights into the learner's model
# --------------------------------------------------------------------------

def _weighted(module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))


def describe_layer(module) -> str:
    """``Conv2d(3, 64, kernel_size=(11, 11), stride=(4, 4), padding=(2, 2))``: how PyTorch prints it."""
    return f"{type(module).__name__}({module.extra_repr()})"


def on_inputs(inputs) -> str:
    """How a verdict names the inputs of a forward call: "on x of shape (2, 3, 64, 48)"."""
    shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
    return f"on x of shape {shapes}" if len(inputs) == 1 else f"on inputs of shape {shapes}"


def layers_in_forward_order(check: str, model, inputs: tuple, *, learner: bool, label: str = ""):
    """The modules that own weights or buffers, in the order one forward pass (training mode) runs them;
    those the pass never runs follow in the order they were registered."""
    import torch
    order, seen = [], set()

    def record(module, *_):
        if id(module) not in seen:
            seen.add(id(module))
            order.append(module)

    weighted = [m for m in model.modules() if _weighted(m)]
    hooks = [m.register_forward_hook(record) for m in weighted]
    try:
        model.train()
        with torch.no_grad(), own_random_state():
            if learner:
                call_learner(check, model, Case(f"{label}, a forward pass in training mode, {on_inputs(inputs)}",
                                                inputs), first=True, name=forward_name(model))
            else:
                model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return order + [m for m in weighted if id(m) not in seen]


def _tensor_shapes(module) -> list[tuple[str, tuple]]:
    return ([(n, tuple(p.shape)) for n, p in module.named_parameters(recurse=False)]
            + [(n, tuple(b.shape)) for n, b in module.named_buffers(recurse=False)])


def _shapes_text(module) -> str:
    return ", ".join(f"{name} {shape}" for name, shape in _tensor_shapes(module)) or "no tensors"


def pair_layers(scenario: ModelScenario, case_label: str, mine: list, theirs: list) -> list[tuple[Any, Any]]:
    """Pair the learner's weighted layers with the reference's, or a verdict naming the first that differs."""
    check = scenario.check
    for index, (a, b) in enumerate(zip(mine, theirs), start=1):
        if type(a) is not type(b) and not (isinstance(a, type(b)) or isinstance(b, type(a))):
            problem = f"layer {index} is {describe_layer(a)}; the reference's is {describe_layer(b)}"
        elif [s for _, s in _tensor_shapes(a)] != [s for _, s in _tensor_shapes(b)]:
            problem = (f"layer {index} is {describe_layer(a)}, with {_shapes_text(a)}; "
                       f"the reference's is {describe_layer(b)}, with {_shapes_text(b)}")
        else:
            continue
        raise Verdict(CheckResult(check, INCORRECT, "a layer with weights differs from the reference's "
                                  "(layers counted in the order forward runs them).",
                                  case=case_label, evidence=[problem],
                                  hint=scenario.structure_hint or scenario.general_hint,
                                  next_step="Fix that layer and run the check again."))
    if len(mine) != len(theirs):
        extra = mine[len(theirs)] if len(mine) > len(theirs) else theirs[len(mine)]
        whose = "yours has" if len(mine) > len(theirs) else "the reference has"
        raise Verdict(CheckResult(check, INCORRECT, "the model has a different number of layers with weights.",
                                  case=case_label,
                                  evidence=[f"{len(mine)} layers with weights, the reference {len(theirs)}; "
                                            f"{whose} one more: {describe_layer(extra)}"],
                                  hint=scenario.structure_hint or scenario.general_hint,
                                  next_step="Fix the layers and run the check again."))
    return list(zip(mine, theirs))


def load_by_structure(pairs) -> None:
    """Copy every weight and buffer of each reference layer into its learner counterpart."""
    import torch
    with torch.no_grad():
        for mine, theirs in pairs:
            for (_, a), (_, b) in zip(list(mine.named_parameters(recurse=False)) + list(mine.named_buffers(recurse=False)),
                                      list(theirs.named_parameters(recurse=False))
                                      + list(theirs.named_buffers(recurse=False))):
                a.copy_(b)


def load_by_keys(scenario: ModelScenario, case_label: str, model, reference) -> None:
    """Load the reference's state dict with ``strict=True``, or a verdict listing the keys that differ."""
    mine, theirs = model.state_dict(), reference.state_dict()
    missing = [k for k in theirs if k not in mine]
    unexpected = [k for k in mine if k not in theirs]
    evidence = []
    if missing:
        evidence.append("missing: " + ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
    if unexpected:
        evidence.append("unexpected: " + ", ".join(unexpected[:4])
                        + (f" and {len(unexpected) - 4} more" if len(unexpected) > 4 else ""))
    if not evidence:
        evidence = [f"{k}: expected shape {tuple(t.shape)}, got {tuple(mine[k].shape)}"
                    for k, t in theirs.items() if tuple(mine[k].shape) != tuple(t.shape)][:1]
    if evidence:
        raise Verdict(CheckResult(scenario.check, INCORRECT, "the state dict differs from the reference's.",
                                  case=case_label, evidence=evidence,
                                  hint=scenario.structure_hint or scenario.general_hint,
                                  next_step="Fix the layers and run the check again."))
    model.load_state_dict(theirs, strict=True)


# --------------------------------------------------------------------------
# Running both and comparing
# --------------------------------------------------------------------------

def _run(model, inputs, mode, seed, *, check=None, label=""):
    """One forward pass in ``mode`` from a fixed random state (dropout draws the same masks every time)."""
    import torch
    model.train(mode == TRAIN)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if check is None:
            return model(*inputs)
        out, _ = call_learner(check, model, Case(label, inputs), first=True, name=forward_name(model))
        return out


def _as_tensors(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _detached(value):
    import torch
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def _record_io(pairs):
    """Forward hooks that record each paired layer's first input and output, for the learner's and the reference's."""
    records = {"mine": {}, "theirs": {}}
    hooks = []
    for index, (mine, theirs) in enumerate(pairs):
        for side, module in (("mine", mine), ("theirs", theirs)):
            def hook(module, args, out, side=side, index=index):
                # clones: an in-place activation after this layer would change what was recorded
                if index not in records[side]:
                    records[side][index] = (_detached(args[0]) if args else None, _detached(out))
            hooks.append(module.register_forward_hook(hook))
    return records, hooks


def _close(a, b, scenario) -> bool:
    import torch
    return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
            and torch.allclose(a.double(), b.double(), atol=scenario.atol, rtol=scenario.rtol))


def first_parting(pairs, records, scenario) -> str | None:
    """Where the learner's computation first leaves the reference's, by the paired layers' inputs and outputs."""
    for index, (mine, theirs) in enumerate(pairs):
        if index not in records["mine"] or index not in records["theirs"]:
            continue
        (x_mine, y_mine), (x_theirs, y_theirs) = records["mine"][index], records["theirs"][index]
        if not _close(x_mine, x_theirs, scenario):
            where = (f"between layer {index} ({describe_layer(pairs[index - 1][1])}) and layer {index + 1} "
                     f"({describe_layer(theirs)})" if index else f"before the first layer ({describe_layer(theirs)})")
            return (f"the computations part {where}: the input of layer {index + 1} differs "
                    "(look at what runs between them: activation, pooling, normalisation, dropout, flatten)")
        if not _close(y_mine, y_theirs, scenario):
            return (f"the computations part at layer {index + 1}: same input, different output — yours is "
                    f"{describe_layer(mine)}, the reference's {describe_layer(theirs)}")
    return None


def run_model_case(scenario: ModelScenario, factory, case: ModelCase, g, *, first: bool) -> None:
    """Build, load, run and compare one case; raise ``Verdict`` at the first problem."""
    import torch
    check = scenario.check
    model = build_learner_model(check, factory, case.label, *case.args, first=first, meta=scenario.build_on_meta,
                                **case.kwargs)
    if any(t.is_meta for t in model.parameters()) or any(t.is_meta for t in model.buffers()):
        model = model.to_empty(device="cpu")
        for buffer in model.buffers():
            if not buffer.is_floating_point():
                buffer.zero_()   # e.g. num_batches_tracked; the floating-point ones get the reference's values
    if scenario.refuse_types and isinstance(model, scenario.refuse_types):
        raise Verdict(CheckResult(check, INCORRECT, f"this is the library's own {type(model).__name__}.",
                                  case=case.label, hint="Write the module yourself from its layers.",
                                  next_step="Define your own nn.Module and run the check again."))
    with own_random_state():
        reference = case.reference()
    inputs = tuple(torch.randn(*shape, generator=g) for shape in case.inputs)
    try:
        _load_run_compare(scenario, model, reference, case, inputs, g)
    except Verdict as verdict:
        if verdict.result.outcome == RAISED and verdict.result.hint is None:
            verdict.result.hint = scenario.raised_hint
        raise
    for probe in scenario.probes:
        probe(scenario, model, reference, case, inputs)


def _load_run_compare(scenario: ModelScenario, model, reference, case: ModelCase, inputs, g) -> None:
    import torch
    check = scenario.check
    if scenario.weights == WEIGHTS_BY_KEYS:
        randomize_(reference, g)
        load_by_keys(scenario, case.label, model, reference)
        pairs = pair_layers(scenario, case.label, [m for m in model.modules() if _weighted(m)],
                            [m for m in reference.modules() if _weighted(m)])
    else:
        theirs = layers_in_forward_order(check, reference, inputs, learner=False)
        mine = layers_in_forward_order(check, model, inputs, learner=True, label=case.label)
        try:
            pairs = pair_layers(scenario, case.label, mine, theirs)
        except Verdict:
            # independent branches may run in another order than the reference's (an inception module that
            # computes its pool branch first): the order the layers were created in may still pair up
            try:
                pairs = pair_layers(scenario, case.label, [m for m in model.modules() if _weighted(m)],
                                    [m for m in reference.modules() if _weighted(m)])
            except Verdict:
                pairs = pair_layers(scenario, case.label, mine, theirs)   # the verdict in forward order
        randomize_(reference, g)
        load_by_structure(pairs)
    # one mutant per mistake and case, run in every mode like the learner's model (its own running statistics)
    mutants = []
    for mistake in case.mistakes:
        mutant = copy.deepcopy(reference)
        mutants.append((mistake, mistake.mutate(mutant) or mutant))
    for mode in case.modes:
        seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=g))
        label = f"{case.label}, {'training' if mode == TRAIN else 'eval'} mode, {on_inputs(inputs)}"
        wrong = [(mistake, _as_tensors(_run(mutant, inputs, mode, seed))) for mistake, mutant in mutants]
        records, hooks = _record_io(pairs)
        try:
            expected = _as_tensors(_run(reference, inputs, mode, seed))
            got = _run(model, inputs, mode, seed, check=check, label=label)
        finally:
            for hook in hooks:
                hook.remove()
        _compare_outputs(scenario, got, expected, wrong, label, pairs, records, forward_name(model))
        # the reference and the learner both updated their running statistics in training mode: still equal


def _compare_outputs(scenario, got, expected, wrong, label, pairs, records, name) -> None:
    import torch
    check = scenario.check
    if len(expected) > 1:
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            what = (f"{type(got).__name__} of length {len(got)}" if isinstance(got, (tuple, list))
                    else type(got).__name__)
            raise Verdict(CheckResult(check, INCORRECT, f"the model should return {len(expected)} outputs here.",
                                      case=label, evidence=[f"expected a tuple of {len(expected)} tensors, got {what}"],
                                      hint=scenario.general_hint, next_step="Fix what forward returns."))
    else:
        got = [got]
    for index, (g_out, e_out) in enumerate(zip(got, expected)):
        part = f" (output {index + 1} of {len(expected)})" if len(expected) > 1 else ""
        mistakes = [Mistake(m.key, outs[index], m.hint) for m, outs in wrong if index < len(outs)
                    and isinstance(outs[index], torch.Tensor)]
        case = Case(label + part, (), expected=e_out, mistakes=mistakes, atol=scenario.atol, rtol=scenario.rtol)
        try:
            compare_tensor(check, g_out, case, name=name, general_hint=scenario.general_hint)
        except Verdict as verdict:
            where = first_parting(pairs, records, scenario)
            if where and verdict.result.outcome == INCORRECT:
                verdict.result.evidence.append(where)
            raise
