"""Linkage at a million records: the chunked steps give the answers of the plain ones, with
a bounded peak, and a split block keeps the candidates of records born "about" a year.

Populations are fictitious: the project's generator (`build_sample_records`, fixed seeds)
and hand-made namesakes.
"""

from __future__ import annotations

import tracemalloc
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from observatoire.linkage import cluster as cluster_module
from observatoire.linkage import compare as compare_module
from observatoire.linkage import engine as engine_module
from observatoire.linkage.blocking import candidate_pairs
from observatoire.linkage.cluster import (
    _contradicts_person,
    _greedy_merge,
    _merge_by_batches,
    code_clashes,
)
from observatoire.linkage.compare import identities
from observatoire.linkage.engine import LinkageSettings, link
from observatoire.linkage.prepare import Features, prepare
from observatoire.linkage.records import validate_records
from observatoire.linkage.sample import build_sample_records


@lru_cache(maxsize=1)
def _population() -> pd.DataFrame:
    return build_sample_records(n_people=150, seed=11)


@lru_cache(maxsize=1)
def _features() -> Features:
    return prepare(validate_records(_population()))


def _all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, k=1)
    return i.astype(np.int64), j.astype(np.int64)


def test_clash_by_chunks_is_the_clash_of_all_pairs_at_once(monkeypatch) -> None:
    ids = identities(_features())
    i, j = _all_pairs(_features().n)
    whole = ids.clash(ids.code[i], ids.code[j])
    monkeypatch.setattr(compare_module, "CLASH_CHUNK", 997)
    assert len(i) > 100 * 997
    assert np.array_equal(ids.clash(ids.code[i], ids.code[j]), whole)
    assert whole.any() and not whole.all()


def test_clash_by_chunks_bounds_its_peak_memory(monkeypatch) -> None:
    ids = identities(_features())
    i, j = _all_pairs(_features().n)
    a, b = ids.code[i], ids.code[j]

    def peak() -> int:
        tracemalloc.start()
        try:
            ids.clash(a, b)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    monkeypatch.setattr(compare_module, "CLASH_CHUNK", len(a))
    at_once = peak()
    monkeypatch.setattr(compare_module, "CLASH_CHUNK", len(a) // 50)
    chunked = peak()
    # The answer (one byte per pair) stays; the temporaries shrink fiftyfold.
    assert chunked < at_once / 5


def test_contradictions_with_a_person_by_chunks_are_the_same(monkeypatch) -> None:
    f = _features()
    ids = identities(f)
    truth = pd.factorize(_population()["person_id"])[0]
    rng = np.random.default_rng(3)
    records = rng.integers(0, f.n, 5000)
    persons = truth[rng.integers(0, f.n, 5000)]
    whole = _contradicts_person(records, persons, truth, (ids.code, ids.clash))
    monkeypatch.setattr(cluster_module, "QUESTION_CHUNK", 7)
    chunked = _contradicts_person(records, persons, truth, (ids.code, ids.clash))
    assert np.array_equal(chunked, whole)
    monkeypatch.setattr(cluster_module, "ASKED_CHUNK", 13)  # records keyed by parts too
    chunked = _contradicts_person(records, persons, truth, (ids.code, ids.clash))
    assert np.array_equal(chunked, whole)
    assert whole.any() and not whole.all()


def _greedy_reference(n, ei, ej, ep, ni, nj, code, clash_with):
    """Groups merged greedily, each merge refused when a forbidden pair or two clashing
    codes would share a group (reviewed matches, p >= 2, excepted), all checked whole."""
    group = {r: {r} for r in range(n)}
    root = list(range(n))
    forbidden = set(zip(ni.tolist(), nj.tolist(), strict=True))
    forbidden |= {(b, a) for a, b in forbidden}
    for k in np.argsort(-ep, kind="stable"):
        ra, rb = root[ei[k]], root[ej[k]]
        if ra == rb or any((x, y) in forbidden for x in group[ra] for y in group[rb]):
            continue
        if ep[k] < 2 and any(code[y] in clash_with.get(code[x], ()) for x in group[ra]
                             for y in group[rb]):
            continue
        if len(group[ra]) < len(group[rb]):
            ra, rb = rb, ra
        for x in group[rb]:
            root[x] = ra
        group[ra] |= group.pop(rb)
    return np.asarray(root)


@pytest.mark.parametrize("seed", range(10))
def test_greedy_merge_never_joins_clashing_codes_and_matches_the_reference(seed) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    ei, ej = rng.integers(0, n, 120), rng.integers(0, n, 120)
    keep = ei != ej
    ei, ej = ei[keep], ej[keep]
    ep = rng.choice([0.6, 0.7, 0.9, 0.99, 2.0], len(ei), p=[0.3, 0.3, 0.2, 0.15, 0.05])
    ni, nj = rng.integers(0, n, 6), rng.integers(0, n, 6)
    code = rng.integers(-1, 8, n)
    clash_with: dict[int, set[int]] = {}
    for a, b in rng.integers(0, 8, (6, 2)).tolist():
        if a != b:
            clash_with.setdefault(a, set()).add(b)
            clash_with.setdefault(b, set()).add(a)
    got = _greedy_merge(n, ei, ej, ep, ni, nj, code, clash_with)
    assert np.array_equal(got, _greedy_reference(n, ei, ej, ep, ni, nj, code, clash_with))


@pytest.mark.parametrize("seed", range(5))
def test_greedy_merge_by_batches_of_components_is_the_merge_of_all_at_once(
    monkeypatch, seed
) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    labels = rng.integers(0, 30, n)  # thirty components; every pair inside one
    ei, ej = rng.integers(0, n, 3000), rng.integers(0, n, 3000)
    keep = (ei != ej) & (labels[ei] == labels[ej])
    ei, ej = ei[keep], ej[keep]
    ep = rng.choice([0.6, 0.7, 0.9, 0.99, 2.0], len(ei), p=[0.3, 0.3, 0.2, 0.15, 0.05])
    ni, nj = rng.integers(0, n, 600), rng.integers(0, n, 600)
    inside = labels[ni] == labels[nj]
    ni, nj = ni[inside], nj[inside]
    code = rng.integers(-1, 8, n)
    clash_with = {0: {1, 2}, 1: {0}, 2: {0}, 5: {6}, 6: {5}}
    members = np.flatnonzero(labels % 3 > 0)  # some components only
    flagged = (labels[ei] % 3 > 0)
    e_at, n_at = np.flatnonzero(flagged), np.flatnonzero(labels[ni] % 3 > 0)
    local = np.full(n, -1)
    local[members] = np.arange(len(members))
    whole = members[_greedy_merge(len(members), local[ei[e_at]], local[ej[e_at]], ep[e_at],
                                  local[ni[n_at]], local[nj[n_at]], code[members],
                                  clash_with)]
    monkeypatch.setattr(cluster_module, "MERGE_BATCH", 40)  # several components a batch
    got = _merge_by_batches(labels, members, ei[e_at], ej[e_at], ep[e_at], ni[n_at],
                            nj[n_at], code, clash_with)
    assert len(np.unique(labels[members])) > 5
    assert np.array_equal(got, whole)


def test_linking_by_small_chunks_gives_the_same_persons_and_estimate(monkeypatch) -> None:
    records = validate_records(_population())
    settings = LinkageSettings(max_block=30)  # split blocks too
    plain = link(records, settings)
    monkeypatch.setattr(compare_module, "CLASH_CHUNK", 101)
    monkeypatch.setattr(cluster_module, "QUESTION_CHUNK", 5)
    monkeypatch.setattr(cluster_module, "ASKED_CHUNK", 11)
    monkeypatch.setattr(cluster_module, "MERGE_BATCH", 20)
    monkeypatch.setattr(engine_module, "SCORED_CHUNK", 17)
    monkeypatch.setattr(cluster_module, "RIVAL_CHUNK", 7)
    chunked = link(records, settings)
    pd.testing.assert_frame_equal(chunked.clusters, plain.clusters)
    assert np.array_equal(chunked.probability, plain.probability)
    assert chunked.estimate == plain.estimate
    assert chunked.peak_mb > 0


def test_satellites_rival_odds_by_ranges_are_the_sums_of_all_at_once(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    n, m = 300, 4000
    i, j = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = i != j
    i, j = np.minimum(i, j)[keep], np.maximum(i, j)[keep]
    odds = rng.exponential(2.0, len(i))
    group = rng.integers(0, 120, n)  # some satellites share a group: not rivals
    whole = np.zeros(n)
    cluster_module._add_rival_odds(whole, group, i, j, odds, n)
    monkeypatch.setattr(cluster_module, "RIVAL_CHUNK", 37)  # about 200 ranges
    chunked = np.zeros(n)
    cluster_module._add_rival_odds(chunked, group, i, j, odds, n)
    assert np.array_equal(chunked, whole)  # same sums in the same order: bit for bit
    # each satellite's total is its best link to every other group, summed
    s = 17
    best = {}
    for a, b, o in zip(np.r_[i, j], np.r_[j, i], np.r_[odds, odds], strict=True):
        if a == s and group[b] != group[s]:
            best[group[b]] = max(best.get(group[b], 0.0), o)
    assert whole[s] == pytest.approx(sum(best.values()))


def test_code_clashes_find_the_contradictions_a_person_holds() -> None:
    f = _features()
    ids = identities(f)
    truth = pd.factorize(_population()["person_id"])[0]
    merged = truth // 2  # two true people per label: some of them contradict
    lab, a, b = code_clashes(merged, (ids.code, ids.clash))
    assert len(lab) and ids.clash(a, b).all()


# --- blocks split by birth year keep the records that only give an age -------------------


def _record(record_id: str, source: str = "si_siao", **values: str) -> dict[str, str]:
    return {"record_id": record_id, "source": source, "first_name": "Mohamed",
            "last_name": "Diallo", **values}


def test_an_age_meets_the_namesakes_born_a_birth_year_cell_away() -> None:
    # 40 namesakes born 1950..1989, and a 115 caller who says he is 55 in January 2026
    # (born about 1970.5): blocks of 10 at most split the 41 records by birth year.
    rows = [_record(f"r{k}", birth_date=f"{1950 + k}-03-0{1 + k % 9}") for k in range(40)]
    rows.append(_record("aged", "appels_115", age="55",
                        observed_at="2026-01-15T10:00:00+01:00"))
    features = prepare(validate_records(pd.DataFrame(rows).fillna("")))
    i, j, report = candidate_pairs(features, max_block=10)
    pairs = {frozenset(p) for p in zip(features.record_id[i], features.record_id[j],
                                       strict=True)}
    # 1974 lies in no 4-year cell of either grid with 1970.5, within five years of it.
    assert {frozenset(("r20", "aged")), frozenset(("r24", "aged"))} <= pairs
    assert frozenset(("r0", "aged")) not in pairs and frozenset(("r39", "aged")) not in pairs
    assert report.skipped_blocks == 0


def test_a_record_without_any_year_meets_the_namesakes_of_its_place() -> None:
    communes = ("21231", "21166", "21617", "21054", "21473")
    rows = [_record(f"r{k}", birth_date=f"{1950 + k}-03-0{1 + k % 9}", sex="M",
                    commune_code=communes[k % 5]) for k in range(40)]
    rows.append(_record("yearless", "appels_115", sex="M", commune_code="21231"))
    features = prepare(validate_records(pd.DataFrame(rows).fillna("")))
    i, j, _ = candidate_pairs(features, max_block=10)
    partners = {b for a, b in zip(features.record_id[i], features.record_id[j], strict=True)
                if a == "yearless"} | {a for a, b in zip(features.record_id[i],
                                                          features.record_id[j], strict=True)
                                       if b == "yearless"}
    assert partners == {f"r{k}" for k in range(0, 40, 5)}


def test_a_block_too_big_even_split_is_paired_by_neighbourhood_not_skipped() -> None:
    # 40 maraude sightings of a "Mohamed" of about 55 in one commune, each at its own spot
    # 2 km from the next: blocks of 16 at most, and year and place cannot split them. The
    # first and the last are the same man, met at one bench eleven nights apart.
    rows = [_record(f"s{k}", "maraude", last_name="", sex="M", age="55",
                    commune_code="21231", observed_at=f"2026-01-{1 + k % 28:02d}T22:00:00+01:00",
                    latitude=f"{47.30 + 0.02 * k:.4f}", longitude="5.04") for k in range(40)]
    rows[-1]["latitude"] = "47.3001"
    features = prepare(validate_records(pd.DataFrame(rows).fillna("")))
    i, j, report = candidate_pairs(features, max_block=16)
    pairs = {frozenset(p) for p in zip(features.record_id[i], features.record_id[j],
                                       strict=True)}
    assert frozenset(("s0", "s39")) in pairs
    # Not every pair of the block: each sighting with a few neighbours (linear, not square).
    assert report.skipped_blocks > 0
    assert report.per_rule["first_name_commune"] <= 40 * (16 // 4) < 40 * 39 // 2
