"""The code the similarity report (``course_grader.similarity``) compares, and the form it compares it in.

Where each party's code comes from: a notebook's answer cells (its nbgrader solution cells, by grade id),
the released stub of each (nbgrader's own ``ClearSolutions``: the boilerplate), and the course's
reference code of each exercise (``reference_code``: the check its graded cell calls, then every function
or class of ``course_utils`` that check names, transitively, outside the check engine and the message
tables; a function with a ``variant`` switch to a known mistake also as it runs for the right answer).

The form compared (``compared``): the code parsed, each run of assignments put in one canonical order
that keeps every dependency (by depth in the run's dependencies, then by text with names made ``V``),
then written out by ``ast.unparse`` (comments dropped, one layout).  Reordering statements
whose order is free then changes nothing; ``original_spans`` maps what matched back to the lines as
written, for the page.
"""

from __future__ import annotations

import ast
import functools
import inspect
import keyword
import re
import textwrap
import types

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
VARIANT = "variant"   # a reference function's switch to a known mistake (None: the right answer)
_NOT_REFERENCE = ("course_utils.checks.engine", "course_utils.checks.messages")


# --------------------------------------------------------------------------
# what is compared: answers, stubs, solutions, references
# --------------------------------------------------------------------------

def answer_cells(nb) -> dict[str, str]:
    """The solution cells of a notebook by grade id (the first of each id), solution markers removed."""
    cells: dict[str, str] = {}
    for cell in nb.cells:
        role = cell.metadata.get("nbgrader", {}) if cell.cell_type == "code" else {}
        if role.get("solution") and role.get("grade_id") and role["grade_id"] not in cells:
            cells[role["grade_id"]] = "\n".join(line for line in cell.source.splitlines()
                                                if line.strip() not in MARKERS) + "\n"
    return cells


def stub_cells(source_nb, config=None) -> dict[str, str]:
    """What the learner was given in each solution cell: the source cell after nbgrader's own
    ``ClearSolutions`` (with the course's stub), exactly as ``generate_assignment`` releases it."""
    import copy

    from nbgrader.preprocessors import ClearSolutions
    nb = copy.deepcopy(source_nb)
    clear = ClearSolutions(config=config) if config is not None else ClearSolutions()
    resources = {"language": nb.metadata.get("kernelspec", {}).get("language", "python")}
    for i, cell in enumerate(nb.cells):
        nb.cells[i], _ = clear.preprocess_cell(cell, resources, i)
    return answer_cells(nb)


def checks_of(source_nb) -> dict[str, list[str]]:
    """For each exercise, the checks its graded cells call (the cells after it, up to the next exercise)."""
    found: dict[str, list[str]] = {}
    current = None
    for cell in source_nb.cells:
        role = cell.metadata.get("nbgrader", {})
        if role.get("solution"):
            current = role.get("grade_id")
            found.setdefault(current, [])
        elif role.get("grade") and current is not None:
            for name in re.findall(r"\b(check_\w+)\s*\(", cell.source):
                if name not in found[current]:
                    found[current].append(name)
    return found


def _course_function(obj) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return isinstance(obj, (types.FunctionType, type)) and module.startswith("course_utils") \
        and not module.startswith(_NOT_REFERENCE)


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def reference_functions(check) -> dict[str, object]:
    """The course's code a check runs to compute its answers: the check and every function or class of
    ``course_utils`` it names, transitively, outside the engine and the message tables; by dotted name."""
    found: dict[str, object] = {}
    todo = [check]
    while todo:
        obj = inspect.unwrap(todo.pop())
        label = f"{obj.__module__.removeprefix('course_utils.')}.{obj.__qualname__}"
        if label in found:
            continue
        found[label] = obj
        functions = [obj] if isinstance(obj, types.FunctionType) else \
            [v for v in vars(obj).values() if isinstance(v, types.FunctionType)]
        for function in functions:
            scope = function.__globals__
            todo += [scope[n] for n in _names(function.__code__) if n in scope and _course_function(scope[n])]
    return found


class _DefaultVariant(ast.NodeTransformer):
    """A reference function as it runs for the right answer: every test on its ``variant`` parameter (the
    course's switch to a known mistake, None by default) decided for None, the branch not taken removed."""

    def decided(self, test):
        if not any(isinstance(n, ast.Name) and n.id == VARIANT for n in ast.walk(test)):
            return None
        try:
            return bool(eval(compile(ast.Expression(test), "<variant>", "eval"), {"__builtins__": {}}, {VARIANT: None}))
        except Exception:
            return None

    def visit_If(self, node):
        self.generic_visit(node)
        taken = self.decided(node.test)
        return node if taken is None else (node.body if taken else node.orelse)

    def visit_IfExp(self, node):
        self.generic_visit(node)
        taken = self.decided(node.test)
        return node if taken is None else (node.body if taken else node.orelse)


def as_called(code: str) -> str | None:
    """``code`` with its ``variant`` switch decided for the default (None), or None when it has none."""
    tree = ast.parse(code)
    function = tree.body[0]
    if not isinstance(function, ast.FunctionDef) or VARIANT not in [a.arg for a in function.args.args]:
        return None
    return ast.unparse(ast.fix_missing_locations(_DefaultVariant().visit(tree))) + "\n"


def reference_code(source_nb) -> dict[str, dict[str, str]]:
    """The course's reference code of each exercise, by function: {grade_id: {dotted name: source}}; a
    function with a ``variant`` switch also as it runs for the right answer (``name[variant=None]``)."""
    try:
        import course_utils.checks as checks
    except ImportError:   # a course without the learner package: nothing to compare with
        return {}
    code: dict[str, dict[str, str]] = {}
    for exercise, names in checks_of(source_nb).items():
        code[exercise] = {}
        for name in names:
            check = getattr(checks, name, None)
            if check is None or not _course_function(check):
                continue
            for label, obj in reference_functions(check).items():
                try:
                    code[exercise][label] = textwrap.dedent(inspect.getsource(obj))
                except (OSError, TypeError):
                    continue
                default = as_called(code[exercise][label])
                if default is not None:
                    code[exercise][f"{label}[{VARIANT}=None]"] = default
    return code


# --------------------------------------------------------------------------
# the form compared: a canonical statement order
# --------------------------------------------------------------------------

_MOVABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign)


def _effects(node: ast.stmt) -> tuple[set[str], set[str]]:
    """Names a statement reads and writes (``out[i] = v`` and ``self.x = v`` write ``out`` and ``self``)."""
    reads, writes = set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (writes if isinstance(n.ctx, (ast.Store, ast.Del)) else reads).add(n.id)
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    for target in targets:
        for n in ast.walk(target):
            if isinstance(n, (ast.Subscript, ast.Attribute)):
                base = n
                while isinstance(base, (ast.Subscript, ast.Attribute)):
                    base = base.value
                if isinstance(base, ast.Name):
                    writes.add(base.id)
    if isinstance(node, ast.AugAssign):
        reads |= writes
    return reads, writes


def _key(node: ast.stmt) -> str:
    """A statement's text with every name made ``V``: the same for a renamed copy."""
    return re.sub(r"[A-Za-z_]\w*", lambda m: m[0] if keyword.iskeyword(m[0]) else "V", ast.unparse(node))


def _ordered(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` with each run of assignments in one canonical order that respects their dependencies:
    by depth (0 for an assignment that needs none of the run's others, else one more than the deepest
    it needs), then by text with names made ``V``.  Two statements that conflict (one writes what the
    other reads or writes) keep their order in every correct reordering, so depth, and with it the
    order, is the same for every one of them.  Any other statement (a call, a loop, a return) stays
    where it is and bounds the runs."""
    out, run = [], []

    def flush():
        depth: list[int] = []
        written: dict[str, int] = {}   # name -> the greatest depth of an earlier statement writing it
        read: dict[str, int] = {}      # name -> the greatest depth of an earlier statement reading it
        for node in run:               # linear: a cell of thousands of assignments costs no more than its size
            reads, writes = _effects(node)
            needs = [written[n] for n in reads | writes if n in written] + [read[n] for n in writes if n in read]
            depth.append(1 + max(needs) if needs else 0)
            for n in writes:
                written[n] = max(written.get(n, 0), depth[-1])
            for n in reads:
                read[n] = max(read.get(n, 0), depth[-1])
        keys = [_key(s) for s in run]
        out.extend(run[j] for j in sorted(range(len(run)), key=lambda j: (depth[j], keys[j], j)))
        run.clear()

    for node in body:
        if isinstance(node, _MOVABLE):
            run.append(node)
        else:
            flush()
            out.append(node)
    flush()
    return out


def canonical(code: str) -> str:
    """``code`` as compared: statements free to move put in one canonical order, comments dropped and the
    layout rewritten (``ast.unparse``); code that does not parse is compared as it is."""
    return compared(code)[0]


@functools.lru_cache(maxsize=4096)
def compared(code: str) -> tuple[str, tuple]:
    """(the canonical text, for each of its lines the original lines it came from: (first, last), 1-based;
    ``None`` for no line).  Code that does not parse, or that Python's parser cannot hold (a student can
    nest an expression deeper than its recursion limit), comes back as it is, each line its own origin."""
    try:
        return _canonical_form(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code, tuple([None] + [(n, n) for n in range(1, code.count("\n") + 2)])


def _canonical_form(code: str) -> tuple[str, tuple]:
    tree = ast.parse(code)
    for node in ast.walk(tree):
        for attr in ("body", "orelse", "finalbody"):
            body = getattr(node, attr, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                setattr(node, attr, _ordered(body))
    text = ast.unparse(tree) + "\n"
    origin = [None] * (text.count("\n") + 2)
    for old, new in zip(ast.walk(tree), ast.walk(ast.parse(text))):
        if type(old) is not type(new):      # unparse changed the shape: show the code as compared
            return text, tuple((n, n) for n in range(len(origin)))
        if isinstance(old, ast.stmt):        # a statement's own lines: a compound one's header only
            inner_old = [c.lineno for c in ast.iter_child_nodes(old) if isinstance(c, ast.stmt)]
            inner_new = [c.lineno for c in ast.iter_child_nodes(new) if isinstance(c, ast.stmt)]
            end_old = min(inner_old) - 1 if inner_old else old.end_lineno
            end_new = min(inner_new) - 1 if inner_new else new.end_lineno
            for line in range(new.lineno, max(new.lineno, end_new) + 1):
                origin[line] = (old.lineno, max(old.lineno, end_old))
    return text, tuple(origin)


@functools.lru_cache(maxsize=4096)
def _layout(code: str) -> tuple[list, list, list]:
    """For ``code``'s canonical text: each line's (start, end) and a running count of its non-blank
    characters; and where each line of ``code`` itself starts."""
    text = compared(code)[0]
    bounds, at = [], 0
    for line in text.splitlines(keepends=True):
        bounds.append((at, at + len(line.rstrip("\n"))))
        at += len(line)
    solid = [0]
    for char in text:
        solid.append(solid[-1] + (not char.isspace()))
    offsets = [0]
    for line in code.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return bounds, solid, offsets


def original_spans(code: str, spans: list[tuple[int, int]], given: str = "") -> list[tuple[int, int]]:
    """Character spans of ``code`` for spans of its canonical text: every original line one of whose
    canonical lines is at least half covered (white space aside), except the lines of ``given`` (the
    released stub: everyone has them)."""
    text, origin = compared(code)
    if text == code:
        return spans
    bounds, solid, offsets = _layout(code)
    boiler = {line.strip() for line in given.splitlines()}
    marked: set[int] = set()
    for number, (start, end) in enumerate(bounds, 1):
        total = solid[end] - solid[start]
        shared = sum(solid[min(e, end)] - solid[max(s, start)] for s, e in spans if s < end and e > start)
        if total and origin[number] and 2 * shared >= total:
            marked.update(range(origin[number][0], origin[number][1] + 1))
    out: list[tuple[int, int]] = []
    for number in sorted(marked):
        if number < len(offsets) and code[offsets[number - 1]:offsets[number]].strip() not in boiler:
            start, end = offsets[number - 1], offsets[number]
            if out and out[-1][1] == start:
                out[-1] = (out[-1][0], end)
            else:
                out.append((start, end))
    return out
