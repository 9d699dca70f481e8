"""Every indicator, publication and admin page in headless Chromium, for the public, staff
and an admin, at desktop and tablet sizes; screenshots kept in ``test-artifacts/``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session
from streamlit_server import start_app, stop_app

from observatoire.config import load_settings
from observatoire.pipeline import build_sample_database, open_database
from observatoire.store import access_repository

pytestmark = pytest.mark.browser

SIZES = {"bureau": (1440, 900), "tablette": (768, 1024)}
PASSWORD = "une phrase de passe"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from observatoire.pipeline import add_sample_history

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
    shot("public-01-accueil")
    page.goto(f"{app.url}/publication", wait_until="networkidle")
    page.get_by_text("Carte et chiffres publiés").wait_for(timeout=60_000)
    _settle(page)
    assert page.get_by_text("secret").count() > 0
    shot("public-02-publication")
    page.goto(f"{app.url}/tableau", wait_until="networkidle")
    _settle(page)
    # The address answers with a stand-in that asks to sign in, never with the page.
    page.get_by_text("est réservée aux personnes connectées").wait_for(timeout=60_000)
    assert page.get_by_text("Tableau de bord", exact=True).count() == 0
    shot("public-03-tableau-refuse")

    # Staff: every staff page, navigating in the same session.
    _sign_in(page, app.url, "marie")
    shot("equipe-01-connexion")
    for link, title, name in (
        ("Tableau de bord", "Tableau de bord", "02-tableau"),
        ("Flux et Logement d'abord", "Flux et indicateurs Logement d'abord", "03-indicateurs"),
        ("Qualité des données", "Qualité des données", "04-qualite"),
    ):
        _open(page, link)
        page.get_by_role("heading", name=title).wait_for(timeout=60_000)
        _settle(page)
        shot(f"equipe-{name}")
        assert page.get_by_text("Traceback").count() == 0
        if name == "02-tableau":  # every tile has its figure on the sample
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
    shot("admin-01-comptes")
    page.close()
