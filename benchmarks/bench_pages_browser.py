"""Every page of the app timed in Chromium, as its users meet it, at a territory's size.

    python benchmarks/bench_pages_browser.py [--records 300000] [--data-dir DIR]

Builds (once per DIR) the database of `bench_dashboards.py` (the Dijon sample, four earlier
nights, ``--records`` linked partner records) plus a night of one team per sector (579 at
Dijon with 800 m sectors), serves the app as `observatoire app` does (`serve.py`), signs a
staff account in through the *Connexion* page in Chromium (1366×900), then opens each page
from the sidebar: the first opening after the server started is the cold one (no cache
filled), the median of the next three the warm one. A page's time runs from the click to the
moment Streamlit says the script is done (``data-test-script-state="notRunning"``) with
nothing left loading. The target of issue 15: under 1.5 s warm and 3 s cold on every page.
Prints seconds per page and the load average (other jobs slow every figure).
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO / "benchmarks"))

# Sidebar title of each page, in the order of the sidebar (staff role; admin for the last).
PAGES = ["Accueil", "Carte publiée", "Tableau de bord", "Flux et Logement d'abord",
         "Qualité des données", "Revue des doublons", "Rapport d'exécution", "Convention",
         "Chiffres saisis", "Campagnes", "Couverture en direct",
         "Comptes et réglages"]  # fmt: skip
COLD_BUDGET_S, WARM_BUDGET_S = 3.0, 1.5
PASSWORD = "quatre tuiles sous la pluie"


def build(data_dir: Path, records: int, teams: int | None) -> str:
    from bench_dashboards import build as build_dashboards
    from sqlalchemy.orm import Session

    from observatoire.config import load_settings
    from observatoire.countnight import lifecycle
    from observatoire.countnight.team_sheets import team_sheets_table
    from observatoire.pipeline import open_database
    from observatoire.sample_database import SAMPLE_QUESTIONNAIRE
    from observatoire.store import access_repository, repository

    settings = load_settings({**os.environ, "OBSERVATOIRE_DATA_DIR": str(data_dir)})
    marker = data_dir / "bench-pages.done"
    if not marker.exists():
        build_dashboards(data_dir, records)
        engine = open_database(settings)
        began = time.perf_counter()
        with Session(engine) as session:
            known = {c.name: c.id for c in repository.list_campaigns(session, "dijon-metropole")}
        campaign = known.get("Nuit du banc d'essai") or lifecycle.create_campaign(
            engine, "dijon-metropole", "Nuit du banc d'essai", dt.date(2027, 1, 28),
            questionnaire_version=SAMPLE_QUESTIONNAIRE, sector_size_m=800.0, n_teams=teams,
            actor="banc")  # fmt: skip
        sheet = team_sheets_table(engine, campaign)
        print(f"nuit n°{campaign} : {sheet['team_code'].nunique()} équipes, "
              f"{len(sheet)} secteurs, créée en {time.perf_counter() - began:.1f} s")
        with Session(engine) as session, session.begin():
            if access_repository.account_user(session, "banc") is None:
                access_repository.create_user(session, "banc", "Banc d'essai", "admin",
                                              PASSWORD, actor="banc")  # fmt: skip
        engine.dispose()
        marker.write_text("ok")
    return settings.database_url


def _settled(page, timeout_ms: int = 300_000) -> None:
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']",
                           timeout=timeout_ms)  # fmt: skip
    page.wait_for_load_state("networkidle", timeout=timeout_ms)


def measure(url: str, repeats: int) -> dict[str, tuple[float, float]]:
    from playwright.sync_api import sync_playwright

    executable = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    timings = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="fr-FR")
        page.goto(f"{url}/connexion", wait_until="networkidle")
        _settled(page)
        page.get_by_label("Identifiant").fill("banc")
        page.get_by_label("Mot de passe").fill(PASSWORD)
        page.get_by_role("button", name="Se connecter").click()
        page.get_by_role("link", name="Campagnes").wait_for(timeout=120_000)
        _settled(page)
        for title in PAGES:
            runs = []
            for _ in range(1 + repeats):
                link = page.get_by_role("link", name=title, exact=True).first
                began = time.perf_counter()
                link.click()
                page.wait_for_timeout(50)  # the click starts a run
                _settled(page)
                runs.append(time.perf_counter() - began)
                # Another page in between, so that the next opening is a real navigation.
                other = "Accueil" if title != "Accueil" else "Carte publiée"
                page.get_by_role("link", name=other, exact=True).first.click()
                page.wait_for_timeout(50)
                _settled(page)
            timings[title] = (runs[0], statistics.median(runs[1:]))
            print(f"  {title:<28} {runs[0]:>7.2f} {timings[title][1]:>7.2f}", flush=True)
        browser.close()
    return timings


def main() -> int:
    from streamlit_server import start_app, stop_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--teams", type=int, default=0, help="0: one team per sector")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="bench-pages-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    database_url = build(data_dir, args.records, args.teams or None)
    print(f"base : {data_dir} ({time.perf_counter() - began:.0f} s de préparation)")
    load_before = os.getloadavg()[0]
    app = start_app(database_url, data_dir, territory="dijon-metropole")
    try:
        print(f"  {'page':<28} {'froid':>7} {'chaud':>7}   (secondes)")
        timings = measure(app.url, args.repeats)
    finally:
        stop_app(app)
    slow = [t for t, (cold, warm) in timings.items()
            if cold > COLD_BUDGET_S or warm > WARM_BUDGET_S]
    print(f"au-delà de {COLD_BUDGET_S} s à froid ou {WARM_BUDGET_S} s à chaud : "
          f"{', '.join(slow) or 'aucune'}")
    print(f"charge moyenne (1 min) : {load_before:.1f} avant, {os.getloadavg()[0]:.1f} après, "
          f"{os.cpu_count()} cœurs")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
