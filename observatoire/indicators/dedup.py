"""De-duplicated estimate of distinct people across the count night and partner feeds.

Input ``linked_records``: one row per record (count-night observation or partner row) with
``source`` (`SourceKind` values, ``nuit`` for the count night), ``person_id`` (the linkage
cluster; empty for a record linked to nobody, which then counts as a person of its own),
optionally ``expected_people`` (how many people the linkage expects the cluster to be: 1 for
a person with a full name, less for a group of first names or initials that matched nobody;
1 when absent), ``confidence`` (0-1, the cluster's confidence: how sure the linkage is that its
records are one person; for a record alone, how sure it is that it matches nobody; 1 when
absent) and ``date`` (to restrict to a period).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd

COUNT_NIGHT_SOURCE = "nuit"
Z_95 = 1.96


@dataclass(frozen=True)
class DistinctEstimate:
    """Distinct people with an approximate 95 % band, and who is known to whom."""

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
    """What the estimate of distinct people needs, summed over clusters.

    A database computes it with ``GROUP BY`` (`observatoire.store.indicators_repository.
    cluster_summary`); `summarise_clusters` is the reference computation on a frame. "Multi"
    clusters hold several records, "alone" ones a single record; ``doubt`` is the sum of
    ``1 - confidence`` and ``variance`` the sum of ``confidence * (1 - confidence)``.
    """

    records: int
    linked: int
    """Records linked to a person (the others count as people of their own)."""
    multi: int
    multi_doubt: float
    multi_variance: float
    alone: int
    alone_doubt: float
    alone_variance: float
    by_source: dict[str, int]
    met_on_night: int
    unknown_to_partners: int
    expected: float | None = None
    """Sum of the clusters' ``expected_people`` (``None``: one per cluster)."""


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
        return ClusterSummary(0, 0, 0, 0.0, 0.0, 0, 0.0, 0.0, {}, 0, 0, 0.0)
    person = records["person_id"].astype("object")
    missing = person.isna() | (person.astype(str).str.strip() == "")
    # A record linked to nobody is a person of its own: give it a key no cluster can have.
    person = person.where(~missing, "_seul_" + records.index.astype(str).to_series(
        index=records.index))
    confidence = (
        pd.to_numeric(records["confidence"], errors="coerce").fillna(1.0).clip(0, 1)
        if "confidence" in records
        else pd.Series(1.0, index=records.index)
    )
    expected = (
        pd.to_numeric(records["expected_people"], errors="coerce").fillna(1.0).clip(0, 1)
        if "expected_people" in records
        else pd.Series(1.0, index=records.index)
    )
    # A record linked to nobody is one person for sure.
    expected = expected.where(~missing, 1.0)
    source = records["source"].astype(str)
    frame = pd.DataFrame({"person": person.astype(str), "source": source,
                          "confidence": confidence, "expected": expected,
                          "night": source == COUNT_NIGHT_SOURCE})  # fmt: skip
    clusters = frame.groupby("person").agg(
        size=("source", "size"), confidence=("confidence", "min"), night=("night", "max"),
        all_night=("night", "min"), expected=("expected", "min"),
    )  # fmt: skip
    multi = clusters[clusters["size"] > 1]["confidence"]
    alone = clusters[clusters["size"] == 1]["confidence"]
    return ClusterSummary(
        records=len(frame),
        linked=int((~missing).sum()),
        multi=len(multi),
        multi_doubt=float((1 - multi).sum()),
        multi_variance=float((multi * (1 - multi)).sum()),
        alone=len(alone),
        alone_doubt=float((1 - alone).sum()),
        alone_variance=float((alone * (1 - alone)).sum()),
        by_source={k: int(v) for k, v in frame.groupby("source")["person"].nunique().items()},
        met_on_night=int(clusters["night"].sum()),
        unknown_to_partners=int(clusters["all_night"].sum()),
        expected=float(clusters["expected"].sum()),
    )


def estimate_from_summary(summary: ClusterSummary) -> DistinctEstimate:
    """Distinct people with their band from a `ClusterSummary`.

    The estimate is the sum of the clusters' expected people (the linkage's estimate: a
    person with a full name is one, a group of first names or initials that matched nobody
    its chance of being somebody new), or the number of clusters without it.

    The band reads the linkage confidences as probabilities: a cluster of several records
    with confidence ``c`` is two people instead of one with probability ``1 - c`` (raises
    the high end); a record alone with confidence ``c`` belongs to another cluster with
    probability ``1 - c`` (lowers the low end). Each end adds 1.96 standard deviations of
    these independent Bernoulli errors.
    """
    clusters = summary.multi + summary.alone
    # Rounded first: sums from a database may differ from pandas' in the last bits.
    estimate = clusters if summary.expected is None else round(round(summary.expected, 6))
    over = summary.multi_doubt + Z_95 * math.sqrt(max(summary.multi_variance, 0.0))
    under = summary.alone_doubt + Z_95 * math.sqrt(max(summary.alone_variance, 0.0))
    return DistinctEstimate(
        estimate=estimate,
        # Sums from a database may differ from pandas' in the last bits: round them first.
        low=max(0, math.floor(round(estimate - under, 9))),
        high=math.ceil(round(estimate + over, 9)),
        records=summary.records,
        by_source=dict(summary.by_source),
        met_on_night=summary.met_on_night,
        unknown_to_partners=summary.unknown_to_partners,
    )


def distinct_people(
    linked_records: pd.DataFrame,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> DistinctEstimate:
    """Count distinct people (clusters) over ``[start, end]`` with an uncertainty band
    (`estimate_from_summary` says how the band is read from the linkage confidences)."""
    return estimate_from_summary(summarise_clusters(linked_records, start, end))
