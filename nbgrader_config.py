"""nbgrader configuration: run the standard nbgrader commands from the repository root.

    instructor/NN_name.py          text sources, solutions and hidden tests (edit these)
    source/NN_name/NN_name.ipynb   nbgrader's source notebooks (python3 course.py build)
    notebooks/NN_name/NN_name.ipynb  learner versions (nbgrader generate_assignment)
    submitted/STUDENT/NN_name/     submissions to grade
    autograded/, feedback/         nbgrader's output; gradebook.db holds the scores
"""

import os
import sys

from course_grader.feedback import ScrubFeedback


def _in_jupyter_server() -> bool:
    """True when JupyterLab (``course.py lab``, Binder) reads this file for its nbgrader extensions."""
    server = sys.modules.get("jupyter_server.serverapp")
    return bool(server and server.ServerApp.initialized())


# Kernels inherit this: the ipywidgets explorers draw a static figure while
# grading (see course_utils.widgets.is_headless).  Not in a learner's JupyterLab,
# whose kernels would inherit it too and lose their live explorers (seen by
# tests/e2e/test_browser.py); autograding started there is headless through
# NBGRADER_EXECUTION.
if not _in_jupyter_server():
    os.environ.setdefault("COURSE_HEADLESS", "1")

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# The learner's stub: the checks report "not attempted" when they see it.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A cell may run this long before nbgrader interrupts it (the checks stop a
# learner's function after 10 s themselves; this catches loops at top level).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# A submission whose graded cells were deleted gets them back (and is graded
# on them) instead of silently scoring 0.
c.OverwriteCells.add_missing_cells = True

# Feedback goes to students: remove hidden tests and what their failures reveal.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    ScrubFeedback,
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
