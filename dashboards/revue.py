"""Staff page: clerical review of the uncertain pairs of the latest linkage run.

Two records side by side (only non-identifying fields: names and birth dates are stored as
keyed encodings, so the page shows how similar they are, never what they are), three answers
with keyboard shortcuts, progress through the queue, and splitting a wrongly merged person.
Answers are stored at once and apply from the next run (`observatoire link --stored`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from dashboards.common import engine, plain
from dashboards.tableau_commun import STAFF_ROLES, require
from observatoire.linkage.compare import COMPARISONS
from observatoire.model import ObservatoireError
from observatoire.store import linkage_repository as repo

ANSWERS = (
    # decision, label, shortcut (C and R are reserved by Streamlit)
    ("match", "Même personne", "M"),
    ("non_match", "Pas la même personne", "N"),
    ("unsure", "Incertain", "I"),
)
LEVELS = {c.name: c.levels for c in COMPARISONS}
COMPARISON_LABELS = {
    "first_name": "Prénom", "last_name": "Nom", "birth": "Naissance",
    "initials": "Initiales (clé de la nuit)", "sex": "Sexe", "commune": "Commune",
    "night_place": "Lieu (même nuit)", "fortnight_place": "Lieu (même quinzaine)",
}  # fmt: skip
FIELD_LABELS = {
    "source": "Source", "commune": "Commune", "sexe": "Sexe",
    "annee_naissance": "Année de naissance", "age": "Âge déclaré",
    "tranche_age": "Tranche d'âge", "dernier_contact": "Dernier contact", "vu_le": "Vu le",
    "nom_connu": "Nom renseigné", "prenom_connu": "Prénom renseigné",
    "date_complete": "Date de naissance complète", "initiales_donnees": "Initiales données",
}  # fmt: skip

user = require(*STAFF_ROLES)
st.title("Revue des doublons")
st.caption(
    "Paires d'enregistrements que le modèle ne sait pas trancher. Votre réponse est "
    "enregistrée, prime sur le modèle et lui sert à apprendre ; elle s'applique au prochain "
    "rapprochement (`observatoire link --stored`). Raccourcis : M, N, I."
)


@st.cache_data(ttl=30, show_spinner=False)
def load_queue() -> pd.DataFrame:
    with Session(engine()) as session:
        return repo.review_queue(session)


@st.cache_data(ttl=30, show_spinner=False)
def load_estimate() -> repo.PeopleFigure | None:
    with Session(engine()) as session:
        return repo.people_estimate(session)


@st.cache_data(ttl=30, show_spinner=False)
def load_details(keys: tuple[str, ...]) -> dict[str, dict]:
    with Session(engine()) as session:
        return repo.record_details(session, keys)


def _answer(a: str, b: str, decision: str, probability: float) -> None:
    with Session(engine()) as session, session.begin():
        repo.add_decision(session, a, b, decision, user.login, probability)
    load_queue.clear()
    st.session_state["revue_derniere"] = (a, b, decision)


def _show(value: object) -> str:
    if value is None or value == "" or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


try:
    queue = load_queue()
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()

if queue.empty:
    st.info("Aucune paire à revoir : lancez d'abord le rapprochement "
            "(`observatoire link --stored`).")  # fmt: skip
else:
    figure = load_estimate()
    if figure is not None:
        from observatoire.indicators.wording import estimate_label, estimate_text, interval_text

        # The wording of the terminal, the tiles and the publication (`indicators.wording`).
        st.markdown(
            f"**{estimate_label()} : {estimate_text(figure)}**, soit {figure.width} personnes "
            f"de large. Les {len(queue)} paires ci-dessous sont celles qui pèsent le plus sur "
            "ce chiffre : une fois revues (puis le rapprochement relancé), "
            f"{interval_text(*figure.after_review)} environ. Les "
            f"{figure.width_after_review} personnes de large qui resteraient viennent des "
            "paires hors de la file et de l'erreur connue du modèle."
        )
    done = int(queue["decision"].notna().sum())
    st.progress(done / len(queue), text=f"{done} paire(s) revue(s) sur {len(queue)}")
    last = st.session_state.get("revue_derniere")
    if last:
        labels = {d: label for d, label, _ in ANSWERS}
        st.success(f"Réponse enregistrée : {labels[last[2]]}.")
    todo = queue[queue["decision"].isna()]
    if todo.empty:
        st.success("Toutes les paires de ce rapprochement sont revues.")
    else:
        pair = todo.iloc[0]
        details = load_details((pair["record_a"], pair["record_b"]))
        st.subheader(f"Probabilité du modèle : {100 * pair['probability']:.0f} %")
        left, right = st.columns(2)
        for column, key, title in ((left, pair["record_a"], "Enregistrement A"),
                                   (right, pair["record_b"], "Enregistrement B")):
            record = details.get(key, {})
            column.markdown(f"**{title}**")
            column.dataframe(
                pd.DataFrame([(FIELD_LABELS.get(k, k), _show(v)) for k, v in record.items()],
                             columns=["Champ", "Valeur"]),
                hide_index=True, width="stretch",
            )  # fmt: skip
        levels = pair["levels"] or {}
        similarity = [
            (COMPARISON_LABELS.get(name, name),
             LEVELS[name][level] if name in LEVELS and level >= 0 else "inconnu")
            for name, level in levels.items()
        ]  # fmt: skip
        st.markdown("**Ressemblance**")
        st.dataframe(pd.DataFrame(similarity, columns=["Comparaison", "Niveau"]),
                     hide_index=True, width="stretch")  # fmt: skip
        buttons = st.columns(len(ANSWERS))
        for column, (decision, label, shortcut) in zip(buttons, ANSWERS, strict=True):
            column.button(
                label, key=f"revue_{decision}", shortcut=shortcut, width="stretch",
                on_click=_answer,
                args=(pair["record_a"], pair["record_b"], decision, float(pair["probability"])),
            )  # fmt: skip

st.divider()
st.subheader("Scinder une personne")
st.caption("Détachez d'une personne les enregistrements qui ne sont pas elle : ils ne lui "
           "seront plus rattachés aux prochains rapprochements.")  # fmt: skip
person = st.text_input("Identifiant de la personne (person_key)", key="revue_personne").strip()
if person:
    try:
        with Session(engine()) as session:
            members = repo.person_records(session, person)
    except ObservatoireError as exc:
        st.error(plain(exc))
    else:
        moved = st.multiselect("Enregistrements à détacher", members, key="revue_detacher")
        if st.button("Scinder", key="revue_scinder", disabled=not moved):
            try:
                with Session(engine()) as session, session.begin():
                    stored = repo.split_person(session, person, moved, user.login)
            except ObservatoireError as exc:
                st.error(plain(exc))
            else:
                st.success(f"Personne scindée : {stored} décision(s) « pas la même personne » "
                           "enregistrée(s).")  # fmt: skip
