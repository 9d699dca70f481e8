"""Sign-in with a lockout: passwords and team codes, counted per login and per client.

Every failed password or team code is audited (never the password or the code tried) and
counted in the database (`access_repository.record_sign_in_failure`), per login and per
client, so that neither a new browser session nor a restart of the server resets the count.
After `ThrottlePolicy.free_failures` failures a key is locked for a wait that doubles at
each further failure; a locked key is refused before any check, so that guessing costs no
argon2 verification (0.8 s of CPU and 64 MiB each) either.

The client is the address of the connection (``st.context.ip_address``); behind a reverse
proxy on the same machine, the address that proxy appended to ``X-Forwarded-For``; without
either (a connection from this machine), the browser session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.access import (
    PASSWORD_THROTTLE,
    TEAM_CODE_THROTTLE,
    CurrentUser,
    TooManyAttemptsError,
)
from observatoire.model import ObservatoireError
from observatoire.store import access_repository, repository

T = TypeVar("T")


def client_key(address: str | None, forwarded_for: str | None, session_id: str) -> str:
    """Who is trying, for the counters: ``adresse:<ip>`` or ``session:<id>``.

    ``X-Forwarded-For`` is read only when the connection comes from this machine (no
    address): then a local reverse proxy wrote it, and its last entry is the address that
    proxy saw (earlier entries are whatever the client sent)."""
    if address:
        return f"adresse:{address}"
    if forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return f"adresse:{last[:64]}"
    return f"session:{session_id}"


def password_keys(login: str, client: str | None) -> list[str]:
    keys = [f"mot_de_passe:compte:{login.strip().casefold()[:120]}"]
    if client:
        keys.append(f"mot_de_passe:client:{client}")
    return keys


def team_code_keys(client: str) -> list[str]:
    # No key per code: a guesser tries a different code each time.
    return [f"code_equipe:client:{client}"]


def sign_in(
    engine: Engine, login: str, password: str, *, client: str | None = None,
    now: float | None = None,
) -> CurrentUser | None:  # fmt: skip
    """The account for ``login`` / ``password``, ``None`` when they do not match, or
    `TooManyAttemptsError` (French, saying when to retry) when the login or the client is
    locked out. Success forgets the login's failures (not the client's)."""
    now = time.time() if now is None else now
    keys = password_keys(login, client)
    with Session(engine) as session, session.begin():
        until = access_repository.locked_until(session, keys, now)
        if until is not None:
            repository.record_audit(session, login[:64] or "?", "login.locked", client=client)
            user = None
        else:
            user = access_repository.authenticate(session, login, password)
            if user is None:
                access_repository.record_sign_in_failure(session, keys, now, PASSWORD_THROTTLE)
            else:
                access_repository.clear_sign_in_failures(session, keys[:1])
    if until is not None:
        raise TooManyAttemptsError(until, now)
    return user


def team_sign_in(
    engine: Engine, team_code: str, *, client: str, page: str, now: float | None = None
) -> CurrentUser | None:
    """`access_repository.authenticate_team` behind the team-code lockout of ``client``
    (`TooManyAttemptsError` while locked); ``page`` goes to the audit log."""
    now = time.time() if now is None else now
    keys = team_code_keys(client)
    with Session(engine) as session, session.begin():
        until = access_repository.locked_until(session, keys, now)
        if until is not None:
            repository.record_audit(session, "equipe", "login.team_locked", page=page,
                                    client=client)  # fmt: skip
            user = None
        else:
            user = access_repository.authenticate_team(session, team_code, page=page,
                                                       client=client)  # fmt: skip
            if user is None:
                access_repository.record_sign_in_failure(session, keys, now, TEAM_CODE_THROTTLE)
    if until is not None:
        raise TooManyAttemptsError(until, now)
    return user


def join_team(
    engine: Engine, team_code: str, *, client: str, page: str,
    join: Callable[[Engine, str], T] | None = None, accepted: str | None = None,
    now: float | None = None,
) -> T:  # fmt: skip
    """``join(engine, team_code)`` (`countnight.entry.join_team` by default; the entry page passes
    `countnight.entry.join_for_entry`) behind the team-code lockout of ``client``: a code it
    refuses (any `ObservatoireError`) is counted and audited with ``page``; a locked client
    gets `TooManyAttemptsError` without any check.

    ``accepted`` is the code this browser session already joined with: re-checked on every
    run (a campaign locked meanwhile), it is neither refused by the lockout nor counted, so
    that a guesser sharing the volunteers' address cannot put them out during the night.
    """
    from observatoire.countnight import entry

    join = join or entry.join_team
    if accepted and entry.normalise_team_code(team_code) == accepted:
        return join(engine, team_code)
    now = time.time() if now is None else now
    keys = team_code_keys(client)
    with Session(engine) as session, session.begin():
        until = access_repository.locked_until(session, keys, now)
        if until is not None:
            repository.record_audit(session, "equipe", "login.team_locked", page=page,
                                    client=client)  # fmt: skip
    if until is not None:
        raise TooManyAttemptsError(until, now)
    try:
        return join(engine, team_code)
    except ObservatoireError as exc:
        with Session(engine) as session, session.begin():
            access_repository.record_sign_in_failure(session, keys, now, TEAM_CODE_THROTTLE)
            repository.record_audit(session, "equipe", "login.team_failed", page=page,
                                    client=client, reason=type(exc).__name__)  # fmt: skip
        raise
