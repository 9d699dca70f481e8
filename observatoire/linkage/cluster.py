"""Clustering of scored pairs into persons, without chaining strangers through one link.

Connected components of the pairs above the threshold, then, only in the components that
contain a pair the model (or a reviewer) says are *different* people, a greedy merge by
decreasing probability that refuses any merge joining two records known to differ. So
``A-B`` and ``B-C`` strong but ``A-C`` clearly different keeps ``A`` and ``C`` apart, and the
weaker of the two links loses.

Whatever the size of a component, no person holds two records whose identifiers
contradict (`Identity`: different sexes, birth dates no known error relates, years or ages
too far apart), checked among each component's distinct identity codes; records that say
too little to choose (a first name, initials, a name without a birth year) join a person
only when it dominates their other candidates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from observatoire.linkage.blocking import distinct
from observatoire.linkage.sorted_runs import (
    dense_rank,
    maximum_into,
    run_starts,
    stable_order,
)

# Records (a, b) -> whether each pair cannot be one person (e.g. different sexes).
Differ = Callable[[np.ndarray, np.ndarray], np.ndarray]
# Per record a code of its identifiers (-1: none), and whether two codes contradict: a
# person never holds two records whose codes clash, however its records were joined.
Identity = tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray]]
SURE_LINK = 1 - 1e-6  # a satellite link this sure is never in doubt
RIVAL_CHUNK = 8_000_000  # satellites' link ends whose rivals are summed at once (step 3)
SURE_ODDS = SURE_LINK / (1 - SURE_LINK)
MAX_CHECKED_SIZE = 500  # larger components are only split by their compared pairs
QUESTION_CHUNK = 200_000  # (person, code) questions asked at once (`_contradicts_person`)
ASKED_CHUNK = 4_000_000  # (record, person) rows keyed at once (`_contradicts_person`)
# Records + edges + negative pairs per batch of components given to `_greedy_merge` at
# once: its per-record Python sets of negative pairs took 2.6 GB at a million records
# (batches of 2 million still peaked at 8,068 MB there, with 61.6 million pairs).
MERGE_BATCH = 1_000_000


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _sets_by_record(n: int, a: np.ndarray, b: np.ndarray) -> dict[int, set[int]]:
    """Record -> the records it forms a pair with (both directions), for records in some."""
    left, right = np.concatenate([a, b]), np.concatenate([b, a])
    code = np.sort(left.astype(np.int64) * n + right)  # by record (set order is irrelevant)
    left, right = code // n, (code % n).tolist()
    starts = run_starts(left)
    bounds = np.r_[starts, len(left)].tolist()
    return {r: set(right[bounds[k]:bounds[k + 1]])
            for k, r in enumerate(left[starts].tolist())}


def _greedy_merge(
    n: int,
    ei: np.ndarray,
    ej: np.ndarray,
    eprob: np.ndarray,
    ni: np.ndarray,
    nj: np.ndarray,
    code: np.ndarray | None = None,
    clash_with: dict[int, set[int]] | None = None,
) -> np.ndarray:
    """Greedy merge by decreasing probability that refuses to join two groups holding a
    negative pair, or, with ``code`` (per record) and ``clash_with`` (code -> the codes it
    contradicts, symmetric), two groups whose codes contradict; returns each record's
    representative (records ``0..n-1``). Edges of probability 2 or more (reviewed
    matches) are merged whatever the codes say: a reviewer saw both records.

    One pass over every component's edges: components never share a record, so this is the
    merge of each component on its own. The smaller group joins the larger and its records
    are given the new representative (each record moves a few times at most), so that an
    edge inside a group, most of them, costs two list look-ups.

    Each group keeps only its codes that contradict some code (the others never refuse a
    merge), and a merge looks the smaller set up in ``clash_with``: no group carries the
    codes it contradicts (a copy per record of a code's contradictions took gigabytes at a
    million records).
    """
    root = list(range(n))
    members: list[list[int]] = [[r] for r in range(n)]
    forbidden = _sets_by_record(n, ni, nj)
    codes: dict[int, set[int]] = {}
    if code is not None and clash_with:
        for r, c in enumerate(code.tolist()):
            if c in clash_with:
                codes[r] = {c}
    order = np.argsort(-eprob, kind="stable")
    for a, b, p in zip(ei[order].tolist(), ej[order].tolist(), eprob[order].tolist(),
                       strict=True):
        ra, rb = root[a], root[b]
        if ra == rb:
            continue
        fa, fb = forbidden.get(ra), forbidden.get(rb)
        if fa is not None and fb is not None:
            # A record of one group forbidden with one of the other (the relation is
            # symmetric: the smaller group's records against the other's forbidden set).
            if len(members[rb]) <= len(members[ra]):
                if not fa.isdisjoint(members[rb]):
                    continue
            elif not fb.isdisjoint(members[ra]):
                continue
        ca, cb = codes.get(ra), codes.get(rb)
        if ca is not None and cb is not None and p < 2.0:
            few, many = (ca, cb) if len(ca) <= len(cb) else (cb, ca)
            if any(not clash_with[c].isdisjoint(many) for c in few):
                continue
        if len(members[ra]) < len(members[rb]):
            ra, rb = rb, ra
            fa, fb = fb, fa
            ca, cb = cb, ca
        moved = members[rb]
        for x in moved:
            root[x] = ra
        members[ra].extend(moved)
        members[rb] = []
        if fb is not None:
            del forbidden[rb]
            if fa is None:
                forbidden[ra] = fb
            elif len(fa) >= len(fb):
                fa |= fb
            else:
                fb |= fa
                forbidden[ra] = fb
        if cb is not None:
            del codes[rb]
            if ca is None:
                codes[ra] = cb
            elif len(ca) >= len(cb):
                ca |= cb
            else:
                cb |= ca
                codes[ra] = cb
    return np.asarray(root, dtype=np.int64)


def code_clashes(
    labels: np.ndarray, identity: Identity
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of distinct codes that contradict inside one label: (label, code a, code b).

    Per label its distinct codes only, and only their pairs (a person has few distinct
    birth dates and sexes however many records it holds)."""
    code, clash = identity
    keep = (code >= 0) & (labels >= 0)
    empty = np.empty(0, np.int64)
    if not keep.any():
        return empty, empty, empty
    width = int(code.max()) + 1
    key = distinct(labels[keep].astype(np.int64) * width + code[keep])
    lab, cod = key // width, key % width
    start = run_starts(lab)
    size = np.diff(np.r_[start, len(lab)])
    pos = np.arange(len(lab)) - np.repeat(start, size)
    size = np.repeat(size, size)
    out_a, out_b = [], []
    idx = np.flatnonzero(size > 1)
    offset = 1
    while len(idx):
        idx = idx[pos[idx] + offset < size[idx]]
        if not len(idx):
            break
        a, b = cod[idx], cod[idx + offset]
        hit = clash(a, b)
        out_a.append(idx[hit])
        out_b.append(idx[hit] + offset)
        offset += 1
    if not out_a:
        return empty, empty, empty
    ia, ib = np.concatenate(out_a), np.concatenate(out_b)
    return lab[ia], cod[ia], cod[ib]


def _clash_sets(ca: np.ndarray, cb: np.ndarray) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for a, b in zip(ca.tolist(), cb.tolist(), strict=True):
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


def within_pairs(labels: np.ndarray, max_size: int = MAX_CHECKED_SIZE) -> tuple[np.ndarray, ...]:
    """Every pair ``(a, b)``, ``a < b``, of records sharing a label, in groups of 2 to
    ``max_size`` records (larger groups are left to the pairwise constraints), sorted."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    sizes = np.bincount(labels)
    checked = (sizes[sorted_labels] >= 2) & (sizes[sorted_labels] <= max_size)
    members, groups = order[checked], sorted_labels[checked]
    out_a, out_b = [], []
    for offset in range(1, int(sizes[groups].max(initial=1))):
        same = groups[:-offset] == groups[offset:]
        if not same.any():
            break
        a, b = members[:-offset][same], members[offset:][same]
        out_a.append(np.minimum(a, b))
        out_b.append(np.maximum(a, b))
    if not out_a:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # In ascending order of ``a * n + b`` (a plain sort of the codes: fast, and it lets a
    # caller look the pairs up among other sorted pairs).
    n = len(labels)
    code = np.sort(np.concatenate(out_a) * n + np.concatenate(out_b))
    return code // n, code % n


def _bounded_components(
    n: int, ei: np.ndarray, ej: np.ndarray, ep: np.ndarray, max_size: int = MAX_CHECKED_SIZE
) -> np.ndarray:
    """Connected components, those over ``max_size`` records split again by their stronger
    edges only (0.9, then 0.99...) until they fit.

    In a big population a component that large is a chain of namesakes, not one person:
    its weakest links go first, and every remaining group is small enough for `differ` to
    check all its pairs.
    """
    labels = _components(n, ei, ej)
    for level in (0.9, 0.99, 0.999, 0.9999, 0.99999):
        sizes = np.bincount(labels)
        big = sizes[labels] > max_size
        if not big.any():
            break
        keep = big[ei] & big[ej] & (labels[ei] == labels[ej]) & (ep >= level)
        split = _components(n, ei[keep], ej[keep])
        # Pieces of a big component: its label and the piece's together.
        labels = np.where(big, labels.max() + 1 + split, labels)
        labels = pd.factorize(labels)[0]
    return labels


def _merge_by_batches(
    labels: np.ndarray,
    members: np.ndarray,
    ei: np.ndarray,
    ej: np.ndarray,
    ep: np.ndarray,
    ni: np.ndarray,
    nj: np.ndarray,
    code: np.ndarray | None,
    clash_with: dict[int, set[int]],
) -> np.ndarray:
    """`_greedy_merge` of the components holding ``members`` (ascending), a batch of whole
    components of about `MERGE_BATCH` records, edges and negative pairs at a time (every
    edge and negative pair inside one component); per member its representative record.

    Components never share a record and each one's merge reads only its own edges, in the
    same order: the same representatives as one merge of them all, with the memory of
    one batch."""
    width = int(labels.max(initial=-1)) + 1
    weight = (np.bincount(labels[members], minlength=width)
              + np.bincount(labels[ei], minlength=width)
              + np.bincount(labels[ni], minlength=width))
    batch = np.cumsum(weight) // MERGE_BATCH  # per component
    member_batch, edge_batch, negative_batch = (batch[labels[x]] for x in (members, ei, ni))
    local = np.full(len(labels), -1, dtype=np.int64)
    roots = np.empty(len(members), dtype=np.int64)
    for b in np.unique(member_batch).tolist():
        at = np.flatnonzero(member_batch == b)
        mine = members[at]
        local[mine] = np.arange(len(mine))
        e, g = edge_batch == b, negative_batch == b
        roots[at] = mine[_greedy_merge(
            len(mine), local[ei[e]], local[ej[e]], ep[e], local[ni[g]], local[nj[g]],
            code[mine] if code is not None else None, clash_with,
        )]
    return roots


def _constrained_components(
    n: int,
    ei: np.ndarray,
    ej: np.ndarray,
    ep: np.ndarray,
    ni: np.ndarray,
    nj: np.ndarray,
    differ: Differ | None = None,
    identity: Identity | None = None,
) -> np.ndarray:
    """Components of the edges, re-merged greedily where a negative pair falls inside.

    ``differ`` adds the negative pairs of records that cannot be one person wherever a
    component put them together, even when they were never compared (a chain of links).
    ``identity`` does the same for contradicting identifiers at every component size,
    by their distinct codes (`code_clashes`).
    """
    labels = _bounded_components(n, ei, ej, ep)
    inside = labels[ei] == labels[ej]
    ei, ej, ep = ei[inside], ej[inside], ep[inside]
    if differ is not None:
        ai, aj = within_pairs(labels)
        apart = differ(ai, aj)
        ni, nj = np.concatenate([ni, ai[apart]]), np.concatenate([nj, aj[apart]])
    conflict = labels[ni] == labels[nj]
    clash_labels, clash_a, clash_b = (code_clashes(labels, identity) if identity is not None
                                      else (np.empty(0, np.int64),) * 3)
    if not conflict.any() and not len(clash_labels):
        return labels
    flagged = np.zeros(int(labels.max(initial=-1)) + 1, dtype=bool)
    flagged[labels[ni[conflict]]] = True
    flagged[clash_labels] = True
    in_flagged = flagged[labels]
    members = np.flatnonzero(in_flagged)  # records of the flagged components, ascending
    edge_flag = in_flagged[ei]
    roots = _merge_by_batches(
        labels, members, ei[edge_flag], ej[edge_flag], ep[edge_flag],
        ni[conflict], nj[conflict], identity[0] if identity is not None else None,
        _clash_sets(clash_a, clash_b),
    )
    # New labels: component by component, its groups in the order of their first record.
    order = np.lexsort((members, labels[members]))
    first_seen = pd.factorize(roots[order])[0]
    labels[members[order]] = labels.max() + 1 + first_seen
    return labels


def _odds(p: np.ndarray) -> np.ndarray:
    # Reviewed matches carry p = 2: certain.
    return np.where(p >= 1.0, 1e12, p / np.maximum(1.0 - p, 1e-12))


def _contradicts_person(
    records: np.ndarray, persons: np.ndarray, labels: np.ndarray, identity: Identity
) -> np.ndarray:
    """Whether ``records[k]`` contradicts a record of person ``persons[k]`` (by codes)."""
    code, clash = identity
    out = np.zeros(len(records), dtype=bool)
    held = (labels >= 0) & (code >= 0)
    if not len(records) or not held.any():
        return out
    width = int(code.max()) + 1
    key = distinct(labels[held].astype(np.int64) * width + code[held])
    table = pd.DataFrame({"c": key // width, "held": key % width})
    starts = range(0, len(records), ASKED_CHUNK)

    def questions(start: int) -> np.ndarray:
        """(person, code) of ``records[start:start + ASKED_CHUNK]`` as one key, -1 if none."""
        mine = code[records[start:start + ASKED_CHUNK]]
        return np.where(mine >= 0, persons[start:start + ASKED_CHUNK].astype(np.int64)
                        * width + mine, -1)

    # Distinct (person, code) questions only: many satellites share a code. By chunks of
    # records, then of questions: each question meets every code its person holds (tens
    # of millions at a million records).
    asked = distinct(np.concatenate([distinct(questions(s)) for s in starts]))
    asked = asked[asked >= 0]
    found = []
    for start in range(0, len(asked), QUESTION_CHUNK):
        part = asked[start:start + QUESTION_CHUNK]
        chunk = pd.DataFrame({"q": part, "c": part // width, "mine": part % width})
        chunk = chunk.merge(table, on="c")
        hit = clash(chunk["mine"].to_numpy(), chunk["held"].to_numpy())
        found.append(distinct(chunk["q"].to_numpy()[hit]))
    bad = np.concatenate(found) if found else asked[:0]
    if not len(bad):
        return out
    for start in starts:
        mine = questions(start)
        at = np.minimum(np.searchsorted(bad, mine), len(bad) - 1)
        out[start:start + ASKED_CHUNK] = (mine >= 0) & (bad[at] == mine)
    return out


def _undominated(
    labels: np.ndarray,
    records: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    p: np.ndarray,
    attach_share: float,
    identity: Identity | None,
) -> np.ndarray:
    """Records of ``records`` (a mask) whose person holds other records but does not
    dominate the persons they could be: the best odds to their own person's other records
    over 1 + the best odds to each compatible person, under ``attach_share``."""
    n = len(labels)
    sizes = np.bincount(labels[labels >= 0], minlength=int(labels.max(initial=-1)) + 1)
    asked = records & (labels >= 0)
    asked[asked] = sizes[labels[asked]] > 1
    out = np.zeros(n, dtype=bool)
    if not asked.any():
        return out
    one = asked[i] & (labels[j] >= 0)
    two = asked[j] & (labels[i] >= 0)
    r = np.concatenate([i[one], j[two]])
    x = np.concatenate([j[one], i[two]])
    odds = _odds(np.concatenate([p[one], p[two]]))
    c = labels[x].astype(np.int64)
    if identity is not None and len(r):
        # Other persons the record contradicts are no candidates (its own never does).
        other = c != labels[r]
        bad = np.zeros(len(r), dtype=bool)
        bad[other] = _contradicts_person(r[other], c[other], labels, identity)
        r, c, odds = r[~bad], c[~bad], odds[~bad]
    if not len(r):
        return out
    width = int(labels.max()) + 1
    key = r.astype(np.int64) * width + c
    order = np.argsort(key, kind="stable")
    key, odds = key[order], odds[order]
    start = run_starts(key)
    best = np.maximum.reduceat(odds, start)
    rr, cc = key[start] // width, key[start] % width
    total = np.bincount(rr, weights=best, minlength=n)
    own = np.zeros(n)
    mine = cc == labels[rr]
    own[rr[mine]] = best[mine]
    share = own / (1.0 + total)
    out[asked & (share < attach_share)] = True
    return out


def satellite_shares(
    labels: np.ndarray,
    anchor: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    p: np.ndarray,
    cannot_link: tuple[np.ndarray, np.ndarray] | None = None,
    identity: Identity | None = None,
) -> pd.DataFrame:
    """Per satellite ``s`` and candidate person ``c``: ``odds`` (best pair odds between ``s``
    and a record of ``c``), ``share`` = odds / (1 + total odds of ``s``) and ``new`` = 1 /
    (1 + total odds of ``s``), the chance that ``s`` is nobody already known.

    This assumes one right person at most, as a record is one person: many weak candidates
    together say "someone already known" even when none of them says who. With
    ``identity``, a person holding a record that contradicts ``s`` is no candidate.
    """
    mixed = anchor[i] != anchor[j]
    sat = np.where(anchor[i[mixed]], j[mixed], i[mixed])
    anc = np.where(anchor[i[mixed]], i[mixed], j[mixed])
    c = labels[anc]
    odds = _odds(p[mixed])
    known = c >= 0
    sat, c, odds = sat[known], c[known], odds[known]
    if cannot_link is not None and len(cannot_link[0]):
        ci, cj = cannot_link
        refused_s = np.concatenate([ci, cj])
        refused_c = np.concatenate([labels[cj], labels[ci]])
        keep = refused_c >= 0
        width = int(max(labels.max(initial=0), 0)) + 1
        refused = refused_s[keep].astype(np.int64) * width + refused_c[keep]
        allowed = ~np.isin(sat.astype(np.int64) * width + c, refused)
        sat, c, odds = sat[allowed], c[allowed], odds[allowed]
    if identity is not None and len(sat):
        # Reviewed matches (and certain pairs) hold whatever the identifiers say.
        allowed = ~_contradicts_person(sat, c, labels, identity) | (odds >= SURE_ODDS)
        sat, c, odds = sat[allowed], c[allowed], odds[allowed]
    # Best odds per (satellite, person), sorted by satellite then person: a sort and a
    # reduction, many times faster than a two-key group-by on tens of millions of pairs.
    c_rank = dense_rank(c)
    order = stable_order(dense_rank(sat) * (int(c_rank.max(initial=0)) + 1) + c_rank)
    sat, c, odds = sat[order], c[order], odds[order]
    start = run_starts(sat, c)
    options = pd.DataFrame({
        "s": sat[start].astype(np.int64),
        "c": c[start].astype(np.int64),
        "odds": np.maximum.reduceat(odds, start) if len(start) else odds[:0],
    })
    total = options.groupby("s", sort=False)["odds"].transform("sum")
    options["share"] = options["odds"] / (1.0 + total)
    options["new"] = 1.0 / (1.0 + total)
    return options


def cluster(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    probability: np.ndarray,
    *,
    threshold: float = 0.5,
    different_below: float = 0.01,
    must_link: tuple[np.ndarray, np.ndarray] | None = None,
    cannot_link: tuple[np.ndarray, np.ndarray] | None = None,
    anchor: np.ndarray | None = None,
    satellite_threshold: float = 0.5,
    attach_share: float = 0.5,
    differ: Differ | None = None,
    identity: Identity | None = None,
    mutual_dominance: bool = True,
    undecided: np.ndarray | None = None,
) -> np.ndarray:
    """A cluster label per record (0..k-1), from pairs ``(i, j)`` and their probability.

    ``anchor`` marks the records identified well enough to build persons (a full name);
    the others (a first name only, initials, a sighting) are *satellites*: each joins the
    person that clearly dominates its candidates (`satellite_shares`), and never bridges two
    anchors. Satellites that no person dominates are grouped among themselves by pairs over
    ``satellite_threshold``, where any pair under ``different_below`` forbids a merge.

    ``must_link`` pairs (reviewed matches) are merged first; ``cannot_link`` pairs (reviewed
    non-matches) and pairs scored under ``different_below`` are never put in one cluster,
    nor, when ``differ`` is given, two records it says differ (checked on every pair of a
    cluster, not only the compared ones: links A-B and B-C never join A and C then).
    With ``identity``, no cluster holds two records whose identifiers contradict
    (different sexes, incompatible birth dates, years or ages), at any size; reviewed
    matches excepted.
    """
    anchor = np.ones(n, dtype=bool) if anchor is None else anchor
    p = probability.copy()
    if must_link is not None and len(must_link[0]):
        i = np.concatenate([must_link[0], i])
        j = np.concatenate([must_link[1], j])
        p = np.concatenate([np.full(len(must_link[0]), 2.0), p])
    ci = np.empty(0, np.int64) if cannot_link is None else cannot_link[0]
    cj = np.empty(0, np.int64) if cannot_link is None else cannot_link[1]
    forbidden_code = set((np.minimum(ci, cj) * n + np.maximum(ci, cj)).tolist())
    if forbidden_code:
        codes = np.minimum(i, j) * n + np.maximum(i, j)
        allowed = ~np.isin(codes, np.fromiter(forbidden_code, np.int64))
        i, j, p = i[allowed], j[allowed], p[allowed]

    # 1. Persons from anchors. An anchor that says too little to choose (``undecided``:
    # a name without a birth year) stays in the person it joined only when that person
    # dominates the others it could be; else it is taken out and the persons are made
    # again without its links (it could have joined two of them).
    both = anchor[i] & anchor[j]
    weak = both & (p < different_below)
    anchor_ci, anchor_cj = ci[anchor[ci] & anchor[cj]], cj[anchor[ci] & anchor[cj]]
    out = np.zeros(n, dtype=bool)
    for _ in range(2 if undecided is not None else 1):
        strong = both & (p >= threshold) & ~out[i] & ~out[j]
        labels = _constrained_components(
            n, i[strong], j[strong], p[strong],
            np.concatenate([anchor_ci, i[weak]]), np.concatenate([anchor_cj, j[weak]]),
            differ, identity,
        )
        labels = np.where(anchor, labels, -1)
        if undecided is None:
            break
        leaving = _undominated(labels, undecided & anchor & ~out, i, j, p, attach_share,
                               identity)
        if not leaving.any():
            break
        out |= leaving
    # Those taken out are satellites from now on: they may still join a person that
    # dominates, or group with other satellites (ten 115 calls of one man with an age).
    anchor = anchor & ~out
    labels[out] = -1

    # 2. Each satellite joins a person only when that person clearly dominates: its posterior
    # share, odds / (1 + sum of the odds of every candidate person), reaches ``attach_share``
    # (at most one person is the right one, and "nobody known" is the "1"). A satellite
    # cannot bridge two persons, so this is its only way in.
    share = satellite_shares(labels, anchor, i, j, p, (ci, cj), identity)
    # Per satellite its best person (the smallest label on a tie), rows being sorted by
    # satellite then person.
    s_of, c_of, sh = (share[k].to_numpy() for k in ("s", "c", "share"))
    if len(s_of):
        first = run_starts(s_of)
        top = np.repeat(np.maximum.reduceat(sh, first), np.diff(np.r_[first, len(sh)]))
        best = np.flatnonzero(sh == top)
        best = best[run_starts(s_of[best])]
        best = best[sh[best] >= attach_share]
        labels[s_of[best]] = c_of[best]
        if identity is not None:
            # Each satellite agrees with its person's anchors; two satellites of one
            # person may still contradict each other: both leave it.
            clash_labels, clash_a, clash_b = code_clashes(np.where(anchor, -1, labels),
                                                          identity)
            if len(clash_labels):
                width = int(identity[0].max()) + 1
                bad = np.concatenate([clash_labels * width + clash_a,
                                      clash_labels * width + clash_b])
                sats = np.flatnonzero(~anchor & (labels >= 0) & (identity[0] >= 0))
                leave = np.isin(labels[sats].astype(np.int64) * width + identity[0][sats], bad)
                labels[sats[leave]] = -1

    # 3. Satellites without an anchor: strict grouping among themselves, by links that
    # dominate every candidate of both ends, known persons and other satellites alike (as
    # in step 2, each satellite counted as one candidate): forty "Mohamed, about 35" met
    # by maraudes, each resembling many others, are not one man. Three sightings of one
    # man, equally alike, then stay apart too: counting only the known persons and the
    # weaker links as rivals joined more strangers (stress populations, tuning seeds:
    # pair precision 0.87 against 0.90, and 0.79 against 0.81 with few birth dates).
    alone = labels < 0
    if alone.any():
        pair_alone = alone[i] & alone[j]
        edges = pair_alone & (p >= satellite_threshold)
        if mutual_dominance:
            total = np.zeros(n)  # odds of each satellite to every candidate
            if len(s_of):
                first = run_starts(s_of)
                new = share["new"].to_numpy()[first]
                total[s_of[first]] = 1.0 / np.maximum(new, 1e-300) - 1.0
            # Satellites linked for certain (FEBRL's records without a first name that share
            # everything else) are one candidate, and never rivals of each other.
            sure = edges & (p >= SURE_LINK)
            group = _components(n, i[sure], j[sure])
            _add_rival_odds(total, group, i[pair_alone], j[pair_alone],
                            _odds(p[pair_alone]), n)
            edge_odds = _odds(p[edges])
            edge_share = np.minimum(edge_odds / (1.0 + total[i[edges]]),
                                    edge_odds / (1.0 + total[j[edges]]))
            edge_share[group[i[edges]] == group[j[edges]]] = 1.0
            keep = np.flatnonzero(edges)[edge_share >= attach_share]
            edges = np.zeros(len(p), dtype=bool)
            edges[keep] = True
        negative = pair_alone & (p < different_below)
        sat_labels = _constrained_components(
            n, i[edges], j[edges], p[edges],
            np.concatenate([ci, i[negative]]), np.concatenate([cj, j[negative]]), differ,
            identity,
        )
        labels[alone] = sat_labels[alone] + labels.max(initial=-1) + 1
    return pd.factorize(labels)[0]


def _add_rival_odds(total: np.ndarray, group: np.ndarray, i: np.ndarray, j: np.ndarray,
                    odds: np.ndarray, n: int) -> None:
    """Add to ``total`` of each satellite the odds of its best link to every other group
    of satellites (both ends of each pair ``i, j``), by ranges of satellites holding about
    `RIVAL_CHUNK` links each: the same sums in the same order as all at once (each
    satellite's links all fall in its range), without the temporaries of every link."""
    ends = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
    bounds = np.searchsorted(np.cumsum(ends), np.arange(RIVAL_CHUNK, ends.sum(), RIVAL_CHUNK))
    for lo, hi in zip(np.r_[0, bounds + 1], np.r_[bounds + 1, n], strict=True):
        left, right = (i >= lo) & (i < hi), (j >= lo) & (j < hi)
        a = np.concatenate([i[left], j[right]])
        b = np.concatenate([j[left], i[right]])
        o = np.concatenate([odds[left], odds[right]])
        rival = group[a] != group[b]
        a, o = a[rival], o[rival]
        key = a.astype(np.int64) * n + group[b[rival]]
        order = np.argsort(key, kind="stable")
        key, o = key[order], o[order]
        start = run_starts(key)
        if len(start):
            np.add.at(total, key[start] // n, np.maximum.reduceat(o, start))


def confidence(
    labels: np.ndarray, i: np.ndarray, j: np.ndarray, probability: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per record: (confidence of its person, its own best link inside the person).

    A person's confidence is the weakest attachment of one of its records (its best link
    inside the person) times the chance that no record outside belongs to it.
    """
    n = len(labels)
    same = labels[i] == labels[j]
    best_in = np.ones(n)
    sizes = np.bincount(labels)
    multi = sizes[labels] > 1
    best_in[multi] = 0.0
    if same.any():
        p_in = probability[same]
        maximum_into(best_in, i[same], p_in)
        maximum_into(best_in, j[same], p_in)
    best_out = np.zeros(n)
    if (~same).any():
        p_out = probability[~same]
        maximum_into(best_out, i[~same], p_out)
        maximum_into(best_out, j[~same], p_out)
    k = labels.max(initial=-1) + 1
    weakest = np.ones(k)
    np.minimum.at(weakest, labels, best_in)
    outside = np.zeros(k)
    np.maximum.at(outside, labels, best_out)
    person = weakest * (1 - outside)
    return person[labels], best_in
