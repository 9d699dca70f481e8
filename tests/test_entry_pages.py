"""AppTest smoke tests of the count-night pages (tablet entry, team leader, staff)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest
from test_survey_factories import make_night

from observatoire import countnight
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
    from test_survey_factories import interview

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
