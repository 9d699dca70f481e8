"""Attacks of issue 19 on what is stored and written: identifiers in the quarantine and the
reports whatever a row's shape, values repeated in messages, phone numbers and e-mail
addresses in free text, spreadsheet formulas through every CSV and XLSX writer."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from test_linkage import _people
from test_survey_factories import interview, make_night, sign_in_staff

from observatoire import feeds
from observatoire.cli import main
from observatoire.feeds.formats import get_format, load_format_file
from observatoire.feeds.importer import import_feed, pseudonymise_file
from observatoire.feeds.report import ERROR, ImportReport, Issue
from observatoire.formula import escape_cell, escape_frame, is_formula
from observatoire.masking import EMAIL_MASK, PHONE_MASK
from observatoire.store.db import upgrade_database
from observatoire.store.feeds_tables import FeedImportRow, FeedQuarantineRow

KEY = bytes(range(32))
TODAY = dt.date(2026, 3, 1)

# Fictitious people of a day centre's register (header of the shipped `accueil_jour`).
_ACCUEIL_HEADER = ("Nom,Prénom,Date de naissance,Sexe,Nationalité,Date d'inscription,"
                   "Domiciliation,Nombre de passages,Dernier passage")
_ACCUEIL_ROWS = [
    "Ben Ammar,Mustapha,1988-07-04,M,Marocaine,2025-02-02,oui,9,2025-08-02",
    # A comma in the name, unquoted: one field too many, every cell shifted.
    "Lamy, de la Tour,Timothée,1992-04-18,M,Française,2025-02-07,non,12,2025-03-08",
    # The name left out: one field short.
    "Benjmin,1979-11-03,M,Française,2025-02-09,oui,13,2025-05-22",
    # A birth date that does not exist (month and day swapped).
    "Jourdan,Gaspard,12/31/1987,M,Française,2025-02-09,oui,13,2025-05-22",
    "Ahmadi,Ahmet,1982-03-16,M,Afghane,2025-02-14,oui,12,2025-04-06",
]
_ACCUEIL_IDENTIFIERS = ["Lamy", "Tour", "Timothée", "1992-04-18", "Benjmin", "1979-11-03",
                        "Jourdan", "Gaspard", "12/31/1987", "1987"]

# A maraude log with a ";" header and "," rows (another export tool), and a row whose team
# name holds a ";" (its extra cell empty): its first name lands in the age column.
_MARAUDE = (
    "Date;Structure;Prénom ou surnom;Âge estimé;Sexe;Lieu;Commune;Chien\r\n"
    "29/01/2025,Samu social,Benjmin,50,H,Squat,Dijon,\r\n"
    "29/01/2025;Samu; social;Zabihullah;30;H;Squat;Dijon;\r\n"
    "30/01/2025;Samu social;Kiki;40;H;Rue;Dijon;non\r\n"
)
_MARAUDE_IDENTIFIERS = ["Benjmin", "Zabihullah"]


@pytest.fixture
def db(engine):
    upgrade_database(engine)
    return engine


def _import(engine, path: Path, feed_format, **kwargs) -> ImportReport:
    if isinstance(feed_format, str):
        feed_format = get_format(feed_format)
    return import_feed(engine, path, feed_format, KEY, today=TODAY,
                       departements=frozenset({"21"}), **kwargs)


def _everything_written(engine, report: ImportReport, tmp_path: Path) -> dict[str, str]:
    """What an import leaves about its rows: the quarantine table, the report stored with
    the import, the report on screen and the ``--report`` CSV."""
    report_csv = tmp_path / "rapport.csv"
    report.write_csv(report_csv)
    with Session(engine) as session:
        quarantine = [json.dumps([q.cells, q.issues], ensure_ascii=False)
                      for q in session.scalars(select(FeedQuarantineRow))]
        stored = [json.dumps(i.report, ensure_ascii=False)
                  for i in session.scalars(select(FeedImportRow))]
    return {"feed_quarantine": "\n".join(quarantine), "feed_import.report": "\n".join(stored),
            "écran": report.to_text(limit=1000),
            "--report": report_csv.read_text(encoding="utf-8-sig")}


def _leaks(texts: dict[str, str], identifiers: list[str]) -> list[tuple[str, str]]:
    return [(where, value) for where, written in texts.items() for value in identifiers
            if value.casefold() in written.casefold()]


def test_a_shifted_row_leaves_no_name_nor_date_in_the_quarantine_nor_the_reports(db, tmp_path):
    path = tmp_path / "accueil_jour_shifted.csv"
    path.write_text("\n".join([_ACCUEIL_HEADER, *_ACCUEIL_ROWS]) + "\n", encoding="utf-8")
    report = _import(db, path, "accueil_jour")
    assert report.rows_quarantined == 2
    written = _everything_written(db, report, tmp_path)
    assert _leaks(written, _ACCUEIL_IDENTIFIERS) == []
    with Session(db) as session:
        quarantined = {q.row_number: q.cells for q in session.scalars(select(FeedQuarantineRow))}
    # What the fix needs is kept: where, and how wide the row is against the header.
    assert quarantined[3]["champs_attendus"] == 9 and quarantined[3]["champs_trouves"] == 10
    assert quarantined[4]["champs_trouves"] == 8
    assert quarantined[3]["colonnes"] == _ACCUEIL_HEADER.split(",")


def test_a_maraude_with_another_separator_in_its_rows_leaves_no_first_name(db, tmp_path):
    path = tmp_path / "maraude_melangee.csv"
    path.write_bytes(_MARAUDE.encode("cp1252"))
    report = _import(db, path, "maraude")
    assert report.rows_read == 3 and report.rows_quarantined >= 1
    assert _leaks(_everything_written(db, report, tmp_path), _MARAUDE_IDENTIFIERS) == []


def test_a_bad_birth_date_is_named_in_its_message_without_the_date(db, tmp_path):
    path = tmp_path / "naissance.csv"
    path.write_text("\n".join([_ACCUEIL_HEADER, _ACCUEIL_ROWS[3]]) + "\n", encoding="utf-8")
    report = _import(db, path, "accueil_jour")
    issue = next(i for i in report.issues if i.column == "Date de naissance")
    assert issue.message.startswith("Date impossible") and "JJ/MM/AAAA" in issue.fix
    assert not re.search(r"\d", issue.message.split("Formats acceptés")[0])
    assert issue.value == "[masqué]"
    assert _leaks(_everything_written(db, report, tmp_path), ["12/31/1987", "1987"]) == []


def _format_with_a_comment(tmp_path: Path):
    yaml = tmp_path / "accueil_commentaire.yaml"
    original = (Path(feeds.__file__).parent / "formats" / "accueil_jour.yaml").read_text(
        encoding="utf-8")
    yaml.write_text(original.replace("name: accueil_jour", "name: accueil_commentaire")
                    + '  comment:\n    columns: ["Commentaire"]\n    type: text\n',
                    encoding="utf-8")
    return load_format_file(yaml)


def test_a_phone_number_and_an_e_mail_in_a_comment_are_stored_masked(db, tmp_path):
    feed_format = _format_with_a_comment(tmp_path)
    comment = "rappeler au 06 12 34 56 78 ou jean.dupont@example.org, orienté CHRS"
    path = tmp_path / "commentaires.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*_ACCUEIL_HEADER.split(","), "Commentaire"])
        for n, row in enumerate(_ACCUEIL_ROWS[:1] + _ACCUEIL_ROWS[4:]):
            writer.writerow([*row.split(","), comment if n == 0 else
                             f"+33 6 98 76 54 3{n} / 06.11.22.33.4{n} / 061122334{n}"])
    report = _import(db, path, feed_format)
    assert report.rows_imported == 2
    with db.connect() as connection:
        stored = "\n".join(str(row) for table in ("source_record", "feed_import", "audit_log")
                           for row in connection.execute(text(f"SELECT * FROM {table}")))
    for clear in ("06 12 34 56 78", "jean.dupont", "example.org", "98 76 54", "06.11.22",
                  "061122334"):
        assert clear not in stored
    attributes = [r[0] for r in db.connect().execute(text("SELECT attributes FROM source_record"))]
    comments = sorted(json.loads(a)["comment"] if isinstance(a, str) else a["comment"]
                      for a in attributes)
    assert comments[1] == f"rappeler au {PHONE_MASK} ou {EMAIL_MASK}, orienté CHRS"
    assert comments[0] == f"{PHONE_MASK} / {PHONE_MASK} / {PHONE_MASK}"
    assert sum("Téléphone ou adresse électronique" in i.message for i in report.issues) == 2


def test_a_volunteer_comment_is_stored_without_phone_number_nor_e_mail(tmp_path):
    from observatoire.countnight import corrections, entry
    from observatoire.store.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'nuit.sqlite'}")
    night = make_night(engine)
    receipt = entry.submit(engine, interview(
        night.teams[0], comment="a donné son 06 12 34 56 78 et jean.dupont@example.org"))
    assert any(w.question == "comment" for w in receipt.warnings)
    entries = corrections.team_entries(engine, night.teams[0])
    record = corrections.team_record(engine, night.teams[0], int(entries["id"].iloc[0]))
    assert record["comment"] == f"a donné son {PHONE_MASK} et {EMAIL_MASK}"
    with engine.connect() as connection:
        stored = "\n".join(str(row) for row in connection.execute(
            text("SELECT * FROM observation")))
    assert "06 12 34 56 78" not in stored and "jean.dupont" not in stored
    engine.dispose()


# --- spreadsheet formulas through every writer ---------------------------------------------

PAYLOADS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3+cmd|'x'!A0", "@SUM(A1)", "\t=1", "\r=1+1",
            "\n=1+1", '=HYPERLINK("http://x","y")']
# A cell may start with + or - only as a number (-12,5); never with the others.
_FORMULA_START = ("=", "@", "\t", "\r", "\n")


def test_the_formula_check_and_its_escape():
    for payload in PAYLOADS + [" =1", "\xa0=1", "cmd|' /C calc'!A0"]:
        assert is_formula(payload) or payload[0] in "\t\r\n", payload
        assert escape_cell(payload).startswith("'")
    for plain in ["-3", "-1,5", "+2", "-", "Dupont", "1 000", "Saint-Apollinaire"]:
        assert not is_formula(plain) and escape_cell(plain) == plain
    frame = escape_frame(pd.DataFrame({"n": [-3, 4], "t": ["-3", "=1"]}))
    assert frame["n"].tolist() == [-3, 4] and frame["t"].tolist() == ["-3", "'=1"]


def _csv_cells(path_or_text: Path | str, delimiter: str = ",") -> list[str]:
    if isinstance(path_or_text, Path):
        path_or_text = path_or_text.read_bytes().decode("utf-8-sig")
    rows = csv.reader(path_or_text.splitlines(keepends=True) if path_or_text else [],
                      delimiter=delimiter)
    return [cell for row in rows for cell in row]


def _report_csv(tmp_path: Path) -> list[str]:
    report = ImportReport("f.csv", "si_siao")
    for payload in PAYLOADS:
        report.add(Issue(ERROR, payload, 2, payload, payload, payload, payload))
    report.write_csv(tmp_path / "rapport.csv")
    return _csv_cells(tmp_path / "rapport.csv", ";")


def _partner_file(tmp_path: Path) -> Path:
    path = tmp_path / "accueil.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_ACCUEIL_HEADER.split(","))
        for n, payload in enumerate(PAYLOADS):
            for column in (0, 4):  # a name (identifier), the nationality (kept in clear)
                cells = _ACCUEIL_ROWS[0].split(",")
                cells[column] = payload
                cells[1] = f"Prénom{n}{column}"
                writer.writerow(cells)
    return path


def _pseudonymise(tmp_path: Path) -> list[str]:
    output = tmp_path / "pseudo.csv"
    pseudonymise_file(_partner_file(tmp_path), get_format("accueil_jour"), KEY, output,
                      departements=frozenset({"21"}), today=TODAY)
    return _csv_cells(output, ";")


def _records(tmp_path: Path) -> Path:
    people = _people()
    for n, payload in enumerate(PAYLOADS):
        people.loc[n, "record_id"] = f"{payload}{n}"
        people.loc[n + 8, "night_place"] = payload
    path = tmp_path / "records.csv"
    people.to_csv(path, index=False)
    return path


def _link(tmp_path: Path) -> list[str]:
    assert main(["link", str(_records(tmp_path)), "--output", str(tmp_path / "p.csv")]) == 0
    return _csv_cells(tmp_path / "p.csv")


def _link_review(tmp_path: Path) -> list[str]:
    # The file of --review is written by `write_clusters` from the pairs to review.
    from observatoire.linkage.records import write_clusters

    pairs = pd.DataFrame({"record_id_a": PAYLOADS, "record_id_b": PAYLOADS[::-1],
                          "probability": [-0.5] * len(PAYLOADS)})
    write_clusters(pairs, tmp_path / "revue.csv")
    cells = _csv_cells(tmp_path / "revue.csv")
    assert "-0.5000" in cells  # a number stays a number
    return cells


def _publication():
    from observatoire.publish.disclosure import DisclosureRules
    from observatoire.publish.report import Publication

    texts = PAYLOADS
    n = len(texts)
    return Publication(
        territory=PAYLOADS[7], campaign=PAYLOADS[7], night_date=dt.date(2026, 1, 29),
        rules=DisclosureRules(),
        key_figures=pd.DataFrame({"indicateur": texts, "valeur": texts, "unite": texts}),
        communes=pd.DataFrame({"code": texts, "nom": texts, "population": range(n),
                               "personnes": pd.array(range(n), dtype="Int64"),
                               "pour_10000": [-1.5] * n, "statut": texts}),
        places=pd.DataFrame({"libelle": texts, "personnes": range(n), "statut": texts}),
        trend=pd.DataFrame({"campagne": texts, "nuit": texts, "personnes": range(n),
                            "evolution_pct": [-12.5] * n, "precaution": texts}),
        profile=pd.DataFrame({"indicateur": texts, "part": [0.5] * n}),
        notes=list(texts),
    )


def _publish_csv(tmp_path: Path) -> list[str]:
    from observatoire.publish.export import write_csv

    cells = _csv_cells(write_csv(_publication(), tmp_path), ";")
    assert "-1,5" in cells
    return cells


def _publish_page_csv(_tmp_path: Path) -> list[str]:
    from observatoire.publish.export import commune_csv

    return _csv_cells(commune_csv(_publication()).decode("utf-8-sig"), ";")


def _publish_xlsx(tmp_path: Path) -> list[str]:
    from observatoire.publish.export import write_xlsx

    workbook = load_workbook(write_xlsx(_publication(), tmp_path))
    cells, numbers = [], []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    cells.append(cell.value)
                elif isinstance(cell.value, int | float):
                    numbers.append(cell.value)
    assert -12.5 in numbers and -1.5 in numbers  # negative numbers stay numbers
    return cells


WRITERS = {
    "report-csv": _report_csv,
    "pseudonymise": _pseudonymise,
    "link": _link,
    "link-review": _link_review,
    "publish-csv": _publish_csv,
    "publish-xlsx": _publish_xlsx,
    "publication-page-csv": _publish_page_csv,
}


@pytest.mark.parametrize("writer", list(WRITERS), ids=list(WRITERS))
def test_no_formula_through_any_writer(writer, tmp_path):
    cells = WRITERS[writer](tmp_path)
    assert cells
    running = [c for c in cells if c.startswith(_FORMULA_START) or is_formula(c)]
    assert running == []


_TEST_INPUTS = {"accueil.csv", "records.csv"}


def _publish_html(tmp_path: Path) -> None:
    import geopandas as gpd

    from observatoire.publish.export import write_html

    write_html(_publication(), gpd.GeoDataFrame({"code": []}, geometry=[]), tmp_path)


def _link_summary(tmp_path: Path) -> None:
    assert main(["link", str(_records(tmp_path)), "--output", str(tmp_path / "p.csv"),
                 "--summary", str(tmp_path / "resume.json")]) == 0  # fmt: skip


@pytest.mark.parametrize("writer", [*WRITERS, "publish-html", "link-summary"])
def test_every_written_file_is_readable_by_its_owner_only(writer, tmp_path):
    """Reports, pseudonymised files, persons and review files describe people: created
    0600 as the database is, whatever the umask, and a file replaced becomes 0600."""
    writers = {**WRITERS, "publish-html": _publish_html, "link-summary": _link_summary}
    old = os.umask(0o022)
    try:
        if writer in ("link", "link-summary"):
            (tmp_path / "p.csv").write_text("ancien")  # an earlier output, 0644: replaced
        writers[writer](tmp_path)
    finally:
        os.umask(old)
    written = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()
               if path.is_file() and path.name not in _TEST_INPUTS}  # fmt: skip
    if writer != "publication-page-csv":  # the page's download is bytes, not a file
        assert written, "the writer wrote a file"
    assert {name: oct(mode) for name, mode in written.items() if mode != 0o600} == {}


def test_the_import_blocks_every_payload_and_stores_none_as_a_formula(db, tmp_path):
    report = _import(db, _partner_file(tmp_path), "accueil_jour")
    assert report.rows_quarantined == 2 * len(PAYLOADS) and report.rows_imported == 0
    assert all("Formule de tableur" in i.message for i in report.issues)
    with Session(db) as session:
        cells = [c for q in session.scalars(select(FeedQuarantineRow)) for c in q.cells.values()]
    assert "[masqué]" in cells and any(c.startswith("'") for c in cells)
    assert [c for c in cells if c.startswith(_FORMULA_START) or is_formula(c)] == []


# --- the pages' downloads --------------------------------------------------------------------


def _page(name: str):
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(Path(__file__).resolve().parents[1] / "dashboards" / name),
                             default_timeout=60)


def test_the_team_leader_table_never_holds_a_live_formula(night_db):
    from observatoire.countnight import entry

    engine, made = night_db
    for payload in PAYLOADS:
        entry.submit(engine, interview(made.teams[0], comment=payload))
    at = _page("terrain.py")
    at.query_params["equipe"] = made.teams[0]
    at.run()
    assert not at.exception
    # The leader's list is a static table of coded fields: the free comments (and so the
    # payloads) are not in it, and nothing in it reads as a formula.
    table = at.table[0].value
    assert len(table) == len(PAYLOADS)
    cells = [str(c) for c in table.to_numpy().ravel()]
    assert not set(cells) & set(PAYLOADS)
    assert [c for c in cells if c.startswith(_FORMULA_START) or is_formula(c)] == []


def test_the_campaign_page_team_csv_never_holds_a_live_formula(night_db, monkeypatch):
    import streamlit

    from observatoire.countnight import team_sheets

    downloads: dict[str, object] = {}
    monkeypatch.setattr(streamlit, "download_button",
                        lambda label, data, *a, **k: downloads.setdefault(label, data))
    monkeypatch.setattr(team_sheets, "team_sheets_table", lambda *_a, **_k: pd.DataFrame({
        "team_code": PAYLOADS, "team_name": PAYLOADS, "sector_code": PAYLOADS,
        "commune_code": PAYLOADS, "commune": PAYLOADS}))
    at = _page("campagnes.py")
    sign_in_staff(at)
    at.run()
    assert not at.exception, at.exception
    data = downloads["Équipes et secteurs (CSV)"]
    data = data() if callable(data) else data  # built on the click
    cells = _csv_cells(data.decode("utf-8") if isinstance(data, bytes) else data)
    assert len(cells) == 5 * (len(PAYLOADS) + 1)  # five columns, a header and the rows
    assert [c for c in cells if c.startswith(_FORMULA_START) or is_formula(c)] == []


def test_a_file_without_header_line_names_no_date_in_its_refusal(db, tmp_path):
    # The first row of data is read as the header: its cells are listed as columns.
    path = tmp_path / "sans_entete.csv"
    path.write_text("\n".join(_ACCUEIL_ROWS) + "\n", encoding="utf-8")
    report = _import(db, path, "accueil_jour")
    assert report.status.startswith("refusé")
    assert any("colonnes trouvées" in i.fix for i in report.issues)
    assert _leaks(_everything_written(db, report, tmp_path),
                  ["1988-07-04", "2025-02-02", "2025-08-02"]) == []
