"""The check engine: the public API for check authors.

One check definition serves learner feedback, nbgrader grading (``strict=True``)
and the test suite.  A check builds :class:`Case` objects (arguments, the expected
answer from an independent reference, and what known mistakes would answer),
and :func:`run_cases` calls the learner's code on each under the guards, compares,
and turns the first problem into a short :class:`CheckResult`.  A check of a model
factory describes a :class:`ModelScenario` instead (see ``models``).

Modules, one concern each:

* ``results``  — outcomes, :class:`CheckResult`, :class:`CheckFailed`, the verdict line's format and its parser;
* ``guards``   — time limit, refused functions, own random state, counting torch operations;
* ``course_code`` — the course's own code refused while the learner's code runs (a trace function), what
                    a check hands the learner, the hooks it marks as its own;
* ``cases``    — :class:`Case` and the seeded helpers case builders share;
* ``compare``  — NaN-safe comparison of tensors, integers and tuples, naming the mistake an answer matches;
* ``runner``   — calling the learner under the guards and the case loop;
* ``answers``  — the cases' answers held back until the learner's code returned;
* ``models``   — model scenarios: the learner's model against the reference with the same weights;
* ``building`` — building the learner's model (on the meta device), and the reference's random values.
"""

from .cases import Case, Mistake, answered, generator, later, once, pair, randn, shape_of
from .compare import (clone, compare_int, compare_parts, compare_tensor, equal_tensors, matching_mistake,
                      mistakes_of, same)
from .course_code import Work, callback, count_work, no_more_work_on_more_pixels, refuse_course_code, untraced_dispatch
from .guards import (DOES_THE_WORK, REIMPLEMENTED, Forbidden, Refusal, TimeUp, count_torch_ops, forbid,
                     own_random_state, time_limit)
from .results import (INCORRECT, NOT_ATTEMPTED, OUTCOMES, PASSED, RAISED, UNCHECKABLE, CheckFailed, CheckResult,
                      Verdict, parse_hint, parse_verdict, verdict_line)
from .messages import Messages
from .building import build_learner_model, randomize_
from .models import (EVAL, TRAIN, WEIGHTS_BY_KEYS, WEIGHTS_BY_STRUCTURE, ModelCase, ModelMistake, ModelScenario,
                     check_model)
from .runner import call_learner, finish, learner_line, run_cases

__all__ = ["Case", "Mistake", "answered", "later", "once", "Messages", "matching_mistake", "mistakes_of", "EVAL", "TRAIN", "WEIGHTS_BY_KEYS",
           "WEIGHTS_BY_STRUCTURE", "ModelCase", "ModelMistake", "ModelScenario", "build_learner_model", "check_model",
           "randomize_", "generator", "pair", "randn", "shape_of", "clone", "compare_int", "compare_parts",
           "compare_tensor", "equal_tensors", "same", "Forbidden", "Refusal", "REIMPLEMENTED", "DOES_THE_WORK", "TimeUp", "callback", "count_torch_ops", "count_work", "Work", "no_more_work_on_more_pixels", "forbid",
           "own_random_state", "refuse_course_code", "time_limit", "untraced_dispatch", "INCORRECT", "NOT_ATTEMPTED", "OUTCOMES", "PASSED", "RAISED",
           "UNCHECKABLE", "CheckFailed", "CheckResult", "Verdict", "parse_hint", "parse_verdict", "verdict_line",
           "call_learner", "finish", "learner_line", "run_cases"]
