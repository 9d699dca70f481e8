"""A volunteer on a tablet (768×1024), in a real browser: join, a questionnaire with an
error, the fix, the save, another team, "nobody met". At each step the test checks what is
in the viewport (bounding boxes), not only in the page: the volunteer's eyes are on the
button they just tapped. Viewport screenshots (what the volunteer sees) are kept."""

from __future__ import annotations

import pytest
from english import english_texts
from playwright.sync_api import expect
from sqlalchemy import text
from streamlit_server import start_app, stop_app
from test_survey_factories import interview, make_night

from observatoire.countnight import entry
from observatoire.store.db import make_engine

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 768, 1024


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


def _scalar(engine, sql: str):
    with engine.connect() as c:
        return c.execute(text(sql)).scalar()


def in_viewport(locator) -> bool:
    """Whether the element is drawn and wholly inside the tablet's screen (to the pixel:
    an element scrolled flush with an edge ends a fraction of a pixel beyond it)."""
    box = locator.bounding_box()
    return bool(box) and box["width"] > 0 and box["height"] > 0 and (
        box["x"] >= -1 and box["y"] >= -1
        and box["x"] + box["width"] <= WIDTH + 1 and box["y"] + box["height"] <= HEIGHT + 1
    )  # fmt: skip


def _alert(page, fragment: str):
    """The alert box (success, error, warning) holding ``fragment``."""
    return page.get_by_test_id("stAlertContainer").filter(has_text=fragment).first


def _tap(page, label: str) -> None:
    page.get_by_text(label, exact=True).first.click()
    _settled(page)


def _tap_at_bottom(button) -> None:
    """Tap ``button`` scrolled to the screen's lower edge: what a volunteer filling the form
    from the top sees, and the worst place for a message drawn below it."""
    button.evaluate("e => e.scrollIntoView({block: 'end'})")
    button.page.wait_for_timeout(300)
    button.click()


def _settled(page) -> None:
    """Wait until Streamlit has finished the rerun the last tap started."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=120_000)
    page.wait_for_timeout(300)


def test_a_volunteer_sees_each_outcome_where_they_tapped(browser, app_and_night, artifacts):
    app, night, engine = app_and_night
    first, second = night.teams[:2]
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    step = iter(range(1, 100))
    shot = lambda name: page.screenshot(  # noqa: E731 - the viewport: what is seen
        path=str(artifacts / f"benevole-tablette-{next(step):02d}-{name}.png"))

    # 1. Join: the page speaks French, Streamlit's own hints included.
    page.goto(f"{app.url}/saisie", wait_until="networkidle")
    page.get_by_label("Code d'équipe").wait_for(timeout=60_000)
    page.wait_for_function("document.documentElement.lang === 'fr'", timeout=120_000)
    page.get_by_label("Code d'équipe").fill(first.lower())
    page.wait_for_timeout(300)
    assert not page.get_by_text("Press Enter").count()
    assert page.get_by_text("Entrée pour valider").first.is_visible()
    shot("code")
    page.get_by_role("button", name="Rejoindre l'équipe").click()
    save = page.get_by_role("button", name="Enregistrer la fiche")
    save.wait_for(timeout=60_000)
    _settled(page)
    assert in_viewport(page.get_by_role("heading", name="— NDLS test"))
    shot("equipe")

    # 2. A questionnaire with an error: the volunteer taps "save" with answers missing; the
    # refusal, in French and with the questions' labels, is next to the button.
    _tap(page, "Questionnaire rempli")
    page.get_by_text("Âge (déclaré, ou apparent si la personne n'a pas répondu) *").wait_for()
    _tap_at_bottom(save)
    _settled(page)
    refusal = _alert(page, "Fiche pas encore enregistrée")
    refusal.wait_for()
    assert in_viewport(refusal), refusal.bounding_box()
    assert in_viewport(save)
    assert "« Âge (déclaré" in refusal.inner_text() and "age_band" not in refusal.inner_text()
    shot("erreur")
    assert _scalar(engine, "SELECT count(*) FROM observation") == 0

    # 3. The fix, then the save: the confirmation and the tally that moved are in view.
    for label in ("35 à 44 ans", "Rue, trottoir, porche", "Seule"):
        _tap(page, label)
    initials = page.get_by_role("textbox", name="Initiales (prénom puis nom)")
    initials.fill("md")
    initials.press("Tab")
    _settled(page)
    expect(initials).to_have_value("MD", timeout=15_000)  # read as it will be stored
    shot("corrigee")
    _tap_at_bottom(save)
    _settled(page)
    saved = _alert(page, "Fiche enregistrée ✓")
    saved.wait_for()
    assert in_viewport(saved), saved.bounding_box()
    tally = page.get_by_test_id("stMetric").filter(has_text="Fiches de l'équipe")
    assert in_viewport(tally) and tally.get_by_test_id("stMetricValue").inner_text() == "1"
    assert "+1" in tally.inner_text()
    shot("enregistree")
    assert _scalar(engine, "SELECT count(*) FROM observation") == 1

    # 4. Another team: the old one is forgotten, the sidebar included.
    page.get_by_role("button", name="Changer d'équipe").click()
    page.get_by_label("Code d'équipe").wait_for(timeout=60_000)
    _settled(page)
    assert first not in (page.get_by_test_id("stSidebar").text_content() or "")
    assert f"equipe={first}" not in page.url
    shot("changer-equipe")
    page.get_by_label("Code d'équipe").fill(second)
    page.get_by_role("button", name="Rejoindre l'équipe").click()
    save.wait_for(timeout=60_000)
    _settled(page)
    assert first not in (page.get_by_test_id("stSidebar").text_content() or "")

    # 5. Nobody met: asked for confirmation, in view, then stored as a zero.
    nobody = page.get_by_role("button", name=entry.NOBODY_MET)
    nobody.click()
    _settled(page)
    confirm = page.get_by_role("button", name="Oui, je confirme")
    confirm.wait_for()
    question = page.get_by_text("sans rencontrer personne")
    assert in_viewport(confirm) and in_viewport(question)
    shot("personne-confirmer")
    assert _scalar(engine, "SELECT count(*) FROM sector_report") == 0
    confirm.click()
    _settled(page)
    done = _alert(page, "personne rencontrée : aucune")
    done.wait_for()
    assert in_viewport(done), done.bounding_box()
    shot("personne-enregistre")
    assert _scalar(engine, "SELECT people_met FROM sector_report") == 0
    page.close()


@pytest.mark.parametrize("size", [(1366, 900), (768, 1024)], ids=["bureau", "tablette"])
def test_the_volunteer_pages_with_a_team_joined_at_desktop_and_tablet_size(
    browser, app_and_night, artifacts, size
):
    """The entry page and the team leader's page as a team sees them (screenshots of every
    page: the others are in test_dashboards_browser.py); the leader's page knows the team."""
    app, night, engine = app_and_night
    team = night.teams[0]
    entry.submit(engine, interview(team))
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    name = "bureau" if size[0] > 1000 else "tablette"
    page.goto(f"{app.url}/saisie?equipe={team}", wait_until="networkidle")
    page.get_by_role("button", name="Enregistrer la fiche").wait_for(timeout=60_000)
    _settled(page)
    assert not english_texts(page), english_texts(page)
    page.screenshot(path=str(artifacts / f"benevole-{name}-01-saisie.png"), full_page=True)
    # In-app navigation keeps the session (the sidebar is folded on a tablet: a tap on the
    # opened menu's link).
    page.get_by_role("link", name="Chef d'équipe").first.evaluate("a => a.click()")
    page.get_by_role("heading", name="Chef d'équipe — corrections").wait_for(timeout=60_000)
    page.get_by_test_id("stTable").first.wait_for(timeout=60_000)
    _settled(page)
    assert page.get_by_label("Code d'équipe").count() == 0  # not asked again
    assert page.get_by_text("Traceback").count() == 0
    assert not english_texts(page), english_texts(page)
    page.screenshot(path=str(artifacts / f"benevole-{name}-02-chef-equipe.png"),
                    full_page=True)
    page.close()
