"""Retraining on reviewed pairs (`engine._retrain`): the model's score kept as an offset,
one correction per answered comparison vector shrunk to 0. Only synthetic people."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from observatoire.linkage.engine import RETRAIN_BAND, LinkageSettings, fit_correction, link
from observatoire.linkage.records import validate_records
from observatoire.synthetic.stress import generate_stress, stress_scenario

NO_RETRAINING = LinkageSettings(min_reviewed=10**9)


@pytest.fixture(scope="module")
def population():
    sample = generate_stress(stress_scenario("namesakes", people=600, seed=11))
    records = validate_records(sample.records)
    truth = sample.truth.set_index("record_id")["person_id"].astype(str)
    result = link(records)
    pairs = result.pairs()
    names = [c.name for c in result.model.comparisons]
    pairs["vector"] = pairs[names].astype(str).agg(",".join, axis=1)
    pairs["same"] = (pairs["record_id_a"].map(truth).to_numpy()
                     == pairs["record_id_b"].map(truth).to_numpy())
    return records, result, pairs


def _decisions(pairs: pd.DataFrame, answers: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"record_id_a": pairs["record_id_a"].to_numpy(),
                         "record_id_b": pairs["record_id_b"].to_numpy(),
                         "decision": np.where(answers, "match", "non_match")})


def _keyed(pairs: pd.DataFrame) -> pd.Series:
    return pd.Series(pairs["probability"].to_numpy(),
                     index=pairs["record_id_a"] + "|" + pairs["record_id_b"])


def test_true_answers_on_uncertain_pairs_move_the_count_little(population) -> None:
    """A biased sample (the first uncertain pairs, as a reviewer meets them) answered truly:
    the answered pairs change their persons, the correction of the rest stays small (the
    previous free logistic fit made about 44 % more persons on the project's sample)."""
    records, _, pairs = population
    band = pairs[(pairs["probability"] > 0.05) & (pairs["probability"] < 0.95)]
    reviewed = pd.concat([band[band["same"]].iloc[:40], band[~band["same"]].iloc[:60]])
    assert len(reviewed) >= 40 and reviewed["same"].any()
    decisions = _decisions(reviewed, reviewed["same"].to_numpy())
    retrained = link(records, LinkageSettings(min_reviewed=20), decisions=decisions)
    kept = link(records, NO_RETRAINING, decisions=decisions)
    assert retrained.retrained and not kept.retrained
    persons = retrained.clusters["person_id"].nunique()
    without = kept.clusters["person_id"].nunique()
    assert abs(persons - without) <= 0.02 * without
    assert abs(retrained.estimate.people - kept.estimate.people) <= 0.02 * kept.estimate.people


def test_consistent_non_matches_on_a_vector_lower_its_pairs_only(population) -> None:
    records, result, pairs = population
    band = pairs[(pairs["probability"] > RETRAIN_BAND[0])
                 & (pairs["probability"] < RETRAIN_BAND[1])]
    vector = band["vector"].value_counts().index[0]  # the commonest uncertain vector
    of_vector = band[band["vector"] == vector]
    assert len(of_vector) >= 30
    answered = of_vector.iloc[:20]
    others = band[band["vector"] != vector].iloc[:20]  # some matches, so both answers exist
    decisions = pd.concat([_decisions(answered, np.zeros(len(answered), bool)),
                           _decisions(others, np.ones(len(others), bool))])
    retrained = link(records, LinkageSettings(min_reviewed=20), decisions=decisions)
    assert retrained.retrained
    before, after = _keyed(pairs), _keyed(retrained.pairs())
    decided = set(decisions["record_id_a"] + "|" + decisions["record_id_b"])
    rest = of_vector[~(of_vector["record_id_a"] + "|" + of_vector["record_id_b"]).isin(decided)]
    keys = rest["record_id_a"] + "|" + rest["record_id_b"]
    assert (after[keys] < before[keys]).all()  # the reviewer's pattern: lower
    # Vectors nobody answered keep their score exactly.
    untouched = pairs[~pairs["vector"].isin(set(answered["vector"]) | set(others["vector"]))]
    keys = untouched["record_id_a"] + "|" + untouched["record_id_b"]
    assert len(keys) and np.array_equal(after[keys].to_numpy(), before[keys].to_numpy())
    assert result.probability.shape == retrained.probability.shape


def test_obvious_pairs_keep_their_score(population) -> None:
    """Answers on the vectors of sure pairs change none of the sure pairs not answered."""
    records, _, pairs = population
    sure = pairs[(pairs["probability"] >= RETRAIN_BAND[1])
                 | (pairs["probability"] <= RETRAIN_BAND[0])]
    answered = pd.concat([sure[sure["same"]].iloc[:15], sure[~sure["same"]].iloc[:15]])
    assert answered["same"].any() and not answered["same"].all()
    # Every answer the opposite of the model: the strongest pull there can be.
    decisions = _decisions(answered, ~answered["same"].to_numpy())
    retrained = link(records, LinkageSettings(min_reviewed=20), decisions=decisions)
    assert retrained.retrained
    before, after = _keyed(pairs), _keyed(retrained.pairs())
    decided = set(decisions["record_id_a"] + "|" + decisions["record_id_b"])
    keys = (sure["record_id_a"] + "|" + sure["record_id_b"])
    keys = keys[~keys.isin(decided)]
    assert np.array_equal(after[keys].to_numpy(), before[keys].to_numpy())


@pytest.mark.parametrize("answers, sign", [
    pytest.param([0] * 30, -1, id="always-different-lowers"),
    pytest.param([1] * 30, 1, id="always-same-raises"),
])
def test_correction_follows_the_answers_and_is_shrunk(answers, sign) -> None:
    y = np.array(answers, float)
    x = np.ones((len(y), 1))
    offset = np.zeros(len(y))  # the model says 0.5
    (b,) = fit_correction(x, y, offset)
    assert np.sign(b) == sign
    # The prior (sd 0.25) keeps 30 unanimous answers within about 1.5 on the logit scale,
    # where an unpenalised fit would go to infinity.
    assert 0.5 < abs(b) < 1.5
    (b_few,) = fit_correction(x[:3], y[:3], offset[:3])
    assert abs(b_few) < abs(b)  # fewer answers, a smaller move


def test_answers_the_model_already_expects_change_nothing() -> None:
    rng = np.random.default_rng(3)
    offset = rng.normal(0, 2, 5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-offset))).astype(float)
    (b,) = fit_correction(np.ones((5000, 1)), y, offset)
    assert abs(b) < 0.1
