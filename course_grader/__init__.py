"""The course's grader: what the instructor runs (``python3 course.py grade``, ``course.py build``).

Where code lives says who runs it:

* ``course_grader/*.py`` runs on the instructor's machine (the host): the command line,
  the worker pool, nbgrader's preprocessors, the gradebook, the reports, the sandbox launcher;
* ``course_grader/inside/`` runs inside the bubblewrap sandbox, next to the learner's code:
  the fork server, the guard and the pipe protocol.  The sandbox mounts that folder and this
  file (plus ``course_utils/`` and ``data/``), never the host modules.

This file stays import-free: the sandbox imports it on the way to ``course_grader.inside``.
"""
