"""Comparisons: for each candidate pair, one agreement level per comparison.

A `Comparison` describes itself, as Splink's ``Comparison`` does: its name, its French
label, its ordered `ComparisonLevel`s (level 0 a disagreement, higher levels closer values,
each with its label and, when a shared value decides it, the column whose term frequencies
adjust it), how it computes the level of each pair (`Comparison.compare`), the training
session that forces it to agree (`TrainingSession`: EM keeps its ``m`` fixed there) and the
extra record columns it reads. Training, scoring, term frequencies and the model's table
read all of it from the comparison, by name; adding one means writing one object, and
putting it in `COMPARISONS` (or `LinkageSettings.comparisons`).

Level ``-1`` means *no information* (a value missing on either side): it contributes
nothing to the match weight, it is never a disagreement. Pure numpy; string similarity by
RapidFuzz (Jaro-Winkler on clear names) or the Dice coefficient of Bloom filters
(pseudonymised names: a name comparison carries its thresholds for both).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
from rapidfuzz.distance import JaroWinkler
from rapidfuzz.process import cpdist

from observatoire.linkage.prepare import Features
from observatoire.model import ObservatoireError

EARTH_RADIUS_M = 6_371_000.0
SAME_NIGHT_MINUTES = 12 * 60
# Outreach teams meet the same person around the same spot over a fortnight or so.
SAME_FORTNIGHT_MINUTES = 14 * 24 * 60
JARO_WINKLER_LEVELS = (0.92, 0.80)  # "very close", "close" on clear names
DICE_LEVELS = (0.73, 0.54)  # the same on Bloom filters (see `NameComparison`)
SWAPPED_BIGRAMS = 3  # bigrams that a swap of two neighbouring letters changes, at most
# One letter added or dropped changes 1.5 bigrams per name on average, one changed letter 2:
# the threshold halfway (see `_one_letter_apart`), for names of three letters or more.
DROPPED_BIGRAMS = 1.75
MIN_DROPPED_BIGRAMS = 3.5
COMPARE_THREADS = 2  # chunks of pairs compared at once (see `compare`)


# --- what a comparison is ----------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonLevel:
    """One agreement level of a comparison.

    ``tf_column``: for a level that a value shared by both records decides (the same name,
    the same phonetic key), the `Features` column holding that value. The ``u`` of such a
    pair is then how often a record carries the pair's value, in the data being linked
    (term-frequency adjustment, Splink's ``tf_adjustment_column``): agreeing on *Mohamed*
    says less than agreeing on *Iaremtchouk*.
    """

    label: str  # French, for reports and the review page
    tf_column: str | None = None


@dataclass(frozen=True)
class TrainingSession:
    """Pairs that a blocking key forces to agree, on which EM estimates the ``m`` of the
    other comparisons while those trained in it (their ``session`` is this one) keep theirs
    fixed: agreement there is the blocking rule's doing, not evidence (Splink's training
    sessions).

    ``key(features, blocking_keys)`` gives one integer code per record, ``-1`` when the
    record has none; ``blocking_keys`` maps the name of each blocking pass to its key
    (`observatoire.linkage.blocking.blocking_keys`).
    """

    name: str
    key: Callable[[Features, Mapping[str, np.ndarray]], np.ndarray]

    def agree(
        self, f: Features, keys: Mapping[str, np.ndarray], i: np.ndarray, j: np.ndarray
    ) -> np.ndarray:
        """Whether each pair ``(i[k], j[k])`` shares a known key."""
        code = self.key(f, keys)
        return (code[i] >= 0) & (code[i] == code[j])


@dataclass
class Pairs:
    """Pairs ``(i[k], j[k])`` of features ``f`` being compared, with what several
    comparisons of one chunk of pairs share (`shared`: computed once, by the first that
    asks)."""

    f: Features
    i: np.ndarray
    j: np.ndarray
    _shared: dict[Hashable, object] = field(default_factory=dict, repr=False)

    def shared(self, key: Hashable, make: Callable[[], object]) -> object:
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]


@dataclass(frozen=True, kw_only=True)
class Comparison(ABC):
    """One comparison of two records, as Splink's ``Comparison``: subclasses say how
    (`compare`); the rest is declared.

    - ``name``: its column in comparison matrices, review queues and the model's table;
      unique among the comparisons of a run.
    - ``label``: French, for the review page and reports.
    - ``levels``: ordered, level 0 (a disagreement) first.
    - ``session``: the training session whose blocking key forces it to agree (or None).
    - ``extra_columns``: record columns beyond the interchange format that it reads from
      ``Features.extras`` (`link` prepares them).
    """

    name: str
    label: str
    levels: tuple[ComparisonLevel, ...]
    session: TrainingSession | None = None
    extra_columns: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        """The levels' French labels, level 0 first."""
        return tuple(level.label for level in self.levels)

    @abstractmethod
    def compare(self, pairs: Pairs) -> np.ndarray:
        """The level of each pair (int8, ``-1`` when either side lacks the information)."""

    def warm(self, f: Features) -> None:
        """Make the per-record codes and masks that `compare` reads, before several threads
        compare chunks of pairs at once (each would otherwise make them); nothing for a
        comparison that reads its arrays as they are."""
        return None

    def fixed_by(self, rule: Sequence[str]) -> bool:
        """Whether the extra blocking rule on columns ``rule`` forces it to agree."""
        return bool(set(self.extra_columns) & set(rule))


def levels(*labels: str) -> tuple[ComparisonLevel, ...]:
    """Levels without term frequencies, level 0 first."""
    return tuple(ComparisonLevel(label) for label in labels)


# --- training sessions ---------------------------------------------------------------------


def _birth_date_key(f: Features, keys: Mapping[str, np.ndarray]) -> np.ndarray:
    (date,) = f.shared_codes("birth_date")
    return np.where(f.empty("birth_date"), -1, date)  # integer codes: strings compare slowly


# Pairs that agree on both names (in either order, by skeleton), then on the birth date.
NAMES_SESSION = TrainingSession("names_any_order", lambda f, keys: keys["names_any_order"])
BIRTH_DATE_SESSION = TrainingSession("birth_date", _birth_date_key)


def _rule_session(rule: Sequence[str]) -> TrainingSession:
    name = "+".join(rule)
    return TrainingSession(name, lambda f, keys: keys[name])


def training_sessions(
    comparisons: Sequence[Comparison], extra_blocking: Sequence[Sequence[str]] = ()
) -> list[tuple[TrainingSession, frozenset[str]]]:
    """The training sessions of ``comparisons``, each with the names of the comparisons it
    keeps fixed: the comparisons' own sessions (in their order), then one per extra
    blocking rule, keeping fixed the comparisons on its columns (`Comparison.fixed_by`)."""
    out: dict[str, tuple[TrainingSession, set[str]]] = {}
    for c in comparisons:
        if c.session is not None:
            out.setdefault(c.session.name, (c.session, set()))[1].add(c.name)
    sessions = [(s, frozenset(names)) for s, names in out.values()]
    for rule in extra_blocking:
        sessions.append((_rule_session(rule),
                         frozenset(c.name for c in comparisons if c.fixed_by(rule))))
    return sessions


# --- names -----------------------------------------------------------------------------------


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
    """Similarity of name column ``fa`` of ``i`` and ``fb`` of ``j``: Jaro-Winkler on clear
    names, the Dice coefficient of the Bloom filters on encoded ones."""
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


def _bigram_counts(
    f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How many bigrams the filters of ``fa`` of ``i`` and ``fb`` of ``j`` hold, read from
    their set bits: ``b`` bigrams set ``BLOOM_BITS * (1 - (1 - 1 / BLOOM_BITS) ** (BLOOM_K *
    b))`` in expectation."""
    from observatoire.pseudonymise import BLOOM_BITS, BLOOM_K

    assert f.bloom is not None

    def count(bloom: np.ndarray) -> np.ndarray:
        share = np.minimum(np.bitwise_count(bloom).sum(axis=1), BLOOM_BITS - 1) / BLOOM_BITS
        return np.log1p(-share) / (BLOOM_K * np.log1p(-1 / BLOOM_BITS))

    return count(f.bloom[fa][i]), count(f.bloom[fb][j])


def _one_swap_apart(
    f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray, sim: np.ndarray
) -> np.ndarray:
    """Whether two filters share as many bigrams as one swap of neighbouring letters leaves:
    all but three (``rene`` / ``rnee`` keep ``_r``, ``ne``, ``e_`` of five), so a Dice of at
    least ``1 - 3 / bigrams`` (`_bigram_counts`). Anagrams further apart (``laurent`` /
    ``renault``: four of eight shared, ``leon`` / ``noel``: none) fall short."""
    bigrams = sum(_bigram_counts(f, fa, fb, i, j)) / 2
    return sim >= 1 - SWAPPED_BIGRAMS / np.maximum(bigrams, SWAPPED_BIGRAMS)


def _one_letter_apart(
    f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray, sim: np.ndarray
) -> np.ndarray:
    """Whether two filters look one letter added or dropped apart (``nicu`` / ``nic``,
    ``remy`` / ``rmy``): one bigram more on one side (`_bigram_counts`) and all of the
    shorter one's but one shared, a Dice of ``1 - 1.5 / bigrams`` (their mean); a changed
    letter (``nicu`` / ``nica``: ``1 - 2 / bigrams``) falls short of the threshold halfway
    between. Jaro-Winkler puts such pairs "very close" (0.92-0.94 for four letters), Dice
    only "close" (0.67-0.71). Shorter names of two letters stay where they are (``ali`` /
    ``al``: Jaro-Winkler 0.91)."""
    a, b = _bigram_counts(f, fa, fb, i, j)
    gap = np.abs(a - b)
    return ((gap >= 0.5) & (gap <= 1.5) & (np.minimum(a, b) >= MIN_DROPPED_BIGRAMS)
            & (sim >= 1 - DROPPED_BIGRAMS / ((a + b) / 2)))


def _swapped_names(pairs: Pairs, a: str, b: str) -> np.ndarray:
    """Pairs with both names on both sides whose name columns ``a`` and ``b`` match better
    crosswise than straight (first and last name swapped by one of the sources)."""
    f, i, j = pairs.f, pairs.i, pairs.j
    full = f.has_names[i] & f.has_names[j]
    swapped = np.zeros(len(i), dtype=bool)
    if full.any():
        fi, fj = i[full], j[full]
        s_ab = _similarity(f, a, b, fi, fj)
        s_ba = _similarity(f, b, a, fi, fj)
        s_aa, s_bb = _pair_similarity(pairs, a), _pair_similarity(pairs, b)
        swapped[full] = (s_ab + s_ba) > (s_aa[full] + s_bb[full]) + 0.1
    return swapped


def _pair_similarity(pairs: Pairs, column: str) -> np.ndarray:
    return pairs.shared(("similarity", column),
                        lambda: _similarity(pairs.f, column, column, pairs.i, pairs.j))


def name_levels(column: str) -> tuple[ComparisonLevel, ...]:
    """The levels of a name comparison on ``column`` (``first`` or ``last``): the keys
    that decide levels 1 to 3 carry their term frequencies."""
    return (
        ComparisonLevel("différent"),
        ComparisonLevel("proche", f"{column}_skel"),
        ComparisonLevel("phonétique ou très proche", f"{column}_phon"),
        ComparisonLevel("identique", f"{column}_join"),
    )


@dataclass(frozen=True, kw_only=True)
class NameComparison(Comparison):
    """A name (``column``: ``first`` or ``last``, the prefix of its keys in
    ``Features.names`` and of its Bloom filter) against the other record's same name, or
    against its ``other`` name when the pair's names look swapped.

    Levels: the same skeleton or a similarity over the low threshold (close), the same
    phonetic key or a similarity over the high one (very close), the same compact name
    (identical). The thresholds are Jaro-Winkler ones on clear names (``thresholds``) and
    Dice ones on Bloom filters (``encoded_thresholds``, used when the features are encoded).
    """

    column: str
    other: str
    thresholds: tuple[float, float] = JARO_WINKLER_LEVELS  # very close, close
    encoded_thresholds: tuple[float, float] = DICE_LEVELS
    VERY_CLOSE: ClassVar[int] = 2  # "phonétique ou très proche"

    def warm(self, f: Features) -> None:
        for kind in ("join", "phon", "skel"):
            f.shared_codes(f"first_{kind}", f"last_{kind}")
        f.empty(f"{self.column}_join")
        f.empty(f"{self.other}_join")
        if f.encoded:
            f.shared_codes("first_letters", "last_letters")
            f.empty(f"{self.column}_letters")
            f.empty(f"{self.other}_letters")
        else:
            _names_by_code(f)

    def compare(self, pairs: Pairs) -> np.ndarray:
        f, i, j = pairs.f, pairs.i, pairs.j
        a, b = self.column, self.other
        swapped = pairs.shared(("swapped",) + tuple(sorted((a, b))),
                               lambda: _swapped_names(pairs, *sorted((a, b))))
        level = self._level(f, a, a, i, j, _pair_similarity(pairs, a))
        if swapped.any():
            si, sj = i[swapped], j[swapped]
            level[swapped] = self._level(f, a, b, si, sj, _similarity(f, a, b, si, sj))
        return level

    def _level(
        self, f: Features, fa: str, fb: str, i: np.ndarray, j: np.ndarray, sim: np.ndarray
    ) -> np.ndarray:
        missing = f.empty(f"{fa}_join")[i] | f.empty(f"{fb}_join")[j]

        def same(kind: str) -> np.ndarray:
            first, last = f.shared_codes(f"first_{kind}", f"last_{kind}")
            code = {"first": first, "last": last}
            return code[fa][i] == code[fb][j]

        # Dice of bigram sets falls faster than Jaro-Winkler (one letter changed in "amine"
        # gives 0.67 against 0.92): its thresholds are the Jaro-Winkler ones matched by
        # rank, i.e. the same share of pairs of distinct names above each
        # (benchmarks/calibrate_dice.py).
        high, low = self.encoded_thresholds if f.encoded else self.thresholds
        level = np.zeros(len(i), dtype=np.int8)
        level[same("skel") | (sim >= low)] = 1
        level[same("phon") | (sim >= high)] = 2
        if f.encoded:
            # Two neighbouring letters swapped ("rene" / "rnee": Jaro-Winkler 0.93, Dice
            # 0.60) is one typo for Jaro-Winkler and up to three changed bigrams for Dice:
            # equal sorted letters, filters no further apart than such a swap leaves them,
            # raise a close name (same skeleton or close filters) to Jaro-Winkler's "very
            # close". Other anagrams ("leon" / "noel", "laurent" / "renault") stay where
            # they are. Records encoded before the sorted letters existed have none: no
            # information.
            # ("kaci" / "kaic" keep two bigrams of five: Dice 0.4, under "close").
            letters = (same("letters") & ~f.empty(f"{fa}_letters")[i]
                       & ~f.empty(f"{fb}_letters")[j])
            at = np.flatnonzero(letters)
            level[at[_one_swap_apart(f, fa, fb, i[at], j[at], sim[at])]] = 2
            at = np.flatnonzero(level == 1)
            level[at[_one_letter_apart(f, fa, fb, i[at], j[at], sim[at])]] = 2
        level[same("join")] = 3
        level[missing] = -1
        return level


# --- birth, initials, attributes, places ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BirthComparison(Comparison):
    """Full birth dates (as strings or keyed tokens alike), stated birth years and years
    estimated from an age."""

    def warm(self, f: Features) -> None:
        f.shared_codes("birth_date", "birth_date_swapped")
        f.empty("birth_date")

    def compare(self, pairs: Pairs) -> np.ndarray:
        f, i, j = pairs.f, pairs.i, pairs.j
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


@dataclass(frozen=True, kw_only=True)
class InitialsComparison(Comparison):
    """Initials (or the count night's key), in either order. They only speak when a name is
    missing on one side, else they repeat the names."""

    def warm(self, f: Features) -> None:
        f.shared_codes("initials", "initials_rev")
        f.empty("initials")

    def compare(self, pairs: Pairs) -> np.ndarray:
        f, i, j = pairs.f, pairs.i, pairs.j
        no_initials = f.empty("initials")
        missing = no_initials[i] | no_initials[j] | (f.has_names[i] & f.has_names[j])
        ini, ini_rev = f.shared_codes("initials", "initials_rev")
        level = np.zeros(len(i), dtype=np.int8)
        level[ini[i] == ini_rev[j]] = 1
        level[ini[i] == ini[j]] = 2
        level[missing] = -1
        return level


def _equal(a: np.ndarray, b: np.ndarray, missing: np.ndarray) -> np.ndarray:
    level = (a == b).astype(np.int8)
    level[missing] = -1
    return level


@dataclass(frozen=True, kw_only=True)
class SameValue(Comparison):
    """Two levels, different or identical, on a `Features` attribute: a string column
    (``""`` unknown) or an integer code (negative unknown)."""

    column: str

    def warm(self, f: Features) -> None:
        if getattr(f, self.column).dtype.kind not in "iu":
            f.shared_codes(self.column)
            f.empty(self.column)

    def compare(self, pairs: Pairs) -> np.ndarray:
        f, i, j = pairs.f, pairs.i, pairs.j
        values = getattr(f, self.column)
        if values.dtype.kind not in "iu":
            (code,) = f.shared_codes(self.column)
            empty = f.empty(self.column)
            return _equal(code[i], code[j], empty[i] | empty[j])
        return _equal(values[i], values[j], (values[i] < 0) | (values[j] < 0))


@dataclass(frozen=True, kw_only=True)
class PlaceComparison(Comparison):
    """Distance level of two placed sightings more than ``after`` and at most ``within``
    minutes apart: 2 within ``radii[0]`` metres, 1 within ``radii[1]``, else 0; -1 for
    other pairs."""

    after: float
    within: float
    radii: tuple[float, float]  # level 2 within the first, level 1 within the second

    def compare(self, pairs: Pairs) -> np.ndarray:
        f, i, j = pairs.f, pairs.i, pairs.j
        level = np.full(len(i), -1, dtype=np.int8)
        # Distances only for those pairs (most records have no place).
        placed = ~np.isnan(f.lat) & ~np.isnan(f.lon) & ~np.isnan(f.minutes)
        both = np.flatnonzero(placed[i] & placed[j])
        a, b = i[both], j[both]
        gap = np.abs(f.minutes[a] - f.minutes[b])
        same = (gap <= self.within) & ((gap > self.after) if self.after > 0 else True)
        a, b, both = a[same], b[same], both[same]
        lat1, lat2, lon1, lon2 = f.lat[a], f.lat[b], f.lon[a], f.lon[b]
        hav = (
            np.sin((lat2 - lat1) / 2) ** 2
            + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
        )
        metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(hav, 0, 1)))
        level[both] = np.where(metres <= self.radii[0], 2,
                               np.where(metres <= self.radii[1], 1, 0))
        return level


# --- extra columns (a partner's identifier, an address) ------------------------------------


@dataclass(frozen=True, kw_only=True)
class ExactExtra(Comparison):
    """An extra column, different or identical (after trimming and lower case)."""

    column: str

    def compare(self, pairs: Pairs) -> np.ndarray:
        values = pairs.f.extras[self.column]
        a, b = values[pairs.i], values[pairs.j]
        return _equal(a, b, (a == "") | (b == ""))


@dataclass(frozen=True, kw_only=True)
class StringExtra(Comparison):
    """An extra column by Jaro-Winkler: close from ``thresholds[1]``, very close from
    ``thresholds[0]``, identical."""

    column: str
    thresholds: tuple[float, float] = (0.9, 0.75)

    def compare(self, pairs: Pairs) -> np.ndarray:
        values = pairs.f.extras[self.column]
        a, b = values[pairs.i], values[pairs.j]
        missing = (a == "") | (b == "")
        sim = _jaro_winkler(a, b)
        level = np.zeros(len(a), dtype=np.int8)
        level[sim >= self.thresholds[1]] = 1
        level[sim >= self.thresholds[0]] = 2
        level[a == b] = 3
        level[missing] = -1
        return level


def _exact_extra(column: str) -> Comparison:
    return ExactExtra(name=column, label=column, levels=levels("différent", "identique"),
                      column=column, extra_columns=(column,))


def _string_extra(column: str) -> Comparison:
    return StringExtra(name=column, label=column,
                       levels=levels("différent", "proche", "très proche", "identique"),
                       column=column, extra_columns=(column,))


# How `LinkageSettings.extras` ("column": kind) compares an extra column.
EXTRA_KINDS: dict[str, Callable[[str], Comparison]] = {
    "exact": _exact_extra,
    "string": _string_extra,
}


# --- the comparisons of the interchange format ---------------------------------------------


COMPARISONS: tuple[Comparison, ...] = (
    NameComparison(name="first_name", label="Prénom", levels=name_levels("first"),
                   column="first", other="last", session=NAMES_SESSION),
    NameComparison(name="last_name", label="Nom", levels=name_levels("last"),
                   column="last", other="first", session=NAMES_SESSION),
    BirthComparison(
        name="birth", label="Naissance",
        levels=levels("différente", "âge compatible (5 ans)", "année à 1 an près", "même année",
                      "jour et mois inversés", "identique"),
        session=BIRTH_DATE_SESSION,
    ),
    InitialsComparison(name="initials", label="Initiales (clé de la nuit)",
                       levels=levels("différentes", "inversées", "identiques")),
    SameValue(name="sex", label="Sexe", levels=levels("différent", "identique"), column="sex"),
    SameValue(name="commune", label="Commune", levels=levels("différente", "identique"),
              column="commune"),
    # Only sightings of the same night say anything here: people move between days.
    PlaceComparison(name="night_place", label="Lieu (même nuit)",
                    levels=levels("loin (même nuit)", "à moins de 1,5 km", "à moins de 250 m"),
                    after=0.0, within=SAME_NIGHT_MINUTES, radii=(250.0, 1500.0)),
    # Sightings of other days within a fortnight (outreach rounds): a wider radius.
    PlaceComparison(name="fortnight_place", label="Lieu (même quinzaine)",
                    levels=levels("loin (même quinzaine)", "à moins de 1,5 km",
                                  "à moins de 500 m"),
                    after=SAME_NIGHT_MINUTES, within=SAME_FORTNIGHT_MINUTES,
                    radii=(500.0, 1500.0)),
)


def comparisons_for(
    extras: Mapping[str, str], base: Sequence[Comparison] = COMPARISONS
) -> tuple[Comparison, ...]:
    """``base`` then one comparison per extra column (``column -> kind`` of
    `EXTRA_KINDS`); refuses an unknown kind and two comparisons of one name."""
    unknown = sorted({kind for kind in extras.values() if kind not in EXTRA_KINDS})
    if unknown:
        raise ObservatoireError(
            f"Type de comparaison inconnu : {', '.join(unknown)}. "
            f"Types possibles : {', '.join(EXTRA_KINDS)}."
        )
    out = tuple(base) + tuple(EXTRA_KINDS[kind](column) for column, kind in extras.items())
    names = [c.name for c in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ObservatoireError(
            f"Deux comparaisons portent le même nom : {', '.join(repeated)}. "
            "Renommez la colonne supplémentaire ou la comparaison."
        )
    return out


def comparison_index(comparisons: Sequence[Comparison], name: str) -> int:
    """The column of comparison ``name`` in a comparison matrix of ``comparisons``."""
    for k, c in enumerate(comparisons):
        if c.name == name:
            return k
    raise KeyError(f"no comparison named {name!r} among {[c.name for c in comparisons]}")


def extra_columns(comparisons: Sequence[Comparison]) -> tuple[str, ...]:
    """The extra record columns that ``comparisons`` read, each once, in their order."""
    return tuple(dict.fromkeys(col for c in comparisons for col in c.extra_columns))


# --- the comparison matrix ---------------------------------------------------------------


def compare(
    f: Features,
    i: np.ndarray,
    j: np.ndarray,
    extras: Mapping[str, str] | None = None,
    chunk: int = 2_000_000,
    *,
    comparisons: Sequence[Comparison] | None = None,
) -> np.ndarray:
    """The comparison matrix (pairs x ``comparisons``, by default
    `comparisons_for(extras)`), int8 levels, -1 = unknown.

    Pairs go ``chunk`` at a time: the temporary arrays of a chunk (names, similarities) weigh
    tens of times its int8 levels. Chunks run on two threads (numpy, pandas and RapidFuzz
    release the GIL for most of the work); each lands at its own rows, so the result is
    the same as one after the other.
    """
    if comparisons is None:
        comparisons = comparisons_for(extras or {})
    elif extras:
        raise ValueError("compare: give extras or comparisons, not both")
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if len(i) <= chunk:
        return _compare(f, i, j, comparisons)
    out = np.empty((len(i), len(comparisons)), dtype=np.int8)
    for c in comparisons:
        c.warm(f)

    def run(start: int) -> None:
        stop = start + chunk
        out[start:stop] = _compare(f, i[start:stop], j[start:stop], comparisons)

    with ThreadPoolExecutor(max_workers=COMPARE_THREADS) as pool:
        for done in pool.map(run, range(0, len(i), chunk)):
            del done  # re-raises a chunk's exception here
    return out


def _compare(
    f: Features, i: np.ndarray, j: np.ndarray, comparisons: Sequence[Comparison]
) -> np.ndarray:
    pairs = Pairs(f, i, j)
    columns = [c.compare(pairs) for c in comparisons]
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


CLASH_CHUNK = 1_000_000  # pairs tested at once by `Identities.clash`


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

        By chunks of `CLASH_CHUNK`: the test holds some twenty temporary arrays per pair,
        9 GB on the 39 million candidate pairs of a million records at once.
        """
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if len(a) <= CLASH_CHUNK:
            return self._clash(a, b)
        out = np.empty(len(a), dtype=bool)
        for start in range(0, len(a), CLASH_CHUNK):
            end = start + CLASH_CHUNK
            out[start:end] = self._clash(a[start:end], b[start:end])
        return out

    def _clash(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
