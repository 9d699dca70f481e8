"""Name normalisation and phonetic keys for French and transliterated names.

Pure functions on one string; `prepare` maps them over the distinct values of a column, so
a million records cost as much as their distinct names.

Two keys are computed:

* the *French phonetic* key rewrites spellings that sound alike in French and in the usual
  transliterations of Arabic, Cyrillic and Georgian names (``ou``/``u``, ``ch``/``sh``/``tch``,
  ``dj``/``j``, ``ph``/``f``, ``c``/``k``/``q``, silent ``h`` and final letters...);
* the *skeleton* keeps only the consonants of the phonetic key, so that vowel changes of
  transliteration collapse (Mohamed, Mouhamed, Muhammad, Mohammad all give ``md``).
"""

from __future__ import annotations

import re
import unicodedata

_NON_LETTERS = re.compile(r"[^a-z]+")
# Applied in order on a lower-case, accent-free name without spaces.
_PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
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


def clean_name(value: str | None) -> str:
    """Lower-case, accent-free letters with single spaces (``"Ben-Ali "`` -> ``"ben ali"``).

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
    for pattern, repl in _PHONETIC_RULES:
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
