"""Instructor side: what nbgrader needs beyond its defaults.

``ScrubFeedback`` is added to ``GenerateFeedback`` in ``nbgrader_config.py``:
the feedback HTML goes to students, so it must not show hidden tests, nor the
tracebacks that would quote their lines.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

HIDDEN_REGION = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S)
HIDDEN_NOTE = "# (hidden tests run here; they are not shown)\n"


def scrub_hidden_tests(source: str) -> str:
    """Replace every hidden-test region of a cell's source with a one-line note."""
    return HIDDEN_REGION.sub(HIDDEN_NOTE, source)


class ScrubFeedback(Preprocessor):
    """Remove hidden tests from grade cells, and reduce their errors to one line.

    An error in a grade cell that holds hidden tests keeps its name and the
    first line of its message ("conv2d: not yet correct — ..."): the student
    learns which check failed, not which hidden case or line.
    """

    # nbconvert preprocessors are off unless enabled; nbgrader registers this
    # one from its config, so it must be on by default.
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or "### BEGIN HIDDEN TESTS" not in cell.source:
            return cell, resources
        cell.source = scrub_hidden_tests(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = (output.get("evalue") or "").strip().splitlines()[:1]
                output["evalue"] = first_line[0] if first_line else ""
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output['evalue']}"]
        return cell, resources
