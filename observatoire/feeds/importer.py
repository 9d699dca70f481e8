"""Importing a partner file: read -> validate -> pseudonymise -> store, as one transaction.

This is orchestration (it wires feeds, pseudonymisation and the store), kept next to the
feeds so that the pure modules stay pure; `observatoire.cli_feeds` calls it.

- Atomic: one transaction per file; a crash or a kill leaves the database as it was.
- Rows with blocking errors are quarantined (identifiers masked) with the report.
- The same file twice adds nothing (SHA-256 fingerprint); a later, overlapping extract adds
  only the rows not already stored (keyed row identity).
- ``dry_run`` runs everything, then rolls back: the report says what would happen.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.feeds.formats import FeedFormat
from observatoire.feeds.reading import FeedReadError, RawTable, read_table
from observatoire.feeds.report import ERROR, MASK, WARNING, ImportReport, Issue
from observatoire.feeds.validate import PSEUDO_PREFIX, ParsedRow, RecordBuilder, RowParser
from observatoire.model import ObservatoireError
from observatoire.normalise import CommuneReference
from observatoire.pseudonymise import Pseudonymiser
from observatoire.store import feeds_repository as feeds_repo
from observatoire.store.repository import record_audit

Progress = Callable[[str], None]
BATCH_ROWS = 5000
DEFAULT_RETENTION_DAYS = 730


class _DryRun(Exception):
    """Raised to roll the dry run's transaction back."""


def _quiet(_message: str) -> None:
    pass


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
    departements: frozenset[str] | None = None,
    today: dt.date | None = None,
    progress: Progress = _quiet,
) -> ImportReport:
    """Import one partner file; returns its report (never half-loads a file)."""
    path = Path(path)
    actor = actor or _actor()
    pseudonymiser = Pseudonymiser(key)
    table = read_table(path)
    report = ImportReport(path.name, feed_format.name, table.fingerprint, table.encoding,
                          table.delimiter, dry_run=dry_run)
    report.extend(table.issues)
    if table.fatal:
        return _refuse(engine, report, actor, dry_run)

    with Session(engine) as session:
        previous = feeds_repo.find_import(session, table.fingerprint)
        if previous is not None:
            report.status = (f"déjà importé le {previous.imported_at:%d/%m/%Y} (import "
                             f"n° {previous.id}) : rien n'a été ajouté")
            report.import_id = previous.id
            return report
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
    builder = RecordBuilder(feed_format, pseudonymiser)

    try:
        with Session(engine) as session, session.begin():
            batch = feeds_repo.start_import(
                session, fingerprint=table.fingerprint, file_name=path.name[:255],
                format_name=feed_format.name, source=feed_format.source_name,
                key_id=pseudonymiser.key_id, actor=actor,
            )
            report.import_id = batch.id
            _load_rows(session, table, parser, builder, report, batch.id, progress)
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
                         format=feed_format.name, fingerprint=table.fingerprint,
                         **report.counts())
            if dry_run:
                raise _DryRun
    except _DryRun:
        report.import_id = None
    except FeedReadError as exc:
        report.add(Issue(ERROR, path.name, None, None, "", str(exc),
                         "Rien n'a été importé : corrigez le fichier et relancez l'import."))
        report.rows_imported = 0
        return _refuse(engine, report, actor, dry_run)
    return report


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
) -> None:
    persons = parser.format.kind == "personnes"
    seen: dict[str, int] = {}
    pending: list[tuple[int, dict[str, Any]]] = []
    quarantine: list[dict[str, Any]] = []
    key_id = builder.pseudonymiser.key_id

    def flush() -> None:
        keys = [r["source_row_key" if persons else "row_key"] for _, r in pending]
        if persons:
            present = feeds_repo.existing_record_keys(session, builder.source, keys)
        else:
            present = feeds_repo.existing_tally_keys(session, keys)
        new = [r for _, r in pending if r["source_row_key" if persons else "row_key"]
               not in present]
        for record in new:
            if persons:
                record["attributes"]["import_id"] = import_id
            else:
                record["import_id"] = import_id
        if persons:
            feeds_repo.add_source_records(session, new)
        else:
            feeds_repo.add_place_tallies(session, new)
        feeds_repo.add_quarantined(session, quarantine)
        report.rows_imported += len(new)
        report.rows_already_present += len(pending) - len(new)
        pending.clear()
        quarantine.clear()
        progress(f"{report.rows_read} lignes lues, {report.rows_imported} enregistrées")

    for number, cells in table.rows():
        report.rows_read += 1
        row = parser.parse(number, cells)
        if persons and parser.pseudonymised and row.values.get(f"{PSEUDO_PREFIX}cle") not in (
            None, key_id
        ):
            row.issues.append(Issue(
                ERROR, parser.file_name, number, "ps_cle", "",
                "Ligne pseudonymisée avec une autre clé que celle du territoire.",
                "Demandez au partenaire d'utiliser la clé du territoire.",
            ))
        report.extend(row.issues)
        if row.blocked:
            report.rows_quarantined += 1
            quarantine.append(_quarantine_row(import_id, row, parser))
            continue
        record = builder.person(row.values) if persons else builder.tally(row.values)
        key = record["source_row_key" if persons else "row_key"]
        first = seen.setdefault(key, number)
        if first != number:
            report.rows_duplicate += 1
            report.add(Issue(WARNING, parser.file_name, number, None, "",
                             f"Ligne en double (même contenu ou même identifiant que la ligne "
                             f"{first}) : ignorée.",
                             "Rien à faire, sauf si les deux lignes devaient différer."))
            continue
        pending.append((number, record))
        if len(pending) >= BATCH_ROWS:
            flush()
    flush()
    if report.rows_read == 0:
        report.add(Issue(WARNING, parser.file_name, None, None, "",
                         "Aucune ligne de données sous l'en-tête.",
                         "Vérifiez que l'extraction n'est pas vide."))


def _quarantine_row(import_id: int, row: ParsedRow, parser: RowParser) -> dict[str, Any]:
    """A blocked row as it can be stored: identifier cells masked."""
    cells = {}
    for index, header in enumerate(parser.headers):
        value = row.cells[index] if index < len(row.cells) else ""
        identifier = index in parser._identifier_columns or header.startswith(PSEUDO_PREFIX)
        cells[header or f"colonne_{index + 1}"] = MASK if identifier and value else value[:200]
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
        with temporary.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(builder.pseudonymised_columns())
            for number, cells in table.rows():
                report.rows_read += 1
                row = parser.parse(number, cells)
                report.extend(row.issues)
                if row.blocked:
                    report.rows_quarantined += 1
                    continue
                line = builder.pseudonymised_row(row.values)
                if line[2] in seen:
                    report.rows_duplicate += 1
                    continue
                seen.add(line[2])
                writer.writerow(line)
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
    return {"date_limite": cutoff, **deleted}
