"""The similarity report (course_grader/similarity.py) on two classes built here, without running a kernel.

Each class (notebook 01, whose checks compare with numpy and torch only, and notebook 09, whose checks
carry the course's own reference code) holds: the solution verbatim; the solution renamed, reordered
and reformatted; two students who share code, one of them renaming, reordering and reformatting it; a
copy of the course's reference code (09: every exercise with a ``*_reference`` function); honest
students whose answers are the check catalogues' correct implementations, written independently in
different styles (tests/grader/similarity_helpers.py); the untouched learner notebook; and cells
built to break the report (nested past the parser's limits, 1 MB long).  The copies must be found, by
the right party, and the honest students must not.
"""

from __future__ import annotations

import ast
import csv
import shutil
from pathlib import Path

import nbformat
import pytest
from similarity_helpers import disguise, filled, honest_answers, reference_copy, released

from course_grader import cli, similarity, similarity_code
from course_grader.build import ROOT
from course_grader.solutions import solution_cells

NOTEBOOKS = ("01_convolution", "09_detection")


def independent_styles(notebook: str, count: int) -> list[dict[str, str]]:
    """``count`` sets of answers, by exercise, that share no definition with one another: each exercise's
    correct implementations, longest first, dealt out starting one set further on at every exercise (so
    that every set gets long answers), an exercise left undone where none is left."""
    sets = [{} for _ in range(count)]
    for i, (exercise, entries) in enumerate(honest_answers(notebook).items()):
        taken: set[str] = set()
        entries = sorted(entries, key=lambda e: -len(e[1]))
        for answers in sets[i % count:] + sets[:i % count]:
            entry = next((e for e in entries if not e[2] & taken), None)
            if entry is not None:
                answers[exercise] = entry[1]
                taken |= entry[2]
    return sets


def make_class(course: Path, notebook: str) -> dict[str, set[str]]:
    """A course folder with the source notebook and the class's submissions; returns, for every student,
    the parties the report must name (other students, "solution", "reference")."""
    (course / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(ROOT / "source" / notebook, course / "source" / notebook)
    learner, solutions = released(notebook), solution_cells(notebook)
    honest_1, shared, honest_2 = independent_styles(notebook, 3)   # 09 has two styles beside its solution
    answers = {
        "verbatim": dict(solutions),
        "disguised": {exercise: disguise(code) for exercise, code in solutions.items()},
        "honest_1": honest_1,
        "honest_2": honest_2,
        "sharer_a": shared,
        "sharer_b": {exercise: disguise(code, "b") for exercise, code in shared.items()},
        "untouched": {},
        "hostile": dict(zip(solutions, ["x = " + "-" * 100_000 + "1\n",           # past the parser's limits
                                        "x = a" + ".b" * 50_000 + "\n",
                                        "y = y + 1\n" * 100_000])),              # a 1 MB cell
    }
    expected = {"verbatim": {"solution", "disguised"}, "disguised": {"solution", "verbatim"},
                "sharer_a": {"sharer_b"}, "sharer_b": {"sharer_a"}}
    source = nbformat.read(course / "source" / notebook / f"{notebook}.ipynb", as_version=4)
    references = {exercise: {label: code for label, code in functions.items()
                             if label.rsplit(".", 1)[-1].endswith("reference")}
                  for exercise, functions in similarity_code.reference_code(source).items()}
    copied = {exercise: reference_copy(next(iter(functions.values())), exercise)
              for exercise, functions in references.items() if functions}
    if copied:
        answers["copier"] = {exercise: disguise(code, "c") for exercise, code in copied.items()}
        expected["copier"] = {"reference"}
    answers = {student: cells for student, cells in answers.items() if cells or student == "untouched"}
    stubs = similarity.stub_prints(similarity_code.stub_cells(source))
    for student, cells in answers.items():   # each judged on something: an answer long enough to tell
        assert student in ("untouched", "hostile") or any(similarity.fingerprint(code, stubs[exercise]).token_coverage
                                             >= similarity.MIN_TOKENS for exercise, code in cells.items()), student
    for student, cells in answers.items():
        folder = course / "submitted" / student / notebook
        folder.mkdir(parents=True)
        nbformat.write(filled(learner, cells), folder / f"{notebook}.ipynb")
    return {student: expected.get(student, set()) for student in answers}


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    """Both classes in one course, each reported through ``course.py grade NAME --similarity-only``."""
    course = tmp_path_factory.mktemp("similarity")
    expected = {notebook: make_class(course, notebook) for notebook in NOTEBOOKS}
    with open(course / "grades.csv", "w", newline="") as handle:   # as a graded class has it
        writer = csv.DictWriter(handle, fieldnames=["assignment", "student_id", "score", "flag"])
        writer.writeheader()
        for notebook in NOTEBOOKS:
            writer.writerows({"assignment": notebook, "student_id": s, "score": f"{i}.5", "flag": ""}
                             for i, s in enumerate(expected[notebook]))
    before = (course / "grades.csv").read_text()
    for notebook in NOTEBOOKS:
        assert cli.main([notebook, "--course", str(course), "--similarity-only"]) == 0
    return {"course": course, "expected": expected, "before": before}


def rows_of(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_copies_are_flagged_by_the_right_party_and_the_honest_students_are_not(classes, notebook):
    """Does grades.csv's similar column name exactly the source of each copy, and nothing for honest work?"""
    grades = {row["student_id"]: row for row in rows_of(classes["course"] / "grades.csv")
              if row["assignment"] == notebook}
    named = {student: set(filter(None, row["similar"].split(";"))) for student, row in grades.items()}
    assert named == classes["expected"][notebook]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_listed_pair_names_its_exercise_and_scores_at_least_the_threshold(classes, notebook):
    """Does similarity.csv list each pair by exercise, with shares that bound its score, and only pairs
    the expectations call copies?"""
    rows = rows_of(classes["course"] / "reports" / notebook / "similarity.csv")
    expected = classes["expected"][notebook]
    exercises = set(solution_cells(notebook))
    assert rows
    for row in rows:
        assert row["exercise"] in exercises
        assert row["other"] in expected[row["student"]]
        score = float(row["score"])
        assert similarity.THRESHOLD <= score == max(float(row["student_share"]), float(row["other_share"])) <= 1
        assert (row["other"] == similarity.REFERENCE) == bool(row["matched"])
    # every copier is caught on at least one exercise by each party it copied from
    assert {(r["student"], r["other"]) for r in rows} | {(r["other"], r["student"]) for r in rows} >= \
        {(s, o) for s, others in expected.items() for o in others}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_page_shows_each_pair_side_by_side_with_the_shared_code_marked(classes, notebook):
    """Does similarity.html hold one section per listed pair, both answers escaped, shared spans marked?"""
    page = (classes["course"] / "reports" / notebook / "similarity.html").read_text()
    rows = rows_of(classes["course"] / "reports" / notebook / "similarity.csv")
    assert page.count("<section") == len(rows) and page.count('class="side"') == 2 * len(rows)
    assert page.count("<mark>") >= 2 * len(rows)
    blocks = [block.split("</pre>")[0] for block in page.split("<pre>")[1:]]
    assert len(blocks) == 2 * len(rows)
    assert all("<" not in block.replace("<mark>", "").replace("</mark>", "") for block in blocks)   # escaped


def test_the_report_changes_no_score(classes):
    """Is grades.csv the same as before but for its new similar column?"""
    before = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(classes["before"].splitlines())}
    after = {(r["assignment"], r["student_id"]): r for r in rows_of(classes["course"] / "grades.csv")}
    assert after.keys() == before.keys()
    assert all({k: v for k, v in after[key].items() if k != "similar"} == before[key] for key in before)


def test_the_released_stub_never_counts():
    """Does an answer that is only the released cell, or the cell with a comment added, have no tokens
    of its own, while a real answer has?"""
    source = nbformat.read(ROOT / "source" / "01_convolution" / "01_convolution.ipynb", as_version=4)
    stubs = similarity_code.stub_cells(source)
    stub, boiler = stubs["conv2d"], similarity.stub_prints(stubs)["conv2d"]
    assert stub == {c.metadata.nbgrader["grade_id"]: c.source + "\n" for c in released("01_convolution").cells
                    if c.metadata.get("nbgrader", {}).get("solution")}["conv2d"]
    assert similarity.fingerprint(stub, boiler).token_coverage == 0
    assert similarity.fingerprint(stub.replace("# YOUR", "# my attempt\n    # YOUR"), boiler).token_coverage == 0
    assert similarity.fingerprint(solution_cells("01_convolution")["conv2d"], boiler).token_coverage \
        >= similarity.MIN_TOKENS


def test_reordering_free_statements_changes_nothing_but_a_dependency_is_kept():
    """Is the compared form the same, names aside, for two correct orders of the same assignments (two
    of them alike but for their names, each needed by a different later one), and does every
    assignment stay after the ones it reads?"""
    first = "def f(p, r):\n    a = g(p)\n    b = g(r)\n    c = (a, a)\n    d = b + 1\n    return c, d\n"
    second = "def f(x, y):\n    v = g(y)  # the other first\n    u = g(x)\n    w = v + 1\n    t = (u, u)\n    return t, w\n"
    key, canonical = similarity_code._key, similarity_code.canonical
    assert [key(s) for s in ast.parse(canonical(first)).body[0].body] == \
        [key(s) for s in ast.parse(canonical(second)).body[0].body]
    for code in (first, second):
        order = [ast.unparse(s) for s in ast.parse(canonical(code)).body[0].body]
        for statement in order[:-1]:
            target, value = statement.split(" = ")
            readers = [i for i, other in enumerate(order) if target in other.split(" = ")[-1]]
            assert all(order.index(statement) < i for i in readers), order
