"""Staff, public and admin pages with AppTest, for each role, on the sample territory."""

import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from observatoire.access import SESSION_KEY, session_entry
from observatoire.config import load_settings
from observatoire.pipeline import open_database
from observatoire.sample_database import build_sample_database
from observatoire.store import access_repository

REPO = Path(__file__).resolve().parent.parent
STAFF, ADMIN = "marie", "alex"
"""Accounts of the sample database: a page run ``as`` one gets the session its sign-in makes."""
STAFF_PAGES = ["tableau.py", "indicateurs.py", "tableau_qualite.py"]


@pytest.fixture(scope="module")
def sample_settings(tmp_path_factory):
    import datetime as dt

    from observatoire.sample_database import add_sample_history

    data_dir = tmp_path_factory.mktemp("tableau")
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(data_dir)})
    build_sample_database(settings, "dijon-metropole", seed=11, history=False,
                          partner_feeds=False)
    engine = open_database(settings)
    add_sample_history(engine, "dijon-metropole", nights=(dt.date(2025, 1, 30),),
                       settings=settings)  # fmt: skip
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff",
                                      "une phrase de passe", actor="test")  # fmt: skip
        access_repository.create_user(session, "alex", "Alex", "admin", None, actor="test")
    engine.dispose()
    return settings


def _page_runner(settings, monkeypatch):
    """``run(script, user, **state)``: a page (or ``"app"``) run on ``settings``' database
    with empty Streamlit caches."""
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()

    def run(script: str, user: str | None = None, **state) -> AppTest:
        path = REPO / ("streamlit_app.py" if script == "app" else f"dashboards/{script}")
        app = AppTest.from_file(str(path), default_timeout=90)
        if user:
            app.session_state[SESSION_KEY] = signed_in(settings, user)
        for key, value in state.items():
            app.session_state[key] = value
        return app.run()

    return run


@pytest.fixture
def page(sample_settings, monkeypatch):
    yield _page_runner(sample_settings, monkeypatch)
    sys.modules.pop("dashboards.tableau_commun", None)


def signed_in(settings, login: str) -> dict:
    """The session entry that signing in as ``login`` stores (its account as it is now)."""
    engine = open_database(settings)
    with Session(engine) as session:
        user = access_repository.account_user(session, login)
    engine.dispose()
    return session_entry(user)


def _text(app: AppTest) -> str:
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "info",
                                  "warning", "error", "success") for e in getattr(app, kind)]
    return "\n".join(str(p) for p in parts)  # fmt: skip


@pytest.mark.parametrize("script", STAFF_PAGES)
def test_staff_pages_render_for_staff(page, script):
    app = page(script, STAFF)
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.title


def test_dashboard_tiles_show_the_count_and_the_change(page, sample_settings):
    app = page("tableau.py", STAFF)
    metrics = {m.label: m for m in app.metric}
    # Tiles carry the catalogue's short labels (they fit); the full label is in the help.
    total = metrics["Décomptées (a minima)"]
    assert total.help.startswith("Personnes sans abri décomptées (a minima). ")
    assert int(total.value.replace("\u202f", "")) > 100
    assert "vs nuit précédente" in total.delta
    # The partners' tallies of the night are imported with the sample: their total, from the
    # file, is on the partner tile (and in the a minima total).
    tallies = pd.read_csv(sample_settings.samples_dir / "dijon-metropole" / "decomptes_lieux.csv",
                          sep=";", encoding="cp1252", dtype=str)  # fmt: skip
    partners = tallies["Nombre de personnes"].astype(int).sum()
    tile = metrics["Décomptées par les partenaires"].value
    assert int(tile.replace("\u202f", "")) == partners > 0
    # No partner feed is linked in the sample database: the tile says so.
    assert metrics["Distinctes sur la période"].value == "pas de données"
    assert all(len(m.label) <= 30 for m in app.metric), [m.label for m in app.metric]
    # The trend across nights in French: decimal comma, French month names, French legend;
    # a night without partners' tallies leaves a gap in their line.
    import json

    trend = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert trend["layout"]["separators"] == ", "
    months = " ".join(trend["layout"]["xaxis"]["ticktext"])
    assert any(m in months for m in ("janv.", "févr.", "nov.", "déc.")), months
    names = {t["name"] for t in trend["data"]}
    assert names == {"Total a minima", "Rue", "Lieux partenaires"}
    app.radio(key="carte_mesure").set_value("Pour 10 000 habitants").run()
    assert not app.exception


def test_dashboard_filters_by_commune(page, sample_settings):
    from observatoire.store import repository

    engine = open_database(sample_settings)
    with Session(engine) as session:
        oldest = repository.list_campaigns(session, "dijon-metropole")[-1].id
    engine.dispose()
    app = page("tableau.py", STAFF)
    everyone = app.metric[0].value
    app.multiselect(key="filtre_communes").set_value(["21166"]).run()
    assert not app.exception
    assert app.metric[0].value != everyone
    app.selectbox(key="filtre_campagne").set_value(oldest).run()
    assert not app.exception


def test_quality_page_lists_missing_fields_and_coverage(page):
    app = page("tableau_qualite.py", STAFF)
    assert "Champs manquants" in _text(app)
    assert len(app.dataframe) >= 3


def test_flows_page_says_no_data_without_linked_feeds_and_saves_targets(page, sample_settings):
    app = page("indicateurs.py", STAFF)
    # No partner feed in this sample: the plan's table holds the count night's figures only
    # (a convention's target on the night's total gets its value).
    plan = app.dataframe[0].value
    assert "Personnes sans abri décomptées (a minima)" in set(plan["Indicateur"])
    assert plan["Valeur"].notna().all()
    app.number_input[-1].set_value(35.0)
    app.button[-1].click().run()  # the staff-entered value form
    assert not app.exception, app.exception
    engine = open_database(sample_settings)
    with Session(engine) as session:
        log = access_repository.audit_log(session, action_prefix="indicator")
    engine.dispose()
    assert log.iloc[0]["actor"] == "marie"
    app.radio[0].set_value("Flux de la liste nominative").run()
    assert "pas de données" in _text(app)


@pytest.mark.parametrize("user", [None, {"team_code": "K7QX2M"}], ids=["public", "benevole"])
@pytest.mark.parametrize("script", STAFF_PAGES + ["admin.py"])
def test_public_and_volunteers_get_no_staff_data(page, script, user):
    state = user or {}
    app = page(script, None, **state)
    assert not app.exception
    assert "Accès réservé" in _text(app)
    assert not app.dataframe and not app.metric


def test_staff_cannot_open_the_admin_page(page):
    app = page("admin.py", STAFF)
    assert "Accès réservé" in _text(app)


def test_admin_page_lists_accounts_and_settings(page):
    app = page("admin.py", ADMIN)
    assert not app.exception, app.exception
    assert "marie" in app.dataframe[0].value["Identifiant"].tolist()


def test_public_navigation_does_not_route_to_staff_pages(page):
    app = page("app")
    assert not app.exception
    # The page is not registered for the public: there is no route to its script. Its
    # address goes to a stand-in (a function, not the script) that says to sign in.
    with pytest.raises(ValueError, match="Could not find a navigation page") as error:
        app.switch_page("dashboards/tableau.py")
    known = str(error.value).split("Known pages")[1]
    assert "tableau.py" not in known and "'tableau'" in known
    staff = page("app", STAFF)
    staff.switch_page("dashboards/tableau.py").run()
    assert not staff.exception, staff.exception
    assert staff.title[0].value == "Tableau de bord"


def test_published_page_shows_only_protected_figures(page):
    app = page("publication.py")
    assert not app.exception, app.exception
    communes = app.dataframe[1].value
    # Secret cells spelled out (a page's table would show an empty count as "None").
    shown = communes["Personnes sans abri (a minima)"]
    counts = shown[shown != "secret"].astype(int)
    assert ((counts == 0) | (counts >= 11)).all()
    assert communes["Statut"].str.startswith("secret").any()
    assert (shown[communes["Statut"].str.startswith("secret")] == "secret").all()


def test_public_home_page_is_disclosure_controlled(page):
    app = page("app")
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    # The published version's table, as on the published page (a minima, protected).
    shown = table["Personnes sans abri (a minima)"]
    counts = shown[shown != "secret"].astype(int)
    assert ((counts == 0) | (counts >= 11)).all()
    assert (shown == "secret").any() and not shown.isna().any()


def test_sign_in_with_a_password_then_sign_out(page):
    app = page("connexion.py")
    app.text_input[0].input("marie")
    app.text_input[1].input("mauvais mot de passe")
    app.button[0].click().run()
    assert "incorrect" in _text(app)
    app.text_input[1].input("une phrase de passe")
    app.button[0].click().run()
    assert app.session_state[SESSION_KEY]["role"] == "staff"
    assert "Connecté" in _text(app)
    app.button[0].click().run()
    assert SESSION_KEY not in app.session_state


# --- partner feeds: the pages read the stored aggregates ------------------------------------


@pytest.fixture(scope="module")
def linked_settings(tmp_path_factory):
    """The sample with its partner files imported and linked (which stores the aggregates)."""
    settings = load_settings({"OBSERVATOIRE_DATA_DIR": str(tmp_path_factory.mktemp("flux"))})
    build_sample_database(settings, "dijon-metropole", seed=11, n_people=300, history=False)
    engine = open_database(settings)
    with Session(engine) as session, session.begin():
        access_repository.create_user(session, "marie", "Marie", "staff", None, actor="test")
    engine.dispose()
    return settings


def test_pages_show_the_stored_feed_figures(linked_settings, monkeypatch):
    from observatoire.formats_fr import count_fr
    from observatoire.indicators import IndicatorInputs, flows
    from observatoire.indicators.flows import measured_flows
    from observatoire.store import indicators_repository as ind
    from observatoire.store.indicators_tables import FeedAggregateRow
    from observatoire.store.linkage_repository import people_estimate

    engine = open_database(linked_settings)
    with Session(engine) as session:
        reference = IndicatorInputs(**ind.load_inputs(session, "dijon-metropole"))
        stored = session.query(FeedAggregateRow).count()
        figure = people_estimate(session)  # the linkage run's
    engine.dispose()
    assert stored and reference.linked_records["person_id"].notna().any()
    run = _page_runner(linked_settings, monkeypatch)
    page = run("tableau.py", STAFF)
    tiles = {m.label: m.value for m in page.metric}
    assert tiles["Distinctes sur la période"].replace("\u202f", "") == str(figure.people)
    from observatoire.indicators.wording import interval_text

    assert interval_text(figure.low, figure.high) in [c.value for c in page.caption]
    app = run("indicateurs.py", STAFF, indicateurs_section="Flux de la liste nominative")
    assert not app.exception, app.exception
    shown = app.dataframe[0].value
    expected = measured_flows(flows(reference))
    assert len(shown) == len(expected) > 0
    # Months with partner records show their actives in French; the others say so.
    assert shown.iloc[:, -2].tolist() == [
        "pas de données" if pd.isna(v) else count_fr(v) for v in expected["actifs"]]
    sys.modules.pop("dashboards.tableau_commun", None)


# --- how many people in all: the iceberg (issue 16) -------------------------------------------

ICEBERG = "Combien de personnes en tout"


def test_the_iceberg_service_gives_three_layers_with_their_intervals(linked_settings):
    from observatoire.indicators import IndicatorInputs, campaign_table
    from observatoire.indicators.hidden_service import iceberg
    from observatoire.store import indicators_repository as ind
    from observatoire.store.feed_aggregates import distinct_estimate

    engine = open_database(linked_settings)
    with Session(engine) as session:
        reference = IndicatorInputs(**ind.load_inputs(session, "dijon-metropole"))
    layers = iceberg(engine, "dijon-metropole", draws=4, replicates=40)
    engine.dispose()
    nights = campaign_table(reference).sort_values("night_date")
    # Counted: the latest night's a minima total, a count without a margin.
    assert layers.counted.value == int(nights["total"].iloc[-1]) > 0
    assert layers.counted.interval is None and not layers.counted.is_estimate
    # Its extrapolated total beside it: every sector of the sample is walked.
    assert layers.extrapolated.is_estimate
    assert layers.extrapolated.interval[0] <= layers.extrapolated.value
    assert layers.extrapolated.value >= layers.counted.value
    # Known to partners: the de-duplicated estimate the dashboard tiles show.
    engine = open_database(linked_settings)
    with Session(engine) as session:
        distinct = distinct_estimate(session, "dijon-metropole")
    engine.dispose()
    assert layers.known.value == distinct.estimate
    assert layers.known.interval == (distinct.low, distinct.high) and layers.known.level == 90
    # Estimated in all: more than anybody seen, inside its own interval.
    low, high = layers.hidden.interval
    assert layers.estimate.observed <= low <= layers.hidden.value <= high
    assert layers.hidden.value > layers.known.value
    assert "Nuit de la Solidarité" in layers.sources and len(layers.sources) == 5
    assert {"Estimation", "Borne basse (95 %)", "Borne haute (95 %)"} <= set(
        layers.sensitivity.columns)
    assert (layers.sensitivity["Modèle"] == "indépendance").any()
    for layer in layers.layers:
        assert len(layer.note) > 200  # a paragraph, in French
    assert "capture-recapture" in layers.hidden.note


def test_the_stored_estimate_reads_the_latest_night_and_the_expected_people(linked_settings):
    """The partner files cover the period around the latest night: earlier nights' sightings
    stay out of the capture table (closed population), and each record carries how many
    people the linkage expects its person to be (the linkage draws read it)."""
    from sqlalchemy import func, select

    from observatoire.indicators.hidden_service import stored_links
    from observatoire.model import ContactSituation
    from observatoire.store.linkage_tables import ObservationPersonRow
    from observatoire.store.tables import CampaignRow, ObservationRow

    engine = open_database(linked_settings)
    links = stored_links(engine, "dijon-metropole")
    with Session(engine) as session:
        latest = session.scalar(select(func.max(CampaignRow.night_date)))
        sightings = session.scalar(
            select(func.count()).select_from(ObservationPersonRow)
            .join(ObservationRow, ObservationRow.id == ObservationPersonRow.observation_id)
            .join(CampaignRow, CampaignRow.id == ObservationRow.campaign_id)
            .where(CampaignRow.night_date == latest,
                   ObservationRow.situation != ContactSituation.ALREADY_ANSWERED.value))
    engine.dispose()
    assert (links["source"] == "nuit").sum() == sightings > 0
    assert (links["expected_people"] > 0).all() and (links["expected_people"] != 1).any()


def test_the_iceberg_is_none_without_linked_persons(sample_settings):
    from observatoire.indicators.hidden_service import iceberg

    engine = open_database(sample_settings)
    assert iceberg(engine, "dijon-metropole") is None
    engine.dispose()


def test_the_indicators_page_says_so_without_linked_persons(page):
    app = page("indicateurs.py", STAFF, indicateurs_section=ICEBERG)
    assert not app.exception, app.exception
    assert "aucune personne rapprochée" in _text(app)
    assert not app.metric


def test_the_indicators_page_shows_the_iceberg_with_intervals(linked_settings, monkeypatch):
    run = _page_runner(linked_settings, monkeypatch)
    app = run("indicateurs.py", STAFF, indicateurs_section=ICEBERG)
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    tiles = {m.label: m.value for m in app.metric}
    assert {"Décomptées la nuit (a minima)",
            "Connues des partenaires",
            "Estimées en tout"} <= set(tiles)
    number = {label: int(value.replace("\u202f", "")) for label, value in tiles.items()}
    assert (number["Décomptées la nuit (a minima)"]
            < number["Connues des partenaires"]
            < number["Estimées en tout"])
    captions = [c.value for c in app.caption]
    # Every estimate has its interval beside it (never a bare point); the count says it is one.
    # Every estimate with its interval (the known people: the linkage run's 90 %).
    assert sum("intervalle à 95 % : " in c for c in captions) == len(tiles) - 2
    assert sum("intervalle à 90 % : " in c for c in captions) == 1
    assert any("sans marge" in c for c in captions)
    text = _text(app)
    assert "capture-recapture" in text and "a minima" in text
    assert app.expander[0].label.startswith("Sensibilité")
    sensitivity = app.dataframe[0].value
    assert len(sensitivity) >= 2 and "Modèle" in sensitivity.columns
    sys.modules.pop("dashboards.tableau_commun", None)


def test_admin_journal_shows_every_action_in_french_text(page, sample_settings):
    from observatoire.audit import ACTION_FAMILIES, ACTION_LABELS
    from observatoire.store import repository

    engine = open_database(sample_settings)
    with Session(engine) as session, session.begin():
        repository.record_audit(session, "marie", "campaign.lock", campaign_id=97)
        repository.record_audit(session, "marie", "linkage.decision", record_a=12,
                                record_b=40, decision="match", score=0.91234)  # fmt: skip
        repository.record_audit(session, "alex", "publish.export", territory="dijon",
                                files=["a.csv", "b.pdf"], threshold=11,
                                options={"rounding": 5, "masked": True})  # fmt: skip
    engine.dispose()
    app = page("admin.py", ADMIN)
    assert not app.exception, app.exception
    journal = app.selectbox(key="journal_actions")
    offered = journal.options  # as drawn (format_func applied)
    for family in ("campaign", "linkage", "publish", "export", "feed", "indicator"):
        assert ACTION_FAMILIES[family] in offered
    log = app.dataframe[-1].value
    assert list(log.columns) == ["Date", "Auteur", "Action", "Détails"]
    # One column of text (no dicts for pyarrow to type), readable French, no JSON.
    assert all(isinstance(v, str) for v in log["Détails"])
    assert not log["Détails"].str.contains(r"[{}\[\]\"]").any()
    # The sample's own entries come first in time: the latest of each action is ours.
    details = dict(zip(log["Action"][::-1], log["Détails"][::-1], strict=True))
    assert details[ACTION_LABELS["campaign.lock"]] == "campagne : 97"
    assert "fiche A : 12" in details[ACTION_LABELS["linkage.decision"]]
    assert "score : 0,91" in details[ACTION_LABELS["linkage.decision"]]
    assert "fichiers : a.csv, b.pdf" in details[ACTION_LABELS["publish.export"]]
    journal.set_value("campaign").run()
    assert not app.exception
    filtered = app.dataframe[-1].value
    campaign_labels = {v for k, v in ACTION_LABELS.items() if k.startswith("campaign.")}
    assert ACTION_LABELS["campaign.lock"] in set(filtered["Action"]) <= campaign_labels
    assert "coordination" not in set(filtered["Auteur"])


# --- staff figures as French statistics (issue 15) ------------------------------------------

_DECIMAL_POINT = r"(?<![\w.])\d+\.\d+(?![\w.]*\.\w)"
"""A number written with a decimal point (``20.3926``, ``0.00``), not a file name or a
version (``a.csv``, ``1.2.3``)."""


def _visible_texts(app: AppTest) -> list[str]:
    """Every figure a staff page draws as text: tiles (label, value, change), texts, and each
    cell of its tables as Streamlit would draw it (a float column is drawn with a point)."""
    texts = []
    for metric in app.metric:
        texts += [str(metric.label), str(metric.value), str(metric.delta or "")]
    for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "error",
                 "success"):  # fmt: skip
        texts += [str(e.value) for e in getattr(app, kind)]
    for frame in app.dataframe:
        value = frame.value
        for column in value.columns:
            if pd.api.types.is_float_dtype(value[column]):
                texts += [f"{column} : {v}" for v in value[column].dropna()]
            else:
                texts += [f"{column} : {v}" for v in value[column].astype(str)]
    return texts


def _decimal_points(app: AppTest) -> list[str]:
    import re

    return [t for t in _visible_texts(app) if re.search(_DECIMAL_POINT, t)]


@pytest.mark.parametrize(("script", "state"), [
    ("tableau.py", {}),
    ("tableau.py", {"carte_mesure": "Pour 10 000 habitants"}),
    ("tableau_qualite.py", {}),
    ("indicateurs.py", {"indicateurs_section": "Logement d'abord et objectifs"}),
    ("indicateurs.py", {"indicateurs_section": "Flux de la liste nominative"}),
    ("indicateurs.py", {"indicateurs_section": ICEBERG}),
], ids=["tableau", "tableau-taux", "qualite", "logement-d-abord", "flux", "iceberg"])
def test_staff_pages_show_no_number_with_a_decimal_point(linked_settings, monkeypatch, script,
                                                         state):  # fmt: skip
    run = _page_runner(linked_settings, monkeypatch)
    app = run(script, STAFF, **state)
    assert not app.exception, app.exception
    assert _decimal_points(app) == []
    sys.modules.pop("dashboards.tableau_commun", None)
