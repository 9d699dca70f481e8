"""The stress populations of `observatoire.synthetic.stress` and `observatoire sample stress`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observatoire.cli import main
from observatoire.linkage.records import RECORD_COLUMNS, read_records, validate_records
from observatoire.model import ObservatoireError
from observatoire.synthetic.stress import (
    APPELS_115,
    FIRST_NAME_FAMILIES,
    LAST_NAME_FAMILIES,
    MARAUDE,
    NUIT,
    SCENARIOS,
    SI_SIAO,
    STRESS_SOURCES,
    generate_stress,
    stress_scenario,
    write_stress,
)


@pytest.fixture(scope="module")
def namesakes():
    return generate_stress(stress_scenario("namesakes", people=1500, seed=7))


def _with_truth(sample) -> pd.DataFrame:
    return sample.records.merge(sample.truth, on="record_id", validate="one_to_one")


def test_files_follow_the_interchange_format_and_truth_covers_every_record(tmp_path, namesakes):
    paths = write_stress(namesakes, tmp_path)
    records = read_records(paths["records"])  # raises on any format problem
    truth = pd.read_csv(paths["verite"], dtype=str, keep_default_na=False)
    assert list(truth.columns) == ["record_id", "person_id"]
    assert set(records["record_id"]) == set(truth["record_id"])
    assert truth["record_id"].is_unique and (truth["person_id"] != "").all()
    assert list(namesakes.records.columns) == list(RECORD_COLUMNS)
    assert set(records["source"]) == set(STRESS_SOURCES)
    assert truth["person_id"].nunique() == 1500  # everyone has at least one record


def test_same_seed_same_files_other_seed_other_files():
    a = generate_stress(stress_scenario("namesakes", people=300, seed=3))
    b = generate_stress(stress_scenario("namesakes", people=300, seed=3))
    c = generate_stress(stress_scenario("namesakes", people=300, seed=4))
    pd.testing.assert_frame_equal(a.records, b.records)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.records.equals(c.records)


@pytest.mark.parametrize("share", [0.2, 0.8])
def test_share_of_115_birth_dates_is_the_parameter(share):
    sample = generate_stress(stress_scenario("namesakes", people=1500, seed=1,
                                             share_115_full_birth_date=share))
    calls = sample.records[sample.records["source"] == APPELS_115]
    with_date = (calls["birth_date"] != "").mean()
    assert abs(with_date - share) < 0.05
    # The others carry an age instead.
    assert ((calls["birth_date"] == "") == (calls["age"] != "")).all()


def _namesake_share(sample) -> float:
    """Share of SI-SIAO records whose written full name is also written for another person."""
    frame = _with_truth(sample)
    frame = frame[frame["source"] == SI_SIAO]
    key = frame["first_name"].str.lower() + " " + frame["last_name"].str.lower()
    people_per_name = frame.groupby(key)["person_id"].transform("nunique")
    return float((people_per_name > 1).mean())


def test_frequent_name_share_makes_namesakes_frequent():
    few = generate_stress(stress_scenario("namesakes", people=2000, seed=2,
                                          share_frequent_names=0.05))
    many = generate_stress(stress_scenario("namesakes", people=2000, seed=2,
                                           share_frequent_names=0.8))
    family_last = {name.lower() for family in LAST_NAME_FAMILIES for name in family}

    def share_family(sample) -> float:
        names = sample.people["last_name"].str.lower()
        return float(names.isin(family_last).mean())

    assert share_family(few) < 0.1 < 0.7 < share_family(many)
    assert _namesake_share(many) > 2 * _namesake_share(few)


def test_number_of_name_families_bounds_the_names_used():
    sample = generate_stress(stress_scenario("namesakes", people=1500, seed=5,
                                             first_name_families=4, last_name_families=3,
                                             share_frequent_names=1.0, household_share=0.0))
    allowed_first = {n for spellings, _, _ in FIRST_NAME_FAMILIES[:4] for n in spellings}
    allowed_last = {n for family in LAST_NAME_FAMILIES[:3] for n in family}
    assert set(sample.people["first_name"]) <= allowed_first
    assert set(sample.people["last_name"]) <= allowed_last


def test_without_errors_every_full_birth_date_is_the_true_one():
    clean = generate_stress(stress_scenario("namesakes", people=800, seed=9, error_scale=0.0))
    noisy = generate_stress(stress_scenario("namesakes", people=800, seed=9, error_scale=3.0))

    def wrong_dates(sample) -> int:
        frame = _with_truth(sample).merge(sample.people[["person_id", "birth_date"]],
                                          on="person_id", suffixes=("", "_true"))
        dated = frame[frame["birth_date"] != ""]
        return int((dated["birth_date"] != dated["birth_date_true"]).sum())

    assert wrong_dates(clean) == 0
    assert wrong_dates(noisy) > 20


def test_outreach_and_count_night_carry_what_the_issue_says(namesakes):
    frame = _with_truth(namesakes)
    outreach = frame[frame["source"] == MARAUDE]
    assert (outreach["last_name"] == "").all() and (outreach["birth_date"] == "").all()
    assert (outreach["age"] != "").all() and (outreach["latitude"] != "").all()
    seen = pd.to_datetime(outreach["observed_at"]).groupby(outreach["person_id"])
    assert ((seen.max() - seen.min()) <= pd.Timedelta(days=14)).all()
    night = frame[frame["source"] == NUIT]
    interviewed = night["initials"] != ""
    assert ((night["birth_year"] != "") == interviewed).all()
    assert night.loc[~interviewed, "age"].astype(int).mod(10).eq(0).all()  # a guessed decade
    assert 0.2 < interviewed.mean() < 0.6


def test_records_per_person_have_a_heavy_tail_and_single_source_people(namesakes):
    frame = _with_truth(namesakes)
    per_person = frame.groupby("person_id").size()
    assert 10 <= per_person.max() <= 15
    assert 2.4 < per_person.mean() < 3.4  # the issue's 5,600 records for 2,000 people
    sources = frame.groupby("person_id")["source"].nunique()
    assert 0.2 < (sources == 1).mean() < 0.8


def test_household_members_share_a_last_name_and_not_a_first_name(namesakes):
    people = namesakes.people[namesakes.people["household_id"] >= 0]
    assert len(people) > 100
    for _, members in people.groupby("household_id"):
        assert members["last_name"].nunique() == 1
        assert members["first_name"].is_unique


def test_named_scenarios_differ_and_unknown_names_are_refused():
    assert {"namesakes", "sparse", "clean", "large_families", "french_names"} <= set(SCENARIOS)
    sparse = generate_stress(stress_scenario("sparse", people=1000, seed=1))
    base = generate_stress(stress_scenario("namesakes", people=1000, seed=1))

    def dated(sample) -> float:
        return float((sample.records["birth_date"] != "").mean())

    def outreach(sample) -> float:
        return float((sample.records["source"] == MARAUDE).mean())

    assert dated(sparse) < dated(base) and outreach(sparse) > outreach(base)
    with pytest.raises(ObservatoireError, match="Scénarios disponibles"):
        stress_scenario("inconnu")
    with pytest.raises(ObservatoireError, match="share_frequent_names"):
        stress_scenario("namesakes", share_frequent_names=1.5)


def test_cli_writes_the_two_files(tmp_path, capsys):
    code = main(["sample", "stress", "--people", "200", "--scenario", "clean", "--seed", "4",
                 "--output", str(tmp_path)])
    assert code == 0
    records = read_records(tmp_path / "records.csv")
    truth = pd.read_csv(tmp_path / "verite.csv", dtype=str)
    assert len(records) == len(truth) and truth["person_id"].nunique() == 200
    expected = generate_stress(stress_scenario("clean", people=200, seed=4)).truth
    assert np.array_equal(truth["person_id"].to_numpy(), expected["person_id"].to_numpy())
    assert "200 personnes" in capsys.readouterr().out


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.integers(1, 120),
    seed=st.integers(0, 2**16),
    share=st.floats(0.0, 1.0),
    households=st.floats(0.0, 1.0),
    families=st.integers(1, len(LAST_NAME_FAMILIES)),
    errors=st.floats(0.0, 5.0),
)
def test_any_parameters_give_a_valid_file_covering_everyone(
    people, seed, share, households, families, errors
):
    sample = generate_stress(stress_scenario(
        "namesakes", people=people, seed=seed, share_frequent_names=share,
        household_share=households, last_name_families=families, error_scale=errors,
    ))
    records = validate_records(sample.records)
    assert records["record_id"].is_unique
    assert set(sample.truth["record_id"]) == set(sample.records["record_id"])
    assert sample.truth["person_id"].nunique() == people
    assert sample.truth["person_id"].value_counts().max() <= sample.scenario.max_records


def test_outreach_nickname_rate_is_the_share_known_by_a_nickname():
    def nickname_share(rate: float) -> float:
        sample = generate_stress(stress_scenario("namesakes", people=1500, seed=8,
                                                 outreach_nickname_rate=rate))
        frame = _with_truth(sample).merge(sample.people[["person_id", "first_name"]],
                                          on="person_id", suffixes=("", "_true"))
        outreach = frame[frame["source"] == MARAUDE]
        # A nickname is not the person's first name nor a spelling of its family.
        spellings = {n.lower(): {m.lower() for m in family}
                     for family, _, _ in FIRST_NAME_FAMILIES for n in family}
        own = [seen.lower() in spellings.get(true.lower(), {true.lower()})
               or seen.lower() == true.lower()
               for seen, true in zip(outreach["first_name"], outreach["first_name_true"],
                                     strict=True)]
        return 1 - float(np.mean(own))

    low, high = nickname_share(0.0), nickname_share(0.9)
    assert low < 0.25 and high > 0.7, (low, high)
