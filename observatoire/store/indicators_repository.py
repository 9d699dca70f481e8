"""Read the indicators' inputs from the database, and keep the figures staff enter (the
convention's targets are in its versions: `evaluation_repository`). Frames come out with
the columns `observatoire.indicators` documents; a table that does not exist yet (a
feature not installed) gives an empty frame.

The partner feeds can hold hundreds of thousands of rows: the pages do not load them.
`cluster_summary`, `feed_counts` and `flow_contacts` aggregate them in the database
(``GROUP BY``) into what the indicators need; the pure functions of
`observatoire.indicators` on the rows `load_inputs` reads stay the reference (the tests
check both give the same figures). `feed_version` changes whenever the feeds or the
linkage change, so that callers may cache those aggregates until then.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Integer, String, case, cast, func, literal, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from observatoire.indicators import housing
from observatoire.indicators.dedup import COUNT_NIGHT_SOURCE, ClusterSummary
from observatoire.store import repository
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
    # Core rows turned into plain tuples: pandas builds a frame from SQLAlchemy rows several
    # times slower, and the ORM's row loading adds its own cost.
    rows = [tuple(row) for row in session.connection().execute(statement)]
    return pd.DataFrame(rows, columns=columns)


def load_inputs(
    session: Session, territory_slug: str, *, with_feeds: bool = True
) -> dict[str, pd.DataFrame]:
    """Every input frame of `observatoire.indicators.IndicatorInputs` for a territory.

    ``with_feeds=False`` skips the partner records, which may be hundreds of thousands of
    rows: the pages read their aggregates instead (`cluster_summary`, `feed_counts`,
    `flow_contacts`, `plan_inputs`).
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
    frames["place_tallies"] = _place_tallies(session, campaigns, list(frames["communes"]["code"]))
    if with_feeds:
        frames.update(_feeds(session, territory_slug))
    frames["values"] = entered_values(session, territory_slug)
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


def interviews(session: Session, campaign_ids: list[int]) -> pd.DataFrame:
    """The interviewed people of the nights ``campaign_ids`` with their rights answers
    (`observatoire.indicators.publics.RIGHTS_ANSWERS`): ``campaign_id``, ``night_date``,
    ``resources``, ``health_cover``. These answers are not `PROFILE_ANSWERS`: the
    minimisation of old nights deletes them, and those nights then have no such figure."""
    from observatoire.indicators.inputs import empty_frame
    from observatoire.indicators.publics import RIGHTS_ANSWERS
    from observatoire.model import ContactSituation

    columns = list(empty_frame("interviews").columns)
    if not campaign_ids:
        return pd.DataFrame(columns=columns)
    frame = _frame(
        session,
        select(ObservationRow.campaign_id, CampaignRow.night_date, ObservationRow.answers)
        .join(CampaignRow, CampaignRow.id == ObservationRow.campaign_id)
        .where(ObservationRow.campaign_id.in_(campaign_ids),
               ObservationRow.situation == ContactSituation.INTERVIEWED.value),
        ["campaign_id", "night_date", "answers"],
    )
    answers = frame.pop("answers")
    for key in RIGHTS_ANSWERS.values():
        frame[key] = [a.get(key) if isinstance(a, dict) else None for a in answers]
    return frame[columns]


def _place_tallies(
    session: Session, campaigns: pd.DataFrame, commune_codes: list[str]
) -> pd.DataFrame:
    """Partner tallies of each campaign's night (table ``place_tally`` of the feeds).

    Several territories may count on the same night: a tally located in a commune belongs
    to the territory of that commune only; a tally without a commune stays in (a partner
    serving the whole territory, a metro network)."""
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
            ).where(
                PlaceTallyRow.night_date.in_(list(campaigns["night_date"])),
                or_(PlaceTallyRow.commune_code.is_(None),
                    PlaceTallyRow.commune_code.in_(commune_codes)),
            ),
            ["night_date", "campaign", "place_kind", "people", "commune_code"],
        )
    except SQLAlchemyError:  # table not migrated yet on this database
        session.rollback()
        return pd.DataFrame(columns=columns)
    # A tally belongs to the campaign of its night.
    by_night = dict(zip(campaigns["night_date"], campaigns["campaign_id"], strict=False))
    rows["campaign_id"] = rows["night_date"].map(by_night)
    return rows.dropna(subset=["campaign_id"])[columns].reset_index(drop=True)


def _in_territory(session: Session, territory_slug: str, codes: list[str] | None = None):
    """Condition on ``source_record``: its commune is one of the territory's (or one of
    ``codes`` when given); without ``codes``, records without a commune stay in."""
    if codes:
        return SourceRecordRow.commune_code.in_(list(codes))
    territory = repository.get_territory(session, territory_slug)
    own = select(CommuneRow.code).where(CommuneRow.territory_id == territory.id)
    return or_(SourceRecordRow.commune_code.is_(None), SourceRecordRow.commune_code.in_(own))


def linked_records(
    session: Session, territory_slug: str, codes: list[str] | None = None
):  # noqa: ANN201 - a SQLAlchemy subquery
    """The territory's records as the linkage sees them, as a subquery (``kind``, ``id``,
    ``source``, ``person_id``, ``last_contact``, ``commune_code``): its partner records
    (``kind`` 0, `_in_territory`) and the sightings of its count nights that a linkage run
    gave a person (``kind`` 1, source ``nuit``, dated by their night; "already answered
    tonight" rows left out, as in the street count). A sighting entered since the last run
    has no person yet and waits for the next one (else every night's sightings would count
    as new people until then)."""
    from observatoire.model import ContactSituation
    from observatoire.store.linkage_tables import ObservationPersonRow

    territory = repository.get_territory(session, territory_slug)
    partners = select(
        literal(0).label("kind"),
        SourceRecordRow.id.label("id"),
        SourceRecordRow.source.label("source"),
        SourceRecordRow.person_id.label("person_id"),
        SourceRecordRow.last_contact.label("last_contact"),
        SourceRecordRow.commune_code.label("commune_code"),
    ).where(_in_territory(session, territory_slug, codes))
    night_conditions = [
        CampaignRow.territory_id == territory.id,
        ObservationRow.situation != ContactSituation.ALREADY_ANSWERED.value,
    ]
    if codes:
        night_conditions.append(ObservationRow.commune_code.in_(list(codes)))
    sightings = (
        select(
            literal(1),
            ObservationRow.id,
            literal(COUNT_NIGHT_SOURCE, String),
            ObservationPersonRow.person_id,
            CampaignRow.night_date,
            ObservationRow.commune_code,
        )
        .join(CampaignRow, CampaignRow.id == ObservationRow.campaign_id)
        .join(ObservationPersonRow, ObservationPersonRow.observation_id == ObservationRow.id)
        .where(*night_conditions)
    )
    return partners.union_all(sightings).subquery("linked_records")


def _feeds(session: Session, territory_slug: str) -> dict[str, pd.DataFrame]:
    """Linked records (partner rows and linked night sightings), SI-SIAO orientations and
    115 calls."""
    records = linked_records(session, territory_slug)
    linked = _frame(
        session,
        select(
            records.c.source,
            records.c.person_id,
            PersonRow.confidence,
            PersonRow.expected_people,
            records.c.last_contact,
            records.c.commune_code,
        )
        .outerjoin(PersonRow, PersonRow.id == records.c.person_id)
        .order_by(records.c.kind, records.c.id),
        ["source", "person_id", "confidence", "expected_people", "date", "commune_code"],
    )
    # Records of other territories stay out; records without a commune stay in.
    frames = {"linked_records": linked}
    frames.update(plan_inputs(session))
    return frames


def plan_inputs(session: Session, *, counting: bool = False) -> dict[str, pd.DataFrame]:
    """``orientations`` (SI-SIAO) and ``calls_115`` frames, for the *Logement d'abord*
    indicators and the moves to housing of the flows.

    ``counting=True`` leaves out the rows that count in none of them (orientations that are
    no move to housing, calls that are no shelter request; `observatoire.indicators.housing`):
    `feed_plan_values` and the flows are the same, and the rows left out, most of a SI-SIAO
    extract, never leave the database.
    """
    orientations, calls = housing.ORIENTATIONS_COUNTED, housing.CALLS_COUNTED
    return {
        "orientations": _plan_attributes(session, "si_siao", ["date", "orientation", "status"],
                                         orientations if counting else None),
        "calls_115": _plan_attributes(session, "appels_115", ["date", "answer", "motive"],
                                      calls if counting else None),
    }  # fmt: skip


def partner_rows(session: Session) -> pd.DataFrame:
    """The SI-SIAO requests and 115 calls with the attributes the conventions' groups read
    (`observatoire.indicators.publics.PARTNER_COLUMNS`; an attribute a partner's extract
    lacks is empty). Like `plan_inputs`, not kept by commune: the same for every
    territory."""
    from observatoire.indicators.publics import PARTNER_COLUMNS

    wanted = [c for c in PARTNER_COLUMNS if c not in ("source", "date", "person_id", "sex")]
    rows = session.execute(
        select(SourceRecordRow.source, SourceRecordRow.person_id, SourceRecordRow.sex,
               cast(SourceRecordRow.last_contact, String), SourceRecordRow.attributes)
        .where(SourceRecordRow.source.in_(("si_siao", "appels_115")))
        .order_by(SourceRecordRow.id)).all()
    frame = pd.DataFrame(
        [(source, (attributes or {}).get("contact_date") or last_contact, person, sex,
          *((attributes or {}).get(c) for c in wanted))
         for source, person, sex, last_contact, attributes in rows],
        columns=["source", "date", "person_id", "sex", *wanted])
    return frame[PARTNER_COLUMNS]


def _plan_attributes(
    session: Session, source: str, names: list[str], counted: housing.Counted | None
) -> pd.DataFrame:
    """The plan attributes of one feed (``source_record.plan_*``: date, label, status, see
    `observatoire.plan_attributes`) named ``names``, with the record's ``person_id``, and its
    ``last_contact`` for a date it lacks. ``counted``: the predicates on the label and on the
    status of the rows that can count (others are left out)."""
    label, status = SourceRecordRow.plan_label, SourceRecordRow.plan_status
    # A row without label nor status cannot count in an indicator: leave it in the database.
    conditions = [SourceRecordRow.source == source, or_(label.is_not(None), status.is_not(None))]
    if counted is not None:
        pairs = session.execute(select(label, status).where(*conditions).distinct()).all()
        for column, position, test in ((label, 0, counted[0]), (status, 1, counted[1])):
            if test is None:
                continue
            values = {pair[position] for pair in pairs} - {None}
            kept = sorted(v for v in values if test(v))
            if not kept:
                return pd.DataFrame(columns=[*names, "person_id"])
            conditions.append(column.in_(kept))
    frame = _frame(
        session,
        select(SourceRecordRow.plan_date, label, status, SourceRecordRow.person_id,
               cast(SourceRecordRow.last_contact, String))
        .where(*conditions)
        .order_by(SourceRecordRow.id),
        [*names, "person_id", "_last_contact"],
    )  # fmt: skip
    last_contact = frame.pop("_last_contact")
    if frame.empty:
        return frame
    frame[names[0]] = _partner_dates(frame[names[0]]).fillna(
        pd.to_datetime(last_contact, errors="coerce", format="ISO8601"))
    return frame


def _partner_dates(values: pd.Series) -> pd.Series:
    """Dates as partners write them: ISO (``2025-02-03``) or day first (``03/02/2025``)."""
    text = values.astype("string")
    iso = text.str.match(r"^\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
    dates = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for part, options in ((iso, {"format": "ISO8601"}),
                          (~iso, {"format": "mixed", "dayfirst": True})):  # fmt: skip
        if part.any():
            try:
                parsed = pd.to_datetime(text[part], errors="coerce", **options)
            except (ValueError, TypeError):  # offsets mixed with local times
                parsed = pd.to_datetime(text[part], errors="coerce", utc=True, **options)
            if getattr(parsed.dt, "tz", None) is not None:
                parsed = parsed.dt.tz_convert("Europe/Paris").dt.tz_localize(None)
            dates[part] = parsed
    return dates


# --- feed aggregates computed in the database -------------------------------------------------


def feed_version(session: Session) -> tuple[int, ...]:
    """A value that changes when partner records, people or linkage runs change (rows
    added, removed, re-linked or updated by an import): cache feed aggregates under it."""
    # One statement per figure: each reads the narrowest index that holds it (together,
    # SQLite would scan one index for all three, several times slower).
    parts = [
        select(func.count()).select_from(SourceRecordRow),
        select(func.coalesce(func.max(SourceRecordRow.id), 0)),
        select(func.count(SourceRecordRow.person_id)),
        select(func.count(), func.coalesce(func.max(PersonRow.id), 0)).select_from(PersonRow),
    ]
    version: list[int] = []
    for statement in parts:
        version.extend(int(v) for v in session.execute(statement).one())
    from observatoire.store.feeds_tables import FeedImportRow
    from observatoire.store.linkage_tables import LinkageRunRow

    # An import may also update records in place (SI-SIAO demands): each adds a batch; an
    # undone import may only give records their content of before: each is counted.
    for statement in (select(func.coalesce(func.max(FeedImportRow.id), 0)),
                      select(func.coalesce(func.max(LinkageRunRow.id), 0)),
                      select(func.count(FeedImportRow.undone_at))):
        try:
            version.append(int(session.scalar(statement)))
        except SQLAlchemyError:  # table not migrated yet
            session.rollback()
    return tuple(version)


def cluster_summary(
    session: Session,
    territory_slug: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    by_source: bool = True,
) -> ClusterSummary:
    """`observatoire.indicators.dedup.summarise_clusters` of the territory's linked records,
    computed with ``GROUP BY`` in the database (a few rows come back, whatever the feeds):
    who is known to whom. The estimate of distinct people is the linkage run's
    (`observatoire.store.linkage_repository.people_estimate`).

    ``by_source=False`` leaves ``by_source`` empty, a little faster (the dashboard's tiles
    do not show it)."""
    records = linked_records(session, territory_slug)
    conditions = []
    if start:
        conditions.append(records.c.last_contact >= start)
    if end:
        conditions.append(records.c.last_contact <= end)
    night = case((records.c.source == COUNT_NIGHT_SOURCE, 1), else_=0)
    sources = (sorted(session.scalars(select(records.c.source).distinct()))
               if by_source else [])  # fmt: skip
    # One pass over the records, grouped by person, then the person rows of the clusters
    # (joining first would look a person up for every record). Whether a cluster holds a
    # record of each source gives the people known to each source.
    clusters = (
        select(
            records.c.person_id,
            func.count().label("size"),
            func.max(night).label("night"),
            func.min(night).label("all_night"),
            *(func.max(case((records.c.source == name, 1), else_=0)).label(f"s{i}")
              for i, name in enumerate(sources)),
        )
        .where(records.c.person_id.is_not(None), *conditions)
        .group_by(records.c.person_id)
        .subquery()
    )  # fmt: skip
    multi = case((clusters.c.size > 1, 1), else_=0).label("multi")
    rows = session.execute(
        select(
            multi,
            func.count().label("clusters"),
            func.sum(clusters.c.size).label("records"),
            func.sum(clusters.c.night).label("night"),
            func.sum(clusters.c.all_night).label("all_night"),
            *(func.sum(clusters.c[f"s{i}"]).label(f"s{i}") for i in range(len(sources))),
        )
        .select_from(clusters)
        .group_by(multi)
    ).all()
    totals = {int(r.multi): r._mapping for r in rows}
    empty: dict[str, int] = {}
    many, one = totals.get(1, empty), totals.get(0, empty)

    def total(name: str) -> int:
        return int(many.get(name) or 0) + int(one.get(name) or 0)

    per_source = {name: total(f"s{i}") for i, name in enumerate(sources)}
    # A record linked to nobody is a person of its own, with no doubt about it.
    unlinked = dict(session.execute(
        select(records.c.source, func.count())
        .where(records.c.person_id.is_(None), *conditions)
        .group_by(records.c.source)
    ).all())  # fmt: skip
    if by_source:
        for name, count in unlinked.items():
            per_source[name] = per_source.get(name, 0) + int(count)
    unlinked_night = int(unlinked.get(COUNT_NIGHT_SOURCE, 0))
    unlinked = sum(int(v) for v in unlinked.values())
    per_source = {k: v for k, v in sorted(per_source.items()) if v}
    return ClusterSummary(
        records=total("records") + unlinked,
        linked=total("records"),
        multi=int(many.get("clusters") or 0),
        alone=int(one.get("clusters") or 0) + unlinked,
        by_source=per_source,
        met_on_night=total("night") + unlinked_night,
        unknown_to_partners=total("all_night") + unlinked_night,
    )


def feed_counts(
    session: Session, territory_slug: str, codes: list[str] | None = None
) -> dict[str, int]:
    """``records``, ``linked`` (with a person) and ``people`` (distinct persons) among the
    territory's linked records (`linked_records`: partner rows and linked night sightings; or
    those of communes ``codes``); ``duplicates`` = linked
    records that another record of the same person already counts."""
    rows = linked_records(session, territory_slug, codes)
    records, linked, people = session.execute(
        select(func.count(), func.count(rows.c.person_id),
               func.count(func.distinct(rows.c.person_id)))
    ).one()  # fmt: skip
    return {"records": int(records), "linked": int(linked), "people": int(people),
            "duplicates": int(linked) - int(people)}  # fmt: skip


def _epoch_days(session: Session, day):
    """Days since 1970-01-01 of a date column, as an integer (cheaper to read than dates)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(day) - 2440587.5, Integer)
    return day - literal(dt.date(1970, 1, 1))


def _month(session: Session, day):
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", day)
    return func.to_char(day, "YYYY-MM")


def flow_contacts(session: Session, territory_slug: str) -> pd.DataFrame:
    """``person_id``, ``date``, ``expected_people``: each linked person's last contact in
    each month, which is all `observatoire.indicators.flows.monthly_flows` reads of the
    contacts (the flows of these rows equal those of every contact), and how many people
    the linkage expects the person to be (`performance.first_time_homeless` weighs by it)."""
    records = linked_records(session, territory_slug)
    day = records.c.last_contact
    frame = _frame(
        session,
        select(records.c.person_id, func.max(_epoch_days(session, day)),
               func.max(PersonRow.expected_people))
        .outerjoin(PersonRow, PersonRow.id == records.c.person_id)
        .where(records.c.person_id.is_not(None), day.is_not(None))
        .group_by(records.c.person_id, _month(session, day)),
        ["person_id", "date", "expected_people"],
    )  # fmt: skip
    frame["date"] = pd.to_datetime(frame["date"].astype("int64"), unit="D")
    return frame


# --- staff-entered values -----------------------------------------------------------------


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
    """Enter (or with ``value=None`` withdraw) a yearly figure of the whole territory:
    a new entry of its history (`evaluation_repository.add_figure`), audited."""
    from observatoire.store.evaluation_repository import add_figure

    add_figure(session, territory_slug, indicator_id, year, value, actor=actor,
               source=source)


def entered_values(session: Session, territory_slug: str,
                   unit_of=None) -> pd.DataFrame:  # noqa: ANN001 - id -> unit
    """The yearly values of the figures staff entered (``indicator_id``, ``year``,
    ``value``; `observatoire.indicators.figures.yearly_values`), the units of the
    catalogue unless ``unit_of`` is given."""
    from observatoire.indicators.catalogue import load_catalogue
    from observatoire.indicators.figures import yearly_values
    from observatoire.store.evaluation_repository import current_figures

    if unit_of is None:
        catalogue = load_catalogue()
        unit_of = lambda i: catalogue[i].unit if i in catalogue else None  # noqa: E731
    try:
        current = current_figures(session, territory_slug)
    except SQLAlchemyError:  # table not migrated yet on this database
        session.rollback()
        return pd.DataFrame(columns=["indicator_id", "year", "value"])
    return yearly_values(current, unit_of)


def person_sources(session: Session, territory_slug: str) -> pd.DataFrame:
    """Each record of the territory as the last linkage left it: ``record_id``, ``source``,
    ``person_id`` (empty for a record linked to nobody), ``match_confidence`` (count-night
    sightings; partner rows keep none and read as certain) and ``expected_people`` (how many
    people the linkage expects its person to be, 1 when sure).

    Only the latest count night's sightings are kept: the partner files cover the period
    around it, and earlier nights (a year before, most often) would break the closed
    population the hidden-population estimate assumes."""
    from observatoire.store.linkage_tables import ObservationPersonRow

    linked = linked_records(session, territory_slug)
    frame = _frame(session, select(linked.c.kind, linked.c.id, linked.c.source,
                                   linked.c.person_id, linked.c.last_contact,
                                   PersonRow.expected_people)
                   .outerjoin(PersonRow, PersonRow.id == linked.c.person_id),
                   ["kind", "id", "source", "person_id", "night_date", "expected_people"])
    night = frame["kind"] == 1
    if night.any():
        latest = frame.loc[night, "night_date"].max()
        frame = frame[~night | (frame["night_date"] == latest)].reset_index(drop=True)
        night = frame["kind"] == 1
    confidence = dict(session.execute(
        select(ObservationPersonRow.observation_id, ObservationPersonRow.match_confidence)
    ).all())
    frame["match_confidence"] = 1.0
    frame.loc[night, "match_confidence"] = frame.loc[night, "id"].map(confidence).fillna(1.0)
    frame["expected_people"] = pd.to_numeric(frame["expected_people"]).fillna(1.0)
    frame["record_id"] = frame["kind"].astype(str) + ":" + frame["id"].astype(str)
    frame["person_id"] = frame["person_id"].astype("Int64").astype(str).replace("<NA>", "")
    return frame[["record_id", "source", "person_id", "match_confidence", "expected_people"]]
