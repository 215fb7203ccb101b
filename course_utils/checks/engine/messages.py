"""Messages as data: each notebook's verdict texts and hints in one table.

A check module never spells a hint inline; it names it by key in its
notebook's :class:`Messages` table (``course_utils/checks/messages/<module>.py``),
so that every text can be read in one place, tested for truthfulness (each
key is used, each use has a key), and one day translated.  Keys are
``"<exercise>.<what>"``; texts may hold ``{placeholders}`` filled from the case.

A known mistake is declared once, where its answer is computed, as
``M.mistake(key, answer)``: the key ties it to its text here, and a verdict
that matched it carries the key (``CheckResult.mistake``), which is what the
catalogue tests compare.
"""

from __future__ import annotations

from typing import Any

from .cases import Mistake


class Messages:
    """One notebook's texts by key.  ``M("conv2d.general")`` is the text; ``M.mistake(key, answer)`` a mistake."""

    def __init__(self, notebook: str, texts: dict[str, str]):
        self.notebook = notebook
        self.texts = dict(texts)

    def __call__(self, key: str, **values: Any) -> str:
        try:
            text = self.texts[key]
        except KeyError:
            raise KeyError(f"no message {key!r} in the table of {self.notebook}") from None
        return text.format(**values) if values else text

    def mistake(self, key: str, answer: Any, **values: Any) -> Mistake:
        """A known mistake: what it would answer on this case, and its hint (by key)."""
        return Mistake(key, answer, self(key, **values))

    def model_mistake(self, key: str, mutate, **values: Any):
        """A known wrong model: ``mutate`` turns a copy of the reference into it (``engine.models``)."""
        from .models import ModelMistake
        return ModelMistake(key, mutate, self(key, **values))

    def refusal(self, why: str, hint: str):
        """Why a check refuses a function while the learner's code runs (``engine.guards.Refusal``), by the keys
        of its two texts: the verdict's words after "called `{called}`," and its hint."""
        from .guards import Refusal
        return Refusal(self(why), self(hint))

    def keys(self) -> list[str]:
        return list(self.texts)
