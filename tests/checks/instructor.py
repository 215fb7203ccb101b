"""The instructor's solution code, run from the notebook's text source: what the tests build on.

``course_grader.solutions.solution_cells`` gives each solution cell's code;
this module runs a notebook's solution cells in order, after the imports,
functions and classes of the cells before them (the context a solution may
use: ``AuxHead`` for the mini GoogLeNet, ``BasicBlock`` for ResNet-18), and
leaves out everything else a cell does: the demonstrations that train
networks.  (``load_solutions`` runs a cell that starts with ``def`` whole:
notebook 04's, which trains four networks, costs over 30 s; this costs the
time to read the notebook.)

No test file carries a copy of a solution: ``instructor_object("04_resnet",
"ResNet18")`` is the class the notebook's source defines today.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import json

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)


@functools.cache
def instructor_namespace(notebook: str) -> dict:
    """The namespace of ``notebook``'s solution cells, run in order with the definitions before each."""
    from course_grader.build import ROOT
    # read as JSON: nbformat's validator imports jsonschema's format checkers, 2 s of a test session
    with open(ROOT / "source" / notebook / f"{notebook}.ipynb", encoding="utf-8") as file:
        cells = json.load(file)["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    last = max(i for i, cell in enumerate(code) if cell["metadata"].get("nbgrader", {}).get("solution"))
    namespace: dict = {"__name__": f"instructor_{notebook}"}
    for cell in code[:last + 1]:
        role = cell["metadata"].get("nbgrader", {})
        name = f"<{notebook}:{role.get('grade_id', 'cell')}>"
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        tree = ast.parse(source)
        if not role.get("solution"):
            tree.body = [node for node in tree.body if isinstance(node, _DEFINITIONS)]
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(tree, name, "exec"), namespace)
    return namespace


def instructor_object(notebook: str, name: str):
    """The class or function ``name`` as the instructor's solution of ``notebook`` defines it."""
    namespace = instructor_namespace(notebook)
    if name not in namespace:
        raise KeyError(f"{notebook}'s solutions define no {name!r}")
    return namespace[name]
