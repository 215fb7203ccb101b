"""The loop every check shares: call the learner's code under the guards, compare, finish."""

from __future__ import annotations

import copy
import linecache
import os
import time
import traceback
from typing import Callable

from . import guards
from .answers import _Answers
from .cases import Case, Mistake
from .compare import clone, mistakes_of, same
from .course_code import handing, refuse_course_code
from .guards import REIMPLEMENTED, Forbidden, TimeUp, forbid, own_random_state, time_limit
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
                 seconds: float | None = None, name: str | None = None, first: bool = True,
                 stop_verdict: bool = True):
    """Call ``fn`` on one case under the guards; raise ``Verdict`` on trouble.

    Returns ``(answer, seconds_taken)``.  ``first`` says whether this is the
    first case: a ``NotImplementedError`` there is the untouched stub, later
    it is a part of the exercise not written yet.  With ``stop_verdict=False``
    a call stopped at its time limit raises ``TimeUp`` instead of a verdict
    (the runner gives it the full limit later).  Course functions and classes
    among the arguments are handed to the learner's code for the rest of the
    check's run (``course_code.refuse_course_code``).
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
        if isinstance(exc, TimeUp) and not stop_verdict:
            raise TimeUp() from None
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
    if isinstance(exc, Forbidden):   # why it is refused: the refused entry's own reason
        refusal = exc.refusal or REIMPLEMENTED
        return Verdict(CheckResult(
            check, INCORRECT, f"`{name}` called `{exc.name}`, {refusal.why.format(called=exc.name)}.",
            case=case.label, hint=refusal.hint.format(called=exc.name), next_step="Rewrite it without that call."))
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


# The learner's code runs on the public cases in phases of at most PHASE_SECONDS (the first call of a phase has
# the whole time limit, the others what is left of the phase); the answers are then compared in order.
PHASE_SECONDS = 1.0


class _Run:
    """One check's calls of the learner's function on the public cases, and what they answered."""

    def __init__(self, check, fn, answers: _Answers, *, compare, forbidden, op_pattern, seconds, name,
                 general_hint):
        self.check, self.fn, self.answers, self.compare = check, fn, answers, compare
        self.forbidden, self.op_pattern, self.name, self.general_hint = forbidden, op_pattern, name, general_hint
        self.limit = guards.TIME_LIMIT if seconds is None else seconds
        self.phase = min(PHASE_SECONDS, self.limit / 2)
        self.got: dict[int, object] = {}

    def gather(self, start: int, *, whole_limit: bool = True) -> tuple[int, Verdict | None]:
        """Call the learner's code from case ``start`` on, for one phase; (the first case not answered,
        the verdict that stopped the calls or None).  The first call has the whole time limit when
        ``whole_limit``, every other one what is left of the phase."""
        began, index = time.perf_counter(), start
        while index < len(self.answers):
            spent = time.perf_counter() - began
            full = whole_limit and index == start
            seconds = self.limit if full else min(self.limit, self.phase - spent)
            if not full and seconds < 0.05:
                break
            try:
                self.got[index], _ = call_learner(
                    self.check, self.fn, self.answers.public[index], forbidden=self.forbidden,
                    op_pattern=self.op_pattern, seconds=seconds, name=self.name, first=index == 0,
                    stop_verdict=full or seconds >= self.limit)
            except TimeUp:   # only the phase's time was up: this case runs again, first of the next phase
                break
            except Verdict as verdict:
                return index, verdict
            index += 1
        return index, None

    def compare_all(self) -> None:
        """Run every public case, comparing each phase's answers in order; raise the first problem's verdict."""
        compared = 0
        while compared < len(self.answers):
            answered, stopped = self.gather(compared)
            cases = self.answers.resolved(range(compared, answered))
            for index in range(compared, answered):
                try:
                    self.compare(self.check, self.got[index], cases[index], name=self.name,
                                 general_hint=self.general_hint)
                except Verdict as verdict:
                    # every case answered in this one phase: its answers serve the hint too (no rebuild)
                    whole = cases if compared == 0 and answered == len(self.answers) else None
                    del cases
                    self.truthful_hint(verdict, index, answered, whole)
                    raise
            del cases
            compared = answered
            if stopped is not None:
                raise stopped

    def truthful_hint(self, verdict: Verdict, failed: int, answered: int,
                      resolved: dict[int, Case] | None = None) -> None:
        """Name a known mistake only when it gives the learner's answer on every failing case run; a mistake
        that is one formula (one answer a case) must also give the right answer wherever the learner's was
        right: with dilation 2, a span of d·k looks like a missing +1 on one case and is right on the others,
        where a missing +1 would show.  (A family of answers, such as "another dimension" or "another
        parameter's gradient", never holds a right answer, so the cases passed say nothing about it.)
        Otherwise the general hint.  The cases not run yet get one more phase first.  The verdict's own
        mistake is preferred when it holds; a diagnosis that names no listed mistake (a dtype, a float, the
        model's mode observed) is left alone.  ``resolved``: the answered cases with their answers, when the
        caller has them all (every case answered)."""
        result = verdict.result
        if result.outcome != INCORRECT or result.hint is None or result.hint == self.general_hint:
            return
        if answered < len(self.answers):   # before any answer exists again
            resolved = None
            self.gather(answered, whole_limit=False)
        cases = resolved if resolved is not None else self.answers.resolved(sorted(self.got))
        case, got = cases[failed], self.got[failed]
        distinct = _distinct(mistakes_of(case))
        own = [m for m in distinct if _names(result, m)]
        # the verdict's own mistake first: the others (a comparison each) are asked only when it does not hold
        named_any = False
        for mistake in own + [m for m in distinct if not any(m is o for o in own)]:
            named = self._naming(got, case, mistake)
            if named is None:
                continue
            named_any = True
            if self._supported(mistake, failed, cases):
                if not any(mistake is o for o in own):
                    result.hint, result.mistake = named.hint, named.mistake
                return
        if not named_any and not any(_names(result, m) for m in mistakes_of(case)):
            return   # the verdict names no listed mistake: nothing to confirm
        result.hint, result.mistake = self.general_hint, None

    def _naming(self, got, case: Case, mistake: Mistake) -> CheckResult | None:
        """The verdict naming ``mistake`` for ``got`` on this case (the comparison given all its entries, else
        only ``mistake``'s: another one may come first), or None."""
        for given in (case, _only(case, mistake)):
            try:
                self.compare(self.check, got, given, name=self.name, general_hint=None)
            except Verdict as verdict:
                if verdict.result.outcome == INCORRECT and _names(verdict.result, mistake):
                    return verdict.result
            except Exception:   # a custom comparison that needs other entries of the case
                continue
            else:
                return None     # the answer is right here
        return None

    def _supported(self, mistake: Mistake, failed: int, cases: dict[int, Case]) -> bool:
        """Does ``mistake`` give the learner's answer on every other failing case, and (one formula) the right
        answer on every passing case where it is listed?"""
        contradicted, family = 0, False
        for index, case in cases.items():
            entries = [m for m in mistakes_of(case) if _ident(m) == _ident(mistake)]
            family = family or len(entries) > 1
            if index == failed:
                continue
            got = self.got[index]
            try:
                self.compare(self.check, got, case, name=self.name, general_hint=None)
            except Verdict:   # a wrong answer here: the mistake must give it
                if self._naming(got, case, mistake) is None:
                    return False
                continue
            except Exception:
                return False
            if entries and not any(self._agrees(got, case, m) for m in entries):
                contradicted += 1
        return family or not contradicted

    def _agrees(self, got, case: Case, mistake: Mistake) -> bool:
        import torch
        answer = mistake.answer
        if isinstance(got, torch.Tensor) and _is_shape(answer):
            return tuple(got.shape) == tuple(answer)
        as_answer = copy.copy(case)
        as_answer.expected, as_answer.mistakes = answer, []
        try:
            self.compare(self.check, got, as_answer, name=self.name, general_hint=None)
        except Verdict:
            return False
        except Exception:   # an answer the comparison cannot take as expected (a shape among parts): no refutation
            return True
        return True


def _ident(mistake: Mistake):
    return mistake.key or mistake.hint


def _distinct(mistakes) -> list[Mistake]:
    seen, out = set(), []
    for mistake in mistakes:
        if _ident(mistake) not in seen:
            seen.add(_ident(mistake))
            out.append(mistake)
    return out


def _only(case: Case, mistake: Mistake) -> Case:
    """The case with only ``mistake``'s entries (and whatever else its builder noted on it)."""
    only = copy.copy(case)
    only.mistakes = [m for m in mistakes_of(case) if _ident(m) == _ident(mistake)]
    return only


def _names(result: CheckResult, mistake: Mistake) -> bool:
    """Does the verdict name ``mistake``: by its key (a mistake without one, by its hint)?"""
    if mistake.key is not None:
        return result.mistake == mistake.key
    return result.mistake is None and result.hint == mistake.hint


def _is_shape(answer) -> bool:
    import torch
    return isinstance(answer, torch.Size) or (isinstance(answer, tuple) and bool(answer)
                                              and all(isinstance(s, int) for s in answer))


def run_cases(check: str, fn, cases, *, compare, strict: bool,
              forbidden=(), op_pattern: str | None = None, seconds: float | None = None,
              general_hint: str | None = None, passed_note: str = "",
              after: Callable[[], None] | None = None) -> CheckResult:
    """The loop every check shares: validate ``fn``, run each case, compare.

    ``cases`` is the function that builds the cases (``lambda: _cases(seed, extended)``): the expected
    answers are computed only after the learner's code returned (see ``answers._Answers``).  A list is
    taken when its cases hold no answer yet.  A hint names a known mistake only when that mistake explains the
    learner's answers on every case run (``_Run.truthful_hint``).

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
    with handing():
        answers = _Answers(check, cases)
        try:
            _Run(check, fn, answers, compare=compare, forbidden=forbidden, op_pattern=op_pattern,
                 seconds=seconds, name=name, general_hint=general_hint).compare_all()
            extra = after() if after is not None else None
        except Verdict as verdict:
            return finish(verdict.result, strict)
    count = len(answers)
    summary = (f"public checks passed on {count} case{'s' if count != 1 else ''}{passed_note}."
               if count else f"public checks passed{passed_note}.")
    if extra:
        summary += " " + extra
    return finish(CheckResult(check, PASSED, summary), strict)
