"""Colab: every notebook opens with a badge and a set-up cell that, in Colab only, fetches the course.

The set-up cell is proven in a simulated Colab: a fresh kernel whose own course installation is
hidden, a fake ``google.colab`` module, a scratch working folder and ``COURSE_REPOSITORY`` pointed
at a local git repository holding this working tree; then the notebook runs up to its first
check, which must answer from the freshly fetched course.  No network is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_grader import build
from course_utils import widgets

ROOT = build.ROOT
LEARNER = sorted(ROOT.glob("notebooks/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))
SOURCE = sorted(ROOT.glob("source/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))
CHECK_CELL = re.compile(r"check_\w+\(\w+\)\s*$")
FOLDER = build.repository_url().rsplit("/", 1)[-1]

# Run first in the simulated Colab kernel: hide the course installed here (an editable install's
# finder, PYTHONPATH), prove it is gone, then pretend to be Colab.
FAKE_COLAB = """\
import importlib.util, sys, types
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path[:] = [p for p in sys.path if not (p and __import__("os").path.isdir(__import__("os").path.join(p, "course_utils")))]
assert importlib.util.find_spec("course_utils") is None, "the course should not be importable before the set-up cell"
google, colab, output = (types.ModuleType(n) for n in ("google", "google.colab", "google.colab.output"))
google.__path__ = []
output.widget_manager_enabled = 0
def enable_custom_widget_manager():
    output.widget_manager_enabled += 1
output.enable_custom_widget_manager = enable_custom_widget_manager
google.colab, colab.output = colab, output
sys.modules.update({"google": google, "google.colab": colab, "google.colab.output": output})
"""

WHERE_FROM = """\
import os, course_utils
from course_utils import data
print("course_utils from", course_utils.__file__)
assert course_utils.__file__.startswith(os.path.abspath("{folder}") + os.sep), course_utils.__file__
assert str(data.data_dir()).startswith(os.path.abspath("{folder}") + os.sep), data.data_dir()
"""


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


@pytest.mark.parametrize("path", LEARNER + SOURCE, ids=[f"{p.parent.parent.name}/{p.stem}" for p in LEARNER + SOURCE])
def test_every_notebook_opens_with_the_colab_badge_and_set_up_cell(path):
    """Does each notebook start with its title, an Open-in-Colab badge for its learner version,
    and the Colab set-up cell as its first code cell, with the repository URL from pyproject.toml?"""
    cells = _cells(path)
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    badge = cells[1]
    name = path.stem
    assert badge.cell_type == "markdown" and "colab-badge.svg" in badge.source
    owner_repo = build.repository_url().removeprefix("https://github.com/")
    assert (f"https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{name}/{name}.ipynb"
            in badge.source)
    first_code = next(c for c in cells if c.cell_type == "code")
    assert first_code.id == "colab-setup" and first_code is cells[2]
    assert build.repository_url() in first_code.source
    assert "nbgrader" not in first_code.metadata, "the set-up cell is a plain cell, never graded"


def test_the_repository_url_lives_in_one_place():
    """Is the repository URL written only in pyproject.toml among the course's code (notebooks are generated)?"""
    url = build.repository_url()
    assert url.startswith("https://github.com/")
    written = [p.relative_to(ROOT).as_posix() for p in [*ROOT.glob("course_utils/**/*.py"), *ROOT.glob("course_grader/**/*.py"),
                                                         *ROOT.glob("tests/**/*.py"),
                                                         *ROOT.glob("instructor/*.py"), ROOT / "course.py"]
               if url in p.read_text()]
    assert written == [], f"the repository URL should come from pyproject.toml only, not {written}"


def test_set_up_cell_does_nothing_outside_colab(tmp_path):
    """Outside Colab, does the set-up cell leave the folder, sys.path and the modules alone?"""
    setup = build.colab_cells("01_convolution")[1].source
    code = ("import sys; before = list(sys.path)\n" + setup +
            "\nassert sys.path == before and 'course_utils' not in sys.modules; print('untouched')")
    env = {k: v for k, v in os.environ.items() if k != "COURSE_REPOSITORY"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.stdout.strip() == "untouched", result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> str:
    """A local git repository with this working tree's files (committed or not): Colab's clone source."""
    repo = tmp_path_factory.mktemp("origin") / "cnn-course"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git = ["git", "-c", "user.name=course", "-c", "user.email=course@example.invalid", "-c", "init.defaultBranch=main"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "course"]):
        subprocess.run(git + command, cwd=repo, check=True, capture_output=True)
    return repo.as_uri()  # file://: a real (shallow) clone, as from GitHub


@pytest.mark.parametrize("path", LEARNER, ids=[p.stem for p in LEARNER])
def test_notebook_runs_its_first_checks_in_a_simulated_colab(path, repository, tmp_path, monkeypatch):
    """In a fake Colab with no course installed, does the set-up cell fetch the course from its repository,
    and do the notebook's cells then run up to the first check, which answers "not attempted"?"""
    monkeypatch.setenv("COURSE_REPOSITORY", repository)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    cells = _cells(path)
    first_check = next(i for i, c in enumerate(cells) if c.cell_type == "code" and CHECK_CELL.match(c.source.strip()))
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": build.KERNELSPEC})
    nb.cells = ([nbformat.v4.new_code_cell(FAKE_COLAB)] + [c for c in cells[:first_check + 1] if c.cell_type == "code"]
                + [nbformat.v4.new_code_cell(WHERE_FROM.format(folder=FOLDER))])
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert (tmp_path / FOLDER / "course_utils" / "__init__.py").exists(), "the course should be cloned into the folder"
    verdict = json.dumps(nb.cells[-2].outputs)
    assert "not attempted" in verdict, verdict
    assert "course_utils from" in json.dumps(nb.cells[-1].outputs)


def test_explorers_turn_on_colabs_widget_manager(monkeypatch):
    """In Colab, does an explorer enable Colab's custom widget manager (needed for ipywidgets there)?"""
    import types

    from course_utils import data
    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    colab = types.ModuleType("google.colab")
    colab.output = output
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.delenv("COURSE_HEADLESS", raising=False)
    assert widgets.enable_colab_widgets() is True
    explorer = widgets.explore_convolution(data.load_image("camera", gray=True, size=(7, 7)))
    assert explorer is not None and len(calls) == 2
