"""Stored feed aggregates (`observatoire.store.feed_aggregates`): after every operation that
changes the partner records or the linkage (import, linkage run, split, purge) they equal
the pure reference computations; a stored row of older data is never shown.

Runs on SQLite and PostgreSQL (the ``engine`` fixture). Only synthetic people.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from observatoire.feeds.formats import get_format
from observatoire.feeds.importer import import_feed, purge_expired
from observatoire.geo.territories import load_reference_territory, territory_model
from observatoire.indicators import IndicatorInputs, flows, plan_indicators
from observatoire.indicators.compute import feed_plan_values
from observatoire.indicators.dedup import summarise_clusters
from observatoire.indicators.flows import INACTIVITY_CHOICES
from observatoire.model import TerritoryKind
from observatoire.pipeline import import_reference_territory, import_territory, link_stored_records
from observatoire.store import feed_aggregates as stored
from observatoire.store import indicators_repository as ind
from observatoire.store import linkage_repository as linkage_repo
from observatoire.store.db import upgrade_database
from observatoire.store.indicators_tables import FeedAggregateRow
from observatoire.store.tables import PersonRow, SourceRecordRow

KEY = bytes(range(32))
TODAY = dt.date(2026, 3, 1)
SLUG = "dijon-metropole"


@pytest.fixture(scope="module")
def partner_files(tmp_path_factory) -> dict[str, Path]:
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.geo.territories import load_reference_territory
    from observatoire.synthetic import generate_sample, write_sample

    communes = load_reference_territory(SLUG)
    sample = generate_sample(communes, generate_grid_sectors(communes, 1000), seed=11,
                             n_people=300)  # fmt: skip
    return write_sample(sample, tmp_path_factory.mktemp("echantillon"))


def _reference(engine) -> IndicatorInputs:
    with Session(engine) as session:
        return IndicatorInputs(**ind.load_inputs(session, SLUG))


def _counts(records: pd.DataFrame) -> dict[str, int]:
    linked = records.dropna(subset=["person_id"])
    people = linked["person_id"].nunique()
    return {"records": len(records), "linked": len(linked), "people": people,
            "duplicates": len(linked) - people}  # fmt: skip


def _close(summary) -> dict:
    return {k: pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v
            for k, v in dataclasses.asdict(summary).items()}  # fmt: skip


def _assert_stored_equal_reference(engine) -> None:
    """Every aggregate is stored for the current data and equals the reference."""
    reference = _reference(engine)
    with Session(engine) as session:
        territory = session.scalar(select(FeedAggregateRow.territory_id).limit(1))
        version = stored.data_version(session, territory)
        rows = session.execute(select(FeedAggregateRow.name, FeedAggregateRow.parameters,
                                      FeedAggregateRow.version)).all()  # fmt: skip
        summary = stored.cluster_summary(session, SLUG)
        counts = stored.feed_counts(session, SLUG)
        monthly = {days: stored.monthly_flows(session, SLUG, days) for days in INACTIVITY_CHOICES}
        plan_values = stored.plan_values(session, SLUG)
    assert {(name, parameters) for name, parameters, _ in rows} == {
        ("cluster_summary", ""), ("feed_counts", ""), ("plan_values", ""),
        *(("flows", str(days)) for days in INACTIVITY_CHOICES)}  # fmt: skip
    assert {v for _, _, v in rows} == {version}
    expected = dataclasses.replace(summarise_clusters(reference.linked_records), by_source={})
    assert _close(summary) == _close(expected)
    assert counts == _counts(reference.linked_records)
    for days, frame in monthly.items():
        pd.testing.assert_frame_equal(frame, flows(reference, days))
    pd.testing.assert_frame_equal(plan_indicators(reference, plan_values),
                                  plan_indicators(reference))  # fmt: skip


def test_aggregates_follow_imports_linkage_splits_and_purges(engine, partner_files):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        import_reference_territory(session, SLUG)
    for source in ("si_siao", "appels_115", "maraude", "accueil_jour"):
        import_feed(engine, partner_files[source], get_format(source), KEY, today=TODAY,
                    departements=frozenset({"21"}))  # fmt: skip
        _assert_stored_equal_reference(engine)

    link_stored_records(engine, key=KEY)
    _assert_stored_equal_reference(engine)
    reference = _reference(engine)
    assert reference.linked_records["person_id"].notna().all()  # a real test: people linked
    assert (flows(reference)["entrees"] > 0).any()
    assert plan_indicators(reference)["value"].notna().any()

    with Session(engine) as session, session.begin():
        person = session.scalar(
            select(PersonRow.person_key).where(PersonRow.record_count > 1).limit(1))
        members = linkage_repo.person_records(session, person)
        linkage_repo.split_person(session, person, members[:1], "revue")
    _assert_stored_equal_reference(engine)
    link_stored_records(engine, key=KEY)
    _assert_stored_equal_reference(engine)

    before = len(_reference(engine).linked_records)
    deleted = purge_expired(engine, 365, today=dt.date(2026, 6, 30))["enregistrements"]
    assert 0 < deleted < before
    _assert_stored_equal_reference(engine)

    # The territory saved again with fewer communes: fewer of its records count.
    communes = load_reference_territory(SLUG)
    meta = communes.attrs["territory"]
    with Session(engine) as session, session.begin():
        import_territory(session, communes.iloc[:5], slug=SLUG, name=meta["nom"],
                         kind=TerritoryKind(meta["kind"]), epci_code=meta.get("epci_code"),
                         cog_year=int(meta["cog_year"]), model_builder=territory_model)  # fmt: skip
    assert len(_reference(engine).linked_records) < before - deleted
    _assert_stored_equal_reference(engine)


def test_a_stored_aggregate_is_read_only_for_the_data_it_was_computed_from(engine):
    from test_indicators import _feeds_database

    _feeds_database(engine)
    with Session(engine) as session:
        live_summary = ind.cluster_summary(session, "t", by_source=False)
        # Nothing stored yet (rows written without an import): computed from the records.
        assert stored.cluster_summary(session, "t") == live_summary
        assert stored.feed_counts(session, "t") == ind.feed_counts(session, "t")
    with Session(engine) as session, session.begin():
        assert stored.refresh_feed_aggregates(session) == 2 * (3 + len(INACTIVITY_CHOICES))
        session.execute(update(FeedAggregateRow).where(FeedAggregateRow.name == "feed_counts")
                        .values(payload={"records": -1}))  # fmt: skip
    with Session(engine) as session:
        assert stored.feed_counts(session, "t") == {"records": -1}  # read, not computed
        version = ind.feed_version(session)
        assert stored.feed_counts(session, "t", version) == {"records": -1}
        # A caller's version of other data (read before a change) gets the figure computed.
        older = (version[0] - 1, *version[1:])
        assert stored.feed_counts(session, "t", older) == ind.feed_counts(session, "t")
    # Records linked since: the stored row is of older data and is not shown.
    with Session(engine) as session, session.begin():
        session.execute(update(SourceRecordRow).where(SourceRecordRow.person_id.is_(None))
                        .values(person_id=1))  # fmt: skip
    with Session(engine) as session:
        assert stored.feed_counts(session, "t") == ind.feed_counts(session, "t")
        assert stored.feed_counts(session, "t")["records"] > 0
        assert stored.cluster_summary(session, "t") != live_summary
        assert stored.cluster_summary(session, "t") == ind.cluster_summary(
            session, "t", by_source=False)  # fmt: skip


def test_db_upgrade_computes_the_aggregates_a_database_does_not_have_yet(
    tmp_path, monkeypatch, partner_files
):
    """A database upgraded to the schema with stored aggregates has none until an import:
    ``observatoire db upgrade`` computes them, so no page starts on the slow path."""
    from observatoire.cli import main
    from observatoire.config import load_settings
    from observatoire.store.db import make_engine

    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OBSERVATOIRE_DATABASE_URL", raising=False)
    engine = make_engine(load_settings().database_url)
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        import_reference_territory(session, SLUG)
    import_feed(engine, partner_files["si_siao"], get_format("si_siao"), KEY, today=TODAY,
                departements=frozenset({"21"}))  # fmt: skip
    with Session(engine) as session, session.begin():
        session.query(FeedAggregateRow).delete()

    assert main(["db", "upgrade"]) == 0
    with Session(engine) as session:
        assert session.query(FeedAggregateRow).count() > 0
    _assert_stored_equal_reference(engine)


def test_unanswered_115_is_computed_from_an_imported_call_log(engine, tmp_path):
    """Through `feed import` with the shipped format: the motive and the answer are stored
    as codes (``hebergement``, ``demande_non_pourvue``) and still count."""
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        import_reference_territory(session, SLUG)
    path = tmp_path / "appels_115.csv"
    rows = ["N° appel;Date et heure;Prénom;Nom;Sexe;Commune;Motif;Réponse"]
    answers = ["Pas de place", "Sans solution", "Hébergé(e)", "Pas de place", "Hébergé(e)"]
    for i, answer in enumerate(answers):
        rows.append(f"A{i};0{i + 1}/02/2025 22:10;Prénom{i};Nom{i};H;Dijon;"
                    f"Demande d'hébergement;{answer}")
    rows.append("A9;09/02/2025 23:00;Prénom9;Nom9;F;Dijon;Information;Information donnée")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = import_feed(engine, path, get_format("appels_115"), KEY, today=TODAY,
                         departements=frozenset({"21"}))
    assert report.rows_imported == 6
    with Session(engine) as session:
        values = stored.plan_values(session, SLUG)
    row = values[(values["indicator_id"] == "unanswered_115") & (values["year"] == 2025)]
    assert row["value"].tolist() == [pytest.approx(3 / 5)]  # information calls left out

    # A database whose rows were stored before migration 0016 (plan columns read with the
    # partners' column names only) gets them read again from the stored attributes.
    from alembic import command
    from alembic.script import ScriptDirectory

    from observatoire.store.db import _alembic_config

    config = _alembic_config(engine)
    before = ScriptDirectory.from_config(config).get_revision("0016").down_revision
    with Session(engine) as session, session.begin():
        session.execute(update(SourceRecordRow).values(plan_date=None, plan_label=None,
                                                       plan_status=None))
    assert _reference(engine).calls_115.empty  # read from the plan columns, not cached
    command.stamp(config, before)
    upgrade_database(engine, "0016")  # that migration alone, then back to the newest schema
    command.stamp(config, "heads")
    values = feed_plan_values(_reference(engine))
    row = values[(values["indicator_id"] == "unanswered_115") & (values["year"] == 2025)]
    assert row["value"].tolist() == [pytest.approx(3 / 5)]
