"""The figures staff type in (« Chiffres saisis »), as the page uses them: services that
take an `Engine` and run one transaction each (`observatoire.evaluation.stored` checks the
figures, `observatoire.store.evaluation_repository` stores them)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.evaluation import stored
from observatoire.indicators.catalogue import load_catalogue
from observatoire.store import evaluation_repository, repository


@dataclass(frozen=True)
class EntryChoices:
    """What a figure may be entered for on a territory: ``indicators`` (id -> « Libellé
    (id) », the catalogue entries computed from the data left out) and ``communes``
    (INSEE code -> name)."""

    indicators: dict[str, str]
    communes: dict[str, str]


def entry_choices(engine: Engine, territory_slug: str) -> EntryChoices:
    """The indicators and communes of the entry form (`NotFoundError` for an unknown
    territory)."""
    catalogue = load_catalogue()
    with Session(engine) as session:
        units = stored.indicator_units(session, territory_slug)
        territory = repository.get_territory(session, territory_slug)
        communes = {c.code: c.name for c in territory.communes}
    indicators = {i: f"{catalogue[i].label} ({i})" if i in catalogue else i
                  for i in units if i not in catalogue or catalogue[i].hand_entered}  # fmt: skip
    return EntryChoices(indicators, communes)


def enter_figure(engine: Engine, territory_slug: str, indicator_id: str, year: int,
                 value: float | None, *, actor: str, **details) -> None:  # noqa: ANN003
    """One figure (``quarter``, ``commune_code``, ``source``, ``comment`` optional), a new
    entry in the history."""
    with Session(engine) as session, session.begin():
        stored.enter_figure(session, territory_slug, indicator_id, year, value, actor=actor,
                            **details)  # fmt: skip


def import_figures(engine: Engine, territory_slug: str, file_name: str, data: bytes, *,
                   actor: str) -> int:
    """The uploaded spreadsheet ``data`` (named ``file_name``: ``.xlsx`` or ``.csv``)
    imported as `stored.import_figures` does, all rows or none (`SheetImportError`).
    Returns the rows stored."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(file_name).name
        path.write_bytes(data)
        with Session(engine) as session, session.begin():
            return stored.import_figures(session, territory_slug, path, actor=actor)


def figure_history(engine: Engine, territory_slug: str) -> pd.DataFrame:
    """Every entry of the territory, oldest first (corrections included)."""
    with Session(engine) as session:
        return evaluation_repository.figure_history(session, territory_slug)
