"""Which answers look copied: ``reports/NAME/similarity.csv``, ``similarity.html`` and the ``similar``
column of ``grades.csv``.  Part of ``python3 course.py grade NAME``; ``--similarity-only`` runs it alone
on a class already graded.  It never changes a score: it tells the instructor which code to read.

For each exercise (a solution cell, by its nbgrader ``grade_id``) every submission's answer is compared
with every other submission's, with the published solution and with the course's own reference code
of that exercise (``course_grader.similarity_code``).  Each is first put in a canonical form
(statements whose order is free in one order, comments and layout gone), then compared by copydetect
(MOSS's winnowing: names made ``V``/``F``, runs of ``K`` shared tokens marked; copydetect's default
thresholds, window 1, so every run is a fingerprint and scores do not depend on Python's hash seed).
What the learner was given, the released cell (signature, docstring, ``raise NotImplementedError()``),
is boilerplate and never counts.

A pair's score is the larger of the two shares: the part of one answer's own tokens found in the other
(so padding a copy with extra code does not hide it).  An answer with fewer than ``MIN_TOKENS`` tokens of
its own is not judged: two lines or less, where honest answers are the same formula (the catalogues'
``conv_output_size``, ``vgg_stack_params``, ``conv_transpose_output_size`` all score 1.00 against their
solutions).  Pairs scoring ``THRESHOLD`` or more are listed.  ``benchmarks/similarity.py`` chose both on
the check catalogues' correct implementations of all nine notebooks against copies of the solution
(verbatim; renamed, reordered and reformatted), shared code and copies of the reference: independent
honest pairs scored at most 0.64, judged copies at least 0.84.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from pathlib import Path

from course_grader.similarity_code import (answer_cells, compared, original_spans, reference_code,
                                           stub_cells)

# Sizes are copydetect's "tokens": characters of the filtered code, where a name is one character (V).
K = 25             # copydetect's noise threshold: a shared run must be 25 tokens long
WINDOW = 1         # guarantee threshold = noise threshold: every k-gram is a fingerprint
THRESHOLD = 0.75   # a pair is listed from this score on (benchmarks/similarity.py)
MIN_TOKENS = 80    # an answer with fewer tokens of its own (stub excluded) is not judged: about two lines
MAX_CHARS = 20_000  # an answer is compared on its first 20,000 characters (the longest solution has 2,066)
CANONICAL = True   # compare the canonical form (False: the code as written; benchmarks/similarity.py --raw)
SOLUTION, REFERENCE = "solution", "reference"
FIELDS = ["exercise", "student", "other", "score", "student_share", "other_share", "matched"]


@dataclass
class Answer:
    """One party's code for one exercise, fingerprinted without the exercise's boilerplate."""

    party: str                  # a student id, SOLUTION, or REFERENCE
    code: str
    label: str = ""             # for the reference: which function
    fp: object = field(default=None, repr=False)    # copydetect.CodeFingerprint

    @property
    def tokens(self) -> int:
        return int(self.fp.token_coverage) if self.fp is not None else 0


@dataclass
class Match:
    exercise: str
    student: str
    other: str                  # a student id, SOLUTION or REFERENCE
    score: float
    student_share: float
    other_share: float
    matched: str                # the reference function, when other is REFERENCE
    student_code: str = ""
    other_code: str = ""
    student_spans: list = field(default_factory=list)   # (start, end) character ranges shared
    other_spans: list = field(default_factory=list)


# --------------------------------------------------------------------------
# fingerprints and pairs
# --------------------------------------------------------------------------

def fingerprint(code: str, boilerplate: frozenset = frozenset()):
    """copydetect's fingerprint of ``code`` (its canonical form) with every occurrence of the boilerplate's
    fingerprints removed.  Not copydetect's own ``boilerplate=``: it treats the fingerprints as unique
    (``np.intersect1d(assume_unique=True)``) and, where one repeats, drops positions that are not
    boilerplate (09's ``roi_pool`` solution kept 429 tokens instead of 462).  The same text is
    fingerprinted once (an untouched stub, a shared answer): the tokenizer is most of the report's time."""
    return _fingerprint(compared(code)[0] if CANONICAL else code, boilerplate, K)


@functools.lru_cache(maxsize=4096)
def _fingerprint(code: str, boilerplate: frozenset, k: int):
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage
    fp = CodeFingerprint("answer.py", k, WINDOW, fp=io.StringIO(code), language="python")
    if boilerplate:
        fp.hashes = fp.hashes - boilerplate
        fp.hash_idx = {h: i for h, i in fp.hash_idx.items() if h not in boilerplate}
        fp.token_coverage = get_token_coverage(fp.hash_idx, k, len(fp.filtered_code))
    return fp


def stub_prints(stubs: dict[str, str]) -> dict[str, frozenset]:
    return {exercise: frozenset(fingerprint(code).hashes) for exercise, code in stubs.items()}


def compare(a: Answer, b: Answer, min_tokens: int = MIN_TOKENS) -> tuple[float, float, float, list, list]:
    """(score, a's share, b's share, a's spans, b's spans): the score is the larger share; 0 when either
    answer has fewer than ``min_tokens`` tokens of its own."""
    from copydetect import compare_files
    if min(a.tokens, b.tokens) < max(min_tokens, 1):
        return 0.0, 0.0, 0.0, [], []
    overlap, (share_a, share_b), (slices_a, slices_b) = compare_files(a.fp, b.fp)
    if not overlap:
        return 0.0, 0.0, 0.0, [], []

    def spans(slices):
        return [(int(s), int(e)) for s, e in zip(*slices)]
    return float(max(share_a, share_b)), float(share_a), float(share_b), spans(slices_a), spans(slices_b)


def find_matches(answers: dict[str, dict[str, str]], solutions: dict[str, str],
                 references: dict[str, dict[str, str]], stubs: dict[str, str],
                 threshold: float = THRESHOLD) -> list[Match]:
    """Every pair scoring ``threshold`` or more, by exercise: students with each other (each pair once,
    in id order), with the solution and with the best-matching reference function.

    ``answers``: {student: {exercise: code}}; ``solutions``: {exercise: code};
    ``references``: {exercise: {function: code}}; ``stubs``: {exercise: released code}."""
    boiler = stub_prints(stubs)
    matches = []
    for exercise in solutions:
        bp = boiler.get(exercise, frozenset())

        def made(party, code, label=""):
            code = code[:MAX_CHARS]   # a huge cell must not hold up the grades: the tokenizer takes ~50 us a token
            try:
                return Answer(party, code, label, fingerprint(code, bp))
            except Exception:          # one answer the tokenizer cannot take is left out, not the report
                return Answer(party, code, label)
        students = [made(s, answers[s][exercise]) for s in sorted(answers) if exercise in answers[s]]
        students = [a for a in students if a.tokens >= MIN_TOKENS]   # an untouched stub has nothing of its own
        others = [made(SOLUTION, solutions[exercise])]
        others += [made(REFERENCE, code, label) for label, code in references.get(exercise, {}).items()]
        for i, a in enumerate(students):
            best: dict[str, Match] = {}
            for b in students[i + 1:] + others:
                score, share_a, share_b, spans_a, spans_b = compare(a, b)
                if score < threshold or (b.party in best and best[b.party].score >= score):
                    continue
                if CANONICAL:   # the page shows the code as written, its shared lines marked
                    given = stubs.get(exercise, "")
                    spans_a, spans_b = original_spans(a.code, spans_a, given), original_spans(b.code, spans_b, given)
                best[b.party] = Match(exercise, a.party, b.party, round(score, 3), round(share_a, 3),
                                      round(share_b, 3), b.label, a.code, b.code, spans_a, spans_b)
            matches += best.values()
    matches.sort(key=lambda m: (-m.score, m.exercise, m.student, m.other))
    return matches


# --------------------------------------------------------------------------
# one assignment's run, and what it writes
# --------------------------------------------------------------------------

def class_answers(course: Path, name: str, dirs: dict) -> dict[str, dict[str, str]]:
    """Each submission's answers, found as the grader finds its notebook (``submissions.discover``);
    a missing or unreadable notebook has none."""
    import nbformat

    from course_grader.submissions import discover
    answers = {}
    for task in discover(course, name, dirs):
        if task["notebook"] is None:
            continue
        try:
            answers[task["student"]] = answer_cells(nbformat.read(task["notebook"], as_version=4))
        except Exception:   # invalid JSON or not a notebook: grading flags it, there is nothing to compare
            continue
    return answers


def run_similarity(course: Path, name: str, config, dirs: dict, threshold: float = THRESHOLD) -> list[Match]:
    """Compare the class's answers of assignment ``name``; write reports/NAME/similarity.csv and .html."""
    import nbformat

    from course_grader.similarity_page import write_page
    source_nb = nbformat.read(course / dirs["source"] / name / f"{name}.ipynb", as_version=4)
    matches = find_matches(class_answers(course, name, dirs), answer_cells(source_nb), reference_code(source_nb),
                           stub_cells(source_nb, config), threshold)
    out = course / "reports" / name
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "similarity.csv", matches)
    write_page(out / "similarity.html", name, matches, threshold)
    return matches


def report_class(course: Path, name: str, log=print) -> list[Match]:
    """The report alone, for a class already graded (``python3 course.py grade NAME --similarity-only``):
    reports/NAME/similarity.csv and .html, and grades.csv's ``similar`` column when grades.csv exists."""
    from course_grader.config import course_dirs, load_config
    config = load_config(course)
    matches = run_similarity(course, name, config, course_dirs(config))
    log(summary(name, matches))
    if (course / "grades.csv").is_file():
        mark_grades(course / "grades.csv", course / "reports")
        log("updated the similar column of grades.csv")
    return matches


def summary(name: str, matches: list[Match]) -> str:
    """The log line of a run."""
    students = sorted(({m.student for m in matches} | {m.other for m in matches}) - {SOLUTION, REFERENCE})
    return (f"wrote reports/{name}/similarity.csv and similarity.html: {len(matches)} similar "
            f"pair{'s' if len(matches) != 1 else ''} (score >= {THRESHOLD:g})"
            + (f", students {', '.join(students)}" if students else ""))


def write_csv(path: Path, matches: list[Match]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        for m in matches:
            writer.writerow({key: getattr(m, key) for key in FIELDS})


def similar_parties(csv_path: Path) -> dict[str, list[str]]:
    """Who each student's answers resemble, read back from a similarity.csv: other students' ids,
    ``solution``, ``reference`` (sorted, each once)."""
    parties: dict[str, set[str]] = {}
    if csv_path.is_file():
        with open(csv_path, newline="") as handle:
            for row in csv.DictReader(handle):
                parties.setdefault(row["student"], set()).add(row["other"])
                if row["other"] not in (SOLUTION, REFERENCE):
                    parties.setdefault(row["other"], set()).add(row["student"])
    return {student: sorted(others) for student, others in parties.items()}


def mark_grades(grades_csv: Path, reports: Path) -> None:
    """Set grades.csv's ``similar`` column from each assignment's reports/NAME/similarity.csv."""
    with open(grades_csv, newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = list(reader.fieldnames or []), list(reader)
    if "similar" not in fields:
        fields.append("similar")
    cache: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        assignment = row.get("assignment", "")
        if assignment not in cache:
            cache[assignment] = similar_parties(reports / assignment / "similarity.csv")
        row["similar"] = ";".join(cache[assignment].get(row.get("student_id", ""), []))
    with open(grades_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
