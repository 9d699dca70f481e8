"""Linkage on stored, pseudonymised records: pipeline, review decisions, splits, review page.

Runs on SQLite and PostgreSQL (``database_url``). Only synthetic people.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from observatoire.access import SESSION_KEY, session_entry
from observatoire.linkage.engine import LinkageSettings, link
from observatoire.linkage.records import validate_records
from observatoire.normalise import DatePrecision, FrenchDate, clean_name
from observatoire.pipeline import link_stored_records
from observatoire.pseudonymise import Pseudonymiser, sighting_night_key
from observatoire.store import access_repository
from observatoire.store import linkage_repository as repo
from observatoire.store.db import make_engine, upgrade_database
from observatoire.store.feeds_repository import add_source_records
from observatoire.store.linkage_tables import ReviewDecisionRow
from observatoire.store.tables import AuditLogRow, PersonRow, SourceRecordRow

REPO = Path(__file__).resolve().parent.parent
KEY = b"cle-de-test-synthetique-0123456789abcdef"
PEOPLE = [
    # key, source, first, last, birth date, sex
    ("a0", "si_siao", "Mohamed", "Benali", "1985-03-07", "M"),
    ("a1", "accueil_jour", "Mouhamed", "Ben Ali", "1985-03-07", "M"),
    ("a2", "appels_115", "Mohamed", "BENALI", "1985-07-03", "M"),
    ("a3", "si_siao", "Mohamed", "Benali", "1985", "M"),
    ("b0", "si_siao", "Hélène", "Dupont", "1970-05-12", "F"),
    ("b1", "accueil_jour", "Helene", "Dupond", "1970-05-12", "F"),
    ("b2", "si_siao", "Ioana", "Stoica", "1992-11-30", "F"),
    ("b3", "accueil_jour", "Ioana", "Stoïca", "1992-11-30", "F"),
    ("b4", "si_siao", "Mamadou", "Diallo", "1990-01-15", "M"),
    ("b5", "accueil_jour", "Mamadu", "Diallo", "1990-01-15", "M"),
    ("b6", "si_siao", "Mamadou", "Traoré", "1975-06-20", "M"),
    ("b7", "accueil_jour", "Mamadou", "Traore", "1975-06-20", "M"),
    ("b8", "si_siao", "Giorgi", "Beridze", "1981-09-09", "M"),
    ("b9", "accueil_jour", "Gueorgui", "Beridze", "1981-09-09", "M"),
    ("b10", "si_siao", "Jean", "Martin", "1960-04-04", "M"),
    ("b11", "accueil_jour", "Jean", "Martin", "1960-04-04", "M"),
    ("c0", "si_siao", "Pierre", "Moreau", "1958-08-08", "M"),
    ("c1", "accueil_jour", "Paul", "Girard", "1999-02-02", "M"),
    ("c2", "si_siao", "Luc", "Petit", "1966-12-12", "M"),
    ("c3", "accueil_jour", "Anne", "Roux", "1977-07-07", "F"),
]


def _date(text: str) -> FrenchDate:
    if len(text) == 4:
        return FrenchDate(dt.date(int(text), 1, 1), DatePrecision.YEAR)
    return FrenchDate(dt.date.fromisoformat(text), DatePrecision.DAY)


def _stored_rows() -> list[dict]:
    """Partner rows as a feeds import stores them: pseudonyms only, no name in clear."""
    pseudonymiser = Pseudonymiser(KEY)
    rows = []
    for key, source, first, last, birth, sex in PEOPLE:
        date = _date(birth)
        rows.append({
            "source": source, "source_row_key": key, "commune_code": "21231", "sex": sex,
            "birth_year": date.year, "last_contact": dt.date(2025, 3, 1),
            "pseudonyms": pseudonymiser.record(
                last_name=clean_name(last), first_name=clean_name(first), birth_date=date,
                sex=sex, source=source),
            "attributes": {},
        })  # fmt: skip
    return rows


def _key(code: str) -> str:
    source = next(p[1] for p in PEOPLE if p[0] == code)
    return repo.partner_key(source, code)


@pytest.fixture
def stored(engine):
    upgrade_database(engine)
    with Session(engine) as session, session.begin():
        add_source_records(session, _stored_rows())
    return engine


def _persons(engine) -> dict[str, int | None]:
    with Session(engine) as session:
        rows = session.execute(select(SourceRecordRow.source_row_key, SourceRecordRow.person_id))
        return dict(rows.all())


def test_stored_records_are_linked_into_persons(stored) -> None:
    run = link_stored_records(stored, key=KEY)
    persons = _persons(stored)
    assert run.records == len(PEOPLE)
    assert len({persons[k] for k in ("a0", "a1", "a2", "a3")}) == 1
    assert persons["b0"] == persons["b1"] and persons["b6"] == persons["b7"]
    assert len({persons[k] for k in ("c0", "c1", "c2", "c3", "a0", "b0")}) == 6
    with Session(stored) as session:
        assert repo.count_persons(session) == run.persons == len(set(persons.values()))
        assert session.scalar(select(PersonRow.record_count).where(
            PersonRow.id == persons["a0"])) == 4  # fmt: skip
        actions = set(session.scalars(select(AuditLogRow.action)))
    assert "linkage.run" in actions
    # A second run keeps the persons' keys (named after their smallest record key).
    link_stored_records(stored, key=KEY)
    assert _persons(stored) == persons


def test_a_decision_overrides_the_model_and_survives_reruns(stored) -> None:
    link_stored_records(stored, key=KEY)
    assert _persons(stored)["a0"] == _persons(stored)["a2"]
    with Session(stored) as session, session.begin():
        repo.add_decision(session, _key("a2"), _key("a0"), "non_match", "revue")
        repo.add_decision(session, _key("c0"), _key("c2"), "match", "revue")
    for _ in range(2):
        link_stored_records(stored, key=KEY)
        persons = _persons(stored)
        assert persons["a0"] != persons["a2"]
        assert persons["c0"] == persons["c2"]
    with Session(stored) as session:
        decided = repo.latest_decisions(session)
    assert len(decided) == 2 and set(decided["reviewer"]) == {"revue"}


def test_the_latest_decision_on_a_pair_wins(stored) -> None:
    with Session(stored) as session, session.begin():
        repo.add_decision(session, _key("c0"), _key("c2"), "match", "revue")
        repo.add_decision(session, _key("c2"), _key("c0"), "non_match", "revue")
    with Session(stored) as session:
        decided = repo.latest_decisions(session)
        history = session.scalars(select(ReviewDecisionRow)).all()
    assert decided["decision"].tolist() == ["non_match"] and len(history) == 2


def test_splitting_a_person_detaches_records_on_the_next_run(stored) -> None:
    link_stored_records(stored, key=KEY)
    with Session(stored) as session:
        person = session.scalar(select(PersonRow.person_key).join(
            SourceRecordRow, SourceRecordRow.person_id == PersonRow.id).where(
            SourceRecordRow.source_row_key == "a0"))  # fmt: skip
        members = repo.person_records(session, person)
    assert _key("a3") in members and len(members) == 4
    with Session(stored) as session, session.begin():
        assert repo.split_person(session, person, [_key("a3")], "revue") == 3
    link_stored_records(stored, key=KEY)
    persons = _persons(stored)
    assert persons["a3"] != persons["a0"] and persons["a0"] == persons["a1"]


def test_night_initials_give_the_partners_key() -> None:
    """A sighting's initials (first name first) + birth year + sex meet a partner's
    ``cle_ndls`` only under the territory's key."""
    partner = Pseudonymiser(KEY).record(
        last_name=clean_name("Benali"), first_name=clean_name("Mohamed"),
        birth_date=_date("1985-03-07"), sex="M")  # fmt: skip
    assert sighting_night_key(Pseudonymiser(KEY), "MB", 1985, "M") == partner["cle_ndls"]
    assert sighting_night_key(None, "MB", 1985, "M") != partner["cle_ndls"]
    assert sighting_night_key(Pseudonymiser(KEY), "", 1985, "M") == ""


def test_reviewed_pairs_retrain_the_model() -> None:
    records = validate_records(pd.DataFrame([
        {"record_id": k, "source": s, "first_name": f, "last_name": la, "birth_date": b
         if len(b) == 10 else "", "birth_year": b[:4], "sex": x, "commune_code": "21231"}
        for k, s, f, la, b, x in PEOPLE]).astype(str))  # fmt: skip
    result = link(records)
    pairs = result.pairs()
    truth = {k: k[0] + (k[1:] if k[0] == "c" else str(int(k[1:]) // 2) if k[0] == "b" else "")
             for k, *_ in PEOPLE}  # fmt: skip
    # Reviewers also answer pairs the blocking never proposed (a split, for example).
    others = [(a, b) for a in ("c0", "c1", "c2", "c3") for b in ("a0", "b0", "b4", "b10")]
    left = [*pairs["record_id_a"], *(a for a, _ in others)]
    right = [*pairs["record_id_b"], *(b for _, b in others)]
    decisions = pd.DataFrame({
        "record_id_a": left, "record_id_b": right,
        "decision": ["match" if truth[a] == truth[b] else "non_match"
                     for a, b in zip(left, right, strict=True)],
    })  # fmt: skip
    assert set(decisions["decision"]) == {"match", "non_match"}
    settings = LinkageSettings(min_reviewed=min(20, len(decisions)))
    assert link(records, settings, decisions=decisions).retrained


def _page(database_url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", database_url)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(REPO / "dashboards" / "revue.py"), default_timeout=60)
    engine = make_engine(database_url)
    with Session(engine) as session, session.begin():
        if access_repository.account_user(session, "agent") is None:
            access_repository.create_user(session, "agent", "Agent", "staff", None, actor="t")
        agent = access_repository.account_user(session, "agent")
    engine.dispose()
    app.session_state[SESSION_KEY] = session_entry(agent)
    return app.run()


def test_review_page_decision_changes_the_next_run(stored, database_url, monkeypatch) -> None:
    # Wide band so that the small example has pairs to review whatever their probability.
    settings = LinkageSettings(review_band=(0.0, 1.01))
    link_stored_records(stored, key=KEY, settings=settings)
    with Session(stored) as session:
        queue = repo.review_queue(session)
    first = queue.iloc[0]
    before = _persons(stored)
    a, b = first["record_a"].split(":")[1], first["record_b"].split(":")[1]
    together = before[a] == before[b]

    app = _page(database_url, monkeypatch)
    assert not app.exception, app.exception
    assert app.title[0].value == "Revue des doublons"
    text = " ".join(m.value for m in app.markdown)
    assert "Benali" not in text and "Mohamed" not in text  # no name in clear, ever
    # The similarity table speaks the comparisons' own labels, for every comparison.
    from observatoire.linkage.compare import COMPARISONS

    (similarity,) = [d.value for d in app.dataframe if "Comparaison" in d.value.columns]
    shown = dict(zip(similarity["Comparaison"], similarity["Niveau"], strict=True))
    assert set(shown) == {c.label for c in COMPARISONS}
    assert all(shown[c.label] in (*c.labels, "inconnu") for c in COMPARISONS)
    answer = "revue_non_match" if together else "revue_match"
    app.button(key=answer).click().run()
    assert not app.exception, app.exception
    assert any("Réponse enregistrée" in s.value for s in app.success)

    with Session(stored) as session:
        decided = repo.latest_decisions(session)
        actions = set(session.scalars(select(AuditLogRow.action)))
    assert decided[["record_id_a", "record_id_b"]].values.tolist() == [
        [first["record_a"], first["record_b"]]]
    assert decided["reviewer"].tolist() == ["agent"] and "linkage.decision" in actions
    link_stored_records(stored, key=KEY, settings=settings)
    after = _persons(stored)
    assert (after[a] == after[b]) is (not together)


def test_review_page_labels_undoes_and_finds_the_person(stored, database_url,
                                                        monkeypatch) -> None:
    settings = LinkageSettings(review_band=(0.0, 1.01))
    link_stored_records(stored, key=KEY, settings=settings)
    with Session(stored) as session:
        first = repo.review_queue(session).iloc[0]
    app = _page(database_url, monkeypatch)
    assert not app.exception, app.exception
    shown = " ".join(str(v) for frame in app.dataframe for v in frame.value.to_numpy().ravel())
    # French labels and readable values, never the store's codes.
    assert "annee_depuis_age" not in shown and "si_siao" not in shown.replace(":", " ")
    assert "Source" in shown and ("Extraction SI-SIAO" in shown or "Accueil de jour" in shown)
    assert "01/03/2025" in shown  # the last contact as a French date
    assert app.button(key="revue_annuler").disabled  # nothing answered yet

    app.button(key="revue_match").click().run()
    assert app.progress[0].value > 0
    assert not app.button(key="revue_annuler").disabled
    app.button(key="revue_annuler").click().run()
    assert not app.exception, app.exception
    assert any("Réponse annulée" in i.value for i in app.info)
    assert app.progress[0].value == 0
    with Session(stored) as session:
        assert repo.latest_decisions(session).empty  # the pair is back in the queue
        undone = session.scalars(select(AuditLogRow).where(
            AuditLogRow.action == "linkage.decision_undone")).all()
    assert [(u.actor, u.details["decision"]) for u in undone] == [("agent", "match")]

    # The person of a record of the pair, found by the record's key.
    app.text_input(key="revue_personne").input(first["record_a"]).run()
    assert not app.exception, app.exception
    with Session(stored) as session:
        person = repo.person_of_record(session, first["record_a"])
        members = repo.person_records(session, person)
    assert any(f"{len(members)} enregistrement(s)" in m.value for m in app.markdown)
    assert list(app.multiselect(key="revue_detacher").options) == members
    app.text_input(key="revue_personne").input("inconnu:0").run()
    assert app.error and "Ni une personne ni un enregistrement connu" in app.error[0].value


def test_undo_withdraws_only_the_reviewers_latest_answer(stored) -> None:
    with Session(stored) as session, session.begin():
        repo.add_decision(session, _key("a0"), _key("a1"), "match", "alice")
        repo.add_decision(session, _key("a0"), _key("a1"), "non_match", "alice")
        repo.add_decision(session, _key("b0"), _key("b1"), "match", "bob")
    with Session(stored) as session, session.begin():
        pair = tuple(sorted((_key("a0"), _key("a1"))))  # stored in key order
        assert repo.undo_decision(session, "alice") == (*pair, "non_match")
    with Session(stored) as session, session.begin():
        decided = repo.latest_decisions(session)
        # alice's earlier answer counts again; bob's is untouched.
        assert sorted(decided["decision"]) == ["match", "match"]
        assert repo.undo_decision(session, "carol") is None


def test_review_page_refuses_the_public(stored, database_url, monkeypatch) -> None:
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", database_url)
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(REPO / "dashboards" / "revue.py"), default_timeout=60).run()
    assert app.error and "Accès réservé" in app.error[0].value
    assert not app.button


def test_link_command_on_the_stored_records(stored, database_url, monkeypatch, tmp_path,
                                            capsys) -> None:
    from observatoire.cli import main

    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", database_url)
    key_file = tmp_path / "cle.txt"
    key_file.write_text(KEY.decode(), encoding="utf-8")
    assert main(["link", "--stored", "--key-file", str(key_file), "--actor", "cron"]) == 0
    assert "(estimation dédoublonnée) : " in capsys.readouterr().err
    assert len({_persons(stored)[k] for k in ("a0", "a1", "a2", "a3")}) == 1
    with Session(stored) as session:
        assert repo.latest_run(session).actor == "cron"
    assert main(["link"]) == 2  # neither a file nor --stored: a message, not a traceback
    assert "--stored" in capsys.readouterr().err


@pytest.mark.spark
def test_link_stored_on_spark_stores_the_local_persons(stored, database_url, monkeypatch,
                                                       tmp_path, spark_master) -> None:
    from observatoire.cli import main

    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", database_url)
    key_file = tmp_path / "cle.txt"
    key_file.write_text(KEY.decode(), encoding="utf-8")
    stored_run = ["link", "--stored", "--key-file", str(key_file)]
    assert main([*stored_run, "--summary", str(tmp_path / "local.json")]) == 0
    local = _persons(stored)
    assert main([*stored_run, "--summary", str(tmp_path / "spark.json"), "--engine", "spark",
                 "--spark-master", spark_master]) == 0
    assert _persons(stored) == local
    assert (tmp_path / "local.json").read_text() == (tmp_path / "spark.json").read_text()


def test_the_command_the_stored_run_and_the_tile_show_one_figure(
    stored, database_url, monkeypatch, tmp_path, capsys
) -> None:
    """`observatoire link --stored --summary`, the stored run and the dashboard's tile give
    the same estimate and 90 % interval for one run (the tile used to recount its own)."""
    import json

    from observatoire.cli import main
    from observatoire.model import Commune, Territory, TerritoryKind
    from observatoire.store import repository
    from observatoire.store.feed_aggregates import distinct_estimate

    with Session(stored) as session, session.begin():
        repository.save_territory(session, Territory(
            slug="t", name="T", kind=TerritoryKind.CUSTOM, cog_year=2024,
            communes=[Commune(code="21231", name="Dijon", population=1000, cog_year=2024)]))
    monkeypatch.setenv("OBSERVATOIRE_DATABASE_URL", database_url)
    key_file = tmp_path / "cle.txt"
    key_file.write_text(KEY.decode(), encoding="utf-8")
    summary = tmp_path / "resume.json"
    assert main(["link", "--stored", "--key-file", str(key_file), "--summary",
                 str(summary)]) == 0  # fmt: skip
    err = capsys.readouterr().err
    figures = json.loads(summary.read_text(encoding="utf-8"))
    low, high = figures["interval_90"]
    from observatoire.indicators.dedup import PeopleFigure
    from observatoire.indicators.wording import estimate_label, estimate_text

    assert (f"{estimate_label()} : "
            f"{estimate_text(PeopleFigure(figures['people_estimate'], low, high))}") in err
    with Session(stored) as session:
        run = repo.latest_run(session)
        figure = repo.people_estimate(session)
        tile = distinct_estimate(session, "t")
    assert (run.people_estimate, run.people_low, run.people_high) == (
        figures["people_estimate"], low, high)
    assert (figure.people, figure.low, figure.high) == (figures["people_estimate"], low, high)
    assert (tile.estimate, tile.low, tile.high) == (figures["people_estimate"], low, high)
    assert (run.records, run.persons, run.review_pairs) == (
        figures["records"], figures["persons"], figures["review_pairs"])
    assert low <= figures["people_estimate"] <= high
