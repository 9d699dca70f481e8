"""Multiple-systems estimation of the hidden population (`observatoire.indicators.hidden`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from observatoire.cli import main
from observatoire.indicators.hidden import (
    CaptureTable,
    HiddenPopulationError,
    LogLinearModel,
    candidate_models,
    estimate_from_links,
    estimate_hidden,
    fit_model,
    linkage_readings,
    profile_interval,
)
from observatoire.synthetic.catchability import (
    SOURCES,
    CatchabilityScenario,
    seen_records,
    simulate_captures,
)


def hav_table() -> CaptureTable:
    """Hepatitis A outbreak in a Taiwanese college, 1995: three lists (P serum tests, Q
    hospital records, E epidemiologists' questionnaires), 271 cases ascertained, 545 found
    later by serology. Chao, Tsay, Lin, Shau and Chao (2001), "The applications of
    capture-recapture models to epidemiological data", Statistics in Medicine 20, table II
    (list sizes 135, 122, 126, as in the R package CARE1's ``HAV`` data)."""
    counts = np.zeros(8)
    # bit 0 = P, bit 1 = Q, bit 2 = E
    counts[0b001], counts[0b010], counts[0b100] = 69, 55, 63
    counts[0b011], counts[0b101], counts[0b110], counts[0b111] = 21, 17, 18, 28
    return CaptureTable(("P", "Q", "E"), counts)


def test_published_hepatitis_a_example_is_reproduced():
    table = hav_table()
    assert table.observed == 271
    assert table.seen_by() == {"P": 135, "Q": 122, "E": 126}
    independence = fit_model(table, LogLinearModel())
    # Chao et al. (2001) report 388 for the independence log-linear model.
    assert round(independence.estimate) == 388
    saturated = fit_model(table, LogLinearModel(((0, 1), (0, 2), (1, 2))))
    # The saturated model's unseen cell has a closed form: z1 z2 z4 z7 / (z3 z5 z6);
    # van Hest et al. (2008) quote 1,314 for these data, the figure published as the
    # saturated model's (1,312.8 here, 1,313 rounded).
    closed_form = 271 + 69 * 55 * 63 * 28 / (21 * 17 * 18)
    assert saturated.estimate == pytest.approx(closed_form, rel=1e-6)
    assert abs(saturated.estimate - 1314) / 1314 < 0.002


def test_two_lists_use_chapman_small_sample_estimator():
    counts = np.zeros(4)
    counts[0b01], counts[0b10], counts[0b11] = 40, 30, 10  # n1 = 50, n2 = 40, m = 10
    fit = fit_model(CaptureTable(("a", "b"), counts), LogLinearModel())
    chapman = (50 + 1) * (40 + 1) / (10 + 1) - 1
    assert fit.estimate == pytest.approx(chapman)


def test_profile_interval_holds_the_estimate_and_narrows_with_more_data():
    table = hav_table()
    fit = fit_model(table, LogLinearModel())
    low, high = profile_interval(table, fit)
    assert low < fit.estimate < high
    bigger = CaptureTable(table.sources, table.counts * 10)
    big_fit = fit_model(bigger, LogLinearModel())
    big_low, big_high = profile_interval(bigger, big_fit)
    assert (big_high - big_low) / big_fit.estimate < (high - low) / fit.estimate


def test_forward_search_finds_the_dependence_it_was_given():
    population = simulate_captures(CatchabilityScenario(people=6000, heterogeneity=False,
                                                        dependence=True, seed=5))
    seen = seen_records(population)
    table = CaptureTable.from_memberships(seen.person_id, seen.source, SOURCES)
    best = candidate_models(table)[0]
    pairs = {(SOURCES[a], SOURCES[b]) for a, b in best.model.interactions}
    assert ("si_siao", "appels_115") in pairs  # a 115 caller is likelier to be in SI-SIAO
    assert ("nuit", "maraude") in pairs  # outreach meets the night's rough sleepers
    independence = fit_model(table, LogLinearModel())
    # Positive dependence left out underestimates; the chosen model corrects it.
    assert abs(best.estimate - 6000) < abs(independence.estimate - 6000)


def test_interval_covers_the_truth_on_seeded_draws():
    covered, errors = 0, []
    seeds = range(2000, 2010)
    for seed in seeds:
        population = simulate_captures(CatchabilityScenario(people=2000, dependence=True,
                                                            heterogeneity=False, seed=seed))
        seen = seen_records(population)
        table = CaptureTable.from_memberships(seen.person_id, seen.source, SOURCES)
        assert 0.2 <= 1 - table.observed / 2000 <= 0.4  # the 20-40 % unseen
        estimate = estimate_hidden([table], replicates=60, seed=seed)
        low, high = estimate.interval_95
        covered += low <= 2000 <= high
        errors.append((estimate.estimate - 2000) / 2000)
    assert covered >= 8
    assert abs(np.mean(errors)) < 0.05


def _overdispersed_table(seed: int) -> CaptureTable:
    """Five sources seen independently, each cell's count multiplied by a lognormal factor:
    more spread between cells than any Poisson log-linear model allows."""
    rng = np.random.default_rng(seed)
    k = 5
    probability = np.array([0.3, 0.25, 0.2, 0.35, 0.15])
    cells = np.arange(2 ** k)
    bits = (cells[:, None] >> np.arange(k)) & 1
    expected = 6000 * np.prod(np.where(bits, probability, 1 - probability), axis=1)
    counts = rng.poisson(expected * rng.lognormal(0.0, 0.35, len(cells))).astype(float)
    counts[0] = 0.0
    return CaptureTable(tuple(f"s{i}" for i in range(k)), counts)


def test_cells_spread_beyond_poisson_widen_the_interval_by_c_hat(monkeypatch):
    table = _overdispersed_table(5)
    fits = candidate_models(table)
    c_hat = fits[0].pearson / fits[0].df
    assert c_hat > 2  # the table is overdispersed against its best model
    widened = estimate_hidden([table], replicates=80, seed=3)
    assert widened.overdispersion == pytest.approx(c_hat)
    monkeypatch.setattr("observatoire.indicators.hidden.overdispersion", lambda reading: 1.0)
    plain = estimate_hidden([table], replicates=80, seed=3)
    assert plain.estimate == widened.estimate  # the point does not move
    ratio = ((widened.interval_95[1] - widened.interval_95[0])
             / (plain.interval_95[1] - plain.interval_95[0]))
    assert ratio == pytest.approx(np.sqrt(c_hat), rel=0.05)
    assert widened.to_json()["overdispersion"] == round(c_hat, 3)


def test_a_table_the_model_fits_is_not_widened():
    population = simulate_captures(CatchabilityScenario(people=3000, seed=21))
    seen = seen_records(population)
    table = CaptureTable.from_memberships(seen.person_id, seen.source, SOURCES)
    best = candidate_models(table)[0]
    # Fill the observed cells with the best model's own fitted values: a perfect fit.
    exact = CaptureTable(SOURCES, np.concatenate([[0.0], best.fitted[1:]]))
    assert estimate_hidden([exact], replicates=20, seed=1).overdispersion == 1.0


def test_uncertain_links_widen_the_interval():
    population = simulate_captures(CatchabilityScenario(people=1500, seed=11))
    seen = seen_records(population).reset_index(drop=True)
    certain = seen.assign(match_confidence=1.0)
    shaky = seen.assign(match_confidence=np.where(np.arange(len(seen)) % 4 == 0, 0.5, 1.0))
    sure = estimate_from_links(certain, sources=SOURCES, draws=10, replicates=60)
    unsure = estimate_from_links(shaky, sources=SOURCES, draws=10, replicates=60)
    assert (unsure.interval_95[1] - unsure.interval_95[0]
            > sure.interval_95[1] - sure.interval_95[0])
    assert unsure.observed == sure.observed  # the clustering itself is the same
    labels = {row.reading for row in unsure.sensitivity}
    assert {"lecture basse du rapprochement", "lecture haute du rapprochement"} <= labels


def test_thin_overlaps_and_a_dominant_source_are_warned():
    counts = np.zeros(8)
    counts[0b001], counts[0b010], counts[0b100] = 400, 12, 10
    counts[0b011], counts[0b101], counts[0b110], counts[0b111] = 4, 3, 2, 1
    estimate = estimate_hidden([CaptureTable(("a", "b", "c"), counts)], replicates=20)
    text = " ".join(estimate.warnings)
    assert "recoupements" in text and "« a »" in text


def test_strata_too_small_fall_back_to_one_model():
    population = simulate_captures(CatchabilityScenario(people=1200, seed=4))
    seen = seen_records(population)
    seen["tiny"] = np.where(seen["person_id"] < 20, "x", "y")
    estimate = estimate_from_links(seen, sources=SOURCES, stratum="tiny", draws=0,
                                   replicates=20)
    assert estimate.strata == ()
    assert any("Strates" in w for w in estimate.warnings)


def test_unknown_source_is_refused_in_french():
    with pytest.raises(HiddenPopulationError, match="Sources inconnues"):
        CaptureTable.from_memberships(pd.Series([1, 2]), pd.Series(["a", "z"]), ("a", "b"))


@pytest.fixture()
def linked_files(tmp_path):
    population = simulate_captures(CatchabilityScenario(people=1000, seed=8))
    seen = seen_records(population).reset_index(drop=True)
    seen["record_id"] = "r" + seen.index.astype(str)
    records = tmp_path / "enregistrements.csv"
    seen[["record_id", "source", "sex"]].to_csv(records, index=False)
    persons = tmp_path / "personnes.csv"
    pd.DataFrame({"record_id": seen["record_id"], "person_id": "p" + seen["person_id"].astype(str),
                  "match_confidence": 1.0, "person_confidence": 1.0}).to_csv(persons, index=False)
    return persons, records, seen


def test_cli_writes_the_estimate_json(linked_files, tmp_path, capsys):
    persons, records, seen = linked_files
    output = tmp_path / "estimation.json"
    code = main(["estimate", "hidden", "--persons", str(persons), "--records", str(records),
                 "--output", str(output), "--replicates", "30", "--draws", "0"])
    assert code == 0
    payload = json.loads(output.read_text(encoding="utf-8"))
    assert {"observed", "estimate", "interval_95", "model", "sources"} <= set(payload)
    assert payload["observed"] == seen["person_id"].nunique()
    low, high = payload["interval_95"]
    assert low <= payload["estimate"] <= high
    assert payload["estimate"] > payload["observed"]
    assert sorted(payload["sources"]) == sorted(SOURCES)
    err = capsys.readouterr().err
    assert f"{payload['estimate']} personnes estimées" in err


def test_the_commands_help_prints_the_method_note_the_pages_print(capsys):
    from observatoire.hidden_method import HIDDEN_NOTE

    with pytest.raises(SystemExit):
        main(["estimate", "hidden", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert HIDDEN_NOTE in shown
    # The interval is a bootstrap of the observed cells that chooses its model again, not a
    # bootstrap drawn from the fitted model.
    assert "paramétrique" not in HIDDEN_NOTE
    assert "choisit de nouveau le modèle" in HIDDEN_NOTE


def test_cli_refuses_a_persons_file_from_elsewhere(linked_files, tmp_path, capsys):
    persons, records, _ = linked_files
    wrong = tmp_path / "autres.csv"
    wrong.write_text("record_id,person_id\nzz1,p1\n", encoding="utf-8")
    output = tmp_path / "estimation.json"
    code = main(["estimate", "hidden", "--persons", str(wrong), "--records", str(records),
                 "--output", str(output)])
    assert code == 2
    err = capsys.readouterr().err
    assert "absents" in err and "zz1" in err and "Traceback" not in err
    assert not output.exists()


# --- sectors not walked on the count night -------------------------------------------------

from observatoire.indicators.extrapolation import density_classes, extrapolate_count  # noqa: E402


def _territory(seed: int, sectors: int = 300) -> pd.DataFrame:
    """Sectors with a lasting density (lognormal), counted on an earlier night and tonight."""
    rng = np.random.default_rng(seed)
    level = np.exp(rng.normal(0.0, 1.0, sectors)) * 1.2
    return pd.DataFrame({
        "commune_code": rng.choice([f"21{i:03d}" for i in range(12)], sectors),
        "previous": rng.poisson(level),
        "people": rng.poisson(level),
    })


def test_a_tenth_of_sectors_not_walked_is_extrapolated_within_ten_percent():
    errors, covered = [], 0
    for seed in range(500, 520):
        territory = _territory(seed)
        truth = int(territory["people"].sum())
        rng = np.random.default_rng(seed + 1)
        night = territory.assign(
            status=np.where(rng.random(len(territory)) < 0.1, "not_started", "walked"),
            density_class=density_classes(territory["previous"]),
        )
        night.loc[night["status"] != "walked", "people"] = 0
        result = extrapolate_count(night, replicates=300, seed=seed)
        assert result.counted == int(night["people"].sum()) < truth
        assert result.by_commune["estimate"].sum() == pytest.approx(result.estimate, abs=12)
        errors.append(abs(result.estimate - truth) / truth)
        covered += result.interval_95[0] <= truth <= result.interval_95[1]
    assert np.mean(errors) < 0.05
    assert sum(e <= 0.10 for e in errors) >= 19  # of 20 territories
    assert covered >= 17  # of 20, for a 95 % interval


def test_partly_walked_sector_keeps_its_count_and_all_walked_adds_nothing():
    frame = pd.DataFrame({"commune_code": ["21231"] * 5, "people": [2, 2, 2, 2, 9],
                          "status": ["walked"] * 4 + ["in_progress"]})
    result = extrapolate_count(frame, replicates=50)
    assert result.estimate == 17  # the sector in progress counted 9, above the mean of 2
    frame["status"] = "walked"
    result = extrapolate_count(frame, replicates=50)
    assert result.estimate == result.counted == 17 and result.interval_95 == (17, 17)


def test_thin_strata_are_pooled_and_the_others_keep_their_model():
    population = simulate_captures(CatchabilityScenario(people=3000, seed=5))
    seen = seen_records(population)
    seen["group"] = np.where(seen["person_id"] < 1500, "a", "b")
    seen.loc[seen["person_id"] < 30, "group"] = "x"  # too few overlaps for a model
    seen.loc[seen["person_id"].between(30, 59), "group"] = "y"
    readings, _, strata = linkage_readings(seen, sources=SOURCES, stratum="group", draws=0)
    assert strata == ("group",)
    assert len(readings[0]) == 3  # a, b and the pooled x and y
    assert sum(t.observed for t in readings[0]) == seen["person_id"].nunique()


def test_expected_people_split_a_person_on_average_as_the_linkage_expects():
    links = pd.DataFrame({"person_id": ["p"] * 5 + ["q"] * 2 + ["r"],
                          "source": ["nuit", "si_siao", "appels_115", "maraude", "nuit",
                                     "nuit", "si_siao", "maraude"],
                          "expected_people": [3.0] * 5 + [1.0] * 2 + [0.25]})
    readings, _, _ = linkage_readings(links, draws=400, seed=3)
    observed = [sum(t.observed for t in r) for r in readings[1:]]
    assert readings[0][0].observed == 3
    # p splits into 3 on average, q stays whole, r (a likely fragment) stays a quarter of
    # the time.
    assert np.mean(observed) == pytest.approx(3.0 + 1 + 0.25, abs=0.15)


def _two_groups_links(seed: int) -> pd.DataFrame:
    """Two groups of people seen independently within each group, but by different sources:
    group "a" (400 people) mostly by the night and SI-SIAO, group "b" (600 people) mostly by
    the others. Pooled, the groups make the sources look dependent in a way no pairwise
    model nor heterogeneity column fits; one model per group is exact."""
    rng = np.random.default_rng(seed)
    catch = {"a": (400, [0.6, 0.6, 0.05, 0.05, 0.05]), "b": (600, [0.05, 0.05, 0.5, 0.5, 0.5])}
    frames = []
    for group, (people, probability) in catch.items():
        person, source = np.nonzero(rng.random((people, len(SOURCES))) < np.array(probability))
        frames.append(pd.DataFrame({"person_id": [f"{group}{p}" for p in person],
                                    "source": np.array(SOURCES)[source], "group": group}))
    return pd.concat(frames, ignore_index=True)


def test_stratified_interval_covers_the_truth_where_pooling_is_biased():
    truth, covered, errors, widths = 1000, 0, [], []
    for seed in range(6):
        estimate = estimate_from_links(_two_groups_links(seed), sources=SOURCES,
                                       stratum="group", draws=0, replicates=30, seed=seed,
                                       sensitivity=False)
        assert estimate.strata == ("group",)
        low, high = estimate.interval_95
        covered += low <= truth <= high
        errors.append((estimate.estimate - truth) / truth)
        widths.append((high - low) / truth)
    # Pooled, the same draws give estimates 6-11 % high with intervals 24-41 % wide.
    assert covered >= 5
    assert abs(np.mean(errors)) < 0.04
    assert np.mean(widths) < 0.15
