"""Orchestration: the only module (with `cli`) that wires storage, geography and the sample.

Each step reports progress through a ``progress`` callable so that the command line can
show what it is doing on a long first run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from observatoire.config import Settings
from observatoire.model import CampaignStatus, TerritoryKind
from observatoire.store import repository
from observatoire.store.db import make_engine, upgrade_database
from observatoire.store.tables import CampaignRow, TerritoryRow

Progress = Callable[[str], None]

SAMPLE_CAMPAIGN_NAME = "Nuit de la Solidarité 2026 (échantillon synthétique)"
SAMPLE_NIGHT = dt.date(2026, 1, 29)
SAMPLE_QUESTIONNAIRE = "ndls-2026"
SAMPLE_SECTOR_SIZE_M = 1000.0


def _quiet(_message: str) -> None:
    pass


def open_database(settings: Settings, progress: Progress = _quiet) -> Engine:
    """An engine on the configured database, its schema brought up to date."""
    engine = make_engine(settings.database_url)
    progress("Mise à jour du schéma de la base de données")
    upgrade_database(engine)
    return engine


def import_reference_territory(session: Session, slug: str) -> TerritoryRow:
    """Store one of the territories shipped under ``data_samples/territoires``."""
    from observatoire.geo.territories import load_reference_territory, territory_model

    communes = load_reference_territory(slug)
    meta = communes.attrs["territory"]
    return import_territory(
        session,
        communes,
        slug=slug,
        name=meta["nom"],
        kind=TerritoryKind(meta["kind"]),
        epci_code=meta.get("epci_code"),
        cog_year=int(meta["cog_year"]),
        model_builder=territory_model,
    )


def import_territory(
    session: Session,
    communes: gpd.GeoDataFrame,
    *,
    slug: str,
    name: str,
    kind: TerritoryKind,
    epci_code: str | None,
    cog_year: int,
    model_builder: Callable[..., object] | None = None,
) -> TerritoryRow:
    """Store a territory read from a GeoDataFrame of communes (code, nom, population)."""
    if model_builder is None:
        from observatoire.geo.territories import territory_model as model_builder
    territory = model_builder(
        communes, slug=slug, name=name, kind=kind, epci_code=epci_code, cog_year=cog_year
    )
    parents = {}
    if "commune_parent" in communes:
        parents = {
            code: parent
            for code, parent in zip(communes["code"], communes["commune_parent"], strict=True)
            if isinstance(parent, str) and parent
        }
    return repository.save_territory(session, territory, parents)


@dataclass(frozen=True)
class SampleBuild:
    territory_slug: str
    campaign_id: int
    observations: int
    files: dict[str, Path]
    created: bool


def build_sample_database(
    settings: Settings,
    territory_slug: str = "dijon-metropole",
    *,
    seed: int = 2026,
    n_people: int | None = None,
    reset: bool = False,
    progress: Progress = _quiet,
) -> SampleBuild:
    """Load a reference territory and a synthetic count night into the database.

    Does nothing when the sample campaign is already there (unless ``reset``), so
    that ``observatoire demo`` starts at once the second time. Everything is written in
    one transaction: an interrupted build leaves no half-loaded campaign behind.
    """
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.synthetic import generate_sample, write_sample

    engine = open_database(settings, progress)
    with Session(engine) as session, session.begin():
        existing = _sample_campaign(session, territory_slug)
        if existing is not None and not reset:
            progress("Échantillon déjà présent dans la base : rien à refaire")
            return SampleBuild(territory_slug, existing.id, 0, {}, created=False)
        if existing is not None:
            progress("Suppression de l'échantillon précédent")
            _delete_campaign(session, existing)

        if _is_reference(territory_slug):
            progress(f"Chargement du territoire de référence {territory_slug}")
            import_reference_territory(session, territory_slug)
        else:
            progress(f"Territoire {territory_slug} lu dans la base")
        communes = repository.territory_communes(session, territory_slug)

        progress(f"Découpage en secteurs de {SAMPLE_SECTOR_SIZE_M:.0f} m")
        sectors = generate_grid_sectors(communes, SAMPLE_SECTOR_SIZE_M)

        progress(f"Génération de la population synthétique (graine {seed})")
        sample = generate_sample(
            communes, sectors, seed=seed, n_people=n_people, night_date=SAMPLE_NIGHT
        )
        output = settings.samples_dir / territory_slug
        progress(f"Écriture des fichiers partenaires dans {output}")
        files = write_sample(sample, output)

        progress("Enregistrement de la nuit de comptage")
        campaign = repository.create_campaign(
            session,
            territory_slug,
            SAMPLE_CAMPAIGN_NAME,
            SAMPLE_NIGHT,
            SAMPLE_QUESTIONNAIRE,
            CampaignStatus.LOCKED,
        )
        team_ids = repository.add_teams(session, campaign, sample.teams)
        walked = sectors[sectors["sector_code"].isin(sample.teams["sector_code"])]
        team_of_sector = {
            s: team_ids[t]
            for s, t in zip(sample.teams["sector_code"], sample.teams["team_code"], strict=True)
        }
        sector_ids = repository.add_sectors(session, campaign, walked, team_of_sector)
        repository.add_sector_reports(
            session, campaign, sample.sector_reports, sector_ids, team_ids
        )
        added = repository.add_observations(
            session,
            campaign,
            _records(sample.observations),
            sector_ids,
            team_ids,
            received_at=dt.datetime.combine(
                SAMPLE_NIGHT + dt.timedelta(days=1), dt.time(2), tzinfo=dt.UTC
            ),
        )
        repository.record_audit(
            session,
            "observatoire",
            "sample.build",
            territory=territory_slug,
            seed=seed,
            observations=added,
        )
        progress(f"{added} observations enregistrées sur {len(sector_ids)} secteurs parcourus")
        return SampleBuild(territory_slug, campaign.id, added, files, created=True)


def _is_reference(slug: str) -> bool:
    from observatoire.geo.territories import list_reference_territories

    return any(ref["slug"] == slug for ref in list_reference_territories())


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict(orient="records")


def _sample_campaign(session: Session, territory_slug: str) -> CampaignRow | None:
    return session.scalar(
        select(CampaignRow)
        .join(TerritoryRow, CampaignRow.territory_id == TerritoryRow.id)
        .where(TerritoryRow.slug == territory_slug, CampaignRow.name == SAMPLE_CAMPAIGN_NAME)
    )


def _delete_campaign(session: Session, campaign: CampaignRow) -> None:
    from sqlalchemy import delete

    from observatoire.store.tables import (
        ObservationRow,
        SectorReportRow,
        SectorRow,
        TeamRow,
    )

    for table in (ObservationRow, SectorReportRow, SectorRow, TeamRow):
        session.execute(delete(table).where(table.campaign_id == campaign.id))
    session.delete(campaign)
    session.flush()


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


def territory_choices(engine: Engine) -> dict[str, str]:
    """Slug -> name of the stored territories."""
    with Session(engine) as session:
        return {t.slug: t.name for t in repository.list_territories(session)}
