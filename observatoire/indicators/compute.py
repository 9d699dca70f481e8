"""Every indicator of a territory from one bundle of documented frames (`IndicatorInputs`).

The store fills the bundle (`observatoire.store.indicators_repository.load_inputs`); tests
and benchmarks build it by hand. A frame may be empty: the indicators that need it come
out as ``None`` / empty and the pages say "pas de données".
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from observatoire.indicators.catalogue import load_catalogue
from observatoire.indicators.count import (
    counts_by_commune,
    profile_shares,
    sector_coverage,
)
from observatoire.indicators.dedup import DistinctEstimate, PeopleFigure, distinct_people
from observatoire.indicators.flows import DEFAULT_INACTIVITY_DAYS, monthly_flows
from observatoire.indicators.housing import target_progress
from observatoire.indicators.inputs import IndicatorInputs
from observatoire.indicators.yearly import computed_values


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
    inputs: IndicatorInputs, feed_values: pd.DataFrame | None = None, *,
    with_nights: bool = True,
) -> pd.DataFrame:
    """*Logement d'abord* figures by year (from feeds, then staff entries, which win) with
    their targets and distance to them. ``feed_values``: the `feed_plan_values` of the
    inputs when already computed (the inputs' feed frames are then not read).
    ``with_nights``: the count nights' figures from the raw tables (`count_night_values`,
    what staff see); the yearly report passes ``False`` and gives the published nights'
    figures in ``feed_values`` instead (`observatoire.indicators.yearly.night_values`)."""
    computed = feed_plan_values(inputs) if feed_values is None else feed_values
    entered = inputs.values[["indicator_id", "year", "value"]]
    nights = [count_night_values(inputs)] if with_nights else []
    frames = [f for f in (*nights, computed, entered) if not f.empty] or [entered]
    values = pd.concat(frames, ignore_index=True)
    values = values.drop_duplicates(["indicator_id", "year"], keep="last")
    return target_progress(values, inputs.targets)
