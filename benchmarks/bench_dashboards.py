"""Render time of every dashboard page with 5 count nights and 300,000 feed records.

    python benchmarks/bench_dashboards.py [--records 300000] [--data-dir DIR]

Builds (once) a SQLite database in DIR (or the empty PostgreSQL database that
``OBSERVATOIRE_DATABASE_URL`` names) with the Dijon sample, four earlier synthetic
nights and ``--records`` linked partner records, then runs each page with Streamlit's
``AppTest`` as a staff member. Every page runs once first (imports, Streamlit start-up:
printed apart); then, before each page, the Streamlit caches are emptied, so its first
(cold) run is what a user waits for once the caches have expired (``ttl``) or the data
changed; the next three (warm) runs are what users see when they click around. Prints
seconds per page and the load average (other jobs on the machine slow every figure);
exits with 1 when a cold or warm render takes more than ``BUDGET_S``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PAGES = ["tableau.py", "indicateurs.py", "indicateurs.py#flux", "tableau_qualite.py",
         "publication.py", "accueil.py", "admin.py"]  # fmt: skip
# Sections a page computes only when shown, opened through their widget's state.
SECTIONS = {"flux": {"indicateurs_section": "Flux de la liste nominative"}}
BUDGET_S = 1.5


def build(data_dir: Path, records: int) -> None:
    from sqlalchemy import func, insert, select
    from sqlalchemy.orm import Session

    from observatoire.config import load_settings
    from observatoire.pipeline import open_database
    from observatoire.sample_database import add_sample_history, build_sample_database
    from observatoire.store.feed_aggregates import refresh_feed_aggregates
    from observatoire.store.tables import PersonRow, SourceRecordRow

    # OBSERVATOIRE_DATABASE_URL, when set, puts the benchmark on PostgreSQL.
    settings = load_settings({**os.environ, "OBSERVATOIRE_DATA_DIR": str(data_dir)})
    if build_sample_database(settings).created is False:
        return
    engine = open_database(settings)
    add_sample_history(engine, "dijon-metropole")
    rng = np.random.default_rng(300)
    people = records // 5
    sources = np.array(["si_siao", "appels_115", "maraude", "accueil_jour", "nuit"])
    communes = np.array(["21231", "21166", "21617", "21355", "21515"])
    start = np.datetime64("2025-02-01")
    with Session(engine) as session, session.begin():
        # The sample build links its own partner files: the synthetic people come after.
        first = int(session.scalar(select(func.coalesce(func.max(PersonRow.id), 0)))) + 1
        session.execute(insert(PersonRow), [
            {"id": first + i, "person_key": f"K{i:07d}", "confidence": float(c),
             "record_count": 1}
            for i, c in enumerate(rng.uniform(0.7, 1.0, people))
        ])  # fmt: skip
        owner = rng.integers(first, first + people, records)
        days = rng.integers(0, 365, records)
        kind = rng.integers(0, len(sources), records)
        batch = []
        for i in range(records):
            batch.append({
                "source": sources[kind[i]], "source_row_key": f"R{i:08d}",
                "commune_code": communes[i % len(communes)],
                "last_contact": (start + days[i]).astype(dt.date),
                "pseudonyms": {}, "attributes": {}, "person_id": int(owner[i]),
            })  # fmt: skip
            if len(batch) == 20_000:
                session.execute(insert(SourceRecordRow), batch)
                batch = []
        if batch:
            session.execute(insert(SourceRecordRow), batch)
        # What a feed import or a linkage run does at its end (the rows above skip both).
        began = time.perf_counter()
        refresh_feed_aggregates(session)
        print(f"agrégats des flux partenaires : {time.perf_counter() - began:.1f} s")
    engine.dispose()


def _page(page: str, user: dict):
    from streamlit.testing.v1 import AppTest

    script, _, section = page.partition("#")
    app = AppTest.from_file(str(REPO / "dashboards" / script), default_timeout=300)
    app.session_state["observatoire_user"] = user
    for key, value in SECTIONS.get(section, {}).items():
        app.session_state[key] = value
    return app


def run_pages(data_dir: Path, repeats: int = 3) -> dict[str, tuple[float, float, float, float]]:
    """Per page: cold and median warm wall seconds, then the same in CPU seconds of this
    process (less sensitive to other jobs on a shared machine)."""
    import streamlit as st

    os.environ["OBSERVATOIRE_DATA_DIR"] = str(data_dir)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    st.cache_resource.clear()
    user = {"login": "bench", "display_name": "Banc d'essai", "role": "admin"}
    # Start-up once (Streamlit's runtime, imports of plotly, geopandas...), as a server does
    # before its first visitor: what follows measures the data, not the imports.
    began = time.perf_counter()
    for page in PAGES:
        _page(page, user).run()
    print(f"démarrage (imports et premier affichage de chaque page) : "
          f"{time.perf_counter() - began:.1f} s")
    timings = {}
    for page in PAGES:
        st.cache_data.clear()  # cold: nothing cached by the pages run before
        runs, cpu = [], []
        for _ in range(1 + repeats):
            app = _page(page, user)
            began, began_cpu = time.perf_counter(), time.process_time()
            app.run()
            runs.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            if app.exception:
                raise RuntimeError(f"{page}: {app.exception[0].message}")
        timings[page] = (runs[0], statistics.median(runs[1:]), cpu[0], statistics.median(cpu[1:]))
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-tableaux-"))
    began = time.perf_counter()
    build(data_dir, args.records)
    print(f"base : {data_dir} ({time.perf_counter() - began:.0f} s de préparation)")
    load_before = os.getloadavg()[0]
    timings = run_pages(data_dir)
    print(f"{'page':<22} {'à froid (s)':>12} {'à chaud (s)':>12} {'CPU froid':>10} "
          f"{'CPU chaud':>10}")  # fmt: skip
    for page, (cold, warm, cold_cpu, warm_cpu) in timings.items():
        flag = "" if max(cold, warm) < BUDGET_S else f"  > {BUDGET_S} s"
        print(f"{page:<22} {cold:>12.2f} {warm:>12.2f} {cold_cpu:>10.2f} {warm_cpu:>10.2f}{flag}")
    print(f"charge moyenne (1 min) : {load_before:.1f} avant, {os.getloadavg()[0]:.1f} après, "
          f"{os.cpu_count()} cœurs")
    return 0 if all(max(t[0], t[1]) < BUDGET_S for t in timings.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
