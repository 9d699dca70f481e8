"""Staff page: clerical review of the uncertain pairs of the latest linkage run.

Two records side by side (only non-identifying fields: names and birth dates are stored as
keyed encodings, so the page shows how similar they are, never what they are), three answers
with keyboard shortcuts, progress through the queue, and splitting a wrongly merged person.
Answers are stored at once and apply from the next run (`observatoire link --stored`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.common import engine, plain
from dashboards.tableau_commun import STAFF_ROLES, require
from observatoire.linkage import review
from observatoire.model import ObservatoireError, ReviewDecision

# The answer buttons, in this order, with their keyboard shortcut (C and R are Streamlit's).
SHORTCUTS = {ReviewDecision.MATCH: "M", ReviewDecision.NON_MATCH: "N", ReviewDecision.UNSURE: "I"}
user = require(*STAFF_ROLES)
st.title("Revue des doublons")
st.caption(
    "Paires d'enregistrements que le modèle ne sait pas trancher. Votre réponse est "
    "enregistrée, prime sur le modèle et lui sert à apprendre ; elle s'applique au prochain "
    "rapprochement (`observatoire link --stored`). Raccourcis : M, N, I ; une réponse "
    "donnée par erreur s'annule."
)


@st.cache_data(ttl=30, show_spinner=False)
def load_state() -> review.ReviewState:
    return review.review_state(engine())


@st.cache_data(ttl=30, show_spinner=False)
def load_cards(keys: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    return review.record_cards(engine(), keys)


@st.cache_data(ttl=30, show_spinner=False)
def load_persons(keys: tuple[str, ...]) -> dict[str, str | None]:
    return review.persons_of(engine(), keys)


def _answer(a: str, b: str, decision: str, probability: float) -> None:
    review.answer(engine(), a, b, decision, user.login, probability)
    load_state.clear()
    st.session_state["revue_derniere"] = ("answer", decision)


def _undo() -> None:
    undone = review.undo_last_answer(engine(), user.login)
    load_state.clear()
    st.session_state["revue_derniere"] = ("undo", undone[2] if undone else None)


def _card(column, title: str, key: str, cards: dict, persons: dict) -> None:
    column.markdown(f"**{title}**")
    column.dataframe(pd.DataFrame(cards.get(key, []), columns=["Champ", "Valeur"]),
                     hide_index=True, width="stretch")  # fmt: skip
    column.caption(f"Enregistrement : {plain(key)} — personne : "
                   f"{plain(persons.get(key) or 'aucune')}")  # fmt: skip


try:
    state = load_state()
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()

if state.queue.empty:
    st.info("Aucune paire à revoir : lancez d'abord le rapprochement "
            "(`observatoire link --stored`).")  # fmt: skip
else:
    figure = state.figure
    if figure is not None:
        from observatoire.indicators.wording import estimate_label, estimate_text, interval_text

        # The wording of the terminal, the tiles and the publication (`indicators.wording`).
        st.markdown(
            f"**{estimate_label()} : {estimate_text(figure)}**, soit {figure.width} personnes "
            f"de large. Les {state.size} paires de la file sont celles qui pèsent le plus sur "
            "ce chiffre : une fois revues (puis le rapprochement relancé), "
            f"{interval_text(*figure.after_review)} environ. Les "
            f"{figure.width_after_review} personnes de large qui resteraient viennent des "
            "paires hors de la file et de l'erreur connue du modèle."
        )
    st.progress(state.answered / state.size,
                text=f"{state.answered} paire(s) revue(s) sur {state.size}")  # fmt: skip
    last = st.session_state.get("revue_derniere")
    if last and last[0] == "answer":
        st.success(f"Réponse enregistrée : {ReviewDecision(last[1]).label}.")
    elif last and last[0] == "undo":
        st.info(f"Réponse annulée : {ReviewDecision(last[1]).label} ; la paire est de "
                "nouveau dans la file." if last[1] else "Aucune réponse à annuler.")  # fmt: skip
    st.button("Annuler ma dernière réponse", key="revue_annuler", on_click=_undo,
              disabled=state.answered == 0)  # fmt: skip
    pair = state.next_pair()
    if pair is None:
        st.success("Toutes les paires de ce rapprochement sont revues.")
    else:
        keys = (pair["record_a"], pair["record_b"])
        cards, persons = load_cards(keys), load_persons(keys)
        st.subheader(f"Probabilité du modèle : {100 * pair['probability']:.0f} %")
        left, right = st.columns(2)
        _card(left, "Enregistrement A", keys[0], cards, persons)
        _card(right, "Enregistrement B", keys[1], cards, persons)
        st.markdown("**Ressemblance**")
        st.dataframe(pd.DataFrame(review.similarity_rows(pair["levels"]),
                                  columns=["Comparaison", "Niveau"]),
                     hide_index=True, width="stretch")  # fmt: skip
        buttons = st.columns(len(SHORTCUTS))
        for column, (decision, shortcut) in zip(buttons, SHORTCUTS.items(), strict=True):
            column.button(
                decision.label, key=f"revue_{decision.value}", shortcut=shortcut,
                width="stretch", on_click=_answer,
                args=(*keys, decision.value, float(pair["probability"])),
            )  # fmt: skip

st.divider()
st.subheader("Voir ou scinder une personne")
st.caption("Cherchez une personne par son identifiant ou par celui d'un de ses "
           "enregistrements (affichés sous chaque enregistrement de la paire). Détachez-en "
           "les enregistrements qui ne sont pas elle : ils ne lui seront plus rattachés aux "
           "prochains rapprochements.")  # fmt: skip
wanted = st.text_input("Identifiant de la personne ou d'un enregistrement",
                       key="revue_personne").strip()  # fmt: skip
if wanted:
    try:
        person = review.find_person(engine(), wanted)
    except ObservatoireError as exc:
        st.error(plain(exc))
    else:
        st.markdown(f"**Personne {plain(person.key)}** : {len(person.records)} "
                    "enregistrement(s).")  # fmt: skip
        for key in person.records:
            with st.expander(plain(key)):
                st.dataframe(pd.DataFrame(person.cards.get(key, []),
                                          columns=["Champ", "Valeur"]),
                             hide_index=True, width="stretch")  # fmt: skip
        moved = st.multiselect("Enregistrements à détacher", person.records,
                               key="revue_detacher", placeholder="Choisissez…")  # fmt: skip
        if st.button("Scinder", key="revue_scinder", disabled=not moved):
            try:
                stored = review.split_person(engine(), person.key, moved, user.login)
            except ObservatoireError as exc:
                st.error(plain(exc))
            else:
                load_state.clear()
                st.success(f"Personne scindée : {stored} décision(s) « pas la même personne » "
                           "enregistrée(s).")  # fmt: skip
