"""Tablet entry for volunteers on the count night: join with the team code, see the sector,
record people met (one tap when only observed), report the sector walked.

Each questionnaire gets a UUID when it is opened; sending it again (double tap, retry after a
lost connection) reuses that UUID, and the database keeps one record per UUID.

After joining, the team code stays in the address (``?equipe=CODE``): a reload, a tab the
tablet restores or a reconnect to a new server session joins again from it, with the same
checks as a typed code. An optional GPS position is taken by the browser (no network
needed, but browsers only allow it on https or localhost); a refused or missing position
never blocks a record.
"""

from __future__ import annotations

import datetime as dt
import uuid

import streamlit as st

from dashboards.common import client, engine, plain, settings
from observatoire import security
from observatoire.access import TEAM_CODE_PARAM
from observatoire.countnight import coverage, entry
from observatoire.geo.display import area_map
from observatoire.model import ObservatoireError
from observatoire.survey import Submission, browser_position, load_questionnaire
from observatoire.survey.questionnaire import Question, Questionnaire
from observatoire.survey.responses import clean_value, is_required, validate_response

QUICK = {
    "asleep": "Endormie",
    "refused": "A refusé",
    "not_approachable": "Pas abordable",
    "already_answered": "A déjà répondu",
}
YES_NO = {"oui": "Oui", "non": "Non"}

# Large touch targets: tablets held in the cold, often with gloves.
st.html(
    """<style>
    div.stButton > button {min-height: 3.4rem; font-size: 1.15rem; width: 100%;}
    div[data-testid="stButtonGroup"] button {min-height: 2.9rem; font-size: 1.05rem;}
    div[data-testid="stMetricValue"] {font-size: 2.2rem;}
    </style>"""
)


# Browser geolocation through a bidirectional component (st.components.v2, no build step,
# no network: the position comes from the tablet's GPS). Browsers expose it only in a
# secure context (https, or localhost), which the component says instead of failing.
_GPS_JS = """
export default function ({ parentElement, setStateValue }) {
  const button = parentElement.querySelector("button");
  const status = parentElement.querySelector("span");
  const fail = (message) => {
    status.textContent = message;
    setStateValue("position", { error: message });
  };
  button.onclick = () => {
    if (!window.isSecureContext || !navigator.geolocation) {
      fail("Position indisponible : le navigateur ne la donne que sur une adresse https.");
      return;
    }
    status.textContent = "Recherche de la position…";
    navigator.geolocation.getCurrentPosition(
      (p) => {
        status.textContent = "";
        setStateValue("position", {
          latitude: p.coords.latitude, longitude: p.coords.longitude,
          accuracy: p.coords.accuracy,
        });
      },
      (e) => fail(e.code === 1 ? "Position refusée sur cette tablette."
                  : "Position introuvable pour l'instant (pas de signal GPS)."),
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
    );
  };
}
"""
_gps = st.components.v2.component(
    "observatoire_position_gps",
    html="<button type='button'>Position GPS (facultatif)</button> <span></span>",
    css="button{min-height:3rem;font:inherit;font-size:1.05rem;padding:0 1rem;"
        "border-radius:.5rem;border:1px solid #999;background:#fff} span{margin-left:.5rem}",
    js=_GPS_JS,
)


# The outcome of a tap is drawn next to the button; when the button sat at the screen's lower
# edge the message could land below it, out of sight: this component scrolls it into view.
_SHOW_JS = """
export default function ({ parentElement, data }) {
  const host = parentElement.getRootNode().host || parentElement;
  const mine = host.closest('[data-testid="stElementContainer"]');
  const message = mine && mine.previousElementSibling;
  if (!message || window.__observatoireShown === data) return;
  window.__observatoireShown = data;
  requestAnimationFrame(() => message.scrollIntoView({ block: "nearest" }));
}
"""
_show = st.components.v2.component("observatoire_montrer", html="", js=_SHOW_JS)
st.html("<style>[class*='st-key-montrer-']{display:none}</style>")


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _team_sectors(team_code: str):
    cov = coverage.coverage(engine(), entry.join_team(engine(), team_code).campaign_id)
    return cov.sectors[cov.sectors["team_code"] == team_code][["sector_code", "geometry"]]


def _form_id() -> str:
    if "form_id" not in st.session_state:
        st.session_state.form_id = str(uuid.uuid4())
    return st.session_state.form_id


def _answers(questionnaire: Questionnaire, form_id: str, year: int) -> dict:
    """The values of the form's widgets, for the questions that apply (in order); ``year``:
    the night's, for the skip logic."""
    values: dict = {}
    for question in questionnaire.questions:
        if question.relevant is not None and not question.relevant.evaluate(values, year):
            continue
        raw = st.session_state.get(f"{form_id}:{question.name}")
        if question.type == "boolean" and raw is not None:
            raw = raw == "oui"
        try:
            value = clean_value(question, raw, questionnaire)
        except ValueError:
            value = raw
        if value is not None:
            values[question.name] = value
    return values


REPEATED = "Fiche enregistrée ✓ (envoi répété ignoré : elle ne compte qu'une fois)."


def _say(kind: str, text: str, where: str) -> None:
    """Keep a message for the next run, shown next to the button that was tapped
    (``where``: ``quick``, ``form`` or ``report``), where the volunteer is looking."""
    st.session_state.message = (kind, text, where, uuid.uuid4().hex)


def _send(team_code: str, sector_code: str, form_id: str, answers: dict, where: str) -> None:
    """Submit and remember the outcome for this form; runs in a button callback."""
    sent = st.session_state.setdefault("sent_forms", {})
    if form_id in sent:  # the same form tapped twice: already handled, show it again
        # The volunteer tapped twice: the answer they wait for is still "saved", once.
        _say("success", REPEATED, where)
        return
    latitude, longitude = st.session_state.get(f"position:{form_id}") or (None, None)
    submission = Submission(
        submission_uuid=uuid.UUID(form_id),
        team_code=team_code,
        sector_code=sector_code,
        collected_at=dt.datetime.now(dt.UTC),
        latitude=latitude,
        longitude=longitude,
        answers=answers,
    )
    try:
        receipt = entry.submit(engine(), submission)
    except entry.SubmissionRejected as exc:
        _say("error", "Fiche pas encore enregistrée, à compléter : "
             + " ; ".join(str(e) for e in exc.errors), where)  # fmt: skip
        return
    except ObservatoireError as exc:
        _say("error", str(exc), where)
        return
    sent[form_id] = receipt.observation_id
    st.session_state.pop(f"position:{form_id}", None)
    text = (
        f"Fiche enregistrée ✓ — {_people(receipt.team_tally)} par l'équipe."
        if receipt.created
        else REPEATED
    )
    if receipt.practice:
        text += " (entraînement : hors résultats)"
    if receipt.created:
        st.session_state.just_saved = True  # the tally beside the button shows +1
    if receipt.warnings:
        text += " Point(s) à signaler au chef d'équipe : " + " ; ".join(
            w.message for w in receipt.warnings)
    _say("warning" if receipt.warnings else "success", text, where)
    st.session_state.form_id = str(uuid.uuid4())  # a fresh, empty questionnaire


def _people(n: int | None) -> str:
    return f"{n} personne comptée" if n == 1 else f"{n or 0} personnes comptées"


def _submit_form(team_code: str, sector_code: str, form_id: str, year: int) -> None:
    questionnaire = load_questionnaire(st.session_state.questionnaire_version)
    answers = _answers(questionnaire, form_id, year)
    if not answers and form_id not in st.session_state.get("sent_forms", {}):
        _say("info", "Fiche vide : rien à enregistrer.", "form")
        return
    _send(team_code, sector_code, form_id, answers, "form")


def _quick(team_code: str, sector_code: str, form_id: str, situation: str) -> None:
    _send(team_code, sector_code, form_id, {"situation": situation}, "quick")


def _ask_report() -> None:
    st.session_state.confirm_report = True


def _cancel_report() -> None:
    st.session_state.pop("confirm_report", None)


def _report(team_code: str, sector_code: str) -> None:
    st.session_state.pop("confirm_report", None)
    try:
        people = entry.report_sector(engine(), team_code, sector_code)
    except ObservatoireError as exc:
        _say("error", str(exc), "report")
        return
    _say("success",
         f"Secteur {sector_code} signalé parcouru — personne rencontrée : aucune (le zéro est "
         "enregistré, il compte dans les résultats)." if people == 0
         else f"Secteur {sector_code} signalé parcouru — {_people(people)} par l'équipe.",
         "report")  # fmt: skip


def _upper(key: str) -> None:
    """Initials typed in lower case shown as they will be read (``jd`` -> ``JD``)."""
    from observatoire.survey.responses import uppercase_answer

    value = st.session_state.get(key)
    if isinstance(value, str):
        st.session_state[key] = uppercase_answer(value)


# Everything the session keeps of a team: forgotten when the volunteer changes team, so that
# neither the page nor the sidebar shows the old one.
TEAM_STATE = ("team_code", "message", "form_id", "sent_forms", "confirm_report",
              "just_saved", "saisie_audited", "sector")  # fmt: skip


def _leave() -> None:
    for key in TEAM_STATE:
        st.session_state.pop(key, None)
    st.query_params.clear()


def _joined(context: entry.TeamContext) -> None:
    st.session_state.team_code = context.team_code
    # Kept in the address so that a reload (or a reconnect) reopens the team without
    # retyping; set on every run because a change of navigation may drop query parameters.
    if st.query_params.get(TEAM_CODE_PARAM) != context.team_code:
        st.query_params[TEAM_CODE_PARAM] = context.team_code


def _widget(question: Question, questionnaire: Questionnaire, key: str, required: bool) -> None:
    label = question.label + (" *" if required else "")
    if question.type in ("select_one", "select_multiple"):
        labels = {c.value: c.label for c in questionnaire.choices(question.name)}
        st.pills(
            label, list(labels), format_func=labels.get, key=key, help=question.hint,
            selection_mode="single" if question.type == "select_one" else "multi",
        )
    elif question.type == "boolean":
        st.pills(label, list(YES_NO), format_func=YES_NO.get, key=key, help=question.hint)
    elif question.type in ("integer", "decimal"):
        st.number_input(
            label, min_value=question.min, max_value=question.max, value=None,
            step=1 if question.type == "integer" else 0.1, key=key, help=question.hint,
        )
    else:
        st.text_input(label, key=key, help=question.hint, max_chars=question.max_length,
                      on_change=_upper if question.uppercase else None,
                      args=(key,) if question.uppercase else None)


# --- joining -------------------------------------------------------------------------------

code = st.session_state.get("team_code") or st.query_params.get(TEAM_CODE_PARAM)
if not code:
    st.title("Nuit de la Solidarité — saisie")
    st.write("Saisissez le code imprimé sur votre fiche d'équipe. Aucun compte n'est nécessaire.")
    refused = st.session_state.pop("join_error", None)
    if refused:
        st.error(plain(refused))
    typed = st.text_input("Code d'équipe", max_chars=12, placeholder="ex. K7QX2M")
    if st.button("Rejoindre l'équipe", type="primary"):
        try:
            context = security.join_team(engine(), typed, client=client(), page="saisie",
                                         join=entry.join_for_entry)  # fmt: skip
        except ObservatoireError as exc:
            st.error(plain(exc))
        else:
            _joined(context)
            st.rerun()  # the navigation now offers the volunteer's pages
    st.stop()

# The same checks for a code kept in the session, or in the address after a reload: an
# unknown code or a campaign locked meanwhile goes back to the code field, with the reason
# (and the public navigation, since the address no longer claims a team).
try:
    context = security.join_team(engine(), code, client=client(), page="saisie",
                                 join=entry.join_for_entry,
                                 accepted=st.session_state.get("team_code"))  # fmt: skip
except ObservatoireError as exc:
    _leave()
    st.session_state.join_error = str(exc)
    st.rerun()
_joined(context)
if st.session_state.get("saisie_audited") != context.team_code:
    entry.record_team_access(engine(), context, "saisie")
    st.session_state.saisie_audited = context.team_code
st.session_state.questionnaire_version = context.questionnaire_version
questionnaire = load_questionnaire(context.questionnaire_version)

# --- header: team, sector, tally -----------------------------------------------------------

st.title(plain(f"{context.team_name} — {context.campaign_name}"))
if context.training:
    st.warning("Mode entraînement : vos fiches ne comptent pas dans les résultats.")
if context.campaign_status == "planned" and not context.training:
    st.warning("Campagne pas encore ouverte : les fiches seront refusées jusqu'à son "
               "ouverture par le coordinateur.")
sector_codes = list(context.sectors)
if not sector_codes:
    st.error("Aucun secteur n'est attribué à votre équipe : appelez le coordinateur.")
    st.stop()
sector = (
    sector_codes[0]
    if len(sector_codes) == 1
    else st.selectbox("Secteur", sector_codes, key="sector")
)
left, right = st.columns([2, 1])
left.markdown(f"**Secteur {plain(sector)}** — commune {plain(context.sectors[sector][1])}")
tally = entry.team_tally(engine(), context)
right.metric("Personnes comptées par l'équipe", tally)

own_sectors = _team_sectors(context.team_code)
# A toggle rather than an expander: the map is drawn when shown (a web map drawn in a
# folded, zero-size box stays blank once unfolded).
if len(own_sectors) and st.toggle("Carte du secteur", value=True):
    figure = area_map(
        own_sectors, "sector_code", color="sector_code", color_discrete_sequence=["#f28e2b"],
        height=320, tiles_url=settings().tiles_url, attribution=settings().tiles_attribution,
    )
    figure.update_layout(showlegend=False)
    st.plotly_chart(figure, width="stretch")

message = st.session_state.pop("message", None)


def _message_here(where: str) -> None:
    """The outcome of the last tap, when it was tapped here."""
    if message and message[2] == where:
        getattr(st, message[0])(plain(message[1]))
        _show(key=f"montrer-{message[3]}", data=message[3])


form_id = _form_id()

# --- optional position, for this questionnaire ---------------------------------------------

position = _gps(key=f"gps:{form_id}", on_position_change=lambda: None).get("position")
if isinstance(position, dict):
    found = browser_position(position)
    st.session_state[f"position:{form_id}"] = found
    if found:
        accuracy = position.get("accuracy")
        st.caption(f"Position prise pour cette fiche : {found[0]:.5f}, {found[1]:.5f}"
                   + (f" (± {accuracy:.0f} m)" if isinstance(accuracy, int | float) else ""))
    else:
        st.caption("Sans position : la fiche sera enregistrée quand même.")

# --- one tap: person observed without interview --------------------------------------------

st.subheader("Personne observée sans questionnaire (un seul appui)")
columns = st.columns(len(QUICK))
for column, (situation, label) in zip(columns, QUICK.items(), strict=True):
    column.button(
        label, key=f"quick:{situation}:{form_id}", on_click=_quick,
        args=(context.team_code, sector, form_id, situation),
    )
_message_here("quick")

# --- the questionnaire ---------------------------------------------------------------------

st.subheader("Questionnaire")
st.caption("\\* réponse obligatoire")
year = context.night_date.year
current = _answers(questionnaire, form_id, year)
for question in questionnaire.questions:
    if question.relevant is not None and not question.relevant.evaluate(current, year):
        continue
    _widget(question, questionnaire, f"{form_id}:{question.name}",
            is_required(question, current, year))

# The questionnaire's consistency rules, before saving (only once nothing blocks: a
# half-filled form would otherwise raise warnings about answers still to come).
if current:
    check = validate_response(questionnaire, current, reference_year=year)
    if check.ok and check.warnings:
        st.warning("À vérifier avant d'enregistrer : "
                   + " ; ".join(w.message for w in check.warnings))  # fmt: skip

save, count = st.columns([2, 1], vertical_alignment="center")
save.button(
    "Enregistrer la fiche", type="primary", key=f"submit:{form_id}", on_click=_submit_form,
    args=(context.team_code, sector, form_id, year),
)
count.metric("Fiches de l'équipe", tally,
             delta="+1" if st.session_state.pop("just_saved", False) else None)
_message_here("form")

# --- end of the round ----------------------------------------------------------------------

st.divider()
nobody = tally == 0
if st.session_state.get("confirm_report"):
    with st.container(border=True):
        st.markdown(
            f"**{entry.NOBODY_MET}** : confirmez-vous que l'équipe a parcouru tout le "
            f"secteur {plain(sector)} sans rencontrer personne ?" if nobody else
            f"**Fin de tournée** : confirmez-vous que l'équipe a parcouru tout le secteur "
            f"{plain(sector)} ({_people(tally)}) ?"
        )  # fmt: skip
        yes, no = st.columns(2)
        yes.button("Oui, je confirme", type="primary", key="report_confirm", on_click=_report,
                   args=(context.team_code, sector))  # fmt: skip
        no.button("Annuler", key="report_cancel", on_click=_cancel_report)
else:
    st.button(
        entry.NOBODY_MET if nobody else "Secteur parcouru : fin de tournée",
        key="report", on_click=_ask_report,
        help="À la fin du parcours, même si vous n'avez rencontré personne : un zéro compte.",
    )
_message_here("report")
st.button("Changer d'équipe", key="leave", on_click=_leave)
