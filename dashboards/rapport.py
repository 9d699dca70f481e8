"""Execution report of the convention (« rapport d'exécution »): the same report as
`observatoire report annual`, its deadline, and what is still missing (targets without a
value). Staff and the monitoring body (read only: disclosure-controlled figures, no
record-level data)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboards.common import choose_territory, download, engine, plain, require, settings
from observatoire.model import ObservatoireError, Role

user = require(Role.MONITORING, Role.STAFF, Role.ADMIN)
st.title("Rapport d'exécution de la convention")
slug = choose_territory()


@st.cache_data(ttl=300, show_spinner=False)
def _years(territory_slug: str) -> list[int]:
    from observatoire.evaluation.convention_service import convention_years

    return convention_years(engine(), territory_slug)


@st.cache_data(ttl=15, show_spinner=False)
def _inputs_version(territory_slug: str) -> tuple[str, ...]:
    from observatoire.evaluation.prepared import inputs_version

    return inputs_version(engine(), territory_slug)


@st.cache_data(ttl=60, show_spinner=False)
def _unpublished(territory_slug: str) -> list[str]:
    from observatoire.nights import unpublished_nights

    return unpublished_nights(engine(), territory_slug)["name"].tolist()


def _prepared(year: int, *, retry: bool = False):
    """The report once built (in the background, once per version of its inputs)."""
    from observatoire.evaluation.prepared import prepared_report

    return prepared_report(engine(), settings().data_dir, slug, year, _inputs_version(slug),
                           retry=retry)


@st.fragment(run_every=2)
def _preparing(year: int) -> None:
    state = _prepared(year)
    if state.ready or state.error:
        st.rerun()  # the whole page, with the report
    st.info("Rapport en préparation : il est construit une fois pour l'état actuel des "
            "données, puis s'ouvre aussitôt. Cette page s'actualise seule.")
    st.progress(state.progress, text=state.step)


try:
    years = _years(slug)
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()
if not years:
    st.info("Aucune convention pour ce territoire : l'équipe l'enregistre sur la page "
            "Convention (ou `observatoire convention import`).")
    st.stop()
year = st.selectbox("Année du rapport", years, key="rapport_annee")
staff = user.role in (Role.STAFF, Role.ADMIN)
if staff and (unpublished := _unpublished(slug)):
    st.caption("Nuits pas encore publiées, hors du rapport jusqu'à leur publication : "
               + ", ".join(plain(n) for n in unpublished) + ".")
try:
    state = _prepared(int(year))
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()
if state.error:
    st.error(plain(state.error))
    if st.button("Relancer la préparation du rapport"):
        _prepared(int(year), retry=True)
        st.rerun()
    st.stop()
if not state.ready:
    _preparing(int(year))
    st.stop()
report = state.report

convention = report.convention
days = (report.deadline - dt.date.today()).days
st.caption(plain(convention.title))
cols = st.columns(3)
cols[0].metric("À transmettre au plus tard le", f"{report.deadline:%d/%m/%Y}",
               help="au Préfet et à la Dihal, après le vote du conseil")
cols[1].metric("Jours restants" if days >= 0 else "Échéance dépassée de",
               f"{abs(days)} j")
cols[2].metric("Objectifs sans valeur pour l'année", len(report.missing))
if convention.clawback:
    st.caption(f"Reversement possible : {plain(convention.clawback)}.")

if report.missing:
    st.warning("**Encore à renseigner** (un objectif, aucune valeur pour "
               f"{int(year)}) :\n\n" + "\n".join(f"- {plain(m)}" for m in report.missing)
               + "\n\nL'équipe les saisit sur la page « Chiffres saisis » ou les importe "
               "d'un tableur.")
else:
    st.success("Chaque objectif de l'année a sa valeur.")


def _table(frame: pd.DataFrame) -> None:
    st.dataframe(frame.map(plain), hide_index=True, width="stretch")


actions, indicators, overview, budget, methods, definitions = st.tabs(
    ["Actions", "Indicateurs", "Bilan global", "Budget", "Méthodes et sources",
     "Définitions des indicateurs"])
with actions:
    _table(report.actions)
with indicators:
    _table(report.indicators)
with overview:
    _table(report.overview)
with budget:
    _table(report.budget)
with methods:
    for line in report.methods:
        st.markdown(f"- {plain(line)}")
with definitions:
    from observatoire.indicators.catalogue import load_catalogue

    _table(pd.DataFrame([i.definition_row() for i in load_catalogue().values()
                         if i.publishable]))

if staff:
    with st.form("rapport_commentaires"):
        st.markdown(f"**Commentaires des actions pour {int(year)}** (repris dans la colonne "
                    "Commentaire du rapport ; chaque enregistrement est une version de la "
                    "convention)")
        current = convention.comments.get(str(int(year)), {})
        table = pd.DataFrame([{"N°": a.number, "Action": a.title,
                               "Commentaire": current.get(a.number, "")}
                              for a in convention.actions])
        edited = st.data_editor(table, hide_index=True, width="stretch",
                                disabled=["N°", "Action"], key="rapport_commentaires_table")
        if st.form_submit_button("Enregistrer les commentaires"):
            from observatoire.evaluation.convention_service import save_report_comments

            try:
                version = save_report_comments(
                    engine(), slug, int(year),
                    {str(r["N°"]): str(r["Commentaire"] or "")
                     for r in edited.to_dict("records")}, actor=user.login)
            except ObservatoireError as exc:
                st.error(plain(exc))
            else:
                _inputs_version.clear()
                st.success("Commentaires enregistrés (version "
                           f"{version} de la convention)." if version else
                           "Aucun changement.")
                st.rerun()

from observatoire.evaluation.report import report_bytes  # noqa: E402

cols = st.columns(2)
download("Télécharger le rapport (.xlsx)", lambda: report_bytes(report, ".xlsx"),
         file_name=f"rapport-execution-{slug}-{int(year)}.xlsx",
         mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         kind="report.annual", where=cols[0], territory=slug, year=int(year))
download("Télécharger le rapport (.html)", lambda: report_bytes(report, ".html"),
         file_name=f"rapport-execution-{slug}-{int(year)}.html", mime="text/html",
         kind="report.annual", where=cols[1], territory=slug, year=int(year))
