"""Territories, their communes and their count nights as the pages read them: services that
take an `Engine` (`observatoire.store.repository` speaks the SQL)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
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


@dataclass(frozen=True)
class HomePageData:
    territory_name: str
    campaign_name: str | None
    night_date: dt.date | None
    communes: gpd.GeoDataFrame  # code, nom, population, personnes, pour_10000, geometry
    summary: dict[str, int]


def home_page_data(engine: Engine, territory_slug: str) -> HomePageData:
    """The territory's communes with the latest count night's figures, for the home map."""
    with Session(engine) as session:
        territory = repository.get_territory(session, territory_slug)
        communes = repository.territory_communes(session, territory_slug)
        campaigns = repository.list_campaigns(session, territory_slug)
        latest = campaigns[0] if campaigns else None
        counts = (
            repository.observation_counts_by_commune(session, latest.id)
            if latest
            else pd.DataFrame(columns=["code", "personnes"])
        )
        summary = repository.campaign_summary(session, latest.id) if latest else {}
        communes = communes.merge(counts, on="code", how="left")
        communes["personnes"] = communes["personnes"].fillna(0).astype(int)
        communes["pour_10000"] = (
            communes["personnes"] / communes["population"].where(communes["population"] > 0)
        ) * 10_000
        return HomePageData(
            territory_name=territory.name,
            campaign_name=latest.name if latest else None,
            night_date=latest.night_date if latest else None,
            communes=communes,
            summary=summary,
        )
