"""The served app as an attacker meets it (issue 19): security headers on every response, a
staff session that ends when its account is deactivated, signing out of a team code taken
from the address."""

from __future__ import annotations

import urllib.request

import pytest
from sqlalchemy.orm import Session
from streamlit_server import start_app, stop_app
from test_survey_factories import make_night

from observatoire.store import access_repository
from observatoire.store.db import make_engine

pytestmark = pytest.mark.browser
PASSWORD = "une phrase de passe"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("securite")
    url = f"sqlite:///{tmp_path / 'observatoire.sqlite'}"
    engine = make_engine(url)
    night = make_night(engine)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="t")
    app = start_app(url, tmp_path)
    try:
        yield app, night, engine
    finally:
        stop_app(app)
        engine.dispose()


@pytest.mark.parametrize("path", ["/", "/connexion", "/_stcore/health"])
def test_every_response_carries_the_security_headers(served, path):
    app, _, _ = served
    with urllib.request.urlopen(f"{app.url}{path}", timeout=10) as response:
        headers = response.headers
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


def test_a_deactivated_account_loses_its_pages_at_once(served, browser, artifacts):
    app, _, engine = served
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(f"{app.url}/connexion", wait_until="networkidle")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text("Connecté").first.wait_for(timeout=120_000)
    # The sidebar's navigation is drawn after the page's text: wait for it.
    page.get_by_role("link", name="Campagnes").wait_for(timeout=120_000)
    assert page.get_by_role("link", name="Campagnes").count() == 1
    with Session(engine) as session, session.begin():
        access_repository.update_user(session, "marie", actor="alex", active=False)
    page.get_by_role("link", name="Connexion").first.evaluate("a => a.click()")
    _settle(page)
    page.get_by_text("Session fermée").first.wait_for(timeout=120_000)
    page.screenshot(path=str(artifacts / "securite-compte-desactive.png"))
    assert page.get_by_role("link", name="Campagnes").count() == 0
    assert page.get_by_label("Mot de passe").count() == 1
    page.close()


def test_signing_out_forgets_the_team_code_of_the_address(served, browser):
    app, night, _ = served
    page = browser.new_page(viewport={"width": 768, "height": 1024})
    page.goto(f"{app.url}/connexion?equipe={night.teams[0]}", wait_until="networkidle")
    _settle(page)
    page.get_by_role("button", name="Se déconnecter").click()
    _settle(page)
    page.get_by_label("Identifiant").wait_for(timeout=120_000)
    assert "equipe=" not in page.url
    page.reload(wait_until="networkidle")
    _settle(page)
    assert page.get_by_role("button", name="Se déconnecter").count() == 0
    page.close()


def test_a_protected_page_opened_by_its_address_asks_to_sign_in(served, browser, artifacts):
    app, _, _ = served
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{app.url}/revue", wait_until="networkidle")
    _settle(page)
    notice = page.get_by_text("La page « Revue des doublons » est réservée aux personnes "
                              "connectées")
    notice.wait_for(timeout=120_000)
    assert notice.is_visible()
    assert page.get_by_text("Page not found").count() == 0  # Streamlit's English modal
    assert page.get_by_text("Revue des doublons", exact=True).count() == 0  # not the page
    page.get_by_role("link", name="Se connecter").wait_for(timeout=10_000)
    page.screenshot(path=str(artifacts / "page-protegee-sans-connexion.png"))
    page.close()
