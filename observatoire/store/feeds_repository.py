"""Repositories of partner feeds. Like `repository`, every function takes an open `Session`
and the caller owns the transaction: a whole file is imported (or purged) as one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from observatoire.store.feeds_tables import (
    FeedImportRow,
    FeedPreviousRow,
    FeedQuarantineRow,
    PlaceTallyRow,
)
from observatoire.store.tables import CommuneRow, SourceRecordRow, plan_attributes

# Well under SQLite's bound-parameter limit (32,766) for the IN lists and multi-row inserts.
_IN_CHUNK = 900
_SQLITE_CACHE_KIB = 256 * 1024  # page cache of an import, within the 2 GB budget
# The columns of a ``source_record`` row in the order `insert_source_rows` takes them
# (`feeds.records.RecordRow`): the record's key, what the partner's file says, and the plan
# attributes derived from it (`tables.plan_attributes`).
_KEY_COLUMNS = ("source", "source_row_key")
_CONTENT_COLUMNS = ("commune_code", "sex", "birth_year", "last_contact", "pseudonyms",
                    "attributes")
_PLAN_COLUMNS = ("plan_date", "plan_label", "plan_status")
SOURCE_RECORD_COLUMNS = (*_KEY_COLUMNS, *_CONTENT_COLUMNS, *_PLAN_COLUMNS)
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def find_import(session: Session, fingerprint: str, format_name: str) -> FeedImportRow | None:
    """The import in force of this file (by fingerprint) under this format, if any: the same
    file may be imported under another format, and again once its import is undone."""
    return session.scalar(select(FeedImportRow).where(
        FeedImportRow.fingerprint == fingerprint, FeedImportRow.format_name == format_name,
        FeedImportRow.undone_at.is_(None),
    ))


def get_import(session: Session, import_id: int, *, lock: bool = False) -> FeedImportRow | None:
    """The import ``import_id``; with ``lock``, its row locked until the transaction ends
    (PostgreSQL: two undos of one import wait for each other; SQLite has one writer)."""
    return session.get(FeedImportRow, import_id, with_for_update=lock or None)


def partners_of_source(session: Session, source: str) -> set[str]:
    """The partner organisations whose imports in force sent files of ``source``."""
    return set(session.scalars(select(FeedImportRow.partner).distinct().where(
        FeedImportRow.source == source, FeedImportRow.undone_at.is_(None),
    )))


def key_ids_in_use(session: Session) -> set[str]:
    """Public ids of the pseudonymisation keys of earlier imports."""
    return {
        k for k in session.scalars(select(FeedImportRow.key_id).distinct()) if k is not None
    }


def stored_departements(session: Session) -> frozenset[str]:
    """Départements of the communes of the stored territories (settle ambiguous names)."""
    codes = session.scalars(select(CommuneRow.code).distinct())
    return frozenset(c[:3] if c.startswith("97") else c[:2] for c in codes)


def prepare_bulk_load(session: Session) -> None:
    """Make the import's connection ready for a million rows: on SQLite, a page cache large
    enough for the indexes of ``source_record`` (the default 2 MB makes every insert of a
    random key read and write index pages again). Reset by `end_bulk_load`."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}"))
    elif dialect == "postgresql":
        # The key look-ups run a thousand times as the table grows within the transaction;
        # a generic plan made while it was empty (prepared statements) would scan the whole
        # table each time. Ends with the transaction.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        refresh_statistics(session)


def refresh_statistics(session: Session) -> None:
    """On PostgreSQL, ``ANALYZE source_record`` (it counts the rows this transaction added).

    With statistics from before a large import, the planner reads the key look-ups of
    `stored_records` through the index on ``source`` alone and filters every row of the
    source: 0.6 s per look-up at 200,000 rows instead of a few milliseconds. The importer calls
    this each time the table has doubled, as autovacuum would between transactions.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE source_record"))


def end_bulk_load(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA cache_size = -2000"))  # SQLite's default


def start_import(session: Session, **columns: Any) -> FeedImportRow:
    row = FeedImportRow(**columns)
    session.add(row)
    session.flush()
    return row


def has_source_records(session: Session, source: str) -> bool:
    """Whether anything of ``source`` is stored."""
    return session.scalar(
        select(SourceRecordRow.id).where(SourceRecordRow.source == source).limit(1)
    ) is not None


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


def stored_records(session: Session, source: str, keys: Sequence[str]) -> dict[str, dict]:
    """The stored records of ``source`` with these keys, by key: id and content columns."""
    table = SourceRecordRow.__table__
    columns = [table.c.id, *(table.c[name] for name in SOURCE_RECORD_COLUMNS)]
    found: dict[str, dict] = {}
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        for row in session.execute(select(*columns).where(
            table.c.source == source, table.c.source_row_key.in_(chunk)
        )):
            found[row.source_row_key] = dict(row._mapping)
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


def add_source_records(session: Session, records: list[dict[str, Any]]) -> int:
    """Insert pseudonymised records; one already stored (same source and key) is skipped.
    Returns how many were inserted."""
    if not records:
        return 0
    statement = _insert_ignoring_duplicates(
        session, SourceRecordRow.__table__, ["source", "source_row_key"]
    )
    return session.execute(statement, records).rowcount


def insert_source_rows(session: Session, rows: list[tuple[Any, ...]]) -> int:
    """Bulk insert of prepared records, one already stored (same source and key) skipped;
    returns how many were inserted.

    Each row is ``(source, source_row_key, commune_code, sex, birth_year, last_contact as ISO
    text, pseudonyms as JSON text, attributes as JSON text, plan_date, plan_label,
    plan_status)`` (the last three: `tables.plan_attributes` of the attributes): the rows go
    to the driver directly (``executemany`` on SQLite, ``COPY`` through a staging table on
    PostgreSQL).
    """
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect.name
    driver = connection.connection.driver_connection
    if dialect == "sqlite":
        cursor = driver.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO source_record ({', '.join(SOURCE_RECORD_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(SOURCE_RECORD_COLUMNS))}) "
                "ON CONFLICT (source, source_row_key) DO NOTHING",
                rows,
            )
            return cursor.rowcount  # the rows skipped by ON CONFLICT are not counted
        finally:
            cursor.close()
    if dialect == "postgresql":
        return _copy_source_rows(driver, rows)
    records = [dict(zip(SOURCE_RECORD_COLUMNS, row, strict=True)) for row in rows]
    return add_source_records(session, [  # pragma: no cover - SQLite and PostgreSQL only
        r | {"last_contact": dt.date.fromisoformat(r["last_contact"]) if r["last_contact"]
             else None,
             "pseudonyms": json.loads(r["pseudonyms"]), "attributes": json.loads(r["attributes"])}
        for r in records
    ])


def _copy_source_rows(driver, rows: list[tuple[Any, ...]]) -> int:  # noqa: ANN001
    columns = ", ".join(SOURCE_RECORD_COLUMNS)
    with driver.cursor() as cursor:
        # Dropped with the import's transaction; ON CONFLICT keeps the skip of rows stored
        # meanwhile by a concurrent import (COPY alone would fail on them).
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS feed_record_staging (source varchar(32), "
            "source_row_key varchar(128), commune_code varchar(5), sex varchar(1), "
            "birth_year integer, last_contact date, pseudonyms json, attributes json, "
            "plan_date text, plan_label text, plan_status text) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY feed_record_staging ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO source_record ({columns}) SELECT {columns} FROM feed_record_staging "
            "ON CONFLICT (source, source_row_key) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("TRUNCATE feed_record_staging")
        return inserted


def update_source_records(
    session: Session, import_id: int, updates: list[tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    """Replace the content of stored records with a later extract's: pseudonyms and
    attributes included, the link to a person (``person_id``) kept. Each update is ``(stored
    record as `stored_records` gives it, new record)``; the stored content is kept with the
    import (``feed_import_previous``) for `undo_import`."""
    if not updates:
        return
    session.execute(insert(FeedPreviousRow.__table__), [
        {"import_id": import_id, "record_id": old["id"], "previous": _previous(old)}
        for old, _ in updates
    ])
    table = SourceRecordRow.__table__
    session.execute(
        update(table).where(table.c.id == bindparam("record_id")),
        [{"record_id": old["id"], **{c: r[c] for c in _CONTENT_COLUMNS},
          **dict(zip(_PLAN_COLUMNS, plan_attributes(r["source"], r["attributes"]),
                     strict=True))}
         for old, r in updates],
    )


def _previous(record: dict[str, Any]) -> dict[str, Any]:
    """The content columns of a stored record, as JSON values."""
    content = {c: record[c] for c in (*_CONTENT_COLUMNS, *_PLAN_COLUMNS)}
    if content["last_contact"] is not None:
        content["last_contact"] = content["last_contact"].isoformat()
    return content


def add_place_tallies(session: Session, tallies: list[dict[str, Any]]) -> None:
    if tallies:
        statement = _insert_ignoring_duplicates(session, PlaceTallyRow.__table__, ["row_key"])
        session.execute(statement, tallies)


def delete_place_tallies(session: Session, night_date: dt.date, campaign: str) -> int:
    """Delete the tallies of ``night_date`` whose file names ``campaign``, and the imports
    left without any tally (with their quarantined rows), so that the same file can be
    imported again. Returns the number of tallies deleted."""
    of_campaign = (PlaceTallyRow.night_date == night_date) & (PlaceTallyRow.campaign == campaign)
    import_ids = {
        i for i in session.scalars(select(PlaceTallyRow.import_id).where(of_campaign).distinct())
        if i is not None
    }  # fmt: skip
    deleted = session.execute(delete(PlaceTallyRow).where(of_campaign)).rowcount or 0
    if import_ids:
        still_used = set(session.scalars(
            select(PlaceTallyRow.import_id).where(PlaceTallyRow.import_id.in_(import_ids))
        ))  # fmt: skip
        emptied = sorted(import_ids - still_used)
        session.execute(delete(FeedQuarantineRow).where(FeedQuarantineRow.import_id.in_(emptied)))
        session.execute(delete(FeedImportRow).where(FeedImportRow.id.in_(emptied)))
    return deleted


def add_quarantined(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    values = list(rows)
    if values:
        session.execute(insert(FeedQuarantineRow.__table__), values)


def list_imports(session: Session, limit: int = 50) -> list[FeedImportRow]:
    return list(session.scalars(
        select(FeedImportRow)
        .order_by(FeedImportRow.imported_at.desc(), FeedImportRow.id.desc()).limit(limit)
    ))


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
    # The content that imports made before the cutoff replaced: past retention too.
    session.execute(delete(FeedPreviousRow).where(FeedPreviousRow.import_id.in_(old_imports)))
    return {"enregistrements": records or 0, "lignes_en_quarantaine": quarantined or 0}


# --- undoing an import -----------------------------------------------------------------------


def _import_of(column: Any) -> Any:
    return SourceRecordRow.attributes[column].as_integer()


def _records_of_import(batch: FeedImportRow) -> Any:
    """Condition on ``source_record``: the records that ``batch`` inserted (and that later
    imports may have updated since) or updated."""
    updated = select(FeedPreviousRow.record_id).where(FeedPreviousRow.import_id == batch.id)
    return (SourceRecordRow.source == batch.source) & (
        (_import_of("import_id") == batch.id) | (_import_of("import_initial") == batch.id)
        | SourceRecordRow.id.in_(updated))


def imports_touching_since(session: Session, batch: FeedImportRow) -> list[int]:
    """The other imports that changed records of ``batch`` since (each record keeps the
    import that wrote it last): they must be undone first."""
    return sorted(i for i in session.scalars(
        select(_import_of("import_id")).distinct().where(
            _records_of_import(batch), _import_of("import_id") != batch.id)
    ) if i is not None)


def later_imports_finding_rows_present(session: Session, batch: FeedImportRow) -> list[int]:
    """The later imports in force of the same partner and source that found rows already
    stored: some may be rows of ``batch``, which undoing it would take from them too."""
    if not batch.rows_imported:
        return []
    return sorted(session.scalars(select(FeedImportRow.id).where(
        FeedImportRow.id > batch.id, FeedImportRow.undone_at.is_(None),
        FeedImportRow.source == batch.source, FeedImportRow.partner == batch.partner,
        FeedImportRow.rows_already_present > 0,
    )))


def undo_import_rows(session: Session, batch: FeedImportRow, actor: str) -> dict[str, int]:
    """Revert what ``batch`` stored (see `observatoire.feeds.importer.undo_import`): delete
    the records it inserted, its place tallies and quarantined rows, give the records it
    updated their content of before, and mark it undone. Returns what was done."""
    previous = list(session.execute(
        select(FeedPreviousRow.record_id, FeedPreviousRow.previous)
        .where(FeedPreviousRow.import_id == batch.id)
    ))  # fmt: skip
    updated = select(FeedPreviousRow.record_id).where(FeedPreviousRow.import_id == batch.id)
    deleted = session.execute(delete(SourceRecordRow).where(
        SourceRecordRow.source == batch.source, _import_of("import_id") == batch.id,
        SourceRecordRow.id.not_in(updated),
    ).execution_options(synchronize_session=False)).rowcount or 0
    if previous:
        table = SourceRecordRow.__table__
        session.execute(update(table).where(table.c.id == bindparam("record_id")), [
            {"record_id": record_id, **content,
             "last_contact": dt.date.fromisoformat(content["last_contact"])
             if content["last_contact"] else None}
            for record_id, content in previous
        ])
        session.execute(delete(FeedPreviousRow).where(FeedPreviousRow.import_id == batch.id))
    tallies = session.execute(
        delete(PlaceTallyRow).where(PlaceTallyRow.import_id == batch.id)).rowcount or 0
    quarantined = session.execute(
        delete(FeedQuarantineRow).where(FeedQuarantineRow.import_id == batch.id)).rowcount or 0
    batch.undone_at = dt.datetime.now(dt.UTC)
    batch.undone_by = actor[:64]
    return {"enregistrements_supprimes": deleted, "enregistrements_restaures": len(previous),
            "decomptes_supprimes": tallies, "lignes_en_quarantaine_supprimees": quarantined}
