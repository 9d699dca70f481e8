"""Sign in (staff and admins: password or the organisation's OIDC; volunteers: team code)
and sign out."""

from __future__ import annotations

import streamlit as st

from dashboards.common import client, engine, plain, signed_in_user
from observatoire import security
from observatoire.access import (
    PUBLIC_USER,
    SESSION_KEY,
    SIGNED_OUT_KEY,
    TEAM_CODE_PARAM,
    session_entry,
    sign_out,
)
from observatoire.countnight import entry
from observatoire.model import ObservatoireError, Role


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, AttributeError):
        return False
    except Exception:  # noqa: BLE001 - a malformed secrets file must not break sign-in
        return False


def _sign_in(user) -> None:
    st.session_state[SESSION_KEY] = session_entry(user)
    st.session_state.pop(SIGNED_OUT_KEY, None)
    if user.team_code:
        st.session_state["team_code"] = user.team_code
    st.rerun()


def _verified_team(user):  # noqa: ANN001, ANN202 - CurrentUser in, CurrentUser or None out
    """``user`` (a volunteer) once its team code is checked as the sign-in form checks it
    (known, campaign not locked, night not over, lockout): a code in the address is only a
    claim. A code this session already accepted is re-checked without being counted."""
    accepted = st.session_state.get("team_code")
    code = entry.normalise_team_code(user.team_code)
    if accepted and accepted == code:
        security.join_team(engine(), code, client=client(), page="connexion",
                           join=entry.join_for_entry, accepted=accepted)  # fmt: skip
        return user
    return security.team_sign_in(engine(), code, client=client(), page="connexion")


st.title("Connexion")
user = signed_in_user()
if user.role is Role.VOLUNTEER:
    try:
        team = _verified_team(user)
        refusal = None if team else ("code inconnu, ou nuit de comptage close. Vérifiez le "
                                     "code auprès de votre chef d'équipe")  # fmt: skip
    except ObservatoireError as exc:
        team, refusal = None, str(exc)
    if team is None:
        sign_out(st.session_state)
        st.query_params.pop(TEAM_CODE_PARAM, None)
        st.error(plain(f"Code d'équipe « {user.team_code} » refusé : {refusal}"))
        user = PUBLIC_USER
    elif st.session_state.get("team_code") != team.team_code:
        _sign_in(team)  # the code is accepted for this session (and the navigation)
if user.role is Role.PUBLIC and st.session_state.get(SIGNED_OUT_KEY):
    st.info(st.session_state.pop(SIGNED_OUT_KEY))

if user.role is not Role.PUBLIC:
    st.success(f"Connecté : {plain(user.display_name)} — {user.role.label}.")
    if st.button("Se déconnecter", type="primary"):
        sign_out(st.session_state)
        # The team code in the address would sign the volunteer in again on the next run.
        st.query_params.pop(TEAM_CODE_PARAM, None)
        if _oidc_configured() and getattr(st.user, "is_logged_in", False):
            st.logout()
        st.rerun()
    st.stop()

# An identity from st.login (OIDC) is mapped to the account with the same e-mail.
if _oidc_configured() and getattr(st.user, "is_logged_in", False):
    from observatoire.accounts import user_for_oidc

    oidc_user = user_for_oidc(engine(), st.user.get("email"), st.user.get("name"))
    if oidc_user.role is not Role.PUBLIC:
        _sign_in(oidc_user)
    st.warning("Cette identité n'a pas de compte actif à l'observatoire : vue publique.")

st.write("Sans connexion, vous voyez les pages publiées (chiffres agrégés et protégés).")
staff, volunteer = st.tabs(["Équipe de l'observatoire", "Bénévole (code d'équipe)"])
with staff:
    with st.form("connexion"):
        login = st.text_input("Identifiant")
        password = st.text_input("Mot de passe", type="password")
        submitted = st.form_submit_button("Se connecter", type="primary")
    if submitted:
        try:
            signed = security.sign_in(engine(), login.strip(), password, client=client())
        except ObservatoireError as exc:
            st.error(str(exc))
        else:
            if signed is None:
                st.error("Identifiant ou mot de passe incorrect, ou compte désactivé.")
            else:
                _sign_in(signed)
    if _oidc_configured():
        st.button("Se connecter avec le compte de l'organisation", on_click=st.login)
with volunteer:
    with st.form("equipe"):
        code = st.text_input("Code d'équipe", max_chars=12, placeholder="ex. K7QX2M")
        joined = st.form_submit_button("Rejoindre mon équipe")
    if joined:
        try:
            team = security.team_sign_in(engine(), code, client=client(), page="connexion")
        except ObservatoireError as exc:
            st.error(str(exc))
        else:
            if team is None:
                st.error("Code d'équipe inconnu, ou nuit de comptage close. Vérifiez le code "
                         "auprès de votre chef d'équipe.")  # fmt: skip
            else:
                _sign_in(team)
