"""Name cleaning and French phonetic keys: the one module pseudonymisation and linkage import.

Pure functions on one string. The clear-text linkage (`observatoire.linkage.prepare`) maps
them over the distinct values of a column; `observatoire.pseudonymise` hashes their results
(``*_phon``, ``*_squelette``, ``*_lettres``), so that the keyed encodings and the clear-text
linkage agree on the same names.

Two phonetic rule sets live here, on purpose, and must not be merged without a new encoding
version:

* `phonetic_fr`, the linkage's *French phonetic* key, rewrites spellings that sound alike in
  French and in the usual transliterations of Arabic, Cyrillic and Georgian names
  (``ou``/``u``, ``ch``/``sh``/``tch``, ``dj``/``j``, ``ph``/``f``, ``c``/``k``/``q``, silent
  ``h`` and final letters...); its *skeleton* (`skeleton`) keeps only the consonants, so that
  vowel changes of transliteration collapse (Mohamed, Mouhamed, Muhammad, Mohammad all give
  ``md``). The ``*_squelette`` pseudonyms hash that skeleton (`name_skeleton`).
* `phonetic_code`, the older code that the ``nom_phon``/``prenom_phon`` pseudonyms hash
  (encoding version 1 on). Stored records hold its tokens: replacing it by `phonetic_fr`
  would make every stored ``*_phon`` token differ from a new import's of the same name (and
  the linkage scores of the pseudonymised method change), so a change here is a new
  `observatoire.pseudonymise.ENCODING_VERSION`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_LETTERS = re.compile(r"[^a-z]+")
# Applied in order on a lower-case, accent-free name without spaces.
_LINKAGE_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"tch|tsch|sch|sh|ch", "x"),
        (r"dzh|dj", "j"),
        (r"ph", "f"),
        (r"th", "t"),
        (r"kh", "k"),
        (r"gh", "g"),
        (r"ck|qu|q", "k"),
        (r"gu(?=[eiy])", "g"),
        (r"c(?=[eiy])", "s"),
        (r"g(?=[eiy])", "j"),
        (r"c", "k"),
        (r"x(?=[aeiouy])", "x"),
        (r"w", "v"),
        (r"z", "s"),
        (r"y", "i"),
        (r"eau|au", "o"),
        (r"oo|ou", "u"),
        (r"ai|ei|ay", "e"),
        (r"([aeiou])h", r"\1"),
        (r"^h", ""),
        (r"h", ""),
        (r"e(?=[nm](?:[^aeioun]|$))", "a"),
        (r"(.)\1+", r"\1"),
        (r"(?<=.)(?:e|es|s|x)$", ""),
        (r"(?<=.)d$", "t"),
        (r"(.)\1+", r"\1"),
    )
)
_VOWELS = re.compile(r"[aeiou]")


def strip_accents(text: str) -> str:
    """Drop diacritics (``"Aïssatou"`` -> ``"Aissatou"``, ``"Ștefan"`` -> ``"Stefan"``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def clean_letters(value: str | None) -> str:
    """Lower-case, accent-free letters with single spaces (``"Ben-Ali "`` -> ``"ben ali"``):
    the clear-text linkage's form of a name (`observatoire.normalise.clean_name` is the
    importer's, which keeps the spelling for display and pseudonyms).

    Characters a spreadsheet replaced by ``?`` and any other non-letter become spaces.
    """
    if not value:
        return ""
    text = strip_accents(str(value)).lower().replace("æ", "ae").replace("œ", "oe")
    return " ".join(_NON_LETTERS.split(text)).strip()


def joined(cleaned: str) -> str:
    """A cleaned name without separators: *Abdel-Kader*, *Abdel Kader*, *Abdelkader* meet."""
    return cleaned.replace(" ", "")


def sorted_letters(joined: str) -> str:
    """The letters of a joined name in alphabetical order: two letters swapped by a typo
    (*Rene* / *Rnee*, *Pavel* / *Pavle*) give the same string."""
    return "".join(sorted(joined))


def phonetic_fr(cleaned: str) -> str:
    """French phonetic key of a cleaned name (``"mouhammad"`` -> ``"muamad"``)."""
    text = joined(cleaned)
    if not text:
        return ""
    for pattern, repl in _LINKAGE_RULES:
        text = pattern.sub(repl, text)
    return text


def skeleton(phonetic: str) -> str:
    """Consonants of a phonetic key, doubles collapsed (``"muamad"`` -> ``"md"``).

    A name made only of vowels keeps its first letter so that the key is never empty.
    """
    if not phonetic:
        return ""
    consonants = re.sub(r"(.)\1+", r"\1", _VOWELS.sub("", phonetic))
    return consonants or phonetic[0]


def initials_of(value: str | None) -> str:
    """Letters of an *initials* field, upper-case (``"m.d."`` -> ``"MD"``)."""
    if not value:
        return ""
    return re.sub(r"[^A-Z]", "", strip_accents(str(value)).upper())


# --- the pseudonyms' phonetic code ---------------------------------------------------------

# French-oriented phonetic reduction (in the spirit of Soundex-FR and Phonex), tuned on the
# transliteration variants partners write: ch/sh/tch, ou/u, dj/j, kh/k, ph/f, y/i, double
# consonants, silent h and final e.
_PSEUDONYM_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"[^a-z]", ""),
        (r"y", "i"),
        (r"w", "v"),
        (r"ph", "f"),
        (r"(?:t?sch|tch|tsh|ch|sh)", "X"),
        (r"dj|dg|dz", "j"),
        (r"kh|ck|qu|q", "k"),
        (r"gu(?=[ei])", "g"),
        (r"c(?=[ei])", "s"),
        (r"c", "k"),
        (r"gn", "ni"),
        (r"eau|au", "o"),
        (r"ou|oo", "u"),
        (r"(?:ai|ei|é|è)", "e"),
        (r"h", ""),
        (r"(.)\1+", r"\1"),
        (r"(?<=.)[es]+$", ""),
        (r"(?<=.)[td]$", ""),
    )
)


@lru_cache(maxsize=200_000)
def phonetic_code(name: str) -> str:
    """French phonetic code of a folded name: "Mouhamed" and "Muhamed" give the same code."""
    code = name.lower()
    for pattern, replacement in _PSEUDONYM_RULES:
        code = pattern.sub(replacement, code)
    return code.upper()


@lru_cache(maxsize=200_000)
def name_skeleton(folded: str) -> str:
    """Consonant skeleton of a folded name, the clear-text linkage's (``"mouhamed"`` ->
    ``"md"``); never empty for a name with a letter."""
    return skeleton(phonetic_fr(clean_letters(folded)))
