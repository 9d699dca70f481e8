"""Row-level validation: partner cells -> canonical values -> pseudonymised records.

`RowParser` checks every cell of a row against its format (types, value mappings, required
fields, spreadsheet formulas) and returns the values with the row's issues; `RecordBuilder`
turns the values of a valid row into what is stored: a `source_record` (direct identifiers
replaced by their pseudonyms) or a place tally. Pure: no database, no file.

A file written by ``observatoire pseudonymise`` has canonical column names, no identifier
column and the pseudonyms in ``ps_*`` columns; the same classes read it (``pseudonymised``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from observatoire.feeds.formats import FeedFormat, FieldSpec, header_key
from observatoire.feeds.report import ERROR, WARNING, Issue
from observatoire.formula import SUSPECT_FIRST, escape_cell, is_formula
from observatoire.masking import MASK, mask_contacts, shown_value
from observatoire.model import DEFAULT_PARTNER, ObservatoireError
from observatoire.normalise import (
    CleanName,
    CommuneReference,
    FrenchDate,
    NormalisationError,
    clean_cell,
    clean_name,
    fold,
    normalise_phone,
    normalise_sex,
    parse_french_date,
)
from observatoire.plan_attributes import PLAN_ATTRIBUTES, attribute_text
from observatoire.pseudonymise import ENCODING_VERSION, PSEUDONYM_FIELDS, Pseudonymiser

# A cell a spreadsheet would run (`observatoire.formula.is_formula`) starts with one of these
# or holds a DDE call (a "|").
_FORMULA_FIRST = SUSPECT_FIRST
_YES = {"oui", "o", "x", "1", "vrai", "yes", "y", "true"}
_NO = {"non", "n", "0", "faux", "no", "false"}
PSEUDO_PREFIX = "ps_"
PSEUDO_MARKER = "ps_v"
ROW_KEY_COLUMN = "cle_ligne"
BIRTH_YEAR_COLUMN = "annee_naissance"
_POSTCODE = re.compile(r"\d{5}")
_POSTCODE_4 = re.compile(r"\d{4}")
_PSEUDO_ROW_KEY = PSEUDO_PREFIX + ROW_KEY_COLUMN
_CACHE_LIMIT = 100_000  # distinct cells remembered per field (bounded memory)

# What a reader finds wrong in a cell: (severity, value as shown, message, fix).
Problem = tuple[str, str, str, str]
Read = tuple[Any, tuple[Problem, ...]]
CONTACT_MASKED: Problem = (
    WARNING, MASK, "Téléphone ou adresse électronique dans un texte libre : masqué avant "
    "enregistrement ([téléphone masqué], [courriel masqué]).",
    "Ne notez ni numéro ni adresse électronique dans les commentaires ; le reste du texte "
    "est gardé.")


@dataclass
class ParsedRow:
    number: int
    values: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(i.severity == ERROR for i in self.issues)


class RowParser:
    """Reads the rows of one file of a given format (see module doc)."""

    def __init__(
        self,
        feed_format: FeedFormat,
        headers: list[str],
        file_name: str,
        communes: CommuneReference,
        departements: frozenset[str] = frozenset(),
        today: dt.date | None = None,
    ) -> None:
        self.format = feed_format
        self.headers = headers
        self.file_name = file_name
        self.communes = communes
        self.departements = departements
        self.today = today or dt.date.today()
        self.file_issues: list[Issue] = []
        self.pseudonymised = PSEUDO_MARKER in headers
        self._columns: dict[str, int] = {}
        self._identifier_columns: set[int] = set()
        self._pseudo_columns: dict[str, int] = {}
        self._seen_departements: set[str] = set()
        self._map_columns()
        # Per column read, its field's type and whether it is an identifier (`shown_cell`).
        self._kinds = {index: (feed_format.fields[name].type, feed_format.is_identifier(name))
                       for name, index in self._columns.items()}
        self._readers: dict[str, Callable[[str], Read]] = {
            name: self._reader(name, spec) for name, spec in feed_format.fields.items()
        }
        self._departements_now = self.departements
        self._learning = not self.departements
        self._postcode_index = self._columns.get("postcode")
        self._contacts = [n for n, s in feed_format.fields.items() if s.contact] if (
            feed_format.kind == "personnes") else []
        self._plan_fields()

    @property
    def fatal(self) -> bool:
        return any(i.severity == ERROR for i in self.file_issues)

    # --- columns -----------------------------------------------------------------------------

    def _map_columns(self) -> None:
        fmt, name = self.format, self.file_name
        keys = [header_key(h) for h in self.headers]
        seen: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in seen and key:
                self.file_issues.append(Issue(
                    WARNING, name, 1, self.headers[index], "",
                    "Colonne en double : seule la première est lue.",
                    "Renommez ou supprimez la colonne en double.",
                ))
            seen.setdefault(key, index)
        used: set[int] = set()
        for field_name, spec in fmt.fields.items():
            if self.pseudonymised:
                if fmt.is_identifier(field_name):
                    if header_key(field_name) in seen:
                        self._refuse_identifier_in_pseudonymised(field_name)
                    continue
                candidates = [header_key(field_name)]
            else:
                candidates = [header_key(c) for c in spec.columns]
            index = next((seen[c] for c in candidates if c in seen), None)
            if index is None:
                if spec.required:
                    expected = " ou ".join(f"« {c} »" for c in spec.columns[:4])
                    self.file_issues.append(Issue(
                        ERROR, name, 1, spec.columns[0], "",
                        f"Colonne obligatoire manquante : {expected} ({field_name}).",
                        "Vérifiez le format choisi (observatoire feed formats) et la ligne "
                        f"d'en-tête ; colonnes trouvées : {', '.join(map(_header, self.headers))}.",
                    ))
                continue
            self._columns[field_name] = index
            used.add(index)
            if fmt.is_identifier(field_name):
                self._identifier_columns.add(index)
        if self.pseudonymised:
            for index, header in enumerate(self.headers):
                if header.startswith(PSEUDO_PREFIX):
                    self._pseudo_columns[header[len(PSEUDO_PREFIX):]] = index
                    used.add(index)
            for column in (ROW_KEY_COLUMN, BIRTH_YEAR_COLUMN):
                if header_key(column) in seen:
                    self._pseudo_columns[column] = seen[header_key(column)]
                    used.add(seen[header_key(column)])
            if ROW_KEY_COLUMN not in self._pseudo_columns:
                self.file_issues.append(Issue(
                    ERROR, name, 1, ROW_KEY_COLUMN, "",
                    "Fichier pseudonymisé sans colonne cle_ligne.",
                    "Produisez le fichier avec `observatoire pseudonymise` sans le modifier.",
                ))
        ignored = [_header(h) for i, h in enumerate(self.headers) if i not in used and h]
        if ignored and not self.fatal:
            self.file_issues.append(Issue(
                WARNING, name, 1, None, "",
                f"Colonnes non reconnues, ignorées (jamais enregistrées) : {', '.join(ignored)}.",
                "Si l'une d'elles est utile, ajoutez son nom au format (fichier YAML).",
            ))
        if not self._columns and not self.fatal:
            self.file_issues.append(Issue(
                ERROR, name, 1, None, "",
                f"Aucune colonne du format {fmt.name} n'a été trouvée.",
                f"Ce fichier n'est sans doute pas au format {fmt.name} : vérifiez --format.",
            ))

    def _refuse_identifier_in_pseudonymised(self, field_name: str) -> None:
        self.file_issues.append(Issue(
            ERROR, self.file_name, 1, field_name, "",
            "Fichier pseudonymisé contenant encore une colonne identifiante.",
            "Refaites la pseudonymisation avec `observatoire pseudonymise`.",
        ))

    # --- cells -------------------------------------------------------------------------------

    def _reader(self, name: str, spec: FieldSpec) -> Callable[[str], Read]:
        """The reader of one field: cleaned cell text -> (value, problems). Pure, so that its
        result is remembered per distinct cell (names, dates, codes repeat a lot)."""
        kind = spec.type
        values = {fold(k): v for k, v in (spec.values or {}).items()}
        canonical = set(values.values())
        severity = ERROR if spec.required else WARNING
        is_birth = name == "birth_date"
        masked = self.format.is_identifier(name)
        latest = self.today + dt.timedelta(days=1)

        def problem(severity: str, text: str, message: str, fix: str) -> Problem:
            return (severity, shown_value(text, kind, masked)[:80], message, fix)

        def read_text(text: str) -> Read:
            return text, ()

        def read_name(text: str) -> Read:
            cleaned = clean_name(text)
            if cleaned is None:
                return None, (problem(WARNING, text, "Nom sans aucune lettre : ignoré.",
                                      "Laissez la cellule vide si le nom n'est pas connu."),)
            return cleaned, ()

        def read_date(text: str) -> Read:
            try:
                parsed = parse_french_date(text, self.today)
            except NormalisationError as exc:
                return None, (problem(severity if not spec.contact else ERROR, text, str(exc),
                                      "Corrigez la date au format JJ/MM/AAAA."),)
            if parsed.value > latest:
                return None, (problem(severity if not is_birth else WARNING, text,
                                      "Date dans le futur : ignorée.", "Vérifiez l'année saisie."),)
            if is_birth and parsed.year < self.today.year - 110:
                return None, (problem(WARNING, text, "Date de naissance invraisemblable "
                                      "(plus de 110 ans) : ignorée.",
                                      "Vérifiez l'année de naissance."),)
            if is_birth and parsed.two_digit_year:
                return parsed, (problem(WARNING, text,
                                        f"Année de naissance sur deux chiffres, lue {parsed.year}.",
                                        "Saisissez l'année sur quatre chiffres."),)
            return parsed, ()

        def read_sex(text: str) -> Read:
            try:
                return normalise_sex(text, spec.values).value, ()
            except NormalisationError as exc:
                return None, (problem(severity, text, str(exc), "Utilisez H ou F."),)

        def read_code(text: str) -> Read:
            key = fold(text) if values else text
            if key in values:
                return values[key], ()
            if text in canonical or not spec.values:
                return text, ()
            if spec.strict:
                allowed = ", ".join(sorted(spec.values)[:12])
                return None, (problem(ERROR, text, "Valeur non prévue par le format.",
                                      f"Valeurs attendues : {allowed}."),)
            return text, ()

        def read_yesno(text: str) -> Read:
            key = fold(text)
            if key in _YES:
                return True, ()
            if key in _NO:
                return False, ()
            return None, (problem(severity, text, "Valeur oui/non non reconnue.",
                                  "Écrivez oui ou non."),)

        def read_integer(text: str) -> Read:
            compact = text.replace(" ", "").replace(",", ".")
            try:
                number = float(compact)
            except ValueError:
                return None, (problem(severity, text, "Nombre illisible.",
                                      "Écrivez un nombre entier (par exemple 12)."),)
            if number < 0 or not number.is_integer() or number > 1_000_000:
                return None, (problem(severity, text, "Nombre entier positif attendu.",
                                      "Écrivez un nombre entier positif."),)
            return int(number), ()

        def read_commune(text: str) -> Read:
            raise AssertionError("communes are read by RowParser._read_commune")  # pragma: no cover

        def read_postcode(text: str) -> Read:
            digits = text.replace(" ", "")
            if _POSTCODE_4.fullmatch(digits):
                digits = "0" + digits
            if not _POSTCODE.fullmatch(digits):
                return None, (problem(severity, text, "Code postal invalide (5 chiffres).",
                                      "Corrigez le code postal, en texte pour garder le zéro "
                                      "initial."),)
            return digits, ()

        def read_phone(text: str) -> Read:
            try:
                return normalise_phone(text), ()
            except NormalisationError as exc:
                return None, (problem(WARNING, text, str(exc), "Corrigez le numéro."),)

        return {
            "text": read_text, "identifier": read_text, "name": read_name, "date": read_date,
            "sex": read_sex, "code": read_code, "yesno": read_yesno, "integer": read_integer,
            "commune": read_commune, "postcode": read_postcode, "phone": read_phone,
        }[kind]  # fmt: skip

    def _read_commune(self, text: str, postcode: str) -> Read:
        spec = self.format.fields["commune"]
        try:
            # Without a stored territory, names that several communes share are settled by
            # the départements of the communes already read in the file.
            code = self.communes.resolve(text, postcode, self._departements_now).code
        except NormalisationError as exc:
            shown = shown_value(text, spec.type, self.format.is_identifier("commune"))[:80]
            return None, ((ERROR if spec.required else WARNING, shown, str(exc),
                           "Corrigez la commune dans le fichier, ou ajoutez son code INSEE."),)
        return code, ()

    def _note_departement(self, code: str) -> None:
        self._seen_departements.add(code[:3] if code.startswith("97") else code[:2])
        self._departements_now = frozenset(self._seen_departements)
        self._learning = len(self._seen_departements) < 3

    def _plan_fields(self) -> None:
        """Per mapped field, what `parse` needs, looked up once per file instead of per cell:
        plain text fields, fields whose readings are remembered per distinct cell, communes
        (remembered per cell, postcode and départements)."""
        self._plain: list[tuple[Any, ...]] = []
        self._cached: list[tuple[Any, ...]] = []
        self._communes: list[tuple[Any, ...]] = []
        self._column_order: dict[str | None, int] = {}
        for position, (name, index) in enumerate(self._columns.items()):
            spec = self.format.fields[name]
            column = self.headers[index]
            self._column_order.setdefault(column, position)
            missing: tuple[Problem, ...] = ()
            if spec.required:
                missing = ((ERROR, "", "Valeur obligatoire manquante.",
                            "Complétez la cellule dans le fichier d'origine."),)
            if spec.type in {"text", "identifier"}:
                # Free text (not an identifier, which is pseudonymised): phone numbers and
                # e-mail addresses in it are masked before anything is stored.
                free = spec.type == "text" and not self.format.is_identifier(name)
                self._plain.append((name, index, column, missing, free))
            elif spec.type == "commune":
                self._communes.append((name, index, column, missing, {}, None))
            else:
                self._cached.append((name, index, column, missing, {}, self._readers[name]))
        self._column_order[None] = len(self._column_order)

    @staticmethod
    def _remember(cache: dict[Any, Read], cell: str, read: Callable[[str], Read],
                  missing: tuple[Problem, ...]) -> Read:
        text = clean_cell(cell)
        hit = read(text) if text else (None, missing)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[cell] = hit
        return hit

    # --- rows --------------------------------------------------------------------------------

    def parse(self, number: int, cells: list[str]) -> ParsedRow:
        row = ParsedRow(number, {}, [], cells)
        width = len(self.headers)
        count = len(cells)
        if count != width:
            # Extra cells are refused even when empty: a separator in an unquoted value
            # shifts every later cell by one, and the last cell, often empty, is the extra
            # one (the row would be read with every column shifted).
            hint = ("ligne incomplète (fichier tronqué ?)" if count < width else
                    "séparateur dans une valeur non protégée par des guillemets ?")
            row.issues.append(Issue(
                ERROR, self.file_name, number, None, "",
                f"{count} champs au lieu de {width} : {hint}",
                "Vérifiez cette ligne dans le fichier d'origine et renvoyez-le complet ; si "
                "toutes les lignes finissent par un séparateur en trop, ajoutez-le aussi à la "
                "ligne d'en-tête.",
            ))
            return row
        for cell in cells:
            if cell and (cell[0] in _FORMULA_FIRST or "|" in cell):
                self._check_formulas(row)
                if row.issues:
                    return row
                break
        values, issues, file_name = row.values, row.issues, self.file_name
        # Fields by kind, each in its own tight loop; a row's issues are put back in the
        # order of the fields afterwards.
        for name, index, column, missing, free in self._plain:
            text = clean_cell(cells[index]) if index < count else ""
            if text:
                if free and (masked := mask_contacts(text)) != text:
                    issues.append(Issue(WARNING, file_name, number, column, *CONTACT_MASKED[1:]))
                    text = masked
                values[name] = text
            elif missing:
                issues.append(Issue(ERROR, file_name, number, column, *missing[0][1:]))
        for name, index, column, missing, cache, read in self._cached:
            cell = cells[index] if index < count else ""
            hit = cache.get(cell)
            if hit is None:
                hit = self._remember(cache, cell, read, missing)
            if hit[0] is not None:
                values[name] = hit[0]
            if hit[1]:
                for severity, shown, message, fix in hit[1]:
                    issues.append(Issue(severity, file_name, number, column, shown, message,
                                        fix))
        for name, index, column, missing, cache, _read in self._communes:
            cell = cells[index] if index < count else ""
            postcode = ""
            if self._postcode_index is not None and self._postcode_index < count:
                postcode = clean_cell(cells[self._postcode_index])
            cache_key = (cell, postcode, self._departements_now)
            hit = cache.get(cache_key)
            if hit is None:
                text = clean_cell(cell)
                hit = self._read_commune(text, postcode) if text else (None, missing)
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[cache_key] = hit
            if hit[0] is not None:
                values[name] = hit[0]
                if self._learning:
                    self._note_departement(hit[0])
            for severity, shown, message, fix in hit[1]:
                issues.append(Issue(severity, file_name, number, column, shown, message, fix))
        if len(issues) > 1:
            issues.sort(key=lambda issue: self._column_order.get(issue.column, 0))
        if self._contacts and not any(n in values for n in self._contacts) and not row.blocked:
            issues.append(Issue(
                ERROR, file_name, number, None, "",
                "Aucune date de contact lisible sur la ligne.",
                "Renseignez la date de la demande, de l'appel ou du passage.",
            ))
        if self.pseudonymised:
            for key, index in self._pseudo_columns.items():
                if index < count and cells[index]:
                    values[f"{PSEUDO_PREFIX}{key}"] = cells[index].strip()
        return row

    def shown_cell(self, index: int, cell: str) -> str:
        """What may be shown or stored of the cell of column ``index`` of a row of the
        right width (`observatoire.masking.shown_value`): nothing of an identifier, of a
        pseudonym or of a column the format does not read."""
        kind, identifier = self._kinds.get(index, (None, False))
        return shown_value(cell, kind, identifier)

    def _check_formulas(self, row: ParsedRow) -> None:
        for index, cell in enumerate(row.cells):
            if cell and (cell[0] in _FORMULA_FIRST or "|" in cell) and is_formula(cell):
                value = escape_cell(self.shown_cell(index, cell[:40]))
                row.issues.append(Issue(
                    ERROR, self.file_name, row.number, self.headers[index], value,
                    "Formule de tableur dans une cellule (injection possible) : ligne bloquée.",
                    "Remplacez la formule par la valeur attendue dans le fichier d'origine.",
                ))


def _header(header: str) -> str:
    """A column name as a message shows it: a file without header line has a row of data
    there, whose dates, phone numbers and e-mail addresses are masked."""
    return shown_value(header, "text")


def _canonical(value: Any) -> str:
    if type(value) is str:  # most values: text, codes
        return value
    if isinstance(value, CleanName):
        return value.key
    if isinstance(value, FrenchDate):
        return value.isoformat()
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


# Attributes that say which import wrote a record, not what the partner's row says.
PROVENANCE_ATTRIBUTES = frozenset({"import_id", "import_initial"})


def content_fingerprint(record: dict[str, Any]) -> str:
    """SHA-256 of what a stored record says about the partner's row (its provenance aside).

    Computed the same way on a record about to be stored and on one read back from the
    database: a later extract whose row has another fingerprint brings new content (a SI-SIAO
    demand whose status changed). The input is what is stored already (pseudonyms, codes), so
    the fingerprint reveals nothing more.
    """
    attributes = {k: v for k, v in record["attributes"].items()
                  if k not in PROVENANCE_ATTRIBUTES}
    last_contact = record["last_contact"]
    content = [record["commune_code"], record["sex"], record["birth_year"],
               last_contact.isoformat() if last_contact else None, record["pseudonyms"],
               attributes]
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_PARTNER_LENGTH = 64


def partner_name(text: str) -> str:
    """The name of a partner organisation as stored and keyed: lower case, no accents, words
    joined by ``_`` (``"SIAO Côte-d'Or"`` -> ``"siao_cote_d_or"``), so that the same partner
    written two ways is one partner."""
    name = "_".join(fold(text or "").split())
    if not name or len(name) > _PARTNER_LENGTH:
        raise ObservatoireError(
            f"Nom de partenaire invalide : {text[:80]!r}. Donnez le nom court de l'organisation "
            f"qui a envoyé le fichier (lettres et chiffres, {_PARTNER_LENGTH} caractères au "
            "plus), par exemple --partenaire siao21."
        )
    return name


class RecordBuilder:
    """Builds what is stored from valid rows; holds the pseudonymiser (and the key).

    Row keys are scoped by the partner organisation (``partner``) and the source: the same
    request number sent by two SIAO gives two rows. The default partner's keys are the keys
    of before partners were told apart (what the stored rows have, and what a file
    pseudonymised at the partner's holds); another partner's key is the default key hashed
    again under the partner's purpose, so that it is the same for a file pseudonymised at the
    partner's and for the partner's file in clear.
    """

    def __init__(self, feed_format: FeedFormat, pseudonymiser: Pseudonymiser,
                 partner: str = DEFAULT_PARTNER) -> None:
        self.format = feed_format
        self.pseudonymiser = pseudonymiser
        self.source = feed_format.source_name
        self.partner = partner
        self._scope = None if partner == DEFAULT_PARTNER else pseudonymiser.hasher(
            f"partenaire:{self.source}:{partner}")
        fields = feed_format.fields
        self._contact_fields = [n for n, s in fields.items() if s.contact]
        self._attribute_fields = [
            n for n in fields
            if not feed_format.is_identifier(n)
            and n not in {"sex", "commune", "postcode", "age"}
        ]
        self._custom_identifiers = [
            n for n in fields
            if feed_format.is_identifier(n) and n not in {
                "record_id", "person_ref", "last_name", "first_name", "birth_date", "phone"}
        ]
        self._key_fields = feed_format.row_key or list(fields)
        self._sorted_key_fields = sorted(self._key_fields)
        self._row_purpose = f"ligne:{self.source}"
        self._row_key_hash = self.row_key_hasher()
        self._date_attributes = {n for n in self._attribute_fields if fields[n].type == "date"}
        self._kept_pseudonyms = set(PSEUDONYM_FIELDS) | set(self._custom_identifiers)
        # The attributes of `observatoire.plan_attributes` this format may hold.
        self._plan_keys = [
            [k for k in keys if k in self._attribute_fields]
            for keys in PLAN_ATTRIBUTES.get(self.source, ((), (), ()))
        ]
        # JSON fragments of distinct values, kept from chunk to chunk (see `person_columns`).
        self._fragments: dict[str, dict[Any, Any]] = {}

    @property
    def updatable(self) -> bool:
        """Whether a partner row keeps its identity when its content changes (a SI-SIAO
        demand, a 115 call): its key is the partner's own number, not the row's content."""
        return self.format.kind == "personnes" and bool(self.format.row_key)

    def row_key_hasher(self) -> Callable[[str], str]:
        """The row key of a row's key content (see `row_key`), scoped by the partner."""
        unscoped = self.pseudonymiser.hasher(self._row_purpose)
        scope = self._scope
        if scope is None:
            return unscoped
        return lambda content: scope(unscoped(content))

    def row_key(self, values: dict[str, Any]) -> str:
        pseudonymised = values.get(_PSEUDO_ROW_KEY)
        if pseudonymised is not None:
            return pseudonymised if self._scope is None else self._scope(pseudonymised)
        if self.format.kind == "decomptes":
            parts = [_canonical(values.get(f, "")) for f in
                     ("night_date", "place_kind", "place_name", "commune", "partner")]
            parts[2] = fold(parts[2])
            if self._scope is not None:
                parts.append(self.partner)
            return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        # Same as `Pseudonymiser.row_key` over the key fields present, without the dict.
        content = "\x1e".join(
            f"{f}\x1d{_canonical(values[f])}" for f in self._sorted_key_fields if f in values
        )
        return self._row_key_hash(content)

    def person(self, values: dict[str, Any]) -> dict[str, Any]:
        """A ``source_record`` row (without import id) from the values of a valid row."""
        contacts = [values[f].value for f in self._contact_fields if f in values]
        last_contact = max(contacts) if contacts else None
        birth = values.get("birth_date")
        birth_year: int | None = birth.value.year if birth else None
        dates = self._date_attributes
        attributes = {
            f: values[f].isoformat() if f in dates else values[f]
            for f in self._attribute_fields if f in values
        }
        if "age" in values:
            attributes["age"] = values["age"]
            if birth_year is None and last_contact is not None:
                birth_year = last_contact.year - values["age"]
                attributes["annee_naissance_depuis_age"] = True
        pseudo_year = values.get(f"{PSEUDO_PREFIX}{BIRTH_YEAR_COLUMN}")
        if pseudo_year:
            birth_year = int(pseudo_year)
        if f"{PSEUDO_PREFIX}v" in values:
            kept = self._kept_pseudonyms
            pseudonyms = {
                k[len(PSEUDO_PREFIX):]: v for k, v in values.items()
                if k.startswith(PSEUDO_PREFIX) and k[len(PSEUDO_PREFIX):] in kept
            }
        else:
            pseudonyms = self.pseudonymiser.record(
                last_name=values.get("last_name"),
                first_name=values.get("first_name"),
                birth_date=birth,
                sex=values.get("sex"),
                phone=values.get("phone"),
                person_ref=values.get("person_ref"),
                source=self.source,
            )
            for name in self._custom_identifiers:
                if name in values:
                    pseudonyms[name] = self.pseudonymiser.hash(f"champ:{name}",
                                                               _canonical(values[name]))
        return {
            "source": self.source,
            "source_row_key": self.row_key(values),
            "commune_code": values.get("commune"),
            "sex": values.get("sex"),
            "birth_year": birth_year,
            "last_contact": last_contact,
            "pseudonyms": pseudonyms,
            "attributes": attributes,
        }

    def tally(self, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "row_key": self.row_key(values),
            "campaign": values.get("campaign"),
            "night_date": values["night_date"].value,
            "place_kind": values["place_kind"],
            "place_name": values.get("place_name"),
            "commune_code": values.get("commune"),
            "people_count": values["people_count"],
            "partner": values.get("partner"),
        }

    # --- partner-side pseudonymised file ------------------------------------------------------

    def pseudonymised_columns(self) -> list[str]:
        """Header of a file written by ``observatoire pseudonymise`` for this format."""
        plain = [n for n in self.format.fields if not self.format.is_identifier(n)]
        return [PSEUDO_MARKER, f"{PSEUDO_PREFIX}cle", ROW_KEY_COLUMN, BIRTH_YEAR_COLUMN, *plain,
                *(f"{PSEUDO_PREFIX}{f}" for f in PSEUDONYM_FIELDS[2:]),
                *(f"{PSEUDO_PREFIX}{f}" for f in self._custom_identifiers)]

    def pseudonymised_row(self, values: dict[str, Any]) -> list[str]:
        record = self.person(values)
        pseudonyms = record["pseudonyms"]
        plain = [n for n in self.format.fields if not self.format.is_identifier(n)]
        cells = [ENCODING_VERSION, self.pseudonymiser.key_id, record["source_row_key"],
                 "" if record["birth_year"] is None else str(record["birth_year"])]
        cells += ["" if n not in values else _canonical(values[n]) for n in plain]
        cells += [pseudonyms.get(f, "") for f in PSEUDONYM_FIELDS[2:]]
        cells += [pseudonyms.get(f, "") for f in self._custom_identifiers]
        return cells


# --- per-chunk, per-column reading ------------------------------------------------------------
#
# A million rows cannot go through `RowParser.parse` and `RecordBuilder.person` one at a time
# on two cores: names, dates, communes and codes repeat heavily, so each column of a chunk is
# read over its distinct cells only (`pandas.factorize`), and the results are mapped back to
# the rows with integer codes. Irregular rows (wrong width, spreadsheet formula) still go
# through `parse`, so that their messages stay the same.


# The count-night key of a row as one integer (`person_columns`): 20 + 20 + 12 + 8 bits.
_LETTER_BITS = 20
_YEAR_BITS = 12  # years 1880 to 2100 (`normalise.parse_french_date`)
_SEX_BITS = 8
_VALUE = itemgetter(0)
_PROBLEMS = itemgetter(1)
# What `clean_cell` strips from a cell of ASCII text: the white space at either end, found
# among the cells joined by "\x00" (a character no text cell holds; a cell that did would
# only be cleaned one by one) with a few searches of the joined text.
_ASCII_SPACES = "".join(c for c in map(chr, range(128)) if c.isspace())
_SPACE_AT_AN_END = tuple(["\x00" + c for c in _ASCII_SPACES] + [c + "\x00" for c in _ASCII_SPACES])


def _clean_cells(cells: list[str]) -> list[str]:
    """`clean_cell` of each cell. Partners' cells are nearly always clean already: a few
    searches over the cells joined say so, instead of a call per cell."""
    joined = "\x00" + "\x00".join(cells) + "\x00"
    if joined.isascii() and "\t" not in joined and not any(
            end in joined for end in _SPACE_AT_AN_END):
        return cells
    return [clean_cell(cell) for cell in cells]


def _objects(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@dataclass
class ParsedChunk:
    """The rows of one chunk, read column by column.

    ``codes[field]`` gives, for each regular row, the index of its cell among the distinct
    cells of the field, and ``values[field]`` the value read from each distinct cell (``None``
    when absent or unreadable). ``issues`` holds the issues of the rows that have some, by
    position in the chunk; ``blocked`` says which rows have a blocking error.
    """

    numbers: list[int]
    cells: list[list[str]]
    issues: dict[int, list[Issue]]
    blocked: np.ndarray
    regular: np.ndarray  # positions read per column (the others went through `parse`)
    codes: dict[str, np.ndarray]
    values: dict[str, list[Any]]


# Looks for a cell starting like a formula among a column's distinct cells, each after a
# "\n" (cells never hold a "\n" here unless quoted, and then the exact check below decides);
# a pattern that starts with a plain character is searched for quickly, unlike ``^|\n``.
_FORMULA_START = re.compile("\n[=@+\\-\x00-\x09\x0b-\x20\x7f\xa0\u1680\u2000-\u200b\u2028"
                            "\u2029\u202f\u205f\u3000\ufeff]|\\|")


def parse_chunk(parser: RowParser, rows: list[tuple[int, list[str]]]) -> ParsedChunk:
    """Read a chunk of rows (see `ParsedChunk`); same values and issues as `parse` per row."""
    width = len(parser.headers)
    numbers = [n for n, _ in rows]
    cells = [c for _, c in rows]
    issues: dict[int, list[Issue]] = {}
    regular_cells: list[list[str]] = cells
    regular: list[int] = list(range(len(cells)))
    odd: list[int] = []
    if set(map(len, cells)) - {width}:
        regular_cells, regular = [], []
        for position, row in enumerate(cells):
            count = len(row)
            if count == width:
                regular_cells.append(row)
                regular.append(position)
            else:  # refused by `parse`, empty extra cells included
                odd.append(position)
    # The regular rows as one table of cells, each column split into its distinct cells and
    # the codes of the rows.
    cells_table = np.empty((len(regular_cells), width), dtype=object)
    if regular_cells:
        cells_table[:] = regular_cells
    columns = [pd.factorize(cells_table[:, index]) for index in range(width)]
    # Spreadsheet formulas, looked for among the distinct cells of each column.
    formula = np.zeros(len(regular_cells), dtype=bool)
    for codes, uniques in columns:
        if not _FORMULA_START.search("\n" + "\n".join(uniques)):
            continue
        suspects = [i for i, c in enumerate(uniques)
                    if c and (c[0] in _FORMULA_FIRST or "|" in c) and is_formula(c)]
        if suspects:
            formula |= np.isin(codes, suspects)
    if formula.any():
        odd.extend(np.asarray(regular)[formula].tolist())
        keep = ~formula
        regular = np.asarray(regular)[keep].tolist()
        cells_table = cells_table[keep]
        columns = [(codes[keep], uniques) for codes, uniques in columns]
    blocked = np.zeros(len(rows), dtype=bool)
    for position in sorted(odd):
        parsed = parser.parse(numbers[position], cells[position])
        issues[position] = parsed.issues
        blocked[position] = parsed.blocked
    regular_array = np.asarray(regular, dtype=np.int64)
    chunk = ParsedChunk(numbers, cells, issues, blocked, regular_array, {}, {})
    if len(regular):
        _read_columns(parser, chunk, cells_table, columns)
    return chunk


def _read_columns(
    parser: RowParser,
    chunk: ParsedChunk,
    cells_table: np.ndarray,
    columns: list[tuple[np.ndarray, np.ndarray]],
) -> None:
    file_name = parser.file_name
    regular = chunk.regular
    size = len(regular)
    # Issues of the regular rows, by position among them, in the order of the fields.
    found: dict[int, list[Issue]] = {}
    errors = np.zeros(size, dtype=bool)
    plans = {entry[0]: ("plain", entry) for entry in parser._plain}
    plans.update({entry[0]: ("cached", entry) for entry in parser._cached})
    plans.update({entry[0]: ("commune", entry) for entry in parser._communes})

    def note(codes: np.ndarray, bad: list[int], problems: Callable[[int], tuple[Problem, ...]],
             column: str | None) -> None:
        """The issues of the rows whose cell is one of the distinct cells ``bad``."""
        if not bad:
            return
        rows = np.flatnonzero(np.isin(codes, bad))
        for row in rows.tolist():
            target = found.setdefault(row, [])
            for severity, shown, message, fix in problems(codes[row]):
                target.append(Issue(severity, file_name, chunk.numbers[regular[row]], column,
                                    shown, message, fix))
                if severity == ERROR:
                    errors[row] = True

    for name in parser._columns:
        kind, entry = plans[name]
        if kind == "plain":
            _, index, column, missing, free = entry
            codes, uniques = columns[index]
            texts = _clean_cells(uniques.tolist())
            if free:
                masked = [mask_contacts(text) for text in texts]
                note(codes, [i for i, (a, b) in enumerate(zip(texts, masked, strict=True))
                             if a != b], lambda _i: (CONTACT_MASKED,), column)
                texts = masked
            chunk.codes[name] = codes
            if "" in texts:
                chunk.values[name] = [text or None for text in texts]
                bad = [i for i, text in enumerate(texts) if not text] if missing else []
                note(codes, bad, lambda _i, m=missing: m, column)
            else:  # the usual column: every cell filled in
                chunk.values[name] = texts
            continue
        if kind == "cached":
            _, index, column, missing, cache, read = entry
            codes, uniques = columns[index]
            cells = uniques.tolist()
            hits: list[Read] = list(map(cache.get, cells))
            if None in hits:  # cells not read yet (a tuple is never None)
                position = hits.index(None)
                while True:  # from one to the next with `index`, which scans in C
                    hits[position] = parser._remember(cache, cells[position], read, missing)
                    try:
                        position = hits.index(None, position + 1)
                    except ValueError:
                        break
        else:
            codes, hits, column = _read_communes(parser, entry, cells_table, columns)
        chunk.codes[name] = codes
        chunk.values[name] = list(map(_VALUE, hits))
        problems = list(map(_PROBLEMS, hits))
        if any(problems):
            note(codes, [i for i, p in enumerate(problems) if p], problems.__getitem__, column)
    if parser._contacts:
        present = np.zeros(size, dtype=bool)
        for name in parser._contacts:
            if name in chunk.codes:
                known = np.array([v is not None for v in chunk.values[name]], dtype=bool)
                present |= known[chunk.codes[name]]
        for row in np.flatnonzero(~present & ~errors).tolist():
            found.setdefault(row, []).append(Issue(
                ERROR, file_name, chunk.numbers[regular[row]], None, "",
                "Aucune date de contact lisible sur la ligne.",
                "Renseignez la date de la demande, de l'appel ou du passage.",
            ))
            errors[row] = True
    for row, row_issues in found.items():
        chunk.issues[int(regular[row])] = row_issues
    chunk.blocked[regular] = errors


def _read_communes(
    parser: RowParser,
    entry: tuple[Any, ...],
    cells_table: np.ndarray,
    columns: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, list[Read], str]:
    """Communes of the regular rows of a chunk, read once per distinct (cell, postcode).

    Until three départements are seen, each commune read settles the next ambiguous names
    (as `parse` does row by row): the rows are then read in segments, a new segment starting
    after each row whose commune brings a new département.
    """
    _, index, column, missing, cache, _read = entry
    cells = cells_table[:, index]
    size = len(cells)
    # The distinct (cell, postcode) pairs, numbered in order of first appearance from the
    # codes of the two columns (the postcodes as cleaned).
    commune_codes = columns[index][0]
    if parser._postcode_index is not None:
        codes, uniques = columns[parser._postcode_index]
        cleaned = [clean_cell(c) for c in uniques]
        postcodes = _objects(cleaned)[codes]
        cleaned_codes = pd.factorize(_objects(cleaned))[0][codes]
        pair_codes, _ = _combinations([commune_codes, cleaned_codes], size)
    else:
        postcodes = np.full(size, "", dtype=object)
        pair_codes = commune_codes
    codes = np.empty(size, dtype=np.int64)
    hits: list[Read] = []
    start = 0
    while start < size:
        departements = parser._departements_now
        segment = pair_codes[start:]
        distinct, first = np.unique(segment, return_index=True)
        order = np.argsort(first, kind="stable")
        slots = np.full(int(distinct[-1]) + 1, -1, dtype=np.int64)
        end = size
        for pair, row in zip(distinct[order].tolist(), first[order].tolist(), strict=True):
            cell, postcode = cells[start + row], postcodes[start + row]
            cache_key = (cell, postcode, departements)
            hit = cache.get(cache_key)
            if hit is None:
                text = clean_cell(cell)
                hit = parser._read_commune(text, postcode) if text else (None, missing)
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[cache_key] = hit
            slots[pair] = len(hits)
            hits.append(hit)
            if parser._learning and hit[0] is not None:
                parser._note_departement(hit[0])
                if parser._departements_now != departements:
                    end = start + row + 1
                    break
        codes[start:end] = slots[segment[: end - start]]
        start = end
    return codes, hits, column


_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# A prepared ``source_record`` row: source, key, commune, sex, birth year, last contact (ISO
# text), pseudonyms and attributes (JSON text), then the plan attributes (date, label and
# status: `observatoire.plan_attributes`).
RecordRow = tuple[str, str, str | None, str | None, int | None, str | None, str, str,
                  str | None, str | None, str | None]


def _member(name: str, value: Any) -> str:
    return "," + _encode_json(name) + ":" + _encode_json(value)


def _code_member(name: str, code: str) -> str:
    """`_member` of a pseudonym: hex, base64 or a code word, nothing JSON escapes."""
    return f',"{name}":"{code}"'


def _combinations(codes: list[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows described by several arrays of codes (one per field): the code of each row's
    combination, numbered in order of first appearance, and the first row of each.

    What is built from a few fields (the attributes' JSON, the row key) is then built once
    per distinct combination instead of once per row.
    """
    combined = np.zeros(size, dtype=np.int64)
    bound = 1  # combined < bound
    for field_codes in codes:
        width = int(field_codes.max()) + 1 if size else 1
        if bound * width >= 1 << 62:  # renumber before the product could overflow
            combined = pd.factorize(combined)[0]
            bound = size
        combined = combined * width + field_codes
        bound *= width
    combined = pd.factorize(combined)[0]
    # Codes appear in increasing order: a combination starts where the running maximum grows.
    running = np.maximum.accumulate(combined)
    first = np.flatnonzero(np.r_[True, running[1:] > running[:-1]]) if size else running
    return combined, first


def person_columns(
    builder: RecordBuilder, chunk: ParsedChunk, import_id: int
) -> tuple[list[int], list[list[Any]]]:
    """The records of the valid rows of ``chunk``: their positions in the chunk and the
    columns of the rows to store (`RecordRow`, a list per column), as `RecordBuilder.person`
    would build them (``import_id`` in the attributes).

    Pseudonyms, Bloom filters and JSON fragments are computed once per distinct value; the
    attributes (and the plan attributes, read from them) and the row keys once per distinct
    combination of their fields' values (`_combinations`); the pseudonyms are joined per
    row. Only the row keys and the partner's own numbers, unique per row, are hashed once
    per row.
    """
    regular = chunk.regular
    if not len(regular):
        return [], []
    selected = np.flatnonzero(~chunk.blocked[regular])
    size = len(selected)
    if not size:
        return [], []
    pseudonymiser, source = builder.pseudonymiser, builder.source
    fragments = builder._fragments
    row_codes = {name: codes[selected] for name, codes in chunk.codes.items()}

    def per_value(name: str, read: Callable[[Any], Any], default: Any,
                  remember: str | None = None) -> list[Any]:
        """``read`` of each distinct value of field ``name`` (``default`` for none)."""
        if remember is None:
            return [default if v is None else read(v) for v in chunk.values[name]]
        # Names, dates and codes come back in every chunk: their fragments are kept.
        cache = fragments.setdefault(remember, {})
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        found_values = []
        for v in chunk.values[name]:
            if v is None:
                found_values.append(default)
                continue
            found = cache.get(v)
            if found is None:
                found = cache[v] = read(v)
            found_values.append(found)
        return found_values

    def mapped(name: str, read: Callable[[Any], Any], default: Any,
               remember: str | None = None) -> np.ndarray:
        """``read`` of the value of field ``name`` of each row, as an object array."""
        if name not in chunk.codes:
            return np.full(size, default, dtype=object)
        return _objects(per_value(name, read, default, remember))[row_codes[name]]

    def numbers(name: str, read: Callable[[Any], int], default: int) -> np.ndarray:
        """As `mapped`, for integers (days, years, ages)."""
        if name not in chunk.codes:
            return np.full(size, default, dtype=np.int64)
        return np.array(per_value(name, read, default), dtype=np.int64)[row_codes[name]]

    def known(name: str) -> np.ndarray:
        if name not in chunk.codes:
            return np.zeros(size, dtype=bool)
        present = np.array([v is not None for v in chunk.values[name]], dtype=bool)
        return present[row_codes[name]]

    # Last contact and birth year, as integers (0 and -1 when absent).
    contact = np.zeros(size, dtype=np.int64)
    for name in builder._contact_fields:
        days = numbers(name, lambda v: v.value.toordinal(), 0)
        contact = np.maximum(contact, days)
    distinct_days, day_codes = np.unique(contact, return_inverse=True)
    dates = [dt.date.fromordinal(d) if d else None for d in distinct_days.tolist()]
    contact_iso = _objects([d.isoformat() if d else None for d in dates])[day_codes]
    contact_year = np.array([d.year if d else -1 for d in dates], dtype=np.int64)[day_codes]
    birth_year = numbers("birth_date", lambda v: v.value.year, -1)

    # The attributes' members, in their order: the fragments of each field's distinct
    # values, and the codes of the rows.
    members: list[tuple[list[str], np.ndarray]] = []
    dates_kept = builder._date_attributes
    for name in builder._attribute_fields:
        if name in chunk.codes:
            members.append((per_value(name, (lambda v, n=name: _member(n, v.isoformat()))
                                      if name in dates_kept else
                                      (lambda v, n=name: _member(n, v)),
                                      "", f"attribut:{name}"), row_codes[name]))
    if "age" in chunk.codes:
        members.append((per_value("age", lambda v: _member("age", v), "", "attribut:age"),
                        row_codes["age"]))
        age = numbers("age", lambda v: v, -1)
        from_age = (birth_year < 0) & (contact > 0) & known("age")
        birth_year = np.where(from_age, contact_year - age, birth_year)
        members.append((["", _member("annee_naissance_depuis_age", True)],
                        from_age.astype(np.int64)))
    last_member = _member("import_id", import_id) + "}"
    # Built once per distinct combination of the members (rows of one demand type, status,
    # household, ... share theirs), then given to each row.
    combination, first_rows = _combinations([codes for _, codes in members], size)
    chosen = [[texts[c] for c in codes[first_rows].tolist()] for texts, codes in members]
    attributes = _objects(["{" + "".join(parts)[1:] for parts in zip(
        *chosen, [last_member] * len(first_rows), strict=True)])[combination]
    # The plan attributes: for each, the first of its keys that the row has (as stored);
    # they are attributes, so the same for every row of a combination.
    plan = []
    for alternatives in builder._plan_keys:
        found: list[str | None] = [None] * len(first_rows)
        for name in alternatives:
            if name not in chunk.codes:
                continue
            texts = per_value(name, (lambda v: v.isoformat()) if name in dates_kept else
                              attribute_text, None, f"texte:{name}")
            codes = row_codes[name][first_rows].tolist()
            found = [texts[c] if f is None else f for f, c in zip(found, codes, strict=True)]
        plan.append(_objects(found)[combination].tolist())

    # The pseudonyms' members, in their order, joined per row.
    pseudonyms = [
        mapped(name, lambda v, p=prefix: "".join(
            _code_member(k, h) for k, h in pseudonymiser.name(v, p).items()), "",
            f"nom:{prefix}")
        for name, prefix in (("last_name", "nom"), ("first_name", "prenom"))
    ]

    def birth_members(value: FrenchDate) -> str:
        return "".join(_code_member(k, h) for k, h in pseudonymiser.birth_date(value).items())

    pseudonyms.append(mapped("birth_date", birth_members, "", "naissance"))
    partial = known("last_name") & known("first_name") & known("birth_date") & known("sex")
    if partial.any():
        # The partial key of count nights (initials, birth year, sex): each row's as one
        # integer (ids of the initials and of the sex, the year), and its member kept per
        # integer from chunk to chunk, so that a row costs a few array operations.
        last, first, sex = (chunk.values[n] for n in ("last_name", "first_name", "sex"))
        members_ndls = fragments.setdefault("ndls", {})
        if len(members_ndls) >= _CACHE_LIMIT:
            members_ndls.clear()
        # Never cleared, so that an integer always means the same key: one id per character
        # (fewer than 2 ** 20 letters and digits in Unicode), one per sex.
        letter_ids = fragments.setdefault("ndls:initiales", {})
        sex_ids = fragments.setdefault("ndls:sexe", {})

        def ids(known_ids: dict[str, int], texts: list[str | None], name: str) -> np.ndarray:
            numbered = [0 if t is None else known_ids.setdefault(t, len(known_ids) + 1)
                        for t in texts]
            return np.array(numbered, dtype=np.int64)[row_codes[name][partial]]

        initials = [[None if v is None else v.compact[:1] for v in names]
                    for names in (last, first)]
        ndls = ids(letter_ids, initials[0], "last_name") << _LETTER_BITS
        ndls = (ndls + ids(letter_ids, initials[1], "first_name")) << _YEAR_BITS
        # The birth date is known on these rows: their year never comes from the age.
        ndls = (ndls + birth_year[partial]) << _SEX_BITS
        ndls += ids(sex_ids, [None if v is None else str(v) for v in sex], "sex")
        codes, distinct = pd.factorize(ndls)
        kept = list(map(members_ndls.get, distinct.tolist()))
        if None in kept:
            letter_of = {i: t for t, i in letter_ids.items()}
            sex_of = {i: t for t, i in sex_ids.items()}
            for position, (key, member) in enumerate(zip(distinct.tolist(), kept, strict=True)):
                if member is None:
                    text = (f"{letter_of[key >> (_LETTER_BITS + _YEAR_BITS + _SEX_BITS)]}"
                            f"{letter_of[(key >> (_YEAR_BITS + _SEX_BITS)) % (1 << _LETTER_BITS)]}"
                            f"|{(key >> _SEX_BITS) % (1 << _YEAR_BITS)}"
                            f"|{sex_of[key % (1 << _SEX_BITS)]}")
                    kept[position] = members_ndls[key] = _code_member(
                        "cle_ndls", pseudonymiser.cached_hash("ndls", text))
        member_of_row = np.full(size, "", dtype=object)
        member_of_row[partial] = _objects(kept)[codes]
        pseudonyms.append(member_of_row)
    phone_hash = pseudonymiser.hasher("tel")
    pseudonyms.append(mapped("phone", lambda v: _code_member("telephone", phone_hash(v))
                             if v else "", ""))
    person_hash = pseudonymiser.hasher(f"id:{source}")
    pseudonyms.append(mapped("person_ref", lambda v: _code_member("id_personne", person_hash(v))
                             if v else "", ""))
    for name in builder._custom_identifiers:
        pseudonyms.append(mapped(name, lambda v, n=name: _member(
            n, pseudonymiser.hash(f"champ:{n}", _canonical(v))), ""))
    opening = '{"v":' + _encode_json(ENCODING_VERSION) + ',"cle":' + _encode_json(
        pseudonymiser.key_id)
    pseudonym_texts = list(map("".join, zip(
        [opening] * size, *(p.tolist() for p in pseudonyms), ["}"] * size, strict=True)))

    # The row keys: one hash per distinct combination of the key fields' values (per
    # distinct value when a single field keys the row, as a SI-SIAO demand's number does).
    key_fields = [n for n in builder._sorted_key_fields if n in chunk.codes]
    row_key_hash = builder.row_key_hasher()
    if len(key_fields) == 1:
        name = key_fields[0]
        keys = _objects(per_value(name, lambda v: row_key_hash(f"{name}\x1d{_canonical(v)}"),
                                  row_key_hash("")))[row_codes[name]]
    else:
        combination, first_rows = _combinations([row_codes[n] for n in key_fields], size)
        contents = []
        for name in key_fields:
            texts = per_value(name, lambda v, n=name: f"\x1e{n}\x1d{_canonical(v)}", "")
            contents.append([texts[c] for c in row_codes[name][first_rows].tolist()])
        if not contents:
            contents = [[""] * len(first_rows)]
        keys = _objects([row_key_hash("".join(parts)[1:])
                         for parts in zip(*contents, strict=True)])[combination]

    years_or_none = [None if y < 0 else y for y in birth_year.tolist()]
    columns = [[source] * size, keys.tolist(), mapped("commune", str, None).tolist(),
               mapped("sex", str, None).tolist(), years_or_none, contact_iso.tolist(),
               pseudonym_texts, attributes.tolist(), *plan]
    return regular[selected].tolist(), columns


def person_rows(
    builder: RecordBuilder, chunk: ParsedChunk, import_id: int
) -> tuple[list[int], list[RecordRow]]:
    """The records of the valid rows of ``chunk`` (`person_columns`), row by row."""
    positions, columns = person_columns(builder, chunk, import_id)
    return positions, list(zip(*columns, strict=True))


@dataclass
class PreparedChunk:
    """What the importer needs of a chunk of person rows (`prepare_chunks`), as plain values
    that can cross a process boundary: row numbers, issues by position in the chunk, the
    cells of the blocked rows (to quarantine) and the records of the other rows, in order.

    The records travel as columns (`person_columns`): a list of strings pickles faster than
    as many tuples, and the reading process is the one that bounds a large import.
    """

    numbers: list[int]
    issues: dict[int, list[Issue]]
    blocked_cells: dict[int, list[str]]
    record_columns: list[list[Any]]

    @property
    def records(self) -> list[RecordRow]:
        """The records, row by row (built at each call)."""
        return list(zip(*self.record_columns, strict=True))


def prepare_chunks(
    rows: Iterable[tuple[int, list[str]]],
    parser: RowParser,
    builder: RecordBuilder,
    import_id: int,
    chunk_rows: int,
) -> Iterator[PreparedChunk]:
    """Read, check and pseudonymise ``rows`` (a file of people) ``chunk_rows`` at a time, in
    the file's order (`parse_chunk`, `person_columns`)."""
    rows = iter(rows)
    while batch := list(islice(rows, chunk_rows)):
        chunk = parse_chunk(parser, batch)
        _, columns = person_columns(builder, chunk, import_id)
        blocked = {p: chunk.cells[p] for p in np.flatnonzero(chunk.blocked).tolist()}
        yield PreparedChunk(chunk.numbers, chunk.issues, blocked, columns)


def record_of_row(row: RecordRow) -> dict[str, Any]:
    """A prepared row as `RecordBuilder.person` gives it (to compare with a stored one)."""
    source, key, commune, sex, birth_year, last_contact, pseudonyms, attributes = row[:8]
    return {
        "source": source, "source_row_key": key, "commune_code": commune, "sex": sex,
        "birth_year": birth_year,
        "last_contact": dt.date.fromisoformat(last_contact) if last_contact else None,
        "pseudonyms": json.loads(pseudonyms), "attributes": json.loads(attributes),
    }
