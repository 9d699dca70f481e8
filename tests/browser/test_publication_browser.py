"""The public home and published pages before and after a new night is published, at
desktop (1366x900) and tablet (768x1024) sizes; screenshots kept in ``test-artifacts/``.

Before: a new night with figures (entered through the tablets' path, partners' tallies
imported) is closed and validated, and the public sees only the sample's published night.
After ``publish``: the new night, its figures and its version's date.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session
from streamlit_server import start_app, stop_app

from observatoire.config import load_settings
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database

pytestmark = pytest.mark.browser

SIZES = {"bureau": (1366, 900), "tablette": (768, 1024)}
NEW_NIGHT = "Nuit de la Solidarité, automne 2026 (nouvelle nuit)"


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


def _new_night_with_figures(engine, settings) -> int:
    """A night of November 2026 entered through the tablets' path (a synthetic night of
    another seed) with its partners' tallies, left open: a night with figures."""
    from observatoire.countnight.replay import replay_sample
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.sample_database import (
        SAMPLE_QUESTIONNAIRE,
        SAMPLE_SECTOR_SIZE_M,
        TALLY_FEED,
        import_place_tallies,
        sample_secret_key,
    )
    from observatoire.store import repository
    from observatoire.synthetic import generate_sample, write_sample

    with Session(engine) as session:
        communes = repository.territory_communes(session, "dijon-metropole")
    sectors = generate_grid_sectors(communes, SAMPLE_SECTOR_SIZE_M)
    sample = generate_sample(communes, sectors, seed=27, night_date=dt.date(2026, 11, 19),
                             campaign_name=NEW_NIGHT)  # fmt: skip
    night, _ = replay_sample(engine, "dijon-metropole", sample, sectors, name=NEW_NIGHT,
                             questionnaire_version=SAMPLE_QUESTIONNAIRE, lock=False)
    tallies = write_sample(sample, settings.samples_dir / "nuit-2026-11", names=[TALLY_FEED])
    import_place_tallies(engine, tallies[TALLY_FEED], sample_secret_key(settings))
    return night


def test_a_night_is_public_only_once_published(browser, artifacts, tmp_path):
    from observatoire.nights import close_night, publish_night, validate_night

    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    build_sample_database(settings, "dijon-metropole", seed=5, history=False,
                          partner_feeds=False)  # fmt: skip
    engine = open_database(settings)
    new_id = _new_night_with_figures(engine, settings)
    close_night(engine, new_id, "coordinatrice")
    validate_night(engine, new_id, "marie", sign_off="nuit de test du navigateur")
    served = start_app(settings.database_url, tmp_path)
    try:
        before = _public_pages(browser, served.url, artifacts, "avant")
    finally:
        stop_app(served)
    for name, text in before.items():
        assert NEW_NIGHT not in text, name
        assert "échantillon synthétique" in text, name
        assert "Données au" in text, name
    publication = publish_night(engine, new_id, "marie")
    engine.dispose()
    total = publication.total
    assert total and total > 100  # a night with figures
    # A new server: the pages' caches (up to 5 minutes) would otherwise still hold the old.
    served = start_app(settings.database_url, tmp_path)
    try:
        after = _public_pages(browser, served.url, artifacts, "apres")
    finally:
        stop_app(served)
    shown = f"{total:,}".replace(",", "\u202f")
    for name, text in after.items():
        assert NEW_NIGHT in text, name
        assert "publiée par marie" in text, name
        assert shown in text, (name, shown)  # the night's a minima total, as published
        assert "None" not in text and "Traceback" not in text, name
