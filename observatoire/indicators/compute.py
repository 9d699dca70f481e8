"""Every indicator of a territory from one bundle of documented frames (`IndicatorInputs`).

The store fills the bundle (`observatoire.store.indicators_repository.load_inputs`); tests
and benchmarks build it by hand. A frame may be empty: the indicators that need it come
out as ``None`` / empty and the pages say "pas de données".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields

import pandas as pd

from observatoire.indicators.count import (
    AMinima,
    a_minima,
    counts_by_commune,
    profile_shares,
    sector_coverage,
)
from observatoire.indicators.dedup import DistinctEstimate, PeopleFigure, distinct_people
from observatoire.indicators.flows import DEFAULT_INACTIVITY_DAYS, monthly_flows
from observatoire.indicators.housing import target_progress
from observatoire.indicators.trends import year_on_year

_COLUMNS = {
    "communes": ["code", "nom", "population"],
    "campaigns": ["campaign_id", "name", "night_date", "method", "status"],
    "observations": ["campaign_id", "commune_code", "sector_code", "situation", "sex",
                     "age_band", "sleeping_place"],
    "sectors": ["campaign_id", "sector_code", "commune_code"],
    "sector_reports": ["campaign_id", "sector_code", "people_met"],
    "place_tallies": ["campaign_id", "place_kind", "people", "commune_code"],
    "linked_records": ["source", "person_id", "confidence", "expected_people", "date",
                       "commune_code"],
    "orientations": ["date", "orientation", "status", "person_id"],
    "calls_115": ["date", "answer", "motive"],
    "values": ["indicator_id", "year", "value"],
    "targets": ["indicator_id", "year", "target"],
    "partner_rows": ["source", "date", "person_id", "sex", "household", "children",
                     "orientation", "status", "orientation_date", "exit_date", "institution",
                     "violence"],
}  # fmt: skip


def empty_frame(name: str) -> pd.DataFrame:
    """An empty frame with the documented columns of input ``name``."""
    return pd.DataFrame(columns=_COLUMNS[name])


@dataclass
class IndicatorInputs:
    """Everything the indicators read, as plain frames (columns in ``_COLUMNS``).

    ``observations``, ``sectors``, ``sector_reports`` and ``place_tallies`` carry a
    ``campaign_id``; ``linked_records`` are partner and count-night records with their
    linkage cluster (see `observatoire.indicators.dedup`).
    """

    communes: pd.DataFrame = field(default_factory=lambda: empty_frame("communes"))
    campaigns: pd.DataFrame = field(default_factory=lambda: empty_frame("campaigns"))
    observations: pd.DataFrame = field(default_factory=lambda: empty_frame("observations"))
    sectors: pd.DataFrame = field(default_factory=lambda: empty_frame("sectors"))
    sector_reports: pd.DataFrame = field(default_factory=lambda: empty_frame("sector_reports"))
    place_tallies: pd.DataFrame = field(default_factory=lambda: empty_frame("place_tallies"))
    linked_records: pd.DataFrame = field(default_factory=lambda: empty_frame("linked_records"))
    orientations: pd.DataFrame = field(default_factory=lambda: empty_frame("orientations"))
    calls_115: pd.DataFrame = field(default_factory=lambda: empty_frame("calls_115"))
    values: pd.DataFrame = field(default_factory=lambda: empty_frame("values"))
    targets: pd.DataFrame = field(default_factory=lambda: empty_frame("targets"))
    partner_rows: pd.DataFrame = field(default_factory=lambda: empty_frame("partner_rows"))

    def __post_init__(self) -> None:
        for f in fields(self):
            frame = getattr(self, f.name)
            if frame is None:
                setattr(self, f.name, empty_frame(f.name))

    def of_campaign(self, name: str, campaign_id: int) -> pd.DataFrame:
        frame = getattr(self, name)
        if frame.empty or "campaign_id" not in frame:
            return frame.iloc[0:0]
        return frame[frame["campaign_id"] == campaign_id]

    def latest_campaign_id(self) -> int | None:
        if self.campaigns.empty:
            return None
        return int(self.campaigns.sort_values("night_date")["campaign_id"].iloc[-1])

    def filter_communes(self, codes: list[str] | None) -> IndicatorInputs:
        """The same inputs restricted to ``codes`` (all communes when ``None`` or empty)."""
        if not codes:
            return self
        wanted = set(codes)
        out = {}
        for f in fields(self):
            frame = getattr(self, f.name)
            key = "code" if f.name == "communes" else "commune_code"
            if key in frame and f.name != "place_tallies":
                frame = frame[frame[key].isin(wanted)]
            elif f.name == "place_tallies" and "commune_code" in frame:
                frame = frame[frame["commune_code"].isin(wanted)]
            out[f.name] = frame
        return IndicatorInputs(**out)


def campaign_a_minima(inputs: IndicatorInputs, campaign_id: int) -> AMinima:
    return a_minima(
        inputs.of_campaign("observations", campaign_id),
        inputs.of_campaign("place_tallies", campaign_id),
    )


def campaign_table(inputs: IndicatorInputs) -> pd.DataFrame:
    """One row per count night: totals, coverage, method, and the year-on-year change;
    ``lieux_decomptes``: whether partners' places were tallied that night (when not,
    ``lieux`` is no measure: a gap, not a zero)."""
    columns = ["campaign_id", "name", "night_date", "method", "rue", "lieux", "total",
               "sectors", "communes", "lieux_decomptes"]  # fmt: skip
    rows = []
    for campaign in inputs.campaigns.itertuples(index=False):
        count = campaign_a_minima(inputs, campaign.campaign_id)
        reports = inputs.of_campaign("sector_reports", campaign.campaign_id)
        sectors = inputs.of_campaign("sectors", campaign.campaign_id)
        rows.append(
            (campaign.campaign_id, campaign.name, campaign.night_date, campaign.method,
             count.street, count.partners, count.total,
             reports["sector_code"].nunique() if not reports.empty else len(sectors),
             sectors["commune_code"].nunique(), bool(count.places))
        )  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame.assign(previous=[], change=[], change_pct=[], caution=[])
    return year_on_year(frame)


def commune_table(inputs: IndicatorInputs, campaign_id: int) -> pd.DataFrame:
    """Per commune for one night: street, places, *a minima* total, rate per 10,000."""
    return counts_by_commune(
        inputs.of_campaign("observations", campaign_id),
        inputs.communes,
        inputs.of_campaign("place_tallies", campaign_id),
    )


def campaign_profiles(inputs: IndicatorInputs, campaign_id: int) -> pd.DataFrame:
    return profile_shares(inputs.of_campaign("observations", campaign_id))


def campaign_coverage(inputs: IndicatorInputs, campaign_id: int) -> pd.DataFrame:
    return sector_coverage(
        inputs.of_campaign("sectors", campaign_id),
        inputs.of_campaign("sector_reports", campaign_id),
    )


def deduplicated(
    inputs: IndicatorInputs, figure: PeopleFigure | None,
    start: dt.date | None = None, end: dt.date | None = None,
) -> DistinctEstimate | None:  # fmt: skip
    """The linkage run's ``figure`` (estimate and 90 % interval) with who is known to whom
    over the period, or ``None`` without a run or linked records."""
    if (figure is None or inputs.linked_records.empty
            or inputs.linked_records["person_id"].isna().all()):  # fmt: skip
        return None
    return distinct_people(inputs.linked_records, figure, start, end)


def flows(
    inputs: IndicatorInputs, inactivity_days: int = DEFAULT_INACTIVITY_DAYS
) -> pd.DataFrame:
    """Monthly by-name-list flows from the linked records (empty without linkage)."""
    records = inputs.linked_records
    if records.empty:
        return monthly_flows(records)
    contacts = records.dropna(subset=["person_id"])[["person_id", "date"]]
    housing = pd.DataFrame(columns=["person_id", "date"])
    orientations = inputs.orientations
    if not orientations.empty and orientations["person_id"].notna().any():
        from observatoire.indicators.housing import exits_to_housing

        housing = exits_to_housing(orientations)[["person_id", "date"]]
    return monthly_flows(contacts, housing, inactivity_days=inactivity_days)


def _computed(inputs: IndicatorInputs, prefixes: tuple[str, ...]) -> pd.DataFrame:
    from observatoire.indicators.catalogue import load_catalogue
    from observatoire.indicators.yearly import computed_values

    chosen = {k: v for k, v in load_catalogue().items() if v.computation.startswith(prefixes)}
    return computed_values(inputs, chosen)


def feed_plan_values(inputs: IndicatorInputs) -> pd.DataFrame:
    """The *Logement d'abord* yearly figures the feeds give (``indicator_id``, ``year``,
    ``value``): the catalogue entries computed from SI-SIAO orientations and 115 calls
    (moves to housing, unanswered 115 requests)."""
    return _computed(inputs, ("siao_", "calls_115_"))


def count_night_values(inputs: IndicatorInputs) -> pd.DataFrame:
    """The count nights' yearly figures that a convention may target (``indicator_id``,
    ``year``, ``value``): the catalogue entries computed from the nights
    (``a_minima_total``, ``street_met``, ``partner_places``); a year with several nights
    (a rerun, a second count) takes its latest night."""
    return _computed(inputs, ("count_night_",))


def plan_indicators(
    inputs: IndicatorInputs, feed_values: pd.DataFrame | None = None
) -> pd.DataFrame:
    """*Logement d'abord* figures by year (from feeds, then staff entries, which win) with
    their targets and distance to them. ``feed_values``: the `feed_plan_values` of the
    inputs when already computed (the inputs' feed frames are then not read)."""
    computed = feed_plan_values(inputs) if feed_values is None else feed_values
    entered = inputs.values[["indicator_id", "year", "value"]]
    values = pd.concat([count_night_values(inputs), computed, entered], ignore_index=True)
    values = values.drop_duplicates(["indicator_id", "year"], keep="last")
    return target_progress(values, inputs.targets)
