"""Issue 19 in a real browser: markdown typed in the address stays text, the staff's
downloads are built on the click only (nothing under ``/media/`` before it), audited
under the signed-in login and served to that browser only, and the tables offer no
"Download as CSV"."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlparse

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit_server import start_app, stop_app
from test_survey_factories import interview, make_night

from observatoire.countnight import entry
from observatoire.store import access_repository
from observatoire.store.db import make_engine
from observatoire.store.tables import AuditLogRow

pytestmark = pytest.mark.browser

PASSWORD = "une phrase de passe"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuites")
    url = f"sqlite:///{data_dir / 'observatoire.sqlite'}"
    engine = make_engine(url)
    night = make_night(engine)
    entry.submit(engine, interview(night.teams[0]))
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "camille.test", "Camille Test", "staff",
                                      PASSWORD, actor="t")  # fmt: skip
    app = start_app(url, data_dir)
    try:
        yield app, night, engine
    finally:
        stop_app(app)
        engine.dispose()


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


@pytest.mark.parametrize("path", ["connexion", "saisie", "terrain"])
def test_markdown_in_the_address_never_becomes_a_link_or_an_image(browser, served, artifacts,
                                                                 path):
    app, _night, _engine = served
    page = browser.new_page(viewport={"width": 768, "height": 1024})
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    for payload in ("[Session expirée : reconnectez-vous ICI](http://evil.example/phish)",
                    "![i](http://evil.example/p.png)"):
        page.goto(f"{app.url}/{path}?equipe={payload}", wait_until="networkidle")
        _settle(page)
        page.screenshot(path=str(artifacts / f"fuite-markdown-{path}.png"), full_page=True)
        links = page.locator("a[href*='evil'], a[href*='EVIL']")
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        assert not hrefs, hrefs
        assert page.locator("img[src*='evil'], img[src*='EVIL']").count() == 0
    # No request leaves for the attacker's host (an image would be fetched by every visitor).
    assert not [u for u in requested if "evil" in (urlparse(u).hostname or "").lower()]
    page.close()


def test_staff_downloads_are_built_on_click_and_audited(browser, served, artifacts):
    app, night, engine = served
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    media = []
    page.on("request", lambda r: media.append(r.url) if "/media/" in urlparse(r.url).path
            and "/static/" not in r.url else None)
    page.goto(f"{app.url}/connexion", wait_until="networkidle")
    page.get_by_label("Identifiant").fill("camille.test")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_text("Connecté").first.wait_for(timeout=120_000)
    page.get_by_role("link", name="Campagnes").first.evaluate("a => a.click()")
    page.get_by_role("heading", name="Campagnes de comptage").wait_for(timeout=60_000)
    _settle(page)
    # The table of team codes has no "Download as CSV" in its toolbar.
    page.locator("[data-testid='stDataFrame']").first.hover()
    page.wait_for_timeout(500)
    assert page.locator("[data-testid='stElementToolbar']").count() >= 1  # the toolbar is there
    assert page.get_by_role("button", name="Download as CSV").count() == 0
    # Drawn, not built: no export audited (nor file fetched) before a click.
    with Session(engine) as session:
        assert not session.scalars(
            select(AuditLogRow).where(AuditLogRow.action.startswith("export."))).all()
    assert not media
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Fiches d'équipe à imprimer (HTML)").click()
    sheets = download.value.path().read_text(encoding="utf-8")
    assert night.teams[0] in sheets
    page.screenshot(path=str(artifacts / "fuite-campagnes-telechargement.png"), full_page=True)
    with Session(engine) as session:
        audit = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == "export.team_sheets")).all()
    assert [(a.actor, a.details["campaign_id"]) for a in audit] == [
        ("camille.test", night.campaign_id)]
    # The file's address serves nothing to another client: none without the browser's
    # cookie, nor a browser of its own (another session, with a cookie of its own).
    assert media, "the download went through /media/"
    for url in set(media):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code in (403, 404)
        assert night.teams[0] not in refused.value.read().decode("utf-8", "replace")
        other = browser.new_context()
        try:
            other.request.get(app.url)  # gets a cookie of its own
            answer = other.request.get(url)
            assert answer.status == 404
            assert night.teams[0] not in answer.text()
        finally:
            other.close()
        # The browser that asked for it still gets it (its cookie holds the grant).
        again = page.context.request.get(url)
        assert again.status == 200 and night.teams[0] in again.text()
    page.close()
