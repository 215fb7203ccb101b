"""Proof that each notebook's message table (``course_utils/checks/messages/<module>.py``) and its check
module agree: every text is used, every key a check names exists, and the texts are well formed.

The check modules name their texts by literal keys (``M("conv2d.general")``,
``M.mistake("conv2d.flipped", answer)``, or a key computed from a literal prefix such as
``f"atrous.{variant}"``); this reads the module's source, so a text nobody shows, or a key with
no text, is caught without running a check.
"""

from __future__ import annotations

import importlib
import pathlib
import re
import string

import pytest

from course_utils.checks.registry import NOTEBOOKS

MESSAGES_DIR = pathlib.Path(importlib.import_module("course_utils.checks.messages").__file__).parent
TABLES = [module for module in NOTEBOOKS.values() if (MESSAGES_DIR / f"{module}.py").exists()]


def _table(module):
    return importlib.import_module(f"course_utils.checks.messages.{module}").M


def _source(module) -> str:
    """The check module's source (a module, or every file of a package)."""
    spec = importlib.import_module(f"course_utils.checks.{module}")
    path = pathlib.Path(spec.__file__)
    files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
    return "\n".join(f.read_text() for f in files)


def _literal_keys(source: str) -> set[str]:
    return set(re.findall(r"""["']([a-z0-9_]+\.[a-z0-9_.]+)["']""", source))


def test_every_notebook_with_checks_has_a_table():
    """Does every notebook's check module keep its texts in a message table?"""
    assert set(TABLES) == set(NOTEBOOKS.values())


@pytest.mark.parametrize("module", TABLES)
def test_every_text_is_used_and_every_key_has_a_text(module):
    """Is each key of the table named in the check module (literally, or as a literal prefix of a computed
    key), and does each literal key of the form "exercise.what" in the module exist in the table?"""
    table, source = _table(module), _source(module)
    keys = set(table.keys())
    used = _literal_keys(source)
    prefixes = set(re.findall(r"""f["']([a-z0-9_]+\.)\{""", source))
    unused = sorted(k for k in keys if k not in used and not any(k.startswith(p) for p in prefixes))
    assert not unused, f"texts no check shows: {unused}"
    exercises = {k.split(".")[0] for k in keys}
    unknown = sorted(k for k in used if k.split(".")[0] in exercises and k not in keys)
    assert not unknown, f"keys with no text: {unknown}"


@pytest.mark.parametrize("module", TABLES)
def test_texts_are_sentences_with_named_placeholders(module):
    """Is every text a non-empty sentence, without stray whitespace, whose placeholders are named?"""
    for key, text in _table(module).texts.items():
        assert re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_.]+", key), key
        assert text and text == text.strip() and "  " not in text, key
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        assert all(f and not f.isdigit() for f in fields), (key, fields)
