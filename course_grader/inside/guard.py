"""The trusted side of a grading kernel: a snapshot of what the checks rely on, and the
restore/verify steps the grader runs around each graded cell.

Every grading kernel is forked inside the sandbox by ``course_grader.inside.forkserver``, which has
already imported what graded cells use (torch, numpy, ``course_utils.checks``, the
modules the assignment's source notebook imports) and which sets the kernel's resource
limits and identity.  Before any student code runs:

1. the kernel registers its IPython app here (``attach``);
2. on the grader's first request (``arm``, sent before the submission's first cell,
   so inside a running cell like every later step, and accepted once) takes a snapshot: every function, class and module bound in the protected
   modules (``builtins``, ``torch*``, ``torchvision*``, ``numpy*``, ``course_utils*``,
   IPython's and ipykernel's), the methods of the protected classes (the check
   engine's result objects, ``torch.Tensor``, ``nn.Module``, the shell, kernel,
   display hook and publisher), ``sys`` hooks and the shell's transformers, event
   callbacks and custom exception handlers.

Before a graded cell the grader runs ``restore`` (a tiny cell it sends itself): every
protected binding is put back, names added to a protected module that shadow a
builtin are removed, torch function modes and trace functions are dropped, and the
``check_*`` names the graded cell calls are bound again in ``__main__`` to the
original checks.  After the cell, ``verify`` reports anything that changed *while*
the graded cell ran (the learner's function is called by the check and could patch
something then).  Both answer with a line that carries the grader's one-time
nonce; the grader gives 0 points and the ``tampered`` flag when a line is missing or
reports a change.

Residual limits, honestly: this is in-process Python.  Code written against these
internals (finding this module through ``gc``, patching ``restore`` itself, a fake
``__import__`` or ``sys.modules`` entry that answers the grader's step with its nonce, a
background thread that patches during the check and puts the original back before ``verify``) can still fool it; ctypes can rewrite any
object.  The learner's return values are another way in that no snapshot sees: the check engine
compares a returned tensor as a plain ``torch.Tensor`` (a subclass cannot answer ``allclose`` for
itself), but a check that compares other objects with ``==`` trusts their ``__eq__``.
What the sandbox guarantees is that such code can only change its own
grade: it cannot read hidden tests, the gradebook or other students' work, nor
reach the network.  A cheat of that kind also leaves its code in the autograded
notebook for an instructor to read.
"""

from __future__ import annotations

import builtins
import sys
import types
import warnings

PROTECTED_PREFIXES = ("builtins", "torch", "torchvision", "numpy", "course_utils", "course_grader", "IPython",
                      "ipykernel", "math", "operator", "functools", "inspect", "traceback", "signal", "time", "re")
SHELL_TRAITS = ("displayhook", "display_pub", "display_formatter", "display_trap", "builtin_trap",
                "input_transformer_manager", "CustomTB", "custom_exceptions", "compile", "InteractiveTB",
                "SyntaxTB", "ast_transformers")
# sys.excepthook is not among them: ipykernel swaps it per request, and IPython reports a cell's
# error through showtraceback (protected), never through sys.excepthook.
SYS_HOOKS = ("displayhook", "stdout", "stderr", "breakpointhook", "unraisablehook")
# builtins that ipykernel rebinds for every request (input reads from the request's stdin channel)
PER_REQUEST_BUILTINS = {"input", "raw_input", "getpass", "exit", "quit", "get_ipython", "display", "_", "__", "___"}


def _protected_value(value) -> bool:
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                              types.ModuleType, property, classmethod, staticmethod,
                              types.WrapperDescriptorType, types.MethodDescriptorType)) or callable(value)


def _is_protected_module(name: str) -> bool:
    return name.split(".")[0] in PROTECTED_PREFIXES


class Guard:
    """Holds the snapshot; ``restore`` and ``verify`` print one line for the grader."""

    def __init__(self, shell, kernel):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._snapshot(shell, kernel)

    def _snapshot(self, shell, kernel):
        self.shell, self.kernel = shell, kernel
        self.modules: dict[str, tuple[types.ModuleType, dict]] = {}
        self.classes: list[tuple[type, dict]] = []
        self.instances: list[tuple[object, dict]] = []
        self.sys_hooks = {name: getattr(sys, name, None) for name in SYS_HOOKS}
        self.meta_path = list(sys.meta_path)
        self.builtin_names = set(vars(builtins))
        dirs = []
        for top in PROTECTED_PREFIXES:
            path = getattr(sys.modules.get(top), "__file__", None)
            if path and path.endswith("__init__.py"):
                dirs.append(path[: -len("__init__.py")])
        self.library_dirs = tuple(dirs) or ("\0",)
        self.module_keys: dict[str, set] = {}
        for name, module in list(sys.modules.items()):
            if module is not None and _is_protected_module(name):
                try:
                    values = {k: v for k, v in vars(module).items() if _protected_value(v)}
                except TypeError:
                    continue
                self.modules[name] = (module, values)
                self.module_keys[name] = set(vars(module))
        import torch
        from course_utils.checks import CheckResult
        classes = {torch.Tensor, torch.nn.Module, torch.nn.Parameter, torch.Size}
        for name, (_, values) in self.modules.items():
            if name.startswith("course_utils"):
                classes.update(v for v in values.values() if isinstance(v, type) and v.__module__ == name)
        classes.update(CheckResult.__mro__[:-1])
        for obj in (shell, kernel, shell.displayhook, shell.display_pub, shell.events):
            classes.update(c for c in type(obj).__mro__ if c is not object)
            self.instances.append((obj, dict(vars(obj))))
        for cls in classes:
            try:
                self.classes.append((cls, {k: v for k, v in vars(cls).items() if _protected_value(v)}))
            except TypeError:
                continue
        self.traits = {name: getattr(shell, name) for name in SHELL_TRAITS if hasattr(shell, name)}
        self.transformer_lists = {name: list(getattr(shell, name)) for name in
                                  ("ast_transformers", "input_transformers_post")
                                  if hasattr(shell, name)}
        itm = shell.input_transformer_manager
        self.itm_lists = {name: list(getattr(itm, name)) for name in ("cleanup_transforms", "line_transforms",
                                                                         "token_transformers")
                          if hasattr(itm, name)}
        self.callbacks = {event: list(cbs) for event, cbs in shell.events.callbacks.items()}
        self.checks = {k: v for k, v in self.modules["course_utils.checks"][1].items() if k.startswith("check_")}
        self._set = setattr
        self._get = getattr
        self._print = print
        self.student_callbacks: dict = {}

    # -- the comparisons ------------------------------------------------------
    def _library_wrapper(self, new, old) -> bool:
        """Is ``new`` a wrapper of ``old`` that library code installed (its code lives in a protected
        package's folder, not in a notebook cell)?"""
        wrapped, depth = new, 0
        while depth < 5 and wrapped is not old:
            wrapped, depth = getattr(wrapped, "__wrapped__", None), depth + 1
            if wrapped is None:
                return False
        if wrapped is not old:
            return False
        code = getattr(new, "__code__", None)
        filename = getattr(code, "co_filename", "")
        return bool(filename) and filename.startswith(self.library_dirs)

    def _changes(self, fix: bool) -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._compare(fix)

    def _compare(self, fix: bool) -> list[str]:
        changed = []
        setattr_, getattr_ = self._set, self._get
        for name, (module, values) in self.modules.items():
            if sys.modules.get(name, module) is not module:
                changed.append(f"sys.modules[{name!r}]")
                if fix:
                    sys.modules[name] = module
            current = module.__dict__
            for key, value in values.items():
                if name == "builtins" and key in PER_REQUEST_BUILTINS:
                    continue
                now = current.get(key, _MISSING)
                if now is not value and self._library_wrapper(now, value):
                    values[key] = now      # e.g. torch._dynamo wraps torch.manual_seed when first imported
                    continue
                if now is not value:
                    changed.append(f"{name}.{key}")
                    if fix:
                        current[key] = value
            if name != "builtins":
                known = self.module_keys[name]
                for key in [k for k in current if k in self.builtin_names and k not in known
                            and not k.startswith("__")]:
                    changed.append(f"{name}.{key} (shadows a builtin)")
                    if fix:
                        del current[key]
        for cls, values in self.classes:
            current = vars(cls)
            for key, value in values.items():
                now = current.get(key, _MISSING)
                if now is not value and self._library_wrapper(now, value):
                    values[key] = now
                    continue
                if now is not value:
                    changed.append(f"{cls.__qualname__}.{key}")
                    if fix:
                        try:
                            setattr_(cls, key, value)
                        except (TypeError, AttributeError):
                            pass
            for key in [k for k in current if k not in values and _protected_value(current[k])
                        and not k.startswith("_abc") and k not in ("__weakref__", "__dict__")]:
                if any(key in vars(base) for base in cls.__mro__[1:]) or key.startswith("__"):
                    changed.append(f"{cls.__qualname__}.{key} (added)")
                    if fix:
                        try:
                            delattr(cls, key)
                        except (TypeError, AttributeError):
                            pass
        for obj, values in self.instances:
            current = vars(obj)
            for key, value in values.items():
                if callable(value) and current.get(key, _MISSING) is not value:
                    changed.append(f"{type(obj).__name__}.{key}")
                    if fix:
                        current[key] = value
            for key in [k for k in current if k not in values and callable(getattr_(type(obj), k, None))]:
                changed.append(f"{type(obj).__name__}.{key} (instance override)")
                if fix:
                    del current[key]
        for name, value in self.sys_hooks.items():
            if getattr_(sys, name, None) is not value:
                changed.append(f"sys.{name}")
                if fix:
                    setattr_(sys, name, value)
        if sys.meta_path != self.meta_path:
            changed.append("sys.meta_path")
            if fix:
                sys.meta_path[:] = self.meta_path
        if sys.gettrace() is not None or sys.getprofile() is not None:
            changed.append("sys.settrace/setprofile")
            if fix:
                sys.settrace(None)
                sys.setprofile(None)
        for name, value in self.traits.items():
            if getattr_(self.shell, name, None) is not value:
                changed.append(f"shell.{name}")
                if fix:
                    setattr_(self.shell, name, value)
        for name, value in self.transformer_lists.items():
            if list(getattr_(self.shell, name)) != value:
                changed.append(f"shell.{name}")
                if fix:
                    getattr_(self.shell, name)[:] = value
        itm = self.shell.input_transformer_manager
        for name, value in self.itm_lists.items():
            if list(getattr_(itm, name)) != value:
                changed.append(f"input_transformer_manager.{name}")
                if fix:
                    getattr_(itm, name)[:] = value
        try:
            import torch
            depth = torch._C._len_torch_function_stack()
            if depth:
                changed.append("torch function mode")
                if fix:
                    for _ in range(depth):
                        torch._C._pop_torch_function_stack()
        except Exception:  # pragma: no cover - older torch
            pass
        return changed

    def _quiet_callbacks(self) -> None:
        """Graded cells run with the event callbacks of the start-up only; the learner's come back after."""
        self.student_callbacks = {}
        for event, callbacks in self.shell.events.callbacks.items():
            extra = [cb for cb in callbacks if cb not in self.callbacks.get(event, [])]
            if extra:
                self.student_callbacks[event] = extra
                callbacks[:] = [cb for cb in callbacks if cb not in extra]

    def restore(self, nonce: str, checks=()) -> None:
        changed = self._changes(fix=True)
        self._quiet_callbacks()
        main = sys.modules["__main__"].__dict__
        user_ns = self.shell.user_ns
        for name in checks:
            original = self.checks.get(f"check_{name}")
            if original is not None:
                for namespace in (main, user_ns):
                    if namespace.get(f"check_{name}") is not original:
                        if f"check_{name}" in namespace:
                            changed.append(f"__main__.check_{name}")
                        namespace[f"check_{name}"] = original
        self._print(f"course-guard {nonce} restored {len(changed)}: {'; '.join(changed[:20])}", flush=True)

    def verify(self, nonce: str) -> None:
        changed = self._changes(fix=True)
        for event, callbacks in self.student_callbacks.items():
            self.shell.events.callbacks[event].extend(cb for cb in callbacks
                                                      if cb not in self.shell.events.callbacks[event])
        self.student_callbacks = {}
        self._print(f"course-guard {nonce} verified {len(changed)}: {'; '.join(changed[:20])}", flush=True)


_MISSING = object()
GUARD: Guard | None = None
_APP = None
_CWD_ON_PATH = False


def arm(nonce: str) -> None:
    """Take the snapshot; the grader runs this first, before any cell of the submission.  Only once."""
    global GUARD
    if GUARD is not None or _APP is None:
        print(f"course-guard {nonce} refused: ", flush=True)
        return
    GUARD = Guard(_APP.shell, _APP.kernel)
    if _CWD_ON_PATH:
        _put_cwd_on_path()
    print(f"course-guard {nonce} armed: ", flush=True)


def _put_cwd_on_path() -> None:
    """What IPython's ``init_path`` does for an ordinary kernel (the fork server runs with ``-P``, so it
    did not): the working folder — the submission's copy, with any helper modules shipped beside the
    notebook — goes on ``sys.path`` before the site packages.  Only now, after the snapshot, so
    nothing in that folder is imported before it."""
    if "" in sys.path:
        return
    for index, path in enumerate(sys.path):  # noqa: B007 - index is read after the loop
        if path.rstrip("/").endswith(("site-packages", "dist-packages")):
            break
    else:
        index = 0
    sys.path.insert(index, "")


def restore(nonce: str, checks=()) -> None:
    GUARD.restore(nonce, checks)


def verify(nonce: str) -> None:
    GUARD.verify(nonce)


def attach(app, cwd_on_path: bool = False) -> None:
    """The kernel process (forked by ``course_grader.inside.forkserver``) registers its IPython app; ``arm`` needs it,
    and puts the working folder on ``sys.path`` when ``cwd_on_path``."""
    global _APP, _CWD_ON_PATH
    _APP, _CWD_ON_PATH = app, cwd_on_path
