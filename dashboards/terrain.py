"""Team leader: the team's records of the open night, corrected during the night with
history.

The team code is the only key: anyone holding the paper sheet may type it. So the page shows
the records of the team's open night only, and nothing once the night is over or the
campaign locked (`countnight.entry.join_for_leader`); the list holds a few coded fields and no
download (a static table, no toolbar); the other answers of a record appear only in its
correction form. Each opening with a team code is written to the audit log.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards.common import client, engine, plain
from observatoire import security
from observatoire.access import TEAM_CODE_PARAM
from observatoire.countnight import corrections, entry
from observatoire.model import ObservatoireError
from observatoire.survey import load_questionnaire

st.title("Chef d'équipe — corrections")


def _change_team() -> None:
    for key in ("team_code", "leader_code"):
        st.session_state.pop(key, None)
    st.query_params.clear()


# The code the team already gave (on the entry page, or in the address): not asked again.
known = (st.session_state.get("team_code") or st.session_state.get("leader_code")
         or st.query_params.get(TEAM_CODE_PARAM))  # fmt: skip
if known:
    code = known
else:
    code = st.text_input("Code d'équipe", max_chars=12, placeholder="ex. K7QX2M")
    if not code:
        st.info("Saisissez le code de votre équipe pour voir ses fiches de la nuit.")
        st.stop()
try:
    # The leader's check (open night only) behind the team-code lockout.
    context = security.join_team(engine(), code, client=client(), page="terrain",
                                 join=entry.join_for_leader)
    entries = corrections.team_entries(engine(), context.team_code)
except ObservatoireError as exc:
    st.error(plain(exc))
    if known:
        st.button("Saisir un autre code", key="leader_retry", on_click=_change_team)
    st.stop()

if not known:
    st.session_state.leader_code = context.team_code
    st.query_params[TEAM_CODE_PARAM] = context.team_code
audited = f"terrain_audited:{context.team_code}"
if not st.session_state.get(audited):
    entry.record_team_access(engine(), context, "terrain")
    st.session_state[audited] = True

questionnaire = load_questionnaire(context.questionnaire_version)
caption, leave = st.columns([3, 1], vertical_alignment="center")
caption.caption(plain(f"{context.team_name} ({context.team_code}) — {context.campaign_name}, "
                      f"nuit du {context.night_date:%d/%m/%Y} : {len(entries)} fiche(s)"))
leave.button("Changer d'équipe", key="leader_leave", on_click=_change_team)
if entries.empty:
    st.info("Aucune fiche enregistrée pour l'instant.")
    st.stop()


def _label(name: str, value: object) -> str:
    """A stored value as the form shows it (``asleep`` -> « Observée seulement : endormie »)."""
    if value is None or value != value or value == "":
        return ""
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, list):
        return ", ".join(_label(name, v) for v in value)
    if name in questionnaire and questionnaire.choices(name):
        return questionnaire.choice_label(name, value)
    return str(value)


shown = entries.assign(
    heure=entries["heure"].map(lambda t: f"{t:%H:%M}"),
    **{name: entries[name].map(lambda v, n=name: _label(n, v))
       for name in corrections.LEADER_COLUMNS},
)  # fmt: skip
labels = {q.name: q.label for q in questionnaire.questions}
shown = shown.rename(
    columns={"id": "n°", "heure": "Heure", "secteur": "Secteur",
             "avertissements": "Avertissements", "révision": "Corrections"}
    | {n: labels.get(n, n) for n in corrections.LEADER_COLUMNS}
)
# A static table: no "Download as CSV" toolbar, and every cell shown as plain text.
st.table(shown.map(plain), hide_index=True)

chosen = st.selectbox("Fiche à corriger", entries["id"].tolist(),
                      format_func=lambda i: f"Fiche n°{i}")
try:
    record = corrections.team_record(engine(), context.team_code, int(chosen))
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
            value = st.selectbox(question.label, options, index=options.index(shown_value),
                                 format_func={"": "—", "oui": "Oui", "non": "Non"}.get)
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
            corrections.correct_observation(
                engine(), int(chosen), changes, actor=f"chef:{context.team_code}",
                reason=reason, team_code=context.team_code,
            )
        except ObservatoireError as exc:
            st.error(plain(exc))
        else:
            st.success(f"Correction enregistrée ({len(changes)} champ(s)).")

history = corrections.observation_history(engine(), int(chosen))
with st.expander(f"Historique de la fiche ({len(history)} correction(s))"):
    for item in history:
        st.markdown(plain(f"Correction {item['revision']} — {item['revised_at']:%d/%m %H:%M} — "
                          f"{item['actor']} : {item['reason']}"))
        before, after = item["before"] or {}, item["after"] or {}
        changed = [name for name in {**before, **after} if before.get(name) != after.get(name)]
        st.table(pd.DataFrame(
            [{"Question": questionnaire.label(name), "Avant": _label(name, before.get(name)),
              "Après": _label(name, after.get(name))} for name in changed],
            columns=["Question", "Avant", "Après"],
        ).map(plain), hide_index=True)  # fmt: skip
