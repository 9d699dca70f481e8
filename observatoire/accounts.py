"""Accounts and installation settings as the pages use them: services that take an `Engine`
and run one transaction each (`observatoire.store.access_repository` speaks the SQL, and
audits every change in the same transaction)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.access import CurrentUser
from observatoire.model import Role
from observatoire.store import access_repository


def list_users(engine: Engine) -> pd.DataFrame:
    """Every account: ``login``, ``display_name``, ``role``, ``active``, ``created_at``."""
    with Session(engine) as session:
        return access_repository.list_users(session)


def create_user(
    engine: Engine, login: str, display_name: str, role: Role | str, password: str | None,
    *, actor: str,
) -> None:  # fmt: skip
    """Create an account (`access_repository.AccountError` when the login is taken or the
    role has no account); ``login`` is stripped, an empty ``display_name`` is the login."""
    login = login.strip()
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, login, display_name or login, role,
                                      password or None, actor=actor)  # fmt: skip


def update_user(
    engine: Engine, login: str, *, actor: str, role: Role | str | None = None,
    active: bool | None = None, password: str | None = None,
) -> None:  # fmt: skip
    """Change an account's role, activity or password (``None``: unchanged)."""
    with Session(engine) as session, session.begin():
        access_repository.update_user(session, login, actor=actor, role=role, active=active,
                                      password=password or None)  # fmt: skip


def account_user(engine: Engine, login: str) -> CurrentUser | None:
    """The account ``login`` as it is now, or ``None`` when unknown or deactivated."""
    with Session(engine) as session:
        return access_repository.account_user(session, login)


def user_for_oidc(engine: Engine, email: str | None, name: str | None) -> CurrentUser:
    """The account of an OIDC identity (audited), or the public view for an unknown one."""
    with Session(engine) as session, session.begin():
        return access_repository.user_for_oidc(session, email, name)


def settings(engine: Engine) -> dict[str, Any]:
    """The installation settings admins may change, with their current values."""
    with Session(engine) as session:
        return access_repository.all_settings(session)


def save_settings(engine: Engine, values: Mapping[str, Any], *, actor: str) -> None:
    """Set several settings at once, in one transaction (each change audited)."""
    with Session(engine) as session, session.begin():
        for key, value in values.items():
            access_repository.set_setting(session, key, value, actor=actor)


def audit_log(engine: Engine, limit: int = 200, action_prefix: str | None = None) -> pd.DataFrame:
    """The latest audit entries (``at``, ``actor``, ``action``, ``details``), newest first."""
    with Session(engine) as session:
        return access_repository.audit_log(session, limit, action_prefix)


def key_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """The names (never the values) of the server's key variables: ``OBSERVATOIRE_*`` with
    ``KEY`` or ``CLE`` in them, sorted."""
    names = os.environ if environ is None else environ
    return sorted(n for n in names if n.startswith("OBSERVATOIRE_") and ("KEY" in n or "CLE" in n))
