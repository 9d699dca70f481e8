"""Territories, their communes and their count nights as the pages read them: services that
take an `Engine` (`observatoire.store.repository` speaks the SQL)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.model import CampaignStatus
from observatoire.store import repository


@dataclass(frozen=True)
class CampaignChoice:
    """A count night of a territory, as a select box shows it."""

    id: int
    name: str
    night_date: dt.date
    status: CampaignStatus

    @property
    def label(self) -> str:
        """« Nom — 31/01/2026 (Ouverte) »."""
        return f"{self.name} — {self.night_date:%d/%m/%Y} ({self.status.label})"


def territories(engine: Engine) -> dict[str, str]:
    """Slug -> name of the stored territories, by name."""
    with Session(engine) as session:
        return {t.slug: t.name for t in repository.list_territories(session)}


def communes(engine: Engine, slug: str) -> gpd.GeoDataFrame:
    """The communes of territory ``slug``: ``code``, ``nom``, ``population``,
    ``parent_code`` and their geometry (EPSG:4326); `NotFoundError` naming the stored
    territories when ``slug`` is unknown."""
    with Session(engine) as session:
        return repository.territory_communes(session, slug)


def commune_names(engine: Engine, slug: str) -> dict[str, str]:
    """INSEE code -> name of the communes of territory ``slug``, by code."""
    frame = communes(engine, slug)
    return dict(zip(frame["code"], frame["nom"], strict=True))


def campaigns(engine: Engine, slug: str) -> list[CampaignChoice]:
    """The count nights of territory ``slug``, newest night first."""
    with Session(engine) as session:
        return [CampaignChoice(c.id, c.name, c.night_date, CampaignStatus(c.status))
                for c in repository.list_campaigns(session, slug)]  # fmt: skip
