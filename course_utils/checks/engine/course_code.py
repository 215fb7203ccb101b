"""The course's own code refused while the learner's code runs: a Python trace function that tells the
engine's, the course's, a library's and the learner's frames apart (``refuse_course_code``), what a check
hands the learner (``handing``, ``hand``), hooks it marks as its own (``callback``), and torch dispatch
left untraced (``untraced_dispatch``).  A refused call raises :class:`~.guards.Forbidden` with ``course``
set.  The same telling apart counts the lines of the learner's own code a call runs (``count_work``)."""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from .guards import Forbidden, count_torch_ops


# --------------------------------------------------------------------------
# The course's own code, refused while the learner's code runs
# --------------------------------------------------------------------------
#
# The course holds the answers: reference functions (``course_utils.crf``, ``segmentation``, ``detection``),
# the references inside the checks, the checks' case builders.  While a check runs the learner's code, a call
# from that code into any of it is refused, as a forbidden torch function is.  Default-deny: every function of
# the ``course_utils`` package is refused, so the next reference anyone adds is covered, except
#
# * the check engine (this package): generic machinery that computes no exercise's answer.  Its frames are
#   transparent: a course function called through them is judged by who called the engine;
# * course code that the check itself runs inside the learner's code: the wrapper the check calls, and
#   whatever that wrapper calls before the learner's code (judged by the nearest caller that is not the
#   engine or a library: course code, or the learner's);
# * what the check hands the learner (a function or class among the call's arguments, e.g. U-Net's
#   ``match=reference_match``), for the rest of that check's run;
# * hooks and torch function modes a check registers on the learner's model: marked with :func:`callback`;
# * module bodies (an import), and the few helpers a learner may call on purpose (``ALLOWED``).
#
# Residual limits, honestly: this is in-process Python.  Code written against these internals (a copy of a
# course function compiled under another file name, a call through a marked callback, switching the trace
# function off and on again before returning, a Python kernel registered for an aten operation that runs
# inside a check's ``untraced_dispatch``) can still borrow; it leaves its code in the notebook for an
# instructor to read.

# (module, function): what a notebook gives the learner to call from an exercise's code (notebook 07's given
# double_conv builds its layers with conv_bn_relu), or to choose a device with
ALLOWED = {("course_utils", "__getattr__"), ("course_utils.train", "pick_device"),
           ("course_utils.train", "autograding"), ("course_utils.segmentation", "conv_bn_relu")}

_LIBRARY, _LEARNER, _COURSE, _ENGINE = "library", "learner", "course", "engine"
_CALLBACKS: dict[int, Any] = {}       # id(code) -> code: marked callbacks (kept alive: ids stay unique)
_HANDED: list[dict[int, Any]] = []    # a stack of scopes (one per check run): id(code) -> code handed over
_KINDS: dict[str, str] = {}           # co_filename -> kind


_DIRS: list[tuple[str, ...]] = []      # [(course dir, engine dir), library dirs], computed once


def _dirs() -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not _DIRS:
        import sys
        import sysconfig

        import course_utils
        course = os.path.dirname(os.path.abspath(course_utils.__file__)) + os.sep
        library = set()
        for scheme in (None, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
            paths = sysconfig.get_paths(vars=scheme) if scheme else sysconfig.get_paths()
            library.update(os.path.abspath(paths[key]) + os.sep
                           for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths)
        _DIRS[:] = [(course, os.path.dirname(os.path.abspath(__file__)) + os.sep), tuple(library)]
    return _DIRS[0], _DIRS[1]


def _kind(frame) -> str:
    """Whose code a frame runs: the engine's, the rest of the course's, a library's, or the learner's."""
    filename = frame.f_code.co_filename
    kind = _KINDS.get(filename)
    if kind is None:
        if filename.startswith("<"):   # generated code (a dataclass's __init__) or exec'd text: by its module
            if filename.startswith("<frozen"):
                return _LIBRARY
            module = frame.f_globals.get("__name__") or ""
            return _ENGINE if module == "course_utils" or module.startswith("course_utils.") else _LEARNER
        (course, engine), library = _dirs()
        path = os.path.abspath(filename)
        if path.startswith(engine):
            kind = _ENGINE
        elif path.startswith(course):
            kind = _COURSE
        elif path.startswith(library) or "site-packages" in path or "dist-packages" in path:
            kind = _LIBRARY
        else:
            kind = _LEARNER
        _KINDS[filename] = kind
    return kind


def _codes(obj, into: dict[int, Any], depth: int = 0) -> None:
    """The code objects of the course functions and classes in ``obj`` (a function, class, partial, method,
    instance of a course class, or a small container of them), nested functions included."""
    import functools
    import types
    if depth > 4:
        return
    if isinstance(obj, types.CodeType):
        into[id(obj)] = obj
        for const in obj.co_consts:
            if isinstance(const, types.CodeType):
                _codes(const, into, depth)
    elif isinstance(obj, (types.FunctionType, types.MethodType, staticmethod, classmethod)):
        _codes(getattr(obj, "__func__", obj).__code__, into, depth)
    elif isinstance(obj, property):
        for accessor in (obj.fget, obj.fset, obj.fdel):
            if accessor is not None:
                _codes(accessor, into, depth)
    elif isinstance(obj, functools.partial):
        for part in (obj.func, *obj.args, *obj.keywords.values()):
            _codes(part, into, depth + 1)
    elif isinstance(obj, type):
        for cls in obj.__mro__:
            if (cls.__module__ or "").startswith("course_utils"):
                for value in vars(cls).values():
                    if isinstance(value, (types.FunctionType, staticmethod, classmethod, property)):
                        _codes(value, into, depth + 1)
    elif isinstance(obj, (list, tuple)) and len(obj) <= 64:
        for item in obj:
            _codes(item, into, depth + 1)
    elif isinstance(obj, dict) and len(obj) <= 64:
        for item in obj.values():
            _codes(item, into, depth + 1)
    elif (type(obj).__module__ or "").startswith("course_utils"):
        _codes(type(obj), into, depth + 1)


def callback(obj):
    """Mark a hook, torch function mode (class) or other function a check runs inside the learner's code as
    the check's own: it may run there, and what it calls is the check's.  Returns ``obj`` (a decorator)."""
    _codes(obj, _CALLBACKS)
    return obj


@contextlib.contextmanager
def handing():
    """A check's run: what it hands the learner (``hand``) may be called by the learner's code until it ends."""
    _HANDED.append({})
    try:
        yield
    finally:
        _HANDED.pop()


def hand(*objects) -> None:
    """The learner's code may call these course functions or classes (its arguments) for the current run."""
    scope = _HANDED[-1] if _HANDED else None
    if scope is not None:
        for obj in objects:
            if not _is_plain_data(obj):
                _codes(obj, scope)


def _is_plain_data(obj) -> bool:
    return isinstance(obj, (int, float, str, bool, type(None))) or type(obj).__name__ in ("Tensor", "Parameter")


class _CourseGuard:
    """The trace function that refuses the course's code entered from the learner's (``refuse_course_code``)."""

    def __init__(self, allowed: dict[int, Any], previous):
        self.allowed = allowed              # handed over outside any check run; the runs' scopes are read live
        self.previous = previous
        self.active = True
        self.refused: str | None = None
        self.trace = self._trace_function()   # one function, compared by identity with sys.gettrace()

    def _trace_function(self):
        """The trace function, called on every Python call while the learner's code runs (torch's own calls
        included: a model's forward on the meta device makes hundreds of thousands), so a closure over what it
        reads, and without a previous trace function to call when there is none.  ``trace.guard`` is this guard."""
        kind_of_file, kind_of_frame, course, judge, previous, guard = _KINDS.get, _kind, _COURSE, self._judge, \
            self.previous, self

        if previous is None:
            def trace(frame, event, arg):
                if (kind_of_file(frame.f_code.co_filename) or kind_of_frame(frame)) is course and guard.active:
                    judge(frame)
        else:
            def trace(frame, event, arg):
                if (kind_of_file(frame.f_code.co_filename) or kind_of_frame(frame)) is course and guard.active:
                    judge(frame)
                return previous(frame, event, arg)
        trace.guard = self
        return trace

    def _judge(self, frame) -> None:
        code = frame.f_code
        key = id(code)
        if (key in self.allowed or key in _CALLBACKS or code.co_name == "<module>"
                or any(key in scope for scope in _HANDED)):
            return
        module = frame.f_globals.get("__name__", "")
        if (module, code.co_qualname) in ALLOWED:
            return
        caller = frame.f_back
        while caller is not None:
            kind = _kind(caller)
            if kind is _COURSE:      # the check's own code called it (a wrapper, a handed class, a callback)
                return
            if kind is _LEARNER:
                break
            caller = caller.f_back   # an engine or library frame: whoever called it decides
        self.refused = f"{module}.{code.co_qualname}"
        raise Forbidden(self.refused, course=True)


def untraced_dispatch():
    """A torch dispatch mode for a check to enter, innermost, around a learner's call whose aten operations it
    already sends through Python (counting FLOPs on the meta device): each operation on plain tensors runs
    without the trace function of ``refuse_course_code``.  What runs there is torch's (the counting mode, the
    meta kernels written in Python: a DenseNet-121's forward makes some 300,000 Python calls, which the trace
    function would double); the learner's own Python code around the operations stays traced, and so does an
    operation on a tensor subclass (whose ``__torch_dispatch__`` could be the learner's)."""
    import sys

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    plain = (torch.Tensor, torch.nn.Parameter)

    class _Untraced(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            trace = sys.gettrace()
            if getattr(trace, "guard", None) is None or any(t not in plain for t in types):
                return func(*args, **(kwargs or {}))
            sys.settrace(None)
            try:
                return func(*args, **(kwargs or {}))
            finally:
                sys.settrace(trace)

    return _Untraced()


@contextlib.contextmanager
def refuse_course_code(*handed):
    """Refuse calls from the learner's code into the course's own code while the block runs (see above).

    A Python trace function (call events only; no line tracing) is installed for this thread and for threads
    started in the block; a previous one (a debugger, coverage) is called as before and put back after.
    ``handed`` are objects the learner may call (added to the current check run's scope).  The guard object
    says afterwards what was ``refused`` (the learner's code may have caught the exception) and whether the
    trace function was still its own (``tampered``).
    """
    import sys
    outer = getattr(sys.gettrace(), "guard", None)
    if isinstance(outer, _CourseGuard) and outer.active:   # nested: the outer guard holds
        hand(*handed)
        yield outer
        return
    hand(*handed)
    allowed: dict[int, Any] = {}
    if not _HANDED:
        for obj in handed:
            if not _is_plain_data(obj):
                _codes(obj, allowed)
    previous, previous_threads = sys.gettrace(), threading.gettrace()
    guard = _CourseGuard(allowed, previous)
    guard.tampered = False
    sys.settrace(guard.trace)
    threading.settrace(guard.trace)
    try:
        yield guard
    finally:
        guard.tampered = sys.gettrace() is not guard.trace
        guard.active = False
        sys.settrace(previous)
        threading.settrace(previous_threads)


# --------------------------------------------------------------------------
# The work one call does: torch operations and lines of the learner's own code
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Work:
    """What one call of a learner's function ran: torch functions and tensor methods (``ops``), and lines of
    the learner's own Python code (``lines``: line events in frames whose code is the learner's)."""

    ops: int
    lines: int

    def grows_beyond(self, smaller: "Work") -> bool:
        """Whether this call, on the bigger input, did more of either than ``smaller`` did on the smaller one: a
        Python loop over pixels (over tensor elements, or over the lists or NumPy arrays they were turned into)
        runs more lines, or more torch operations, on more pixels; vectorised code runs the same."""
        return self.ops > smaller.ops or self.lines > smaller.lines


def count_work(fn, *args, **kwargs) -> Work:
    """Call ``fn`` and count its :class:`Work`.  Inside ``refuse_course_code``'s block (``call_learner``), the
    guard's trace function still judges every call: it is called first, as the previous trace function."""
    import sys
    lines = [0]
    learner, kind = _LEARNER, _kind
    previous = sys.gettrace()

    def local(frame, event, arg):
        if event == "line":
            lines[0] += 1
        return local

    def trace(frame, event, arg):
        inner = previous(frame, event, arg) if previous is not None else None
        return local if kind(frame) is learner else inner

    sys.settrace(trace)
    try:
        ops = count_torch_ops(fn, *args, **kwargs)
    finally:
        sys.settrace(previous)
    return Work(ops, lines[0])


def no_more_work_on_more_pixels(check: str, fn, small, big, *, sizes: tuple[str, str], summary: str, hint: str,
                                mistake: str | None = None, vectorised: str = "vectorised code runs the same numbers "
                                "on any size", next_step: str = "Remove the loop over pixels and run the check again.",
                                **guards) -> None:
    """Run ``fn`` on the ``small`` and the ``big`` case (``Case``s of its arguments; ``sizes`` names them) under
    the guards (``guards``: call_learner's ``forbidden``, ``op_pattern``; a verdict names ``fn`` by its
    ``__name__``) and raise an INCORRECT ``Verdict`` (``summary``, ``hint``) when it does more work on the bigger
    one (``Work.grows_beyond``)."""
    from .cases import Case
    from .results import INCORRECT, CheckResult, Verdict
    from .runner import call_learner
    guards.setdefault("name", getattr(fn, "__name__", check))   # not count_work's, which call_learner calls
    work = [call_learner(check, count_work, Case(case.label, (fn, *case.args), case.kwargs), first=False,
                         **guards)[0] for case in (small, big)]
    if work[1].grows_beyond(work[0]):
        raise Verdict(CheckResult(
            check, INCORRECT, summary, case=big.label, hint=hint, mistake=mistake, next_step=next_step,
            evidence=[f"torch operations per call: {work[0].ops} on {sizes[0]}, {work[1].ops} on {sizes[1]}; lines "
                      f"of your code run: {work[0].lines} and {work[1].lines} ({vectorised})"]))
