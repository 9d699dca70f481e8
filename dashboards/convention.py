"""Staff page « Convention »: the territory's *Logement d'abord* convention as staff keep it
(actions, indicators, targets per year), edited here or exchanged as a spreadsheet. Each
save is a new version with its date, author and note; earlier versions and every target's
history stay readable."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.common import choose_territory, download, engine, plain, require
from dashboards.tableau_commun import STAFF_ROLES
from observatoire.evaluation import convention_service, exchange
from observatoire.evaluation.sheets import SheetImportError, book_bytes
from observatoire.model import ObservatoireError

user = require(*STAFF_ROLES)
st.title("Convention Logement d'abord")
slug = choose_territory()


def _problems(error: SheetImportError) -> None:
    st.error(f"Rien n'a été enregistré : {len(error.problems)} problème(s) à corriger.")
    st.dataframe(error.frame().map(plain), hide_index=True, width="stretch")


try:
    of_territory = convention_service.conventions_of(engine(), slug)
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()
stored, years = of_territory.conventions, of_territory.years

if not stored:
    st.info("Aucune convention enregistrée pour ce territoire.")
    if years and st.button("Enregistrer la convention livrée (annexes transcrites)"):
        convention_service.seed_conventions(engine(), slug, actor=user.login)
        st.rerun()
    st.caption("Ou importez un classeur au modèle de `observatoire convention export` "
               "ci-dessous.")

periods = {f"{c.period[0]}-{c.period[1]}": c for c in sorted(stored, key=lambda c: c.period,
                                                              reverse=True)}
convention = None
if periods:
    period = st.selectbox("Convention", list(periods), key="convention_periode")
    convention = periods[period]
    st.subheader(plain(convention.title))
    st.caption(f"Période {convention.period[0]}-{convention.period[1]} ; rapport d'exécution "
               f"à transmettre le {convention.report_deadline[3:]}/"
               f"{convention.report_deadline[:2]} de l'année suivante ; signataires : "
               + plain(" ; ".join(convention.signatories) or "—"))

def _blank_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Empty cells as "" (an editor draws a missing value as "None"); the spreadsheet
    parser reads them as empty cells, as in an imported file."""
    return frame.astype(object).where(frame.notna(), "")


edit, sheet, history = st.tabs(["Actions et objectifs", "Tableur", "Versions et historique"])

if convention is not None:
    with edit, st.form("convention_edition"):
        st.markdown("**Actions** (une ligne par action ; partenaires séparés par « ; »)")
        actions = _blank_text(exchange.actions_frame(convention))
        actions.index = range(1, len(actions) + 1)
        edited_actions = st.data_editor(actions, num_rows="dynamic", width="stretch",
                                        key="convention_actions")
        st.markdown("**Indicateurs et objectifs par année** (« Catalogue » : oui pour un "
                    "indicateur calculé par l'observatoire)")
        indicators = _blank_text(exchange.indicators_frame(convention))
        indicators.index = range(1, len(indicators) + 1)
        edited_indicators = st.data_editor(indicators, num_rows="dynamic", width="stretch",
                                           key="convention_indicateurs")
        note = st.text_input("Motif de la révision (gardé avec la version)",
                             placeholder="ex. avenant n°1, comité de pilotage du 12/03")
        if st.form_submit_button("Enregistrer une nouvelle version"):
            try:
                revised = exchange.convention_from_sheets(
                    {exchange.HEADER: exchange.header_frame(convention),
                     exchange.ACTIONS: edited_actions.reset_index(drop=True).set_axis(
                         range(1, len(edited_actions) + 1)),
                     exchange.INDICATORS: edited_indicators.reset_index(drop=True).set_axis(
                         range(1, len(edited_indicators) + 1))},
                    "page Convention", base=convention)
                version = convention_service.save_convention(
                    engine(), revised, actor=user.login, note=note or None)
            except SheetImportError as exc:
                _problems(exc)
            except ObservatoireError as exc:
                st.error(plain(exc))
            else:
                if version is None:
                    st.info("Rien n'a changé : aucune nouvelle version.")
                else:
                    st.success(f"Version {version} enregistrée (les précédentes restent "
                               "consultables).")

with sheet:
    if convention is not None:
        download("Exporter la convention (.xlsx)",
                 lambda: book_bytes(exchange.sheets_of(convention)),
                 file_name=f"convention-{slug}-{convention.period[0]}-"
                           f"{convention.period[1]}.xlsx",
                 mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 kind="convention.export", territory=slug)
    upload = st.file_uploader("Importer un classeur (.xlsx : feuilles Convention, Actions, "
                              "Indicateurs) ou un CSV d'un des deux tableaux",
                              type=["xlsx", "csv"], key="convention_import")
    import_note = st.text_input("Motif de la révision", key="convention_import_note")
    if upload is not None and st.button("Importer comme nouvelle version"):
        try:
            imported, version = convention_service.import_convention(
                engine(), slug, upload.name, upload.getvalue(), actor=user.login,
                note=import_note or None,
                year=convention.period[0] if convention else None)
        except SheetImportError as exc:
            _problems(exc)
        except ObservatoireError as exc:
            st.error(plain(exc))
        else:
            st.success("Aucun changement." if version is None
                       else f"Version {version} enregistrée.")

with history:
    if convention is not None:
        history_of_period = convention_service.convention_history(engine(), slug, period)
        versions, changes = history_of_period.versions, history_of_period.targets
        st.markdown("**Versions**")
        st.dataframe(pd.DataFrame([{"Version": v.version, "Date": f"{v.saved_at:%d/%m/%Y %H:%M}",
                                    "Auteur": plain(v.saved_by), "Motif": plain(v.note or "")}
                                   for v in versions]), hide_index=True, width="stretch")
        st.markdown("**Objectifs, version par version**")
        st.dataframe(changes.assign(
            saved_at=changes["saved_at"].map(lambda d: f"{d:%d/%m/%Y}"),
            note=changes["note"].map(lambda n: plain(n or "")),
            target=changes["target"].map(lambda t: "retiré" if t is None or t != t else t),
        ).rename(columns={"action": "Action", "indicator": "Indicateur", "year": "Année",
                          "target": "Objectif", "version": "Version", "saved_at": "Date",
                          "saved_by": "Auteur", "note": "Motif"}),
            hide_index=True, width="stretch")
