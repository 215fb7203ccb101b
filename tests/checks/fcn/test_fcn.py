"""Proof that the seven checks of notebook 06 (convolutionalization, transposed
convolution and its output size, the overlap counts of a transposed
convolution, the bilinear kernel, the confusion matrix and the segmentation
scores) work.

A check that was never seen failing is not a check.  This module holds what
is specific to these checks:

* the correct implementations, in several styles, that
  ``test_contract.py`` runs on the public and hidden cases (registered
  through ``SPECS`` below, with the generic contract: not attempted, raised,
  cannot be checked, stopped, strict, rendering, guards, determinism), and
  here the generic tensor tests that the contract cannot run on a kernel
  built from two ints or on integer counts;
* ``CATALOGUE``: plausible wrong implementations fail, each with the hint
  that names its mistake (run by ``test_contract.py``'s generic catalogue
  test), the convolution functions are refused while the learner's
  conv_transpose2d runs, and ``KEYS``: each verdict names its known mistake by
  its message key;
* the references the checks compare with equal numbers computed here another
  way: the overlap-add machinery with no mistake equals F.conv_transpose2d,
  each predicted mistake equals what the wrong implementation computes, the
  closed-form tap counts equal F.conv_transpose2d of ones and a brute-force
  count, the bilinear kernel in a ConvTranspose2d equals F.interpolate(mode="bilinear")
  away from the border, the confusion count equals torch.bincount's, the
  scores equal a numpy computation, the dense layer over windows equals
  nn.Linear on explicit slices.

The learner implementations live in ``impls.py``.  Every expected number
is computed (by torch, numpy or a formula), never typed in.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils.checks import (INCORRECT, PASSED, RAISED, UNCHECKABLE, check_bilinear_kernel, check_confusion_matrix,
                                 check_conv_transpose2d, check_conv_transpose_output_size, check_convolutionalize,
                                 check_overlap_counts, check_segmentation_scores)
from course_utils.checks.fcn import bilinear, convolutionalize, overlap, scores, transposed
from course_utils.checks.engine import answered
from course_utils.checks.messages.fcn import M

from checks.fcn import impls as impl
from checks.helpers import CheckSpec, assert_no_new_kind, guards_fixture, one_torch_thread, mistake_case as mistake  # noqa: F401

# The functions the guards replace while the learner's conv_transpose2d or overlap_counts runs, and the originals
# they must put back (both checks refuse every convolution function, as the convolution checks do; overlap_counts
# also refuses the 1-D transposed convolutions and F.fold).
GUARDED = {
    "F.conv_transpose2d": (F, "conv_transpose2d"), "F.conv2d": (F, "conv2d"), "torch.conv2d": (torch, "conv2d"),
    "torch.convolution": (torch, "convolution"), "torch._convolution": (torch, "_convolution"),
    "F.conv1d": (F, "conv1d"), "F.conv3d": (F, "conv3d"), "F.conv_transpose1d": (F, "conv_transpose1d"),
    "torch.conv_transpose1d": (torch, "conv_transpose1d"), "torch.conv_transpose2d": (torch, "conv_transpose2d"),
    "F.fold": (F, "fold"),
}
# (check, guarded function) pairs: test_contract.py spies that the function is replaced while the
# learner's code runs, and only then.
REFERENCES = [("conv_transpose2d", "F.conv_transpose2d"), ("conv_transpose2d", "F.conv2d"),
              ("conv_transpose2d", "torch.convolution"), ("overlap_counts", "F.conv_transpose2d"),
              ("overlap_counts", "F.fold"), ("overlap_counts", "F.conv_transpose1d")]


def references_still_work():
    """The refused functions run normally again (no guard mode left behind)."""
    x, weight = torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    assert F.conv_transpose2d(x, weight, stride=2).shape == (1, 1, 4, 4)
    assert F.conv2d(x, weight).shape == (1, 1, 1, 1)
    assert F.conv_transpose1d(torch.ones(1, 1, 2), torch.ones(1, 1, 2), stride=2).shape == (1, 1, 4)
    assert F.fold(torch.ones(1, 4, 4), (3, 3), 2).shape == (1, 1, 3, 3)


guards_put_everything_back = guards_fixture(GUARDED, references_still_work)

# ==========================================================================
# The six checks, side by side
# ==========================================================================

# every argument of every exercise changes a public answer (tests/checks/test_arguments.py); none may be ignored
ARGUMENTS_IGNORABLE: dict = {}

# Kinds: only conv_transpose2d is a "tensor" check in the contract's sense (a float32 answer computed from input
# tensors drawn with the seed).  bilinear_kernel takes two ints and is the same whatever the seed, and
# confusion_matrix and overlap_counts answer integer counts; their tensor tests are below (section 1).
SPECS = {
    "convolutionalize": CheckSpec(check=check_convolutionalize, kind="module",
                             correct=[impl.convolutionalize_copy, impl.convolutionalize_view,
                                      impl.convolutionalize_state_dict],
                             mistake=impl.convolutionalize_hwc_order, hidden_cases=None),
    "conv_transpose2d": CheckSpec(check=check_conv_transpose2d, kind="tensor",
                             correct=[impl.conv_transpose2d_taps, impl.conv_transpose2d_zero_insertion,
                                      impl.conv_transpose2d_fold],
                             mistake=impl.conv_transpose2d_assigns, forbidden=impl.conv_transpose2d_calls_F,
                             reimplements=("F.conv_transpose2d",)),
    "conv_transpose_output_size": CheckSpec(check=check_conv_transpose_output_size, kind="int",
                                       correct=[impl.transpose_size_formula, impl.transpose_size_span,
                                                impl.transpose_size_meta_layer],
                                       mistake=impl.transpose_size_no_output_padding),
    "overlap_counts": CheckSpec(check=check_overlap_counts, kind="counts",
                           correct=[impl.overlap_counts_taps, impl.overlap_counts_pixels,
                                    impl.overlap_counts_bincount, impl.overlap_counts_numpy],
                           mistake=impl.overlap_counts_assigns, forbidden=impl.overlap_counts_calls_F),
    "bilinear_kernel": CheckSpec(check=check_bilinear_kernel, kind="kernel",
                            correct=[impl.bilinear_kernel_outer, impl.bilinear_kernel_loops,
                                     impl.bilinear_kernel_numpy_eye],
                            mistake=impl.bilinear_kernel_centre_swapped),
    "confusion_matrix": CheckSpec(check=check_confusion_matrix, kind="counts",
                             correct=[impl.confusion_bincount, impl.confusion_one_hot, impl.confusion_loops,
                                      impl.confusion_numpy],
                             mistake=impl.confusion_transposed),
    "segmentation_scores": CheckSpec(check=check_segmentation_scores, kind="triple",
                                correct=[impl.scores_nanmean, impl.scores_masks, impl.scores_numpy],
                                mistake=impl.scores_dice),
}
ALL = list(SPECS)
TENSOR_LIKE = ["conv_transpose2d", "overlap_counts", "bilinear_kernel", "confusion_matrix"]


def correct_of(name):
    return SPECS[name].correct[0]


def returning(transform, correct):
    """A learner that returns ``transform(correct answer)``, remembering it."""
    def learner(*args, **kwargs):
        learner.seen.append(transform(correct(*args, **kwargs)))
        return learner.seen[-1]
    learner.seen = []
    return learner


# ==========================================================================
# 1. Tensor answers the contract does not cover
# ==========================================================================

@pytest.mark.parametrize("name", TENSOR_LIKE)
def test_wrong_shape_shows_both_shapes(name):
    """Does every tensor-valued check of notebook 06 report a wrong shape with the expected and the returned one?"""
    learner = returning(lambda out: out.unsqueeze(0), correct_of(name))
    result = SPECS[name].check(learner)
    assert result.outcome == INCORRECT, result.text()
    got = learner.seen[0]   # every answer has the wrong shape: the first case fails
    assert result.evidence == [f"expected shape {tuple(got.shape[1:])}, got {tuple(got.shape)}"]


@pytest.mark.parametrize("name", TENSOR_LIKE)
def test_numpy_answer_is_uncheckable(name):
    """Does every tensor-valued check refuse a NumPy array and say how to convert it?"""
    result = SPECS[name].check(returning(lambda out: out.numpy(), correct_of(name)))
    assert result.outcome == UNCHECKABLE, result.text()
    assert "torch.from_numpy" in result.hint


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8, torch.int16])
def test_confusion_counts_in_any_integer_dtype_pass(dtype):
    """Does check_confusion_matrix accept counts in any integer dtype that holds them?"""
    result = check_confusion_matrix(returning(lambda out: out.to(dtype), impl.confusion_bincount))
    assert result.outcome == PASSED, result.text()


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8])
def test_overlap_counts_in_any_integer_dtype_pass(dtype):
    """Does check_overlap_counts accept counts in any integer dtype that holds them (public and hidden cases)?"""
    learner = returning(lambda out: out.to(dtype), impl.overlap_counts_bincount)
    for result in (check_overlap_counts(learner), check_overlap_counts(learner, extended=True, seed=7)):
        assert result.outcome == PASSED, result.text()


def test_confusion_check_notices_a_target_changed_in_place():
    """Does check_confusion_matrix notice that the learner overwrote the ignored pixels of `target` in place?"""
    def zeroes_ignored(pred, target, num_classes, ignore_index=255):
        out = impl.confusion_bincount(pred, target, num_classes, ignore_index)
        target[target == ignore_index] = 0     # "cleans" the labels for later use
        return out
    result = check_confusion_matrix(zeroes_ignored)
    assert result.outcome == INCORRECT, result.text()
    assert "in place" in result.summary


def test_confusion_check_other_seed_gives_other_counts():
    """Does seed= change the random labels of check_confusion_matrix (the evidence of a wrong answer changes)?"""
    first, second = check_confusion_matrix(impl.confusion_transposed, seed=0), \
        check_confusion_matrix(impl.confusion_transposed, seed=1)
    assert first.outcome == second.outcome == INCORRECT
    assert first.hint == second.hint
    assert first.evidence != second.evidence


def test_bilinear_verdict_does_not_depend_on_the_seed():
    """Design: is check_bilinear_kernel's verdict the same for any seed (the kernel is a definition of two ints,
    nothing is drawn)?"""
    for learner in (impl.bilinear_kernel_outer, impl.bilinear_kernel_centre_swapped):
        assert check_bilinear_kernel(learner, seed=0).text() == check_bilinear_kernel(learner, seed=5).text()


def test_convolutionalize_check_passes_a_convolution_sharing_the_dense_weights():
    """Does check_convolutionalize pass a convolution whose weight is a view of the dense layer's (no copy)?"""
    def shares(linear, in_shape):
        c, h, w = in_shape
        conv = nn.Conv2d(c, linear.out_features, (h, w), bias=linear.bias is not None)
        conv.weight = nn.Parameter(linear.weight.detach().view(-1, c, h, w))
        if linear.bias is not None:
            conv.bias = nn.Parameter(linear.bias.detach())
        return conv
    result = check_convolutionalize(shares, extended=True, seed=7)
    assert result.outcome == PASSED, result.text()


# ==========================================================================
# 2. Catalogues of plausible wrong implementations
# ==========================================================================

# (question, wrong implementation, needle of its hint, key of the known mistake the hint names)
CONVOLUTIONALIZE_MISTAKES = [
    ("Does check_convolutionalize notice the weight read as (H, W, C)?", impl.convolutionalize_hwc_order,
     "not (…, H, W, C)", "convolutionalize.hwc_order"),
    ("Does it notice the bias left at its random initial values?", impl.convolutionalize_bias_not_copied,
     "Copy the bias too", "convolutionalize.bias_not_copied"),
    ("Does it notice a convolution without bias for a dense layer with one?", impl.convolutionalize_never_bias,
     "Give the convolution a bias exactly when the dense layer has one", "convolutionalize.bias_presence"),
    ("Does it notice a 1×1 kernel over C·H·W channels?", impl.convolutionalize_one_by_one,
     "The kernel covers the whole (H, W) input", "convolutionalize.kernel_size"),
    ("Does it notice in and out channels swapped?", impl.convolutionalize_channels_swapped,
     "out_channels = out_features", "convolutionalize.out_channels"),
    ("Does it notice the dense layer's weight reshaped in place?", impl.convolutionalize_reshapes_linear,
     "do not write into the dense layer", "convolutionalize.writes_into_linear"),
]
TRANSPOSE_MISTAKES = [
    ("Does check_conv_transpose2d fail right numbers from a loop over the input pixels (the statement loops over the "
     "kernel's taps)?", impl.conv_transpose2d_pixels, "Loop over the kernel's kH × kW taps, not over pixels",
     "conv_transpose2d.loops"),
    ("Does check_conv_transpose2d notice `=` instead of `+=` (no overlap-add)?", impl.conv_transpose2d_assigns,
     "use `+=`, not `=`", "conv_transpose2d.assigns"),
    ("Does it notice a flipped kernel?", impl.conv_transpose2d_flipped, "do not flip it", "conv_transpose2d.flipped"),
    ("Does it notice padding ignored (the full output)?", impl.conv_transpose2d_ignores_padding,
     "crops p rows and columns from each border", "conv_transpose2d.padding_ignored"),
    ("Does it notice padding cropped from the top and left only?", impl.conv_transpose2d_crops_one_side,
     "from *each* side", "conv_transpose2d.crops_one_side"),
    ("Does it notice output_padding ignored?", impl.conv_transpose2d_ignores_output_padding,
     "output_padding adds rows/columns", "conv_transpose2d.output_padding_ignored"),
    ("Does it notice per-axis settings read from the height's value only, on a public case?",
     impl.conv_transpose2d_first_axis_only, "use the second value for the width", "conv_transpose2d.first_axis_only"),
    ("Does it notice the bias added to every stamp?", impl.conv_transpose2d_bias_per_stamp, "not to every stamp",
     "conv_transpose2d.bias_per_stamp"),
    ("Does it notice the bias forgotten?", impl.conv_transpose2d_no_bias, "The bias is missing",
     "conv_transpose2d.no_bias"),
    ("Does it notice the weight read as (C_out, C_in, kH, kW)?", impl.conv_transpose2d_weight_out_in,
     "(C_in, C_out, kH, kW), input channels first", "conv_transpose2d.weight_out_in"),
]
SIZE_MISTAKES = [
    ("Does check_conv_transpose_output_size notice the ordinary convolution's formula?",
     impl.transpose_size_conv_formula, "inverts the convolution formula", "conv_transpose_output_size.conv_formula"),
    ("Does it notice output_padding forgotten?", impl.transpose_size_no_output_padding, "Forgot output_padding",
     "conv_transpose_output_size.no_output_padding"),
    ("Does it notice − p instead of − 2p?", impl.transpose_size_pads_once, "subtract 2·p, not p",
     "conv_transpose_output_size.pads_once"),
    ("Does it notice n·s instead of (n − 1)·s?", impl.transpose_size_n_times_s, "(n − 1)·s, not n·s",
     "conv_transpose_output_size.n_times_s"),
    ("Does it notice dilation ignored?", impl.transpose_size_ignores_dilation, "A dilated kernel spans",
     "conv_transpose_output_size.no_dilation"),
    ("Does it notice a dilated kernel's span taken as d·k?", impl.transpose_size_span_d_times_k, "not d·k",
     "conv_transpose_output_size.span"),
    ("Does it notice the + 1 forgotten?", impl.transpose_size_no_plus_one, "Missing the + 1",
     "conv_transpose_output_size.no_plus_one"),
    ("Does it notice output_padding added twice?", impl.transpose_size_output_padding_twice, "added once",
     "conv_transpose_output_size.output_padding_twice"),
]
OVERLAP_MISTAKES = [
    ("Does check_overlap_counts notice `= 1` instead of `+= 1` (overlaps counted once)?", impl.overlap_counts_assigns,
     "count with `+= 1`, not `= 1`", "overlap_counts.no_overlap"),
    ("Does it notice the two axes' counts added instead of multiplied?", impl.overlap_counts_adds_axes,
     "multiply, not add", "overlap_counts.added"),
    ("Does it notice kernel size and stride exchanged?", impl.overlap_counts_swapped,
     "Kernel size and stride are exchanged", "overlap_counts.swapped"),
    ("Does it notice a full map of H·s rows instead of (H − 1)·s + k (off by one for k = 3, s = 2)?",
     impl.overlap_counts_n_times_s, "not H·s", "overlap_counts.n_times_s"),
    ("Does it notice the padding never cropped?", impl.overlap_counts_no_crop, "crops p rows and columns from each "
     "border of the full map", "overlap_counts.padding_ignored"),
    ("Does it ask for integer counts when they are float?", impl.overlap_counts_float, "Counts are whole numbers",
     "overlap_counts.float_counts"),
]
BILINEAR_MISTAKES = [
    ("Does check_bilinear_kernel notice the two centres exchanged?", impl.bilinear_kernel_centre_swapped,
     "The tent is centred at factor − 1 when the kernel size is odd", "bilinear_kernel.centre"),
    ("Does it notice a kernel of size 2·factor for an odd factor?", impl.bilinear_kernel_size_2f,
     "2·factor − factor % 2", "bilinear_kernel.size"),
    ("Does it notice every channel mixed into every other?", impl.bilinear_kernel_mixes_channels,
     "Each channel is upsampled on its own", "bilinear_kernel.mixes_channels"),
    ("Does it notice the tent not divided by the factor?", impl.bilinear_kernel_not_divided, "Divide by the factor",
     "bilinear_kernel.not_divided"),
    ("Does it notice a kernel normalised to sum 1?", impl.bilinear_kernel_sums_to_one,
     "Do not normalise the kernel to sum 1", "bilinear_kernel.sums_to_one"),
]
CONFUSION_MISTAKES = [
    ("Does check_confusion_matrix notice rows and columns exchanged?", impl.confusion_transposed,
     "Rows are the true classes", "confusion_matrix.transposed"),
    ("Does it notice a class-range mask instead of ignore_index, on a public case where ignore_index = 0 is a "
     "class?", impl.confusion_valid_range, "Drop the pixels whose *target* is ignore_index",
     "confusion_matrix.ignore_is_class"),
    ("Does it notice ignore_index never applied?", impl.confusion_loops_never_ignore,
     "Drop the pixels whose *target* is ignore_index", "confusion_matrix.ignore_is_class"),
    ("Does it notice one-hot rows as wide as the largest label present, on a public case where the last class is on "
     "no pixel?", impl.confusion_one_hot_sized_by_pixels, "size the counts by num_classes",
     "confusion_matrix.sized_by_pixels"),
    ("Does it notice right counts from a Python loop over the pixels (the statement asks for none)?",
     impl.confusion_pixel_loop, "No Python loop over pixels", "confusion_matrix.loops"),
]
CONFUSION_RAISES = [
    ("Does it explain the error of a bincount over unmasked targets (255 indexes beyond K·K)?",
     impl.confusion_bincount_unmasked, "Drop the pixels whose target equals ignore_index"),
    ("Does it explain the error of a bincount without minlength, on a public case where the last class is on no "
     "pixel (fewer than K·K counts)?", impl.confusion_bincount_no_minlength, "minlength=K * K"),
]
SCORES_MISTAKES = [
    ("Does check_segmentation_scores notice the Dice coefficient?", impl.scores_dice, "Dice coefficient",
     "segmentation_scores.dice"),
    ("Does it notice the per-class accuracy (recall)?", impl.scores_recall, "per-class accuracy (recall",
     "segmentation_scores.recall"),
    ("Does it notice integer division of the counts?", impl.scores_integer_division, "Integer division",
     "segmentation_scores.integer_division"),
]
KEYED = {"convolutionalize": CONVOLUTIONALIZE_MISTAKES, "conv_transpose2d": TRANSPOSE_MISTAKES,
         "conv_transpose_output_size": SIZE_MISTAKES, "overlap_counts": OVERLAP_MISTAKES,
         "bilinear_kernel": BILINEAR_MISTAKES,
         "confusion_matrix": CONFUSION_MISTAKES, "segmentation_scores": SCORES_MISTAKES}

# check name -> its plausible wrong implementations, each with the message that names its mistake; run by
# test_contract.py's generic catalogue test
CATALOGUE = {name: [mistake(question, learner, needle) for question, learner, needle, _ in entries]
             for name, entries in KEYED.items()}
CATALOGUE["convolutionalize"] += [
    mistake("Does it refuse the dense layer itself?", impl.convolutionalize_returns_linear,
            "returned Linear; expected an nn.Conv2d", field="summary", outcome=UNCHECKABLE),
]
CATALOGUE["conv_transpose2d"] += [
    mistake("Does it refuse F.conv_transpose2d?", impl.conv_transpose2d_calls_F, "F.conv_transpose2d",
            field="summary"),
    mistake("Does it refuse torch.conv_transpose2d?", impl.conv_transpose2d_calls_torch, "conv_transpose2d`",
            field="summary"),
    mistake("Does it refuse nn.ConvTranspose2d?", impl.conv_transpose2d_uses_module, "F.conv_transpose2d",
            field="summary"),
    mistake("Does it refuse zero insertion finished by F.conv2d?", impl.conv_transpose2d_zero_insertion_F_conv2d,
            "F.conv2d", field="summary"),
]
CATALOGUE["overlap_counts"] += [
    mistake("Does an unknown mistake (the last input row and column never stamp) get the general message, naming no "
            "mistake?", impl.overlap_counts_skips_last_input, M("overlap_counts.general")),
    mistake("Does it refuse F.conv_transpose2d of ones?", impl.overlap_counts_calls_F, "F.conv_transpose2d",
            field="summary"),
    mistake("Does it refuse nn.ConvTranspose2d?", impl.overlap_counts_uses_module, "F.conv_transpose2d",
            field="summary"),
    mistake("Does it refuse F.fold (col2im adds the overlapping windows)?", impl.overlap_counts_fold, "F.fold",
            field="summary"),
    mistake("Does it refuse one F.conv_transpose1d per axis?", impl.overlap_counts_conv_transpose1d,
            "F.conv_transpose1d", field="summary"),
]
CATALOGUE["bilinear_kernel"] += [
    mistake("Does it ask for float32 when the kernel is float64?", impl.bilinear_kernel_float64,
            "dtype=torch.float32"),
]
CATALOGUE["confusion_matrix"] += [
    mistake("Does it ask for integer counts when they are float?", impl.confusion_float_counts,
            "Counts are whole numbers"),
]
CATALOGUE["segmentation_scores"] += [
    mistake("Does it notice an absent class scored 0?", impl.scores_absent_as_zero, "return NaN for it"),
    mistake("Does it notice the absent class counted as 0 in the mean?", impl.scores_mean_counts_absent_as_zero,
            "do not count it as 0"),
    mistake("Does it notice a class only predicted left out of the mean?", impl.scores_mean_over_true_classes,
            "it counts in the mean"),
    mistake("Does it point to nanmean for a mean that is NaN?", impl.scores_plain_mean, "torch.nanmean(iou)"),
    mistake("Does it notice the mean class accuracy given as the pixel accuracy?",
            impl.scores_accuracy_as_class_mean, "trace / sum"),
    mistake("Does it ask for a tensor when the IoUs are a list?", impl.scores_list_of_iou, "got list",
            field="evidence"),
    mistake("Does it ask for a tuple when a dict is returned?", impl.scores_returns_dict, "Return a tuple",
            outcome=UNCHECKABLE),
]

# (check, wrong implementation, key): every verdict above whose hint names a known mistake, by its key
KEYS = [(name, learner, key) for name, entries in KEYED.items() for _, learner, _, key in entries] + [
    ("bilinear_kernel", impl.bilinear_kernel_float64, "bilinear_kernel.dtype"),
    ("confusion_matrix", impl.confusion_float_counts, "confusion_matrix.float_counts"),
    ("segmentation_scores", impl.scores_mean_counts_absent_as_zero, "segmentation_scores.mean_absent_as_zero"),
    ("segmentation_scores", impl.scores_mean_over_true_classes, "segmentation_scores.mean_over_true_classes"),
]


@pytest.mark.parametrize("name, learner, key", KEYS, ids=[f"{learner.__name__}-{key}" for _, learner, key in KEYS])
def test_verdict_names_the_known_mistake_by_key(name, learner, key):
    """Does the verdict name each wrong implementation's known mistake by its key in notebook 06's message table,
    with that key's text as the hint?"""
    result = SPECS[name].check(learner)
    assert not result, result.text()
    assert result.mistake == key, result.text()
    assert result.hint == M(key)


# ==========================================================================
# 3. Independence: the references equal numbers computed another way
# ==========================================================================

def transposed_cases():
    """The public and hidden cases of check_conv_transpose2d, for two seeds."""
    return answered(transposed._transposed_cases(0, True) + transposed._transposed_cases(7, True))


@pytest.mark.parametrize("case", transposed_cases(), ids=lambda case: case.label)
def test_overlap_add_without_mistake_equals_F_conv_transpose2d(case):
    """Does the overlap-add the check builds its mistakes from, with no mistake, equal F.conv_transpose2d (and a
    learner's loop over input pixels) on every public and hidden case?"""
    x, weight, bias = case.args
    expected = F.conv_transpose2d(x, weight, bias, **case.kwargs)
    torch.testing.assert_close(case.expected, expected)
    torch.testing.assert_close(transposed._overlap_add(x, weight, bias, **case.kwargs), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(impl.conv_transpose2d_pixels(x, weight, bias, **case.kwargs), expected,
                               atol=1e-5, rtol=1e-5)


def matches(got, wrong, case):
    """Does ``got`` match a predicted wrong answer (a shape, a tensor or a number), as the checks compare?"""
    if isinstance(wrong, tuple):
        return tuple(got.shape) == wrong
    if isinstance(wrong, torch.Tensor):
        return got.shape == wrong.shape and torch.allclose(got.double().nan_to_num(-1), wrong.double().nan_to_num(-1),
                                                           atol=max(case.atol, 1e-6), rtol=case.rtol)
    return got == wrong


def main_part(name, got):
    """The part of the answer a mistake predicts: the IoU vector of segmentation_scores, else the answer."""
    return got[2] if name == "segmentation_scores" and isinstance(got[2], torch.Tensor) and got[2].ndim else got


PREDICTED = ([("conv_transpose2d", transposed._transposed_cases, learner, key)
              for _, learner, _, key in TRANSPOSE_MISTAKES if key != "conv_transpose2d.loops"]   # right numbers
             + [("conv_transpose_output_size", lambda seed, extended: transposed._transposed_size_cases(extended),
                 learner, key) for _, learner, _, key in SIZE_MISTAKES]
             + [("overlap_counts", overlap._overlap_cases, learner, key) for _, learner, _, key in OVERLAP_MISTAKES
                if key != "overlap_counts.float_counts"]   # a dtype, not a predicted answer
             + [("bilinear_kernel", bilinear._bilinear_cases, learner, key) for _, learner, _, key in BILINEAR_MISTAKES]
             + [("confusion_matrix", scores._confusion_cases, learner, key) for _, learner, _, key in CONFUSION_MISTAKES
                if key != "confusion_matrix.loops"]   # right counts, found by the work a call does
             + [("segmentation_scores", scores._scores_cases, learner, key) for _, learner, _, key in SCORES_MISTAKES])


@pytest.mark.parametrize("name, make_cases, learner, key", PREDICTED,
                         ids=[f"{name}-{learner.__name__}" for name, _, learner, _ in PREDICTED])
def test_each_predicted_mistake_is_what_the_wrong_implementation_computes(name, make_cases, learner, key):
    """Does each wrong answer a check predicts (by its mistake's key) equal what the implementation making that
    mistake returns, on every public and hidden case that predicts it, and is it wrong on some public case (so
    that the hint can be reached)?"""
    checked, reachable = 0, False
    for extended in (False, True):
        for case in answered(make_cases(7 if extended else 0, extended)):
            predictions = [m.answer for m in case.mistakes if m.key == key]
            if not predictions:
                continue
            got = main_part(name, learner(*case.args, **case.kwargs))
            # one key may stand for several predictions (kernel sizes 2f and 2f + 1): one of them is enough
            assert any(matches(got, wrong, case) for wrong in predictions), case.label
            checked += 1
            if not extended:
                reachable |= not matches(got, main_part(name, case.expected), case)
    assert checked and reachable


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
def test_bilinear_reference_upsamples_like_F_interpolate(factor):
    """The proof the exercise promises: is _bilinear_reference, as the weight of
    ConvTranspose2d(k = 2f − f % 2, stride f, padding f // 2), F.interpolate(mode="bilinear",
    align_corners=False) away from the border, with the same output size n·f, for factors 2 to 5?"""
    g = torch.Generator().manual_seed(factor)
    x = torch.randn(2, 3, 7, 9, generator=g, dtype=torch.float64)
    weight = bilinear._bilinear_reference(3, factor).double()
    k = weight.shape[-1]
    assert k == 2 * factor - factor % 2
    mine = F.conv_transpose2d(x, weight, stride=factor, padding=factor // 2)
    reference = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert mine.shape == reference.shape == (2, 3, 7 * factor, 9 * factor)
    inner = (..., slice(factor, -factor), slice(factor, -factor))
    # the kernel is float32 (1/3 is rounded there), the rest float64: agreement to float32's precision
    torch.testing.assert_close(mine[inner], reference[inner], atol=1e-6, rtol=1e-6)
    # and the border is where they differ (zeros beyond the image vs the edge pixel repeated)
    assert not torch.allclose(mine, reference)
    # the comparison tells kernels apart: the tent with the other centre is not bilinear interpolation
    off = F.conv_transpose2d(x, impl.bilinear_kernel_centre_swapped(3, factor).double(), stride=factor,
                             padding=factor // 2)
    assert not torch.allclose(off[inner], reference[inner], atol=1e-3)


def test_bilinear_reference_is_the_tent_of_every_correct_style():
    """Is _bilinear_reference equal to the kernels of the learners' three styles (loops, outer product, numpy)
    and zero off the channel diagonal, for every factor the checks use?"""
    for case in bilinear._bilinear_cases(0, True):
        channels, factor = case.args
        for learner in SPECS["bilinear_kernel"].correct:
            torch.testing.assert_close(learner(channels, factor), case.expected)
        off_diagonal = case.expected.clone()
        off_diagonal[range(channels), range(channels)] = 0
        assert not off_diagonal.any()


@pytest.mark.parametrize("seed", [0, 7, 11])
def test_confusion_reference_equals_bincount(seed):
    """Does _confusion_reference (one mask per pair) equal torch.bincount of target·K + pred over the kept
    pixels, and count exactly the pixels whose target is not ignore_index, on every public and hidden case?"""
    for case in scores._confusion_cases(seed, True):
        pred, target, classes = case.args
        ignore = case.kwargs["ignore_index"]
        keep = target != ignore
        counted = torch.bincount(target[keep] * classes + pred[keep], minlength=classes * classes)
        assert torch.equal(case.expected, counted.reshape(classes, classes)), case.label
        assert int(case.expected.sum()) == int(keep.sum())


def test_confusion_cases_include_an_ignore_index_that_is_a_class_in_public():
    """Design: does a public case use an ignore_index that is also a class id, with that class in the target
    (so that masking the class range instead of ignore_index fails before grading)?"""
    cases = [case for case in scores._confusion_cases(0, False) if 0 <= case.kwargs["ignore_index"] < case.args[2]]
    assert cases and all(bool((case.args[1] == case.kwargs["ignore_index"]).any()) for case in cases)


def numpy_scores(matrix):
    m = matrix.numpy().astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.diag(m) / (m.sum(axis=0) + m.sum(axis=1) - np.diag(m))
        pixel_accuracy = np.trace(m) / m.sum()
    mean_iou = np.nanmean(iou) if not np.isnan(iou).all() else np.nan
    return float(pixel_accuracy), float(mean_iou), iou


def score_matrices():
    """The checks' matrices for two seeds, plus edge cases: all-zero, one class, one class absent of many."""
    matrices = [case.args[0] for seed in (0, 7) for case in scores._scores_cases(seed, True)]
    g = torch.Generator().manual_seed(3)
    sparse = torch.randint(0, 3, (6, 6), generator=g)
    sparse[2, :], sparse[:, 2] = 0, 0
    return matrices + [torch.zeros(3, 3, dtype=torch.int64), torch.tensor([[5]]), sparse]


@pytest.mark.parametrize("matrix", score_matrices(), ids=lambda m: f"{tuple(m.shape)}-{int(m.sum())}")
def test_scores_reference_equals_numpy(matrix):
    """Does _scores_reference (class by class, from the definitions) equal numpy's vectorised pixel accuracy,
    per-class IoU with NaN for empty unions, and nanmean?"""
    pa, miou, iou = scores._scores_reference(matrix)
    want_pa, want_miou, want_iou = numpy_scores(matrix)
    np.testing.assert_allclose(pa, want_pa, rtol=1e-12)
    np.testing.assert_allclose(miou, want_miou, rtol=1e-12)
    np.testing.assert_allclose(iou.numpy(), want_iou, rtol=1e-12)


def test_scores_reference_matches_the_cases_expected_answers():
    """Are the answers the scores check expects those of numpy, and does each public matrix with an absent class
    really have an empty union there?"""
    for case in scores._scores_cases(0, False):
        pa, miou, iou = case.expected
        want_pa, want_miou, want_iou = numpy_scores(case.args[0])
        assert (pa, miou) == pytest.approx((want_pa, want_miou), rel=1e-12)
        np.testing.assert_allclose(iou.numpy(), want_iou, rtol=1e-12)
        if "absent" in case.label:
            assert np.isnan(want_iou[-1])


@pytest.mark.parametrize("extended", [False, True], ids=["public", "hidden"])
def test_transposed_size_reference_equals_formula_and_a_real_layer(extended):
    """Is the size the output-size check expects (F.conv_transpose2d on the meta device) that of the formula and
    of nn.ConvTranspose1d run for real on the CPU?"""
    for case in transposed._transposed_size_cases(extended):
        (n,), kw = case.args, case.kwargs
        formula = (n - 1) * kw["stride"] - 2 * kw["padding"] + kw["dilation"] * (kw["kernel_size"] - 1) \
            + kw["output_padding"] + 1
        with torch.random.fork_rng(devices=[]):
            layer = nn.ConvTranspose1d(1, 1, kw["kernel_size"], stride=kw["stride"], padding=kw["padding"],
                                       output_padding=kw["output_padding"], dilation=kw["dilation"])
        with torch.no_grad():
            real = layer(torch.zeros(1, 1, n)).shape[-1]
        assert case.expected == formula == real, case.label


def overlap_cases():
    """The public and hidden cases of check_overlap_counts, for three seeds (the hidden ones draw settings)."""
    return [case for seed in (0, 7, 2024) for extended in (False, True)
            for case in overlap._overlap_cases(seed, extended) if extended or seed == 0]


def brute_force_counts(h, w, k, s, p):
    """Every (input pixel, tap) pair, one at a time, in plain Python: the definition itself."""
    out_h, out_w = (h - 1) * s + k - 2 * p, (w - 1) * s + k - 2 * p
    counts = [[0] * out_w for _ in range(out_h)]
    for a in range(h):
        for b in range(w):
            for i in range(k):
                for j in range(k):
                    row, col = a * s + i - p, b * s + j - p
                    if 0 <= row < out_h and 0 <= col < out_w:
                        counts[row][col] += 1
    return torch.tensor(counts, dtype=torch.int64).reshape(out_h, out_w)


@pytest.mark.parametrize("case", overlap_cases(), ids=lambda case: case.label)
def test_overlap_measurement_equals_brute_force_and_the_closed_form(case):
    """Is the answer check_overlap_counts expects (F.conv_transpose2d of ones with a kernel of ones) the count of
    (input pixel, tap) pairs made one by one, and the closed form its mistakes are computed from, with no mistake,
    on every public and hidden case?"""
    (h, w), k, s = case.args
    p = case.kwargs["padding"]
    assert case.expected.dtype == torch.int64
    assert torch.equal(case.expected, brute_force_counts(h, w, k, s, p)), case.label
    assert torch.equal(overlap._formula_counts(h, w, k, s, p), case.expected), case.label


def test_overlap_public_cases_hold_uneven_and_even_overlaps():
    """Design: do the public cases include k = 3, s = 2 with uneven interior counts (1, 2 and 4), k = 4, s = 2 with a
    flat interior, strides 1, 2 and 3, padding, and H ≠ W in every case?"""
    cases = overlap._overlap_cases(0, False)
    settings = {(case.args[1], case.args[2]): case for case in cases}
    uneven, even = settings[(3, 2)].expected, settings[(4, 2)].expected
    assert set(uneven[2:-2, 2:-2].unique().tolist()) == {1, 2, 4}
    assert even[2:-2, 2:-2].unique().numel() == 1
    assert {case.args[2] for case in cases} >= {1, 2, 3}
    assert any(case.kwargs["padding"] for case in cases)
    assert all(case.args[0][0] != case.args[0][1] for case in cases)


def test_no_two_overlap_mistakes_predict_the_same_answer():
    """Does every case name at most one mistake for any wrong answer, and none for the right one (a hint is given
    only where exactly one mistake explains the answer)?"""
    for case in overlap_cases():
        signatures = [overlap._signature(m.answer, case.expected.shape) for m in case.mistakes]
        assert len(set(signatures)) == len(signatures), case.label
        assert overlap._signature(case.expected, case.expected.shape) not in signatures, case.label


def test_overlap_check_names_no_mistake_for_an_unknown_one():
    """Does the general message come without a mistake key when no known mistake explains the answer?"""
    result = check_overlap_counts(impl.overlap_counts_skips_last_input)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake is None and result.hint == M("overlap_counts.general")


@pytest.mark.parametrize("c, h, w, out_features, bias",
                         convolutionalize._CONVOLUTIONALIZE_SPECS + convolutionalize._CONVOLUTIONALIZE_EXTENDED)
def test_linear_windows_equal_the_dense_layer_on_each_window(c, h, w, out_features, bias):
    """Does _linear_windows (unfold and a matrix product) equal nn.Linear applied to each window cut out by
    slicing, and F.conv2d with the weight reshaped to (out, C, H, W)?"""
    g = torch.Generator().manual_seed(c * h * w)
    with torch.random.fork_rng(devices=[]):
        linear = nn.Linear(c * h * w, out_features, bias=bias)
    x = torch.randn(2, c, h + 3, w + 2, generator=g)
    with torch.no_grad():
        got = convolutionalize._linear_windows(linear.weight, linear.bias, x, h, w)
        by_slices = torch.stack([torch.stack([linear(x[:, :, i:i + h, j:j + w].flatten(1)) for j in range(3)], -1)
                                 for i in range(4)], -2)
        by_conv = F.conv2d(x, linear.weight.view(out_features, c, h, w), linear.bias)
    assert got.shape == (2, out_features, 4, 3)
    torch.testing.assert_close(got, by_slices)
    torch.testing.assert_close(got, by_conv, atol=1e-5, rtol=1e-5)


def test_convolutionalize_hwc_prediction_is_the_wrong_layers_output():
    """Does the (H, W, C) mistake the convolutionalize check predicts equal the output of the convolution that
    learner builds, and differ from the right one?"""
    c, h, w, out_features = 3, 4, 5, 6
    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        linear = nn.Linear(c * h * w, out_features)
        wrong = impl.convolutionalize_hwc_order(linear, (c, h, w))
    x = torch.randn(2, c, h + 2, w + 1, generator=g)
    hwc = linear.weight.reshape(out_features, h, w, c).permute(0, 3, 1, 2).reshape(out_features, -1)
    with torch.no_grad():
        torch.testing.assert_close(convolutionalize._linear_windows(hwc, linear.bias, x, h, w), wrong(x), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(wrong(x), convolutionalize._linear_windows(linear.weight, linear.bias, x, h, w), atol=1e-3)


@pytest.mark.parametrize("question, learner, needle", CONFUSION_RAISES, ids=[q for q, _, _ in CONFUSION_RAISES])
def test_check_confusion_matrix_explains_errors_of_unmasked_counts(question, learner, needle):
    """Does a learner whose code raises because ignore labels were not dropped, or because its counts are sized by
    the labels present, get a hint that says which, in public?"""
    result = check_confusion_matrix(learner)
    assert result.outcome == RAISED, result.text()
    assert needle in result.hint


def test_check_confusion_matrix_names_no_cause_for_an_error_those_causes_did_not_make():
    """Does an error of another kind, raised on a case that holds ignored pixels and a class on no pixel (a name
    misspelt), keep the error's own message, without a hint about ignore labels or minlength?  (The hint is named
    only when removing its cause from the failing case stops the error.)"""
    def misspelt(pred, target, num_classes, ignore_index=255):
        keep = target != ignore_index
        return torch.bincount(target[keep] * num_classes + pred[kep], minlength=num_classes ** 2)  # noqa: F821
    result = check_confusion_matrix(misspelt)
    assert result.outcome == RAISED and "NameError" in result.evidence[0], result.text()
    assert result.hint is None and result.mistake is None, result.text()


# ==========================================================================
# 4. Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def convolutionalize_kinds(spec):
    c, h, w, out_features, bias = spec
    return ["bias" if bias else "no bias", *[kind for kind, present in [
        ("H ≠ W", h != w), ("a 1×1 input", (h, w) == (1, 1)), ("one input channel", c == 1)] if present]]


def transposed_kinds(spec):
    n, cin, cout, h, w, kh, kw, stride, padding, output_padding, bias = spec
    (sh, sw), (ph, pw), (oh, ow) = _pair(stride), _pair(padding), _pair(output_padding)
    return [kind for kind, present in [
        ("stride 1", 1 in (sh, sw)), ("overlapping windows", kh > sh or kw > sw),
        ("gaps between windows", kh < sh or kw < sw), ("kernel as wide as the stride", kh == sh or kw == sw),
        ("padding", (ph, pw) != (0, 0)), ("output padding", (oh, ow) != (0, 0)),
        ("settings differ along H and W", (sh, ph, oh) != (sw, pw, ow)), ("non-square kernel", kh != kw),
        ("no bias", not bias), ("C_in = C_out", cin == cout), ("one input channel", cin == 1),
        ("one output channel", cout == 1), ("H ≠ W", h != w), ("an axis of one input pixel", 1 in (h, w))]
        if present]


def transposed_size_kinds(case):
    (n,), kw = case.args, case.kwargs
    k, s, p, op, d = (kw[key] for key in ("kernel_size", "stride", "padding", "output_padding", "dilation"))
    return [kind for kind, present in [
        ("stride", s > 1), ("padding", p > 0), ("output padding", op > 0), ("dilation", d > 1),
        ("stride larger than the kernel", s > k), ("a kernel of 1", k == 1), ("an input of 1", n == 1),
        ("output padding with dilation", op > 0 and d > 1)] if present]


def overlap_kinds(spec):
    h, w, k, s, p = spec
    return [kind for kind, present in [
        ("overlapping windows", k > s), ("kernel as wide as the stride", k == s), ("gaps between windows", k < s),
        ("stride 1", s == 1), ("padding", p > 0), ("a 1×1 kernel", k == 1), ("an axis of one input pixel", 1 in (h, w))]
        if present]


def bilinear_kinds(case):
    channels, factor = case.args
    return ["one channel" if channels == 1 else "several channels",
            "factor 1 (a 1×1 kernel)" if factor == 1 else "even factor" if factor % 2 == 0 else "odd factor"]


def confusion_kinds(case):
    pred, target, classes = case.args
    ignore = case.kwargs["ignore_index"]
    keep = target != ignore
    true, predicted = set(target[keep].tolist()), set(pred[keep].tolist())
    return [("ignore_index a class id" if 0 <= ignore < classes else
             "negative ignore_index" if ignore < 0 else "ignore_index beyond the classes"),
            *[kind for kind, present in [
                ("ignored pixels", bool((~keep).any())), ("a batch of one", target.shape[0] == 1),
                ("one pixel", target.numel() == 1), ("a class never true", len(true) < classes),
                ("a class never predicted", len(predicted) < classes),
                ("the last class never true", classes - 1 not in true),
                ("the last class never predicted", classes - 1 not in predicted)] if present]]


def scores_kinds(case):
    m = case.args[0]
    rows, cols = m.sum(dim=1), m.sum(dim=0)
    return [kind for kind, present in [
        ("one class", m.shape[0] == 1), ("a class absent from truth and prediction", bool(((rows == 0) & (cols == 0)).any())),
        ("a class only predicted", bool(((rows == 0) & (cols > 0)).any())),
        ("a class never predicted", bool(((rows > 0) & (cols == 0)).any()))] if present]


def overlap_specs(seed, extended):
    return [((h, w), k, s, case.kwargs["padding"]) for case in overlap._overlap_cases(seed, extended)
            for (h, w), k, s in [case.args]]


@pytest.mark.parametrize("public, hidden, kinds", [
    (convolutionalize._CONVOLUTIONALIZE_SPECS, convolutionalize._CONVOLUTIONALIZE_EXTENDED, convolutionalize_kinds),
    (transposed._TRANSPOSE_SPECS, transposed._TRANSPOSE_EXTENDED, transposed_kinds),
    (transposed._transposed_size_cases(False), transposed._transposed_size_cases(True), transposed_size_kinds),
    (bilinear._bilinear_cases(0, False), bilinear._bilinear_cases(0, True), bilinear_kinds),
], ids=["convolutionalize", "conv_transpose2d", "conv_transpose_output_size", "bilinear_kernel"])
def test_hidden_cases_add_no_new_kind_of_case(public, hidden, kinds):
    """Does every kind of case of the hidden run (one input channel, a single input pixel, a stride larger than
    the kernel, factor 1, ...) appear among the public cases too?"""
    assert_no_new_kind(public, hidden, kinds)


@pytest.mark.parametrize("seed", [0, 7, 2024] + list(range(1, 20)))
def test_hidden_overlap_settings_drawn_from_any_seed_add_no_new_kind(seed):
    """Do the hidden overlap_counts settings, the fixed ones and those drawn from the seed (k = 1, k = s, an
    axis of one pixel, ...), bring no kind of case the public ones (seed 0) lack?"""
    public = [(h, w, k, s, p) for (h, w), k, s, p in overlap_specs(0, False)]
    hidden = [(h, w, k, s, p) for (h, w), k, s, p in overlap_specs(seed, True)]
    assert_no_new_kind(public, hidden, overlap_kinds)


@pytest.mark.parametrize("seed", [0, 7, 2024])
@pytest.mark.parametrize("cases, kinds", [(scores._confusion_cases, confusion_kinds),
                                          (scores._scores_cases, scores_kinds)],
                         ids=["confusion_matrix", "segmentation_scores"])
def test_hidden_matrices_add_no_new_kind(cases, kinds, seed):
    """Do the hidden confusion-matrix and score cases (kinds read off their pixels and counts: a class never
    true or never predicted, one pixel, one class, ...) bring no kind the public cases (seed 0) lack?"""
    assert_no_new_kind(cases(0, False), cases(seed, True), kinds)
