"""The command line's shared parts: the French parser, command groups, common options.

Every command module (`observatoire.cli`, ``cli_feeds``, ``cli_linkage``...) builds its
subcommands with these; none imports another command module for them, so that the command
line has no import cycle (`observatoire.cli` adds each module's commands).
"""

from __future__ import annotations

import argparse
import os
import sys


class FrenchHelpFormatter(argparse.RawDescriptionHelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):  # noqa: ANN001 - argparse API
        return super().add_usage(
            usage, actions, groups, "usage : " if prefix is None else prefix
        )


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` that speaks French and never prints a traceback."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - argparse API
        kwargs.setdefault("formatter_class", FrenchHelpFormatter)
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument(
            "-h", "--help", action="help", default=argparse.SUPPRESS,
            help="affiche cette aide et quitte",
        )

    def error(self, message: str) -> None:  # type: ignore[override]
        for english, french in _ARGPARSE_MESSAGES:
            message = message.replace(english, french)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n"
                     f"Aide : {self.prog} --help\n")


_ARGPARSE_MESSAGES = (
    ("the following arguments are required", "arguments obligatoires manquants"),
    ("unrecognized arguments", "arguments non reconnus"),
    ("invalid choice", "choix invalide"),
    ("choose from", "choix possibles"),
    ("invalid int value", "nombre entier invalide"),
    ("expected one argument", "une valeur est attendue"),
)


def command_group(commands, name: str, *, help: str, description: str):  # noqa: ANN001
    """Add the command ``name`` holding subcommands; returns the subparsers to add them to.

    Every group speaks French (`Parser`) and requires one of its subcommands.
    """
    group = commands.add_parser(name, help=help, description=description)
    subcommands = group.add_subparsers(
        title="commandes", dest=f"{name}_command", metavar="COMMANDE", parser_class=Parser
    )
    subcommands.required = True
    return subcommands


def Session(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201, N802 - sqlalchemy's Session
    """`sqlalchemy.orm.Session`, imported when a command runs: ``observatoire --help``
    builds every command's parser and must not import SQLAlchemy's ORM for it."""
    from sqlalchemy.orm import Session as _Session

    return _Session(*args, **kwargs)


def territory_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--territory",
        metavar="SLUG",
        default=os.environ.get("OBSERVATOIRE_TERRITORY", "dijon-metropole"),
        help="territoire (dijon-metropole, aix-marseille-provence, paris ou un territoire "
        "importé ; dijon-metropole par défaut)",
    )


def audit_cli_export(kind: str, args: argparse.Namespace, engine=None, **details) -> None:  # noqa: ANN001
    """Write a file written by a command to the audit log, under ``--actor`` or the
    operating-system user (the configured database is opened when the command has none)."""
    from observatoire.exports import cli_actor, record_export

    if engine is None:
        from observatoire.config import load_settings
        from observatoire.pipeline import open_database

        engine = open_database(load_settings())
    record_export(engine, cli_actor(getattr(args, "actor", None)), kind, **details)
