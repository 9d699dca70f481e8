"""Keyed pseudonyms and linkage-ready encodings of direct identifiers.

The secret key is always passed in as bytes (``key``): nothing here reads a file or the
environment, and nothing logs it. Every encoding is keyed (HMAC-SHA256), so that someone
holding the database without the key cannot test a list of names against it; a plain hash of
a name or a birth date would be reversed by dictionary in seconds (EDPB guidelines 01/2025).

Encodings of one record (``PSEUDONYM_FIELDS``, all strings, version ``ENCODING_VERSION``):

- ``nom``, ``prenom``: HMAC of the folded name (no accents, case, hyphens, apostrophes);
- ``nom_compact``, ``prenom_compact``: HMAC of the name without particles nor spaces
  ("Ben Salah" = "Ben-Salah" = "Salah", "Abdel Kader" = "Abdelkader"; "BENSALAH", written
  as one word, keeps its "ben");
- ``nom_phon``, ``prenom_phon``: HMAC of a French phonetic code
  (`observatoire.names.phonetic_code`);
- ``nom_squelette``, ``prenom_squelette``: HMAC of the consonant skeleton of the name's
  phonetic key, as the clear-text linkage computes it (`observatoire.names.skeleton`):
  transliterations that only change vowels (Mohamed / Mouhamed / Muhammad) share it;
- ``nom_lettres``, ``prenom_lettres``: HMAC of the compact name's letters in alphabetical
  order (`observatoire.names.sorted_letters`): two letters swapped by a typo
  (Rene / Rnee) share it, which bigrams cannot show (the swap breaks as many bigrams as two
  changed letters, while Jaro-Winkler on clear names counts it as one typo);
- ``nom_bf``, ``prenom_bf``: keyed Bloom filter of the name's bigrams, base64 of
  ``BLOOM_BITS`` bits with ``BLOOM_K`` positions per bigram, compared with `dice`;
- ``naissance``: HMAC of the exact birth date (only when day and month are known);
- ``naissance_inversee``: with ``naissance``, HMAC (same purpose) of the date with day and
  month swapped, so that it equals the ``naissance`` of a record whose day and month were
  typed the other way round; when no swap is possible (day over 12, or day = month) an HMAC
  under another purpose that never equals a date token, so that its presence says nothing;
- ``naissance_precision``: ``jour`` or ``annee`` (not identifying);
- ``cle_ndls``: HMAC of initials + birth year + sex, the partial key of count nights;
- ``telephone``: HMAC of the phone number in international form;
- ``id_personne``: HMAC of the partner's own person identifier (e.g. SI-SIAO), per source.

The same purpose string is used for last and first names, so that the linkage can spot a
first name written in the last-name column. Version 2 added the skeletons and the swapped
date; version-1 records lack them (the linkage then falls back on the phonetic token).
Version 3 added the sorted letters; older records lack them (no information: the linkage
then judges a swap by the Bloom filters alone).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache

from observatoire.model import ObservatoireError
from observatoire.names import name_skeleton, phonetic_code, sorted_letters
from observatoire.normalise import CleanName, DatePrecision, FrenchDate, clean_name

ENCODING_VERSION = "3"
HMAC_HEX_CHARS = 32  # 128 bits: no collision among millions of records
BLOOM_BITS = 512
BLOOM_K = 10
MIN_KEY_BYTES = 32
_SHA256_BLOCK = 64
_CACHE_LIMIT = 200_000  # distinct values remembered per import (bounded memory)

PSEUDONYM_FIELDS = (
    "v", "cle", "nom", "prenom", "nom_compact", "prenom_compact", "nom_phon", "prenom_phon",
    "nom_bf", "prenom_bf", "naissance", "naissance_precision", "cle_ndls", "telephone",
    "id_personne", "nom_squelette", "prenom_squelette", "naissance_inversee",
    "nom_lettres", "prenom_lettres",
)  # fmt: skip


class SecretKeyError(ObservatoireError):
    """No usable secret key."""


def generate_key() -> str:
    """A new random key (256 bits), hex-encoded, for ``observatoire key generate``."""
    return secrets.token_hex(32)


def parse_key(text: str) -> bytes:
    """The key bytes from the text of a key file or variable (hex, or a long passphrase)."""
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64,}", text) and len(text) % 2 == 0:
        key = bytes.fromhex(text)
    else:
        key = text.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise SecretKeyError(
            f"Clé secrète trop courte ({len(key)} octets, {MIN_KEY_BYTES} au minimum). "
            "Créez-en une avec : observatoire key generate --output /chemin/cle.txt"
        )
    return key


def key_id(key: bytes) -> str:
    """A public identifier of the key (reveals nothing of it): imports made with another
    key are refused, since their pseudonyms would never match."""
    return hmac.new(key, b"observatoire:key-id", hashlib.sha256).hexdigest()[:16]


def keyed_hash(key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, separated by ``purpose`` (hex, 128 bits)."""
    message = purpose.encode("utf-8") + b"\x1f" + value.encode("utf-8")
    return hmac.digest(key, message, "sha256")[: HMAC_HEX_CHARS // 2].hex()


def count_night_text(last_initial: str, first_initial: str, year: int, sex: str) -> str:
    """What a ``cle_ndls`` is the keyed hash of: the initials of the last and first names
    (lower case, as `normalise.CleanName.compact` and a count night's initials give them),
    the birth year and the sex (``F``/``M``): ``"dj|1980|M"``."""
    return f"{last_initial}{first_initial}|{year}|{sex}"


def sighting_night_key(pseudonymiser: Pseudonymiser | None, initials: str, year: int | None,
                       sex: str | None) -> str:
    """The ``cle_ndls`` of a count-night sighting, whose ``initials`` are given first name
    first (``"jd"`` for Jean Dupont); ``""`` without two letters, a year or a sex ``F``/``M``.

    Without a ``pseudonymiser`` (no territory key) the key is a clear form that never equals
    a partner's token: sightings then only meet each other."""
    letters = "".join(ch for ch in str(initials or "").lower() if ch.isalpha())
    if len(letters) < 2 or not year or sex not in ("F", "M"):
        return ""
    if pseudonymiser is None:
        return "clair:" + count_night_text(letters[1], letters[0], int(year), str(sex))
    return pseudonymiser.count_night_key(letters[1], letters[0], int(year), str(sex))


# --- Bloom filters -------------------------------------------------------------------------


def bigrams(text: str) -> set[str]:
    """Padded character bigrams of a folded name, spaces removed ("_a", "ab", ..., "z_")."""
    padded = "_" + text.replace(" ", "") + "_"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


def bloom_encode(key: bytes, text: str) -> str:
    """Keyed Bloom filter of the bigrams of ``text``, base64 of `BLOOM_BITS` bits.

    Each bigram sets `BLOOM_K` positions taken from its own HMAC (random hashing, not the
    double hashing that the published attacks on Bloom-filter linkage exploit).
    """
    bits = 0
    for gram in bigrams(text):
        bits |= _bigram_mask(key, gram)
    return base64.b64encode(bits.to_bytes(BLOOM_BITS // 8, "big")).decode("ascii")


@lru_cache(maxsize=100_000)
def _bigram_mask(key: bytes, gram: str) -> int:
    digest = hmac.digest(key, b"bf\x1f" + gram.encode("utf-8"), "sha256")
    mask = 0
    for i in range(BLOOM_K):
        mask |= 1 << (int.from_bytes(digest[2 * i : 2 * i + 2], "big") % BLOOM_BITS)
    return mask


def dice(a: str, b: str) -> float:
    """Dice coefficient of two base64 Bloom filters (1.0: same bigrams)."""
    x = int.from_bytes(base64.b64decode(a), "big")
    y = int.from_bytes(base64.b64decode(b), "big")
    total = x.bit_count() + y.bit_count()
    return 2 * (x & y).bit_count() / total if total else 0.0


# --- records -------------------------------------------------------------------------------


class Pseudonymiser:
    """Turns the direct identifiers of a record into its ``pseudonyms`` (see module doc).

    One per import: it caches the encodings of names already seen, which keeps a million
    rows fast (names repeat a lot).
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise SecretKeyError(
                f"Clé secrète trop courte ({len(key)} octets, {MIN_KEY_BYTES} au minimum)."
            )
        self._key = key
        self.key_id = key_id(key)
        self._names: dict[tuple[str, str], dict[str, str]] = {}
        self._values: dict[tuple[str, str], str] = {}
        self._hashers: dict[str, Callable[[str], str]] = {}  # by purpose (a few per import)
        # HMAC's inner and outer SHA-256 states, computed once and copied for each value
        # (RFC 2104; same result as `keyed_hash`, about three times faster per value).
        block = hashlib.sha256(key).digest() if len(key) > _SHA256_BLOCK else key
        block = block.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:  # never show the key
        return f"Pseudonymiser(cle={self.key_id})"

    def hash(self, purpose: str, value: str) -> str:
        """Same as `keyed_hash` with this pseudonymiser's key."""
        keyed = self._hashers.get(purpose)
        if keyed is None:
            keyed = self._hashers[purpose] = self.hasher(purpose)
        return keyed(value)

    def hasher(self, purpose: str) -> Callable[[str], str]:
        """`hash` under one purpose, as a function of the value: for a hash per row (row keys,
        the partner's own numbers), the purpose goes into HMAC's inner state once."""
        inner = self._inner.copy()
        inner.update(purpose.encode("utf-8") + b"\x1f")
        inner_copy, outer_copy = inner.copy, self._outer.copy
        length = HMAC_HEX_CHARS // 2

        def keyed(value: str) -> str:
            state = inner_copy()
            state.update(value.encode("utf-8"))
            outer = outer_copy()
            outer.update(state.digest())
            return outer.digest()[:length].hex()

        return keyed

    def cached_hash(self, purpose: str, value: str) -> str:
        """`hash`, remembered for values that repeat (dates, initials, codes)."""
        cache_key = (purpose, value)
        found = self._values.get(cache_key)
        if found is None:
            if len(self._values) >= _CACHE_LIMIT:
                self._values.clear()
            found = self._values[cache_key] = self.hash(purpose, value)
        return found

    def phone(self, phone: str) -> str:
        """``telephone``: a phone number in international form (`normalise.normalise_phone`)."""
        return self.hash("tel", phone)

    def person_ref(self, source: str, person_ref: str) -> str:
        """``id_personne``: the partner's own person identifier, per source."""
        return self.hash(f"id:{source}", person_ref)

    def custom_identifier(self, field: str, text: str) -> str:
        """The pseudonym of a format's own identifier field ``field`` (its canonical text)."""
        return self.hash(f"champ:{field}", text)

    def count_night_key(self, last_initial: str, first_initial: str, year: int,
                        sex: str) -> str:
        """``cle_ndls``: the partial key of count nights (see `count_night_text`)."""
        return self.cached_hash("ndls", count_night_text(last_initial, first_initial, year, sex))

    def name(self, name: CleanName, prefix: str) -> dict[str, str]:
        cache_key = (prefix, name.key)
        cached = self._names.get(cache_key)
        if cached is None:
            if len(self._names) >= _CACHE_LIMIT:
                self._names.clear()
            cached = {
                prefix: self.hash("nom", name.key),
                f"{prefix}_compact": self.hash("nom", name.compact),
                f"{prefix}_phon": self.hash("phon", phonetic_code(name.key)),
                f"{prefix}_bf": bloom_encode(self._key, name.key),
                f"{prefix}_squelette": self.hash("squelette", name_skeleton(name.key)),
                f"{prefix}_lettres": self.hash("lettres", sorted_letters(name.compact)),
            }
            self._names[cache_key] = cached
        return cached

    def birth_date(self, birth_date: FrenchDate) -> dict[str, str]:
        """``naissance_precision`` and, for a full date, ``naissance`` and
        ``naissance_inversee`` (see the module doc)."""
        out = {"naissance_precision": birth_date.precision.value}
        if birth_date.precision is DatePrecision.DAY:
            value = birth_date.value
            out["naissance"] = self.cached_hash("naissance", value.isoformat())
            if value.day <= 12 and value.day != value.month:
                swapped = f"{value.year:04d}-{value.day:02d}-{value.month:02d}"
                out["naissance_inversee"] = self.cached_hash("naissance", swapped)
            else:
                out["naissance_inversee"] = self.cached_hash("naissance:sans-inversion",
                                                             value.isoformat())
        return out

    def record(
        self,
        *,
        last_name: CleanName | None = None,
        first_name: CleanName | None = None,
        birth_date: FrenchDate | None = None,
        sex: str | None = None,
        phone: str | None = None,
        person_ref: str | None = None,
        source: str = "",
    ) -> dict[str, str]:
        """The pseudonyms of one record; absent identifiers give absent fields."""
        out = {"v": ENCODING_VERSION, "cle": self.key_id}
        if last_name is not None:
            out.update(self.name(last_name, "nom"))
        if first_name is not None:
            out.update(self.name(first_name, "prenom"))
        if birth_date is not None:
            out.update(self.birth_date(birth_date))
        if last_name is not None and first_name is not None and birth_date and sex:
            out["cle_ndls"] = self.count_night_key(last_name.compact[:1],
                                                   first_name.compact[:1], birth_date.year, sex)
        if phone:
            out["telephone"] = self.phone(phone)
        if person_ref:
            out["id_personne"] = self.person_ref(source, person_ref)
        return out

def pseudonymise_name(key: bytes, name: str) -> dict[str, str]:
    """Encodings of one name (``nom``, ``nom_compact``, ``nom_phon``, ``nom_bf``)."""
    cleaned = clean_name(name)
    if cleaned is None:
        return {}
    return Pseudonymiser(key).name(cleaned, "nom")


def name_similarity(a: Mapping[str, str], b: Mapping[str, str], prefix: str = "nom") -> float:
    """Similarity of two encoded names in [0, 1]: 1 when equal, else the Bloom-filter Dice
    coefficient, raised when the phonetic codes agree."""
    if not a.get(f"{prefix}_bf") or not b.get(f"{prefix}_bf"):
        return 0.0
    if a.get(prefix) == b.get(prefix) or a.get(f"{prefix}_compact") == b.get(
        f"{prefix}_compact"
    ):
        return 1.0
    score = dice(a[f"{prefix}_bf"], b[f"{prefix}_bf"])
    if a.get(f"{prefix}_phon") == b.get(f"{prefix}_phon"):
        score = 0.5 + score / 2
    return score
