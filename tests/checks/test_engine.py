"""Proof of the check engine's own promises that no single check shows (``course_utils/checks/engine``)."""

from __future__ import annotations

import pytest
import torch

from course_utils.checks.engine import (OUTCOMES, CheckFailed, CheckResult, parse_hint, parse_verdict, same,
                                        verdict_line)


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
