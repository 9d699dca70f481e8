"""Chunked execution: many rows of a file of people read and pseudonymised at once.

A million rows cannot be read one at a time on two cores: names, dates, communes and codes
repeat heavily, so each column of a chunk is read over its distinct cells only
(`pandas.factorize`) with the readers the file's fields are read with (`RowParser.fields`),
and the results are spread back to the rows with integer codes.
The pseudonyms, likewise, come from the same `Pseudonymiser` methods, called once per
distinct value (or combination of values), and the records are the importer's one shape
(`records.RecordRow`). Irregular rows (wrong width, spreadsheet formula) are blocked with the
messages of `RowParser.width_issue` and `RowParser.formula_issues`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from observatoire.feeds.cells import Problem, Read, read_as_is
from observatoire.feeds.headers import (
    BIRTH_YEAR_COLUMN,
    PSEUDO_MARKER,
    PSEUDO_PREFIX,
    ROW_KEY_COLUMN,
)
from observatoire.feeds.records import (
    ROW_KEY_SEPARATOR,
    RecordBuilder,
    RecordRow,
    canonical,
    encode_json,
    row_key_part,
)
from observatoire.feeds.report import ERROR, Issue
from observatoire.feeds.validate import (
    CACHE_LIMIT,
    FORMULA_FIRST,
    NO_CONTACT_DATE,
    FieldPlan,
    RowParser,
)
from observatoire.formula import is_formula
from observatoire.normalise import clean_cell
from observatoire.plan_attributes import attribute_text
from observatoire.pseudonymise import ENCODING_VERSION

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
    regular: np.ndarray  # positions read per column (the others are blocked)
    codes: dict[str, np.ndarray]
    values: dict[str, list[Any]]
    pseudo_columns: dict[str, int] = field(default_factory=dict)
    """``ps_*`` column of a file pseudonymised at the partner's -> index (`row_values`)."""

    def row_values(self, position: int) -> dict[str, Any]:
        """The values read from the row at ``position`` in the chunk, by field, in the order
        of the fields, then its ``ps_*`` cells (a file pseudonymised at the partner's): what
        `RecordBuilder.tally` and `RecordBuilder.pseudonymised_row` take. Nothing for a row
        of the wrong width or with a formula, which is not read."""
        index = int(np.searchsorted(self.regular, position))
        if index == len(self.regular) or self.regular[index] != position:
            return {}
        values = {}
        for name, codes in self.codes.items():
            value = self.values[name][codes[index]]
            if value is not None:
                values[name] = value
        cells = self.cells[position]
        for key, column in self.pseudo_columns.items():
            if column < len(cells) and cells[column]:
                values[f"{PSEUDO_PREFIX}{key}"] = cells[column].strip()
        return values


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
            else:  # refused (`width_issue`), empty extra cells included
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
                    if c and (c[0] in FORMULA_FIRST or "|" in c) and is_formula(c)]
        if suspects:
            formula |= np.isin(codes, suspects)
    if formula.any():
        odd.extend(np.asarray(regular)[formula].tolist())
        keep = ~formula
        regular = np.asarray(regular)[keep].tolist()
        cells_table = cells_table[keep]
        columns = [(codes[keep], uniques) for codes, uniques in columns]
    blocked = np.zeros(len(rows), dtype=bool)
    for position in sorted(odd):  # blocked: the wrong width first, else the formulas
        number, row = numbers[position], cells[position]
        wrong_width = parser.width_issue(number, row)
        issues[position] = ([wrong_width] if wrong_width is not None else
                            parser.formula_issues(number, row))
        blocked[position] = True
    regular_array = np.asarray(regular, dtype=np.int64)
    chunk = ParsedChunk(numbers, cells, issues, blocked, regular_array, {}, {},
                        parser.pseudo_columns if parser.pseudonymised else {})
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

    def note(codes: np.ndarray, bad: list[int], problems: list[Any],
             column: str | None) -> None:
        """The issues of the rows whose cell is one of the distinct cells ``bad``."""
        rows = np.flatnonzero(np.isin(codes, bad))
        for row in rows.tolist():
            target = found.setdefault(row, [])
            for severity, shown, message, fix in problems[codes[row]]:
                target.append(Issue(severity, file_name, chunk.numbers[regular[row]], column,
                                    shown, message, fix))
                if severity == ERROR:
                    errors[row] = True

    for plan in parser.fields:
        if plan.read is read_as_is:  # an identifier or a code word: the cleaned cell itself
            codes, uniques = columns[plan.index]
            values, problems = _as_is(plan, uniques.tolist())
        else:
            if plan.commune:
                codes, hits = _read_communes(parser, plan, cells_table, columns)
            else:
                codes, uniques = columns[plan.index]
                hits = _read_distinct(parser, plan, uniques.tolist())
            values, problems = list(map(_VALUE, hits)), list(map(_PROBLEMS, hits))
        chunk.codes[plan.name] = codes
        chunk.values[plan.name] = values
        if any(problems):
            note(codes, [i for i, p in enumerate(problems) if p], problems, plan.column)
    if parser.contact_fields:
        present = np.zeros(size, dtype=bool)
        for name in parser.contact_fields:
            if name in chunk.codes:
                known = np.array([v is not None for v in chunk.values[name]], dtype=bool)
                present |= known[chunk.codes[name]]
        for row in np.flatnonzero(~present & ~errors).tolist():
            found.setdefault(row, []).append(Issue(
                ERROR, file_name, chunk.numbers[regular[row]], None, "", *NO_CONTACT_DATE))
            errors[row] = True
    for row, row_issues in found.items():
        chunk.issues[int(regular[row])] = row_issues
    chunk.blocked[regular] = errors


def _as_is(plan: FieldPlan, cells: list[str]) -> tuple[list[Any], list[tuple[Problem, ...]]]:
    """`_read_distinct` for a field read as is (`cells.read_as_is`): the values and problems
    that reader gives, without a call per distinct cell (partners' numbers are as many as
    their rows)."""
    texts = _clean_cells(cells)
    if "" not in texts:  # the usual column: every cell filled in
        return texts, []
    return ([text or None for text in texts],
            [() if text else plan.missing for text in texts])


def _read_distinct(parser: RowParser, plan: FieldPlan, cells: list[str]) -> list[Read]:
    """The readings of a column's distinct ``cells`` (`RowParser.remember`)."""
    cache = plan.cache
    if cache is None:  # text: read again each time, its cells nearly always clean already
        read, absent = plan.read, (None, plan.missing)
        return [read(text) if text else absent  # type: ignore[misc]
                for text in _clean_cells(cells)]
    hits: list[Read] = list(map(cache.get, cells))
    if None in hits:  # cells not read yet (a tuple is never None)
        position = hits.index(None)
        while True:  # from one to the next with `index`, which scans in C
            hits[position] = parser.remember(plan, cells[position])
            try:
                position = hits.index(None, position + 1)
            except ValueError:
                break
    return hits


def _read_communes(
    parser: RowParser,
    plan: FieldPlan,
    cells_table: np.ndarray,
    columns: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, list[Read]]:
    """Communes of the regular rows of a chunk, read once per distinct (cell, postcode).

    Until three départements are seen, each commune read settles the next ambiguous names
    (as `parse` does row by row): the rows are then read in segments, a new segment starting
    after each row whose commune brings a new département.
    """
    cells = cells_table[:, plan.index]
    size = len(cells)
    # The distinct (cell, postcode) pairs, numbered in order of first appearance from the
    # codes of the two columns (the postcodes as cleaned).
    commune_codes = columns[plan.index][0]
    if parser.postcode_index is not None:
        codes, uniques = columns[parser.postcode_index]
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
        departements = parser.departements_now
        segment = pair_codes[start:]
        distinct, first = np.unique(segment, return_index=True)
        order = np.argsort(first, kind="stable")
        slots = np.full(int(distinct[-1]) + 1, -1, dtype=np.int64)
        end = size
        for pair, row in zip(distinct[order].tolist(), first[order].tolist(), strict=True):
            slots[pair] = len(hits)
            hits.append(parser.read_commune(plan, cells[start + row], postcodes[start + row]))
            if parser.departements_now != departements:
                end = start + row + 1
                break
        codes[start:end] = slots[segment[: end - start]]
        start = end
    return codes, hits


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




def _member(name: str, value: Any) -> str:
    """A member of a JSON object, as `records.encode_json` writes it (a leading comma)."""
    return "," + encode_json(name) + ":" + encode_json(value)


def _code_member(name: str, code: str) -> str:
    """`_member` of a pseudonym: hex, base64 or a code word, nothing JSON escapes."""
    return f',"{name}":"{code}"'


def _members(pseudonyms: dict[str, str]) -> str:
    return "".join(_code_member(k, h) for k, h in pseudonyms.items())


class _Rows:
    """The valid rows of a chunk (``selected``, positions among its regular rows), with the
    per-value helpers that `person_columns` builds its columns from."""

    def __init__(self, builder: RecordBuilder, chunk: ParsedChunk, selected: np.ndarray):
        self.chunk = chunk
        self.size = len(selected)
        self.value_cache = builder.value_cache
        self.codes = {name: codes[selected] for name, codes in chunk.codes.items()}

    def has(self, name: str) -> bool:
        return name in self.chunk.codes

    def per_value(self, name: str, read: Callable[[Any], Any], default: Any,
                  remember: str | None = None) -> list[Any]:
        """``read`` of each distinct value of field ``name`` (``default`` for none), kept
        from chunk to chunk under ``remember`` when given (names, dates and codes come back
        in every chunk)."""
        values = self.chunk.values[name]
        if remember is None:
            return [default if v is None else read(v) for v in values]
        cache = self.value_cache.setdefault(remember, {})
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        found_values = []
        for v in values:
            if v is None:
                found_values.append(default)
                continue
            found = cache.get(v)
            if found is None:
                found = cache[v] = read(v)
            found_values.append(found)
        return found_values

    def mapped(self, name: str, read: Callable[[Any], Any], default: Any,
               remember: str | None = None) -> np.ndarray:
        """``read`` of the value of field ``name`` of each row, as an object array."""
        if not self.has(name):
            return np.full(self.size, default, dtype=object)
        return _objects(self.per_value(name, read, default, remember))[self.codes[name]]

    def numbers(self, name: str, read: Callable[[Any], int], default: int) -> np.ndarray:
        """As `mapped`, for integers (days, years, ages)."""
        if not self.has(name):
            return np.full(self.size, default, dtype=np.int64)
        return np.array(self.per_value(name, read, default), dtype=np.int64)[self.codes[name]]

    def known(self, name: str) -> np.ndarray:
        """Whether each row has a value of field ``name``."""
        if not self.has(name):
            return np.zeros(self.size, dtype=bool)
        present = np.array([v is not None for v in self.chunk.values[name]], dtype=bool)
        return present[self.codes[name]]


def person_columns(
    builder: RecordBuilder, chunk: ParsedChunk, import_id: int
) -> tuple[list[int], list[list[Any]]]:
    """The records of the valid rows of ``chunk``: their positions in the chunk and the
    columns of the rows to store (`RecordRow`, a list per column), ``import_id`` in the
    attributes. What a record is: its last contact is the latest of the row's contact dates;
    its birth year that of the birth date, else the last contact's year minus the age
    (attribute ``annee_naissance_depuis_age``), or a pseudonymised file's birth-year cell
    when it has one; its attributes are the fields that identify no one but the sex,
    commune and postcode (stored apart), dates as ISO text, then the age; its pseudonyms
    those of `Pseudonymiser.record` (with the birth date's year, never the age's) and
    `Pseudonymiser.custom_identifier`, or, on a row of a file pseudonymised at the
    partner's with a ``ps_v``, its ``ps_*`` cells that are pseudonyms
    (`_take_partner_pseudonyms`).

    The pseudonyms come from `RecordBuilder.pseudonymiser`'s methods, called once per
    distinct value (names, birth dates, phones, identifiers) or combination of values (the
    count-night key), and their JSON fragments are kept per distinct value; the attributes
    (and the plan attributes, read from them) and the row keys are built once per distinct
    combination of their fields' values (`_combinations`); the pseudonyms are joined per
    row.
    """
    regular = chunk.regular
    if not len(regular):
        return [], []
    selected = np.flatnonzero(~chunk.blocked[regular])
    if not len(selected):
        return [], []
    rows = _Rows(builder, chunk, selected)
    # Last contact and birth year, as integers (0 and -1 when absent).
    contact = np.zeros(rows.size, dtype=np.int64)
    for name in builder.contact_fields:
        contact = np.maximum(contact, rows.numbers(name, lambda v: v.value.toordinal(), 0))
    distinct_days, day_codes = np.unique(contact, return_inverse=True)
    dates = [dt.date.fromordinal(d) if d else None for d in distinct_days.tolist()]
    contact_iso = _objects([d.isoformat() if d else None for d in dates])[day_codes]
    contact_year = np.array([d.year if d else -1 for d in dates], dtype=np.int64)[day_codes]
    birth_year = rows.numbers("birth_date", lambda v: v.value.year, -1)
    # The pseudonyms take the birth date's year, never one derived from the age.
    pseudonyms = _pseudonym_texts(builder, rows, birth_year)
    attributes, plan, birth_year = _attributes(builder, rows, import_id, contact,
                                               contact_year, birth_year)
    years_or_none = [None if y < 0 else y for y in birth_year.tolist()]
    columns = [[builder.source] * rows.size, _row_keys(builder, rows).tolist(),
               rows.mapped("commune", str, None).tolist(), rows.mapped("sex", str, None).tolist(),
               years_or_none, contact_iso.tolist(), pseudonyms, attributes.tolist(), *plan]
    positions = regular[selected].tolist()
    if chunk.pseudo_columns:
        _take_partner_pseudonyms(builder, chunk, positions, columns)
    return positions, columns


def _take_partner_pseudonyms(
    builder: RecordBuilder, chunk: ParsedChunk, positions: list[int], columns: list[list[Any]]
) -> None:
    """Rows of a file pseudonymised at the partner's: their ``ps_*`` cells give their row key
    (``cle_ligne``), birth year (``annee_naissance``) and, on a row marked ``ps_v``, their
    pseudonyms, in place of what the (absent) identifiers would give. A row at a time: such
    files are small and rare."""
    keys, years, pseudonyms = columns[1], columns[4], columns[6]
    kept = builder.kept_pseudonyms
    for row, position in enumerate(positions):
        cells = chunk.cells[position]
        found = {key: cells[column].strip() for key, column in chunk.pseudo_columns.items()
                 if column < len(cells) and cells[column]}
        row_key = found.get(ROW_KEY_COLUMN)
        if row_key is not None:
            keys[row] = builder.partner_row_key(row_key)
        year = found.get(BIRTH_YEAR_COLUMN)
        if year:
            years[row] = int(year)
        if PSEUDO_MARKER[len(PSEUDO_PREFIX):] in found:
            pseudonyms[row] = encode_json({k: v for k, v in found.items() if k in kept})


def refuse_other_keys(chunk: ParsedChunk, file_name: str, key_id: str) -> None:
    """Block the rows of a file pseudonymised at the partner's whose ``ps_cle`` is not the
    territory's key (``key_id``): their pseudonyms could not be linked."""
    column = chunk.pseudo_columns.get("cle")
    if column is None:
        return
    for position in chunk.regular.tolist():
        cell = chunk.cells[position][column]
        if cell and cell.strip() != key_id:
            chunk.issues.setdefault(position, []).append(Issue(
                ERROR, file_name, chunk.numbers[position], "ps_cle", "",
                "Ligne pseudonymisée avec une autre clé que celle du territoire.",
                "Demandez au partenaire d'utiliser la clé du territoire.",
            ))
            chunk.blocked[position] = True


def _attributes(
    builder: RecordBuilder,
    rows: _Rows,
    import_id: int,
    contact: np.ndarray,
    contact_year: np.ndarray,
    birth_year: np.ndarray,
) -> tuple[np.ndarray, list[list[str | None]], np.ndarray]:
    """Each row's attributes (JSON text), its plan attributes (a list per plan attribute)
    and its birth year, from the age where the birth date is missing."""
    # The attributes' members, in their order: the fragments of each field's distinct
    # values, and the codes of the rows.
    members: list[tuple[list[str], np.ndarray]] = []
    dates_kept = builder.date_attributes
    for name in builder.attribute_fields:
        if rows.has(name):
            members.append((rows.per_value(name, (lambda v, n=name: _member(n, v.isoformat()))
                                           if name in dates_kept else
                                           (lambda v, n=name: _member(n, v)),
                                           "", f"attribut:{name}"), rows.codes[name]))
    if rows.has("age"):
        members.append((rows.per_value("age", lambda v: _member("age", v), "", "attribut:age"),
                        rows.codes["age"]))
        age = rows.numbers("age", lambda v: v, -1)
        from_age = (birth_year < 0) & (contact > 0) & rows.known("age")
        birth_year = np.where(from_age, contact_year - age, birth_year)
        members.append((["", _member("annee_naissance_depuis_age", True)],
                        from_age.astype(np.int64)))
    last_member = _member("import_id", import_id) + "}"
    # Built once per distinct combination of the members (rows of one demand type, status,
    # household, ... share theirs), then given to each row.
    combination, first_rows = _combinations([codes for _, codes in members], rows.size)
    chosen = [[texts[c] for c in codes[first_rows].tolist()] for texts, codes in members]
    attributes = _objects(["{" + "".join(parts)[1:] for parts in zip(
        *chosen, [last_member] * len(first_rows), strict=True)])[combination]
    # The plan attributes: for each, the first of its keys that the row has (as stored);
    # they are attributes, so the same for every row of a combination.
    plan = []
    for alternatives in builder.plan_keys:
        found: list[str | None] = [None] * len(first_rows)
        for name in alternatives:
            if not rows.has(name):
                continue
            texts = rows.per_value(name, (lambda v: v.isoformat()) if name in dates_kept else
                                   attribute_text, None, f"texte:{name}")
            codes = rows.codes[name][first_rows].tolist()
            found = [texts[c] if f is None else f for f, c in zip(found, codes, strict=True)]
        plan.append(_objects(found)[combination].tolist())
    return attributes, plan, birth_year


def _pseudonym_texts(builder: RecordBuilder, rows: _Rows, birth_year: np.ndarray) -> list[str]:
    """Each row's pseudonyms (JSON text): their members in the order of
    `Pseudonymiser.record`, joined per row."""
    pseudonymiser, source = builder.pseudonymiser, builder.source
    pseudonyms = [
        rows.mapped(name, lambda v, p=prefix: _members(pseudonymiser.name(v, p)), "",
                    f"nom:{prefix}")
        for name, prefix in (("last_name", "nom"), ("first_name", "prenom"))
    ]
    pseudonyms.append(rows.mapped("birth_date", lambda v: _members(pseudonymiser.birth_date(v)),
                                  "", "naissance"))
    partial = (rows.known("last_name") & rows.known("first_name") & rows.known("birth_date")
               & rows.known("sex"))
    if partial.any():
        pseudonyms.append(_count_night_members(builder, rows, partial, birth_year))
    pseudonyms.append(rows.mapped("phone", lambda v: _code_member(
        "telephone", pseudonymiser.phone(v)) if v else "", ""))
    pseudonyms.append(rows.mapped("person_ref", lambda v: _code_member(
        "id_personne", pseudonymiser.person_ref(source, v)) if v else "", ""))
    for name in builder.custom_identifiers:
        pseudonyms.append(rows.mapped(name, lambda v, n=name: _member(
            n, pseudonymiser.custom_identifier(n, canonical(v))), ""))
    opening = '{"v":' + encode_json(ENCODING_VERSION) + ',"cle":' + encode_json(
        pseudonymiser.key_id)
    return list(map("".join, zip([opening] * rows.size, *(p.tolist() for p in pseudonyms),
                                 ["}"] * rows.size, strict=True)))


def _count_night_members(
    builder: RecordBuilder, rows: _Rows, partial: np.ndarray, birth_year: np.ndarray
) -> np.ndarray:
    """The ``cle_ndls`` member of each row (``""`` for the rows not in ``partial``, which
    lack one of its parts): `Pseudonymiser.count_night_key` once per distinct combination of
    the initials, birth year and sex, given to each row of the combination."""
    values = rows.chunk.values

    def initial_codes(name: str) -> tuple[list[str], np.ndarray]:
        """The distinct initials of field ``name`` and each partial row's among them."""
        initials = [None if v is None else v.compact[:1] for v in values[name]]
        codes, distinct = pd.factorize(_objects(initials))
        return distinct.tolist(), codes[rows.codes[name][partial]]

    last, last_codes = initial_codes("last_name")
    first, first_codes = initial_codes("first_name")
    sex_codes = rows.codes["sex"][partial]
    years = birth_year[partial]
    year_codes, distinct_years = pd.factorize(years)
    combination, first_rows = _combinations([last_codes, first_codes, year_codes, sex_codes],
                                            len(years))
    sexes, hash_ = values["sex"], builder.pseudonymiser.count_night_key
    keys = [_code_member("cle_ndls", hash_(last[a], first[b], int(distinct_years[y]), sexes[s]))
            for a, b, y, s in zip(last_codes[first_rows].tolist(),
                                  first_codes[first_rows].tolist(),
                                  year_codes[first_rows].tolist(),
                                  sex_codes[first_rows].tolist(), strict=True)]
    member_of_row = np.full(rows.size, "", dtype=object)
    member_of_row[partial] = _objects(keys)[combination]
    return member_of_row


def _row_keys(builder: RecordBuilder, rows: _Rows) -> np.ndarray:
    """Each row's key: `RecordBuilder.row_key_hasher` of its key fields' parts
    (`row_key_part`, sorted by field, joined by `ROW_KEY_SEPARATOR`), one hash per distinct
    combination of the key fields' values (per distinct value when a single field keys the
    row, as a SI-SIAO demand's number does)."""
    key_fields = [n for n in builder.sorted_key_fields if rows.has(n)]
    row_key_hash = builder.row_key_hasher()
    if len(key_fields) == 1:
        name = key_fields[0]
        return _objects(rows.per_value(name, lambda v: row_key_hash(row_key_part(name, v)),
                                       row_key_hash("")))[rows.codes[name]]
    combination, first_rows = _combinations([rows.codes[n] for n in key_fields], rows.size)
    contents = []
    for name in key_fields:
        texts = rows.per_value(name, lambda v, n=name: ROW_KEY_SEPARATOR + row_key_part(n, v),
                               "")
        contents.append([texts[c] for c in rows.codes[name][first_rows].tolist()])
    if not contents:
        contents = [[""] * len(first_rows)]
    return _objects([row_key_hash("".join(parts)[1:])
                     for parts in zip(*contents, strict=True)])[combination]


def person_rows(
    builder: RecordBuilder, chunk: ParsedChunk, import_id: int
) -> tuple[list[int], list[RecordRow]]:
    """The records of the valid rows of ``chunk`` (`person_columns`), row by row."""
    positions, columns = person_columns(builder, chunk, import_id)
    return positions, _rows(columns)


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
        return _rows(self.record_columns)


def _rows(columns: list[list[Any]]) -> list[RecordRow]:
    return list(map(RecordRow, *columns)) if columns else []


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
        if parser.pseudonymised:
            refuse_other_keys(chunk, parser.file_name, builder.pseudonymiser.key_id)
        _, columns = person_columns(builder, chunk, import_id)
        blocked = {p: chunk.cells[p] for p in np.flatnonzero(chunk.blocked).tolist()}
        yield PreparedChunk(chunk.numbers, chunk.issues, blocked, columns)
