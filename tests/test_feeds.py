"""Partner feeds end to end: formats, tolerant reading, reports, atomic imports, purge.

Imports run on SQLite and PostgreSQL (the ``engine`` fixture). Partner files come from the
synthetic generator (fictitious people); broken copies are made from them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from observatoire.cli import main
from observatoire.config import load_secret_key
from observatoire.feeds.formats import FeedFormatError, get_format, list_formats
from observatoire.feeds.importer import import_feed, pseudonymise_file, purge_expired
from observatoire.feeds.reading import read_table
from observatoire.pseudonymise import SecretKeyError
from observatoire.store.db import make_engine, upgrade_database
from observatoire.store.feeds_tables import FeedImportRow, FeedQuarantineRow, PlaceTallyRow
from observatoire.store.tables import AuditLogRow, SourceRecordRow

KEY = bytes(range(32))
FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
TODAY = dt.date(2026, 3, 1)


@pytest.fixture(scope="session")
def partner_files(tmp_path_factory) -> dict[str, Path]:
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.geo.territories import load_reference_territory
    from observatoire.synthetic import generate_sample, write_sample

    communes = load_reference_territory("dijon-metropole")
    sample = generate_sample(communes, generate_grid_sectors(communes, 1000), seed=11,
                             n_people=300)
    return write_sample(sample, tmp_path_factory.mktemp("echantillon"))


@pytest.fixture
def db(engine):
    upgrade_database(engine)
    return engine


def _import(engine, path, fmt, **kwargs):
    return import_feed(engine, path, get_format(fmt), KEY, today=TODAY,
                       departements=frozenset({"21"}), **kwargs)


def _count(engine, table) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(table))


def _database_text(engine) -> str:
    """Everything stored in the feed tables, as one string (to look for names in clear)."""
    with engine.connect() as connection:
        parts = []
        for table in ("source_record", "feed_import", "feed_quarantine", "audit_log"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


# --- formats ---------------------------------------------------------------------------------


def test_the_shipped_formats():
    assert {"si_siao", "appels_115", "maraude", "accueil_jour", "liste", "decomptes_lieux"} <= set(
        list_formats()
    )


def test_an_unknown_format_lists_the_valid_ones():
    with pytest.raises(FeedFormatError, match="si_siao.*appels_115|appels_115.*si_siao"):
        get_format("siao")


def test_a_user_adds_a_format_without_code(tmp_path, monkeypatch):
    (tmp_path / "ccas.yaml").write_text(
        "name: ccas\nlabel: Liste du CCAS\nsource: liste\nfields:\n"
        "  last_name: {columns: [NOM], type: name}\n"
        "  contact_date: {columns: [VU LE], type: date, required: true, contact: true}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("OBSERVATOIRE_FEED_FORMATS_DIR", str(tmp_path))
    list_formats.__globals__["_load_all"].cache_clear()
    assert get_format("ccas").fields["last_name"].columns == ["NOM"]


def test_a_format_that_declares_a_name_as_plain_text_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nlabel: x\nsource: liste\nfields:\n"
                    "  last_name: {columns: [Nom], type: text}\n"
                    "  contact_date: {columns: [Date], type: date, contact: true}\n")
    with pytest.raises(FeedFormatError, match="last_name doit être de type name"):
        get_format(str(path))


# --- reading ---------------------------------------------------------------------------------


def test_french_excel_csv_is_read_as_text(tmp_path):
    path = tmp_path / "liste.csv"
    path.write_bytes("Nom;Prénom;Code postal;Date\r\nLéger;Zoé;01000;05/01/2026\r\n"
                     .encode("cp1252"))
    table = read_table(path)
    assert (table.encoding, table.delimiter) == ("cp1252", ";")
    assert table.headers == ["Nom", "Prénom", "Code postal", "Date"]
    assert list(table.rows()) == [(2, ["Léger", "Zoé", "01000", "05/01/2026"])]


def test_utf8_bom_and_xlsx(tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_text("Nom,Date\nÉlodie,05/01/2026\n", encoding="utf-8-sig")
    assert read_table(bom).headers == ["Nom", "Date"]
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["N° appel", "Date", "Code postal"])
    sheet.append(["000123", dt.datetime(2026, 1, 5), "01000"])
    workbook.save(tmp_path / "appels.xlsx")
    table = read_table(tmp_path / "appels.xlsx")
    assert list(table.rows()) == [(2, ["000123", "2026-01-05", "01000"])]


def test_double_encoded_text_is_repaired_with_a_warning(tmp_path):
    path = tmp_path / "mojibake.csv"
    path.write_text("Nom;Prénom;Date\nLéger;Zoé;05/01/2026\n".encode().decode("cp1252"),
                    encoding="utf-8")
    table = read_table(path)
    assert table.headers[1] == "Prénom"
    assert list(table.rows())[0][1][:2] == ["Léger", "Zoé"]
    assert any("encodé deux fois" in i.message for i in table.issues)


# --- imports of the generator's files --------------------------------------------------------

FORMATS_OF_FILES = {"si_siao": "si_siao", "appels_115": "appels_115", "maraude": "maraude",
                    "accueil_jour": "accueil_jour"}


@pytest.mark.parametrize("name", list(FORMATS_OF_FILES))
def test_the_generator_partner_files_import_with_a_clean_report(db, partner_files, name):
    report = _import(db, partner_files[name], FORMATS_OF_FILES[name])
    assert report.status == "importé", report.to_text()
    assert report.errors == 0, report.to_text()
    assert report.rows_imported + report.rows_duplicate == report.rows_read > 0
    assert _count(db, SourceRecordRow) == report.rows_imported


def test_the_generator_place_tallies_import_with_a_clean_report(db, partner_files):
    path = partner_files["decomptes_lieux"]
    report = _import(db, path, "decomptes_lieux")
    assert report.status == "importé", report.to_text()
    assert report.errors == report.warnings == 0, report.to_text()
    frame = pd.read_csv(path, sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    assert report.rows_read == report.rows_imported == len(frame) > 0
    with Session(db) as session:
        stored = session.execute(
            select(PlaceTallyRow.place_kind, func.sum(PlaceTallyRow.people_count))
            .group_by(PlaceTallyRow.place_kind)
        ).all()  # fmt: skip
    in_file = frame.assign(n=frame["Nombre de personnes"].astype(int)).groupby("Type de lieu")["n"]
    labels = {"Gare": "gare", "Hôpital": "hopital", "Parking": "parking", "Autre": "autre",
              "Bailleur social": "bailleur_social", "Campement": "campement", "Parc": "parc",
              "Berges": "berges", "Bois": "bois", "Métro": "metro"}  # fmt: skip
    assert dict(stored) == {labels[k]: v for k, v in in_file.sum().items()}
    assert _count(db, SourceRecordRow) == 0  # numbers of people, no person


def test_no_name_nor_birth_date_in_clear_in_the_database(db, partner_files):
    _import(db, partner_files["si_siao"], "si_siao")
    frame = pd.read_csv(partner_files["si_siao"], sep=";", encoding="cp1252", dtype=str,
                        keep_default_na=False)
    stored = _database_text(db).lower()
    # A name spelt with the letters a-f only ("abada") may occur by chance in a keyed hash.
    names = {n for n in frame["Nom"].str.lower()
             if len(n) >= 4 and not set(n) <= set("abcdef")}  # fmt: skip
    assert names and not [n for n in names if n in stored]
    births = {b for b in frame["Date de naissance"] if b}
    assert not [b for b in births if b in stored]
    iso = {dt.datetime.strptime(b, "%d/%m/%Y").date().isoformat() for b in births
           if len(b) == 10 and b[2] == "/" and b[5] == "/"} - {""}
    assert not [b for b in list(iso)[:200] if b in stored]
    ids = {i for i in frame["N° usager SI-SIAO"] if i}
    assert not [i for i in list(ids)[:200] if f'"{i}"' in stored]


def test_importing_the_same_file_twice_adds_nothing(db, partner_files):
    first = _import(db, partner_files["appels_115"], "appels_115")
    second = _import(db, partner_files["appels_115"], "appels_115")
    assert second.status.startswith("déjà importé")
    assert _count(db, SourceRecordRow) == first.rows_imported
    assert _count(db, FeedImportRow) == 1


def test_an_overlapping_later_extract_adds_only_what_is_new(db, partner_files, tmp_path):
    lines = partner_files["appels_115"].read_bytes().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    half = len(rows) // 2
    (tmp_path / "janvier.csv").write_bytes(header + b"".join(rows[: half + 10]))
    (tmp_path / "fevrier.csv").write_bytes(header + b"".join(rows[half:]))
    first = _import(db, tmp_path / "janvier.csv", "appels_115")
    second = _import(db, tmp_path / "fevrier.csv", "appels_115")
    assert second.rows_already_present == 10
    assert first.rows_imported + second.rows_imported == len(rows)
    assert _count(db, SourceRecordRow) == len(rows)


def _si_siao_rows(partner_files) -> tuple[str, list[list[str]]]:
    lines = partner_files["si_siao"].read_bytes().decode("cp1252").splitlines()
    return lines[0], [line.split(";") for line in lines[1:]]


def _write_si_siao(path: Path, header: str, rows: list[list[str]]) -> Path:
    path.write_bytes(("\r\n".join([header, *(";".join(r) for r in rows)]) + "\r\n")
                     .encode("cp1252"))
    return path


def _stored(engine) -> dict[str, SourceRecordRow]:
    with Session(engine) as session:
        return {r.source_row_key: r for r in session.scalars(select(SourceRecordRow))}


def test_a_later_extract_updates_a_demand_whose_status_changed(db, partner_files, tmp_path):
    header, rows = _si_siao_rows(partner_files)
    first = _import(db, _write_si_siao(tmp_path / "janvier.csv", header, rows[:50]), "si_siao")
    before = _stored(db)
    changed = [list(r) for r in rows[:60]]
    changed[3][11:14] = ["CHRS Les Tilleuls", "Orientée", "20/02/2026"]  # orientation, status
    report = _import(db, _write_si_siao(tmp_path / "fevrier.csv", header, changed), "si_siao")
    assert (report.rows_updated, report.rows_already_present, report.rows_imported) == (1, 49, 10)
    assert "mises à jour (contenu changé depuis un import précédent) : 1" in report.to_text()
    assert report.to_json()["lignes_mises_a_jour"] == 1
    after = _stored(db)
    assert len(after) == 60 and set(before) <= set(after)
    updated = [k for k in before if after[k].attributes != before[k].attributes]
    assert len(updated) == 1
    record = after[updated[0]]
    assert record.id == before[updated[0]].id  # the same record, not a new one
    assert record.attributes["status"] == "orientee"
    assert record.attributes["orientation"] == "CHRS Les Tilleuls"
    assert record.last_contact == dt.date(2026, 2, 20)
    assert record.attributes["import_id"] == report.import_id
    assert record.attributes["import_initial"] == first.import_id
    assert record.pseudonyms == before[updated[0]].pseudonyms
    assert "CHRS" not in json.dumps(record.pseudonyms)
    # The plan attributes follow the update: the indicators read them, not the JSON.
    assert (record.plan_label, record.plan_status) == ("CHRS Les Tilleuls", "orientee")
    _assert_plan_attributes_match(after.values())


def _assert_plan_attributes_match(records) -> None:  # noqa: ANN001
    """``plan_*`` of each stored record are those its attributes give."""
    from observatoire.plan_attributes import plan_attributes

    records = list(records)
    assert records
    for record in records:
        assert (record.plan_date, record.plan_label, record.plan_status) == plan_attributes(
            record.source, record.attributes)


def test_every_import_path_stores_the_plan_attributes(db, partner_files, tmp_path):
    """Bulk rows (read per column, in process or by the worker), records of a pseudonymised
    file and SQLAlchemy inserts all fill ``plan_*`` as `plan_attributes` says."""
    from sqlalchemy import insert

    for name in ("si_siao", "appels_115"):
        assert _import(db, partner_files[name], name).rows_imported
    output = tmp_path / "si_siao_pseudo.csv"
    header, rows = _si_siao_rows(partner_files)
    source = _write_si_siao(tmp_path / "autres.csv", header,
                            [[f"X{r[0]}", *r[1:]] for r in rows[:20]])  # fmt: skip
    pseudonymise_file(source, get_format("si_siao"), KEY, output,
                      departements=frozenset({"21"}), today=TODAY)
    assert _import(db, output, "si_siao").rows_imported == 20
    with Session(db) as session, session.begin():
        session.execute(insert(SourceRecordRow), [
            {"source": "appels_115", "source_row_key": "k1", "pseudonyms": {},
             "attributes": {"Réponse": "Pas de place", "motif": "",
                            "Motif": "Demande d'hébergement", "date_appel": "03/02/2025 22:30"}},
            {"source": "si_siao", "source_row_key": "k2", "pseudonyms": {},
             "attributes": {"orientation": 3, "Statut": True}},
            {"source": "maraude", "source_row_key": "k3", "pseudonyms": {},
             "attributes": {"orientation": "Logement social"}},
        ])  # fmt: skip
    stored = _stored(db)
    assert (stored["k1"].plan_date, stored["k1"].plan_label, stored["k1"].plan_status) == (
        "03/02/2025 22:30", "Pas de place", "Demande d'hébergement")
    assert (stored["k2"].plan_label, stored["k2"].plan_status) == ("3", "true")
    assert stored["k3"].plan_label is None
    assert sum(r.plan_status is not None for r in stored.values()) > 40
    _assert_plan_attributes_match(stored.values())


def test_an_older_extract_imported_late_does_not_undo_an_update(db, partner_files, tmp_path):
    header, rows = _si_siao_rows(partner_files)
    newer = [list(r) for r in rows[:20]]
    newer[0][11:14] = ["CHRS Les Tilleuls", "Orientée", "20/02/2026"]
    _import(db, _write_si_siao(tmp_path / "fevrier.csv", header, newer), "si_siao")
    late = _import(db, _write_si_siao(tmp_path / "janvier.csv", header, rows[:20]), "si_siao")
    assert (late.rows_updated, late.rows_already_present, late.rows_imported) == (0, 20, 0)
    assert {r.attributes["status"] for r in _stored(db).values()} >= {"orientee"}


def test_an_unchanged_row_of_a_pseudonymised_file_is_not_an_update(db, partner_files, tmp_path):
    output = tmp_path / "pseudo.csv"
    pseudonymise_file(partner_files["si_siao"], get_format("si_siao"), KEY, output,
                      departements=frozenset({"21"}), today=TODAY)
    _import(db, output, "si_siao")
    raw = _import(db, partner_files["si_siao"], "si_siao")
    assert raw.rows_updated == 0 and raw.rows_imported == 0


def test_dry_run_reports_without_storing(db, partner_files):
    report = _import(db, partner_files["maraude"], "maraude", dry_run=True)
    assert report.rows_imported > 0 and report.status.startswith("essai")
    assert _count(db, SourceRecordRow) == 0
    assert _count(db, FeedImportRow) == 0
    assert _count(db, AuditLogRow) == 0


# --- broken copies ---------------------------------------------------------------------------


def _copy(source: Path, target: Path, transform) -> Path:  # noqa: ANN001
    target.write_bytes(transform(source.read_bytes()))
    return target


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def _replace_cell(data: bytes, row: int, column: int, value: str, encoding: str) -> bytes:
    lines = _lines(data)
    cells = lines[row].rstrip(b"\r\n").split(b";")
    cells[column] = value.encode(encoding)
    lines[row] = b";".join(cells) + b"\r\n"
    return b"".join(lines)


def _issues(report, column=None) -> list[str]:
    return [i.message for i in report.issues if column is None or i.column == column]


def test_wrong_encoding_utf16_is_read(db, partner_files, tmp_path):
    text_ = partner_files["si_siao"].read_bytes().decode("cp1252")
    path = tmp_path / "utf16.csv"
    path.write_text(text_, encoding="utf-16")
    report = _import(db, path, "si_siao")
    assert report.errors == 0 and report.encoding == "utf-16"


def test_binary_file_is_refused(db, tmp_path):
    path = tmp_path / "binaire.csv"
    path.write_bytes(b"\x00\x01\x02garbage\x00" * 50)
    report = _import(db, path, "si_siao")
    assert report.status.startswith("refusé")
    assert "pas un fichier texte" in _issues(report)[0]
    assert _count(db, SourceRecordRow) == 0


def test_missing_required_column_refuses_the_file(db, partner_files, tmp_path):
    path = _copy(partner_files["si_siao"], tmp_path / "sans_date.csv",
                 lambda d: d.replace("Date de la demande".encode("cp1252"), b"Jour"))
    report = _import(db, path, "si_siao")
    assert report.status.startswith("refusé")
    assert any("Colonne obligatoire manquante" in m and "Date de la demande" in m
               for m in _issues(report))
    assert _count(db, SourceRecordRow) == 0 and _count(db, FeedImportRow) == 0


def test_garbage_dates_quarantine_the_row_and_keep_the_others(db, partner_files, tmp_path):
    path = _copy(partner_files["si_siao"], tmp_path / "dates.csv",
                 lambda d: _replace_cell(d, 3, 9, "31/02/2025", "cp1252"))
    report = _import(db, path, "si_siao")
    assert report.rows_quarantined == 1
    issue = next(i for i in report.issues if i.severity == "erreur")
    assert (issue.row, issue.column, issue.value) == (4, "Date de la demande", "31/02/2025")
    assert "Date impossible" in issue.message and "JJ/MM/AAAA" in issue.fix
    with Session(db) as session:
        quarantined = session.scalars(select(FeedQuarantineRow)).one()
        assert quarantined.row_number == 4
        assert quarantined.cells["Nom"] == "[masqué]"
    assert _count(db, SourceRecordRow) == report.rows_imported == report.rows_read - 1


def test_garbage_birth_date_is_a_warning_and_masked(db, partner_files, tmp_path):
    path = _copy(partner_files["si_siao"], tmp_path / "naissance.csv",
                 lambda d: _replace_cell(d, 2, 4, "n/c", "cp1252"))
    report = _import(db, path, "si_siao")
    assert report.rows_quarantined == 0
    warning = next(i for i in report.issues if i.column == "Date de naissance")
    assert warning.severity == "avertissement" and warning.value == "[masqué]"


def test_commune_not_found_is_a_warning_with_a_suggestion(db, partner_files, tmp_path):
    path = _copy(partner_files["si_siao"], tmp_path / "commune.csv",
                 lambda d: _replace_cell(d, 2, 8, "Dijjon", "cp1252"))
    report = _import(db, path, "si_siao")
    issue = next(i for i in report.issues if i.column == "Commune")
    assert "Commune introuvable" in issue.message and "Dijon" in issue.message
    assert report.rows_quarantined == 0


def test_truncated_file_quarantines_the_cut_row(db, partner_files, tmp_path):
    path = _copy(partner_files["si_siao"], tmp_path / "tronque.csv", lambda d: d[: len(d) - 60])
    report = _import(db, path, "si_siao")
    assert report.rows_quarantined == 1
    assert any("fichier tronqué" in m for m in _issues(report))


def test_empty_files_are_refused(db, tmp_path):
    (tmp_path / "vide.csv").write_bytes(b"")
    assert "vide" in _issues(_import(db, tmp_path / "vide.csv", "si_siao"))[0]
    (tmp_path / "entete.csv").write_text("N° demande;Date de la demande\n", encoding="utf-8")
    report = _import(db, tmp_path / "entete.csv", "si_siao")
    assert report.rows_read == 0 and any("Aucune ligne" in m for m in _issues(report))
    assert _count(db, SourceRecordRow) == 0


def test_duplicate_rows_are_reported_once_and_stored_once(db, partner_files, tmp_path):
    def duplicate(data: bytes) -> bytes:
        lines = _lines(data)
        return b"".join(lines + [lines[1], lines[2]])

    path = _copy(partner_files["accueil_jour"], tmp_path / "doublons.csv", duplicate)
    report = _import(db, path, "accueil_jour")
    assert report.rows_duplicate >= 2
    assert _count(db, SourceRecordRow) == report.rows_read - report.rows_duplicate


def test_formula_injection_in_a_name_is_blocked(db, partner_files, tmp_path):
    path = _copy(partner_files["si_siao"], tmp_path / "formule.csv",
                 lambda d: _replace_cell(d, 2, 2, '=HYPERLINK("http://x.example","Dupont")',
                                         "cp1252"))
    report = _import(db, path, "si_siao", dry_run=False)
    issue = next(i for i in report.issues if i.severity == "erreur")
    assert "Formule de tableur" in issue.message and issue.value == "[masqué]"
    assert report.rows_quarantined == 1
    assert "HYPERLINK" not in _database_text(db)
    csv_path = tmp_path / "rapport.csv"
    report.write_csv(csv_path)
    assert "\n=" not in csv_path.read_text(encoding="utf-8-sig")


_MESSY_SI_SIAO = """N° demande;N° usager SI-SIAO;Nom;Prénom;Date de naissance;Sexe;\
Composition familiale;Nombre d'enfants;Commune;Code postal;Date de la demande;\
Type de demande;Statut;Date d'orientation
D1;123;Dupont;Élodie;01/02/1980;Homme;Personne seule;0;Dijon;21000;15/03/2025;Urgence;Orientée;
D2;;Ben Salah;Karim;1980;F;Autre;-1;Xyzville;abcde;;Insertion;bizarre;31/02/1990
D3;77;=HYPERLINK(1);Anne;12/05/85;X;;1,5;21000;;15/03/2025;Autre;;2030-01-01
D4;78;O'Neil;123;00/00/1975;femme;Couple sans enfant;abc;Talant;2100;01/01/1900;Urgence;;
D5;79;Durand
D6;80;Martin;Luc;01/01/1900;Homme;Personne seule;2;Chenôve;21300;15/03/2025;Urgence;;;;
D7;81;Martin;Luc;01/01/1900;Homme;Personne seule;2;Chenôve;21300;15/03/2025;Urgence;;;x
D1;123;Dupont;Élodie;01/02/1980;Homme;Personne seule;0;Dijon;21000;15/03/2025;Urgence;Orientée;
D8;82;Petit;Marie;;F;Personne seule;;Beaune;;14/03/2025;Urgence;Sans solution;16/03/2025
"""


def _read_by_column(path: Path, fmt, departements, chunk: int):  # noqa: ANN001
    """``(row number, issues, blocked, record)`` of each row of ``path``, read chunk by chunk
    of ``chunk`` rows, column by column, as the importer reads it (`parse_chunk`,
    `person_rows`); a record as the row the bulk insert stores (`RecordRow`, JSON text)."""
    from itertools import islice

    from observatoire.feeds.chunks import parse_chunk, person_rows
    from observatoire.feeds.records import RecordBuilder
    from observatoire.feeds.validate import RowParser
    from observatoire.normalise import CommuneReference
    from observatoire.pseudonymise import Pseudonymiser

    read = []
    table = read_table(path)
    parser = RowParser(fmt, table.headers, path.name, CommuneReference.load(), departements,
                       TODAY)
    builder = RecordBuilder(fmt, Pseudonymiser(KEY))
    rows = table.rows()
    while chunk_rows := list(islice(rows, chunk)):
        parsed = parse_chunk(parser, chunk_rows)
        positions, records = person_rows(builder, parsed, 7)
        found = dict(zip(positions, records, strict=True))
        for position, number in enumerate(parsed.numbers):
            read.append((number, parsed.issues.get(position, []),
                         bool(parsed.blocked[position]), found.get(position)))
    return read


# What the format (`feeds/formats/si_siao.yaml`) makes of each line of `_MESSY_SI_SIAO`:
# row number -> (blocked, issues as (severity, column, shown value, message), and for a
# valid row its commune's INSEE code, sex, birth year, last contact, attributes and plan
# attributes). Dijon is 21231, Talant 21617, Beaune 21054; "Homme" and "femme" are M and F;
# the last contact is the latest of the request and orientation dates; 01/01/1900 is a
# date whose day and month are unknown (the year kept as written).
_FORMAT_DATE = ("Date impossible : ce jour n'existe pas dans le calendrier. Formats acceptés "
                ": JJ/MM/AAAA, JJ/MM/AA, AAAA ou AAAA-MM-JJ.")
_DUPONT = ("21231", "M", 1980, "2025-03-15",
           {"household": "seul", "children": 0, "contact_date": "2025-03-15",
            "request_type": "urgence", "status": "orientee", "import_id": 7},
           (None, None, "orientee"))
_MESSY_SI_SIAO_READ = {
    2: (False, [], _DUPONT),
    3: (True, [
        ("avertissement", "Nombre d'enfants", "-1", "Nombre entier positif attendu."),
        ("avertissement", "Commune", "Xyzville",
         "Code postal inconnu : 'abcde'. Vérifiez-le (5 chiffres, Dijon : 21000)."),
        ("avertissement", "Code postal", "[masqué]", "Code postal invalide (5 chiffres)."),
        ("erreur", "Date de la demande", "", "Valeur obligatoire manquante."),
        ("erreur", "Date d'orientation", "31/02/1990", _FORMAT_DATE)], None),
    4: (True, [("erreur", "Nom", "[masqué]",
                "Formule de tableur dans une cellule (injection possible) : ligne bloquée.")],
        None),
    5: (False, [
        ("avertissement", "Prénom", "[masqué]", "Nom sans aucune lettre : ignoré."),
        ("avertissement", "Nombre d'enfants", "[masqué]", "Nombre illisible.")],
        ("21617", "F", 1975, "1900-01-01",
         {"household": "couple", "contact_date": "1900", "request_type": "urgence",
          "import_id": 7}, (None, None, None))),
    6: (True, [("erreur", None, "", "3 champs au lieu de 14 : ligne incomplète (fichier "
                "tronqué ?)")], None),
    7: (True, [("erreur", None, "", "16 champs au lieu de 14 : séparateur dans une valeur "
                "non protégée par des guillemets ?")], None),
    8: (True, [("erreur", None, "", "15 champs au lieu de 14 : séparateur dans une valeur "
                "non protégée par des guillemets ?")], None),
    9: (False, [], _DUPONT),
    10: (False, [], ("21054", "F", None, "2025-03-16",
                     {"household": "seul", "contact_date": "2025-03-14",
                      "request_type": "urgence", "status": "sans_solution",
                      "orientation_date": "2025-03-16", "import_id": 7},
                     ("2025-03-16", None, "sans_solution"))),
}


@pytest.mark.parametrize("departements", [frozenset(), frozenset({"21"})], ids=["sans", "21"])
@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_messy_rows_read_as_the_format_says(tmp_path, departements, chunk):
    """The importer's reading (`parse_chunk`, `person_rows`), in chunks of any size: the
    issues of each row (in the order of the columns), which rows are blocked, and what is
    stored of the others, written out from the format; the same request read twice gives
    the same record, to the character of its JSON (pseudonyms and row key included)."""
    path = tmp_path / "desordre.csv"
    path.write_text(_MESSY_SI_SIAO, encoding="utf-8")
    read = _read_by_column(path, get_format("si_siao"), departements, chunk)
    found = {}
    for number, issues, blocked, record in read:
        stored = None if record is None else (
            record.commune_code, record.sex, record.birth_year, record.last_contact,
            json.loads(record.attributes),
            (record.plan_date, record.plan_label, record.plan_status))
        found[number] = (blocked, [(i.severity, i.column, i.value, i.message)
                                   for i in issues], stored)
    assert found == _MESSY_SI_SIAO_READ
    records = {number: record for number, *_, record in read}
    assert records[2] == records[9]  # D1 twice: one row key, one content
    assert len({records[n].source_row_key for n in (2, 5, 10)}) == 3
    pseudonyms = {n: json.loads(records[n].pseudonyms) for n in (2, 5, 10)}
    assert {"nom", "prenom", "naissance", "id_personne"} <= set(pseudonyms[2])
    assert "prenom" not in pseudonyms[5]  # "123" is no first name
    assert "naissance" not in pseudonyms[10]  # no birth date
    assert len({pseudonyms[n]["id_personne"] for n in (2, 5, 10)}) == 3
    shown = " ".join(r.pseudonyms + r.attributes for r in records.values() if r)
    for clear in ("Dupont", "DUPONT", "Elodie", "Élodie", "Petit", "01/02/1980", "1980-02-01"):
        assert clear not in shown


@pytest.mark.parametrize("name", ["si_siao", "appels_115", "maraude", "accueil_jour"])
def test_the_generator_files_read_the_same_in_any_chunks_and_caches(partner_files, name,
                                                                    monkeypatch):
    """On the generator's files of each format (ages, phones, repeated people), chunks of 50
    rows, whose names, dates and keys come back from chunk to chunk, with caches so small
    that they are emptied in every chunk (as a large import empties them), give what one
    chunk of the whole file with its caches kept gives."""
    from observatoire.feeds import chunks, validate

    whole = _read_by_column(partner_files[name], get_format(name), frozenset({"21"}), 10**6)
    monkeypatch.setattr(validate, "CACHE_LIMIT", 3)
    monkeypatch.setattr(chunks, "CACHE_LIMIT", 3)
    small = _read_by_column(partner_files[name], get_format(name), frozenset({"21"}), 50)
    assert small == whole
    assert sum(record is not None for *_, record in whole) > 100


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.text(alphabet="ab1 \t\n\r\x00\x0b\x0c\x1c\x1f\xa0\u202fé-'",
                        max_size=5),
                max_size=6))
def test_cells_checked_clean_together_read_as_one_by_one(cells):
    from observatoire.feeds.chunks import _clean_cells
    from observatoire.normalise import clean_cell

    assert _clean_cells(cells) == [clean_cell(c) for c in cells]


def _stored_records(engine) -> list[tuple]:
    """What is stored of each partner row, the import that wrote it aside."""
    with Session(engine) as session:
        rows = session.execute(select(
            SourceRecordRow.source_row_key, SourceRecordRow.commune_code, SourceRecordRow.sex,
            SourceRecordRow.birth_year, SourceRecordRow.last_contact, SourceRecordRow.pseudonyms,
            SourceRecordRow.attributes, SourceRecordRow.plan_date, SourceRecordRow.plan_label,
            SourceRecordRow.plan_status,
        )).all()
    return sorted(
        (*row[:6], {k: v for k, v in row[6].items() if k != "import_id"}, *row[7:])
        for row in rows
    )


def test_a_large_file_read_in_a_worker_process_imports_as_in_process(db, tmp_path, monkeypatch):
    """Above `WORKER_MIN_BYTES`, a file of people is read in a second process: same report
    (issues in the same order, row numbers, quarantine, duplicates), same stored records."""
    from observatoire.feeds import importer

    path = tmp_path / "demandes.csv"
    header, *messy = _MESSY_SI_SIAO.splitlines(keepends=True)
    clean = [f"E{i};{500 + i};Nom{i % 7};Prénom{i % 5};{1 + i % 28:02d}/03/19{50 + i % 40};"
             f"{'FH'[i % 2]};Personne seule;0;{('Dijon', 'Talant', 'Chenôve')[i % 3]};;"
             f"{1 + i % 28:02d}/02/2025;Urgence;;\n" for i in range(40)]
    path.write_text("".join([header, *clean[:20], *messy, *clean[20:], clean[3]]),
                    encoding="cp1252")
    monkeypatch.setattr(importer, "CHUNK_ROWS", 7)  # many chunks through the pipe

    in_process = make_engine(f"sqlite:///{tmp_path / 'en_processus.sqlite'}")
    upgrade_database(in_process)
    expected = _import(in_process, path, "si_siao")
    monkeypatch.setattr(importer, "WORKER_MIN_BYTES", 0)
    started = []
    original = importer.chunks_read_in_worker
    monkeypatch.setattr(importer, "chunks_read_in_worker",
                        lambda *a, **k: started.append(1) or original(*a, **k))
    report = _import(db, path, "si_siao")

    assert started, "the worker process was not used"
    assert report.counts() == expected.counts()
    assert report.rows_quarantined >= 3 and report.rows_duplicate >= 1
    assert [(i.severity, i.row, i.column, i.value, i.message) for i in report.issues] == [
        (i.severity, i.row, i.column, i.value, i.message) for i in expected.issues]
    assert _stored_records(db) == _stored_records(in_process)
    stored = _stored(db)
    _assert_plan_attributes_match(stored.values())
    assert any(r.plan_status == "orientee" for r in stored.values())
    with Session(db) as session:
        imports = {a["import_id"] for a in session.scalars(select(SourceRecordRow.attributes))}
    assert imports == {report.import_id}
    assert _count(db, FeedQuarantineRow) == report.rows_quarantined
    in_process.dispose()


def test_a_file_changed_while_the_worker_reads_it_is_refused(tmp_path):
    """The worker reads the file again: another content than the one fingerprinted stops the
    import, and the worker process is gone once the error is raised."""
    from observatoire.feeds.reader_process import chunks_read_in_worker
    from observatoire.feeds.reading import FeedReadError
    from observatoire.feeds.validate import RowParser
    from observatoire.normalise import CommuneReference

    path = tmp_path / "demandes.csv"
    path.write_text(_MESSY_SI_SIAO, encoding="utf-8")
    table = read_table(path)
    parser = RowParser(get_format("si_siao"), table.headers, path.name,
                       CommuneReference.load(), frozenset({"21"}), TODAY)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("D9;83;Petit;Jean;;H;;;Dijon;;14/03/2025;Urgence;;\n")
    # Other tests of the session may have left processes of their own (an app server).
    before = set(_child_processes(os.getpid()))
    with pytest.raises(FeedReadError, match="a changé pendant l'import"), \
            chunks_read_in_worker(table, parser, KEY, 1, 100) as chunks:
        assert set(_child_processes(os.getpid())) - before  # a real test: the worker ran
        next(chunks)
    assert set(_child_processes(os.getpid())) - before == set()


def test_the_worker_runs_this_code_when_started_from_a_folder_holding_another(
        tmp_path, monkeypatch):
    """An observatory may run an import from a folder with another checkout in it (an older
    version, a copy): the worker must not import that one instead of the importer's code."""
    from observatoire.feeds.reader_process import chunks_read_in_worker
    from observatoire.feeds.validate import RowParser
    from observatoire.normalise import CommuneReference

    other = tmp_path / "ailleurs" / "observatoire" / "feeds"
    other.mkdir(parents=True)
    for folder in (other.parent, other):
        (folder / "__init__.py").write_text("")
    (other / "reader_process.py").write_text("raise SystemExit(3)\n")
    path = tmp_path / "demandes.csv"
    path.write_text(_MESSY_SI_SIAO, encoding="utf-8")
    table = read_table(path)
    parser = RowParser(get_format("si_siao"), table.headers, path.name,
                       CommuneReference.load(), frozenset({"21"}), TODAY)
    monkeypatch.chdir(other.parent.parent)
    with chunks_read_in_worker(table, parser, KEY, 1, 100) as chunks:
        assert sum(len(chunk.records) for chunk in chunks) > 0


def _child_processes(pid: int) -> list[int]:
    """Living children of ``pid`` (Linux ``/proc``; zombies waiting to be reaped left out)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return [c for c in found if _process_state(c) not in (None, "Z")]


def _process_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


# --- tallies, pseudonymised files, purge -------------------------------------------------------


def test_place_tallies_of_the_count_night(db):
    report = _import(db, FIXTURES / "decomptes_nuit.csv", "decomptes_lieux")
    assert report.errors == 0 and report.rows_imported == 5
    with Session(db) as session:
        rows = session.scalars(select(PlaceTallyRow).order_by(PlaceTallyRow.id)).all()
    assert [(r.place_kind, r.commune_code, r.people_count) for r in rows][:2] == [
        ("gare", "21231", 7), ("hopital", "21231", 3)]
    assert _count(db, SourceRecordRow) == 0


def test_a_partner_pseudonymised_file_imports_like_the_original(db, partner_files, tmp_path):
    output = tmp_path / "si_siao_pseudo.csv"
    report = pseudonymise_file(partner_files["si_siao"], get_format("si_siao"), KEY, output,
                               departements=frozenset({"21"}), today=TODAY)
    assert report.errors == 0 and output.exists()
    content = output.read_text(encoding="utf-8")
    assert "Nom" not in content.splitlines()[0].split(";")
    imported = _import(db, output, "si_siao")
    assert imported.errors == 0 and imported.rows_imported == report.rows_imported
    with Session(db) as session:
        pseudo = session.scalars(select(SourceRecordRow).order_by(SourceRecordRow.id)).first()
    # The raw file, imported afterwards, is recognised row by row: same keys, same pseudonyms.
    raw = _import(db, partner_files["si_siao"], "si_siao")
    assert raw.rows_imported == 0 and raw.rows_already_present == report.rows_imported
    assert pseudo.pseudonyms["v"] == "3" and "nom_bf" in pseudo.pseudonyms
    # The partner-side file carries the tokens of versions 2 (skeletons, swapped date) and 3
    # (sorted letters) too.
    header = content.splitlines()[0].split(";")
    assert {"ps_nom_squelette", "ps_prenom_squelette", "ps_naissance_inversee",
            "ps_nom_lettres", "ps_prenom_lettres"} <= set(header)
    assert {"nom_squelette", "prenom_squelette", "nom_lettres", "prenom_lettres"} <= set(
        pseudo.pseudonyms)
    with Session(db) as session:
        dated = [r.pseudonyms for r in session.scalars(select(SourceRecordRow))
                 if "naissance" in r.pseudonyms]
    assert dated and all("naissance_inversee" in p for p in dated)


def test_another_key_is_refused(db, partner_files):
    _import(db, partner_files["maraude"], "maraude")
    with pytest.raises(Exception, match="clé secrète fournie n'est pas celle"):
        import_feed(db, partner_files["accueil_jour"], get_format("accueil_jour"),
                    bytes(range(2, 34)), today=TODAY)


def test_purge_removes_old_records_with_an_audit_entry(db, partner_files):
    _import(db, partner_files["accueil_jour"], "accueil_jour")
    total = _count(db, SourceRecordRow)
    result = purge_expired(db, 365, today=dt.date(2026, 12, 31))
    with Session(db) as session:
        remaining = session.scalars(select(SourceRecordRow.last_contact)).all()
        audit = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "feed.purge")).one()
    assert result["enregistrements"] + len(remaining) == total
    assert all(d >= dt.date(2025, 12, 31) for d in remaining)
    assert audit.details["enregistrements"] == result["enregistrements"]


# --- key and command line --------------------------------------------------------------------


def test_missing_key_says_how_to_create_one():
    with pytest.raises(SecretKeyError, match="observatoire key generate"):
        load_secret_key(None, environ={})


def test_cli_key_generate_import_and_report(tmp_path, partner_files, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    key_file = tmp_path / "cle.txt"
    assert main(["key", "generate", "--output", str(key_file)]) == 0
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    assert main(["key", "generate", "--output", str(key_file)]) == 2  # never overwritten
    monkeypatch.setenv("OBSERVATOIRE_SECRET_KEY_FILE", str(key_file))
    report_csv = tmp_path / "rapport.csv"
    code = main(["feed", "import", str(partner_files["maraude"]), "--format", "maraude",
                 "--dry-run", "--report", str(report_csv)])
    out = capsys.readouterr().out
    assert code in (0, 3) and "essai" in out and report_csv.exists()
    assert key_file.read_text().strip() not in out
    # The report written is an export: audited under the operating-system user.
    import getpass

    reports = make_engine(f"sqlite:///{tmp_path / 'data' / 'observatoire.sqlite'}")
    with Session(reports) as session:
        audit = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == "export.feed_report")).all()
        assert [(a.actor, a.details["report"]) for a in audit] == [
            (getpass.getuser()[:64], str(report_csv))]
    pseudonymised = tmp_path / "maraude_pseudo.csv"
    assert main(["pseudonymise", str(partner_files["maraude"]), "--format", "maraude",
                 "--output", str(pseudonymised), "--actor", "camille.test"]) in (0, 3)
    with Session(reports) as session:
        audit = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == "export.pseudonymise")).all()
        assert [(a.actor, a.details["output"]) for a in audit] == [
            ("camille.test", str(pseudonymised))]
    reports.dispose()
    assert main(["feed", "formats"]) == 0
    assert main(["feed", "import", "x.csv", "--format", "inconnu"]) == 2
    assert "Formats disponibles" in capsys.readouterr().err
    assert main(["purge", "--retention-days", "730"]) == 0


# --- atomicity: a killed import leaves nothing -------------------------------------------------


@pytest.mark.slow
def test_killing_an_import_midway_leaves_the_database_as_before(database_url, tmp_path):
    engine = make_engine(database_url)
    upgrade_database(engine)
    engine.dispose()
    path = tmp_path / "gros.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("N° appel;Date et heure;Prénom;Nom;Sexe;Commune\n")
        for i in range(150_000):
            handle.write(f"{i:07d};29/01/2025 08:{i % 60:02d};Prénom{i % 97};Nom{i % 89};H;"
                         "Dijon\n")
    env = {**os.environ, "OBSERVATOIRE_DATABASE_URL": database_url,
           "OBSERVATOIRE_SECRET_KEY": KEY.hex(), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "observatoire.cli", "feed", "import", str(path), "--format",
         "appels_115", "--progress"],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    deadline = time.monotonic() + 240
    seen = ""
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if "enregistrées" in line and not line.startswith("• 0 "):
            break  # rows have been written inside the open transaction
        if process.poll() is not None:
            break
    assert process.poll() is None, f"l'import s'est terminé avant d'être interrompu : {seen}"
    workers = _child_processes(process.pid)  # the file is read in a worker process
    assert len(workers) == 1
    # The worker got the key through its pipe: not on its command line nor in its environment.
    worker_view = (Path(f"/proc/{workers[0]}/cmdline").read_bytes()
                   + Path(f"/proc/{workers[0]}/environ").read_bytes())
    assert b"reader_process" in worker_view
    assert KEY.hex().encode() not in worker_view and b"OBSERVATOIRE_SECRET" not in worker_view
    process.send_signal(signal.SIGKILL)
    process.wait()
    # The worker notices that its importer is gone and exits.
    deadline = time.monotonic() + 30
    while _process_state(workers[0]) not in (None, "Z") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _process_state(workers[0]) in (None, "Z")
    engine = make_engine(database_url)
    assert _count(engine, SourceRecordRow) == 0
    assert _count(engine, FeedImportRow) == 0
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditLogRow)) == 0
    # And the same file then imports normally.
    engine.dispose()


def test_a_prepared_row_names_the_columns_the_store_inserts_in_their_order():
    # `insert_source_rows` passes `RecordRow`s to the driver by position.
    from observatoire.feeds.records import RecordRow
    from observatoire.store.feeds_repository import SOURCE_RECORD_COLUMNS

    assert RecordRow._fields == SOURCE_RECORD_COLUMNS


@pytest.mark.parametrize("chunk", [1, 100])
def test_a_partner_pseudonymised_file_reads_as_the_file_in_clear(partner_files, tmp_path,
                                                                 chunk):
    """A file pseudonymised at the partner's goes through the column path (`person_columns`
    reads its ps_* cells): each row gives the record its row of the file in clear gives
    (same row key, pseudonyms, birth year and attributes); a row whose ps_v is empty has the
    pseudonyms of absent identifiers (none of a person's), a row without birth year none."""
    output = tmp_path / "si_siao_pseudo.csv"
    pseudonymise_file(partner_files["si_siao"], get_format("si_siao"), KEY, output,
                      departements=frozenset({"21"}), today=TODAY)
    header, *lines = output.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[2].split(";")
    cells[0] = ""  # no ps_v on this row
    lines[2] = ";".join(cells)
    cells = lines[4].split(";")
    cells[3] = ""  # no birth year on this one
    lines[4] = ";".join(cells)
    output.write_text("".join([header, *lines[:30]]), encoding="utf-8")
    read = _read_by_column(output, get_format("si_siao"), frozenset({"21"}), chunk)
    assert [issues for _, issues, *_ in read] == [[]] * 30
    # Pseudonyms compared as what they say: a pseudonymised file gives them in the order of
    # its ps_* columns.
    records = [record._replace(pseudonyms=json.loads(record.pseudonyms)) for *_, record in read]
    clear = {record.source_row_key: record._replace(pseudonyms=json.loads(record.pseudonyms))
             for *_, record in _read_by_column(partner_files["si_siao"], get_format("si_siao"),
                                               frozenset({"21"}), 1000) if record}
    for position, record in enumerate(records):
        in_clear = clear[record.source_row_key]
        if position == 2:
            # The encoding version and key only: no pseudonym of a person.
            assert record.pseudonyms == {k: in_clear.pseudonyms[k] for k in ("v", "cle")}
            assert record._replace(pseudonyms={}) == in_clear._replace(pseudonyms={})
        elif position == 4:
            assert record.birth_year is None and in_clear.birth_year is not None
            assert record._replace(birth_year=None) == in_clear._replace(birth_year=None)
        else:
            assert record == in_clear
    assert "nom_bf" in records[0].pseudonyms


def test_rows_pseudonymised_with_another_key_are_quarantined(db, partner_files, tmp_path):
    output = tmp_path / "si_siao_pseudo.csv"
    pseudonymise_file(partner_files["si_siao"], get_format("si_siao"), KEY, output,
                      departements=frozenset({"21"}), today=TODAY)
    header, *lines = output.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = lines[1].split(";")
    cells[1] = "autrecle"
    lines[1] = ";".join(cells)
    output.write_text("".join([header, *lines[:10]]), encoding="utf-8")
    report = _import(db, output, "si_siao")
    assert (report.rows_imported, report.rows_quarantined) == (9, 1)
    refused = [i for i in report.issues if i.severity == "erreur"]
    assert [(i.row, i.column, i.message) for i in refused] == [
        (3, "ps_cle", "Ligne pseudonymisée avec une autre clé que celle du territoire.")]
