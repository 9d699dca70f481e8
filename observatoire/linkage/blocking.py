"""Blocking: which pairs of records are compared at all.

Several passes, each a key made of a few features; a pair is a candidate if it shares the
key of at least one pass. The passes are chosen so that every kind of error of the field
still meets another pass: names are keyed by their consonant skeleton (transliteration,
accents, hyphens), in either order (swapped first and last names), and never together with
the full birth date only (placeholder dates, day/month swaps); records without a name meet
by initials and birth year, and count-night sightings by night and place.

Pairs are encoded as ``i * n + j`` with ``i < j`` in one int64 array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from observatoire.linkage.prepare import Features


@dataclass(frozen=True)
class BlockingReport:
    pairs: int
    per_rule: dict[str, int]
    skipped_blocks: int


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


def self_pairs(key: np.ndarray, max_block: int) -> tuple[np.ndarray, int]:
    """Pairs of records sharing ``key`` (>= 0), blocks over ``max_block`` records skipped."""
    n = len(key)
    idx = np.flatnonzero(key >= 0)
    if len(idx) < 2:
        return np.empty(0, np.int64), 0
    k = key[idx]
    order = np.argsort(k, kind="stable")
    idx, k = idx[order], k[order]
    _, starts, sizes = np.unique(k, return_index=True, return_counts=True)
    too_big = sizes > max_block
    skipped = int(too_big.sum())
    if skipped:
        keep = np.repeat(~too_big, sizes)
        idx, k = idx[keep], k[keep]
        sizes = sizes[~too_big]
    out = []
    largest = int(sizes.max(initial=0))
    for offset in range(1, largest):
        same = k[:-offset] == k[offset:]
        if not same.any():
            break
        a, b = idx[:-offset][same], idx[offset:][same]
        out.append(np.minimum(a, b) * n + np.maximum(a, b))
    pairs = np.concatenate(out) if out else np.empty(0, np.int64)
    return pairs, skipped


def cross_pairs(key: np.ndarray, left: np.ndarray, max_block: int) -> tuple[np.ndarray, int]:
    """Pairs (a record of ``left``, any other record) sharing ``key``."""
    n = len(key)
    valid = key >= 0
    frame = pd.DataFrame({"k": key[valid], "i": np.flatnonzero(valid)})
    sizes = frame["k"].map(frame["k"].value_counts())
    big = sizes > max_block
    skipped = int(frame.loc[big, "k"].nunique())
    frame = frame[~big]
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
    """The passes: (name, key per record, records that must be on one side or None)."""
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


def candidate_pairs(
    f: Features,
    *,
    link_only: bool = False,
    max_block: int = 1000,
    extra_rules: Sequence[Sequence[str]] = (),
) -> tuple[np.ndarray, np.ndarray, BlockingReport]:
    """Candidate pairs ``(i, j)`` with ``i < j``, each once, and a report of the passes.

    ``link_only`` keeps only pairs of records from different sources (linking files that
    are each free of duplicates, as FEBRL4).
    """
    chunks, per_rule, skipped = [], {}, 0
    for name, key, left in blocking_keys(f, extra_rules):
        if left is None:
            pairs, s = self_pairs(key, max_block)
        else:
            pairs, s = cross_pairs(key, left, max_block)
        per_rule[name] = len(pairs)
        skipped += s
        chunks.append(pairs)
    pairs = np.unique(np.concatenate(chunks)) if chunks else np.empty(0, np.int64)
    i, j = pairs // f.n, pairs % f.n
    if link_only:
        keep = f.source[i] != f.source[j]
        i, j = i[keep], j[keep]
    return i, j, BlockingReport(len(i), per_rule, skipped)
