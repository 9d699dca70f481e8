"""Masking identifiers by their content: phone numbers, e-mail addresses, dates.

Masking by column name misses an identifier that sits in another column (a row shifted by a
separator, a phone number typed in a comment). What is stored or shown about a partner's
cell or a volunteer's free text goes through here first: free text keeps its words with
phone numbers and e-mail addresses replaced (`mask_contacts`); a cell shown in a report or
kept in the quarantine is shown only when it cannot identify anyone (`shown_value`). Pure.
"""

from __future__ import annotations

import re

MASK = "[masqué]"
PHONE_MASK = "[téléphone masqué]"
EMAIL_MASK = "[courriel masqué]"

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# French numbers: 06 12 34 56 78, 06.12.34.56.78, 06-12-34-56-78, 0612345678, +33 6 12 34
# 56 78, +33 (0)6 12 34 56 78, 0033 6 ...; other international numbers (+44 20 7946 0958).
_SEPARATOR = r"[ .\-\u00a0\u202f]?"
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    rf"(?:(?:\+|00){_SEPARATOR}33{_SEPARATOR}(?:\(0\){_SEPARATOR})?|0)[1-9](?:{_SEPARATOR}\d{{2}}){{4}}"
    rf"|\+{_SEPARATOR}\d{{1,3}}(?:{_SEPARATOR}\(?\d{{1,4}}\)?){{2,5}}"
    r")(?!\d)"
)
_DATE = re.compile(
    r"(?<!\d)(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})|\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2})(?!\d)"
)
_LETTER = re.compile(r"[^\W\d_]")
# Kinds of cells that hold no words: a word there is a cell out of place (a name shifted
# into a number column by a separator), never shown.
_WORDLESS = frozenset({"integer", "postcode"})


def mask_contacts(text: str) -> str:
    """``text`` with its e-mail addresses and phone numbers replaced by ``[courriel masqué]``
    and ``[téléphone masqué]`` (the rest kept)."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    if sum(c.isdigit() for c in text) >= 8:
        text = _PHONE.sub(PHONE_MASK, text)
    return text


def has_contact(text: str) -> bool:
    """Whether ``text`` holds a phone number or an e-mail address."""
    return mask_contacts(text) != text


def has_date(text: str) -> bool:
    """Whether ``text`` holds something written like a date (a birth date, maybe)."""
    return _DATE.search(text) is not None


def shown_value(text: str, kind: str | None, identifier: bool = False) -> str:
    """What may be shown or stored of a partner's cell ``text`` read as a ``kind`` field
    (a format's field type; ``None`` for a column of no field, whose content is unknown).

    Identifier fields and columns of no field are masked; a date is shown only in a date
    field, a word never in a number or postcode field; phone numbers and e-mail addresses
    are masked everywhere.
    """
    if not text:
        return text
    if identifier or kind is None:
        return MASK
    if kind in _WORDLESS and _LETTER.search(text):
        return MASK
    if kind != "date" and has_date(text):
        return MASK
    return mask_contacts(text)
