"""The indicators page's "how many people in all" section in headless Chromium, at desktop
size, for staff: the three layers with their intervals and the sensitivity table opened;
screenshot kept in ``test-artifacts/``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from streamlit_server import start_app, stop_app

from observatoire.config import load_settings
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database
from observatoire.store import access_repository

pytestmark = pytest.mark.browser

PASSWORD = "une phrase de passe"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("iceberg")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=5, n_people=300, history=False)
    engine = open_database(settings)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="t")
    engine.dispose()
    served = start_app(settings.database_url, data_dir)
    yield served
    stop_app(served)


def test_the_iceberg_section_at_desktop_size(browser, app, artifacts):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{app.url}/connexion", wait_until="networkidle")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text("Connecté").first.wait_for(timeout=120_000)
    page.get_by_role("link", name="Flux et Logement d'abord").first.evaluate("a => a.click()")
    page.get_by_role("heading", name="Flux et indicateurs Logement d'abord").wait_for(
        timeout=60_000)
    page.get_by_text("Combien de personnes en tout").first.click()
    page.get_by_text("Estimées en tout").first.wait_for(timeout=120_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)
    page.screenshot(path=str(artifacts / "iceberg-bureau-equipe-01-couches.png"))
    expander = page.get_by_text("Sensibilité : chaque modèle").first
    expander.click()
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=120_000)
    page.locator("[data-testid='stDataFrame']").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    assert page.get_by_text("Traceback").count() == 0
    assert page.get_by_text("Décomptées la nuit (a minima)").count() >= 1
    assert page.get_by_text("Connues des partenaires").count() >= 1
    assert page.get_by_text("intervalle à 95 %").count() >= 3
    page.screenshot(path=str(artifacts / "iceberg-bureau-equipe-02-sensibilite.png"))
    page.close()
