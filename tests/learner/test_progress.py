"""The learner's progress table (course_utils.progress): local, private, resettable, never part of grading."""

from __future__ import annotations

import json

import pytest

from course_utils import checks, progress
from course_grader.solutions import load_solutions


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(path))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("NBGRADER_VALIDATING", raising=False)
    return path


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def wrong_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return size - kernel_size + 1


def stub(*args, **kwargs):
    raise NotImplementedError()


def passed(path) -> set[str]:
    return set(json.loads(path.read_text())["passed"]) if path.exists() else set()


def test_a_passing_check_is_recorded_and_nothing_else(progress_file):
    """Does a passed check land in the progress file, and a failing or unattempted one not?"""
    assert checks.check_conv_output_size(wrong_output_size).outcome == checks.INCORRECT
    assert checks.check_conv_output_size(stub).outcome == checks.NOT_ATTEMPTED
    assert passed(progress_file) == set()
    assert checks.check_conv_output_size(conv_output_size)
    assert passed(progress_file) == {"conv_output_size"}


def test_graded_cells_and_nbgrader_runs_record_nothing(progress_file, monkeypatch):
    """Does grading stay out of it: strict=True (graded cells) and nbgrader's runs record no progress?"""
    assert checks.check_conv_output_size(conv_output_size, strict=True)
    for variable, value in (("NBGRADER_EXECUTION", "autograde"), ("NBGRADER_VALIDATING", "1")):
        monkeypatch.setenv(variable, value)
        assert checks.check_conv_output_size(conv_output_size)
        monkeypatch.delenv(variable)
    assert passed(progress_file) == set()


def test_an_unwritable_progress_file_never_fails_a_check(tmp_path, monkeypatch):
    """When the progress file cannot be written (its folder is a file), does the check still pass quietly?"""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("COURSE_PROGRESS_FILE", str(blocker / "progress.json"))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    result = checks.check_conv_output_size(conv_output_size)
    assert result.passed and checks.check_conv_output_size(conv_output_size, strict=True)


def test_a_corrupt_progress_file_is_started_afresh(progress_file):
    """Does a damaged progress file neither break a check nor the table?"""
    progress_file.write_text("{not json")
    assert checks.check_conv_output_size(conv_output_size)
    assert passed(progress_file) == {"conv_output_size"}


def test_default_location_is_the_users_data_folder(monkeypatch, tmp_path):
    """Without COURSE_PROGRESS_FILE, is progress kept under $XDG_DATA_HOME (or ~/.local/share)?"""
    monkeypatch.delenv("COURSE_PROGRESS_FILE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert progress.progress_file() == tmp_path / "cnn-course" / "progress.json"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert progress.progress_file() == tmp_path / ".local" / "share" / "cnn-course" / "progress.json"


def test_every_notebook_lists_its_exercises_by_check():
    """Does each notebook's exercise list come from its graded cells, each name a real check?"""
    found = progress.exercises()
    assert list(found) == sorted(p.parent.name for p in (progress.ROOT / "notebooks").glob("*/*.ipynb"))
    for notebook, names in found.items():
        assert names, f"{notebook} has no graded exercise"
        for name in names:
            assert hasattr(checks, f"check_{name}"), f"{notebook}: no check_{name}"
    assert "conv2d" in found["01_convolution"]


def test_show_prints_a_table_per_notebook(progress_file, capsys):
    """Does show() print each notebook's passed/total, and render HTML in a notebook?"""
    checks.check_conv_output_size(conv_output_size)
    progress.show()
    out = capsys.readouterr().out
    total = len(progress.exercises()["01_convolution"])
    row = next(line for line in out.splitlines() if line.startswith("01_convolution"))
    assert f" 1 / {total}" in row and "next:" in row
    for notebook in progress.exercises():
        assert notebook in out
    assert str(progress_file) in out
    html = progress.table()._repr_html_()
    assert "<table" in html and f"1 / {total}" in html


def test_reset_forgets_everything_or_one_notebook(progress_file, capsys):
    """Does reset() forget all progress, and reset(notebook) only that notebook's?"""
    first = progress.exercises()["01_convolution"]
    second_notebook, second = next((n, e) for n, e in progress.exercises().items() if n != "01_convolution")
    progress_file.write_text(json.dumps({"passed": {first[0]: "t", second[0]: "t"}}))
    progress.reset("01_convolution")
    assert passed(progress_file) == {second[0]}
    progress.reset()
    assert passed(progress_file) == set()
    assert "forgotten" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no notebook"):
        progress.reset("99_nothing")


@pytest.mark.parametrize("notebook", sorted(progress.exercises()))
def test_every_check_reports_its_result_to_progress(notebook, monkeypatch):
    """Does every check of every notebook hand its result to progress.record (so a pass gets recorded)?"""
    seen = []
    monkeypatch.setattr(progress, "record", lambda result, strict=False: seen.append((result.check, strict)))
    for name in progress.exercises()[notebook]:
        seen.clear()
        result = getattr(checks, f"check_{name}")(stub)
        assert result.outcome == checks.NOT_ATTEMPTED and set(seen) == {(name, False)}, (name, seen)


def test_passing_every_check_of_a_notebook_completes_it(progress_file):
    """With the instructor's solutions of notebook 01, does its row read complete (the cheapest notebook)?"""
    solutions = load_solutions("01_convolution")
    for name in progress.exercises()["01_convolution"]:
        assert getattr(checks, f"check_{name}")(solutions[name]), name
    row = next(r for r in progress.table().rows if r[0] == "01_convolution")
    assert row[1] == row[2]


def test_show_stays_out_of_graded_feedback(progress_file, monkeypatch, capsys):
    """Under nbgrader, does show() print a note instead of the grader's own progress?"""
    checks.check_conv_output_size(conv_output_size)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    progress.show()
    out = capsys.readouterr().out
    assert "not while nbgrader grades" in out and "01_convolution" not in out
