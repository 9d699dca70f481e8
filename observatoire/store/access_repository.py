"""Accounts, team-code sign-in, installation settings and the audit log.

Every change made here is written to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from observatoire.access import CurrentUser, hash_password, needs_rehash, verify_password
from observatoire.model import CampaignStatus, ObservatoireError, Role, User
from observatoire.store import repository
from observatoire.store.access_tables import AppSettingRow
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
        password_hash=hash_password(password) if password else None,
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
        row.password_hash = hash_password(password)
        changes["password"] = "changed"
    if changes:
        repository.record_audit(session, actor, "user.update", login=login, **changes)
    session.flush()
    return row


def authenticate(session: Session, login: str, password: str) -> CurrentUser | None:
    """The user if ``login`` / ``password`` match an active account, else ``None``.

    Failures are audited too (without the password), so that guessing shows in the log.
    """
    row = session.scalar(select(UserRow).where(UserRow.login == login))
    if row is None or not row.active or not verify_password(row.password_hash, password):
        repository.record_audit(session, login[:64] or "?", "login.failed")
        return None
    if needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
    repository.record_audit(session, row.login, "login")
    return CurrentUser(login=row.login, display_name=row.display_name, role=Role(row.role))


def user_for_oidc(session: Session, email: str | None, name: str | None) -> CurrentUser:
    """Map an identity from ``st.login`` (OIDC) to an account with the same login (the
    e-mail address); an unknown or inactive identity gets the public view."""
    row = session.scalar(select(UserRow).where(UserRow.login == (email or "")))
    if row is None or not row.active:
        return CurrentUser(login=email or "oidc", display_name=name or email or "",
                           role=Role.PUBLIC)  # fmt: skip
    repository.record_audit(session, row.login, "login.oidc")
    return CurrentUser(login=row.login, display_name=row.display_name, role=Role(row.role))


def authenticate_team(session: Session, team_code: str) -> CurrentUser | None:
    """A volunteer signed in with their team's code, while their campaign is not locked."""
    code = team_code.strip().upper()
    found = session.execute(
        select(TeamRow, CampaignRow)
        .join(CampaignRow, CampaignRow.id == TeamRow.campaign_id)
        .where(TeamRow.code == code)
    ).first()
    if found is None or CampaignStatus(found[1].status).frozen:
        repository.record_audit(session, "equipe", "login.team_failed")
        return None
    team, campaign = found
    repository.record_audit(session, f"equipe:{team.code}", "login.team", campaign=campaign.id)
    return CurrentUser(
        login=f"equipe:{team.code}", display_name=team.name, role=Role.VOLUNTEER,
        team_code=team.code, campaign_id=campaign.id,
    )  # fmt: skip


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
