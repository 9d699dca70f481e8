"""The count nights of a territory, one row each (totals, coverage, change on the year
before): what the dashboards and the yearly indicators read."""

from __future__ import annotations

import pandas as pd

from observatoire.indicators.count import AMinima, a_minima
from observatoire.indicators.inputs import IndicatorInputs
from observatoire.indicators.trends import year_on_year


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
