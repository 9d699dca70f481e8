"""Tables of the indicators (migration 0006): the targets of the territory's *Logement
d'abord* convention and the yearly figures that no feed provides (entered by staff)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from observatoire.store.tables import Base, _now


class IndicatorTargetRow(Base):
    """A yearly target of the convention for one indicator of the catalogue."""

    __tablename__ = "indicator_target"
    __table_args__ = (UniqueConstraint("territory_id", "indicator_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    indicator_id: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    target: Mapped[float] = mapped_column(Float)
    convention: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_by: Mapped[str] = mapped_column(String(64))


class IndicatorValueRow(Base):
    """A yearly figure entered by staff (IML places, evictions prevented...)."""

    __tablename__ = "indicator_value"
    __table_args__ = (UniqueConstraint("territory_id", "indicator_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    indicator_id: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_by: Mapped[str] = mapped_column(String(64))
