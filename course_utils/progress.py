"""Your progress through the course, kept on your own computer.

Every check you call that passes is noted in a small JSON file (no network, no
account; nothing leaves your machine).  One call shows where you stand:

    from course_utils import progress
    progress.show()      # a table: per notebook, the exercises whose check you passed
    progress.reset()     # forget everything (or progress.reset("01_convolution"))

The file lives in your user data folder (``$XDG_DATA_HOME/cnn-course/progress.json``,
by default ``~/.local/share/cnn-course/progress.json``); ``COURSE_PROGRESS_FILE``
names another one.  Progress never affects grading: graded cells
(``strict=True``) and nbgrader's runs record nothing, and a file that cannot be
written never makes a check fail.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["show", "reset", "record", "progress_file", "exercises", "Progress"]

ROOT = Path(__file__).resolve().parent.parent


def progress_file() -> Path:
    """Where progress is kept: ``COURSE_PROGRESS_FILE``, else the user's data folder."""
    if os.environ.get("COURSE_PROGRESS_FILE"):
        return Path(os.environ["COURSE_PROGRESS_FILE"]).expanduser()
    if os.name == "nt" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "cnn-course" / "progress.json"


def _load() -> dict:
    try:
        data = json.loads(progress_file().read_text())
    except Exception:  # missing, damaged, or no home folder at all (a grading sandbox)
        return {"passed": {}}
    return data if isinstance(data.get("passed"), dict) else {"passed": {}}


def _save(data: dict) -> None:
    path = progress_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a neighbour, then rename: two kernels saving at once never leave half a file.
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".progress-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def record(result, *, strict: bool = False) -> None:
    """Note a passed check (called by every check's last step).

    Records nothing for graded cells (``strict=True``), under nbgrader
    (``NBGRADER_EXECUTION``/``NBGRADER_VALIDATING``) or when the check did not
    pass; never raises.
    """
    if strict or not getattr(result, "passed", False) or _grading():
        return
    try:
        data = _load()
        data["passed"].setdefault(result.check, time.strftime("%Y-%m-%d %H:%M:%S"))
        _save(data)
    except Exception:  # progress is a convenience: a read-only home must not fail a check
        pass


_GRADED_CHECK = re.compile(r"\bcheck_(\w+)\(")


def exercises(root: Path = ROOT) -> dict[str, list[str]]:
    """The exercises of each notebook, by check name, read from the learner notebooks' graded cells."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.glob("notebooks/[0-9][0-9]_*/[0-9][0-9]_*.ipynb")):
        try:
            cells = json.loads(path.read_text())["cells"]
        except (OSError, ValueError, KeyError):
            continue
        names: list[str] = []
        for cell in cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                for name in _GRADED_CHECK.findall("".join(cell.get("source", ""))):
                    if name not in names:
                        names.append(name)
        found[path.stem] = names
    return found


@dataclass
class Progress:
    """Per notebook: the exercises whose check passed, out of all.  Renders as a table."""

    rows: list[tuple[str, list[str], list[str]]]  # (notebook, passed, all exercises)
    path: Path

    def text(self) -> str:
        width = max([len(name) for name, _, _ in self.rows] + [8])
        lines = [f"{'notebook':<{width}}  passed", f"{'-' * width}  ------"]
        for name, passed, total in self.rows:
            todo = [e for e in total if e not in passed]
            tail = f"   next: {', '.join(todo[:3])}{' ...' if len(todo) > 3 else ''}" if passed and todo else ""
            lines.append(f"{name:<{width}}  {len(passed):>2} / {len(total):<2}{tail}")
        lines.append(f"(kept in {self.path}; progress.reset() forgets it)")
        return "\n".join(lines)

    __str__ = __repr__ = text

    def _repr_html_(self) -> str:
        body = []
        for name, passed, total in self.rows:
            share = len(passed) / len(total) if total else 0
            body.append(
                f"<tr><td><code>{html.escape(name)}</code></td><td>{len(passed)} / {len(total)}</td>"
                f"<td><div style='width:120px;background:#eee'><div style='width:{share * 120:.0f}px;"
                f"height:10px;background:#2e7d32'></div></div></td>"
                f"<td>{html.escape(', '.join(e for e in total if e not in passed))}</td></tr>")
        return ("<table class='course-progress'><tr><th>notebook</th><th>checks passed</th><th></th>"
                f"<th>still to do</th></tr>{''.join(body)}</table>"
                f"<small>Kept on this computer only, in <code>{html.escape(str(self.path))}</code>; "
                "<code>progress.reset()</code> forgets it.</small>")


def table() -> Progress:
    """The progress table as an object (what :func:`show` displays)."""
    passed = set(_load()["passed"])
    known = exercises()
    rows = [(name, [e for e in names if e in passed], names) for name, names in known.items()]
    others = sorted(passed - {e for names in known.values() for e in names})
    if others:  # checks of notebooks this copy of the course does not have
        rows.append(("other", others, others))
    try:
        where = progress_file()
    except Exception:  # no home folder
        where = Path("(nowhere: no user data folder)")
    return Progress(rows, where)


def _grading() -> bool:
    return bool(os.environ.get("NBGRADER_EXECUTION") or os.environ.get("NBGRADER_VALIDATING"))


def show() -> None:
    """Show the per-notebook progress table (HTML in a notebook, text in a terminal).

    Under nbgrader it shows nothing but a note: the grader's own progress has no
    place in a student's feedback.
    """
    if _grading():
        print("(Your progress table is shown in your own notebook, not while nbgrader grades.)")
        return
    result = table()
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(result)
    else:
        print(result)


def reset(notebook: str | None = None) -> None:
    """Forget all recorded progress, or only that of one notebook (e.g. ``"01_convolution"``)."""
    if notebook is None:
        forget = set(_load()["passed"])
    else:
        known = exercises()
        if notebook not in known:
            raise ValueError(f"no notebook {notebook!r}; the notebooks are {', '.join(known)}")
        forget = set(known[notebook])
    data = _load()
    kept = {k: v for k, v in data["passed"].items() if k not in forget}
    removed = len(data["passed"]) - len(kept)
    data["passed"] = kept
    _save(data)
    print(f"progress reset{'' if notebook is None else ' for ' + notebook}: {removed} passed check(s) forgotten")
