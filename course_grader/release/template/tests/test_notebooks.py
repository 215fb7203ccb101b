"""Does the course work as you received it?

Every notebook runs top to bottom untouched: each exercise is still a stub, so every check must
answer "not attempted", every graded cell must fail with that verdict, and every other cell must
run.  These tests hold no solution: they prove that your copy of the course is complete and that
its packages are installed, not that an exercise is right (the checks in the notebooks do that).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))
CHECK_CELL = re.compile(r"check_\w+\(\w+\)\s*$")
WHERE_FROM = "import course_utils\nprint(course_utils.__file__)"


def test_the_course_has_its_notebooks():
    """Are the notebooks there?"""
    assert NOTEBOOKS, f"no notebooks under {ROOT / 'notebooks'}"


def test_bundled_data_is_intact():
    """Does every bundled data file match its checksum (data/checksums.sha256)?"""
    from course_utils import data
    assert data.verify_data()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom_with_every_check_not_attempted(path):
    """Untouched, does every cell run, every check say "not attempted", and only graded cells fail?"""
    import nbformat   # here, not at the top: collecting the tests stays instant
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHERE_FROM))
    NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}).execute()
    where = "".join(o.get("text", "") for o in nb.cells.pop().outputs)
    assert where.strip().startswith(str(ROOT / "course_utils")), f"the notebook used another course_utils: {where}"
    checks = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert errors and errors[0].ename == "CheckFailed", cell.source
            assert "not attempted" in errors[0].evalue, errors[0].evalue
        else:
            assert not errors, f"this cell failed:\n{cell.source}\n{errors}"
        if CHECK_CELL.match(cell.source.strip()):
            checks += 1
            assert "not attempted" in text, text
    assert checks >= 1, "a notebook without checks"
