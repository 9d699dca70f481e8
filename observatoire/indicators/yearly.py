"""One pure function per computed yearly indicator: what the catalogue's ``computation``
names (`observatoire.indicators.catalogue.COMPUTATIONS`). Each reads the documented input
frames (`IndicatorInputs`) and returns ``year``, ``value``; `computed_values` runs those
the catalogue asks for."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from observatoire.indicators import publics
from observatoire.indicators.campaigns import campaign_table
from observatoire.indicators.housing import housing_values, unanswered_115
from observatoire.indicators.inputs import IndicatorInputs

COLUMNS = ["year", "value"]


NIGHT_COLUMNS = {"count_night_total": "total", "count_night_street": "rue",
                 "count_night_places": "lieux"}
"""Computation name -> the column of a night table (`campaign_table`, or the published
nights of `observatoire.nights.published_nights`) it reads."""


def _latest_of_year(nights: pd.DataFrame, column: str) -> pd.DataFrame:
    # A year with several nights (a rerun, a second count) takes its latest night.
    if nights.empty or column not in nights:
        return pd.DataFrame(columns=COLUMNS)
    table = nights.assign(year=pd.to_datetime(nights["night_date"]).dt.year)
    latest = table.sort_values("night_date").drop_duplicates("year", keep="last")
    return pd.DataFrame({"year": latest["year"].astype(int),
                         "value": pd.to_numeric(latest[column]).astype(float)})[COLUMNS]


def night_values(nights: pd.DataFrame, catalogue=None) -> pd.DataFrame:  # noqa: ANN001
    """``indicator_id``, ``year``, ``value`` of the catalogue's count-night entries read
    from a table of nights (``night_date`` and the `NIGHT_COLUMNS`): for the report, the
    published nights' figures, a secret one as NaN. The year's latest night counts."""
    from observatoire.indicators.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    frames = [_latest_of_year(nights, NIGHT_COLUMNS[e.computation]).assign(indicator_id=e.id)
              for e in catalogue.values() if e.computation in NIGHT_COLUMNS]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["indicator_id", *COLUMNS])
    return pd.concat(frames, ignore_index=True)[["indicator_id", *COLUMNS]]


def _night_column(column: str) -> Callable[[IndicatorInputs], pd.DataFrame]:
    def per_year(inputs: IndicatorInputs) -> pd.DataFrame:
        return _latest_of_year(campaign_table(inputs), column)

    per_year.__doc__ = f"The column {column!r} of the year's latest count night (raw data)."
    return per_year


def _housing(indicator: str) -> Callable[[IndicatorInputs], pd.DataFrame]:
    def per_year(inputs: IndicatorInputs) -> pd.DataFrame:
        values = housing_values(inputs.orientations)
        return values[values["indicator_id"] == indicator][COLUMNS].reset_index(drop=True)

    per_year.__doc__ = f"{indicator} from the SI-SIAO orientations that were carried out."
    return per_year


def _unanswered(inputs: IndicatorInputs) -> pd.DataFrame:
    """Share of 115 shelter requests left unanswered, per year."""
    return unanswered_115(inputs.calls_115)[COLUMNS].reset_index(drop=True)


def _first_time(inputs: IndicatorInputs) -> pd.DataFrame:
    """Persons first seen in the year after 24 months without any contact."""
    from observatoire.indicators.performance import first_time_homeless

    return first_time_homeless(inputs.linked_records)[COLUMNS]


def _time_homeless(inputs: IndicatorInputs) -> pd.DataFrame:
    """Median months from a person's first contact on record to their last of the year."""
    from observatoire.indicators.performance import time_homeless_months

    return time_homeless_months(inputs.linked_records)[COLUMNS]


def _returns(months: int) -> Callable[[IndicatorInputs], pd.DataFrame]:
    def per_year(inputs: IndicatorInputs) -> pd.DataFrame:
        from observatoire.indicators.housing import exits_to_housing
        from observatoire.indicators.performance import returns_to_homelessness

        exits = (exits_to_housing(inputs.orientations) if not inputs.orientations.empty
                 else inputs.orientations)
        frame = returns_to_homelessness(inputs.linked_records, exits, months)
        return frame.dropna(subset=["value"])[COLUMNS].reset_index(drop=True)

    per_year.__doc__ = f"Share of the year's moves to housing seen again within {months} months."
    return per_year


def _publics(name: str) -> Callable[[IndicatorInputs], pd.DataFrame]:
    def per_year(inputs: IndicatorInputs) -> pd.DataFrame:
        return getattr(publics, name)(inputs.partner_rows)[COLUMNS].reset_index(drop=True)

    per_year.__doc__ = f"`observatoire.indicators.publics.{name}` of the SI-SIAO and 115 rows."
    return per_year


def _without_rights(name: str) -> Callable[[IndicatorInputs], pd.DataFrame]:
    def per_year(inputs: IndicatorInputs) -> pd.DataFrame:
        return publics.without_rights(inputs.interviews, publics.RIGHTS_ANSWERS[name])

    per_year.__doc__ = (f"Share of the interviewed saying « aucune » to "
                        f"{publics.RIGHTS_ANSWERS[name]!r} (with numerator and denominator).")
    return per_year


def _eviction_met_share(inputs: IndicatorInputs) -> pd.DataFrame:
    """`observatoire.indicators.publics.eviction_met_share` of the staff figures."""
    return publics.eviction_met_share(inputs.values)[COLUMNS].reset_index(drop=True)


YEARLY: dict[str, Callable[[IndicatorInputs], pd.DataFrame]] = {
    **{name: _night_column(column) for name, column in NIGHT_COLUMNS.items()},
    "siao_moves_to_housing": _housing("exits_to_housing"),
    "siao_social_housing": _housing("social_housing_allocations"),
    "calls_115_unanswered": _unanswered,
    "linked_first_time": _first_time,
    "linked_time_homeless": _time_homeless,
    "linked_returns_6": _returns(6),
    "linked_returns_12": _returns(12),
    "linked_returns_24": _returns(24),
    "publics_hotels": _publics("people_in_hotels"),
    "publics_emergency_stay": _publics("emergency_stay_months"),
    "publics_institution_leavers": _publics("institution_leavers"),
    "publics_women_violence": _publics("women_victims_of_violence"),
    "publics_households_children": _publics("households_with_children"),
    "publics_exits_rate": _publics("exits_rate"),
    "publics_exits_from_street": _publics("exits_from_street"),
    "publics_exits_from_shelter": _publics("exits_from_shelter"),
    "figures_eviction_met_share": _eviction_met_share,
    **{name: _without_rights(name) for name in publics.RIGHTS_ANSWERS},
}
"""Computation name -> its pure function (``year``, ``value``)."""


def computed_values(inputs: IndicatorInputs, catalogue=None) -> pd.DataFrame:  # noqa: ANN001
    """``indicator_id``, ``year``, ``value`` of every catalogue entry one function computes."""
    from observatoire.indicators.catalogue import load_catalogue

    catalogue = catalogue or load_catalogue()
    frames = [YEARLY[entry.computation](inputs).assign(indicator_id=entry.id)
              for entry in catalogue.values() if entry.computation in YEARLY]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["indicator_id", *COLUMNS])
    return pd.concat(frames, ignore_index=True)[["indicator_id", *COLUMNS]]
