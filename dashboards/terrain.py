"""Team leader: the team's records of the open night, corrected during the night with
history.

The team code is the only key: anyone holding the paper sheet may type it. So the page shows
the records of the team's open night only, and nothing once the night is over or the
campaign locked (`countnight.join_for_leader`); the list holds a few coded fields and no
download (a static table, no toolbar); the other answers of a record appear only in its
correction form. Each opening with a team code is written to the audit log.
"""

from __future__ import annotations

import streamlit as st

from dashboards.common import client, engine, plain
from observatoire import countnight, security
from observatoire.access import TEAM_CODE_PARAM
from observatoire.model import ObservatoireError
from observatoire.survey import load_questionnaire

st.title("Chef d'équipe — corrections")
code = st.text_input(
    "Code d'équipe",
    value=st.session_state.get("team_code") or st.query_params.get(TEAM_CODE_PARAM, ""),
    max_chars=12,
)
if not code:
    st.info("Saisissez le code de votre équipe pour voir ses fiches de la nuit.")
    st.stop()
try:
    # The leader's check (open night only) behind the team-code lockout.
    context = security.join_team(engine(), code, client=client(), page="terrain",
                                 join=countnight.join_for_leader)
    entries = countnight.team_entries(engine(), context.team_code)
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()

audited = f"terrain_audited:{context.team_code}"
if not st.session_state.get(audited):
    countnight.record_team_access(engine(), context, "terrain")
    st.session_state[audited] = True

questionnaire = load_questionnaire(context.questionnaire_version)
st.caption(plain(f"{context.team_name} — {context.campaign_name}, nuit du "
                 f"{context.night_date:%d/%m/%Y} : {len(entries)} fiche(s)"))  # fmt: skip
if entries.empty:
    st.info("Aucune fiche enregistrée pour l'instant.")
    st.stop()


def _label(name: str, value: object) -> str:
    choices = {c.value: c.label for c in questionnaire.choices(name)} if name else {}
    return choices.get(value, "" if value is None or value != value else str(value))


shown = entries.assign(
    heure=entries["heure"].map(lambda t: f"{t:%H:%M}"),
    **{name: entries[name].map(lambda v, n=name: _label(n, v))
       for name in countnight.LEADER_COLUMNS},
)  # fmt: skip
labels = {q.name: q.label for q in questionnaire.questions}
shown = shown.rename(
    columns={"id": "n°"} | {n: labels.get(n, n) for n in countnight.LEADER_COLUMNS}
)
# A static table: no "Download as CSV" toolbar, and every cell shown as plain text.
st.table(shown.map(plain), hide_index=True)

chosen = st.selectbox("Fiche à corriger", entries["id"].tolist(),
                      format_func=lambda i: f"Fiche n°{i}")
try:
    record = countnight.team_record(engine(), context.team_code, int(chosen))
except ObservatoireError as exc:
    st.error(plain(exc))
    st.stop()
editable = [q for q in questionnaire.questions if q.type in ("select_one", "integer", "text",
                                                             "boolean")]
with st.form("correction"):
    changes = {}
    for question in editable:
        current = record.get(question.name)
        if question.type == "select_one":
            options = [""] + [c.value for c in questionnaire.choices(question.name)]
            labels = {"": "—"} | {c.value: c.label for c in questionnaire.choices(question.name)}
            value = st.selectbox(question.label, options, format_func=labels.get,
                                 index=options.index(current) if current in options else 0)
        elif question.type == "boolean":
            options = ["", "oui", "non"]
            shown_value = "" if current is None else ("oui" if current else "non")
            value = st.selectbox(question.label, options, index=options.index(shown_value))
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
            st.error(plain(exc))
        else:
            st.success(f"Correction enregistrée ({len(changes)} champ(s)).")

history = countnight.observation_history(engine(), int(chosen))
with st.expander(f"Historique de la fiche ({len(history)} correction(s))"):
    for item in history:
        st.text(f"Révision {item['revision']} — {item['revised_at']:%d/%m %H:%M} — "
                f"{item['actor']} : {item['reason']}")
        st.json({"avant": item["before"], "après": item["after"]}, expanded=False)
