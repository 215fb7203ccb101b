"""The notebooks: generated versions in sync, learner versions clean, and runnable as a learner would.

The instructor sources themselves run end to end under nbval
(``pytest --nbval-lax source``), which the README's test command includes.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from chromium import browser_test_runs
from nbclient import NotebookClient

from course_grader.build import ROOT, out_of_sync

INSTRUCTOR = sorted((ROOT / "instructor").glob("[0-9][0-9]_*.py"))
NAMES = [p.stem for p in INSTRUCTOR]


def learner_path(name: str) -> Path:
    return ROOT / "notebooks" / name / f"{name}.ipynb"


def test_every_text_source_has_both_generated_notebooks():
    """Does every instructor/*.py have a source notebook and a learner version, and nothing extra?"""
    assert NAMES, "no instructor sources found"
    assert sorted(p.parent.name for p in (ROOT / "source").glob("*/*.ipynb")) == NAMES
    assert sorted(p.parent.name for p in (ROOT / "notebooks").glob("*/*.ipynb")) == NAMES


def test_generated_notebooks_are_in_sync_with_their_text_sources():
    """Are source/ and notebooks/ exactly what `python3 course.py build` makes from instructor/?"""
    assert out_of_sync() == []


@pytest.mark.parametrize("name", NAMES)
def test_learner_version_holds_no_solution_and_no_hidden_test(name):
    """Does the learner version contain stubs where the solutions were, and no hidden test?"""
    text = learner_path(name).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    nb = nbformat.read(learner_path(name), as_version=4)
    source = nbformat.read(ROOT / "source" / name / f"{name}.ipynb", as_version=4)
    regions = {c.metadata["nbgrader"]["grade_id"]: re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", c.source, re.S)
               for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        role = cell.metadata.get("nbgrader", {})
        if role.get("solution"):
            assert "raise NotImplementedError()" in cell.source
            hidden = {line.strip() for region in regions[role["grade_id"]] for line in region.splitlines()
                      if line.strip() and not line.strip().startswith("#")}
            leaked = sorted(hidden & {line.strip() for line in cell.source.splitlines()})
            assert not leaked, f"solution lines leaked into the learner version: {leaked}"
        if role.get("grade"):
            assert "strict=True" in cell.source and "seed=" not in cell.source


@pytest.mark.skipif(browser_test_runs(), reason="tests/e2e/test_browser.py runs every learner notebook top to "
                    "bottom in JupyterLab and asserts the same (this is its stand-in where Chromium cannot be had)")
@pytest.mark.parametrize("name", NAMES)
def test_learner_version_runs_top_to_bottom_with_only_graded_cells_failing(name):
    """Run untouched, does every check say "not attempted", every demo cope, and only graded cells fail?"""
    nb = nbformat.read(learner_path(name), as_version=4)
    NotebookClient(nb, timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(learner_path(name).parent)}}).execute()
    check_cells = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        role = cell.metadata.get("nbgrader", {})
        errors = [o for o in cell.outputs if o.output_type == "error"]
        text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        if role.get("grade"):
            assert errors and errors[0].ename == "CheckFailed", cell.source
            assert "not attempted" in errors[0].evalue
            assert len(errors[0].traceback) <= 6, "a graded failure should render in a few lines"
        else:
            assert not errors, f"cell failed in the learner version:\n{cell.source}\n{errors}"
        if re.match(r"check_\w+\(\w+\)\s*$", cell.source.strip()):
            check_cells += 1
            assert "not attempted" in text
    assert check_cells >= 1


@pytest.mark.parametrize("name", NAMES)
def test_every_exercise_has_exactly_one_graded_cell_named_after_it(name):
    """Is each exercise `<id>` graded by a cell `<id>_tests` with points, calling its check strictly?
    (The grading round trip relies on this convention to know what each exercise is worth.)"""
    nb = nbformat.read(ROOT / "source" / name / f"{name}.ipynb", as_version=4)
    roles = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    exercises = {r["grade_id"] for r in roles if r.get("solution")}
    graded = {r["grade_id"]: r.get("points", 0) for r in roles if r.get("grade")}
    assert exercises, "a notebook without exercises"
    assert set(graded) == {f"{e}_tests" for e in exercises}
    assert all(points > 0 for points in graded.values())
    for cell in nb.cells:
        role = cell.metadata.get("nbgrader", {})
        if role.get("grade"):
            exercise = role["grade_id"][: -len("_tests")]
            assert f"check_{exercise}({exercise}, strict=True" in cell.source
            assert "### BEGIN HIDDEN TESTS" in cell.source, "every graded cell has hidden cases"
