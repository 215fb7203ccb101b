"""Proof that the four checks of notebook 04 (the gradient reaching the first
layer, ResNet's basic block, ResNet-18's per-stage shapes, ResNet-18) work.

A check that was never seen failing is not a check.  This module holds what
is specific to these checks:

* the correct implementations, in several styles, that
  ``test_check_contract.py`` runs on the public and hidden cases (registered
  through ``SPECS`` below, with the generic contract: not attempted, raised,
  cannot be checked, stopped, strict, rendering, guards, determinism), and
  here: the hidden cases try settings the public ones do not;
* a catalogue of plausible wrong implementations fails, each with the
  summary, hint or evidence that names its mistake;
* the references the checks compare with equal numbers computed here another
  way: the block's output by the check's formula and by a learner's block,
  each predicted mistake by the wrong block that makes it, the per-stage
  shapes by the size formula and by a real CPU forward of torchvision's
  resnet18, its parameter count by a formula from the layer table, and the
  gradient norms by finite differences in float64.

The learner implementations live in ``impls.py`` beside this module.  Every expected
number is computed (by a formula, torch or torchvision), never typed in; the
needles of the catalogue are taken from the check's own hint table where it
has one.
"""

from __future__ import annotations

import copy
import os
import re

import pytest
import torch
import torch.nn.functional as F

import course_utils.checks as checks
from course_utils.checks import (INCORRECT, PASSED, RAISED, UNCHECKABLE, check_first_layer_grad_norm,
                                 check_make_basic_block, check_make_resnet18, check_resnet18_shapes)
from course_utils.checks.resnet import block as resnet_block
from course_utils.checks.resnet import gradients, network, shapes
from course_utils.checks.engine import answered, randomize_
from course_utils.checks.messages.resnet import M
from course_utils.checks.resnet import reference_basic_block

from checks.resnet import impls as impl
from checks.helpers import (CheckSpec, assert_hidden_cases_try_more, assert_names_mistake,  # noqa: F401
                           assert_no_new_kind, one_torch_thread, spy)
from checks.helpers import mistake_case as mistake
from course_utils.train import count_parameters

COURSE_UTILS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(checks.__file__)))
REPO_DIR = os.path.dirname(COURSE_UTILS_DIR)

# ==========================================================================
# The four checks, side by side
# ==========================================================================

SPECS = {
    "first_layer_grad_norm": CheckSpec(check=check_first_layer_grad_norm, kind="float",
                                  correct=[impl.grad_norm_backward, impl.grad_norm_autograd,
                                           impl.grad_norm_optimizer_zero_grad, impl.grad_norm_returns_tensor],
                                  mistake=impl.grad_norm_no_zero_grad),
    # The model checks compare the state dict's keys before running a forward, so a stand-in model (a Linear
    # layer, a forward stub) is 'not yet correct' there; their verdicts state no case count.
    "make_basic_block": CheckSpec(check=check_make_basic_block, kind="model",
                             correct=[impl.block_explicit, impl.block_torchvision_style, impl.block_identity_module],
                             mistake=impl.block_relu_before_add, stand_in_models=False, hidden_cases=None),
    "resnet18_shapes": CheckSpec(check=check_resnet18_shapes, kind="dict",
                            correct=[impl.shapes_formula, impl.shapes_math_floor, impl.shapes_meta_model,
                                     impl.shapes_halving],
                            mistake=impl.shapes_stem_padding_1),
    "make_resnet18": CheckSpec(check=check_make_resnet18, kind="model",
                          correct=[impl.resnet18_explicit, impl.resnet18_loop, impl.resnet18_sequential],
                          mistake=impl.resnet18_stem_padding_1, stand_in_models=False, hidden_cases=None),
}
ALL = list(SPECS)
# Arguments a learner may ignore and still pass the public check (test_arguments.py proves that every other
# argument of every exercise here changes a public answer): `block`, the course's reference block the check
# passes in so that the network is judged alone — a network that builds its own correct block instead computes
# the same (test_network_ignoring_block_with_a_correct_block_of_its_own_passes).
ARGUMENTS_IGNORABLE = {"make_resnet18": {"block": "the check's own reference block, passed in"}}

# check name -> plausible wrong implementations, each failing with the message that names its mistake
# (test_contract.py runs them all); filled below, section 2.
CATALOGUE: dict[str, list] = {}

BLOCK_SETTINGS = resnet_block._BLOCK_SETTINGS + resnet_block._BLOCK_EXTENDED
# mistake key -> the wrong block that makes it
WRONG_BLOCK = {"make_basic_block.no_final_relu": impl.block_no_final_relu,
               "make_basic_block.relu_before_add": impl.block_relu_before_add,
               "make_basic_block.no_shortcut": impl.block_no_shortcut,
               "make_basic_block.stride_on_conv2": impl.block_stride_on_conv2,
               "make_basic_block.relu_before_bn": impl.block_relu_before_bn,
               "make_basic_block.no_inner_relu": impl.block_no_inner_relu}


def correct_of(name):
    return SPECS[name].correct[0]


def block_with(make, sd, stride, training):
    """The learner's block from ``make``, with the state dict ``sd`` loaded, in the given mode."""
    cout, cin = sd["conv1.weight"].shape[:2]
    with torch.random.fork_rng(devices=[]):
        block = make(int(cin), int(cout), stride)
    block.load_state_dict(sd)
    return block.train(training)


def reference_setting(cin, cout, stride, h, w, seed=0):
    """The reference block with the check's random weights and statistics, and an input, for one setting."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        block = reference_basic_block()(cin, cout, stride)
    randomize_(block, g)
    return block, {k: v.clone() for k, v in block.state_dict().items()}, torch.randn(4, cin, h, w, generator=g)


# ==========================================================================
# Independent references: formulas from the architecture table
# ==========================================================================

def conv_count(c_in, c_out, k):
    return k * k * c_in * c_out   # no bias: batch norm follows


def block_count(c_in, c_out, stride):
    projection = conv_count(c_in, c_out, 1) + 2 * c_out if stride != 1 or c_in != c_out else 0
    return conv_count(c_in, c_out, 3) + conv_count(c_out, c_out, 3) + 2 * 2 * c_out + projection


STAGES = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]   # (in, out, stride of the first block)


def resnet18_count(num_classes):
    stem = conv_count(3, 64, 7) + 2 * 64
    stages = sum(block_count(cin, cout, stride) + block_count(cout, cout, 1) for cin, cout, stride in STAGES)
    return stem + stages + 512 * num_classes + num_classes


def size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def shapes_by_table(h, w):
    """(C, H, W) after each part, from the table: stem 7×7/2 pad 3, max pool 3×3/2 pad 1, stages 3×3 pad 1."""
    shapes = {}
    for name, k, s, p, c in [("conv1", 7, 2, 3, 64), ("maxpool", 3, 2, 1, 64), ("layer1", 3, 1, 1, 64),
                             ("layer2", 3, 2, 1, 128), ("layer3", 3, 2, 1, 256), ("layer4", 3, 2, 1, 512)]:
        h, w = size(h, k, s, p), size(w, k, s, p)
        shapes[name] = (c, h, w)
    return shapes


def cpu_stage_shapes(model, h, w):
    """Shapes after each part from a real forward on the CPU, with forward hooks."""
    shapes = {}
    for name in network.STAGES:
        getattr(model, name).register_forward_hook(
            lambda module, args, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:])))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, h, w))
    return shapes


# ==========================================================================
# 1. Correct implementations pass
# ==========================================================================

@pytest.mark.parametrize("name", ["make_basic_block", "make_resnet18", "resnet18_shapes"])
def test_hidden_cases_call_the_learner_on_more_settings(name):
    """Do the hidden cases call the learner with settings the public cases never use?"""
    assert_hidden_cases_try_more(SPECS[name].check, correct_of(name))


def test_grad_norm_public_cases_measure_a_layer_inside_the_network():
    """Do the public cases of check_first_layer_grad_norm already pass a `layer` that is not the model's first
    parameter (so that `next(model.parameters())` cannot stand in for `layer`), as the hidden ones do?"""
    def firsts(extended):
        learner = spy(impl.grad_norm_backward)
        assert check_first_layer_grad_norm(learner, extended=extended, seed=7)
        return [layer.weight is next(model.parameters()) for (model, layer, *_), _ in learner.calls]
    assert any(firsts(False)) and not all(firsts(False))
    assert not all(firsts(True))


def test_resnet18_check_passes_the_reference_block():
    """Does check_make_resnet18 pass its reference block, torchvision's BasicBlock with the projection built
    inside, as `block`?"""
    from torchvision.models.resnet import BasicBlock
    learner = spy(impl.resnet18_explicit)
    assert check_make_resnet18(learner)
    blocks = {kwargs["block"] for _, kwargs in learner.calls}
    assert blocks == {reference_basic_block()}
    assert issubclass(reference_basic_block(), BasicBlock)


def test_network_ignoring_block_with_a_correct_block_of_its_own_passes():
    """Design: a network that ignores `block` but wires in a correct block of its own passes (the exercise
    asks for the stem, the stages and the head; its blocks compute what the reference's do)."""
    result = check_make_resnet18(impl.resnet18_ignores_block_argument, extended=True, seed=7)
    assert result.outcome == PASSED, result.text()


def test_the_block_class_itself_passes_as_a_factory():
    """Does passing the class (`check_make_basic_block(BasicBlock)`) work like passing a factory function?"""
    result = check_make_basic_block(impl.BasicBlockExplicit)
    assert result.outcome == PASSED, result.text()


# ==========================================================================
# 2. Catalogues of plausible wrong implementations
# ==========================================================================

CATALOGUE["make_basic_block"] = [
    mistake("Does check_make_basic_block notice a ReLU applied before the addition?", impl.block_relu_before_add,
            M("make_basic_block.relu_before_add")),
    mistake("Does it notice the ReLU missing after the addition?", impl.block_no_final_relu,
            M("make_basic_block.no_final_relu")),
    mistake("Does it notice the shortcut never added?", impl.block_no_shortcut, M("make_basic_block.no_shortcut")),
    mistake("Does it notice the stride on the second convolution?", impl.block_stride_on_conv2,
            M("make_basic_block.stride_on_conv2")),
    mistake("Does it notice conv → ReLU → BN?", impl.block_relu_before_bn, M("make_basic_block.relu_before_bn")),
    mistake("Does it notice no ReLU between the convolutions?", impl.block_no_inner_relu,
            M("make_basic_block.no_inner_relu")),
    mistake("Does it notice a 3×3 projection?", impl.block_projection_3x3, "The projection is a 1×1 convolution"),
    mistake("Does it notice a projection without batch norm?", impl.block_projection_without_bn,
            "1×1 convolution followed by batch norm"),
    mistake("Does it notice convolutions with bias?", impl.block_conv_with_bias, "`bias=False`"),
    mistake("Does it notice a projection on a block that keeps stride and channels?", impl.block_always_projects,
            "the shortcut is the identity"),
    mistake("Does it notice a stride-2 block without projection (the channels stay)?",
            impl.block_projects_on_channels_only, "(here 8 → 8, stride 2), the shortcut must project x"),
    mistake("Does it name the stride for torch's size error of a projection without it?",
            impl.block_projection_without_stride, "the 1×1 projection the block's stride", outcome=RAISED),
    mistake("Does it notice batch norm sized for the input channels?", impl.block_bn1_on_in_channels,
            "`nn.BatchNorm2d(out_channels)`"),
    mistake("Does it ask for `downsample` when the projection is called `shortcut`?",
            impl.block_shortcut_named_shortcut, "Rename `shortcut` to `downsample`"),
    mistake("Does it refuse torchvision's BasicBlock?", impl.block_is_torchvisions, "torchvision's",
            field="summary"),
    mistake("Does it answer the pre-activation block with the original block's order?", impl.block_pre_activation,
            "conv3×3 (stride, padding 1) → BN → ReLU → conv3×3 (padding 1) → BN"),
    mistake("Does it ask for the forgotten return?", impl.block_forgets_return, "forget a `return`",
            outcome=UNCHECKABLE),
]


@pytest.mark.parametrize("key", list(WRONG_BLOCK))
def test_block_verdict_carries_the_key_of_the_mistake_it_names(key):
    """Does each wrong block's verdict name its mistake by key (the table's text, the catalogue's needle)?"""
    result = check_make_basic_block(WRONG_BLOCK[key])
    assert result.mistake == key, result.text()
    assert result.hint == M(key)


def test_block_keys_are_compared_before_any_forward():
    """Does a block with convolution biases fail on its keys, before its forward ever runs?"""
    forwards = []

    def make(*args, **kwargs):
        block = impl.block_conv_with_bias(*args, **kwargs)
        block.register_forward_pre_hook(lambda module, inputs: forwards.append(1))
        return block
    result = check_make_basic_block(make)
    assert result.evidence == ["unexpected: conv1.bias, conv2.bias"], result.text()
    assert not forwards


CATALOGUE["make_resnet18"] = [
    mistake("Does check_make_resnet18 notice the lecture notes' stem padding of 1?", impl.resnet18_stem_padding_1,
            "needs padding 3"),
    mistake("Does it notice the stem's max pool left out?", impl.resnet18_no_maxpool, "ends with a 3×3 max pool"),
    mistake("Does it name the max pool's padding (not the stem's) for a max pool without padding?",
            impl.resnet18_maxpool_padding_0, "nn.MaxPool2d(3, stride=2, padding=1)"),
    mistake("Does it notice a softmax at the end?", impl.resnet18_softmax_at_end, "leave the softmax to the loss"),
    mistake("Does it notice an average pool in the stem?", impl.resnet18_avgpool_in_stem, "not an average pool"),
    mistake("Does it notice layer1 with stride 2?", impl.resnet18_layer1_stride_2,
            "layer1 and every second block keep stride 1"),
    mistake("Does it notice the stem's ReLU missing?", impl.resnet18_no_stem_relu, "the ReLU is missing"),
    mistake("Does it notice layer2 reading its own width instead of layer1's?", impl.resnet18_layer2_from_128,
            "the previous stage's channels"),
    mistake("Does it notice num_classes ignored?", impl.resnet18_ignores_num_classes, "nn.Linear(512, num_classes)"),
    mistake("Does it explain a fixed 7 × 7 pool that fails on a 64 × 80 image?", impl.resnet18_fixed_avgpool,
            "nn.AdaptiveAvgPool2d(1)", outcome=RAISED),
    mistake("Does it notice the global average pool left out?", impl.resnet18_no_global_pool,
            "nn.AdaptiveAvgPool2d(1)"),
    mistake("Does it report the flatten left out as the learner's error?", impl.resnet18_forgets_flatten,
            "raised RuntimeError", field="summary", outcome=RAISED),
    mistake("Does it ask for a `block` parameter when there is none?", impl.resnet18_without_block_parameter,
            "must accept `block`", outcome=RAISED),
    mistake("Does it say how the block is called when the network passes it a downsample?",
            impl.resnet18_passes_downsample_to_block, "no `downsample`", outcome=RAISED),
    mistake("Does it point to `block` when the network ignores it and its own block is wrong?",
            impl.resnet18_ignores_block_with_wrong_own_block, "Build the stages from the `block` argument"),
    mistake("Does it refuse torchvision's resnet18?", impl.resnet18_is_torchvisions, "torchvision's ResNet",
            field="summary"),
]


@pytest.mark.parametrize("learner, key", [
    (impl.resnet18_stem_padding_1, "make_resnet18.stem_padding"), (impl.resnet18_no_maxpool, "make_resnet18.no_maxpool"),
    (impl.resnet18_maxpool_padding_0, "make_resnet18.maxpool_padding"),
    (impl.resnet18_softmax_at_end, "make_resnet18.softmax"), (impl.resnet18_no_stem_relu, "make_resnet18.no_stem_relu"),
    (impl.resnet18_avgpool_in_stem, "make_resnet18.avgpool_in_stem")])
def test_resnet18_verdict_carries_the_key_of_the_mistake_it_names(learner, key):
    """Does each wrong network's verdict name its mistake by key, by its stage shapes or by its logits?"""
    result = check_make_resnet18(learner)
    assert result.mistake == key, result.text()
    assert result.hint == M(key)


def test_resnet18_stage_shape_evidence_is_torchvisions():
    """Does a wrong stem show the expected shape of torchvision's resnet18 and the learner's, both computed?"""
    result = check_make_resnet18(impl.resnet18_stem_padding_1)
    expected = shapes_by_table(224, 224)["conv1"]
    got = (64, size(224, 7, 2, 1), size(224, 7, 2, 1))
    assert result.evidence == [f"conv1: expected (C, H, W) = {expected}, got {got}"]


CATALOGUE["resnet18_shapes"] = [
    mistake("Does check_resnet18_shapes notice the lecture notes' stem padding of 1?", impl.shapes_stem_padding_1,
            "needs padding 3"),
    mistake("Does it notice the max pool's padding forgotten?", impl.shapes_maxpool_no_padding,
            "max pool (3 × 3, stride 2) has padding 1"),
    mistake("Does it notice sizes rounded up?", impl.shapes_ceil, "Sizes round down"),
    mistake("Does it notice float sizes from true division?", impl.shapes_float_division, "floor division"),
    mistake("Does it name a missing stage?", impl.shapes_missing_layer1, "missing keys: layer1", field="evidence",
            outcome=UNCHECKABLE),
    mistake("Does it notice (H, W, C), channels last?", impl.shapes_channels_last, "channels first"),
    mistake("Does it notice (C, W, H) on a non-square image?", impl.shapes_width_first,
            "the height comes before the width"),
    mistake("Does it notice layer1 halving the size?", impl.shapes_layer1_halves, "layer1 keeps the size"),
    mistake("Does it refuse (1, C, H, W) with the batch dimension?", impl.shapes_with_batch_dimension,
            "(channels, height, width)", outcome=UNCHECKABLE),
]


@pytest.mark.parametrize("learner, key", [
    (impl.shapes_stem_padding_1, "resnet18_shapes.stem_padding"), (impl.shapes_maxpool_no_padding,
                                                                   "resnet18_shapes.pool_padding"),
    (impl.shapes_ceil, "resnet18_shapes.rounded_up"), (impl.shapes_channels_last, "resnet18_shapes.channels_last"),
    (impl.shapes_width_first, "resnet18_shapes.width_first"), (impl.shapes_layer1_halves,
                                                               "resnet18_shapes.layer1_stride")])
def test_shapes_verdict_carries_the_key_of_the_mistake_it_names(learner, key):
    """Does each wrong shape table's verdict name its mistake by key?"""
    result = check_resnet18_shapes(learner)
    assert result.mistake == key, result.text()


def test_swapped_height_and_width_fail_on_the_first_non_square_case():
    """Does (C, W, H) pass the square cases and fail on the first non-square one, showing both shapes?"""
    learner = spy(impl.shapes_width_first)
    result = check_resnet18_shapes(learner)
    first = next(i for i, (args, _) in enumerate(learner.calls) if args[0] != args[1])
    (h, w), _ = learner.calls[first]
    assert first > 0 and all(args[0] == args[1] for args, _ in learner.calls[:first])
    c, eh, ew = shapes_by_table(h, w)["conv1"]
    assert result.evidence == [f"conv1: expected {(c, eh, ew)}, got {(c, ew, eh)}"]


CATALOGUE["first_layer_grad_norm"] = [
    mistake("Does check_first_layer_grad_norm notice a summed loss?", impl.grad_norm_sum_reduction,
            "not the sum"),
    mistake("Does it notice the squared norm?", impl.grad_norm_squared, "not its square"),
    mistake("Does it notice the L1 norm?", impl.grad_norm_l1, "not the sum of absolute values"),
    mistake("Does it notice gradients that accumulate (no zero_grad)?", impl.grad_norm_no_zero_grad,
            "model.zero_grad()"),
    mistake("Does it notice the norm over all parameters?", impl.grad_norm_all_parameters,
            "not of all the model's parameters"),
    mistake("Does it notice the weight's norm instead of its gradient's?", impl.grad_norm_of_weight,
            "not of the weight itself"),
    mistake("Does it notice model.eval() called on a model in training mode?", impl.grad_norm_calls_eval,
            "do not call model.train() or model.eval()"),
    mistake("Does it notice model.train() called on a model in eval mode?", impl.grad_norm_calls_train,
            "the model's mode changed", field="summary"),
    mistake("Does it notice an optimizer step?", impl.grad_norm_optimizer_step, "the model's weights changed",
            field="summary"),
    mistake("Does it name the layer measured instead of `layer` (the last one)?", impl.grad_norm_last_layer,
            "the gradient of `fc.weight`"),
    mistake("Does it name the first parameter measured instead of `layer` (a public case measures an inner layer)?",
            impl.grad_norm_first_parameter, "the gradient of `stem.0.weight`"),
    mistake("Does it ask for a number when the gradient tensor is returned?", impl.grad_norm_returns_gradient,
            "expected a float", field="summary", outcome=UNCHECKABLE),
]


@pytest.mark.parametrize("learner, key", [
    (impl.grad_norm_sum_reduction, "first_layer_grad_norm.sum_reduction"),
    (impl.grad_norm_squared, "first_layer_grad_norm.squared"), (impl.grad_norm_l1, "first_layer_grad_norm.l1"),
    (impl.grad_norm_no_zero_grad, "first_layer_grad_norm.no_zero_grad"),
    (impl.grad_norm_all_parameters, "first_layer_grad_norm.all_parameters"),
    (impl.grad_norm_of_weight, "first_layer_grad_norm.weight_norm"),
    (impl.grad_norm_last_layer, "first_layer_grad_norm.other_parameter")])
def test_grad_norm_verdict_carries_the_key_of_the_mistake_it_names(learner, key):
    """Does each wrong measurement's verdict name its mistake by key?"""
    result = check_first_layer_grad_norm(learner)
    assert result.mistake == key, result.text()


def test_stale_gradients_fail_on_the_second_call_with_twice_the_norm():
    """Does a missing zero_grad pass the first call and fail the second on the same model, at twice the norm?"""
    result = check_first_layer_grad_norm(impl.grad_norm_no_zero_grad)
    assert result.case.endswith("second call on the same model")
    expected, got = map(float, re.fullmatch(r"expected (\S+), got (\S+)", result.evidence[0]).groups())
    assert got == pytest.approx(2 * expected, rel=1e-4)


# ==========================================================================
# 3. Independence: the references equal numbers computed another way
# ==========================================================================

@pytest.mark.parametrize("training", [False, True], ids=["eval", "training"])
@pytest.mark.parametrize("setting", BLOCK_SETTINGS, ids=[str(s) for s in BLOCK_SETTINGS])
def test_reference_block_equals_formula_and_a_learners_block(setting, training):
    """Is the reference block's output (torchvision's BasicBlock) the check's formula's, `_block_variant` with no
    mistake, and a learner's block's with the same weights, for every setting, in both modes?"""
    cin, cout, stride, h, w = setting
    reference, sd, x = reference_setting(*setting)
    with torch.no_grad():
        expected = reference.train(training)(x.clone())
        formula = resnet_block._block_variant(sd, x, stride, training, None)
        learner = block_with(impl.block_explicit, sd, stride, training)(x.clone())
    assert expected.shape == (4, cout, size(h, 3, stride, 1), size(w, 3, stride, 1))
    torch.testing.assert_close(formula, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(learner, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", list(WRONG_BLOCK))
def test_each_predicted_block_mistake_is_what_the_wrong_block_computes(variant):
    """Does each mistake the block check predicts equal the output of a block that makes it, and differ from the
    right output on some public setting (so that the hint can be reached)?"""
    differs = []
    for setting in resnet_block._BLOCK_SETTINGS:
        _, sd, x = reference_setting(*setting)
        stride = setting[2]
        for training in (False, True):
            with torch.no_grad():
                predicted = resnet_block._block_variant(sd, x, stride, training, variant)
                actual = block_with(WRONG_BLOCK[variant], sd, stride, training)(x.clone())
                right = resnet_block._block_variant(sd, x, stride, training, None)
            torch.testing.assert_close(actual, predicted, atol=1e-5, rtol=1e-5)
            differs.append(not torch.allclose(predicted, right, atol=1e-3))
    assert any(differs)


def test_stage_shapes_equal_the_table_and_a_real_forward():
    """Are the shapes check_resnet18_shapes expects, for every size of the hidden cases, those of the table's
    formula, and (for the small sizes) those of torchvision's resnet18 run for real on the CPU?"""
    import torchvision
    with torch.random.fork_rng(devices=[]):   # its initial weights (irrelevant to shapes) leave the RNG alone
        cpu = torchvision.models.resnet18()
    cases = answered(shapes._shape_cases(extended=True))
    assert len(cases) > len(shapes._shape_cases(extended=False))
    for case in cases:
        h, w = case.args
        assert case.expected == shapes_by_table(h, w) == impl.shapes_meta_model(h, w), case.label
        if h * w <= 131 * 131:
            assert cpu_stage_shapes(cpu, h, w) == case.expected, case.label


def test_check_summary_states_the_224_sizes_of_the_formula():
    """Are the per-stage sizes in check_make_resnet18's passed message those of the formula for 224 × 224?"""
    summary = check_make_resnet18(impl.resnet18_explicit).summary
    sizes = ", ".join(str(h) for _, h, _ in shapes_by_table(224, 224).values())
    assert f"per-stage sizes ({sizes})" in summary


@pytest.mark.parametrize("num_classes", [1000, 10])
def test_resnet18_parameter_count_equals_the_formula(num_classes):
    """Does torchvision's resnet18 (the check's reference) have the parameter count of the layer table, and do
    the learner's networks built with the reference block?"""
    import torchvision
    with torch.device("meta"):
        reference = torchvision.models.resnet18(num_classes=num_classes)
        mine = impl.resnet18_loop(num_classes, reference_basic_block())
    assert count_parameters(reference) == count_parameters(mine) == resnet18_count(num_classes)


@pytest.mark.parametrize("setting", BLOCK_SETTINGS, ids=[str(s) for s in BLOCK_SETTINGS])
def test_reference_block_parameter_count_equals_the_formula(setting):
    """Does the check's reference block have the parameter count of two 3×3 convolutions, two batch norms and,
    when the stride or the channels change, a 1×1 projection with its batch norm?"""
    cin, cout, stride, _, _ = setting
    with torch.device("meta"):
        block = reference_basic_block()(cin, cout, stride)
    assert count_parameters(block) == block_count(cin, cout, stride)


def finite_difference_norm(model, layer_name, images, labels, eps=1e-6):
    """‖∂loss/∂W‖ by central differences, in float64, one weight entry at a time."""
    model = copy.deepcopy(model).double()
    weight = model.get_submodule(layer_name).weight
    images = images.double()
    grad = torch.zeros_like(weight)
    with torch.no_grad():
        flat, out = weight.view(-1), grad.view(-1)
        for i in range(flat.numel()):
            keep = flat[i].item()
            flat[i] = keep + eps
            up = F.cross_entropy(model(images), labels).item()
            flat[i] = keep - eps
            down = F.cross_entropy(model(images), labels).item()
            flat[i] = keep
            out[i] = (up - down) / (2 * eps)
    return grad.norm().item()


def test_grad_norm_references_equal_backward_and_finite_differences():
    """For every model of the hidden cases, is the norm the check expects the one loss.backward() gives on a
    copy, and the one central finite differences give in float64?"""
    cases = answered(gradients._grad_cases(7, extended=True))
    firsts = [case for case in cases if case.label.endswith("first call")]
    assert len(firsts) == len(cases) // 2 == 4
    for case in firsts:
        model, layer, images, labels = case.args
        layer_name = next(name for name, module in model.named_modules() if module is layer)
        twin = copy.deepcopy(model)
        F.cross_entropy(twin(images), labels).backward()
        assert twin.get_submodule(layer_name).weight.grad.norm().item() == pytest.approx(case.expected, rel=1e-5)
        assert finite_difference_norm(model, layer_name, images, labels) == pytest.approx(case.expected, rel=1e-4)
        assert model.training == case.training


# ==========================================================================
# 4. Check-specific outcomes, seeds and devices (the generic ones are in test_check_contract.py)
# ==========================================================================

@pytest.mark.parametrize("name", ["make_basic_block", "make_resnet18"])
def test_model_instead_of_function_is_uncheckable(name):
    """Does a model check refuse a built model (`check(make_basic_block(16, 16))`) as 'pass the function
    itself'?"""
    with torch.device("meta"):
        model = correct_of(name)(16, 16) if name == "make_basic_block" else correct_of(name)()
    result = SPECS[name].check(model)
    assert result.outcome == UNCHECKABLE, result.text()
    assert "Pass the function itself" in (result.hint or "")


def test_block_check_refuses_the_course_reference_too():
    """Does check_make_basic_block refuse the course's own reference block (torchvision's, underneath)?"""
    result = check_make_basic_block(reference_basic_block())
    assert result.outcome == INCORRECT, result.text()
    assert "torchvision's" in result.summary


@pytest.mark.parametrize("name", ["make_basic_block", "make_resnet18"])
def test_seed_sets_the_random_inputs(name):
    """Do the model checks draw their inputs from the seed: same seed, same inputs; another seed, other inputs?"""
    def inputs_for(seed):
        seen = []

        def make(*args, **kwargs):
            model = correct_of(name)(*args, **kwargs)
            model.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].detach().clone()))
            return model
        assert SPECS[name].check(make, seed=seed)
        return [x for x in seen if x.device.type == "cpu"]
    first, again, other = inputs_for(0), inputs_for(0), inputs_for(1)
    assert first and len(first) == len(again)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])


def test_resnet18_check_builds_on_meta_for_shapes_and_on_cpu_for_logits():
    """Does check_make_resnet18 build the network once on the meta device (shapes, no weights in memory) and
    once on the CPU (logits), for each public case?"""
    devices = []

    def make(*args, **kwargs):
        model = correct_of("make_resnet18")(*args, **kwargs)
        devices.append({p.device.type for p in model.parameters()})
        return model
    assert check_make_resnet18(make)
    assert devices == [{"meta"}, {"cpu"}] * len(network.resnet18_scenario().cases)


def test_notebook_states_the_shapes_and_count_the_checks_use():
    """Does the exercise text state ResNet-18's per-stage sizes for 224 × 224 and its parameter count (in
    millions) as the formulas give them?"""
    with open(os.path.join(REPO_DIR, "instructor", "04_resnet.py"), encoding="utf-8") as file:
        text = file.read()
    for name, (c, h, w) in shapes_by_table(224, 224).items():
        assert f"{h} × {w} × {c}" in text, name
    assert f"{resnet18_count(1000) / 1e6:.1f} million" in text


# ==========================================================================
# Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def block_kinds(setting):
    cin, cout, stride, h, w = setting
    if (cin, stride) == (cout, 1):
        return ["identity shortcut"]
    return [f"projection for {'a new stride and channel count' if stride != 1 and cin != cout else 'a stride' if stride != 1 else 'a channel count'}"]


def grad_norm_kinds(case):
    net, rest = case.label.split(" (", 1)
    mode, layer = rest.split(" mode), layer ")[0], rest.split("layer ")[1].split(",")[0]
    return [net.split(",")[0], f"{mode} mode", "first layer" if layer == "stem.0" else "inner layer"]


def resnet18_kinds(case):
    return [*case.modes, "1000 classes" if case.kwargs["num_classes"] == 1000 else "another class count"]


def shapes_kinds(case):
    h, w = case.args
    return ["square" if h == w else "wider than high" if w > h else "higher than wide",
            *(["an odd side"] if h % 2 or w % 2 else [])]


@pytest.mark.parametrize("public, hidden, kinds", [
    (resnet_block._BLOCK_SETTINGS, resnet_block._BLOCK_EXTENDED, block_kinds),
    (gradients._grad_cases(0, False), gradients._grad_cases(0, True), grad_norm_kinds),
    (network.resnet18_scenario(False).cases, network.resnet18_scenario(True).cases, resnet18_kinds),
    (shapes._shape_cases(False), shapes._shape_cases(True), shapes_kinds),
], ids=["make_basic_block", "first_layer_grad_norm", "make_resnet18", "resnet18_shapes"])
def test_hidden_cases_add_no_new_kind_of_case(public, hidden, kinds):
    """Does every kind of case of the hidden run (a projection for the channels alone, an inner layer,
    training mode, a map higher than wide, ...) appear among the public cases too?"""
    assert_no_new_kind(public, hidden, kinds)
