"""Proof that the six checks of notebook 03 (AlexNet, VGG, 3×3 stacks, 1×1
bottlenecks, the inception module, auxiliary heads) work.

A check that was never seen failing is not a check.  This module holds what
is specific to these checks:

* the correct implementations, in several styles, that ``test_contract.py``
  runs on the public and hidden cases (registered through ``SPECS`` below,
  with the generic contract: not attempted, raised, cannot be checked,
  stopped, strict, rendering, guards, determinism, and for model and pair
  answers their own outcomes), and here: the hidden cases call the learner on
  more settings than the public ones;
* ``CATALOGUE``: plausible wrong implementations, each failing with the
  summary, hint or evidence that names its mistake (run by the generic
  ``test_catalogue_entry_fails_with_its_own_message``), and here the exact key
  of each known mistake a hint names;
* the references the checks compare with are what they claim: torchvision's
  AlexNet and VGGs (the models themselves pass; their parameter counts equal
  the formulas from the architecture tables), and the paper's inception
  module (its count equals the formula; its layers are those of Table 1).

AlexNet, VGG and the inception module are compared by value with the same
weights, in eval and in training mode, so mistakes that keep every shape,
count and FLOP (no ReLU, batch norm after the ReLU, no ReLU after the 1×1
reductions, another dropout rate) fail.  The learner implementations live in
``impls.py``.  Every expected number is computed (by a formula, torch or a spy
on what the check passed to the learner), never typed in.
"""

from __future__ import annotations

import os

import pytest
import torch

import course_utils.checks as checks
from course_utils.checks import (INCORRECT, PASSED, RAISED, UNCHECKABLE, check_bottleneck_params,
                                 check_make_alexnet, check_make_inception, check_make_mini_googlenet,
                                 check_make_vgg, check_vgg_stack_params)

from checks.classic_architectures import impls as impl
from checks.helpers import (CheckSpec, assert_hidden_cases_try_more, assert_no_new_kind, call_settings,  # noqa: F401
                           one_torch_thread, source_line_of, spy)
from checks.helpers import mistake_case as mistake
from course_utils.checks.messages.classic_architectures import M
from course_utils.train import count_parameters

COURSE_UTILS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(checks.__file__)))
REPO_DIR = os.path.dirname(COURSE_UTILS_DIR)

# ==========================================================================
# The six checks, side by side
# ==========================================================================

SPECS = {
    "make_alexnet": CheckSpec(check=check_make_alexnet, hidden_cases=None, kind="model",
                         correct=[impl.alexnet_class, impl.alexnet_flat_sequential, impl.alexnet_functional],
                         mistake=impl.alexnet_missing_pool),
    "make_vgg": CheckSpec(check=check_make_vgg, hidden_cases=None, kind="model",
                     correct=[impl.vgg_loop, impl.vgg_recursive, impl.vgg_comprehension],
                     mistake=impl.vgg_skips_pools),
    "vgg_stack_params": CheckSpec(check=check_vgg_stack_params, hidden_cases=None, kind="pair",
                             correct=[impl.vgg_stack_params_formula, impl.vgg_stack_params_meta_layers,
                                      impl.vgg_stack_params_shapes],
                             mistake=impl.vgg_stack_params_one_layer),
    "bottleneck_params": CheckSpec(check=check_bottleneck_params, hidden_cases=None, kind="pair",
                              correct=[impl.bottleneck_params_formula, impl.bottleneck_params_meta_modules,
                                       impl.bottleneck_params_weight_shapes],
                              mistake=impl.bottleneck_params_no_reduction),
    "make_inception": CheckSpec(check=check_make_inception, hidden_cases=None, kind="model",
                           correct=[impl.inception_sequential, impl.inception_explicit, impl.inception_dict],
                           mistake=impl.inception_3x3_first),
    "make_mini_googlenet": CheckSpec(check=check_make_mini_googlenet, hidden_cases=None, kind="model",
                                correct=[impl.mini_googlenet_if_training, impl.mini_googlenet_early_return,
                                         impl.mini_googlenet_inception_blocks],
                                mistake=impl.mini_googlenet_always_runs_heads),
}
# Their verdicts state no case count: test_check_contract.py checks the hidden pass only (and
# test_hidden_cases_call_the_learner_on_more_settings below that the hidden cases try more).
ALL = list(SPECS)
# Arguments a learner may ignore and still pass the public check (test_arguments.py proves that every other
# argument of every exercise here changes a public answer): none.
ARGUMENTS_IGNORABLE: dict = {}
PAIRS = [name for name in ALL if SPECS[name].kind == "pair"]


def correct_of(name):
    return SPECS[name].correct[0]


def wrong_on_call(learner, wrong, number):
    """``learner`` on every call but the ``number``-th (from 0), where ``wrong`` answers; records the calls."""
    def answer(*args, **kwargs):
        answer.calls.append((args, kwargs))
        return (wrong if len(answer.calls) == number + 1 else learner)(*args, **kwargs)
    answer.calls = []
    answer.__name__ = learner.__name__
    return answer


# ==========================================================================
# Independent parameter counts: formulas from the architecture tables
# ==========================================================================

def conv_count(c_in, c_out, k, bias=True):
    return k * k * c_in * c_out + (c_out if bias else 0)


def dense_count(n_in, n_out):
    return n_in * n_out + n_out


# torchvision's AlexNet (Krizhevsky, 2014, single GPU): (out channels, kernel) of conv1-5.
ALEXNET_CONVS = [(64, 11), (192, 5), (384, 3), (256, 3), (256, 3)]


def alexnet_count(num_classes, conv_bias=True):
    channels = [3] + [c for c, _ in ALEXNET_CONVS]
    convs = sum(conv_count(cin, cout, k, conv_bias) for cin, (cout, k) in zip(channels, ALEXNET_CONVS))
    return convs + dense_count(channels[-1] * 6 * 6, 4096) + dense_count(4096, 4096) + dense_count(4096, num_classes)


def vgg_count(cfg, num_classes, batch_norm, conv_bias=True):
    widths = [c for c in cfg if c != "M"]
    convs = sum(conv_count(cin, cout, 3, conv_bias) for cin, cout in zip([3] + widths, widths))
    norms = sum(2 * c for c in widths) if batch_norm else 0  # weight and bias; running stats are buffers
    return convs + norms + dense_count(widths[-1] * 7 * 7, 4096) + dense_count(4096, 4096) + \
        dense_count(4096, num_classes)


def inception_count(cin, c1, c3r, c3, c5r, c5, pp, big_kernel=5):
    return (conv_count(cin, c1, 1) + conv_count(cin, c3r, 1) + conv_count(c3r, c3, 3) + conv_count(cin, c5r, 1)
            + conv_count(c5r, c5, big_kernel) + conv_count(cin, pp, 1))


# ==========================================================================
# 1. Correct implementations pass
# ==========================================================================

@pytest.mark.parametrize("name", [name for name in ALL if name not in ("make_alexnet", "make_vgg")])
def test_hidden_cases_call_the_learner_on_more_settings(name):
    """Do the hidden cases call the learner with settings the public cases never use?  (AlexNet and VGG: in
    their tests with torchvision's own models below, whose runs cost seconds.)"""
    assert_hidden_cases_try_more(SPECS[name].check, correct_of(name))


def test_alexnet_cases_are_torchvisions_and_the_hidden_ones_try_more():
    """Does torchvision's own alexnet pass, public and hidden (the reference computes what it computes), with
    the formula's parameter count for every class count, and do the hidden cases call it with settings the
    public ones never use?  Do the public cases run it on a non-square image whose maps before the adaptive
    pool are taller than 6 (so that its bins average several positions, and a max pool there shows: at 224×224
    and below each bin holds one position), and the hidden cases on 224×224 images too?"""
    import torchvision
    sizes = {"public": set(), "hidden": set()}

    def recording(kind):
        def alexnet(**kwargs):
            model = torchvision.models.alexnet(**kwargs)
            model.register_forward_pre_hook(lambda module, args: sizes[kind].add(tuple(args[0].shape[2:])))
            return model
        return spy(alexnet)
    public, hidden = recording("public"), recording("hidden")
    assert check_make_alexnet(public)
    assert check_make_alexnet(hidden, extended=True, seed=7)
    assert call_settings(public.calls) < call_settings(hidden.calls)
    for c in {kwargs["num_classes"] for _, kwargs in hidden.calls}:
        with torch.device("meta"):
            assert count_parameters(torchvision.models.alexnet(num_classes=c)) == alexnet_count(c)
    with torch.device("meta"):
        features = torchvision.models.alexnet().features
        maps = {(h, w): tuple(features(torch.empty(1, 3, h, w)).shape[2:]) for h, w in sizes["public"]}
    assert all(h != w for h, w in sizes["public"])
    assert any(max(m) > 6 for m in maps.values()), maps
    assert sizes["public"] | {(224, 224)} <= sizes["hidden"]


def test_mini_googlenet_with_heads_declared_before_the_stem_passes():
    """Does a correct MiniGoogLeNet pass although its __init__ creates the auxiliary heads before the stem?"""
    model = impl.mini_googlenet_heads_declared_first()
    model.train()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    stem_weight = model.stem[0].weight
    for index in (1, 2):  # the heads do reach the stem: the model is correct
        model.zero_grad()
        model(x)[index].sum().backward()
        assert stem_weight.grad is not None and stem_weight.grad.abs().sum() > 0
    result = check_make_mini_googlenet(impl.mini_googlenet_heads_declared_first)
    assert result.outcome == PASSED, result.text()


# ==========================================================================
# 2. Catalogues of plausible wrong implementations (run by test_contract.py)
# ==========================================================================

def aux_head_names():
    model = impl.mini_googlenet_always_runs_heads()
    return sorted(name for name, _ in model.named_children() if "aux" in name)


CATALOGUE = {
    "make_alexnet": [
        mistake("names layer 1 for the paper's 96-kernel widths", impl.alexnet_paper_widths,
                "layer 1 is Conv2d(3, 96", field="evidence"),
        mistake("notices a missing max pool (the adaptive pool hides it from the shape)", impl.alexnet_missing_pool,
                "hides a missing one"),
        mistake("names conv1 without padding by its missing padding", impl.alexnet_conv1_no_padding,
                "the reference's Conv2d(3, 64, kernel_size=(11, 11), stride=(4, 4), padding=(2, 2))",
                field="evidence"),
        mistake("names conv3 without padding by its missing padding", impl.alexnet_conv3_no_padding,
                "at layer 3: same input, different output", field="evidence"),
        mistake("notices an adaptive max pool where torchvision averages (public maps 7 high: bins of two)",
                impl.alexnet_adaptive_max_pool, "the input of layer 6 differs", field="evidence"),
        mistake("notices a 7×7 adaptive pool with a matching dense layer", impl.alexnet_pool_to_7,
                "differs from the reference's", field="summary"),
        mistake("shows torch's shape error for a 7×7 pool before a 9216-input dense layer",
                impl.alexnet_pool_to_7_keeps_9216, str(256 * 6 * 6), field="evidence", outcome=RAISED),
        mistake("names the adaptive pool for that shape error", impl.alexnet_pool_to_7_keeps_9216,
                "adaptive average pool to 6×6", outcome=RAISED),
        mistake("notices num_classes ignored", impl.alexnet_ignores_num_classes, "out_features=1000",
                field="evidence"),
        mistake("names layer 1 for convolutions without bias", impl.alexnet_conv_without_bias,
                "layer 1 is Conv2d(3, 64", field="evidence"),
        mistake("notices a network without ReLUs", impl.alexnet_without_relus, "ReLU"),
        mistake("notices another dropout rate (training mode)", impl.alexnet_dropout_0_4, "training mode",
                field="case"),
        mistake("refuses the class instead of an instance", impl.alexnet_returns_the_class, "expected an nn.Module",
                field="summary", outcome=UNCHECKABLE),
        mistake("asks for the forgotten return", impl.alexnet_forgets_return, "forget a `return`",
                outcome=UNCHECKABLE),
    ],
    "make_vgg": [
        mistake("notices the pools skipped", impl.vgg_skips_pools, "the input of layer 3 differs",
                field="evidence"),
        mistake("notices batch_norm ignored (public cases)", impl.vgg_ignores_batch_norm, "BatchNorm2d",
                field="evidence"),
        mistake("notices batch norm after the ReLU", impl.vgg_norm_after_relu, "the input of layer 2 differs",
                field="evidence"),
        mistake("names layer 1 for 5×5 kernels", impl.vgg_5x5_kernels, "layer 1 is Conv2d(3, 64, kernel_size=(5, 5)",
                field="evidence"),
        mistake("names the padding when convolutions without it shrink the maps to nothing", impl.vgg_no_padding,
                "padding 1", outcome=RAISED),
        mistake("shows torch's shape error for a dense layer reading 4096 features", impl.vgg_classifier_reads_4096,
                str(512 * 7 * 7), field="evidence", outcome=RAISED),
        mistake("notices a missing adaptive pool (it raises on small images; the hint names the pool)",
                impl.vgg_no_adaptive_pool, "adaptive", outcome=RAISED),
        mistake("names layer 1 for convolutions without bias", impl.vgg_conv_without_bias, "layer 1 is Conv2d",
                field="evidence"),
        mistake("notices num_classes ignored (public cases)", impl.vgg_ignores_num_classes,
                "out_features=10,", field="evidence"),
    ],
    "vgg_stack_params": [
        mistake("notices one layer counted instead of three", impl.vgg_stack_params_one_layer,
                "multiply one layer by 3"),
        mistake("notices the input channels forgotten", impl.vgg_stack_params_no_input_channels,
                "the input channels count too"),
        mistake("notices biases counted with bias=False", impl.vgg_stack_params_always_bias,
                "plus C biases with bias=True"),
        mistake("notices one set of biases for the whole stack", impl.vgg_stack_params_bias_once,
                "plus C biases with bias=True"),
        mistake("asks for the pair when one int is returned", impl.vgg_stack_params_stack_only, "pair of ints",
                field="summary", outcome=UNCHECKABLE),
        mistake("notices the pair swapped (at the first number)", impl.vgg_stack_params_swapped,
                "number 1 of the pair", field="case"),
        mistake("notices float counts from math.pow", impl.vgg_stack_params_math_pow, "whole numbers"),
    ],
    "bottleneck_params": [
        mistake("notices the 1×1 reduction left out", impl.bottleneck_params_no_reduction, "two convolutions"),
        mistake("notices the 1×1 counted as C_mid weights", impl.bottleneck_params_1x1_as_c_mid,
                "C_in·C_mid weights"),
        mistake("notices biases added", impl.bottleneck_params_with_biases, "direct = k·k·C_in·C_out"),
        mistake("notices the pair swapped (at the first number)", impl.bottleneck_params_swapped,
                "number 1 of the pair", field="case"),
        mistake("notices k instead of k·k", impl.bottleneck_params_k_not_k_squared, "direct = k·k·C_in·C_out"),
        mistake("notices the 1×1 counted to C_out (at the second number)", impl.bottleneck_params_1x1_to_c_out,
                "number 2 of the pair", field="case"),
        mistake("asks for the pair when the fraction kept is returned", impl.bottleneck_params_saving_only,
                "pair of ints", field="summary", outcome=UNCHECKABLE),
    ],
    "make_inception": [
        mistake("notices the 3×3 branch first", impl.inception_3x3_first, "[1×1, 3×3, 5×5, pool projection]"),
        mistake("notices the pool branch first", impl.inception_pool_first, "[1×1, 3×3, 5×5, pool projection]"),
        mistake("notices the 5×5 branch before the 3×3", impl.inception_5x5_before_3x3,
                "[1×1, 3×3, 5×5, pool projection]"),
        mistake("notices a branch without ReLU", impl.inception_pool_branch_without_relu, "ends with a ReLU"),
        mistake("notices no ReLU after the 1×1 reductions", impl.inception_no_relu_after_reductions,
                "follows each 1×1 reduction"),
        mistake("shows torch's size error for a 5×5 with padding 1", impl.inception_5x5_padding_1,
                "Sizes of tensors must match", field="evidence", outcome=RAISED),
        mistake("names the paddings for that size error", impl.inception_5x5_padding_1, "2 for 5×5", outcome=RAISED),
        mistake("shows torch's size error for a pool with stride 2", impl.inception_pool_stride_2,
                "Sizes of tensors must match", field="evidence", outcome=RAISED),
        mistake("shows torch's size error for a pool without padding", impl.inception_pool_without_padding,
                "Sizes of tensors must match", field="evidence", outcome=RAISED),
        mistake("shows torch's size error for concatenation along dim 0", impl.inception_cat_dim_0,
                "in dimension 0", field="evidence", outcome=RAISED),
        mistake("notices torchvision's 3×3 where the paper has 5×5", impl.inception_3x3_instead_of_5x5,
                "(c5_reduce) → 5×5 (c5)"),
        mistake("notices convolutions without bias", impl.inception_without_bias, "all with bias"),
        mistake("notices the pool projection left out (layer count)", impl.inception_forgets_pool_projection,
                "different number of layers", field="summary"),
        mistake("notices a branch left out of the concatenation", impl.inception_drops_5x5_branch,
                "Concatenate the four branches"),
        mistake("notices the input overwritten by an in-place ReLU", impl.inception_relu_on_input_in_place,
                "in place", field="summary"),
    ],
    "make_mini_googlenet": [
        mistake("notices `if self.train:` (always true): outputs in eval", impl.mini_googlenet_self_train_typo,
                "logits alone", field="summary"),
        mistake("notices heads run in eval but not returned (hooks)", impl.mini_googlenet_always_runs_heads,
                f"called: {aux_head_names()}", field="evidence"),
        mistake("notices heads on detached features", impl.mini_googlenet_detached_heads,
                "auxiliary head 1 sends no gradient", field="summary"),
        mistake("notices the second head computed under no_grad", impl.mini_googlenet_second_head_no_grad,
                "auxiliary head 2 sends no gradient", field="summary"),
        mistake("notices logits alone in training", impl.mini_googlenet_logits_only, "three outputs",
                field="summary"),
        mistake("notices a list of two outputs", impl.mini_googlenet_list_of_two,
                "if self.training: return logits, aux1, aux2"),
        mistake("notices the outputs in the order (aux1, aux2, logits)", impl.mini_googlenet_heads_first_in_tuple,
                "logits"),
        mistake("shows torch's channel error for a head on the wrong block", impl.mini_googlenet_head_on_wrong_block,
                "channels", field="evidence", outcome=RAISED),
    ],
}


@pytest.mark.parametrize("name, learner, key", [
    ("make_alexnet", impl.alexnet_without_relus, "make_alexnet.no_relu"),
    ("make_alexnet", impl.alexnet_missing_pool, "make_alexnet.missing_pool"),
    ("make_inception", impl.inception_3x3_first, "make_inception.branch_order"),
    ("make_inception", impl.inception_pool_first, "make_inception.branch_order"),
    ("make_inception", impl.inception_5x5_before_3x3, "make_inception.branch_order"),
    ("make_inception", impl.inception_pool_branch_without_relu, "make_inception.missing_relu"),
    ("make_inception", impl.inception_no_relu_after_reductions, "make_inception.inner_relu"),
    ("make_inception", impl.inception_drops_5x5_branch, "make_inception.missing_branch"),
    ("vgg_stack_params", impl.vgg_stack_params_one_layer, "vgg_stack_params.one_layer"),
    ("vgg_stack_params", impl.vgg_stack_params_no_input_channels, "vgg_stack_params.no_input_channels"),
    ("bottleneck_params", impl.bottleneck_params_no_reduction, "bottleneck_params.no_reduction"),
    ("bottleneck_params", impl.bottleneck_params_1x1_as_c_mid, "bottleneck_params.c_mid_only"),
])
def test_known_mistake_is_named_by_its_key(name, learner, key):
    """Is each known mistake recognised as itself: the verdict carries that mistake's key, not just a text
    that happens to contain the needle?"""
    result = SPECS[name].check(learner)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake == key, result.text()


@pytest.mark.parametrize("name, learner", [("make_alexnet", impl.alexnet_conv1_no_padding),
                                           ("make_vgg", impl.vgg_skips_pools),
                                           ("make_inception", impl.inception_forgets_pool_projection)])
def test_unknown_mistake_gets_the_general_hint_and_no_key(name, learner):
    """Does a wrong model that matches no known mistake get the honest general hint, without a key?"""
    result = SPECS[name].check(learner)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake is None
    assert result.hint == M(f"{name}.layout" if name != "make_inception" else "make_inception.structure")


def test_structure_difference_shows_both_layers():
    """Does a layer whose weights differ show the learner's layer and torchvision's, with their shapes?"""
    import torchvision
    result = check_make_alexnet(impl.alexnet_conv_without_bias)
    theirs = torchvision.models.alexnet().features[0]
    (out_channels, k), in_channels = ALEXNET_CONVS[0], 3
    mine = torch.nn.Conv2d(in_channels, out_channels, k, stride=4, padding=2, bias=False)
    assert result.evidence == [
        f"layer 1 is Conv2d({mine.extra_repr()}), with weight {tuple(mine.weight.shape)}; "
        f"the reference's is Conv2d({theirs.extra_repr()}), with weight {tuple(theirs.weight.shape)}, "
        f"bias {tuple(theirs.bias.shape)}"]


def test_missing_pool_names_where_the_computations_part():
    """Does a missing pool after conv2 say that the input of conv3 differs (the layer after the pool)?"""
    result = check_make_alexnet(impl.alexnet_missing_pool)
    assert "the computations part between layer 2 (Conv2d(64, 192" in result.evidence[-1], result.text()
    assert "the input of layer 3 differs" in result.evidence[-1]


def test_outputs_are_compared_in_eval_and_training_mode():
    """Does another dropout rate pass eval mode and fail training mode (the same dropout masks are drawn for
    the learner's model and the reference)?"""
    result = check_make_alexnet(impl.alexnet_dropout_0_4)
    assert result.outcome == INCORRECT, result.text()
    assert ", training mode," in result.case and "eval mode" not in result.case


def test_vgg_batch_norm_is_checked_in_the_public_cases():
    """Do the public cases build a VGG with batch_norm=True, so an ignored flag fails there?"""
    learner = spy(impl.vgg_ignores_batch_norm)
    result = check_make_vgg(learner)
    assert result.outcome == INCORRECT, result.text()
    assert any(kwargs["batch_norm"] for _, kwargs in learner.calls)


@pytest.mark.parametrize("name, learner", [("make_alexnet", impl.alexnet_ignores_num_classes),
                                           ("make_vgg", impl.vgg_ignores_num_classes)])
def test_wrong_class_count_names_the_last_dense_layer(name, learner):
    """Does a last layer with 1000 outputs where num_classes asks for another number show both layers?"""
    recorded = spy(learner)
    result = SPECS[name].check(recorded, extended=True, seed=7)
    assert result.outcome == INCORRECT, result.text()
    classes = recorded.calls[-1][1]["num_classes"]
    mine, theirs = torch.nn.Linear(4096, 1000, device="meta"), torch.nn.Linear(4096, classes, device="meta")
    assert f"is Linear({mine.extra_repr()})" in result.evidence[0]
    assert f"the reference's is Linear({theirs.extra_repr()})" in result.evidence[0]


def test_inception_computing_branches_in_another_order_passes():
    """Does a correct module pass although its forward runs the pool branch first (its layers pair with the
    reference's in the order they were created), hidden cases included?"""
    result = check_make_inception(impl.inception_computes_pool_branch_first, extended=True, seed=7)
    assert result.outcome == PASSED, result.text()


def test_inception_size_error_points_to_the_learners_concatenation():
    """Does a branch of the wrong size show the learner's torch.cat line (the only place the sizes meet)?"""
    result = check_make_inception(impl.inception_5x5_padding_1)
    line = source_line_of(impl.InceptionKnobs.forward, "return torch.cat(")
    assert result.evidence[1] == f"in forward(), line {line}: return torch.cat(chosen, dim=self.cat_dim)"


def test_inception_structure_error_shows_both_layers():
    """Does a 3×3 in place of the 5×5 show the learner's convolution and the paper's, with their shapes?"""
    learner = spy(impl.inception_3x3_instead_of_5x5)
    result = check_make_inception(learner)
    (cin, c1, c3r, c3, c5r, c5, pp), _ = learner.calls[-1]
    mine, theirs = torch.nn.Conv2d(c5r, c5, 3, padding=1), torch.nn.Conv2d(c5r, c5, 5, padding=2)
    assert result.evidence == [f"layer 5 is Conv2d({mine.extra_repr()}), with weight {tuple(mine.weight.shape)}, "
                               f"bias ({c5},); the reference's is Conv2d({theirs.extra_repr()}), with weight "
                               f"{tuple(theirs.weight.shape)}, bias ({c5},)"]


def test_mini_googlenet_three_outputs_evidence_lists_the_shapes():
    """Does a wrong training output list what came back: each shape, or the single tensor's shape?"""
    x_shape = []

    def make(kind):
        def factory(num_classes=10):
            model = kind(num_classes)
            model.register_forward_pre_hook(lambda module, args: x_shape.append(tuple(args[0].shape)))
            return model
        return factory
    two = check_make_mini_googlenet(make(impl.ListOfTwo))
    one = check_make_mini_googlenet(make(impl.LogitsOnly))
    batch, classes = x_shape[0][0], 10
    assert two.evidence == [f"expected (logits, aux1, aux2), each {(batch, classes)}; "
                            f"got {[(batch, classes), (batch, classes)]}"]
    assert one.evidence == [f"expected (logits, aux1, aux2), each {(batch, classes)}; got {(batch, classes)}"]


# ==========================================================================
# 3. Independence: the references are what they claim
# ==========================================================================

def test_alexnet_reference_equals_cpu_model_and_formula():
    """Is the count in check_make_alexnet's verdict that of torchvision's alexnet built normally on the CPU,
    and of the formula from the layer table?"""
    import torchvision
    cpu_count = count_parameters(torchvision.models.alexnet(weights=None))
    assert cpu_count == alexnet_count(1000)
    assert f"({cpu_count:,} parameters for 1000 classes)" in check_make_alexnet(impl.alexnet_class).summary


def test_vgg_cases_are_torchvisions_and_the_hidden_ones_try_more():
    """For every VGG configuration of the public and hidden cases, does torchvision's own VGG built from that
    cfg pass, with the formula's parameter count, and do the hidden cases call it with settings the public
    ones never use?  Do VGG-11 (8 convolutions) and VGG-16 (13) each appear among them, and batch norm in a
    public one?"""
    from torchvision.models.vgg import VGG, make_layers

    def torchvision_vgg(cfg, num_classes=1000, batch_norm=False):
        return VGG(make_layers(cfg, batch_norm=batch_norm), num_classes=num_classes)
    public, hidden = spy(torchvision_vgg), spy(torchvision_vgg)
    assert check_make_vgg(public) and check_make_vgg(hidden, extended=True, seed=7)
    assert call_settings(public.calls) < call_settings(hidden.calls)
    for (cfg,), kwargs in hidden.calls:
        with torch.device("meta"):
            model = torchvision_vgg(cfg, **kwargs)
        assert count_parameters(model) == vgg_count(cfg, kwargs["num_classes"], kwargs["batch_norm"])
    assert {8, 13} <= {sum(c != "M" for c in cfg) for (cfg,), _ in hidden.calls}
    assert any(kwargs["batch_norm"] for _, kwargs in public.calls)


def test_inception_references_equal_the_formula():
    """For every inception module of the hidden cases, does the check's reference (the paper's module) have the
    formula's parameter count?"""
    from course_utils.checks.classic_architectures import _paper_inception
    learner = spy(impl.inception_sequential)
    assert check_make_inception(learner, extended=True, seed=7)
    for args, _ in learner.calls:
        assert count_parameters(_paper_inception(*args)) == inception_count(*args)


def off_by_one_at(position):
    def learner_for(correct):
        def off(*args, **kwargs):
            answer = list(correct(*args, **kwargs))
            answer[position] += 1
            return tuple(answer)
        return off
    return learner_for


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("position", [0, 1])
def test_pair_references_equal_the_formula(name, position):
    """For every case of the hidden cases, is each number the check expects the closed formula's?"""
    formula = correct_of(name)
    learner = spy(formula)
    assert SPECS[name].check(learner, extended=True)
    for number, (args, kwargs) in enumerate(learner.calls):
        wrong = wrong_on_call(formula, off_by_one_at(position)(formula), number)
        result = SPECS[name].check(wrong, extended=True)
        want = formula(*args, **kwargs)[position]
        assert result.evidence == [f"expected {want}, got {want + 1}"], result.text()
        assert result.case.endswith(f"number {position + 1} of the pair")


def test_notebook_states_the_counts_the_checks_use():
    """Does the exercise text state torchvision's AlexNet and VGG-16 counts as the formulas give them?"""
    from torchvision.models.vgg import cfgs
    with open(os.path.join(REPO_DIR, "instructor", "03_classic_architectures.py"), encoding="utf-8") as file:
        text = file.read()
    vgg16 = [cfg for cfg in cfgs.values() if sum(c != "M" for c in cfg) == 13]
    assert len(vgg16) == 1
    assert f"{alexnet_count(1000):,}" in text
    assert f"{vgg_count(vgg16[0], 1000, False):,}" in text


# ==========================================================================
# 4. Check-specific outcomes, seeds and devices (the generic ones are in test_check_contract.py)
# ==========================================================================

@pytest.mark.parametrize("name", ["make_alexnet"])
def test_model_instead_of_function_is_uncheckable(name):
    """Does a model check refuse a built model (`check(make_alexnet())`) as 'pass the function itself'?"""
    with torch.device("meta"):
        model = correct_of(name)()
    result = SPECS[name].check(model)
    assert result.outcome == UNCHECKABLE, result.text()
    assert "Pass the function itself" in (result.hint or "")


@pytest.mark.parametrize("name", ["make_alexnet", "make_vgg"])
def test_factory_moving_the_model_to_a_device_is_not_called_unattempted(name):
    """Is a correct factory ending in `.to(device)` checked like any other, rather than called 'not
    attempted'?"""
    correct = correct_of(name)

    def moves_to_device(*args, **kwargs):
        return correct(*args, **kwargs).to(torch.device("cpu"))
    result = SPECS[name].check(moves_to_device)
    assert result.outcome == PASSED, result.text()


@pytest.mark.parametrize("name", ["make_inception", "make_mini_googlenet"])
def test_seed_sets_the_random_inputs(name):
    """Do the checks that run models on random inputs draw them from the seed: same seed, same inputs;
    another seed, other inputs?"""
    def inputs_for(seed):
        seen = []

        def make(*args, **kwargs):
            model = correct_of(name)(*args, **kwargs)
            model.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
            return model
        assert SPECS[name].check(make, seed=seed)
        return seen
    first, again, other = inputs_for(0), inputs_for(0), inputs_for(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again)) and len(first) == len(again)
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("name", ["make_alexnet", "make_vgg"])
def test_large_models_are_built_on_meta_then_compared_by_value(name):
    """Do the AlexNet / VGG checks build the learner's model on the meta device (no second spent initialising
    weights the check replaces), and still compare values: a model without ReLUs fails?"""
    devices = []

    def make(*args, **kwargs):
        model = correct_of(name)(*args, **kwargs)
        devices.extend({p.device.type for p in model.parameters()})
        return model
    assert SPECS[name].check(make)
    assert set(devices) == {"meta"}

    def without_relus(*args, **kwargs):
        return _replace_relus(correct_of(name)(*args, **kwargs))
    result = SPECS[name].check(without_relus)
    assert result.outcome == INCORRECT and "the output values are wrong" in result.summary, result.text()


def _replace_relus(module):
    for child_name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU):
            setattr(module, child_name, torch.nn.Identity())
        else:
            _replace_relus(child)
    return module


@pytest.mark.parametrize("name", ["make_inception", "make_mini_googlenet"])
def test_value_checks_build_real_models(name):
    """Do the checks of small models build them on the CPU, so that outputs are compared as numbers?"""
    devices = []

    def make(*args, **kwargs):
        model = correct_of(name)(*args, **kwargs)
        devices.extend({p.device.type for p in model.parameters()})
        return model
    assert SPECS[name].check(make)
    assert set(devices) == {"cpu"}


# ==========================================================================
# 5. Hidden cases add sizes and seeds, never a new kind of case; every argument matters in public
# ==========================================================================

def vgg_kinds(setting):
    name, key, batch_norm, classes, modes = setting
    return ["batch norm" if batch_norm else "no batch norm", *modes, "1000 classes" if classes == 1000 else
            "another class count"]


def test_hidden_vgg_cases_add_no_new_kind_of_case():
    """Do the public VGG cases build with and without batch norm, for 1000 and another number of classes, in
    training mode too, like the hidden ones?"""
    from course_utils.checks import classic_architectures as module
    assert_no_new_kind(module._VGG_PUBLIC, module._VGG_EXTENDED, vgg_kinds)


def test_alexnet_with_a_fixed_class_count_fails_in_public():
    """Does an AlexNet that always has 10 outputs (the notebook's class count) fail the public check, where
    the model built with 1000 classes on the meta device must have torchvision's last layer?"""
    def make_alexnet(num_classes=1000):
        return impl.alexnet_class(10)
    result = check_make_alexnet(make_alexnet)
    assert result.outcome == INCORRECT, result.text()
    assert result.case == "make_alexnet(num_classes=1000), on the meta device"
    assert "out_features=10," in result.evidence[0] and "out_features=1000," in result.evidence[0]


def test_vgg_always_with_batch_norm_fails_in_public():
    """Does a VGG that adds batch norm whatever batch_norm says fail the public check?"""
    def make_vgg(cfg, num_classes=1000, batch_norm=False):
        return impl.vgg_loop(cfg, num_classes, batch_norm=True)
    result = check_make_vgg(make_vgg)
    assert result.outcome == INCORRECT, result.text()
    assert "batch_norm=False" in result.case


@pytest.mark.parametrize("name", ["make_alexnet", "make_vgg"])
def test_a_forward_that_needs_values_is_checked_on_the_cpu(name):
    """The order of the layers is found by a forward pass on the meta device, where data-dependent code
    cannot run: does a correct model whose forward looks at its values still pass, and a wrong one still
    get its verdict from the CPU?"""
    def looks_at_values(module):
        forward = module.forward

        def forward_if_finite(x):
            assert bool(torch.isfinite(x).all()), "not finite"
            return forward(x)
        module.forward = forward_if_finite
        return module

    def correct(*args, **kwargs):
        return looks_at_values(correct_of(name)(*args, **kwargs))

    def without_relus(*args, **kwargs):
        return looks_at_values(_replace_relus(correct_of(name)(*args, **kwargs)))
    assert SPECS[name].check(correct).outcome == PASSED
    result = SPECS[name].check(without_relus)
    assert result.outcome == INCORRECT and "the output values are wrong" in result.summary, result.text()
