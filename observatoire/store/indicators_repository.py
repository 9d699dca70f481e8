"""Read the indicators' inputs from the database, and keep the convention's targets and
the figures staff enter. Frames come out with the columns `observatoire.indicators`
documents; a table that does not exist yet (a feature not installed) gives an empty frame.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from observatoire.model import ObservatoireError
from observatoire.store import repository
from observatoire.store.indicators_tables import IndicatorTargetRow, IndicatorValueRow
from observatoire.store.tables import (
    CampaignRow,
    CommuneRow,
    ObservationRow,
    PersonRow,
    SectorReportRow,
    SectorRow,
    SourceRecordRow,
)

# Questionnaire answers the profile indicators read (stored in ``observation.answers``).
PROFILE_ANSWERS = ("household", "children_count", "homeless_duration", "calls_115")


def _frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(statement).all(), columns=columns)


def load_inputs(
    session: Session, territory_slug: str, *, with_feeds: bool = True
) -> dict[str, pd.DataFrame]:
    """Every input frame of `observatoire.indicators.IndicatorInputs` for a territory.

    ``with_feeds=False`` skips the partner records (the public pages do not need them).
    """
    territory = repository.get_territory(session, territory_slug)
    frames: dict[str, pd.DataFrame] = {}
    frames["communes"] = _frame(
        session,
        select(CommuneRow.code, CommuneRow.name, CommuneRow.population)
        .where(CommuneRow.territory_id == territory.id)
        .order_by(CommuneRow.code),
        ["code", "nom", "population"],
    )
    campaigns = _frame(
        session,
        select(
            CampaignRow.id,
            CampaignRow.name,
            CampaignRow.night_date,
            CampaignRow.questionnaire_version,
            CampaignRow.status,
        )
        .where(CampaignRow.territory_id == territory.id)
        .order_by(CampaignRow.night_date),
        ["campaign_id", "name", "night_date", "method", "status"],
    )
    frames["campaigns"] = campaigns
    ids = [int(i) for i in campaigns["campaign_id"]]
    frames["observations"] = _observations(session, ids)
    frames["sectors"] = _frame(
        session,
        select(SectorRow.campaign_id, SectorRow.code, SectorRow.commune_code).where(
            SectorRow.campaign_id.in_(ids)
        ),
        ["campaign_id", "sector_code", "commune_code"],
    )
    frames["sector_reports"] = _frame(
        session,
        select(SectorReportRow.campaign_id, SectorRow.code, SectorReportRow.people_met)
        .join(SectorRow, SectorRow.id == SectorReportRow.sector_id)
        .where(SectorReportRow.campaign_id.in_(ids)),
        ["campaign_id", "sector_code", "people_met"],
    )
    frames["place_tallies"] = _place_tallies(session, campaigns)
    if with_feeds:
        codes = set(frames["communes"]["code"])
        frames.update(_feeds(session, codes))
    frames["values"] = _frame(
        session,
        select(IndicatorValueRow.indicator_id, IndicatorValueRow.year, IndicatorValueRow.value)
        .where(IndicatorValueRow.territory_id == territory.id),
        ["indicator_id", "year", "value"],
    )
    frames["targets"] = targets(session, territory_slug)
    return frames


def _observations(session: Session, campaign_ids: list[int]) -> pd.DataFrame:
    columns = ["campaign_id", "commune_code", "sector_code", "situation", "sex", "age_band",
               "sleeping_place", "answers"]  # fmt: skip
    frame = _frame(
        session,
        select(
            ObservationRow.campaign_id,
            ObservationRow.commune_code,
            SectorRow.code,
            ObservationRow.situation,
            ObservationRow.sex,
            ObservationRow.age_band,
            ObservationRow.sleeping_place,
            ObservationRow.answers,
        )
        .join(SectorRow, SectorRow.id == ObservationRow.sector_id)
        .where(ObservationRow.campaign_id.in_(campaign_ids)),
        columns,
    )
    answers = frame.pop("answers")
    for key in PROFILE_ANSWERS:
        frame[key] = [a.get(key) if isinstance(a, dict) else None for a in answers]
    return frame


def _place_tallies(session: Session, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Partner tallies of each campaign's night (table ``place_tally`` of the feeds)."""
    columns = ["campaign_id", "place_kind", "people", "commune_code"]
    try:
        from observatoire.store.feeds_tables import PlaceTallyRow
    except ImportError:  # the feeds are not installed
        return pd.DataFrame(columns=columns)
    if campaigns.empty:
        return pd.DataFrame(columns=columns)
    try:
        rows = _frame(
            session,
            select(
                PlaceTallyRow.night_date,
                PlaceTallyRow.campaign,
                PlaceTallyRow.place_kind,
                PlaceTallyRow.people_count,
                PlaceTallyRow.commune_code,
            ).where(PlaceTallyRow.night_date.in_(list(campaigns["night_date"]))),
            ["night_date", "campaign", "place_kind", "people", "commune_code"],
        )
    except SQLAlchemyError:  # table not migrated yet on this database
        session.rollback()
        return pd.DataFrame(columns=columns)
    # A tally belongs to the campaign of its night (several territories may share a night:
    # the commune, when given, must then be one of the territory's).
    by_night = dict(zip(campaigns["night_date"], campaigns["campaign_id"], strict=False))
    rows["campaign_id"] = rows["night_date"].map(by_night)
    return rows.dropna(subset=["campaign_id"])[columns].reset_index(drop=True)


def _feeds(session: Session, commune_codes: set[str]) -> dict[str, pd.DataFrame]:
    """Linked records, SI-SIAO orientations and 115 calls from ``source_record``."""
    linked = _frame(
        session,
        select(
            SourceRecordRow.source,
            SourceRecordRow.person_id,
            PersonRow.confidence,
            SourceRecordRow.last_contact,
            SourceRecordRow.commune_code,
        ).outerjoin(PersonRow, PersonRow.id == SourceRecordRow.person_id),
        ["source", "person_id", "confidence", "date", "commune_code"],
    )
    # Records of other territories stay out; records without a commune stay in.
    linked = linked[linked["commune_code"].isna() | linked["commune_code"].isin(commune_codes)]
    frames = {"linked_records": linked.reset_index(drop=True)}
    frames["orientations"] = _attributes(
        session, "si_siao",
        {"date": ("date_orientation", "Date d'orientation", "date_demande", "Date de la demande"),
         "orientation": ("orientation", "Orientation"), "status": ("statut", "status", "Statut")},
    )  # fmt: skip
    frames["calls_115"] = _attributes(
        session, "appels_115",
        {"date": ("date", "date_appel", "Date et heure"), "answer": ("reponse", "Réponse",
         "answer"), "motive": ("motif", "Motif", "motive")},
    )  # fmt: skip
    return frames


def _attributes(
    session: Session, source: str, wanted: dict[str, tuple[str, ...]]
) -> pd.DataFrame:
    """Columns of one feed read from ``attributes`` (first key present wins), with the
    record's ``person_id`` and ``last_contact`` as fallbacks."""
    rows = session.execute(
        select(SourceRecordRow.person_id, SourceRecordRow.last_contact, SourceRecordRow.attributes)
        .where(SourceRecordRow.source == source)
    ).all()
    out: dict[str, list[Any]] = {name: [] for name in wanted}
    out["person_id"] = []
    for person_id, last_contact, attributes in rows:
        attributes = attributes or {}
        for name, keys in wanted.items():
            value = next((attributes[k] for k in keys if attributes.get(k) not in (None, "")),
                         None)  # fmt: skip
            if name == "date" and value is None:
                value = last_contact
            out[name].append(value)
        out["person_id"].append(person_id)
    frame = pd.DataFrame(out)
    if "date" in frame and not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"], errors="coerce", dayfirst=True,
                                       format="mixed")  # fmt: skip
    if frame.empty or all(frame[c].isna().all() for c in wanted if c != "date"):
        return frame.iloc[0:0]
    return frame


def feed_record_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(SourceRecordRow)) or 0)


# --- targets and staff-entered values ---------------------------------------------------------


def targets(session: Session, territory_slug: str) -> pd.DataFrame:
    """The convention's targets: ``indicator_id``, ``year``, ``target``, ``convention``."""
    territory = repository.get_territory(session, territory_slug)
    return _frame(
        session,
        select(
            IndicatorTargetRow.indicator_id,
            IndicatorTargetRow.year,
            IndicatorTargetRow.target,
            IndicatorTargetRow.convention,
        )
        .where(IndicatorTargetRow.territory_id == territory.id)
        .order_by(IndicatorTargetRow.indicator_id, IndicatorTargetRow.year),
        ["indicator_id", "year", "target", "convention"],
    )


def _check_indicator(indicator_id: str) -> None:
    from observatoire.indicators.catalogue import load_catalogue

    load_catalogue()[indicator_id]  # raises with the list of valid ids


def set_target(
    session: Session,
    territory_slug: str,
    indicator_id: str,
    year: int,
    target: float | None,
    *,
    actor: str,
    convention: str | None = None,
) -> None:
    """Set (or with ``target=None`` remove) a yearly target; written to the audit log."""
    _set_yearly(session, IndicatorTargetRow, "target", territory_slug, indicator_id, year,
                target, actor, convention=convention)  # fmt: skip


def set_value(
    session: Session,
    territory_slug: str,
    indicator_id: str,
    year: int,
    value: float | None,
    *,
    actor: str,
    source: str | None = None,
) -> None:
    """Set (or remove) a yearly figure entered by staff; written to the audit log."""
    _set_yearly(session, IndicatorValueRow, "value", territory_slug, indicator_id, year,
                value, actor, source=source)  # fmt: skip


def _set_yearly(session, table, column, territory_slug, indicator_id, year, number, actor,
                **extra) -> None:  # fmt: skip
    _check_indicator(indicator_id)
    if not 1990 <= int(year) <= 2100:
        raise ObservatoireError(f"Année invalide : {year} (attendue entre 1990 et 2100).")
    territory = repository.get_territory(session, territory_slug)
    where = (
        table.territory_id == territory.id,
        table.indicator_id == indicator_id,
        table.year == int(year),
    )
    if number is None:
        session.execute(delete(table).where(*where))
    else:
        row = session.scalar(select(table).where(*where))
        if row is None:
            row = table(territory_id=territory.id, indicator_id=indicator_id, year=int(year))
            session.add(row)
        setattr(row, column, float(number))
        for key, value in extra.items():
            setattr(row, key, value)
        row.updated_by = actor
        row.updated_at = dt.datetime.now(dt.UTC)
    repository.record_audit(
        session, actor, f"indicator.{column}", territory=territory_slug,
        indicator=indicator_id, year=int(year), **{column: number},
    )  # fmt: skip
    session.flush()


def replace_targets(
    session: Session, territory_slug: str, frame: pd.DataFrame, *, actor: str
) -> int:
    """Store the targets edited in a table (``indicator_id``, ``year``, ``target``,
    optional ``convention``): rows removed from the table are deleted. Returns the count."""
    current = targets(session, territory_slug)
    kept = frame.dropna(subset=["indicator_id", "year", "target"])
    keys = {(r.indicator_id, int(r.year)) for r in kept.itertuples()}
    for r in current.itertuples():
        if (r.indicator_id, int(r.year)) not in keys:
            set_target(session, territory_slug, r.indicator_id, int(r.year), None, actor=actor)
    for r in kept.itertuples():
        convention = getattr(r, "convention", None)
        set_target(session, territory_slug, r.indicator_id, int(r.year), float(r.target),
                   actor=actor, convention=convention if isinstance(convention, str) else None)
    return len(kept)
