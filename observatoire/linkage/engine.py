"""The linkage engine: block, compare, score, apply reviewers' decisions, cluster.

`link` is the one entry point for the command line, the pipeline and the benchmarks::

    records = read_records("records.csv")
    result = link(records)                      # or link(records, decisions=..., key=...)
    result.clusters                             # record_id, person_id, match_confidence...
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from observatoire.linkage import fellegi_sunter
from observatoire.linkage.blocking import BlockingReport, blocking_keys, candidate_pairs
from observatoire.linkage.cluster import cluster, confidence, satellite_shares
from observatoire.linkage.compare import (
    BIRTH_DATE_SESSION,
    COMPARISONS,
    NAMES_SESSION,
    Comparison,
    NameComparison,
    cannot_be_one,
    compare,
    comparisons_for,
    extra_columns,
    identities,
    training_sessions,
)
from observatoire.linkage.estimate import PeopleEstimate, estimate_people
from observatoire.linkage.prepare import Features, prepare
from observatoire.model import ObservatoireError, ReviewDecision

DECISIONS = tuple(ReviewDecision)  # the stored answers, in one vocabulary (model.py)
REVIEW_SHARE = 0.05  # pairs to review, at most, per record linked
DECISION_LABELS = {"match": "Même personne", "non_match": "Personnes différentes",
                   "unsure": "Je ne sais pas"}


@dataclass(frozen=True)
class LinkageSettings:
    """Everything that changes a linkage result; the same for the CLI and the pipeline."""

    threshold: float = 0.5  # match probability from which two records are one person
    review_band: tuple[float, float] = (0.2, 0.8)  # pairs sent to clerical review
    review_share: float = REVIEW_SHARE  # the review queue holds at most this share of records
    # Pairs under this are never in one person. 0.01 let namesakes chain into one person in
    # a population of 100,000 records; 0.3 also kept apart the spellings that the keyed
    # encodings score lower than clear text (stored encodings 0.018 F1 under clear text on
    # the sample, 0.004 at 0.1; at 100,000 records F1 0.653 at 0.3, 0.649 at 0.1).
    different_below: float = 0.1
    max_block: int = 1000  # larger blocks are split by birth year, then place (`refinements`)
    u_pairs: int = 300_000  # random pairs to estimate u
    link_only: bool = False  # only pairs from different sources (files free of duplicates)
    seed: int = 2026
    extras: Mapping[str, str] = field(default_factory=dict)  # column -> "exact" | "string"
    # The comparisons of the interchange columns; ``extras`` adds one per extra column
    # (`comparisons_for`). A comparison written elsewhere joins the run here.
    comparisons: tuple[Comparison, ...] = COMPARISONS
    extra_blocking: tuple[tuple[str, ...], ...] = ()
    min_reviewed: int = 20  # reviewed pairs (both answers present) before retraining
    # Train m and the prior with the u of candidate non-matches and on small blocks only
    # (`_candidate_u`, `_sessions`, `_satellite_prior`): on namesake-dense data the prior
    # of random-pair u is 8 (2,000 people) to 76 (20,000) times the true match rate.
    # False: the training of earlier versions (Splink's).
    candidate_u: bool = True


@dataclass
class LinkResult:
    clusters: pd.DataFrame  # record_id, person_id, match_confidence, person_confidence
    features: Features
    i: np.ndarray  # candidate pairs
    j: np.ndarray
    gamma: np.ndarray
    probability: np.ndarray  # after reviewers' decisions and retraining
    model: fellegi_sunter.FellegiSunter
    estimate: PeopleEstimate
    blocking: BlockingReport
    retrained: bool
    seconds: dict[str, float]
    # The process's peak resident memory (MB) when the linkage ended (`peak_mb`): the
    # linkage's own in a process that does nothing bigger before it, as the benchmark runs.
    peak_mb: float = float("nan")

    def pairs(self, low: float = 0.0, high: float = 1.0) -> pd.DataFrame:
        """Scored candidate pairs with ``low <= probability < high`` (record ids, levels)."""
        keep = (self.probability >= low) & (self.probability < high)
        ids = self.features.record_id
        frame = pd.DataFrame({
            "record_id_a": ids[self.i[keep]],
            "record_id_b": ids[self.j[keep]],
            "probability": self.probability[keep],
        })
        for k, c in enumerate(self.model.comparisons):
            frame[c.name] = self.gamma[keep, k]
        return frame

    def review_queue(
        self, band: tuple[float, float] | None = None, max_share: float = REVIEW_SHARE
    ) -> pd.DataFrame:
        """The pairs to review, those whose answer changes the count most first, at most
        ``max_share`` of the records (5 %: a queue a team can finish).

        One pair per uncertain decision of the estimate (`estimate_people`): the best link
        between two persons an uncertain link could join, a loosely attached record's best
        link inside its person, a group of satellites' best link to a known person. Its
        ``impact`` is the variance of the count that its answer removes (``p (1 - p)`` of
        the decision). ``band`` is the one the estimate used (kept for callers that pass
        it).
        """
        variance = self.estimate.sources.pair_variance(len(self.i))
        chosen = np.flatnonzero(variance > 0)
        chosen = chosen[np.argsort(-variance[chosen], kind="stable")]
        chosen = chosen[: review_limit(len(self.features.record_id), max_share)]
        ids = self.features.record_id
        frame = pd.DataFrame({
            "record_id_a": ids[self.i[chosen]],
            "record_id_b": ids[self.j[chosen]],
            "probability": self.probability[chosen],
            "impact": np.round(variance[chosen], 6),
        })
        for k, c in enumerate(self.model.comparisons):
            frame[c.name] = self.gamma[chosen, k]
        return frame


    def interval_after_review(self, queue: pd.DataFrame) -> tuple[int, int]:
        """The estimate's 90 % interval once ``queue`` (`review_queue`) is answered."""
        return self.estimate.interval_after_review(float(queue["impact"].sum()))


def peak_mb() -> float:
    """The peak resident memory of this process so far, in MB (NaN where the platform
    does not report it: no ``resource`` module on Windows)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kilobytes on Linux, bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def review_limit(records: int, max_share: float = REVIEW_SHARE) -> int:
    """How many pairs a review queue holds at most for ``records`` records."""
    if not 0 <= max_share <= 1:
        raise ObservatoireError(
            f"Part maximale de paires à revoir invalide : {max_share} (attendu entre 0 et 1, "
            "par exemple 0.05 pour 5 % des enregistrements)."
        )
    return int(np.floor(max_share * records))


def _random_pairs(f: Features, size: int, link_only: bool, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    size = int(min(size, f.n * (f.n - 1) // 2))
    i = rng.integers(0, f.n, size=size)
    j = rng.integers(0, f.n, size=size)
    keep = i != j
    if link_only:
        keep &= f.source[i] != f.source[j]
    return np.minimum(i, j)[keep], np.maximum(i, j)[keep]


def _decision_pairs(
    f: Features, decisions: pd.DataFrame | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {d: (np.empty(0, np.int64), np.empty(0, np.int64)) for d in DECISIONS}
    if decisions is None or decisions.empty:
        return out
    index = pd.Series(np.arange(f.n), index=pd.Index(f.record_id))
    a = index.reindex(decisions["record_id_a"].astype(str)).to_numpy()
    b = index.reindex(decisions["record_id_b"].astype(str)).to_numpy()
    # Decisions on records that are no longer in the input are kept but unused.
    known = ~np.isnan(a) & ~np.isnan(b) & (a != b)
    a, b = a[known].astype(np.int64), b[known].astype(np.int64)
    what = decisions["decision"].astype(str).to_numpy()[known]
    unknown = set(what) - set(DECISIONS)
    if unknown:
        raise ObservatoireError(
            f"Décision inconnue : {', '.join(sorted(unknown))}. "
            f"Valeurs possibles : {', '.join(DECISIONS)}."
        )
    for d in DECISIONS:
        sel = what == d
        out[d] = (np.minimum(a, b)[sel], np.maximum(a, b)[sel])
    return out


# Normal prior (logit scale) on the correction of each comparison vector when retraining on
# reviewed pairs (`_retrain`). Reviewed pairs are the uncertain band, a biased sample: a free
# logistic fit on them that replaced the model's score gave 7,314 persons for 5,081 without
# retraining on the sample (40 matches and 60 non-matches answered, pair F1 0.821 -> 0.701);
# one correction per comparison level with the model as offset still gave 4,636 (the five
# vectors answered moved every pair sharing a level with them).
RETRAIN_PRIOR_SD = 0.25
RETRAIN_BAND = (0.01, 0.99)  # pairs the correction applies to: the obvious ones keep theirs


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def fit_correction(
    x: np.ndarray, y: np.ndarray, offset: np.ndarray, prior_sd: float = RETRAIN_PRIOR_SD,
    max_iter: int = 50,
) -> np.ndarray:
    """Coefficients ``b`` of ``logit P(y) = offset + x @ b`` with a normal prior N(0,
    ``prior_sd``²) on each: the maximum of the penalised likelihood, by Newton's method
    (the objective is strictly concave)."""
    b = np.zeros(x.shape[1])
    precision = 1.0 / prior_sd**2
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(offset + x @ b, -60, 60)))
        gradient = x.T @ (y - p) - precision * b
        hessian = (x * (p * (1 - p))[:, None]).T @ x + precision * np.eye(len(b))
        step = np.linalg.solve(hessian, gradient)
        b += step
        if np.abs(step).max(initial=0.0) < 1e-8:
            break
    return b


def _rows_in(rows: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``rows``: whether it is a row of ``table`` (distinct rows), and which."""
    width = rows.shape[1]
    base = max(int(rows.max(initial=0)), int(table.max(initial=0))) + 2
    if width * np.log2(base) >= 62:  # too many comparisons for one integer code
        both, inverse = np.unique(np.vstack([table, rows]), axis=0, return_inverse=True)
        inverse = inverse.ravel()
        index = np.full(len(both), -1)
        index[inverse[: len(table)]] = np.arange(len(table))
        at = index[inverse[len(table):]]
        return at >= 0, np.maximum(at, 0)

    keys = fellegi_sunter.vector_codes(table, base)
    order = np.argsort(keys)
    wanted = fellegi_sunter.vector_codes(rows, base)
    pos = np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)
    return keys[order][pos] == wanted, order[pos]


def _retrain(
    model: fellegi_sunter.FellegiSunter,
    f: Features,
    labelled: tuple[np.ndarray, np.ndarray, np.ndarray],
    gamma: np.ndarray,
    probability: np.ndarray,
    min_reviewed: int,
    score: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, bool]:
    """Correct the uncertain band with reviewed pairs: the model's log-odds kept as an
    offset, one correction per comparison vector that reviewers answered, shrunk to 0
    (`RETRAIN_PRIOR_SD`). Reviewers can teach the model, for example, that a same first
    name and commune without a birth date is not enough in their territory; their sample
    (the pairs the model was unsure of) does not replace the model, and a vector nobody
    answered keeps its score.

    ``score(i, j, gamma)``: the model's probability of any pairs, as for the candidates.
    """
    li, lj, y = labelled
    if len(y) < min_reviewed or y.min() == y.max():
        return probability, False
    train = compare(f, li, lj, comparisons=model.comparisons)
    vectors, pattern = np.unique(train, axis=0, return_inverse=True)
    x = (pattern.ravel()[:, None] == np.arange(len(vectors))[None, :]).astype(float)
    correction = fit_correction(x, y.astype(float), _logit(score(li, lj, train)))
    band = np.flatnonzero((probability > RETRAIN_BAND[0]) & (probability < RETRAIN_BAND[1]))
    updated = probability.copy()
    found, at = _rows_in(gamma[band], vectors)
    band, at = band[found], at[found]
    eta = _logit(probability[band]) + correction[at]
    updated[band] = 1.0 / (1.0 + np.exp(-np.clip(eta, -60, 60)))
    return updated, True


# Training sessions keep the blocks of at most this many records sharing the names key
# (the birth date): pairs of a rarer key are matches often enough for the EM to find them.
TRAINING_BLOCK = 8
TRAINING_DATE_BLOCK = 4
TRAINING_BLOCKS = {NAMES_SESSION.name: TRAINING_BLOCK,
                   BIRTH_DATE_SESSION.name: TRAINING_DATE_BLOCK}
# Candidate pairs of contradicting identifiers, at least, to estimate `_candidate_u`.
MIN_CANDIDATE_NON_MATCHES = 100


def _different_sexes(f: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return (f.sex[i] >= 0) & (f.sex[j] >= 0) & (f.sex[i] != f.sex[j])


def _candidate_u(
    gamma: np.ndarray, apart: np.ndarray, sexes: np.ndarray, comparisons: tuple,
    weights: np.ndarray | None = None,
) -> list[np.ndarray] | None:
    """How often two different people among the candidate pairs agree at each level, read
    from the candidates that cannot be one person (``apart``: `cannot_be_one`, known
    non-matches), the birth comparison from those of different sexes (``sexes``:
    `_different_sexes`; the others contradict by their births); None with too few of them
    (the u of random pairs is then used). ``weights``: pairs per row of ``gamma`` when its
    rows are distinct vectors counted elsewhere (`training_flags`).

    Blocking makes candidates agree on names far more than random pairs do (first names
    agree 33 % of the time among non-matching candidates of the namesakes stress family,
    0.6 % among random pairs); the EMs that find m and the share of matches among the
    candidates need this u, not the one of random pairs (`fellegi_sunter.train`)."""
    weights = np.ones(len(gamma)) if weights is None else weights
    if weights[apart].sum() < MIN_CANDIDATE_NON_MATCHES:
        return None
    u = fellegi_sunter.level_frequencies(gamma[apart], comparisons, weights[apart])
    birth = [c.name for c in comparisons].index("birth")
    if weights[sexes].sum() >= MIN_CANDIDATE_NON_MATCHES:
        u[birth] = fellegi_sunter.level_frequencies(gamma[sexes][:, [birth]],
                                                    (comparisons[birth],), weights[sexes])[0]
    return u


# Pairs with a record lacking a full name are scored with the prior of random-pair u (see
# `fellegi_sunter.train`), at most this many times the one of full-name pairs.
SATELLITE_PRIOR_FACTOR = 4.0
SCORED_CHUNK = 2_000_000  # pairs given to `match_weight` at once by `_satellite_prior`


def _satellite_prior(
    f: Features,
    model: fellegi_sunter.FellegiSunter,
    gamma: np.ndarray,
    tf_u: dict[str, np.ndarray],
    i: np.ndarray,
    j: np.ndarray,
    probability: np.ndarray,
) -> np.ndarray:
    """Probabilities of the pairs where a record has no full name, with a prior between
    the two that training found: the share of matches among candidates (``model.prior``,
    right for full names: 0.00054 for a true 0.00056 on the namesakes stress family) and
    the one of random-pair u (``loose_prior``, 8 to 76 times too high there).

    A record without a full name (initials, a first name, a sighting) joins a person only
    when it dominates its candidates, its odds against "nobody known" (`cluster`); with
    the lower prior alone, too few join (the project's sample: pair F1 0.824 -> 0.802).
    Capped at `SATELLITE_PRIOR_FACTOR` times the full-name prior, so that it does not grow
    with the population (stress tuning seeds, 20,000 people: precision 0.87 uncapped, 0.90
    at 4)."""
    if model.loose_prior is None:
        return probability
    loose = np.flatnonzero(~(f.has_names[i] & f.has_names[j]))
    prior = min(model.loose_prior, SATELLITE_PRIOR_FACTOR * model.prior)
    shift = np.log2(prior / (1 - prior)) - np.log2(model.prior / (1 - model.prior))
    out = probability.copy()
    for start in range(0, len(loose), SCORED_CHUNK):  # the pairs' vectors copied by parts
        part = loose[start:start + SCORED_CHUNK]
        weight = model.match_weight(gamma[part], {k: u[part] for k, u in tf_u.items()}) + shift
        out[part] = 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))
    return out


def session_keys(
    f: Features, settings: LinkageSettings, comparisons: tuple[Comparison, ...]
) -> list[tuple[np.ndarray, frozenset[int]]]:
    """Per training session (`training_sessions`): each record's key (-1 where the session
    cannot use it) and the positions of the comparisons whose ``m`` it keeps fixed. Per
    record, made once per linkage (`training_flags` reads them for any pairs)."""
    keys = {name: key for name, key, _ in blocking_keys(f, settings.extra_blocking)}
    sessions = []
    for session, fixed in training_sessions(comparisons, settings.extra_blocking):
        code = session.key(f, keys)
        limit = TRAINING_BLOCKS.get(session.name) if settings.candidate_u else None
        if limit is not None:
            # Only keys that few records share: in a block of k namesakes most pairs are
            # two people, and the EM's match class drifts to them (at 20,000 people of the
            # namesakes stress family, birth dates disagreeing for 86 % of "matches", 2 %
            # in truth).
            block = np.bincount(np.maximum(code, 0))[np.maximum(code, 0)]
            code = np.where(block <= limit, code, -1)
        sessions.append(
            (code, frozenset(k for k, c in enumerate(comparisons) if c.name in fixed)))
    return sessions


def _sessions(
    f: Features,
    i: np.ndarray,
    j: np.ndarray,
    settings: LinkageSettings,
    comparisons: tuple[Comparison, ...],
    keys: list[tuple[np.ndarray, frozenset[int]]] | None = None,
) -> list[tuple[np.ndarray, frozenset[int]]]:
    """Training sessions: the pairs each one's key (`session_keys`) forces to agree, and the
    positions of the comparisons whose ``m`` it keeps fixed."""
    keys = keys if keys is not None else session_keys(f, settings, comparisons)
    return [((code[i] >= 0) & (code[i] == code[j]), fixed) for code, fixed in keys]


def _total_pairs(f: Features, link_only: bool) -> float:
    if not link_only:
        return f.n * (f.n - 1) / 2
    sizes = np.bincount(f.source).astype(float)
    return float((sizes.sum() ** 2 - (sizes**2).sum()) / 2)


def term_frequencies(
    f: Features, comparisons: tuple[Comparison, ...] = COMPARISONS
) -> dict[str, np.ndarray]:
    """Per column that decides a level of ``comparisons`` (`ComparisonLevel.tf_column`):
    each record's share of records with its value, computed on the data being linked (a
    name shared by forty people weighs less)."""
    out = {}
    for c in comparisons:
        for level in c.levels:
            if level.tf_column is not None and level.tf_column not in out:
                values = pd.Series(f.column(level.tf_column))
                known = values != ""
                out[level.tf_column] = (values.map(values[known].value_counts(normalize=True))
                                        .fillna(0).to_numpy())
    return out


def _tf_u(
    f: Features,
    i: np.ndarray,
    j: np.ndarray,
    gamma: np.ndarray,
    frequencies: dict[str, np.ndarray] | None = None,
    comparisons: tuple[Comparison, ...] = COMPARISONS,
) -> dict[str, np.ndarray]:
    """Per comparison with term frequencies (by name), the term-frequency u of each pair
    (NaN where its level is not decided by a value both records share: a Jaro-Winkler or
    Dice similarity, a disagreement, names compared across columns)."""
    frequencies = frequencies or term_frequencies(f, comparisons)
    out = {}
    for k, c in enumerate(comparisons):
        decided = [(lv, level.tf_column) for lv, level in enumerate(c.levels)
                   if level.tf_column is not None]
        if not decided:
            continue
        u = np.full(len(i), np.nan)
        for lv, column in decided:
            at = np.flatnonzero(gamma[:, k] == lv)
            if not len(at):
                continue
            (code,) = f.shared_codes(column)
            shared = code[i[at]] == code[j[at]]
            u[at[shared]] = frequencies[column][i[at[shared]]]
        out[c.name] = u
    return out


def _differ(
    f: Features,
    model: fellegi_sunter.FellegiSunter,
    settings: LinkageSettings,
    must_link: tuple[np.ndarray, np.ndarray],
    scored: tuple[np.ndarray, np.ndarray] | None = None,
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Records that cannot be one person: identifiers that contradict (`cannot_be_one`), or,
    for two records a chain of links put together without comparing them, a score under
    ``different_below``.

    Without the second test a big population chains namesakes: A-B and B-C strong, A and C
    never compared (not in one block) yet clearly two people. Reviewed matches
    (``must_link``) are never said to differ by the score. ``scored`` (pair codes
    ``i * n + j``, ascending, and whether the model scored each under ``different_below``)
    spares comparing again the candidate pairs: the same pair always gets the same score.
    """
    comparisons = model.comparisons
    frequencies = term_frequencies(f, comparisons)
    reviewed = np.minimum(*must_link) * f.n + np.maximum(*must_link)
    # Records that a chain of reviewed (or certain) matches joins: their identifiers are
    # known to be wrong somewhere, they never contradict each other.
    held = connected_components(coo_matrix(
        (np.ones(len(must_link[0])), must_link), shape=(f.n, f.n)), directed=False)[1]

    def differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        code = np.minimum(a, b) * f.n + np.maximum(a, b)
        seen = np.isin(code, reviewed)
        out = cannot_be_one(f, a, b) & ~seen & (held[a] != held[b])
        rest = np.flatnonzero(~out & ~seen)
        if scored is not None and len(scored[0]) and len(rest):
            codes, below = scored
            if np.any(code[rest][1:] < code[rest][:-1]):  # sorted needles: a faster search
                rest = rest[np.argsort(code[rest], kind="stable")]
            at = np.minimum(np.searchsorted(codes, code[rest]), len(codes) - 1)
            known = codes[at] == code[rest]
            out[rest[known]] = below[at[known]]
            rest = rest[~known]
        for start in range(0, len(rest), 1_000_000):
            chunk = rest[start : start + 1_000_000]
            gamma = compare(f, a[chunk], b[chunk], comparisons=comparisons)
            tf_u = _tf_u(f, a[chunk], b[chunk], gamma, frequencies, comparisons)
            out[chunk] = model.probability(gamma, tf_u) < settings.different_below
        return out

    return differ


def _name_checked(
    f: Features, i: np.ndarray, j: np.ndarray, gamma: np.ndarray,
    comparisons: tuple[Comparison, ...] = COMPARISONS,
) -> np.ndarray:
    """Per record: 1 when a record with a full name among its candidates carries one of its
    names (phonetic or very close on a `NameComparison`, in either column), 0 when none
    does, -1 without a name."""
    named = (f.names["first_join"] != "") | (f.names["last_join"] != "")
    out = np.where(named, 0, -1).astype(np.int8)
    close = np.zeros(len(i), dtype=bool)
    for k, c in enumerate(comparisons):
        if isinstance(c, NameComparison):
            close |= gamma[:, k] >= c.VERY_CLOSE
    out[i[close & f.has_names[j]]] = np.maximum(out[i[close & f.has_names[j]]], 1)
    out[j[close & f.has_names[i]]] = np.maximum(out[j[close & f.has_names[i]]], 1)
    return out


# Match weight (bits) from everything but the birth comparison over which a pair is one
# person even when its birth dates contradict: FEBRL's duplicates keep their name, social
# security number and address with a wholly different birth date (about 400 of its 6,538
# true pairs). Namesakes with a name, a commune and a sex never come near it.
SURE_WITHOUT_BIRTH_BITS = 12.0


def _sure_without_birth(
    model: fellegi_sunter.FellegiSunter,
    gamma: np.ndarray,
    tf_u: dict[str, np.ndarray],
    probability: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """Linked pairs whose other identifiers are so sure that their birth dates, however
    different, are a data error (a mask of the pairs): the constraints treat them as
    reviewed matches."""
    birth = [c.name for c in model.comparisons].index("birth")
    at = np.flatnonzero((probability >= threshold) & (gamma[:, birth] >= 0))
    sure = np.zeros(len(gamma), dtype=bool)
    if not len(at):
        return sure
    without = gamma[at].copy()
    without[:, birth] = -1
    weight = model.match_weight(without, {k: u[at] for k, u in tf_u.items()})
    sure[at[weight >= SURE_WITHOUT_BIRTH_BITS]] = True
    return sure


def _attachment(
    f: Features,
    labels: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    probability: np.ndarray,
    cannot_link: tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """Per record that cannot choose among namesakes by itself (no full name, or a name
    without a birth year): ``attach_probability``, the posterior share of the person it
    is in among every compatible person built on full names with a birth year (0 when it
    is in none of them), and ``new_probability``, the chance that it is none of those
    people (1 with no candidate). NaN for the records that build persons themselves.

    What an estimate of distinct people needs to count such records by their chance of
    being somebody new rather than one each (see `satellite_shares`)."""
    strong = f.has_names & (f.birth_year > 0)
    ids = identities(f)
    shares = satellite_shares(np.where(strong, labels, -1), strong, i, j, probability,
                              cannot_link, (ids.code, ids.clash))
    s, c = shares["s"].to_numpy(), shares["c"].to_numpy()
    new = np.where(strong, np.nan, 1.0)
    new[s] = shares["new"].to_numpy()
    attach = np.where(strong, np.nan, 0.0)
    own = labels[s] == c
    attach[s[own]] = shares["share"].to_numpy()[own]
    return {"attach_probability": np.round(attach, 4), "new_probability": np.round(new, 4)}


@dataclass
class ScoredCandidates:
    """The candidate pairs and their scores before reviewers' answers: what clustering and
    the estimate start from, made here (`score_candidates`) or on Spark
    (`observatoire.linkage.spark`)."""

    i: np.ndarray  # candidate pairs, i < j, in ascending order of i * n + j
    j: np.ndarray
    gamma: np.ndarray
    probability: np.ndarray  # the model's, with the satellites' prior (`_satellite_prior`)
    sure: np.ndarray  # linked pairs sure without their birth dates (`_sure_without_birth`)
    model: fellegi_sunter.FellegiSunter
    blocking: BlockingReport
    seconds: dict[str, float]


def training_flags(
    f: Features, i: np.ndarray, j: np.ndarray, settings: LinkageSettings,
    comparisons: tuple[Comparison, ...],
    keys: list[tuple[np.ndarray, frozenset[int]]] | None = None,
) -> tuple[np.ndarray, list[frozenset[int]]]:
    """Per pair, the masks that training reads besides the comparison vector: one column
    per training session (`_sessions`), then the pairs that cannot be one person and those
    of different sexes (`_candidate_u`); and each session's fixed comparisons. Per pair
    only, so that they can be counted with the vectors wherever the pairs are.
    ``keys``: `session_keys`, made once by callers that flag the pairs in parts."""
    sessions = _sessions(f, i, j, settings, comparisons, keys)
    columns = [mask for mask, _ in sessions]
    columns += [cannot_be_one(f, i, j), _different_sexes(f, i, j)]
    flags = np.column_stack(columns) if columns else np.zeros((len(i), 0), dtype=bool)
    return flags, [fixed for _, fixed in sessions]


def train_model(
    f: Features, settings: LinkageSettings, comparisons: tuple[Comparison, ...],
    gamma: np.ndarray, flags: np.ndarray, fixed: list[frozenset[int]],
    weights: np.ndarray | None = None,
) -> fellegi_sunter.FellegiSunter:
    """The model from the candidates' vectors and `training_flags` (``weights``: how many
    pairs each row stands for, when rows are distinct vectors counted elsewhere) and the
    u of random pairs."""
    ri, rj = _random_pairs(f, settings.u_pairs, settings.link_only, settings.seed)
    u = fellegi_sunter.level_frequencies(compare(f, ri, rj, comparisons=comparisons),
                                         comparisons)
    sessions = [(flags[:, s], fixed[s]) for s in range(len(fixed))]
    apart, sexes = flags[:, len(fixed)], flags[:, len(fixed) + 1]
    return fellegi_sunter.train(gamma, u, comparisons, sessions,
                                _total_pairs(f, settings.link_only),
                                _candidate_u(gamma, apart, sexes, comparisons, weights)
                                if settings.candidate_u else None,
                                weights=weights)


def score_pairs(
    f: Features, model: fellegi_sunter.FellegiSunter, i: np.ndarray, j: np.ndarray,
    gamma: np.ndarray, settings: LinkageSettings,
    frequencies: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the model's probability (with the satellites' prior) and whether it is
    sure without its birth dates. ``frequencies``: `term_frequencies` of ``f``, made once
    by callers that score the pairs in parts."""
    tf_u = _tf_u(f, i, j, gamma, frequencies, model.comparisons)
    probability = model.probability(gamma, tf_u)
    probability = _satellite_prior(f, model, gamma, tf_u, i, j, probability)
    sure = _sure_without_birth(model, gamma, tf_u, probability, settings.threshold)
    return probability, sure


def stopwatch(seconds: dict[str, float]) -> Callable[[str], None]:
    """``lap(name)`` records in ``seconds`` the time since the previous lap (or since now)."""
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    return lap


def score_candidates(
    f: Features, settings: LinkageSettings, comparisons: tuple[Comparison, ...]
) -> ScoredCandidates:
    """Block, compare, train and score in this process."""
    seconds: dict[str, float] = {}
    lap = stopwatch(seconds)
    i, j, report = candidate_pairs(
        f, link_only=settings.link_only, max_block=settings.max_block,
        extra_rules=settings.extra_blocking,
    )
    lap("blocking")
    gamma = compare(f, i, j, comparisons=comparisons)
    lap("comparisons")
    flags, fixed = training_flags(f, i, j, settings, comparisons)
    model = train_model(f, settings, comparisons, gamma, flags, fixed)
    del flags
    probability, sure = score_pairs(f, model, i, j, gamma, settings)
    lap("estimation")
    return ScoredCandidates(i, j, gamma, probability, sure, model, report, seconds)


# Block, compare, train and score: `score_candidates` here, `spark.SparkScorer` on Spark.
Scorer = Callable[[Features, LinkageSettings, tuple[Comparison, ...]], ScoredCandidates]


def link_features(
    f: Features, settings: LinkageSettings | None = None, decisions: pd.DataFrame | None = None,
    score_with: Scorer = score_candidates,
) -> LinkResult:
    """Link prepared (clear or pseudonymised) features; see `link`."""
    settings = settings or LinkageSettings()
    comparisons = comparisons_for(settings.extras, settings.comparisons)
    scored = score_with(f, settings, comparisons)
    seconds = dict(scored.seconds)
    lap = stopwatch(seconds)
    i, j, gamma, model, report = scored.i, scored.j, scored.gamma, scored.model, scored.blocking
    probability = scored.probability
    si, sj = i[scored.sure], j[scored.sure]
    model_below = probability < settings.different_below  # before reviewers' answers

    decided = _decision_pairs(f, decisions)
    mi, mj = decided["match"]
    ni, nj = decided["non_match"]
    labelled = (
        np.concatenate([mi, ni]),
        np.concatenate([mj, nj]),
        np.concatenate([np.ones(len(mi), int), np.zeros(len(ni), int)]),
    )
    def score(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> np.ndarray:
        tf = _tf_u(f, a, b, g, comparisons=comparisons)
        return _satellite_prior(f, model, g, tf, a, b, model.probability(g, tf))

    probability, retrained = _retrain(
        model, f, labelled, gamma, probability, settings.min_reviewed, score
    )
    # Reviewers' answers override the model on the pairs they decided.
    codes = i * f.n + j
    anchor = f.has_names
    probability[np.isin(codes, mi * f.n + mj)] = 1.0
    probability[np.isin(codes, ni * f.n + nj)] = 0.0
    labels = cluster(
        f.n, i, j, probability,
        threshold=settings.threshold, different_below=settings.different_below,
        must_link=(np.concatenate([mi, si]), np.concatenate([mj, sj])),
        cannot_link=(ni, nj), anchor=anchor,
        differ=_differ(f, model, settings, (np.concatenate([mi, si]), np.concatenate([mj, sj])),
                       (codes, model_below)),
        identity=(identities(f).code, identities(f).clash),
        # A name with only an age (or nothing) cannot choose among namesakes.
        undecided=anchor & (f.birth_year <= 0),
    )
    person_conf, record_conf = confidence(labels, i, j, probability)
    estimate = estimate_people(labels, i, j, probability, settings.review_band,
                               anchor=anchor, cannot_link=(ni, nj),
                               name_checked=_name_checked(f, i, j, gamma, comparisons),
                               source=f.source, best_in=record_conf)
    lap("clustering")

    # A person is named after its smallest record id: stable from run to run.
    ids = f.record_id.astype(str)
    order = np.argsort(ids, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    smallest = np.full(int(labels.max(initial=-1)) + 1, len(ids), dtype=np.int64)
    np.minimum.at(smallest, labels, rank)
    person = pd.Series(ids[order][smallest[labels]] if len(ids) else ids)
    clusters = pd.DataFrame({
        "record_id": f.record_id,
        "person_id": ("P-" + person).to_numpy(),
        "match_confidence": np.round(record_conf, 4),
        "person_confidence": np.round(person_conf, 4),
        "expected_people": np.round(estimate.expected[labels], 4),
        **_attachment(f, labels, i, j, probability, (ni, nj)),
    })
    return LinkResult(clusters, f, i, j, gamma, probability, model, estimate, report,
                      retrained, seconds, peak_mb())


def link(
    records: pd.DataFrame,
    settings: LinkageSettings | None = None,
    decisions: pd.DataFrame | None = None,
    key: bytes | None = None,
    score_with: Scorer = score_candidates,
) -> LinkResult:
    """Link a validated records frame (`validate_records`): one person per group of records.

    ``decisions`` (columns ``record_id_a``, ``record_id_b``, ``decision`` in `DECISIONS`)
    override the model and, once there are enough of both answers, retrain it. With ``key``
    the names, initials and birth dates are first replaced by keyed encodings and linked
    as such (what the pipeline does on stored, pseudonymised records). ``score_with``
    blocks, compares, trains and scores (`score_candidates`, or `spark.SparkScorer`).
    """
    settings = settings or LinkageSettings()
    start = time.perf_counter()
    features = prepare(records, extra_columns(comparisons_for(settings.extras,
                                                              settings.comparisons)))
    if key is not None:
        from observatoire.linkage.encoded import encode

        features = encode(features, key)
    prepared = time.perf_counter() - start
    result = link_features(features, settings, decisions, score_with)
    result.seconds = {"preparation": prepared, **result.seconds}
    return result
