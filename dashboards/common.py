"""What every page shares: the engine and the settings, cached for the app's lifetime, and
the one access check (`signed_in_user`, `require`)."""

from __future__ import annotations

import uuid

import streamlit as st
from sqlalchemy import Engine

from observatoire.access import AccessDeniedError, CurrentUser, current_user, require_role
from observatoire.config import Settings, load_settings
from observatoire.model import Role
from observatoire.store.db import make_engine


@st.cache_resource
def settings() -> Settings:
    return load_settings()


@st.cache_resource
def engine() -> Engine:
    return make_engine(settings().database_url, settings().lock_wait)


def _account(login: str) -> CurrentUser | None:
    # Not cached: a deactivation, a role or a password change must end sessions at once.
    from observatoire.accounts import account_user

    return account_user(engine(), login)


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
    from observatoire.territory import territories as stored

    return stored(engine())


def choose_territory(where=st, key: str | None = None) -> str:  # noqa: ANN001 - st or a container
    """The territory select box (the configured territory first), or a message and a stop
    when the database holds none yet."""
    from observatoire.model import ObservatoireError

    try:
        choices = territories()
    except ObservatoireError as exc:
        st.error(plain(exc))
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


# Characters that open Markdown (and Streamlit's directives: ``:red[…]``, ``$…$``) wherever
# they stand: escaped with a backslash.
_MARKDOWN_ANYWHERE = frozenset("\\`*_[]<>#|~$!{}")
# GitHub Markdown also turns ``http://…``, ``www.…`` and e-mail addresses into links, and it
# finds them in the text *after* backslash escapes are resolved: an invisible word joiner
# (U+2060) before ``:``, ``.`` and ``@`` followed by a non-space breaks those patterns
# without changing what is read (« Code : … » stays as it is).
_AUTOLINK_PUNCTUATION = frozenset(":.@")
_WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """``text`` escaped so that Streamlit shows it as typed, never as Markdown: no link, no
    image, no emphasis, no directive. Every text that comes from a user, a partner file, a
    team code, a campaign name or an error message embedding them goes through it before
    ``st.success``, ``st.error``, ``st.title``, ``st.caption``, ``st.write`` or a table."""
    value = "" if text is None else str(text)
    out = []
    for i, char in enumerate(value):
        following = value[i + 1] if i + 1 < len(value) else " "
        if char in _MARKDOWN_ANYWHERE:
            out.append("\\")
        elif char in _AUTOLINK_PUNCTUATION and not following.isspace():
            out.append(_WORD_JOINER)
        out.append(char)
    return "".join(out)


def download(
    label: str, make, *, file_name: str, mime: str, kind: str, key: str | None = None,  # noqa: ANN001
    where=st, **details,  # noqa: ANN001 - st or a container
) -> None:
    """A download button whose file is built only when the signed-in person clicks, and
    audited then under their login (`observatoire.exports.audited`): drawing the page
    serves no file. The built file is granted to the clicking browser only, for a few
    minutes (`observatoire.web.DOWNLOAD_GRANTS`): its ``/media/`` address given to another
    client, or used later, serves nothing."""
    from observatoire import exports, web

    user = signed_in_user()
    audited = exports.audited(engine(), user.login, kind, make, file=file_name,
                              role=user.role.value, **details)  # fmt: skip
    browser = _browser()

    def build():  # noqa: ANN202 - str or bytes, as make returns
        # Run by Streamlit on the click, outside the page's run: the browser is read now.
        data = audited()
        web.DOWNLOAD_GRANTS.grant(browser, data)
        return data

    where.download_button(label, build, file_name=file_name, mime=mime, key=key,
                          on_click="ignore")  # fmt: skip


def _browser() -> str | None:
    """The clicking browser's `observatoire.web.BROWSER_COOKIE`, as its connection sent it."""
    from observatoire.web import BROWSER_COOKIE

    try:
        value = st.context.cookies.get(BROWSER_COOKIE)
    except Exception:  # noqa: BLE001 - no connection (bare script, test runtime)
        return None
    return value if isinstance(value, str) else None


def table_download(
    frame, file_name: str, *, label: str = "Télécharger ce tableau (CSV)",  # noqa: ANN001
    where=st, key: str | None = None, **details,  # noqa: ANN001 - st or a container
) -> None:
    """The audited replacement of the table toolbar's "Download as CSV" (turned off in the
    served configuration): ``frame`` as shown, as a French spreadsheet reads it (``;``,
    decimal commas, UTF-8 with BOM, formulas escaped), through `download` (built on the
    click, audited as ``export.table`` with ``file_name``, served to that browser only)."""
    from observatoire.formula import frame_to_csv

    shown = frame.copy()
    # Numbers of pandas (a campaign id read from a table) as plain ones for the audit log.
    details = {name: value.item() if hasattr(value, "item") else value
               for name, value in details.items()}  # fmt: skip
    download(
        label, lambda: frame_to_csv(shown, sep=";", decimal=",").encode("utf-8-sig"),
        file_name=file_name, mime="text/csv", kind="table", where=where,
        key=key or f"csv:{file_name}", table=file_name, **details,
    )  # fmt: skip
