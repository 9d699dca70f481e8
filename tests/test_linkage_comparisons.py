"""Comparisons as self-describing objects: one written outside the engine takes part in
training, scoring, term frequencies and the model's table with nothing else edited."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from observatoire.linkage.compare import (
    COMPARISONS,
    Comparison,
    ComparisonLevel,
    NameComparison,
    Pairs,
    TrainingSession,
    compare,
    comparison_index,
    comparisons_for,
    training_sessions,
)
from observatoire.linkage.encoded import encode
from observatoire.linkage.engine import LinkageSettings, _sessions, _tf_u, link
from observatoire.linkage.prepare import prepare
from observatoire.linkage.records import validate_records
from observatoire.model import ObservatoireError
from observatoire.synthetic.stress import generate_stress, stress_scenario

KEY = b"k" * 32
SHELTERS = np.array([f"Centre {n}" for n in "ABCDEFGHIJKLMNOPQRST"], dtype=object)


@dataclass(frozen=True, kw_only=True)
class SameShelter(Comparison):
    """The shelter a record names (an extra column of a partner's file)."""

    def compare(self, pairs: Pairs) -> np.ndarray:
        values = pairs.f.extras["hebergement"]
        a, b = values[pairs.i], values[pairs.j]
        level = (a == b).astype(np.int8)
        level[(a == "") | (b == "")] = -1
        return level


def _shelter_key(f, keys) -> np.ndarray:
    (code,) = f.shared_codes("hebergement")
    return np.where(f.empty("hebergement"), -1, code)


SHELTER = SameShelter(
    name="shelter", label="Hébergement",
    levels=(ComparisonLevel("différent"), ComparisonLevel("identique", "hebergement")),
    session=TrainingSession("hebergement", _shelter_key),
    extra_columns=("hebergement",),
)
WITH_SHELTER = LinkageSettings(comparisons=COMPARISONS + (SHELTER,))


@pytest.fixture(scope="module")
def population() -> tuple[pd.DataFrame, pd.Series]:
    """A stress population whose people each name one shelter, frequent or rare (Zipf),
    on about two records in three; returns the validated records and the truth."""
    sample = generate_stress(stress_scenario("namesakes", people=400, seed=11))
    rng = np.random.default_rng(11)
    weights = 1.0 / np.arange(1, len(SHELTERS) + 1)
    shelter = dict(zip(sample.people["person_id"],
                       rng.choice(SHELTERS, size=len(sample.people), p=weights / weights.sum()),
                       strict=True))
    truth = sample.truth.set_index("record_id")["person_id"]
    person = truth.loc[sample.records["record_id"]].to_numpy()
    named = rng.random(len(person)) < 0.65
    records = validate_records(sample.records)
    records["hebergement"] = np.where(named, [shelter[p] for p in person], "")
    return records, truth


@pytest.fixture(scope="module")
def runs(population):
    records, _ = population
    return link(records, LinkageSettings()), link(records, WITH_SHELTER)


def test_a_new_comparison_gets_its_own_column_of_levels(population, runs) -> None:
    records, _ = population
    _, result = runs
    k = comparison_index(result.model.comparisons, "shelter")
    assert k == len(COMPARISONS)
    values = records["hebergement"].str.lower().to_numpy()
    a, b = values[result.i], values[result.j]
    expected = np.where((a == "") | (b == ""), -1, (a == b).astype(int))
    assert np.array_equal(result.gamma[:, k], expected)
    assert set(np.unique(expected)) == {-1, 0, 1}
    # Its column in what reviewers and reports read, under its name.
    assert "shelter" in result.pairs().columns
    assert "shelter" in result.review_queue().columns


def test_a_new_comparison_is_trained_and_in_the_model_table(runs) -> None:
    _, result = runs
    rows = [r for r in result.model.table() if r["comparison"] == "shelter"]
    assert [r["label"] for r in rows] == ["différent", "identique"]
    # Learned on the data: the same person names the same shelter, strangers seldom do.
    assert rows[1]["m"] > rows[1]["u"]
    assert rows[1]["weight"] > 0 > rows[0]["weight"]


def test_a_new_comparison_weighs_in_the_scores(runs) -> None:
    without, with_shelter = runs
    assert np.array_equal(without.i, with_shelter.i) and np.array_equal(without.j, with_shelter.j)
    level = with_shelter.gamma[:, comparison_index(with_shelter.model.comparisons, "shelter")]

    def odds(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    change = odds(with_shelter.probability) - odds(without.probability)
    assert np.median(change[level == 1]) > 0
    assert np.median(change[level == 0]) < 0


def test_a_new_comparison_carries_its_term_frequencies(population, runs) -> None:
    records, _ = population
    _, result = runs
    comparisons = result.model.comparisons
    tf = _tf_u(result.features, result.i, result.j, result.gamma, comparisons=comparisons)
    k = comparison_index(comparisons, "shelter")
    agree = result.gamma[:, k] == 1
    values = records["hebergement"].str.lower()
    share = values[values != ""].value_counts(normalize=True)
    expected = share.reindex(values.to_numpy()[result.i[agree]]).to_numpy()
    assert np.allclose(tf["shelter"][agree], expected)
    assert np.isnan(tf["shelter"][~agree]).all()
    # Agreeing on a rare shelter says more than agreeing on the most frequent one.
    pair = result.gamma[np.flatnonzero(agree)[:1]].repeat(2, axis=0)
    weight = result.model.match_weight(pair, {"shelter": np.array([share.max(), share.min()])})
    assert weight[1] > weight[0]


def test_a_new_comparison_is_kept_fixed_in_its_training_session(runs) -> None:
    _, result = runs
    f, i, j = result.features, result.i, result.j
    comparisons = result.model.comparisons
    sessions = _sessions(f, i, j, WITH_SHELTER, comparisons)
    values = f.extras["hebergement"]
    agree = (values[i] != "") & (values[i] == values[j])
    k = comparison_index(comparisons, "shelter")
    mine = [(mask, fixed) for mask, fixed in sessions if k in fixed]
    assert len(mine) == 1
    assert np.array_equal(mine[0][0], agree)
    assert mine[0][1] == frozenset({k})


def test_sessions_come_once_each_in_the_comparisons_order_then_extra_rules() -> None:
    comparisons = comparisons_for({"nir": "exact", "adresse": "string"})
    sessions = training_sessions(comparisons, (("nir",), ("adresse", "nir")))
    assert [(s.name, fixed) for s, fixed in sessions] == [
        ("names_any_order", frozenset({"first_name", "last_name"})),
        ("birth_date", frozenset({"birth"})),
        ("nir", frozenset({"nir"})),
        ("adresse+nir", frozenset({"adresse", "nir"})),
    ]


def test_extra_kinds_and_names_are_checked() -> None:
    with pytest.raises(ObservatoireError, match="exact, string"):
        comparisons_for({"nir": "approximatif"})
    with pytest.raises(ObservatoireError, match="commune"):
        comparisons_for({"commune": "exact"})
    assert [c.labels for c in comparisons_for({"nir": "exact"})[-1:]] == [
        ("différent", "identique")]


def test_the_encoded_thresholds_belong_to_the_name_comparison() -> None:
    records = validate_records(pd.DataFrame({
        "record_id": ["a", "b"], "source": ["x", "y"],
        "first_name": ["Karima", "Karina"], "last_name": ["Diallo", "Diallo"],
    }))
    clear = prepare(records)
    encoded = encode(prepare(records), KEY)
    first = COMPARISONS[comparison_index(COMPARISONS, "first_name")]
    assert isinstance(first, NameComparison)
    strict_encoded = replace(first, encoded_thresholds=(0.999, 0.998))
    strict_clear = replace(first, thresholds=(0.999, 0.998))
    i, j = np.array([0]), np.array([1])

    def level(f, comparison) -> int:
        return int(compare(f, i, j, comparisons=(comparison,))[0, 0])

    assert level(encoded, first) >= 1 and level(clear, first) >= 1
    assert level(encoded, strict_encoded) == 0
    assert level(clear, strict_encoded) == level(clear, first)
    assert level(clear, strict_clear) == 0
    assert level(encoded, strict_clear) == level(encoded, first)


@pytest.mark.parametrize("encoded", [False, True], ids=["clair", "pseudonymisé"])
def test_chunks_on_threads_give_the_matrix_of_one_pass(population, runs, encoded) -> None:
    records, _ = population
    _, result = runs

    def features():  # fresh ones: the chunked pass makes its codes before its threads
        f = prepare(records, ("hebergement",))
        return encode(f, KEY) if encoded else f

    comparisons = result.model.comparisons
    whole = compare(features(), result.i, result.j, comparisons=comparisons)
    chunked = compare(features(), result.i, result.j, chunk=997, comparisons=comparisons)
    assert whole.shape == (len(result.i), len(comparisons))
    assert np.array_equal(whole, chunked)


# --- names on keyed Bloom filters against Jaro-Winkler on clear names ---------------------

NAME_KEYS = [KEY, b"another-key-for-the-name-tests-0123456789"]


def _first_name_levels(a: str, b: str, key: bytes) -> tuple[int, int]:
    """First-name level of two first-name-only records: clear, then pseudonymised."""
    records = validate_records(pd.DataFrame({
        "record_id": ["a", "b"], "source": ["maraude", "maraude"], "first_name": [a, b]}))
    clear = prepare(records)
    first = (COMPARISONS[comparison_index(COMPARISONS, "first_name")],)
    pair = np.array([0]), np.array([1])
    return tuple(int(compare(f, *pair, comparisons=first)[0, 0])
                 for f in (clear, encode(clear, key)))


@pytest.mark.parametrize("key", NAME_KEYS)
@pytest.mark.parametrize(("a", "b"), [("Kaci", "Kaic"), ("Pons", "Posn")])
def test_the_last_two_letters_swapped_in_a_short_name_are_very_close_encoded(a, b, key):
    """Dice 0.4 (two bigrams of five kept), under "close": the swap alone decides."""
    assert _first_name_levels(a, b, key) == (2, 2)


@pytest.mark.parametrize("key", NAME_KEYS)
@pytest.mark.parametrize(("a", "b"), [("Nicu", "Nic"), ("Remy", "Rmy"), ("Lyna", "Lna"),
                                      ("Rene", "Ren"), ("Karim", "Kari")])
def test_one_letter_dropped_is_very_close_encoded_as_on_clear_names(a, b, key):
    assert _first_name_levels(a, b, key) == (2, 2)


@pytest.mark.parametrize("key", NAME_KEYS)
@pytest.mark.parametrize(("a", "b"), [("Nicu", "Nica"), ("Ahmed", "Ahmad"), ("Ali", "Al")])
def test_one_letter_changed_or_a_two_letter_name_stays_close_encoded(a, b, key):
    """A changed letter (Dice 1 - 2 / bigrams) and a name of two letters are not taken for
    one letter dropped; Jaro-Winkler puts them under "very close" too."""
    assert _first_name_levels(a, b, key) == (1, 1)
