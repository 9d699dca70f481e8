"""Features of stored, pseudonymised records: the same engine on what the database holds.

Partner rows (``source_record``) carry keyed encodings (`observatoire.pseudonymise`,
``pseudonyms``): ``prenom_compact``/``nom_compact`` are the names' exact tokens,
``prenom_phon``/``nom_phon`` their phonetic tokens, ``prenom_squelette``/``nom_squelette``
their consonant skeletons, ``prenom_lettres``/``nom_lettres`` their sorted letters,
``prenom_bf``/``nom_bf`` their Bloom filters, ``naissance`` the
full birth date and ``naissance_inversee`` the same with day and month swapped, ``cle_ndls``
initials + birth year + sex. Records imported before encoding version 2 have no skeleton
nor swapped date: their phonetic token stands in for the skeleton and their swapped dates
are not seen (until the next import of their file refreshes them); before version 3 they
have no sorted letters (no information: a swap of two letters is judged on the filters).

Count-night observations carry initials (with consent), birth year, sex, age band and
position; with the territory's ``key`` their initials become the same ``cle_ndls`` token
as the partners', which is how a sighting meets a partner file. Pure: frames in, `Features`
out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from observatoire.linkage.encoded import features_from_tokens
from observatoire.linkage.prepare import Features, prepare
from observatoire.linkage.records import validate_records
from observatoire.pseudonymise import Pseudonymiser, sighting_night_key

_TOKENS = {"first": "prenom", "last": "nom"}


def _age_midpoint(band: object) -> str:
    parts = [p for p in str(band or "").replace("+", "-").split("-") if p.strip().isdigit()]
    if not parts:
        return ""
    low = int(parts[0])
    high = int(parts[1]) if len(parts) > 1 else low + 10
    return str((low + high) / 2)


def _night_keys(initials: Sequence[object], years: Sequence[object], sexes: Sequence[object],
                key: bytes | None) -> np.ndarray:
    """The ``cle_ndls`` tokens of sightings (`pseudonymise.sighting_night_key`)."""
    pseudonymiser = None if key is None else Pseudonymiser(key)
    return np.array([
        sighting_night_key(pseudonymiser, str(i or ""),
                           None if y is None or pd.isna(y) or not y else int(y), s)  # type: ignore[arg-type]
        for i, y, s in zip(initials, years, sexes, strict=True)
    ], dtype=object)


def stored_features(
    partners: pd.DataFrame, observations: pd.DataFrame, key: bytes | None = None
) -> Features:
    """`Features` of `partner_records` and `night_observations` frames (stable keys as
    record ids), names and dates as tokens."""
    pseudo = partners["pseudonyms"].map(lambda p: p or {})
    attributes = partners["attributes"].map(lambda a: a or {})
    from_age = attributes.map(lambda a: bool(a.get("annee_naissance_depuis_age"))).to_numpy()
    year = partners["birth_year"].astype("Int64").astype(str).replace("<NA>", "")
    age = attributes.map(lambda a: a.get("age")).astype(object)
    contact = pd.to_datetime(partners["last_contact"], errors="coerce")
    rows = pd.DataFrame({
        "record_id": partners["record_key"],
        "source": partners["source"],
        # An age-derived year is an age, compared as such (5 years of tolerance).
        "birth_year": np.where(from_age, "", year),
        "age": np.where(from_age, age.fillna("").astype(str), ""),
        "sex": partners["sex"].fillna(""),
        "commune_code": partners["commune_code"].fillna(""),
        "observed_at": contact.dt.strftime("%Y-%m-%dT12:00:00+00:00").fillna(""),
    })
    night_year = observations["birth_year"]
    night = pd.DataFrame({
        "record_id": observations["record_key"],
        "source": "nuit",
        "birth_year": night_year.map(lambda v: "" if v is None or pd.isna(v) else str(int(v))),
        "age": [
            "" if (y is not None and not pd.isna(y)) else _age_midpoint(b)
            for y, b in zip(night_year, observations["age_band"], strict=True)
        ],
        "sex": observations["sex"].fillna(""),
        "commune_code": observations["commune_code"].fillna(""),
        "latitude": observations["latitude"].map(lambda v: "" if pd.isna(v) else str(v)),
        "longitude": observations["longitude"].map(lambda v: "" if pd.isna(v) else str(v)),
        "observed_at": pd.to_datetime(observations["collected_at"], utc=True)
        .dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    })
    frame = pd.concat([rows, night], ignore_index=True).fillna("").astype(str)
    clear_free = prepare(validate_records(frame, origin="base de données"))

    night_keys = _night_keys(observations["initials"], night_year, observations["sex"], key)
    return _features(clear_free, list(pseudo) + [{}] * len(night),
                     np.concatenate([np.full(len(pseudo), "", dtype=object), night_keys]))


def pseudonym_tokens(pseudonyms: Sequence[Mapping[str, str]]) -> pd.DataFrame:
    """The linkage tokens (`TOKEN_COLUMNS`) of stored ``pseudonyms``, one row per record."""

    def token(field: str) -> np.ndarray:
        return np.array([p.get(field) or "" for p in pseudonyms], dtype=object)

    tokens = {}
    for name, prefix in _TOKENS.items():
        tokens[f"{name}_join"] = token(f"{prefix}_compact")
        tokens[f"{name}_phon"] = token(f"{prefix}_phon")
        skeleton = token(f"{prefix}_squelette")
        # Version-1 records have no skeleton: their phonetic token stands in.
        tokens[f"{name}_skel"] = np.where(skeleton != "", skeleton, tokens[f"{name}_phon"])
        tokens[f"{name}_letters"] = token(f"{prefix}_lettres")
        tokens[f"{name}_bloom"] = token(f"{prefix}_bf")
    tokens["initials"] = token("cle_ndls")
    tokens["initials_rev"] = tokens["initials"]  # the order is inside the token
    tokens["birth_date"] = token("naissance")
    tokens["birth_date_swapped"] = token("naissance_inversee")
    return pd.DataFrame(tokens)


def _features(clear_free: Features, pseudonyms: Sequence[Mapping[str, str]],
              night_keys: np.ndarray) -> Features:
    tokens = pseudonym_tokens(pseudonyms)
    tokens["initials"] = np.where(night_keys != "", night_keys, tokens["initials"])
    tokens["initials_rev"] = tokens["initials"]
    features = features_from_tokens(clear_free, tokens)
    has_names = (features.names["first_join"] != "") & (features.names["last_join"] != "")
    return replace(features, has_names=has_names)


def features_as_stored(records: pd.DataFrame, key: bytes) -> Features:
    """`Features` of validated interchange records (`validate_records`) encoded as the
    database stores them: names and full birth dates through `Pseudonymiser.record`, as a
    partner import does, and the initials of records without a name (count-night
    sightings) as their ``cle_ndls``. Measures the linkage on exactly what is stored."""
    from observatoire.normalise import DatePrecision, FrenchDate
    from observatoire.normalise import clean_name as clean_partner_name
    pseudonymiser = Pseudonymiser(key)
    clear_free = prepare(records)
    births = records["birth_date"]
    # As the import reads 01/01/AAAA: a year, not a date.
    placeholder = (births.dt.month == 1) & (births.dt.day == 1)
    pseudonyms = []
    night_keys = np.full(len(records), "", dtype=object)
    rows = zip(records["first_name"], records["last_name"], births, placeholder,
               records["sex"], records["initials"], clear_free.birth_year, strict=True)
    for index, (first, last, birth, year_only, sex, initials, year) in enumerate(rows):
        first_name, last_name = clean_partner_name(first), clean_partner_name(last)
        date = None
        if not pd.isna(birth):
            date = FrenchDate(birth.date(),
                              DatePrecision.YEAR if year_only else DatePrecision.DAY)
        pseudonyms.append(pseudonymiser.record(
            last_name=last_name, first_name=first_name, birth_date=date, sex=sex or None))
        if first_name is None and last_name is None and initials:
            night_keys[index] = sighting_night_key(pseudonymiser, initials,
                                                   year if year > 0 else None, sex)
    return _features(clear_free, pseudonyms, night_keys)
