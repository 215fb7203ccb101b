"""Proof of the check engine's own promises that no single check shows (``course_utils/checks/engine``)."""

from __future__ import annotations

import gc
import os
import sys
import threading
import warnings

import pytest
import torch

from course_utils.checks.engine import (INCORRECT, OUTCOMES, UNCHECKABLE, CheckFailed, CheckResult, parse_hint,
                                        parse_verdict, same, verdict_line)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_verdict_line_reads_back_as_written(outcome):
    """Does parse_verdict read back every outcome's verdict line, as the result prints it and as a strict
    failure's short traceback shows it (the grader scores cells from these lines)?"""
    result = CheckResult("conv2d", outcome, "a summary — with a dash: and a colon.", hint="look here")
    first = result.lines()[0]
    assert first == verdict_line("conv2d", outcome, result.summary)
    assert parse_verdict(first) == ("conv2d", outcome, result.summary)
    assert parse_verdict(CheckFailed(result)._render_traceback_()[0]) == ("conv2d", outcome, result.summary)
    assert parse_hint(result.lines()[-1]) == "look here"


@pytest.mark.parametrize("line", ["conv2d: passed", "conv2d: passed - no em dash", "all tests passed — yes",
                                  "conv2d: maybe — summary", "  hint:", ""])
def test_other_lines_are_not_verdicts(line):
    """Does parse_verdict refuse lines that only look like verdicts?"""
    assert parse_verdict(line) is None


def test_a_tensor_holding_nan_is_the_same_as_its_copy():
    """Is an untouched input that holds NaN (e.g. from torch.empty) seen as unchanged, while a changed value,
    a NaN moved elsewhere or another shape is not?"""
    x = torch.tensor([1.0, float("nan"), 3.0])
    assert same(x, x.clone())
    assert not same(x, torch.tensor([1.0, float("nan"), 4.0]))
    assert not same(x, torch.tensor([float("nan"), 2.0, 3.0]))
    assert not same(x, x[:2].clone())


# ==========================================================================
# The course's own code is refused while the learner's code runs (any of it, by default)
# ==========================================================================

def _crf_step(unary, q, k_appearance, k_smooth, w_appearance=4.0, w_smooth=3.0):
    import course_utils.crf as crf
    return crf.mean_field_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth)


def _iou_from_the_check(a, b):
    from course_utils.checks.detection.boxes import iou_variant
    return iou_variant(a, b, None)


def _confusion_from_segmentation(pred, target, num_classes, ignore_index=255):
    from course_utils import segmentation
    return segmentation.confusion(pred, target, num_classes, ignore_index)


def _scores_from_segmentation(matrix):
    from course_utils import segmentation
    return segmentation.scores(matrix)


def _tent_from_segmentation(channels, factor):
    from course_utils import segmentation
    return segmentation._tent_kernel(channels, factor)


def _match_from_the_check(x, size):
    from course_utils.checks.unet.match_size import reference_match
    return reference_match(x, size)


BORROWERS = [("mean_field_step", _crf_step, "course_utils.crf.mean_field_step"),
             ("box_iou", _iou_from_the_check, "course_utils.checks.detection.boxes.iou_variant"),
             ("confusion_matrix", _confusion_from_segmentation, "course_utils.segmentation.confusion"),
             ("segmentation_scores", _scores_from_segmentation, "course_utils.segmentation.scores"),
             ("bilinear_kernel", _tent_from_segmentation, "course_utils.segmentation._tent_kernel"),
             ("match_size", _match_from_the_check, "course_utils.checks.unet.match_size.reference_match")]


def _check(name):
    import course_utils.checks as checks
    return getattr(checks, f"check_{name}")


@pytest.mark.parametrize("name, learner, called", BORROWERS, ids=[b[0] for b in BORROWERS])
def test_a_function_that_only_calls_the_courses_own_code_fails(name, learner, called):
    """Does a check refuse a learner function that calls the course's own reference (which gives exactly the
    right answer), as it refuses the torch function the exercise re-implements?"""
    result = _check(name)(learner)
    assert result.outcome == INCORRECT, result.text()
    assert f"called `{called}`" in result.summary and "course's own code" in result.summary
    assert result.mistake is None
    with pytest.raises(CheckFailed):
        _check(name)(learner, strict=True)


def _course_function(source: str, name: str):
    """A function whose code lives in a file of the course's package: what the next reference anyone adds is."""
    import course_utils
    filename = os.path.join(os.path.dirname(course_utils.__file__), "checks", "a_reference_added_tomorrow.py")
    namespace = {"__name__": "course_utils.checks.a_reference_added_tomorrow"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def test_a_reference_added_later_is_refused_without_a_list_to_update():
    """Is a course function no list names (a new file of the package) refused too: default-deny?"""
    from course_utils.checks import check_conv_param_count
    count = _course_function("def count(cin, cout, k, bias=True):\n"
                             "    kh, kw = (k, k) if isinstance(k, int) else k\n"
                             "    return (kh * kw * cin + bias) * cout\n", "count")
    result = check_conv_param_count(lambda cin, cout, k, bias=True: count(cin, cout, k, bias))
    assert result.outcome == INCORRECT, result.text()
    assert "a_reference_added_tomorrow.count" in result.summary


def test_a_refusal_the_learner_catches_still_fails():
    """Does catching the refusal (a bare except, then the course's function again) still fail the check?"""
    def sneaky(unary, q, k_appearance, k_smooth, w_appearance=4.0, w_smooth=3.0):
        for _ in range(3):
            try:
                return _crf_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth)
            except:  # noqa: E722
                pass
        return q
    result = _check("mean_field_step")(sneaky)
    assert result.outcome == INCORRECT and "course_utils.crf.mean_field_step" in result.summary, result.text()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")   # the thread's refusal
def test_a_call_from_another_thread_is_refused():
    """Is the course's code refused in a thread the learner's code starts?"""
    def threaded(unary, q, k_appearance, k_smooth, w_appearance=4.0, w_smooth=3.0):
        out = []
        thread = threading.Thread(target=lambda: out.append(
            _crf_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth)))
        thread.start()
        thread.join()
        return out[0] if out else q
    result = _check("mean_field_step")(threaded)
    assert result.outcome == INCORRECT and "course_utils.crf.mean_field_step" in result.summary, result.text()


def _conv_param_count(cin, cout, k, bias=True):
    from course_utils.checks.engine import pair   # the engine's helpers compute no exercise's answer
    from course_utils.train import pick_device    # nor does choosing a device
    kh, kw = pair(k)
    pick_device()
    return (kh * kw * cin + bias) * cout


def test_the_engine_and_the_allowed_helpers_stay_callable():
    """May the learner's code use what the course offers on purpose: the engine's helpers, ``pick_device``?"""
    from course_utils.checks import check_conv_param_count
    result = check_conv_param_count(_conv_param_count)
    assert result.passed, result.text()


def test_a_previous_trace_function_keeps_working_and_is_put_back():
    """With a debugger's or coverage's trace function set, does it still see the learner's code while the check
    runs, and is it the trace function again afterwards?"""
    from course_utils.checks import check_conv_param_count
    seen = []

    def tracer(frame, event, arg):
        if frame.f_code is _conv_param_count.__code__:
            seen.append(event)
            return tracer
        return None
    before = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = check_conv_param_count(_conv_param_count)
        after = sys.gettrace()
    finally:
        sys.settrace(before)
    assert result.passed, result.text()
    assert after is tracer
    assert "call" in seen and "line" in seen and "return" in seen


def test_switching_the_guard_off_is_not_trusted():
    """Does a learner function that switches the trace function off (to call the course's code unseen) get
    'cannot be checked' rather than the points?"""
    def unguarded(unary, q, k_appearance, k_smooth, w_appearance=4.0, w_smooth=3.0):
        sys.settrace(None)
        return _crf_step(unary, q, k_appearance, k_smooth, w_appearance, w_smooth)
    before = sys.gettrace()
    result = _check("mean_field_step")(unguarded)
    assert result.outcome == UNCHECKABLE, result.text()
    assert "sys.settrace" in result.summary
    assert sys.gettrace() is before


def test_forbidden_functions_and_the_time_limit_still_work_under_the_guard(short_time_limit):
    """Do the older guards still act with the trace function installed: a refused torch function is named, and
    a loop is stopped?"""
    import torch.nn.functional as F

    from course_utils.checks import check_conv2d

    def calls_f_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
        return F.conv2d(x, weight, bias, stride, padding, dilation)

    def spins(x, weight, bias=None, stride=1, padding=0, dilation=1):
        while True:
            pass
    assert "`F.conv2d`, the very function" in check_conv2d(calls_f_conv2d).summary
    assert "was stopped" in check_conv2d(spins).summary


# ==========================================================================
# The expected answer does not exist while the learner's code runs
# ==========================================================================

def _steal(args, shape, dtype):
    """What a learner function that read the engine's source could find while the check runs it: the check's own
    cases of these arguments (through ``gc`` or on the stack) and any local named ``expected``; returns the first
    of the right shape and dtype (a tensor), or a plain answer (an int), or None."""
    from course_utils.checks.engine import Case

    def fits(value):
        if isinstance(value, torch.Tensor):
            return shape is not None and tuple(value.shape) == tuple(shape) and value.dtype == dtype
        return shape is None and isinstance(value, int)

    found = []
    with warnings.catch_warnings():   # isinstance() reads deprecated torch objects' __class__
        warnings.simplefilter("ignore")
        found += [c.expected for c in gc.get_objects() if isinstance(c, Case) and len(c.args) == len(args)
                  and all(a is b or a == b for a, b in zip(c.args, args) if not isinstance(a, torch.Tensor))
                  and all(a is b for a, b in zip(c.args, args) if isinstance(a, torch.Tensor))]
    frame = sys._getframe(1)
    while frame is not None:
        for name, value in frame.f_locals.items():
            if name == "expected":
                found += list(value) if isinstance(value, (list, tuple)) else [value]
            elif isinstance(value, Case):
                found.append(value.expected)
        frame = frame.f_back
    return next((value for value in found if fits(value)), None)


def conv2d_thief(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Computes only the output's shape, then returns what it finds of that shape."""
    from course_utils.checks.engine import pair
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    height = (x.shape[2] + 2 * ph - dh * (weight.shape[2] - 1) - 1) // sh + 1
    width = (x.shape[3] + 2 * pw - dw * (weight.shape[3] - 1) - 1) // sw + 1
    return _steal((x, weight, bias), (x.shape[0], weight.shape[0], height, width), x.dtype)


def conv_output_size_thief(size, kernel_size, stride=1, padding=0, dilation=1):
    return _steal((size, kernel_size), None, None)


def model_thief(*args, **kwargs):
    """A model whose forward returns what it finds of its output's shape (a correct model gives the shape)."""
    from checks.registry import SPECS
    model = SPECS["make_basic_block"].correct[0](*args, **kwargs)
    forward = model.forward

    def stealing(x):
        out = forward(x)
        found = _steal((x,), out.shape, out.dtype)
        return found if found is not None else torch.zeros_like(out)
    model.forward = stealing
    return model


@pytest.mark.parametrize("check, thief", [("conv2d", conv2d_thief), ("conv_output_size", conv_output_size_thief),
                                          ("make_basic_block", model_thief)])
def test_a_learner_that_searches_for_the_expected_answer_finds_none(check, thief):
    """Does a learner function that searches the stack and ``gc`` for the check's expected answer (a tensor of
    the right shape and dtype, or the check's own case) fail, strictly too?  (What existed before the check
    started is frozen out of ``gc.get_objects()``, as in the contract's watcher: the search sees what the check
    made, in a fraction of the time.)"""
    gc.freeze()   # no collection first: garbage from before is frozen out too (a collection costs 0.2 s)
    try:
        result = _check(check)(thief)
        assert not result.passed, result.text()
        with pytest.raises(CheckFailed):
            _check(check)(thief, seed=2024, extended=True, strict=True)
    finally:
        gc.unfreeze()


def conv2d_asker(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """Finds the check's case of its arguments (through ``gc``) and calls its answer function (``engine.later``)."""
    from course_utils.checks.engine import Case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in gc.get_objects() if isinstance(c, Case) and callable(c.expected)
                 and c.args and c.args[0] is x]
    return cases[0].expected() if cases else torch.zeros(1)


def test_a_learner_that_calls_a_cases_answer_function_is_refused():
    """A case answered later (``engine.later``) holds a function until the learner's code has returned: is a
    learner that finds that function and calls it refused, as any call into the course's code is?"""
    from course_utils.checks import check_conv2d
    result = check_conv2d(conv2d_asker)
    assert result.outcome == INCORRECT and "course's own code" in result.summary, result.text()


def test_a_forward_run_with_untraced_operations_still_refuses_the_courses_code():
    """check_make_densenet counts a DenseNet-121's FLOPs on the meta device with torch's operations untraced
    (``engine.untraced_dispatch``): is a forward that calls the course's own code still refused there, on that
    very forward, while the correct model passes?"""
    from course_utils.checks import check_make_densenet
    from checks.densenet_and_beyond.test_densenet_and_beyond import SPECS

    correct = SPECS["make_densenet"].correct[0]

    def make_borrowing(*args, **kwargs):
        model = correct(*args, **kwargs)
        forward = model.forward

        def borrowing(x):
            from course_utils.checks.densenet_and_beyond.densenet import _plan
            _plan(32, (6, 12, 24, 16), 64)
            return forward(x)
        model.forward = borrowing
        return model
    result = check_make_densenet(make_borrowing)
    assert result.outcome == INCORRECT and "`course_utils.checks.densenet_and_beyond.densenet._plan`" in result.summary
    assert "on x of shape (2, 3, 224, 224)" in result.case, result.text()
    assert check_make_densenet(correct)


# ==========================================================================
# Hints name a mistake only when it explains every case
# ==========================================================================

def conv_output_size_d_times_k(size, kernel_size, stride=1, padding=0, dilation=1):
    # the dilated kernel's span taken as d·k, not d·(k − 1) + 1
    return (size + 2 * padding - dilation * kernel_size) // stride + 1


def conv_transpose_output_size_no_dilation_span(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # dilation multiplies the whole kernel size
    return (n - 1) * stride - 2 * padding + dilation * kernel_size + output_padding


def conv_transpose_output_size_minus_p(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # padding subtracted once (the known mistake, on every case)
    return (n - 1) * stride - padding + dilation * (kernel_size - 1) + output_padding + 1


def conv_transpose_output_size_op_twice(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # output_padding added twice: where padding = output_padding it looks like padding subtracted once
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + 2 * output_padding + 1


def conv_transpose_output_size_minus_p_no_op(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    # two mistakes at once: padding subtracted once, output_padding forgotten
    return (n - 1) * stride - padding + dilation * (kernel_size - 1) + 1


@pytest.mark.parametrize("check, learner, key", [
    ("conv_output_size", conv_output_size_d_times_k, "conv_output_size.span"),
    ("conv_transpose_output_size", conv_transpose_output_size_no_dilation_span, "conv_transpose_output_size.span"),
    ("conv_transpose_output_size", conv_transpose_output_size_op_twice,
     "conv_transpose_output_size.output_padding_twice"),
    ("conv_transpose_output_size", conv_transpose_output_size_minus_p_no_op, None),
    ("conv_transpose_output_size", conv_transpose_output_size_minus_p, "conv_transpose_output_size.pads_once"),
])
def test_a_hint_names_a_mistake_only_when_it_explains_every_case(check, learner, key):
    """Is a wrong formula that matches a known mistake on some failing case only (two mistakes at once: padding
    subtracted once and output_padding forgotten) given the general hint, while a known mistake made everywhere
    is still named, also where another one's prediction coincides with it on some case (d·k for a dilated
    kernel's span looks like a missing +1 when d = 2; output_padding added twice like padding subtracted once
    where the two are equal)?"""
    result = _check(check)(learner)
    assert result.outcome == INCORRECT, result.text()
    assert result.mistake == key, result.text()
    if key is None:
        assert result.hint == messages_of(check)(f"{check}.general"), result.text()


def messages_of(check):
    import importlib

    import course_utils.checks as checks
    notebook = next(nb for nb, names in checks.CHECKS_BY_NOTEBOOK.items() if f"check_{check}" in names)
    return importlib.import_module(f"course_utils.checks.messages.{checks.registry.NOTEBOOKS[notebook]}").M


def make_unet_skip_after_pooling(in_channels, num_classes, depth=4, base_channels=64, batch_norm=True, match=None):
    """A U-Net that keeps each level's skip after pooling: its output has half the input's size."""
    import torch.nn.functional as F

    from checks.unet import impls

    class SkipAfterPooling(impls.UNetLists):
        def forward(self, x):
            skips = []
            for block in self.down:
                x = F.max_pool2d(block(x), 2)
                skips.append(x)
            x = self.bottom(x)
            for i in reversed(range(len(skips))):
                up = self.match(self.up[i](x), skips[i].shape[-2:])
                x = self.dec[i](torch.cat([skips[i], up], dim=1))
            return self.head(x)
    return SkipAfterPooling(in_channels, num_classes, depth, base_channels, batch_norm, match)


def test_a_unet_keeping_its_skips_after_pooling_is_not_told_about_padding():
    """Is a U-Net whose output has half the input's size (the skips kept after pooling) given the general hint,
    not the padding and cropping one meant for a few lost rows?"""
    result = _check("make_unet")(make_unet_skip_after_pooling)
    assert result.outcome == INCORRECT, result.text()
    assert result.hint == messages_of("make_unet")("make_unet.general"), result.text()


def test_a_large_weight_repeats_its_random_block_in_no_row():
    """Does a weight larger than the random period (filled from one block, to save drawing 100 M values) repeat
    no row, and no stretch within a row (its values as distinct as independent float32 draws: 24 random bits
    each), with the He bound, and is the period prime?"""
    from course_utils.checks.engine.building import RANDOM_PERIOD, randomize_
    assert all(RANDOM_PERIOD % d for d in range(2, int(RANDOM_PERIOD ** 0.5) + 1))
    layer = torch.nn.Linear(4_096, 600)   # 2.5 M weights: the block and a half of it again
    randomize_(layer, torch.Generator().manual_seed(0))
    w = layer.weight.detach()
    assert w.numel() > 2 * RANDOM_PERIOD
    assert all(row.unique().numel() > 0.99 * row.numel() for row in w)
    assert w.unique(dim=0).shape[0] == w.shape[0]
    assert w.abs().max() <= (6 / 4_096) ** 0.5 and w.std() > 0.9 * (2 / 4_096) ** 0.5


def test_counting_a_learners_work_counts_its_lines_and_keeps_the_course_code_refused():
    """Does count_work count the lines of the learner's own code (more on a bigger input for a Python loop,
    the same for vectorised code) and torch's operations, while the guard still refuses the course's code?"""
    from course_utils.checks.engine import Forbidden, count_work, refuse_course_code
    from course_utils.crf import mean_field_step

    def loops(x):
        total = 0.0
        for value in x.tolist():   # a loop over the elements, outside torch
            total += value
        return total

    def vectorised(x):
        return float(x.sum())
    small, big = torch.ones(4), torch.ones(16)
    assert count_work(loops, big).grows_beyond(count_work(loops, small))
    assert count_work(loops, big).ops == count_work(loops, small).ops
    assert not count_work(vectorised, big).grows_beyond(count_work(vectorised, small))
    with refuse_course_code():
        with pytest.raises(Forbidden):
            count_work(lambda: mean_field_step(None, None, None, None))
