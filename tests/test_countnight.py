"""The submission service on SQLite and PostgreSQL: idempotent, validated, lockable,
with a training mode, corrections kept in history, sector reports and live coverage."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from test_survey_factories import interview, make_night

from observatoire.config import load_settings
from observatoire.countnight import corrections, coverage, entry, lifecycle, replay, team_sheets
from observatoire.countnight.entry import (
    CampaignLockedError,
    CampaignNotOpenError,
    SubmissionRejected,
    UnknownTeamError,
)
from observatoire.model import ObservatoireError
from observatoire.store.tables import ObservationRow
from observatoire.survey import browser_position


def _count(engine, table="observation") -> int:
    with engine.connect() as c:
        return c.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_submitting_the_same_questionnaire_twice_stores_it_once(engine):
    night = make_night(engine)
    team = night.teams[0]
    submission = interview(team.lower())  # codes are typed in any case
    first = entry.submit(engine, submission)
    again = entry.submit(engine, submission)
    assert first.created and not again.created
    assert first.observation_id == again.observation_id
    assert (first.team_tally, again.team_tally) == (1, 1)
    assert _count(engine) == 1


def test_a_stored_record_carries_campaign_sector_team_times_and_warnings(engine):
    night = make_night(engine)
    team = night.teams[0]
    receipt = entry.submit(
        engine, interview(team, age_band="18-24", household="with_children", children_count=3,
                          calls_115="souvent", calls_115_outcome=["pas_de_place"])
    )
    assert [w.message for w in receipt.warnings] == [
        "Tranche d'âge 18-24 ans avec 3 enfants ou plus : à vérifier."
    ]
    with Session(engine) as session:
        row = session.get(ObservationRow, receipt.observation_id)
        assert row.campaign_id == night.campaign_id
        assert row.situation == "interviewed" and row.age_band == "18-24"
        assert row.answers["calls_115_outcome"] == ["pas_de_place"]
        assert row.received_at is not None and row.collected_at is not None
        warnings = session.execute(
            text("SELECT warnings FROM observation_submission")
        ).scalar()
    assert "18-24" in str(warnings)


def test_unknown_team_code_is_refused_clearly(engine):
    make_night(engine)
    with pytest.raises(UnknownTeamError, match="Code d'équipe inconnu : « ZZZZZZ »"):
        entry.submit(engine, interview("ZZZZZZ"))


def test_invalid_questionnaire_is_refused_with_the_question(engine):
    night = make_night(engine)
    # Named by the question's label, as the volunteer or the ODK form shows it.
    with pytest.raises(SubmissionRejected,
                       match=r"« Sexe \(observé ou déclaré\) » : valeur 'X' hors des choix"):
        entry.submit(engine, interview(night.teams[0], sex="X"))
    assert _count(engine) == 0


def test_unknown_sector_is_refused(engine):
    night = make_night(engine)
    with pytest.raises(SubmissionRejected, match="secteur inconnu"):
        entry.submit(engine, interview(night.teams[0], sector_code="NOPE"))


def test_a_locked_campaign_accepts_nothing(engine):
    night = make_night(engine)
    team = night.teams[0]
    stored = entry.submit(engine, interview(team))
    lifecycle.lock_campaign(engine, night.campaign_id, "coordination")
    with pytest.raises(CampaignLockedError, match="verrouillée"):
        entry.submit(engine, interview(team))
    with pytest.raises(CampaignLockedError):
        corrections.correct_observation(engine, stored.observation_id, {"sex": "F"},
                                       actor="chef", reason="erreur")
    with pytest.raises(CampaignLockedError):
        entry.report_sector(engine, team)
    assert _count(engine) == 1


def test_a_planned_campaign_is_not_open_yet(engine):
    night = make_night(engine, status="planned")
    with pytest.raises(CampaignNotOpenError, match="pas encore ouverte"):
        entry.submit(engine, interview(night.teams[0]))


def test_training_entries_stay_out_of_results(engine):
    night = make_night(engine, status="planned", training=True)
    team = night.teams[0]
    receipt = entry.submit(engine, interview(team))
    entry.submit(engine, interview(team))
    assert receipt.practice and receipt.team_tally == 1
    assert _count(engine) == 0 and _count(engine, "practice_observation") == 2
    assert coverage.coverage(engine, night.campaign_id).people == 0
    assert lifecycle.purge_practice(engine, night.campaign_id, "coordination") == 2
    lifecycle.set_training(engine, night.campaign_id, False, "coordination")
    lifecycle.open_campaign(engine, night.campaign_id, "coordination")
    assert entry.submit(engine, interview(team)).practice is False
    assert _count(engine) == 1


def test_team_leader_correction_is_validated_and_kept_in_history(engine):
    night = make_night(engine)
    team, other = night.teams[:2]
    stored = entry.submit(engine, interview(team, sex="M"))
    with pytest.raises(SubmissionRejected, match="« Âge \\(déclaré"):
        corrections.correct_observation(engine, stored.observation_id, {"age_band": "120 ans"},
                                       actor=f"chef:{team}", reason="saisie", team_code=team)
    with pytest.raises(Exception, match="n'appartient pas à votre équipe"):
        corrections.correct_observation(engine, stored.observation_id, {"sex": "F"},
                                       actor=f"chef:{other}", reason="x", team_code=other)
    corrections.correct_observation(engine, stored.observation_id, {"sex": "F"},
                                   actor=f"chef:{team}", reason="erreur de saisie",
                                   team_code=team)
    corrections.correct_observation(engine, stored.observation_id, {"initials": "AB"},
                                   actor=f"chef:{team}", reason="consentement donné")
    history = corrections.observation_history(engine, stored.observation_id)
    assert [h["revision"] for h in history] == [1, 2]
    assert history[0]["before"]["sex"] == "M" and history[0]["after"]["sex"] == "F"
    assert history[1]["after"]["initials"] == "AB"
    entries = corrections.team_entries(engine, team)
    assert entries.loc[0, "sex"] == "F" and entries.loc[0, "révision"] == 2
    assert _count(engine) == 1


def test_sector_walked_with_nobody_met_is_a_zero_and_coverage_follows(engine):
    night = make_night(engine)
    empty, busy, started = night.teams[:3]
    assert entry.report_sector(engine, empty) == 0
    entry.submit(engine, interview(busy))
    entry.submit(engine, interview(started))
    assert entry.report_sector(engine, busy) == 1
    cov = coverage.coverage(engine, night.campaign_id)
    status = dict(zip(cov.sectors["team_code"], cov.sectors["status"], strict=True))
    assert status[empty] == "walked" and status[busy] == "walked"
    assert status[started] == "in_progress"
    assert cov.people == 2 and cov.walked == 2 and cov.in_progress == 1
    assert cov.not_started == len(cov.sectors) - 3
    assert cov.by_commune["personnes"].sum() == 2
    with engine.connect() as c:
        zero = c.execute(text("SELECT people_met FROM sector_report WHERE people_met = 0"))
        assert zero.scalar() == 0


def test_team_sheets_show_every_team_code(engine):
    night = make_night(engine)
    settings = load_settings({"OBSERVATOIRE_PUBLIC_URL": "https://obs.example.fr/",
                              "OBSERVATOIRE_DATA_DIR": "/tmp"})  # fmt: skip
    html = team_sheets.team_sheets_html(engine, night.campaign_id, settings)
    table = team_sheets.team_sheets_table(engine, night.campaign_id)
    for code in night.teams:
        assert code in html
        # The entry link, as text and under its QR code, opens the entry page with the code.
        assert f"https://obs.example.fr/saisie?equipe={code}" in html
    assert html.count("class=\"segno\"") == len(night.teams)
    # The commune is named, not coded; the outline lies over the basemap's tiles.
    for code, name in set(zip(table["commune_code"], table["commune"], strict=True)):
        assert name != code and name in html
    assert "data.geopf.fr" in html and "Plan IGN" in html
    assert html.count("<section class='sheet'>") == len(night.teams)


def test_team_sheets_without_basemap_keep_the_bare_outline(engine):
    night = make_night(engine)
    bare = load_settings({"OBSERVATOIRE_TILES_URL": "aucun", "OBSERVATOIRE_DATA_DIR": "/tmp"})
    html = team_sheets.team_sheets_html(engine, night.campaign_id, bare)
    assert "<img" not in html and "Plan IGN" not in html
    assert html.count("<path d='M ") >= len(night.teams)
    with pytest.raises(ObservatoireError, match="OBSERVATOIRE_TILES_URL"):
        load_settings({"OBSERVATOIRE_TILES_URL": "https://tuiles.example.fr/carte.png"})


def test_team_sheets_are_built_once_per_change_of_the_teams(engine, monkeypatch):
    night = make_night(engine)
    built = []
    real = team_sheets.build_sheets
    monkeypatch.setattr(team_sheets, "build_sheets",
                        lambda *a, **k: built.append(1) or real(*a, **k))  # fmt: skip
    first = team_sheets.team_sheets_html(engine, night.campaign_id)
    assert team_sheets.team_sheets_html(engine, night.campaign_id) == first
    assert len(built) == 1  # the second download reads the sheets already built
    with engine.begin() as c:
        c.execute(text("UPDATE team SET name = 'Équipe renommée' WHERE code = :code"),
                  {"code": night.teams[0]})
    again = team_sheets.team_sheets_html(engine, night.campaign_id)
    assert len(built) == 2 and "Équipe renommée" in again


@pytest.mark.slow
def test_2000_questionnaires_from_50_clients_with_retries_give_2000_records(engine):
    """50 parallel clients, 10 % of submissions sent again (same UUID), sometimes at the
    same moment: exactly one record per questionnaire, none lost, none doubled."""
    night = make_night(engine)
    rng = random.Random(2026)
    submissions = [
        interview(night.teams[i % len(night.teams)], sex=rng.choice(["F", "M"]))
        for i in range(2000)
    ]
    calls = submissions + rng.sample(submissions, 200)
    rng.shuffle(calls)
    contexts = {code: entry.join_team(engine, code) for code in night.teams}

    def send(submission):
        return entry.submit(engine, submission, context=contexts[submission.team_code])

    with ThreadPoolExecutor(max_workers=50) as pool:
        receipts = list(pool.map(send, calls))
    assert sum(r.created for r in receipts) == 2000
    assert sum(not r.created for r in receipts) == 200
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(ObservationRow))
        distinct = session.scalar(select(func.count(func.distinct(ObservationRow.submission_uuid))))
    assert stored == distinct == 2000
    expected = {str(s.submission_uuid) for s in submissions}
    with engine.connect() as c:
        assert {r[0] for r in c.execute(text("SELECT submission_uuid FROM observation"))} == (
            expected
        )
    # Every retry pointed at the record the first call created.
    by_uuid = {}
    for r in receipts:
        by_uuid.setdefault(r.submission_uuid, set()).add(r.observation_id)
    assert all(len(ids) == 1 for ids in by_uuid.values())


def test_lock_during_submissions_lets_nothing_in_afterwards(engine):
    night = make_night(engine)
    team = night.teams[0]
    context = entry.join_team(engine, team)
    lifecycle.lock_campaign(engine, night.campaign_id, "coordination")
    # A client that joined before the lock still cannot write after it.
    with pytest.raises(CampaignLockedError):
        entry.submit(engine, interview(team), context=context)
    assert _count(engine) == 0


def test_distinct_uuids_are_all_kept(engine):
    night = make_night(engine)
    for _ in range(3):
        entry.submit(engine, interview(night.teams[0]))
    assert _count(engine) == 3
    assert len({str(uuid.uuid4()) for _ in range(3)}) == 3


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"latitude": 47.3220234, "longitude": 5.0414821, "accuracy": 12}, (47.322023, 5.041482)),
        ({"error": "Position refusée sur cette tablette."}, None),
        ({"latitude": 95.0, "longitude": 5.0}, None),
        ({"latitude": float("nan"), "longitude": 5.0}, None),
        ({"latitude": "47,3", "longitude": 5.0}, None),
        (None, None),
    ],
    ids=["position", "refusee", "hors-bornes", "nan", "illisible", "absente"],
)
def test_a_browser_position_is_read_or_dropped_never_an_error(answer, expected):
    assert browser_position(answer) == expected


def test_the_optional_position_is_stored_with_the_record(engine):
    night = make_night(engine)
    team = night.teams[0]
    with_position = interview(team).model_copy(update={"latitude": 47.31, "longitude": 5.01})
    entry.submit(engine, with_position)
    entry.submit(engine, interview(team))  # no position: stored all the same
    stored = replay.stored_observations(engine, night.campaign_id).set_index(
        "submission_uuid"
    )
    assert stored.loc[str(with_position.submission_uuid), ["latitude", "longitude"]].tolist() == [
        47.31, 5.01
    ]
    assert stored["latitude"].isna().sum() == 1


# --- issue 19: team codes expire, count-night records fall under the retention --------------


def test_a_team_code_opens_nothing_once_its_night_is_over(engine):
    import datetime as dt

    night = make_night(engine)
    team = night.teams[0]
    entry.submit(engine, interview(team))
    context = entry.join_team(engine, team)
    closes = entry.codes_close_at(context)
    # Opened late (the campaign was opened now, long after its night): a day from opening.
    assert closes - context.codes_opened_at.replace(tzinfo=closes.tzinfo or dt.UTC) >= (
        dt.timedelta(hours=23))
    assert len(corrections.team_entries(engine, team)) == 1
    later = closes + dt.timedelta(minutes=1)
    with pytest.raises(entry.TeamCodeExpiredError, match="a expiré"):
        entry.join_for_entry(engine, team, now=later)
    with pytest.raises(entry.TeamCodeExpiredError, match="a expiré"):
        corrections.team_entries(engine, team, now=later)
    # Training mode turned on during the open night gives the codes no second day.
    lifecycle.set_training(engine, night.campaign_id, True, "camille.test")
    assert entry.codes_close_at(entry.join_team(engine, team)) == closes
    lifecycle.lock_campaign(engine, night.campaign_id, "camille.test")
    with pytest.raises(CampaignLockedError):
        corrections.team_entries(engine, team)


def _published_inputs(engine):
    from observatoire.indicators.service import load_inputs

    frame = load_inputs(engine, "test-territoire", with_feeds=False).observations
    return frame.sort_values(list(frame.columns[:4])).reset_index(drop=True)


def test_purge_strips_old_count_night_records_and_keeps_what_the_tables_count(engine):
    import datetime as dt

    from test_survey_factories import NIGHT

    from observatoire.store.survey_tables import ObservationRevisionRow
    from observatoire.store.tables import AuditLogRow

    night = make_night(engine)
    detailed = interview(night.teams[0], comment="Dort près de la gare, chien noir",
                         initials="JD", birth_year=1980, household="couple")
    detailed = detailed.model_copy(update={"latitude": 47.32, "longitude": 5.04})
    stored = entry.submit(engine, detailed)
    entry.submit(engine, interview(night.teams[1], sex="F", age_band="25-34"))
    corrections.correct_observation(engine, stored.observation_id, {"sex": "F"},
                                   actor="camille.test", reason="erreur de saisie")
    before = _published_inputs(engine)

    within = lifecycle.purge_expired_nights(engine, 730, actor="camille.test",
                                             today=NIGHT + dt.timedelta(days=700))
    assert within["fiches_de_nuit_minimisees"] == 0
    result = lifecycle.purge_expired_nights(engine, 730, actor="camille.test",
                                             today=NIGHT + dt.timedelta(days=731))
    assert result["fiches_de_nuit_minimisees"] == 2
    assert result["corrections_supprimees"] == 1
    with Session(engine) as session:
        row = session.get(ObservationRow, stored.observation_id)
        assert set(row.answers) <= {"household", "children_count", "homeless_duration",
                                    "calls_115"}
        assert row.answers["household"] == "couple"
        assert (row.latitude, row.longitude) == (None, None)
        assert row.collected_at.replace(tzinfo=None) == dt.datetime(2026, 1, 29)
        assert not session.scalars(select(ObservationRevisionRow)).all()
        audit = session.scalars(
            select(AuditLogRow).where(AuditLogRow.action == "countnight.purge")
            .order_by(AuditLogRow.id.desc())).first()
    assert audit.actor == "camille.test" and audit.details["fiches_de_nuit_minimisees"] == 2
    database = "\n".join(str(r) for r in _dump(engine))
    assert "chien noir" not in database and "1980" not in database and "'JD'" not in database
    # What the indicators and the publication count is the same as before the purge.
    from pandas.testing import assert_frame_equal

    assert_frame_equal(_published_inputs(engine), before)
    again = lifecycle.purge_expired_nights(engine, 730, actor="camille.test",
                                            today=NIGHT + dt.timedelta(days=731))
    assert again["fiches_de_nuit_minimisees"] == 0


def _dump(engine) -> list:
    with engine.connect() as c:
        return [row for table in ("observation", "observation_revision",
                                  "observation_submission", "audit_log")
                for row in c.execute(text(f"SELECT * FROM {table}")).all()]


def test_a_campaign_is_created_under_the_person_who_creates_it(engine):
    import inspect

    from observatoire.store import access_repository
    from observatoire.store.tables import AuditLogRow

    # No default author any more: every caller names the signed-in person (or the CLI's).
    assert inspect.signature(lifecycle.create_campaign).parameters["actor"].default is \
        inspect.Parameter.empty
    night = make_night(engine)
    lifecycle.lock_campaign(engine, night.campaign_id, "marie")
    with Session(engine) as session:
        created = session.scalars(select(AuditLogRow).where(
            AuditLogRow.action == "campaign.create")).one()  # fmt: skip
        log = access_repository.audit_log(session, 50, "campaign")
    assert created.actor == "test"  # make_night's author, not a fixed "coordination"
    assert set(log["actor"]) == {"test", "marie"}
    assert "coordination" not in set(log["actor"])


def test_fewer_teams_than_sectors_walk_runs_of_neighbouring_sectors(engine):
    import math

    from test_survey_factories import NIGHT, small_territory

    from observatoire.store import repository
    from observatoire.store.db import upgrade_database

    upgrade_database(engine)
    territory = small_territory()
    with Session(engine) as session, session.begin():
        repository.save_territory(session, territory)
    population = sum(c.population for c in territory.communes)
    assert lifecycle.proposed_team_count(engine, "test-territoire") == max(
        1, math.ceil(population / lifecycle.INHABITANTS_PER_TEAM))
    campaign_id = lifecycle.create_campaign(
        engine, "test-territoire", "NDLS test", NIGHT, questionnaire_version="ndls-2026",
        sector_size_m=1000, n_teams=3, actor="test")
    sectors = coverage.coverage(engine, campaign_id).sectors
    assert len(sectors) > 3
    assert sectors["team_code"].notna().all()  # every sector has a team
    assert sectors["team_code"].nunique() == 3
    ordered = sectors.sort_values(["commune_code", "sector_code"])["team_code"].tolist()
    runs = [code for n, code in enumerate(ordered) if n == 0 or code != ordered[n - 1]]
    assert len(runs) == 3  # each team's sectors follow each other
    sizes = sectors["team_code"].value_counts()
    assert sizes.max() - sizes.min() <= 1
