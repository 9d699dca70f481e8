"""Features of stored, pseudonymised records: the same engine on what the database holds.

Partner rows (``source_record``) carry keyed encodings (`observatoire.pseudonymise`,
``pseudonyms``): ``prenom_compact``/``nom_compact`` are the names' exact tokens,
``prenom_phon``/``nom_phon`` their phonetic tokens, ``prenom_bf``/``nom_bf`` their Bloom
filters, ``naissance`` the full birth date, ``cle_ndls`` initials + birth year + sex. The
consonant skeleton and the day/month-swapped date are not stored: the phonetic token stands
in for the skeleton and swapped dates are not seen (measured loss: see the README).

Count-night observations carry initials (with consent), birth year, sex, age band and
position; with the territory's ``key`` their initials become the same ``cle_ndls`` token
as the partners', which is how a sighting meets a partner file. Pure: frames in, `Features`
out.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from observatoire.linkage.encoded import features_from_tokens
from observatoire.linkage.prepare import Features, prepare
from observatoire.linkage.records import validate_records

_TOKENS = {"first": "prenom", "last": "nom"}


def _age_midpoint(band: object) -> str:
    parts = [p for p in str(band or "").replace("+", "-").split("-") if p.strip().isdigit()]
    if not parts:
        return ""
    low = int(parts[0])
    high = int(parts[1]) if len(parts) > 1 else low + 10
    return str((low + high) / 2)


def _night_key(initials: str, year: object, sex: object, key: bytes | None) -> str:
    """The ``cle_ndls`` token of a sighting (initials given first name first)."""
    letters = "".join(ch for ch in str(initials or "").lower() if ch.isalpha())
    if len(letters) < 2 or pd.isna(year) or not year or sex not in ("F", "M"):
        return ""
    text = f"{letters[1]}{letters[0]}|{int(year)}|{sex}"
    if key is None:
        return f"clair:{text}"  # never equal to a partner's token: night-to-night only
    from observatoire.pseudonymise import Pseudonymiser

    return Pseudonymiser(key).hash("ndls", text)


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

    def token(field: str) -> np.ndarray:
        values = pseudo.map(lambda p: p.get(field) or "").to_numpy(dtype=object)
        return np.concatenate([values, np.full(len(night), "", dtype=object)])

    tokens = {}
    for name, prefix in _TOKENS.items():
        tokens[f"{name}_join"] = token(f"{prefix}_compact")
        tokens[f"{name}_phon"] = token(f"{prefix}_phon")
        tokens[f"{name}_skel"] = tokens[f"{name}_phon"]
        tokens[f"{name}_bloom"] = token(f"{prefix}_bf")
    night_keys = np.array([
        _night_key(i, y, s, key) for i, y, s in
        zip(observations["initials"], night_year, observations["sex"], strict=True)
    ], dtype=object)  # fmt: skip
    initials = np.concatenate([pseudo.map(lambda p: p.get("cle_ndls") or "").to_numpy(
        dtype=object), night_keys])  # fmt: skip
    tokens["initials"] = initials
    tokens["initials_rev"] = initials  # the order is inside the token
    tokens["birth_date"] = token("naissance")
    tokens["birth_date_swapped"] = np.full(len(frame), "", dtype=object)
    features = features_from_tokens(clear_free, pd.DataFrame(tokens))
    has_names = (features.names["first_join"] != "") & (features.names["last_join"] != "")
    return replace(features, has_names=has_names)
