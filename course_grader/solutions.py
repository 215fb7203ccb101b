"""The instructor's reference solutions, read from the source notebooks (for the tests and benchmarks)."""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import json

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


_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


@functools.cache
def load_solutions(name: str) -> dict:
    """The namespace of an assignment's solution cells, run in order, each after the imports, functions
    and classes of the cells before it (the context a solution may use: ``AuxHead`` for the mini
    GoogLeNet, ``BasicBlock`` for ResNet-18) and nothing else those cells do (the demonstrations that
    train networks: running notebook 04's cells whole cost over 30 s; this costs reading the notebook).
    Cached: callers share one namespace, so they must not change it."""
    # read as JSON: nbformat's validator imports jsonschema's format checkers, 2 s of a test session
    with open(ROOT / "source" / name / f"{name}.ipynb", encoding="utf-8") as file:
        cells = json.load(file)["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    last = max(i for i, cell in enumerate(code) if cell["metadata"].get("nbgrader", {}).get("solution"))
    namespace: dict = {"__name__": f"solutions_{name}"}
    for cell in code[:last + 1]:
        role = cell["metadata"].get("nbgrader", {})
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        tree = ast.parse(source)
        if not role.get("solution"):
            tree.body = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
        with contextlib.redirect_stdout(io.StringIO()):  # set-up cells print (e.g. the device)
            exec(compile(tree, f"<{name}:{role.get('grade_id', 'cell')}>", "exec"), namespace)
    return namespace
