"""Fellegi-Sunter model: m and u probabilities per comparison level, estimated from the data.

As Splink does: ``u`` (how often two *different* people agree at a level) from random pairs,
then ``m`` (how often the *same* person does) and the share of matches among the candidate
pairs by expectation-maximisation with ``u`` fixed. EM runs on the distinct comparison
vectors with their counts, so a million pairs cost as much as a few thousand patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from observatoire.linkage.compare import Comparison


@dataclass
class FellegiSunter:
    comparisons: tuple[Comparison, ...]
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float  # share of matches among the candidate pairs
    iterations: int = 0
    # The prior the u of random pairs gives (trained with `u_candidates` only): higher,
    # used for pairs with a record lacking a full name (`engine._satellite_prior`).
    loose_prior: float | None = None

    def weights(self) -> list[np.ndarray]:
        """log2(m/u) per comparison and level (the match weight of a level)."""
        return [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]

    def match_weight(
        self, gamma: np.ndarray, tf_u: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """log2 of the posterior odds of a match, per pair (missing levels count 0).

        ``tf_u`` (comparison name -> u per pair, NaN where none) replaces the ``u`` of the
        pair's level by how often two different people agree on *that* value
        (term-frequency adjustment: agreeing on *Mohamed* says less than agreeing on
        *Iaremtchouk*, and sharing the skeleton of the Mohamed family less than sharing a
        rare one).
        """
        total = np.full(len(gamma), np.log2(self.prior / (1 - self.prior)))
        for k, (c, w) in enumerate(zip(self.comparisons, self.weights(), strict=True)):
            g = gamma[:, k]
            # Level -1 (unknown) reads the 0 in front of the weights.
            total += np.take(np.concatenate([[0.0], w]), g.astype(np.intp) + 1)
            if tf_u and c.name in tf_u:
                at = np.flatnonzero(~np.isnan(tf_u[c.name]) & (g > 0))
                u_pair = np.maximum(tf_u[c.name][at], 1e-9)
                total[at] += np.log2(self.u[k][g[at]] / u_pair)
        return total

    def probability(
        self, gamma: np.ndarray, tf_u: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        return 1.0 / (1.0 + np.exp2(-np.clip(self.match_weight(gamma, tf_u), -60, 60)))

    def table(self) -> list[dict]:
        """One row per comparison level, for reports: m, u and weight."""
        rows = []
        for c, m, u, w in zip(self.comparisons, self.m, self.u, self.weights(), strict=True):
            for level, label in enumerate(c.labels):
                rows.append({"comparison": c.name, "level": level, "label": label,
                             "m": float(m[level]), "u": float(u[level]), "weight": float(w[level])})
        return rows


def level_frequencies(
    gamma: np.ndarray, comparisons: tuple[Comparison, ...], weights: np.ndarray | None = None
) -> list[np.ndarray]:
    """Smoothed share of each level among the pairs where the comparison is known.

    ``weights``: how many pairs each row of ``gamma`` stands for (distinct vectors counted
    elsewhere, as the Spark engine does); one pair per row without it."""
    out = []
    for k, c in enumerate(comparisons):
        g = gamma[:, k]
        known = g >= 0
        counts = np.bincount(g[known].astype(np.int64),
                             weights=None if weights is None else weights[known],
                             minlength=len(c.levels)).astype(float)
        out.append((counts + 0.5) / (counts.sum() + 0.5 * len(c.levels)))
    return out


def vector_codes(gamma: np.ndarray, base: int) -> np.ndarray:
    """One int64 per comparison vector (levels from -1 to ``base - 2``): the digits of
    ``gamma + 1`` in ``base``. Unique while ``base ** width`` fits in 63 bits."""
    code = np.zeros(len(gamma), dtype=np.int64)
    for k in range(gamma.shape[1]):
        code = code * base + (gamma[:, k].astype(np.int64) + 1)
    return code


def _patterns(
    gamma: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison vectors, in the order of their codes, and how many pairs have
    each (``weights``: how many pairs each row stands for, one without)."""
    if len(gamma) == 0:
        return gamma, np.empty(0)
    base = int(gamma.max(initial=0)) + 2
    width = gamma.shape[1]
    code = vector_codes(gamma, base)
    if base**width > 4 * len(gamma) + 1_000_000:
        _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
        counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(first))
        return gamma[first], counts.astype(float)
    # Few possible vectors (no extra comparisons): count them, tens of times faster than
    # sorting tens of millions of codes; same vectors in the same (code) order.
    all_counts = np.bincount(code, weights=weights, minlength=base**width)
    present = np.flatnonzero(all_counts)
    patterns = np.empty((len(present), width), dtype=gamma.dtype)
    rest = present.copy()
    for k in range(width - 1, -1, -1):
        patterns[:, k] = rest % base - 1
        rest //= base
    return patterns, all_counts[present].astype(float)


def estimate(
    gamma: np.ndarray,
    u: list[np.ndarray],
    comparisons: tuple[Comparison, ...],
    *,
    max_iter: int = 200,
    tol: float = 1e-6,
    prior: float = 0.05,
    m: list[np.ndarray] | None = None,
    fixed: frozenset[int] = frozenset(),
    weights: np.ndarray | None = None,
) -> FellegiSunter:
    """EM for ``m`` and the prior on the candidate pairs' comparison vectors, ``u`` fixed.

    ``fixed`` comparisons keep their ``m`` (those a training blocking rule forced to agree,
    as Splink's training sessions do). ``weights``: as in `level_frequencies`.
    """
    patterns, counts = _patterns(gamma, weights)
    if m is None:
        # Start with m favouring agreement: the highest level most likely for a match.
        m = []
        for c in comparisons:
            start = np.exp(np.arange(len(c.levels), dtype=float) * 1.5)
            m.append(start / start.sum())
    m = [x.copy() for x in m]
    log_u = [np.log(x) for x in u]
    index = [patterns[:, k].astype(np.int64) for k in range(len(comparisons))]
    known = [ix >= 0 for ix in index]
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported after the loop
        log_ratio = np.full(len(patterns), np.log(prior / (1 - prior)))
        for k in range(len(comparisons)):
            ix, kn = index[k], known[k]
            log_ratio[kn] += np.log(m[k][ix[kn]]) - log_u[k][ix[kn]]
        post = 1.0 / (1.0 + np.exp(-np.clip(log_ratio, -700, 700)))
        weight = post * counts
        new_prior = float(np.clip(weight.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        change = abs(new_prior - prior)
        new_m = []
        for k, c in enumerate(comparisons):
            if k in fixed:
                new_m.append(m[k])
                continue
            ix, kn = index[k], known[k]
            sums = np.bincount(ix[kn], weights=weight[kn], minlength=len(c.levels))
            level_m = (sums + 1e-3) / (sums.sum() + 1e-3 * len(c.levels))
            change = max(change, float(np.abs(level_m - m[k]).max()))
            new_m.append(level_m)
        m, prior = new_m, new_prior
        if change < tol:
            break
    return FellegiSunter(comparisons, m, list(u), prior, iterations)


def train(
    gamma: np.ndarray,
    u: list[np.ndarray],
    comparisons: tuple[Comparison, ...],
    sessions: list[tuple[np.ndarray, frozenset[int]]],
    total_pairs: float | None = None,
    u_candidates: list[np.ndarray] | None = None,
    weights: np.ndarray | None = None,
) -> FellegiSunter:
    """Splink-style training: one EM per session (a subset of pairs, with the comparisons
    its blocking rule forced kept fixed), each comparison's ``m`` taken from the sessions
    that could estimate it, then the prior on all pairs with every ``m`` fixed.

    ``u_candidates`` (how often two different people *among the candidate pairs* agree at
    each level) replaces ``u`` in the EMs, which run on candidates: with the ``u`` of random
    pairs, every candidate sharing a frequent name looks like a match (on namesake-dense
    data the EM took 92 % of the candidates at 2,000 people and 99.99 % at 20,000 for
    matches, against 9 % and 1 %: a prior 8 and 76 times the true rate). The model
    returned still scores with ``u`` (and the prior over all pairs), as Splink does.

    ``weights`` (how many pairs each row of ``gamma`` and of the session masks stands for)
    lets a distributed run pass distinct rows with their counts: the same model.
    """
    weights = np.ones(len(gamma)) if weights is None else np.asarray(weights, dtype=float)
    pairs = float(weights.sum())
    u_em = u if u_candidates is None else u_candidates
    start = estimate(gamma[:0], u_em, comparisons, max_iter=0)
    sums = [np.zeros_like(x) for x in start.m]
    seen = [0] * len(comparisons)
    for mask, fixed in sessions:
        if weights[mask].sum() < 10:
            continue
        session = estimate(gamma[mask], u_em, comparisons, fixed=fixed, weights=weights[mask])
        for k in range(len(comparisons)):
            if k not in fixed and (gamma[mask, k] >= 0).any():
                sums[k] += session.m[k]
                seen[k] += 1
    m = [s / n if n else s0 for s, n, s0 in zip(sums, seen, start.m, strict=True)]
    everything = frozenset(range(len(comparisons)))
    model = estimate(gamma, u_em, comparisons, m=m, fixed=everything, weights=weights)
    model.u = list(u)
    if u_candidates is not None:
        model.loose_prior = estimate(gamma, u, comparisons, m=m, fixed=everything,
                                     weights=weights).prior
    if total_pairs:
        # As Splink: the prior is the chance that two *random* records match (the matches
        # expected among the candidates, over all pairs). Being a candidate is not counted
        # as evidence, since blocking keys repeat what the comparisons already weigh.
        expected = model.prior * pairs
        model.prior = float(np.clip(expected / total_pairs, 1e-12, 0.5))
        if model.loose_prior is not None:
            model.loose_prior = float(np.clip(model.loose_prior * pairs / total_pairs,
                                              1e-12, 0.5))
    return model
