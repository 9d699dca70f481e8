"""The execution report page and the convention editor in headless Chromium at desktop size
(1366×900): staff see both, the monitoring body the report only; screenshots kept in
``test-artifacts/``."""

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
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from observatoire.evaluation.stored import enter_figure

    data_dir = tmp_path_factory.mktemp("evaluation-browser")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=5, n_people=300, history=False,
                          partner_feeds=False)
    engine = open_database(settings)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="t")
        access_repository.create_user(session, "ddets", "DDETS 21", "monitoring", PASSWORD,
                                      actor="t")
        enter_figure(session, "dijon-metropole", "diagnostics_avant_cql", 2025, 44,
                     actor="marie", source="CCAPEX")
    engine.dispose()
    served = start_app(settings.database_url, data_dir)
    yield served
    stop_app(served)


def _sign_in(browser, app, login: str):  # noqa: ANN001, ANN202
    page = browser.new_page(viewport=DESKTOP)
    page.goto(f"{app.url}/connexion", wait_until="networkidle")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text("Connecté").first.wait_for(timeout=120_000)
    return page


def _settled(page) -> None:  # noqa: ANN001
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


def test_the_report_page_and_the_convention_editor_at_desktop_size(browser, app, artifacts):
    page = _sign_in(browser, app, "marie")
    page.get_by_role("link", name="Rapport d'exécution").first.evaluate("a => a.click()")
    page.get_by_role("heading", name="Rapport d'exécution de la convention").wait_for(
        timeout=60_000)
    page.get_by_text("Encore à renseigner").first.wait_for(timeout=120_000)
    _settled(page)
    assert page.get_by_text("Traceback").count() == 0
    assert page.get_by_text("30/09/2026").count() >= 1
    page.screenshot(path=str(artifacts / "evaluation-bureau-01-rapport.png"))
    table = page.locator("[data-testid='stDataFrame']").first
    table.wait_for(timeout=60_000)
    table.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts / "evaluation-bureau-01b-rapport-actions.png"))

    page.get_by_role("link", name="Convention").first.evaluate("a => a.click()")
    page.get_by_role("heading", name="Convention Logement d'abord").wait_for(timeout=60_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)
    _settled(page)
    assert page.get_by_text("Traceback").count() == 0
    assert page.get_by_text("Enregistrer une nouvelle version").count() >= 1
    page.screenshot(path=str(artifacts / "evaluation-bureau-02-convention.png"))
    page.close()


def test_the_monitoring_body_sees_the_report_and_not_the_editor(browser, app, artifacts):
    page = _sign_in(browser, app, "ddets")
    # The menu is drawn again for the signed-in role: wait for its report link.
    page.get_by_role("link", name="Rapport d'exécution").first.wait_for(timeout=120_000)
    assert page.get_by_role("link", name="Convention").count() == 0
    assert page.get_by_role("link", name="Revue des doublons").count() == 0
    page.get_by_role("link", name="Rapport d'exécution").first.evaluate("a => a.click()")
    page.get_by_text("Encore à renseigner").first.wait_for(timeout=120_000)
    _settled(page)
    page.screenshot(path=str(artifacts / "evaluation-instance-suivi-01-rapport.png"))
    page.close()
