"""Tables of access control beyond ``user_account`` and ``audit_log`` (in `tables`):
installation settings that admins edit from the app (migration 0006)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from observatoire.store.tables import Base, _now


class AppSettingRow(Base):
    """One setting of the installation (e.g. ``publication.threshold``), edited by admins."""

    __tablename__ = "app_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_by: Mapped[str] = mapped_column(String(64))
