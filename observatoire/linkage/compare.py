"""Comparison vectors: for each candidate pair, one agreement level per comparison.

Level ``-1`` means *no information* (a value missing on either side): it contributes
nothing to the match weight, it is never a disagreement. Higher levels mean closer values;
level 0 is a disagreement. Pure numpy; string similarity by RapidFuzz (Jaro-Winkler on
clear names) or the Dice coefficient of Bloom filters (pseudonymised names).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from observatoire.linkage.prepare import Features

EARTH_RADIUS_M = 6_371_000.0
SAME_NIGHT_MINUTES = 12 * 60
# Outreach teams meet the same person around the same spot over a fortnight or so.
SAME_FORTNIGHT_MINUTES = 14 * 24 * 60
JARO_WINKLER_LEVELS = (0.92, 0.80)  # "very close", "close" on clear names
DICE_LEVELS = (0.73, 0.54)  # the same on Bloom filters (see `_name_level`)
SWAPPED_BIGRAMS = 3  # bigrams that a swap of two neighbouring letters changes, at most
COMPARE_THREADS = 2  # chunks of pairs compared at once (see `compare`)


@dataclass(frozen=True)
class Comparison:
    name: str
    levels: tuple[str, ...]  # French labels, level 0 first


NAME_LEVELS = ("différent", "proche", "phonétique ou très proche", "identique")
COMPARISONS: tuple[Comparison, ...] = (
    Comparison("first_name", NAME_LEVELS),
    Comparison("last_name", NAME_LEVELS),
    Comparison(
        "birth",
        (
            "différente",
            "âge compatible (5 ans)",
            "année à 1 an près",
            "même année",
            "jour et mois inversés",
            "identique",
        ),
    ),
    Comparison("initials", ("différentes", "inversées", "identiques")),
    Comparison("sex", ("différent", "identique")),
    Comparison("commune", ("différente", "identique")),
    Comparison("night_place", ("loin (même nuit)", "à moins de 1,5 km", "à moins de 250 m")),
    Comparison("fortnight_place",
               ("loin (même quinzaine)", "à moins de 1,5 km", "à moins de 500 m")),
)
EXTRA_KINDS = {
    "exact": ("différent", "identique"),
    "string": ("différent", "proche", "très proche", "identique"),
}


def comparisons_for(extras: Mapping[str, str]) -> tuple[Comparison, ...]:
    return COMPARISONS + tuple(Comparison(c, EXTRA_KINDS[k]) for c, k in extras.items())


def _jaro_winkler(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jaro-Winkler similarity of ``a[k]`` and ``b[k]``, computed once per distinct pair of
    values (names repeat: a million pairs hold a few hundred thousand distinct ones)."""
    if len(a) == 0:
        return np.empty(0)
    codes, values = pd.factorize(np.concatenate([a, b]))
    size = max(len(values), 1)
    pair = codes[: len(a)].astype(np.int64) * size + codes[len(a) :]
    inverse, distinct = pd.factorize(pair)
    sims = cpdist(list(values[distinct // size]), list(values[distinct % size]),
                  scorer=JaroWinkler.normalized_similarity, workers=-1)
    return np.asarray(sims)[inverse]


def _dice(bits: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 500_000) -> np.ndarray:
    counts = np.bitwise_count(bits).sum(axis=1, dtype=np.int32)
    out = np.empty(len(i))
    for start in range(0, len(i), chunk):
        a, b = i[start : start + chunk], j[start : start + chunk]
        common = np.bitwise_count(bits[a] & bits[b]).sum(axis=1, dtype=np.int32)
        total = counts[a] + counts[b]
        out[start : start + chunk] = np.where(total > 0, 2.0 * common / np.maximum(total, 1), 0)
    return out


def _similarity(f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    if f.encoded:
        return _dice_between(f, fa, fb, i, j)
    # Once per distinct pair of names, found by their integer codes.
    first, last = f.shared_codes("first_join", "last_join")
    code = {"first": first, "last": last}
    names = _names_by_code(f)
    size = len(names)
    inverse, distinct = pd.factorize(code[fa][i].astype(np.int64) * size + code[fb][j])
    if len(i) == 0:
        return np.empty(0)
    sims = cpdist(list(names[distinct // size]), list(names[distinct % size]),
                  scorer=JaroWinkler.normalized_similarity, workers=-1)
    return np.asarray(sims)[inverse]


def _names_by_code(f: Features) -> np.ndarray:
    """The name of each code of ``shared_codes("first_join", "last_join")``; made once."""
    key = ("names_by_code",)
    if key not in f.codes:
        first, last = f.shared_codes("first_join", "last_join")
        names = np.empty(int(max(first.max(initial=0), last.max(initial=0))) + 1, dtype=object)
        names[last] = f.names["last_join"]
        names[first] = f.names["first_join"]
        f.codes[key] = (names,)
    return f.codes[key][0]


def _dice_between(f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    assert f.bloom is not None
    if fa == fb:
        return _dice(f.bloom[fa], i, j)
    # Both filters share one key and size, so a first name can be compared to a last name.
    stacked = np.concatenate([f.bloom[fa], f.bloom[fb]])
    return _dice(stacked, i, j + f.n)


def _one_swap_apart(
    f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray, sim: np.ndarray
) -> np.ndarray:
    """Whether two filters share as many bigrams as one swap of neighbouring letters leaves:
    all but three (``rene`` / ``rnee`` keep ``_r``, ``ne``, ``e_`` of five), so a Dice of at
    least ``1 - 3 / bigrams``. The number of bigrams is read from the set bits: ``b``
    bigrams set ``BLOOM_BITS * (1 - (1 - 1 / BLOOM_BITS) ** (BLOOM_K * b))`` in expectation.
    Anagrams further apart (``laurent`` / ``renault``: four of eight shared) fall short."""
    from observatoire.pseudonymise import BLOOM_BITS, BLOOM_K

    assert f.bloom is not None
    set_bits = (np.bitwise_count(f.bloom[fa][i]).sum(axis=1)
                + np.bitwise_count(f.bloom[fb][j]).sum(axis=1)) / 2
    share = np.minimum(set_bits, BLOOM_BITS - 1) / BLOOM_BITS
    bigrams = np.log1p(-share) / (BLOOM_K * np.log1p(-1 / BLOOM_BITS))
    return sim >= 1 - SWAPPED_BIGRAMS / np.maximum(bigrams, SWAPPED_BIGRAMS)


def _name_level(
    f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray, sim: np.ndarray
) -> np.ndarray:
    missing = f.empty(f"{fa}_join")[i] | f.empty(f"{fb}_join")[j]

    def same(kind: str) -> np.ndarray:
        first, last = f.shared_codes(f"first_{kind}", f"last_{kind}")
        code = {"first": first, "last": last}
        return code[fa][i] == code[fb][j]

    # Dice of bigram sets falls faster than Jaro-Winkler (one letter changed in "amine" gives
    # 0.67 against 0.92): its thresholds are the Jaro-Winkler ones matched by rank, i.e. the
    # same share of pairs of distinct names above each (benchmarks/calibrate_dice.py).
    high, low = DICE_LEVELS if f.encoded else JARO_WINKLER_LEVELS
    level = np.zeros(len(i), dtype=np.int8)
    level[same("skel") | (sim >= low)] = 1
    level[same("phon") | (sim >= high)] = 2
    if f.encoded:
        # Two neighbouring letters swapped ("rene" / "rnee": Jaro-Winkler 0.93, Dice 0.60)
        # is one typo for Jaro-Winkler and up to three changed bigrams for Dice: equal
        # sorted letters, filters no further apart than such a swap leaves them, raise a
        # close name (same skeleton or close filters) to Jaro-Winkler's "very close".
        # Other anagrams ("leon" / "noel", "laurent" / "renault") stay where they are.
        # Records encoded before the sorted letters existed have none: no information.
        letters = same("letters") & ~f.empty(f"{fa}_letters")[i] & ~f.empty(f"{fb}_letters")[j]
        at = np.flatnonzero(letters & (level >= 1))
        level[at[_one_swap_apart(f, fa, fb, i[at], j[at], sim[at])]] = 2
    level[same("join")] = 3
    level[missing] = -1
    return level


def _names(f: Features, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s_ff = _similarity(f, "first", "first", i, j)
    s_ll = _similarity(f, "last", "last", i, j)
    full = f.has_names[i] & f.has_names[j]
    swapped = np.zeros(len(i), dtype=bool)
    if full.any():
        fi, fj = i[full], j[full]
        s_fl = _similarity(f, "first", "last", fi, fj)
        s_lf = _similarity(f, "last", "first", fi, fj)
        swapped[full] = (s_fl + s_lf) > (s_ff[full] + s_ll[full]) + 0.1
    first = _name_level(f, "first", "first", i, j, s_ff)
    last = _name_level(f, "last", "last", i, j, s_ll)
    if swapped.any():
        si, sj = i[swapped], j[swapped]
        first[swapped] = _name_level(f, "first", "last", si, sj, _similarity(f, "first", "last",
                                                                            si, sj))
        last[swapped] = _name_level(f, "last", "first", si, sj, _similarity(f, "last", "first",
                                                                           si, sj))
    return first, last


def _birth(f: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    ya, yb = f.year_estimate[i], f.year_estimate[j]
    gap = np.abs(ya - yb)
    level = np.full(len(i), -1, dtype=np.int8)
    known = ~np.isnan(gap)
    level[known] = 0
    from_age = f.year_from_age[i] | f.year_from_age[j]
    # "Compatible" is for an age: two stated birth years 2 to 5 years apart disagree.
    level[known & from_age & (gap <= 5.5)] = 1
    years = known & ~from_age
    yr_gap = np.abs(f.birth_year[i] - f.birth_year[j])
    level[years & (yr_gap <= 1)] = 2
    level[known & from_age & (gap <= 1.5)] = 2
    level[years & (yr_gap == 0)] = 3
    # Full dates compare as strings or keyed tokens alike.
    date, swapped = f.shared_codes("birth_date", "birth_date_swapped")
    da, db = date[i], date[j]
    known_date = ~f.empty("birth_date")
    dates = known_date[i] & known_date[j]
    level[dates & (swapped[i] == db)] = 4
    level[dates & (da == db)] = 5
    return level


def _equal(a: np.ndarray, b: np.ndarray, missing: np.ndarray) -> np.ndarray:
    level = (a == b).astype(np.int8)
    level[missing] = -1
    return level


def _night_place(f: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    # Only sightings of the same night say anything here: people move between days.
    return _place(f, i, j, 0.0, SAME_NIGHT_MINUTES, (250.0, 1500.0))


def _fortnight_place(f: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    # Sightings of other days within a fortnight (outreach rounds): a wider radius.
    return _place(f, i, j, SAME_NIGHT_MINUTES, SAME_FORTNIGHT_MINUTES, (500.0, 1500.0))


def _place(
    f: Features, i: np.ndarray, j: np.ndarray, after: float, within: float,
    radii: tuple[float, float],
) -> np.ndarray:
    """Distance level (0 far, 1 and 2 within ``radii`` metres) of two placed sightings
    more than ``after`` and at most ``within`` minutes apart; -1 for other pairs."""
    level = np.full(len(i), -1, dtype=np.int8)
    # Distances only for those pairs (most records have no place).
    placed = ~np.isnan(f.lat) & ~np.isnan(f.lon) & ~np.isnan(f.minutes)
    both = np.flatnonzero(placed[i] & placed[j])
    a, b = i[both], j[both]
    gap = np.abs(f.minutes[a] - f.minutes[b])
    same = (gap <= within) & ((gap > after) if after > 0 else True)
    a, b, both = a[same], b[same], both[same]
    lat1, lat2, lon1, lon2 = f.lat[a], f.lat[b], f.lon[a], f.lon[b]
    hav = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(hav, 0, 1)))
    level[both] = np.where(metres <= radii[0], 2, np.where(metres <= radii[1], 1, 0))
    return level


def _extra(values: np.ndarray, kind: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    a, b = values[i], values[j]
    missing = (a == "") | (b == "")
    if kind == "exact":
        return _equal(a, b, missing)
    sim = _jaro_winkler(a, b)
    level = np.zeros(len(i), dtype=np.int8)
    level[sim >= 0.75] = 1
    level[sim >= 0.9] = 2
    level[a == b] = 3
    level[missing] = -1
    return level


def _warm(f: Features) -> None:
    """Make the per-record codes and masks the comparisons share, before threads use them."""
    for kind in ("join", "phon", "skel"):
        f.shared_codes(f"first_{kind}", f"last_{kind}")
    if f.encoded:
        f.shared_codes("first_letters", "last_letters")
        for column in ("first_letters", "last_letters"):
            f.empty(column)
    else:
        _names_by_code(f)
    f.shared_codes("birth_date", "birth_date_swapped")
    f.shared_codes("initials", "initials_rev")
    f.shared_codes("commune")
    for column in ("first_join", "last_join", "birth_date", "initials", "commune"):
        f.empty(column)


def compare(
    f: Features,
    i: np.ndarray,
    j: np.ndarray,
    extras: Mapping[str, str] | None = None,
    chunk: int = 2_000_000,
) -> np.ndarray:
    """The comparison matrix (pairs x `comparisons_for(extras)`), int8 levels, -1 = unknown.

    Pairs go ``chunk`` at a time: the temporary arrays of a chunk (names, similarities) weigh
    tens of times its int8 levels. Chunks run on two threads (numpy, pandas and RapidFuzz
    release the GIL for most of the work); each lands at its own rows, so the result is
    the same as one after the other.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if len(i) <= chunk:
        return _compare(f, i, j, extras)
    out = np.empty((len(i), len(comparisons_for(extras or {}))), dtype=np.int8)
    _warm(f)

    def run(start: int) -> None:
        stop = start + chunk
        out[start:stop] = _compare(f, i[start:stop], j[start:stop], extras)

    with ThreadPoolExecutor(max_workers=COMPARE_THREADS) as pool:
        for done in pool.map(run, range(0, len(i), chunk)):
            del done  # re-raises a chunk's exception here
    return out


def _compare(
    f: Features, i: np.ndarray, j: np.ndarray, extras: Mapping[str, str] | None
) -> np.ndarray:
    first, last = _names(f, i, j)
    # Initials only speak when a name is missing on one side, else they repeat the names.
    no_initials = f.empty("initials")
    ini_missing = no_initials[i] | no_initials[j] | (f.has_names[i] & f.has_names[j])
    ini, ini_rev = f.shared_codes("initials", "initials_rev")
    initials = np.zeros(len(i), dtype=np.int8)
    initials[ini[i] == ini_rev[j]] = 1
    initials[ini[i] == ini[j]] = 2
    initials[ini_missing] = -1
    (commune,) = f.shared_codes("commune")
    no_commune = f.empty("commune")
    columns = [
        first,
        last,
        _birth(f, i, j),
        initials,
        _equal(f.sex[i], f.sex[j], (f.sex[i] < 0) | (f.sex[j] < 0)),
        _equal(commune[i], commune[j], no_commune[i] | no_commune[j]),
        _night_place(f, i, j),
        _fortnight_place(f, i, j),
    ]
    for column, kind in (extras or {}).items():
        columns.append(_extra(f.extras[column], kind, i, j))
    return np.column_stack(columns).astype(np.int8) if len(i) else np.empty(
        (0, len(columns)), np.int8
    )


def cannot_be_one(f: Features, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Pairs that no chain of links may put in one person: identifiers that contradict
    each other (`Identities.clash`: sexes, birth dates, years or ages).

    (Last names different at every level were tried too: more precision, but as much recall
    lost on the second sample seed, and a wider gap on pseudonymised names.)
    """
    ids = identities(f)
    return ids.clash(ids.code[np.asarray(i, dtype=np.int64)],
                     ids.code[np.asarray(j, dtype=np.int64)])


# A stated or guessed age (a maraude's "about 40", a count-night age band) against any
# other birth information: further apart than this, two people. The bands and guesses of
# the field are a decade wide; two of them may each be off by half of it.
AGE_TOLERANCE_YEARS = 10.5


def _digits_apart(a: np.ndarray, b: np.ndarray, width: int = 8) -> np.ndarray:
    """How many of the ``width`` decimal digits of ``a`` and ``b`` differ."""
    out = np.zeros(len(a), dtype=np.int64)
    a, b = a.astype(np.int64), b.astype(np.int64)
    for _ in range(width):
        out += (a % 10) != (b % 10)
        a, b = a // 10, b // 10
    return out


@dataclass(frozen=True)
class Identities:
    """The identifiers that can contradict, once per distinct combination.

    ``code`` gives each record the index of its combination (sex, birth year, full date,
    year estimated from an age), or -1 when it carries none of them: a person's records
    share few combinations, so contradictions inside a person are checked among its
    distinct combinations, not among all its pairs of records.
    """

    code: np.ndarray  # per record
    sex: np.ndarray  # per combination: 0 F, 1 M, -1 unknown
    year: np.ndarray  # birth year (stated or of a full date), -1 unknown
    date: np.ndarray  # YYYYMMDD of a clear full date, 0 when none or encoded
    token: np.ndarray  # code of the full date (clear or keyed), -1 when none
    swapped: np.ndarray  # code of the date with day and month swapped, -1 when none
    age_year: np.ndarray  # year estimated from an age, NaN unless the only birth information

    def clash(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether combinations ``a[k]`` and ``b[k]`` cannot be one person (``-1``: never).

        Different known sexes; two full dates that no known error pattern relates (the same,
        day and month swapped, one digit typed wrong, or the year one off); two birth years
        more than one year apart; an age further than `AGE_TOLERANCE_YEARS` from the other
        side's birth year or age. Keyed dates only show equality: two different keyed dates
        contradict only through their years. A 01/01 date is a year (see `prepare`).
        """
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        known = (a >= 0) & (b >= 0)
        a, b = np.maximum(a, 0), np.maximum(b, 0)
        sa, sb = self.sex[a], self.sex[b]
        out = (sa >= 0) & (sb >= 0) & (sa != sb)
        ya, yb = self.year[a], self.year[b]
        years = (ya > 0) & (yb > 0)
        year_gap = np.abs(ya - yb)
        ta, tb = self.token[a], self.token[b]
        dates = (ta >= 0) & (tb >= 0)
        same = (ta == tb) | (self.swapped[a] == tb) | (self.swapped[b] == ta)
        da, db = self.date[a], self.date[b]
        clear = dates & (da > 0) & (db > 0)
        typo = clear & (_digits_apart(da, db) <= 1)
        year_off = clear & (da % 10000 == db % 10000) & (year_gap <= 1)
        # Keyed dates: only their years can tell them apart.
        loose = dates & ~clear & (year_gap <= 1)
        out |= dates & ~(same | typo | year_off | loose)
        out |= years & ~dates & (year_gap > 1)
        ea = np.where(ya > 0, ya + 0.5, self.age_year[a])
        eb = np.where(yb > 0, yb + 0.5, self.age_year[b])
        aged = ~years & ~np.isnan(ea) & ~np.isnan(eb)
        with np.errstate(invalid="ignore"):
            out |= aged & (np.abs(ea - eb) > AGE_TOLERANCE_YEARS)
        return out & known


def identities(f: Features) -> Identities:
    """The `Identities` of prepared features; made once per features."""
    key = ("identities",)
    if key not in f.codes:
        f.codes[key] = (_identities(f),)
    return f.codes[key][0]


def _identities(f: Features) -> Identities:
    token, swapped = f.shared_codes("birth_date", "birth_date_swapped")
    token = np.where(f.empty("birth_date"), -1, token).astype(np.int64)
    swapped = np.where(f.empty("birth_date_swapped"), -1, swapped).astype(np.int64)
    month, day = f.birth_month.astype(np.int64), f.birth_day.astype(np.int64)
    date = np.where((token >= 0) & (month > 0) & (day > 0),
                    f.birth_year.astype(np.int64) * 10000 + month * 100 + day, 0)
    year = np.where(f.birth_year > 0, f.birth_year, -1).astype(np.int64)
    age_year = np.where(f.year_from_age, f.year_estimate, np.nan)
    age_bucket = np.where(np.isnan(age_year), -1, np.floor(np.nan_to_num(age_year) * 4))
    sex = f.sex.astype(np.int64)
    table = pd.DataFrame({"sex": sex, "year": year, "date": date, "token": token,
                          "swapped": swapped, "age": age_bucket.astype(np.int64)})
    code, distinct = pd.factorize(pd.MultiIndex.from_frame(table))
    first = np.full(len(distinct), -1, dtype=np.int64)
    first[code[::-1]] = np.arange(len(code))[::-1]  # a record of each combination
    none = (sex < 0) & (year < 0) & (token < 0) & np.isnan(age_year)
    code = np.where(none, -1, code).astype(np.int64)
    return Identities(code, sex[first], year[first], date[first], token[first],
                      swapped[first], age_year[first])
