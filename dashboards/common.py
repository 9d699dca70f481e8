"""What every page shares: the engine and the settings, cached for the app's lifetime, and
the one access check (`signed_in_user`, `require`)."""

from __future__ import annotations

import uuid

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.access import AccessDeniedError, CurrentUser, current_user, require_role
from observatoire.config import Settings, load_settings
from observatoire.model import Role
from observatoire.store.db import make_engine


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def engine() -> Engine:
    return make_engine(settings().database_url)


def _account(login: str) -> CurrentUser | None:
    # Not cached: a deactivation, a role or a password change must end sessions at once.
    from observatoire.store.access_repository import account_user

    with Session(engine()) as session:
        return account_user(session, login)


def _checks() -> dict:
    return {"accounts": _account, "idle_seconds": settings().session_idle_minutes * 60}


def signed_in_user() -> CurrentUser:
    """Who is using the app, re-checked against the database on every page run (account
    deactivated, role or password changed, idle too long: signed out at once)."""
    return current_user(st.session_state, **_checks())


def require(*roles: Role) -> CurrentUser:
    """`signed_in_user`, or the page stopped with a message when their role may not see it."""
    try:
        return require_role(st.session_state, *roles, **_checks())
    except AccessDeniedError as exc:
        st.error(str(exc))
        st.stop()
        raise  # pragma: no cover - st.stop raises


def client() -> str:
    """Who is trying a password or a team code, for the lockout (`security.client_key`)."""
    from observatoire.security import client_key

    try:
        address = st.context.ip_address
        forwarded = st.context.headers.get("X-Forwarded-For")
    except Exception:  # noqa: BLE001 - no connection (bare script): the session
        address = forwarded = None
    # AppTest's stand-in runtime answers with mock objects, not strings.
    address = address if isinstance(address, str) else None
    forwarded = forwarded if isinstance(forwarded, str) else None
    session_id = st.session_state.setdefault("observatoire_client", uuid.uuid4().hex)
    return client_key(address, forwarded, session_id)


@st.cache_data(ttl=300, show_spinner=False)
def territories() -> dict[str, str]:
    """Slug -> name of the territories stored in the database."""
    from observatoire.pipeline import territory_choices

    return territory_choices(engine())


def choose_territory(where=st, key: str | None = None) -> str:  # noqa: ANN001 - st or a container
    """The territory select box (the configured territory first), or a message and a stop
    when the database holds none yet."""
    from observatoire.model import ObservatoireError

    try:
        choices = territories()
    except ObservatoireError as exc:
        st.error(str(exc))
        st.stop()
    if not choices:
        st.warning(
            "La base ne contient encore aucun territoire. Lancez `observatoire demo` pour "
            "charger l'exemple, ou `observatoire territory import` pour votre territoire."
        )
        st.stop()
    slugs = list(choices)
    default = settings().default_territory
    return where.selectbox(
        "Territoire", slugs, index=slugs.index(default) if default in slugs else 0,
        format_func=choices.get, key=key,
    )  # fmt: skip
