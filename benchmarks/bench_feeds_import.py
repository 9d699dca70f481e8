"""Import 1,000,000 partner rows (SI-SIAO layout, cp1252, ``;``) and print rows/s and peak memory.

    python benchmarks/bench_feeds_import.py [--rows 1000000] [--database-url URL]

The file is synthesised directly (fictitious names from Faker, seeded) in the parent process;
the import runs in a child process so that its peak memory (max RSS) is measured alone. The
default database is a fresh SQLite file; pass a PostgreSQL URL to measure the server instead
(the server's own processes are not counted).

The importer reads a large file in a worker process of its own (`observatoire.feeds.
reader_process`): CPU time and memory are those of the import process plus its worker
(``RUSAGE_CHILDREN`` of the import process, which waits for its worker). The peak memory
printed is the sum of the two peaks, an upper bound of what both held at the same moment.
Target: at least 20,000 rows/s and under 2 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

COMMUNES = ["Dijon", "Chenôve", "Talant", "Quetigny", "Longvic", "Saint-Apollinaire",
            "Chevigny-Saint-Sauveur", "Fontaine-lès-Dijon", "21000", "Neuilly-Crimolois"]


def synthesise(path: Path, rows: int, seed: int = 2026) -> None:
    from faker import Faker

    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    last = np.array([fake.last_name() for _ in range(3000)])
    first = np.array([fake.first_name() for _ in range(1500)])
    births = pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, rows), "D")
    demands = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), "D")
    frame = pd.DataFrame({
        "N° demande": [f"DEM-{i:08d}" for i in range(rows)],
        "N° usager SI-SIAO": rng.integers(1_000_000, 9_999_999, rows).astype(str),
        "Nom": last[rng.integers(0, len(last), rows)],
        "Prénom": first[rng.integers(0, len(first), rows)],
        "Date de naissance": births.strftime("%d/%m/%Y"),
        "Sexe": np.where(rng.random(rows) < 0.75, "Homme", "Femme"),
        "Composition familiale": "Personne seule",
        "Nombre d'enfants": rng.integers(0, 4, rows).astype(str),
        "Commune": np.array(COMMUNES)[rng.integers(0, len(COMMUNES), rows)],
        "Date de la demande": demands.strftime("%d/%m/%Y"),
        "Type de demande": np.where(rng.random(rows) < 0.7, "Urgence", "Insertion"),
        "Orientation": "Sans solution",
        "Statut": "Sans solution",
        "Date d'orientation": "",
    })
    frame.to_csv(path, sep=";", index=False, encoding="cp1252", errors="replace")


def run_import(path: Path, url: str) -> None:
    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed
    from observatoire.store.db import make_engine, upgrade_database

    engine = make_engine(url)
    upgrade_database(engine)
    key = bytes(range(32))
    load_before = os.getloadavg()
    start, cpu_start = time.perf_counter(), time.process_time()
    children_start = _cpu(resource.RUSAGE_CHILDREN)
    report = import_feed(engine, path, get_format("si_siao"), key, actor="benchmark")
    elapsed, own_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    worker_cpu = _cpu(resource.RUSAGE_CHILDREN) - children_start
    cpu = own_cpu + worker_cpu
    load_after = os.getloadavg()
    print(f"{report.rows_imported} lignes importées sur {report.rows_read} en {elapsed:.1f} s : "
          f"{report.rows_read / elapsed:,.0f} lignes/s ({report.errors} erreurs, "
          f"{report.warnings} avertissements)".replace(",", " "))
    # The machine may be shared: CPU time per row (all threads of the import) is the figure
    # that does not depend on the other jobs; the load average says how busy the cores were.
    rows = max(report.rows_read, 1)
    per_core = f"{rows / cpu:,.0f}".replace(",", " ")
    print(f"Temps CPU de l'import : {cpu:.1f} s, {cpu / rows * 1e6:.1f} µs par ligne "
          f"({per_core} lignes/s par cœur occupé), dont processus de lecture {worker_cpu:.1f} s "
          f"({worker_cpu / rows * 1e6:.1f} µs par ligne) et processus d'import {own_cpu:.1f} s "
          f"({own_cpu / rows * 1e6:.1f} µs par ligne) ; charge de la machine (1 min) : "
          f"{load_before[0]:.2f} avant, {load_after[0]:.2f} après, {os.cpu_count()} cœurs")
    busiest = max(own_cpu, worker_cpu)
    print(f"Débit si chaque processus avait un cœur à lui : {rows / busiest:,.0f} lignes/s "
          "(lignes / temps CPU du processus le plus chargé)".replace(",", " "))
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"Mémoire maximale : import {own_peak:.0f} Mio + lecture {worker_peak:.0f} Mio = "
          f"{own_peak + worker_peak:.0f} Mio (somme des pics, borne haute)")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_import(Path(args.child[0]), args.child[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "extraction_si_siao.csv"
        start = time.perf_counter()
        synthesise(path, args.rows)
        print(f"Fichier synthétique : {args.rows} lignes, {path.stat().st_size / 2**20:.0f} Mio "
              f"({time.perf_counter() - start:.1f} s)")
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        subprocess.run([sys.executable, __file__, "--child", str(path), url], check=True)


if __name__ == "__main__":
    main()
