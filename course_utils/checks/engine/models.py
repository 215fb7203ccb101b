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

from .building import _on_meta, build_learner_model, learner_forward_order, materialise, randomize_
from .cases import Case, Mistake
from .compare import compare_tensor
from .guards import own_random_state
from .results import INCORRECT, RAISED, CheckResult, Verdict
from .runner import call_learner, run_cases
from .weights import (StructureProblem, _weighted, describe_layer, forward_name, layers_in_forward_order,
                      load_by_keys, load_by_structure, on_inputs, pair_by_name, pair_layers)

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
    # builds the reference nn.Module (the same architecture); with the scenario's reference_wraps_model, it is
    # called with a copy of the learner's model and builds the reference around that copy's layers
    reference: Callable[..., Any]
    inputs: Sequence[tuple[int, ...]]            # shapes of the seeded standard-normal inputs of one forward call
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    modes: Sequence[str] = (EVAL, TRAIN)
    mistakes: Sequence[ModelMistake] = ()
    # equally correct forms: each edits a copy of the reference like a mistake's mutate; outputs equal to one pass
    equivalents: Sequence[Callable[[Any], Any]] = ()


@dataclass
class ModelScenario:
    """How to judge one model factory: its cases and what to say."""

    check: str
    cases: Sequence[ModelCase]
    weights: str = WEIGHTS_BY_STRUCTURE          # or WEIGHTS_BY_KEYS: the state dict's keys and shapes must match
    general_hint: str | None = None              # for outputs that match no known mistake
    structure_hint: str | None = None            # for weighted layers that do not pair up with the reference's
    # a diagnosis of what did not fit: diagnose(problem: StructureProblem) -> the Mistake (M.mistake(key, None))
    # or the text that explains it, or None for structure_hint
    diagnose: Callable[[StructureProblem], Mistake | str | None] | None = None
    # (text in the error message, hint) for errors the learner's forward raises that the check recognises
    error_hints: Sequence[tuple[str, str]] = ()
    raised_hint: str | None = None               # for any other error the forward raises on the case's inputs
    # build the learner's model on the meta device, then allocate it (empty) on the CPU: every weight is the
    # reference's anyway, and initialising 100 M parameters costs a second (a factory that cannot build on
    # the meta device is built on the CPU).  The forward pass that finds the order of the layers then runs on
    # the meta device too, for the learner's model and the reference (whose values it discards: the
    # reference must be one that ``randomize_`` gives every value), and the learner's on the CPU where its
    # forward needs values (a verdict there is the CPU's)
    build_on_meta: bool = False
    # dense layers may be nn.Linear or 1×1 convolutions, with a bias or without (a missing bias zeroes the
    # reference's): the weights go in reshaped (e.g. the SE block's excitation)
    dense_forms: bool = False
    # an exercise that writes forward only, around layers the notebook gives: the reference is the statement's
    # forward applied to a copy of the learner's own layers (case.reference(copy)); the weights are then seeded
    # and loaded like any reference's
    reference_wraps_model: bool = False
    refuse_types: tuple = ()                     # classes the learner must not return (the reference itself)
    passed: str = "The outputs equal the reference's, with the same weights, in eval and in training mode."
    # check-specific probes run after a case's outputs matched: probe(scenario, model, reference, case, inputs)
    # raises Verdict on a problem (e.g. a gradient that must reach the first layer)
    probes: Sequence[Callable[..., None]] = ()
    # check-specific steps run once before the cases: before(scenario, factory) raises Verdict on a problem
    # (e.g. parameter counts on the meta device, which name a wrong layer more precisely than its outputs)
    before: Sequence[Callable[..., None]] = ()
    # a check-specific look at the factory before each case's model is built: preflight(factory, case, first)
    # raises Verdict on a problem (e.g. per-stage shapes on the meta device, before any weight is loaded)
    preflight: Callable[..., None] | None = None
    atol: float = 1e-4
    rtol: float = 1e-4


def check_model(factory, scenario: ModelScenario, *, strict: bool, seed: int = 0) -> CheckResult:
    """Run ``scenario`` on the learner's ``factory``; the check's result (raised as ``CheckFailed`` if strict)."""
    def all_cases():
        import torch
        g = torch.Generator().manual_seed(int(seed))
        for step in scenario.before:
            step(scenario, factory)
        for index, case in enumerate(scenario.cases):
            if scenario.preflight is not None:
                scenario.preflight(factory, case, index == 0)
            try:
                run_model_case(scenario, factory, case, g, first=index == 0)
            except Verdict as verdict:
                result = verdict.result
                if result.outcome == RAISED and not result.hint:
                    result.hint = next((hint for text, hint in scenario.error_hints
                                        if any(text in line for line in result.evidence)), scenario.raised_hint)
                raise
        return scenario.passed

    return run_cases(scenario.check, factory, [], compare=None, strict=strict, after=all_cases)


# --------------------------------------------------------------------------
# Running both and comparing
# --------------------------------------------------------------------------

def _run(model, inputs, mode, seed, *, check=None, label=""):
    """One forward pass in ``mode`` from a fixed random state (dropout draws the same masks every time)."""
    import torch
    model.train(mode == TRAIN)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        # the CPU generator only: torch.manual_seed would also queue a seed for CUDA, which fork_rng(devices=[])
        # does not restore (and whose lazy queueing formats a stack trace: a third of a small scenario's time)
        torch.default_generator.manual_seed(seed)
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
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        return False
    if a.shape != b.shape:
        if not (scenario.dense_forms and a.numel() == b.numel()):
            return False
        a = a.reshape(b.shape)   # a dense layer's (N, C) and a 1×1 convolution's (N, C, 1, 1)
    return torch.allclose(a.double(), b.double(), atol=scenario.atol, rtol=scenario.rtol)


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
    if scenario.refuse_types and isinstance(model, scenario.refuse_types):
        raise Verdict(CheckResult(check, INCORRECT, f"this is the library's own {type(model).__name__}.",
                                  case=case.label, hint="Write the module yourself from its layers.",
                                  next_step="Define your own nn.Module and run the check again."))
    if scenario.reference_wraps_model:
        materialise(model)
    with own_random_state():
        reference = case.reference(copy.deepcopy(model)) if scenario.reference_wraps_model else case.reference()
    inputs = tuple(torch.randn(*shape, generator=g) for shape in case.inputs)
    _load_run_compare(scenario, model, reference, case, inputs, g)
    for probe in scenario.probes:
        probe(scenario, model, reference, case, inputs)


def _load_run_compare(scenario: ModelScenario, model, reference, case: ModelCase, inputs, g) -> None:
    import torch
    check = scenario.check
    if scenario.weights == WEIGHTS_BY_KEYS:
        materialise(model)
        randomize_(reference, g)
        load_by_keys(scenario, case.label, model, reference, case)
        pairs = pair_by_name(model, reference)
    else:
        theirs, mine = _forward_orders(scenario, model, reference, inputs, case.label)
        in_forward_order = dict(case=case, model=model, reference=reference)
        try:
            pairs = pair_layers(scenario, case.label, mine, theirs, **in_forward_order)
        except Verdict:
            # independent branches may run in another order than the reference's (an inception module that
            # computes its pool branch first): the order the layers were created in may still pair up
            try:
                pairs = pair_layers(scenario, case.label, [m for m in model.modules() if _weighted(m)],
                                    [m for m in reference.modules() if _weighted(m)], **in_forward_order)
            except Verdict:
                pairs = pair_layers(scenario, case.label, mine, theirs, **in_forward_order)  # the forward-order verdict
        randomize_(reference, g)
        load_by_structure(pairs, dense_forms=scenario.dense_forms)
    # one mutant per mistake and case, run in every mode like the learner's model (its own running statistics)
    mutants = [(mistake, copy_of(reference, mistake.mutate)) for mistake in case.mistakes]
    for mode in case.modes:
        seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=g))
        label = f"{case.label}, {'training' if mode == TRAIN else 'eval'} mode, {on_inputs(inputs)}"
        records, hooks = _record_io(pairs)
        try:
            got = _run(model, inputs, mode, seed, check=check, label=label)   # before any answer exists
            expected = _as_tensors(_run(reference, inputs, mode, seed))
        finally:
            for hook in hooks:
                hook.remove()
        wrong = [(mistake, _as_tensors(_run(mutant, inputs, mode, seed))) for mistake, mutant in mutants]
        try:
            _compare_outputs(scenario, got, expected, wrong, label, pairs, records, forward_name(model))
        except Verdict:
            if not any(_same_outputs(got, _as_tensors(_run(copy_of(reference, form), inputs, mode, seed)), scenario)
                       for form in case.equivalents):
                raise
        # the reference and the learner both updated their running statistics in training mode: still equal


def _forward_orders(scenario, model, reference, inputs, label):
    """The reference's and the learner's weighted layers in forward order; both models on the CPU afterwards.
    With ``build_on_meta`` the reference's pass runs on the meta device (the reference is built for
    ``randomize_`` to give every value), and the learner's where ``learner_forward_order`` can."""
    check = scenario.check
    if scenario.build_on_meta:
        theirs = layers_in_forward_order(check, reference.to("meta"), _on_meta(inputs), learner=False)
        materialise(reference)
    else:
        theirs = layers_in_forward_order(check, reference, inputs, learner=False)
    mine = learner_forward_order(check, model, inputs, label)
    materialise(model)
    return theirs, mine


def copy_of(reference, mutate):
    """A deep copy of the reference, edited by ``mutate`` (in place, or returning a replacement)."""
    mutant = copy.deepcopy(reference)
    return mutate(mutant) or mutant


def _same_outputs(got, expected: list, scenario) -> bool:
    got = _as_tensors(got)
    return len(got) == len(expected) and all(_close(a, b, scenario) for a, b in zip(got, expected))


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
