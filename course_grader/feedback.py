"""The feedback students receive: it must not show hidden tests, nor the tracebacks that would
quote their lines.

``ScrubFeedback`` is added to ``GenerateFeedback`` in ``nbgrader_config.py`` (plain
``nbgrader generate_feedback``); ``FeedbackWriter`` is what ``course.py grade`` writes with:
nbgrader's ``GetGrades``, this scrubber and nbgrader's feedback template.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

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


class FeedbackWriter:
    """Writes one student's feedback page as ``nbgrader generate_feedback`` would (built on first use:
    the exporter and its template take a moment to load)."""

    def __init__(self, config, name: str, db_url: str):
        self.config, self.name, self.db_url = config, name, db_url
        self._exporter = None

    def _make_exporter(self):
        import nbgrader
        from nbconvert.exporters import HTMLExporter
        from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
        from nbgrader.preprocessors import GetGrades
        from traitlets.config import Config

        base = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
        c = Config(self.config)
        c.HTMLExporter.template_name = "feedback"
        c.HTMLExporter.extra_template_basedirs = [str(base / "templates")]
        c.HTMLExporter.extra_template_paths = [str(base / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
        exporter = HTMLExporter(config=c)
        for pp in (GetGrades, ScrubFeedback, CSSHTMLHeaderPreprocessor):
            exporter.register_preprocessor(pp(config=c), enabled=True)
        return exporter

    def write(self, nb, student: str, path: Path) -> None:
        """``student``'s autograded notebook ``nb`` (scores from the gradebook) as HTML at ``path``."""
        if self._exporter is None:
            self._exporter = self._make_exporter()
        resources = {"nbgrader": {"notebook": self.name, "assignment": self.name, "student": student,
                                  "db_url": self.db_url}}
        html, _ = self._exporter.from_notebook_node(copy.deepcopy(nb), resources=resources)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html)
