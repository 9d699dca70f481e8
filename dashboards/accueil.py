"""Home page: the territory on a map with the latest count night's figures by commune."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.common import choose_territory, engine, plain, signed_in_user
from observatoire.geo.display import area_map
from observatoire.model import Role
from observatoire.pipeline import home_page_data


@st.cache_data(ttl=60, max_entries=8, show_spinner="Chargement du territoire…")
def _home_data(territory_slug: str):
    return home_page_data(engine(), territory_slug)


@st.cache_data(ttl=60, max_entries=8, show_spinner="Chargement du territoire…")
def _public_view(territory_slug: str):
    """The home data with small cells suppressed (secondary suppression included)."""
    import dataclasses

    from observatoire.cli_publish import disclosure_rules
    from observatoire.publish import protect_counts

    data = home_page_data(engine(), territory_slug)
    rules = disclosure_rules(engine())
    protected = protect_counts(data.communes, "personnes", "code", rules).set_index("code")
    communes = data.communes.copy()
    communes["personnes"] = communes["code"].map(protected["personnes"]).astype("Float64")
    communes["pour_10000"] = communes["personnes"] / communes["population"].where(
        communes["population"] > 0) * 10_000
    total = protected.loc[rules.total_label, "personnes"]
    summary = dict(data.summary)
    if summary:
        summary["personnes"] = "secret" if pd.isna(total) else int(total)
        summary["questionnaires"] = rules.publish_value(summary["questionnaires"]) if (
            summary["questionnaires"] >= rules.threshold) else "secret"
    return dataclasses.replace(data, communes=communes, summary=summary)


user = signed_in_user()
if user.role is Role.VOLUNTEER:
    # A volunteer's home is the entry page (the team code stays in its address).
    st.switch_page("dashboards/saisie.py", query_params=st.query_params.to_dict())

st.title("Observatoire social du sans-abrisme")

slug = choose_territory()
data = _home_data(slug)
if not user.is_staff:
    # The public and officials see disclosure-controlled figures only.
    data = _public_view(slug)

if data.campaign_name is None:
    st.info("Aucune nuit de comptage n'est encore enregistrée pour ce territoire.")
else:
    st.subheader(f"{plain(data.campaign_name)} — nuit du {data.night_date:%d/%m/%Y}")
    cols = st.columns(4)
    people = data.summary["personnes"]
    cols[0].metric("Personnes rencontrées",
                   f"{people:,}".replace(",", " ") if isinstance(people, int) else people)
    cols[1].metric("Questionnaires remplis", data.summary["questionnaires"])
    cols[2].metric("Secteurs parcourus", data.summary["secteurs"])
    cols[3].metric("Secteurs sans personne", data.summary["secteurs_sans_personne"])

measure = st.radio(
    "Afficher", ["Personnes rencontrées", "Pour 10 000 habitants"], horizontal=True
)
column = "personnes" if measure == "Personnes rencontrées" else "pour_10000"
communes = data.communes
figure = area_map(
    communes,
    "code",
    color=column,
    color_continuous_scale="OrRd",
    hover_name="nom",
    hover_data={"code": True, "population": ":,", "personnes": True, "pour_10000": ":.1f"},
    labels={
        "personnes": "Personnes rencontrées",
        "pour_10000": "Pour 10 000 hab.",
        "population": "Population",
        "code": "Code INSEE",
    },
)
st.plotly_chart(figure, width="stretch")

st.caption(
    f"{plain(data.territory_name)} : {len(communes)} communes, "
    f"{int(communes['population'].sum()):,} habitants".replace(",", " ")
    + ". Contours : IGN ADMIN EXPRESS, populations : INSEE (Licence Ouverte). "
    "Données de comptage synthétiques (personnes fictives)."
)
with st.expander("Tableau par commune"):
    st.dataframe(
        communes.drop(columns="geometry")
        .sort_values("personnes", ascending=False)
        .rename(columns={"code": "Code INSEE", "nom": "Commune", "population": "Population",
                         "personnes": "Personnes rencontrées", "pour_10000": "Pour 10 000 hab.",
                         "parent_code": "Commune parente"}),
        hide_index=True,
        width="stretch",
    )
