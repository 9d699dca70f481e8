"""Staff dashboard: indicator tiles with change and target, trends across count nights,
commune map (counts or rates), where people were counted, profiles."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboards.common import plain, table_download
from dashboards.tableau_commun import (
    NO_DATA,
    STAFF_ROLES,
    choose_territory,
    distinct_estimate,
    feed_version,
    filters,
    load_inputs,
    require,
)
from observatoire.formats_fr import count_fr, french_figure, number_fr, percent_fr, table_fr
from observatoire.indicators import (
    campaign_a_minima,
    campaign_coverage,
    campaign_profiles,
    campaign_table,
    commune_table,
    load_catalogue,
)
from observatoire.indicators.wording import estimate_parts

require(*STAFF_ROLES)
catalogue = load_catalogue()
st.title("Tableau de bord")

slug = choose_territory()
inputs, campaign_id, codes = filters(load_inputs(slug))
if campaign_id is None:
    st.info(f"Aucune nuit de comptage enregistrée : {NO_DATA}.")
    st.stop()


@st.cache_data(ttl=300, max_entries=16)
def _campaigns(slug: str, codes: tuple[str, ...]) -> pd.DataFrame:
    return campaign_table(load_inputs(slug).filter_communes(list(codes)))


trend = _campaigns(slug, tuple(codes))
row = trend.set_index("campaign_id").loc[campaign_id]
count = campaign_a_minima(inputs, campaign_id)
population = int(inputs.communes["population"].sum())
coverage = campaign_coverage(inputs, campaign_id)

st.caption(f"{plain(row['name'])} — nuit du {pd.Timestamp(row['night_date']):%d/%m/%Y}"
           + (f" — {len(codes)} commune(s) sélectionnée(s)" if codes else ""))  # fmt: skip



def _tile(column, indicator: str, value: str, **options) -> None:
    """A tile with the indicator's short label (it fits), its full label and definition in
    the help."""
    entry = catalogue[indicator]
    column.metric(entry.tile_label, value,
                  help=options.pop("help", entry.help_text), **options)


tiles = st.columns(4)
delta = None if pd.isna(row["change"]) else int(row["change"])
_tile(tiles[0], "a_minima_total", count_fr(count.total),
      delta=None if delta is None else f"{delta:+d} vs nuit précédente",
      delta_color="inverse")  # fmt: skip
rate = count.total / population * 10_000 if population else None
_tile(tiles[1], "rate_per_10000", NO_DATA if rate is None else number_fr(rate))
_tile(tiles[2], "street_met", count_fr(count.street))
_tile(tiles[3], "partner_places", count_fr(count.partners) if count.places else NO_DATA)
if row["caution"]:
    st.warning(row["caution"])

tiles = st.columns(4)
covered = coverage["parcourus"].sum() / coverage["prevus"].sum() if len(coverage) else None
_tile(tiles[0], "sectors_covered", percent_fr(covered))
estimate = distinct_estimate(slug, feed_version())
if estimate is None:
    _tile(tiles[1], "distinct_people", NO_DATA,
          help=f"{catalogue['distinct_people'].help_text} Aucun rapprochement enregistré : "
          "lancez `observatoire link --stored`.")  # fmt: skip
    _tile(tiles[2], "unknown_to_partners", NO_DATA)
else:
    # The wording of the terminal and of the publication (`indicators.wording`).
    value, interval = estimate_parts(estimate)
    _tile(tiles[1], "distinct_people", value,
          help=f"{catalogue['distinct_people'].help_text} Dernier rapprochement "
          "(`observatoire link --stored`), avec son intervalle à 90 %.")  # fmt: skip
    tiles[1].caption(interval)
    _tile(tiles[2], "unknown_to_partners",
          count_fr(estimate.unknown_to_partners) if estimate.met_on_night else NO_DATA)
tiles[3].metric("Nuits de comptage", count_fr(len(trend)))

left, right = st.columns([3, 2])
with left:
    st.subheader("Évolution d'une nuit à l'autre")
    nights = pd.to_datetime(trend["night_date"])
    # graph_objects with the data given at once: plotly.express takes ten times longer.
    figure = go.Figure(
        [go.Scatter(x=nights, y=values, name=name, mode="lines+markers", connectgaps=False)
         for values, name in (
             (trend["total"], "Total a minima"), (trend["rue"], "Rue"),
             # A night without partners' tallies is a gap in their line, not a zero.
             (trend["lieux"].where(trend["lieux_decomptes"], None), "Lieux partenaires"))],
        layout={"height": 330, "margin": {"l": 0, "r": 0, "t": 10, "b": 0},
                "xaxis": {"title": {"text": "Nuit"}}, "yaxis": {"title": {"text": "Personnes"}}},
    )  # fmt: skip
    st.plotly_chart(french_figure(figure), width="stretch")
    cautions = trend[trend["caution"] != ""]
    for c in cautions.itertuples():
        st.caption(f"{c.name} : {c.caution}")
with right:
    st.subheader("Où les personnes ont été décomptées")
    breakdown = count.breakdown()
    figure = go.Figure(
        go.Bar(x=breakdown["personnes"], y=breakdown["libelle"], orientation="h"),
        layout={"height": 330, "margin": {"l": 0, "r": 0, "t": 10, "b": 0},
                "xaxis": {"title": {"text": "Personnes"}}, "yaxis": {"autorange": "reversed"}},
    )  # fmt: skip
    st.plotly_chart(french_figure(figure), width="stretch")


@st.cache_data(ttl=3600, max_entries=4)
def _shapes(slug: str):
    from dashboards.common import engine
    from observatoire.territory import communes

    return communes(engine(), slug)[["code", "geometry"]]


st.subheader("Par commune")
measure = st.radio("Afficher", ["Personnes", "Pour 10 000 habitants"], horizontal=True,
                   key="carte_mesure")  # fmt: skip
column = "personnes" if measure == "Personnes" else "pour_10000"
table = commune_table(inputs, campaign_id)
from observatoire.publish.figures import choropleth  # noqa: E402 - after the guard

shapes = _shapes(slug).merge(table, on="code")
st.plotly_chart(
    choropleth(shapes, column, measure, secret_text="population inconnue",
               decimals=0 if column == "personnes" else 1),
    width="stretch",
)  # fmt: skip
by_commune = table.sort_values("personnes", ascending=False).drop(columns="code").rename(
    columns={"nom": "Commune", "population": "Population", "rue": "Rue",
             "lieux": "Lieux partenaires", "personnes": "Total a minima",
             "pour_10000": "Pour 10 000 hab."})  # fmt: skip
st.dataframe(table_fr(by_commune), hide_index=True, width="stretch")
table_download(by_commune, f"communes-{campaign_id}.csv", territory=slug,
               campaign_id=campaign_id)

st.subheader("Profil des personnes rencontrées")
profiles = campaign_profiles(inputs, campaign_id)
profiles["libelle"] = profiles["indicator"].map(lambda i: catalogue[i].label)
figure = go.Figure(
    go.Bar(x=profiles["share"], y=profiles["libelle"], orientation="h",
           text=profiles["share"].map(lambda v: percent_fr(v))),
    layout={"height": 360, "margin": {"l": 0, "r": 0, "t": 10, "b": 0},
            "xaxis": {"title": {"text": "Part"}, "range": [0, 1], "tickformat": ".0%"},
            "yaxis": {"autorange": "reversed"}},
)  # fmt: skip
st.plotly_chart(french_figure(figure), width="stretch")
st.caption("Parts calculées parmi les personnes pour qui la réponse est connue "
           "(effectifs dans l'onglet qualité).")  # fmt: skip
