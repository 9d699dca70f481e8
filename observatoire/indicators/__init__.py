"""The indicator catalogue and pure computations (no I/O: frames in, frames out)."""

from observatoire.indicators.campaigns import campaign_a_minima, campaign_table
from observatoire.indicators.catalogue import Catalogue, Indicator, load_catalogue
from observatoire.indicators.compute import (
    campaign_coverage,
    campaign_profiles,
    commune_table,
    deduplicated,
    flows,
    plan_indicators,
)
from observatoire.indicators.count import (
    PLACE_KINDS,
    AMinima,
    a_minima,
    counts_by_commune,
    place_kind,
    profile_shares,
    rate_per_10000,
    sector_coverage,
    street_count,
)
from observatoire.indicators.dedup import DistinctEstimate, distinct_people
from observatoire.indicators.flows import monthly_flows
from observatoire.indicators.housing import target_progress
from observatoire.indicators.inputs import IndicatorInputs, empty_frame
from observatoire.indicators.trends import year_on_year

__all__ = [
    "PLACE_KINDS",
    "AMinima",
    "Catalogue",
    "DistinctEstimate",
    "Indicator",
    "IndicatorInputs",
    "a_minima",
    "campaign_a_minima",
    "campaign_coverage",
    "campaign_profiles",
    "campaign_table",
    "commune_table",
    "counts_by_commune",
    "deduplicated",
    "distinct_people",
    "empty_frame",
    "flows",
    "load_catalogue",
    "monthly_flows",
    "place_kind",
    "plan_indicators",
    "profile_shares",
    "rate_per_10000",
    "sector_coverage",
    "street_count",
    "target_progress",
    "year_on_year",
]
