"""The execution report prepared once per version of its inputs (`evaluation.prepared`):
the version moves with what the report reads, the report is built once per version in the
background, kept on disk (0600) and read back, and the page says it is being prepared."""

from __future__ import annotations

import shutil
import stat
import sys
import threading
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from observatoire.access import SESSION_KEY, session_entry
from observatoire.config import load_settings
from observatoire.evaluation import prepared
from observatoire.evaluation.service import annual_report
from observatoire.evaluation.stored import enter_figure
from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database
from observatoire.store import access_repository, repository, survey_repository

REPO = Path(__file__).resolve().parent.parent
SLUG = "dijon-metropole"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("prepared-report")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, SLUG, seed=11, history=False, partner_feeds=False)
    engine = open_database(settings)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", None, actor="test")
        access_repository.create_user(session, "ddets", "DDETS", "monitoring", None,
                                      actor="test")
    yield settings, engine
    engine.dispose()


@pytest.fixture(autouse=True)
def no_jobs():
    prepared._JOBS.clear()
    yield
    for job in list(prepared._JOBS.values()):
        job.done.wait()
    prepared._JOBS.clear()


class CountingBuilder:
    """`annual_report` that counts its calls and may hold until released."""

    def __init__(self, hold: bool = False, fail: Exception | None = None) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail = fail
        if not hold:
            self.release.set()

    def __call__(self, engine, territory_slug, year, *, progress):
        self.calls += 1
        progress(0.25, "Lecture des nuits")
        self.started.set()
        self.release.wait()
        if self.fail is not None:
            raise self.fail
        return annual_report(engine, territory_slug, year, progress=progress)


def test_the_version_moves_with_what_the_report_reads_and_only_then(sample):
    settings, engine = sample
    before = prepared.inputs_version(engine, SLUG)
    assert prepared.inputs_version(engine, SLUG) == before
    with Session(engine) as session, session.begin():
        enter_figure(session, SLUG, "diagnostics_avant_cql", 2025, 12, actor="test")
    after_figure = prepared.inputs_version(engine, SLUG)
    assert after_figure != before
    with Session(engine) as session, session.begin():
        night = repository.list_campaigns(session, SLUG)[0].id
        status = survey_repository.campaign_status(session, night)
        survey_repository.set_campaign_status(session, night, CampaignStatus.LOCKED.value)
    assert prepared.inputs_version(engine, SLUG) != after_figure
    with Session(engine) as session, session.begin():
        survey_repository.set_campaign_status(session, night, status)
    assert prepared.inputs_version(engine, SLUG) == after_figure


def test_the_report_is_built_once_per_version_in_the_background_and_kept_on_disk(sample):
    settings, engine = sample
    version = prepared.inputs_version(engine, SLUG)
    build = CountingBuilder(hold=True)
    first = prepared.prepared_report(engine, settings.data_dir, SLUG, 2025, version,
                                     build=build)
    assert not first.ready
    build.started.wait()
    # Every page asking meanwhile sees the progress; nobody starts a second build.
    waiting = prepared.prepared_report(engine, settings.data_dir, SLUG, 2025, version,
                                       build=build)  # fmt: skip
    assert (waiting.ready, waiting.progress, waiting.step) == (False, 0.25, "Lecture des nuits")
    build.release.set()
    done = prepared.wait(engine, settings.data_dir, SLUG, 2025, version)
    assert done.ready and done.progress == 1.0 and build.calls == 1
    assert "Encore à renseigner" not in done.report.actions.to_string()
    path = prepared.report_path(settings.data_dir, SLUG, 2025, version)
    assert path.parent == settings.data_dir / "rapports"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # A new server (nothing in memory) reads the file: same report, no build.
    prepared._JOBS.clear()
    again = prepared.prepared_report(engine, settings.data_dir, SLUG, 2025, version,
                                     build=build)
    assert again.ready and build.calls == 1
    for name in ("actions", "indicators", "overview", "budget"):
        assert getattr(again.report, name).equals(getattr(done.report, name)), name
    assert again.report.convention == done.report.convention
    assert (again.report.methods, again.report.missing) == (done.report.methods,
                                                            done.report.missing)


def test_another_version_builds_again_and_replaces_the_old_file(sample):
    settings, engine = sample
    build = CountingBuilder()
    old = ("a",)
    prepared.wait(engine, settings.data_dir, SLUG, 2024, old)
    prepared._JOBS.clear()
    assert prepared.prepared_report(engine, settings.data_dir, SLUG, 2024, old,
                                    build=build).ready
    assert build.calls == 0
    prepared.prepared_report(engine, settings.data_dir, SLUG, 2024, ("b",), build=build)
    assert prepared.wait(engine, settings.data_dir, SLUG, 2024, ("b",)).ready
    assert build.calls == 1
    files = sorted((settings.data_dir / "rapports").glob(f"rapport-{SLUG}-2024-*.json"))
    assert files == [prepared.report_path(settings.data_dir, SLUG, 2024, ("b",))]


def test_a_file_of_another_format_or_unreadable_is_built_again(sample, monkeypatch):
    settings, engine = sample
    path = prepared.report_path(settings.data_dir, SLUG, 2023, ("c",))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{pas du json")
    build = CountingBuilder()
    prepared.prepared_report(engine, settings.data_dir, SLUG, 2023, ("c",), build=build)
    assert prepared.wait(engine, settings.data_dir, SLUG, 2023, ("c",)).ready
    assert build.calls == 1
    prepared._JOBS.clear()
    monkeypatch.setattr(prepared, "REPORT_FORMAT", prepared.REPORT_FORMAT + 1)
    assert prepared._read(path) is None


def test_a_failed_build_says_why_until_asked_again(sample):
    settings, engine = sample
    build = CountingBuilder(fail=ObservatoireError("Aucune convention ne couvre 2019."))
    prepared.prepared_report(engine, settings.data_dir, SLUG, 2019, ("d",), build=build)
    state = prepared.wait(engine, settings.data_dir, SLUG, 2019, ("d",))
    assert not state.ready and state.error == "Aucune convention ne couvre 2019."
    assert prepared.prepared_report(engine, settings.data_dir, SLUG, 2019, ("d",),
                                    build=build).error  # fmt: skip
    assert build.calls == 1
    build.fail = None
    prepared.prepared_report(engine, settings.data_dir, SLUG, 2019, ("d",), retry=True,
                             build=build)  # fmt: skip
    assert build.calls == 2


@pytest.fixture
def page(sample, monkeypatch):
    settings, engine = sample
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()

    def run(login: str) -> AppTest:
        app = AppTest.from_file(str(REPO / "dashboards" / "rapport.py"), default_timeout=120)
        with Session(engine) as session:
            app.session_state[SESSION_KEY] = session_entry(
                access_repository.account_user(session, login))
        return app.run()

    yield run
    sys.modules.pop("dashboards.tableau_commun", None)


def _texts(app: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("info", "caption", "markdown", "error")
                     for e in getattr(app, kind))


def test_the_page_says_the_report_is_being_prepared_then_shows_it(sample, page, monkeypatch):
    settings, engine = sample
    shutil.rmtree(settings.data_dir / prepared.FOLDER, ignore_errors=True)  # none built yet
    build = CountingBuilder(hold=True)
    original = prepared.prepared_report
    monkeypatch.setattr(prepared, "prepared_report",
                        lambda *a, **k: original(*a, **{**k, "build": build}))
    app = page("ddets")
    assert not app.exception, app.exception
    assert "Rapport en préparation" in _texts(app)
    assert not app.dataframe and not app.metric
    build.release.set()
    for job in list(prepared._JOBS.values()):
        job.done.wait()
    app.run()
    assert not app.exception, app.exception
    assert "Rapport en préparation" not in _texts(app)
    assert [m.value for m in app.metric][0] == "30/09/2026"
    assert build.calls == 1


def test_staff_see_which_nights_the_report_leaves_out(sample, page):
    settings, engine = sample
    with Session(engine) as session, session.begin():
        night = repository.list_campaigns(session, SLUG)[0]
        night_id, name, status = night.id, night.name, night.status
        survey_repository.set_campaign_status(session, night_id, CampaignStatus.VALIDATED.value)
    try:
        staff, monitoring = page("marie"), page("ddets")
    finally:
        with Session(engine) as session, session.begin():
            survey_repository.set_campaign_status(session, night_id, status)
    note = "Nuits pas encore publiées"
    assert note in _texts(staff) and name in _texts(staff)
    assert note not in _texts(monitoring)
