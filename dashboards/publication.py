"""Published map and report for officials: aggregated, disclosure-controlled figures only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.common import download, engine, plain
from dashboards.tableau_commun import choose_territory
from observatoire.model import ObservatoireError
from observatoire.publish.export import display_table
from observatoire.publish.report import ESTIMATE_LABELS


@st.cache_data(ttl=300, max_entries=8, show_spinner="Préparation de la publication…")
def _publication(slug: str):
    from observatoire.nights import published_publication

    return published_publication(engine(), slug)


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def _html(slug: str) -> bytes:
    from observatoire.publish.export import render_html

    publication, shapes = _publication(slug)
    return render_html(publication, shapes).encode("utf-8")


st.title("Carte et chiffres publiés")
slug = choose_territory()
try:
    publication, shapes = _publication(slug)
except (ValueError, ObservatoireError) as exc:
    st.info(f"Rien de publié : {plain(exc)}")
    st.stop()

st.subheader(plain(f"{publication.territory} — {publication.campaign}"))
st.caption(f"Nuit du {publication.night_date:%d/%m/%Y}. {plain(publication.data_note)} "
           + " ".join(publication.notes))
figures = dict(zip(publication.key_figures["indicateur"], publication.key_figures["valeur"],
                   strict=True))  # fmt: skip
counts = {k: v for k, v in figures.items() if k not in ESTIMATE_LABELS}
cols = st.columns(len(counts))
for col, (label, value) in zip(cols, counts.items(), strict=True):
    col.metric(label, value)
# The estimates with their interval, whole (a tile would cut the interval off).
for label in ESTIMATE_LABELS:
    if label in figures:
        st.markdown(f"**{label}** : {figures[label]}")

from observatoire.publish.figures import commune_map, trend_figure  # noqa: E402

measure = st.radio("Carte", ["Personnes", "Pour 10 000 habitants"], horizontal=True,
                   key="publication_mesure")  # fmt: skip
column = "personnes" if measure == "Personnes" else "pour_10000"
st.plotly_chart(commune_map(publication, shapes, column), width="stretch")
st.caption(publication.disclosure_note)

left, right = st.columns(2)
with left:
    st.markdown("**Personnes décomptées par lieu**")
    st.dataframe(display_table(publication.places.rename(columns={
        "libelle": "Lieu", "personnes": "Personnes", "statut": "Statut"})),
                 hide_index=True, width="stretch")  # fmt: skip
with right:
    st.markdown("**Évolution**")
    st.plotly_chart(trend_figure(publication), width="stretch")

from observatoire.publish.export import commune_csv, commune_table_fr  # noqa: E402

st.markdown("**Par commune**")
st.dataframe(display_table(commune_table_fr(publication)), hide_index=True, width="stretch")
st.markdown("**Profil des personnes rencontrées**")
st.dataframe(
    publication.profile.assign(part=publication.profile["part"].map(
        lambda p: "secret" if pd.isna(p) else f"{100 * p:.0f} %"))
    .rename(columns={"indicateur": "Indicateur", "part": "Part"}),
    hide_index=True, width="stretch",
)  # fmt: skip

st.markdown("**Méthodologie**")
st.write(publication.methodology)
st.markdown("**Sources et licences**")
for name, source in publication.sources:
    st.write(f"• {plain(name)} : {plain(source)}")

downloads = st.columns(2)
# formula escaping: S2 (the commune table holds territory and campaign names)
download(
    "Télécharger le tableau (CSV)",
    lambda: commune_csv(publication),
    file_name=f"publication_{publication.night_date:%Y-%m-%d}.csv", mime="text/csv",
    kind="publication", where=downloads[0], territory=slug, format="csv",
)  # fmt: skip
download(
    "Télécharger la page (HTML)", lambda: _html(slug),
    file_name=f"publication_{publication.night_date:%Y-%m-%d}.html", mime="text/html",
    kind="publication", where=downloads[1], territory=slug, format="html",
)  # fmt: skip
