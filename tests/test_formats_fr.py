"""French statistics formats (observatoire.formats_fr) and flows' months without records."""

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import pytest

from observatoire.formats_fr import (
    count_fr,
    date_fr,
    french_figure,
    month_label_fr,
    number_fr,
    percent_fr,
    signed_fr,
    table_fr,
)
from observatoire.indicators.flows import measured_flows, monthly_flows


@pytest.mark.parametrize(("value", "decimals", "expected"), [
    (20.3926, 1, "20,4"), (15.5493, 1, "15,5"), (45.0, 1, "45"), (0.0, 2, "0"),
    (1234567.891, 1, "1\u202f234\u202f567,9"), (-0.04, 1, "0"), (None, 1, "pas de données"),
    (float("nan"), 1, "pas de données"), (3, 0, "3"),
], ids=["decimals", "rounded", "no-spurious-zero", "zero", "thousands", "minus-zero", "none",
        "nan", "int"])  # fmt: skip
def test_number_fr(value, decimals, expected):
    assert number_fr(value, decimals) == expected


def test_counts_shares_changes_and_dates():
    assert count_fr(45.5, "personnes") == "46 personnes"
    assert count_fr(1, "personnes") == "1 personne"
    assert count_fr(12345) == "12\u202f345"
    assert percent_fr(0) == "0\u00a0%"
    assert percent_fr(0.20393) == "20,4\u00a0%"
    assert signed_fr(-2.5, suffix=" %") == "\u22122,5 %"
    assert signed_fr(3) == "+3"
    assert date_fr(dt.date(2025, 1, 30)) == "30 janvier 2025"
    assert month_label_fr("2024-08") == "août 2024"


def test_table_fr_writes_every_cell_as_french_text():
    frame = pd.DataFrame({"nom": ["Dijon", None], "n": [3.0, 12000.0], "taux": [2.80397, None],
                          "ok": [True, False]})  # fmt: skip
    shown = table_fr(frame)
    assert shown.to_dict("list") == {"nom": ["Dijon", "—"], "n": ["3", "12\u202f000"],
                                     "taux": ["2,8", "—"], "ok": ["oui", "non"]}  # fmt: skip


def test_french_figure_ticks_dates_with_french_months():
    figure = go.Figure(go.Scatter(x=pd.to_datetime(["2024-01-31", "2024-07-31"]), y=[1, 2]))
    french_figure(figure)
    assert figure.layout.separators == ", "
    assert list(figure.layout.xaxis.ticktext) == ["janv. 2024", "juil. 2024"]
    numbers = french_figure(go.Figure(go.Bar(x=[1, 2], y=["a", "b"], orientation="h")))
    assert numbers.layout.xaxis.ticktext is None


def test_months_without_partner_records_are_gaps_not_zeros():
    contacts = pd.DataFrame({"person_id": ["a", "b", "a", "a", "c"],
                             "date": ["2022-01-10", "2022-01-20", "2022-01-25", "2022-02-05",
                                      "2022-06-01"]})
    monthly = monthly_flows(contacts, inactivity_days=30)
    assert monthly["en_contact"].tolist() == [2, 1, 0, 0, 0, 1]  # distinct people
    shown = measured_flows(monthly)
    gaps = shown[shown["mois"].isin(["2022-03", "2022-04", "2022-05"])]
    assert gaps["actifs"].isna().all() and gaps["entrees"].isna().all()
    kept = shown[~shown.index.isin(gaps.index)]
    assert kept["actifs"].tolist() == monthly.loc[kept.index, "actifs"].tolist()
    # Flows stored before the column existed are shown as they are.
    before = monthly.drop(columns="en_contact")
    assert measured_flows(before).equals(before)
