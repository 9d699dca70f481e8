"""Blocking: which pairs of records are compared at all.

Several passes, each a key made of a few features; a pair is a candidate if it shares the
key of at least one pass. The passes are chosen so that every kind of error of the field
still meets another pass: names are keyed by their consonant skeleton (transliteration,
accents, hyphens), in either order (swapped first and last names), and never together with
the full birth date only (placeholder dates, day/month swaps); records without a name meet
by initials and birth year, and count-night sightings by night and place.

A block over ``max_block`` records (a common first name in a population of a million) is
not paired whole, which would be quadratic, nor dropped: it is split by birth year within
two years (an age-derived year sitting in every cell within `AGE_REACH_YEARS`), then by
commune and sex, and what is still too big is paired by a sorted neighbourhood
(`_neighbour_pairs`): each record with its nearest records in two sorts, so that the pairs
grow linearly with the population. A block within ``max_block`` is paired whole, as before.

Pairs are encoded as ``i * n + j`` with ``i < j`` in one int64 array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from observatoire.linkage.prepare import Features
from observatoire.linkage.sorted_runs import run_starts, stable_order


@dataclass(frozen=True)
class BlockingReport:
    pairs: int
    per_rule: dict[str, int]
    skipped_blocks: int  # blocks too big even split: paired by neighbourhood, not whole


def _codes(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    codes = pd.factorize(pd.Series(values, copy=False), use_na_sentinel=True)[0].astype(np.int64)
    codes[~valid] = -1
    return codes


def combine(*parts: np.ndarray) -> np.ndarray:
    """One int64 code per record from several integer codes; -1 if any part is -1."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    invalid = np.zeros(len(parts[0]), dtype=bool)
    for part in parts:
        part = np.asarray(part, dtype=np.int64)
        invalid |= part < 0
        key = key * (int(part.max(initial=0)) + 2) + part + 1
        # Re-factorise to keep the numbers small however many parts there are.
        key = pd.factorize(key)[0].astype(np.int64)
    key[invalid] = -1
    return key


def string_code(values: np.ndarray) -> np.ndarray:
    return _codes(values, values != "")


def distinct(codes: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (by sorting: numpy's hash-based `unique`
    takes minutes on tens of millions of pair codes)."""
    codes = np.sort(codes)
    return codes[run_starts(codes)]


def _block_pairs(idx: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of positions inside consecutive blocks of ``sizes`` records of ``idx``."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = np.arange(len(idx)) - starts  # rank inside its block
    after = np.repeat(sizes, sizes) - 1 - position  # records after it in its block
    a = np.repeat(np.arange(len(idx)), after)
    # 1, 2, ... after[k] for each k, without a Python loop.
    offsets = np.arange(len(a)) - np.repeat(np.cumsum(after) - after, after) + 1
    return idx[a], idx[a + offsets]


def _self_pairs(
    key: np.ndarray, max_block: int, rec: np.ndarray | None = None, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of records sharing ``key`` and the positions (in ``key``) of the entries in
    blocks over ``max_block``. ``key`` is per record, or per entry of ``rec`` (a record
    may then sit in several blocks: an age-derived year in every cell it may fall in);
    ``n`` records in all."""
    rec = np.arange(len(key)) if rec is None else rec
    n = len(key) if n is None else n
    idx = np.flatnonzero(key >= 0)
    if len(idx) < 2:
        return np.empty(0, np.int64), idx[:0]
    k = key[idx]
    order = stable_order(k)
    idx, k = idx[order], k[order]
    sizes = np.diff(np.r_[run_starts(k), len(k)])
    too_big = np.repeat(sizes > max_block, sizes)
    skipped = idx[too_big]
    idx, sizes = idx[~too_big], sizes[sizes <= max_block]
    a, b = _block_pairs(rec[idx], sizes)
    return np.minimum(a, b) * n + np.maximum(a, b), skipped


def _cross_pairs(
    key: np.ndarray, left: np.ndarray, max_block: int, rec: np.ndarray | None = None,
    n: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """As `_self_pairs`, only the pairs with a record of ``left`` (a mask per record)."""
    rec = np.arange(len(key)) if rec is None else rec
    n = len(key) if n is None else n
    valid = key >= 0
    frame = pd.DataFrame({"k": key[valid], "i": rec[valid], "at": np.flatnonzero(valid)})
    sizes = frame["k"].map(frame["k"].value_counts())
    big = (sizes > max_block).to_numpy()
    skipped = frame["at"].to_numpy()[big]
    frame = frame[~big][["k", "i"]]
    lefts = frame[left[frame["i"].to_numpy()]]
    if lefts.empty:
        return np.empty(0, np.int64), skipped
    joined = lefts.merge(frame, on="k", suffixes=("_a", "_b"))
    a, b = joined["i_a"].to_numpy(np.int64), joined["i_b"].to_numpy(np.int64)
    keep = a != b
    a, b = a[keep], b[keep]
    return np.minimum(a, b) * n + np.maximum(a, b), skipped


def _only(key: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.where(keep, key, -1)


def _year_buckets(year: np.ndarray, width: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Two shifted grids of ``width`` years: years within 2 share a cell in one of them."""
    valid = ~np.isnan(year)
    y = np.nan_to_num(year, nan=0.0)
    a = np.where(valid, np.floor(y / width), -1).astype(np.int64)
    b = np.where(valid, np.floor((y + width / 2) / width), -1).astype(np.int64)
    return a, b


def _grid_cells(f: Features, cell_m: float, shift: float) -> np.ndarray:
    """Cells of a square grid of ``cell_m`` metres (shifted by ``shift`` of a cell)."""
    valid = ~np.isnan(f.lat) & ~np.isnan(f.lon) & (f.night >= 0)
    metres_lat = np.nan_to_num(f.lat) * 6_371_000.0
    metres_lon = np.nan_to_num(f.lon) * 6_371_000.0 * np.cos(np.nan_to_num(f.lat))
    cx = np.floor(metres_lat / cell_m + shift).astype(np.int64)
    cy = np.floor(metres_lon / cell_m + shift).astype(np.int64)
    cx, cy = cx - cx.min(initial=0), cy - cy.min(initial=0)
    out = combine(cx, cy, f.night - f.night[valid].min(initial=0) if valid.any() else f.night)
    out[~valid] = -1
    return out


def blocking_keys(
    f: Features, extra_rules: Sequence[Sequence[str]] = ()
) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """The passes: (name, key per record, records that must be on one side or None).

    Made once per features and rules (blocking and training both use them)."""
    cache_key = ("blocking", *("+".join(rule) for rule in extra_rules))
    if cache_key not in f.codes:
        f.codes[cache_key] = tuple(_blocking_keys(f, extra_rules))
    return list(f.codes[cache_key])


def _blocking_keys(
    f: Features, extra_rules: Sequence[Sequence[str]] = ()
) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    names = f.names
    first_skel, last_skel = string_code(names["first_skel"]), string_code(names["last_skel"])
    # Skeletons of first and last names share one code space for the order-free key.
    both = pd.factorize(pd.Series(np.concatenate([names["first_skel"], names["last_skel"]])))[0]
    fs, ls = both[: f.n].astype(np.int64), both[f.n :].astype(np.int64)
    fs[names["first_skel"] == ""] = -1
    ls[names["last_skel"] == ""] = -1
    name_pair = combine(np.minimum(fs, ls), np.maximum(fs, ls))
    name_pair[(fs < 0) | (ls < 0)] = -1
    year = np.where(f.birth_year > 0, f.birth_year, -1)
    year_a, year_b = _year_buckets(f.year_estimate)
    ini = pd.factorize(pd.Series(np.concatenate([f.initials, f.initials_rev])))[0]
    ini_a, ini_b = ini[: f.n].astype(np.int64), ini[f.n :].astype(np.int64)
    ini_set = np.minimum(ini_a, ini_b)
    ini_set[f.initials == ""] = -1
    sex = f.sex.astype(np.int64)
    no_full_name = ~f.has_names
    no_last_name = names["last_join"] == ""
    no_name = no_last_name & (names["first_join"] == "")
    rules: list[tuple[str, np.ndarray, np.ndarray | None]] = [
        ("names_any_order", name_pair, None),
        ("last_name_year", combine(last_skel, year), None),
        ("first_name_year_a", combine(first_skel, year_a), None),
        ("first_name_year_b", combine(first_skel, year_b), None),
        ("birth_date_initials", combine(string_code(f.birth_date), ini_set), None),
        # Birth date within one commune: typos in both names, or a name missing.
        ("birth_date_commune", combine(string_code(f.birth_date), string_code(f.commune)), None),
        ("initials_year_a", combine(ini_set, year_a, sex), no_full_name),
        ("initials_year_b", combine(ini_set, year_b, sex), no_full_name),
        ("first_name_commune", combine(first_skel, string_code(f.commune), sex), no_last_name),
        # A first name alone (maraudes) also meets the records with that first name and no
        # commune: partners often leave it empty.
        ("first_name_sex", _only(combine(first_skel, sex), no_last_name | (f.commune == "")),
         no_last_name),
        # A sighting without any name meets the people of its profile: not to be merged
        # (it seldom can), but to tell whether it is likely someone already known.
        ("profile_a", combine(year_a, sex, string_code(f.commune)), no_name),
        ("profile_b", combine(year_b, sex, string_code(f.commune)), no_name),
        ("night_place_a", _grid_cells(f, 1000.0, 0.0), None),
        ("night_place_b", _grid_cells(f, 1000.0, 0.5), None),
    ]
    for columns in extra_rules:
        rules.append(("+".join(columns), combine(*(string_code(f.extras[c]) for c in columns)),
                      None))
    return rules


# An age (a maraude's "about 40", a count night's decade, a 115 caller's stated age) says
# the birth year within a few years only: in a block split by birth year, an age-derived
# year sits in every cell within this many years of it, or it would lose the candidates
# born a cell away (at 110,000 records, ``max_block`` 100 against 1000: the estimate's
# units read the fewer candidates as more new people).
AGE_REACH_YEARS = 5.0


def _year_cells(f: Features, width: int = 4) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per grid of `_year_buckets`, (record, cell) entries: a stated year (or a full date)
    in its cell of each grid, an age-derived year in every cell of the first grid within
    `AGE_REACH_YEARS` (the shifted grid adds nothing to a range of cells); no entry
    without any year."""
    year_a, year_b = _year_buckets(f.year_estimate, width)
    precise = np.flatnonzero((year_a >= 0) & ~f.year_from_age)
    aged = np.flatnonzero(f.year_from_age & ~np.isnan(f.year_estimate))
    y = f.year_estimate[aged]
    low = np.floor((y - AGE_REACH_YEARS) / width).astype(np.int64)
    high = np.floor((y + AGE_REACH_YEARS) / width).astype(np.int64)
    count = high - low + 1
    rec = np.repeat(aged, count)
    cell = np.repeat(low, count) + (np.arange(len(rec)) - np.repeat(np.cumsum(count) - count,
                                                                    count))
    # Cells are shifted to be non-negative codes (`combine` reads -1 as "none").
    base = min(int(year_a[precise].min(initial=0)), int(cell.min(initial=0)))
    grid_a = (np.concatenate([precise, rec]),
              np.concatenate([year_a[precise], cell]) - base)
    grid_b = (precise, year_b[precise] - base)
    return grid_a, grid_b


class Refinements(NamedTuple):
    grids: tuple[tuple[np.ndarray, np.ndarray], ...]  # (record, cell) entries per grid
    place: np.ndarray  # commune and sex, per record
    yearless: np.ndarray  # records without any year (no date, year or age)
    orders: tuple[np.ndarray, ...]  # ranks of the records in each neighbourhood sort


def refinements(f: Features) -> Refinements:
    """Keys that split a block too big to pair whole: birth year within 2 (two shifted
    grids; an age within `AGE_REACH_YEARS`), then commune and sex; a record without any
    year meets the records of its place. A big population makes big blocks of common
    names; cut by these, the pairs they hold stay near-linear in the number of records."""
    place = combine(np.where(f.commune == "", 0, string_code(f.commune) + 1),
                    f.sex.astype(np.int64) + 1)
    return Refinements(_year_cells(f), place, np.isnan(f.year_estimate), _neighbour_orders(f))


def _rank(*keys: np.ndarray) -> np.ndarray:
    """Rank of each record when sorted by ``keys`` (the first the primary one)."""
    rank = np.empty(len(keys[0]), dtype=np.int64)
    rank[np.lexsort(keys[::-1])] = np.arange(len(keys[0]))
    return rank


def _neighbour_orders(f: Features) -> tuple[np.ndarray, ...]:
    """The sorts of `_neighbour_pairs`: by last-name skeleton then year (namesakes of one
    first name differ by their last name), and by year then where and when the record was
    seen (a maraude's first name and age: the same person is met at the same places)."""
    year = np.nan_to_num(f.year_estimate, nan=-1.0)
    last = string_code(f.names["last_skel"])
    place = np.nan_to_num(f.lat, nan=9.0) + np.nan_to_num(f.lon, nan=9.0)
    return (_rank(last, year, f.birth_date), _rank(np.round(year), place, f.night))


def _neighbour_pairs(
    block: np.ndarray, rec: np.ndarray, refine: Refinements, max_block: int, n: int
) -> np.ndarray:
    """Pairs inside blocks still over ``max_block`` records after the splits by year and
    place (``block`` per entry, ``rec`` its record): a sorted neighbourhood instead of
    every pair. Per sort of `_neighbour_orders`, the entries of a block in that order,
    each paired with the next ``max_block // 8`` of its block: at most ``max_block // 4``
    pairs per entry in all, half as many as in a block of ``max_block`` records, so that
    the pairs grow linearly with the population, not with the square of a common name
    (``max_block // 4`` found a few more pairs but took the million records from 7.4 to
    10.2 GB: 73.6 million pairs against 61.6 million)."""
    window = max(max_block // 8, 1)
    out = []
    for rank in refine.orders:
        order = np.lexsort((rank[rec], block))
        b, r = block[order], rec[order]
        for step in range(1, min(window, len(r) - 1) + 1):
            same = b[step:] == b[:-step]
            lo, hi = r[:-step][same], r[step:][same]
            out.append(np.minimum(lo, hi) * n + np.maximum(lo, hi))
    return np.concatenate(out) if out else np.empty(0, np.int64)


def _mask(n: int, records: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[records] = True
    return out


def _refined_pairs(
    key: np.ndarray,
    left: np.ndarray | None,
    max_block: int,
    refine: Refinements,
) -> tuple[list[np.ndarray], int]:
    """Pairs of ``key``; its blocks over ``max_block`` records paired again by ``key`` and
    birth year (either grid of `refinements`), then also by place; blocks still too big
    are paired by `_neighbour_pairs` (their number is returned). A record without any
    year is paired with
    the records of its place in its block (by the same key and place): a year cannot
    put it anywhere."""
    n = len(key)

    def pair(k: np.ndarray, rec: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if left is None:
            return _self_pairs(k, max_block, rec, n)
        return _cross_pairs(k, left, max_block, rec, n)

    pairs, big = pair(key)
    out, still_big = [pairs], []
    if len(big):
        grids, place, yearless, _ = refine
        in_big = _mask(n, big)
        if (yearless & in_big).any():
            by_place = combine(np.where(in_big, key, -1), place)
            pairs, crowded = _cross_pairs(by_place, yearless, max_block)
            if len(crowded):
                around = _neighbour_pairs(by_place[crowded], crowded, refine, max_block, n)
                pairs = np.concatenate([pairs, around[yearless[around // n]
                                                      | yearless[around % n]]])
            if left is not None:
                pairs = pairs[left[pairs // n] | left[pairs % n]]
            out.append(pairs)
        for rec, cell in grids:
            rec, cell = rec[in_big[rec]], cell[in_big[rec]]
            by_year = combine(key[rec], cell)
            pairs, big_year = pair(by_year, rec)
            out.append(pairs)
            if len(big_year):
                rec = rec[big_year]
                by_place = combine(by_year[big_year], place[rec])
                pairs, remaining = pair(by_place, rec)
                out.append(pairs)
                if len(remaining):
                    pairs = _neighbour_pairs(by_place[remaining], rec[remaining], refine,
                                             max_block, n)
                    out.append(pairs if left is None
                               else pairs[left[pairs // n] | left[pairs % n]])
                    still_big.append(rec[remaining])
    skipped = len(np.unique(key[np.concatenate(still_big)])) if still_big else 0
    return out, skipped


def candidate_pairs(
    f: Features,
    *,
    link_only: bool = False,
    max_block: int = 1000,
    extra_rules: Sequence[Sequence[str]] = (),
) -> tuple[np.ndarray, np.ndarray, BlockingReport]:
    """Candidate pairs ``(i, j)`` with ``i < j``, each once, and a report of the passes.

    ``link_only`` keeps only pairs of records from different sources (linking files that
    are each free of duplicates, as FEBRL4). A block over ``max_block`` records is not
    dropped but split (`refinements`).
    """
    chunks, per_rule, skipped = [], {}, 0
    extra = refinements(f)
    for name, key, left in blocking_keys(f, extra_rules):
        parts, s = _refined_pairs(key, left, max_block, extra)
        pairs = distinct(np.concatenate(parts))
        if link_only:
            pairs = pairs[f.source[pairs // f.n] != f.source[pairs % f.n]]
        per_rule[name] = len(pairs)
        skipped += s
        chunks.append(pairs)
    pairs = distinct(np.concatenate(chunks)) if chunks else np.empty(0, np.int64)
    i, j = pairs // f.n, pairs % f.n
    return i, j, BlockingReport(len(i), per_rule, skipped)
