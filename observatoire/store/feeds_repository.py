"""Repositories of partner feeds. Like `repository`, every function takes an open `Session`
and the caller owns the transaction: a whole file is imported (or purged) as one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from observatoire.store.feeds_tables import FeedImportRow, FeedQuarantineRow, PlaceTallyRow
from observatoire.store.tables import CommuneRow, SourceRecordRow

# Well under SQLite's bound-parameter limit (32,766) for the IN lists and multi-row inserts.
_IN_CHUNK = 900


def find_import(session: Session, fingerprint: str) -> FeedImportRow | None:
    return session.scalar(select(FeedImportRow).where(FeedImportRow.fingerprint == fingerprint))


def key_ids_in_use(session: Session) -> set[str]:
    """Public ids of the pseudonymisation keys of earlier imports."""
    return {
        k for k in session.scalars(select(FeedImportRow.key_id).distinct()) if k is not None
    }


def stored_departements(session: Session) -> frozenset[str]:
    """Départements of the communes of the stored territories (settle ambiguous names)."""
    codes = session.scalars(select(CommuneRow.code).distinct())
    return frozenset(c[:3] if c.startswith("97") else c[:2] for c in codes)


def start_import(session: Session, **columns: Any) -> FeedImportRow:
    row = FeedImportRow(**columns)
    session.add(row)
    session.flush()
    return row


def existing_record_keys(session: Session, source: str, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        found.update(session.scalars(
            select(SourceRecordRow.source_row_key).where(
                SourceRecordRow.source == source, SourceRecordRow.source_row_key.in_(chunk)
            )
        ))
    return found


def existing_tally_keys(session: Session, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        found.update(session.scalars(
            select(PlaceTallyRow.row_key).where(PlaceTallyRow.row_key.in_(chunk))
        ))
    return found


def _insert_ignoring_duplicates(session: Session, table, key_columns: list[str]):  # noqa: ANN001
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=key_columns)
    if dialect == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=key_columns)
    return insert(table)


def add_source_records(session: Session, records: list[dict[str, Any]]) -> None:
    """Insert pseudonymised records; one already stored (same source and key) is skipped."""
    if records:
        statement = _insert_ignoring_duplicates(
            session, SourceRecordRow.__table__, ["source", "source_row_key"]
        )
        session.execute(statement, records)


def add_place_tallies(session: Session, tallies: list[dict[str, Any]]) -> None:
    if tallies:
        statement = _insert_ignoring_duplicates(session, PlaceTallyRow.__table__, ["row_key"])
        session.execute(statement, tallies)


def add_quarantined(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    values = list(rows)
    if values:
        session.execute(insert(FeedQuarantineRow.__table__), values)


def list_imports(session: Session, limit: int = 50) -> list[FeedImportRow]:
    return list(session.scalars(
        select(FeedImportRow).order_by(FeedImportRow.imported_at.desc()).limit(limit)
    ))


def quarantined_rows(session: Session, import_id: int) -> list[FeedQuarantineRow]:
    return list(session.scalars(
        select(FeedQuarantineRow)
        .where(FeedQuarantineRow.import_id == import_id)
        .order_by(FeedQuarantineRow.row_number)
    ))


def count_source_records(session: Session, source: str | None = None) -> int:
    query = select(func.count()).select_from(SourceRecordRow)
    if source is not None:
        query = query.where(SourceRecordRow.source == source)
    return session.scalar(query) or 0


def purge_before(session: Session, cutoff: dt.date) -> dict[str, int]:
    """Delete partner records whose last contact is before ``cutoff``, and the quarantined
    rows of imports made before it. Returns what was deleted."""
    records = session.execute(
        delete(SourceRecordRow).where(SourceRecordRow.last_contact < cutoff)
    ).rowcount
    old_imports = select(FeedImportRow.id).where(
        FeedImportRow.imported_at < dt.datetime.combine(cutoff, dt.time(0), tzinfo=dt.UTC)
    )
    quarantined = session.execute(
        delete(FeedQuarantineRow).where(FeedQuarantineRow.import_id.in_(old_imports))
    ).rowcount
    return {"enregistrements": records or 0, "lignes_en_quarantaine": quarantined or 0}
