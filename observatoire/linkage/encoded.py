"""Pseudonymised features: the same comparisons on keyed encodings instead of clear names.

`encode` replaces every identifying value of `Features` by a keyed token built with the
primitives of `observatoire.pseudonymise` (HMAC-SHA256 ``keyed_hash`` and keyed Bloom
filters of bigrams ``bloom_encode``): names, their compact form, phonetic code and skeleton,
their letters in alphabetical order (a swap of two letters), initials, the exact birth date
and the birth date with day and month swapped. Equality of
tokens is equality of the values, so blocking and every exact level work unchanged; string
similarity becomes the Dice coefficient of the Bloom filters. Birth year, sex, commune and
the count-night position are not direct identifiers and stay as they are, as in a stored
``source_record`` row (`observatoire.feeds.records.RecordRow`).

Interface with the feeds (a ``source_record``'s ``pseudonyms``): `features_from_tokens` builds
the same features from a frame of tokens, one column per name in `TOKEN_COLUMNS`.
"""

from __future__ import annotations

import base64
from dataclasses import replace

import numpy as np
import pandas as pd

from observatoire.linkage.prepare import Features, _map_unique
from observatoire.names import sorted_letters

TOKEN_COLUMNS = (
    "first_join", "first_phon", "first_skel", "first_letters", "first_bloom",
    "last_join", "last_phon", "last_skel", "last_letters", "last_bloom",
    "initials", "initials_rev", "birth_date", "birth_date_swapped",
)  # fmt: skip


def _tokens(key: bytes, purpose: str, values: np.ndarray) -> np.ndarray:
    from observatoire.pseudonymise import keyed_hash

    uniques, inverse = np.unique(values.astype(str), return_inverse=True)
    mapped = np.array(
        [keyed_hash(key, f"linkage:{purpose}", v) if v else "" for v in uniques], dtype=object
    )
    return mapped[inverse.ravel()]


def bloom_matrix(encoded: np.ndarray) -> np.ndarray:
    """Base64 Bloom filters (``""`` when missing) as a uint8 bit matrix, one row each."""
    uniques, inverse = np.unique(encoded.astype(str), return_inverse=True)
    decoded = [base64.b64decode(v) if v else b"" for v in uniques]
    width = max((len(d) for d in decoded), default=0)
    table = np.zeros((len(uniques), width), dtype=np.uint8)
    for row, data in enumerate(decoded):
        if data:
            table[row] = np.frombuffer(data, dtype=np.uint8)
    return table[inverse.ravel()]


def _blooms(key: bytes, names: np.ndarray) -> np.ndarray:
    from observatoire.pseudonymise import bloom_encode

    uniques, inverse = np.unique(names.astype(str), return_inverse=True)
    encoded = np.array([bloom_encode(key, v) if v else "" for v in uniques], dtype=object)
    return encoded[inverse.ravel()]


def encode_tokens(f: Features, key: bytes) -> pd.DataFrame:
    """The keyed tokens of clear features (what a partner import stores), `TOKEN_COLUMNS`."""
    out = {}
    for name in ("first", "last"):
        # One purpose for first and last names: a first name in the last-name column meets.
        for part in ("join", "phon", "skel"):
            out[f"{name}_{part}"] = _tokens(key, f"name_{part}", f.names[f"{name}_{part}"])
        out[f"{name}_letters"] = _tokens(key, "name_letters",
                                         _map_unique(f.names[f"{name}_join"], sorted_letters))
        out[f"{name}_bloom"] = _blooms(key, f.names[f"{name}_join"])
    out["initials"] = _tokens(key, "initials", f.initials)
    out["initials_rev"] = _tokens(key, "initials", f.initials_rev)
    out["birth_date"] = _tokens(key, "birth_date", f.birth_date)
    out["birth_date_swapped"] = _tokens(key, "birth_date", f.birth_date_swapped)
    return pd.DataFrame(out)


def features_from_tokens(clear_free: Features, tokens: pd.DataFrame) -> Features:
    """Features whose names, initials and dates are the keyed ``tokens``.

    ``clear_free`` carries the non-identifying features (birth year, sex, commune, place,
    time); its name fields are ignored.
    """
    names = {}
    for name in ("first", "last"):
        for part in ("join", "phon", "skel", "letters"):
            names[f"{name}_{part}"] = tokens[f"{name}_{part}"].to_numpy(dtype=object)
        names[f"{name}_clean"] = names[f"{name}_join"]
    month_day_known = tokens["birth_date"].to_numpy(dtype=object) != ""
    return replace(
        clear_free,
        names=names,
        initials=tokens["initials"].to_numpy(dtype=object),
        initials_rev=tokens["initials_rev"].to_numpy(dtype=object),
        birth_date=tokens["birth_date"].to_numpy(dtype=object),
        birth_date_swapped=tokens["birth_date_swapped"].to_numpy(dtype=object),
        # Month and day are only compared through the date tokens.
        birth_month=np.where(month_day_known, 0, -1),
        birth_day=np.where(month_day_known, 0, -1),
        bloom={n: bloom_matrix(tokens[f"{n}_bloom"].to_numpy(dtype=object))
               for n in ("first", "last")},
        encoded=True,
    )


def encode(f: Features, key: bytes) -> Features:
    """Pseudonymised features of clear ones (`encode_tokens` then `features_from_tokens`)."""
    return features_from_tokens(f, encode_tokens(f, key))
