"""Numbers, shares and dates as French statistics print them, for every page and report.

One place for the French formats: decimal comma, narrow no-break space (U+202F) between
thousands, no spurious decimals (``20.3926`` -> ``20,4``, ``45.0`` -> ``45``), a count of
people as a whole number (``45.5`` estimated people -> ``46 personnes``), ``pas de données``
where nothing was measured, and the French month names plotly lacks.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

THOUSANDS = "\u202f"
"""Narrow no-break space: the thousands separator of French typography."""
NO_DATA = "pas de données"
"""What a figure says where nothing was measured (a gap, never a zero)."""
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")  # fmt: skip
MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
                "sept.", "oct.", "nov.", "déc.")  # fmt: skip
PLOTLY_SEPARATORS = ", "
"""plotly's ``layout.separators``: decimal comma, then the thousands separator (plotly
accepts one character each; the narrow no-break space is not drawn by every font, a plain
space is)."""


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def number_fr(value: Any, decimals: int = 1, *, missing: str = NO_DATA) -> str:
    """``value`` with at most ``decimals`` decimals, trailing zeros dropped, in French;
    ``missing`` when there is no number (``None``, NaN)."""
    number = _number(value)
    if number is None:
        return missing if not isinstance(value, str) else value
    text = f"{round(number, decimals):,.{max(decimals, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace(",", THOUSANDS).replace(".", ",")


def count_fr(value: Any, unit: str | None = None, *, missing: str = NO_DATA) -> str:
    """A count as a whole number (an estimate of people is rounded: nobody is half a
    person), with ``unit`` after it if given (``46 personnes``; singular for 0 and 1)."""
    number = _number(value)
    if number is None:
        return missing
    whole = int(round(number))
    text = f"{whole:,}".replace(",", THOUSANDS)
    if unit is None:
        return text
    return f"{text} {unit[:-1] if abs(whole) < 2 and unit.endswith('s') else unit}"


def percent_fr(share: Any, decimals: int = 1, *, missing: str = NO_DATA) -> str:
    """A share (0.204 -> ``20,4 %``, 0 -> ``0 %``), a no-break space before ``%``."""
    number = _number(share)
    if number is None:
        return missing
    return f"{number_fr(100 * number, decimals)}\u00a0%"


def signed_fr(value: Any, decimals: int = 1, *, suffix: str = "",
              missing: str = NO_DATA) -> str:  # fmt: skip
    """A change with its sign (``+3``, ``−2,5 %``; the minus sign U+2212)."""
    number = _number(value)
    if number is None:
        return missing
    text = number_fr(abs(number), decimals)
    sign = "" if text == "0" else ("+" if number > 0 else "\u2212")
    return f"{sign}{text}{suffix}"


def date_fr(value: dt.date | dt.datetime | None, *, missing: str = NO_DATA) -> str:
    """``30 janvier 2025``."""
    if value is None:
        return missing
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def month_fr(value: dt.date | dt.datetime) -> str:
    """``janv. 2025``: a tick of a time axis."""
    return f"{MONTHS_SHORT[value.month - 1]} {value.year}"


def french_figure(figure: Any) -> Any:
    """A plotly figure in French: decimal comma and space separators, and every date axis
    ticked with French month names (plotly draws its own English ones otherwise). Returns
    the figure."""
    import pandas as pd

    figure.update_layout(separators=PLOTLY_SEPARATORS)
    dates: list[pd.Timestamp] = []
    for trace in figure.data:
        values = getattr(trace, "x", None)
        if values is None or len(values) == 0:
            continue
        try:
            stamps = pd.to_datetime(pd.Series(list(values)), errors="raise")
        except (TypeError, ValueError):
            continue
        if pd.api.types.is_numeric_dtype(pd.Series(list(values))):
            continue
        dates.extend(stamps.dropna())
    if dates:
        ticks = sorted({pd.Timestamp(d).normalize() for d in dates})
        if len(ticks) > 12:  # a long series: one tick per month start
            ticks = list(pd.date_range(ticks[0].replace(day=1), ticks[-1], freq="MS"))
            step = max(1, len(ticks) // 12)
            ticks = ticks[::step]
        figure.update_xaxes(tickmode="array", tickvals=ticks,
                            ticktext=[month_fr(t) for t in ticks])  # fmt: skip
    return figure


def table_fr(frame: Any, decimals: int = 1, *, missing: str = "—") -> Any:
    """``frame`` as a table to read: every number in French (`number_fr`), every empty cell
    ``missing``, every column of text (Streamlit converts a mixed column through pyarrow)."""
    import pandas as pd

    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_bool_dtype(values):
            shown[column] = values.map({True: "oui", False: "non"}).fillna(missing).astype(str)
        elif pd.api.types.is_integer_dtype(values) or (
                pd.api.types.is_numeric_dtype(values)
                and values.dropna().eq(values.dropna().round()).all()):
            shown[column] = values.map(lambda v: count_fr(v, missing=missing)).astype(str)
        elif pd.api.types.is_numeric_dtype(values):
            shown[column] = values.map(lambda v: number_fr(v, decimals, missing=missing)
                                       ).astype(str)  # fmt: skip
        else:
            shown[column] = values.map(lambda v: missing if v is None or v is pd.NA
                                       or (isinstance(v, float) and math.isnan(v))
                                       else v).astype(str)  # fmt: skip
    return shown


def month_label_fr(period: Any) -> str:
    """``2024-03`` (a month as text or a period) -> ``mars 2024``."""
    import pandas as pd

    stamp = pd.Period(str(period), "M").to_timestamp()
    return f"{MONTHS[stamp.month - 1]} {stamp.year}"
