"""Team leader: the team's records of the night, corrected during the night with history."""

from __future__ import annotations

import streamlit as st

from dashboards.common import engine
from observatoire import countnight
from observatoire.formula import escape_frame
from observatoire.model import ObservatoireError
from observatoire.survey import load_questionnaire

st.title("Chef d'équipe — corrections")
code = st.text_input("Code d'équipe", value=st.query_params.get("equipe", ""), max_chars=12)
if not code:
    st.info("Saisissez le code de votre équipe pour voir ses fiches.")
    st.stop()
try:
    context = countnight.join_team(engine(), code)
    entries = countnight.team_entries(engine(), context.team_code)
except ObservatoireError as exc:
    st.error(str(exc))
    st.stop()

st.caption(f"{context.team_name} — {context.campaign_name} : {len(entries)} fiche(s)")
if entries.empty:
    st.info("Aucune fiche enregistrée pour l'instant.")
    st.stop()
# The table's own CSV download goes to a spreadsheet: free text escaped (formulas).
st.dataframe(escape_frame(entries), hide_index=True, width="stretch")

questionnaire = load_questionnaire(context.questionnaire_version)
chosen = st.selectbox("Fiche à corriger", entries["id"].tolist(),
                      format_func=lambda i: f"Fiche n°{i}")
record = entries.set_index("id").loc[chosen]
editable = [q for q in questionnaire.questions if q.type in ("select_one", "integer", "text",
                                                             "boolean")]
with st.form("correction"):
    changes = {}
    for question in editable:
        current = record.get(question.name)
        current = None if current is None or current != current else current  # NaN -> None
        if question.type == "select_one":
            options = [""] + [c.value for c in questionnaire.choices(question.name)]
            labels = {"": "—"} | {c.value: c.label for c in questionnaire.choices(question.name)}
            value = st.selectbox(question.label, options, format_func=labels.get,
                                 index=options.index(current) if current in options else 0)
        elif question.type == "boolean":
            options = ["", "oui", "non"]
            shown = "" if current is None else ("oui" if current else "non")
            value = st.selectbox(question.label, options, index=options.index(shown))
            value = None if value == "" else value == "oui"
        else:
            value = st.text_input(question.label, value="" if current is None else str(current))
        value = None if value == "" else value
        if value != current and not (value is None and current is None):
            if question.type == "integer" and value is not None and str(value) == str(current):
                continue
            changes[question.name] = value
    reason = st.text_input("Raison de la correction (obligatoire)")
    if st.form_submit_button("Enregistrer la correction", type="primary"):
        try:
            countnight.correct_observation(
                engine(), int(chosen), changes, actor=f"chef:{context.team_code}",
                reason=reason, team_code=context.team_code,
            )
        except ObservatoireError as exc:
            st.error(str(exc))
        else:
            st.success(f"Correction enregistrée ({len(changes)} champ(s)).")

history = countnight.observation_history(engine(), int(chosen))
with st.expander(f"Historique de la fiche ({len(history)} correction(s))"):
    for item in history:
        st.write(f"Révision {item['revision']} — {item['revised_at']:%d/%m %H:%M} — "
                 f"{item['actor']} : {item['reason']}")
        st.json({"avant": item["before"], "après": item["after"]}, expanded=False)
