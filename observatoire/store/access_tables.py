"""Tables of access control beyond ``user_account`` and ``audit_log`` (in `tables`):
installation settings that admins edit from the app (migration 0006), failed sign-ins (0013)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from observatoire.store.tables import Base, _now


class AppSettingRow(Base):
    """One setting of the installation (e.g. ``publication.threshold``), edited by admins."""

    __tablename__ = "app_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_by: Mapped[str] = mapped_column(String(64))


class SignInThrottleRow(Base):
    """Failed sign-ins of one key (``mot_de_passe:compte:<login>``,
    ``mot_de_passe:client:<address>``, ``code_equipe:client:<address>``; see
    `observatoire.security`) and until when it is locked out (migration 0013).

    Times are seconds since the epoch (UTC), so that both backends compare them alike."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[float] = mapped_column(Float)
    locked_until: Mapped[float | None] = mapped_column(Float)
