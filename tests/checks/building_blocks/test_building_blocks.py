"""Proof that the six checks of notebook 02 (pooling, batch norm, softmax,
receptive fields, a first CNN) work.

A check that was never seen failing is not a check.  This module holds what
is specific to these checks:

* the correct implementations, in several styles, that
  ``test_contract.py`` runs on the public and hidden cases (registered
  through ``SPECS`` below, with the generic contract: not attempted, raised,
  cannot be checked, stopped, strict, rendering, guards, determinism);
* ``CATALOGUE``: plausible wrong implementations, each failing with the hint
  that names its mistake (run by ``test_contract.py``'s generic catalogue
  test), and here the exact key of each known mistake a hint names;
* the receptive-field reference (``measure_receptive_field``) agrees with two
  other measurements made here, and ``check_make_digits_cnn`` passes a model
  that was really trained and fails one that was not.

The learner implementations live in ``impls.py``; none of the correct
ones calls the function its exercise re-implements.  Every expected number is
computed (by torch, a measurement or the check's own constants), never typed
in.  Defects found in the checks are marked ``xfail(strict=True)`` with the
reason.
"""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import course_utils.checks as checks
from course_utils import data, train
from course_utils.checks import (INCORRECT, PASSED, RAISED, UNCHECKABLE, CheckFailed, check_avg_pool2d,
                                 check_batch_norm, check_make_digits_cnn, check_max_pool2d, check_receptive_field,
                                 check_softmax)
from course_utils.checks import engine
from course_utils.checks.building_blocks import layers, networks
from course_utils.checks.engine import answered
from course_utils.checks.building_blocks.networks import measure_receptive_field

from checks.building_blocks import impls as impl
from checks.helpers import CheckSpec, assert_no_new_kind, guards_fixture
from checks.helpers import mistake_case as mistake

COURSE_UTILS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(checks.__file__)))

# The functions the pooling guards replace while the learner's code runs, and
# the originals they must put back (torch has no avg_pool2d attribute: the
# guards skip it, and the op-name pattern refuses torch._C._nn.avg_pool2d).
GUARDED = {
    "F.max_pool2d": (F, "max_pool2d"), "F.avg_pool2d": (F, "avg_pool2d"),
    "torch.max_pool2d": (torch, "max_pool2d"), "F.max_pool2d_with_indices": (F, "max_pool2d_with_indices"),
}
# (check, guarded function) pairs: test_check_contract.py spies that the function is replaced
# while the learner's code runs, and only then.
REFERENCES = [("max_pool2d", "F.max_pool2d"), ("max_pool2d", "torch.max_pool2d"), ("avg_pool2d", "F.avg_pool2d"),
              ("avg_pool2d", "F.max_pool2d")]


def references_still_work():
    """The refused torch functions run normally again (no guard mode left behind)."""
    x = torch.arange(16.0).view(1, 1, 4, 4)
    F.max_pool2d(x, 2), F.avg_pool2d(x, 2), torch.softmax(x, dim=-1), x.softmax(-1)
    F.batch_norm(x, torch.zeros(1), torch.ones(1), training=True)


guards_put_everything_back = guards_fixture(GUARDED, references_still_work)


# ==========================================================================
# The six checks, side by side
# ==========================================================================

SPECS = {
    "max_pool2d": CheckSpec(check=check_max_pool2d, kind="tensor",
                       correct=[impl.max_pool2d_loops, impl.max_pool2d_unfold, impl.max_pool2d_shifted_maximum],
                       mistake=impl.max_pool2d_is_avg, forbidden=impl.max_pool2d_calls_F,
                       reimplements=("F.max_pool2d", "torch.max_pool2d", "F.max_pool2d_with_indices")),
    "avg_pool2d": CheckSpec(check=check_avg_pool2d, kind="tensor",
                       correct=[impl.avg_pool2d_loops, impl.avg_pool2d_unfold, impl.avg_pool2d_box_filter],
                       mistake=impl.avg_pool2d_window_sum, forbidden=impl.avg_pool2d_calls_F,
                       reimplements=("F.avg_pool2d", "torch.avg_pool2d")),
    "batch_norm": CheckSpec(check=check_batch_norm, kind="tensor",
                       correct=[impl.batch_norm_torch_var, impl.batch_norm_explicit_sums,
                                impl.batch_norm_per_channel_loop],
                       mistake=impl.batch_norm_swapped_affine, forbidden=impl.batch_norm_calls_F, main=0,
                       reimplements=("torch.batch_norm",)),
    "softmax": CheckSpec(check=check_softmax, kind="tensor",
                    correct=[impl.softmax_max_shift, impl.softmax_logsumexp, impl.softmax_shifted_logsumexp,
                             impl.softmax_moved_dim_loop],
                    mistake=impl.softmax_log_softmax, forbidden=impl.softmax_calls_torch, reimplements=("torch.softmax",)),
    "receptive_field": CheckSpec(check=check_receptive_field, kind="int",
                            correct=[impl.receptive_field_forward, impl.receptive_field_backward,
                                     impl.receptive_field_closed_form],
                            mistake=impl.receptive_field_ignores_strides, forbidden=None),
    "make_digits_cnn": CheckSpec(check=check_make_digits_cnn, kind="model",
                            correct=[impl.digits_cnn_batch_norm, impl.digits_cnn_subclass],
                            mistake=impl.digits_mlp, forbidden=None, hidden_cases="same",
                            rng_learners=[impl.digits_cnn_without_rng], stand_in_models=False),
}
ALL = list(SPECS)
# Arguments a learner may ignore and still pass the public check (test_arguments.py proves that every other
# argument of every exercise here changes a public answer): none.
ARGUMENTS_IGNORABLE: dict = {}
TENSOR = [name for name in ALL if SPECS[name].kind == "tensor"]
INTEGER = [name for name in ALL if SPECS[name].kind == "int"]
WITH_FORBIDDEN = [name for name in ALL if SPECS[name].forbidden is not None]


def correct_of(name):
    return SPECS[name].correct[0]


# ==========================================================================
# 1. Correct implementations pass
# ==========================================================================

def test_correct_implementations_use_no_forbidden_function():
    """Do the correct pool, softmax and batch-norm implementations run with every torch reference refused?"""
    x = torch.randn(2, 3, 7, 9, generator=torch.Generator().manual_seed(0))
    vector = torch.ones(3)
    pattern = "|".join([layers.POOL_OPS, layers.SOFTMAX_OPS, layers.BATCH_NORM_OPS])
    with engine.forbid(layers._pool_forbidden(), pattern):
        for name in ("max_pool2d", "avg_pool2d"):
            for fn in SPECS[name].correct:
                fn(x, 3, 2, 1)
        for fn in SPECS["softmax"].correct:
            fn(x, dim=1)
        for fn in SPECS["batch_norm"].correct:
            fn(x, vector * 0, vector, vector, vector * 0, True)


# ==========================================================================
# 2. Catalogues of plausible wrong implementations
# ==========================================================================

POOL_FAMILY = [  # (question, wrong max_pool2d, wrong avg_pool2d, needle of the hint)
    ("notices the other pooling", impl.max_pool2d_is_avg, impl.avg_pool2d_is_max, "the other pooling"),
    ("notices stride=None read as 1", impl.max_pool2d_stride_default_one, impl.avg_pool2d_stride_default_one,
     "stride=None means stride = kernel_size"),
    ("notices stride=None read as the kernel's first side on both axes", impl.max_pool2d_stride_default_first_side,
     impl.avg_pool2d_stride_default_first_side, "along each axis"),
    ("notices ignored padding", impl.max_pool2d_ignores_padding, impl.avg_pool2d_ignores_padding,
     "Padding is ignored"),
    ("notices ceil mode (windows past the edge)", impl.max_pool2d_ceil_mode, impl.avg_pool2d_ceil_mode,
     "stick out past the edge"),
    ("notices the channel dimension pooled away", impl.max_pool2d_collapses_channels,
     impl.avg_pool2d_collapses_channels, "channel dimension must stay"),
]
POOL_FAMILY_KEYS = ["pool2d.other_kind", "pool2d.stride_default", "pool2d.stride_default_side", "pool2d.padding_ignored", "pool2d.ceil_mode",
                    "pool2d.channels_dropped"]


CATALOGUE = {
    "max_pool2d": [mistake(question, learner, needle) for question, learner, _, needle in POOL_FAMILY] + [
        mistake("notices zero padding winning the max", impl.max_pool2d_zero_padding, "pads with -inf"),
        mistake("notices an output one window short", impl.max_pool2d_one_short, "Off by one"),
        mistake("falls back to the window formula for swapped H/W pairs", impl.max_pool2d_swapped_hw,
                "out[n, c, i, j] = max over the window"),
        mistake("refuses F.max_pool2d", impl.max_pool2d_calls_F, "F.max_pool2d", field="summary"),
        mistake("refuses torch.max_pool2d", impl.max_pool2d_calls_torch, "torch.max_pool2d", field="summary"),
        mistake("refuses nn.MaxPool2d", impl.max_pool2d_uses_nn_module, "F.max_pool2d", field="summary"),
        mistake("refuses max_pool2d imported before the check", impl.max_pool2d_calls_bound_function,
                "F.max_pool2d", field="summary"),
        mistake("refuses adaptive max pooling", impl.max_pool2d_uses_adaptive_pool, "adaptive_max_pool2d",
                field="summary"),
    ],
    "avg_pool2d": [mistake(question, learner, needle) for question, _, learner, needle in POOL_FAMILY] + [
        mistake("notices padding left out of the divisor", impl.avg_pool2d_excludes_padding, "count_include_pad"),
        mistake("notices the window sum", impl.avg_pool2d_window_sum, "window *sum*"),
        mistake("notices an output one window long", impl.avg_pool2d_one_long, "Off by one"),
        mistake("refuses F.avg_pool2d", impl.avg_pool2d_calls_F, "F.avg_pool2d", field="summary"),
        mistake("refuses nn.AvgPool2d", impl.avg_pool2d_uses_nn_module, "F.avg_pool2d", field="summary"),
        mistake("refuses F.max_pool2d as well", impl.avg_pool2d_calls_max_pool, "F.max_pool2d", field="summary"),
    ],
    "batch_norm": [
        mistake("notices a biased running variance", impl.batch_norm_biased_running_var,
                "running variance is updated with the *unbiased*"),
        mistake("notices normalisation by the unbiased variance", impl.batch_norm_unbiased_normalisation,
                "Normalise with the *biased* batch variance"),
        mistake("notices swapped momentum", impl.batch_norm_swapped_momentum, "weight of the *new* statistic"),
        mistake("notices running statistics used in training", impl.batch_norm_running_stats_in_training,
                "In training mode, normalise with the statistics of this batch"),
        mistake("notices per-sample statistics", impl.batch_norm_per_sample, "mean over dims (0, 2, 3)"),
        mistake("notices running statistics never updated", impl.batch_norm_no_update, "were not updated"),
        mistake("notices batch statistics in eval mode", impl.batch_norm_batch_stats_in_eval,
                "In eval mode, normalise with the running statistics"),
        mistake("notices an update in eval mode", impl.batch_norm_updates_in_eval, "stay as they are"),
        mistake("notices swapped gamma and beta", impl.batch_norm_swapped_affine, "they look swapped"),
        mistake("notices eps added outside the square root (a quiet channel)", impl.batch_norm_eps_outside_sqrt,
                "eps goes inside the square root"),
        mistake("notices eps left out (a quiet channel)", impl.batch_norm_no_eps, "eps is missing"),
        mistake("notices the default eps instead of the one passed", impl.batch_norm_fixed_eps,
                "not the default 1e-5"),
        mistake("notices running_mean updated in place", impl.batch_norm_in_place_update, "in place",
                field="summary"),
        mistake("cannot check y returned alone", impl.batch_norm_returns_only_y, "tuple of 3", field="summary",
                outcome=UNCHECKABLE),
        mistake("cannot check two tensors without y", impl.batch_norm_returns_two, "of length 2", field="summary",
                outcome=UNCHECKABLE),
        mistake("refuses F.batch_norm", impl.batch_norm_calls_F, "batch_norm", field="summary"),
        mistake("refuses nn.BatchNorm2d", impl.batch_norm_uses_nn_module, "batch_norm", field="summary"),
    ],
    "softmax": [
        mistake("notices the naive exp (not finite)", impl.softmax_naive, "not finite", field="evidence"),
        mistake("names the naive exp unstable", impl.softmax_naive, "Subtract the max"),
        mistake("notices `dim` ignored (always the last)", impl.softmax_always_last_dim, "along `dim` only"),
        mistake("notices normalisation down dim 0", impl.softmax_always_dim_0, "along `dim` only"),
        mistake("notices a global normalisation", impl.softmax_global_normalisation, "whole tensor"),
        mistake("notices log-softmax", impl.softmax_log_softmax, "log-softmax"),
        mistake("fails one global max", impl.softmax_global_max, "not finite", field="evidence"),
        mistake("names one global max", impl.softmax_global_max, "not one global max"),
        mistake("notices z -= max on the caller's logits", impl.softmax_subtracts_in_place, "in place",
                field="summary"),
        mistake("refuses torch.softmax", impl.softmax_calls_torch, "softmax", field="summary"),
        mistake("refuses F.softmax", impl.softmax_calls_F, "softmax", field="summary"),
        mistake("refuses Tensor.softmax", impl.softmax_calls_method, "softmax", field="summary"),
        mistake("refuses nn.Softmax", impl.softmax_uses_nn_module, "softmax", field="summary"),
        mistake("refuses exp(log_softmax)", impl.softmax_exp_of_log_softmax, "log_softmax", field="summary"),
    ],
    "receptive_field": [
        mistake("notices ignored strides", impl.receptive_field_ignores_strides, "Strides are ignored"),
        mistake("notices the jump taken with the layer's own stride", impl.receptive_field_own_stride,
                "layers *before* this one"),
        mistake("notices ignored dilation", impl.receptive_field_ignores_dilation, "Dilation is ignored"),
        mistake("notices summed kernel sizes", impl.receptive_field_sums_kernels, "do not simply add up"),
        mistake("notices multiplied kernel sizes", impl.receptive_field_multiplies_kernels,
                "adding, not multiplying"),
        mistake("falls back to the recipe for r starting at 0 (off by one)", impl.receptive_field_starts_at_zero,
                "Start with r = 1"),
        mistake("falls back to the recipe for k added instead of k - 1", impl.receptive_field_adds_k,
                "r += d·(k − 1)·j"),
        mistake("notices the caller's list reversed in place", impl.receptive_field_reverses_in_place, "in place",
                field="summary"),
    ],
    "make_digits_cnn": [
        mistake("cannot check None from make_digits_cnn()", impl.digits_cnn_forgets_return, "expected an nn.Module",
                field="summary", outcome=UNCHECKABLE),
        mistake("cannot check the class instead of an instance", impl.digits_cnn_returns_class,
                "expected an nn.Module", field="summary", outcome=UNCHECKABLE),
        mistake("cannot check a list of layers", impl.digits_cnn_returns_layer_list, "expected an nn.Module",
                field="summary", outcome=UNCHECKABLE),
        mistake("notices an MLP (no convolution)", impl.digits_mlp, "nn.Conv2d"),
        mistake("notices too many parameters", impl.digits_cnn_too_big, "fewer channels"),
        mistake("notices 9 scores instead of 10", impl.digits_cnn_nine_classes, "nn.Linear(features, 10)"),
        mistake("notices a head without Flatten", impl.digits_cnn_no_flatten, "nn.Flatten()"),
        mistake("notices probabilities instead of logits (a final softmax)", impl.digits_cnn_softmax,
                "leave out the final softmax"),
        mistake("notices a squeeze that breaks batches of one", impl.digits_cnn_squeezes,
                "(1, 1, 8, 8)", field="case"),
        mistake("says why a squeeze breaks batches of one", impl.digits_cnn_squeezes, "lost its batch dimension"),
        mistake("reports a head sized for 28x28 images as raised", impl.digits_cnn_for_28x28, "mat1 and mat2",
                field="evidence", outcome=RAISED),
    ],
}


@pytest.mark.parametrize("check, learner, key", [
    (check_max_pool2d, impl.max_pool2d_zero_padding, "max_pool2d.zero_padding"),
    (check_avg_pool2d, impl.avg_pool2d_excludes_padding, "avg_pool2d.padding_not_counted"),
    (check_avg_pool2d, impl.avg_pool2d_window_sum, "avg_pool2d.window_sum"),
    (check_batch_norm, impl.batch_norm_biased_running_var, "batch_norm.biased_running_var"),
    (check_batch_norm, impl.batch_norm_unbiased_normalisation, "batch_norm.unbiased_normalisation"),
    (check_batch_norm, impl.batch_norm_swapped_momentum, "batch_norm.swapped_momentum"),
    (check_batch_norm, impl.batch_norm_running_stats_in_training, "batch_norm.running_in_training"),
    (check_batch_norm, impl.batch_norm_per_sample, "batch_norm.per_sample"),
    (check_batch_norm, impl.batch_norm_no_update, "batch_norm.no_update"),
    (check_batch_norm, impl.batch_norm_batch_stats_in_eval, "batch_norm.batch_in_eval"),
    (check_batch_norm, impl.batch_norm_updates_in_eval, "batch_norm.update_in_eval"),
    (check_batch_norm, impl.batch_norm_swapped_affine, "batch_norm.swapped_affine"),
    (check_batch_norm, impl.batch_norm_eps_outside_sqrt, "batch_norm.eps_outside_sqrt"),
    (check_batch_norm, impl.batch_norm_no_eps, "batch_norm.no_eps"),
    (check_batch_norm, impl.batch_norm_fixed_eps, "batch_norm.fixed_eps"),
    (check_softmax, impl.softmax_naive, "softmax.unstable"),
    (check_softmax, impl.softmax_always_last_dim, "softmax.wrong_dim"),
    (check_softmax, impl.softmax_global_normalisation, "softmax.whole_tensor"),
    (check_softmax, impl.softmax_log_softmax, "softmax.log_softmax"),
    (check_softmax, impl.softmax_global_max, "softmax.global_max"),
    (check_receptive_field, impl.receptive_field_ignores_strides, "receptive_field.no_stride"),
    (check_receptive_field, impl.receptive_field_own_stride, "receptive_field.own_stride"),
    (check_receptive_field, impl.receptive_field_ignores_dilation, "receptive_field.no_dilation"),
    (check_receptive_field, impl.receptive_field_sums_kernels, "receptive_field.sum_kernels"),
    (check_receptive_field, impl.receptive_field_multiplies_kernels, "receptive_field.product"),
] + [(check, learner, key) for (_, max_learner, avg_learner, _), key in zip(POOL_FAMILY, POOL_FAMILY_KEYS)
     for check, learner in ((check_max_pool2d, max_learner), (check_avg_pool2d, avg_learner))])
def test_known_mistake_is_named_by_its_key(check, learner, key):
    """Is each known mistake recognised as itself: the verdict carries that mistake's key, not just a text
    that happens to contain the needle?"""
    result = check(learner)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake == key, result.text()


def test_check_batch_norm_names_the_wrong_part():
    """Does check_batch_norm say which of the three returned tensors is wrong?"""
    for learner, part in [(impl.batch_norm_swapped_affine, "comparing y"),
                          (impl.batch_norm_swapped_momentum, "comparing new_running_mean"),
                          (impl.batch_norm_biased_running_var, "comparing new_running_var")]:
        result = check_batch_norm(learner)
        assert result.case.endswith(part), result.text()


def test_receptive_field_consensus_tells_own_stride_from_product():
    """On the ResNet stem the own-stride jump and the product of kernels give the same wrong number;
    does the check still name each learner's own mistake?"""
    stem = [(7, 2), (3, 2)]
    assert impl.receptive_field_own_stride(stem) == impl.receptive_field_multiplies_kernels(stem)
    assert impl.receptive_field_own_stride(stem) != measure_receptive_field(stem)
    assert "layers *before*" in check_receptive_field(impl.receptive_field_own_stride).hint
    assert "not multiplying" in check_receptive_field(impl.receptive_field_multiplies_kernels).hint


def test_too_many_parameters_shows_the_count():
    """Does the parameter verdict show the model's own count and the limit?"""
    count = sum(p.numel() for p in impl.digits_cnn_too_big().parameters())
    result = check_make_digits_cnn(impl.digits_cnn_too_big)
    assert f"{count:,} parameters" in result.summary, result.text()
    assert f"{500_000:,}" in result.evidence[0]


def test_parameter_limit_is_a_parameter():
    """Does max_parameters draw the line exactly at the model's parameter count?"""
    count = sum(p.numel() for p in impl.digits_cnn_batch_norm().parameters())
    assert check_make_digits_cnn(impl.digits_cnn_batch_norm, max_parameters=count).outcome == PASSED
    result = check_make_digits_cnn(impl.digits_cnn_batch_norm, max_parameters=count - 1)
    assert result.outcome == INCORRECT, result.text()
    assert f"the limit is {count - 1:,}" in result.evidence[0]


def test_wrong_class_count_shows_both_shapes():
    """Does the 9-class verdict show the expected (N, 10) and the returned shape?"""
    model = impl.digits_cnn_nine_classes().eval()
    with torch.no_grad():
        got = model(torch.zeros(5, 1, 8, 8))
    result = check_make_digits_cnn(impl.digits_cnn_nine_classes)
    assert result.evidence == [f"expected ({got.shape[0]}, 10), got {tuple(got.shape)}"]


# ==========================================================================
# 2b. make_digits_cnn with a model that was really trained
# ==========================================================================

def test_architecture_alone_passes_without_measuring_accuracy():
    """Without trained=, does a correct architecture pass and say that the accuracy was not measured?"""
    result = check_make_digits_cnn(impl.digits_cnn_batch_norm)
    assert result.outcome == PASSED, result.text()
    assert "accuracy was not measured" in result.summary


@pytest.fixture(scope="module")
def trained_cnn():
    """The notebook's recipe, once: Adam 3e-3, cosine schedule, 15 epochs of batch 32, seed 0 (~5 s)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = impl.digits_cnn_batch_norm()
        loader = torch.utils.data.DataLoader(data.load_digits("train"), batch_size=32, shuffle=True,
                                             generator=torch.Generator().manual_seed(0))
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 15)
        train.fit(model, loader, epochs=15, optimizer=optimizer, scheduler=scheduler, progress=False)
    return model


def held_out_accuracy(model):
    """The model's accuracy on the held-out digits, measured here in eval mode."""
    x, y = data.load_digits("test").tensors
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predictions = model(x).argmax(dim=1)
    model.train(was_training)
    return (predictions == y).float().mean().item(), len(y), int((predictions != y).sum())


def test_trained_model_passes_with_its_accuracy(trained_cnn):
    """Does a really trained CNN pass, with its measured test accuracy in the summary?"""
    accuracy, count, wrong = held_out_accuracy(trained_cnn)
    assert accuracy >= networks.DIGITS_ACCURACY  # the recipe does reach the target
    result = check_make_digits_cnn(impl.digits_cnn_batch_norm, trained=trained_cnn, strict=True)
    assert result.outcome == PASSED, result.text()
    assert f"test accuracy {accuracy:.2%} on {count} held-out digits ({wrong} wrong)" in result.summary


def test_trained_model_is_left_as_it_was(trained_cnn):
    """Does the check leave the trained model's mode, parameters and batch-norm buffers untouched?"""
    before = {k: v.clone() for k, v in trained_cnn.state_dict().items()}
    for mode in (True, False):
        trained_cnn.train(mode)
        check_make_digits_cnn(impl.digits_cnn_batch_norm, trained=trained_cnn)
        assert trained_cnn.training is mode
    after = trained_cnn.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_accuracy_target_is_a_parameter(trained_cnn):
    """Does min_accuracy draw the line exactly at the trained model's accuracy?"""
    accuracy, _, _ = held_out_accuracy(trained_cnn)
    assert check_make_digits_cnn(impl.digits_cnn_batch_norm, trained=trained_cnn, min_accuracy=accuracy)
    result = check_make_digits_cnn(impl.digits_cnn_batch_norm, trained=trained_cnn,
                                   min_accuracy=accuracy + 1e-3)
    assert result.outcome == INCORRECT, result.text()
    assert "not accurate enough" in result.summary


def test_untrained_model_is_not_accurate_enough():
    """Does an untrained model passed as trained= fail, showing its accuracy and the 98 % target?"""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        untrained = impl.digits_cnn_batch_norm()
    accuracy, count, wrong = held_out_accuracy(untrained)
    assert accuracy < networks.DIGITS_ACCURACY
    result = check_make_digits_cnn(impl.digits_cnn_batch_norm, trained=untrained)
    assert result.outcome == INCORRECT, result.text()
    assert "not accurate enough" in result.summary
    assert result.evidence == [f"test accuracy {accuracy:.2%} on {count} held-out digits ({wrong} wrong); "
                               f"the target is {networks.DIGITS_ACCURACY:.0%}"]
    assert "learning-rate schedule" in result.hint
    with pytest.raises(CheckFailed):
        check_make_digits_cnn(impl.digits_cnn_batch_norm, trained=untrained, strict=True)


def raises_in_forward():
    model = impl.digits_cnn_batch_norm()
    model.forward = lambda x: x.view(-1, 7)  # a reshape that cannot work on the test digits
    return model


def escapes(exception):
    return []  # fixed: trained= is now validated and run under the guards


@pytest.mark.parametrize("trained", [
    pytest.param(lambda: {"train_loss": [2.3, 0.4]}, id="the history dict fit() returns",
                 marks=escapes(AttributeError)),
    pytest.param(lambda: impl.digits_cnn_batch_norm, id="the function instead of the model",
                 marks=escapes(AttributeError)),
    pytest.param(lambda: nn.Sequential(nn.Flatten()), id="a module without parameters",
                 marks=escapes(StopIteration)),
    pytest.param(raises_in_forward, id="a model whose forward raises", marks=escapes(RuntimeError)),
])
def test_wrong_trained_argument_is_a_verdict(trained):
    """Does a wrong trained= argument give a verdict rather than an exception out of the check?"""
    result = check_make_digits_cnn(impl.digits_cnn_batch_norm, trained=trained())
    assert result.outcome in (UNCHECKABLE, RAISED, INCORRECT), result.text()
    assert not result


# ==========================================================================
# 2c. The receptive-field reference, measured two other ways
# ==========================================================================

STACKS = networks._RF_SPECS + networks._RF_EXTENDED


def specs_of(layers):
    return [impl.unpack(layer) for layer in layers]


def footprint_2d(layers, *, pool_strided_layers):
    """Extent along H and W of the input gradient of one output unit of a real 2-D stack.

    nn.Conv2d with all-one weights (H and W of different sizes), or nn.AvgPool2d
    for undilated layers with a stride (the pools of a CNN).  The input grows
    until the stack produces an output: no formula for the size is used.
    """
    modules = []
    for k, s, d in specs_of(layers):
        if pool_strided_layers and s > 1 and d == 1:
            modules.append(nn.AvgPool2d(k, stride=s))
        else:
            conv = nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False).double()
            nn.init.ones_(conv.weight)
            modules.append(conv)
    stack = nn.Sequential(*modules)
    size = 4
    while True:
        x = torch.ones(1, 1, size + 3, size, dtype=torch.float64, requires_grad=True)
        try:
            y = stack(x)
            break
        except RuntimeError:  # the input is too small for this stack
            size *= 2
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows, cols = x.grad[0, 0].nonzero().unbind(1)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def footprint_by_index_sets(layers):
    """Back-project the set of input positions one output position reads, in plain Python."""
    positions = {0}
    for k, s, d in reversed(specs_of(layers)):
        positions = {p * s + d * t for p in positions for t in range(k)}
    return max(positions) - min(positions) + 1


@pytest.mark.parametrize("layers", STACKS, ids=[str(layers) for layers in STACKS])
def test_measured_receptive_field_agrees_with_2d_gradient(layers):
    """Does measure_receptive_field (1-D, all-one kernels) agree with the gradient footprint of a real
    2-D stack, of convolutions only and of convolutions and average pools, along both axes?"""
    expected = measure_receptive_field(layers)
    assert footprint_2d(layers, pool_strided_layers=False) == (expected, expected)
    assert footprint_2d(layers, pool_strided_layers=True) == (expected, expected)


@pytest.mark.parametrize("layers", STACKS, ids=[str(layers) for layers in STACKS])
def test_measured_receptive_field_agrees_with_index_sets(layers):
    """Does measure_receptive_field agree with back-projected sets of input positions?"""
    assert measure_receptive_field(layers) == footprint_by_index_sets(layers)


def test_receptive_field_stacks_cover_dilation_pools_and_growth():
    """Do the stacks compared above include dilation, strided pools and fields wider than any kernel?"""
    assert sum(any(d > 1 for _, _, d in specs_of(layers)) for layers in STACKS) >= 2
    assert sum(any(s > 1 for _, s, _ in specs_of(layers)) for layers in STACKS) >= 4
    assert any(measure_receptive_field(layers) > 4 * max(k for k, _, _ in specs_of(layers)) for layers in STACKS)


# ==========================================================================
# 3. Check-specific outcomes (the generic ones are in test_check_contract.py)
# ==========================================================================

def test_batch_norm_in_place_change_of_running_var_is_caught():
    """Does check_batch_norm notice running_var updated in place too (returned or not)?"""
    def updates_running_var(x, running_mean, running_var, weight, bias, training, momentum=0.1, eps=1e-5):
        y, new_mean, new_var = impl.batch_norm_torch_var(x, running_mean, running_var, weight, bias, training,
                                                         momentum, eps)
        running_var.copy_(new_var)
        return y, new_mean, new_var
    result = check_batch_norm(updates_running_var)
    assert result.outcome == INCORRECT, result.text()
    assert "in place" in result.summary


@pytest.mark.parametrize("name, call", [
    ("softmax", lambda: torch.softmax(torch.zeros(3), 0)),
    ("softmax", lambda: torch.zeros(3).log_softmax(0)),
    ("batch_norm", lambda: F.batch_norm(torch.zeros(2, 1, 2), torch.zeros(1), torch.ones(1))),
    ("max_pool2d", lambda: F.adaptive_avg_pool2d(torch.zeros(1, 1, 4, 4), 1)),
], ids=["softmax: torch.softmax", "softmax: Tensor.log_softmax", "batch_norm: F.batch_norm",
        "max_pool2d: F.adaptive_avg_pool2d"])
def test_op_reference_is_refused_only_while_learner_runs(name, call):
    """Is a reference caught by name (softmax, batch_norm, adaptive pools) refused inside the learner's
    code only, even when the learner catches the refusal and carries on?"""
    correct = correct_of(name)
    seen = []

    def spy(*args, **kwargs):
        try:
            call()
            seen.append(None)
        except BaseException as exc:  # noqa: B036 - catches the refusal to record it
            seen.append(type(exc))
        return correct(*args, **kwargs)
    result = SPECS[name].check(spy)
    assert result.outcome == PASSED, result.text()
    assert seen and all(kind is engine.Forbidden for kind in seen)
    call()  # and runs again afterwards


# ==========================================================================
# Hidden cases add sizes and seeds, never a new kind of case
# ==========================================================================

def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def pool_kinds(spec):
    n, c, h, w, k, s, p = spec
    (kh, kw), (ph, pw) = _pair(k), _pair(p)
    (sh, sw) = _pair(k if s is None else s)
    return [kind for kind, present in [
        ("stride=None", s is None), ("overlapping windows", sh < kh or sw < kw), ("padding", (ph, pw) != (0, 0)),
        ("settings differ along H and W", kh != kw or sh != sw or ph != pw), ("stride 1", 1 in (sh, sw)),
        ("one window covers the map", (kh, kw) == (h + 2 * ph, w + 2 * pw))] if present]


def bn_kinds(spec):
    n, c, h, w, training, momentum, eps, quiet = spec
    return [("training" if training else "eval"), *[kind for kind, present in [
        ("momentum other than 0.1", momentum != 0.1), ("eps other than 1e-5", eps != 1e-5),
        ("a quiet channel, where eps matters", quiet)] if present]]


def softmax_kinds(case):
    z, dim = case.args[0], case.kwargs["dim"] % case.args[0].dim()
    where = "only" if z.dim() == 1 else "first" if dim == 0 else "last" if dim == z.dim() - 1 else "middle"
    return [f"{z.dim()}-D, {where} dimension", *[kind for kind, present in [
        ("logits in the thousands", z.abs().max() > 1000 and z.min() > -1000),
        ("huge negative logits", z.max() < -1000), ("equal logits", bool((z == z.flatten()[0]).all()))]
        if present]]


def receptive_field_kinds(layers):
    specs = [(layer[0], layer[1], layer[2] if len(layer) > 2 else 1) for layer in layers]
    strided = [i for i, (_, s, _) in enumerate(specs) if s > 1]
    return [kind for kind, present in [
        ("stride", bool(strided)), ("dilation", any(d > 1 for *_, d in specs)),
        ("dilation after a stride", any(d > 1 and strided and i > strided[0] for i, (_, _, d) in enumerate(specs))),
        ("1×1 layer", any(k == 1 for k, *_ in specs)), ("even kernel", any(k % 2 == 0 for k, *_ in specs)),
        ("two- and three-number layers mixed", len({len(layer) for layer in layers}) > 1)] if present]


@pytest.mark.parametrize("public, hidden, kinds", [
    (layers._POOL_SPECS, layers._POOL_EXTENDED, pool_kinds),
    (layers._BN_SPECS, layers._BN_EXTENDED, bn_kinds),
    (layers._softmax_cases(0, False), layers._softmax_cases(0, True), softmax_kinds),
    (networks._RF_SPECS, networks._RF_EXTENDED, receptive_field_kinds),
], ids=["max_pool2d and avg_pool2d", "batch_norm", "softmax", "receptive_field"])
def test_hidden_cases_add_no_new_kind_of_case(public, hidden, kinds):
    """Does every kind of case of the hidden run (padding that differs along H and W, eval mode, a quiet
    channel, huge negative logits, dilation after a stride, ...) appear among the public cases too?"""
    assert_no_new_kind(public, hidden, kinds)


def test_eps_changes_the_answer_on_a_public_case():
    """Does a public batch-norm case have a channel so quiet that eps (its value and its place inside the square
    root) changes y beyond the tolerance, in both modes?"""
    for training in (True, False):
        quiet = [case for case in answered(layers._bn_cases(0, False)) if case.args[5] is training and "spread" in case.label]
        assert quiet, training
        for key in ("batch_norm.eps_outside_sqrt", "batch_norm.no_eps", "batch_norm.fixed_eps"):
            assert any(m.key == key for case in quiet for m in case.mistakes), (training, key)
