"""Tables of the indicators (migration 0006): the yearly figures that no feed provides
(entered by staff; the convention's targets moved into its versions, migration 0018); the
stored aggregates of the partner records and the index they are computed with (0009)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
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

from observatoire.store.tables import Base, SourceRecordRow, _now


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


# --- added by migration 0009 -------------------------------------------------------------

# The aggregations of the partner records group them by person: this index holds every
# column they read, so they scan it instead of the wide rows (pseudonyms, attributes).
Index(
    "ix_source_record_person_contact",
    SourceRecordRow.__table__.c.person_id,
    SourceRecordRow.__table__.c.last_contact,
    SourceRecordRow.__table__.c.commune_code,
    SourceRecordRow.__table__.c.source,
)


class FeedAggregateRow(Base):
    """A figure of the partner records as the dashboards show it (`observatoire.store.
    feed_aggregates`), with the data version it was computed from."""

    __tablename__ = "feed_aggregate"
    __table_args__ = (UniqueConstraint("territory_id", "name", "parameters"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
