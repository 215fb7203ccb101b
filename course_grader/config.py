"""The course as nbgrader sees it: its ``nbgrader_config.py``, its folders, its gradebook, and the
environment nbgrader's own commands run in."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def load_config(course: Path):
    """The course's nbgrader_config.py as a traitlets Config (what nbgrader itself would read)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = course / "nbgrader_config.py"
    if not path.exists():
        return Config()
    sys.path.insert(0, str(course))
    try:
        return PyFileConfigLoader(path.name, path=str(course)).load_config()
    finally:
        sys.path.remove(str(course))


def course_dirs(config) -> dict[str, str]:
    """The folders nbgrader reads and writes, by kind (``source``, ``submitted``, ``autograded``, ``feedback``)."""
    cd = config.CourseDirectory
    return {key: cd.get(f"{key}_directory", key) for key in ("source", "submitted", "autograded", "feedback")}


def db_url(course: Path, config) -> str:
    """The gradebook's URL, a relative sqlite path made absolute under ``course``."""
    url = config.CourseDirectory.get("db_url", "sqlite:///gradebook.db")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = f"sqlite:///{course / url[len('sqlite:///'):]}"
    return url


def tool_env() -> dict:
    """The environment for nbgrader subprocesses: this interpreter's scripts first on PATH
    (nbgrader runs `alembic` by name to create its gradebook)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
