"""Distinct people across the count night and partner feeds: who is known to whom.

The estimate of distinct people and its 90 % interval are the linkage run's
(`observatoire.linkage.estimate.estimate_people`, stored with the run): this module never
computes them again, it puts them beside what the clusters say about the sources.

Input ``linked_records``: one row per record (count-night observation or partner row) with
``source`` (`SourceKind` values, ``nuit`` for the count night), ``person_id`` (the linkage
cluster; empty for a record linked to nobody, which then counts as a person of its own) and
``date`` (to restrict to a period).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

COUNT_NIGHT_SOURCE = "nuit"


@dataclass(frozen=True)
class PeopleFigure:
    """The linkage run's estimate of distinct people with its 90 % interval."""

    people: int
    low: int
    high: int


@dataclass(frozen=True)
class DistinctEstimate:
    """Distinct people with their 90 % interval, and who is known to whom."""

    estimate: int
    low: int
    high: int
    records: int
    by_source: dict[str, int]
    """Distinct people known to each source."""
    met_on_night: int
    unknown_to_partners: int
    """People met on the count night whose cluster holds no partner record."""


@dataclass(frozen=True)
class ClusterSummary:
    """What the clusters say about the sources, summed over clusters.

    A database computes it with ``GROUP BY`` (`observatoire.store.indicators_repository.
    cluster_summary`); `summarise_clusters` is the computation on a frame. "Multi" clusters
    hold several records, "alone" ones a single record.
    """

    records: int
    linked: int
    """Records linked to a person (the others count as people of their own)."""
    multi: int
    alone: int
    by_source: dict[str, int]
    met_on_night: int
    unknown_to_partners: int


def summarise_clusters(
    linked_records: pd.DataFrame,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> ClusterSummary:
    """The `ClusterSummary` of ``linked_records`` over ``[start, end]`` (see the module)."""
    records = linked_records
    if (start or end) and "date" in records:
        dates = pd.to_datetime(records["date"], errors="coerce")
        keep = pd.Series(True, index=records.index)
        if start:
            keep &= dates >= pd.Timestamp(start)
        if end:
            keep &= dates <= pd.Timestamp(end)
        records = records[keep]
    if records.empty:
        return ClusterSummary(0, 0, 0, 0, {}, 0, 0)
    person = records["person_id"].astype("object")
    missing = person.isna() | (person.astype(str).str.strip() == "")
    # A record linked to nobody is a person of its own: give it a key no cluster can have.
    person = person.where(~missing, "_seul_" + records.index.astype(str).to_series(
        index=records.index))
    source = records["source"].astype(str)
    frame = pd.DataFrame({"person": person.astype(str), "source": source,
                          "night": source == COUNT_NIGHT_SOURCE})  # fmt: skip
    clusters = frame.groupby("person").agg(
        size=("source", "size"), night=("night", "max"), all_night=("night", "min"),
    )  # fmt: skip
    return ClusterSummary(
        records=len(frame),
        linked=int((~missing).sum()),
        multi=int((clusters["size"] > 1).sum()),
        alone=int((clusters["size"] == 1).sum()),
        by_source={k: int(v) for k, v in frame.groupby("source")["person"].nunique().items()},
        met_on_night=int(clusters["night"].sum()),
        unknown_to_partners=int(clusters["all_night"].sum()),
    )


def estimate_from_summary(summary: ClusterSummary, figure: PeopleFigure) -> DistinctEstimate:
    """The linkage run's ``figure`` beside who is known to whom (``summary``)."""
    return DistinctEstimate(
        estimate=int(figure.people),
        low=int(figure.low),
        high=int(figure.high),
        records=summary.records,
        by_source=dict(summary.by_source),
        met_on_night=summary.met_on_night,
        unknown_to_partners=summary.unknown_to_partners,
    )


def distinct_people(
    linked_records: pd.DataFrame,
    figure: PeopleFigure,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> DistinctEstimate:
    """The linkage run's estimate ``figure`` with who is known to whom over
    ``[start, end]`` (`estimate_from_summary`)."""
    return estimate_from_summary(summarise_clusters(linked_records, start, end), figure)
