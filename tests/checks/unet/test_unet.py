"""Proof that the three checks of notebook 07 (match_size, make_unet, unet_output_size) work.

* correct implementations, in several styles, are registered in ``SPECS`` for
  the generic contract (``tests/checks/test_contract.py``);
* ``CATALOGUE``: plausible wrong implementations fail, each with the message
  naming its mistake (run by the contract's generic catalogue test), and
  ``KEYS``: the verdict names each known mistake by its message key;
* the references the checks compare with equal numbers computed here another
  way: ``match_size``'s expected tensors equal ``F.pad`` and torchvision's
  ``center_crop`` where they agree with the stated convention; the parameter
  formula equals the count of models built here, layer by layer, for the
  paper's configuration too (and a per-layer sum written from the paper's
  figure); the valid U-Net's output sizes equal the paper's 572 → 388 and a
  layer-by-layer size formula.

Every expected number is computed, never typed.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils.checks import (INCORRECT, PASSED, RAISED, check_make_unet, check_match_size,
                                 check_unet_output_size)
from course_utils.checks.engine import answered
from course_utils.checks.messages.unet import M
from course_utils.checks.unet import match_size as match_module, network, output_size, reference

from checks.unet import impls as impl
from checks.helpers import (CheckSpec, assert_hidden_cases_try_more, assert_no_new_kind, mistake_case,  # noqa: F401
                           one_torch_thread, spy)
from course_utils.train import count_parameters

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

SPECS = {
    "match_size": CheckSpec(check=check_match_size, kind="tensor",
                       correct=[impl.match_pad, impl.match_slices, impl.match_crop_then_pad],
                       mistake=impl.match_ceil),
    # Parameter counts are compared before any forward, so a stand-in model is 'not yet correct' there.
    "make_unet": CheckSpec(check=check_make_unet, kind="model",
                      correct=[impl.unet_lists, impl.unet_up_then_skip, impl.unet_interpolates_to_skip,
                               impl.unet_recursive, impl.UNetLists],
                      mistake=impl.unet_no_skip, stand_in_models=False, hidden_cases=None),
    "unet_output_size": CheckSpec(check=check_unet_output_size, kind="int",
                             correct=[impl.output_size_loop, impl.output_size_layers, impl.output_size_meta],
                             mistake=impl.output_size_one_conv),
}
ALL = list(SPECS)
# Arguments a learner may ignore and still pass the public check (test_arguments.py proves that every other
# argument of every exercise here changes a public answer): `match`, the check's own match_size passed in so
# that the network is judged alone — a network that calls the learner's own correct one computes the same.
ARGUMENTS_IGNORABLE = {"make_unet": {"match": "the check's own match_size, passed in"}}


# ==========================================================================
# 1. Hidden cases try what the public ones do not
# ==========================================================================

@pytest.mark.parametrize("name", ALL)
def test_hidden_cases_call_the_learner_on_more_settings(name):
    """Do the hidden cases call the learner with settings the public cases never use?"""
    assert_hidden_cases_try_more(SPECS[name].check, SPECS[name].correct[0])


def test_match_size_cases_cover_odd_pads_and_crops_on_both_axes():
    """Do the public cases of check_match_size pad and crop by odd and even amounts, on each axis, with
    `size` given as a tuple and as a torch.Size?"""
    diffs, kinds = set(), set()
    for case in match_module._match_cases(0, extended=False):
        x, size = case.args
        kinds.add(type(size))
        for axis in (0, 1):
            d = size[axis] - x.shape[2 + axis]
            diffs.add((axis, "pad" if d > 0 else "crop" if d < 0 else "same", "odd" if d % 2 else "even"))
    for axis in (0, 1):
        for kind in ("pad", "crop"):
            assert (axis, kind, "odd") in diffs, (axis, kind)
    assert kinds == {tuple, torch.Size}


def test_make_unet_check_passes_its_own_match():
    """Does check_make_unet build the learner's network with its own `match` (so that a stub in
    match_size costs nothing here)?"""
    learner = spy(impl.unet_lists)
    assert check_make_unet(learner)
    assert {kwargs["match"] for _, kwargs in learner.calls} == {match_module.reference_match}


def test_make_unet_passes_with_a_stub_match_size_in_the_notebook():
    """Does a network whose default `match` is the untouched stub still pass (the check never calls it)?"""
    def stub_match(x, size):
        raise NotImplementedError()

    def make(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=stub_match):
        return impl.UNetLists(in_channels, num_classes, depth, base_channels, batch_norm, match)
    assert check_make_unet(make).outcome == PASSED


# ==========================================================================
# 2. Catalogues of plausible wrong implementations
# ==========================================================================

HINTS = {key: M(key) for key in network.COUNT_MISTAKES}

# check name -> its plausible wrong implementations, each with the message that names its mistake; run by
# test_contract.py's generic catalogue test.  KEYS below: the known mistake each verdict names, by key.
CATALOGUE = {
    "match_size": [
        mistake_case("Does check_match_size notice the extra row put before (rounded up)?", impl.match_ceil,
                     "not rounded up"),
        mistake_case("Does it notice everything padded at the bottom and right?", impl.match_top_left,
                     "not only at the bottom and right"),
        mistake_case("Does it notice int(d / 2), wrong on odd crops only?", impl.match_truncate, "rounds toward zero"),
        mistake_case("Does it notice a resize instead of a pad?", impl.match_interpolate, "do not resize"),
        mistake_case("Does it notice F.pad's pairs in the wrong order?", impl.match_pad_order_swapped,
                     "starts with the last dimension"),
        mistake_case("Does it notice a crop done as a pad by |d|?", impl.match_pad_abs, "do not pad by |d|"),
        mistake_case("Does it notice crops never done?", impl.match_pad_only, "crop it"),
        mistake_case("Does it notice border replication instead of zeros?", impl.match_replicate, "Pad with zeros"),
        mistake_case("Does it notice the input returned unchanged?", impl.match_returns_input, "F.pad(x, [dw // 2"),
    ],
    "make_unet": [
        mistake_case("Does check_make_unet explain the 7 → 3 → 6 problem to a network that ignores odd sizes?",
                     impl.unet_ignores_odd_sizes, "7 → 3 → 6", outcome=RAISED),
        mistake_case("Does it notice the skip connections left out?", impl.unet_no_skip, HINTS["make_unet.no_skip"]),
        mistake_case("Does it notice skips added instead of concatenated?", impl.unet_adds_skip, "concatenated"),
        mistake_case("Does it notice the upsampled map concatenated with itself?", impl.unet_cat_with_itself,
                     "concatenates a map with itself", field="summary"),
        mistake_case("Does it notice an up-convolution that keeps the channels?", impl.unet_up_keeps_channels,
                     HINTS["make_unet.up_keeps_channels"]),
        mistake_case("Does it notice interpolation instead of the up-convolution?", impl.unet_interpolate_up,
                     HINTS["make_unet.interpolate_up"]),
        mistake_case("Does it notice a 3 × 3 up-convolution?", impl.unet_up_conv_3x3, HINTS["make_unet.up_conv_3x3"]),
        mistake_case("Does it notice biases before batch norm?", impl.unet_bias_with_bn,
                     HINTS["make_unet.bias_with_bn"]),
        mistake_case("Does it notice batch_norm ignored?", impl.unet_ignores_batch_norm,
                     HINTS["make_unet.ignores_batch_norm"]),
        mistake_case("Does it notice one convolution per level?", impl.unet_one_conv_per_level,
                     HINTS["make_unet.one_conv_per_level"]),
        mistake_case("Does it notice a 3 × 3 head?", impl.unet_head_3x3, HINTS["make_unet.head_3x3"]),
        mistake_case("Does it notice the skip cropped to the upsampled map (the output shrinks)?",
                     impl.unet_crops_skip, "not the skip to the upsampled map's"),
        mistake_case("Does it explain unpadded convolutions that shrink the map to nothing?", impl.unet_no_padding,
                     "`padding=1`", outcome=RAISED),
        mistake_case("Does it notice `depth` ignored?", impl.unet_fixed_depth, "Build `depth` levels"),
        mistake_case("Does it notice a softmax at the end (the outputs are compared by value)?",
                     impl.unet_returns_softmax, "no softmax"),
    ],
    "unet_output_size": [
        mistake_case("Does check_unet_output_size notice one convolution counted per level?",
                     impl.output_size_one_conv, "each level's pair removes 4"),
        mistake_case("Does it notice padded convolutions?", impl.output_size_padded, "unpadded (valid)"),
        mistake_case("Does it notice pooling rounded up?", impl.output_size_ceil, "floors odd sizes"),
        mistake_case("Does it notice true division?", impl.output_size_true_division, "whole numbers"),
        mistake_case("Does it notice the bottom's convolutions forgotten?", impl.output_size_no_bottom,
                     "The bottom of the U"),
        mistake_case("Does it notice the decoder's convolutions forgotten?", impl.output_size_no_decoder_convs,
                     "subtract 4 after doubling"),
        mistake_case("Does it notice one pooling too many?", impl.output_size_extra_level, "counts the poolings"),
    ],
}

# (check, wrong implementation, the key of the known mistake its verdict must name)
KEYS = [
    (check_match_size, impl.match_ceil, "match_size.ceil"),
    (check_match_size, impl.match_top_left, "match_size.top_left"),
    (check_match_size, impl.match_truncate, "match_size.truncate"),
    (check_match_size, impl.match_interpolate, "match_size.resized"),
    (check_match_size, impl.match_pad_order_swapped, "match_size.pad_order"),
    (check_match_size, impl.match_pad_abs, "match_size.pads_by_abs"),
    (check_match_size, impl.match_pad_only, "match_size.never_crops"),
    (check_match_size, impl.match_replicate, "match_size.replicate"),
    (check_make_unet, impl.unet_no_skip, "make_unet.no_skip"),
    (check_make_unet, impl.unet_adds_skip, "make_unet.no_skip"),
    (check_make_unet, impl.unet_cat_with_itself, "make_unet.cat_with_itself"),
    (check_make_unet, impl.unet_up_keeps_channels, "make_unet.up_keeps_channels"),
    (check_make_unet, impl.unet_interpolate_up, "make_unet.interpolate_up"),
    (check_make_unet, impl.unet_up_conv_3x3, "make_unet.up_conv_3x3"),
    (check_make_unet, impl.unet_bias_with_bn, "make_unet.bias_with_bn"),
    (check_make_unet, impl.unet_ignores_batch_norm, "make_unet.ignores_batch_norm"),
    (check_make_unet, impl.unet_one_conv_per_level, "make_unet.one_conv_per_level"),
    (check_make_unet, impl.unet_head_3x3, "make_unet.head_3x3"),
    (check_make_unet, impl.unet_fixed_depth, "make_unet.wrong_depth"),
    (check_make_unet, impl.unet_returns_softmax, "make_unet.softmax"),
    (check_unet_output_size, impl.output_size_one_conv, "unet_output_size.one_conv"),
    (check_unet_output_size, impl.output_size_padded, "unet_output_size.padded"),
    (check_unet_output_size, impl.output_size_ceil, "unet_output_size.ceil"),
    (check_unet_output_size, impl.output_size_no_bottom, "unet_output_size.no_bottom"),
    (check_unet_output_size, impl.output_size_no_decoder_convs, "unet_output_size.no_decoder_convs"),
    (check_unet_output_size, impl.output_size_extra_level, "unet_output_size.extra_level"),
]


@pytest.mark.parametrize("check, learner, key", KEYS, ids=[f"{learner.__name__}-{key}" for _, learner, key in KEYS])
def test_verdict_names_the_known_mistake_by_key(check, learner, key):
    """Does the verdict name each wrong implementation's known mistake by its key in notebook 07's message table?"""
    result = check(learner)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake == key, result.text()
    assert key in M.keys()


def test_a_softmax_at_the_end_is_named_by_value():
    """Does check_make_unet, which compares outputs by value, fail probabilities instead of logits (they have the
    logits' shape, so the old shape-only check passed them) and say to leave the softmax out?"""
    result = check_make_unet(impl.unet_returns_softmax)
    assert result.outcome == INCORRECT, result.text()
    assert result.summary == "the output values are wrong."
    assert result.hint == M("make_unet.softmax")


@pytest.mark.parametrize("mode", ["eval", "training"])
def test_make_unet_compares_values_in_both_modes(mode):
    """Does check_make_unet compare outputs by value with the reference's weights loaded, in eval and in training
    mode: does a head that adds 0.01 in one mode only (every count, size and concatenation right) fail there?"""
    def shifted(*args, **kwargs):
        model = impl.unet_lists(*args, **kwargs)
        head = model.head.forward
        model.head.forward = lambda x: head(x) + 0.01 if model.training == (mode == "training") else head(x)
        return model
    result = check_make_unet(shifted)
    assert result.outcome == INCORRECT, result.text()
    assert result.summary == "the output values are wrong."
    assert f"{mode} mode" in result.case
    assert result.mistake is None and result.hint == M("make_unet.general")


def test_the_other_concatenation_order_is_an_equivalent_not_a_mistake():
    """Does check_make_unet pass torch.cat([up, skip]) — the same network with the decoder's weights read in the
    other order — by value, while the reference concatenates [skip, up]?"""
    assert reference.reference_unet_class()(3, 4, 2, 4, True).skip_first
    result = check_make_unet(impl.unet_up_then_skip)
    assert result.outcome == PASSED, result.text()
    assert "The outputs equal the reference U-Net's" in result.summary


def test_odd_size_failure_names_the_sizes_torch_saw():
    """Does the 7 → 3 → 6 failure show torch's own message with the two sizes and the learner's line?"""
    result = check_make_unet(impl.unet_ignores_odd_sizes)
    assert result.evidence[0].startswith("RuntimeError: Sizes of tensors must match except in dimension 1")
    assert "torch.cat" in result.evidence[1]
    assert "(2, 3, 7, 7)" in result.case


# ==========================================================================
# 3. Independence: the references equal numbers computed another way
# ==========================================================================

@pytest.mark.parametrize("extended", [False, True])
def test_match_references_equal_f_pad_and_center_crop(extended):
    """Is every expected tensor of check_match_size what `F.pad` with ⌊d/2⌋ before gives, and, where torchvision's
    center_crop follows the same convention (pads; even crops), what center_crop gives?"""
    from torchvision.transforms.functional import center_crop
    for case in match_module._match_cases(3, extended):
        x, size = case.args
        dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
        torch.testing.assert_close(case.expected, F.pad(x, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2]))
        if all(d >= 0 or d % 2 == 0 for d in (dh, dw)):
            torch.testing.assert_close(case.expected, center_crop(x, list(size)))


def build_unet_by_hand(in_channels, num_classes, depth, base, batch_norm):
    """The U-Net of the exercise text, written out as a flat list of layers (no forward needed)."""
    layers = []

    def conv3(a, b):
        if batch_norm:
            layers.extend([nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b)])
        else:
            layers.append(nn.Conv2d(a, b, 3, padding=1))

    c = in_channels
    for i in range(depth + 1):
        conv3(c, base * 2 ** i)
        conv3(base * 2 ** i, base * 2 ** i)
        c = base * 2 ** i
    for i in reversed(range(depth)):
        layers.append(nn.ConvTranspose2d(base * 2 ** (i + 1), base * 2 ** i, 2, stride=2))
        conv3(2 * base * 2 ** i, base * 2 ** i)
        conv3(base * 2 ** i, base * 2 ** i)
    layers.append(nn.Conv2d(base, num_classes, 1))
    return nn.ModuleList(layers)


@pytest.mark.parametrize("config", network._COUNT_PUBLIC + network._COUNT_EXTENDED)
def test_parameter_formula_equals_models_built_here(config):
    """Does unet_parameter_count equal the count of the layers written out by hand, and of the correct learner
    networks, for every configuration the check uses?"""
    with torch.device("meta"):
        by_hand = count_parameters(build_unet_by_hand(*config))
        lists = count_parameters(impl.unet_lists(*config[:2], depth=config[2], base_channels=config[3],
                                                 batch_norm=config[4]))
        recursive = count_parameters(impl.unet_recursive(*config[:2], depth=config[2], base_channels=config[3],
                                                         batch_norm=config[4]))
    assert network.unet_parameter_count(*config) == by_hand == lists == recursive


def test_the_papers_configuration_by_the_figure():
    """Does the formula give, for the paper's U-Net (1 input channel, 2 classes, 64 … 1024 channels), the sum
    read off the paper's Fig. 1: 3×3 convs with bias, 2×2 up-convs halving the channels, a 1×1 head?"""
    widths = [64, 128, 256, 512, 1024]
    convs = [(1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512),
             (512, 1024), (1024, 1024)]
    convs += [(2 * c, c) for c in reversed(widths[:-1])] + [(c, c) for c in widths[:-1]]
    total = sum(9 * a * b + b for a, b in convs)
    total += sum(4 * widths[i + 1] * widths[i] + widths[i] for i in range(4))
    total += 64 * 2 + 2
    assert network.unet_parameter_count(1, 2, 4, 64, False) == total


@pytest.mark.parametrize("variant", network.COUNT_MISTAKES)
def test_each_predicted_count_mistake_is_what_a_wrong_network_has(variant):
    """Does each mistake the count predicts equal the parameters of a network that makes it, and differ from the
    right count on the public configurations (so that its hint can be reached)?"""
    wrong = {"make_unet.no_skip": impl.unet_no_skip, "make_unet.up_keeps_channels": impl.unet_up_keeps_channels,
             "make_unet.interpolate_up": impl.unet_interpolate_up, "make_unet.up_conv_3x3": impl.unet_up_conv_3x3,
             "make_unet.bias_with_bn": impl.unet_bias_with_bn,
             "make_unet.ignores_batch_norm": impl.unet_ignores_batch_norm,
             "make_unet.one_conv_per_level": impl.unet_one_conv_per_level,
             "make_unet.head_3x3": impl.unet_head_3x3}[variant]
    differs = []
    for config in network._COUNT_PUBLIC:
        with torch.device("meta"):
            model = wrong(*config[:2], depth=config[2], base_channels=config[3], batch_norm=config[4])
        assert count_parameters(model) == network.unet_parameter_count(*config, variant=variant)
        differs.append(count_parameters(model) != network.unet_parameter_count(*config))
    assert any(differs)


def test_valid_unet_gives_the_papers_572_to_388():
    """Does the check's reference valid U-Net turn the paper's 572 × 572 tile into the 388 × 388 map of its Fig. 1,
    as the size formula ⌊(n + 2p − k)/s⌋ + 1 and the transposed-convolution formula (n − 1)·s + k give?"""
    assert output_size._valid_output(572, 4) == impl.output_size_layers(572, 4) == impl.output_size_loop(572, 4)


@pytest.mark.parametrize("extended", [False, True])
def test_output_size_references_equal_the_layer_formula_and_a_cpu_run(extended):
    """Is every expected size of check_unet_output_size the layer-by-layer formula's, and (for small sizes) the
    size a real CPU forward of the reference valid U-Net gives?"""
    for case in answered(output_size._output_cases(extended)):
        size, depth = case.args[0], case.kwargs["depth"]
        assert case.expected == impl.output_size_layers(size, depth), case.label
        if size <= 200:
            with torch.random.fork_rng(devices=[]):
                model = reference.make_valid_unet(depth)
            with torch.no_grad():
                assert model(torch.zeros(1, 1, size, size)).shape[-1] == case.expected, case.label


def test_notebook_states_the_numbers_the_checks_use():
    """Does notebook 07's text state the paper's 572 → 388 and the classic parameter count as the formulas give
    them (not typed numbers that could drift)?"""
    with open(os.path.join(REPO_DIR, "instructor", "07_unet.py"), encoding="utf-8") as file:
        text = file.read()
    assert f"{impl.output_size_layers(572, 4)}" in text and "572" in text
    assert f"{network.unet_parameter_count(1, 2, 4, 64, False) / 1e6:.1f} million" in text


def test_check_summary_states_the_papers_count():
    """Does the passed message of check_make_unet state the paper's configuration's count from the formula?"""
    summary = check_make_unet(impl.unet_lists).summary
    assert f"{network.unet_parameter_count(1, 2, 4, 64, False):,}" in summary


# ==========================================================================
# Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def match_kinds(setting):
    shape, size, as_torch_size = setting
    kinds = ["torch.Size" if as_torch_size else "tuple"]
    for axis, have, want in (("H", shape[2], size[0]), ("W", shape[3], size[1])):
        d = want - have
        kinds.append(f"{axis}: {'kept' if d == 0 else ('pad' if d > 0 else 'crop') + (' odd' if d % 2 else ' even')}")
    return kinds


def forward_kinds(forward):
    (cin, k, depth, base, batch_norm), odd_shape, value_shape = forward
    return ["batch norm" if batch_norm else "no batch norm",
            *(["an odd side"] if odd_shape[2] % 2 or odd_shape[3] % 2 else []),
            *(["non-square"] if odd_shape[2] != odd_shape[3] else [])]


def count_kinds(config):
    cin, k, depth, base, batch_norm = config
    return ["batch norm" if batch_norm else "no batch norm",
            *(["the paper's configuration"] if (cin, k, depth, base) == (1, 2, 4, 64) else [])]


@pytest.mark.parametrize("public, hidden, kinds", [
    (match_module._MATCH_PUBLIC, match_module._MATCH_EXTENDED, match_kinds),
    (network._FORWARD_PUBLIC, network._FORWARD_EXTENDED, forward_kinds),
    (network._COUNT_PUBLIC, network._COUNT_EXTENDED, count_kinds),
], ids=["match_size", "make_unet forwards", "make_unet parameter counts"])
def test_hidden_cases_add_no_new_kind_of_case(public, hidden, kinds):
    """Does every kind of case of the hidden run (a crop by an odd amount along W, a network without batch
    norm on an odd input, ...) appear among the public cases too?"""
    assert_no_new_kind(public, hidden, kinds)
