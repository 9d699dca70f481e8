"""Bad input and concurrent writers are harmless (issue 19, findings 8 to 10).

- A second writer waits for the first with a French line, and gives up with a French error;
  no traceback, SQL statement nor value ever reaches the user.
- A ``--report`` path that cannot be written is refused before anything is stored.
- Memory stays bounded: zip bombs, huge cells (feeds and `observatoire link`) are refused.
- A bad user format is skipped, the others load; a file that is not UTF-8 gets a French
  error; pydantic's and PyYAML's English never shows in a message.

Limits are lowered through the settings (environment variables read by
`observatoire.config`); nothing here measures wall-clock time. Partner files are written
by hand with fictitious people.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from observatoire.cli import main
from observatoire.config import InputLimits, load_secret_key
from observatoire.feeds.formats import (
    FORMATS_DIR,
    FeedFormatError,
    format_problems,
    get_format,
    list_formats,
)
from observatoire.feeds.reading import read_table
from observatoire.pseudonymise import SecretKeyError
from observatoire.store.db import make_engine, upgrade_database
from observatoire.store.feeds_tables import FeedImportRow
from observatoire.store.tables import SourceRecordRow
from observatoire.survey.questionnaire import QuestionnaireError, load_questionnaire

KEY_HEX = bytes(range(32)).hex()
REPO = Path(__file__).resolve().parent.parent
# Pieces of English that pydantic, PyYAML, SQLAlchemy and the csv module put in their errors.
ENGLISH = ("Field required", "Input should", "Extra inputs", "expected", "while parsing",
           "while scanning", "field larger", "Traceback", "[SQL", "[parameters")
BUSY_LINE = "La base est occupée par une autre écriture (import en cours ?) : attente…"


def _calls_file(path: Path, rows: int = 5) -> Path:
    """A small 115 calls journal (fictitious callers)."""
    lines = ["N° appel;Date et heure;Prénom;Nom;Sexe;Commune"]
    lines += [f"{i:07d};29/01/2025 08:{i:02d};Prénom{i};Nomfictif{i};H;Dijon"
              for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A data directory of its own, its SQLite database at the newest schema, a key."""
    data = tmp_path / "data"
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.setenv("OBSERVATOIRE_SECRET_KEY", KEY_HEX)
    monkeypatch.delenv("OBSERVATOIRE_SECRET_KEY_FILE", raising=False)
    engine = make_engine(f"sqlite:///{data / 'observatoire.sqlite'}")
    upgrade_database(engine)
    engine.dispose()
    return data


def _count(data: Path, table) -> int:
    engine = make_engine(f"sqlite:///{data / 'observatoire.sqlite'}")
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(table))
    finally:
        engine.dispose()


def _hold_write_lock(data: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(data / "observatoire.sqlite", isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")  # the write lock, as a running import holds it
    return connection


def _start_import(data: Path, path: Path, step: str, longest: str) -> subprocess.Popen:
    env = {**os.environ, "OBSERVATOIRE_DATA_DIR": str(data), "OBSERVATOIRE_SECRET_KEY": KEY_HEX,
           "OBSERVATOIRE_LOCK_WAIT_STEP": step, "OBSERVATOIRE_LOCK_WAIT_MAX": longest,
           "PYTHONUNBUFFERED": "1"}
    env.pop("OBSERVATOIRE_DATABASE_URL", None)
    env.pop("OBSERVATOIRE_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "observatoire.cli", "feed", "import", str(path), "--format",
         "appels_115"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )


# --- finding 8: concurrent writers ------------------------------------------------------------


def test_a_second_writer_waits_with_a_french_line_then_imports(data_dir, tmp_path):
    lock = _hold_write_lock(data_dir)
    process = _start_import(data_dir, _calls_file(tmp_path / "appels.csv"), "0.2", "600")
    seen = []
    try:
        # Released only once the waiting writer has said it waits: no clock involved.
        for line in process.stderr:
            seen.append(line)
            if BUSY_LINE in line:
                break
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    out, err = process.communicate()
    stderr = "".join(seen) + err
    assert any(BUSY_LINE in line for line in seen), stderr
    assert process.returncode == 0, stderr
    assert "Statut : importé" in out
    assert "Traceback" not in stderr
    assert _count(data_dir, SourceRecordRow) == 5


def test_a_lock_held_past_the_longest_wait_gives_a_french_error(data_dir, tmp_path):
    lock = _hold_write_lock(data_dir)
    try:
        process = _start_import(data_dir, _calls_file(tmp_path / "appels.csv"), "0.1", "0.3")
        out, err = process.communicate()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert process.returncode != 0
    assert BUSY_LINE in err
    assert "La base est occupée depuis" in err and "OBSERVATOIRE_LOCK_WAIT_MAX" in err
    for english in ("Traceback", "database is locked", "INSERT", "SELECT", "[SQL"):
        assert english not in err + out
    assert _count(data_dir, FeedImportRow) == 0


def test_a_database_error_shows_no_traceback_nor_sql(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "observatoire.sqlite").write_bytes(b"ceci n'est pas une base SQLite" * 200)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.delenv("OBSERVATOIRE_DEBUG", raising=False)
    for command in (["db", "status"], ["db", "upgrade"], ["territory", "list"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "la base de données a refusé l'opération" in err
        assert "erreurs.log" in err
        for english in ("Traceback", "[SQL", "PRAGMA", "file is not a database"):
            assert english not in err
    log = data / "erreurs.log"
    assert "DatabaseError" in log.read_text(encoding="utf-8")  # the details are kept there
    assert oct(log.stat().st_mode)[-3:] == "600"


def test_statement_values_never_appear_in_a_database_error(engine):
    with pytest.raises(SQLAlchemyError) as info, engine.connect() as connection:
        connection.execute(text("INSERT INTO table_absente VALUES (:nom)"),
                           {"nom": "Benjamin-Fictif"})
    assert "Benjamin-Fictif" not in str(info.value)


# --- finding 9: the --report path --------------------------------------------------------------


@pytest.mark.parametrize("where", ["missing-folder", "a-folder", "under-a-file"])
def test_a_bad_report_path_is_refused_before_anything_is_stored(where, data_dir, tmp_path,
                                                                capsys):
    calls = _calls_file(tmp_path / "appels.csv")
    (tmp_path / "fichier.txt").write_text("x", encoding="utf-8")
    bad = {"missing-folder": tmp_path / "absent" / "rapport.csv",
           "a-folder": tmp_path,
           "under-a-file": tmp_path / "fichier.txt" / "rapport.csv"}[where]
    assert main(["feed", "import", str(calls), "--format", "appels_115",
                 "--report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Rapport (--report)" in err and "rien n'a été fait" in err
    assert _count(data_dir, FeedImportRow) == 0
    good = tmp_path / "rapport.csv"
    assert main(["feed", "import", str(calls), "--format", "appels_115",
                 "--report", str(good)]) == 0
    assert "Statut : importé" in capsys.readouterr().out
    assert good.is_file() and _count(data_dir, SourceRecordRow) == 5


@pytest.mark.parametrize("target", ["the-database", "the-input-file", "the-key-file"])
def test_a_report_path_onto_the_database_the_input_or_the_key_is_refused(
    target, data_dir, tmp_path, capsys, monkeypatch
):
    """A slip of the shell (tab completion) must not overwrite the database, the partner's
    file or the key with the report: each is refused before anything is read or stored."""
    calls = _calls_file(tmp_path / "appels.csv")
    key = tmp_path / "cle.key"
    key.write_text(KEY_HEX + "\n", encoding="utf-8")
    monkeypatch.delenv("OBSERVATOIRE_SECRET_KEY")
    monkeypatch.setenv("OBSERVATOIRE_SECRET_KEY_FILE", str(key))
    database = data_dir / "observatoire.sqlite"
    bad = {"the-database": database, "the-input-file": calls, "the-key-file": key}[target]
    before = bad.read_bytes()
    assert main(["feed", "import", str(calls), "--format", "appels_115",
                 "--report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Rapport (--report)" in err and "rien n'a été fait" in err
    assert bad.read_bytes() == before
    assert _count(data_dir, FeedImportRow) == 0


# --- finding 10: bounded memory ---------------------------------------------------------------


def _bomb_xlsx(path: Path, sheet_bytes: int) -> Path:
    """A workbook whose first sheet is a header then ``sheet_bytes`` of repeated rows: a few
    kilobytes once compressed."""
    seed = path.with_name("seed.xlsx")
    book = Workbook()
    book.active.append(["N° appel", "Date et heure", "Nom"])
    book.save(seed)
    row = b'<row><c t="inlineStr"><is><t>0000001</t></is></c></row>'
    with zipfile.ZipFile(seed) as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for part in source.infolist():
            if part.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(part, source.read(part))
                continue
            sheet = source.read(part).decode("utf-8")
            head, tail = sheet.split("</row>", 1)
            with bomb.open(part.filename, "w", force_zip64=True) as handle:
                handle.write((head + "</row>").encode("utf-8"))
                block = row * (1 << 14)
                for _ in range(sheet_bytes // len(block)):
                    handle.write(block)
                handle.write(tail.encode("utf-8"))
    seed.unlink()
    return path


def test_an_xlsx_zip_bomb_is_refused_before_it_is_read(tmp_path, monkeypatch):
    bomb = _bomb_xlsx(tmp_path / "bombe.xlsx", 50 << 20)
    assert bomb.stat().st_size < 500_000  # 50 MB of sheet in a small file
    monkeypatch.setenv("OBSERVATOIRE_XLSX_MAX_BYTES", str(10 << 20))
    table = read_table(bomb)
    assert table.fatal and not table.headers
    assert "Classeur trop volumineux une fois décompressé" in table.issues[0].message
    assert "OBSERVATOIRE_XLSX_MAX_BYTES" in table.issues[0].message
    # Under the size limit, the compression ratio still gives it away.
    monkeypatch.setenv("OBSERVATOIRE_XLSX_MAX_BYTES", str(1 << 30))
    table = read_table(bomb)
    assert table.fatal and "se décompresse" in table.issues[0].message
    # An ordinary workbook under the same limits is read.
    book = Workbook()
    book.active.append(["N° appel", "Nom"])
    book.active.append(["0000001", "Nomfictif"])
    book.save(tmp_path / "ordinaire.xlsx")
    ordinary = read_table(tmp_path / "ordinaire.xlsx", InputLimits(xlsx_max_bytes=1 << 20))
    assert not ordinary.fatal and list(ordinary.rows()) == [(2, ["0000001", "Nomfictif"])]


def test_a_huge_csv_cell_refuses_the_file_in_french(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_FEED_CELL_MAX_CHARS", "1000")
    path = tmp_path / "appels.csv"
    path.write_text("N° appel;Date et heure;Prénom;Nom;Sexe;Commune\n"
                    "0000001;29/01/2025 08:00;Lina;Nomfictif;F;Dijon\n"
                    f"0000002;29/01/2025 08:01;Paul;{'N' * 1500};H;Dijon\n", encoding="utf-8")
    assert main(["feed", "import", str(path), "--format", "appels_115"]) == 1
    captured = capsys.readouterr()
    assert "refusé" in captured.out
    assert "Cellule trop longue, plus de 1000 caractères" in captured.out
    assert "ligne 3, guillemet jamais refermé" in captured.out
    for english in ENGLISH:
        assert english not in captured.out + captured.err
    assert _count(data_dir, SourceRecordRow) == 0


def _records(path: Path, last_name: str = "Martin", rows: int = 6) -> Path:
    lines = ["record_id,source,first_name,last_name,birth_date,sex"]
    lines += [f"r{i},maraude,Jean{i % 2},{last_name if i == 3 else 'Nomfictif'},"
              f"1980-01-0{1 + i % 5},M" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_link_refuses_a_huge_name_cell_naming_line_and_column(tmp_path, capsys):
    records = _records(tmp_path / "enregistrements.csv", last_name="N" * 5000)
    output = tmp_path / "personnes.csv"
    assert main(["link", str(records), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert str(records) in err
    assert "colonne last_name, ligne 5 (5000 caractères, au plus 1000)" in err
    assert "Traceback" not in err and not output.exists()


def test_link_cell_limits_come_from_the_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_LINK_NAME_MAX_CHARS", "5")
    records = _records(tmp_path / "enregistrements.csv", last_name="Martinez")
    assert main(["link", str(records), "--output", str(tmp_path / "p.csv")]) == 2
    assert "colonne last_name, ligne 2 (9 caractères, au plus 5)" in capsys.readouterr().err


def test_link_of_a_header_only_file_is_refused_and_leaves_the_output_as_it_was(tmp_path,
                                                                               capsys):
    records = tmp_path / "entete.csv"
    records.write_text("record_id,source,first_name,last_name,birth_date,sex\n",
                       encoding="utf-8")
    output = tmp_path / "personnes.csv"
    output.write_text("résultat précédent\n", encoding="utf-8")
    assert main(["link", str(records), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert "seulement l'en-tête" in err and "Traceback" not in err
    assert output.read_text(encoding="utf-8") == "résultat précédent\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entete.csv", "personnes.csv"]


def test_link_writes_its_outputs_whole(tmp_path, capsys):
    records = _records(tmp_path / "enregistrements.csv")
    output, review = tmp_path / "personnes.csv", tmp_path / "revue.csv"
    assert main(["link", str(records), "--output", str(output), "--review", str(review)]) == 0
    assert output.read_text(encoding="utf-8").startswith("record_id,person_id")
    assert review.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "enregistrements.csv", "personnes.csv", "revue.csv"]  # no temporary file left


# --- finding 10: formats, encodings, French messages ---------------------------------------------


def _user_format(folder: Path, name: str) -> Path:
    text = (FORMATS_DIR / "appels_115.yaml").read_text(encoding="utf-8")
    path = folder / f"{name}.yaml"
    path.write_text(text.replace("name: appels_115", f"name: {name}"), encoding="utf-8")
    return path


def test_a_bad_user_format_is_skipped_and_the_others_still_load(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "formats"
    folder.mkdir()
    _user_format(folder, "appels_cd21")
    (folder / "casse.yaml").write_text("name: casse\nfields: [oups\n", encoding="utf-8")
    (folder / "latin1.yaml").write_bytes("name: latin1\nlabel: Accueil général\n"
                                         .encode("cp1252"))
    monkeypatch.setenv("OBSERVATOIRE_FEED_FORMATS_DIR", str(folder))
    formats = list_formats()
    shipped = {p.stem for p in FORMATS_DIR.glob("*.yaml")}
    assert shipped | {"appels_cd21"} <= set(formats)
    problems = format_problems()
    assert len(problems) == 2
    assert any("casse.yaml" in p and "ligne 3, colonne 1" in p for p in problems)
    assert any("latin1.yaml" in p and "UTF-8" in p for p in problems)
    assert get_format("appels_cd21").name == "appels_cd21"
    assert main(["feed", "formats"]) == 0
    err = capsys.readouterr().err
    assert "avertissement : format ignoré" in err and "casse.yaml" in err
    for english in ENGLISH:
        assert english not in err


def test_a_format_file_not_in_utf8_gets_a_french_error(tmp_path):
    path = tmp_path / "mon_format.yaml"
    path.write_bytes("name: mon_format\nlabel: Équipe de rue\n".encode("cp1252"))
    with pytest.raises(FeedFormatError) as info:
        get_format(str(path))
    message = str(info.value)
    assert str(path) in message and "n'est pas en UTF-8" in message
    assert "enregistrez-le en UTF-8" in message


def test_a_questionnaire_not_in_utf8_gets_a_french_error(tmp_path):
    source = (REPO / "survey" / "ndls-2026.yaml").read_text(encoding="utf-8")
    path = tmp_path / "ndls-2026.yaml"
    path.write_bytes(source.encode("cp1252", errors="replace"))
    with pytest.raises(QuestionnaireError) as info:
        load_questionnaire(path)
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)


def test_a_key_file_not_in_utf8_gets_a_french_error(tmp_path, monkeypatch, capsys):
    path = tmp_path / "cle.txt"
    path.write_bytes("phrase secrète très longue pour le territoire\n".encode("cp1252"))
    with pytest.raises(SecretKeyError) as info:
        load_secret_key(str(path), environ={})
    assert str(path) in str(info.value) and "UTF-8" in str(info.value)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path / "data"))
    calls = _calls_file(tmp_path / "appels.csv")
    assert main(["feed", "import", str(calls), "--format", "appels_115",
                 "--key-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert "UTF-8" in err and "Traceback" not in err


@pytest.mark.parametrize(("yaml_text", "french"), [
    pytest.param("name: sans_libelle\nkind: decomptes\nfields: {}\n",
                 "label : champ obligatoire manquant", id="missing-field"),
    pytest.param("name: x\nlabel: X\nkind: decomptes\ncouleur: bleu\nfields: {}\n",
                 "couleur : clé inconnue", id="unknown-key"),
    pytest.param("name: x\nlabel: X\nkind: decomptes\nfields:\n  night_date:\n"
                 "    columns: [Date]\n    type: date\n    required: peut-être\n",
                 "fields.night_date.required : oui/non attendu", id="wrong-type"),
    pytest.param("name: x\nlabel: X\nkind: sondage\nfields: {}\n",
                 "kind : valeur non permise (valeurs possibles : 'personnes', 'decomptes')",
                 id="not-allowed"),
    pytest.param("name: x\nlabel: [X\nkind: decomptes\n", "ligne 3, colonne 5",
                 id="yaml-syntax"),
])
def test_format_errors_are_in_french(yaml_text, french, tmp_path):
    path = tmp_path / "format.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(FeedFormatError) as info:
        get_format(str(path))
    message = str(info.value)
    assert french in message
    for english in ENGLISH:
        assert english not in message


def test_an_odk_export_zip_bomb_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    from observatoire.survey.xlsform import ExportFormatError, read_odk_central

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open("ndls-2026.csv", "w") as handle:
        handle.write(b"meta-instanceID,team_code\n")
        block = b"uuid:00000000-0000-0000-0000-000000000000,EQ01\n" * (1 << 14)
        for _ in range((20 << 20) // len(block)):
            handle.write(block)
    monkeypatch.setenv("OBSERVATOIRE_XLSX_MAX_BYTES", str(5 << 20))
    with pytest.raises(ExportFormatError, match="trop volumineux une fois décompressé"):
        read_odk_central(path, load_questionnaire("ndls-2026"))


@pytest.mark.postgres
def test_a_postgresql_error_shows_no_traceback_nor_sql(postgres_url, tmp_path, monkeypatch,
                                                        capsys):
    engine = make_engine(postgres_url)
    upgrade_database(engine)
    with engine.begin() as connection:  # a schema broken behind the toolkit's back
        connection.execute(text("ALTER TABLE feed_import RENAME TO feed_import_ancienne"))
    engine.dispose()
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("OBSERVATOIRE_SECRET_KEY", KEY_HEX)
    monkeypatch.delenv("OBSERVATOIRE_DEBUG", raising=False)
    calls = _calls_file(tmp_path / "appels.csv")
    assert main(["feed", "import", str(calls), "--format", "appels_115"]) == 2
    err = capsys.readouterr().err
    assert "la base de données a refusé l'opération (UndefinedTable)" in err
    for english in ("Traceback", "[SQL", "SELECT", "feed_import", "does not exist"):
        assert english not in err
    assert "feed_import" in (tmp_path / "data" / "erreurs.log").read_text(encoding="utf-8")


def test_a_csv_line_without_end_is_refused_in_french(data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVATOIRE_FEED_CELL_MAX_CHARS", "1000")
    path = tmp_path / "appels.csv"
    path.write_text("N° appel;Date et heure;Prénom;Nom;Sexe;Commune\n"
                    "0000001;29/01/2025 08:00;Lina;Nomfictif;F;Dijon\n" + ";" * 5000 + "\n",
                    encoding="utf-8")
    assert main(["feed", "import", str(path), "--format", "appels_115"]) == 1
    captured = capsys.readouterr()
    assert "Ligne trop longue, plus de 2000 caractères : ligne 3 du fichier" in captured.out
    assert "Traceback" not in captured.err
    assert _count(data_dir, SourceRecordRow) == 0
