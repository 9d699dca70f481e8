"""Per-record features that blocking and comparisons use, computed once per run.

`prepare` turns a validated records frame into `Features`: numpy arrays, one value per
record. Name keys are computed on distinct names only. `encode` turns clear features into
their pseudonymised form (keyed HMAC tokens and Bloom filters, see `observatoire.linkage.
encoded`): blocking and comparisons then run unchanged on the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from observatoire import names as keys

NAME_FIELDS = ("first", "last")


@dataclass
class Features:
    """Arrays of one value per record. Strings are ``object`` arrays, ``""`` when missing."""

    n: int
    record_id: np.ndarray
    source: np.ndarray  # int codes
    names: dict[str, np.ndarray]  # "first_join", "first_phon", "first_skel", "last_..."
    initials: np.ndarray  # "MD" (first then last) or ""
    initials_rev: np.ndarray
    has_names: np.ndarray  # bool: both first and last name known
    birth_year: np.ndarray  # int, -1 when unknown (from the date or the year)
    birth_month: np.ndarray  # int, -1 when no full date
    birth_day: np.ndarray
    birth_date: np.ndarray  # "YYYY-MM-DD" or ""
    birth_date_swapped: np.ndarray  # day and month swapped, "" if impossible or the same
    year_estimate: np.ndarray  # float, NaN when unknown (explicit year or from the age)
    year_from_age: np.ndarray  # bool
    sex: np.ndarray  # int8: 0 F, 1 M, -1 unknown
    commune: np.ndarray  # "" when unknown
    lat: np.ndarray  # radians, NaN when unknown
    lon: np.ndarray
    minutes: np.ndarray  # float minutes since epoch, NaN when unknown
    night: np.ndarray  # int: day of the night (observed_at - 12 h), -1 when unknown
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    bloom: dict[str, np.ndarray] | None = None  # "first"/"last" -> uint8 bit matrix
    encoded: bool = False
    # Integer codes of string columns, made on first use (see `shared_codes`), and the
    # blocking keys; not copied by `dataclasses.replace`, so encodings never reuse them.
    codes: dict[tuple[str, ...], tuple] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def column(self, name: str) -> np.ndarray:
        """A per-record column by name: a ``names`` key, an attribute, or an extra column."""
        if name in self.names:
            return self.names[name]
        if name in self.extras and not hasattr(self, name):
            return self.extras[name]
        return getattr(self, name)

    def shared_codes(self, *columns: str) -> tuple[np.ndarray, ...]:
        """Integer codes of string columns (`column`) in one code space: equal codes, equal
        strings. Comparing codes is many times faster than strings."""
        if columns not in self.codes:
            arrays = [self.column(c) for c in columns]
            codes = pd.factorize(np.concatenate(arrays))[0]
            self.codes[columns] = tuple(np.split(codes, len(columns)))
        return self.codes[columns]

    def empty(self, column: str) -> np.ndarray:
        """Whether a string column (`column`) is empty, per record; made once (comparing a
        million strings to ``""`` for every chunk of pairs adds up)."""
        key = ("empty", column)
        if key not in self.codes:
            self.codes[key] = (self.column(column) == "",)
        return self.codes[key][0]


def _map_unique(values: np.ndarray, fn) -> np.ndarray:
    # Hashing (factorize), not sorting (np.unique): a million strings sort in seconds.
    inverse, uniques = pd.factorize(values.astype(str))
    mapped = np.array([fn(v) for v in uniques], dtype=object)
    return mapped[inverse]


def prepare(records: pd.DataFrame, extra_columns: tuple[str, ...] = ()) -> Features:
    """Features of a frame returned by `validate_records` (plus any ``extra_columns``)."""
    n = len(records)
    names: dict[str, np.ndarray] = {}
    for name_field in NAME_FIELDS:
        raw = records[f"{name_field}_name"].to_numpy(dtype=str)
        clean = _map_unique(raw, keys.clean_letters)
        joined = _map_unique(clean, keys.joined)
        phon = _map_unique(clean, keys.phonetic_fr)
        names[f"{name_field}_clean"] = clean
        names[f"{name_field}_join"] = joined
        names[f"{name_field}_phon"] = phon
        names[f"{name_field}_skel"] = _map_unique(phon, keys.skeleton)
    first, last = names["first_join"], names["last_join"]
    has_first = first != ""
    has_last = last != ""
    given = _map_unique(records["initials"].to_numpy(dtype=str), keys.initials_of)
    derived = np.array(
        [f[:1].upper() + la[:1].upper() if f and la else "" for f, la in zip(first, last,
                                                                           strict=True)],
        dtype=object,
    )
    initials = np.where(given != "", given, derived)
    initials_rev = np.array([s[::-1] for s in initials], dtype=object)

    birth = records["birth_date"]
    known_date = birth.notna().to_numpy()
    year_from_date = np.where(known_date, birth.dt.year.fillna(-1).to_numpy(), -1).astype(int)
    # 1 January is what partners write when only the year is known (as normalise reads
    # 01/01/AAAA): such a date is a year, or hundreds of strangers would share a birthday.
    placeholder = known_date & (birth.dt.month == 1).to_numpy() & (birth.dt.day == 1).to_numpy()
    has_date = known_date & ~placeholder
    explicit_year = records["birth_year"].to_numpy(dtype=float)
    birth_year = np.where(
        year_from_date > 0, year_from_date, np.nan_to_num(explicit_year, nan=-1)
    ).astype(int)
    observed = records["observed_at"]
    obs_year = observed.dt.year.to_numpy(dtype=float)
    obs_frac = (observed.dt.day_of_year.to_numpy(dtype=float) - 1) / 365.25
    age = records["age"].to_numpy(dtype=float)
    # Born (age + 0.5) years before the observation on average.
    from_age = obs_year + obs_frac - age - 0.5
    year_estimate = np.where(birth_year > 0, birth_year + 0.5, from_age)
    year_from_age = (birth_year <= 0) & ~np.isnan(from_age)

    sex = records["sex"].map({"F": 0, "M": 1}).fillna(-1).to_numpy().astype(np.int8)
    lat = np.radians(records["latitude"].to_numpy(dtype=float))
    lon = np.radians(records["longitude"].to_numpy(dtype=float))
    minutes = (
        (observed - pd.Timestamp("2000-01-01", tz="UTC")).dt.total_seconds().to_numpy(float)
        / 60.0
    )
    night_day = np.floor((minutes - 12 * 60) / 1440.0)
    night = np.where(np.isnan(night_day), -1, night_day).astype(np.int64)
    month = np.where(has_date, birth.dt.month.fillna(-1).to_numpy(), -1).astype(int)
    day = np.where(has_date, birth.dt.day.fillna(-1).to_numpy(), -1).astype(int)
    swappable = (day > 0) & (day <= 12) & (day != month)
    swapped = np.array(
        [f"{y:04d}-{d:02d}-{m:02d}" if k else "" for y, m, d, k in
         zip(year_from_date, month, day, swappable, strict=True)],
        dtype=object,
    )
    source = pd.factorize(records["source"])[0].astype(np.int32)
    extras = {c: records[c].astype(str).str.strip().str.lower().to_numpy(dtype=object)
              for c in extra_columns}
    return Features(
        n=n,
        record_id=records["record_id"].to_numpy(dtype=object),
        source=source,
        names=names,
        initials=initials,
        initials_rev=initials_rev,
        has_names=has_first & has_last,
        birth_year=birth_year,
        birth_month=month,
        birth_day=day,
        birth_date=np.where(has_date, birth.dt.strftime("%Y-%m-%d").fillna(""), "").astype(object),
        birth_date_swapped=swapped,
        year_estimate=year_estimate,
        year_from_age=year_from_age,
        sex=sex,
        commune=records["commune_code"].to_numpy(dtype=object),
        lat=lat,
        lon=lon,
        minutes=minutes,
        night=night,
        extras=extras,
    )
