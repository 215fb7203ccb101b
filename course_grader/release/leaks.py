"""Solution text in a learner edition: which lines would give an answer away, and where they appear.

A line of a solution is *public on purpose* when the learner version of its notebook shows it
anyway: the stub keeps the signature and docstring, and a demonstration may show a line an
exercise repeats (notebook 04's plain block shows the forward pass its residual block reuses).
Of the rest, a line is *non-trivial* when, compared token by token (so spacing and comments do
not matter), it is

- at least ``LONG`` tokens long, or at least ``SHORT`` tokens and computes something (an
  arithmetic or comparison operator between two operands), and
- not plumbing: a line that only binds, unpacks, slices, copies, converts or allocates —
  no operator, and no call but Python's built-ins and a few tensor copies and constructors
  (``(sh, sw), (ph, pw) = pair(stride), pair(padding)``, ``out = torch.zeros(n, c, h, w)``).

Imports, comments, blank lines and ``return x`` are trivial by these rules.  Every non-trivial
solution line, and every line of a hidden test, must be absent from every file of an edition.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from pathlib import Path

LONG = 10    # tokens: a line this long is specific enough to be a solution's own
SHORT = 6    # tokens: a shorter line that computes (`k = 2 * f - f % 2`) can still be the answer

_TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|\*\*=?|//=?|>>=?|<<=?|[-+*/%@<>=!&|^]=|->|[^\s\w]")
_OPERATORS = {"+", "-", "*", "/", "//", "%", "**", "@", "<", ">", "<=", ">=", "==", "!=", "&", "|", "^", "<<", ">>",
              "+=", "-=", "*=", "/=", "//=", "%=", "**=", "@=", "&=", "|=", "^="}
# Calls that only copy, convert or allocate: Python's built-ins and the notebooks' `pair` called by name,
# and these called as methods (`x.clone()`, `torch.zeros(...)`; but `torch.max` is an operation).
_PLUMBING_FUNCTIONS = set(dir(builtins)) | {"pair"}
_PLUMBING_METHODS = {"clone", "detach", "float", "double", "long", "tolist", "item", "as_tensor", "tensor", "zeros",
                     "ones", "empty", "new_zeros", "zeros_like"}


def _code(line: str) -> str:
    """The line without its comment (a ``#`` inside a string literal is kept)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:i]
    return line


def tokens(line: str) -> list[str]:
    """The line's code as tokens: spacing and comments do not count."""
    return _TOKEN.findall(_code(line))


def key(line: str) -> str:
    """The normal form two lines are compared in."""
    return " ".join(tokens(line))


def _operand(token: str) -> bool:
    return token in (")", "]") or ((token[0].isalnum() or token[0] == "_") and not keyword.iskeyword(token))


def computes(toks: list[str]) -> bool:
    """Does the line apply an operator to two operands (``a - b``, not ``-1`` or ``*args``)?"""
    return any(t in _OPERATORS and i > 0 and _operand(toks[i - 1]) for i, t in enumerate(toks))


def _plumbing(toks: list[str]) -> bool:
    if computes(toks):
        return False
    for i, token in enumerate(toks):
        if token == "(" and i > 0 and _operand(toks[i - 1]) and toks[i - 1] not in (")", "]"):
            method = i > 1 and toks[i - 2] == "."
            if toks[i - 1] not in (_PLUMBING_METHODS if method else _PLUMBING_FUNCTIONS):
                return False
    return True


def non_trivial(line: str) -> bool:
    """Could this line, found in an edition, give part of a solution away? (See the module docstring.)"""
    toks = tokens(line)
    if not toks or toks[0] in ("import", "from") or _plumbing(toks):
        return False
    return len(toks) >= LONG or (len(toks) >= SHORT and computes(toks))


def _solution_regions(text: str, begin: str, end: str) -> list[str]:
    return re.findall(rf"^[ \t]*{begin}[ \t]*\n(.*?)^[ \t]*{end}[ \t]*$", text, re.M | re.S)


def secret_lines(root: Path) -> dict[str, list[str]]:
    """The lines an edition must not contain, by normal form, with where each comes from.

    Every non-trivial line of every solution cell (``course_grader.solutions.solution_cells``) and
    every code line of every hidden test, unless the learner version of its notebook shows it.
    """
    import nbformat

    from course_grader.solutions import solution_cells

    secrets: dict[str, list[str]] = {}
    for path in sorted(root.glob("source/[0-9][0-9]_*/[0-9][0-9]_*.ipynb")):
        name = path.stem
        learner = nbformat.read(root / "notebooks" / name / f"{name}.ipynb", as_version=4)
        public = {key(line) for cell in learner.cells for line in cell.source.splitlines()}
        for grade_id, source in solution_cells(name).items():
            for line in source.splitlines():
                if non_trivial(line) and key(line) not in public:
                    secrets.setdefault(key(line), []).append(f"{name}: solution {grade_id}")
        for cell in nbformat.read(path, as_version=4).cells:
            for region in _solution_regions(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
                for line in region.splitlines():
                    if tokens(line) and key(line) not in public:
                        where = f"{name}: hidden test of {cell.metadata.get('nbgrader', {}).get('grade_id')}"
                        secrets.setdefault(key(line), []).append(where)
    return secrets


@dataclass(frozen=True)
class Leak:
    """A secret line found in a file of an edition."""
    file: str          # relative to the edition
    line: int          # 1-based; for a notebook, the line within cell `cell`
    text: str
    origins: tuple[str, ...]
    cell: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.cell is None else f"{self.file} cell {self.cell} line {self.line}"
        return f"{where}: {self.text.strip()}  (from {', '.join(self.origins)})"


def _lines(path: Path) -> list[tuple[int | None, int, str]] | None:
    """(cell, line number, text) of every line of a text file or of a notebook's cells; None when binary."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    if path.suffix == ".ipynb":
        import nbformat
        cells = nbformat.reads(text, as_version=4).cells
        return [(c, n, line) for c, cell in enumerate(cells) for n, line in enumerate(cell.source.splitlines(), 1)]
    return [(None, n, line) for n, line in enumerate(text.splitlines(), 1)]


def edition_files(edition: Path):
    """(path, path relative to ``edition``) of every file of the edition, in order; not .git or .venv."""
    for path in sorted(edition.rglob("*")):
        relative = path.relative_to(edition)
        if path.is_file() and relative.parts[0] not in (".git", ".venv"):
            yield path, relative


def find_leaks(edition: Path, secrets: dict[str, list[str]]) -> tuple[list[Leak], int]:
    """Every secret line in any text file under ``edition`` (not .git or .venv); and how many files were read."""
    leaks, read = [], 0
    for path, relative in edition_files(edition):
        lines = _lines(path)
        if lines is None:
            continue
        read += 1
        for cell, number, text in lines:
            origins = secrets.get(key(text))
            if origins and tokens(text):
                leaks.append(Leak(relative.as_posix(), number, text, tuple(origins), cell))
    return leaks, read
