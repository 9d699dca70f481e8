"""Tables of partner feeds: import batches, quarantined rows, count-night place tallies.

Pseudonymised person records go to the core ``source_record`` table; these tables hold what
an import needs around them. No direct identifier is stored here either: quarantined rows
keep their non-identifying cells only (identifiers are masked), with the row number to find
them in the partner's file. Changing this file means writing an Alembic migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from observatoire.model import DEFAULT_PARTNER
from observatoire.store.tables import Base, _now

# Purges select partner records by their last contact with a scan of ``source_record``
# (about 2 s at a million rows; the index of migration 0009 starts with ``person_id``). An
# index of its own (``ix_source_record_last_contact``, dropped by migration 0010) cost a
# fifth of the time of storing each imported row.


class FeedImportRow(Base):
    """One partner file imported: its content fingerprint, counts and report."""

    __tablename__ = "feed_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the file's bytes: the same file imported twice under the same format is
    # recognised (one import in force per file and format: ``uq_feed_import_file_format``).
    fingerprint: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    format_name: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    # The organisation that sent the file (`DEFAULT_PARTNER` unless named): part of the
    # identity of its rows, so that two partners' numbers never meet (migration 0014).
    partner: Mapped[str] = mapped_column(String(64), default=DEFAULT_PARTNER,
                                         server_default=DEFAULT_PARTNER)
    # Public identifier of the pseudonymisation key (see pseudonymise.key_id).
    key_id: Mapped[str | None] = mapped_column(String(16))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    actor: Mapped[str] = mapped_column(String(64))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_already_present: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set by ``observatoire feed undo``: what the import stored is gone, the row stays as a
    # trace (with the audit log's entry), and the same file can be imported again.
    undone_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[str | None] = mapped_column(String(64))


Index("uq_feed_import_file_format", FeedImportRow.__table__.c.fingerprint,
      FeedImportRow.__table__.c.format_name, unique=True,
      sqlite_where=text("undone_at IS NULL"), postgresql_where=text("undone_at IS NULL"))


class FeedPreviousRow(Base):
    """The content of a stored record before an import updated it, for ``feed undo``: the
    record's columns as they were (pseudonyms and codes only, as in ``source_record``),
    written in the import's transaction. Deleted with the record (purge) or the import."""

    __tablename__ = "feed_import_previous"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("feed_import.id", ondelete="CASCADE"), index=True
    )
    record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), index=True
    )
    previous: Mapped[dict[str, Any]] = mapped_column(JSON)


class FeedQuarantineRow(Base):
    """A row with a blocking error: kept (identifiers masked) with what to fix."""

    __tablename__ = "feed_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("feed_import.id", ondelete="CASCADE"), index=True
    )
    row_number: Mapped[int] = mapped_column(Integer)
    cells: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    issues: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PlaceTallyRow(Base):
    """People counted by a partner in a place on the count night (a number, not people)."""

    __tablename__ = "place_tally"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int | None] = mapped_column(
        ForeignKey("feed_import.id", ondelete="SET NULL"), index=True
    )
    row_key: Mapped[str] = mapped_column(String(64), unique=True)
    campaign: Mapped[str | None] = mapped_column(String(200))
    night_date: Mapped[dt.date] = mapped_column(Date, index=True)
    place_kind: Mapped[str] = mapped_column(String(32))
    place_name: Mapped[str | None] = mapped_column(String(200))
    commune_code: Mapped[str | None] = mapped_column(String(5))
    people_count: Mapped[int] = mapped_column(Integer)
    partner: Mapped[str | None] = mapped_column(String(200))
