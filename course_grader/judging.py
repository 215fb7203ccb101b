"""Scoring a graded cell: the kernel's reply status, the cell's error outputs and the check's verdict
line must agree, or the cell scores 0 and the submission is flagged ``tampered``."""

from __future__ import annotations

import re
from typing import NamedTuple

from course_utils.checks.engine.results import parse_hint, parse_verdict as parse_verdict_line

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CHECK_CALL = re.compile(r"\bcheck_(\w+)\s*\(")   # the checks a cell calls: check_conv2d( -> conv2d


class VerdictLine(NamedTuple):
    kind: str                # "verdict" or "hint"
    check: str | None        # the check's name (verdicts only)
    outcome: str | None      # passed, not yet correct, not attempted, your code raised, cannot be checked
    text: str                # the verdict's message, or the hint


def parse_verdict(line: str) -> VerdictLine | None:
    """What one line of a check's output says: its verdict, a hint, or nothing (None)."""
    found = parse_verdict_line(line.strip())   # the format lives beside its writer, in the check engine
    if found:
        return VerdictLine("verdict", *found)
    hint = parse_hint(line)
    return VerdictLine("hint", None, None, hint.strip()) if hint is not None else None


def outputs_text(cell) -> list[str]:
    """Every line a cell showed: streams, plain-text results and error messages (ANSI removed)."""
    lines = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            lines += out.get("text", "").splitlines()
        elif kind in ("execute_result", "display_data"):
            lines += str(out.get("data", {}).get("text/plain", "")).splitlines()
        elif kind == "error":
            lines += f"{out.get('ename', '')}: {out.get('evalue', '')}".splitlines()
    return [ANSI.sub("", line) for line in lines]


def verdict(cell) -> tuple[str | None, str | None]:
    """(outcome, hint) of the check a graded cell ran: the first verdict that did not pass, else 'passed'."""
    outcome, hint = None, None
    for line in outputs_text(cell):
        parsed = parse_verdict(line)
        if parsed is None:
            continue
        if parsed.kind == "verdict":
            if outcome in (None, "passed"):
                outcome = parsed.outcome
        elif hint is None and outcome not in (None, "passed"):
            hint = parsed.text
    return outcome, hint


def _passed(cell, check: str) -> bool:
    """Did the cell show ``check``'s own 'passed' verdict?"""
    return any((parsed := parse_verdict(line)) is not None and parsed.kind == "verdict"
               and parsed.check == check and parsed.outcome == "passed" and not line.strip().startswith("CheckFailed")
               for line in outputs_text(cell))


def judge(nb, graded: dict, executed: set[int], flags: set[str]) -> dict:
    """Score every graded cell from reply status, error outputs and the verdict line together.

    ``graded`` holds, per grade id, what the guard reported around the cell (``restore``, ``verify``:
    lists of changes, None when the step did not answer), its reply ``status`` and the ``checks`` it
    calls; ``executed`` the indices of the cells that ran.  A cell that should score but whose
    evidence is inconsistent gets an error output (so that nbgrader's ``SaveAutoGrades`` scores it 0)
    and the ``tampered`` flag.  Returns ``{grade_id: {points, score, outcome, hint, category, note}}``.
    """
    from nbformat.v4 import new_output
    from nbgrader import utils

    cells = {}
    for index, cell in enumerate(nb.cells):
        if not utils.is_grade(cell):
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        points = float(cell.metadata.nbgrader.get("points", 0))
        record = graded.get(gid)
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        outcome, hint = verdict(cell)
        note = None
        if record is None or index not in executed:
            note = "not executed (the kernel died or the time ran out before this cell)"
        elif record.get("restore") is None or record.get("verify") is None:
            note = "the grader's restore/verify step did not answer"
        elif record["verify"]:
            note = "changed while the graded cell ran: " + "; ".join(record["verify"][:5])
        elif record.get("status") == "ok" and not errors:
            needed = record.get("checks", [])
            if needed and not _passed(cell, needed[-1]):
                note = f"no '{needed[-1]}: passed' verdict in the output"
        elif record.get("status") == "ok" and errors:
            pass   # an error output: 0 points by nbgrader's own rule
        if record and record.get("restore"):
            flags.add("tampered")   # something was patched before this cell; it was put back
        if note is not None and cell.cell_type == "code":
            if record is not None and index in executed:
                flags.add("tampered")
            # first: nbgrader's determine_grade stops at the first error *or result* it meets
            cell.outputs.insert(0, new_output("error", ename="GradingRejected", evalue=f"0 points: {note}",
                                              traceback=[f"GradingRejected: 0 points: {note}"]))
        score = float(utils.determine_grade(cell)[0] or 0.0)   # exactly what SaveAutoGrades will store
        if score == points and points > 0:
            category = "passed"
        elif outcome == "not attempted":
            category = "not_attempted"
        elif outcome == "not yet correct" or (note and record is not None and index in executed):
            category = "failed"
        else:
            category = "errored"
        cells[gid] = {"points": points, "score": score, "outcome": outcome, "hint": hint,
                      "category": category, "note": note,
                      "restored": (record or {}).get("restore") or []}
    return cells
