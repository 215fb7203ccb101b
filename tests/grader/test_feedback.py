"""The grader's feedback: hidden tests and their tracebacks never reach a student, and grading kernels are
headless (``course_grader.feedback``, ``nbgrader_config.py``)."""

from __future__ import annotations

from course_grader.feedback import ScrubFeedback


def test_nbgrader_config_makes_grading_headless():
    """Does nbgrader_config.py put grading kernels in headless mode (inherited environment)?"""
    from course_grader.build import ROOT
    assert 'os.environ.setdefault("COURSE_HEADLESS", "1")' in (ROOT / "nbgrader_config.py").read_text()


def test_scrub_feedback_removes_hidden_tests_and_their_tracebacks():
    """Does the feedback preprocessor drop hidden-test code and reduce a failure to its first line?"""
    import nbformat
    cell = nbformat.v4.new_code_cell(
        "check(f, strict=True)\n### BEGIN HIDDEN TESTS\ncheck(f, strict=True, seed=99)\n### END HIDDEN TESTS\n")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1}
    cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="f: not yet correct — x\n  case: secret",
                                           traceback=["line of check(f, strict=True, seed=99)"])]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = ScrubFeedback()(nb, {})   # as nbconvert calls it: only runs when enabled
    scrubbed = nb.cells[0]
    assert "seed=99" not in scrubbed.source and "HIDDEN" not in scrubbed.source
    assert scrubbed.outputs[0].traceback == ["CheckFailed: f: not yet correct — x"]
