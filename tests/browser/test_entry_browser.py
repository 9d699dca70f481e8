"""A volunteer on a tablet, in a real browser: join with the team code, fill and send a
questionnaire with a double tap, reload, record a person asleep in one tap, report the
sector. The database must hold exactly one record per questionnaire."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from streamlit_server import start_app, stop_app
from test_survey_factories import make_night

from observatoire.store.db import make_engine

pytestmark = pytest.mark.browser

TABLETS = {"portrait": (768, 1024), "paysage": (1024, 768)}


def _rows(engine, sql="SELECT count(*) FROM observation"):
    with engine.connect() as c:
        return c.execute(text(sql)).scalar()


def _tap(page, label: str) -> None:
    """Tap a choice (a pill) and wait for the rerun to settle."""
    page.get_by_text(label, exact=True).first.click()
    page.wait_for_timeout(400)


@pytest.fixture
def app_and_night(tmp_path):
    url = f"sqlite:///{tmp_path / 'observatoire.sqlite'}"
    engine = make_engine(url)
    night = make_night(engine)
    app = start_app(url, tmp_path)
    try:
        yield app, night, engine
    finally:
        stop_app(app)
        engine.dispose()


@pytest.mark.parametrize("orientation", list(TABLETS))
def test_tablet_entry_double_submit_and_reload_keep_one_record(
    browser, app_and_night, artifacts, orientation
):
    app, night, engine = app_and_night
    team = night.teams[0]
    width, height = TABLETS[orientation]
    page = browser.new_page(viewport={"width": width, "height": height})
    shot = lambda name: page.screenshot(  # noqa: E731
        path=str(artifacts / f"saisie-{orientation}-{name}.png"), full_page=True
    )
    page.goto(f"{app.url}/saisie", wait_until="networkidle")
    page.get_by_label("Code d'équipe").fill(team.lower())
    shot("01-code")
    page.get_by_role("button", name="Rejoindre l'équipe").click()
    page.get_by_role("button", name="Enregistrer la fiche").wait_for(timeout=60_000)
    shot("02-equipe")

    for label in ("Questionnaire rempli", "Homme", "35 à 44 ans", "Rue, trottoir, porche"):
        _tap(page, label)
    # Questions shown by the skip logic once the person is interviewed.
    _tap(page, "Seule")
    _tap(page, "Non")
    shot("03-questionnaire")

    # Double tap: two clicks as fast as the browser sends them.
    page.get_by_role("button", name="Enregistrer la fiche").dblclick()
    page.get_by_text("Fiche enregistrée").first.wait_for()
    page.wait_for_timeout(1500)
    shot("04-confirmation")
    assert _rows(engine) == 1

    # A real reload: a new server session, which re-joins from the code kept in the address
    # and keeps the volunteer on the entry page with the team's tally.
    assert f"equipe={team}" in page.url
    page.reload(wait_until="networkidle")
    page.get_by_role("button", name="Enregistrer la fiche").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    shot("05-apres-rechargement")
    assert f"equipe={team}" in page.url
    assert page.get_by_text("Personnes comptées par l'équipe").is_visible()
    assert page.get_by_test_id("stMetricValue").first.inner_text() == "1"
    assert not page.get_by_label("Code d'équipe").count()
    assert _rows(engine) == 1

    # One tap for a person only observed, tapped twice.
    page.get_by_role("button", name="Endormie", exact=True).dblclick()
    page.get_by_text("Fiche enregistrée").first.wait_for()
    page.wait_for_timeout(1500)
    assert _rows(engine) == 2
    assert _rows(engine, "SELECT count(*) FROM observation WHERE situation = 'asleep'") == 1

    page.get_by_role("button", name="Secteur parcouru : fin de tournée").click()
    page.get_by_role("button", name="Oui, je confirme").click()
    page.get_by_text("signalé parcouru").wait_for()
    shot("06-secteur-parcouru")
    assert _rows(engine, "SELECT people_met FROM sector_report") == 2
    assert _rows(engine) == 2
    page.close()


def test_unknown_team_code_is_answered_in_french(browser, app_and_night, artifacts):
    app, _night, _engine = app_and_night
    page = browser.new_page(viewport={"width": 768, "height": 1024})
    page.goto(f"{app.url}/saisie", wait_until="networkidle")
    page.get_by_label("Code d'équipe").fill("ZZZZZZ")
    page.get_by_role("button", name="Rejoindre l'équipe").click()
    page.get_by_text("Code d'équipe inconnu").wait_for()
    page.screenshot(path=str(artifacts / "saisie-code-inconnu.png"))
    page.close()


@pytest.mark.parametrize("allowed", [True, False], ids=["position-donnee", "position-refusee"])
def test_optional_gps_position_is_stored_and_never_blocks(
    browser, app_and_night, artifacts, allowed
):
    """The tablet's position (from its GPS, no network) goes with the record; a refused
    position leaves latitude and longitude empty and the record is stored all the same."""
    app, night, engine = app_and_night
    context = browser.new_context(
        viewport={"width": 768, "height": 1024},
        permissions=["geolocation"] if allowed else [],
        geolocation={"latitude": 47.32202, "longitude": 5.04148, "accuracy": 12},
    )
    page = context.new_page()
    name = "donnee" if allowed else "refusee"
    # The address a joined tablet shows: the entry page is the volunteer's home page.
    page.goto(f"{app.url}/?equipe={night.teams[0]}", wait_until="networkidle")
    page.get_by_role("button", name="Position GPS").click(timeout=60_000)
    expected = "Position prise pour cette fiche" if allowed else "Sans position"
    page.get_by_text(expected).wait_for(timeout=120_000)
    page.screenshot(path=str(artifacts / f"saisie-gps-{name}.png"), full_page=True)
    page.get_by_role("button", name="Endormie", exact=True).click()
    page.get_by_text("Fiche enregistrée").first.wait_for()
    with engine.connect() as c:
        stored = c.execute(text("SELECT latitude, longitude FROM observation")).all()
    assert stored == ([(47.32202, 5.04148)] if allowed else [(None, None)])
    context.close()


@pytest.mark.parametrize("address", ["/saisie?equipe={team}", "/?equipe={team}"],
                         ids=["entry-link", "home-link"])
def test_the_link_given_to_volunteers_opens_the_entry_page(browser, app_and_night, artifacts,
                                                           address):
    """A fresh tablet session on the team's link (QR code) lands on the entry page, with no
    "page not found" on the way, and stays there when reloaded."""
    app, night, _ = app_and_night
    team = night.teams[0]
    page = browser.new_page(viewport={"width": 768, "height": 1024})
    page.goto(app.url + address.format(team=team), wait_until="networkidle")
    page.get_by_role("button", name="Enregistrer la fiche").wait_for(timeout=60_000)
    assert "/saisie" in page.url and f"equipe={team}" in page.url
    assert page.get_by_text("Page not found").count() == 0
    page.reload(wait_until="networkidle")
    page.get_by_role("button", name="Enregistrer la fiche").wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / f"saisie-lien-{address[1:6].strip('?')}.png"))
