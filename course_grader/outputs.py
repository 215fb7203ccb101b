"""What a grading run leaves behind, written by the parent process alone (one writer: no lock errors):

* the gradebook: ``SaveAutoGrades`` and ``AssignLatePenalties``, as ``nbgrader autograde`` writes them;
* ``autograded/STUDENT/NAME/``: the graded notebook, the student's files and the source's data (what
  nbgrader's autograde leaves there), and ``.grade.json``, the state file: a hash of the submission,
  the source notebook, the limits and this grader, so that a submission whose state matches is not
  graded again (a stopped run resumes where it was);
* ``feedback/STUDENT/NAME/NAME.html`` (``course_grader.feedback``);
* ``grades.csv``: nbgrader's export plus a ``flag`` column and a ``similar`` one (``course_grader.similarity``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

from course_grader.feedback import FeedbackWriter
from course_grader.similarity import mark_grades
from course_grader.submissions import copy_files, copy_source_data, read_timestamp, timestamp_file

GRADER_VERSION = "course-grade 2"   # bump when a grade could come out differently


def state_hash(*parts: bytes) -> str:
    """The hash a state file keeps: this grader's version and every part that can change a grade."""
    digest = hashlib.sha256(GRADER_VERSION.encode())
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


class Outputs:
    """The files and gradebook rows of one assignment's run (``config``: the course's nbgrader config)."""

    def __init__(self, course: Path, name: str, config, dirs: dict, db_url: str, source_dir: Path,
                 run_parts: tuple[bytes, ...], log):
        self.course, self.name, self.config, self.dirs, self.db_url = course, name, config, dirs, db_url
        # what, beside the submission itself, decides its grade: the source notebook's hash, the limits
        self.source_dir, self.run_parts, self.log = source_dir, tuple(run_parts), log
        self.feedback = FeedbackWriter(config, name, db_url)

    def out_dir(self, kind: str, student: str) -> Path:
        return self.course / self.dirs[kind] / student / self.name

    def state_path(self, student: str) -> Path:
        return self.out_dir("autograded", student) / ".grade.json"

    def task_hash(self, task: dict) -> str:
        return state_hash(task["content_hash"].encode(), *self.run_parts)

    def done(self, task: dict) -> dict | None:
        """The state of a submission already graded exactly as it is now, else None."""
        path = self.state_path(task["student"])
        if not path.exists():
            return None
        try:
            state = json.loads(path.read_text())
        except ValueError:
            return None
        if "grader_error" in state.get("flags", []):
            return None    # the grader's own failure: try again
        return state if state.get("hash") == self.task_hash(task) else None

    def record(self, task: dict, result: dict, gb) -> dict:
        """Write one graded (or failed) submission: gradebook, autograded/, feedback, state file.
        Returns the state."""
        import nbformat
        from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

        student = task["student"]
        gb.update_or_create_student(student)
        timestamp = None
        stamp = timestamp_file(Path(task["folder"]))
        if stamp is not None:
            timestamp = read_timestamp(stamp)
            if timestamp is None:
                result["flags"] = sorted(set(result["flags"]) | {"bad_timestamp"})
        if timestamp:
            gb.update_or_create_submission(self.name, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(self.name, student)
        out = self.out_dir("autograded", student)
        out.mkdir(parents=True, exist_ok=True)
        if result.get("nb"):   # what nbgrader's autograde leaves there: the student's files, the source's data
            copy_files(Path(task["folder"]), out)
            copy_source_data(self.source_dir, out)
        if stamp is not None:
            shutil.copy(stamp, out / "timestamp.txt")
        else:
            (out / "timestamp.txt").unlink(missing_ok=True)
        resources = {"nbgrader": {"notebook": self.name, "assignment": self.name, "student": student,
                                  "db_url": self.db_url}}
        feedback = self.out_dir("feedback", student) / f"{self.name}.html"
        if result.get("nb"):
            nb = nbformat.reads(result["nb"], as_version=4)
            SaveAutoGrades(config=self.config).preprocess(nb, resources)
            AssignLatePenalties(config=self.config).preprocess(nb, resources)
            nbformat.write(nb, out / f"{self.name}.ipynb")
            try:
                self.feedback.write(nb, student, feedback)
            except Exception as exc:   # feedback must not lose a grade
                result.setdefault("error", f"feedback: {type(exc).__name__}: {exc}")
        else:
            submission = gb.find_submission_notebook(self.name, self.name, student)
            for grade in submission.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gb.db.commit()
            (out / f"{self.name}.ipynb").unlink(missing_ok=True)
            feedback.unlink(missing_ok=True)   # an earlier grade's feedback would contradict the gradebook now
        gb.db.expire_all()
        submission = gb.find_submission(self.name, student)
        penalty = submission.late_submission_penalty or 0.0
        state = {"hash": self.task_hash(task), "student": student, "score": submission.score - penalty,
                 "raw_score": submission.score, "late_penalty": penalty,
                 "max_score": submission.max_score, "flags": result["flags"], "cells": result.get("cells", {}),
                 "error": result.get("error"), "seconds": result.get("seconds")}
        gb.db.commit()   # hold no transaction between results: the next writer never waits on us
        tmp = self.state_path(student).with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_path(student))
        flags = f"  [{', '.join(result['flags'])}]" if result["flags"] else ""
        late = f" (late: {submission.score:g} less a penalty of {penalty:g})" if penalty else ""
        self.log(f"{student}: {state['score']:g} / {submission.max_score:g}{late}{flags}")
        return state

    def export(self) -> Path:
        """grades.csv: nbgrader's export plus a ``flag`` column, and ``similar`` from the similarity reports."""
        from nbgrader.api import Gradebook
        from nbgrader.plugins.export import CsvExportPlugin

        dest = self.course / "grades.csv"
        with Gradebook(self.db_url) as gb:
            CsvExportPlugin(to=str(dest)).export(gb)
        with open(dest, newline="") as handle:
            rows = list(csv.DictReader(handle))
        fields = list(rows[0].keys()) if rows else ["assignment", "student_id", "score", "max_score"]
        for row in rows:
            flags = ""
            state_path = self.course / self.dirs["autograded"] / row["student_id"] / row["assignment"] / ".grade.json"
            if state_path.exists():
                try:
                    flags = ";".join(json.loads(state_path.read_text()).get("flags", []))
                except ValueError:
                    flags = "grader_error"
            row["flag"] = flags
        with open(dest, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields + ["flag"])
            writer.writeheader()
            writer.writerows(rows)
        mark_grades(dest, self.course / "reports")
        self.log(f"wrote {dest.relative_to(self.course)}")
        return dest
