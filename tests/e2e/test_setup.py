"""The set-up files agree with each other: requirements, environment.yml, pyproject, CI, README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _requirements() -> list[str]:
    return [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _environment_pip(path: str = "environment.yml") -> list[str]:
    """The pip section of a conda environment file (a plain parser: the files are kept simple on purpose)."""
    lines = (ROOT / path).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    entries = []
    for line in lines[start + 1:]:
        match = re.match(r"^\s{6,}- (.+)$", line)
        if not match:
            break
        entries.append(match.group(1).strip())
    return entries


def _conda_dependencies(path: str) -> list[str]:
    """The conda (non-pip) dependencies of an environment file."""
    return [m.group(1) for m in re.finditer(r"^  - (\S+)$", (ROOT / path).read_text(), re.M)]


def test_environment_yml_lists_exactly_the_pip_requirements():
    """Do conda/Binder users get the same packages, with the same pins and ranges, as pip users?"""
    pip_section = _environment_pip()
    assert [e for e in pip_section if e != "-e .[grading]"] == _requirements()
    assert "-e .[grading]" in pip_section, "environment.yml should install the course's packages too"


def test_binder_environment_lists_exactly_the_pip_requirements():
    """Does Binder (binder/environment.yml, which repo2docker reads instead of the root files) get the
    same packages and the same Python, with only an extra index for torch's CPU wheels?"""
    pip_section = _environment_pip("binder/environment.yml")
    options = [e for e in pip_section if e.startswith("--")]
    assert [e for e in pip_section if not e.startswith("--")] == _requirements()
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    assert _conda_dependencies("binder/environment.yml") == _conda_dependencies("environment.yml")
    # repo2docker installs the environment before it copies the repository: `-e .` cannot work there
    assert "-e ." not in pip_section


def test_binder_post_build_installs_the_course_package():
    """Is binder/postBuild an executable bash script that installs course_utils (editable, no other packages)?"""
    post_build = ROOT / "binder" / "postBuild"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
    assert os.access(post_build, os.X_OK), "repo2docker runs postBuild only when it is executable"
    mode = subprocess.run(["git", "ls-files", "-s", "binder/postBuild"], cwd=ROOT, capture_output=True,
                          text=True).stdout.split()
    assert not mode or mode[0] == "100755", "commit binder/postBuild with its executable bit"
    commands = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert commands[-1] == "python -m pip install --no-deps -e ."
    assert subprocess.run(["bash", "-n", str(post_build)]).returncode == 0


def test_binder_opens_the_course_as_a_learners_lab_does():
    """Does binder/start (repo2docker runs every Binder session through it) put the learner's Jupyter
    config folder first, as `python3 course.py lab` does, so Binder shows no instructor tools?"""
    import importlib.util
    spec = importlib.util.spec_from_file_location("course", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    start = ROOT / "binder" / "start"
    assert os.access(start, os.X_OK), "repo2docker runs start only when it is executable"
    env = {k: v for k, v in os.environ.items() if k != "JUPYTER_CONFIG_PATH"} | {"REPO_DIR": str(ROOT)}
    shown = subprocess.run([str(start), "bash", "-c", 'echo "$JUPYTER_CONFIG_PATH"'], env=env, cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert shown == course.lab_env(env=env)["JUPYTER_CONFIG_PATH"] == str(course.LEARNER_JUPYTER_CONFIG)


def _pyproject() -> dict:
    import pytest
    tomllib = pytest.importorskip("tomllib")   # Python 3.11+, as environment.yml pins
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_grading_extra_holds_the_graders_imports_with_the_requirements_ranges():
    """Does `pip install .[grading]` bring what course_grader imports, with exactly the ranges of
    requirements.txt, while the learner's dependencies stay free of nbgrader and Jupyter's machinery?"""
    project = _pyproject()["project"]
    grading = project["optional-dependencies"]["grading"]
    assert set(grading) <= set(_requirements()), set(grading) - set(_requirements())
    names = {re.split(r"[<>=]", entry)[0] for entry in grading}
    assert {"nbgrader", "nbconvert", "nbclient", "nbformat", "jupyter-client", "ipykernel"} <= names
    learner = {re.split(r"[<>=]", entry)[0] for entry in project["dependencies"]}
    assert not learner & names, learner & names
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "course_utils*" in include and "course_grader*" in include


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


def test_lab_listens_on_loopback_with_a_token_and_is_defined_once():
    """Does `python3 course.py lab` listen on 127.0.0.1 only, keep Jupyter's login token, and build its
    command line in the one function the browser test and the benchmark also use?"""
    import importlib.util
    import inspect
    spec = importlib.util.spec_from_file_location("course_commands", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    command = course.lab_command("python", "--no-browser")
    assert "--ServerApp.ip=127.0.0.1" in command and f"--ServerApp.root_dir={ROOT}" in command
    assert command[-1] in ("--no-browser", "--allow-root")
    assert not any("token=" in part or "password" in part for part in command), "never disable the login token"
    assert "lab_command(" in inspect.getsource(course.lab)
    for user in ("tests/e2e/test_browser.py", "benchmarks/run.py"):
        assert "lab_command(" in (ROOT / user).read_text(), user
