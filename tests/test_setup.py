"""The set-up files agree with each other: requirements, environment.yml, pyproject, CI, README."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _requirements() -> list[str]:
    return [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _environment_pip() -> list[str]:
    """The pip section of environment.yml (a plain parser: the file is kept simple on purpose)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    entries = []
    for line in lines[start + 1:]:
        match = re.match(r"^\s{6,}- (.+)$", line)
        if not match:
            break
        entries.append(match.group(1).strip())
    return entries


def test_environment_yml_lists_exactly_the_pip_requirements():
    """Do conda/Binder users get the same packages, with the same pins and ranges, as pip users?"""
    pip_section = _environment_pip()
    assert [e for e in pip_section if e != "-e ."] == _requirements()
    assert "-e ." in pip_section, "environment.yml should install course_utils too"


def test_torch_and_torchvision_are_pinned_and_everything_else_is_a_range():
    """Are torch/torchvision pinned exactly while the other requirements stay ranges?"""
    pinned = {r.split("==")[0]: r for r in _requirements() if "==" in r}
    assert set(pinned) == {"torch", "torchvision"}
    for requirement in _requirements():
        if "==" not in requirement:
            assert ">=" in requirement, f"{requirement} should be a range"


def test_requirements_are_installed_in_this_environment():
    """Does the running environment satisfy requirements.txt (the set-up really installed it)?"""
    from importlib.metadata import version

    from packaging.requirements import Requirement
    for line in _requirements():
        requirement = Requirement(line)
        assert requirement.specifier.contains(version(requirement.name), prereleases=True), line


def test_ci_runs_exactly_the_readme_test_command():
    """Does .ci/run call the README's test command, and does the README show both commands?"""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 course.py test" in readme and "python3 course.py lab" in readme
    assert re.search(r"^exec python3 course\.py test$", ci, re.M)


def test_importing_course_utils_does_nothing():
    """Does `import course_utils` stay instant: no torch, no matplotlib, no seeding?"""
    code = ("import sys, random; state = random.getstate(); import course_utils; "
            "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules; "
            "assert random.getstate() == state; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr
