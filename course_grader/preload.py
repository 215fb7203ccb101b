"""What a worker's fork server imports once, before any submission: what the assignment's source
notebook imports (trusted: the instructor's own code), and torchvision when the checks its graded
cells call compare with it.  A kernel forked afterwards starts warm."""

from __future__ import annotations

from pathlib import Path

from course_grader.judging import CHECK_CALL

CHECKS_DIR = Path(__file__).resolve().parent.parent / "course_utils" / "checks"


def source_imports(cells) -> list[str]:
    """The modules that the top level of these code cells imports (``from a import b`` names ``a``
    and, when it is a submodule, ``a.b``), in order; cells with IPython syntax are read without it."""
    import ast
    names: list[str] = []
    for code in cells:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            try:
                tree = ast.parse("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
            except SyntaxError:
                continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
            else:
                continue
            names += [n for n in found if n not in names]
    return names


def preload_modules(source_notebook: Path) -> list[str]:
    """The modules to preload for the assignment whose source notebook is ``source_notebook``."""
    import nbformat
    source = nbformat.read(source_notebook, as_version=4)
    modules = source_imports(c.source for c in source.cells if c.cell_type == "code")
    text = "".join(c.source for c in source.cells)
    used = set(CHECK_CALL.findall(text))
    for module in sorted(CHECKS_DIR.rglob("*.py")):
        body = module.read_text()
        if any(f"def check_{name}(" in body for name in used):
            text += body
    if "torchvision" in text:
        modules += [m for m in ("torchvision", "torchvision.ops") if m not in modules]
    return modules
