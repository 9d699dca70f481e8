"""Storage: migrations on SQLite and PostgreSQL, upgrades that keep data, repositories."""

import datetime as dt
import uuid

import geopandas as gpd
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from shapely.geometry import box
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from observatoire.model import CampaignStatus, Commune, Territory, TerritoryKind
from observatoire.store import repository
from observatoire.store.db import (
    DatabaseError,
    current_revision,
    head_revision,
    make_engine,
    upgrade_database,
)
from observatoire.store.schema import metadata


def test_upgrade_creates_the_schema_the_models_describe(engine):
    assert current_revision(engine) is None
    upgrade_database(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == [], f"tables.py and the migrations disagree: {diff}"


def test_upgrade_twice_changes_nothing(engine):
    upgrade_database(engine)
    upgrade_database(engine)
    assert current_revision(engine) == head_revision()


def test_upgrading_a_database_created_by_the_previous_migration_keeps_its_data(engine):
    upgrade_database(engine, "0001")
    assert "sector_report" not in inspect(engine).get_table_names()
    now = dt.datetime(2026, 1, 29, 23, 0, tzinfo=dt.UTC)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO territory (id, slug, name, kind, epci_code, cog_year, created_at) "
                "VALUES (1, 'dijon-metropole', 'Dijon Métropole', 'epci', '242100410', 2024, :t)"
            ),
            {"t": now},
        )
        c.execute(
            text(
                "INSERT INTO commune (id, territory_id, code, name, population, cog_year) "
                "VALUES (1, 1, '21231', 'Dijon', 159346, 2024)"
            )
        )
        c.execute(
            text(
                "INSERT INTO campaign (id, territory_id, name, night_date, "
                "questionnaire_version, status, created_at) "
                "VALUES (1, 1, 'NDLS 2025', :d, 'ndls-2025', 'locked', :t)"
            ),
            {"d": dt.date(2025, 1, 30), "t": now},
        )
        c.execute(
            text("INSERT INTO team (id, campaign_id, code, name, size) "
                 "VALUES (1, 1, 'KX4PQ7', 'Équipe 1', 4)")
        )
        c.execute(
            text("INSERT INTO sector (id, campaign_id, code, commune_code, geometry_wkb) "
                 "VALUES (1, 1, 'S21231-001', '21231', :g)"),
            {"g": box(5.0, 47.3, 5.01, 47.31).wkb},
        )
        c.execute(
            text(
                "INSERT INTO observation (campaign_id, submission_uuid, sector_id, team_id, "
                "commune_code, situation, sex, collected_at, received_at, answers) VALUES "
                "(1, :u, 1, 1, '21231', 'interviewed', 'F', :t, :t, '{\"household\": \"alone\"}')"
            ),
            {"u": "4f0c2a5e-8d7b-4c1e-9a3f-2b6d8e1f0a7c", "t": now},
        )

    upgrade_database(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as c:
        obs = c.execute(text("SELECT submission_uuid, sex, answers FROM observation")).one()
        assert obs.submission_uuid == "4f0c2a5e-8d7b-4c1e-9a3f-2b6d8e1f0a7c"
        assert obs.sex == "F"
        assert "alone" in str(obs.answers)
        assert c.execute(text("SELECT population FROM commune")).scalar() == 159346
    # The new table works with the old rows.
    with engine.begin() as c:
        c.execute(
            text("INSERT INTO sector_report (campaign_id, sector_id, team_id, status, "
                 "people_met, reported_at) VALUES (1, 1, 1, 'walked', 0, :t)"),
            {"t": now},
        )
        assert c.execute(text("SELECT people_met FROM sector_report")).scalar() == 0


def _territory() -> Territory:
    return Territory(
        slug="test-territoire",
        name="Territoire de test",
        kind=TerritoryKind.CUSTOM,
        cog_year=2024,
        communes=[
            Commune(code="21231", name="Dijon", population=159346, cog_year=2024,
                    geometry_wkb=box(5.0, 47.3, 5.1, 47.4).wkb),
            Commune(code="21166", name="Chenôve", population=13993, cog_year=2024,
                    geometry_wkb=box(5.0, 47.2, 5.1, 47.3).wkb),
        ],
    )


def _campaign_with_a_sector(session):
    repository.save_territory(session, _territory())
    campaign = repository.create_campaign(
        session, "test-territoire", "NDLS test", dt.date(2026, 1, 29), "ndls-2026",
        CampaignStatus.OPEN,
    )
    teams = repository.add_teams(
        session, campaign,
        pd.DataFrame({"team_code": ["ABCD23"], "team_name": ["Équipe 1"], "size": [4]}),
    )
    sectors = repository.add_sectors(
        session, campaign,
        gpd.GeoDataFrame({"sector_code": ["S1"], "commune_code": ["21231"]},
                         geometry=[box(5.0, 47.3, 5.01, 47.31)], crs="EPSG:4326"),
        {"S1": teams["ABCD23"]},
    )
    return campaign, sectors, teams


def test_the_same_submission_uuid_is_stored_once(engine):
    upgrade_database(engine)
    submission = {
        "submission_uuid": str(uuid.uuid4()), "sector_code": "S1", "team_code": "ABCD23",
        "commune_code": "21231", "situation": "asleep", "sex": "M", "age_band": "25-34",
        "collected_at": "2026-01-29T23:12:00", "latitude": 47.305, "longitude": 5.005,
        "person_id": "P000001", "sleeping_place": "rue",
    }
    with Session(engine) as session, session.begin():
        campaign, sectors, teams = _campaign_with_a_sector(session)
        first = repository.add_observations(session, campaign, [submission], sectors, teams)
        retry = repository.add_observations(session, campaign, [submission, submission],
                                            sectors, teams)
        assert (first, retry) == (1, 0)
        counts = repository.observation_counts_by_commune(session, campaign.id)
        assert counts.to_dict(orient="records") == [{"code": "21231", "personnes": 1}]
    with engine.connect() as c:
        answers = c.execute(text("SELECT answers FROM observation")).scalar()
        # Ground truth never lands in the stored answers.
        assert "P000001" not in str(answers)


def test_territory_round_trip_keeps_codes_populations_and_geometry(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, _territory())
    with Session(engine) as session:
        communes = repository.territory_communes(session, "test-territoire")
    assert communes["code"].tolist() == ["21166", "21231"]
    assert communes["population"].sum() == 159346 + 13993
    assert communes.geometry.iloc[1].equals(box(5.0, 47.3, 5.1, 47.4))


def test_saving_a_territory_again_replaces_its_communes(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, _territory())
    smaller = _territory().model_copy(update={"communes": _territory().communes[:1]})
    with Session(engine) as session, session.begin():
        repository.save_territory(session, smaller)
        repository.save_territory(session, smaller)
    with Session(engine) as session:
        communes = repository.territory_communes(session, "test-territoire")
    assert communes["code"].tolist() == ["21231"]


def test_unknown_territory_lists_the_known_ones(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, _territory())
        with pytest.raises(repository.NotFoundError, match="test-territoire"):
            repository.get_territory(session, "lyon")


def test_unreachable_server_gives_a_clear_error():
    engine = make_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/nowhere")
    with pytest.raises(DatabaseError) as error:
        upgrade_database(engine)
    assert "OBSERVATOIRE_DATABASE_URL" in str(error.value)
    assert "secret" not in str(error.value)


def test_sqlite_database_uses_wal(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_migration_0010_copies_the_plan_attributes_of_stored_records(engine):
    """Records stored before migration 0010 get their ``plan_*`` columns from their JSON
    attributes, as `plan_attributes` gives them for a record written since."""
    import json

    from observatoire.plan_attributes import plan_attributes

    upgrade_database(engine, "0009")
    attributes = {
        "a": ("si_siao", {"orientation": "Logement social", "statut": "", "Statut": "Orientée",
                          "Date d'orientation": "03/02/2025", "household": "seul"}),
        "b": ("si_siao", {"orientation": "", "status": "sans_solution", "import_id": 4}),
        "c": ("appels_115", {"Réponse": "Pas de place", "motif": "Demande d'hébergement",
                             "date_appel": "2025-02-03T22:30"}),
        "d": ("maraude", {"orientation": "CHRS", "status": "orientee"}),
        "e": ("si_siao", {}),
    }  # fmt: skip
    with engine.begin() as c:
        for key, (source, values) in attributes.items():
            c.execute(text("INSERT INTO source_record (source, source_row_key, pseudonyms, "
                           "attributes) VALUES (:s, :k, '{}', :a)"),
                      {"s": source, "k": key, "a": json.dumps(values, ensure_ascii=False)})
    upgrade_database(engine)
    with engine.connect() as c:
        stored = {r[0]: tuple(r[1:]) for r in c.execute(text(
            "SELECT source_row_key, plan_date, plan_label, plan_status FROM source_record"))}
        indexes = {i["name"] for i in inspect(c).get_indexes("source_record")}
    assert stored == {k: plan_attributes(*v) for k, v in attributes.items()}
    assert stored["a"] == ("03/02/2025", "Logement social", "Orientée")
    assert "ix_source_record_plan" in indexes and "ix_source_record_last_contact" not in indexes


def test_published_versions_are_kept_and_walked_sectors_counted(engine):
    from observatoire.store import publication_repository

    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        campaign, _, _ = _campaign_with_a_sector(session)
        first = publication_repository.add_version(session, campaign.id, "marie", {"v": 1})
        second = publication_repository.add_version(session, campaign.id, "alex", {"v": 2},
                                                    note="correction")  # fmt: skip
        campaign.status = CampaignStatus.PUBLISHED.value
        assert (first.version, second.version) == (1, 2)
        campaign_id = campaign.id
    with Session(engine) as session:
        kept = publication_repository.versions(session, campaign_id)
        assert [(v.version, v.author, v.figures) for v in kept] == [
            (2, "alex", {"v": 2}), (1, "marie", {"v": 1})]
        latest = publication_repository.latest_versions(session, "test-territoire")
        assert [v.version for v in latest] == [2]
        nights = publication_repository.list_nights(session, "test-territoire")
        assert nights[["status", "sectors", "walked", "version"]].values.tolist() == [
            ["published", 1, 0, 2]]
        # No sector report received: none walked, though one is planned.
        summary = repository.campaign_summary(session, campaign_id)
        assert (summary["secteurs"], summary["secteurs_prevus"]) == (0, 1)
