"""Build the notebooks from their text sources (``python3 course.py build``).

    instructor/NN_name.py  ->  source/NN_name/NN_name.ipynb   (jupytext, percent format)
                           ->  notebooks/NN_name/NN_name.ipynb (nbgrader generate_assignment)

In the text sources a cell header carries the nbgrader role in short form:

    # %% solution="conv2d"               an exercise cell (### BEGIN/END SOLUTION inside)
    # %% tests="conv2d_tests" points=4   a graded, locked test cell (### BEGIN/END HIDDEN TESTS inside)

``python -m course_grader.build --check`` rebuilds into a scratch folder and
reports any notebook whose committed copy differs (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from course_grader.config import tool_env

ROOT = Path(__file__).resolve().parent.parent   # the repository: instructor/, source/, notebooks/


KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def repository_url(root: Path = ROOT) -> str:
    """The course repository's URL: ``[project.urls] Repository`` in pyproject.toml, its one home."""
    text = (root / "pyproject.toml").read_text()
    section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    match = section and re.search(r'^Repository\s*=\s*"([^"]+)"', section.group(1), re.M)
    if not match:
        raise RuntimeError("pyproject.toml needs [project.urls] Repository = \"https://github.com/OWNER/NAME\"")
    return match.group(1).rstrip("/")


def colab_badge(name: str, url: str) -> str:
    """Markdown for an "Open in Colab" badge of the learner version of ``name`` (GitHub repositories)."""
    github = re.match(r"https://github\.com/([^/]+/[^/]+?)(?:\.git)?$", url)
    if not github:
        raise RuntimeError(f"Colab opens notebooks from GitHub; the repository URL is {url}")
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{github.group(1)}/blob/main/notebooks/{name}/{name}.ipynb)")


# The first code cell of every notebook.  It must stay plain Python (the Colab test runs it
# with a fake google.colab module) and do nothing outside Colab.
COLAB_SETUP = '''\
# In Google Colab only: fetch the course (its helpers, course_utils, and its data) from the
# repository and put it on the path. Anywhere else, for example in `python3 course.py lab`
# or on Binder, this cell does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
    course = os.path.abspath("{folder}")
    if not os.path.isdir(course):
        repository = os.environ.get("COURSE_REPOSITORY", "{url}")
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", repository, course], check=True)
    if course not in sys.path:
        sys.path.insert(0, course)'''


def progress_cells() -> list:
    """The closing cells of every notebook: the learner's progress table (course_utils.progress)."""
    import nbformat
    text = ("## Your progress\n\nEach check you passed is noted on this computer only (no account, no network). "
            "The table shows, for every notebook, how many of its exercises you have done; "
            "`progress.reset()` forgets it.")
    return [nbformat.v4.new_markdown_cell(text, id="progress-title"),
            nbformat.v4.new_code_cell("from course_utils import progress\n\nprogress.show()", id="progress-show")]


def colab_cells(name: str, root: Path = ROOT, *, url: str | None = None) -> list:
    """The badge (markdown) and the Colab set-up (code) cells that open every notebook (``url``: another
    repository than the course's own, as a learner edition's)."""
    import nbformat
    url = url or repository_url(root)
    badge = nbformat.v4.new_markdown_cell(colab_badge(name, url), id="colab-badge")
    setup = nbformat.v4.new_code_cell(COLAB_SETUP.format(url=url, folder=url.rsplit("/", 1)[-1].removesuffix(".git")),
                                      id="colab-setup")
    return [badge, setup]


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
    # After the title: the Colab badge and set-up cell (their own ids keep the others' ids stable).
    nb.cells[1:1] = colab_cells(path.stem)
    nb.cells += progress_cells()
    nbformat.validate(nb)
    return nb


def build(root: Path = ROOT, names: list[str] | None = None, *, quiet: bool = False) -> list[str]:
    """Write source/ and notebooks/ under ``root`` from ``ROOT/instructor``; return the assignment names.

    The learner versions come from one ``nbgrader generate_assignment`` run for all of them (``"*"``) when
    every notebook is built: nbgrader's start-up, about 2 s, is paid once instead of nine times."""
    import nbformat

    built = []
    for path in sorted((ROOT / "instructor").glob("[0-9][0-9]_*.py")):
        if names and path.stem not in names:
            continue
        target = root / "source" / path.stem / f"{path.stem}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(text_to_notebook(path), target)
        built.append(path.stem)
    everything = sorted(p.name for p in (root / "source").iterdir() if p.is_dir()) == built
    for assignment in (["*"] if everything and built else built):
        result = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
             f"--CourseDirectory.root={root}", "--log-level=WARN"],
            cwd=root, capture_output=True, text=True, env=tool_env())
        if result.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{result.stdout}{result.stderr}")
    if not quiet:
        for name in built:
            print(f"built source/{name}/{name}.ipynb and notebooks/{name}/{name}.ipynb")
    return built


def _load(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def out_of_sync() -> list[str]:
    """Notebooks whose committed copies differ from a fresh build (empty when in sync)."""
    problems = []
    # in memory where the system has a RAM disk: nbgrader's gradebook commits about 30 times a notebook,
    # and each commit waits for the disk (12 ms here)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as scratch:
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
