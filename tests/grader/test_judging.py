"""course_grader.judging: one graded cell's score from the kernel's reply, its error outputs and the
check's verdict line together; the verdict line's parser."""

from __future__ import annotations

import pytest

from course_grader.judging import parse_verdict


def _graded_cell(outputs: list[dict]):
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    cell = new_code_cell("check_conv2d(conv2d, strict=True)")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "conv2d_tests", "points": 4, "solution": False,
                                 "locked": True, "schema_version": 3}
    cell.outputs = [new_output(**o) for o in outputs]
    return new_notebook(cells=[cell])


PASSED = {"output_type": "execute_result", "execution_count": 1,
          "data": {"text/plain": "conv2d: passed — public checks passed on 6 cases."}}


@pytest.mark.parametrize("outputs, record, executed, score, tampered", [
    ([PASSED], {"restore": [], "verify": [], "status": "ok"}, {0}, 4, False),
    # the check's verdict is missing although the cell "succeeded" (its call was swallowed)
    ([{"output_type": "stream", "name": "stdout", "text": "ok\n"}],
     {"restore": [], "verify": [], "status": "ok"}, {0}, 0, True),
    # something was patched while the graded cell ran
    ([PASSED], {"restore": [], "verify": ["torch.allclose"], "status": "ok"}, {0}, 0, True),
    # the grader's restore step did not answer
    ([PASSED], {"restore": None, "verify": [], "status": "ok"}, {0}, 0, True),
    # a patch found and undone before the cell: the cell's own verdict counts, and it is flagged
    ([PASSED], {"restore": ["torch.allclose"], "verify": [], "status": "ok"}, {0}, 4, True),
    # never executed (the kernel died earlier): 0, not tampering
    ([], None, set(), 0, False),
])
def test_a_graded_cell_scores_only_when_reply_errors_and_verdict_agree(outputs, record, executed, score, tampered):
    """Does the grader give a graded cell its points only when the kernel's reply, its error outputs and
    the check's 'passed' line agree, and put a rejection first so nbgrader's own rule scores it 0?"""
    from nbgrader.utils import determine_grade

    from course_grader.judging import judge

    nb = _graded_cell(outputs)
    graded = {} if record is None else {"conv2d_tests": dict(record, checks=["conv2d"])}
    flags: set[str] = set()
    cells = judge(nb, graded, executed, flags)
    assert cells["conv2d_tests"]["score"] == score
    assert determine_grade(nb.cells[0])[0] == score          # what SaveAutoGrades will store
    assert ("tampered" in flags) == tampered


@pytest.mark.parametrize("line, parsed", [
    ("conv2d: passed — public checks passed on 6 cases.", ("verdict", "conv2d", "passed")),
    ("CheckFailed: conv2d: not yet correct — case 2 differs", ("verdict", "conv2d", "not yet correct")),
    ("  hint: the kernel looks flipped", ("hint", None, None)),
    ("conv2d: passed", None),
    ("print('hello')", None),
])
def test_the_verdict_parser_reads_verdicts_and_hints_only(line, parsed):
    """Does parse_verdict tell a check's verdict line (name and outcome) and its hint line from any other output?"""
    got = parse_verdict(line)
    assert (got if got is None else (got.kind, got.check, got.outcome)) == parsed
    if got is not None and got.kind == "hint":
        assert got.text == "the kernel looks flipped"
