"""Shared fixtures: one fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL tests run when ``OBSERVATOIRE_TEST_POSTGRES_URL`` points at a server (an admin
URL such as ``postgresql://postgres@127.0.0.1:5432/postgres``); each test gets a database
of its own, dropped afterwards. With ``--require-postgres`` (as ``.ci/run`` passes), a
missing server fails the run instead of skipping. Likewise the Spark tests (marker
``spark``) run when PySpark and Java are installed, and ``--require-spark`` fails the run
when they could not.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from observatoire.config import normalise_database_url
from observatoire.store.db import make_engine

# No wall-clock deadline for any property test: the suite must pass on a loaded machine
# (a 200 ms Hypothesis deadline failed under load 6 and passed alone).
hypothesis_settings.register_profile("observatoire", deadline=None)
hypothesis_settings.load_profile("observatoire")

REPO = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "OBSERVATOIRE_TEST_POSTGRES_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-postgres",
        action="store_true",
        help="fail (instead of skipping) when the PostgreSQL tests cannot run",
    )
    parser.addoption(
        "--require-spark",
        action="store_true",
        help="fail (instead of skipping) when the Spark tests cannot run (PySpark, Java)",
    )


def _postgres_admin_url(config: pytest.Config) -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if config.getoption("--require-postgres"):
            pytest.fail(f"--require-postgres: set {POSTGRES_ENV} to a PostgreSQL admin URL")
        return None
    return normalise_database_url(url)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest):
    """URL of a brand-new PostgreSQL database, dropped after the test."""
    admin_url = _postgres_admin_url(request.config)
    if admin_url is None:
        pytest.skip(f"PostgreSQL non configuré ({POSTGRES_ENV})")
    name = f"observatoire_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'observatoire.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on each backend."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(name)


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def spark_master(request: pytest.FixtureRequest):
    """``local[2]`` once PySpark and Java are there (skips, or fails with --require-spark),
    its session stopped after the tests."""
    from observatoire.linkage.spark import spark_session
    from observatoire.model import ObservatoireError

    try:
        spark = spark_session("local[2]")
    except ObservatoireError as error:
        if request.config.getoption("--require-spark"):
            pytest.fail(f"--require-spark : {error}")
        pytest.skip(str(error))
    yield "local[2]"
    spark.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With --require-postgres (--require-spark), a run in which no PostgreSQL (Spark) test
    passed is a failure."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    for option, marker, label in (("--require-postgres", "postgres", "PostgreSQL"),
                                  ("--require-spark", "spark", "Spark")):
        if not session.config.getoption(option):
            continue
        passed = [r for r in reporter.stats.get("passed", []) if marker in r.keywords]
        if not passed and exitstatus == 0:
            reporter.write_line(f"ERREUR : aucun test {label} n'a été exécuté ({option}).")
            session.exitstatus = 1


@pytest.fixture
def night_db(tmp_path, monkeypatch):
    """An open count night (`test_survey_factories.make_night`) on a fresh SQLite database
    that the pages read (``OBSERVATOIRE_DATABASE_URL``), caches emptied: ``(engine, night)``."""
    from test_survey_factories import make_night

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
