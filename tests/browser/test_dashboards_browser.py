"""Every page of the app in headless Chromium, for the public, staff and an admin, at desktop
and tablet sizes; screenshots kept in ``test-artifacts/`` (issue 15). The volunteer's pages
with a team joined are shot by test_volunteer_viewport_browser.py."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePosixPath

import pytest
from app_pages import sections, titles
from english import english_texts
from sqlalchemy.orm import Session
from streamlit_server import start_app, stop_app

from observatoire.access import navigation_plan
from observatoire.config import load_settings
from observatoire.model import Role
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database
from observatoire.store import access_repository

pytestmark = pytest.mark.browser

SIZES = {"bureau": (1440, 900), "tablette": (768, 1024)}
HEADINGS = {
    "dashboards/accueil.py": "Observatoire social du sans-abrisme",
    "dashboards/publication.py": "Carte et chiffres publiés",
    "dashboards/tableau.py": "Tableau de bord",
    "dashboards/indicateurs.py": "Flux et indicateurs Logement d'abord",
    "dashboards/tableau_qualite.py": "Qualité des données",
    "dashboards/revue.py": "Revue des doublons",
    "dashboards/rapport.py": "Rapport d'exécution de la convention",
    "dashboards/convention.py": "Convention Logement d'abord",
    "dashboards/chiffres.py": "Chiffres saisis",
    "dashboards/saisie.py": "Nuit de la Solidarité — saisie",
    "dashboards/terrain.py": "Chef d'équipe — corrections",
    "dashboards/campagnes.py": "Campagnes de comptage",
    "dashboards/couverture.py": "Couverture en direct",
    "dashboards/connexion.py": "Connexion",
    "dashboards/admin.py": "Administration",
}
"""Each page's title, as it draws it: every page of the app is shot (test below)."""
PASSWORD = "une phrase de passe"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from observatoire.sample_database import add_sample_history

    data_dir = tmp_path_factory.mktemp("navigateur")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    # The demo as a user sees it: partner files imported and linked, places counted by
    # partners on every night (so the screenshots show a full dashboard).
    build_sample_database(settings, "dijon-metropole", seed=5, history=False)
    engine = open_database(settings)
    add_sample_history(engine, "dijon-metropole", settings=settings,
                       nights=(dt.date(2024, 1, 25), dt.date(2025, 1, 30)))  # fmt: skip
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="t")
        access_repository.create_user(session, "alex", "Alex", "admin", PASSWORD, actor="t")
    engine.dispose()
    served = start_app(settings.database_url, data_dir)
    yield served
    stop_app(served)


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


def _open(page, link: str) -> None:
    """Follow a navigation link; on a tablet the sidebar is folded, so the link is clicked
    the way a tap on the opened menu would (in-app navigation keeps the session)."""
    page.get_by_role("link", name=link).first.evaluate("a => a.click()")


def _sign_in(page, url: str, login: str) -> None:
    page.goto(f"{url}/connexion", wait_until="networkidle")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text("Connecté").first.wait_for(timeout=120_000)


@pytest.mark.parametrize("size", list(SIZES))
def test_pages_per_role(browser, app, artifacts, size):
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"tableau-{size}-{name}.png"), full_page=True
    )

    # The public: published pages only.
    page.goto(app.url, wait_until="networkidle")
    page.get_by_text("Observatoire social du sans-abrisme").wait_for(timeout=60_000)
    _settle(page)
    assert not english_texts(page), english_texts(page)
    shot("public-01-accueil")
    page.goto(f"{app.url}/publication", wait_until="networkidle")
    page.get_by_text("Carte et chiffres publiés").wait_for(timeout=60_000)
    _settle(page)
    assert page.get_by_text("secret").count() > 0
    assert not english_texts(page), english_texts(page)
    shot("public-02-publication")
    page.goto(f"{app.url}/tableau", wait_until="networkidle")
    _settle(page)
    # The address answers with a stand-in that asks to sign in, never with the page.
    page.get_by_text("est réservée aux personnes connectées").wait_for(timeout=60_000)
    assert page.get_by_text("Tableau de bord", exact=True).count() == 0
    shot("public-03-tableau-refuse")

    # Staff: every page of the staff's navigation, in the same session.
    _sign_in(page, app.url, "marie")
    shot("equipe-01-connexion")
    staff_pages = [path for entries in navigation_plan(Role.STAFF, sections()).values()
                   for path, shown in entries if shown == "visible"]  # fmt: skip
    assert set(staff_pages) == set(HEADINGS) - {"dashboards/admin.py"}
    for number, path in enumerate(staff_pages, start=2):
        _open(page, titles()[path])
        page.get_by_role("heading", name=HEADINGS[path]).first.wait_for(timeout=60_000)
        _settle(page)
        shot(f"equipe-{number:02d}-{PurePosixPath(path).stem}")
        assert page.get_by_text("Traceback").count() == 0
        assert not english_texts(page), (path, english_texts(page))
        if path == "dashboards/tableau.py":  # every tile has its figure on the sample
            assert page.get_by_text("pas de données").count() == 0
    assert page.get_by_role("link", name="Comptes et réglages").count() == 0

    # Admin: the admin page too.
    _open(page, "Connexion")
    page.get_by_role("button", name="Se déconnecter").click()
    _settle(page)
    _sign_in(page, app.url, "alex")
    _open(page, "Comptes et réglages")
    page.get_by_role("heading", name="Administration").wait_for(timeout=60_000)
    _settle(page)
    assert not english_texts(page), english_texts(page)
    shot("admin-01-comptes")
    page.close()
