"""What the class handed in: one task per ``submitted/STUDENT/NAME/`` folder, its hash (a submission
is graded again when anything in its folder changes), its ``timestamp.txt``, copies of its files as
nbgrader makes them, and the assignment's entry in the gradebook.

Symbolic links are never followed: a notebook that is a link, or a folder that leads outside
``submitted/``, is ``invalid_notebook``; links beside a notebook are not copied.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


def discover(course: Path, name: str, dirs: dict) -> list[dict]:
    """One task per student folder ``submitted/STUDENT/NAME/``."""
    tasks = []
    root = course / dirs["submitted"]
    real_root = os.path.realpath(root)
    for folder in sorted(root.glob(f"*/{name}")):
        if not folder.is_dir():
            continue
        student = folder.parent.name
        notebook, flags = folder / f"{name}.ipynb", []
        if folder.is_symlink() or folder.parent.is_symlink() or \
                not os.path.realpath(folder).startswith(real_root + os.sep):
            notebook, flags = None, ["invalid_notebook"]     # never follow a link out of submitted/
        elif not notebook.exists() and not notebook.is_symlink():
            others = sorted(p for p in folder.glob("*.ipynb"))
            if len(others) == 1:
                notebook, flags = others[0], ["renamed"]
            else:
                notebook = None
        if notebook is not None and notebook.is_symlink():
            notebook, flags = None, ["invalid_notebook"]     # e.g. a link to the instructor's source notebook
        tasks.append({"student": student, "folder": str(folder), "notebook": str(notebook) if notebook else None,
                      "flags": flags, "content_hash": folder_hash(folder) if notebook else "<missing>"})
    return tasks


def folder_hash(folder: Path) -> str:
    """Everything in a submission that can change its grade: every file's path and bytes (the notebook,
    timestamp.txt, data files beside it); links count by their target, never followed."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if ".ipynb_checkpoints" in path.parts:
            continue
        if path.is_symlink():
            digest.update(f"link {relative} {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"file {relative} ".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def timestamp_file(folder: Path) -> Path | None:
    """The submission's ``timestamp.txt``, when it is a plain file (a link is never read)."""
    stamp = Path(folder) / "timestamp.txt"
    return stamp if stamp.is_file() and not stamp.is_symlink() else None


def read_timestamp(stamp: Path):
    """The time in ``timestamp.txt`` as nbgrader reads it, or None when it is empty or unreadable
    (nbgrader itself stops the whole run there; one student's file must not)."""
    from nbgrader.utils import parse_utc
    try:
        return parse_utc(stamp.read_text().strip())
    except Exception:
        return None


def copy_files(source: Path, target: Path) -> None:
    """A submission's files beside its notebooks (data, helper modules), as nbgrader copies them;
    symbolic links are left out (one could point at the hidden tests or the gradebook)."""
    def ignored(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n.endswith(".ipynb") or n == ".ipynb_checkpoints"
                or os.path.islink(os.path.join(folder, n))}
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=ignored)


def copy_source_data(source_dir: Path, target: Path) -> None:
    """The source assignment's files beside its notebook (data the notebook reads), as nbgrader copies them."""
    for item in source_dir.iterdir():
        if item.suffix != ".ipynb" and item.is_file():
            shutil.copy(item, target / item.name)


def ensure_assignment(course: Path, name: str, db_url: str) -> None:
    """The assignment must be in the gradebook (its graded cells are read from there)."""
    from nbgrader.api import Gradebook, MissingEntry

    from course_grader.config import tool_env

    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(name)
            return
        except MissingEntry:
            pass
    print(f"[grade] {name} is not in the gradebook yet: running nbgrader generate_assignment {name}", flush=True)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                           f"--CourseDirectory.root={course}"], cwd=course, env=tool_env(),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment {name} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
