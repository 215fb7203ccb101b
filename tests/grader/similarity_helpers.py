"""Answers for the similarity report's test (tests/grader/test_similarity.py) and measurement
(benchmarks/similarity.py): honest ones, taken from the check catalogues, and copies made from the
solution, from one another and from the course's reference code.

Honest answers are the correct implementations each catalogue lists in ``SPECS``
(tests/checks/<module>/test_<module>.py and its impls.py), written in different styles; their source
is read with ``ast`` (the catalogues import torch: 3 s that the test need not pay), with the helper
functions of the same file that they call, as a learner would put them in the cell.  An entry whose
docstring calls it the solution, or that is loaded from the sources (``checks.helpers.solution``), is
the solution itself and is left out.

Copies are disguised the ways the report must see through: ``disguise`` renames every local name,
swaps adjacent statements that do not depend on each other and reformats (``ast.unparse`` drops the
comments and rewrites spacing, quotes and parentheses); ``reference_copy`` turns a reference function
of ``course_utils/checks`` into the exercise's function, its ``variant`` switch evaluated away.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import nbformat

from course_grader.build import ROOT
from course_utils.checks.registry import NOTEBOOKS

CHECKS = ROOT / "tests" / "checks"

# Catalogue entries that are the solution's code, or hold it: read side by side with the solution after
# benchmarks/similarity.py scored them 0.85-1.00 against it.  Not independent work, so not honest answers.
# (Entries that load the solution from its source, ``name = solution(notebook, exercise)``, are no
# definitions and are left out by ``honest_answers`` without being listed here.)
SOLUTION_COPIES = {
    "alexnet_class": "03 make_alexnet: the solution's AlexNet class, comments dropped",
    "inception_sequential": "03 make_inception: the solution's branches (the scaffold the wrong variants share)",
    "dense_layer_class": "05 make_dense_layer: the solution's DenseLayer, comments dropped",
    "dense_block_list": "05 make_dense_block: the solution's DenseBlock, beside make_dense_layer's solution",
    "transition_sequential": "05 make_transition: the solution's nn.Sequential",
    "se_block_linear": "05 make_se_block: the solution's SEBlock",
    "deform_zero_formula": "05 deform_conv_zero_offset: the solution, its output size moved into helpers",
}


# --------------------------------------------------------------------------
# honest answers: the catalogues' correct implementations
# --------------------------------------------------------------------------

def _defs(path: Path) -> tuple[str, dict[str, ast.AST]]:
    text = path.read_text()
    tree = ast.parse(text)
    return text, {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def _used(name: str, defs: dict[str, ast.AST]) -> list[str]:
    """``name`` and the definitions of the same file it names, transitively, in file order."""
    wanted, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in wanted or current not in defs:
            continue
        wanted.add(current)
        todo += [n.id for n in ast.walk(defs[current]) if isinstance(n, ast.Name)]
        todo += [b.id for n in ast.walk(defs[current]) if isinstance(n, ast.ClassDef)
                 for b in n.bases if isinstance(b, ast.Name)]
    return sorted(wanted, key=lambda n: defs[n].lineno)


def _is_solution(node: ast.AST) -> bool:
    doc = ast.get_docstring(node) or ""
    return "solution" in doc.lower()


def honest_answers(notebook: str, independent: bool = True) -> dict[str, list[tuple[str, str, frozenset]]]:
    """{exercise: [(implementation's name, cell code, the definitions in it), ...]}: the catalogue's
    correct implementations that are not the solution, with the definitions of their file they use
    (a model's class, a helper), the exercise's function named as the notebook names it.  Two
    implementations that use a common definition were not written independently.  With ``independent``
    the catalogue's copies of the solution (``SOLUTION_COPIES``) are left out too."""
    module = NOTEBOOKS[notebook]
    test_path = CHECKS / module / f"test_{module}.py"
    test_text, test_defs = _defs(test_path)
    impls_path = CHECKS / module / "impls.py"
    impls_text, impls_defs = _defs(impls_path) if impls_path.exists() else ("", {})
    specs = next(node.value for node in ast.parse(test_text).body if isinstance(node, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "SPECS" for t in node.targets))
    found: dict[str, list[tuple[str, str]]] = {}
    for key, call in zip(specs.keys, specs.values):
        exercise = ast.literal_eval(key)
        correct = next(k.value for k in call.keywords if k.arg == "correct")
        for element in correct.elts:
            if isinstance(element, ast.Attribute):          # impl.name
                name, text, defs = element.attr, impls_text, impls_defs
            else:
                name, text, defs = element.id, test_text, test_defs
            if name not in defs or (independent and name in SOLUTION_COPIES):   # the solution, loaded or copied
                continue
            used = _used(name, defs)
            if any(_is_solution(defs[n]) for n in used):     # the solution's copy, or built on it
                continue
            code = "\n\n".join(ast.get_source_segment(text, defs[n], padded=True) for n in used) + "\n"
            if isinstance(defs[name], ast.FunctionDef):
                code = code.replace(f"def {name}(", f"def {exercise}(", 1)
            found.setdefault(exercise, []).append((name, code, frozenset(used)))
    return found


# --------------------------------------------------------------------------
# copies: renamed, reordered, reformatted; a reference function turned into an answer
# --------------------------------------------------------------------------

def _reads_writes(node: ast.AST) -> tuple[set[str], set[str]]:
    reads, writes = set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (writes if isinstance(n.ctx, ast.Store) else reads).add(n.id)
    if isinstance(node, ast.AugAssign):
        reads |= writes
    return reads, writes


def _free_to_swap(a: ast.stmt, b: ast.stmt) -> bool:
    simple = (ast.Assign, ast.AugAssign, ast.AnnAssign)
    if not (isinstance(a, simple) and isinstance(b, simple)):
        return False
    (ra, wa), (rb, wb) = _reads_writes(a), _reads_writes(b)
    return not (wa & (rb | wb) or wb & ra)


class _Disguise(ast.NodeTransformer):
    """Rename every argument and assigned name inside functions; swap independent adjacent statements."""

    def __init__(self, tag: str):
        self.tag, self.names = tag, {}

    def fresh(self, name: str) -> str:
        return self.names.setdefault(name, f"{self.tag}{len(self.names)}_{name[::-1].strip('_') or 'v'}")

    def visit_FunctionDef(self, node):
        for arg in node.args.args + node.args.kwonlyargs + node.args.posonlyargs:
            if arg.arg != "self":
                arg.arg = self.fresh(arg.arg)
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                self.fresh(n.id)
        self.generic_visit(node)
        return node

    def visit_Name(self, node):
        if node.id in self.names:
            node.id = self.names[node.id]
        return node

    def generic_visit(self, node):
        super().generic_visit(node)
        for attr in ("body", "orelse"):
            body = getattr(node, attr, None)
            if isinstance(body, list) and len(body) > 1:
                i = 0
                while i + 1 < len(body):
                    if _free_to_swap(body[i], body[i + 1]):
                        body[i], body[i + 1] = body[i + 1], body[i]
                        i += 2
                    else:
                        i += 1
        return node


def disguise(code: str, tag: str = "q") -> str:
    """``code`` with its local names renamed, independent neighbouring statements swapped and the
    layout rewritten (comments gone).  The top-level definitions keep their names (the notebook calls them)."""
    tree = ast.parse(code)
    keep = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    transformer = _Disguise(tag)
    transformer.names.update({name: name for name in keep})
    tree = ast.fix_missing_locations(transformer.visit(tree))
    return ast.unparse(tree) + "\n"


class _NoVariant(ast.NodeTransformer):
    """Evaluate every test on ``variant`` as the reference's own default (None) and keep the branch taken."""

    def _decided(self, test):
        if not any(isinstance(n, ast.Name) and n.id == "variant" for n in ast.walk(test)):
            return None
        try:
            return bool(eval(compile(ast.Expression(test), "<test>", "eval"), {"variant": None}))
        except Exception:
            return None

    def visit_If(self, node):
        self.generic_visit(node)
        taken = self._decided(node.test)
        if taken is None:
            return node
        return node.body if taken else node.orelse

    def visit_IfExp(self, node):
        self.generic_visit(node)
        taken = self._decided(node.test)
        return node if taken is None else (node.body if taken else node.orelse)

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        args = node.args
        keep = [i for i, a in enumerate(args.args) if a.arg != "variant"]
        n_default = len(args.args) - len(args.defaults)
        args.defaults = [d for i, d in enumerate(args.defaults) if n_default + i in keep]
        args.args = [args.args[i] for i in keep]
        return node


def reference_copy(code: str, exercise: str) -> str:
    """A reference function of the course's checks turned into the exercise's answer: renamed, its
    ``variant`` parameter and the branches it switches removed, its docstring dropped."""
    tree = ast.parse(textwrap.dedent(code))
    function = tree.body[0]
    function.name = exercise
    if ast.get_docstring(function) is not None:
        function.body = function.body[1:] or [ast.Pass()]
    tree = ast.fix_missing_locations(_NoVariant().visit(tree))
    return ast.unparse(tree) + "\n"


# --------------------------------------------------------------------------
# submissions
# --------------------------------------------------------------------------

def released(notebook: str):
    return nbformat.read(ROOT / "notebooks" / notebook / f"{notebook}.ipynb", as_version=4)


def filled(learner, answers: dict[str, str]):
    """A copy of the learner notebook with some solution cells replaced (the others keep their stub)."""
    nb = nbformat.from_dict(json.loads(json.dumps(learner)))
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nb
