"""Importing a partner file: read -> validate -> pseudonymise -> store, as one transaction.

This is orchestration (it wires feeds, pseudonymisation and the store), kept next to the
feeds so that the pure modules stay pure; `observatoire.cli_feeds` calls it.

- Atomic: one transaction per file; a crash or a kill leaves the database as it was.
- Rows with blocking errors are quarantined (identifiers masked) with the report.
- The same file twice adds nothing (SHA-256 fingerprint); a later, overlapping extract adds
  only the rows not already stored (keyed row identity), and updates the rows a partner keys
  by its own number (a SI-SIAO demand) whose content changed (``mis à jour`` in the report).
- ``dry_run`` runs everything, then rolls back: the report says what would happen.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import getpass
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from observatoire.feeds import reader_process
from observatoire.feeds.chunks import PreparedChunk, parse_chunk, person_rows, prepare_chunks
from observatoire.feeds.formats import FeedFormat
from observatoire.feeds.headers import PSEUDO_PREFIX, ROW_KEY_COLUMN
from observatoire.feeds.reader_process import chunks_read_in_worker
from observatoire.feeds.reading import FeedReadError, RawTable, read_table
from observatoire.feeds.records import (
    RecordBuilder,
    RecordRow,
    content_fingerprint,
    partner_name,
    record_of_row,
)
from observatoire.feeds.report import ERROR, WARNING, ImportReport, Issue
from observatoire.feeds.validate import ParsedRow, RowParser
from observatoire.formula import escape_cell, escape_text
from observatoire.model import DEFAULT_PARTNER, ObservatoireError
from observatoire.normalise import CommuneReference
from observatoire.output_files import open_private
from observatoire.progress import Progress, quiet
from observatoire.pseudonymise import Pseudonymiser
from observatoire.store import feeds_repository as feeds_repo
from observatoire.store.feed_aggregates import refresh_feed_aggregates
from observatoire.store.repository import record_audit

BATCH_ROWS = 5000
CHUNK_ROWS = 20_000  # rows read column by column at once (see `chunks.parse_chunk`)
# From this size on, a file of people is read in a second process (`reader_process`) while
# this one stores it: about 30,000 rows, where starting a Python interpreter (about a second)
# pays for itself.
WORKER_MIN_BYTES = 4 << 20
_GC_THRESHOLD = 100_000
DEFAULT_RETENTION_DAYS = 730


class _DryRun(Exception):
    """Raised to roll the dry run's transaction back."""


def _actor() -> str:
    try:
        return getpass.getuser()[:64]
    except (KeyError, OSError):  # pragma: no cover - no user name in some containers
        return "observatoire"


def import_feed(
    engine: Engine,
    path: Path,
    feed_format: FeedFormat,
    key: bytes,
    *,
    dry_run: bool = False,
    actor: str | None = None,
    partner: str = DEFAULT_PARTNER,
    departements: frozenset[str] | None = None,
    today: dt.date | None = None,
    progress: Progress = quiet,
) -> ImportReport:
    """Import one partner file sent by the organisation ``partner`` (its rows' keys are
    scoped by it: see `RecordBuilder`); returns its report (never half-loads a file)."""
    path = Path(path)
    actor = actor or _actor()
    partner = partner_name(partner)
    pseudonymiser = Pseudonymiser(key)
    table = read_table(path)
    report = ImportReport(path.name, feed_format.name, table.fingerprint, table.encoding,
                          table.delimiter, dry_run=dry_run)
    report.extend(table.issues)
    if table.fatal:
        return _refuse(engine, report, actor, dry_run)

    with Session(engine) as session:
        previous = feeds_repo.find_import(session, table.fingerprint, feed_format.name)
        if previous is not None:
            report.status = (f"déjà importé le {previous.imported_at:%d/%m/%Y} (import "
                             f"n° {previous.id}) : rien n'a été ajouté ; s'il était faux, "
                             f"annulez-le (observatoire feed undo {previous.id}) puis "
                             "relancez l'import")
            report.import_id = previous.id
            return report
        known_partners = feeds_repo.partners_of_source(session, feed_format.source_name)
        other_keys = feeds_repo.key_ids_in_use(session) - {pseudonymiser.key_id}
        if other_keys:
            raise ObservatoireError(
                "La clé secrète fournie n'est pas celle des imports précédents : les pseudonymes "
                "ne pourraient pas être rapprochés. Utilisez la clé du territoire "
                "(OBSERVATOIRE_SECRET_KEY_FILE)."
            )
        if departements is None:
            departements = feeds_repo.stored_departements(session)

    parser = RowParser(feed_format, table.headers, path.name, CommuneReference.load(),
                       departements, today)
    report.extend(parser.file_issues)
    if parser.fatal:
        return _refuse(engine, report, actor, dry_run)
    if known_partners and partner not in known_partners:
        report.add(Issue(
            WARNING, path.name, None, None, "",
            f"Premier fichier du partenaire « {partner} » pour la source "
            f"{feed_format.source_name} (partenaires déjà importés : "
            f"{', '.join(sorted(known_partners))}) : ses lignes restent distinctes de celles "
            "des autres partenaires, même à numéro égal.",
            "Rien à faire si c'est un nouveau partenaire ; sinon annulez cet import "
            "(observatoire feed undo) et relancez-le avec le nom déjà utilisé (--partenaire).",
        ))
    builder = RecordBuilder(feed_format, pseudonymiser, partner)

    try:
        with Session(engine) as session, session.begin():
            batch = feeds_repo.start_import(
                session, fingerprint=table.fingerprint, file_name=path.name[:255],
                format_name=feed_format.name, source=feed_format.source_name,
                partner=partner, key_id=pseudonymiser.key_id, actor=actor,
            )
            report.import_id = batch.id
            feeds_repo.prepare_bulk_load(session)
            try:
                with _no_cycle_collection():
                    _load_rows(session, table, parser, builder, report, batch.id, progress,
                               key)
            except BaseException:
                # The import's own error is the one to report; resetting the cache of a
                # connection that the failure may have broken must not hide it.
                with suppress(SQLAlchemyError):
                    feeds_repo.end_bulk_load(session)
                raise
            feeds_repo.end_bulk_load(session)
            report.status = "importé" if not dry_run else "essai : rien n'a été enregistré"
            batch.rows_read = report.rows_read
            batch.rows_imported = report.rows_imported
            batch.rows_already_present = report.rows_already_present
            batch.rows_duplicate = report.rows_duplicate
            batch.rows_quarantined = report.rows_quarantined
            batch.errors = report.errors
            batch.warnings = report.warnings
            batch.report = report.to_json()
            record_audit(session, actor, "feed.import", import_id=batch.id, file=path.name,
                         format=feed_format.name, partner=partner,
                         fingerprint=table.fingerprint, **report.counts())
            if dry_run:
                raise _DryRun
            refresh_feed_aggregates(session)
    except _DryRun:
        report.import_id = None
    except FeedReadError as exc:
        report.add(Issue(ERROR, path.name, None, None, "", str(exc),
                         "Rien n'a été importé : corrigez le fichier et relancez l'import."))
        report.rows_imported = 0
        return _refuse(engine, report, actor, dry_run)
    return report


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Run Python's cycle collector less often while rows stream through: the row objects
    hold no cycles, and scanning the caches after every 700 allocations costs about a tenth
    of the import's time. Reference counting still frees every row; cycles are still
    collected (drivers make a few)."""
    threshold = gc.get_threshold()
    gc.set_threshold(_GC_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _refuse(engine: Engine, report: ImportReport, actor: str, dry_run: bool) -> ImportReport:
    report.status = "refusé : rien n'a été importé"
    report.rows_imported = 0
    if not dry_run:
        with Session(engine) as session, session.begin():
            record_audit(session, actor, "feed.import.refused", file=report.file_name,
                         format=report.format_name, fingerprint=report.fingerprint,
                         errors=report.errors)
    return report


def _load_rows(
    session: Session,
    table: RawTable,
    parser: RowParser,
    builder: RecordBuilder,
    report: ImportReport,
    import_id: int,
    progress: Progress,
    key: bytes,
) -> None:
    persons = parser.format.kind == "personnes"
    seen: dict[str, int] = {}
    pending: list[dict[str, Any]] = []
    quarantine: list[dict[str, Any]] = []
    file_name = parser.file_name
    next_analyze = [2 * BATCH_ROWS]  # rows stored when the planner's statistics go stale

    # Every file is read chunk by chunk, column by column (`parse_chunk`). The records of
    # partner files of people (pseudonymised at the partner's or not) are built column by
    # column too (`prepare_chunks`); those of tallies, small and rare, row by row
    # (`ParsedChunk.row_values`, `RecordBuilder.tally`).
    # A source with nothing stored yet: every row not seen earlier in the file is new, and
    # the look-ups of stored keys are skipped (a row stored meanwhile by a concurrent import
    # is still skipped by the insert, and counted as already present).
    first_of_source = persons and not feeds_repo.has_source_records(session, builder.source)
    # Stored values that a later extract's empty or unreadable cells left in place, noted by
    # the writer thread (`store`) and reported at the end, in the order of the rows.
    kept_issues: list[Issue] = []
    kept_absent: dict[str, int] = {}
    column_of = {name: parser.headers[index] for name, index in parser.columns.items()}
    if parser.pseudonymised:  # identities come in the ps_* columns
        for name in ("last_name", "first_name", "birth_date", "phone", "person_ref",
                     *builder.custom_identifiers):
            pseudonym = _PSEUDONYM_COLUMNS.get(name, name)
            if pseudonym in parser.pseudo_columns:
                column_of[name] = PSEUDO_PREFIX + pseudonym

    def note_kept(key: str, fields: list[str]) -> None:
        for name in fields:
            column = column_of.get(name)
            if column is None:  # the extract has no column for it at all
                kept_absent[name] = kept_absent.get(name, 0) + 1
                continue
            kept_issues.append(Issue(
                WARNING, file_name, seen.get(key), column, "",
                "Cellule vide ou illisible : la valeur déjà enregistrée pour cette ligne (import "
                "précédent) est conservée.",
                "Rien à faire si la valeur enregistrée est juste ; une cellule vide n'efface "
                "rien (pour corriger, envoyez la bonne valeur).",
            ))

    def store(records: list[Any], quarantined: list[dict[str, Any]]) -> None:
        # Records of people, read either way, come as `RecordRow`s: one store path.
        if persons:
            if first_of_source:
                new, updates = records, []
            else:
                new, updates = _sort_out_rows(session, builder, records, import_id, note_kept)
            imported = feeds_repo.insert_source_rows(session, new)
            feeds_repo.update_source_records(session, import_id, updates)
            report.rows_updated += len(updates)
        else:
            keys = [r["row_key"] for r in records]
            present = feeds_repo.existing_tally_keys(session, keys)
            new = [r for r in records if r["row_key"] not in present]
            updates = []
            for record in new:
                record["import_id"] = import_id
            feeds_repo.add_place_tallies(session, new)
            imported = len(new)
        feeds_repo.add_quarantined(session, quarantined)
        report.rows_imported += imported
        if report.rows_imported >= next_analyze[0]:
            feeds_repo.refresh_statistics(session)
            next_analyze[0] = 4 * report.rows_imported
        report.rows_already_present += len(records) - imported - len(updates)
        progress(f"{report.rows_read} lignes lues, {report.rows_imported} enregistrées")

    # The database work of a batch runs in a second thread while the next batch is read and
    # pseudonymised: the drivers release the GIL while the database works (SQLite's steps,
    # PostgreSQL's round trips). One batch at a time is in flight, and only that thread
    # touches the session meanwhile. A large file of people is read in another process
    # (`reader_process`), which gives the reading a core of its own.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed-import")
    in_flight: list[Future[None]] = []

    def flush() -> None:
        for future in in_flight:
            future.result()  # re-raises the writer's error here
        in_flight.clear()
        if pending or quarantine:
            in_flight.append(writer.submit(store, pending.copy(), quarantine.copy()))
        pending.clear()
        quarantine.clear()

    try:
        if persons:
            if table.size >= WORKER_MIN_BYTES and reader_process.AVAILABLE:
                chunks = chunks_read_in_worker(table, parser, key, import_id, CHUNK_ROWS,
                                               builder.partner)
            else:
                chunks = nullcontext(prepare_chunks(table.rows(), parser, builder, import_id,
                                                    CHUNK_ROWS))
            with chunks as prepared_chunks:
                _store_chunks(prepared_chunks, parser, report, import_id, pending, quarantine,
                              seen, flush)
        else:
            _read_tallies(table, parser, builder, report, import_id, pending, quarantine,
                          seen, flush)
        flush()
        flush()
    finally:
        for future in in_flight:
            future.exception()  # never leave the writer using the session
        writer.shutdown(wait=True)
    report.values_kept += len(kept_issues) + sum(kept_absent.values())
    report.extend(sorted(kept_issues, key=lambda issue: issue.row or 0))
    for name, count in kept_absent.items():
        report.add(Issue(
            WARNING, file_name, None, name, "",
            f"Champ {name} absent de cette extraction : les valeurs déjà enregistrées de "
            f"{count} lignes sont conservées.",
            "Rien à faire si l'extraction ne contient plus cette colonne ; sinon vérifiez la "
            "ligne d'en-tête et le format choisi.",
        ))
    if report.rows_read == 0:
        report.add(Issue(WARNING, file_name, None, None, "",
                         "Aucune ligne de données sous l'en-tête.",
                         "Vérifiez que l'extraction n'est pas vide."))


def _store_chunks(
    chunks: Iterator[PreparedChunk],
    parser: RowParser,
    report: ImportReport,
    import_id: int,
    pending: list[Any],
    quarantine: list[dict[str, Any]],
    seen: dict[str, int],
    flush: Callable[[], None],
) -> None:
    """Count the rows of ``chunks`` (a file of people), report their issues, quarantine the
    blocked ones and queue the records of the others (the first of duplicates only)."""
    file_name = parser.file_name
    for chunk in chunks:
        report.rows_read += len(chunk.numbers)
        records, issues = chunk.records, chunk.issues
        if not issues:  # the usual chunk: every row valid
            for record, number in zip(records, chunk.numbers, strict=True):
                first = seen.setdefault(record.source_row_key, number)
                if first != number:
                    _duplicate(report, file_name, number, first)
                    continue
                pending.append(record)
            if len(pending) >= BATCH_ROWS:
                flush()
            continue
        next_record = iter(records).__next__
        blocked_cells = chunk.blocked_cells
        for position, number in enumerate(chunk.numbers):
            row_issues = issues.get(position)
            if row_issues:
                report.extend(row_issues)
                cells = blocked_cells.get(position)
                if cells is not None:
                    report.rows_quarantined += 1
                    row = ParsedRow(number, {}, row_issues, cells)
                    quarantine.append(_quarantine_row(import_id, row, parser))
                    if len(quarantine) >= BATCH_ROWS:
                        flush()
                    continue
            record = next_record()
            first = seen.setdefault(record.source_row_key, number)
            if first != number:
                _duplicate(report, file_name, number, first)
                continue
            pending.append(record)
        if len(pending) >= BATCH_ROWS:
            flush()


def _duplicate(report: ImportReport, file_name: str, number: int, first: int) -> None:
    report.rows_duplicate += 1
    report.add(Issue(WARNING, file_name, number, None, "",
                     f"Ligne en double (même contenu ou même identifiant que la ligne {first}) "
                     ": ignorée.",
                     "Rien à faire, sauf si les deux lignes devaient différer."))


def _read_tallies(
    table: RawTable,
    parser: RowParser,
    builder: RecordBuilder,
    report: ImportReport,
    import_id: int,
    pending: list[dict[str, Any]],
    quarantine: list[dict[str, Any]],
    seen: dict[str, int],
    flush: Callable[[], None],
) -> None:
    """As `_store_chunks`, for a file of place tallies (`RecordBuilder.tally`)."""
    file_name = parser.file_name
    for number, cells, row_issues, blocked, values in _read_chunks(table, parser):
        report.rows_read += 1
        if row_issues:
            report.extend(row_issues)
            if blocked:
                report.rows_quarantined += 1
                row = ParsedRow(number, values, row_issues, cells)
                quarantine.append(_quarantine_row(import_id, row, parser))
                if len(quarantine) >= BATCH_ROWS:
                    flush()
                continue
        record = builder.tally(values)
        first = seen.setdefault(record["row_key"], number)
        if first != number:
            _duplicate(report, file_name, number, first)
            continue
        pending.append(record)
        if len(pending) >= BATCH_ROWS:
            flush()


def _read_chunks(
    table: RawTable, parser: RowParser
) -> Iterator[tuple[int, list[str], list[Issue], bool, dict[str, Any]]]:
    """``(number, cells, issues, blocked, values)`` of each row of ``table``, read
    `CHUNK_ROWS` at a time (`parse_chunk`, `ParsedChunk.row_values`)."""
    rows = table.rows()
    while batch := list(islice(rows, CHUNK_ROWS)):
        chunk = parse_chunk(parser, batch)
        for position, (number, cells) in enumerate(batch):
            yield (number, cells, list(chunk.issues.get(position, ())),
                   bool(chunk.blocked[position]), chunk.row_values(position))


NoteKept = Callable[[str, list[str]], None]


def _is_update(old: dict[str, Any], record: dict[str, Any], import_id: int,
               note_kept: NoteKept) -> bool:
    """Whether ``record`` updates the stored ``old`` one (then marked with this import).

    An older extract imported late never undoes a newer content; unchanged content is
    "already present". The stored values that ``record`` lacks are kept in it first.
    """
    before, after = old["last_contact"], record["last_contact"]
    if before is not None and after is not None and after < before:
        return False
    kept = _keep_stored_values(old, record)
    if kept:
        note_kept(record["source_row_key"], kept)
    if content_fingerprint(record) == content_fingerprint(old):
        return False
    attributes = record["attributes"]
    attributes["import_id"] = import_id
    attributes["import_initial"] = old["attributes"].get(
        "import_initial", old["attributes"].get("import_id"))
    return True


# The identity a stored record keeps when a later extract has nothing for it: column, field.
_KEPT_COLUMNS = (("sex", "sex"), ("commune_code", "commune"), ("birth_year", "birth_date"))
_PSEUDONYM_PREFIXES = (("prenom", "first_name"), ("nom", "last_name"),
                       ("naissance", "birth_date"))
_PSEUDONYM_OF = {"telephone": "phone", "id_personne": "person_ref"}
# The column of a file pseudonymised at the partner's that holds a field's identity.
_PSEUDONYM_COLUMNS = {"last_name": "nom", "first_name": "prenom", "birth_date": "naissance",
                      "phone": "telephone", "person_ref": "id_personne"}
_NDLS_PARTS = ("nom", "prenom", "naissance")


def _pseudonym_field(name: str) -> str:
    """The field (of a format) that a pseudonym comes from."""
    for prefix, field in _PSEUDONYM_PREFIXES:
        if name.startswith(prefix):
            return field
    return _PSEUDONYM_OF.get(name, name)


def _keep_stored_values(old: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """Give ``record`` (a later extract's row) the stored values of ``old`` it has none for:
    sex, commune, birth year and identity pseudonyms, which an empty or unreadable cell would
    otherwise erase. Returns the fields kept, in order.

    Only the records an extract updates go through here (those already stored), each once:
    a first import of a source, the bulk of the rows, never does.
    """
    kept: list[str] = []
    for column, field in _KEPT_COLUMNS:
        if record[column] is None and old[column] is not None:
            record[column] = old[column]
            kept.append(field)
    if "birth_date" in kept and old["attributes"].get("annee_naissance_depuis_age"):
        record["attributes"]["annee_naissance_depuis_age"] = True
    new, before = record["pseudonyms"], old["pseudonyms"]
    # Pseudonyms of another encoding version or key cannot be mixed with the new ones.
    if before.get("v") == new.get("v") and before.get("cle") == new.get("cle"):
        for name, value in before.items():
            if name not in new and name != "cle_ndls":
                new[name] = value
                field = _pseudonym_field(name)
                if field not in kept:
                    kept.append(field)
        # The count-night key is made of the initials, birth year and sex: kept only when
        # they are the stored ones.
        if ("cle_ndls" in before and "cle_ndls" not in new and record["sex"] == old["sex"]
                and all(new.get(k) == before.get(k) for k in _NDLS_PARTS)):
            new["cle_ndls"] = before["cle_ndls"]
    return kept


def _sort_out_rows(
    session: Session,
    builder: RecordBuilder,
    rows: list[RecordRow],
    import_id: int,
    note_kept: NoteKept,
) -> tuple[list[RecordRow], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Records not stored yet, and stored ones that a later extract changes (as ``(stored,
    new)`` pairs).

    A partner row keyed by the partner's own number (a SI-SIAO demand) whose content differs
    from what is stored is updated, unless the stored version is more recent (an older
    extract imported late): its last contact then wins, and the row counts as already there.
    An update never replaces a stored value by nothing (`_keep_stored_values`).
    """
    keys = [r.source_row_key for r in rows]
    if not builder.updatable:
        present = feeds_repo.existing_record_keys(session, builder.source, keys)
        return [r for r in rows if r.source_row_key not in present], []
    stored = feeds_repo.stored_records(session, builder.source, keys)
    if not stored:
        return rows, []
    new, updates = [], []
    for row in rows:
        old = stored.get(row.source_row_key)
        if old is None:
            new.append(row)
            continue
        record = record_of_row(row)
        if _is_update(old, record, import_id, note_kept):
            updates.append((old, record))
    return new, updates


def _quarantine_row(import_id: int, row: ParsedRow, parser: RowParser) -> dict[str, Any]:
    """A blocked row as it can be stored: nothing that could identify someone.

    A row of the wrong width keeps no cell at all (its cells are not where the header says:
    a birth date under « Sexe », a whole line under « Date »), only what the fix needs: the
    widths and the columns expected. Otherwise each cell goes through
    `RowParser.shown_cell` (identifiers, columns not read, misplaced dates and words,
    phone numbers and e-mail addresses masked), and formulas are escaped.
    """
    width, found = len(parser.headers), len(row.cells)
    cells: dict[str, Any]
    if found != width:
        cells = {"champs_attendus": width, "champs_trouves": found,
                 "colonnes": [h or f"colonne_{i + 1}" for i, h in enumerate(parser.headers)]}
    else:
        cells = {}
        for index, header in enumerate(parser.headers):
            shown = escape_cell(parser.shown_cell(index, row.cells[index])[:200])
            cells[header or f"colonne_{index + 1}"] = shown
    return {
        "import_id": import_id,
        "row_number": row.number,
        "cells": cells,
        "issues": {"problemes": [
            {"gravite": i.severity, "colonne": i.column, "valeur": i.value,
             "probleme": i.message, "correction": i.fix}
            for i in row.issues
        ]},
    }


# --- partner side ----------------------------------------------------------------------------


def pseudonymise_file(
    path: Path,
    feed_format: FeedFormat,
    key: bytes,
    output: Path,
    *,
    departements: frozenset[str] = frozenset(),
    today: dt.date | None = None,
) -> ImportReport:
    """Write ``output``: the partner's file without any direct identifier (``ps_*`` columns
    instead), ready to be sent and imported with the same format. No database involved.

    Rows with blocking errors are not written; the report lists them (row numbers of the
    original file) so that the partner fixes and sends them again.
    """
    path, output = Path(path), Path(output)
    if feed_format.kind != "personnes":
        raise ObservatoireError(
            f"Le format {feed_format.name} ne contient pas de personnes : rien à pseudonymiser, "
            "envoyez le fichier tel quel."
        )
    table = read_table(path)
    report = ImportReport(path.name, feed_format.name, table.fingerprint, table.encoding,
                          table.delimiter)
    report.extend(table.issues)
    if table.fatal:
        report.status = "refusé : aucun fichier écrit"
        return report
    parser = RowParser(feed_format, table.headers, path.name, CommuneReference.load(),
                       departements, today)
    report.extend(parser.file_issues)
    if parser.fatal:
        report.status = "refusé : aucun fichier écrit"
        return report
    if parser.pseudonymised:
        raise ObservatoireError(f"{path.name} est déjà pseudonymisé.")
    builder = RecordBuilder(feed_format, Pseudonymiser(key))
    temporary = output.with_name(output.name + ".partiel")
    seen: set[str] = set()
    try:
        with open_private(temporary, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            columns = builder.pseudonymised_columns()
            row_key_at = columns.index(ROW_KEY_COLUMN)
            writer.writerow(map(escape_text, columns))
            rows = table.rows()
            while batch := list(islice(rows, CHUNK_ROWS)):
                chunk = parse_chunk(parser, batch)
                positions, records = person_rows(builder, chunk, 0)
                record_at = dict(zip(positions, records, strict=True))
                for position in range(len(batch)):
                    report.rows_read += 1
                    report.extend(chunk.issues.get(position, ()))
                    record = record_at.get(position)
                    if record is None:  # blocked
                        report.rows_quarantined += 1
                        continue
                    line = builder.pseudonymised_row(record, chunk.row_values(position))
                    row_key = line[row_key_at]
                    if row_key in seen:
                        report.rows_duplicate += 1
                        continue
                    seen.add(row_key)
                    writer.writerow(map(escape_text, line))
                    report.rows_imported += 1
    except FeedReadError as exc:
        temporary.unlink(missing_ok=True)
        report.add(Issue(ERROR, path.name, None, None, "", str(exc),
                         "Corrigez le fichier et relancez la pseudonymisation."))
        report.status = "refusé : aucun fichier écrit"
        report.rows_imported = 0
        return report
    temporary.replace(output)  # all or nothing: no half-written file is left to be sent
    report.status = f"pseudonymisé : {output.name} (aucun nom ni date de naissance en clair)"
    return report


# --- retention -------------------------------------------------------------------------------


def purge_expired(
    engine: Engine,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    *,
    actor: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Delete partner records whose last contact is older than the retention, with an audit
    log entry. Returns the cutoff date and what was deleted."""
    if retention_days < 1:
        raise ObservatoireError("La durée de conservation doit être d'au moins un jour.")
    cutoff = (today or dt.date.today()) - dt.timedelta(days=retention_days)
    with Session(engine) as session, session.begin():
        deleted = feeds_repo.purge_before(session, cutoff)
        record_audit(session, actor or _actor(), "feed.purge", cutoff=cutoff.isoformat(),
                     retention_days=retention_days, **deleted)
        refresh_feed_aggregates(session)
    return {"date_limite": cutoff, **deleted}


# --- undoing an import -------------------------------------------------------------------------


def undo_import(engine: Engine, import_id: int, *, actor: str | None = None) -> dict[str, Any]:
    """Revert import ``import_id``, in one transaction, with an audit log entry: the records
    it inserted, its place tallies and quarantined rows are deleted, the records it updated
    get their content of before (kept with the import), the dashboards' aggregates are
    refreshed and the import is marked undone (its file may then be imported again).

    Refused (nothing changed) for an unknown or already undone import, and while a later
    import has changed records of this one: that one is to be undone first.
    """
    actor = actor or _actor()
    with Session(engine) as session, session.begin():
        batch = feeds_repo.get_import(session, import_id, lock=True)
        if batch is None:
            raise ObservatoireError(
                f"Aucun import n° {import_id} : voyez les numéros avec `observatoire feed list`."
            )
        if batch.undone_at is not None:
            raise ObservatoireError(
                f"L'import n° {import_id} ({batch.file_name}) a déjà été annulé le "
                f"{batch.undone_at:%d/%m/%Y à %H:%M} par {batch.undone_by} : rien à faire."
            )
        changed = feeds_repo.imports_touching_since(session, batch)
        overlapping = [i for i in feeds_repo.later_imports_finding_rows_present(session, batch)
                       if i not in changed]
        if changed or overlapping:
            reasons = []
            if changed:
                reasons.append("des lignes qu'il a enregistrées ont été modifiées depuis par "
                               f"l'import {', '.join(f'n° {i}' for i in changed)}")
            if overlapping:
                reasons.append(
                    f"l'import {', '.join(f'n° {i}' for i in overlapping)}, plus récent, du "
                    "même partenaire, a trouvé des lignes déjà enregistrées, qui peuvent être "
                    "les siennes (elles disparaîtraient aussi de celui-là)")
            last = max(changed + overlapping)
            raise ObservatoireError(
                f"L'import n° {import_id} ({batch.file_name}) ne peut pas être annulé : "
                f"{' ; '.join(reasons)}. Annulez d'abord l'import le plus récent "
                f"(observatoire feed undo {last}), puis relancez cette annulation."
            )
        file_name = batch.file_name
        done = feeds_repo.undo_import_rows(session, batch, actor)
        record_audit(session, actor, "feed.undo", import_id=batch.id, file=file_name,
                     format=batch.format_name, partner=batch.partner,
                     fingerprint=batch.fingerprint, **done)
        refresh_feed_aggregates(session)
    return {"import_id": import_id, "fichier": file_name, **done}
