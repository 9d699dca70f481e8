"""Row-level validation: the cells of a partner's row -> canonical values and issues.

`RowParser` maps a file's columns (`headers.map_columns`) and decides how each field is read
(`RowParser.fields`, the readers of `cells`); it checks a row's width (`width_issue`) and
its spreadsheet formulas (`formula_issues`). `chunks.parse_chunk`, the importer's one way
of reading a file, reads many rows at once, column by column, with them;
`chunks.person_columns` and `records.RecordBuilder` turn the values of the valid rows into
what is stored. Pure: no database, no file.

A file written by ``observatoire pseudonymise`` has canonical column names, no identifier
column and the pseudonyms in ``ps_*`` columns; the same classes read it (``pseudonymised``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from observatoire.feeds.cells import (
    REMEMBERED,
    STATEFUL_TYPES,
    CellContext,
    Problem,
    Read,
    Reader,
    missing,
    reader,
)
from observatoire.feeds.formats import FeedFormat
from observatoire.feeds.headers import map_columns
from observatoire.feeds.report import ERROR, WARNING, Issue
from observatoire.formula import SUSPECT_FIRST, escape_cell, is_formula
from observatoire.masking import shown_value
from observatoire.normalise import CommuneReference, NormalisationError, clean_cell

# A cell a spreadsheet would run (`observatoire.formula.is_formula`) starts with one of these
# or holds a DDE call (a "|").
FORMULA_FIRST = SUSPECT_FIRST
CACHE_LIMIT = 100_000  # distinct cells remembered per field (bounded memory)
NO_CONTACT_DATE = ("Aucune date de contact lisible sur la ligne.",
                   "Renseignez la date de la demande, de l'appel ou du passage.")


@dataclass
class ParsedRow:
    number: int
    values: dict[str, Any]
    issues: list[Issue] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(i.severity == ERROR for i in self.issues)


@dataclass
class FieldPlan:
    """How one mapped field of a file is read, decided once per file: its column (index and
    header), the problems of an empty cell, its reader (`cells.reader`; ``None`` for a
    commune, read by `RowParser.read_commune`) and the readings remembered per distinct cell
    (``cache``; ``None`` for text, read again each time)."""

    name: str
    index: int
    column: str
    missing: tuple[Problem, ...]
    read: Reader | None
    cache: dict[Any, Read] | None

    @property
    def commune(self) -> bool:
        return self.read is None


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
        mapping = map_columns(feed_format, headers, file_name)
        self.file_issues: list[Issue] = mapping.issues
        self.pseudonymised = mapping.pseudonymised
        self.columns = mapping.columns  # field -> column index
        self.pseudo_columns = mapping.pseudo_columns
        # Per column read, its field's type and whether it is an identifier (`shown_cell`).
        self._kinds = {index: (feed_format.fields[name].type, feed_format.is_identifier(name))
                       for name, index in self.columns.items()}
        self.fields: list[FieldPlan] = []
        for name, index in self.columns.items():
            spec = feed_format.fields[name]
            context = CellContext(name, spec, feed_format.is_identifier(name), self.today)
            stateful = spec.type in STATEFUL_TYPES
            self.fields.append(FieldPlan(
                name, index, headers[index], missing(spec),
                None if stateful else reader(context),
                {} if stateful or spec.type in REMEMBERED else None))
        self._seen_departements: set[str] = set()
        # Without a stored territory, names that several communes share are settled by the
        # départements of the communes already read in the file (`read_commune`).
        self.departements_now = self.departements
        self.learning = not self.departements
        self.postcode_index = self.columns.get("postcode")
        self.contact_fields = [n for n, s in feed_format.fields.items() if s.contact] if (
            feed_format.kind == "personnes") else []

    @property
    def fatal(self) -> bool:
        return any(i.severity == ERROR for i in self.file_issues)

    # --- cells -------------------------------------------------------------------------------

    @staticmethod
    def remember(plan: FieldPlan, cell: str) -> Read:
        """The reading of ``cell`` (raw) in the field of ``plan``, remembered in its cache
        when it has one."""
        text = clean_cell(cell)
        hit = plan.read(text) if text else (None, plan.missing)  # type: ignore[misc]
        cache = plan.cache
        if cache is not None:
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            cache[cell] = hit
        return hit

    def read_commune(self, plan: FieldPlan, cell: str, postcode: str) -> Read:
        """The commune of ``cell`` (raw) with the row's cleaned ``postcode``, remembered per
        cell, postcode and départements known; learns the départements while too few are
        known (`departements_now`)."""
        cache: dict[Any, Read] = plan.cache  # type: ignore[assignment] - a commune's is set
        cache_key = (cell, postcode, self.departements_now)
        hit = cache.get(cache_key)
        if hit is None:
            text = clean_cell(cell)
            hit = self._resolve_commune(text, postcode) if text else (None, plan.missing)
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            cache[cache_key] = hit
        if self.learning and hit[0] is not None:
            self._seen_departements.add(hit[0][:3] if hit[0].startswith("97") else hit[0][:2])
            self.departements_now = frozenset(self._seen_departements)
            self.learning = len(self._seen_departements) < 3
        return hit

    def _resolve_commune(self, text: str, postcode: str) -> Read:
        spec = self.format.fields["commune"]
        try:
            code = self.communes.resolve(text, postcode, self.departements_now).code
        except NormalisationError as exc:
            shown = shown_value(text, spec.type, self.format.is_identifier("commune"))[:80]
            return None, ((ERROR if spec.required else WARNING, shown, str(exc),
                           "Corrigez la commune dans le fichier, ou ajoutez son code INSEE."),)
        return code, ()

    # --- rows --------------------------------------------------------------------------------

    def width_issue(self, number: int, cells: list[str]) -> Issue | None:
        """The blocking error of a row with more or fewer cells than the header, if so.

        Extra cells are refused even when empty: a separator in an unquoted value shifts
        every later cell by one, and the last cell, often empty, is the extra one (the row
        would be read with every column shifted)."""
        width, count = len(self.headers), len(cells)
        if count == width:
            return None
        hint = ("ligne incomplète (fichier tronqué ?)" if count < width else
                "séparateur dans une valeur non protégée par des guillemets ?")
        return Issue(
            ERROR, self.file_name, number, None, "",
            f"{count} champs au lieu de {width} : {hint}",
            "Vérifiez cette ligne dans le fichier d'origine et renvoyez-le complet ; si "
            "toutes les lignes finissent par un séparateur en trop, ajoutez-le aussi à la "
            "ligne d'en-tête.",
        )

    def formula_issues(self, number: int, cells: list[str]) -> list[Issue]:
        """The blocking errors of a row's spreadsheet formulas (one per cell holding one;
        none for a row without formula)."""
        found = []
        for index, cell in enumerate(cells):
            if cell and (cell[0] in FORMULA_FIRST or "|" in cell) and is_formula(cell):
                value = escape_cell(self.shown_cell(index, cell[:40]))
                found.append(Issue(
                    ERROR, self.file_name, number, self.headers[index], value,
                    "Formule de tableur dans une cellule (injection possible) : ligne bloquée.",
                    "Remplacez la formule par la valeur attendue dans le fichier d'origine.",
                ))
        return found

    def shown_cell(self, index: int, cell: str) -> str:
        """What may be shown or stored of the cell of column ``index`` of a row of the
        right width (`observatoire.masking.shown_value`): nothing of an identifier, of a
        pseudonym or of a column the format does not read."""
        kind, identifier = self._kinds.get(index, (None, False))
        return shown_value(cell, kind, identifier)
