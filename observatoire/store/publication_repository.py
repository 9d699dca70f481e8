"""Count nights on their way to publication, and their published versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from observatoire.model import ContactSituation
from observatoire.store.repository import get_territory
from observatoire.store.tables import (
    CampaignRow,
    ObservationRow,
    PublicationVersionRow,
    SectorReportRow,
    SectorRow,
    TeamRow,
    TerritoryRow,
)


def list_nights(session: Session, territory_slug: str | None = None) -> pd.DataFrame:
    """One row per count night: ``campaign_id``, ``territoire``, ``name``, ``night_date``,
    ``status``, ``teams``, ``sectors``, ``walked``, ``version`` (latest published, 0 if none),
    ``published_at``, newest night first."""
    teams = (select(TeamRow.campaign_id, func.count().label("n"))
             .group_by(TeamRow.campaign_id).subquery())  # fmt: skip
    sectors = (select(SectorRow.campaign_id, func.count().label("n"))
               .group_by(SectorRow.campaign_id).subquery())  # fmt: skip
    walked = (select(SectorReportRow.campaign_id,
                     func.count(func.distinct(SectorReportRow.sector_id)).label("n"))
              .group_by(SectorReportRow.campaign_id).subquery())  # fmt: skip
    versions = (select(PublicationVersionRow.campaign_id,
                       func.max(PublicationVersionRow.version).label("v"),
                       func.max(PublicationVersionRow.published_at).label("at"))
                .group_by(PublicationVersionRow.campaign_id).subquery())  # fmt: skip
    statement = (
        select(CampaignRow.id, TerritoryRow.slug, CampaignRow.name, CampaignRow.night_date,
               CampaignRow.status, func.coalesce(teams.c.n, 0), func.coalesce(sectors.c.n, 0),
               func.coalesce(walked.c.n, 0), func.coalesce(versions.c.v, 0), versions.c.at)
        .join(TerritoryRow, TerritoryRow.id == CampaignRow.territory_id)
        .outerjoin(teams, teams.c.campaign_id == CampaignRow.id)
        .outerjoin(sectors, sectors.c.campaign_id == CampaignRow.id)
        .outerjoin(walked, walked.c.campaign_id == CampaignRow.id)
        .outerjoin(versions, versions.c.campaign_id == CampaignRow.id)
        .order_by(CampaignRow.night_date.desc(), CampaignRow.id.desc())
    )  # fmt: skip
    if territory_slug is not None:
        statement = statement.where(CampaignRow.territory_id == get_territory(
            session, territory_slug).id)  # fmt: skip
    columns = ["campaign_id", "territoire", "name", "night_date", "status", "teams", "sectors",
               "walked", "version", "published_at"]  # fmt: skip
    return pd.DataFrame(session.execute(statement).all(), columns=columns)


def add_version(
    session: Session, campaign_id: int, author: str, figures: dict[str, Any],
    note: str | None = None, at: dt.datetime | None = None,
) -> PublicationVersionRow:
    """Store the next version of a night's published figures (1 for the first)."""
    latest = session.scalar(select(func.max(PublicationVersionRow.version))
                            .where(PublicationVersionRow.campaign_id == campaign_id))  # fmt: skip
    row = PublicationVersionRow(
        campaign_id=campaign_id, version=(latest or 0) + 1, author=author, note=note,
        figures=figures, published_at=at or dt.datetime.now(dt.UTC),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def versions(session: Session, campaign_id: int) -> list[PublicationVersionRow]:
    """The published versions of a night, newest first."""
    return list(session.scalars(
        select(PublicationVersionRow).where(PublicationVersionRow.campaign_id == campaign_id)
        .order_by(PublicationVersionRow.version.desc())))  # fmt: skip


def latest_versions(session: Session, territory_slug: str) -> list[PublicationVersionRow]:
    """The latest version of every published night of a territory, newest night first."""
    territory = get_territory(session, territory_slug)
    latest = (select(PublicationVersionRow.campaign_id,
                     func.max(PublicationVersionRow.version).label("v"))
              .group_by(PublicationVersionRow.campaign_id).subquery())  # fmt: skip
    return list(session.scalars(
        select(PublicationVersionRow)
        .join(latest, (latest.c.campaign_id == PublicationVersionRow.campaign_id)
              & (latest.c.v == PublicationVersionRow.version))
        .join(CampaignRow, CampaignRow.id == PublicationVersionRow.campaign_id)
        .where(CampaignRow.territory_id == territory.id,
               CampaignRow.status == "published")
        .order_by(CampaignRow.night_date.desc())))  # fmt: skip


def street_records(session: Session, campaign_id: int) -> pd.DataFrame:
    """The people counted in the street on a night, one row each: ``commune_code``,
    ``record_id`` (the submission's uuid, stable: the source of a perturbation record key)."""
    rows = session.execute(
        select(ObservationRow.commune_code, ObservationRow.submission_uuid)
        .where(ObservationRow.campaign_id == campaign_id,
               ObservationRow.situation != ContactSituation.ALREADY_ANSWERED.value)
        .order_by(ObservationRow.id)
    ).all()  # fmt: skip
    return pd.DataFrame(rows, columns=["commune_code", "record_id"])
