"""Who may see what: roles, the pages each role reaches, password hashing.

Four roles (`observatoire.model.Role`): the public / elected officials (published,
disclosure-controlled pages only), volunteers (logged in with their team code: count-night
entry pages only), staff (every staff page and the data) and admins (staff plus accounts,
keys and settings). The mapping of pages to roles is data (`PAGE_ACCESS`), so the navigation
and the tests read the same rules.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from observatoire.model import ObservatoireError, Role

PUBLIC, VOLUNTEER, STAFF, ADMIN = Role.PUBLIC, Role.VOLUNTEER, Role.STAFF, Role.ADMIN

ALL_ROLES = frozenset(Role)
NOBODY: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class PageRule:
    """Who sees a page in the menu (``menu``) and who may open it by its link only
    (``link``: hidden from the menu but routable)."""

    pattern: str
    menu: frozenset[Role]
    link: frozenset[Role] = NOBODY


PAGE_ACCESS: tuple[PageRule, ...] = (
    # Sign in / sign out: everyone.
    PageRule("dashboards/connexion.py", ALL_ROLES),
    # Published, disclosure-controlled pages: the public and the observatory.
    # Volunteers reach it by link only: it is the app's "/" and sends them on to entry,
    # so that the entry page keeps its own address (and the team code) across reloads.
    PageRule("dashboards/accueil.py", frozenset({PUBLIC, STAFF, ADMIN}), frozenset({VOLUNTEER})),
    PageRule("dashboards/publication*.py", frozenset({PUBLIC, STAFF, ADMIN})),
    # Count-night entry on tablets. The team code typed on the page is the volunteer's
    # sign-in: the public may open the page from the link volunteers are given (it shows
    # nothing but the code field until a valid code is typed), without seeing it in the menu.
    PageRule("dashboards/saisie*.py", frozenset({VOLUNTEER, STAFF, ADMIN}), frozenset({PUBLIC})),
    PageRule("dashboards/terrain*.py", frozenset({VOLUNTEER, STAFF, ADMIN}), frozenset({PUBLIC})),
    # Accounts, keys, settings, audit log.
    PageRule("dashboards/admin*.py", frozenset({ADMIN})),
    # Everything else (indicators, campaigns, coverage, duplicate review, feeds...) holds
    # data about people or unprotected figures: staff only. New pages land here by default.
    PageRule("*", frozenset({STAFF, ADMIN})),
)
"""Rules on page script paths (globs); the first matching rule wins."""


def page_rule(page: str) -> PageRule:
    """The rule for ``page`` (a script path such as ``dashboards/tableau.py``)."""
    path = page.replace("\\", "/")
    for rule in PAGE_ACCESS:
        if fnmatch.fnmatchcase(path, rule.pattern):
            return rule
    raise AssertionError("PAGE_ACCESS ends with a catch-all rule")  # pragma: no cover


def allowed_roles(page: str) -> frozenset[Role]:
    """Every role that may open ``page``, from the menu or by its link."""
    rule = page_rule(page)
    return rule.menu | rule.link


def can_open(role: Role | str, page: str) -> bool:
    return Role(role) in allowed_roles(page)


def in_menu(role: Role | str, page: str) -> bool:
    return Role(role) in page_rule(page).menu


def pages_for_role(role: Role | str, pages: Iterable[str]) -> list[str]:
    """The subset of ``pages`` (in order) that ``role`` sees in the menu."""
    return [p for p in pages if in_menu(role, p)]


def navigation_plan(
    role: Role | str, sections: dict[str, list[str]]
) -> dict[str, list[tuple[str, str]]]:
    """Section title -> ``(page path, "visible" | "hidden")`` for the pages ``role`` may
    open; pages it may not open are left out (Streamlit then cannot route to them), and
    empty sections are dropped."""
    plan = {}
    for title, paths in sections.items():
        kept = [
            (path, "visible" if in_menu(role, path) else "hidden")
            for path in paths
            if can_open(role, path)
        ]
        if kept:
            plan[title] = kept
    return plan


# --- passwords ---------------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 12


class WeakPasswordError(ObservatoireError):
    """A password too short to protect personal data."""


def _hasher():
    from argon2 import PasswordHasher

    # argon2id with the library's defaults (RFC 9106 "low memory" profile: 64 MiB, t=3).
    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; the PHC string holds its parameters)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(
            f"Mot de passe trop court ({len(password)} caractères) : il en faut au moins "
            f"{MIN_PASSWORD_LENGTH}. Une phrase de passe de quatre mots convient."
        )
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (``False`` for a missing hash)."""
    if not password_hash:
        return False
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash uses weaker parameters than today's defaults."""
    return _hasher().check_needs_rehash(password_hash)


# --- the signed-in user -------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentUser:
    """Who is using the app: kept in the Streamlit session under `SESSION_KEY`."""

    login: str
    display_name: str
    role: Role
    team_code: str | None = None
    campaign_id: int | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in (STAFF, ADMIN)


PUBLIC_USER = CurrentUser(login="public", display_name="Public", role=PUBLIC)
SESSION_KEY = "observatoire_user"


def user_from_session(state: object) -> CurrentUser:
    """The user stored in a Streamlit ``session_state`` (the public view when nobody is)."""
    try:
        value = state[SESSION_KEY]  # type: ignore[index]
    except (KeyError, TypeError):
        return PUBLIC_USER
    if isinstance(value, CurrentUser):
        return value
    if isinstance(value, dict):
        try:
            return CurrentUser(**{**value, "role": Role(value["role"])})
        except (KeyError, TypeError, ValueError):
            return PUBLIC_USER
    return PUBLIC_USER


TEAM_CODE_PARAM = "equipe"
"""Query parameter that keeps a volunteer's team code in the page address (``?equipe=``)."""


def current_user(state: object, query_params: object = None) -> CurrentUser:
    """The signed-in user; else a volunteer when a team code was accepted on an entry page
    (``team_code`` in the session) or is carried in the page address (``?equipe=``); else
    the public view.

    The address keeps the code after joining so that a reload, a tab the tablet restores or
    a reconnect to a new server session lands back on the entry page. A code from the
    address is only a claim: it opens no more than the public may open by link (the entry
    pages), and those pages validate it before showing anything. ``query_params`` defaults
    to Streamlit's when ``state`` is Streamlit's session state.
    """
    user = user_from_session(state)
    if user.role is not PUBLIC:
        return user
    try:
        team_code = state.get("team_code")  # type: ignore[attr-defined]
    except AttributeError:
        team_code = None
    if not team_code:
        if query_params is None:
            query_params = _streamlit_query_params(state)
        try:
            team_code = query_params.get(TEAM_CODE_PARAM)  # type: ignore[attr-defined]
        except AttributeError:
            team_code = None
        team_code = "".join(str(team_code).split()).upper() if team_code else None
    if team_code:
        return CurrentUser(login=f"equipe:{team_code}", display_name=f"Équipe {team_code}",
                           role=VOLUNTEER, team_code=str(team_code))  # fmt: skip
    return user


def _streamlit_query_params(state: object) -> object:
    """``st.query_params`` when ``state`` is Streamlit's session state, else nothing (this
    module does not import Streamlit otherwise)."""
    if not type(state).__module__.startswith("streamlit."):
        return None
    import streamlit as st

    return st.query_params


def require_role(state: object, *roles: Role) -> CurrentUser:
    """The current user, or `AccessDeniedError` when their role is not in ``roles``.

    Pages call this first, so that a page reached by its URL (or run on its own) still
    refuses a role the navigation would not have offered.
    """
    user = current_user(state)
    if user.role not in roles:
        raise AccessDeniedError(
            f"Accès réservé ({', '.join(r.label for r in roles)}). Connectez-vous avec un "
            "compte autorisé depuis la page Connexion."
        )
    return user


class AccessDeniedError(ObservatoireError):
    """The current user's role may not open this page or read these data."""


# --- team codes ---------------------------------------------------------------------------------

NIGHT_TIMEZONE = ZoneInfo("Europe/Paris")
CODES_CLOSE_MORNING = dt.time(12)
"""Team codes work until noon (Paris time) the day after the count night..."""
LATE_OPENING = dt.timedelta(hours=24)
"""... or for 24 hours after a late opening of entry or training."""


def team_code_closes_at(night_date: dt.date, codes_opened_at: dt.datetime | None) -> dt.datetime:
    """When the team codes of a count night stop opening anything (a locked campaign closes
    them at once). Team codes are printed on paper sheets handed to volunteers: they must
    not open the night's records for years."""
    closes = dt.datetime.combine(
        night_date + dt.timedelta(days=1), CODES_CLOSE_MORNING, tzinfo=NIGHT_TIMEZONE
    )
    if codes_opened_at is not None:
        opened = codes_opened_at if codes_opened_at.tzinfo else codes_opened_at.replace(
            tzinfo=dt.UTC)  # SQLite gives naive UTC times
        closes = max(closes, opened + LATE_OPENING)
    return closes
