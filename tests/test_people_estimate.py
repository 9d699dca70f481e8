"""The estimate of distinct people: its 90 % interval against the truth of seeded synthetic
populations, the ``--summary`` file, and a review queue a team can finish.

Seeds 100+ only: the calibration (`observatoire.linkage.estimate.Calibration`) was chosen
on seeds 0-4 (stress families namesakes, sparse and clean at 2,000 and 20,000 people, the
project's generator at its default size). Only synthetic people.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from observatoire.linkage.engine import link
from observatoire.linkage.records import validate_records
from observatoire.linkage.sample import build_sample_records
from observatoire.synthetic.stress import generate_stress, stress_scenario

SEEDS = range(100, 108)  # eight draws never tuned on (tuning: seeds 0-4)
PEOPLE = 600  # a size the calibration was not fitted at (it was at 2,000 and 20,000)


def _generator(seed: int) -> pd.DataFrame:
    return build_sample_records(seed=seed, n_people=PEOPLE)


def _stress(seed: int, scenario: str = "namesakes", people: int = PEOPLE) -> pd.DataFrame:
    sample = generate_stress(stress_scenario(scenario, people=people, seed=seed))
    truth = sample.truth.set_index("record_id")["person_id"]
    return sample.records.assign(person_id=sample.records["record_id"].map(truth).to_numpy())


def _dense(seed: int) -> pd.DataFrame:
    return _stress(seed, "dense_namesakes")  # a family no setting was chosen on


@pytest.mark.parametrize("population", [_generator, _stress, _dense],
                         ids=["generateur", "stress", "homonymes-denses"])
def test_the_90_interval_covers_the_truth_on_seeded_populations(population) -> None:
    covered, widths, errors = 0, [], []
    for seed in SEEDS:
        records = population(seed)
        truth = records["person_id"].nunique()
        e = link(validate_records(records.drop(columns=["person_id"]))).estimate
        covered += e.low <= truth <= e.high
        widths.append((e.high - e.low) / truth)
        errors.append((e.people - truth) / truth)
    assert covered >= 6, f"{covered} of {len(SEEDS)} intervals cover the truth: {errors}"
    # Close to the truth, not only covered: before issue 12 the stress draws came out
    # 11 to 40 % low depending on their size.
    assert np.mean(np.abs(errors)) <= 0.10, errors
    assert np.max(np.abs(errors)) <= 0.20, errors
    # An interval, not a range from 1 to everything: at most 60 % of the truth wide.
    assert np.median(widths) < 0.6, widths


def test_the_expected_people_of_the_persons_sum_to_the_estimate() -> None:
    records = _stress(100)
    result = link(validate_records(records.drop(columns=["person_id"])))
    e = result.estimate
    per_person = result.clusters.groupby("person_id")["expected_people"].first()
    assert per_person.sum() == pytest.approx(e.people, abs=1.0)
    assert (e.expected >= 0).all() and (per_person <= result.clusters.groupby(
        "person_id").size()).all()
    assert e.low >= e.people / 2 and e.high <= 2 * e.people


def _records_file(tmp_path):
    records = build_sample_records(seed=101, n_people=120)
    path = tmp_path / "enregistrements.csv"
    records.drop(columns=["person_id"]).to_csv(path, index=False)
    return path, len(records)


def test_the_summary_file_holds_the_figures_of_stderr_and_of_the_persons_file(
    tmp_path, capsys
) -> None:
    from observatoire.cli import main

    path, n = _records_file(tmp_path)
    out, review, summary = (tmp_path / f for f in ("personnes.csv", "revue.csv", "r.json"))
    assert main(["link", str(path), "--output", str(out), "--review", str(review),
                 "--summary", str(summary)]) == 0  # fmt: skip
    err = capsys.readouterr().err
    figures = json.loads(summary.read_text(encoding="utf-8"))
    assert list(figures)[:5] == ["records", "people_estimate", "interval_90", "persons",
                                 "review_pairs"]  # fmt: skip
    persons = pd.read_csv(out, dtype=str)
    assert figures["records"] == len(persons) == n
    assert figures["persons"] == persons["person_id"].nunique()
    assert figures["review_pairs"] == len(pd.read_csv(review))
    low, high = figures["interval_90"]
    assert low <= figures["people_estimate"] <= high
    numbers = [int(x) for x in re.findall(r"\d+", err)]
    assert numbers[:6] == [figures["records"], figures["persons"], figures["people_estimate"],
                           90, low, high]  # fmt: skip
    assert f"{figures['review_pairs']} paires à revoir" in err


def test_the_review_queue_is_capped_and_sorted_by_what_it_weighs_on_the_count() -> None:
    records = _stress(100)
    result = link(validate_records(records.drop(columns=["person_id"])))
    n = len(records)
    queue = result.review_queue()
    assert 0 < len(queue) <= 0.05 * n
    impact = queue["impact"].to_numpy()
    assert (np.diff(impact) <= 0).all() and impact[0] > 0
    # The most decisive pair first: its decision is the least certain of all.
    variance = result.estimate.sources.pair_variance(len(result.i))
    assert impact[0] == pytest.approx(variance.max(), abs=1e-6)
    longer = result.review_queue(max_share=0.2)
    assert len(queue) < len(longer) <= 0.2 * n
    assert longer.head(len(queue))["impact"].tolist() == queue["impact"].tolist()
    # Answering the queue narrows the interval (or not, when the model's known error
    # dominates); answering every uncertain pair leaves only that error.
    low, high = result.interval_after_review(queue)
    e = result.estimate
    assert e.low <= low <= high <= e.high
    low, high = e.interval_after_review(e.sources.variance())
    assert abs((high - low) - 2 * e.systematic) <= 2


def test_a_review_share_out_of_range_is_refused_in_french(tmp_path, capsys) -> None:
    from observatoire.cli import main

    path, _ = _records_file(tmp_path)
    assert main(["link", str(path), "--output", str(tmp_path / "p.csv"),
                 "--max-review", "5"]) != 0  # fmt: skip
    assert "Part maximale de paires à revoir invalide" in capsys.readouterr().err
