"""Accounts, team-code sign-in, installation settings and the audit log.

Every change made here is written to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from observatoire.access import (
    CurrentUser,
    ThrottlePolicy,
    account_fingerprint,
    hash_password,
    needs_rehash,
    rehash_password,
    verify_password,
)
from observatoire.model import CampaignStatus, ObservatoireError, Role, User
from observatoire.store import repository
from observatoire.store.access_tables import AppSettingRow, SignInThrottleRow
from observatoire.store.tables import AuditLogRow, CampaignRow, TeamRow, UserRow

DEFAULT_SETTINGS: dict[str, Any] = {
    "publication.threshold": 11,
    "publication.rounding": 0,
}
"""Settings admins may change, with their defaults."""


class AccountError(ObservatoireError):
    """A login already taken, an unknown account, a role that cannot log in with a password."""


# --- accounts ---------------------------------------------------------------------------------


def create_user(
    session: Session, login: str, display_name: str, role: Role | str, password: str | None,
    *, actor: str,
) -> UserRow:  # fmt: skip
    """Create an account (staff or admin log in with a password; OIDC accounts need none)."""
    user = User(login=login, display_name=display_name, role=Role(role))
    if user.role in (Role.PUBLIC, Role.VOLUNTEER):
        raise AccountError(
            f"Rôle {user.role.label!r} : pas de compte à créer. Le public n'a pas besoin de "
            "compte ; les bénévoles se connectent avec le code de leur équipe."
        )
    if session.scalar(select(UserRow).where(UserRow.login == login)) is not None:
        raise AccountError(f"L'identifiant {login!r} existe déjà : choisissez-en un autre.")
    row = UserRow(
        login=user.login,
        display_name=user.display_name,
        role=user.role.value,
        password_hash=hash_password(password, login) if password else None,
        active=True,
    )
    session.add(row)
    repository.record_audit(session, actor, "user.create", login=login, role=user.role.value)
    session.flush()
    return row


def get_user(session: Session, login: str) -> UserRow:
    row = session.scalar(select(UserRow).where(UserRow.login == login))
    if row is None:
        raise AccountError(f"Compte inconnu : {login!r}.")
    return row


def list_users(session: Session) -> pd.DataFrame:
    rows = session.execute(
        select(UserRow.login, UserRow.display_name, UserRow.role, UserRow.active,
               UserRow.created_at).order_by(UserRow.login)
    ).all()  # fmt: skip
    return pd.DataFrame(rows, columns=["login", "display_name", "role", "active", "created_at"])


def update_user(
    session: Session, login: str, *, actor: str, role: Role | str | None = None,
    active: bool | None = None, password: str | None = None,
) -> UserRow:  # fmt: skip
    """Change an account's role, activity or password (each change is audited)."""
    row = get_user(session, login)
    changes: dict[str, Any] = {}
    if role is not None and Role(role).value != row.role:
        if Role(role) in (Role.PUBLIC, Role.VOLUNTEER):
            raise AccountError("Un compte ne peut être que « équipe » ou « administrateur ».")
        changes["role"] = row.role = Role(role).value
    if active is not None and active != row.active:
        changes["active"] = row.active = active
    if password:
        row.password_hash = hash_password(password, login)
        changes["password"] = "changed"
    if changes:
        repository.record_audit(session, actor, "user.update", login=login, **changes)
    session.flush()
    return row


def authenticate(session: Session, login: str, password: str) -> CurrentUser | None:
    """The user if ``login`` / ``password`` match an active account, else ``None``.

    An unknown, deactivated or password-less account goes through the same argon2
    verification (against a dummy hash): the delay of the answer does not tell which
    logins exist. Failures are audited too (without the password), so that guessing shows
    in the log. `observatoire.security.sign_in` adds the lockout around this.
    """
    row = session.scalar(select(UserRow).where(UserRow.login == login))
    matched = verify_password(row.password_hash if row is not None else None, password)
    if row is None or not row.active or not matched:
        repository.record_audit(session, login[:64] or "?", "login.failed")
        return None
    if needs_rehash(row.password_hash):
        row.password_hash = rehash_password(password)
    repository.record_audit(session, row.login, "login")
    return _signed_in(row)


def _signed_in(row: UserRow) -> CurrentUser:
    return CurrentUser(
        login=row.login, display_name=row.display_name, role=Role(row.role),
        fingerprint=account_fingerprint(row.role, row.active, row.password_hash),
    )  # fmt: skip


def account_user(session: Session, login: str) -> CurrentUser | None:
    """The account ``login`` as it is now (role, name, `account_fingerprint`), or ``None``
    when it is unknown or deactivated: what every page run compares its session with."""
    row = session.scalar(select(UserRow).where(UserRow.login == login))
    return _signed_in(row) if row is not None and row.active else None


def user_for_oidc(session: Session, email: str | None, name: str | None) -> CurrentUser:
    """Map an identity from ``st.login`` (OIDC) to an account with the same login (the
    e-mail address); an unknown or inactive identity gets the public view."""
    row = session.scalar(select(UserRow).where(UserRow.login == (email or "")))
    if row is None or not row.active:
        return CurrentUser(login=email or "oidc", display_name=name or email or "",
                           role=Role.PUBLIC)  # fmt: skip
    repository.record_audit(session, row.login, "login.oidc")
    return _signed_in(row)


def authenticate_team(session: Session, team_code: str, **details: Any) -> CurrentUser | None:
    """A volunteer signed in with their team's code, while their campaign is not locked.

    A refused code is audited (not the code tried), with ``details`` (page, client)."""
    code = team_code.strip().upper()
    found = session.execute(
        select(TeamRow, CampaignRow)
        .join(CampaignRow, CampaignRow.id == TeamRow.campaign_id)
        .where(TeamRow.code == code)
    ).first()
    if found is None or CampaignStatus(found[1].status).frozen or _code_expired(
        session, found[1]
    ):
        repository.record_audit(session, "equipe", "login.team_failed", **details)
        return None
    team, campaign = found
    repository.record_audit(session, f"equipe:{team.code}", "login.team", campaign=campaign.id)
    return CurrentUser(
        login=f"equipe:{team.code}", display_name=team.name, role=Role.VOLUNTEER,
        team_code=team.code, campaign_id=campaign.id,
    )  # fmt: skip


def _code_expired(session: Session, campaign: CampaignRow) -> bool:
    from observatoire.access import team_code_closes_at
    from observatoire.store.survey_tables import CampaignOptionRow

    option = session.get(CampaignOptionRow, campaign.id)
    closes = team_code_closes_at(campaign.night_date, option.codes_opened_at if option else None)
    return dt.datetime.now(dt.UTC) > closes


# --- failed sign-ins --------------------------------------------------------------------------


def locked_until(session: Session, keys: list[str], now: float) -> float | None:
    """Until when (seconds since the epoch) the most locked of ``keys`` stays locked, or
    ``None`` when none is locked at ``now``."""
    until = session.scalar(
        select(SignInThrottleRow.locked_until)
        .where(SignInThrottleRow.key.in_(keys), SignInThrottleRow.locked_until > now)
        .order_by(SignInThrottleRow.locked_until.desc())
        .limit(1)
    )
    return until


def record_sign_in_failure(
    session: Session, keys: list[str], now: float, policy: ThrottlePolicy
) -> float | None:
    """Count one more failure for each of ``keys`` (the count restarts after
    ``policy.forget_after`` seconds without one) and lock the keys that reached the limit;
    the latest lock, or ``None``. Rows forgotten by the policy are deleted on the way."""
    session.execute(
        delete(SignInThrottleRow).where(
            SignInThrottleRow.last_failure_at < now - policy.forget_after,
            or_(SignInThrottleRow.locked_until.is_(None), SignInThrottleRow.locked_until < now),
        )
    )
    # Two failures at once for a new key (two tabs guessing) must both count, not collide:
    # insert the row if missing, then update it under its lock.
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(SignInThrottleRow).on_conflict_do_nothing(index_elements=["key"]),
        [{"key": key, "failures": 0, "last_failure_at": now} for key in keys],
    )
    latest = None
    for key in keys:
        row = session.get(SignInThrottleRow, key, with_for_update=True, populate_existing=True)
        if now - row.last_failure_at > policy.forget_after:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        wait = policy.wait_after(row.failures)
        row.locked_until = now + wait if wait else None
        if row.locked_until is not None:
            latest = max(latest or 0.0, row.locked_until)
    session.flush()
    return latest


def clear_sign_in_failures(session: Session, keys: list[str]) -> None:
    """Forget the failures of ``keys`` (after a successful sign-in of that login)."""
    session.execute(delete(SignInThrottleRow).where(SignInThrottleRow.key.in_(keys)))


# --- settings ----------------------------------------------------------------------------------


def get_setting(session: Session, key: str) -> Any:
    if key not in DEFAULT_SETTINGS:
        raise ObservatoireError(
            f"Réglage inconnu : {key!r}. Réglages : {', '.join(DEFAULT_SETTINGS)}."
        )
    row = session.get(AppSettingRow, key)
    return DEFAULT_SETTINGS[key] if row is None else row.value


def set_setting(session: Session, key: str, value: Any, *, actor: str) -> None:
    before = get_setting(session, key)
    row = session.get(AppSettingRow, key)
    if row is None:
        row = AppSettingRow(key=key)
        session.add(row)
    row.value = value
    row.updated_by = actor
    row.updated_at = dt.datetime.now(dt.UTC)
    repository.record_audit(session, actor, "setting.update", key=key, before=before,
                            after=value)  # fmt: skip
    session.flush()


def all_settings(session: Session) -> dict[str, Any]:
    return {key: get_setting(session, key) for key in DEFAULT_SETTINGS}


# --- audit log ---------------------------------------------------------------------------------


def audit_log(session: Session, limit: int = 200, action_prefix: str | None = None) -> pd.DataFrame:
    """The latest audit entries: ``at``, ``actor``, ``action``, ``details``."""
    statement = select(AuditLogRow.at, AuditLogRow.actor, AuditLogRow.action,
                       AuditLogRow.details).order_by(AuditLogRow.id.desc()).limit(limit)
    if action_prefix:
        statement = statement.where(AuditLogRow.action.startswith(action_prefix))
    return pd.DataFrame(session.execute(statement).all(),
                        columns=["at", "actor", "action", "details"])  # fmt: skip
