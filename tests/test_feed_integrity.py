"""Partner feeds never lose stored data: later extracts with empty cells, partners whose
numbers collide, shifted rows, a file imported under the wrong format, undoing an import.

Imports run on SQLite and PostgreSQL (the ``engine`` fixture). Partner files come from the
synthetic generator (fictitious people).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from observatoire.cli import main
from observatoire.feeds import importer
from observatoire.feeds.chunks import parse_chunk
from observatoire.feeds.formats import get_format
from observatoire.feeds.importer import import_feed, pseudonymise_file, undo_import
from observatoire.feeds.reading import read_table
from observatoire.feeds.validate import RowParser
from observatoire.model import ObservatoireError
from observatoire.normalise import CommuneReference
from observatoire.store.db import upgrade_database
from observatoire.store.feeds_tables import FeedImportRow
from observatoire.store.tables import AuditLogRow, SourceRecordRow

KEY = bytes(range(32))
TODAY = dt.date(2026, 3, 1)
KEPT = "la valeur déjà enregistrée pour cette ligne (import précédent) est conservée"


@pytest.fixture(scope="module")
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


def _si_siao(partner_files) -> tuple[str, list[list[str]]]:
    lines = partner_files["si_siao"].read_bytes().decode("cp1252").splitlines()
    return lines[0], [line.split(";") for line in lines[1:]]


def _write(path: Path, header: str, rows: list[list[str]]) -> Path:
    path.write_bytes(("\r\n".join([header, *(";".join(r) for r in rows)]) + "\r\n")
                     .encode("cp1252"))
    return path


def _stored(engine) -> dict[str, SourceRecordRow]:
    with Session(engine) as session:
        return {r.source_row_key: r for r in session.scalars(select(SourceRecordRow))}


def _by_demand(engine, header: str, rows: list[list[str]], tmp_path: Path, partner=None):
    """Stored records by the partner's demand number (each row imported alone into the
    database would be another test: the row key is the demand number's keyed hash)."""
    from observatoire.feeds.records import RecordBuilder, row_key_part
    from observatoire.pseudonymise import Pseudonymiser

    builder = RecordBuilder(get_format("si_siao"), Pseudonymiser(KEY),
                            *(() if partner is None else (partner,)))
    row_key = builder.row_key_hasher()
    stored = _stored(engine)
    return {r[0]: stored.get(row_key(row_key_part("record_id", r[0]))) for r in rows}


# --- 1. an update never replaces a stored value by nothing -----------------------------------


@pytest.mark.parametrize("path", ["colonnes", "pseudonymise"])
def test_an_update_with_empty_or_invalid_cells_keeps_the_stored_values(
    db, partner_files, tmp_path, path
):
    header, rows = _si_siao(partner_files)
    rows = [r for r in rows if r[5] and r[4] and r[8]][:30]
    _import(db, _write(tmp_path / "janvier.csv", header, rows), "si_siao")
    before = _by_demand(db, header, rows, tmp_path)
    later = [list(r) for r in rows]
    for row in later:
        row[12:14] = ["Orientée", "20/02/2026"]  # every status changed: every row updated
    for row in later[:5]:  # identity emptied
        row[1:6] = ["", "", "", "", ""]
        row[8] = ""
    later[5][5], later[5][4], later[5][8] = "X", "31/02/1980", "Nulle-Part-sur-Ouche"
    file = _write(tmp_path / "fevrier.csv", header, later)
    if path == "pseudonymise":  # the partner pseudonymised it: its ps_* cells are read
        output = tmp_path / "fevrier_pseudo.csv"
        pseudonymise_file(file, get_format("si_siao"), KEY, output,
                          departements=frozenset({"21"}), today=TODAY)
        file = output
    report = _import(db, file, "si_siao")

    assert report.rows_updated == 30 and report.rows_imported == 0
    after = _by_demand(db, header, rows, tmp_path)
    for number in [r[0] for r in rows[:6]]:
        old, new = before[number], after[number]
        assert (new.sex, new.birth_year, new.commune_code) == (
            old.sex, old.birth_year, old.commune_code)
        assert new.pseudonyms == old.pseudonyms
        assert new.attributes["status"] == "orientee"  # the rest of the update went through
    kept = [i for i in report.issues if KEPT in i.message]
    assert all(i.severity == "avertissement" and i.value == "" for i in kept)
    columns = ["N° usager SI-SIAO", "Nom", "Prénom", "Date de naissance", "Sexe", "Commune"]
    if path == "pseudonymise":  # the columns of a pseudonymised file
        columns = ["ps_id_personne", "ps_nom", "ps_prenom", "ps_naissance", "sex", "commune"]
    expected = {(2 + n, c) for n in range(5) for c in columns}
    expected |= {(7, c) for c in columns[3:]}
    assert {(i.row, i.column) for i in kept} == expected
    assert report.values_kept == len(kept) and report.warnings >= len(kept)
    assert "valeurs enregistrées conservées (cellule vide ou illisible) : " \
        f"{len(kept)}" in report.to_text()


def test_an_extract_without_a_column_keeps_its_values_with_one_warning(
    db, partner_files, tmp_path
):
    header, rows = _si_siao(partner_files)
    rows = [r for r in rows if r[5]][:20]
    _import(db, _write(tmp_path / "janvier.csv", header, rows), "si_siao")
    before = _by_demand(db, header, rows, tmp_path)
    columns = header.split(";")
    without_sex = [[c for i, c in enumerate(r) if i != 5] for r in rows]
    for row in without_sex:
        row[10] = "CHRS Les Tilleuls"  # Orientation, one to the left
    report = _import(db, _write(tmp_path / "fevrier.csv", ";".join(
        c for i, c in enumerate(columns) if i != 5), without_sex), "si_siao")
    assert report.rows_updated == 20
    after = _by_demand(db, header, rows, tmp_path)
    assert [after[r[0]].sex for r in rows] == [before[r[0]].sex for r in rows]
    absent = [i for i in report.issues if "absent de cette extraction" in i.message]
    assert len(absent) == 1 and "20 lignes" in absent[0].message
    assert report.values_kept == 20


# --- 2. rows keyed by partner: colliding numbers -----------------------------------------------


def test_two_partners_with_colliding_request_numbers_are_both_kept(db, partner_files, tmp_path):
    header, rows = _si_siao(partner_files)
    first = _import(db, _write(tmp_path / "siao21.csv", header, rows[:40]), "si_siao")
    before = _stored(db)
    # Another SIAO numbers its own, other demands the same way.
    other = [[a[0], *b[1:]] for a, b in zip(rows[:40], rows[40:80], strict=True)]
    second = _import(db, _write(tmp_path / "siao71.csv", header, other), "si_siao",
                     partner="SIAO 71")
    assert (second.rows_imported, second.rows_updated, second.rows_already_present) == (
        40, 0, 0)
    assert any("Premier fichier du partenaire « siao_71 »" in i.message
               for i in second.issues)
    after = _stored(db)
    assert len(after) == 80
    for key, record in before.items():  # the first partner's rows untouched
        assert (after[key].pseudonyms, after[key].attributes, after[key].sex) == (
            record.pseudonyms, record.attributes, record.sex)
    with Session(db) as session:
        partners = {i: p for i, p in session.execute(
            select(FeedImportRow.id, FeedImportRow.partner))}
    assert partners == {first.import_id: "territoire", second.import_id: "siao_71"}

    # Each partner's later extract updates its own rows only; the same partner's file
    # pseudonymised at the partner's gets the same keys as in clear.
    changed = [list(r) for r in other]
    changed[0][12] = "Orientée"
    third = _import(db, _write(tmp_path / "siao71_mars.csv", header, changed), "si_siao",
                    partner="siao_71")
    assert (third.rows_updated, third.rows_imported) == (1, 0)
    assert not any("Premier fichier" in i.message for i in third.issues)
    pseudo = tmp_path / "siao71_pseudo.csv"
    pseudonymise_file(tmp_path / "siao71_mars.csv", get_format("si_siao"), KEY, pseudo,
                      departements=frozenset({"21"}), today=TODAY)
    fourth = _import(db, pseudo, "si_siao", partner="siao_71")
    assert (fourth.rows_imported, fourth.rows_updated, fourth.rows_already_present) == (
        0, 0, 40)
    assert len(_stored(db)) == 80
    first_partner = _by_demand(db, header, rows[:40], tmp_path)
    assert first_partner[rows[0][0]].attributes["status"] != "orientee"


def test_the_partner_option_of_the_command_line(db, partner_files, tmp_path, monkeypatch,
                                                 capsys):
    url = db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", url)
    monkeypatch.setenv("OBSERVATOIRE_SECRET_KEY", KEY.hex())
    header, rows = _si_siao(partner_files)
    file = _write(tmp_path / "siao.csv", header, rows[:10])
    other = _write(tmp_path / "autre.csv", header, [[a[0], *b[1:]] for a, b in
                                                    zip(rows[:10], rows[10:20], strict=True)])
    assert main(["feed", "import", str(file), "--format", "si_siao"]) in (0, 3)
    # Without --partenaire: imported under the default partner, with a French warning.
    err = capsys.readouterr().err
    assert "avertissement : aucun partenaire indiqué (--partenaire)" in err
    assert "registre des partages" in err
    assert main(["feed", "import", str(other), "--format", "si_siao", "--partenaire",
                 "siao71", "--actor", "Camille"]) in (0, 3)
    assert "aucun partenaire indiqué" not in capsys.readouterr().err
    assert len(_stored(db)) == 20
    assert main(["feed", "import", str(other), "--format", "si_siao", "--partenaire",
                 "!!!"]) == 2
    assert "Nom de partenaire invalide" in capsys.readouterr().err
    with Session(db) as session:
        audit = session.scalars(select(AuditLogRow).where(
            AuditLogRow.action == "feed.import")).all()
    assert [(a.actor, a.details["partner"]) for a in audit][-1] == ("Camille", "siao71")


# --- 3. width checks see trailing empty cells --------------------------------------------------


def test_a_shifted_row_whose_extra_cell_is_empty_is_refused(db, partner_files, tmp_path):
    header, rows = _si_siao(partner_files)
    # The extraction's 14 first columns, up to the orientation date (the generator adds
    # optional ones after it), in rows without orientation date: the last cell empty.
    columns = header.split(";")[:14]
    assert columns[-1] == "Date d'orientation"
    header = ";".join(columns)
    rows = [r[:14] for r in rows if r[13] == ""][:20]
    shifted = [list(r) for r in rows]
    # A comma-less "Nom" split in two by a stray separator: every later cell moves right,
    # and the empty last cell becomes a 15th.
    shifted[3] = [*rows[3][:3], "Marie", *rows[3][3:]]
    assert len(shifted[3]) == 15 and shifted[3][-1] == ""
    path = _write(tmp_path / "decale.csv", header, shifted)
    report = _import(db, path, "si_siao")
    assert report.rows_quarantined == 1 and report.rows_imported == 19
    refused = [i for i in report.issues if i.row == 5 and i.severity == "erreur"]
    assert [i.message for i in refused] == [
        "15 champs au lieu de 14 : séparateur dans une valeur non protégée par des "
        "guillemets ?"]
    # The column reading (`parse_chunk`) blocks that row only.
    table = read_table(path)
    parser = RowParser(get_format("si_siao"), table.headers, path.name,
                       CommuneReference.load(), frozenset({"21"}), TODAY)
    numbered = list(table.rows())
    chunk = parse_chunk(parser, numbered)
    assert chunk.blocked.tolist() == [i == 3 for i in range(20)]


# --- 4. duplicate check per (file, format), undo ------------------------------------------------


def test_a_file_imported_under_the_wrong_format_can_be_imported_under_the_right_one(
    db, partner_files
):
    # A maraude's file read as a generic list of people: it goes in, under the wrong source.
    wrong = _import(db, partner_files["maraude"], "liste")
    assert wrong.status == "importé" and wrong.rows_imported > 0
    right = _import(db, partner_files["maraude"], "maraude")
    assert right.status == "importé" and right.rows_imported > 0
    again = _import(db, partner_files["maraude"], "maraude")
    assert again.status.startswith("déjà importé") and f"feed undo {right.import_id}" in (
        again.status)
    undo_import(db, wrong.import_id, actor="Camille")
    with Session(db) as session:
        sources = set(session.scalars(select(SourceRecordRow.source).distinct()))
    assert sources == {"maraude"}
    # Undone, the wrong import no longer counts as the file's import under that format.
    assert _import(db, partner_files["maraude"], "liste").status == "importé"


# The dashboards' aggregates are computed again after an undo: same figures, another data
# version (it counts the imports) and time.
_RECOMPUTED = {"feed_aggregate": {"id", "version", "computed_at"}}


def _snapshot(engine) -> dict[str, list[str]]:
    """Every table's rows as sorted text (JSON cells decoded, so that PostgreSQL's text of a
    json value does not matter); the audit log aside (an undo adds its entry)."""
    content = {}
    with engine.connect() as connection:
        for table in sorted(inspect(engine).get_table_names()):
            if table in {"audit_log", "alembic_version"}:
                continue
            rows = []
            for row in connection.execute(text(f"SELECT * FROM {table}")).mappings():
                cells = {}
                for name, value in row.items():
                    if name in _RECOMPUTED.get(table, ()):
                        continue
                    if isinstance(value, str) and value[:1] in "{[":
                        try:
                            value = json.loads(value)
                        except ValueError:
                            pass
                    cells[name] = value
                rows.append(json.dumps(cells, sort_keys=True, default=str, ensure_ascii=False))
            content[table] = sorted(rows)
    return content


def _without_undone(snapshot: dict[str, list[str]], import_id: int) -> dict[str, list[str]]:
    """The snapshot with the undone import's row removed from ``feed_import``."""
    kept = [r for r in snapshot["feed_import"] if json.loads(r)["id"] != import_id]
    return {**snapshot, "feed_import": kept}


def _later_extract(header, rows, tmp_path) -> Path:
    """An extract that updates, adds, quarantines and keeps values of the first one."""
    later = [list(r) for r in rows[:40]] + [list(r) for r in rows[60:70]]
    later[0][12] = "Orientée"
    later[1][5] = ""  # sex kept
    later[1][12] = "Orientée"
    later[2][9] = "pas une date"  # quarantined
    return _write(tmp_path / "fevrier.csv", header, later)


def test_undo_restores_the_database_exactly(db, partner_files, tmp_path):
    from observatoire.pipeline import import_reference_territory

    with Session(db) as session, session.begin():  # so that aggregates are computed
        import_reference_territory(session, "dijon-metropole")
    header, rows = _si_siao(partner_files)
    _import(db, _write(tmp_path / "janvier.csv", header, rows[:50]), "si_siao")
    _import(db, partner_files["decomptes_lieux"], "decomptes_lieux")
    before = _snapshot(db)
    assert before["feed_aggregate"]
    later = _import(db, _later_extract(header, rows, tmp_path), "si_siao")
    assert (later.rows_updated, later.rows_imported, later.rows_quarantined) == (2, 10, 1)
    assert later.values_kept == 1
    assert _snapshot(db) != before

    done = undo_import(db, later.import_id, actor="Camille")
    assert (done["enregistrements_supprimes"], done["enregistrements_restaures"],
            done["lignes_en_quarantaine_supprimees"]) == (10, 2, 1)
    after = _snapshot(db)
    assert _without_undone(after, later.import_id) == before
    with Session(db) as session:
        batch = session.get(FeedImportRow, later.import_id)
        assert batch.undone_by == "Camille" and batch.undone_at is not None
        audit = session.scalars(select(AuditLogRow).where(AuditLogRow.action == "feed.undo"))
        entry = audit.one()
    assert entry.actor == "Camille" and entry.details["import_id"] == later.import_id
    assert entry.details["enregistrements_restaures"] == 2

    # The tallies' import too; then the first import: nothing of the feeds is left.
    with Session(db) as session:
        ids = {f: i for f, i in session.execute(
            select(FeedImportRow.format_name, FeedImportRow.id)
            .where(FeedImportRow.undone_at.is_(None)))}
    assert undo_import(db, ids["decomptes_lieux"], actor="Camille")["decomptes_supprimes"] > 0
    undo_import(db, ids["si_siao"], actor="Camille")
    empty = _snapshot(db)
    assert not empty["source_record"] and not empty["place_tally"]
    assert not empty["feed_quarantine"] and not empty["feed_import_previous"]
    # And the same file can be imported again, with the same result as the first time.
    again = _import(db, _later_extract(header, rows, tmp_path), "si_siao")
    assert again.status == "importé" and again.rows_imported == 49


def test_undo_is_refused_when_a_later_import_touched_the_rows(db, partner_files, tmp_path):
    header, rows = _si_siao(partner_files)
    first = _import(db, _write(tmp_path / "janvier.csv", header, rows[:50]), "si_siao")
    later = _import(db, _later_extract(header, rows, tmp_path), "si_siao")
    before = _snapshot(db)
    with pytest.raises(ObservatoireError) as refused:
        undo_import(db, first.import_id, actor="Camille")
    message = str(refused.value)
    assert f"modifiées depuis par l'import n° {later.import_id}" in message
    assert f"observatoire feed undo {later.import_id}" in message
    assert _snapshot(db) == before
    with pytest.raises(ObservatoireError, match="Aucun import n° 999"):
        undo_import(db, 999)
    undo_import(db, later.import_id, actor="Camille")
    with pytest.raises(ObservatoireError, match="déjà été annulé"):
        undo_import(db, later.import_id)
    undo_import(db, first.import_id, actor="Camille")  # now it can
    assert not _stored(db)


def test_undo_is_refused_when_a_later_import_found_its_rows_already_there(
    db, partner_files, tmp_path
):
    """A later extract of the same partner that found rows of this import already stored
    (unchanged: nothing of them written) would lose them with it."""
    lines = partner_files["maraude"].read_bytes().splitlines(keepends=True)
    (tmp_path / "janvier.csv").write_bytes(b"".join(lines[:40]))
    (tmp_path / "fevrier.csv").write_bytes(lines[0] + b"".join(lines[30:60]))
    first = _import(db, tmp_path / "janvier.csv", "maraude")
    later = _import(db, tmp_path / "fevrier.csv", "maraude")
    assert later.rows_already_present == 10 and later.rows_updated == 0
    other = _import(db, tmp_path / "fevrier.csv", "maraude", partner="maraude_samu")
    assert other.rows_already_present == 0  # another partner: its own rows
    with pytest.raises(ObservatoireError, match=(
            f"l'import n° {later.import_id}, plus récent, du même partenaire, a trouvé des "
            f"lignes déjà enregistrées.*feed undo {later.import_id}")):
        undo_import(db, first.import_id)
    undo_import(db, later.import_id)
    undo_import(db, first.import_id)
    assert len(_stored(db)) == other.rows_imported


def test_a_failed_undo_leaves_the_database_as_before(db, partner_files, tmp_path,
                                                     monkeypatch):
    header, rows = _si_siao(partner_files)
    _import(db, _write(tmp_path / "janvier.csv", header, rows[:50]), "si_siao")
    later = _import(db, _later_extract(header, rows, tmp_path), "si_siao")
    before = _snapshot(db)

    def broken(_session):
        raise RuntimeError("panne")

    monkeypatch.setattr(importer, "refresh_feed_aggregates", broken)
    with pytest.raises(RuntimeError):
        undo_import(db, later.import_id)
    assert _snapshot(db) == before


def test_cli_feed_list_and_undo(db, partner_files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("OBSERVATOIRE_SECRET_KEY", KEY.hex())
    assert main(["feed", "list"]) == 0
    assert "Aucun fichier partenaire importé" in capsys.readouterr().out
    first = _import(db, partner_files["maraude"], "maraude")
    assert main(["feed", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{first.import_id:>6}" in out and "maraude" in out and "territoire" in out
    assert main(["feed", "undo", str(first.import_id), "--actor", "Camille"]) == 0
    assert "annulé" in capsys.readouterr().out
    assert main(["feed", "list"]) == 0
    assert "annulé le" in capsys.readouterr().out
    assert main(["feed", "undo", str(first.import_id)]) == 2
    err = capsys.readouterr().err
    assert "déjà été annulé" in err and "Traceback" not in err
    assert main(["feed", "undo", "4242"]) == 2
    assert "Aucun import n° 4242" in capsys.readouterr().err


def test_undoing_an_update_changes_the_version_the_dashboards_cache_under(
    db, partner_files, tmp_path
):
    from observatoire.store.indicators_repository import feed_version

    header, rows = _si_siao(partner_files)
    _import(db, _write(tmp_path / "janvier.csv", header, rows[:20]), "si_siao")
    changed = [list(r) for r in rows[:20]]
    changed[0][11] = "CHRS Les Tilleuls"
    update = _import(db, _write(tmp_path / "fevrier.csv", header, changed), "si_siao")
    assert (update.rows_updated, update.rows_imported) == (1, 0)
    with Session(db) as session:
        version = feed_version(session)
    undo_import(db, update.import_id, actor="Camille")
    with Session(db) as session:
        assert feed_version(session) != version


def test_the_migration_keeps_the_rows_of_before_under_the_default_partner(
    db, partner_files, tmp_path
):
    """Imports stored before migration 0014 (here: through its downgrade) get the default
    partner, whose row keys are those of before: a later extract still updates them."""
    from alembic import command

    from observatoire.store.db import _alembic_config

    header, rows = _si_siao(partner_files)
    first = _import(db, _write(tmp_path / "janvier.csv", header, rows[:30]), "si_siao")
    from alembic.script import ScriptDirectory

    config = _alembic_config(db)
    command.downgrade(config, ScriptDirectory.from_config(config).get_revision("0014")
                      .down_revision)
    columns = {c["name"] for c in inspect(db).get_columns("feed_import")}
    assert "partner" not in columns and "feed_import_previous" not in inspect(
        db).get_table_names()
    upgrade_database(db)
    with Session(db) as session:
        assert session.get(FeedImportRow, first.import_id).partner == "territoire"
    changed = [list(r) for r in rows[:30]]
    changed[0][11] = "CHRS Les Tilleuls"
    later = _import(db, _write(tmp_path / "fevrier.csv", header, changed), "si_siao")
    assert (later.rows_updated, later.rows_imported, later.rows_already_present) == (1, 0, 29)
    assert not any("Premier fichier" in i.message for i in later.issues)
