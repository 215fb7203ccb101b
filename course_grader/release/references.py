"""Files a learner edition names but does not hold.

The notebooks, READMEs and course code cite the course's own files (``benchmarks/im2col.py``,
``data/make_segmentation.py``).  In a learner edition, a cited file that stayed behind in the
instructor's repository is a dead end for the learner who looks for it, and a hint that there is
more to find.  ``dangling`` lists every such citation; ``release`` refuses to publish while there
is one.  A citation is a relative path under one of the course's top-level folders that ends in a
file name with an extension, not inside a URL, and not a pattern (``NN_name``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from course_grader.release.leaks import edition_files

# the course's top-level folders, as the instructor's repository has them
FOLDERS = ("assets", "benchmarks", "binder", "course_grader", "course_utils", "data", "instructor", "jupyter-config",
           "notebooks", "source", "tests")
_CITATION = re.compile(r"(?<![\w/.:-])((?:%s)/[\w./-]*\w\.[A-Za-z]\w*)" % "|".join(re.escape(f) for f in FOLDERS))
_TEXT = {".py", ".md", ".ipynb", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".in", ".json"}


@dataclass(frozen=True)
class Dangling:
    file: str     # the citing file, relative to the edition
    line: int     # 1-based line of the citation in that file
    cited: str    # the cited path, relative to the edition's root

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: names {self.cited}, which the edition does not hold"


def dangling(edition: Path) -> list[Dangling]:
    """Every citation of a course file in a text file of ``edition`` (not .git or .venv) that is not there."""
    found = []
    for path, relative in edition_files(edition):
        if path.suffix not in _TEXT:
            continue
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for cited in _CITATION.findall(line):
                if "NN_" not in cited and not (edition / cited).exists():
                    found.append(Dangling(relative.as_posix(), number, cited))
    return found
