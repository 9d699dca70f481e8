"""The public home and published pages before and after a new night is published, at
desktop (1366x900) and tablet (768x1024) sizes; screenshots kept in ``test-artifacts/``.

Before: the new night is open (then closed and validated) and the public sees only the
sample's published night. After ``publish``: the new night, with its version's date.
"""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit_server import start_app, stop_app

from observatoire.config import load_settings
from observatoire.pipeline import build_sample_database, open_database

pytestmark = pytest.mark.browser

SIZES = {"bureau": (1366, 900), "tablette": (768, 1024)}
NEW_NIGHT = "Nuit de la Solidarité 2027 (nouvelle nuit)"


def _settle(page) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


def _public_pages(browser, url: str, artifacts, moment: str) -> dict[str, str]:
    texts = {}
    for size, (width, height) in SIZES.items():
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(url, wait_until="networkidle")
        page.get_by_text("Observatoire social du sans-abrisme").wait_for(timeout=60_000)
        _settle(page)
        page.screenshot(path=str(artifacts / f"publication-{moment}-{size}-accueil.png"),
                        full_page=True)  # fmt: skip
        texts[f"{size}-accueil"] = page.inner_text("body")
        page.goto(f"{url}/publication", wait_until="networkidle")
        page.get_by_text("Carte et chiffres publiés").wait_for(timeout=60_000)
        _settle(page)
        page.screenshot(path=str(artifacts / f"publication-{moment}-{size}-publiee.png"),
                        full_page=True)  # fmt: skip
        texts[f"{size}-publiee"] = page.inner_text("body")
        page.close()
    return texts


def test_a_night_is_public_only_once_published(browser, artifacts, tmp_path):
    from observatoire import countnight
    from observatoire.nights import close_night, publish_night, validate_night
    from observatoire.survey import list_questionnaires

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    build_sample_database(settings, "dijon-metropole", seed=5, history=False,
                          partner_feeds=False)  # fmt: skip
    engine = open_database(settings)
    new_id = countnight.create_campaign(
        engine, "dijon-metropole", NEW_NIGHT, dt.date(2027, 1, 28),
        questionnaire_version=list_questionnaires()[0], sector_size_m=4000.0, actor="test",
    )  # fmt: skip
    countnight.open_campaign(engine, new_id, "coordinatrice")
    close_night(engine, new_id, "coordinatrice")
    validate_night(engine, new_id, "marie", quality_signed_off=True)
    served = start_app(settings.database_url, tmp_path)
    try:
        before = _public_pages(browser, served.url, artifacts, "avant")
    finally:
        stop_app(served)
    for name, text in before.items():
        assert NEW_NIGHT not in text, name
        assert "échantillon synthétique" in text, name
        assert "Données au" in text, name
    publish_night(engine, new_id, "marie")
    engine.dispose()
    # A new server: the pages' caches (up to 5 minutes) would otherwise still hold the old.
    served = start_app(settings.database_url, tmp_path)
    try:
        after = _public_pages(browser, served.url, artifacts, "apres")
    finally:
        stop_app(served)
    for name, text in after.items():
        assert NEW_NIGHT in text, name
        assert "publiée par marie" in text, name
        assert "None" not in text and "Traceback" not in text, name
