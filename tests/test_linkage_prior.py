"""The Fellegi-Sunter prior on namesake-dense data, and the precision it buys.

With the u of random pairs, the EM on candidate pairs takes nearly every candidate sharing
a frequent name for a match: a prior many times the true match rate, which grows with the
namesakes' density. Estimated with the u of candidate non-matches (`candidate_u`), it
follows the true rate. Populations from `observatoire.synthetic.stress` (fictitious people),
seed 100 (a report seed: no setting was chosen on it).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from observatoire.linkage.compare import cannot_be_one
from observatoire.linkage.engine import (
    TRAINING_BLOCK,
    LinkageSettings,
    _candidate_u,
    _different_sexes,
    _sessions,
    link,
)
from observatoire.linkage.evaluate import score
from observatoire.linkage.records import validate_records
from observatoire.synthetic.stress import generate_stress, stress_scenario


@lru_cache(maxsize=2)
def _population(family: str) -> tuple[pd.DataFrame, pd.Series]:
    sample = generate_stress(stress_scenario(family, people=1000, seed=100))
    return validate_records(sample.records), sample.truth.set_index("record_id")["person_id"]


def _true_rate(truth: pd.Series) -> float:
    sizes = truth.value_counts().to_numpy().astype(float)
    n = len(truth)
    return float((sizes * (sizes - 1) / 2).sum() / (n * (n - 1) / 2))


@lru_cache(maxsize=4)
def _linked(family: str, candidate_u: bool):
    records, truth = _population(family)
    result = link(records, LinkageSettings(candidate_u=candidate_u))
    labels = result.clusters.set_index("record_id")["person_id"].reindex(truth.index)
    return result, score(labels.to_numpy(), truth.to_numpy())


def test_the_prior_follows_the_true_match_rate_on_dense_namesakes() -> None:
    _, truth = _population("dense_namesakes")
    rate = _true_rate(truth)
    new, _ = _linked("dense_namesakes", True)
    old, _ = _linked("dense_namesakes", False)
    assert 0.5 < new.model.prior / rate < 2.0, new.model.prior / rate
    # The u of random pairs: about ten times the truth (the reason for the change).
    assert old.model.prior / rate > 4.0
    # Records without a full name are scored with a prior at most 4 times that one.
    assert new.model.prior < new.model.loose_prior


def test_precision_holds_on_dense_namesakes() -> None:
    _, new = _linked("dense_namesakes", True)
    _, old = _linked("dense_namesakes", False)
    assert new.precision >= 0.90, new
    assert new.precision > old.precision + 0.03
    assert new.f1 >= old.f1 - 0.01


def test_candidate_non_matches_agree_on_names_more_than_random_pairs() -> None:
    result, _ = _linked("namesakes", True)
    f, i, j, gamma = result.features, result.i, result.j, result.gamma
    comparisons = result.model.comparisons
    u_candidates = _candidate_u(gamma, cannot_be_one(f, i, j), _different_sexes(f, i, j),
                                comparisons)
    assert u_candidates is not None
    # First names identical (level 3): far likelier among candidates than random pairs.
    assert u_candidates[0][3] > 10 * result.model.u[0][3]
    # Known non-matches only: pairs of different sexes or contradicting births.
    assert u_candidates[4][1] < 0.99


def test_training_sessions_keep_small_name_blocks_only() -> None:
    result, _ = _linked("dense_namesakes", True)
    f, i, j = result.features, result.i, result.j
    comparisons = result.model.comparisons
    (by_names, _), _ = _sessions(f, i, j, LinkageSettings(candidate_u=True), comparisons)[:2]
    (all_names, _), _ = _sessions(f, i, j, LinkageSettings(candidate_u=False),
                                  comparisons)[:2]
    assert by_names.sum() < all_names.sum()
    assert not (by_names & ~all_names).any()
    from observatoire.linkage.blocking import blocking_keys

    names = dict((n, k) for n, k, _ in blocking_keys(f))["names_any_order"]
    block = np.bincount(np.maximum(names, 0))
    assert (block[names[i[by_names]]] <= TRAINING_BLOCK).all()
