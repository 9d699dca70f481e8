"""Tables of the yearly evaluation (migration 0017): the conventions staff edit, kept as
versions (a revision is a new version with its date and author, never an overwrite); the
figures that come from no feed, kept as entries (a correction is a new entry); the
data-sharing register of the partners that send files."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from observatoire.store.tables import Base, _now


class ConventionVersionRow(Base):
    """One version of a territory's convention (``period`` such as ``2023-2025``): the
    whole document (`observatoire.evaluation.convention.Convention` as JSON)."""

    __tablename__ = "convention_version"
    __table_args__ = (UniqueConstraint("territory_id", "period", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    saved_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


class IndicatorFigureRow(Base):
    """A figure no feed gives, for a year or a quarter, the territory or one commune. A
    correction adds an entry; the latest entry of a key is the figure (``value`` empty:
    withdrawn)."""

    __tablename__ = "indicator_figure"
    __table_args__ = (
        Index("ix_indicator_figure_key", "territory_id", "indicator_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    indicator_id: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int | None] = mapped_column(Integer)
    commune_code: Mapped[str | None] = mapped_column(String(5))
    value: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    entered_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    entered_by: Mapped[str] = mapped_column(String(64))


class SharingAgreementRow(Base):
    """An agreement with a partner organisation that sends files (``partner``: the code
    `feed import --partenaire` records on each import)."""

    __tablename__ = "sharing_agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner: Mapped[str] = mapped_column(String(64), unique=True)
    organisation: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    formats: Mapped[list[str]] = mapped_column(JSON, default=list)
    retention_months: Mapped[int] = mapped_column(Integer)
    signed_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_by: Mapped[str] = mapped_column(String(64))
