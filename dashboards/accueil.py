"""Home page: the territory on a map with a count night's figures by commune (staff: the
latest night, live; the public: the latest published version, as published)."""

from __future__ import annotations

import streamlit as st

from dashboards.common import choose_territory, engine, plain, signed_in_user
from observatoire.formats_fr import table_fr
from observatoire.model import ObservatoireError, Role
from observatoire.publish.figures import choropleth
from observatoire.territory import home_page_data


@st.cache_data(ttl=60, max_entries=8, show_spinner="Chargement du territoire…")
def _home_data(territory_slug: str):
    return home_page_data(engine(), territory_slug)


@st.cache_data(ttl=60, max_entries=8, show_spinner="Chargement du territoire…")
def _published(territory_slug: str):
    """The latest published version: the protected figures every public surface reads."""
    from observatoire.nights import published_publication

    return published_publication(engine(), territory_slug)


def _public_home(territory_slug: str) -> None:
    """The public and officials see the published night only, as published."""
    from observatoire.publish.export import commune_table_fr, display_table
    from observatoire.publish.figures import commune_map

    try:
        publication, shapes = _published(territory_slug)
    except ObservatoireError:
        st.info("Aucune nuit de comptage n'est encore publiée pour ce territoire.")
        return
    st.subheader(plain(f"{publication.campaign} — nuit du {publication.night_date:%d/%m/%Y}"))
    st.caption(plain(publication.data_note))
    figures = dict(zip(publication.key_figures["indicateur"],
                       publication.key_figures["valeur"], strict=True))  # fmt: skip
    cols = st.columns(3)
    first = publication.key_figures["indicateur"].iloc[0]
    cols[0].metric(first, figures[first])
    cols[1].metric("Secteurs parcourus", publication.summary.get("secteurs", "—"))
    cols[2].metric("Équipes", publication.summary.get("equipes", "—"))
    measure = st.radio("Afficher", ["Personnes", "Pour 10 000 habitants"], horizontal=True)
    column = "personnes" if measure == "Personnes" else "pour_10000"
    st.plotly_chart(commune_map(publication, shapes, column), width="stretch")
    st.caption(publication.disclosure_note + " " + " ".join(publication.notes))
    with st.expander("Tableau par commune"):
        st.dataframe(display_table(commune_table_fr(publication)), hide_index=True,
                     width="stretch")


user = signed_in_user()
if user.role is Role.VOLUNTEER:
    # A volunteer's home is the entry page (the team code stays in its address).
    st.switch_page("dashboards/saisie.py", query_params=st.query_params.to_dict())

st.title("Observatoire social du sans-abrisme")

slug = choose_territory()
if not user.is_staff:
    _public_home(slug)
    st.stop()
data = _home_data(slug)

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
figure = choropleth(communes, column, measure, secret_text="population inconnue",
                    decimals=0 if column == "personnes" else 1)
st.plotly_chart(figure, width="stretch")

st.caption(
    f"{plain(data.territory_name)} : {len(communes)} communes, "
    f"{int(communes['population'].sum()):,} habitants".replace(",", " ")
    + ". Contours : IGN ADMIN EXPRESS, populations : INSEE (Licence Ouverte). "
    "Données de comptage synthétiques (personnes fictives)."
)
with st.expander("Tableau par commune"):
    st.dataframe(
        table_fr(communes.drop(columns="geometry")
                 .sort_values("personnes", ascending=False))
        .rename(columns={"code": "Code INSEE", "nom": "Commune", "population": "Population",
                         "personnes": "Personnes rencontrées", "pour_10000": "Pour 10 000 hab.",
                         "parent_code": "Commune parente"}),
        hide_index=True,
        width="stretch",
    )
