"""Repositories: read and write domain data. Every function takes an open `Session`;
the caller owns the transaction (``with session.begin(): ...``), so a whole import or a
whole sample build commits or rolls back as one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from observatoire.model import (
    CampaignStatus,
    ContactSituation,
    ObservatoireError,
    Territory,
    valider_code_commune,
)
from observatoire.store.tables import (
    AuditLogRow,
    CampaignRow,
    CommuneRow,
    ObservationRow,
    SectorReportRow,
    SectorRow,
    TeamRow,
    TerritoryRow,
)


class NotFoundError(ObservatoireError):
    """A territory, campaign or team that the database does not hold."""


# --- territories ---------------------------------------------------------------------------


def save_territory(
    session: Session, territory: Territory, parent_codes: Mapping[str, str] | None = None
) -> TerritoryRow:
    """Insert ``territory`` or replace the communes of the one with the same slug."""
    row = session.scalar(select(TerritoryRow).where(TerritoryRow.slug == territory.slug))
    if row is None:
        row = TerritoryRow(slug=territory.slug)
        session.add(row)
    row.name = territory.name
    row.kind = territory.kind.value
    row.epci_code = territory.epci_code
    row.cog_year = territory.cog_year
    parents = parent_codes or {}
    # Old communes go first: the ORM would otherwise insert the new rows before deleting
    # the orphans, and trip the (territory, code) unique constraint.
    row.communes.clear()
    session.flush()
    row.communes.extend(
        CommuneRow(
            code=c.code,
            name=c.name,
            population=c.population,
            cog_year=c.cog_year,
            parent_code=parents.get(c.code),
            geometry_wkb=c.geometry_wkb,
        )
        for c in territory.communes
    )
    session.flush()
    return row


def get_territory(session: Session, slug: str) -> TerritoryRow:
    row = session.scalar(select(TerritoryRow).where(TerritoryRow.slug == slug))
    if row is None:
        known = ", ".join(t.slug for t in list_territories(session)) or "aucun"
        raise NotFoundError(
            f"Territoire inconnu : {slug!r}. Territoires enregistrés : {known}. "
            "Importez-le avec `observatoire territory import`."
        )
    return row


def list_territories(session: Session) -> list[TerritoryRow]:
    return list(session.scalars(select(TerritoryRow).order_by(TerritoryRow.name)))


def commune_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of communes by INSEE code (codes of no stored territory are left out)."""
    codes = sorted({c for c in codes if c})
    if not codes:
        return {}
    return dict(session.execute(
        select(CommuneRow.code, CommuneRow.name).where(CommuneRow.code.in_(codes))
    ).all())


def territory_communes(session: Session, slug: str) -> gpd.GeoDataFrame:
    """The communes of a territory with their geometry (EPSG:4326)."""
    territory = get_territory(session, slug)
    rows = session.execute(
        select(
            CommuneRow.code,
            CommuneRow.name,
            CommuneRow.population,
            CommuneRow.parent_code,
            CommuneRow.geometry_wkb,
        )
        .where(CommuneRow.territory_id == territory.id)
        .order_by(CommuneRow.code)
    ).all()
    frame = pd.DataFrame(rows, columns=["code", "nom", "population", "parent_code", "wkb"])
    geometry = shapely.from_wkb(frame.pop("wkb").to_numpy())
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


# --- campaigns, teams, sectors -------------------------------------------------------------


def create_campaign(
    session: Session,
    territory_slug: str,
    name: str,
    night_date: dt.date,
    questionnaire_version: str,
    status: CampaignStatus = CampaignStatus.PLANNED,
) -> CampaignRow:
    territory = get_territory(session, territory_slug)
    row = CampaignRow(
        territory_id=territory.id,
        name=name,
        night_date=night_date,
        questionnaire_version=questionnaire_version,
        status=status.value,
    )
    session.add(row)
    session.flush()
    return row


def list_campaigns(session: Session, territory_slug: str) -> list[CampaignRow]:
    territory = get_territory(session, territory_slug)
    return list(
        session.scalars(
            select(CampaignRow)
            .where(CampaignRow.territory_id == territory.id)
            .order_by(CampaignRow.night_date.desc())
        )
    )


def add_teams(session: Session, campaign: CampaignRow, teams: pd.DataFrame) -> dict[str, int]:
    """Store teams (columns ``team_code``, ``team_name``, ``size``); returns code -> id."""
    rows = [
        TeamRow(campaign_id=campaign.id, code=t.team_code, name=t.team_name, size=int(t.size))
        for t in teams.itertuples(index=False)
    ]
    session.add_all(rows)
    session.flush()
    return {r.code: r.id for r in rows}


def add_sectors(
    session: Session,
    campaign: CampaignRow,
    sectors: gpd.GeoDataFrame,
    team_of_sector: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Store sectors (``sector_code``, ``commune_code``, geometry); returns code -> id."""
    teams = team_of_sector or {}
    wkbs = shapely.to_wkb(sectors.geometry.to_crs("EPSG:4326").to_numpy())
    rows = [
        SectorRow(
            campaign_id=campaign.id,
            code=code,
            commune_code=valider_code_commune(commune),
            team_id=teams.get(code),
            geometry_wkb=wkb,
        )
        for code, commune, wkb in zip(
            sectors["sector_code"], sectors["commune_code"], wkbs, strict=True
        )
    ]
    session.add_all(rows)
    session.flush()
    return {r.code: r.id for r in rows}


# --- observations --------------------------------------------------------------------------

OBSERVATION_COLUMNS = (
    "submission_uuid",
    "sector_code",
    "team_code",
    "commune_code",
    "situation",
    "sex",
    "age_band",
    "sleeping_place",
    "collected_at",
    "latitude",
    "longitude",
)
# Never stored with an observation: ground truth of the synthetic sample.
_NOT_ANSWERS = frozenset(OBSERVATION_COLUMNS) | {"person_id"}


def add_observations(
    session: Session,
    campaign: CampaignRow,
    observations: Iterable[Mapping[str, Any]],
    sector_ids: Mapping[str, int],
    team_ids: Mapping[str, int],
    received_at: dt.datetime | None = None,
) -> int:
    """Insert observations, ignoring any whose ``submission_uuid`` is already stored.

    Returns how many were new. Columns outside `OBSERVATION_COLUMNS` go to ``answers``.
    """
    received = received_at or dt.datetime.now(dt.UTC)
    values = []
    for obs in observations:
        values.append(
            {
                "campaign_id": campaign.id,
                "submission_uuid": str(obs["submission_uuid"]),
                "sector_id": sector_ids[obs["sector_code"]],
                "team_id": team_ids[obs["team_code"]],
                "commune_code": valider_code_commune(obs["commune_code"]),
                "situation": ContactSituation(obs["situation"]).value,
                "sex": _clean(obs.get("sex")),
                "age_band": _clean(obs.get("age_band")),
                "sleeping_place": _clean(obs.get("sleeping_place")),
                "collected_at": _as_datetime(obs["collected_at"]),
                "received_at": received,
                "latitude": _clean(obs.get("latitude")),
                "longitude": _clean(obs.get("longitude")),
                "answers": {
                    k: _json_value(v)
                    for k, v in obs.items()
                    if k not in _NOT_ANSWERS and _clean(v) is not None
                },
            }
        )
    if not values:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ObservationRow)
        .on_conflict_do_nothing(index_elements=["submission_uuid"])
        .returning(ObservationRow.id)
    )
    inserted = 0
    # Chunked so that SQLite's bound-parameter limit is never reached.
    for start in range(0, len(values), 500):
        inserted += len(session.execute(statement, values[start : start + 500]).all())
    return inserted


# A person who says they already answered tonight was counted by another team.
_COUNTED = ObservationRow.situation != ContactSituation.ALREADY_ANSWERED.value


def observation_counts_by_commune(session: Session, campaign_id: int) -> pd.DataFrame:
    """People met per commune on a count night (columns ``code``, ``personnes``), not
    counting those who had already answered another team."""
    rows = session.execute(
        select(ObservationRow.commune_code, func.count())
        .where(ObservationRow.campaign_id == campaign_id, _COUNTED)
        .group_by(ObservationRow.commune_code)
    ).all()
    return pd.DataFrame(rows, columns=["code", "personnes"])


def campaign_summary(session: Session, campaign_id: int) -> dict[str, int]:
    """Headline figures of a count night: people met, interviewed, sectors walked (and
    planned), teams."""
    count = lambda *where: session.scalar(  # noqa: E731 - local shorthand
        select(func.count()).select_from(ObservationRow).where(
            ObservationRow.campaign_id == campaign_id, *where
        )
    )
    return {
        "personnes": count(_COUNTED),
        "questionnaires": count(ObservationRow.situation == ContactSituation.INTERVIEWED.value),
        # Walked sectors (a report received), not the planned ones.
        "secteurs": session.scalar(
            select(func.count(func.distinct(SectorReportRow.sector_id)))
            .where(SectorReportRow.campaign_id == campaign_id)
        ),
        "secteurs_prevus": session.scalar(
            select(func.count()).select_from(SectorRow).where(SectorRow.campaign_id == campaign_id)
        ),
        "secteurs_sans_personne": session.scalar(
            select(func.count())
            .select_from(SectorReportRow)
            .where(SectorReportRow.campaign_id == campaign_id, SectorReportRow.people_met == 0)
        ),
        "equipes": session.scalar(
            select(func.count()).select_from(TeamRow).where(TeamRow.campaign_id == campaign_id)
        ),
    }


# --- audit ---------------------------------------------------------------------------------


def record_audit(session: Session, actor: str, action: str, **details: Any) -> None:
    session.add(AuditLogRow(actor=actor, action=action, details=details))


# --- helpers -------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """``None`` for the many spellings of missing (NaN, NaT, empty string)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _json_value(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, dt.date | dt.datetime | pd.Timestamp):
        return value.isoformat()
    return value


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if value.tzinfo is None:
        # Count nights are in metropolitan France; naive times are local times.
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo("Europe/Paris"))
    return value
