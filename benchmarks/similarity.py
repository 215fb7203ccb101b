"""How well the similarity report separates copies from honest work, and where its threshold belongs.

    python3 benchmarks/similarity.py [--notebooks 01_convolution ...] [--pairs] [-k 25] [--raw]
    python3 benchmarks/similarity.py --class-of 20 [--notebooks 01_convolution]

For every exercise of each notebook (default: all nine) it scores, with ``course_grader.similarity``'s
own comparison and boilerplate (the released stub):

* honest pairs — the check catalogues' correct implementations, written in different styles
  (tests/grader/similarity_helpers.py), each against each other (unless they share a helper or a
  class), against the published solution and against the course's reference code of the exercise
  (its best-matching function, as the report takes it);
* copied pairs — the solution verbatim; the solution renamed, reordered and reformatted; each honest
  implementation against its own renamed, reordered and reformatted copy (two students sharing
  code); each reference function named ``*reference*`` turned into the exercise's answer (its
  ``variant`` switch evaluated away), renamed, reordered and reformatted, against the reference.

With ``--class-of N`` it times the report instead, on benchmarks/grading.py's synthetic class of N
submissions: the first run in a fresh process (copydetect imported, nothing cached) and a repeat.

It prints, per notebook and for a grid of minimum answer sizes and thresholds, false positives
(honest pairs listed; in brackets those of the catalogue's copies of the solution,
``SOLUTION_COPIES``, which are not independent work), false negatives (copied pairs not listed) and
copied pairs too short to be judged (under the minimum on either side: never listed, whatever they are).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "grader")]

import nbformat  # noqa: E402
from similarity_helpers import SOLUTION_COPIES, disguise, honest_answers, reference_copy  # noqa: E402

from course_grader import similarity as sim  # noqa: E402
from course_grader import similarity_code  # noqa: E402
from course_grader.config import load_config  # noqa: E402
from course_utils.checks.registry import NOTEBOOKS  # noqa: E402

THRESHOLDS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.9]
MINIMA = [0, 45, 60, 80, 100]


def scored_pairs(notebook: str) -> list[dict]:
    """Every honest and copied pair of one notebook, fingerprinted (scored later, per minimum size)."""
    source = nbformat.read(ROOT / "source" / notebook / f"{notebook}.ipynb", as_version=4)
    solutions, stubs = similarity_code.answer_cells(source), similarity_code.stub_cells(source, load_config(ROOT))
    references = similarity_code.reference_code(source)
    honest = honest_answers(notebook, independent=False)
    boiler = sim.stub_prints(stubs)
    rows = []
    for exercise, solution in solutions.items():
        def answer(party, code):
            return sim.Answer(party, code, "", sim.fingerprint(code, boiler[exercise]))

        def add(kind, a, b, copied):
            rows.append({"notebook": notebook, "exercise": exercise, "kind": kind, "a": a.party, "b": b.party,
                         "copied": copied, "tokens": min(a.tokens, b.tokens), "pair": (a, b),
                         "solution_copy": not copied and (a.party in SOLUTION_COPIES or b.party in SOLUTION_COPIES)})

        sol = answer(sim.SOLUTION, solution)
        refs = [answer(label, code) for label, code in references.get(exercise, {}).items()]
        entries = honest.get(exercise, [])
        mine = [answer(name, code) for name, code, _ in entries]
        for i, a in enumerate(mine):
            for j in range(i + 1, len(mine)):
                if not entries[i][2] & entries[j][2]:     # sharing a helper or a class is not independent work
                    add("honest-honest", a, mine[j], False)
            add("honest-solution", a, sol, False)
            for ref in refs:
                add("honest-reference", a, ref, False)
            add("shared", a, answer(a.party + "'", disguise(a.code, "s")), True)
        add("verbatim", answer("verbatim", solution), sol, True)
        add("disguised", answer("disguised", disguise(solution)), sol, True)
        for label, code in references.get(exercise, {}).items():
            if "reference" in label.rsplit(".", 1)[-1].lower() and not label.endswith("]"):
                copy = answer("copy of " + label, disguise(reference_copy(code, exercise), "r"))
                for ref in refs:
                    add("reference-copy", copy, ref, True)
    return rows


def scored(rows: list[dict], min_tokens: int) -> list[dict]:
    """Each pair's score; against the reference only the best function per answer, as the report takes it."""
    out, best = [], {}
    for row in rows:
        row = {**row, "score": sim.compare(*row["pair"], min_tokens=min_tokens)[0],
               "judged": row["tokens"] >= max(min_tokens, 1)}
        if row["kind"] in ("honest-reference", "reference-copy"):
            key = (row["notebook"], row["exercise"], row["a"])
            if key not in best or (best[key]["score"], best[key]["judged"]) < (row["score"], row["judged"]):
                best[key] = row
        else:
            out.append(row)
    return out + list(best.values())


def counts(rows: list[dict], threshold: float) -> tuple[int, int, int, int]:
    """(false positives, of which the catalogue's copies of the solution, false negatives, unjudged copies)."""
    fp = [r for r in rows if not r["copied"] and r["judged"] and r["score"] >= threshold]
    fn = [r for r in rows if r["copied"] and r["judged"] and r["score"] < threshold]
    return (len(fp), sum(r["solution_copy"] for r in fp), len(fn),
            sum(1 for r in rows if r["copied"] and not r["judged"]))


def time_class(notebook: str, students: int) -> None:
    """The report's time on benchmarks/grading.py's class: what it adds to ``course.py grade``."""
    import tempfile
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from grading import make_course   # benchmarks/grading.py
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as scratch:
        course = Path(scratch) / "course"
        make_course(course, notebook, students)
        import nbgrader.preprocessors  # noqa: F401 - already imported where the grade command runs the report
        for run in ("first run", "repeat"):
            sim._fingerprint.cache_clear()
            similarity_code.compared.cache_clear()
            start, cpu = time.perf_counter(), time.process_time()
            matches = sim.report_class(course, notebook, log=lambda text: None)
            print(f"{notebook}, {students} submissions, {run}: {time.perf_counter() - start:.2f} s "
                  f"({time.process_time() - cpu:.2f} s CPU), {len(matches)} pairs listed")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS))
    parser.add_argument("--pairs", action="store_true", help="print every pair's score at the chosen minimum")
    parser.add_argument("-k", type=int, default=sim.K, help=f"copydetect's noise threshold (default {sim.K})")
    parser.add_argument("--raw", action="store_true", help="compare the code as written (no canonical order)")
    parser.add_argument("--class-of", type=int, metavar="N", help="time the report on a synthetic class of N")
    args = parser.parse_args(argv)
    if args.class_of:
        for notebook in args.notebooks if args.notebooks != list(NOTEBOOKS) else ["01_convolution"]:
            time_class(notebook, args.class_of)
        return 0
    sim.K, sim.CANONICAL = args.k, not args.raw
    start = time.monotonic()
    rows = [row for notebook in args.notebooks for row in scored_pairs(notebook)]
    both = scored(rows, 0)
    print(f"{sum(r['copied'] for r in both)} copied and {sum(not r['copied'] for r in both)} honest pairs "
          f"({sum(r['solution_copy'] for r in both)} of them with a catalogue copy of the solution) from "
          f"{len(args.notebooks)} notebooks, fingerprinted in {time.monotonic() - start:.1f} s; "
          f"K={sim.K}, {'code as written' if args.raw else 'canonical statement order'}")
    print("cells: false positives [of them, catalogue copies of the solution] / false negatives / copies unjudged")
    print(f"{'min':>4} {'thr':>5}  " + "".join(f"{n[:2]:^13}" for n in args.notebooks) + "  all")
    for minimum in MINIMA:
        table = scored(rows, minimum)
        for threshold in THRESHOLDS:
            cells, total = [], [0, 0, 0, 0]
            for notebook in args.notebooks:
                c = counts([r for r in table if r["notebook"] == notebook], threshold)
                cells.append(f"{c[0]:>2}[{c[1]}]/{c[2]}/{c[3]:<2}".center(13))
                total = [a + b for a, b in zip(total, c)]
            chosen = " <- THRESHOLD, MIN_TOKENS" if (threshold, minimum) == (sim.THRESHOLD, sim.MIN_TOKENS) else ""
            print(f"{minimum:>4} {threshold:>5}  " + "".join(cells)
                  + f"  {total[0]}[{total[1]}]/{total[2]}/{total[3]}{chosen}")
    if args.pairs:
        table = scored(rows, sim.MIN_TOKENS)
        by = defaultdict(list)
        for r in table:
            by[r["copied"]].append(r)
        for r in sorted(table, key=lambda r: (r["copied"], -r["score"] if not r["copied"] else r["score"])):
            a, b = r["pair"]
            print(f"{'COPY  ' if r['copied'] else 'honest'} {r['score']:.2f} {r['notebook'][:2]} {r['exercise']:<24} "
                  f"{r['kind']:<16} {a.party} ({a.tokens}) ~ {b.party} ({b.tokens})"
                  + ("  [catalogue copy of the solution]" if r["solution_copy"] else "")
                  + ("" if r["judged"] else "  [unjudged]"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
