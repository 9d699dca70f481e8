"""Linkage on namesakes: no person holds contradictory records, weak records do not choose.

Populations are small and fictitious (faker names with a fixed seed, hand-made namesakes):
a background of people written twice, so that the model has something to learn from, and
the namesakes each test is about.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from observatoire.linkage.engine import link
from observatoire.linkage.records import validate_records


def record(record_id: str, source: str = "si_siao", **values: str) -> dict[str, str]:
    return {"record_id": record_id, "source": source, **values}


@lru_cache(maxsize=1)
def _background() -> tuple[dict[str, str], ...]:
    """Sixty fictitious people, each in SI-SIAO and at a day centre (one with a typo)."""
    fake = Faker("fr_FR")
    fake.seed_instance(12)
    rng = np.random.default_rng(12)
    rows = []
    for k in range(60):
        sex = "M" if k % 3 else "F"
        first = fake.first_name_male() if sex == "M" else fake.first_name_female()
        last = fake.last_name()
        born = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 50 * 365)))
        if born.month == 1 and born.day == 1:
            born = born.replace(day=2)
        commune = ("21231", "21166", "21617")[k % 3]
        rows.append(record(f"bg{k}a", first_name=first, last_name=last,
                           birth_date=born.isoformat(), sex=sex, commune_code=commune))
        typo = last[:-1] if k % 4 == 0 and len(last) > 4 else last
        rows.append(record(f"bg{k}b", source="accueil_jour", first_name=first, last_name=typo,
                           birth_date=born.isoformat(), sex=sex, commune_code=commune))
    return tuple(rows)


def _link(*rows: dict[str, str]) -> pd.Series:
    """Person of each record (indexed by record id), linked with the background."""
    frame = pd.DataFrame([*_background(), *rows]).fillna("").astype(str)
    result = link(validate_records(frame))
    return result.clusters.set_index("record_id")["person_id"]


# --- a person never holds contradictory records -------------------------------------------


def _dates_compatible(a: str, b: str) -> bool:
    """The known error patterns of a full date: the same, day and month swapped, one digit
    typed wrong, the year one off (01/01 dates are years, not full dates)."""
    if a == b:
        return True
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    if ya == yb and ma == db and da == mb:
        return True
    if sum(x != y for x, y in zip(a.replace("-", ""), b.replace("-", ""), strict=True)) <= 1:
        return True
    return (ma, da) == (mb, db) and abs(int(ya) - int(yb)) <= 1


NAMESAKES = [("Mamadou", "Diallo"), ("Mamadu", "DIALLO"), ("Mohamed", "Traoré"),
             ("Muhammad", "Traore"), ("Amadou", "Ouedraogo")]
DATES = ["1968-10-01", "2006-07-09", "1968-01-10", "1985-03-07", "1986-03-07", "1985-03-17",
         "1990-12-25", ""]


@st.composite
def namesake_records(draw) -> list[dict[str, str]]:
    """Records of namesakes: full names or a first name only, dates from a small set (some
    compatible, most not), sexes mostly known, a few 115 records with an age only."""
    size = draw(st.integers(4, 14))
    rows = []
    for k in range(size):
        first, last = draw(st.sampled_from(NAMESAKES))
        only_first = draw(st.booleans()) and draw(st.booleans())
        date = draw(st.sampled_from(DATES))
        age = "" if date else draw(st.sampled_from(["", "20", "40", "57"]))
        rows.append(record(
            f"n{k}", source=draw(st.sampled_from(["si_siao", "appels_115", "maraude"])),
            first_name=first, last_name="" if only_first else last, birth_date=date,
            age=age, sex=draw(st.sampled_from(["M", "M", "F", ""])), commune_code="21231",
        ))
    return rows


@settings(max_examples=25, deadline=None, derandomize=True)
@given(namesake_records())
def test_no_person_holds_contradictory_dates_or_sexes(rows: list[dict[str, str]]) -> None:
    persons = _link(*rows)
    frame = pd.DataFrame(rows)
    frame["person"] = persons.reindex(frame["record_id"]).to_numpy()
    for _, person in frame.groupby("person"):
        sexes = set(person["sex"]) - {""}
        assert len(sexes) <= 1, person.to_dict("records")
        dates = sorted(set(person["birth_date"]) - {""})
        for a in dates:
            for b in dates:
                assert _dates_compatible(a, b), person.to_dict("records")


def test_namesakes_born_decades_apart_stay_two_people_through_a_name_only_record() -> None:
    # A name rare enough that sharing it outweighs the different dates, pair by pair.
    persons = _link(
        record("A", first_name="Wendpanga", last_name="Zoungrana", birth_date="1968-10-01",
               sex="M", commune_code="21231"),
        record("weak", source="appels_115", first_name="Wendpanga", last_name="ZOUNGRANA",
               sex="M", commune_code="21231"),
        record("B", source="accueil_jour", first_name="Wendpanga", last_name="Zoungrana",
               birth_date="2006-07-09", sex="M", commune_code="21231"),
    )
    assert persons["A"] != persons["B"]


def test_a_weak_record_between_two_equally_good_candidates_stays_apart() -> None:
    persons = _link(
        record("x1", first_name="Ibrahima", last_name="Coulibaly", birth_date="1971-05-14",
               sex="M", commune_code="21231"),
        record("x2", source="accueil_jour", first_name="Ibrahima", last_name="Coulibaly",
               birth_date="1971-05-14", sex="M", commune_code="21231"),
        record("y1", first_name="Ibrahima", last_name="Coulibaly", birth_date="1994-11-23",
               sex="M", commune_code="21231"),
        record("y2", source="accueil_jour", first_name="Ibrahima", last_name="Coulibaly",
               birth_date="1994-11-23", sex="M", commune_code="21231"),
        # A 115 call: the name and nothing that says which of the two men it was.
        record("call", source="appels_115", first_name="Ibrahima", last_name="Coulibaly",
               sex="M", commune_code="21231"),
    )
    assert persons["x1"] == persons["x2"] and persons["y1"] == persons["y2"]
    assert persons["x1"] != persons["y1"]
    assert persons["call"] not in {persons["x1"], persons["y1"]}


# --- term frequencies ---------------------------------------------------------------------


def _pair_probability(rows: list[dict[str, str]], a: str, b: str) -> float:
    frame = pd.DataFrame([*_background(), *rows]).fillna("").astype(str)
    pairs = link(validate_records(frame)).pairs()
    match = ((pairs["record_id_a"] == a) & (pairs["record_id_b"] == b)) | (
        (pairs["record_id_a"] == b) & (pairs["record_id_b"] == a))
    assert match.sum() == 1, f"{a}-{b} is not a candidate pair"
    return float(pairs.loc[match, "probability"].iloc[0])


def _frequent_and_rare(frequent: tuple[str, str], rare: tuple[str, str]) -> list[dict]:
    """Two pairs agreeing the same way on the first name (``frequent`` and ``rare``
    spellings), the same last name and year; the frequent family is carried by twenty
    other people."""
    rows = []
    for k in range(20):
        rows.append(record(f"crowd{k}", first_name=("Mohamed", "Mohammed", "Muhammad")[k % 3],
                           last_name=f"Nom{chr(65 + k)}{chr(70 + k)}",
                           birth_date=f"{1960 + k}-0{1 + k % 9}-1{k % 9}", sex="M"))
    for tag, (a, b) in (("f", frequent), ("r", rare)):
        rows.append(record(f"{tag}1", first_name=a, last_name="Kaboré", birth_year="1980",
                           sex="M", commune_code="21166"))
        rows.append(record(f"{tag}2", source="accueil_jour", first_name=b, last_name="Kaboré",
                           birth_year="1980", sex="M", commune_code="21166"))
    return rows


def test_an_exact_first_name_weighs_less_when_frequent() -> None:
    rows = _frequent_and_rare(("Mohamed", "Mohamed"), ("Wendpanga", "Wendpanga"))
    assert _pair_probability(rows, "f1", "f2") < _pair_probability(rows, "r1", "r2")


def test_a_transliteration_of_a_frequent_first_name_weighs_less_than_of_a_rare_one() -> None:
    # Mohamed / Mohammed and Wendpanga / Wendpangha: both the same phonetic key.
    rows = _frequent_and_rare(("Mohamed", "Mohammed"), ("Wendpanga", "Wendpangha"))
    assert _pair_probability(rows, "f1", "f2") < _pair_probability(rows, "r1", "r2")
