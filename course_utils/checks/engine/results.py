"""What a check found, and the one line that says so.

A check's verdict is a :class:`CheckResult`.  Its first line,
``"<check>: <outcome> — <summary>"``, is the format the grader reads back from
a graded cell's output: :func:`verdict_line` writes it and
:func:`parse_verdict` reads it, here side by side, so the two can never
drift apart.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cases import Case

# The five outcomes a learner can see.
PASSED = "passed"
INCORRECT = "not yet correct"
NOT_ATTEMPTED = "not attempted"
RAISED = "your code raised"
UNCHECKABLE = "cannot be checked"

OUTCOMES = (PASSED, INCORRECT, NOT_ATTEMPTED, RAISED, UNCHECKABLE)

_ICONS = {PASSED: "✅", INCORRECT: "❌", NOT_ATTEMPTED: "⏳", RAISED: "💥", UNCHECKABLE: "⚠️"}
_COLOURS = {PASSED: "#2e7d32", INCORRECT: "#c62828", NOT_ATTEMPTED: "#6d6d6d",
            RAISED: "#c62828", UNCHECKABLE: "#ef6c00"}

# The verdict line: "<check>: <outcome> — <summary>".  In a strict failure's
# traceback IPython shows it after "CheckFailed: ".
_VERDICT = re.compile(r"^(?:CheckFailed: )?(\w+): (" + "|".join(re.escape(o) for o in OUTCOMES) + r") — (.*)$")
_HINT = re.compile(r"^\s*hint: (.*)$")


def verdict_line(check: str, outcome: str, summary: str) -> str:
    """The first line of every verdict; :func:`parse_verdict` reads it back."""
    return f"{check}: {outcome} — {summary}"


def parse_verdict(line: str) -> tuple[str, str, str] | None:
    """``(check, outcome, summary)`` of a verdict line, or None if ``line`` is not one."""
    match = _VERDICT.match(line)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def parse_hint(line: str) -> str | None:
    """The hint of a verdict's ``hint:`` line, or None."""
    match = _HINT.match(line)
    return match.group(1) if match else None


@dataclass
class CheckResult:
    """What a check found.  Truthy only when the check passed.

    It renders itself in a notebook (HTML) and as plain text, so the last
    expression of a cell, ``print(result)`` and a terminal all show the same
    few lines.
    """

    check: str
    outcome: str
    summary: str
    case: str | None = None
    evidence: list[str] = field(default_factory=list)
    hint: str | None = None
    next_step: str | None = None
    # the key of the known mistake the hint names (engine.messages), None for a general hint; not shown
    mistake: str | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return self.outcome == PASSED

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    def lines(self) -> list[str]:
        out = [verdict_line(self.check, self.outcome, self.summary)]
        if self.case:
            out.append(f"  case: {self.case}")
        out += [f"  {line}" for line in self.evidence]
        if self.hint:
            out.append(f"  hint: {self.hint}")
        if self.next_step:
            out.append(f"  next: {self.next_step}")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        def e(text: str) -> str:  # escape, then show `code` spans as code
            return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))

        colour = _COLOURS[self.outcome]
        rows = [f"<b>{_ICONS[self.outcome]} <code>{html.escape(self.check)}</code>: "
                f"<span style='color:{colour}'>{e(self.outcome)}</span></b> — {e(self.summary)}"]
        if self.case:
            rows.append(f"<b>case</b>: <code>{html.escape(self.case)}</code>")
        rows += [e(line) for line in self.evidence]
        if self.hint:
            rows.append(f"<b>hint</b>: {e(self.hint)}")
        if self.next_step:
            rows.append(f"<b>next</b>: {e(self.next_step)}")
        body = "<br>".join(rows)
        return (f"<div class='course-check' data-outcome='{html.escape(self.outcome)}' "
                f"style='border-left:4px solid {colour};padding:4px 10px;margin:4px 0'>{body}</div>")


class CheckFailed(AssertionError):
    """Raised by a check called with ``strict=True`` when it did not pass.

    It subclasses ``AssertionError`` so that nbgrader withholds the points,
    and it renders as the check's few lines instead of a traceback through
    the course's internals (IPython honours ``_render_traceback_``).
    """

    def __init__(self, result: CheckResult):
        super().__init__(result.text())
        self.result = result

    def _render_traceback_(self) -> list[str]:
        return [f"CheckFailed: {self.result.lines()[0]}"] + self.result.lines()[1:]


class Verdict(Exception):
    """Internal: carries a finished result out of the case loop.

    ``case`` and ``got`` are set when a wrong answer may be explained by a
    known mistake, so the hint can be chosen across all cases.
    """

    def __init__(self, result: CheckResult, case: Case | None = None, got: Any = None):
        self.result = result
        self.case = case
        self.got = got
