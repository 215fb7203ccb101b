"""``python -m course_grader NN_name`` (``python3 course.py grade``): the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent   # the repository: the default course


def parse_size(text: str) -> int:
    """Bytes from ``6442450944``, ``6G``, ``6144M`` or ``512K``."""
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def cpus() -> int:
    """CPUs this process may use: one worker each (a worker keeps one core busy; on the 2-core machine
    2 and 3 workers graded benchmarks/grading.py's class equally fast, and 3 hold ~0.5 GB more)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def build_parser() -> argparse.ArgumentParser:
    # nothing heavy is imported before the arguments are read (nbgrader alone costs a second)
    parser = argparse.ArgumentParser(prog="python3 course.py grade",
                                     description="Grade a whole class safely and fast, in sandboxed, parallel "
                                                 "kernels (the design: course_grader/grader.py).")
    parser.add_argument("assignment", help="e.g. 01_convolution (submissions in submitted/STUDENT/NAME/)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("COURSE_GRADE_WORKERS", cpus())),
                        help="sandboxed kernels side by side (default: one per CPU)")
    parser.add_argument("--course", default=str(ROOT), help="the course folder (default: this repository)")
    parser.add_argument("--limit", type=float, default=600, help="seconds one whole submission may take (600)")
    parser.add_argument("--timeout", type=int, default=None, help="seconds one cell may take (default: the "
                        "course's Execute.timeout)")
    parser.add_argument("--memory", type=parse_size, default=0,
                        help="address-space limit of one kernel, e.g. 8G or 6144M (default 6G)")
    parser.add_argument("--regrade", action="store_true", help="grade every submission again")
    parser.add_argument("--similarity-only", action="store_true",
                        help="grade nothing: write reports/NAME/similarity.csv and .html and the similar column "
                             "of grades.csv for the submissions as they are (course_grader/similarity.py)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from course_grader.grader import Grader
    from course_grader.sandbox import SandboxUnavailable

    course = Path(args.course).resolve()
    available = sorted(p.name for p in (course / "source").iterdir() if p.is_dir()) \
        if (course / "source").is_dir() else []
    if args.assignment not in available:
        if not available:
            print(f"{course} has no source/ folder of assignments: is --course the course folder?", file=sys.stderr)
        else:
            print(f"unknown assignment {args.assignment!r}; the course has: {', '.join(available)}", file=sys.stderr)
        return 2
    if args.similarity_only:   # no sandbox needed: nothing of the students' runs
        from course_grader.similarity import report_class
        report_class(course, args.assignment, log=lambda text: print(f"[grade] {text}", flush=True))
        return 0
    try:
        Grader(course, args.assignment, workers=args.workers, limit=args.limit, timeout=args.timeout,
               memory=args.memory, regrade=args.regrade).run()
    except KeyboardInterrupt:
        return 130
    except SandboxUnavailable as exc:
        print(f"[grade] stopped, nothing graded unsandboxed: {exc}", file=sys.stderr)
        return 2
    return 0
