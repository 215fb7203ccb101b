"""The check engine: one definition per exercise, used for learner feedback,
for nbgrader grading (``strict=True``) and by the test suite.

A check calls the learner's function on seeded, adversarial cases, compares
each answer with an independent reference and turns the first problem it finds
into a short verdict with one hint.  Everything here is plain Python so that a
check behaves the same in JupyterLab, Colab, nbgrader and a ``python`` shell.
"""

from __future__ import annotations

import contextlib
import html
import linecache
import os
import re
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

# The five outcomes a learner can see.
PASSED = "passed"
INCORRECT = "not yet correct"
NOT_ATTEMPTED = "not attempted"
RAISED = "your code raised"
UNCHECKABLE = "cannot be checked"

OUTCOMES = (PASSED, INCORRECT, NOT_ATTEMPTED, RAISED, UNCHECKABLE)

_ICONS = {PASSED: "✅", INCORRECT: "❌", NOT_ATTEMPTED: "⏳", RAISED: "💥", UNCHECKABLE: "⚠️"}
_COLOURS = {PASSED: "#2e7d32", INCORRECT: "#c62828", NOT_ATTEMPTED: "#6d6d6d",
            RAISED: "#c62828", UNCHECKABLE: "#ef6c00"}

# Seconds one call of the learner's code may take.  Read at call time, so a
# test may lower it (`course_utils.checks._engine.TIME_LIMIT = 0.5`); an
# instructor grading many submissions may set COURSE_CHECK_TIME_LIMIT.
TIME_LIMIT = float(os.environ.get("COURSE_CHECK_TIME_LIMIT", "10"))


@dataclass
class CheckResult:
    """What a check found.  Truthy only when the check passed.

    It renders itself in a notebook (HTML) and as plain text, so the last
    expression of a cell, ``print(result)`` and a terminal all show the same
    few lines.
    """

    check: str
    outcome: str
    summary: str
    case: str | None = None
    evidence: list[str] = field(default_factory=list)
    hint: str | None = None
    next_step: str | None = None

    def __bool__(self) -> bool:
        return self.outcome == PASSED

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    def lines(self) -> list[str]:
        out = [f"{self.check}: {self.outcome} — {self.summary}"]
        if self.case:
            out.append(f"  case: {self.case}")
        out += [f"  {line}" for line in self.evidence]
        if self.hint:
            out.append(f"  hint: {self.hint}")
        if self.next_step:
            out.append(f"  next: {self.next_step}")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        def e(text: str) -> str:  # escape, then show `code` spans as code
            return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))

        colour = _COLOURS[self.outcome]
        rows = [f"<b>{_ICONS[self.outcome]} <code>{html.escape(self.check)}</code>: "
                f"<span style='color:{colour}'>{e(self.outcome)}</span></b> — {e(self.summary)}"]
        if self.case:
            rows.append(f"<b>case</b>: <code>{html.escape(self.case)}</code>")
        rows += [e(line) for line in self.evidence]
        if self.hint:
            rows.append(f"<b>hint</b>: {e(self.hint)}")
        if self.next_step:
            rows.append(f"<b>next</b>: {e(self.next_step)}")
        body = "<br>".join(rows)
        return (f"<div class='course-check' data-outcome='{html.escape(self.outcome)}' "
                f"style='border-left:4px solid {colour};padding:4px 10px;margin:4px 0'>{body}</div>")


class CheckFailed(AssertionError):
    """Raised by a check called with ``strict=True`` when it did not pass.

    It subclasses ``AssertionError`` so that nbgrader withholds the points,
    and it renders as the check's few lines instead of a traceback through
    the course's internals (IPython honours ``_render_traceback_``).
    """

    def __init__(self, result: CheckResult):
        super().__init__(result.text())
        self.result = result

    def _render_traceback_(self) -> list[str]:
        return [f"CheckFailed: {self.result.lines()[0]}"] + self.result.lines()[1:]


# --------------------------------------------------------------------------
# Running the learner's code under guards
# --------------------------------------------------------------------------

class _TimeUp(BaseException):
    """Raised inside the learner's code when its time is up.

    A ``BaseException`` so that a learner's ``except Exception:`` cannot
    swallow it.
    """


class _Forbidden(BaseException):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _Clock:
    """What ``time_limit`` observed: ``fired`` is true once the deadline passed."""

    fired = False


@contextlib.contextmanager
def time_limit(seconds: float | None):
    """Interrupt the block after ``seconds`` (main thread, POSIX only).

    After the deadline the signal repeats every 50 ms until the block has
    ended, so learner code that swallows one interruption with a bare
    ``except:`` is interrupted again.  Where no alarm signal is available
    (Windows, a worker thread) the block runs unbounded: a check still works
    there, only without this guard.
    """
    state = _Clock()
    usable = (seconds is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield state
        return
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            state.fired = True
            raise _TimeUp()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield state
    finally:
        while True:  # a late alarm may land in here: retry until the timer is off and restored
            try:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except _TimeUp:
                continue


@contextlib.contextmanager
def forbid(targets: Sequence[tuple[Any, str, str]], op_pattern: str | None = None):
    """Block the functions the learner must not call while the block runs.

    ``targets`` holds ``(owner, attribute, shown_name)`` triples, for example
    ``(torch.nn.functional, "conv2d", "F.conv2d")``: the attributes are
    replaced for the duration.  Because a learner may have bound a function
    earlier (``from torch.nn.functional import conv2d``), a torch function
    mode also refuses any call of the original objects, and of torch
    operations whose name matches ``op_pattern`` (e.g. ``aten.convolution``).
    """
    import re

    saved = []
    for owner, attr, shown in targets:
        if not hasattr(owner, attr):
            continue
        saved.append((owner, attr, getattr(owner, attr), shown))

    def blocker(shown):
        def blocked(*args, **kwargs):
            raise _Forbidden(shown)
        return blocked

    for owner, attr, _, shown in saved:
        setattr(owner, attr, blocker(shown))
    mode = None
    try:
        import torch  # noqa: F401  (only when torch is in use: the conv checks)
        from torch.overrides import TorchFunctionMode

        originals = {id(original): shown for _, _, original, shown in saved}
        pattern = re.compile(op_pattern) if op_pattern else None

        class _Guard(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                name = getattr(func, "__name__", "")
                if id(func) in originals:
                    raise _Forbidden(originals[id(func)])
                if pattern is not None and pattern.search(name):
                    op = name.split('.')[0]   # a torch.ops overload ("nms.default"): name the function given
                    raise _Forbidden(next((s for *_, s in saved if s.endswith("." + op)), f"torch.{op}"))
                return func(*args, **(kwargs or {}))

        mode = _Guard()
        mode.__enter__()
    except ImportError:  # pragma: no cover - torch is a course requirement
        mode = None
    try:
        yield
    finally:
        if mode is not None:
            mode.__exit__(None, None, None)
        for owner, attr, original, _ in reversed(saved):
            setattr(owner, attr, original)


def count_torch_ops(fn, *args, **kwargs) -> int:
    """How many torch functions and tensor methods one call of ``fn`` runs.

    A vectorised implementation runs a fixed number whatever the input size;
    a Python loop over output pixels runs more on a bigger input.
    """
    from torch.overrides import TorchFunctionMode

    count = [0]

    class _Counter(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            count[0] += 1
            return func(*args, **(kwargs or {}))

    with _Counter():
        fn(*args, **kwargs)
    return count[0]


_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def _clone(value):
    """A deep copy of tensors (and containers of tensors) to detect mutation."""
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _same(a, b) -> bool:
    import torch
    if isinstance(a, torch.Tensor):
        if a.device.type == "meta":  # shapes only: no values to compare
            return isinstance(b, torch.Tensor) and a.shape == b.shape
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    try:
        return a is b or bool(a == b)
    except Exception:  # values without a usable ==: nothing to compare
        return True


@dataclass
class Case:
    """One call of the learner's function and what it should return.

    ``mistakes`` lists ``(hint, wrong_answer)`` pairs: outputs that plausible
    mistakes produce.  When the learner's answer matches one of them (by
    shape when the shapes differ from the expected one, else by value) the
    verdict names that mistake.
    """

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    expected: Any = None
    mistakes: list = field(default_factory=list)
    atol: float = 1e-4
    rtol: float = 1e-4


@contextlib.contextmanager
def _own_random_state():
    """Run the learner's code on a copy of torch's CPU random state, restored afterwards.

    Building a model draws initial weights from the global generator; a check
    must not change what the learner's next `make_model()` gets.
    """
    import sys
    if "torch" not in sys.modules:
        yield
        return
    import torch
    with torch.random.fork_rng(devices=[]):
        yield


class Verdict(Exception):
    """Internal: carries a finished result out of the case loop.

    ``case`` and ``got`` are set when a wrong answer may be explained by a
    known mistake, so the hint can be chosen across all cases.
    """

    def __init__(self, result: CheckResult, case: Case | None = None, got: Any = None):
        self.result = result
        self.case = case
        self.got = got


def call_learner(check: str, fn: Callable, case: Case, *, forbidden=(), op_pattern: str | None = None,
                 seconds: float | None = None, name: str | None = None, first: bool = True):
    """Call ``fn`` on one case under the guards; raise ``Verdict`` on trouble.

    Returns ``(answer, seconds_taken)``.  ``first`` says whether this is the
    first case: a ``NotImplementedError`` there is the untouched stub, later
    it is a part of the exercise not written yet.
    """
    name = name or getattr(fn, "__name__", check)
    seconds = TIME_LIMIT if seconds is None else seconds
    before = _clone((case.args, case.kwargs))
    start = time.perf_counter()
    try:
        with _own_random_state(), forbid(forbidden, op_pattern), time_limit(seconds) as clock:
            got = fn(*case.args, **case.kwargs)
        if clock.fired:  # the learner's code swallowed every interruption but ended at last
            raise _TimeUp()
    except NotImplementedError as exc:
        if not first:
            raise Verdict(CheckResult(
                check, INCORRECT, f"`{name}` raised NotImplementedError on this case after passing the earlier ones.",
                case=case.label, evidence=[f"NotImplementedError: {exc}".strip().rstrip(":")],
                hint="Some setting of this case (see above) is not handled yet.",
                next_step="Handle it, re-run the cell, then run this check again.")) from None
        raise Verdict(CheckResult(
            check, NOT_ATTEMPTED, f"`{name}` still raises NotImplementedError.",
            next_step=f"Replace `raise NotImplementedError()` in the cell that defines `{name}` with your code, "
                      "run that cell, then run this check again.")) from None
    except _TimeUp:
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` ran for more than {seconds:g} s and was stopped.",
            case=case.label,
            hint="Look for a loop whose condition never becomes false (a `while` loop whose counter is never "
                 "updated), or loops far larger than the output.",
            next_step="Interrupting the kernel is not needed; fix the loop and run the check again.")) from None
    except _Forbidden as exc:
        raise Verdict(CheckResult(
            check, INCORRECT, f"`{name}` called `{exc.name}`, the very function this exercise re-implements.",
            case=case.label,
            hint="Build the result from tensor indexing, arithmetic and sums; "
                 f"`{exc.name}` is what the check compares against.",
            next_step="Rewrite it without that call.")) from None
    except Exception as exc:  # the learner's code failed: show their line, not ours
        where = learner_line(exc)
        evidence = [f"{type(exc).__name__}: {exc}".strip()]
        if where:
            evidence.append(where)
        raise Verdict(CheckResult(
            check, RAISED, f"calling `{name}` raised {type(exc).__name__}.", case=case.label,
            evidence=evidence,
            next_step="Fix the line above, re-run the cell that defines it, then run this check again.")) from None
    elapsed = time.perf_counter() - start
    if not _same(before, (case.args, case.kwargs)):
        raise Verdict(CheckResult(
            check, INCORRECT, f"`{name}` changed its input tensors in place.", case=case.label,
            hint="Work on new tensors (e.g. `x.clone()` or `torch.zeros(...)`) instead of writing into the "
                 "arguments: the caller still needs them.",
            next_step="Remove the in-place writes to the inputs and run the check again."))
    return got, elapsed


def _fmt_shape(shape) -> str:
    return str(tuple(int(s) for s in shape))


def _matching_hint(got, case: Case, by_shape: bool) -> str | None:
    import torch
    for hint, wrong in case.mistakes:
        if isinstance(wrong, torch.Size) or (isinstance(wrong, tuple) and all(isinstance(s, int) for s in wrong)):
            if by_shape and tuple(got.shape) == tuple(wrong):
                return hint
            continue
        if isinstance(wrong, torch.Tensor):
            if tuple(got.shape) != tuple(wrong.shape):
                continue
            if by_shape:
                if tuple(wrong.shape) != tuple(case.expected.shape):
                    return hint
            elif torch.allclose(got.double(), wrong.double(), atol=case.atol, rtol=case.rtol):
                return hint
        elif not isinstance(wrong, torch.Tensor) and not by_shape and got == wrong:
            return hint
    return None


def compare_tensor(check: str, got, case: Case, *, name: str, general_hint: str | None = None) -> None:
    """Raise ``Verdict`` unless ``got`` matches ``case.expected``."""
    import numpy as np
    import torch

    expected: torch.Tensor = case.expected
    if got is None:
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
            hint="Did you forget a `return` at the end of the function?",
            next_step="Return the output tensor and run the check again."))
    if isinstance(got, np.ndarray):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned a NumPy array; the check expects a torch.Tensor.",
            case=case.label, hint="Convert with `torch.from_numpy(...)`, or compute with torch from the start.",
            next_step="Return a tensor and run the check again."))
    if not isinstance(got, torch.Tensor):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; the check expects a torch.Tensor.",
            case=case.label, next_step="Return a tensor and run the check again."))
    if type(got) is not torch.Tensor:  # a Tensor subclass must not answer the comparisons below itself
        with torch._C.DisableTorchFunctionSubclass():
            got = got.detach().as_subclass(torch.Tensor)
    if tuple(got.shape) != tuple(expected.shape):
        hint = _matching_hint(got, case, by_shape=True) or general_hint
        raise Verdict(CheckResult(
            check, INCORRECT, "the output has the wrong shape.", case=case.label,
            evidence=[f"expected shape {_fmt_shape(expected.shape)}, got {_fmt_shape(got.shape)}"],
            hint=hint, next_step="Fix the shape first; then the values are compared."))
    if got.dtype != expected.dtype:
        raise Verdict(CheckResult(
            check, INCORRECT, "the output has the wrong dtype.", case=case.label,
            evidence=[f"expected {expected.dtype}, got {got.dtype}"],
            hint="Create the output with the input's dtype, e.g. `torch.zeros(..., dtype=x.dtype)`.",
            next_step="Fix the dtype and run the check again."))
    got_cpu = got.detach().cpu()
    if torch.allclose(got_cpu, expected, atol=case.atol, rtol=case.rtol, equal_nan=False):
        return
    diff = (got_cpu.double() - expected.double()).abs()
    bad = ~torch.isclose(got_cpu, expected, atol=case.atol, rtol=case.rtol)
    index = tuple(int(i) for i in bad.nonzero()[0])
    max_err = diff[~torch.isnan(diff)].max().item() if (~torch.isnan(diff)).any() else float("nan")
    evidence = [f"max abs error {max_err:.3g}; {int(bad.sum())} of {bad.numel()} values differ",
                f"first mismatch at index {index}: expected {expected[index].item():.4g}, "
                f"got {got_cpu[index].item():.4g}"]
    if torch.isnan(got_cpu).any():
        evidence.append("the output contains NaN")
    hint = _matching_hint(got_cpu, case, by_shape=False) or general_hint
    raise Verdict(CheckResult(check, INCORRECT, "the output values are wrong.", case=case.label,
                              evidence=evidence, hint=hint,
                              next_step="Fix the computation, re-run its cell, then run this check again."))


def compare_int(check: str, got, case: Case, *, name: str, general_hint: str | None = None) -> None:
    """Raise ``Verdict`` unless ``got`` is the integer ``case.expected``."""
    import numbers

    if got is None:
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
            hint="Did you forget a `return` at the end of the function?",
            next_step="Return the number and run the check again."))
    if isinstance(got, bool) or not isinstance(got, numbers.Real):
        raise Verdict(CheckResult(
            check, UNCHECKABLE, f"`{name}` returned {type(got).__name__}; the check expects an int.",
            case=case.label, next_step="Return a plain Python int and run the check again."))
    if not isinstance(got, numbers.Integral):
        hint = "Sizes and counts are whole numbers: use floor division `//` (or `math.floor`) and return an int."
        for mistake_hint, wrong in case.mistakes:
            if isinstance(wrong, float) and abs(float(got) - wrong) < 1e-9:
                hint = mistake_hint
        raise Verdict(CheckResult(
            check, INCORRECT, f"`{name}` returned the float {got!r}; expected an int.", case=case.label,
            evidence=[f"expected {case.expected}, got {got!r}"], hint=hint,
            next_step="Return an int and run the check again."))
    if int(got) == case.expected:
        return
    hint = next((h for h, wrong in case.mistakes if isinstance(wrong, int) and wrong == int(got)), general_hint)
    raise Verdict(CheckResult(check, INCORRECT, "the number is wrong.", case=case.label,
                              evidence=[f"expected {case.expected}, got {int(got)}"], hint=hint,
                              next_step="Fix the formula, re-run its cell, then run this check again."),
                  case=case, got=int(got))


def compare_parts(check: str, got, case: Case, *, name: str, parts: Sequence[str], compare, shape: str,
                  return_hint: str, general_hint: str | None = None) -> None:
    """Compare an answer made of several parts (a tuple), each part with ``compare``.

    ``case.expected`` and every wrong answer in ``case.mistakes`` are tuples
    with one entry per part; each part is compared with its own slice of the
    mistakes, so the hint names the mistake of the part that differs.
    ``shape`` says what is expected ("a pair of ints"); ``return_hint`` how
    to return it.
    """
    if got is None:
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned None.", case=case.label,
                                  hint=f"Did you forget a `return`? {return_hint}",
                                  next_step=f"Return {shape} and run the check again."))
    if not isinstance(got, (tuple, list)) or len(got) != len(parts):
        what = type(got).__name__ + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
        raise Verdict(CheckResult(check, UNCHECKABLE, f"`{name}` returned {what}; expected {shape}.",
                                  case=case.label, hint=return_hint,
                                  next_step=f"Return {shape} and run the check again."))
    for index, (part, got_part, expected_part) in enumerate(zip(parts, got, case.expected)):
        sub = Case(f"{case.label}; comparing {part}", (), expected=expected_part, atol=case.atol, rtol=case.rtol,
                   mistakes=[(hint, wrong[index]) for hint, wrong in case.mistakes])
        compare(check, got_part, sub, name=f"{name}(...)[{index}] ({part})", general_hint=general_hint)


def finish(result: CheckResult, strict: bool) -> CheckResult:
    """Return the result, or raise it as ``CheckFailed`` in strict mode."""
    from ..progress import record  # the learner's own progress table; never in grading, never raises
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
    hints = [h for h, wrong in failed.case.mistakes if wrong == failed.got]
    if len(hints) < 2:
        return
    scores = dict.fromkeys(hints, 0)
    for index, case in enumerate(cases):
        try:
            got, _ = call_learner(failed.result.check, fn, case, forbidden=forbidden, op_pattern=op_pattern,
                                  seconds=seconds, first=index == 0)
        except Verdict:
            continue
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            continue
        predictions = dict(case.mistakes)
        for hint in hints:
            # a mistake absent from this case's list gives the right answer here
            scores[hint] += 1 if got == predictions.get(hint, case.expected) else -1
    best = max(scores.values())
    failed.result.hint = next(h for h in hints if scores[h] == best)


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


# --------------------------------------------------------------------------
# Small helpers the checks' case builders share
# --------------------------------------------------------------------------

def pair(v):
    """3 -> (3, 3); (2, 1) -> (2, 1)."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def generator(seed):
    """A local torch generator: cases never touch the global random state."""
    import torch
    return torch.Generator().manual_seed(int(seed))


def randn(g, *shape):
    import torch
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def shape_of(t) -> str:
    return str(tuple(t.shape))
