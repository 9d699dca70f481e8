"""The app shell: the home page renders the sample territory with its counts (AppTest)."""

from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from observatoire.config import load_settings
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database
from observatoire.store import repository

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample_settings(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("donnees")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=7, history=False)
    return settings


def _app(settings, monkeypatch) -> AppTest:
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    # The engine and settings are cached per process: start each app on its own database.
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60)
    app.run()
    return app


def test_home_page_shows_the_territory_and_the_night(sample_settings, monkeypatch):
    app = _app(sample_settings, monkeypatch)
    assert not app.exception, app.exception
    assert app.title[0].value == "Observatoire social du sans-abrisme"
    assert app.selectbox[0].value == "dijon-metropole"
    metrics = {m.label: m.value for m in app.metric}
    with Session(open_database(sample_settings)) as session:
        campaign = repository.list_campaigns(session, "dijon-metropole")[0]
        summary = repository.campaign_summary(session, campaign.id)
    # The public home shows the night as published: its first key figure (the a minima
    # total, street and partner places) and the sectors walked.
    first = app.metric[0]
    assert first.label.startswith("Personnes")
    published_total = int("".join(ch for ch in str(first.value) if ch.isdigit()))
    assert published_total >= summary["personnes"] > 100
    assert metrics["Secteurs parcourus"] == str(summary["secteurs"])
    captions = " ".join(c.value for c in app.caption)
    assert "Données au" in captions and "Secret statistique" in captions


def test_home_page_switches_between_counts_and_rates(sample_settings, monkeypatch):
    app = _app(sample_settings, monkeypatch)
    app.radio[0].set_value("Pour 10 000 habitants").run()
    assert not app.exception, app.exception
    assert app.radio[0].value == "Pour 10 000 habitants"


def test_home_page_on_an_empty_database_says_what_to_do(tmp_path, monkeypatch):
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path)})
    open_database(settings)
    app = _app(settings, monkeypatch)
    assert not app.exception, app.exception
    assert "observatoire demo" in app.warning[0].value
