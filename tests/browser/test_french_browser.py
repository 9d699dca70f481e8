"""Streamlit's own texts in French in a real browser (issue 15): the campaign page's file
uploader, a text field's hint and the page's language, for a signed-in coordinator."""

from __future__ import annotations

import pytest
from english import english_texts
from sqlalchemy.orm import Session
from streamlit_server import start_app, stop_app
from test_survey_factories import make_night

from observatoire.store import access_repository
from observatoire.store.db import make_engine

pytestmark = pytest.mark.browser

PASSWORD = "une phrase de passe"

@pytest.fixture
def app(tmp_path):
    url = f"sqlite:///{tmp_path / 'observatoire.sqlite'}"
    engine = make_engine(url)
    make_night(engine)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", PASSWORD, actor="t")
    served = start_app(url, tmp_path)
    try:
        yield served
    finally:
        stop_app(served)
        engine.dispose()


@pytest.mark.parametrize("size", [(1366, 900), (768, 1024)], ids=["bureau", "tablette"])
def test_the_campaign_page_has_no_english_streamlit_text(browser, app, artifacts, size):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(f"{app.url}/connexion", wait_until="networkidle")
    page.get_by_label("Identifiant").fill("marie")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text("Connecté").first.wait_for(timeout=120_000)
    # In-app navigation keeps the session (on a tablet the sidebar is folded: the link is
    # clicked as a tap on the opened menu would).
    page.get_by_role("link", name="Campagnes").first.evaluate("a => a.click()")
    page.get_by_text("Nouvelle campagne").first.click(timeout=60_000)
    uploader = page.get_by_test_id("stFileUploader").first
    uploader.wait_for(state="attached", timeout=60_000)
    page.wait_for_function("document.documentElement.lang === 'fr'", timeout=120_000)
    page.wait_for_timeout(1500)
    text = uploader.text_content() or ""
    assert "Mo au plus par fichier" in text, text
    assert "Choisir un fichier" in text or "Glissez-déposez" in text, text
    assert not english_texts(page), english_texts(page)
    page.screenshot(path=str(artifacts / f"campagnes-francais-{page.viewport_size['width']}.png"),
                    full_page=True)
    page.close()
