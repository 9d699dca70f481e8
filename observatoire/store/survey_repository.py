"""SQL of count-night operations: live submissions, corrections, training mode, coverage.

Like `repository`, every function takes an open `Session` and the caller owns the
transaction; `observatoire.countnight` decides what runs in which transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from observatoire.store.survey_tables import (
    CampaignOptionRow,
    ObservationRevisionRow,
    ObservationSubmissionRow,
    PracticeObservationRow,
)
from observatoire.store.tables import (
    CampaignRow,
    ObservationRow,
    SectorReportRow,
    SectorRow,
    TeamRow,
    TerritoryRow,
)

# Observation fields with a column of their own; every other answer goes to ``answers``.
COLUMN_FIELDS = ("situation", "sex", "age_band", "sleeping_place")


@dataclass(frozen=True)
class TeamContext:
    """What a volunteer's team code opens: the team, its campaign and its sectors."""

    team_id: int
    team_code: str
    team_name: str
    team_size: int
    campaign_id: int
    campaign_name: str
    campaign_status: str
    night_date: dt.date
    questionnaire_version: str
    territory_slug: str
    training: bool
    sectors: dict[str, tuple[int, str]]  # sector code -> (id, commune code)
    codes_opened_at: dt.datetime | None = None


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def team_context(session: Session, team_code: str) -> TeamContext | None:
    row = session.execute(
        select(
            TeamRow.id, TeamRow.code, TeamRow.name, TeamRow.size,
            CampaignRow.id, CampaignRow.name, CampaignRow.status, CampaignRow.night_date,
            CampaignRow.questionnaire_version, TerritoryRow.slug, CampaignOptionRow.training,
            CampaignOptionRow.codes_opened_at,
        )  # fmt: skip
        .join(CampaignRow, TeamRow.campaign_id == CampaignRow.id)
        .join(TerritoryRow, CampaignRow.territory_id == TerritoryRow.id)
        .outerjoin(CampaignOptionRow, CampaignOptionRow.campaign_id == CampaignRow.id)
        .where(TeamRow.code == team_code)
    ).first()
    if row is None:
        return None
    sectors = session.execute(
        select(SectorRow.code, SectorRow.id, SectorRow.commune_code)
        .where(SectorRow.team_id == row[0])
        .order_by(SectorRow.code)
    ).all()
    return TeamContext(
        team_id=row[0], team_code=row[1], team_name=row[2], team_size=row[3],
        campaign_id=row[4], campaign_name=row[5], campaign_status=row[6], night_date=row[7],
        questionnaire_version=row[8], territory_slug=row[9], training=bool(row[10]),
        sectors={code: (sid, commune) for code, sid, commune in sectors},
        codes_opened_at=row[11],
    )  # fmt: skip


def campaign_sector(session: Session, campaign_id: int, sector_code: str) -> tuple[int, str] | None:
    row = session.execute(
        select(SectorRow.id, SectorRow.commune_code).where(
            SectorRow.campaign_id == campaign_id, SectorRow.code == sector_code
        )
    ).first()
    return (row[0], row[1]) if row else None


def campaign_status(session: Session, campaign_id: int, *, for_share: bool = False) -> str:
    """The campaign's status; ``for_share`` waits for (and then sees) a concurrent lock."""
    statement = select(CampaignRow.status).where(CampaignRow.id == campaign_id)
    if for_share:
        statement = statement.with_for_update(read=True)
    return session.scalar(statement)


def insert_observation(
    session: Session, values: Mapping[str, Any], *, questionnaire_version: str, source: str,
    warnings: list[dict[str, Any]],
) -> int | None:
    """Insert one observation; ``None`` when its ``submission_uuid`` is already stored."""
    statement = (
        _insert(session)(ObservationRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["submission_uuid"])
        .returning(ObservationRow.id)
    )
    new_id = session.execute(statement).scalar()
    if new_id is not None:
        session.add(
            ObservationSubmissionRow(
                observation_id=new_id, questionnaire_version=questionnaire_version,
                source=source, warnings=warnings, revision=0,
            )
        )
        session.flush()
    return new_id


def insert_practice(session: Session, values: Mapping[str, Any]) -> int | None:
    statement = (
        _insert(session)(PracticeObservationRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["submission_uuid"])
        .returning(PracticeObservationRow.id)
    )
    return session.execute(statement).scalar()


def observation_id(session: Session, submission_uuid: str) -> int | None:
    return session.scalar(
        select(ObservationRow.id).where(ObservationRow.submission_uuid == submission_uuid)
    )


def team_tally(session: Session, team_id: int, *, practice: bool = False) -> int:
    table = PracticeObservationRow if practice else ObservationRow
    return session.scalar(select(func.count()).select_from(table).where(table.team_id == team_id))


def upsert_sector_report(
    session: Session, campaign_id: int, sector_id: int, team_id: int, status: str,
    people_met: int, reported_at: dt.datetime,
) -> None:
    values = {
        "campaign_id": campaign_id, "sector_id": sector_id, "team_id": team_id,
        "status": status, "people_met": people_met, "reported_at": reported_at,
    }  # fmt: skip
    statement = _insert(session)(SectorReportRow).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["sector_id"],
        set_={k: statement.excluded[k] for k in ("team_id", "status", "people_met",
                                                 "reported_at")},
    )
    session.execute(statement)


# --- corrections ---------------------------------------------------------------------------


def observation_with_meta(session: Session, obs_id: int):
    return session.execute(
        select(ObservationRow, ObservationSubmissionRow)
        .outerjoin(
            ObservationSubmissionRow, ObservationSubmissionRow.observation_id == ObservationRow.id
        )
        .where(ObservationRow.id == obs_id)
    ).first()


def observation_fields(row: ObservationRow) -> dict[str, Any]:
    """All answers of an observation, columns and ``answers`` together."""
    fields = {name: getattr(row, name) for name in COLUMN_FIELDS}
    fields.update(row.answers or {})
    return {k: v for k, v in fields.items() if v is not None}


def apply_correction(
    session: Session, row: ObservationRow, meta: ObservationSubmissionRow | None,
    values: Mapping[str, Any], warnings: list[dict[str, Any]], *, actor: str, reason: str,
    questionnaire_version: str,
) -> int:
    """Replace the answers of ``row`` with ``values`` and keep the change in history."""
    before = observation_fields(row)
    for name in COLUMN_FIELDS:
        setattr(row, name, values.get(name))
    row.answers = {k: v for k, v in values.items() if k not in COLUMN_FIELDS}
    if meta is None:
        meta = ObservationSubmissionRow(
            observation_id=row.id, questionnaire_version=questionnaire_version,
            source="import", warnings=[], revision=0,
        )
        session.add(meta)
    meta.revision = (meta.revision or 0) + 1
    meta.warnings = warnings
    session.add(
        ObservationRevisionRow(
            observation_id=row.id, revision=meta.revision, actor=actor, reason=reason,
            before=before, after=dict(values),
        )
    )
    session.flush()
    return meta.revision


def revisions(session: Session, obs_id: int) -> list[ObservationRevisionRow]:
    return list(
        session.scalars(
            select(ObservationRevisionRow)
            .where(ObservationRevisionRow.observation_id == obs_id)
            .order_by(ObservationRevisionRow.revision)
        )
    )


def team_observations(session: Session, team_id: int) -> list[tuple]:
    """(observation, submission meta, sector code) of a team, latest first."""
    return list(
        session.execute(
            select(ObservationRow, ObservationSubmissionRow, SectorRow.code)
            .outerjoin(
                ObservationSubmissionRow,
                ObservationSubmissionRow.observation_id == ObservationRow.id,
            )
            .join(SectorRow, SectorRow.id == ObservationRow.sector_id)
            .where(ObservationRow.team_id == team_id)
            .order_by(ObservationRow.collected_at.desc(), ObservationRow.id.desc())
        ).all()
    )


# --- campaign switches ---------------------------------------------------------------------


def campaign_option(session: Session, campaign_id: int) -> CampaignOptionRow:
    row = session.get(CampaignOptionRow, campaign_id)
    if row is None:
        row = CampaignOptionRow(campaign_id=campaign_id, training=False)
        session.add(row)
        session.flush()
    return row


def lock_campaign(session: Session, campaign_id: int, actor: str, at: dt.datetime) -> None:
    # FOR UPDATE waits for submissions in flight (they hold FOR SHARE on the campaign).
    session.execute(select(CampaignRow.id).where(CampaignRow.id == campaign_id).with_for_update())
    set_campaign_status(session, campaign_id, "locked")
    option = campaign_option(session, campaign_id)
    option.locked_at, option.locked_by, option.updated_at = at, actor, at


def set_campaign_status(session: Session, campaign_id: int, status: str) -> None:
    session.execute(update(CampaignRow).where(CampaignRow.id == campaign_id).values(status=status))


def delete_practice(session: Session, campaign_id: int) -> int:
    result = session.execute(
        delete(PracticeObservationRow).where(PracticeObservationRow.campaign_id == campaign_id)
    )
    return result.rowcount or 0


def practice_count(session: Session, campaign_id: int) -> int:
    return session.scalar(
        select(func.count())
        .select_from(PracticeObservationRow)
        .where(PracticeObservationRow.campaign_id == campaign_id)
    )


# --- coverage and sheets -------------------------------------------------------------------


def sector_rows(session: Session, campaign_id: int) -> list[tuple]:
    """(sector code, commune code, geometry WKB, team code, team name, report status,
    people reported, reported at, observations stored) for every sector of a campaign."""
    counts = (
        select(ObservationRow.sector_id, func.count().label("n"))
        .where(ObservationRow.campaign_id == campaign_id)
        .group_by(ObservationRow.sector_id)
        .subquery()
    )
    return list(
        session.execute(
            select(
                SectorRow.code, SectorRow.commune_code, SectorRow.geometry_wkb, TeamRow.code,
                TeamRow.name, SectorReportRow.status, SectorReportRow.people_met,
                SectorReportRow.reported_at, func.coalesce(counts.c.n, 0),
            )  # fmt: skip
            .outerjoin(TeamRow, TeamRow.id == SectorRow.team_id)
            .outerjoin(SectorReportRow, SectorReportRow.sector_id == SectorRow.id)
            .outerjoin(counts, counts.c.sector_id == SectorRow.id)
            .where(SectorRow.campaign_id == campaign_id)
            .order_by(SectorRow.code)
        ).all()
    )


def campaign_observations(session: Session, campaign_id: int) -> list[ObservationRow]:
    return list(
        session.scalars(
            select(ObservationRow)
            .where(ObservationRow.campaign_id == campaign_id)
            .order_by(ObservationRow.submission_uuid)
        )
    )


def campaign_teams(session: Session, campaign_id: int) -> list[TeamRow]:
    return list(
        session.scalars(select(TeamRow).where(TeamRow.campaign_id == campaign_id)
                        .order_by(TeamRow.name))
    )


def get_campaign(session: Session, campaign_id: int) -> CampaignRow:
    from observatoire.store.repository import NotFoundError

    row = session.get(CampaignRow, campaign_id)
    if row is None:
        raise NotFoundError(f"Campagne introuvable : n°{campaign_id}.")
    return row


def all_team_codes(session: Session) -> set[str]:
    return set(session.scalars(select(TeamRow.code)))


def sector_codes_by_id(session: Session, campaign_id: int) -> dict[int, str]:
    return dict(
        session.execute(
            select(SectorRow.id, SectorRow.code).where(SectorRow.campaign_id == campaign_id)
        ).all()
    )


def earlier_sector_counts(session: Session, campaign_id: int, nights: int = 3) -> dict[str, float]:
    """Sector code -> mean people met on the (at most ``nights``) earlier nights of the same
    territory that had a sector of that code (the density of a sector, night after night)."""
    campaign = session.get(CampaignRow, campaign_id)
    earlier = list(session.scalars(
        select(CampaignRow.id)
        .where(CampaignRow.territory_id == campaign.territory_id,
               CampaignRow.night_date < campaign.night_date)
        .order_by(CampaignRow.night_date.desc())
        .limit(nights)
    ))
    if not earlier:
        return {}
    rows = session.execute(
        select(SectorRow.code, func.count(ObservationRow.id))
        .outerjoin(ObservationRow, ObservationRow.sector_id == SectorRow.id)
        .where(SectorRow.campaign_id.in_(earlier))
        .group_by(SectorRow.campaign_id, SectorRow.code)
    ).all()
    frame = pd.DataFrame(rows, columns=["code", "people"])
    return frame.groupby("code")["people"].mean().to_dict()


def minimise_observations_before(session: Session, cutoff: dt.date) -> dict[str, int]:
    """Strip the records of count nights held before ``cutoff`` down to what the published
    tables count: the coded columns, the commune and sector, and the profile answers
    (`indicators_repository.PROFILE_ANSWERS`). Deleted: every other answer (free comment,
    initials, birth year, health...), the position, the time of the sighting (set to the
    night), the warnings, the correction history, the links to partner records and the
    practice entries. Returns what was deleted."""
    from observatoire.store.indicators_repository import PROFILE_ANSWERS
    from observatoire.store.linkage_tables import ObservationPersonRow

    old_campaigns = select(CampaignRow.id).where(CampaignRow.night_date < cutoff)
    old = select(ObservationRow.id).where(ObservationRow.campaign_id.in_(old_campaigns))
    revisions = session.execute(
        delete(ObservationRevisionRow).where(ObservationRevisionRow.observation_id.in_(old))
    ).rowcount
    session.execute(
        update(ObservationSubmissionRow)
        .where(ObservationSubmissionRow.observation_id.in_(old))
        .values(warnings=[])
    )
    links = session.execute(
        delete(ObservationPersonRow).where(ObservationPersonRow.observation_id.in_(old))
    ).rowcount
    practice = session.execute(
        delete(PracticeObservationRow).where(PracticeObservationRow.campaign_id.in_(old_campaigns))
    ).rowcount
    minimised = 0
    rows = session.execute(
        select(ObservationRow, CampaignRow.night_date)
        .join(CampaignRow, CampaignRow.id == ObservationRow.campaign_id)
        .where(CampaignRow.night_date < cutoff)
    ).all()
    for row, night_date in rows:
        night = dt.datetime.combine(night_date, dt.time(0), tzinfo=dt.UTC)
        kept = {k: v for k, v in (row.answers or {}).items() if k in PROFILE_ANSWERS}
        stamp = row.collected_at if row.collected_at.tzinfo else row.collected_at.replace(
            tzinfo=dt.UTC)
        if (kept == (row.answers or {}) and row.latitude is None and row.longitude is None
                and stamp == night):
            continue
        row.answers, row.latitude, row.longitude = kept, None, None
        row.collected_at = row.received_at = night
        minimised += 1
    session.flush()
    return {
        "fiches_de_nuit_minimisees": minimised,
        "corrections_supprimees": revisions or 0,
        "liens_supprimes": links or 0,
        "fiches_entrainement_supprimees": practice or 0,
    }
