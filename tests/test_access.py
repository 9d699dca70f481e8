"""Roles, navigation, passwords, accounts, settings and the audit log."""

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from observatoire.access import (
    PAGE_ACCESS,
    PUBLIC_USER,
    SESSION_KEY,
    AccessDeniedError,
    WeakPasswordError,
    can_open,
    current_user,
    hash_password,
    navigation_plan,
    pages_for_role,
    require_role,
    verify_password,
)
from observatoire.model import CampaignStatus, Commune, Role, Territory, TerritoryKind
from observatoire.store import access_repository as access
from observatoire.store import repository
from observatoire.store.db import upgrade_database

PAGES = [
    "dashboards/accueil.py", "dashboards/publication.py", "dashboards/tableau.py",
    "dashboards/indicateurs.py", "dashboards/tableau_qualite.py", "dashboards/saisie.py",
    "dashboards/terrain.py", "dashboards/campagnes.py", "dashboards/couverture.py",
    "dashboards/revue.py", "dashboards/admin.py", "dashboards/connexion.py",
]  # fmt: skip
STAFF_PAGES = ["dashboards/tableau.py", "dashboards/indicateurs.py",
               "dashboards/tableau_qualite.py", "dashboards/campagnes.py",
               "dashboards/couverture.py", "dashboards/revue.py"]  # fmt: skip


@pytest.mark.parametrize(
    ("role", "menu"),
    [
        (Role.PUBLIC, ["accueil", "publication", "connexion"]),
        (Role.VOLUNTEER, ["saisie", "terrain", "connexion"]),
        (Role.STAFF, ["accueil", "publication", "tableau", "indicateurs", "tableau_qualite",
                      "saisie", "terrain", "campagnes", "couverture", "revue", "connexion"]),
        (Role.ADMIN, ["accueil", "publication", "tableau", "indicateurs", "tableau_qualite",
                      "saisie", "terrain", "campagnes", "couverture", "revue", "admin",
                      "connexion"]),
    ],
    ids=lambda v: v.value if isinstance(v, Role) else None,
)  # fmt: skip
def test_navigation_offers_each_role_only_its_pages(role, menu):
    assert pages_for_role(role, PAGES) == [f"dashboards/{m}.py" for m in menu]


@pytest.mark.parametrize("role", [Role.PUBLIC, Role.VOLUNTEER])
@pytest.mark.parametrize("page", STAFF_PAGES + ["dashboards/admin.py"])
def test_public_and_volunteers_cannot_reach_staff_pages(role, page):
    assert not can_open(role, page)
    plan = navigation_plan(role, {"Toutes": PAGES})
    assert page not in [path for path, _ in plan.get("Toutes", [])]


def test_entry_pages_are_reachable_by_link_but_hidden_from_the_public_menu():
    plan = dict(navigation_plan(Role.PUBLIC, {"Toutes": PAGES})["Toutes"])
    assert plan["dashboards/saisie.py"] == "hidden"
    assert plan["dashboards/accueil.py"] == "visible"


def test_volunteers_reach_the_home_page_by_link_only():
    plan = dict(navigation_plan(Role.VOLUNTEER, {"Toutes": PAGES})["Toutes"])
    assert plan["dashboards/accueil.py"] == "hidden"
    assert plan["dashboards/saisie.py"] == "visible"


def test_a_new_page_is_staff_only_by_default():
    assert [r for r in Role if can_open(r, "dashboards/nouvelle_page.py")] == [Role.STAFF,
                                                                              Role.ADMIN]
    assert PAGE_ACCESS[-1].pattern == "*"


def test_session_roles():
    assert current_user({}) == PUBLIC_USER
    assert current_user({"team_code": "K7QX2M"}).role is Role.VOLUNTEER
    staff = {SESSION_KEY: {"login": "a", "display_name": "A", "role": "staff"}}
    assert current_user(staff).role is Role.STAFF
    assert current_user({SESSION_KEY: {"role": "boss"}}) == PUBLIC_USER
    with pytest.raises(AccessDeniedError, match="Connexion"):
        require_role({"team_code": "K7QX2M"}, Role.STAFF, Role.ADMIN)


def test_passwords_are_hashed_with_argon2id():
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "wrong horse battery")
    assert not verify_password(None, "anything at all")
    assert not verify_password("not-a-hash", "anything at all")
    with pytest.raises(WeakPasswordError, match="12"):
        hash_password("court")


# --- stored accounts, on both backends ---------------------------------------------------------


def _territory(session) -> None:
    repository.save_territory(
        session,
        Territory(slug="t", name="T", kind=TerritoryKind.CUSTOM, cog_year=2024,
                  communes=[Commune(code="21231", name="Dijon", population=1000,
                                    cog_year=2024)]),
    )  # fmt: skip


def test_accounts_sign_in_and_audit(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        access.create_user(session, "marie", "Marie", "staff", "une phrase de passe",
                           actor="admin")  # fmt: skip
        with pytest.raises(access.AccountError, match="existe déjà"):
            access.create_user(session, "marie", "M", "admin", "une phrase de passe",
                               actor="admin")  # fmt: skip
        with pytest.raises(access.AccountError, match="code de leur équipe"):
            access.create_user(session, "benevole", "B", "volunteer", None, actor="admin")
    with Session(engine) as session, session.begin():
        assert access.authenticate(session, "marie", "mauvais mot de passe") is None
        user = access.authenticate(session, "marie", "une phrase de passe")
        assert user.role is Role.STAFF
        access.update_user(session, "marie", actor="admin", active=False)
        assert access.authenticate(session, "marie", "une phrase de passe") is None
    with Session(engine) as session:
        actions = list(access.audit_log(session)["action"])
        stored = access.get_user(session, "marie").password_hash
    assert actions[::-1] == ["user.create", "login.failed", "login", "user.update",
                             "login.failed"]  # fmt: skip
    assert stored.startswith("$argon2id$")


def test_team_code_signs_in_a_volunteer_while_the_night_is_open(engine):
    upgrade_database(engine)
    import pandas as pd

    from observatoire.store.survey_tables import CampaignOptionRow

    with Session(engine) as session, session.begin():
        _territory(session)
        campaign = repository.create_campaign(session, "t", "NDLS", dt.date(2026, 1, 29),
                                              "v1", CampaignStatus.OPEN)  # fmt: skip
        repository.add_teams(session, campaign, pd.DataFrame(
            {"team_code": ["K7QX2M"], "team_name": ["Équipe 1"], "size": [4]}))  # fmt: skip
        # Opened now (late): the code works for a day.
        option = CampaignOptionRow(campaign_id=campaign.id, training=False,
                                   codes_opened_at=dt.datetime.now(dt.UTC))
        session.add(option)
        campaign_id = campaign.id
    with Session(engine) as session, session.begin():
        volunteer = access.authenticate_team(session, " k7qx2m ")
        assert volunteer.role is Role.VOLUNTEER and volunteer.team_code == "K7QX2M"
        assert access.authenticate_team(session, "ZZZZZZ") is None
        # Opened on the evening of its night: the code closed at noon the next day.
        session.get(CampaignOptionRow, campaign_id).codes_opened_at = dt.datetime(
            2026, 1, 29, 19, tzinfo=dt.UTC)
    with Session(engine) as session, session.begin():
        assert access.authenticate_team(session, "K7QX2M") is None
        session.get(CampaignOptionRow, campaign_id).codes_opened_at = dt.datetime.now(dt.UTC)
        campaign.status = "locked"
        session.merge(campaign)
    with Session(engine) as session, session.begin():
        assert access.authenticate_team(session, "K7QX2M") is None


def test_settings_default_change_and_audit(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        assert access.get_setting(session, "publication.threshold") == 11
        access.set_setting(session, "publication.threshold", 20, actor="admin")
    with Session(engine) as session:
        assert access.all_settings(session)["publication.threshold"] == 20
        entry = access.audit_log(session).iloc[0]
        assert entry["action"] == "setting.update" and entry["details"]["after"] == 20
        with pytest.raises(Exception, match="Réglage inconnu"):
            access.get_setting(session, "secret")


def test_values_round_trip_and_are_audited(engine):
    # The targets are the convention's (test_evaluation_data: set_target, migration 0018).
    upgrade_database(engine)
    from observatoire.indicators.catalogue import UnknownIndicatorError
    from observatoire.store import indicators_repository as ind

    with Session(engine) as session, session.begin():
        _territory(session)
        ind.set_value(session, "t", "iml_places", 2025, 30, actor="marie")
        ind.set_value(session, "t", "iml_places", 2025, 40, actor="marie")
        with pytest.raises(UnknownIndicatorError):
            ind.set_value(session, "t", "bogus", 2025, 1, actor="marie")
    with Session(engine) as session:
        frames = ind.load_inputs(session, "t")
        log = access.audit_log(session, action_prefix="indicator")
    assert frames["values"]["value"].tolist() == [40.0]
    assert len(log) == 2


def test_migration_0006_creates_the_tables_the_models_describe(engine):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from observatoire.store.schema import metadata

    upgrade_database(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    mine = {"indicator_target", "indicator_value", "app_setting"}
    ours = [d for d in diff if mine & set(str(d).replace("'", " ").split())]
    assert ours == [], f"tables d'indicateurs et migration 0006 en désaccord : {ours}"


def test_a_page_opened_by_its_address_without_the_right_role_says_so() -> None:
    from observatoire.access import refused_page_notice, refused_pages

    sections = {"Indicateurs": ["dashboards/tableau.py", "dashboards/revue.py"],
                "Observatoire": ["dashboards/accueil.py"],
                "Administration": ["dashboards/admin.py"]}
    assert refused_pages("public", sections) == [
        "dashboards/tableau.py", "dashboards/revue.py", "dashboards/admin.py"]
    assert refused_pages("staff", sections) == ["dashboards/admin.py"]
    assert refused_pages("admin", sections) == []
    public = refused_page_notice("public", "Revue des doublons")
    assert "Revue des doublons" in public and "connectez-vous" in public
    staff = refused_page_notice("staff", "Comptes et réglages")
    assert "Équipe de l'observatoire" in staff and "Comptes et réglages" in staff
