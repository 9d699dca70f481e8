"""The README documents what a user can type: every command of the command line, every type
of a feed format's field and every key of a format file (as datasette's documentation tests
do). A command, type or key added without its line in the README fails here."""

from __future__ import annotations

import argparse
import re
import typing
from pathlib import Path

import pytest

from observatoire.cli import build_parser
from observatoire.feeds.cells import READERS, STATEFUL_TYPES
from observatoire.feeds.formats import FeedFormat, FieldSpec, FieldType

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
CODE_SPANS = re.findall(r"`([^`\n]+)`", README) + re.findall(r"```.*?```", README, re.S)


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """Every command that runs something, as its words (``("feed", "import")``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words = (*prefix, name)
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _commands(sub, words)
                else:
                    yield words


COMMANDS = sorted(_commands(build_parser()))


def _documented_command(words: tuple[str, ...]) -> bool:
    """``observatoire feed undo`` in a code span, or ``feed undo`` after another command of
    the same group (``... feed list` / `feed undo ID``)."""
    written = " ".join(words)
    return any(f"observatoire {written}" in span or span.startswith(written)
               for span in CODE_SPANS)


def test_the_parser_has_the_commands_this_test_reads():
    assert ("feed", "import") in COMMANDS and ("link",) in COMMANDS
    assert len(COMMANDS) > 20


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_is_in_the_readme(words):
    assert _documented_command(words), (
        f"`observatoire {' '.join(words)}` n'apparaît pas dans le README : ajoutez-la au "
        "tableau *Command line*.")


def test_a_command_missing_from_the_readme_is_seen():
    assert not _documented_command(("feed", "teleport"))


def test_every_field_type_has_a_reader():
    assert set(typing.get_args(FieldType)) == set(READERS) | STATEFUL_TYPES


@pytest.mark.parametrize("kind", typing.get_args(FieldType))
def test_every_field_type_is_in_the_readme(kind):
    row = next(line for line in README.splitlines() if line.startswith("| `fields.<field>.type`"))
    assert f"`{kind}`" in row


KEYS = sorted(FeedFormat.model_fields) + sorted(f"fields.<field>.{k}" for k in
                                                FieldSpec.model_fields)


def _format_table() -> list[str]:
    """The code spans of the README's table of a format file's keys."""
    lines = README.splitlines()
    start = lines.index("| key | meaning |")
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return re.findall(r"`([^`]+)`", "\n".join(rows))


def _documented_key(key: str, spans: list[str]) -> bool:
    """``key`` (``fields.<field>.X`` for a field's) as a code span of the table, a field's
    key also as ``X`` or ``X: ...`` (``strict: true``)."""
    name = key.rsplit(".", 1)[-1]
    if key.startswith("fields."):
        return any(span in (key, name) or span.startswith(f"{name}:") for span in spans)
    return any(span == key or span.startswith(f"{key}.") for span in spans)


def test_a_key_missing_from_the_table_is_seen():
    spans = _format_table()
    assert _documented_key("fields.<field>.strict", spans)
    assert not _documented_key("fields.<field>.teleport", spans)
    assert not _documented_key("columns", spans)  # a field's key, not a format's


@pytest.mark.parametrize("key", KEYS)
def test_every_format_key_is_in_the_readme(key):
    assert _documented_key(key, _format_table()), (
        f"La clé {key} des formats n'est pas dans le tableau *Formats* du README.")
