"""Print the course's performance figures against its budgets.

    python3 course.py bench                 notebooks, check latency, im2col vs F.conv2d
    python3 course.py bench --fresh-clone   also: the whole test suite from a fresh clone, install included

Budgets (issue 2): a notebook executes in at most 60 s on a 2-core CPU; a check
call takes at most 1 s (median); the reference im2col is within 3x of F.conv2d;
the test suite, install included, finishes within 15 minutes from a fresh clone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COURSE_HEADLESS", "1")  # as in the tests and nbgrader: no live widgets


def row(name: str, value: str, budget: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("ok" if ok else "OVER BUDGET")
    print(f"  {name:<46} {value:>14}   {budget:<14} {mark}", flush=True)


def notebooks() -> None:
    import nbformat
    from nbclient import NotebookClient

    print("notebook execution, top to bottom (nbclient, one kernel)")
    for folder, label in (("source", "instructor version"), ("notebooks", "learner version")):
        for path in sorted((ROOT / folder).glob("*/*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            NotebookClient(nb, timeout=600, allow_errors=True,
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            seconds = time.perf_counter() - start
            row(f"{path.stem} ({label})", f"{seconds:.1f} s", "<= 60 s", seconds <= 60)


def checks() -> None:
    from course_utils import checks as checks_module
    from course_utils.build import load_solutions

    print("check latency with the reference solutions (median of 5 calls)")
    for name in sorted(p.stem for p in (ROOT / "instructor").glob("[0-9][0-9]_*.py")):
        namespace = load_solutions(name)
        for check_name in sorted(n for n in dir(checks_module) if n.startswith("check_")):
            fn = namespace.get(check_name[len("check_"):])
            if fn is None:
                continue
            check = getattr(checks_module, check_name)
            times = []
            for _ in range(5):
                start = time.perf_counter()
                assert check(fn, strict=True)
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            row(check_name, f"{median * 1e3:.0f} ms", "<= 1000 ms", median <= 1.0)
            hidden = time.perf_counter()
            check(fn, strict=True, seed=2024, extended=True)
            row(f"  {check_name}(extended=True)", f"{(time.perf_counter() - hidden) * 1e3:.0f} ms", "", None)


def im2col() -> None:
    import torch
    import torch.nn.functional as F

    from course_utils.build import load_solutions
    from course_utils.checks.conv import im2col_speed_case

    conv2d_im2col = load_solutions("01_convolution")["conv2d_im2col"]
    case = im2col_speed_case()

    def median(fn, repeats=30):
        fn()
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    print(f"reference im2col vs F.conv2d on {case.label} "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")
    with torch.no_grad():
        ref = median(lambda: F.conv2d(*case.args, **case.kwargs))
        mine = median(lambda: conv2d_im2col(*case.args, **case.kwargs))
    row("F.conv2d", f"{ref * 1e3:.2f} ms", "", None)
    row("conv2d_im2col (reference solution)", f"{mine * 1e3:.2f} ms", "", None)
    row("ratio", f"{mine / ref:.2f}x", "<= 3x", mine / ref <= 3)


def fresh_clone() -> None:
    print("the README's test command in a fresh clone, install included")
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "course"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "course.py", "test"], cwd=clone, env=env,
                                capture_output=True, text=True)
        seconds = time.perf_counter() - start
        print("\n".join(result.stdout.strip().splitlines()[-3:]))
        row("python3 course.py test (fresh clone)", f"{seconds / 60:.1f} min", "<= 15 min",
            result.returncode == 0 and seconds <= 900)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh-clone", action="store_true", help="also time the test suite from a fresh clone")
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    im2col()
    checks()
    if not args.skip_notebooks:
        notebooks()
    if args.fresh_clone:
        fresh_clone()
    return 0


if __name__ == "__main__":
    sys.exit(main())
