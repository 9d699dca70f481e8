"""Aggregates of the partner records kept in the database for the staff dashboards: the
sums behind the de-duplicated estimate, the record counts, the monthly flows and the
*Logement d'abord* feed figures of each territory, computed once when the data change
instead of at each visit (over hundreds of thousands of ``source_record`` rows, that takes
seconds).

`refresh_feed_aggregates` recomputes them at the end of every operation that changes what
they count: a feed import, a purge, a linkage run, a territory saved. Each row keeps the
version of the data it was computed from (`indicators_repository.feed_version` and the
territory's communes); a reader that finds another version (rows written by hand or by an
older program) computes the figure from ``source_record`` instead, so a stale figure is
never shown. The figures are those of `observatoire.store.indicators_repository` (the tests
check both after import, linkage, split, purge and a territory saved again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from observatoire.indicators import IndicatorInputs
from observatoire.indicators import flows as compute_flows
from observatoire.indicators.compute import feed_plan_values
from observatoire.indicators.dedup import (
    ClusterSummary,
    DistinctEstimate,
    PeopleFigure,
    estimate_from_summary,
)
from observatoire.indicators.flows import INACTIVITY_CHOICES
from observatoire.store import indicators_repository as live
from observatoire.store.indicators_tables import FeedAggregateRow
from observatoire.store.tables import CommuneRow, TerritoryRow

CLUSTER_SUMMARY = "cluster_summary"
FEED_COUNTS = "feed_counts"
FLOWS = "flows"
PLAN_VALUES = "plan_values"
# `cluster_summary` is stored without ``by_source`` (the dashboard's tiles do not show it).
_ALL = ""


def data_version(
    session: Session, territory_id: int, feed_version: tuple[int, ...] | None = None
) -> str:
    """The version of what a territory's aggregates count: the feeds and linkage
    (`indicators_repository.feed_version`, read unless given) and the territory's communes
    (records are kept by commune)."""
    codes = session.scalars(
        select(CommuneRow.code).where(CommuneRow.territory_id == territory_id)
        .order_by(CommuneRow.code)
    ).all()  # fmt: skip
    communes = hashlib.sha256(",".join(codes).encode()).hexdigest()[:16]
    feeds = live.feed_version(session) if feed_version is None else feed_version
    return json.dumps([list(feeds), communes])


def _territory_id(session: Session, territory_slug: str) -> int:
    from observatoire.store import repository

    return repository.get_territory(session, territory_slug).id


def _stored(
    session: Session, territory_id: int, name: str, parameters: str,
    version: tuple[int, ...] | None,
) -> dict[str, Any] | None:  # fmt: skip
    """The stored payload when it was computed from the current data (of ``version``, the
    `feed_version` the caller read, when given), else ``None``."""
    try:
        row = session.execute(
            select(FeedAggregateRow.version, FeedAggregateRow.payload).where(
                FeedAggregateRow.territory_id == territory_id,
                FeedAggregateRow.name == name,
                FeedAggregateRow.parameters == parameters,
            )
        ).first()
    except SQLAlchemyError:  # schema older than migration 0009: compute the figures
        session.rollback()
        return None
    if row is None or row.version != data_version(session, territory_id, version):
        return None
    return row.payload


def _stored_or_live(
    session: Session, territory_slug: str, name: str, parameters: str,
    version: tuple[int, ...] | None, compute: Callable[[], dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    territory_id = _territory_id(session, territory_slug)
    stored = _stored(session, territory_id, name, parameters, version)
    return compute() if stored is None else stored


# --- the aggregates, as payloads (JSON) and back ------------------------------------------


def _summary_payload(session: Session, territory_slug: str) -> dict[str, Any]:
    summary = live.cluster_summary(session, territory_slug, by_source=False)
    return dataclasses.asdict(summary)


def _counts_payload(session: Session, territory_slug: str) -> dict[str, Any]:
    return live.feed_counts(session, territory_slug)


def _frame_payload(frame: pd.DataFrame) -> dict[str, Any]:
    return frame.to_dict(orient="split", index=False)


def _payload_frame(payload: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(payload["data"], columns=payload["columns"])


def _flows_payloads(
    session: Session, territory_slug: str, choices: tuple[int, ...],
    orientations: pd.DataFrame | None = None,
) -> dict[int, dict[str, Any]]:  # fmt: skip
    """Monthly flows for each inactivity threshold of ``choices`` (the contacts and the
    orientations are read once; ``orientations`` when already read)."""
    if orientations is None:
        orientations = live.plan_inputs(session, counting=True)["orientations"]
    inputs = IndicatorInputs(linked_records=live.flow_contacts(session, territory_slug),
                             orientations=orientations)  # fmt: skip
    return {days: _frame_payload(compute_flows(inputs, days)) for days in choices}


def _plan_payload(plan: dict[str, pd.DataFrame]) -> dict[str, Any]:
    return _frame_payload(feed_plan_values(IndicatorInputs(**plan)))


# The readers take the `feed_version` their caller caches under (read again when omitted).


def cluster_summary(
    session: Session, territory_slug: str, version: tuple[int, ...] | None = None
) -> ClusterSummary:
    """`indicators_repository.cluster_summary` of the territory (``by_source`` empty)."""
    payload = _stored_or_live(session, territory_slug, CLUSTER_SUMMARY, _ALL, version,
                              lambda: _summary_payload(session, territory_slug))  # fmt: skip
    names = {f.name for f in dataclasses.fields(ClusterSummary)}
    if not names <= set(payload):  # stored by an older program: computed again
        payload = _summary_payload(session, territory_slug)
    return ClusterSummary(**{k: v for k, v in payload.items() if k in names})


def distinct_estimate(
    session: Session, territory_slug: str, version: tuple[int, ...] | None = None
) -> DistinctEstimate | None:
    """The dashboard's tile: the latest linkage run's estimate of distinct people and its
    90 % interval (the figure `observatoire link --stored` printed), with who is known to
    whom in the territory; ``None`` before any run or without a linked record."""
    from observatoire.store.linkage_repository import people_estimate

    figure = people_estimate(session)
    summary = cluster_summary(session, territory_slug, version)
    if figure is None or not summary.linked:
        return None
    return estimate_from_summary(summary, PeopleFigure(figure.people, figure.low, figure.high))


def feed_counts(
    session: Session, territory_slug: str, version: tuple[int, ...] | None = None
) -> dict[str, int]:
    """`indicators_repository.feed_counts` of all the territory's communes."""
    return _stored_or_live(session, territory_slug, FEED_COUNTS, _ALL, version,
                           lambda: _counts_payload(session, territory_slug))  # fmt: skip


def monthly_flows(
    session: Session, territory_slug: str, inactivity_days: int,
    version: tuple[int, ...] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """`observatoire.indicators.flows` of the territory's linked records and orientations."""
    days = int(inactivity_days)
    payload = _stored_or_live(
        session, territory_slug, FLOWS, str(days), version,
        lambda: _flows_payloads(session, territory_slug, (days,))[days],
    )  # fmt: skip
    return _payload_frame(payload)


def plan_values(
    session: Session, territory_slug: str, version: tuple[int, ...] | None = None
) -> pd.DataFrame:
    """`observatoire.indicators.compute.feed_plan_values` of the feeds (SI-SIAO and 115
    records are not kept by commune: the same for every territory)."""
    payload = _stored_or_live(
        session, territory_slug, PLAN_VALUES, _ALL, version,
        lambda: _plan_payload(live.plan_inputs(session, counting=True)),
    )  # fmt: skip
    return _payload_frame(payload)


# --- refresh ------------------------------------------------------------------------------


def refresh_feed_aggregates(session: Session) -> int:
    """Recompute every territory's stored aggregates (inside the caller's transaction, at
    the end of an operation that changed the feeds or the linkage). Returns the rows
    stored."""
    session.flush()
    session.execute(delete(FeedAggregateRow))
    rows = []
    territories = session.execute(select(TerritoryRow.id, TerritoryRow.slug)).all()
    plan = live.plan_inputs(session, counting=True) if territories else {}
    feeds = live.feed_version(session)
    for territory_id, slug in territories:
        version = data_version(session, territory_id, feeds)
        payloads = {
            (CLUSTER_SUMMARY, _ALL): _summary_payload(session, slug),
            (FEED_COUNTS, _ALL): _counts_payload(session, slug),
            (PLAN_VALUES, _ALL): _plan_payload(plan),
        }
        flows = _flows_payloads(session, slug, INACTIVITY_CHOICES, plan["orientations"])
        for days, payload in flows.items():
            payloads[(FLOWS, str(days))] = payload
        rows.extend({"territory_id": territory_id, "name": name, "parameters": parameters,
                     "version": version, "payload": payload}
                    for (name, parameters), payload in payloads.items())  # fmt: skip
    if rows:
        session.execute(_insert_or_replace(session), rows)
    return len(rows)


def _insert_or_replace(session: Session):  # noqa: ANN202 - a dialect's insert construct
    """An insert that replaces the row of the same aggregate: two operations refreshing at
    once on PostgreSQL each delete what they see, then the second one to insert finds the
    first one's rows (the version says which data they were computed from)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return insert(FeedAggregateRow)
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(FeedAggregateRow)
    return statement.on_conflict_do_update(
        index_elements=["territory_id", "name", "parameters"],
        set_={c: statement.excluded[c] for c in ("version", "payload", "computed_at")},
    )
