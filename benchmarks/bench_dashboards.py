"""Render time of every dashboard page with 5 count nights and 300,000 feed records.

    python benchmarks/bench_dashboards.py [--records 300000] [--data-dir DIR]

Builds (once) a SQLite database in DIR with the Dijon sample, four earlier synthetic
nights and ``--records`` linked partner records, then runs each page with Streamlit's
``AppTest`` as a staff member: the first (cold) run loads and caches the data, the next
three (warm) runs are what users see when they click around. Prints seconds per page.
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
PAGES = ["tableau.py", "indicateurs.py", "tableau_qualite.py", "publication.py", "accueil.py",
         "admin.py"]  # fmt: skip
BUDGET_S = 1.5


def build(data_dir: Path, records: int) -> None:
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from observatoire.config import load_settings
    from observatoire.pipeline import add_sample_history, build_sample_database, open_database
    from observatoire.store.tables import PersonRow, SourceRecordRow

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
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
        session.execute(insert(PersonRow), [
            {"id": i + 1, "person_key": f"K{i:07d}", "confidence": float(c), "record_count": 1}
            for i, c in enumerate(rng.uniform(0.7, 1.0, people))
        ])  # fmt: skip
        owner = rng.integers(1, people + 1, records)
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
    engine.dispose()


def run_pages(data_dir: Path, repeats: int = 3) -> dict[str, tuple[float, float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["OBSERVATOIRE_DATA_DIR"] = str(data_dir)
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()
    user = {"login": "bench", "display_name": "Banc d'essai", "role": "admin"}
    timings = {}
    for page in PAGES:
        runs = []
        for _ in range(1 + repeats):
            app = AppTest.from_file(str(REPO / "dashboards" / page), default_timeout=300)
            app.session_state["observatoire_user"] = user
            began = time.perf_counter()
            app.run()
            runs.append(time.perf_counter() - began)
            if app.exception:
                raise RuntimeError(f"{page}: {app.exception[0].message}")
        timings[page] = (runs[0], statistics.median(runs[1:]))
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
    timings = run_pages(data_dir)
    print(f"{'page':<22} {'à froid (s)':>12} {'à chaud (s)':>12}")
    for page, (cold, warm) in timings.items():
        flag = "" if warm < BUDGET_S else f"  > {BUDGET_S} s"
        print(f"{page:<22} {cold:>12.2f} {warm:>12.2f}{flag}")
    return 0 if all(w < BUDGET_S for _, w in timings.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
