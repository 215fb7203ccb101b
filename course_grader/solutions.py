"""The instructor's reference solutions, read from the source notebooks (for the tests and benchmarks)."""

from __future__ import annotations

import contextlib
import io

from course_grader.build import ROOT


def solution_cells(name: str) -> dict[str, str]:
    """The instructor's solution code of one assignment by grade id (solution markers removed)."""
    import nbformat
    nb = nbformat.read(ROOT / "source" / name / f"{name}.ipynb", as_version=4)
    cells = {}
    for cell in nb.cells:
        role = cell.metadata.get("nbgrader", {})
        if role.get("solution"):
            lines = [line for line in cell.source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            cells[role["grade_id"]] = "\n".join(lines) + "\n"
    return cells


def load_solutions(name: str) -> dict:
    """Run an assignment's code cells up to its last solution cell, without graded, widget or plot cells;
    return the namespace (the instructor's reference functions, for benchmarks)."""
    import nbformat
    nb = nbformat.read(ROOT / "source" / name / f"{name}.ipynb", as_version=4)
    namespace: dict = {"__name__": f"solutions_{name}"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    last = max(i for i, c in enumerate(code) if c.metadata.get("nbgrader", {}).get("solution"))
    for cell in code[:last + 1]:
        role = cell.metadata.get("nbgrader", {})
        if role.get("solution") or cell.source.lstrip().startswith(("import", "from", "def ", "class ")):
            with contextlib.redirect_stdout(io.StringIO()):  # set-up cells print (e.g. the device)
                exec(compile(cell.source, f"<{name}:{role.get('grade_id', 'cell')}>", "exec"), namespace)
    return namespace
