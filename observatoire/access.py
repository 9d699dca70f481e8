"""Who may see what: roles, the pages each role reaches, password hashing.

Five roles (`observatoire.model.Role`): the public / elected officials (published,
disclosure-controlled pages only), volunteers (logged in with their team code: count-night
entry pages only), the monitoring body (published pages and the execution report, read
only), staff (every staff page and the data) and admins (staff plus accounts, keys and
settings). The mapping of pages to roles is data (`PAGE_ACCESS`), so the navigation
and the tests read the same rules.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from observatoire.model import ObservatoireError, Role

PUBLIC, VOLUNTEER, STAFF, ADMIN = Role.PUBLIC, Role.VOLUNTEER, Role.STAFF, Role.ADMIN
MONITORING = Role.MONITORING

PARIS = ZoneInfo("Europe/Paris")
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
    PageRule("dashboards/accueil.py", frozenset({PUBLIC, MONITORING, STAFF, ADMIN}),
             frozenset({VOLUNTEER})),
    PageRule("dashboards/publication*.py", frozenset({PUBLIC, MONITORING, STAFF, ADMIN})),
    # The monitoring body (State services, partners of the steering committee): the
    # execution report and its indicators, disclosure-controlled, read only; no record-level
    # data, no review queue, no entry.
    PageRule("dashboards/rapport*.py", frozenset({MONITORING, STAFF, ADMIN})),
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


def refused_pages(role: Role | str, sections: Mapping[str, Iterable[str]]) -> list[str]:
    """The pages of ``sections`` that ``role`` may not open. The app routes their addresses
    to a stand-in that only says why (`refused_page_notice`), never to the page itself:
    Streamlit would otherwise show its main page under an English "Page not found"."""
    role = Role(role)
    return [path for paths in sections.values() for path in paths if not can_open(role, path)]


def refused_page_notice(role: Role | str, title: str) -> str:
    """What to tell someone who opened by its address the page ``title`` that their role
    may not open."""
    role = Role(role)
    if role is Role.PUBLIC:
        return (f"La page « {title} » est réservée aux personnes connectées : "
                "connectez-vous, puis rouvrez-la.")  # fmt: skip
    return (f"Votre rôle ({role.label}) ne donne pas accès à la page « {title} ». "
            "Demandez à un administrateur si vous en avez besoin.")  # fmt: skip


# --- passwords ---------------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 12

COMMON_PASSWORDS = frozenset("""
motdepasse password passw0rd azerty azertyuiop qwerty qwertyuiop abc123 iloveyou jetaime
soleil bonjour bonsoir doudou chouchou loulou nicolas julien camille marseille paris
liberte observatoire solidarite nuitdelasolidarite sansabri logementdabord admin
administrateur utilisateur welcome bienvenue secret motdepassesecret changeme monmotdepasse
football dragon monkey letmein sunshine princess master superman batman starwars
motdepass mdp azerty qwertz loveyou jetaimebeaucoup amour monamour doudou tresor
princesse chocolat coucou salut soleil marseille toulouse lyon nantes bordeaux lille
strasbourg dijon olympique psg allezlom pokemon samsung nintendo thomas alexandre
antoine maxime camille marie sophie charlie michel jesus dieu hello shadow baseball
mustang freedom whatever trustno login access summer winter hiver printemps automne
pass passe passeport secret secrete test testing demo utilisateur invite guest root
toor user system systeme ordinateur computer internet google facebook
""".split())
"""Words refused as passwords, with or without digits and signs around them and with their
letters written as digits or signs (``P@ssw0rd``, ``s0l3il``): a short list of the French
and English passwords that leak lists put first, and the words of this domain."""

# The substitutions guessers try first (``@`` for a, ``0`` for o...); ``1`` and ``|`` are
# read both as i and as l.
_LOOKALIKES = ({"@": "a", "4": "a", "8": "b", "(": "c", "3": "e", "€": "e", "6": "g",
                "9": "g", "#": "h", "!": "i", "1": "i", "|": "i", "0": "o", "$": "s",
                "5": "s", "§": "s", "7": "t", "+": "t", "2": "z", "%": "x"},
               {"1": "l", "|": "l"})
_DIGITS_AND_SIGNS = "0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ €§°"

_SEQUENCES = (
    "0123456789" * 3,
    "abcdefghijklmnopqrstuvwxyz" * 2,
    "azertyuiopqsdfghjklmwxcvbn" * 2,
    "qwertyuiopasdfghjklzxcvbnm" * 2,
)


class WeakPasswordError(ObservatoireError):
    """A password too short or too easy to guess to protect personal data."""


def password_problem(password: str, login: str = "") -> str | None:
    """Why ``password`` is refused (a French sentence), or ``None`` when it may be used.

    Refused: fewer than 12 characters, one character repeated, a run of the keyboard or of
    the alphabet or digits (``123456789012``, ``azertyuiopqs``), a short pattern repeated,
    the login, a common password with digits or signs around it (``motdepasse123``), or
    with its letters written as digits or signs (``P@ssw0rd123456``).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"Mot de passe trop court ({len(password)} caractères) : il en faut au moins "
                f"{MIN_PASSWORD_LENGTH}.")  # fmt: skip
    folded = _fold(password)
    compact = "".join(ch for ch in folded if ch.isalnum())
    if len(set(folded)) <= 2:
        return "Mot de passe refusé : il répète un ou deux caractères."
    if any(folded in seq or folded[::-1] in seq for seq in _SEQUENCES):
        return "Mot de passe refusé : c'est une suite du clavier, de l'alphabet ou de chiffres."
    for period in range(1, len(folded) // 3 + 1):
        if folded == (folded[:period] * len(folded))[: len(folded)]:
            return "Mot de passe refusé : c'est un motif court répété."
    name = _fold(login).split("@")[0]
    if len(name) >= 3 and (name in folded or name[::-1] in folded):
        return "Mot de passe refusé : il contient l'identifiant du compte."
    core = compact.strip("0123456789")
    if not core or _is_common(core) or _is_common(compact):
        return "Mot de passe refusé : c'est un mot de passe courant, essayé en premier."
    for word in sorted(_read_as_words(folded)):
        if _is_common(word):
            return (f"Mot de passe refusé : on y lit le mot de passe courant « {word} », "
                    "écrit avec des chiffres ou des signes à la place de lettres ou autour ; "
                    "les outils qui devinent les mots de passe essaient ces variantes en "
                    "premier.")  # fmt: skip
    return None


def _is_common(word: str) -> bool:
    """``word`` is a common password, or one repeated (``azertyazerty``)."""
    return bool(word) and (word in COMMON_PASSWORDS or any(
        word == common * (len(word) // len(common)) for common in COMMON_PASSWORDS
        if len(word) % len(common) == 0
    ))  # fmt: skip


def _read_as_words(folded: str) -> set[str]:
    """The letters a guesser reads in ``folded``: with the digits and signs around it cut
    off (or not) and the lookalikes inside it read as letters (``p@ssw0rd123`` ->
    ``password``)."""
    # Every cut of the runs of digits and signs at both ends (``m4rs3ill3#2025``: the 3
    # belongs to the word, the #2025 does not).
    lead = len(folded) - len(folded.lstrip(_DIGITS_AND_SIGNS))
    trail = len(folded) - len(folded.rstrip(_DIGITS_AND_SIGNS))
    cores = {folded[start:len(folded) - end]
             for start in range(min(lead, 20) + 1) for end in range(min(trail, 20) + 1)
             if start < len(folded) - end}  # fmt: skip
    words = set()
    for core in cores:
        for extra in ({}, _LOOKALIKES[1]):
            table = str.maketrans({**_LOOKALIKES[0], **extra})
            words.add("".join(ch for ch in core.translate(table) if ch.isalpha()))
    return words


def _fold(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def check_password(password: str, login: str = "") -> None:
    """`WeakPasswordError` (in French, with the fix) when ``password`` is refused."""
    problem = password_problem(password, login)
    if problem:
        raise WeakPasswordError(
            f"{problem} Choisissez une phrase de passe de quatre mots pris au hasard (pas "
            "une citation), ou un mot de passe tiré par un gestionnaire de mots de passe."
        )


def _hasher():
    from argon2 import PasswordHasher

    # argon2id with the library's defaults (RFC 9106 "low memory" profile: 64 MiB, t=3).
    return PasswordHasher()


def hash_password(password: str, login: str = "") -> str:
    """An argon2id hash of ``password`` (salted; the PHC string holds its parameters), or
    `WeakPasswordError` when the password policy (`password_problem`) refuses it."""
    check_password(password, login)
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``.

    A missing or malformed hash is verified against a dummy hash of the same parameters
    (and fails): an unknown or password-less account costs the same time and memory as a
    real one, so the answer's delay does not tell which logins exist.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    known = bool(password_hash) and str(password_hash).startswith("$argon2")
    try:
        matched = _hasher().verify(password_hash if known else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and known


@functools.cache
def _dummy_hash() -> str:
    import secrets

    return _hasher().hash(secrets.token_urlsafe(24))


def rehash_password(password: str) -> str:
    """A new hash of a password that just matched a hash of older parameters (no policy
    check: refusing it here would lock out an account whose password met an older rule)."""
    return _hasher().hash(password)


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash uses weaker parameters than today's defaults."""
    return _hasher().check_needs_rehash(password_hash)


def account_fingerprint(role: str, active: bool, password_hash: str | None) -> str:
    """What a signed-in session remembers of its account: it changes with the role, the
    activity and the password (a new hash, new salt), so that any of these changes ends the
    sessions opened before it."""
    import hashlib

    material = f"{role}|{bool(active)}|{password_hash or ''}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


# --- lockout after failed sign-ins -------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    """How failed sign-ins of one key (a login, a client) are slowed down: the first
    ``free_failures`` cost nothing; each later one locks the key for a wait that doubles,
    from ``first_wait`` to ``max_wait`` seconds; failures are forgotten after
    ``forget_after`` seconds without one."""

    free_failures: int = 5
    first_wait: float = 30.0
    max_wait: float = 3600.0
    forget_after: float = 3600.0

    def wait_after(self, failures: int) -> float:
        """Seconds the key stays locked after its ``failures``-th failure in a row."""
        if failures < self.free_failures:
            return 0.0
        return min(self.first_wait * 2.0 ** (failures - self.free_failures), self.max_wait)


PASSWORD_THROTTLE = ThrottlePolicy()
"""Passwords: 5 tries, then 30 s, 1 min, 2 min... up to an hour. Each try costs about
0.8 s of CPU and 64 MiB (argon2id): the lockout protects the server as well."""
TEAM_CODE_THROTTLE = ThrottlePolicy(first_wait=15.0, max_wait=900.0, forget_after=900.0)
"""Team codes: 5 tries, then 15 s, 30 s... up to 15 minutes, so that a volunteer who mistypes
on the count night is not kept out for long."""


class TooManyAttemptsError(ObservatoireError):
    """Sign-in refused without checking: too many failures of this login or client."""

    def __init__(self, locked_until: float, now: float) -> None:
        self.locked_until = locked_until
        wait = max(1, math.ceil(locked_until - now))
        when = (f"{wait} seconde{'s' if wait > 1 else ''}" if wait < 120
                else f"{math.ceil(wait / 60)} minutes")  # fmt: skip
        at = dt.datetime.fromtimestamp(locked_until, PARIS).strftime("%H:%M:%S")
        super().__init__(
            f"Trop d'essais infructueux : connexion bloquée. Réessayez dans {when} (après "
            f"{at}, heure de Paris). Après un oubli, demandez à un administrateur de "
            "l'observatoire ; un code d'équipe se vérifie auprès du chef d'équipe."
        )


# --- the signed-in user -------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentUser:
    """Who is using the app: kept in the Streamlit session under `SESSION_KEY`."""

    login: str
    display_name: str
    role: Role
    team_code: str | None = None
    campaign_id: int | None = None
    fingerprint: str | None = None
    """`account_fingerprint` of the account when it signed in (accounts only)."""

    @property
    def is_staff(self) -> bool:
        return self.role in (STAFF, ADMIN)


PUBLIC_USER = CurrentUser(login="public", display_name="Public", role=PUBLIC)
SESSION_KEY = "observatoire_user"
SIGNED_OUT_KEY = "observatoire_signed_out"
"""Session key of the reason a session was just ended (shown by the next page)."""
_FIELDS = ("login", "display_name", "role", "team_code", "campaign_id", "fingerprint")

AccountLookup = Callable[[str], "CurrentUser | None"]
"""``login -> the account as it is now`` (``None`` when unknown or deactivated): how
`current_user` re-checks a signed-in session on every page run."""


def session_entry(user: CurrentUser, now: float | None = None) -> dict:
    """What sign-in stores in the session for ``user``: its fields and the time of its
    last page (``seen_at``, seconds), which the idle timeout reads."""
    entry = {name: getattr(user, name) for name in _FIELDS}
    entry["role"] = user.role.value
    entry["seen_at"] = time.time() if now is None else now
    return entry


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
            fields = {name: value[name] for name in _FIELDS if name in value}
            return CurrentUser(**{**fields, "role": Role(value["role"])})
        except (KeyError, TypeError, ValueError):
            return PUBLIC_USER
    return PUBLIC_USER


def sign_out(state: object, reason: str | None = None) -> None:
    """Forget the signed-in account and the accepted team code of ``state``; ``reason``
    (French) is kept for the next page to show."""
    for key in (SESSION_KEY, "team_code"):
        try:
            state.pop(key, None)  # type: ignore[attr-defined]
        except (AttributeError, KeyError):
            pass
    if reason:
        state[SIGNED_OUT_KEY] = reason  # type: ignore[index]


def _checked(
    state: object, user: CurrentUser, accounts: AccountLookup, now: float, idle_seconds: float
) -> CurrentUser:
    """``user`` when its account still exists, is active, has the same role and password
    as when it signed in, and its last page is less than ``idle_seconds`` old (then its
    ``seen_at`` moves to ``now``); else the session is signed out and the public view
    returned."""
    if user.team_code and user.role is VOLUNTEER:
        return user  # a team code, re-checked by the entry pages on every run
    entry = state[SESSION_KEY]  # type: ignore[index]
    seen_at = entry.get("seen_at") if isinstance(entry, dict) else None
    if not isinstance(seen_at, int | float) or now - seen_at > idle_seconds:
        sign_out(state, f"Session fermée après {round(idle_seconds / 60)} minutes "
                        "d'inactivité : reconnectez-vous depuis la page Connexion.")  # fmt: skip
        return PUBLIC_USER
    account = accounts(user.login)
    if account is None or account.fingerprint is None or account.fingerprint != user.fingerprint:
        sign_out(state, "Session fermée : votre compte a été désactivé ou modifié (rôle ou "
                        "mot de passe). Reconnectez-vous depuis la page Connexion.")  # fmt: skip
        return PUBLIC_USER
    entry["seen_at"] = now
    return account


TEAM_CODE_PARAM = "equipe"
"""Query parameter that keeps a volunteer's team code in the page address (``?equipe=``)."""


def current_user(
    state: object, query_params: object = None, *, accounts: AccountLookup | None = None,
    now: float | None = None, idle_seconds: float = 30 * 60,
) -> CurrentUser:  # fmt: skip
    """The signed-in user; else a volunteer when a team code was accepted on an entry page
    (``team_code`` in the session) or is carried in the page address (``?equipe=``); else
    the public view.

    With ``accounts`` (the pages pass it, through `dashboards.common`), a signed-in account
    is re-checked on every call: deactivated, given another role or another password since
    it signed in, or idle for more than ``idle_seconds``, its session is signed out at once.
    Streamlit's session state is only read with ``accounts``: a page cannot skip the check.

    The address keeps the code after joining so that a reload, a tab the tablet restores or
    a reconnect to a new server session lands back on the entry page. A code from the
    address is only a claim: it opens no more than the public may open by link (the entry
    pages), and those pages validate it before showing anything. ``query_params`` defaults
    to Streamlit's when ``state`` is Streamlit's session state.
    """
    if accounts is None and _is_streamlit(state):
        raise AssertionError("pages read the user through dashboards.common (re-checked)")
    user = user_from_session(state)
    if user.role is not PUBLIC and accounts is not None:
        user = _checked(state, user, accounts, time.time() if now is None else now,
                        idle_seconds)  # fmt: skip
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


def _is_streamlit(state: object) -> bool:
    return type(state).__module__.startswith("streamlit.")


def _streamlit_query_params(state: object) -> object:
    """``st.query_params`` when ``state`` is Streamlit's session state, else nothing (this
    module does not import Streamlit otherwise)."""
    if not _is_streamlit(state):
        return None
    import streamlit as st

    return st.query_params


def require_role(state: object, *roles: Role, **check: object) -> CurrentUser:
    """The current user (`current_user` with ``check``: ``accounts``, ``now``,
    ``idle_seconds``), or `AccessDeniedError` when their role is not in ``roles``.

    Pages call this first, so that a page reached by its URL (or run on its own) still
    refuses a role the navigation would not have offered.
    """
    user = current_user(state, **check)  # type: ignore[arg-type]
    if user.role not in roles:
        try:
            reason = state.get(SIGNED_OUT_KEY)  # type: ignore[attr-defined]
        except AttributeError:
            reason = None
        raise AccessDeniedError(
            (f"{reason} " if reason else "")
            + f"Accès réservé ({', '.join(r.label for r in roles)}). Connectez-vous avec un "
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
