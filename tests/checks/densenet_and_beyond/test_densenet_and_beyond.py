"""Proof that the eight checks of notebook 05 (dense layer, dense block, transition, channel count,
DenseNet, squeeze-and-excitation, compound scaling, deformable convolution) work.

A check that was never seen failing is not a check.  This module holds what
is specific to these checks:

* the correct implementations, in several styles, that
  ``test_check_contract.py`` runs on the public and hidden cases (registered
  through ``SPECS`` below, with the generic contract: not attempted, raised,
  cannot be checked, stopped, strict, rendering, guards, determinism);
* a catalogue of plausible wrong implementations fails, each with the
  summary, hint or evidence that names its mistake;
* the references the checks compare with equal numbers computed here
  another way: DenseNet-121's parameter count by a formula from the
  architecture table and from torchvision's model built normally on the CPU;
  the channel counts by c0 + L·k; the SE reference by its formula; the
  compound-scaling FLOP factor by FLOPs measured on a scaled network;
  F.conv2d by deform_conv2d with zero offsets.

The learner implementations live in ``impls.py`` beside this module.  Every expected
number is computed (by a formula, torch, torchvision or a spy on what the
check passed to the learner), never typed in.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from course_utils.checks import (PASSED, RAISED, UNCHECKABLE, check_compound_scaling,
                                 check_deform_conv_zero_offset, check_densenet_channels, check_make_dense_block,
                                 check_make_dense_layer, check_make_densenet, check_make_se_block,
                                 check_make_transition)

from course_utils.checks.densenet_and_beyond import beyond, dense, dense_block
from course_utils.checks.densenet_and_beyond import densenet as densenet_module

from checks.densenet_and_beyond import impls as impl
from checks.helpers import (CheckSpec, assert_hidden_cases_try_more, assert_no_new_kind,  # noqa: F401
                           guards_fixture, one_torch_thread, spy)
from checks.helpers import mistake_case as mistake
from course_utils.checks.engine.weights import describe_layer
from course_utils.checks.messages.densenet_and_beyond import M
from course_utils.train import count_parameters

GUARDED = {"F.conv2d": (F, "conv2d"), "torch.conv2d": (torch, "conv2d"), "torch.convolution": (torch, "convolution")}
# (check, guarded function): test_check_contract.py spies that it is replaced while the learner runs, and only then.
REFERENCES = [("deform_conv_zero_offset", "F.conv2d")]

guards_put_everything_back = guards_fixture(GUARDED)

# ==========================================================================
# The eight checks, side by side
# ==========================================================================

# every argument of every exercise changes a public answer (tests/checks/test_arguments.py); none may be ignored
ARGUMENTS_IGNORABLE: dict = {}

SPECS = {
    "make_dense_layer": CheckSpec(check=check_make_dense_layer, kind="model", hidden_cases=None,
                             correct=[impl.dense_layer_class, impl.dense_layer_sequential,
                                      impl.dense_layer_convs_first],
                             mistake=impl.dense_layer_relu_before_bn),
    "make_dense_block": CheckSpec(check=check_make_dense_block, kind="model", hidden_cases=None,
                             correct=[impl.dense_block_list, impl.dense_block_growing, impl.dense_block_dict],
                             mistake=impl.dense_block_reversed_output),
    "make_transition": CheckSpec(check=check_make_transition, kind="model", hidden_cases=None,
                            correct=[impl.transition_sequential, impl.transition_pool_first,
                                     impl.transition_ordered_dict],
                            mistake=impl.transition_max_pool),
    "densenet_channels": CheckSpec(check=check_densenet_channels, kind="int",
                              correct=[impl.densenet_channels_formula, impl.densenet_channels_loop,
                                       impl.densenet_channels_list],
                              mistake=impl.densenet_channels_geometric),
    "make_densenet": CheckSpec(check=check_make_densenet, kind="model", hidden_cases=None,
                          correct=[impl.densenet_class, impl.densenet_sequential],
                          mistake=impl.densenet_no_compression),
    "make_se_block": CheckSpec(check=check_make_se_block, kind="model", hidden_cases=None,
                          correct=[impl.se_block_linear, impl.se_block_conv, impl.se_block_no_bias],
                          mistake=impl.se_block_no_sigmoid),
    "compound_scaling": CheckSpec(check=check_compound_scaling, kind="floats",
                             correct=[impl.compound_scaling_formula, impl.compound_scaling_exp_log,
                                      impl.compound_scaling_torch],
                             mistake=impl.compound_scaling_linear_flops),
    "deform_conv_zero_offset": CheckSpec(check=check_deform_conv_zero_offset, kind="tensor",
                                    correct=[impl.deform_zero_formula, impl.deform_zero_layer],
                                    mistake=impl.deform_ones, forbidden=impl.deform_calls_conv2d),
}
ALL = list(SPECS)

# check name -> plausible wrong implementations, each failing with the message that names its mistake
# (test_contract.py runs them all); filled below, section 2.
CATALOGUE: dict[str, list] = {}
MODELS = [name for name in ALL if SPECS[name].kind == "model"]


def correct_of(name):
    return SPECS[name].correct[0]


# ==========================================================================
# 1. Hidden cases and seeds
# ==========================================================================

@pytest.mark.parametrize("name", MODELS)
def test_hidden_cases_call_the_learner_on_more_settings(name):
    """Do the hidden cases build the learner's model with settings the public cases never use?"""
    assert_hidden_cases_try_more(SPECS[name].check, correct_of(name))


@pytest.mark.parametrize("name", ["make_dense_layer", "make_dense_block", "make_transition", "make_se_block"])
def test_seed_sets_the_random_inputs(name):
    """Same seed, same inputs; another seed, other inputs?"""
    def inputs_for(seed):
        seen = []

        def make(*args, **kwargs):
            model = correct_of(name)(*args, **kwargs)
            model.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
            return model
        assert SPECS[name].check(make, seed=seed)
        return seen
    first, again, other = inputs_for(0), inputs_for(0), inputs_for(1)
    assert len(first) == len(again) and all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])


# ==========================================================================
# 2. Catalogues of plausible wrong implementations
# ==========================================================================

CATALOGUE["make_dense_layer"] = [
    mistake("notices the 1×1 bottleneck left out", impl.dense_layer_no_bottleneck, "two convolutions"),
    mistake("notices conv → BN → ReLU (post-activation)", impl.dense_layer_post_activation, "pre-activation"),
    mistake("notices ReLU before the batch norm", impl.dense_layer_relu_before_bn, "ReLU comes after the batch norm"),
    mistake("notices the ReLUs missing", impl.dense_layer_no_relus, "The ReLUs are missing"),
    mistake("notices the second ReLU missing", impl.dense_layer_second_relu_missing, "A ReLU is missing"),
    mistake("notices convolutions with bias", impl.dense_layer_with_bias, "bias=False"),
    mistake("notices a bottleneck of k instead of bn_size·k channels", impl.dense_layer_bottleneck_k,
            "bn_size·growth_rate channels"),
    mistake("notices the 3×3 without padding", impl.dense_layer_no_padding, "padding=1"),
    mistake("notices the layer concatenating its own input", impl.dense_layer_returns_concat,
            "the dense block does the concatenation"),
    mistake("asks for the forgotten return", impl.dense_layer_forgets_return, "forget a `return`",
            outcome=UNCHECKABLE),
]


def test_dense_layer_evidence_names_the_first_layer_that_differs():
    """Does a missing bottleneck show, counted in the order forward runs them, the learner's second layer and
    the reference's (the 1×1 bottleneck to bn_size·growth_rate channels), with their weights' shapes?"""
    learner = spy(impl.dense_layer_no_bottleneck)
    result = check_make_dense_layer(learner)
    (cin, k), kwargs = learner.calls[0]
    width = kwargs["bn_size"] * k
    mine = describe_layer(nn.Conv2d(cin, k, 3, padding=1, bias=False))
    theirs = describe_layer(nn.Conv2d(cin, width, 1, bias=False))
    assert result.evidence == [f"layer 2 is {mine}, with weight {(k, cin, 3, 3)}; the reference's is {theirs}, "
                               f"with weight {(width, cin, 1, 1)}"], result.text()
    assert result.hint == M("make_dense_layer.one_conv")


@pytest.mark.parametrize("check, learner, key", [
    (check_make_dense_layer, impl.dense_layer_relu_before_bn, "make_dense_layer.relu_first"),
    (check_make_dense_layer, impl.dense_layer_no_relus, "make_dense_layer.no_relus"),
    (check_make_dense_layer, impl.dense_layer_second_relu_missing, "make_dense_layer.relu_missing"),
    (check_make_dense_layer, impl.dense_layer_no_padding, "make_dense_layer.no_padding"),
    (check_make_dense_layer, impl.dense_layer_returns_concat, "make_dense_layer.returns_concat"),
    (check_make_transition, impl.transition_max_pool, "make_transition.max_pool"),
    (check_make_transition, impl.transition_no_relu, "make_transition.no_relu"),
    (check_make_transition, impl.transition_relu_after_conv, "make_transition.relu_after_conv"),
    (check_make_transition, impl.transition_no_pool, "make_transition.no_pool"),
    (check_make_transition, impl.transition_ceil_mode, "make_transition.ceil_mode"),
    (check_make_transition, impl.transition_adaptive_pool, "make_transition.adaptive_pool"),
    (check_make_transition, impl.transition_strided_conv, "make_transition.strided_conv"),
    (check_make_transition, impl.transition_halves_itself, "make_transition.channels"),
    (check_make_dense_block, impl.dense_block_reversed_output, "make_dense_block.output_order"),
    (check_make_dense_block, impl.dense_block_newest_first_inputs, "make_dense_block.newest_first"),
    (check_make_dense_block, impl.dense_block_geometric, "make_dense_block.geometric"),
    (check_make_densenet, impl.densenet_no_compression, "make_densenet.no_compression"),
    (check_make_densenet, impl.densenet_no_final_norm, "make_densenet.no_final_norm"),
    (check_make_densenet, impl.densenet_no_final_relu, "make_densenet.no_final_relu"),
    (check_make_se_block, impl.se_block_no_sigmoid, "make_se_block.no_sigmoid"),
    (check_make_se_block, impl.se_block_adds, "make_se_block.adds"),
    (check_densenet_channels, impl.densenet_channels_geometric, "densenet_channels.geometric"),
    (check_densenet_channels, impl.densenet_channels_from_first_layer, "densenet_channels.empty_block"),
    (check_compound_scaling, impl.compound_scaling_multiplies, "compound_scaling.linear_phi"),
    (check_deform_conv_zero_offset, impl.deform_ones, "deform_conv_zero_offset.ones"),
    (check_deform_conv_zero_offset, impl.deform_no_bias, "deform_conv_zero_offset.no_bias"),
])
def test_verdict_carries_the_key_of_the_mistake_it_names(check, learner, key):
    """Does the verdict of a wrong implementation whose output equals a known mistake's name it by key, with
    the table's text?"""
    result = check(learner)
    assert result.mistake == key, result.text()
    assert result.hint == M(key)


CATALOGUE["make_dense_block"] = [
    mistake("notices every layer reading the block's input only (ResNet-like)", impl.dense_block_same_input,
            "read the block's input only"),
    mistake("notices a chain of layers", impl.dense_block_chain, "(a chain)"),
    mistake("notices geometric channel growth", impl.dense_block_geometric, "not geometrically"),
    mistake("notices one layer too few", impl.dense_block_one_layer_short, "exactly num_layers"),
    mistake("notices layers kept in a plain Python list", impl.dense_block_python_list, "nn.ModuleList"),
    mistake("notices the last layer's maps returned alone", impl.dense_block_last_only, "not the last layer's"),
    mistake("notices the block's input dropped from the output", impl.dense_block_without_input,
            "Keep the block's input"),
    mistake("notices the output concatenated newest first", impl.dense_block_reversed_output,
            "[input, layer 1, …, layer L]"),
    mistake("notices each layer reading the maps newest first", impl.dense_block_newest_first_inputs,
            "keep one list, append"),
    mistake("shows the course layer's message for a list instead of a tensor", impl.dense_block_passes_a_list,
            "torch.cat(features, dim=1)", field="evidence", outcome=RAISED),
]


def test_dense_block_evidence_shows_the_calls_and_the_linear_formula():
    """Does a wrong channel count show make_layer's calls and the expected c0 + i·k, computed here?"""
    learner = spy(impl.dense_block_geometric)
    result = check_make_dense_block(learner)
    (layers, cin, k), _ = learner.calls[0]
    got = [(cin * 2 ** i, k) for i in range(layers)]
    want = [(cin + i * k, k) for i in range(layers)]
    assert result.evidence == [f"make_layer(in_channels, growth_rate) calls: {got}; expected {want}"]


def test_dense_block_reference_layers_hold_the_blocks_parameters():
    """Is a correct block's parameter count the sum of torchvision dense layers of the same widths (bn_size 4)?"""
    from torchvision.models.densenet import _DenseLayer
    made = []

    def make_layer(cin, k):
        made.append((cin, k))
        return _DenseLayer(cin, k, 4, 0.0)
    block = impl.dense_block_list(4, 6, 4, make_layer)
    assert made == [(6 + i * 4, 4) for i in range(4)]
    assert count_parameters(block) == sum(count_parameters(_DenseLayer(c, k, 4, 0.0)) for c, k in made)


CATALOGUE["make_transition"] = [
    mistake("notices max pooling", impl.transition_max_pool, "not max pooling"),
    mistake("notices the notes' transition without ReLU", impl.transition_no_relu, "The ReLU is missing"),
    mistake("notices the ReLU after the convolution", impl.transition_relu_after_conv, "ReLU comes before"),
    mistake("notices the batch norm missing", impl.transition_no_norm, "starts with BatchNorm2d"),
    mistake("notices a 3×3 convolution", impl.transition_3x3, "is 1×1"),
    mistake("notices a convolution with bias", impl.transition_with_bias, "no bias"),
    mistake("notices the pooling missing", impl.transition_no_pool, "halves H and W"),
    mistake("notices ceil_mode on odd sizes", impl.transition_ceil_mode, "drops an odd last row"),
    mistake("notices an adaptive pool (overlapping windows on odd sizes)", impl.transition_adaptive_pool,
            "overlapping windows"),
    mistake("notices a strided 1×1 conv instead of pooling", impl.transition_strided_conv,
            M("make_transition.strided_conv")),
    mistake("notices out_channels ignored for in_channels // 2, on a public case with another out_channels",
            impl.transition_halves_itself, "maps in_channels to out_channels"),
]


def test_transition_cases_include_odd_sizes():
    """Do the transition cases use odd heights or widths (where 2×2 pooling drops a row or column)?"""
    shapes = []

    def make(cin, cout):
        model = impl.transition_sequential(cin, cout)
        model.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape[2:])))
        return model
    assert check_make_transition(make)
    assert any(h % 2 or w % 2 for h, w in shapes) and any(h != w for h, w in shapes)


CATALOGUE["densenet_channels"] = [
    mistake("names the notes' geometric growth", impl.densenet_channels_geometric, "not geometrically"),
    mistake("notices the block's input forgotten", impl.densenet_channels_no_input, "not L·k"),
    mistake("notices one layer's growth only", impl.densenet_channels_one_layer, "Every one of the L layers"),
    mistake("notices L − 1 layers", impl.densenet_channels_off_by_one, "(not L − 1)"),
    mistake("notices a product", impl.densenet_channels_product, "a sum, not a product"),
    mistake("notices a float", impl.densenet_channels_float, "whole numbers"),
    mistake("notices a count that starts after the first layer, on a public block of no layer",
            impl.densenet_channels_from_first_layer, "A block of no layer adds nothing"),
]


def test_densenet_channels_expected_is_the_linear_formula():
    """On every hidden case, is the number the check expects c0 + L·k?"""
    recorded = spy(impl.densenet_channels_formula)
    assert check_densenet_channels(recorded, extended=True)
    for (c0, layers, k), _ in recorded.calls:
        def wrong_here(a, b, c, target=(c0, layers, k)):
            return a + b * c + (1 if (a, b, c) == target else 0)
        result = check_densenet_channels(wrong_here, extended=True)
        assert result.evidence == [f"expected {c0 + layers * k}, got {c0 + layers * k + 1}"], result.text()


CATALOGUE["make_densenet"] = [
    mistake("notices transitions that keep the channel count", impl.densenet_no_compression, "halves the channels"),
    mistake("notices a transition after the last block", impl.densenet_last_transition, "No transition after"),
    mistake("notices a channel count never updated", impl.densenet_stale_channels, "Keep track of the channels"),
    mistake("notices the final batch norm missing", impl.densenet_no_final_norm, "final BatchNorm2d"),
    mistake("notices the final ReLU missing (by value)", impl.densenet_no_final_relu, "A ReLU follows the final"),
    mistake("notices the stem's max pool missing (FLOPs)", impl.densenet_no_stem_pool, "max pool"),
    mistake("notices a bias in the stem convolution", impl.densenet_stem_bias, "bias=False"),
    mistake("notices an average pool in the stem (by value)", impl.densenet_stem_avg_pool, "max pool"),
    mistake("notices num_classes ignored", impl.densenet_ignores_num_classes, "wrong shape", field="summary"),
    mistake("notices num_init_features ignored for the papers' 2 × growth_rate (public: a stem of 20, k = 12)",
            impl.densenet_stem_from_growth, "the first block reads num_init_features"),
    mistake("notices the factories ignored", impl.densenet_ignores_factories, "`make_block` argument"),
    mistake("asks for the forgotten return", impl.densenet_forgets_return, "forget a `return`",
            outcome=UNCHECKABLE),
]


CATALOGUE["make_se_block"] = [
    mistake("notices the sigmoid missing", impl.se_block_no_sigmoid, "ends with a sigmoid"),
    mistake("notices a softmax instead of a sigmoid", impl.se_block_softmax, "not a softmax"),
    mistake("notices a max-pool squeeze", impl.se_block_max_squeeze, "not max pooling"),
    mistake("notices the inner ReLU missing", impl.se_block_no_inner_relu, "between the two dense layers"),
    mistake("notices the weights returned instead of x·s", impl.se_block_returns_scale, "not the weights s"),
    mistake("notices x + s", impl.se_block_adds, "do not add"),
    mistake("notices x *= s (the caller's tensor changed)", impl.se_block_in_place, "in place", field="summary"),
    mistake("notices one dense layer", impl.se_block_no_reduction, "two dense layers"),
    mistake("notices C / r rounded to the nearest (22 / 8 = 2.75 gives 3, not C // r = 2)",
            impl.se_block_round_bottleneck, "C // reduction"),
    mistake("notices no bottleneck (C → C → C)", impl.se_block_reduction_times, "C // reduction channels"),
    mistake("fails, in public, the pooled map squeezed (which drops the batch axis of a batch of one)",
            impl.se_block_squeezes_batch, "on x of shape (1, ", field="case", outcome=RAISED),
]


CATALOGUE["compound_scaling"] = [
    mistake("notices φ as a factor", impl.compound_scaling_multiplies, "φ is an exponent"),
    mistake("notices FLOPs without the squares", impl.compound_scaling_linear_flops, "width squared"),
    mistake("notices FLOPs as 2^φ", impl.compound_scaling_two_to_phi, "only about 2"),
    mistake("notices width and resolution swapped", impl.compound_scaling_swapped, "β width and γ resolution"),
    mistake("asks for four numbers", impl.compound_scaling_three_numbers, "four numbers", field="summary",
            outcome=UNCHECKABLE),
    mistake("notices the coefficients ignored", impl.compound_scaling_ignores_arguments, "alpha, beta and gamma"),
]


CATALOGUE["deform_conv_zero_offset"] = [
    mistake("notices offsets of ones", impl.deform_ones, "Offsets of zero"),
    mistake("notices a mask of zeros", impl.deform_zero_mask, "mask of zeros"),
    mistake("notices the bias not passed on", impl.deform_no_bias, "Pass the bias"),
    mistake("explains input-sized offsets", impl.deform_input_sized_offsets, "*output* position", outcome=RAISED),
    mistake("explains offsets sized without the dilation", impl.deform_without_dilation, "H_out =", outcome=RAISED),
    mistake("explains (W_out, H_out) offsets", impl.deform_swapped_sizes, "(N, 2·kh·kw, H_out, W_out)",
            outcome=RAISED),
    mistake("explains 2·k·k offsets for a non-square kernel", impl.deform_square_kernel, "2·kh·kw",
            outcome=RAISED),
    mistake("explains one offset channel per tap", impl.deform_one_offset_per_tap, "(dy, dx)", outcome=RAISED),
    mistake("asks for stride, padding and dilation when the offset is right", impl.deform_settings_not_passed,
            "Pass stride, padding and dilation on to deform_conv2d", outcome=RAISED),
    mistake("refuses F.conv2d", impl.deform_calls_conv2d, "torchvision.ops.deform_conv2d"),
]


def test_deform_cases_cover_stride_padding_dilation_and_non_square():
    """Do the public cases use stride > 1, padding, dilation > 1, a non-square map and a non-square kernel?"""
    learner = spy(impl.deform_zero_formula)
    assert check_deform_conv_zero_offset(learner)
    settings = [(x.shape, weight.shape, kwargs) for (x, weight), kwargs in learner.calls]
    assert any(x[2] != x[3] for x, _, _ in settings)
    assert any(w[2] != w[3] for _, w, _ in settings)
    assert any(kw["stride"] not in (1, (1, 1)) for _, _, kw in settings)
    assert any(kw["dilation"] not in (1, (1, 1)) for _, _, kw in settings)
    assert any(kw["padding"] not in (0, (0, 0)) for _, _, kw in settings)


# ==========================================================================
# 3. Independence: the references equal numbers computed another way
# ==========================================================================

def conv_count(c_in, c_out, k):
    return k * k * c_in * c_out  # DenseNet's convolutions have no bias


def densenet_count(growth, config, init, classes, bn_size=4):
    """Parameters of a DenseNet from its architecture table (Huang et al., 2017, Table 1)."""
    total = conv_count(3, init, 7) + 2 * init           # stem conv and its batch norm (weight, bias)
    c = init
    for i, layers in enumerate(config):
        for j in range(layers):
            cin = c + j * growth
            total += 2 * cin + conv_count(cin, bn_size * growth, 1) + 2 * bn_size * growth + \
                conv_count(bn_size * growth, growth, 3)
        c += layers * growth
        if i < len(config) - 1:
            total += 2 * c + conv_count(c, c // 2, 1)
            c //= 2
    return total + 2 * c + c * classes + classes       # final batch norm, classifier


def test_densenet121_reference_equals_cpu_model_and_formula():
    """Is the count in check_make_densenet's verdict that of torchvision's densenet121 built normally on the CPU,
    and of the formula from the architecture table?"""
    cpu = count_parameters(torchvision.models.densenet121(weights=None))
    assert cpu == densenet_count(32, (6, 12, 24, 16), 64, 1000)
    assert f"({cpu:,} for DenseNet-121)" in check_make_densenet(impl.densenet_class).summary


def test_densenet_parameter_error_shows_both_counts_from_the_formula():
    """Does a missing final batch norm show torchvision's count and the learner's, both as the formula gives?"""
    result = check_make_densenet(impl.densenet_no_final_norm)
    want = densenet_count(32, (6, 12, 24, 16), 64, 1000)
    final = 64
    for i, layers in enumerate((6, 12, 24, 16)):
        final += layers * 32
        final = final // 2 if i < 3 else final
    assert result.evidence == [f"expected {want:,} parameters, got {want - 2 * final:,}"]


def test_densenet_channel_trace_equals_the_linear_formula():
    """Are the block calls the check expects for DenseNet-121 the channel counts c0 + L·k, halved by transitions?"""
    result = check_make_densenet(impl.densenet_stale_channels)
    c, want = 64, []
    for layers in (6, 12, 24, 16):
        want.append((layers, c, 32))
        c = (c + layers * 32) // 2
    assert result.evidence[0].endswith(f"expected {want}")


def test_densenet_value_comparison_builds_real_models():
    """Is the learner's small DenseNet also built on the CPU (compared by value), DenseNet-121 on the meta device?"""
    devices = {}

    def make(*args, **kwargs):
        model = impl.densenet_class(*args, **kwargs)
        devices.setdefault(kwargs["growth_rate"], set()).update(p.device.type for p in model.parameters())
        return model
    assert check_make_densenet(make)
    assert devices[32] == {"meta"} and devices[12] == {"meta", "cpu"}


def test_se_reference_equals_the_formula():
    """Does torchvision.ops.SqueezeExcitation compute x · sigmoid(W2 · ReLU(W1 · mean(x) + b1) + b2)?"""
    g = torch.Generator().manual_seed(0)
    se = torchvision.ops.SqueezeExcitation(12, 3)
    x = torch.randn(2, 12, 5, 4, generator=g)
    w1, b1, w2, b2 = se.fc1.weight.flatten(1), se.fc1.bias, se.fc2.weight.flatten(1), se.fc2.bias
    s = torch.sigmoid(torch.relu(x.mean(dim=(2, 3)) @ w1.T + b1) @ w2.T + b2)
    torch.testing.assert_close(se(x), x * s[:, :, None, None])


def test_se_block_without_bias_passes():
    """Does an SE block with bias-free dense layers (the paper's W1, W2) pass, its reference biases zeroed?"""
    result = check_make_se_block(impl.se_block_no_bias, extended=True, seed=7)
    assert result.outcome == PASSED, result.text()


def test_compound_scaling_flop_factor_equals_measured_flops():
    """Does the FLOP factor the check expects equal FLOPs measured on a network scaled by its multipliers?

    Coefficients chosen so that the scaled depth, width and resolution are whole numbers."""
    from torch.utils.flop_counter import FlopCounterMode
    alpha, beta, gamma, phi = 2.0, 1.5, 1.25, 2

    def flops(depth, width, size):
        with torch.device("meta"):
            net = nn.Sequential(*[nn.Conv2d(width, width, 3, padding=1, bias=False) for _ in range(depth)])
            with FlopCounterMode(display=False) as counter:
                net(torch.empty(1, width, size, size))
        return counter.get_total_flops()
    d, w, r = (round(c ** phi, 9) for c in (alpha, beta, gamma))
    base = (1, 4, 16)
    measured = flops(int(base[0] * d), int(base[1] * w), int(base[2] * r)) / flops(*base)
    assert all(float(v).is_integer() for v in (base[0] * d, base[1] * w, base[2] * r))

    def wrong_flops(p, alpha=1.2, beta=1.1, gamma=1.15):
        return (*impl.compound_scaling_formula(p, alpha, beta, gamma)[:3], 0.0)
    answer = impl.compound_scaling_formula(phi, alpha, beta, gamma)
    assert math.isclose(answer[3], measured)
    # and the check expects exactly that formula: a learner off in the FLOP factor only is told so
    result = check_compound_scaling(wrong_flops)
    assert result.case.endswith("comparing FLOP factor")


def test_deform_zero_offsets_equal_conv2d_on_every_case():
    """Is the check's reference, F.conv2d, what deform_conv2d with zero offsets gives on every hidden case?"""
    learner = spy(impl.deform_zero_formula)
    assert check_deform_conv_zero_offset(learner, extended=True)
    for (x, weight), kwargs in learner.calls:
        torch.testing.assert_close(impl.deform_zero_formula(x, weight, **kwargs),
                                   F.conv2d(x, weight, kwargs["bias"], kwargs["stride"], kwargs["padding"],
                                            kwargs["dilation"]), atol=1e-4, rtol=1e-4)


def test_notebook_does_not_type_the_densenet121_count():
    """Does the notebook compute DenseNet-121's parameter count rather than type it?"""
    import os
    from course_grader.build import ROOT
    with open(os.path.join(ROOT, "instructor", "05_densenet_and_beyond.py"), encoding="utf-8") as file:
        text = file.read()
    count = densenet_count(32, (6, 12, 24, 16), 64, 1000)
    assert f"{count:,}" not in text and str(count) not in text


# ==========================================================================
# 4. Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _map_kinds(h, w):
    return [kind for kind, present in [("an odd side", h % 2 or w % 2), ("non-square", h != w)] if present]


def dense_layer_kinds(spec):
    cin, k, bn_size, n, h, w = spec
    return ["the default bn_size 4" if bn_size == 4 else "another bn_size", *_map_kinds(h, w)]


def dense_block_kinds(spec):
    layers, cin, k, n, h, w = spec
    return ["several layers" if layers > 1 else "one layer", *_map_kinds(h, w),
            *(["in_channels ≠ growth_rate"] if cin != k else [])]


def transition_kinds(spec):
    cin, cout, n, h, w = spec
    return ["out_channels = in_channels // 2" if cout == cin // 2 else "another out_channels", *_map_kinds(h, w)]


def densenet_channels_kinds(case):
    c0, layers, k = case.args
    return ["no layer" if layers == 0 else "one layer" if layers == 1 else "several layers"]


def densenet_kinds(spec):
    name, growth, config, init, classes = spec
    return ["a torchvision DenseNet on the meta device" if name else "a small DenseNet by value",
            *(["a block count other than four"] if len(config) != 4 else [])]


def se_kinds(spec):
    channels, reduction, n, h, w = spec
    return ["the default reduction 16" if reduction == 16 else "another reduction", *_map_kinds(h, w),
            *[kind for kind, present in [("C not a multiple of the reduction", channels % reduction),
                                         ("a batch of one", n == 1)] if present]]


def scaling_kinds(case):
    phi = case.args[0]
    return ["φ = 0" if phi == 0 else "negative φ" if phi < 0 else "fractional φ" if phi != int(phi) else
            "φ = 1" if phi == 1 else "integer φ > 1",
            "other coefficients" if case.kwargs else "the default coefficients"]


def deform_kinds(spec):
    n, cin, h, w, cout, kh, kw, stride, padding, dilation, bias = spec
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    return [kind for kind, present in [("stride", (sh, sw) != (1, 1)), ("padding", (ph, pw) != (0, 0)),
                                       ("dilation", (dh, dw) != (1, 1)), ("no bias", not bias),
                                       ("settings differ along H and W", sh != sw or ph != pw or dh != dw),
                                       ("non-square kernel", kh != kw), ("1×1 kernel", (kh, kw) == (1, 1)),
                                       ("one input channel", cin == 1), ("H ≠ W", h != w)] if present]


@pytest.mark.parametrize("public, hidden, kinds", [
    (dense._DENSE_LAYER_SPECS, dense._DENSE_LAYER_EXTENDED, dense_layer_kinds),
    (dense_block._DENSE_BLOCK_SPECS, dense_block._DENSE_BLOCK_EXTENDED, dense_block_kinds),
    (dense._TRANSITION_SPECS, dense._TRANSITION_EXTENDED, transition_kinds),
    (dense._densenet_channel_cases(False), dense._densenet_channel_cases(True), densenet_channels_kinds),
    (densenet_module._DENSENET_SPECS, densenet_module._DENSENET_EXTENDED, densenet_kinds),
    (beyond._SE_SPECS, beyond._SE_EXTENDED, se_kinds),
    (beyond._scaling_cases(False), beyond._scaling_cases(True), scaling_kinds),
    (beyond._DEFORM_SPECS, beyond._DEFORM_EXTENDED, deform_kinds),
], ids=["make_dense_layer", "make_dense_block", "make_transition", "densenet_channels", "make_densenet",
        "make_se_block", "compound_scaling", "deform_conv_zero_offset"])
def test_hidden_cases_add_no_new_kind_of_case(public, hidden, kinds):
    """Does every kind of case of the hidden run (an out_channels other than in_channels // 2, a block of no
    layer, a batch of one for the SE block, φ = 0 and negative φ, a 1×1 kernel on one input channel, ...) appear
    among the public cases too?"""
    assert_no_new_kind(public, hidden, kinds)
