"""Import 1,000,000 partner rows (SI-SIAO layout, cp1252, ``;``) and print rows/s and peak memory.

    python benchmarks/bench_feeds_import.py [--rows 1000000] [--database-url URL]

The file is synthesised directly (fictitious names from Faker, seeded) in the parent process;
the import runs in a child process so that its peak memory (max RSS) is measured alone. The
default database is a fresh SQLite file (16 KiB pages, as every database file created since
`store.db.make_engine` sets them; a file created earlier keeps its 4 KiB pages); pass a
PostgreSQL URL to measure the server instead (the server's own processes are not counted).
The database holds the Dijon Métropole territory, as an observatory's does: the import ends
by computing the dashboards' stored aggregates (inside its transaction, before the commit),
a part the benchmark also measures on its own afterwards.

The importer reads a large file in a worker process of its own (`observatoire.feeds.
reader_process`): the CPU time is that of the import process plus its worker
(``RUSAGE_CHILDREN`` of the import process, which waits for its worker), and the peak memory
is the largest sum of the resident memory of the import process and of its worker, read from
``/proc`` every 0.1 s while the import runs (Linux). ``ru_maxrss`` is not used: a process
started by fork or vfork then exec inherits the peak of its parent at that moment (the 1.3 GB
of the synthesised frame, for the import process started here).
Target: at least 20,000 rows/s and under 2 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
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
    from sqlalchemy.orm import Session

    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed
    from observatoire.pipeline import import_reference_territory
    from observatoire.store.db import make_engine, upgrade_database
    from observatoire.store.feed_aggregates import refresh_feed_aggregates

    engine = make_engine(url)
    upgrade_database(engine)
    # As on an observatory's database: the territory is there, so the import ends by
    # computing the dashboards' stored aggregates (`store.feed_aggregates`), timed below.
    with Session(engine) as session, session.begin():
        import_reference_territory(session, "dijon-metropole")
    key = bytes(range(32))
    load_before = os.getloadavg()
    memory = _PeakMemory()
    start, cpu_start = time.perf_counter(), time.process_time()
    children_start = _cpu(resource.RUSAGE_CHILDREN)
    with memory:
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
    print(f"Mémoire maximale de l'import (processus d'import et de lecture ensemble) : "
          f"{memory.peak_total:.0f} Mio ; pics séparés : import {memory.own_hwm:.0f} Mio "
          f"(VmHWM), lecture {memory.peak_children:.0f} Mio ; ru_maxrss de l'import, gonflé "
          f"par celui du processus parent : "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} Mio")
    # The part of the import spent on the aggregates, measured again on its own.
    start, cpu_start = time.perf_counter(), time.process_time()
    with Session(engine) as session, session.begin():
        refresh_feed_aggregates(session)
    print(f"dont calcul des agrégats des tableaux de bord (mesuré à part) : "
          f"{time.perf_counter() - start:.1f} s, {time.process_time() - cpu_start:.1f} s CPU")


class _PeakMemory:
    """Largest resident memory of this process plus its children, sampled every 0.1 s."""

    def __init__(self) -> None:
        self.peak_total = self.peak_children = self.own_hwm = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.own_hwm = _status_mib(os.getpid(), "VmHWM")

    def _watch(self) -> None:
        while True:
            own = _status_mib(os.getpid(), "VmRSS")
            children = sum(_status_mib(pid, "VmRSS") for pid in _children(os.getpid()))
            self.peak_children = max(self.peak_children, children)
            self.peak_total = max(self.peak_total, own + children)
            if self._stop.wait(0.1):
                return


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # a thread that just ended
            continue
    return found


def _status_mib(pid: int, field: str) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # a child that just ended
        return 0.0
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


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
