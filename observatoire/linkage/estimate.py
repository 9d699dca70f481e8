"""How many distinct people a clustering stands for, with a 90 % interval from draws.

Kept apart from `observatoire.linkage.cluster` (which builds the persons) so that the
estimate can change without touching the clustering.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from observatoire.linkage.cluster import confidence, satellite_shares

Z_90 = 1.6448536269514722  # two-sided 90 %: 5 % on each side

# The pair probabilities are not calibrated where the clustering has already decided: a
# link between two persons that the clustering kept apart (an identifier contradicts, a
# stronger link won) is rarely a match whatever its probability (5 % true for a mean
# probability of 0.49 on the project's sample), and a record's best link inside its person
# is less sure than it says. The factors below multiply the odds of each kind of decision;
# they are chosen on the project's generator with seeds 0-4 only
# (`python benchmarks/bench_estimate.py --tune`) and reported on seeds 100+ and on
# populations the generator never made (benchmarks/README.md).


@dataclass(frozen=True)
class Calibration:
    # `python benchmarks/bench_estimate.py --tune` on 2026-12-03 (seeds 0-4 at 1,000
    # people and at the default ~1,800; clustering of branch link-cluster): merge 0.0533,
    # keep 1.0313, known 10.95 (records without a full name that match nobody clearly are
    # far more often somebody known than their pair odds say), model error 0.0854 (errors
    # from -12.8 % to +11.6 %: the larger territory comes out lower).
    merge_odds: float = 0.0533  # two persons joined by an uncertain link are one
    keep_odds: float = 1.0313  # a record loosely attached to its person belongs to it
    known_odds: float = 10.95  # a group of satellites is somebody known (1 - "new")
    model_error: float = 0.0854
    """Relative standard error of the estimate that the draws do not explain (the spread of
    the estimate's error over the tuning seeds), added in quadrature to the interval."""


CALIBRATION = Calibration()


def _scaled(p: np.ndarray, odds: float) -> np.ndarray:
    """``p`` with its odds multiplied by ``odds`` (certain values stay certain)."""
    if odds == 1.0:
        return p
    p = np.clip(p, 0.0, 1.0)
    return odds * p / np.maximum(odds * p + (1.0 - p), 1e-300)


DRAWS = 200
MAX_DRAWN = 20_000_000  # decisions drawn over all draws at once: fewer draws beyond


@dataclass(frozen=True)
class PeopleEstimate:
    """How many distinct people, with a 90 % interval (`estimate_people`)."""

    people: int  # the estimate: mean of the draws, rounded
    low: int  # 90 % interval
    high: int
    records: int
    clusters: int = 0  # persons in the clustering (satellites left alone count one each)
    expected: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Per cluster label, the people it is expected to be (1 for a person with a full name,
    a group of satellites its chance of being somebody new)."""
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
        q05, q95 = np.quantile(self.draws, [0.05, 0.95])
        down = np.hypot((self.people - q05) * np.sqrt(left), self.systematic)
        up = np.hypot((q95 - self.people) * np.sqrt(left), self.systematic)
        return (int(max(np.floor(self.people - down), 1 if self.people else 0)),
                int(np.ceil(self.people + up)))


@dataclass(frozen=True)
class Uncertainty:
    """The uncertain decisions the draws make, each with its probability.

    ``merge_pairs`` (indices into the candidate pairs): the best pair between two persons
    that an uncertain link could join, merged with probability ``merge_p``; ``split_pairs``:
    the best link inside its person of a record whose attachment is uncertain, kept with
    probability ``split_p``; ``new_pairs``: for a group of satellites that joined nobody, its
    best pair to a known person (-1 when it has none), the group being somebody new with
    probability ``new_p``. Each decision's variance ``p (1 - p)`` is what answering it
    removes from the estimate's.
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


def _correct_unchecked(
    group_new: np.ndarray,
    anchored: np.ndarray,
    labels: np.ndarray,
    name_checked: np.ndarray,
    source: np.ndarray,
    min_checked_groups: int,
) -> None:
    """Groups whose names are all unchecked take their source's mean "new" (in place)."""
    clusters = len(group_new)
    checked = np.zeros(clusters, dtype=bool)
    checked[labels[name_checked == 1]] = True
    unchecked = np.zeros(clusters, dtype=bool)
    unchecked[labels[name_checked == 0]] = True
    unchecked &= ~checked & ~anchored
    checked &= ~anchored
    group_source = np.full(clusters, -1, dtype=np.int64)
    group_source[labels[::-1]] = np.asarray(source)[::-1]  # its first record's source
    for value in np.unique(group_source[unchecked]):
        reference = checked & (group_source == value)
        if reference.sum() < min_checked_groups:
            continue
        mine = unchecked & (group_source == value)
        group_new[mine] = np.minimum(group_new[mine], group_new[reference].mean())


def _best_pair_per(
    key: np.ndarray, pairs: np.ndarray, probability: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct ``key`` (ascending), the pair (of ``pairs``) of highest probability."""
    order = np.lexsort((-probability[pairs], key))
    key, pairs = key[order], pairs[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key[:0]
    return key[first], pairs[first]


def _merge_reductions(
    clusters: int, a: np.ndarray, b: np.ndarray, p: np.ndarray, present: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Per draw, how many persons the uncertain links ``(a, b)`` (persons, probability
    ``p``) join: the draws' merges, all at once on one graph of ``draws`` copies of the
    persons they touch (``present``: draws x persons, whether the person counts)."""
    draws = present.shape[0]
    if not len(a):
        return np.zeros(draws)
    touched, local = np.unique(np.concatenate([a, b]), return_inverse=True)
    la, lb = local[: len(a)], local[len(a):]
    t = len(touched)
    on = rng.random((draws, len(a))) < p
    on &= present[:, touched[la]] & present[:, touched[lb]]
    d, e = np.nonzero(on)
    graph = coo_matrix((np.ones(len(d), dtype=np.int8), (d * t + la[e], d * t + lb[e])),
                       shape=(draws * t, draws * t))
    _, component = connected_components(graph, directed=False)
    # Per draw: its persons minus its components (a person alone is its own component).
    comps = np.array([len(np.unique(component[k * t:(k + 1) * t])) for k in range(draws)])
    return t - comps


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
    min_checked_groups: int = 20,
    best_in: np.ndarray | None = None,
    *,
    draws: int = DRAWS,
    seed: int = 2026,
    calibration: Calibration = CALIBRATION,
) -> PeopleEstimate:
    """Distinct people with a 90 % interval, from draws of the uncertain decisions.

    Each draw decides, independently and with the model's probabilities:

    - each group of satellites that joined no person (a first name met by a maraude, a
      sighting on the count night, resembling nobody clearly) is somebody new, with the
      chance that it matches no known person (`satellite_shares`: the weakest "new" of its
      records; see `_correct_unchecked` for names no anchor carries);
    - each record whose best link inside its person falls in ``band`` belongs to it, with
      that link's probability (else it is a person of its own);
    - each pair of persons with an anchor joined by a link in ``band`` (their best one) is
      one person, with its probability (all the draws' merges are one graph:
      `_merge_reductions`).

    Each kind of probability has its odds scaled by ``calibration`` first (`Calibration`).

    Persons with an anchor record and certain links count one in every draw. The estimate
    is the mean of the draws; the interval their 5th and 95th percentiles, each half-width
    widened in quadrature by ``calibration.model_error`` times the estimate (what the model
    gets wrong systematically, measured on synthetic populations with the truth).
    ``best_in``: each record's best link inside its person, when `confidence` has already
    computed it.
    """
    n = len(labels)
    clusters = int(labels.max(initial=-1) + 1)
    pair_index = np.arange(len(i))
    weights = np.ones(clusters)
    anchored = np.ones(clusters, dtype=bool)
    new_pairs = np.empty(0, np.int64)
    if anchor is not None and clusters:
        anchored = np.zeros(clusters, dtype=bool)
        anchored[labels[anchor]] = True
        person_of = np.where(anchored[labels], labels, -1)
        shares = satellite_shares(person_of, anchor, i, j, probability, cannot_link)
        new = np.ones(n)
        s_new = shares["new"].to_numpy()
        s_new = 1.0 - _scaled(1.0 - s_new, calibration.known_odds)
        new[shares["s"].to_numpy()] = s_new  # one value per satellite
        group_new = np.ones(clusters)
        np.minimum.at(group_new, labels, new)
        if name_checked is not None and source is not None:
            _correct_unchecked(group_new, anchored, labels, name_checked, source,
                               min_checked_groups)
        weights = np.where(anchored, 1.0, group_new)
    # Groups of satellites: their best pair to a known person is the one to review.
    doubtful = np.flatnonzero(~anchored & (weights < 1.0))
    if len(doubtful):
        to_known = anchored[labels[i]] != anchored[labels[j]]
        group = np.where(anchored[labels[i]], labels[j], labels[i])[to_known]
        keys, best = _best_pair_per(group, pair_index[to_known], probability)
        new_pairs = np.full(clusters, -1, dtype=np.int64)
        new_pairs[keys] = best
        new_pairs = new_pairs[doubtful]
    if best_in is None:
        _, best_in = confidence(labels, i, j, probability)
    # Records whose attachment is uncertain, with their best link inside.
    loose = np.flatnonzero((best_in >= band[0]) & (best_in < band[1]))
    inside = labels[i] == labels[j]
    split_pairs = np.full(len(loose), -1, dtype=np.int64)
    if len(loose) and inside.any():
        ends = np.concatenate([i[inside], j[inside]])
        both = np.concatenate([pair_index[inside], pair_index[inside]])
        keys, best = _best_pair_per(ends, both, probability)
        at = np.searchsorted(keys, loose)
        found = (at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] == loose)
        split_pairs[found] = best[at[found]]
    # Pairs of persons an uncertain link could join: their most probable link.
    # Between persons with an anchor only: a group of satellites joining a person is its
    # chance of not being new, drawn above (drawing it again would join it to several).
    across = (probability >= band[0]) & (probability < band[1]) & ~inside
    across &= anchored[labels[i]] & anchored[labels[j]]
    la, lb = np.minimum(labels[i], labels[j])[across], np.maximum(labels[i], labels[j])[across]
    keys, merge_pairs = _best_pair_per(la * max(clusters, 1) + lb, pair_index[across],
                                       probability)  # fmt: skip
    sources = Uncertainty(merge_pairs, _scaled(probability[merge_pairs], calibration.merge_odds),
                          split_pairs, _scaled(best_in[loose], calibration.keep_odds),
                          new_pairs, weights[doubtful])

    rng = np.random.default_rng(seed)
    # Fewer draws where millions of records leave many decisions (memory: draws x them).
    decisions = len(merge_pairs) + len(loose) + len(doubtful)
    draws = int(max(20, min(draws, MAX_DRAWN // max(decisions, 1))))
    present = np.ones((draws, clusters), dtype=bool)
    if len(doubtful):
        present[:, doubtful] = (rng.random((draws, len(doubtful)), dtype=np.float32)
                                < weights[doubtful])  # fmt: skip
    total = present.sum(axis=1).astype(float)
    total += (rng.random((draws, len(loose)), dtype=np.float32)
              >= sources.split_p).sum(axis=1)  # fmt: skip
    total -= _merge_reductions(clusters, keys // max(clusters, 1), keys % max(clusters, 1),
                               sources.merge_p, present, rng)  # fmt: skip
    people = int(round(float(total.mean()))) if clusters else 0
    q05, q95 = np.quantile(total, [0.05, 0.95]) if clusters else (0.0, 0.0)
    systematic = Z_90 * calibration.model_error * people
    low = people - np.hypot(people - q05, systematic)
    high = people + np.hypot(q95 - people, systematic)
    return PeopleEstimate(
        people, int(max(np.floor(low), 1 if people else 0)), int(np.ceil(high)), n, clusters,
        weights, total, sources, float(systematic),
    )  # fmt: skip
