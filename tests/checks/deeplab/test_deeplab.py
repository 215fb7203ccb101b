"""Proof that the four checks of notebook 08 (atrous_conv2d, make_separable_conv, make_aspp, mean_field_step)
and the course's dense CRF (course_utils.crf) work.

* correct implementations, in several styles, are registered in ``SPECS`` for the generic contract
  (``test_check_contract.py``);
* a catalogue of plausible wrong implementations fails, each with the message naming its mistake;
* the references equal numbers computed here another way: the parameter formula equals built layers'
  counts, torchvision's ASPP passes its own check, the check's explicit mean-field step equals
  ``course_utils.crf.mean_field_step`` (chunked kernel matrices), and with zero weights a step is
  softmax(−unary).

Every expected number is computed, never typed.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils import crf
from course_utils.checks import (RAISED, check_atrous_conv2d, check_make_aspp, check_make_separable_conv,
                                 check_mean_field_step)
from course_utils.checks import deeplab
from course_utils.checks.deeplab import atrous, crf as crf_check, models
from course_utils.checks.messages.deeplab import M

from checks.deeplab import impls as impl
from checks.helpers import (CheckSpec, assert_hidden_cases_try_more, assert_no_new_kind, guards_fixture,  # noqa: F401
                           mistake_case as mistake, one_torch_thread)

# check_atrous_conv2d replaces nothing: it inspects the arguments of every convolution in a torch function mode
# (dense F.conv2d is the exercise's tool, only dilated use is refused); these must be left untouched.
GUARDED = {"F.conv2d (deeplab)": (F, "conv2d"), "F.unfold": (F, "unfold")}
REFERENCES = []


def references_still_work():
    F.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2, 2))
    F.unfold(torch.zeros(1, 1, 3, 3), 2)


guards_put_everything_back = guards_fixture(GUARDED, references_still_work)

SPECS = {
    "atrous_conv2d": CheckSpec(check=check_atrous_conv2d, kind="tensor",
                          correct=[impl.atrous_space_to_batch, impl.atrous_stack_and_scatter, impl.atrous_cat_module,
                                   impl.atrous_unfold_subimages],
                          mistake=impl.atrous_no_bias, forbidden=impl.atrous_uses_conv2d),
    "make_separable_conv": CheckSpec(check=check_make_separable_conv, kind="model",
                                correct=[impl.separable_module, impl.separable_sequential, impl.separable_functional],
                                mistake=impl.separable_no_groups, hidden_cases=None, stand_in_models=False),
    "make_aspp": CheckSpec(check=check_make_aspp, kind="model",
                      correct=[impl.aspp_module, impl.aspp_torchvision, impl.aspp_expand],
                      mistake=impl.aspp_no_pooling, hidden_cases=None, stand_in_models=False),
    "mean_field_step": CheckSpec(check=check_mean_field_step, kind="tensor",
                            correct=[impl.mean_field_matrix, impl.mean_field_zero_diagonal, impl.mean_field_einsum],
                            mistake=impl.mean_field_self_connection),
}
ALL = list(SPECS)
# Arguments a learner may ignore and still pass the public check (test_arguments.py proves that every other
# argument of every exercise here changes a public answer): none.
ARGUMENTS_IGNORABLE: dict = {}


# ==========================================================================
# 1. Hidden cases try what the public ones do not
# ==========================================================================

@pytest.mark.parametrize("name", ["atrous_conv2d", "mean_field_step"])
def test_hidden_cases_call_the_learner_on_more_settings(name):
    """Do the hidden cases call the learner with settings the public cases never use?"""
    assert_hidden_cases_try_more(SPECS[name].check, SPECS[name].correct[0])


@pytest.mark.parametrize("name, factory", [("make_separable_conv", impl.separable_module),
                                           ("make_aspp", impl.aspp_module)])
def test_hidden_model_checks_build_more_configurations(name, factory):
    """Do the hidden model checks build the learner's module for configurations the public ones never use?"""
    public, hidden = [], []

    def recording(calls):
        def make(*args, **kwargs):
            calls.append(repr((args, sorted(kwargs.items()))))
            return factory(*args, **kwargs)
        return make
    assert SPECS[name].check(recording(public))
    assert SPECS[name].check(recording(hidden), extended=True, seed=7)
    assert set(public) < set(hidden)


def test_atrous_cases_cover_padding_divisibility_and_per_axis_settings():
    """Do the public atrous cases use padding 0 and "same" padding d(k − 1)/2, padded sizes that are and are
    not multiples of d, an even kernel, no bias, and per-axis tuples with a non-square kernel?"""
    def padded_multiple(c):
        (h, w), (ph, pw), (dh, dw) = c.args[0].shape[-2:], _pair(c.kwargs["padding"]), _pair(c.kwargs["dilation"])
        return (h + 2 * ph) % dh == 0 and (w + 2 * pw) % dw == 0
    public = atrous.atrous_cases(0, extended=False)
    assert all(max(_pair(c.kwargs["dilation"])) > 1 for c in public)
    assert any(c.kwargs["padding"] == 0 for c in public)
    assert any(c.kwargs["padding"] == c.kwargs["dilation"] * (c.args[1].shape[-1] - 1) // 2 > 0 for c in public
               if isinstance(c.kwargs["dilation"], int))
    assert any(padded_multiple(c) for c in public) and any(not padded_multiple(c) for c in public)
    assert any(c.args[1].shape[-1] % 2 == 0 for c in public)
    assert any(c.args[2] is None for c in public)
    assert any(isinstance(c.kwargs["dilation"], tuple) and len(set(c.kwargs["dilation"])) == 2
               and isinstance(c.kwargs["padding"], tuple) and c.args[1].shape[-2] != c.args[1].shape[-1]
               for c in public)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


@pytest.mark.parametrize("extended", [False, True])
def test_space_to_batch_reference_equals_dilated_conv2d(extended):
    """Does the check's own space-to-batch (which its hints vary) equal F.conv2d with dilation on every case?"""
    for case in atrous.atrous_cases(3, extended=extended):
        x, weight, bias = case.args
        got = atrous.space_to_batch(x, weight, bias, case.kwargs["padding"], case.kwargs["dilation"])
        torch.testing.assert_close(got, case.expected, atol=1e-5, rtol=1e-5)


def test_space_to_batch_costs_the_same_multiply_adds():
    """Does the dense convolution on the stacked sub-images count the same multiply-adds as the atrous one,
    up to the outputs cropped away (FlopCounterMode)?"""
    from torch.utils.flop_counter import FlopCounterMode
    x, weight = torch.randn(1, 4, 24, 24), torch.randn(5, 4, 3, 3)

    def flops(fn):
        with FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops()
    atrous = flops(lambda: F.conv2d(x, weight, padding=2, dilation=2))
    dense = flops(lambda: impl.atrous_space_to_batch(x, weight, padding=2, dilation=2))
    assert atrous == dense          # 28 × 28 padded: a multiple of 2, nothing cropped


# ==========================================================================
# 2. The references agree with independent computations
# ==========================================================================

@pytest.mark.parametrize("cin, cout, k", [(256, 256, 3), (4, 6, 3), (5, 5, 5), (8, 3, 1)])
def test_separable_formula_equals_built_layers(cin, cout, k):
    """Does k²·C_in + C_in·C_out equal the parameters of nn.Conv2d(groups=C_in) plus a 1 × 1 nn.Conv2d?"""
    built = (sum(p.numel() for p in nn.Conv2d(cin, cin, k, groups=cin, bias=False).parameters())
             + sum(p.numel() for p in nn.Conv2d(cin, cout, 1, bias=False).parameters()))
    assert deeplab.separable_param_count(cin, cout, k) == built
    standard = sum(p.numel() for p in nn.Conv2d(cin, cout, k, bias=False).parameters())
    assert deeplab.separable_param_count(cin, cout, k, variant="make_separable_conv.standard") == standard


def test_check_kernels_equal_the_course_crf_kernels():
    """Do the check's pair-by-pair kernels equal course_utils.crf's chunked kernel matrices?"""
    g = torch.Generator().manual_seed(3)
    image = torch.rand(3, 7, 9, generator=g) * 255
    mine = crf_check.kernels(image, 3.0, 20.0, 1.5)
    course = crf.crf_kernels(image, 3.0, 20.0, 1.5)
    for a, b in zip(mine, course):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_course_kernel_matrix_is_chunk_independent():
    """Does crf.kernel_matrix give the same matrix whatever its chunk size (one row, a few, all)?"""
    features = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    full = crf.kernel_matrix(features, chunk=1000)
    for chunk in (1, 7, 50):
        torch.testing.assert_close(crf.kernel_matrix(features, chunk=chunk), full)
    assert torch.equal(full.diagonal(), torch.ones(50))
    torch.testing.assert_close(full, full.t())


def test_course_mean_field_step_equals_the_checks_reference():
    """Does crf.mean_field_step equal the check's explicit float64 sums (it is the notebook's reference CRF)?"""
    assert check_mean_field_step(crf.mean_field_step, extended=True, seed=5)


def test_zero_weights_give_softmax_of_minus_unary():
    """With w_appearance = w_smooth = 0, does a mean-field step return softmax(−unary) over the labels?"""
    g = torch.Generator().manual_seed(1)
    unary, q = torch.randn(3, 4, 5, generator=g), torch.rand(3, 4, 5, generator=g)
    ka, ks = crf.crf_kernels(torch.rand(3, 4, 5, generator=g) * 255)
    torch.testing.assert_close(crf.mean_field_step(unary, q, ka, ks, 0.0, 0.0), torch.softmax(-unary, dim=0))


def test_dense_crf_pulls_a_pixel_towards_its_similar_neighbours():
    """Does dense_crf relabel a pixel whose colour matches its neighbours but whose scores are slightly off?"""
    image = torch.zeros(3, 6, 6)
    image[:, :, 3:] = 255                                 # two halves, black and white
    probabilities = torch.full((2, 6, 6), 0.2)
    probabilities[0, :, :3] = probabilities[1, :, 3:] = 0.8
    probabilities[:, 2, 1] = torch.tensor([0.45, 0.55])   # one black pixel leaning the wrong way
    q = crf.dense_crf(probabilities, image, iterations=5, theta_alpha=3.0, theta_beta=10.0, theta_gamma=1.0)
    assert q.argmax(0)[2, 1] == 0
    assert torch.equal(q.argmax(0), (torch.arange(6) >= 3).long().expand(6, 6))
    torch.testing.assert_close(q.sum(0), torch.ones(6, 6))


def test_boundary_mask_marks_a_band_around_label_changes():
    """Does boundary_mask mark exactly the columns within `width` of a vertical edge?"""
    mask = torch.zeros(5, 10, dtype=torch.long)
    mask[:, 5:] = 1
    band = crf.boundary_mask(mask, width=2)
    assert torch.equal(band, ((torch.arange(10) >= 3) & (torch.arange(10) <= 6)).expand(5, 10))


@pytest.mark.parametrize("check, factory", [(check_make_separable_conv, impl.separable_pointwise_registered_first),
                                            (check_make_aspp, impl.aspp_project_first)])
def test_layers_registered_in_another_order_still_pass(check, factory):
    """Does a correct module whose layers are registered in another order than the reference's pass (the
    weights go in by state-dict key, and its layers are paired with the reference's by name)?"""
    result = check(factory)
    assert result, result.text()


def test_torchvision_aspp_passes_the_check():
    """Does torchvision's own deeplabv3.ASPP pass check_make_aspp, public and hidden?"""
    assert check_make_aspp(impl.aspp_torchvision)
    assert check_make_aspp(impl.aspp_torchvision, extended=True, seed=2024)


# ==========================================================================
# 3. Catalogues of plausible wrong implementations (run by test_contract.py's generic test)
# ==========================================================================

CATALOGUE = {
    "atrous_conv2d": [
        mistake("Does check_atrous_conv2d notice the phases interleaved with i and j transposed?",
                impl.atrous_swapped_phases, "i and j transposed"),
        mistake("Does it notice the sub-images taken before padding, each padded by p?", impl.atrous_pad_after_split,
                "Pad first, then split"),
        mistake("Does it notice a missing bias?", impl.atrous_no_bias, "bias is missing"),
        mistake("Does it notice the bias added twice?", impl.atrous_bias_twice, "bias is added twice"),
        mistake("Does it notice the interleaved output not cropped?", impl.atrous_uncropped, "Crop the interleaved"),
        mistake("Does it notice the output cropped to a dense k × k convolution's size (the dilation forgotten)?",
                impl.atrous_crop_without_dilation, "Crop with the dilated kernel's span"),
        mistake("Does it notice the last rows cut off instead of padded to a multiple of d?", impl.atrous_truncated,
                "Pad the input up to a multiple of d"),
        mistake("Does it notice taps d + 1 apart?", impl.atrous_holes_too_wide, "Your taps are d + 1 pixels apart"),
        mistake("Does it notice dilation ignored (a dense convolution of the whole image)?",
                impl.atrous_ignores_dilation, "Dilation is ignored"),
        mistake("Does it refuse a dilated F.conv2d on the sub-images, saying the holes are already there?",
                impl.atrous_dilated_on_subimages, "holes are already there"),
        mistake("Does it refuse a zero-filled (dilated) kernel in a dense convolution?", impl.atrous_dilated_kernel,
                "Keep the compact k × k kernel"),
        mistake("Does it refuse F.conv2d with dilation?", impl.atrous_uses_conv2d, "F.conv2d", field="summary"),
        mistake("Does it say why a dilated F.conv2d is refused?", impl.atrous_uses_conv2d, "Use dilation=1 inside"),
        mistake("Does it refuse an nn.Conv2d with dilation?", impl.atrous_uses_nn_conv, "dilation ≠ 1",
                field="summary"),
        mistake("Does it refuse F.unfold with dilation?", impl.atrous_uses_unfold, "F.unfold", field="summary"),
        mistake("Does it fail right numbers computed without an ordinary convolution (kernel taps, or notebook "
                "01's conv2d pasted)?", impl.atrous_taps, "without an ordinary convolution", field="summary"),
        mistake("Does it fail right numbers from one convolution per phase (not space to batch's one)?",
                impl.atrous_phase_loop, "Space to batch runs one convolution"),
    ],
    "make_separable_conv": [
        mistake("Does check_make_separable_conv notice a depthwise convolution without groups?",
                impl.separable_no_groups, "groups=in_channels"),
        mistake("Does it notice pointwise before depthwise?", impl.separable_pointwise_first, "Depthwise first"),
        mistake("Does it notice biases?", impl.separable_with_bias, "bias=False"),
        mistake("Does it notice batch norm inside the block?", impl.separable_with_norm, "no BatchNorm2d inside"),
        mistake("Does it name batch norm (and ReLU) between the two steps, whose count no single mistake gives?",
                impl.separable_norm_between, "no BatchNorm2d inside"),
        mistake("Does it notice padding not scaled with the dilation?", impl.separable_padding_not_scaled,
                "Scale the padding with the dilation"),
        mistake("Does it notice the dilation not passed on?", impl.separable_ignores_dilation, "Pass `dilation`"),
        mistake("Does it notice a ReLU between the two convolutions?", impl.separable_relu_between, "non-linearity"),
        mistake("Does it notice the stride put on the pointwise convolution (same numbers, s² times the depthwise "
                "work)?", impl.separable_stride_on_pointwise,
                "Pass `stride` to the depthwise convolution: striding after"),
        mistake("Does it notice a standard convolution?", impl.separable_standard, "self.depthwise"),
        mistake("Does it notice layers without the expected names?", impl.separable_unnamed, "self.depthwise"),
    ],
    "make_aspp": [
        mistake("Does check_make_aspp notice the image-pooling branch left out?", impl.aspp_no_pooling,
                "five branches"),
        mistake("Does it notice max instead of average image pooling?", impl.aspp_max_pooling,
                "averages the whole map"),
        mistake("Does it notice fixed rates instead of the argument?", impl.aspp_fixed_rates,
                "Use the `rates` argument"),
        mistake("Does it notice rates used as padding only?", impl.aspp_rates_as_padding, "*dilation*"),
        mistake("Does it notice biases before batch norm?", impl.aspp_with_bias, "no bias"),
        mistake("Does it notice a bias on the image-pooling convolution alone?", impl.aspp_pooling_bias, "no bias"),
        mistake("Does it notice the projection's ReLU missing?", impl.aspp_project_no_relu, "ReLU is missing"),
        mistake("Does it notice branches concatenated in another order?", impl.aspp_reversed, "torchvision's order"),
        mistake("Does it notice the projection left out?", impl.aspp_no_project, "Project the concatenation"),
        mistake("Does it explain atrous branches without padding?", impl.aspp_no_padding, "padding=rate",
                outcome=RAISED),
        mistake("Does it notice the projection's dropout left out (equal outputs in eval mode; the check compares "
                "training mode too)?", impl.aspp_no_dropout, "training mode", field="case"),
    ],
    "mean_field_step": [
        mistake("Does check_mean_field_step notice the self-connection kept?", impl.mean_field_self_connection,
                M("mean_field_step.self")),
        mistake("Does it notice the wrong sign?", impl.mean_field_plus, M("mean_field_step.plus")),
        mistake("Does it notice the unary left out?", impl.mean_field_no_unary, M("mean_field_step.no_unary")),
        mistake("Does it notice no Potts compatibility?", impl.mean_field_no_potts, M("mean_field_step.no_potts")),
        mistake("Does it notice the message normalised before the compatibility?", impl.mean_field_normalised,
                M("mean_field_step.normalised")),
        mistake("Does it notice the message computed from the unary instead of q?", impl.mean_field_ignores_q,
                M("mean_field_step.ignores_q")),
        mistake("Does it notice a missing softmax?", impl.mean_field_no_softmax, M("mean_field_step.no_softmax")),
        mistake("Does it notice a softmax over the pixels?", impl.mean_field_softmax_pixels,
                M("mean_field_step.softmax_pixels")),
        mistake("Does it notice the two weights swapped?", impl.mean_field_swapped_weights,
                M("mean_field_step.swapped_weights")),
        mistake("Does it notice pixels numbered column by column?", impl.mean_field_transposed_image,
                M("mean_field_step.column_major")),
        mistake("Does it notice the kernels' diagonals zeroed in place (the same kernels serve every iteration)?",
                impl.mean_field_fill_diagonal_inplace, "changed its input tensors in place", field="summary"),
    ],
}

# Each catalogue entry whose hint names a known mistake, with that mistake's key: the entries are in the same
# order as their catalogue, an entry without a key (a summary, a refusal by the engine) is None.
KEYS = {
    "atrous_conv2d": ["atrous_conv2d.swapped_phases", "atrous_conv2d.pad_after_split", "atrous_conv2d.no_bias",
                      "atrous_conv2d.bias_twice", "atrous_conv2d.uncropped", "atrous_conv2d.crop_without_dilation",
                      "atrous_conv2d.truncated",
                      "atrous_conv2d.holes_too_wide", "atrous_conv2d.ignores_dilation",
                      "atrous_conv2d.dilated_on_subimages", "atrous_conv2d.big_kernel", "atrous_conv2d.dilated",
                      "atrous_conv2d.dilated", "atrous_conv2d.dilated", "atrous_conv2d.dilated",
                      "atrous_conv2d.no_dense", "atrous_conv2d.per_phase"],
    "make_separable_conv": ["make_separable_conv.no_groups", "make_separable_conv.pointwise_first",
                            "make_separable_conv.biases", "make_separable_conv.batch_norm",
                            "make_separable_conv.batch_norm",
                            "make_separable_conv.padding_not_scaled", "make_separable_conv.ignores_dilation",
                            "make_separable_conv.relu_between", "make_separable_conv.stride_on_pointwise",
                            "make_separable_conv.names", "make_separable_conv.names"],
    "make_aspp": ["make_aspp.no_pooling", "make_aspp.max_pooling", "make_aspp.fixed_rates",
                  "make_aspp.rates_as_padding", "make_aspp.conv_bias", "make_aspp.conv_bias",
                  "make_aspp.project_no_relu", "make_aspp.branch_order", "make_aspp.no_projection", None, None],
    "mean_field_step": ["mean_field_step.self", "mean_field_step.plus", "mean_field_step.no_unary",
                        "mean_field_step.no_potts", "mean_field_step.normalised", "mean_field_step.ignores_q",
                        "mean_field_step.no_softmax", "mean_field_step.softmax_pixels",
                        "mean_field_step.swapped_weights", "mean_field_step.column_major", None],
}
NAMED = [pytest.param(name, key, entry.values[0], id=f"{name}: {entry.id}")
         for name, entries in CATALOGUE.items() for entry, key in zip(entries, KEYS[name]) if key is not None]


def test_every_catalogue_entry_has_its_key_listed():
    assert {name: len(entries) for name, entries in CATALOGUE.items()} == {name: len(k) for name, k in KEYS.items()}


@pytest.mark.parametrize("name, key, learner", NAMED)
def test_a_named_mistake_carries_its_key(name, key, learner):
    """Does the verdict that names a known mistake carry that mistake's key (``result.mistake``), with the
    table's text for it as the hint?"""
    result = SPECS[name].check(learner)
    assert result.mistake == key, result.text()
    assert result.hint == M(key)


def test_every_message_is_used_and_every_use_has_a_message():
    """Is every key of notebook 08's table used by the check modules, and every key they use in the table?"""
    import pathlib
    import re
    used = set()
    for path in pathlib.Path(deeplab.__file__).parent.glob("*.py"):
        used |= set(re.findall(r'"((?:atrous_conv2d|make_separable_conv|make_aspp|mean_field_step)\.\w+)"',
                               path.read_text()))
    assert used == set(M.keys())


# ==========================================================================
# 4. The course's small DeepLab v3+ (segmentation.TinyDeepLabV3Plus)
# ==========================================================================

def test_tiny_deeplab_keeps_the_input_size_and_uses_the_given_parts():
    """Does TinyDeepLabV3Plus map (N, 3, H, W) to (N, K, H, W), run ASPP at output stride 8, and build its ASPP
    and separable convolutions with the factories it is given (the notebook passes the learner's)?"""
    from course_utils import segmentation
    built = {"aspp": [], "separable": []}

    def make_aspp(c_in, c_out, rates):
        built["aspp"].append((c_in, c_out, rates))
        return impl.aspp_module(c_in, c_out, rates)

    def make_separable(c_in, c_out, kernel_size=3, stride=1, dilation=1):
        built["separable"].append((c_in, c_out, kernel_size, stride, dilation))
        return impl.separable_module(c_in, c_out, kernel_size, stride, dilation)

    torch.manual_seed(0)
    model = segmentation.TinyDeepLabV3Plus(4, make_aspp=make_aspp, make_separable=make_separable).eval()
    seen = []
    model.aspp.register_forward_hook(lambda module, inputs, output: seen.append(tuple(inputs[0].shape[-2:])))
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 48))
    assert out.shape == (2, 4, 64, 48)
    assert seen == [(8, 6)]                                   # output stride 8
    assert built["aspp"] == [(64, 32, (2, 4, 6))]
    assert (64, 64, 3, 1, 2) in built["separable"]            # the atrous block instead of a fourth stride
    default = segmentation.TinyDeepLabV3Plus(4)
    assert sum(p.numel() for p in default.parameters()) == sum(p.numel() for p in model.parameters())


# ==========================================================================
# Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def atrous_kinds(spec):
    n, cin, cout, h, w, k, padding, dilation, bias = spec
    (kh, kw), (ph, pw), (dh, dw) = _pair(k), _pair(padding), _pair(dilation)
    return [kind for kind, present in [
        ("padding 0", (ph, pw) == (0, 0)), ("'same' padding", (ph, pw) == (dh * (kh - 1) // 2, dw * (kw - 1) // 2)),
        ("padded size not a multiple of d", (h + 2 * ph) % dh or (w + 2 * pw) % dw),
        ("settings differ along H and W", (ph, dh) != (pw, dw)), ("non-square kernel", kh != kw),
        ("even kernel", kh % 2 == 0 or kw % 2 == 0), ("1×1 kernel", (kh, kw) == (1, 1)), ("no bias", not bias)]
        if present]


def separable_kinds(setting):
    cin, cout, k, stride, dilation, shape = setting
    return [f"kernel {k}", *[kind for kind, present in [("stride", stride > 1), ("dilation", dilation > 1),
                                                       ("stride and dilation", stride > 1 and dilation > 1)]
                             if present]]


def aspp_kinds(setting):
    cin, cout, rates, shape = setting
    return ["a batch of one (eval mode only)" if shape[0] == 1 else "a batch of several (both modes)",
            *(["non-square"] if shape[2] != shape[3] else [])]


@pytest.mark.parametrize("public, hidden, kinds", [
    (atrous.ATROUS_PUBLIC, atrous.ATROUS_EXTENDED, atrous_kinds),
    (models.SEP_PUBLIC, models.SEP_EXTENDED, separable_kinds),
    (models.ASPP_PUBLIC, models.ASPP_EXTENDED, aspp_kinds),
], ids=["atrous_conv2d", "make_separable_conv", "make_aspp"])
def test_hidden_cases_add_no_new_kind_of_case(public, hidden, kinds):
    """Does every kind of case of the hidden run (per-axis padding and dilation, a 1×1 or 5×5 kernel, stride
    and dilation together, ...) appear among the public cases too?"""
    assert_no_new_kind(public, hidden, kinds)
