"""What the execution report reads, summed up as one version (`report_inputs_version`).

The report takes tens of seconds to build at a territory's size; it is built once per
version of its inputs (`observatoire.evaluation.prepared`). The version changes whenever a
row the report reads is added, removed or changed: counts, largest ids and latest update
times of its tables, each read by one narrow statement.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from observatoire.store import repository
from observatoire.store.access_tables import AppSettingRow
from observatoire.store.evaluation_tables import (
    ConventionVersionRow,
    IndicatorFigureRow,
    SharingAgreementRow,
)
from observatoire.store.feeds_tables import PlaceTallyRow
from observatoire.store.indicators_repository import feed_version
from observatoire.store.survey_tables import CampaignOptionRow, ObservationRevisionRow
from observatoire.store.tables import (
    CampaignRow,
    CommuneRow,
    ObservationRow,
    PublicationVersionRow,
    SectorReportRow,
    SectorRow,
)


def report_inputs_version(session: Session, territory_slug: str) -> tuple[str, ...]:
    """A value that changes when anything the territory's execution report reads changes:
    its nights (and their status), observations and their corrections, sector reports,
    partner tallies, partner records and linkage runs (`feed_version`), convention versions,
    entered figures, sharing register, publication settings and published versions."""
    territory = repository.get_territory(session, territory_slug)
    nights = select(CampaignRow.id).where(CampaignRow.territory_id == territory.id)
    statements = [
        select(func.count(), func.coalesce(func.max(CommuneRow.id), 0),
               func.coalesce(func.sum(CommuneRow.population), 0))
        .where(CommuneRow.territory_id == territory.id),
        select(func.count(), func.coalesce(func.max(ObservationRow.id), 0))
        .where(ObservationRow.campaign_id.in_(nights)),
        select(func.count(), func.coalesce(func.max(ObservationRevisionRow.id), 0)),
        select(func.count(), func.coalesce(func.max(SectorRow.id), 0))
        .where(SectorRow.campaign_id.in_(nights)),
        select(func.count(), func.max(SectorReportRow.reported_at),
               func.coalesce(func.sum(SectorReportRow.people_met), 0))
        .where(SectorReportRow.campaign_id.in_(nights)),
        select(func.count(), func.max(CampaignOptionRow.updated_at))
        .where(CampaignOptionRow.campaign_id.in_(nights)),
        select(func.count(), func.coalesce(func.max(PlaceTallyRow.id), 0)),
        select(func.count(), func.coalesce(func.max(ConventionVersionRow.id), 0))
        .where(ConventionVersionRow.territory_id == territory.id),
        select(func.count(), func.coalesce(func.max(IndicatorFigureRow.id), 0),
               func.max(IndicatorFigureRow.entered_at))
        .where(IndicatorFigureRow.territory_id == territory.id),
        select(func.count(), func.max(SharingAgreementRow.updated_at)),
        select(func.count(), func.max(AppSettingRow.updated_at)),
        # A published night's new version (a correction) changes the report's night figures.
        select(func.count(), func.coalesce(func.max(PublicationVersionRow.id), 0)),
    ]
    version = [str(v) for v in feed_version(session)]
    # A handful of nights: each one's status as is (publishing one changes the report).
    version.extend(f"{i}:{s}" for i, s in session.execute(
        select(CampaignRow.id, CampaignRow.status)
        .where(CampaignRow.territory_id == territory.id).order_by(CampaignRow.id)))
    for statement in statements:
        try:
            version.extend(str(v) for v in session.execute(statement).one())
        except SQLAlchemyError:  # a table not migrated on this database: no part
            session.rollback()
            version.append("-")
    return tuple(version)
