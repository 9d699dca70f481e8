"""Figures that come from no feed, as the year's value of an indicator: pure functions on
the current entries (`observatoire.store.evaluation_repository.current_figures`).

A figure is entered for the whole territory or one commune, for a year or a quarter. The
year's value is the whole territory's yearly figure when there is one; else it is made
from the quarters (summed for counts, the last quarter for places, averaged for rates and
durations); else from the communes (summed, counts only: a rate of communes cannot be
added)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

# Units whose yearly value is the sum of its parts (quarters, communes).
ADDITIVE = {"personnes", "ménages", "actions", "logements", "réunions", "euros", "nombre",
            "diagnostics"}
STOCKS = {"places", "secteurs"}  # the last quarter's figure stands for the year
COLUMNS = ["indicator_id", "year", "value"]


def _combine(values: pd.Series, unit: str | None) -> float | None:
    if unit in ADDITIVE:
        return float(values.sum())
    if unit in STOCKS:
        return float(values.iloc[-1])
    return float(values.mean())


def yearly_values(current: pd.DataFrame,
                  unit_of: Callable[[str], str | None]) -> pd.DataFrame:
    """``indicator_id``, ``year``, ``value`` from the current entries (``quarter`` and
    ``commune_code`` empty for the whole territory and year)."""
    if current.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for (indicator, year), group in current.groupby(["indicator_id", "year"], sort=True):
        unit = unit_of(indicator)
        territory = group[group["commune_code"].isna()]
        whole = territory[territory["quarter"].isna()]
        quarters = territory[territory["quarter"].notna()].sort_values("quarter")
        communes = group[group["commune_code"].notna() & group["quarter"].isna()]
        if not whole.empty:
            value = float(whole["value"].iloc[-1])
        elif not quarters.empty:
            value = _combine(quarters["value"], unit)
        elif not communes.empty and unit in ADDITIVE:
            value = float(communes["value"].sum())
        else:
            continue
        rows.append((indicator, int(year), value))
    return pd.DataFrame(rows, columns=COLUMNS)
