"""The learner edition (``python3 course.py release``): the learner's files only, no solution text,
Colab pointed at the edition's own repository, and an edition whose own test collects.

The edition's test runs every learner notebook; this suite does not run them again here (the
learner versions run top to bottom in tests/e2e/test_notebooks.py and the browser test).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_grader import release as rel
from course_grader.build import ROOT, repository_url
from course_grader.release import leaks, references
from course_grader.solutions import solution_cells

REPOSITORY = "https://github.com/example-teacher/cnn-2027"
NAMES = sorted(p.stem for p in ROOT.glob("source/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))
GRADER_ONLY = ("nbgrader", "nbconvert", "jupytext", "nbval", "playwright", "ruff", "notebook")


@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "cnn-2027"
    log = tmp_path_factory.mktemp("log") / "release.txt"
    with log.open("w") as out:
        assert rel.release(dest, REPOSITORY, out=out) == 0, log.read_text()
    assert "no solution text" in log.read_text()
    return dest


@pytest.fixture(scope="module")
def secrets() -> dict[str, list[str]]:
    return leaks.secret_lines(ROOT)


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _pip_section(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    start = lines.index("  - pip:")
    return [line.strip().removeprefix("- ") for line in lines[start + 1:] if line.startswith("      - ")]


def test_edition_holds_the_learners_files_and_nothing_of_the_instructors(edition):
    """Are the notebooks, course_utils and data there, and are instructor/, source/, course_grader/,
    nbgrader's configuration and the course's tests (which hold solutions) absent?"""
    top = {p.name for p in edition.iterdir()}
    assert top == {"README.md", ".gitignore", "course.py", "pyproject.toml", "requirements.txt", "environment.yml",
                   "binder", "notebooks", "course_utils", "data", "tests"}
    files = _files(edition)
    assert {f for f in files if f.startswith("notebooks/")} == {f"notebooks/{n}/{n}.ipynb" for n in NAMES}
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "course_utils", "data"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert {f for f in files if f.startswith(("course_utils/", "data/"))} == set(tracked)
    assert {f for f in files if f.startswith("tests/")} == {"tests/conftest.py", "tests/test_notebooks.py"}
    assert not [f for f in files if "__pycache__" in f or f.endswith((".pyc", ".in"))]
    for path in files:
        assert not set(Path(path).parts) & {"instructor", "source", "course_grader", "nbgrader_config.py",
                                            "gradebook.db", "submitted", "autograded", "feedback"}, path
    assert "course_grader" not in "".join((edition / f).read_text() for f in files if f.endswith(".py"))


def test_edition_installs_the_learners_packages_only(edition):
    """Do requirements.txt, environment.yml, binder/ and pyproject.toml name the learner's packages, with the
    course's pins, and nothing of the grader's?"""
    tomllib = pytest.importorskip("tomllib")
    course = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    learner = [line for line in (edition / "requirements.txt").read_text().splitlines()
               if line and not line.startswith("#")]
    assert learner == [line for line in course if line in learner], "a subset of the course's lines, in order"
    names = {rel._name(line) for line in learner}
    assert not names & set(GRADER_ONLY)
    project = tomllib.loads((edition / "pyproject.toml").read_text())
    own = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["project"]["dependencies"] == own["dependencies"]
    assert {rel._name(d) for d in own["dependencies"]} | {"jupyterlab", "ipykernel", "pytest", "nbclient"} <= names
    assert "optional-dependencies" not in project["project"]
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["course_utils*"]
    assert project["project"]["urls"]["Repository"] == REPOSITORY
    assert _pip_section(edition / "environment.yml") == learner + ["-e ."]
    assert _pip_section(edition / "binder" / "environment.yml") == [
        "--extra-index-url https://download.pytorch.org/whl/cpu", *learner]
    assert os.access(edition / "binder" / "postBuild", os.X_OK)


def test_no_solution_and_no_hidden_test_is_in_any_file_of_the_edition(edition, secrets):
    """Is every non-trivial line of every solution cell, and every hidden test, absent from every file?"""
    kinds = {"solution" if "solution" in where[0] else "hidden" for where in secrets.values()}
    assert kinds == {"solution", "hidden"} and len(secrets) > 200, "the scan should know the solutions"
    found, read = leaks.find_leaks(edition, secrets)
    assert read >= len(list(edition.rglob("*.py"))) + len(NAMES)
    assert found == [], "\n".join(map(str, found))


def test_the_scan_finds_a_solution_pasted_under_another_name(tmp_path, secrets):
    """Would a solution copied into the edition be found, respaced and commented, and named by its origin?"""
    source = solution_cells("01_convolution")["conv2d"].replace("def conv2d(", "def _reference(")
    pasted = "\n".join(re.sub(r",\s*", " ,  ", line) + "   # a comment" for line in source.splitlines())
    (tmp_path / "course_utils").mkdir()
    (tmp_path / "course_utils" / "reference.py").write_text(pasted)
    found, _ = leaks.find_leaks(tmp_path, secrets)
    assert len(found) >= 5
    assert all(leak.file == "course_utils/reference.py" and "01_convolution: solution conv2d" in leak.origins
               for leak in found)


def test_a_leaking_edition_is_reported_as_not_safe_to_publish(tmp_path, monkeypatch):
    """When the scan finds a line, does the command fail and name the file and the line?"""
    line = (ROOT / "course_utils" / "data.py").read_text().splitlines()
    number, text = next((i, t) for i, t in enumerate(line, 1) if leaks.non_trivial(t))
    monkeypatch.setattr(leaks, "secret_lines", lambda root: {leaks.key(text): ["99_example: solution x"]})
    log = tmp_path / "log.txt"
    with log.open("w") as out:
        assert rel.release(tmp_path / "edition", REPOSITORY, out=out) == 1
    assert "NOT SAFE TO PUBLISH" in log.read_text()
    assert f"course_utils/data.py:{number}: {text.strip()}  (from 99_example: solution x)" in log.read_text()


def test_every_course_file_the_edition_names_is_in_it(edition):
    """Does no notebook, README or course file of the edition cite a course file that stayed behind (a benchmark,
    a test, the instructor's sources)?"""
    assert references.dangling(edition) == []


def test_a_citation_of_a_file_left_behind_stops_the_release(tmp_path):
    """Is a cited file the edition lacks named, with its line, and does the release refuse to publish?  (URLs and
    patterns such as notebooks/NN_name/NN_name.ipynb are no citations.)"""
    (tmp_path / "course_utils").mkdir()
    (tmp_path / "course_utils" / "data.py").write_text('"""Data."""\n')
    (tmp_path / "README.md").write_text("See https://example.org/benchmarks/run.py and notebooks/NN_name/NN_name.ipynb\n"
                                        "and `course_utils/data.py`;\nmeasured by `benchmarks/im2col.py`.\n")
    assert [str(d) for d in references.dangling(tmp_path)] == [
        "README.md:3: names benchmarks/im2col.py, which the edition does not hold"]


@pytest.mark.parametrize("line", ["return x", ")", "import torch.nn.functional as F", "from torch import nn",
                                  "# flip the kernel before sliding it over the input, as true convolution does",
                                  "(sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)",
                                  "out = torch.zeros(n, c_out, h_out, w_out, dtype=x.dtype, device=x.device)",
                                  "n, c_in, height, width = x.shape", "x = x - 1", "return out[:, :, :h, :w]"])
def test_trivial_lines_are_not_solution_text(line):
    """Are imports, comments, short lines and plumbing (unpacking, allocating) left out of the leak rule?"""
    assert not leaks.non_trivial(line)


@pytest.mark.parametrize("line", ["k = 2 * factor - factor % 2", "r += d * (k - 1) * j",
                                  "windows = padded.unfold(2, kh, sh).unfold(3, kw, sw)",
                                  "lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])"])
def test_lines_that_compute_are_solution_text(line):
    """Is a line that computes (an operator between operands) or calls a real operation part of the rule,
    and compared without its spacing and comment?"""
    assert leaks.non_trivial(line)
    assert leaks.key(line.replace(" ", "") + "  # why") == leaks.key(line)


def test_what_the_learner_version_shows_is_not_a_secret(secrets):
    """Are the lines every learner notebook shows on purpose (the stubs' signatures and docstrings) exempt?"""
    for name in NAMES:
        learner = nbformat.read(ROOT / "notebooks" / name / f"{name}.ipynb", as_version=4)
        for cell in learner.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                assert not {leaks.key(line) for line in cell.source.splitlines()} & set(secrets), cell.source


def test_every_notebook_opens_colab_on_the_editions_repository(edition):
    """Do the badges and set-up cells of the edition, and its README, point at --repository, never at the
    course's own repository?"""
    for name in NAMES:
        cells = nbformat.read(edition / "notebooks" / name / f"{name}.ipynb", as_version=4).cells
        assert (f"https://colab.research.google.com/github/example-teacher/cnn-2027/blob/main/notebooks/{name}/"
                f"{name}.ipynb)") in cells[1].source
        assert cells[2].id == "colab-setup" and f'"{REPOSITORY}"' in cells[2].source
        assert 'os.path.abspath("cnn-2027")' in cells[2].source
        assert all(not c.get("outputs") for c in cells)
    readme = (edition / "README.md").read_text()
    assert f"colab.research.google.com/github/example-teacher/cnn-2027/blob/main/notebooks/{NAMES[0]}" in readme
    assert "$" not in readme.replace("$$", "")
    course_url = repository_url()
    assert not [f for f in _files(edition) if course_url in (edition / f).read_text(errors="ignore")]


def test_the_default_repository_is_not_the_answer_keys():
    """Without --repository, do the Colab cells clone a repository other than the course's own?"""
    assert rel.default_repository() == repository_url() + "-learner"


def test_the_editions_own_test_collects_and_its_course_py_offers_lab_and_test(edition):
    """In the edition, does `pytest` collect a run of every notebook, and does course.py offer lab and test?"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # -p no:nbval: the course's environment has nbval, the edition's does not (it cost 5 of 6.5 s here)
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:nbval"],
                               cwd=edition, env=env, capture_output=True, text=True)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    for name in NAMES:
        assert f"tests/test_notebooks.py::test_notebook_runs_top_to_bottom_with_every_check_not_attempted[{name}]" \
               in collected.stdout
    usage = subprocess.run([sys.executable, "course.py"], cwd=edition, capture_output=True, text=True)
    assert usage.returncode == 2 and "course.py lab" in usage.stdout and "course.py test" in usage.stdout
    assert "build" not in usage.stdout and "grade" not in usage.stdout


def test_release_refuses_a_destination_that_is_not_its_own(tmp_path):
    """Does it refuse the course folder, a folder above it, a full course and a folder of other files?"""
    course = tmp_path / "course"
    (course / "instructor").mkdir(parents=True)
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("mine")
    for dest in (ROOT, ROOT / "edition", ROOT.parent, course, other):
        with pytest.raises(rel.ReleaseError):
            rel.write_edition(dest, REPOSITORY)
    assert (other / "thesis.tex").read_text() == "mine" and not (ROOT / "edition").exists()
    with pytest.raises(RuntimeError, match="GitHub"):
        rel.write_edition(tmp_path / "gitlab", "https://gitlab.com/someone/cnn")


def test_release_replaces_an_earlier_edition_and_keeps_its_git_folder(edition, tmp_path):
    """Released again into an edition's checkout, does it keep .git and drop files the course no longer has?"""
    dest = tmp_path / "checkout"
    shutil.copytree(edition, dest)
    (dest / ".git").mkdir()
    (dest / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (dest / "notebooks" / "00_removed").mkdir()
    (dest / "notebooks" / "00_removed" / "00_removed.ipynb").write_text("{}")
    rel.write_edition(dest, REPOSITORY)
    assert (dest / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert not (dest / "notebooks" / "00_removed").exists()
    assert _files(dest) - {".git/HEAD"} == _files(edition)


def test_course_py_release_runs_the_module_with_dest_from_where_you_are(monkeypatch, tmp_path):
    """Does `python3 course.py release DEST --repository URL` pass DEST as an absolute path, URL unchanged?"""
    spec = importlib.util.spec_from_file_location("course_commands", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    calls = []
    monkeypatch.setattr(course, "ensure_environment", lambda: Path(sys.executable))
    monkeypatch.setattr(course.subprocess, "call", lambda command, **kw: calls.append((command, kw)) or 0)
    monkeypatch.chdir(tmp_path)
    assert course.main(["release", "cnn-2027", "--repository", REPOSITORY]) == 0
    command, kw = calls[0]
    assert command[1:] == ["-m", "course_grader.release", str(tmp_path / "cnn-2027"), "--repository", REPOSITORY]
    assert kw["cwd"] == course.ROOT
    assert json.dumps(command)   # plain strings only
