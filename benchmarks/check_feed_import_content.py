"""Check that two versions of the importer store the same thing, row for row.

    python benchmarks/check_feed_import_content.py --old /path/to/a/checkout/of/main
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Made for changes that should only make the import faster. Builds, in a temporary folder, a
messy 40,000-row SI-SIAO extract (the benchmark's rows, seeded, with a postcode column, bad
names, dates, sexes, communes, numbers and codes, spreadsheet formulas, rows of the wrong
width, duplicate rows) and a later extract overlapping half of it with changed statuses
(and, in some of those rows, the sex, birth date or commune emptied), plus the generator's
files of the other formats (20,000 people); imports them all into a fresh database with the
old code, then with this checkout's, and compares every table's rows (ids and timestamps
aside) and the reports. With ``--database-url`` (a PostgreSQL server), two fresh databases
are created on it, and dropped afterwards. Exits 1 on a difference, and says what differs,
table by table and report by report.

Against code older than migration 0014 (2026-12-03), these differences are intended: the
schema (``alembic_version``, ``feed_import``'s partner, ``feed_import_previous`` holding one
row per updated record), the audit entries (partner, ``valeurs_conservees``), rows with extra
empty cells quarantined ("17 champs au lieu de 15") instead of imported, and the later
extract's emptied cells keeping the stored values (``valeurs_conservees``). The row keys of
the default partner are the same.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
TODAY = dt.date(2026, 1, 15)
# Columns whose values legitimately differ between two imports of the same files.
_SKIPPED_COLUMNS = {"id", "imported_at", "at"}
# What a cell may become on a row that goes wrong (column index in the extract, values).
_FAULTS = [
    (2, ["", "123", "  dupont ", "O'neil", "ben salah", "Élodie\xa0", "=SUM(A1)", "Zoé-Ève"]),
    (3, ["", "Jean-Noël", "@cmd", " Luc", "+HYPERLINK(1)", "-x", "Ana Maria"]),
    (4, ["31/02/1980", "1980", "01/01/1975", "00/00/1960", "12/05/85", "01/01/2030", "abc",
         "1890-03-04", "", "1/2/1970", "05/07/1988 10:30", "1900-01-01"]),
    (5, ["X", "", "H", "femme", "F", "M"]),
    (8, ["Saint-Apollinaire", "Paris 12e", "Dijonn", "", "21231", "Beaune", "Lyon 3",
         "Plombières-lès-Dijon", "2100", "Marsannay la Côte"]),
    (7, ["-1", "2,0", "abc", "", "1 000", "3.5"]),
    (10, ["", "32/13/2025", "2025", "15/03/25", "2099-01-01"]),
    (11, ["Autre", "", "URGENCE"]),
    (13, ["Orientée", "bizarre", "", "Annulée"]),
    (14, ["15/03/2025", "garbage", "2024-06-01"]),
    (0, [""]),
    (1, ["", " 42 "]),
    (6, ["Couple avec enfant(s)", "Inconnue", ""]),
    (12, ["CHRS", "", "=1+1"]),
]  # fmt: skip


def build_files(folder: Path) -> list[tuple[str, Path]]:
    """The files to import, in order, with their formats (see module doc)."""
    sys.path.insert(0, str(HERE.parent))
    from bench_feeds_import import synthesise

    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.geo.territories import load_reference_territory
    from observatoire.synthetic import generate_sample, write_sample

    clean = folder / "propre.csv"
    synthesise(clean, 50_000)
    with clean.open(encoding="cp1252", newline="") as handle:
        header, *body = list(csv.reader(handle, delimiter=";"))
    rnd = random.Random(7)
    header.insert(9, "Code postal")
    messy: list[list[str]] = []
    for row in body:
        row.insert(9, rnd.choice(["", "", "21000", "21300", "2100", "abcde", "21800"]))
        if rnd.random() < 0.3:
            for _ in range(rnd.randint(1, 3)):
                column, values = rnd.choice(_FAULTS)
                row[column] = rnd.choice(values)
        wrong_width = rnd.random()
        if wrong_width < 0.003:
            row = row[:5]
        elif wrong_width < 0.006:
            row = [*row, "extra"]
        elif wrong_width < 0.009:
            row = [*row, "", ""]
        messy.append(row)
        if rnd.random() < 0.005:
            messy.append(list(rnd.choice(messy)))
    later = [list(r) for r in messy[20_000:]]
    for row in later:
        if len(row) > 13 and rnd.random() < 0.1:
            row[13] = rnd.choice(["Orientée", "Refusée", "En attente"])
    # Cells the later extract lost (sex, birth date, commune): since 2026-12-03 the stored
    # values are kept, with a warning (own generator: the draws above stay the same).
    lost = random.Random(8)
    for row in later:
        if len(row) > 13 and lost.random() < 0.05:
            row[13] = "Orientée"
            for column in lost.sample([4, 5, 8], lost.randint(1, 3)):
                row[column] = ""
    extracts = []
    for name, rows in (("extrait_1.csv", messy[:40_000]), ("extrait_2.csv", later)):
        with (folder / name).open("w", encoding="cp1252", errors="replace", newline="") as out:
            writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
        extracts.append(("si_siao", folder / name))
    communes = load_reference_territory("dijon-metropole")
    sample = generate_sample(communes, generate_grid_sectors(communes, 1000), seed=11,
                             n_people=20_000)
    files = write_sample(sample, folder / "echantillon")
    return extracts + [(name, files[name]) for name in (
        "appels_115", "maraude", "accueil_jour", "si_siao", "decomptes_lieux")]


def dump(url: str, output: Path, files: list[tuple[str, Path]]) -> None:
    """Import ``files`` into the fresh database ``url`` with the code on ``sys.path``; write
    every table's rows (see `_SKIPPED_COLUMNS`) and the reports to ``output`` as JSON."""
    from sqlalchemy import inspect, text

    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed
    from observatoire.store.db import make_engine, upgrade_database

    engine = make_engine(url)
    upgrade_database(engine)
    content: dict[str, object] = {"reports": [
        import_feed(engine, path, get_format(name), bytes(range(32)), actor="controle",
                    today=TODAY).to_json()
        for name, path in files
    ]}
    with engine.connect() as connection:
        for table in sorted(inspect(engine).get_table_names()):
            columns = [c["name"] for c in inspect(engine).get_columns(table)
                       if c["name"] not in _SKIPPED_COLUMNS]
            rows = connection.execute(text(f"SELECT {', '.join(columns)} FROM {table}"))
            content[table] = sorted(json.dumps(list(r), default=str, ensure_ascii=False)
                                    for r in rows)
    engine.dispose()
    output.write_text(json.dumps(content, ensure_ascii=False))


def _import_with(code: Path, url: str, output: Path, files: list[tuple[str, Path]]) -> None:
    environment = {**os.environ, "PYTHONPATH": str(code)}
    arguments = [sys.executable, str(HERE), "--dump", url, str(output)]
    arguments += [f"{name}={path}" for name, path in files]
    # Run from the output's folder: the reading process of a checkout older than 2026-12-03
    # is started with ``python -m`` without ``-P``, which imports a package found in the
    # current folder first.
    subprocess.run(arguments, check=True, env=environment, cwd=output.parent)


def _fresh_database(server_url: str, name: str, drop_only: bool = False) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        if not drop_only:
            connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


def _differences(old: dict, new: dict, tables: list[str]) -> list[str]:
    """What differs, table by table (rows only in one version) and report by report (counts
    and the kinds of problems whose numbers changed), to judge whether it is intended."""
    lines = []
    for table in tables:
        if table == "reports":
            continue
        before, after = set(old.get(table, [])), set(new.get(table, []))
        lines.append(f"{table} : {len(before - after)} lignes seulement avant, "
                     f"{len(after - before)} seulement après")
        columns_changed: dict[int, int] = {}
        for row_before, row_after in zip(sorted(before - after), sorted(after - before),
                                         strict=False):
            a, b = json.loads(row_before), json.loads(row_after)
            if len(a) == len(b):
                for index, (x, y) in enumerate(zip(a, b, strict=True)):
                    if x != y:
                        columns_changed[index] = columns_changed.get(index, 0) + 1
        if columns_changed:
            lines.append(f"  (colonnes différentes, par position : {columns_changed})")
    for number, (report_before, report_after) in enumerate(
            zip(old.get("reports", []), new.get("reports", []), strict=False)):
        if report_before == report_after:
            continue
        counts = {k: (report_before.get(k), v) for k, v in report_after.items()
                  if not isinstance(v, list | dict) and report_before.get(k) != v}
        kinds_before = {(k["gravite"], k["colonne"], k["probleme"]): k["nombre"]
                        for k in report_before.get("par_type", [])}
        kinds_after = {(k["gravite"], k["colonne"], k["probleme"]): k["nombre"]
                       for k in report_after.get("par_type", [])}
        kinds = {k: (kinds_before.get(k, 0), kinds_after.get(k, 0))
                 for k in set(kinds_before) | set(kinds_after)
                 if kinds_before.get(k, 0) != kinds_after.get(k, 0)}
        lines.append(f"rapport {number + 1} ({report_after.get('fichier')}) : {counts}")
        for kind, (a, b) in sorted(kinds.items()):
            lines.append(f"  {kind} : {a} -> {b}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, help="checkout of the code to compare with")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite files)")
    parser.add_argument("--dump", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dump:
        url, output, *specs = args.dump
        dump(url, Path(output), [(s.split("=", 1)[0], Path(s.split("=", 1)[1])) for s in specs])
        return 0
    if args.old is None:
        parser.error("--old is required")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = build_files(folder)
        dumps = {}
        for label, code in (("old", args.old.resolve()), ("new", HERE.parents[1])):
            # Named with the process id: two checks on one server never share a database.
            database = f"controle_import_{label}_{os.getpid()}"
            if args.database_url:
                url = _fresh_database(args.database_url, database)
            else:
                url = f"sqlite:///{folder / f'{label}.sqlite'}"
            try:
                _import_with(code, url, folder / f"{label}.json", files)
            finally:
                if args.database_url:
                    _fresh_database(args.database_url, database, True)
            dumps[label] = json.loads((folder / f"{label}.json").read_text())
    old, new = dumps["old"], dumps["new"]
    counts = {t: len(rows) for t, rows in new.items() if t != "reports" and rows}
    different = sorted(t for t in set(old) | set(new) if old.get(t) != new.get(t))
    if different:
        print(f"DIFFÉRENT : {', '.join(different)} (lignes : {counts})")
        for line in _differences(old, new, different):
            print(f"  {line}")
        return 1
    print(f"Identique, table par table et ligne par ligne : {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
