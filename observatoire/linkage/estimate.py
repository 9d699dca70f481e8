"""How many distinct people a clustering stands for, with a 90 % interval.

Kept apart from `observatoire.linkage.cluster` (which builds the persons) so that the
estimate can change without touching the clustering.

The clustering makes three kinds of errors that change the count, and the estimate corrects
each by a calibrated probability per unit (not per pair: a person with forty namesakes
has forty weak candidates, but it is at most one other person):

- a person built on full names may be a fragment of a person already counted (the
  clustering split one man in two): ``1 - P(duplicate)``;
- a group of records without a full name (a first name met by a maraude, a count-night
  sighting) that joined no person may be somebody no person counts: ``P(new)``;
- a record inside a person may be somebody else whom no person counts (the clustering
  merged two people): ``P(stray)``.

Each probability is a logistic model of a few features the linkage computes (the odds of
the unit's candidates summed and at their best, how many there are, the sizes), fitted on
synthetic populations whose truth is known (`Calibration`, chosen by
``python benchmarks/bench_estimate.py --tune`` on tuning seeds only). The pair
probabilities of the Fellegi-Sunter model are not used as they are: between persons the
clustering kept apart they are far from calibrated (a mean of 0.5 for 2 % true matches on
the stress populations), and the sum of a unit's candidates' probabilities grows with the
number of namesakes; the features keep the unit's number of candidates apart so that the
model can learn what the sum means at each namesake density.

The estimate is the sum of the units' probabilities (the sum of ``expected_people`` over the
persons); the 90 % interval combines the spread of the units' independent draws with the
model's own error measured on held-out tuning populations (`Calibration.model_error`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from observatoire.linkage.cluster import satellite_shares

Z_90 = 1.6448536269514722  # two-sided 90 %: 5 % on each side
MAX_ODDS = 1e6  # odds of certain pairs (1e12 in the clustering), capped for the features
# Candidates under this probability are left out of the features: how many weak pairs a
# unit has depends on the blocking (``max_block`` 100 or 1000), not on the people, and
# sorting every candidate pair of a million records costs gigabytes.
MIN_CANDIDATE = 0.2


@dataclass(frozen=True)
class UnitModel:
    """``P = 1 / (1 + exp(-(intercept + coef · features)))``."""

    intercept: float
    coef: tuple[float, ...]

    def probability(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        z = self.intercept + features @ np.asarray(self.coef, dtype=float)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


# Each model also reads the data set's records per person built on full names (its last
# feature): how many records a person leaves differs between territories and sources, and
# with it how likely a fragment or a lone sighting is somebody already counted.
PERSON_FEATURES = ("log1p sum odds", "log1p max odds", "log1p candidates", "log records",
                   "log records per person")
GROUP_FEATURES = ("log1p sum odds", "log1p candidates", "log records", "name checked",
                  "no name", "log1p sum odds to groups", "log1p group candidates",
                  "log records per person")
RECORD_FEATURES = ("logit best inside", "log1p best odds outside", "log records",
                   "full name", "log records per person")


@dataclass(frozen=True)
class Calibration:
    # `python benchmarks/bench_estimate.py --tune --generator namesakes@2000 sparse@2000
    # clean@2000 namesakes@20000@0 clean@20000@0 sample@none` on 2026-12-03 (tuning seeds
    # 0-4 only, 22 populations, clustering and prior of branch link-cluster at 32eb29e,
    # default LinkageSettings). Errors on the tuning populations -4.6 % to +6.6 %; each
    # (generator, size) predicted by the models fitted without it: -11.2 % to +7.5 %:
    # model error 0.0525, the root mean square of those held-out errors.
    duplicate: UnitModel = UnitModel(-3.0004, (1.667, -1.2303, -0.0167, -2.8758, 0.6884))
    new: UnitModel = UnitModel(-1.0997, (-0.3384, 0.0386, 1.0841, 0.4759, 0.5632, -0.1299,
                                         -0.0048, -0.4415))
    stray: UnitModel = UnitModel(-0.5219, (-0.6395, -0.0304, -0.1637, 0.1996, -0.8573))
    model_error: float = 0.0525
    """Relative standard error of the estimate that the draws do not explain (the root mean
    square of the held-out errors above), added in quadrature to the interval."""


CALIBRATION = Calibration()

DRAWS = 200
DRAWN_CHUNK = 100_000  # units drawn at once (memory: draws x them)


@dataclass(frozen=True)
class PeopleEstimate:
    """How many distinct people, with a 90 % interval (`estimate_people`)."""

    people: int  # the estimate: sum of the units' probabilities, rounded
    low: int  # 90 % interval
    high: int
    records: int
    clusters: int = 0  # persons in the clustering (satellites left alone count one each)
    expected: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Per cluster label, the people it is expected to be: its chance of being nobody
    already counted, plus its records' chances of being somebody nobody counts; they sum
    to the estimate."""
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)
    """People in each draw (`estimate_people`)."""
    sources: Uncertainty | None = field(default=None, compare=False, repr=False)
    """Where the draws' uncertainty comes from, to rank the pairs to review."""
    systematic: float = 0.0
    """The half-width the model error adds (`Calibration.model_error`), in people."""

    @property
    def interval_90(self) -> tuple[int, int]:
        return self.low, self.high

    def interval_after_review(self, removed_variance: float) -> tuple[int, int]:
        """The 90 % interval once pairs removing ``removed_variance`` of the draws'
        variance are answered (`Uncertainty.pair_variance`): the draws' part shrinks, the
        model error stays."""
        if self.draws is None or self.sources is None or not len(self.draws):
            return self.low, self.high
        total = self.sources.variance()
        left = 1.0 if total <= 0 else max(0.0, 1.0 - removed_variance / total)
        return _interval(self.people, self.draws, self.systematic, left)


def _interval(people: int, draws: np.ndarray, systematic: float,
              left: float = 1.0) -> tuple[int, int]:  # fmt: skip
    """The draws' 5th-95th percentiles around their mean, each side scaled by
    ``sqrt(left)`` and widened in quadrature by ``systematic``; never under 1 person."""
    if not len(draws):
        return people, people
    mean = float(draws.mean())
    q05, q95 = np.quantile(draws, [0.05, 0.95])
    down = np.hypot((mean - q05) * np.sqrt(left), systematic)
    up = np.hypot((q95 - mean) * np.sqrt(left), systematic)
    return (int(max(np.floor(people - down), 1 if people else 0)),
            int(np.ceil(people + up)))


@dataclass(frozen=True)
class Uncertainty:
    """The uncertain decisions of the estimate, each with its probability.

    ``merge_pairs`` (indices into the candidate pairs): per person built on full names, its
    best link to another such person (-1 when none), the person being a duplicate with
    probability ``merge_p``; ``split_pairs``: per record of a person of several, its best
    link inside (-1 when none), the record being somebody nobody counts with probability
    ``split_p``; ``new_pairs``: per group of satellites, its best pair to a known person
    (-1 when it has none), the group being somebody new with probability ``new_p``. Each
    decision's variance ``p (1 - p)`` is what answering it removes from the estimate's.
    """

    merge_pairs: np.ndarray
    merge_p: np.ndarray
    split_pairs: np.ndarray
    split_p: np.ndarray
    new_pairs: np.ndarray
    new_p: np.ndarray

    def pair_variance(self, pairs: int) -> np.ndarray:
        """Per candidate pair, the variance of the count its answer would remove."""
        out = np.zeros(pairs)
        for index, p in ((self.merge_pairs, self.merge_p), (self.split_pairs, self.split_p),
                         (self.new_pairs, self.new_p)):
            known = index >= 0
            np.add.at(out, index[known], (p * (1 - p))[known])
        return out

    def variance(self) -> float:
        return float(sum((p * (1 - p)).sum() for p in (self.merge_p, self.split_p,
                                                          self.new_p)))


def _odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    return np.minimum(p / np.maximum(1.0 - p, 1e-300), MAX_ODDS)


def _best_pair_per(
    key: np.ndarray, pairs: np.ndarray, probability: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct ``key`` (ascending), the pair (of ``pairs``) of highest probability."""
    order = np.lexsort((-probability[pairs], key))
    key, pairs = key[order], pairs[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key[:0]
    return key[first], pairs[first]


@dataclass(frozen=True)
class Units:
    """The units whose probabilities make the estimate, with their features
    (`unit_features`; the same for `estimate_people` and the tuning)."""

    persons: np.ndarray  # cluster labels of the persons built on full names
    person_x: np.ndarray  # PERSON_FEATURES
    person_pair: np.ndarray  # best link to another such person (-1: none)
    groups: np.ndarray  # cluster labels of the groups of satellites
    group_x: np.ndarray  # GROUP_FEATURES
    group_pair: np.ndarray  # best pair to a known person (-1: none)
    records: np.ndarray  # records of clusters of two records or more
    record_x: np.ndarray  # RECORD_FEATURES
    record_pair: np.ndarray  # best link inside its cluster (-1: none)


def unit_features(
    labels: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    probability: np.ndarray,
    anchor: np.ndarray | None = None,
    cannot_link: tuple[np.ndarray, np.ndarray] | None = None,
    name_checked: np.ndarray | None = None,
) -> Units:
    """Per unit of the estimate (module docstring), its features and its pair to review."""
    n = len(labels)
    clusters = int(labels.max(initial=-1) + 1)
    anchor = np.ones(n, dtype=bool) if anchor is None else np.asarray(anchor, dtype=bool)
    pair_index = np.arange(len(i))
    size = np.bincount(labels, minlength=clusters).astype(float)
    anchored = np.zeros(clusters, dtype=bool)
    anchored[labels[anchor]] = True
    li, lj = labels[i], labels[j]
    inside = li == lj

    # Persons built on full names: their links to the other such persons.
    persons = np.flatnonzero(anchored)
    strong = probability >= MIN_CANDIDATE
    across = ~inside & strong & anchored[li] & anchored[lj]
    lo, hi = np.minimum(li, lj)[across], np.maximum(li, lj)[across]
    keys, best = _best_pair_per(lo.astype(np.int64) * max(clusters, 1) + hi,
                                pair_index[across], probability)
    a, b = keys // max(clusters, 1), keys % max(clusters, 1)
    odds = _odds(probability[best])
    total = np.bincount(a, odds, clusters) + np.bincount(b, odds, clusters)
    top = np.zeros(clusters)
    np.maximum.at(top, a, odds)
    np.maximum.at(top, b, odds)
    count = (np.bincount(a, odds >= 0.25, clusters) + np.bincount(b, odds >= 0.25, clusters))
    person_pair = np.full(clusters, -1, dtype=np.int64)
    ends = np.concatenate([a, b])
    k, pick = _best_pair_per(ends, np.concatenate([best, best]), probability)
    person_pair[k] = pick
    density = np.log(n / max(len(persons), 1)) if n else 0.0
    person_x = np.column_stack([np.log1p(total), np.log1p(top), np.log1p(count),
                                np.log(size), np.full(clusters, density)])[persons]

    # Groups of satellites: their candidates among the known persons (`satellite_shares`).
    groups = np.flatnonzero(~anchored)
    g_total = np.zeros(clusters)
    g_count = np.zeros(clusters)
    if len(groups):
        person_of = np.where(anchored[labels], labels, -1)
        shares = satellite_shares(person_of, anchor, i[strong], j[strong],
                                  probability[strong], cannot_link)
        s = shares["s"].to_numpy()
        s_odds = np.minimum(shares["odds"].to_numpy(), MAX_ODDS)
        rec_total = np.bincount(s, s_odds, n)
        rec_count = np.bincount(s, minlength=n).astype(float)
        np.maximum.at(g_total, labels, rec_total)
        np.maximum.at(g_count, labels, rec_count)
    checked = np.zeros(clusters)
    no_name = np.ones(clusters)
    if name_checked is not None:
        np.maximum.at(checked, labels, (name_checked == 1).astype(float))
        np.minimum.at(no_name, labels, (name_checked < 0).astype(float))
    # ... and among the other groups of satellites (one man met three times by a maraude,
    # never joined: three groups, one person).
    among = ~inside & strong & ~anchored[li] & ~anchored[lj]
    lo, hi = np.minimum(li, lj)[among], np.maximum(li, lj)[among]
    keys, best = _best_pair_per(lo.astype(np.int64) * max(clusters, 1) + hi,
                                pair_index[among], probability)
    a, b = keys // max(clusters, 1), keys % max(clusters, 1)
    odds = _odds(probability[best])
    s_total = np.bincount(a, odds, clusters) + np.bincount(b, odds, clusters)
    s_count = np.bincount(a, odds >= 0.25, clusters) + np.bincount(b, odds >= 0.25, clusters)
    group_x = np.column_stack([np.log1p(g_total), np.log1p(g_count), np.log(size),
                               checked, no_name, np.log1p(s_total),
                               np.log1p(s_count), np.full(clusters, density)])[groups]
    to_known = (anchored[li] != anchored[lj]) & strong
    group_pair = np.full(clusters, -1, dtype=np.int64)
    if to_known.any():
        k, pick = _best_pair_per(np.where(anchored[li], lj, li)[to_known],
                                 pair_index[to_known], probability)
        group_pair[k] = pick

    # Records of clusters of several: their best link inside and outside.
    records = np.flatnonzero(size[labels] > 1)
    best_in = np.zeros(n)
    best_out = np.zeros(n)
    record_pair = np.full(n, -1, dtype=np.int64)
    if inside.any():
        np.maximum.at(best_in, i[inside], probability[inside])
        np.maximum.at(best_in, j[inside], probability[inside])
        k, pick = _best_pair_per(np.concatenate([i[inside], j[inside]]),
                                 np.concatenate([pair_index[inside]] * 2), probability)
        record_pair[k] = pick
    outside = ~inside & strong
    if outside.any():
        np.maximum.at(best_out, i[outside], probability[outside])
        np.maximum.at(best_out, j[outside], probability[outside])
    # Reviewed matches carry a probability of 2.
    q = np.clip(best_in, 1e-6, 1 - 1e-6)
    record_x = np.column_stack([np.log(q / (1 - q)), np.log1p(_odds(best_out)),
                                np.log(size[labels]), anchor.astype(float),
                                np.full(n, density)])[records]
    return Units(persons, person_x, person_pair[persons], groups, group_x,
                 group_pair[groups], records, record_x, record_pair[records])


def estimate_people(
    labels: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    probability: np.ndarray,
    band: tuple[float, float] = (0.2, 0.8),
    anchor: np.ndarray | None = None,
    cannot_link: tuple[np.ndarray, np.ndarray] | None = None,
    name_checked: np.ndarray | None = None,
    source: np.ndarray | None = None,
    best_in: np.ndarray | None = None,
    *,
    draws: int = DRAWS,
    seed: int = 2026,
    calibration: Calibration = CALIBRATION,
) -> PeopleEstimate:
    """Distinct people with a 90 % interval (module docstring).

    ``labels``: the clustering (one label per record); ``(i, j, probability)``: the
    candidate pairs; ``anchor``: the records with a full name (the others are satellites);
    ``cannot_link``: reviewed non-matches; ``name_checked``: per record, 1 when a
    candidate with a full name carries one of its names, 0 when none does, -1 without a
    name (`engine._name_checked`). ``band``, ``source`` and ``best_in`` are accepted for
    callers of the earlier estimate and unused.

    The estimate is the sum of the units' probabilities; each draw decides every unit
    independently with its probability; the interval is the draws' 5th and 95th
    percentiles, each half-width widened in quadrature by ``calibration.model_error`` times
    the estimate (what the model gets wrong systematically, measured on held-out
    synthetic populations with the truth).
    """
    del band, source, best_in
    n = len(labels)
    clusters = int(labels.max(initial=-1) + 1)
    units = unit_features(labels, i, j, probability, anchor, cannot_link, name_checked)
    duplicate = calibration.duplicate.probability(units.person_x)
    new = calibration.new.probability(units.group_x)
    stray = calibration.stray.probability(units.record_x)
    # Reviewed decisions are certain: a pair of probability 0 or 2 decides nothing here.
    expected = np.zeros(clusters)
    expected[units.persons] = 1.0 - duplicate
    expected[units.groups] = new
    np.add.at(expected, labels[units.records], stray)
    people = int(round(float(expected.sum()))) if clusters else 0

    sources = Uncertainty(units.person_pair, duplicate, units.record_pair, stray,
                          units.group_pair, new)
    rng = np.random.default_rng(seed)
    total = np.zeros(draws if clusters else 0)
    if clusters:
        total += len(units.persons)
        for sign, p in ((-1.0, duplicate), (1.0, new), (1.0, stray)):
            for start in range(0, len(p), DRAWN_CHUNK):
                chunk = p[start:start + DRAWN_CHUNK].astype(np.float32)
                total += sign * (rng.random((draws, len(chunk)), dtype=np.float32)
                                 < chunk).sum(axis=1)  # fmt: skip
    systematic = Z_90 * calibration.model_error * people
    low, high = _interval(people, total, systematic)
    return PeopleEstimate(people, low, high, n, clusters, expected, total, sources,
                          float(systematic))
