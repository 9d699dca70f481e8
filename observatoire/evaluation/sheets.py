"""Tables that staff exchange as spreadsheets: reading a workbook's sheets or a CSV, and
the row-level report of what is wrong (file, sheet, row, column, fix), as a feed import's.
Nothing is stored when a problem blocks: the caller gets `SheetImportError`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from observatoire.model import ObservatoireError


@dataclass(frozen=True)
class Problem:
    """One blocking problem of an imported table."""

    file: str
    sheet: str | None
    row: int | None  # as the spreadsheet numbers it (the header is row 1)
    column: str | None
    message: str
    fix: str

    def text(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"feuille « {self.sheet} »")
        where.append(f"ligne {self.row}" if self.row else "fichier")
        if self.column:
            where.append(f"colonne « {self.column} »")
        return f"{', '.join(where)} : {self.message} → {self.fix}"


class SheetImportError(ObservatoireError):
    """An imported table with blocking problems: nothing of it was stored."""

    def __init__(self, problems: list[Problem], limit: int = 30) -> None:
        self.problems = problems
        lines = [f"Import refusé, rien n'a été enregistré : {len(problems)} problème(s) à "
                 "corriger dans le fichier puis à réimporter."]
        lines += [f"  - {p.text()}" for p in problems[:limit]]
        if len(problems) > limit:
            lines.append(f"  … et {len(problems) - limit} autre(s).")
        super().__init__("\n".join(lines))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"Fichier": p.file, "Feuille": p.sheet or "",
                              "Ligne": p.row or "", "Colonne": p.column or "",
                              "Problème": p.message, "Correction": p.fix}
                             for p in self.problems])


def read_sheets(path: str | Path) -> dict[str, pd.DataFrame]:
    """Sheet name -> its table as text (``None`` for empty cells; the frame's index is the
    spreadsheet's row number). A CSV is one table, under the name ``""``."""
    from observatoire.feeds.reading import read_table

    path = Path(path)
    if not path.is_file():
        raise ObservatoireError(f"Fichier introuvable : {path}.")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if path.suffix.lower() in (".xlsx", ".xlsm") or magic == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable workbook
            raise ObservatoireError(f"{path.name} : classeur illisible ({type(exc).__name__})"
                                    " : enregistrez-le à nouveau au format .xlsx.") from exc
        sheets = {}
        for sheet in book.worksheets:
            rows = list(sheet.iter_rows(values_only=True))
            sheets[sheet.title] = _table(rows)
        book.close()
        return sheets
    table = read_table(path)
    if table.fatal:
        raise ObservatoireError(f"{path.name} : " + " ; ".join(
            f"{i.message} → {i.fix}" for i in table.issues))
    rows = [table.headers] + [cells for _, cells in table.rows()]
    return {"": _table(rows)}


def _table(rows: list) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    header = [("" if h is None else str(h)).strip() for h in rows[0]]
    body = []
    for cells in rows[1:]:
        cells = list(cells) + [None] * (len(header) - len(cells))
        body.append([_text(c) for c in cells[:len(header)]])
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.index = range(2, len(body) + 2)
    frame = frame.loc[:, [h for h in header if h]]
    return frame[frame.notna().any(axis=1)] if not frame.empty else frame


def rows_of(frame: pd.DataFrame) -> Iterator[tuple[int, dict[str, str | None]]]:
    """``(row number, {column: text or None})`` for each row of a table of `read_sheets`:
    an empty cell is ``None``, never NaN (pandas 3 infers a string dtype for a row of text
    and writes its missing values NaN)."""
    for row, values in zip(frame.index, frame.to_dict("records"), strict=True):
        yield int(row), {k: None if v is None or (isinstance(v, float) and v != v) else v
                         for k, v in values.items()}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def number(text: str | None) -> float | None:
    """A number as staff type it (``1 154``, ``0,3``, ``30 %``); ``None`` when empty;
    `ValueError` when it is not one."""
    if text is None:
        return None
    cleaned = str(text).replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    cleaned = cleaned.replace("€", "").replace(",", ".")
    percent = cleaned.endswith("%")
    value = float(cleaned.rstrip("%"))
    return value / 100 if percent else value


def write_book(path: str | Path, sheets: dict[str, pd.DataFrame], what: str) -> Path:
    """Write ``sheets`` as one ``.xlsx`` (formula-escaped, atomically)."""
    from observatoire.formula import escape_frame
    from observatoire.output_files import check_writable, replaced_atomically

    target = check_writable(path, what)
    if target.suffix.lower() != ".xlsx":
        raise ObservatoireError(f"{target.name} : donnez un fichier .xlsx.")
    with replaced_atomically(target) as temporary:
        with pd.ExcelWriter(temporary, engine="openpyxl") as writer:
            for name, frame in sheets.items():
                escape_frame(frame).to_excel(writer, sheet_name=name, index=False)
    return target


def book_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """`write_book` as the bytes of the file (for a download)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return write_book(Path(folder) / "classeur.xlsx", sheets, "Classeur").read_bytes()
