"""Spreadsheet formulas in cells: the one check and the one escape (CSV / formula injection).

A cell that a spreadsheet would run (``=1+1``, ``+cmd|' /C calc'!A0``, ``-2+3+cmd|'x'!A0``,
``@SUM(A1)``, ``=HYPERLINK(...)``, also behind leading spaces, tabs, carriage returns or line
feeds that a spreadsheet or a partner's tool strips) is refused at the import
(`is_formula`) and written with a leading ``'`` by every CSV and XLSX writer (`escape_cell`,
`escape_frame`), as OWASP recommends. Numbers stay numbers: only text is escaped, and a text
that is a plain number or phone number (``-3``, ``+1,5``, ``+33 6 12 34 56 78``) is no
formula.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# Characters a spreadsheet reads as the start of a formula.
FORMULA_CHARACTERS = frozenset("=+-@")
# Characters OWASP escapes at the start of a cell whatever follows (beside the formulas).
_CONTROL_FIRST = frozenset("\t\r\n")
# White space and control characters that come before a formula and are stripped by
# spreadsheets (or by `normalise.clean_cell` before a value is stored).
_LEADING = "".join(chr(c) for c in range(33)) + "\x7f\xa0\u1680\u2000\u2001\u2002\u2003" \
    "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
# First characters of a cell worth the full check (for loops over many cells).
SUSPECT_FIRST = frozenset(_LEADING) | FORMULA_CHARACTERS
# After a sign, what a number or a phone number (+33 6 12 34 56 78, +33 (0)6 12...) is made
# of: digits and separators, which a spreadsheet cannot turn into a call.
_NUMBER_CHARACTERS = frozenset("0123456789 .,/-()%\u202f\xa0")
# A DDE call, application|topic!item (``cmd|' /C calc'!A0``), even without a leading ``=``.
_DDE = re.compile(r"[A-Za-z][\w.]*\|[^!]*!")


def is_formula(value: object) -> bool:
    """Whether a spreadsheet could run ``value`` as a formula (text only)."""
    if not isinstance(value, str) or not value:
        return False
    text = value.lstrip(_LEADING)
    if not text:
        return False
    if text[0] in FORMULA_CHARACTERS:
        return not (text[0] in "+-" and _is_number(text[1:]))
    return "|" in text and _DDE.match(text) is not None


def _is_number(text: str) -> bool:
    """Whether ``text`` (after a sign) is blank or a number or phone number: a lone ``-``
    is the partners' usual "nothing"."""
    text = text.strip(_LEADING)
    return not text or (set(text) <= _NUMBER_CHARACTERS and any(c.isdigit() for c in text))


def escape_cell(value: Any) -> Any:
    """``value`` as a spreadsheet will show it, never run it: a text that is a formula
    (`is_formula`) or starts with a tab, carriage return or line feed gets a leading ``'``.
    Anything that is not text (numbers, dates, ``None``) is returned unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in _CONTROL_FIRST or is_formula(value):
        return "'" + value
    return value


def escape_text(value: object) -> str:
    """`escape_cell` of ``value`` as text (``""`` for ``None``), for ``csv.writer`` rows."""
    return "" if value is None else str(escape_cell(str(value)))


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are escaped; numeric columns
    are left as they are, so that a negative number stays a number."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(escape_cell)
    out.columns = [escape_cell(c) for c in out.columns]
    return out


def frame_to_csv(frame: pd.DataFrame, path: Any = None, **options: Any) -> str | None:
    """``frame.to_csv(path, index=False, **options)`` with its text cells escaped
    (`escape_frame`): the one way a table is written as CSV for a spreadsheet. Returns the
    text when ``path`` is ``None``.

    Lines end with CRLF: the csv module then quotes a cell holding a lone carriage return,
    which with pandas' LF alone would start a new line, and a formula, in a spreadsheet."""
    options.setdefault("lineterminator", "\r\n")
    return escape_frame(frame).to_csv(path, index=False, **options)


def protect_sheet(sheet: Any) -> None:
    """Mark every text cell of an openpyxl worksheet as a string: openpyxl writes a text that
    starts with ``=`` as a live formula unless told otherwise (``data_type`` ``s``). The
    texts are escaped (`escape_cell`) first."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.value = escape_cell(cell.value)
                cell.data_type = "s"
