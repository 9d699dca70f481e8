"""The services the pages call (`observatoire.accounts`, `observatoire.territory`,
`observatoire.evaluation.figures`, the feed figures of `observatoire.indicators.service`):
each takes an `Engine` and runs its own transaction, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from observatoire import accounts, territory
from observatoire.evaluation import figures
from observatoire.evaluation.sheets import SheetImportError
from observatoire.indicators import service
from observatoire.model import (
    CampaignStatus,
    Commune,
    ObservatoireError,
    Role,
    Territory,
    TerritoryKind,
)
from observatoire.store import access_repository, repository
from observatoire.store.db import upgrade_database

SLUG = "cote-test"


@pytest.fixture
def db(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        repository.save_territory(session, Territory(
            slug=SLUG, name="Côte test", kind=TerritoryKind.CUSTOM, cog_year=2024,
            communes=[Commune(code="21231", name="Dijon", population=1000, cog_year=2024),
                      Commune(code="21166", name="Chenôve", population=500, cog_year=2024)],
        ))  # fmt: skip
        repository.create_campaign(session, SLUG, "Nuit 2025", dt.date(2025, 1, 30), "v1",
                                   CampaignStatus.PUBLISHED)  # fmt: skip
        repository.create_campaign(session, SLUG, "Nuit 2026", dt.date(2026, 1, 29), "v1",
                                   CampaignStatus.OPEN)  # fmt: skip
    return engine


def _actions(engine) -> list[str]:
    return list(accounts.audit_log(engine)["action"])[::-1]


def test_accounts_are_created_changed_and_audited(db):
    accounts.create_user(db, "  marie ", "", Role.STAFF, "une phrase de passe", actor="alex")
    with pytest.raises(access_repository.AccountError, match="existe déjà"):
        accounts.create_user(db, "marie", "Marie", "admin", None, actor="alex")
    users = accounts.list_users(db)
    assert users[["login", "display_name", "role", "active"]].values.tolist() == [
        ["marie", "marie", "staff", True]]
    assert accounts.account_user(db, "marie").role is Role.STAFF
    accounts.update_user(db, "marie", actor="alex", role="admin", password="")
    assert accounts.account_user(db, "marie").role is Role.ADMIN
    accounts.update_user(db, "marie", actor="alex", active=False)
    assert accounts.account_user(db, "marie") is None
    assert _actions(db) == ["user.create", "user.update", "user.update"]


def test_settings_are_saved_together_and_each_change_audited(db):
    assert accounts.settings(db) == {"publication.threshold": 11, "publication.rounding": 0}
    accounts.save_settings(db, {"publication.threshold": 5, "publication.rounding": 10},
                           actor="alex")
    assert accounts.settings(db) == {"publication.threshold": 5, "publication.rounding": 10}
    with pytest.raises(ObservatoireError, match="Réglage inconnu"):
        accounts.save_settings(db, {"publication.threshold": 7, "inconnu": 1}, actor="alex")
    # One transaction: the known setting given with the unknown one is not kept.
    assert accounts.settings(db)["publication.threshold"] == 5
    log = accounts.audit_log(db, action_prefix="setting")
    assert len(log) == 2 and set(log["actor"]) == {"alex"}


def test_an_oidc_identity_maps_to_its_account_or_to_the_public_view(db):
    accounts.create_user(db, "camille@exemple.fr", "Camille", "staff", None, actor="alex")
    assert accounts.user_for_oidc(db, "camille@exemple.fr", "Camille").role is Role.STAFF
    assert accounts.user_for_oidc(db, "inconnu@exemple.fr", None).role is Role.PUBLIC
    assert _actions(db)[-1] == "login.oidc"


def test_key_variables_give_names_only():
    environ = {"OBSERVATOIRE_SECRET_KEY_FILE": "/x", "OBSERVATOIRE_CLE": "secret",
               "OBSERVATOIRE_DATABASE_URL": "sqlite://", "HOME_KEY": "y"}
    assert accounts.key_variables(environ) == ["OBSERVATOIRE_CLE",
                                               "OBSERVATOIRE_SECRET_KEY_FILE"]


def test_a_territory_its_communes_and_its_nights(db):
    assert territory.territories(db) == {SLUG: "Côte test"}
    assert territory.commune_names(db, SLUG) == {"21166": "Chenôve", "21231": "Dijon"}
    communes = territory.communes(db, SLUG)
    assert list(communes.columns) == ["code", "nom", "population", "parent_code", "geometry"]
    nights = territory.campaigns(db, SLUG)
    assert [(c.name, c.status) for c in nights] == [
        ("Nuit 2026", CampaignStatus.OPEN), ("Nuit 2025", CampaignStatus.PUBLISHED)]
    assert nights[1].label == "Nuit 2025 — 30/01/2025 (Publiée)"
    with pytest.raises(ObservatoireError, match="Territoires enregistrés : cote-test"):
        territory.campaigns(db, "ailleurs")


def test_figures_are_offered_entered_and_imported(db):
    choices = figures.entry_choices(db, SLUG)
    assert choices.communes == {"21231": "Dijon", "21166": "Chenôve"}
    # Typed in: the hand-entered catalogue entries; computed ones are not offered.
    assert "iml_places" in choices.indicators and "a_minima_total" not in choices.indicators
    assert choices.indicators["iml_places"].endswith("(iml_places)")
    figures.enter_figure(db, SLUG, "iml_places", 2025, 90, actor="marie", quarter=2,
                         commune_code="21231")
    with pytest.raises(ObservatoireError, match="n'est pas du territoire"):
        figures.enter_figure(db, SLUG, "iml_places", 2025, 1, actor="marie",
                             commune_code="75056")
    header = "Indicateur;Année;Trimestre;Commune;Valeur;Source;Commentaire\n"
    bad = (header + "iml_places;2025;;;12;;\nplaces_fantomes;2025;;;3;;\n").encode()
    with pytest.raises(SheetImportError) as error:
        figures.import_figures(db, SLUG, "../chiffres.csv", bad, actor="marie")
    assert [(p.row, p.column) for p in error.value.problems] == [(3, "Indicateur")]
    assert len(figures.figure_history(db, SLUG)) == 1  # all rows or none
    good = (header + "iml_places;2025;4;;110;DDETS;\n").encode("utf-8-sig")
    assert figures.import_figures(db, SLUG, "chiffres.csv", good, actor="marie") == 1
    history = figures.figure_history(db, SLUG)
    assert history["value"].tolist() == [90, 110]
    # No source typed reads as missing (None under pandas 2, NaN under pandas 3).
    assert history["source"].isna().tolist() == [True, False]
    assert history["source"].iloc[1] == "DDETS"


def test_the_feed_figures_before_any_feed_or_linkage(db):
    version = service.feed_version(db)
    assert service.distinct_estimate(db, SLUG, version) is None
    assert service.feed_counts(db, SLUG, (), version) == {
        "records": 0, "linked": 0, "people": 0, "duplicates": 0}
    assert service.feed_counts(db, SLUG, ("21231",), version)["records"] == 0


# --- one vocabulary of review answers ---------------------------------------------------------


def test_the_review_answers_are_one_vocabulary():
    """The linkage reads reviewers' answers in `ReviewDecision`'s values (the ones the store
    checks and the review page shows): each stored value selects its pairs, and another value
    is refused with the list of accepted ones."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd
    import pytest

    from observatoire.linkage import engine
    from observatoire.model import ObservatoireError, ReviewDecision

    records = SimpleNamespace(n=3, record_id=np.array(["a", "b", "c"]))
    answers = pd.DataFrame({"record_id_a": ["a", "c"], "record_id_b": ["b", "a"],
                            "decision": [ReviewDecision.MATCH.value,
                                         ReviewDecision.NON_MATCH.value]})
    pairs = engine._decision_pairs(records, answers)
    assert set(pairs) == {d.value for d in ReviewDecision}
    assert [list(x) for x in pairs["match"]] == [[0], [1]]
    assert [list(x) for x in pairs["non_match"]] == [[0], [2]]
    assert [len(x) for x in pairs["unsure"]] == [0, 0]
    with pytest.raises(ObservatoireError, match="match, non_match, unsure"):
        engine._decision_pairs(records, answers.assign(decision=["match", "peut-être"]))




def test_the_store_refuses_an_unknown_decision_naming_the_valid_ones(db):
    from observatoire.store import linkage_repository

    with Session(db) as session, pytest.raises(
            ObservatoireError, match="Valeurs possibles : match, non_match, unsure"):
        linkage_repository.add_decision(session, "nuit:1", "si_siao:2", "peut-etre", "marie")
