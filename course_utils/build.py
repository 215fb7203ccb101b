"""Build the notebooks from their text sources (``python3 course.py build``).

    instructor/NN_name.py  ->  source/NN_name/NN_name.ipynb   (jupytext, percent format)
                           ->  notebooks/NN_name/NN_name.ipynb (nbgrader generate_assignment)

In the text sources a cell header carries the nbgrader role in short form:

    # %% solution="conv2d"               an exercise cell (### BEGIN/END SOLUTION inside)
    # %% tests="conv2d_tests" points=4   a graded, locked test cell (### BEGIN/END HIDDEN TESTS inside)

``python -m course_utils.build --check`` rebuilds into a scratch folder and
reports any notebook whose committed copy differs (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
def tool_env() -> dict:
    """The environment for nbgrader subprocesses: this interpreter's scripts first on PATH
    (nbgrader runs `alembic` by name to create its gradebook)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader_metadata(meta: dict) -> dict | None:
    if "solution" in meta:
        return {"grade": False, "grade_id": meta["solution"], "locked": False, "schema_version": 3,
                "solution": True, "task": False}
    if "tests" in meta:
        return {"grade": True, "grade_id": meta["tests"], "locked": True, "points": meta.get("points", 1),
                "schema_version": 3, "solution": False, "task": False}
    return None


def text_to_notebook(path: Path):
    """Read one instructor text source into an nbformat notebook with nbgrader metadata."""
    import jupytext
    import nbformat

    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    for index, cell in enumerate(nb.cells):
        meta = dict(cell.metadata)
        role = _nbgrader_metadata(meta)
        cell.metadata = {"nbgrader": role} if role else {}
        # Stable ids: diffs stay readable and the sync test can compare exactly.
        cell.id = role["grade_id"] if role else f"cell-{index:03d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(nb)
    return nb


def build(root: Path = ROOT, names: list[str] | None = None, *, quiet: bool = False) -> list[str]:
    """Write source/ and notebooks/ under ``root`` from ``ROOT/instructor``; return the assignment names."""
    import nbformat

    sources = sorted((ROOT / "instructor").glob("[0-9][0-9]_*.py"))
    built = []
    for path in sources:
        name = path.stem
        if names and name not in names:
            continue
        target = root / "source" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(text_to_notebook(path), target)
        result = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
             f"--CourseDirectory.root={root}", "--log-level=WARN"],
            cwd=root, capture_output=True, text=True, env=tool_env())
        if result.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{result.stdout}{result.stderr}")
        built.append(name)
        if not quiet:
            print(f"built source/{name}/{name}.ipynb and notebooks/{name}/{name}.ipynb")
    return built


def _load(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def out_of_sync() -> list[str]:
    """Notebooks whose committed copies differ from a fresh build (empty when in sync)."""
    problems = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        shutil.copy(ROOT / "nbgrader_config.py", scratch / "nbgrader_config.py")
        for name in build(scratch, quiet=True):
            for folder in ("source", "notebooks"):
                relative = Path(folder) / name / f"{name}.ipynb"
                if _load(ROOT / relative) != _load(scratch / relative):
                    problems.append(str(relative))
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="assignments to build (default: all)")
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        problems = out_of_sync()
        for p in problems:
            print(f"out of date: {p} (run `python3 course.py build`)")
        return 1 if problems else 0
    build(ROOT, args.names)
    return 0


if __name__ == "__main__":
    sys.exit(main())


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
    import contextlib
    import io

    namespace: dict = {"__name__": f"solutions_{name}"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    last = max(i for i, c in enumerate(code) if c.metadata.get("nbgrader", {}).get("solution"))
    for cell in code[:last + 1]:
        role = cell.metadata.get("nbgrader", {})
        if role.get("solution") or cell.source.lstrip().startswith(("import", "from", "def ", "class ")):
            with contextlib.redirect_stdout(io.StringIO()):  # set-up cells print (e.g. the device)
                exec(compile(cell.source, f"<{name}:{role.get('grade_id', 'cell')}>", "exec"), namespace)
    return namespace
