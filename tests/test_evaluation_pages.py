"""The evaluation pages (execution report, convention, hand-entered figures) with AppTest
on the sample, and the monitoring body's access: the report, no record-level page."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from observatoire.access import SESSION_KEY, can_open, navigation_plan, session_entry
from observatoire.config import load_settings
from observatoire.model import Role
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database
from observatoire.store import access_repository

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted(f"dashboards/{p.name}" for p in (REPO / "dashboards").glob("*.py")
               if p.name not in ("__init__.py", "common.py", "tableau_commun.py"))
MONITORING_PAGES = {"dashboards/rapport.py", "dashboards/accueil.py",
                    "dashboards/publication.py", "dashboards/connexion.py"}


def test_the_monitoring_body_reaches_the_report_and_published_pages_only():
    assert MONITORING_PAGES <= set(PAGES)
    for page in PAGES:
        assert can_open(Role.MONITORING, page) == (page in MONITORING_PAGES), page
    plan = navigation_plan(Role.MONITORING, {"Toutes": PAGES})["Toutes"]
    assert {path for path, _ in plan} == MONITORING_PAGES
    # Record-level pages, the review queue and entry stay out of its reach.
    for page in ("dashboards/revue.py", "dashboards/saisie.py", "dashboards/terrain.py",
                 "dashboards/tableau.py", "dashboards/convention.py",
                 "dashboards/chiffres.py", "dashboards/admin.py"):
        assert not can_open(Role.MONITORING, page)
    # The public does not see the report.
    assert not can_open(Role.PUBLIC, "dashboards/rapport.py")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("evaluation-pages")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=11, history=False,
                          partner_feeds=False)
    engine = open_database(settings)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", None, actor="test")
        access_repository.create_user(session, "ddets", "DDETS", "monitoring", None,
                                      actor="test")
    engine.dispose()
    return settings


@pytest.fixture
def page(sample, monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(sample.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()

    def run(script: str, login: str) -> AppTest:
        app = AppTest.from_file(str(REPO / "dashboards" / script), default_timeout=120)
        engine = open_database(sample)
        with Session(engine) as session:
            app.session_state[SESSION_KEY] = session_entry(
                access_repository.account_user(session, login))
        app.run()
        if script == "rapport.py":
            # The report is built in the background: wait for it, then open the page again.
            _wait_for_reports(engine)
            app.run()
        engine.dispose()
        return app

    yield run
    sys.modules.pop("dashboards.tableau_commun", None)


def _wait_for_reports(engine) -> None:
    from observatoire.evaluation import prepared
    from observatoire.evaluation.stored import convention_years

    settings = load_settings()
    with Session(engine) as session:
        years = convention_years(session, "dijon-metropole")
    version = prepared.inputs_version(engine, "dijon-metropole")
    for year in years:
        state = prepared.wait(engine, settings.data_dir, "dijon-metropole", year, version)
        assert state.ready, state.error


def _text(app: AppTest) -> str:
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "info",
                                  "warning", "error", "success") for e in getattr(app, kind)]
    return "\n".join(str(p) for p in parts)


def test_the_monitoring_body_reads_the_report_with_its_deadline_and_what_is_missing(page):
    app = page("rapport.py", "ddets")
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert [m.value for m in app.metric][0] == "30/09/2026"
    text = _text(app)
    assert "Encore à renseigner" in text
    assert "Diagnostics réalisés avant le commandement de quitter les lieux" in text
    actions = app.dataframe[0].value
    assert list(actions["N°"])[:3] == ["1", "1b", "2"]
    # The sample's only night is of 2026: no count for 2025, said so.
    assert actions.set_index("N°").loc["15", "Valeur(s) 2025"] == "non renseigné"
    assert len(app.get("tabs")) == 6
    definitions = app.dataframe[-1].value
    assert "Personnes sans abri décomptées (a minima)" in set(definitions["Indicateur"])
    # Read only: no comment form for the monitoring body.
    assert not [b for b in app.button if b.label == "Enregistrer les commentaires"]


@pytest.mark.parametrize("script", ["convention.py", "chiffres.py", "revue.py", "tableau.py"])
def test_the_monitoring_body_is_refused_staff_pages(page, script):
    app = page(script, "ddets")
    assert [e.value for e in app.error] and "Accès réservé" in app.error[0].value
    assert not app.dataframe


def test_the_convention_page_shows_the_stored_convention_and_saves_no_empty_version(page):
    app = page("convention.py", "marie")
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert "Convention pluriannuelle d'objectifs 2023-2025" in _text(app)
    save = next(b for b in app.button if b.label == "Enregistrer une nouvelle version")
    app = save.click().run()
    assert not app.error, [e.value for e in app.error]
    assert "Rien n'a changé" in _text(app)


def test_a_figure_entered_on_its_page_reaches_the_report(page):
    app = page("chiffres.py", "marie")
    assert not app.exception, app.exception
    app.selectbox(key="chiffre_indicateur").set_value("diagnostics_avant_cql")
    app.number_input(key="chiffre_annee").set_value(2025)
    app.number_input(key="chiffre_valeur").set_value(44)
    app.text_input(key="chiffre_source").set_value("CCAPEX")
    app = next(b for b in app.button if b.label == "Enregistrer").click().run()
    assert not app.error, [e.value for e in app.error]
    assert "Chiffre enregistré" in _text(app)
    history = app.dataframe[-1].value
    assert history.iloc[0]["Indicateur"] == "diagnostics\\_avant\\_cql"
    report = page("rapport.py", "marie")
    actions = report.dataframe[0].value.set_index("N°")
    assert actions.loc["6", "Valeur(s) 2025"] == "44 ménages"
    assert "Diagnostics réalisés avant" not in _text(report)


def test_staff_write_the_report_comments_on_the_report_page(page):
    app = page("rapport.py", "marie")
    assert not app.exception, app.exception
    save = next(b for b in app.button if b.label == "Enregistrer les commentaires")
    app = save.click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
