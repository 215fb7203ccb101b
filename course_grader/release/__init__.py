"""The learner edition: ``python3 course.py release DEST [--repository URL]``.

The course repository is the answer key: ``instructor/`` and ``source/`` hold every solution and
hidden test, and every notebook's Colab set-up cell clones the repository it names.  An instructor
who grades keeps that repository private and publishes an *edition* instead, a folder that becomes
its own repository:

    notebooks/NN_name/NN_name.ipynb   the learner versions (nbgrader's stubs), outputs cleared; their
                                      Colab badge and set-up cell point at the edition's repository
    course_utils/  data/              the learner package and its bundled data
    course.py                         the edition's two commands, ``lab`` and ``test``
    tests/                            the edition's own test: every notebook runs top to bottom untouched
    requirements.txt  pyproject.toml  the learner's packages only (no nbgrader, no grader)
    environment.yml  binder/          the same packages for conda and Binder
    README.md  .gitignore             written for learners

Nothing else: no ``instructor/``, ``source/``, ``course_grader/``, ``nbgrader_config.py`` or
gradebook, and no test of the course (those hold the instructor's solutions).  After writing the
folder the command reads every file of it for solution text (``leaks.py``) and fails, naming
file and line, if a solution line or a hidden test is there, or if a file cites a course file the
edition does not hold (``references.py``: a benchmark or test left behind).

DEST may be a new or empty folder (a ``.git`` in it is kept), or an earlier edition, which is
replaced (its ``.git`` and ``.venv`` are kept): release into your edition's checkout, review
``git diff``, commit and push.
"""

from __future__ import annotations

import argparse
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

from course_grader.build import ROOT, colab_badge, colab_cells, repository_url
from course_grader.release import leaks, references

TEMPLATE = Path(__file__).resolve().parent / "template"
KEPT = (".git", ".venv")            # what an earlier edition keeps when it is replaced
COURSE_ONLY = ("instructor", "source", "course_grader", "nbgrader_config.py", "gradebook.db")
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".DS_Store")

# What a learner installs besides course_utils's own dependencies (pyproject.toml [project]):
# JupyterLab and its kernel to open the course, nbclient/nbformat/pytest(-xdist) for the edition's test.
LEARNER_EXTRAS = ("ipykernel", "jupyterlab", "jupyter-client", "nbclient", "nbformat", "pytest", "pytest-xdist")


class ReleaseError(Exception):
    """The edition cannot be written (a dangerous destination, a course file missing)."""


def default_repository(root: Path = ROOT) -> str:
    """The edition's home unless ``--repository`` names one: the course's own URL + ``-learner``.

    Never the course's own URL: the edition's Colab cells would clone the answer key.
    """
    return repository_url(root) + "-learner"


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _dependencies_block(pyproject: str) -> str:
    """The text of ``dependencies = [...]`` in [project]: course_utils's own imports."""
    match = re.search(r"^dependencies\s*=\s*\[.*?^\]", pyproject, re.M | re.S)
    if not match:
        raise ReleaseError("pyproject.toml has no [project] dependencies list")
    return match.group(0)


def learner_requirements(root: Path = ROOT) -> list[str]:
    """The lines of requirements.txt a learner needs, pins and ranges as the course is tested with."""
    pyproject = (root / "pyproject.toml").read_text()
    wanted = {_name(d) for d in re.findall(r'"([^"]+)"', _dependencies_block(pyproject))} | set(LEARNER_EXTRAS)
    lines = [line.strip() for line in (root / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    chosen = [line for line in lines if _name(line) in wanted]
    missing = wanted - {_name(line) for line in chosen}
    if missing:
        raise ReleaseError(f"requirements.txt does not list {', '.join(sorted(missing))}")
    return chosen


def _check_destination(dest: Path, root: Path) -> None:
    if dest == root or root in dest.parents or dest in root.parents:
        raise ReleaseError(f"{dest} is the course folder, inside it or above it: choose a folder outside {root}")
    if not dest.exists():
        return
    if not dest.is_dir():
        raise ReleaseError(f"{dest} is a file")
    present = [p.name for p in dest.iterdir() if p.name not in KEPT]
    course_files = sorted(set(present) & set(COURSE_ONLY))
    if course_files:
        raise ReleaseError(f"{dest} holds {', '.join(course_files)}: it looks like a full course, not an edition")
    if present and not ((dest / "course.py").is_file() and (dest / "notebooks").is_dir()):
        raise ReleaseError(f"{dest} is neither empty nor an earlier edition (course.py and notebooks/): "
                           "choose a new or empty folder")


def _clear(dest: Path) -> None:
    for path in dest.iterdir():
        if path.name in KEPT:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _course_files(root: Path, folder: str) -> list[Path]:
    """The files of ``folder`` that the course holds: what git lists, committed or not but never ignored (no
    caches, no build output); without git, every file but caches."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", folder],
                            cwd=root, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        paths = [root / name for name in listed.stdout.split("\0") if name]
    else:
        paths = [p for p in (root / folder).rglob("*")
                 if not {"__pycache__", ".ipynb_checkpoints"} & set(p.parts) and p.suffix != ".pyc"]
    return sorted(p for p in paths if p.is_file())


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _notebook(path: Path, repository: str):
    """A learner notebook for the edition: Colab cells for ``repository``, no outputs."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    fresh = {cell.id: cell for cell in colab_cells(path.stem, url=repository)}
    if not all(any(c.id == id_ for c in nb.cells) for id_ in fresh):
        raise ReleaseError(f"{path} has no Colab badge or set-up cell: run `python3 course.py build` first")
    nb.cells = [fresh.get(cell.id, cell) for cell in nb.cells]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _notebooks_table(readme: str) -> str:
    """The course README's table of notebooks (its ``## Notebooks`` section), which the learner README repeats."""
    match = re.search(r"^## Notebooks\n(.*?)(?=^## )", readme, re.M | re.S)
    if not match:
        raise ReleaseError("README.md has no '## Notebooks' section")
    return match.group(1).strip()


def _environment(requirements: list[str], *, binder: bool) -> str:
    header = ("# Binder (repo2docker) reads this folder; it installs the environment before it copies the\n"
              "# repository in, so binder/postBuild installs course_utils.  torch comes from its CPU index.\n"
              if binder else
              "# conda env create -f environment.yml && conda activate cnn-course: the packages of\n"
              "# requirements.txt, then course_utils from this folder.\n")
    pip = (["--extra-index-url https://download.pytorch.org/whl/cpu"] if binder else []) + requirements
    pip += [] if binder else ["-e ."]
    body = "".join(f"      - {line}\n" for line in pip)
    return (header + "name: cnn-course\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n"
            "  - pip:\n" + body)


def write_edition(dest: Path, repository: str, root: Path = ROOT) -> list[Path]:
    """Write the learner edition into ``dest``; return the notebooks written.  (No leak check: see ``release``.)"""
    import nbformat

    dest = dest.resolve()
    _check_destination(dest, root)
    colab_badge("01", repository)   # a GitHub URL, or the error Colab would give
    sources = sorted(root.glob("notebooks/[0-9][0-9]_*/[0-9][0-9]_*.ipynb"))
    if not sources:
        raise ReleaseError(f"no learner notebooks under {root / 'notebooks'}: run `python3 course.py build` first")
    dest.mkdir(parents=True, exist_ok=True)
    _clear(dest)

    for folder in ("course_utils", "data"):
        for path in _course_files(root, folder):
            (dest / path.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / path.relative_to(root))
    shutil.copytree(TEMPLATE, dest, ignore=_JUNK, dirs_exist_ok=True)   # course.py, tests/, binder/postBuild, ...
    written = []
    for path in sources:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_notebook(path, repository), target)
        written.append(target)

    requirements = learner_requirements(root)
    pyproject = (root / "pyproject.toml").read_text()
    version = re.search(r'^version\s*=\s*"([^"]+)"', pyproject, re.M).group(1)
    owner_repo = repository.removeprefix("https://github.com/").removesuffix(".git")
    values = {"repository": repository, "owner_repo": owner_repo, "version": version,
              "dependencies": _dependencies_block(pyproject),
              "notebooks": _notebooks_table((root / "README.md").read_text()),
              "first_notebook": sources[0].relative_to(root).as_posix(),
              "requirements": "\n".join(requirements)}
    for name in ("README.md", "pyproject.toml", "requirements.txt"):   # the templates with $placeholders
        template = dest / f"{name}.in"
        _write(dest / name, string.Template(template.read_text()).substitute(values))
        template.unlink()
    _write(dest / "environment.yml", _environment(requirements, binder=False))
    _write(dest / "binder" / "environment.yml", _environment(requirements, binder=True))
    (dest / "binder" / "postBuild").chmod(0o755)
    (dest / "course.py").chmod(0o755)
    return written


def release(dest: Path, repository: str | None = None, root: Path = ROOT, *, out=sys.stdout) -> int:
    """Write the edition, then prove it holds no solution text; 0 when it may be published."""
    repository = (repository or default_repository(root)).rstrip("/")
    if repository == repository_url(root):
        print(f"[release] warning: {repository} is the course's own repository (pyproject.toml); publish the "
              "edition there only after the full course has moved to a private one", file=out)
    try:
        notebooks = write_edition(Path(dest), repository, root)
    except ReleaseError as exc:
        print(f"[release] {exc}", file=out)
        return 2
    dest = Path(dest).resolve()
    secrets = leaks.secret_lines(root)
    found, read = leaks.find_leaks(dest, secrets)
    files = [p for p in dest.rglob("*") if p.is_file() and p.relative_to(dest).parts[0] not in KEPT]
    size = sum(p.stat().st_size for p in files)
    print(f"[release] wrote {dest}: {len(notebooks)} notebooks, {len(files)} files, {size / 1e6:.1f} MB; "
          f"Colab cells clone {repository}", file=out)
    if found:
        print(f"[release] NOT SAFE TO PUBLISH: {len(found)} line(s) of solutions or hidden tests in the edition:",
              file=out)
        for leak in found:
            print(f"  {leak}", file=out)
        return 1
    missing = references.dangling(dest)
    if missing:
        print(f"[release] NOT READY TO PUBLISH: {len(missing)} citation(s) of course files the edition does not "
              "hold (reword them, or ship the file if it gives no answer away):", file=out)
        for citation in missing:
            print(f"  {citation}", file=out)
        return 1
    print(f"[release] no solution text: {len(secrets)} solution and hidden-test lines looked for in {read} files",
          file=out)
    print(f"[release] next: cd {dest} && python3 course.py test, then commit and push it to {repository}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 course.py release", description=__doc__.split("\n\n")[0],
                                     epilog="The course README's section 'Publish a learner edition' explains "
                                            "the workflow.")
    parser.add_argument("dest", help="the folder to write (new, empty, or an earlier edition)")
    parser.add_argument("--repository", help="the edition's GitHub URL, which its Colab badges and set-up cells "
                                             f"clone (default: the course's URL + '-learner', "
                                             f"{default_repository()})")
    args = parser.parse_args(argv)
    return release(Path(args.dest), args.repository)
