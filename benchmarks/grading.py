"""Grading a class: sequential ``nbgrader autograde`` vs ``python3 course.py grade`` (sandboxed, parallel).

    python3 benchmarks/grading.py [--notebook 01_convolution] [--students 20] [--workers 2 3]

Builds a scratch course with N synthetic submissions of one notebook (a mix of full,
partly wrong, untouched and raising ones, from tests/grader/grading_helpers.py), then times

* ``nbgrader autograde NAME`` — one batch, the repository's nbgrader_config.py — and
* ``python -m course_grader NAME --workers W`` for each W, in a fresh copy of the course,

checks that both give every student the same score, and prints the speed-up.  Both get
the same per-call check limit (COURSE_CHECK_TIME_LIMIT=3); the grade command's time
includes its feedback, export and class report, which autograde does not produce.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "grader")]

import nbformat  # noqa: E402
from grading_helpers import class_of, nbgrader, points, submission  # noqa: E402

from course_grader.config import tool_env  # noqa: E402
from course_grader.solutions import solution_cells  # noqa: E402


def synthetic_class(name: str, learner, count: int) -> dict:
    """``count`` submissions cycling through full, untouched, one exercise left undone, and raising."""
    solutions = solution_cells(name)
    base = class_of(name, learner)
    kinds = list(base.items())
    exercise = next(iter(solutions))
    raises = solutions[exercise].replace('"""\n', '"""\n    raise ValueError("not today")\n', 1)
    kinds.append(("raises", (submission(learner, solutions, replace={exercise: raises}), None)))
    return {f"s{i:02d}_{kinds[i % len(kinds)][0]}": kinds[i % len(kinds)][1][0] for i in range(count)}


def make_course(folder: Path, name: str, count: int) -> None:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    shutil.copytree(ROOT / "source" / name, folder / "source" / name)
    release = nbgrader(folder, "generate_assignment", name, "--force")
    assert release.returncode == 0, release.stdout + release.stderr
    learner = nbformat.read(folder / "notebooks" / name / f"{name}.ipynb", as_version=4)
    for student, nb in synthetic_class(name, learner, count).items():
        target = folder / "submitted" / student / name
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{name}.ipynb")


def scores(course: Path) -> dict[str, float]:
    with open(course / "grades.csv", newline="") as handle:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebook", default="01_convolution")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--skip-nbgrader", action="store_true", help="time only the grade command")
    args = parser.parse_args(argv)
    name = args.notebook
    env = tool_env()
    env["COURSE_CHECK_TIME_LIMIT"] = "3"
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as scratch:
        template = Path(scratch) / "template"
        make_course(template, name, args.students)
        total = sum(points(name).values())
        print(f"{args.students} submissions of {name} ({total:g} points), {os.cpu_count()} CPUs; "
              f"load average before: {os.getloadavg()[0]:.1f}")
        results = {}
        if not args.skip_nbgrader:
            course = Path(scratch) / "nbgrader"
            shutil.copytree(template, course)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", name,
                                   f"--CourseDirectory.root={course}"], cwd=course, env=env,
                                  capture_output=True, text=True)
            autograde = time.perf_counter() - start
            subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.root={course}"],
                           cwd=course, env=env, capture_output=True, text=True)
            results["nbgrader"] = scores(course)
            print(f"nbgrader autograde, sequential: {autograde:6.1f} s  (exit {done.returncode})")
        for workers in args.workers:
            course = Path(scratch) / f"grade-{workers}"
            shutil.copytree(template, course)
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "course_grader", name, "--course", str(course),
                                   "--workers", str(workers)], cwd=course, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(done.stdout[-3000:], done.stderr[-3000:])
            results[f"grade-{workers}"] = scores(course)
            ratio = f"  speed-up {autograde / seconds:.2f}x" if not args.skip_nbgrader else ""
            print(f"course.py grade --workers {workers}:  {seconds:6.1f} s{ratio}  "
                  f"(sandboxed; feedback, export, report and similarity report included)")
            for line in done.stdout.splitlines():   # the similarity report's own share of that time
                if "similarity.csv" in line:
                    print("    " + line.removeprefix("[grade] "))
        reference = next(iter(results.values()))
        same = all(r == reference for r in results.values())
        print("identical scores:", "yes" if same else "NO")
        if not same:
            for key, value in results.items():
                print(key, value)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
