"""Pure cleaning of partner values: text cells, names, French dates, sex, phones, communes.

Every function here is pure and idempotent: normalising an already normalised value gives it
back unchanged (the property tests check it). Errors are `NormalisationError` with a French
message that says what was expected, never the value read: it may be an identifier (a birth
date, or a name in the wrong column), and reports show it in a column of its own, masked.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import gzip
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from observatoire.model import ObservatoireError, Sex

COMMUNES_REFERENCE = Path(__file__).resolve().parent / "feeds" / "reference" / "communes.csv.gz"


class NormalisationError(ObservatoireError, ValueError):
    """A value that cannot be read as what its column should hold."""


# --- text ----------------------------------------------------------------------------------

# French Excel writes non-breaking and narrow non-breaking spaces (thousands, "N° 12").
_SPACES = str.maketrans({"\xa0": " ", "\u202f": " ", "\u2007": " ", "\t": " ", "\r": " ",
                         "\n": " "})
# Letters that Unicode decomposition does not turn into ASCII.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d",
                            "ı": "i", "ð": "d", "þ": "th", "’": "'", "ʼ": "'", "‘": "'"})


def clean_cell(value: str | None) -> str:
    """A cell as text: non-breaking spaces and tabs as spaces, ends stripped."""
    if value is None:
        return ""
    if value.isascii():
        return value.strip() if "\t" not in value else value.translate(_SPACES).strip()
    return value.translate(_SPACES).strip()


@lru_cache(maxsize=1 << 18)
def fold(text: str) -> str:
    """Accent-, case- and punctuation-insensitive key.

    ``"Jean-Noël  D'Arc"`` -> ``"jean noel d arc"``.
    """
    text = text.casefold().translate(_LIGATURES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold().translate(_LIGATURES)
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


# --- names ---------------------------------------------------------------------------------

# Particles and name prefixes written apart, glued or dropped depending on who types the name.
PARTICLES = frozenset(
    "de du des d le la les l el al ben bent ibn ould van von der den da di dos das del "
    "mac mc ait bou abou abu".split()
)


@dataclass(frozen=True)
class CleanName:
    """A name cleaned for comparison, with its original spelling kept.

    ``display`` keeps accents and the spelling (only spaces and case are normalised): the
    linkage-ready encodings are computed on ``key``, which keeps the spelling too (accents,
    case, hyphens and apostrophes aside). ``compact`` also drops particles and spaces, so
    that "Ben Salah", "Ben-Salah" and "Salah" meet, as do "Abdel Kader" and "Abdelkader"
    ("BENSALAH", written as one word, keeps its "ben": ``bensalah``).
    """

    original: str
    display: str
    key: str
    compact: str


def _capitalise_word(word: str, first: bool) -> str:
    parts = re.split(r"(['\-])", word)
    out = []
    for i, part in enumerate(parts):
        if part in {"'", "-"} or not part:
            out.append(part)
            continue
        is_particle = fold(part) in PARTICLES and not (first and i == 0) and (
            i + 1 < len(parts) and parts[i + 1] == "'" or len(parts) == 1
        )
        out.append(part.lower() if is_particle else part[:1].title() + part[1:].lower())
    return "".join(out)


@lru_cache(maxsize=1 << 18)
def clean_name(value: str | None) -> CleanName | None:
    """Clean a last or first name; ``None`` when the cell holds no letter."""
    text = unicodedata.normalize("NFKC", clean_cell(value))
    text = text.translate(str.maketrans({"’": "'", "ʼ": "'", "‘": "'"}))
    text = re.sub(r"\s*-\s*", "-", " ".join(text.split()))
    text = re.sub(r"\s*'\s*", "'", text).strip("-' ")
    key = fold(text)
    if not key or not any(ch.isalpha() for ch in key):
        return None
    display = " ".join(_capitalise_word(w, i == 0) for i, w in enumerate(text.split(" ")))
    compact = "".join(t for t in key.split() if t not in PARTICLES) or key.replace(" ", "")
    return CleanName(original=clean_cell(value), display=display, key=key, compact=compact)


def normalise_name(value: str) -> str:
    """The display form of a name (``""`` when empty): idempotent."""
    cleaned = clean_name(value)
    return cleaned.display if cleaned else ""


# --- dates ---------------------------------------------------------------------------------


class DatePrecision(StrEnum):
    DAY = "jour"
    YEAR = "annee"


@dataclass(frozen=True)
class FrenchDate:
    """A date read from a partner file. ``precision`` is ``annee`` when only the year is
    known: ``AAAA`` alone, or the placeholders 01/01/AAAA and 00/00/AAAA."""

    value: dt.date
    precision: DatePrecision
    placeholder: bool = False
    two_digit_year: bool = False

    @property
    def year(self) -> int:
        return self.value.year

    def isoformat(self) -> str:
        return self.value.isoformat() if self.precision is DatePrecision.DAY else f"{self.year}"


_DMY = re.compile(
    r"^(\d{1,2})[/.\- ](\d{1,2})[/.\- ](\d{2}|\d{4})(?:[ T]+\d{1,2}[:h]\d{2}(?::\d{2})?)?$"
)
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_YEAR = re.compile(r"^(\d{4})$")
_DATE_HELP = "Formats acceptés : JJ/MM/AAAA, JJ/MM/AA, AAAA ou AAAA-MM-JJ."


@lru_cache(maxsize=65536)
def parse_french_date(value: str, today: dt.date | None = None) -> FrenchDate:
    """Read a date written the French way; raise `NormalisationError` when it is not one.

    Two-digit years are read in the past century when they would be in the future.
    """
    text = clean_cell(value)
    reference_year = (today or dt.date.today()).year
    if match := _YEAR.match(text):
        return FrenchDate(_checked_date(int(match[1]), 1, 1, text), DatePrecision.YEAR)
    if match := _YMD.match(text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
        return _from_parts(year, month, day, text, two_digit=False)
    if match := _DMY.match(text):
        day, month, year_text = int(match[1]), int(match[2]), match[3]
        year = int(year_text)
        if len(year_text) == 2:
            year += 2000 if 2000 + year <= reference_year else 1900
        return _from_parts(year, month, day, text, two_digit=len(year_text) == 2)
    raise NormalisationError(f"Date illisible : ce n'est pas une date. {_DATE_HELP}")


def _from_parts(year: int, month: int, day: int, text: str, *, two_digit: bool) -> FrenchDate:
    if day == 0 or month == 0:
        # 00/00/AAAA, 00/MM/AAAA: only the year is known.
        return FrenchDate(_checked_date(year, 1, 1, text), DatePrecision.YEAR, True, two_digit)
    value = _checked_date(year, month, day, text)
    if day == 1 and month == 1:
        return FrenchDate(value, DatePrecision.YEAR, True, two_digit)
    return FrenchDate(value, DatePrecision.DAY, False, two_digit)


def _checked_date(year: int, month: int, day: int, text: str) -> dt.date:
    if not 1880 <= year <= 2100:
        raise NormalisationError(
            f"Année invraisemblable : avant 1880 ou après 2100. {_DATE_HELP}")
    try:
        return dt.date(year, month, day)
    except ValueError:
        hint = " (jour et mois inversés ?)" if month > 12 and day <= 12 else ""
        raise NormalisationError(
            f"Date impossible : ce jour n'existe pas dans le calendrier{hint}. {_DATE_HELP}"
        ) from None


def normalise_date(value: str) -> str:
    """ISO form of a French date (``AAAA-MM-JJ``, or ``AAAA`` when only the year is known)."""
    return parse_french_date(value).isoformat()


# --- sex, phone ------------------------------------------------------------------------------

_SEX = {
    "h": Sex.MALE, "m": Sex.MALE, "homme": Sex.MALE, "masculin": Sex.MALE, "1": Sex.MALE,
    "garcon": Sex.MALE, "mr": Sex.MALE, "monsieur": Sex.MALE,
    "f": Sex.FEMALE, "femme": Sex.FEMALE, "feminin": Sex.FEMALE, "2": Sex.FEMALE,
    "fille": Sex.FEMALE, "mme": Sex.FEMALE, "madame": Sex.FEMALE,
}  # fmt: skip


def normalise_sex(value: str, mapping: dict[str, str] | None = None) -> Sex:
    """``Sex`` from the usual French codes (H/M/F, Homme/Femme, 1/2), or a format's own."""
    key = fold(value)
    if mapping is not None:
        folded = {fold(k): v for k, v in mapping.items()}
        if key in folded:
            return Sex(folded[key])
    if key in _SEX:
        return _SEX[key]
    raise NormalisationError(
        "Sexe non reconnu. Valeurs attendues : H, F, Homme, Femme (ou 1, 2)."
    )


def normalise_phone(value: str) -> str:
    """Phone number as ``+33XXXXXXXXX`` for French numbers, ``+digits`` otherwise."""
    text = clean_cell(value)
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        digits = "00" + digits
    if digits.startswith("0033"):
        digits = "0" + digits[4:]
    if len(digits) == 10 and digits.startswith("0") and not digits.startswith("00"):
        return "+33" + digits[1:]
    if digits.startswith("00") and len(digits) > 8:
        return "+" + digits[2:]
    if len(digits) == 9 and digits[0] in "1234679":
        return "+33" + digits  # a leading zero lost by a spreadsheet
    raise NormalisationError(
        f"Numéro de téléphone illisible : {len(digits)} chiffres. Attendu : 10 chiffres "
        "commençant par 0, ou un numéro international commençant par +."
    )


# --- communes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommuneMatch:
    code: str
    name: str
    how: str  # code, code_postal, nom, commune_deleguee, arrondissement


_ARRONDISSEMENT = re.compile(
    r"^(paris|lyon|marseille) (\d{1,2}) ?(?:e|er|eme|ieme|em)?(?: arrondissement)?$"
)
_CITY_ARM = {"paris": (75100, 20), "lyon": (69380, 9), "marseille": (13200, 16)}
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_ARTICLES = ("le ", "la ", "les ", "l ", "aux ")


def _commune_key(name: str) -> str:
    return " ".join(_ABBREVIATIONS.get(t, t) for t in fold(name).split())


class CommuneReference:
    """INSEE codes from commune codes, postcodes or names (accents and case ignored).

    Old codes and names of communes merged into a *commune nouvelle* (communes déléguées and
    associées) give today's code; ``Paris 12e``, ``Lyon 3`` and postcode 13001 give the
    arrondissement municipal.
    """

    def __init__(
        self, rows: list[dict[str, str]] | Callable[[], list[dict[str, str]]]
    ) -> None:
        # Built at the first look-up (``rows`` may be a function that reads them): an
        # importer whose file is read by another process never needs it.
        self._rows = rows
        self._built = False
        self._building = threading.Lock()
        self._cache: dict[tuple[str, str, frozenset[str]], CommuneMatch] = {}

    def _build(self) -> None:
        with self._building:
            if not self._built:
                self._build_indexes(self._rows() if callable(self._rows) else self._rows)
                self._rows = []
                self._built = True

    def _build_indexes(self, rows: list[dict[str, str]]) -> None:
        self._names: dict[str, str] = {}
        self._current: dict[str, str] = {}  # any code -> today's code
        self._by_key: dict[str, list[str]] = {}
        self._by_key_loose: dict[str, list[str]] = {}  # without the article (Le, La, L')
        self._by_postcode: dict[str, list[str]] = {}
        for row in rows:
            code, kind, parent = row["code"], row["type"], row["parent"]
            current = parent if kind in {"COMD", "COMA"} and parent else code
            if kind in {"COM", "ARM"} or code not in self._current:
                self._current[code] = current
            if kind in {"COM", "ARM"}:
                self._names[code] = row["nom"]
            key = _commune_key(row["nom"])
            self._by_key.setdefault(key, []).append(current)
            for article in _ARTICLES:
                if key.startswith(article):
                    self._by_key_loose.setdefault(key[len(article):], []).append(current)
            for postcode in row["codes_postaux"].split():
                self._by_postcode.setdefault(postcode, []).append(code)

    @classmethod
    def load(cls, path: Path = COMMUNES_REFERENCE) -> CommuneReference:
        return _load_reference(path)

    def name(self, code: str) -> str:
        if not self._built:
            self._build()
        return self._names.get(code, code)

    def resolve(
        self, value: str, postcode: str = "", departements: frozenset[str] = frozenset()
    ) -> CommuneMatch:
        """Today's INSEE code of ``value`` (code, postcode or name), or raise
        `NormalisationError` naming the closest communes. ``postcode`` and ``departements``
        settle names that several communes share."""
        cache_key = (value, postcode, departements)
        if cache_key not in self._cache:
            if not self._built:
                self._build()
            self._cache[cache_key] = self._resolve(clean_cell(value), clean_cell(postcode),
                                                   departements)
        return self._cache[cache_key]

    def _resolve(self, text: str, postcode: str, departements: frozenset[str]) -> CommuneMatch:
        if not text and postcode:
            return self._from_postcode(postcode, "", departements)
        upper = text.upper()
        if re.fullmatch(r"\d{4}", upper):
            upper = "0" + upper  # a leading zero lost by a spreadsheet
        if re.fullmatch(r"(?:\d{2}|2[AB])\d{3}", upper):
            if upper in self._current:
                current = self._current[upper]
                how = "code" if current == upper else "commune_deleguee"
                return CommuneMatch(current, self.name(current), how)
            if upper in self._by_postcode:
                return self._from_postcode(upper, postcode, departements)
            raise NormalisationError(
                "Code commune ou code postal inconnu : vérifiez le code INSEE "
                "(Dijon : 21231) ou le code postal (Dijon : 21000)."
            )
        key = _commune_key(text)
        if match := _ARRONDISSEMENT.match(key):
            base, count = _CITY_ARM[match[1]]
            number = int(match[2])
            if 1 <= number <= count:
                code = str(base + number)
                return CommuneMatch(code, self.name(code), "arrondissement")
        candidates = sorted(set(self._by_key.get(key) or self._by_key_loose.get(key, [])))
        if len(candidates) > 1 and postcode:
            on_postcode = set(self._current.get(c, c) for c in self._by_postcode.get(postcode, []))
            candidates = [c for c in candidates if c in on_postcode] or candidates
        if len(candidates) > 1 and departements:
            candidates = [c for c in candidates if _departement(c) in departements] or candidates
        if len(candidates) == 1:
            code = candidates[0]
            how = "nom" if code in self._by_key_direct(key) else "commune_deleguee"
            return CommuneMatch(code, self.name(code), how)
        if candidates:
            listed = ", ".join(f"{self.name(c)} ({c})" for c in candidates[:6])
            raise NormalisationError(
                f"Commune ambiguë : ce nom désigne plusieurs communes : {listed}. "
                "Indiquez le code INSEE ou le code postal."
            )
        if postcode:
            return self._from_postcode(postcode, text, departements)
        close = difflib.get_close_matches(key, list(self._by_key), n=3, cutoff=0.8)
        hint = ""
        if close:
            names = sorted({self.name(self._by_key[k][0]) for k in close})
            hint = " Vouliez-vous dire : " + ", ".join(names) + " ?"
        raise NormalisationError(
            f"Commune introuvable : aucune commune de ce nom.{hint} Corrigez le nom ou "
            "indiquez le code INSEE."
        )

    def _from_postcode(
        self, postcode: str, name: str, departements: frozenset[str]
    ) -> CommuneMatch:
        codes = sorted({self._current.get(c, c) for c in self._by_postcode.get(postcode, [])})
        if not codes:
            raise NormalisationError(
                f"Code postal inconnu : {postcode!r}. Vérifiez-le (5 chiffres, Dijon : 21000)."
            )
        if len(codes) > 1 and name:
            key = _commune_key(name)
            codes = [c for c in codes if key in self._keys_of(c)] or codes
        if len(codes) == 1:
            return CommuneMatch(codes[0], self.name(codes[0]), "code_postal")
        listed = ", ".join(f"{self.name(c)} ({c})" for c in codes[:6])
        raise NormalisationError(
            f"Code postal {postcode} partagé par plusieurs communes : {listed}. "
            "Indiquez le nom de la commune ou son code INSEE."
        )

    def _by_key_direct(self, key: str) -> set[str]:
        """Codes whose current name (not an old one) reads as ``key``."""
        codes = self._by_key.get(key) or self._by_key_loose.get(key, [])
        return {c for c in codes if _commune_key(self.name(c)).endswith(key)}

    def _keys_of(self, code: str) -> set[str]:
        return {k for index in (self._by_key, self._by_key_loose)
                for k, codes in index.items() if code in codes}


def _departement(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


@lru_cache(maxsize=4)
def _load_reference(path: Path) -> CommuneReference:
    def rows() -> list[dict[str, str]]:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    return CommuneReference(rows)

