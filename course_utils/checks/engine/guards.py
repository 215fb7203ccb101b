"""Guards around the learner's code: a time limit, refused functions, an own random state,
and counting torch operations.

``TIME_LIMIT`` is read at call time, so a test may lower it
(``monkeypatch.setattr(engine.guards, "TIME_LIMIT", 0.5)``); an instructor
grading many submissions may set ``COURSE_CHECK_TIME_LIMIT``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any, Sequence

# Seconds one call of the learner's code may take.  Read at call time, so a
# test may lower it (`engine.guards.TIME_LIMIT = 0.5`); an
# instructor grading many submissions may set COURSE_CHECK_TIME_LIMIT.
TIME_LIMIT = float(os.environ.get("COURSE_CHECK_TIME_LIMIT", "10"))


class TimeUp(BaseException):
    """Raised inside the learner's code when its time is up.

    A ``BaseException`` so that a learner's ``except Exception:`` cannot
    swallow it.
    """


class Forbidden(BaseException):
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
            raise Forbidden(shown)
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
                    raise Forbidden(originals[id(func)])
                if pattern is not None and pattern.search(name):
                    op = name.split('.')[0]   # a torch.ops overload ("nms.default"): name the function given
                    raise Forbidden(next((s for *_, s in saved if s.endswith("." + op)), f"torch.{op}"))
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
