"""The loop every check shares: call the learner's code under the guards, compare, finish."""

from __future__ import annotations

import linecache
import os
import time
import traceback
from typing import Callable, Iterable

from . import guards
from .cases import Case
from .compare import clone, compare_int, mistakes_of, same
from .guards import Forbidden, TimeUp, forbid, handing, own_random_state, refuse_course_code, time_limit
from .results import INCORRECT, NOT_ATTEMPTED, PASSED, RAISED, UNCHECKABLE, CheckFailed, CheckResult, Verdict

_HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _is_library_frame(filename: str) -> bool:
    return (filename.startswith(_HERE) or "site-packages" in filename
            or "dist-packages" in filename or filename.startswith("<frozen")
            or os.sep + "lib" + os.sep + "python" in filename)


def learner_line(exc: BaseException) -> str | None:
    """The last line of the learner's own code in the exception's traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library_frame(f.filename)]
    if not frames:
        return None
    frame = frames[-1]
    code = frame.line or linecache.getline(frame.filename, frame.lineno).strip()
    where = f"in {frame.name}(), line {frame.lineno}" if frame.name != "<module>" else f"line {frame.lineno}"
    return f"{where}: {code}" if code else where



def call_learner(check: str, fn: Callable, case: Case, *, forbidden=(), op_pattern: str | None = None,
                 seconds: float | None = None, name: str | None = None, first: bool = True):
    """Call ``fn`` on one case under the guards; raise ``Verdict`` on trouble.

    Returns ``(answer, seconds_taken)``.  ``first`` says whether this is the
    first case: a ``NotImplementedError`` there is the untouched stub, later
    it is a part of the exercise not written yet.  Course functions and classes
    among the arguments are handed to the learner's code for the rest of the
    check's run (``guards.refuse_course_code``).
    """
    name = name or getattr(fn, "__name__", check)
    seconds = guards.TIME_LIMIT if seconds is None else seconds
    before = clone((case.args, case.kwargs))
    start = time.perf_counter()
    course = None
    try:
        with own_random_state(), forbid(forbidden, op_pattern), time_limit(seconds) as clock, \
                refuse_course_code(*case.args, *case.kwargs.values()) as course:
            got = fn(*case.args, **case.kwargs)
        if clock.fired:  # the learner's code swallowed every interruption but ended at last
            raise TimeUp()
        if course.refused:  # the learner's code caught the refusal and went on
            raise Forbidden(course.refused, course=True)
    except BaseException as exc:  # noqa: B036 - each kind becomes its verdict; anything else goes on
        if course is not None and course.refused and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            exc = Forbidden(course.refused, course=True)   # whatever the learner's code made of the refusal
        verdict = _verdict_of(exc, check, name, case, seconds, first)
        if verdict is None:
            raise
        raise verdict from None
    elapsed = time.perf_counter() - start
    if course.tampered:
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"Python's trace function changed while `{name}` ran (a debugger, or "
            "`sys.settrace`), so the check cannot vouch for its answer.", case=case.label,
            hint="The check watches which functions your code calls; a debugger stepping through it, or code "
                 "that changes `sys.settrace`, switches that off.",
            next_step="Run the check again without the debugger (or the `sys.settrace` call)."))
    if not same(before, (case.args, case.kwargs)):
        raise Verdict(CheckResult(
            check, INCORRECT, f"`{name}` changed its input tensors in place.", case=case.label,
            hint="Work on new tensors (e.g. `x.clone()` or `torch.zeros(...)`) instead of writing into the "
                 "arguments: the caller still needs them.",
            next_step="Remove the in-place writes to the inputs and run the check again."))
    return got, elapsed


def _verdict_of(exc: BaseException, check: str, name: str, case: Case, seconds: float, first: bool):
    """The verdict for what the learner's call raised, or None for what is not the learner's to answer for."""
    if isinstance(exc, NotImplementedError):
        if not first:
            return Verdict(CheckResult(
                check, INCORRECT, f"`{name}` raised NotImplementedError on this case after passing the earlier ones.",
                case=case.label, evidence=[f"NotImplementedError: {exc}".strip().rstrip(":")],
                hint="Some setting of this case (see above) is not handled yet.",
                next_step="Handle it, re-run the cell, then run this check again."))
        return Verdict(CheckResult(
            check, NOT_ATTEMPTED, f"`{name}` still raises NotImplementedError.",
            next_step=f"Replace `raise NotImplementedError()` in the cell that defines `{name}` with your code, "
                      "run that cell, then run this check again."))
    if isinstance(exc, TimeUp):
        return Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` ran for more than {seconds:g} s and was stopped.",
            case=case.label,
            hint="Look for a loop whose condition never becomes false (a `while` loop whose counter is never "
                 "updated), or loops far larger than the output.",
            next_step="Interrupting the kernel is not needed; fix the loop and run the check again."))
    if isinstance(exc, Forbidden) and exc.course:
        return Verdict(CheckResult(
            check, INCORRECT, f"`{name}` called `{exc.name}`, the course's own code, which the checks compare "
            "against.", case=case.label,
            hint="While a check runs your code, calls into `course_utils` are refused: the course holds the "
                 "reference answers.  Write the computation yourself.",
            next_step="Rewrite it without that call.", mistake=None))
    if isinstance(exc, Forbidden):
        return Verdict(CheckResult(
            check, INCORRECT, f"`{name}` called `{exc.name}`, the very function this exercise re-implements.",
            case=case.label,
            hint="Build the result from tensor indexing, arithmetic and sums; "
                 f"`{exc.name}` is what the check compares against.",
            next_step="Rewrite it without that call."))
    if isinstance(exc, Exception):  # the learner's code failed: show their line, not ours
        where = learner_line(exc)
        evidence = [f"{type(exc).__name__}: {exc}".strip()]
        if where:
            evidence.append(where)
        return Verdict(CheckResult(
            check, RAISED, f"calling `{name}` raised {type(exc).__name__}.", case=case.label,
            evidence=evidence,
            next_step="Fix the line above, re-run the cell that defines it, then run this check again."))
    return None


def finish(result: CheckResult, strict: bool) -> CheckResult:
    """Return the result, or raise it as ``CheckFailed`` in strict mode."""
    from ...progress import record  # the learner's own progress table; never in grading, never raises
    record(result, strict=strict)
    if strict and not result.passed:
        raise CheckFailed(result)
    return result


def _consensus_hint(fn, cases: list[Case], failed: Verdict, forbidden, op_pattern, seconds) -> None:
    """Pick the mistake that explains the learner's answers on the most cases.

    One wrong number can match several mistakes by coincidence (with C_in = k,
    ``k·C_in`` equals ``k·k``); running every case tells them apart.  Only for
    cheap checks whose answers compare with ``==`` (the arithmetic ones).
    """
    if failed.case is None:
        return
    # candidates: the mistakes that explain the failing answer itself
    candidates = [m for m in mistakes_of(failed.case) if m.answer == failed.got]
    if len(candidates) < 2:
        return
    # a mistake is known by its key (its hint's text may hold the case's numbers), or by its hint
    chosen = {m.key or m.hint: m for m in candidates}
    scores = dict.fromkeys(chosen, 0)
    for index, case in enumerate(cases):
        try:
            got, _ = call_learner(failed.result.check, fn, case, forbidden=forbidden, op_pattern=op_pattern,
                                  seconds=seconds, first=index == 0)
        except Verdict:
            continue
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            continue
        predictions = {m.key or m.hint: m.answer for m in mistakes_of(case)}
        for ident in chosen:
            # a mistake absent from this case's list gives the right answer here
            scores[ident] += 1 if got == predictions.get(ident, case.expected) else -1
    best = max(scores.values())
    mistake = chosen[next(i for i in chosen if scores[i] == best)]
    failed.result.hint, failed.result.mistake = mistake.hint, mistake.key


def run_cases(check: str, fn, cases: Iterable[Case], *, compare, strict: bool,
              forbidden=(), op_pattern: str | None = None, seconds: float | None = None,
              general_hint: str | None = None, passed_note: str = "",
              after: Callable[[], None] | None = None) -> CheckResult:
    """The loop every check shares: validate ``fn``, run each case, compare.

    ``after`` may run extra checks once every case passed (for example a
    speed comparison); it raises ``Verdict`` to fail and may return a
    sentence to add to the passed message.
    """
    name = getattr(fn, "__name__", check)
    if fn is None or not callable(fn):
        return finish(CheckResult(
            check, UNCHECKABLE, f"expected a function, got {type(fn).__name__}.",
            hint=f"Pass the function itself: `check_{check}({check})`, without calling it.",
            next_step=f"Run the cell that defines `{check}` first."), strict)
    cases = list(cases)
    with handing():   # what the check hands the learner's code (a reference part) it may call during this run
        return _run_cases(check, fn, cases, compare=compare, strict=strict, forbidden=forbidden,
                          op_pattern=op_pattern, seconds=seconds, general_hint=general_hint, name=name,
                          passed_note=passed_note, after=after)


def _run_cases(check, fn, cases, *, compare, strict, forbidden, op_pattern, seconds, general_hint, name,
               passed_note, after) -> CheckResult:
    try:
        for index, case in enumerate(cases):
            got, _ = call_learner(check, fn, case, forbidden=forbidden, op_pattern=op_pattern, seconds=seconds,
                                  name=name, first=index == 0)
            try:
                compare(check, got, case, name=name, general_hint=general_hint)
            except Verdict as verdict:
                if compare is compare_int:
                    _consensus_hint(fn, cases, verdict, forbidden, op_pattern, seconds)
                raise
        extra = after() if after is not None else None
    except Verdict as verdict:
        return finish(verdict.result, strict)
    summary = (f"public checks passed on {len(cases)} case{'s' if len(cases) != 1 else ''}{passed_note}."
               if cases else f"public checks passed{passed_note}.")
    if extra:
        summary += " " + extra
    return finish(CheckResult(check, PASSED, summary), strict)

