"""Staff page « Chiffres saisis »: the figures no feed gives (places opened, diagnostics,
households met...), per year or quarter, for the territory or a commune, with source,
comment and author; entered here or imported from a spreadsheet. A correction is a new
entry: the history stays."""

from __future__ import annotations

import streamlit as st

from dashboards.common import choose_territory, download, engine, plain, require
from dashboards.tableau_commun import STAFF_ROLES
from observatoire.evaluation.sheets import SheetImportError, book_bytes
from observatoire.model import ObservatoireError

user = require(*STAFF_ROLES)
st.title("Chiffres saisis")
st.caption("Ce qu'aucun fichier partenaire ne fournit. Le rapport d'exécution lit la "
           "dernière saisie de chaque chiffre.")
slug = choose_territory()

from observatoire.evaluation import figures  # noqa: E402
from observatoire.evaluation.stored import figures_template  # noqa: E402

try:
    choices = figures.entry_choices(engine(), slug)
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()
communes = choices.communes

with st.form("chiffre", clear_on_submit=True):
    cols = st.columns(3)
    indicator = cols[0].selectbox("Indicateur", list(choices.indicators),
                                  format_func=choices.indicators.get,
                                  key="chiffre_indicateur")
    year = cols[1].number_input("Année", 2000, 2100, value=2025, step=1, key="chiffre_annee")
    quarter = cols[2].selectbox("Période", [None, 1, 2, 3, 4],
                                format_func=lambda q: "année entière" if q is None
                                else f"trimestre {q}")
    cols = st.columns(3)
    commune = cols[0].selectbox("Commune", [None, *communes],
                                format_func=lambda c: "tout le territoire" if c is None
                                else f"{communes[c]} ({c})")
    value = cols[1].number_input("Valeur", min_value=0.0, step=1.0, key="chiffre_valeur")
    source = cols[2].text_input("Source", placeholder="ex. DDETS, bilan CCAPEX",
                                key="chiffre_source")
    comment = st.text_input("Commentaire")
    if st.form_submit_button("Enregistrer"):
        try:
            figures.enter_figure(engine(), slug, indicator, int(year), value,
                                 actor=user.login, quarter=quarter, commune_code=commune,
                                 source=source or None, comment=comment or None)
        except ObservatoireError as exc:
            st.error(plain(exc))
        else:
            st.success("Chiffre enregistré (les saisies précédentes restent dans "
                       "l'historique).")

st.subheader("Importer un tableur")
download("Modèle de tableur (.xlsx)", lambda: book_bytes({"Chiffres": figures_template()}),
         file_name="chiffres-modele.xlsx",
         mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         kind="figures.template")
upload = st.file_uploader("Colonnes : Indicateur, Année, Trimestre, Commune, Valeur, Source, "
                          "Commentaire", type=["xlsx", "csv"], key="chiffres_import")
if upload is not None and st.button("Importer les chiffres"):
    try:
        stored = figures.import_figures(engine(), slug, upload.name, upload.getvalue(),
                                        actor=user.login)
    except SheetImportError as exc:
        st.error(f"Rien n'a été enregistré : {len(exc.problems)} problème(s).")
        st.dataframe(exc.frame().map(plain), hide_index=True, width="stretch")
    except ObservatoireError as exc:
        st.error(plain(exc))
    else:
        st.success(f"{stored} chiffre(s) enregistré(s).")

st.subheader("Historique des saisies")
history = figures.figure_history(engine(), slug)
if history.empty:
    st.info("Aucun chiffre saisi.")
else:
    shown = history.iloc[::-1].assign(
        entered_at=history["entered_at"].map(lambda d: f"{d:%d/%m/%Y %H:%M}"),
        value=history["value"].map(lambda v: "retiré" if v != v or v is None else v),
    )
    for column in ("source", "comment", "entered_by", "indicator_id"):
        shown[column] = shown[column].map(lambda t: plain(t or ""))
    st.dataframe(shown.rename(columns={
        "indicator_id": "Indicateur", "year": "Année", "quarter": "Trimestre",
        "commune_code": "Commune", "value": "Valeur", "source": "Source",
        "comment": "Commentaire", "entered_at": "Saisi le", "entered_by": "Par"}),
        hide_index=True, width="stretch")
