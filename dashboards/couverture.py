"""Live coverage during the night: sectors walked / in progress / not started, people counted
so far by commune; refreshed automatically."""

from __future__ import annotations

import streamlit as st

from dashboards.common import choose_territory, engine
from dashboards.tableau_commun import STAFF_ROLES, require
from observatoire import territory
from observatoire.countnight import coverage
from observatoire.formats_fr import count_fr, table_fr
from observatoire.geo.display import category_map

COLOURS = {"Parcouru": "#59a14f", "En cours": "#f28e2b", "Pas commencé": "#bab0ac"}
REFRESH_SECONDS = 30


@st.cache_data(ttl=REFRESH_SECONDS, max_entries=16, show_spinner=False)
def _coverage(campaign_id: int) -> coverage.Coverage:
    return coverage.coverage(engine(), campaign_id)


@st.cache_data(ttl=3600, max_entries=4, show_spinner=False)
def _commune_names(slug: str) -> dict[str, str]:
    return territory.commune_names(engine(), slug)


@st.cache_data(ttl=300)
def _campaigns(slug: str) -> dict[int, str]:
    return {c.id: f"{c.name} ({c.status.label.lower()})"
            for c in territory.campaigns(engine(), slug)}  # fmt: skip


require(*STAFF_ROLES)
st.title("Couverture en direct")
slug = choose_territory()
campaigns = _campaigns(slug)
if not campaigns:
    st.info("Aucune campagne sur ce territoire.")
    st.stop()
campaign_id = st.selectbox("Campagne", list(campaigns), format_func=campaigns.get)
names = _commune_names(slug)


@st.fragment(run_every=REFRESH_SECONDS)
def live() -> None:
    cov = _coverage(campaign_id)
    cols = st.columns(4)
    cols[0].metric("Personnes comptées", count_fr(cov.people))
    cols[1].metric("Secteurs parcourus", count_fr(cov.walked))
    cols[2].metric("En cours", count_fr(cov.in_progress))
    cols[3].metric("Pas commencés", count_fr(cov.not_started))
    sectors = cov.sectors
    if len(sectors):
        hover = ("Secteur " + sectors["sector_code"] + " — " + sectors["statut"] + "<br>"
                 + sectors["team_name"].fillna("sans équipe") + " : "
                 + sectors["people"].map(count_fr) + " personne(s)")  # fmt: skip
        st.plotly_chart(category_map(sectors, "statut", COLOURS, hover, height=520),
                        width="stretch")  # fmt: skip
    by_commune = cov.by_commune.assign(
        commune_code=cov.by_commune["commune_code"].map(lambda c: names.get(c, c)))
    st.dataframe(table_fr(by_commune.rename(columns={
        "commune_code": "Commune", "personnes": "Personnes", "secteurs": "Secteurs",
        "parcourus": "Parcourus"})), hide_index=True, width="stretch")  # fmt: skip
    st.caption(f"Actualisé automatiquement toutes les {REFRESH_SECONDS} secondes.")


live()
