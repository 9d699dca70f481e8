"""The stored conventions as the pages use them: services that take an `Engine` and run
one transaction each (`observatoire.evaluation.stored` checks and versions a convention,
`observatoire.store.evaluation_repository` stores it), as `observatoire.evaluation.figures`
does for the figures staff type in."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.evaluation import stored
from observatoire.evaluation.convention import Convention
from observatoire.store import evaluation_repository


@dataclass(frozen=True)
class ConventionsOfTerritory:
    """The territory's stored conventions (every period, latest version of each) and every
    year a stored or shipped convention covers, latest first."""

    conventions: list[Convention]
    years: list[int]


@dataclass(frozen=True)
class ConventionHistory:
    """The stored versions of one period's convention (oldest first) and its targets,
    version by version (`stored.target_history`)."""

    versions: list[evaluation_repository.ConventionVersion]
    targets: pd.DataFrame


def conventions_of(engine: Engine, territory_slug: str) -> ConventionsOfTerritory:
    """`NotFoundError` for an unknown territory."""
    with Session(engine) as session:
        conventions = stored.stored_conventions(session, territory_slug)
    return ConventionsOfTerritory(conventions,
                                  stored.covered_years(conventions, territory_slug))


def convention_years(engine: Engine, territory_slug: str) -> list[int]:
    with Session(engine) as session:
        return stored.convention_years(session, territory_slug)


def seed_conventions(engine: Engine, territory_slug: str, *, actor: str) -> int:
    """Store the shipped conventions of the territory (their transcribed annexes)."""
    with Session(engine) as session, session.begin():
        return stored.seed_conventions(session, territory_slug, actor=actor)


def save_convention(engine: Engine, convention: Convention, *, actor: str,
                    note: str | None = None) -> int | None:
    """A new version of ``convention``; ``None`` when nothing changed."""
    with Session(engine) as session, session.begin():
        return stored.save_convention(session, convention, actor=actor, note=note)


def import_convention(engine: Engine, territory_slug: str, file_name: str, data: bytes, *,
                      actor: str, note: str | None = None,
                      year: int | None = None) -> tuple[Convention, int | None]:
    """The uploaded workbook or CSV ``data`` (named ``file_name``) imported as
    `stored.import_convention` does: a new version, or nothing (`SheetImportError`)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(file_name).name
        path.write_bytes(data)
        with Session(engine) as session, session.begin():
            return stored.import_convention(session, territory_slug, path, actor=actor,
                                            note=note, year=year)


def convention_history(engine: Engine, territory_slug: str, period: str) -> ConventionHistory:
    with Session(engine) as session:
        return ConventionHistory(
            evaluation_repository.convention_versions(session, territory_slug, period),
            stored.target_history(session, territory_slug, period))


def save_report_comments(engine: Engine, territory_slug: str, year: int,
                         comments: dict[str, str], *, actor: str) -> int | None:
    """The execution report's comment of each action for ``year`` in a new version of the
    convention (`stored.save_report_comments`); ``None`` when nothing changed."""
    with Session(engine) as session, session.begin():
        return stored.save_report_comments(session, territory_slug, year, comments,
                                           actor=actor)
