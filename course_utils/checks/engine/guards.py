"""Guards around the learner's code: a time limit, refused functions, an own random state, and counting
torch operations.  The course's own code is refused by ``course_code``, which raises this module's
:class:`Forbidden`.

``TIME_LIMIT`` is read at call time, so a test may lower it
(``monkeypatch.setattr(engine.guards, "TIME_LIMIT", 0.5)``); an instructor
grading many submissions may set ``COURSE_CHECK_TIME_LIMIT``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any, Sequence, Union

# Seconds one call of the learner's code may take.  Read at call time, so a
# test may lower it (`engine.guards.TIME_LIMIT = 0.5`); an
# instructor grading many submissions may set COURSE_CHECK_TIME_LIMIT.
TIME_LIMIT = float(os.environ.get("COURSE_CHECK_TIME_LIMIT", "10"))


class TimeUp(BaseException):
    """Raised inside the learner's code when its time is up.

    A ``BaseException`` so that a learner's ``except Exception:`` cannot
    swallow it.
    """


@dataclass(frozen=True)
class Refusal:
    """Why a check refuses a function while the learner's code runs, as its verdict says it: ``why`` completes
    "`fn` called `{called}`, ..." and ``hint`` is the verdict's hint (``{called}``: the function called).

    Each refused entry carries its own (``forbid``): the function the exercise re-implements
    (:data:`REIMPLEMENTED`) is not refused for the reason a neighbour of it is (a library function that would
    do the work, :data:`DOES_THE_WORK`), nor for an exercise's own reason (adaptive pooling, whose bins are not
    the paper's).
    """

    why: str
    hint: str


REIMPLEMENTED = Refusal("the very function this exercise re-implements",
                        "Build the result from tensor indexing, arithmetic and sums; `{called}` is what the check "
                        "compares against.")
DOES_THE_WORK = Refusal("a library function that would do the work this exercise asks you to write",
                        "Build the result from tensor indexing, arithmetic and sums, without `{called}`.")


class Forbidden(BaseException):
    """Raised inside the learner's code when it calls a refused function, with the ``refusal`` that says why;
    ``course`` when that function is the course's own code (``refuse_course_code``)."""

    def __init__(self, name: str, course: bool = False, refusal: Refusal | None = None):
        super().__init__(name)
        self.name = name
        self.course = course
        self.refusal = refusal


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
            raise TimeUp()

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
            except TimeUp:
                continue


# What a check refuses: entries (owner, attribute, shown name[, Refusal]), e.g. (torch.nn.functional, "conv2d",
# "F.conv2d"), whose refusal is REIMPLEMENTED unless given; and torch operations by name, a pattern (a regular
# expression searched in the operation's name; REIMPLEMENTED) or (pattern, Refusal) pairs, the first that matches
# deciding.  An operation named like an entry ("conv2d" for "F.conv2d") is refused with that entry's refusal.
OpPattern = Union[str, Sequence[tuple]]


def entries(targets: Sequence[tuple]) -> list[tuple[Any, str, str, Refusal]]:
    """The refused entries with their refusal: (owner, attribute, shown name, Refusal)."""
    return [(owner, attr, shown, rest[0] if rest else REIMPLEMENTED) for owner, attr, shown, *rest in targets]


def op_patterns(op_pattern: OpPattern | None) -> list[tuple[str, Refusal]]:
    """The (pattern, Refusal) pairs of an ``op_pattern``."""
    if op_pattern is None:
        return []
    if isinstance(op_pattern, str):
        return [(op_pattern, REIMPLEMENTED)]
    return [(pattern, refusal) for pattern, refusal in op_pattern]


@contextlib.contextmanager
def forbid(targets: Sequence[tuple], op_pattern: OpPattern | None = None):
    """Block the functions the learner must not call while the block runs.

    ``targets`` holds ``(owner, attribute, shown_name)`` entries, optionally with the :class:`Refusal` that says
    why (else :data:`REIMPLEMENTED`), for example ``(torch.nn.functional, "conv2d", "F.conv2d")``: the
    attributes are replaced for the duration.  Because a learner may have bound a function earlier (``from
    torch.nn.functional import conv2d``), a torch function mode also refuses any call of the original objects,
    and of torch operations whose name matches ``op_pattern`` (e.g. ``aten.convolution``; see ``OpPattern``).
    """
    import re

    saved = []
    for owner, attr, shown, refusal in entries(targets):
        if not hasattr(owner, attr):
            continue
        saved.append((owner, attr, getattr(owner, attr), shown, refusal))

    def blocker(shown, refusal):
        def blocked(*args, **kwargs):
            raise Forbidden(shown, refusal=refusal)
        return blocked

    for owner, attr, _, shown, refusal in saved:
        setattr(owner, attr, blocker(shown, refusal))
    mode = None
    patterns = [(re.compile(pattern), refusal) for pattern, refusal in op_patterns(op_pattern)]
    if saved or patterns:   # else nothing to refuse (a model check): no mode, which every torch call would pass
        mode = _refusing_mode(saved, patterns)
    try:
        yield
    finally:
        if mode is not None:
            mode.__exit__(None, None, None)
        for owner, attr, original, _, _ in reversed(saved):
            setattr(owner, attr, original)


def _refusing_mode(saved, patterns):
    """The torch function mode of ``forbid``, entered: it refuses the original objects of the refused entries
    and the torch operations ``patterns`` name; None without torch (a course requirement)."""
    try:
        import torch  # noqa: F401  (only when torch is in use: the conv checks)
        from torch.overrides import TorchFunctionMode
    except ImportError:  # pragma: no cover
        return None

    originals = {id(original): (shown, refusal) for _, _, original, shown, refusal in saved}

    class _Guard(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if id(func) in originals:
                shown, refusal = originals[id(func)]
                raise Forbidden(shown, refusal=refusal)
            if patterns:
                name = getattr(func, "__name__", "")
                refusal = next((r for pattern, r in patterns if pattern.search(name)), None)
                if refusal is not None:
                    op = name.split('.')[0]   # a torch.ops overload ("nms.default"): name the function given
                    entry = next((e for e in saved if e[3].endswith("." + op)), None)
                    raise (Forbidden(entry[3], refusal=entry[4]) if entry is not None
                           else Forbidden(f"torch.{op}", refusal=refusal))
            return func(*args, **(kwargs or {}))

    mode = _Guard()
    mode.__enter__()
    return mode


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



@contextlib.contextmanager
def own_random_state():
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
