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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from observatoire.feeds.formats import FeedFormat, FieldSpec, header_key
from observatoire.feeds.report import ERROR, MASK, WARNING, Issue
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
from observatoire.pseudonymise import ENCODING_VERSION, PSEUDONYM_FIELDS, Pseudonymiser

# A cell a spreadsheet would run: =..., @..., +FUNCTION(...), -FUNCTION(...).
_FORMULA = re.compile(r"^\s*(?:[=@]|[+\-]\s*[A-Za-z_][A-Za-z0-9_.]*\s*\()")
_FORMULA_FIRST = frozenset("=@+- \t")
_YES = {"oui", "o", "x", "1", "vrai", "yes", "y", "true"}
_NO = {"non", "n", "0", "faux", "no", "false"}
PSEUDO_PREFIX = "ps_"
PSEUDO_MARKER = "ps_v"
ROW_KEY_COLUMN = "cle_ligne"
BIRTH_YEAR_COLUMN = "annee_naissance"


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
        self._readers: dict[str, Callable[[str, ParsedRow], Any]] = {
            name: self._reader(name, spec) for name, spec in feed_format.fields.items()
        }

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
                        f"d'en-tête ; colonnes trouvées : {', '.join(self.headers)}.",
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
        ignored = [h for i, h in enumerate(self.headers) if i not in used and h]
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

    def _issue(self, row: ParsedRow, severity: str, field_name: str, value: str, message: str,
               fix: str) -> None:
        shown = MASK if self.format.is_identifier(field_name) and value else value
        column = self.headers[self._columns[field_name]] if field_name in self._columns else (
            field_name)
        row.issues.append(Issue(severity, self.file_name, row.number, column, shown[:80],
                                message, fix))

    def _reader(self, name: str, spec: FieldSpec) -> Callable[[str, ParsedRow], Any]:
        kind = spec.type
        values = {fold(k): v for k, v in (spec.values or {}).items()}
        canonical = set(values.values())
        severity = ERROR if spec.required else WARNING
        is_birth = name == "birth_date"

        def read_text(text: str, row: ParsedRow) -> Any:
            return text

        def read_name(text: str, row: ParsedRow) -> CleanName | None:
            cleaned = clean_name(text)
            if cleaned is None:
                self._issue(row, WARNING, name, text, "Nom sans aucune lettre : ignoré.",
                            "Laissez la cellule vide si le nom n'est pas connu.")
            return cleaned

        def read_date(text: str, row: ParsedRow) -> FrenchDate | None:
            try:
                parsed = parse_french_date(text, self.today)
            except NormalisationError as exc:
                self._issue(row, severity if not spec.contact else ERROR, name, text, str(exc),
                            "Corrigez la date au format JJ/MM/AAAA.")
                return None
            if parsed.value > self.today + dt.timedelta(days=1):
                self._issue(row, severity if not is_birth else WARNING, name, text,
                            "Date dans le futur : ignorée.", "Vérifiez l'année saisie.")
                return None
            if is_birth and parsed.year < self.today.year - 110:
                self._issue(row, WARNING, name, text, "Date de naissance invraisemblable "
                            "(plus de 110 ans) : ignorée.", "Vérifiez l'année de naissance.")
                return None
            if is_birth and parsed.two_digit_year:
                self._issue(row, WARNING, name, text,
                            f"Année de naissance sur deux chiffres, lue {parsed.year}.",
                            "Saisissez l'année sur quatre chiffres.")
            return parsed

        sexes: dict[str, str] = {}

        def read_sex(text: str, row: ParsedRow) -> str | None:
            if text in sexes:
                return sexes[text]
            try:
                sexes[text] = normalise_sex(text, spec.values).value
                return sexes[text]
            except NormalisationError as exc:
                self._issue(row, severity, name, text, str(exc), "Utilisez H ou F.")
                return None

        def read_code(text: str, row: ParsedRow) -> str | None:
            key = fold(text) if values else text
            if key in values:
                return values[key]
            if text in canonical or not spec.values:
                return text
            if spec.strict:
                allowed = ", ".join(sorted(spec.values)[:12])
                self._issue(row, ERROR, name, text, "Valeur non prévue par le format.",
                            f"Valeurs attendues : {allowed}.")
                return None
            return text

        def read_yesno(text: str, row: ParsedRow) -> bool | None:
            key = fold(text)
            if key in _YES:
                return True
            if key in _NO:
                return False
            self._issue(row, severity, name, text, "Valeur oui/non non reconnue.",
                        "Écrivez oui ou non.")
            return None

        def read_integer(text: str, row: ParsedRow) -> int | None:
            compact = text.replace(" ", "").replace(",", ".")
            try:
                number = float(compact)
            except ValueError:
                self._issue(row, severity, name, text, "Nombre illisible.",
                            "Écrivez un nombre entier (par exemple 12).")
                return None
            if number < 0 or not number.is_integer() or number > 1_000_000:
                self._issue(row, severity, name, text, "Nombre entier positif attendu.",
                            "Écrivez un nombre entier positif.")
                return None
            return int(number)

        def read_commune(text: str, row: ParsedRow) -> str | None:
            postcode = ""
            if "postcode" in self._columns and row.cells:
                index = self._columns["postcode"]
                postcode = clean_cell(row.cells[index]) if index < len(row.cells) else ""
            try:
                # Without a stored territory, names that several communes share are settled
                # by the départements of the communes already read in the file.
                departements = self.departements or frozenset(self._seen_departements)
                code = self.communes.resolve(text, postcode, departements).code
                if not self.departements and len(self._seen_departements) < 3:
                    self._seen_departements.add(code[:3] if code.startswith("97") else code[:2])
                return code
            except NormalisationError as exc:
                self._issue(row, severity, name, text, str(exc),
                            "Corrigez la commune dans le fichier, ou ajoutez son code INSEE.")
                return None

        def read_postcode(text: str, row: ParsedRow) -> str | None:
            digits = text.replace(" ", "")
            if re.fullmatch(r"\d{4}", digits):
                digits = "0" + digits
            if not re.fullmatch(r"\d{5}", digits):
                self._issue(row, severity, name, text, "Code postal invalide (5 chiffres).",
                            "Corrigez le code postal, en texte pour garder le zéro initial.")
                return None
            return digits

        def read_phone(text: str, row: ParsedRow) -> str | None:
            try:
                return normalise_phone(text)
            except NormalisationError as exc:
                self._issue(row, WARNING, name, text, str(exc), "Corrigez le numéro.")
                return None

        return {
            "text": read_text, "identifier": read_text, "name": read_name, "date": read_date,
            "sex": read_sex, "code": read_code, "yesno": read_yesno, "integer": read_integer,
            "commune": read_commune, "postcode": read_postcode, "phone": read_phone,
        }[kind]  # fmt: skip

    # --- rows --------------------------------------------------------------------------------

    def parse(self, number: int, cells: list[str]) -> ParsedRow:
        row = ParsedRow(number, {}, [], cells)
        width = len(self.headers)
        if len(cells) != width:
            extra = cells[width:]
            if len(cells) < width or any(c.strip() for c in extra):
                hint = ("ligne incomplète (fichier tronqué ?)" if len(cells) < width else
                        "séparateur dans une valeur non protégée par des guillemets ?")
                row.issues.append(Issue(
                    ERROR, self.file_name, number, None, "",
                    f"{len(cells)} champs au lieu de {width} : {hint}",
                    "Vérifiez cette ligne dans le fichier d'origine et renvoyez-le complet.",
                ))
                return row
        for index, cell in enumerate(cells):
            if cell and cell[0] in _FORMULA_FIRST and _FORMULA.match(cell):
                value = MASK if index in self._identifier_columns else "'" + cell[:40]
                row.issues.append(Issue(
                    ERROR, self.file_name, number, self.headers[index], value,
                    "Formule de tableur dans une cellule (injection possible) : ligne bloquée.",
                    "Remplacez la formule par la valeur attendue dans le fichier d'origine.",
                ))
        if row.issues:
            return row
        for name, index in self._columns.items():
            text = clean_cell(cells[index]) if index < len(cells) else ""
            spec = self.format.fields[name]
            if not text:
                if spec.required:
                    self._issue(row, ERROR, name, "", "Valeur obligatoire manquante.",
                                "Complétez la cellule dans le fichier d'origine.")
                continue
            value = self._readers[name](text, row)
            if value is not None:
                row.values[name] = value
        if self.format.kind == "personnes":
            contacts = [n for n, s in self.format.fields.items() if s.contact]
            if not any(n in row.values for n in contacts) and not row.blocked:
                row.issues.append(Issue(
                    ERROR, self.file_name, number, None, "",
                    "Aucune date de contact lisible sur la ligne.",
                    "Renseignez la date de la demande, de l'appel ou du passage.",
                ))
        if self.pseudonymised:
            for key, index in self._pseudo_columns.items():
                if index < len(cells) and cells[index]:
                    row.values[f"{PSEUDO_PREFIX}{key}"] = cells[index].strip()
        return row


def _canonical(value: Any) -> str:
    if isinstance(value, CleanName):
        return value.key
    if isinstance(value, FrenchDate):
        return value.isoformat()
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, FrenchDate):
        return value.isoformat()
    return value


class RecordBuilder:
    """Builds what is stored from valid rows; holds the pseudonymiser (and the key)."""

    def __init__(self, feed_format: FeedFormat, pseudonymiser: Pseudonymiser) -> None:
        self.format = feed_format
        self.pseudonymiser = pseudonymiser
        self.source = feed_format.source_name
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

    def row_key(self, values: dict[str, Any]) -> str:
        if f"{PSEUDO_PREFIX}{ROW_KEY_COLUMN}" in values:
            return values[f"{PSEUDO_PREFIX}{ROW_KEY_COLUMN}"]
        if self.format.kind == "decomptes":
            parts = [_canonical(values.get(f, "")) for f in
                     ("night_date", "place_kind", "place_name", "commune", "partner")]
            parts[2] = fold(parts[2])
            return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return self.pseudonymiser.row_key(
            self.source,
            {f: _canonical(values[f]) for f in self._key_fields if f in values},
        )

    def person(self, values: dict[str, Any]) -> dict[str, Any]:
        """A ``source_record`` row (without import id) from the values of a valid row."""
        contacts = [values[f].value for f in self._contact_fields if f in values]
        last_contact = max(contacts) if contacts else None
        birth = values.get("birth_date")
        birth_year: int | None = birth.year if birth else None
        attributes = {f: _json_value(values[f]) for f in self._attribute_fields if f in values}
        if "age" in values:
            attributes["age"] = values["age"]
            if birth_year is None and last_contact is not None:
                birth_year = last_contact.year - values["age"]
                attributes["annee_naissance_depuis_age"] = True
        pseudo_year = values.get(f"{PSEUDO_PREFIX}{BIRTH_YEAR_COLUMN}")
        if pseudo_year:
            birth_year = int(pseudo_year)
        if f"{PSEUDO_PREFIX}v" in values:
            pseudonyms = {
                k[len(PSEUDO_PREFIX):]: v for k, v in values.items()
                if k.startswith(PSEUDO_PREFIX) and k[len(PSEUDO_PREFIX):] in PSEUDONYM_FIELDS
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
