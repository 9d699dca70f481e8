"""AppTest smoke tests of the count-night pages (tablet entry, team leader, staff)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest
from test_survey_factories import interview, make_night

from observatoire import countnight
from observatoire.access import PUBLIC_USER, SESSION_KEY, can_open, current_user
from observatoire.model import Role
from observatoire.store.db import make_engine

REPO_PAGES = "../dashboards/"


@pytest.fixture
def night_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'observatoire.sqlite'}"
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", url)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OBSERVATOIRE_TERRITORY", "test-territoire")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    engine = make_engine(url)
    night = make_night(engine)
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    yield engine, night
    engine.dispose()


def _page(name: str) -> AppTest:
    return AppTest.from_file(REPO_PAGES + name, default_timeout=60)


def _count(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM observation")).scalar()


def test_saisie_one_tap_and_questionnaire(night_db):
    engine, night = night_db
    at = _page("saisie.py")
    at.query_params["equipe"] = night.teams[0]
    at.run()
    assert not at.exception
    at.button(key=next(b.key for b in at.button if b.label == "Endormie")).click().run()
    assert _count(engine) == 1
    assert any("Fiche enregistrée" in s.value for s in at.success)
    submit = next(b for b in at.button if b.label == "Enregistrer la fiche")
    submit.click().run()  # empty form: nothing stored, said kindly
    assert _count(engine) == 1
    assert any("Fiche vide" in i.value for i in at.info)


def test_saisie_unknown_code(night_db):
    at = _page("saisie.py")
    at.run()
    at.text_input[0].input("ZZZZZZ")
    at.button[0].click().run()
    assert "Code d'équipe inconnu" in at.error[0].value


def test_terrain_lists_and_corrects(night_db):
    engine, night = night_db
    countnight.submit(engine, interview(night.teams[0]))
    at = _page("terrain.py")
    at.query_params["equipe"] = night.teams[0]
    at.run()
    assert not at.exception
    assert len(at.dataframe) == 1


@pytest.mark.parametrize("page", ["campagnes.py", "couverture.py"])
def test_staff_pages_render(night_db, page):
    at = _page(page)
    at.run()
    assert not at.exception, at.exception


# --- a volunteer's reload: the team code kept in the address ------------------------------


def _app() -> AppTest:
    return AppTest.from_file("../streamlit_app.py", default_timeout=60)


def test_the_address_team_code_makes_a_volunteer_for_the_navigation_only():
    assert current_user({}, {}) == PUBLIC_USER
    volunteer = current_user({}, {"equipe": " k7qx2m "})
    assert (volunteer.role, volunteer.team_code) == (Role.VOLUNTEER, "K7QX2M")
    staff = {SESSION_KEY: {"login": "a", "display_name": "A", "role": "staff"}}
    assert current_user(staff, {"equipe": "K7QX2M"}).role is Role.STAFF
    # The code accepted in the session wins over the address.
    assert current_user({"team_code": "AAAAAA"}, {"equipe": "K7QX2M"}).team_code == "AAAAAA"
    # Outside Streamlit (a plain mapping), no address is read.
    assert current_user({}) == PUBLIC_USER
    # A volunteer, from the address or not, opens nothing beyond the public's links.
    for page in ("dashboards/tableau.py", "dashboards/couverture.py", "dashboards/admin.py"):
        assert not can_open(volunteer.role, page)


def test_a_fresh_session_with_the_team_code_in_the_address_reopens_the_entry_page(night_db):
    """What a reload, a restored tab or a reconnect to a new server session does."""
    engine, night = night_db
    team = night.teams[0]
    countnight.submit(engine, interview(team))
    at = _app()
    at.query_params["equipe"] = team.lower()
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value.endswith("— NDLS test")
    assert at.metric[0].label == "Personnes comptées par l'équipe"
    assert at.metric[0].value == "1"
    assert any(b.label == "Enregistrer la fiche" for b in at.button)
    assert at.query_params["equipe"] == team  # normalised, kept for the next reload
    assert at.session_state["team_code"] == team
    # The entry page is the volunteer's default page: the public home is not offered.
    assert not [t for t in at.title if "Accueil" in t.value]
    at.button(key=next(b.key for b in at.button if b.label == "Endormie")).click().run()
    assert _count(engine) == 2


@pytest.mark.parametrize("locked", [False, True], ids=["code-inconnu", "campagne-verrouillee"])
def test_a_refused_code_in_the_address_goes_back_to_the_code_field(night_db, locked):
    engine, night = night_db
    if locked:
        countnight.lock_campaign(engine, night.campaign_id, "coordination")
    at = _app()
    at.query_params["equipe"] = night.teams[0] if locked else "ZZZZZZ"
    at.run()
    assert not at.exception, at.exception
    expected = "est verrouillée" if locked else "Code d'équipe inconnu : « ZZZZZZ »"
    assert [e.value for e in at.error if expected in e.value]
    assert "equipe" not in at.query_params
    assert "team_code" not in at.session_state
    assert at.text_input[0].label == "Code d'équipe"
    assert _count(engine) == 0


def test_a_typed_code_of_a_locked_campaign_is_refused(night_db):
    engine, night = night_db
    countnight.lock_campaign(engine, night.campaign_id, "coordination")
    at = _page("saisie.py")
    at.run()
    at.text_input[0].input(night.teams[0])
    at.button[0].click().run()
    assert "est verrouillée" in at.error[0].value
    assert "team_code" not in at.session_state


def test_a_campaign_locked_during_the_night_sends_the_tablet_back_to_the_code(night_db):
    engine, night = night_db
    at = _page("saisie.py")
    at.query_params["equipe"] = night.teams[0]
    at.run()
    assert any(b.label == "Enregistrer la fiche" for b in at.button)
    countnight.lock_campaign(engine, night.campaign_id, "coordination")
    at.run()
    assert any("est verrouillée" in e.value for e in at.error)
    assert not any(b.label == "Enregistrer la fiche" for b in at.button)
