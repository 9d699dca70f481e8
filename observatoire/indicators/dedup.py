"""De-duplicated estimate of distinct people across the count night and partner feeds.

Input ``linked_records``: one row per record (count-night observation or partner row) with
``source`` (`SourceKind` values, ``nuit`` for the count night), ``person_id`` (the linkage
cluster; empty for a record linked to nobody, which then counts as a person of its own),
optionally ``confidence`` (0-1, the cluster's confidence: how sure the linkage is that its
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


def distinct_people(
    linked_records: pd.DataFrame,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> DistinctEstimate:
    """Count distinct people (clusters) over ``[start, end]`` with an uncertainty band.

    The band reads the linkage confidences as probabilities: a cluster of several records
    with confidence ``c`` is two people instead of one with probability ``1 - c`` (raises
    the high end); a record alone with confidence ``c`` belongs to another cluster with
    probability ``1 - c`` (lowers the low end). Each end adds 1.96 standard deviations of
    these independent Bernoulli errors.
    """
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
        return DistinctEstimate(0, 0, 0, 0, {}, 0, 0)
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
    frame = pd.DataFrame({"person": person, "source": records["source"].astype(str),
                          "confidence": confidence})  # fmt: skip
    clusters = frame.groupby("person").agg(
        size=("source", "size"), confidence=("confidence", "min")
    )
    multi = clusters[clusters["size"] > 1]["confidence"]
    alone = clusters[clusters["size"] == 1]["confidence"]
    over = (1 - multi).sum() + Z_95 * math.sqrt((multi * (1 - multi)).sum())
    under = (1 - alone).sum() + Z_95 * math.sqrt((alone * (1 - alone)).sum())
    estimate = len(clusters)
    by_source = frame.groupby("source")["person"].nunique().astype(int).to_dict()
    night = frame["source"] == COUNT_NIGHT_SOURCE
    night_people = set(frame.loc[night, "person"])
    partner_people = set(frame.loc[~night, "person"])
    return DistinctEstimate(
        estimate=estimate,
        low=max(0, math.floor(estimate - under)),
        high=math.ceil(estimate + over),
        records=len(frame),
        by_source=by_source,
        met_on_night=len(night_people),
        unknown_to_partners=len(night_people - partner_people),
    )
