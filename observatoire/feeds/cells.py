"""Cell readers: the registry from a field type to the function that reads its cells.

A reader takes the cleaned text of a non-empty cell (`observatoire.normalise.clean_cell`)
and returns ``(value, problems)``: the canonical value (``None`` when unreadable) and what is
wrong with the cell, as `Problem` tuples. Readers are pure, so that their result can be
remembered per distinct cell: the importer's reading (`chunks.parse_chunk`) calls them once
per distinct cell of a column.

Adding a field type: add it to `formats.FieldType`, write its reader factory here and put it
in `READERS`, and describe it in the README (*Partner feeds*; the docs test checks it).
Communes are the one type read with the file's state (the départements already seen):
`validate.RowParser.read_commune`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from observatoire.feeds.formats import FieldSpec
from observatoire.feeds.report import ERROR, WARNING
from observatoire.masking import MASK, mask_contacts, shown_value
from observatoire.normalise import (
    NormalisationError,
    clean_name,
    fold,
    normalise_phone,
    normalise_sex,
    parse_french_date,
)

# What a reader finds wrong in a cell: (severity, value as shown, message, fix).
Problem = tuple[str, str, str, str]
Read = tuple[Any, tuple[Problem, ...]]
Reader = Callable[[str], Read]

_YES = {"oui", "o", "x", "1", "vrai", "yes", "y", "true"}
_NO = {"non", "n", "0", "faux", "no", "false"}
_POSTCODE = re.compile(r"\d{5}")
_POSTCODE_4 = re.compile(r"\d{4}")
CONTACT_MASKED: Problem = (
    WARNING, MASK, "Téléphone ou adresse électronique dans un texte libre : masqué avant "
    "enregistrement ([téléphone masqué], [courriel masqué]).",
    "Ne notez ni numéro ni adresse électronique dans les commentaires ; le reste du texte "
    "est gardé.")
MISSING: Problem = (ERROR, "", "Valeur obligatoire manquante.",
                    "Complétez la cellule dans le fichier d'origine.")


@dataclass(frozen=True)
class CellContext:
    """What a reader of one field needs to know: the field, its spec, whether it is a direct
    identifier (then never shown in a message) and the day of the import (future dates)."""

    name: str
    spec: FieldSpec
    identifier: bool
    today: dt.date

    @property
    def severity(self) -> str:
        """An unreadable cell blocks the row for a required field, else warns."""
        return ERROR if self.spec.required else WARNING

    @property
    def free_text(self) -> bool:
        """Free text (not an identifier, which is pseudonymised): phone numbers and e-mail
        addresses in it are masked before anything is stored."""
        return self.spec.type == "text" and not self.identifier

    def problem(self, severity: str, text: str, message: str, fix: str) -> Problem:
        return (severity, shown_value(text, self.spec.type, self.identifier)[:80], message, fix)


def missing(spec: FieldSpec) -> tuple[Problem, ...]:
    """The problems of an empty cell of a field."""
    return (MISSING,) if spec.required else ()


def read_as_is(text: str) -> Read:
    """The reader of an identifier (pseudonymised, never shown) or of text that is not free
    (the cleaned cell itself)."""
    return text, ()


def _text(context: CellContext) -> Reader:
    if not context.free_text:
        return read_as_is

    def read_free_text(text: str) -> Read:
        masked = mask_contacts(text)
        return (masked, (CONTACT_MASKED,)) if masked != text else (text, ())

    return read_free_text


def _name(context: CellContext) -> Reader:
    def read_name(text: str) -> Read:
        cleaned = clean_name(text)
        if cleaned is None:
            return None, (context.problem(WARNING, text, "Nom sans aucune lettre : ignoré.",
                                          "Laissez la cellule vide si le nom n'est pas connu."),)
        return cleaned, ()

    return read_name


def _date(context: CellContext) -> Reader:
    spec, today, problem = context.spec, context.today, context.problem
    severity = context.severity
    is_birth = context.name == "birth_date"
    latest = today + dt.timedelta(days=1)

    def read_date(text: str) -> Read:
        try:
            parsed = parse_french_date(text, today)
        except NormalisationError as exc:
            return None, (problem(severity if not spec.contact else ERROR, text, str(exc),
                                  "Corrigez la date au format JJ/MM/AAAA."),)
        if parsed.value > latest:
            return None, (problem(severity if not is_birth else WARNING, text,
                                  "Date dans le futur : ignorée.", "Vérifiez l'année saisie."),)
        if is_birth and parsed.year < today.year - 110:
            return None, (problem(WARNING, text, "Date de naissance invraisemblable "
                                  "(plus de 110 ans) : ignorée.",
                                  "Vérifiez l'année de naissance."),)
        if is_birth and parsed.two_digit_year:
            return parsed, (problem(WARNING, text,
                                    f"Année de naissance sur deux chiffres, lue {parsed.year}.",
                                    "Saisissez l'année sur quatre chiffres."),)
        return parsed, ()

    return read_date


def _sex(context: CellContext) -> Reader:
    spec = context.spec

    def read_sex(text: str) -> Read:
        try:
            return normalise_sex(text, spec.values).value, ()
        except NormalisationError as exc:
            return None, (context.problem(context.severity, text, str(exc), "Utilisez H ou F."),)

    return read_sex


def _code(context: CellContext) -> Reader:
    spec = context.spec
    values = {fold(k): v for k, v in (spec.values or {}).items()}
    canonical = set(values.values())

    def read_code(text: str) -> Read:
        key = fold(text) if values else text
        if key in values:
            return values[key], ()
        if text in canonical or not spec.values:
            return text, ()
        if spec.strict:
            allowed = ", ".join(sorted(spec.values)[:12])
            return None, (context.problem(ERROR, text, "Valeur non prévue par le format.",
                                          f"Valeurs attendues : {allowed}."),)
        return text, ()

    return read_code


def _yesno(context: CellContext) -> Reader:
    def read_yesno(text: str) -> Read:
        key = fold(text)
        if key in _YES:
            return True, ()
        if key in _NO:
            return False, ()
        return None, (context.problem(context.severity, text, "Valeur oui/non non reconnue.",
                                      "Écrivez oui ou non."),)

    return read_yesno


def _integer(context: CellContext) -> Reader:
    def read_integer(text: str) -> Read:
        compact = text.replace(" ", "").replace(",", ".")
        try:
            number = float(compact)
        except ValueError:
            return None, (context.problem(context.severity, text, "Nombre illisible.",
                                          "Écrivez un nombre entier (par exemple 12)."),)
        if number < 0 or not number.is_integer() or number > 1_000_000:
            return None, (context.problem(context.severity, text,
                                          "Nombre entier positif attendu.",
                                          "Écrivez un nombre entier positif."),)
        return int(number), ()

    return read_integer


def _postcode(context: CellContext) -> Reader:
    def read_postcode(text: str) -> Read:
        digits = text.replace(" ", "")
        if _POSTCODE_4.fullmatch(digits):
            digits = "0" + digits
        if not _POSTCODE.fullmatch(digits):
            return None, (context.problem(context.severity, text,
                                          "Code postal invalide (5 chiffres).",
                                          "Corrigez le code postal, en texte pour garder le "
                                          "zéro initial."),)
        return digits, ()

    return read_postcode


def _phone(context: CellContext) -> Reader:
    def read_phone(text: str) -> Read:
        try:
            return normalise_phone(text), ()
        except NormalisationError as exc:
            return None, (context.problem(WARNING, text, str(exc), "Corrigez le numéro."),)

    return read_phone


# Field type -> reader factory. Communes: see the module doc.
READERS: dict[str, Callable[[CellContext], Reader]] = {
    "text": _text, "identifier": _text, "name": _name, "date": _date, "sex": _sex,
    "code": _code, "yesno": _yesno, "integer": _integer, "postcode": _postcode,
    "phone": _phone,
}
# Types whose readings are worth remembering per distinct cell (names, dates and codes
# repeat a lot); text is read again each time (mostly distinct, and cheap).
REMEMBERED = frozenset(READERS) - {"text", "identifier"}
STATEFUL_TYPES = frozenset({"commune"})


def reader(context: CellContext) -> Reader:
    """The reader of one field (see module doc)."""
    return READERS[context.spec.type](context)
