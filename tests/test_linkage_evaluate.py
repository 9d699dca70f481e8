"""Pairwise and B-cubed scores of `observatoire.linkage.evaluate`, on examples worked by hand."""

from __future__ import annotations

import pytest

from observatoire.linkage.evaluate import score


def test_pairwise_and_bcubed_scores_of_a_small_example():
    # Found {0,1,2} {3,4}; true {0,1} {2,3,4}.
    # Pairs: found 3 + 1, true 1 + 3, both (0,1) and (3,4): precision = recall = 2/4.
    # B-cubed per record (precision, recall): 0 and 1 (2/3, 1), 2 (1/3, 1/3),
    # 3 and 4 (1, 2/3): both averages 11/15.
    s = score(["a", "a", "a", "b", "b"], [1, 1, 2, 2, 2])
    assert (s.precision, s.recall, s.f1) == pytest.approx((0.5, 0.5, 0.5))
    assert s.bcubed_precision == pytest.approx(11 / 15)
    assert s.bcubed_recall == pytest.approx(11 / 15)
    assert s.bcubed_f1 == pytest.approx(11 / 15)
    assert (s.people_found, s.people_true) == (2, 2)


def test_one_giant_cluster_is_penalised_by_bcubed_precision():
    # Six records of three true people put in one person: B-cubed precision 2/6 per record.
    s = score(["x"] * 6, ["p", "p", "q", "q", "r", "r"])
    assert s.precision == pytest.approx(3 / 15) and s.recall == 1.0
    assert s.bcubed_precision == pytest.approx(1 / 3) and s.bcubed_recall == 1.0


def test_records_without_truth_are_each_their_own_person():
    s = score(["x", "x", "y"], ["", None, "p"])
    assert s.people_true == 3
    assert s.precision == 0.0 and s.recall == 1.0
    assert s.bcubed_precision == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)
