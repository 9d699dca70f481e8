"""Tolerant reading of partner files: CSV from French Excel or elsewhere, and XLSX.

CSV: ``;``, ``,``, tab or ``|`` separators (detected on the header line), UTF-8 with or without
BOM, cp1252 (French Excel), UTF-16; text that was encoded twice (``Ã©`` for ``é``) is
repaired with a warning. Every cell is read as text, so identifiers keep their leading zeros.
The file's SHA-256 (its content fingerprint) is computed on the way.

Memory stays bounded whatever the file (`observatoire.config.InputLimits`): a workbook is
judged on its zip directory before openpyxl opens it (read-only, row by row), and a CSV cell
or line past its limit stops the reading with a French error.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from observatoire.archives import zip_size_problem
from observatoire.config import InputLimits, load_input_limits
from observatoire.feeds.report import ERROR, WARNING, Issue
from observatoire.model import ObservatoireError

_CHUNK = 1 << 20
_MOJIBAKE = re.compile("Ã[\u0080-\u00bf©¨ª§´®¯»‰]|Â[°«»\xa0]")
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}


class FeedReadError(ObservatoireError):
    """The file cannot be read at all (or stops being readable midway)."""


@dataclass
class RawTable:
    """A partner file opened for reading: headers, then rows as lists of text cells."""

    path: Path
    fingerprint: str
    size: int
    encoding: str | None
    delimiter: str | None
    headers: list[str]
    issues: list[Issue] = field(default_factory=list)
    _rows: Iterator[tuple[int, list[str]]] | None = None
    _close: Callable[[], None] | None = None

    @property
    def fatal(self) -> bool:
        return any(i.severity == ERROR for i in self.issues)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(row number as a spreadsheet shows it, cells)``; the header is row 1."""
        return self._rows if self._rows is not None else iter(())

    def close(self) -> None:
        """Release the open file (done by `rows` once read to the end): for a table whose
        rows are read elsewhere (`observatoire.feeds.reader_process`)."""
        if self._close is not None:
            self._close()


def fingerprint_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_table(path: Path, limits: InputLimits | None = None) -> RawTable:
    """Open ``path`` for reading; file-level problems are in ``issues`` (never raised).

    ``limits`` (those of the environment by default, see `observatoire.config`) bound what
    a file may make this process hold in memory: a workbook's uncompressed size, a cell.
    """
    path = Path(path)
    limits = limits or load_input_limits()
    if not path.is_file():
        raise FeedReadError(f"Fichier introuvable : {path}.")
    size = path.stat().st_size
    name = path.name
    if size == 0:
        table = RawTable(path, fingerprint_file(path), 0, None, None, [])
        table.issues.append(Issue(ERROR, name, None, None, "", "Le fichier est vide (0 octet).",
                                  "Demandez au partenaire de renvoyer l'extraction complète."))
        return table
    with path.open("rb") as handle:
        magic = handle.read(8)
    if path.suffix.lower() in _EXCEL_SUFFIXES or magic.startswith(b"PK\x03\x04"):
        return _read_xlsx(path, size, limits)
    if path.suffix.lower() == ".xls" or magic.startswith(b"\xd0\xcf\x11\xe0"):
        table = RawTable(path, fingerprint_file(path), size, None, None, [])
        table.issues.append(Issue(ERROR, name, None, None, "",
                                  "Ancien format Excel (.xls) non pris en charge.",
                                  "Enregistrez le fichier au format .xlsx ou CSV."))
        return table
    return _read_csv(path, size, limits)


# --- CSV -----------------------------------------------------------------------------------


def _detect_encoding(path: Path) -> tuple[str, str, bool, list[str]]:
    """(fingerprint, encoding, double-encoded?, problems) in one pass over the bytes."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_ok, mojibake, binary = True, False, False
    first = True
    encoding = None
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if first:
                first = False
                if chunk.startswith(codecs.BOM_UTF8):
                    encoding = "utf-8-sig"
                elif chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    encoding = "utf-16"
            if encoding == "utf-16":
                continue
            if b"\x00" in chunk:
                binary = True
            if utf8_ok:
                try:
                    text = utf8.decode(chunk)
                    if not mojibake and _MOJIBAKE.search(text):
                        mojibake = True
                except UnicodeDecodeError:
                    utf8_ok = False
    problems = ["binaire"] if binary else []
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            problems.append("fin_tronquee")  # the file ends inside a character
    if encoding is None:
        encoding = "utf-8" if utf8_ok else "cp1252"
    return digest.hexdigest(), encoding, mojibake and encoding.startswith("utf-8"), problems


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _read_csv(path: Path, size: int, limits: InputLimits) -> RawTable:
    name = path.name
    # The csv module holds a whole cell in memory: a cell past the limit stops the reading
    # (see `_csv_rows`) instead of growing without bound.
    csv.field_size_limit(limits.feed_cell_max_chars)
    fingerprint, encoding, mojibake, problems = _detect_encoding(path)
    table = RawTable(path, fingerprint, size, encoding, None, [])
    if "binaire" in problems:
        table.issues.append(Issue(
            ERROR, name, None, None, "",
            "Le fichier n'est pas un fichier texte CSV (octets nuls : fichier binaire ou "
            "encodage non reconnu).",
            "Ouvrez-le dans un tableur et enregistrez-le en « CSV UTF-8 » ou « CSV (séparateur : "
            "point-virgule) ».",
        ))
        return table
    errors = "strict"
    if "fin_tronquee" in problems:
        errors = "replace"
        table.issues.append(Issue(
            WARNING, name, None, None, "",
            "Le fichier se termine au milieu d'un caractère : il a probablement été tronqué.",
            "Vérifiez que la dernière ligne est complète, sinon demandez un nouvel envoi.",
        ))
    if encoding == "cp1252":
        try:
            with path.open(encoding="cp1252") as handle:
                while handle.read(_CHUNK):
                    pass
        except UnicodeDecodeError:
            errors = "replace"
            table.issues.append(Issue(
                WARNING, name, None, None, "",
                "Encodage non reconnu : ni UTF-8 ni Windows-1252 ; des caractères ont été "
                "remplacés par « � ».",
                "Enregistrez le fichier en « CSV UTF-8 » depuis le tableur.",
            ))
    if mojibake:
        table.issues.append(Issue(
            WARNING, name, None, None, "",
            "Texte encodé deux fois (« Ã© » au lieu de « é ») : corrigé à la lecture.",
            "Signalez-le au partenaire : son export convertit le texte deux fois.",
        ))
    handle = path.open(encoding=encoding, errors=errors, newline="")
    max_line = 2 * limits.feed_cell_max_chars
    header_line = handle.readline(max_line)
    handle.seek(0)
    delimiter = _sniff_delimiter(header_line)
    table.delimiter = delimiter
    reader = csv.reader(_bounded_lines(handle, max_line), delimiter=delimiter)
    try:
        headers = next(reader)
    except (StopIteration, csv.Error, FeedReadError):
        headers = []
    headers = [_fix(h, mojibake).strip().strip("\ufeff") for h in headers]
    if not any(headers):
        handle.close()
        table.issues.append(Issue(ERROR, name, 1, None, "", "Aucune ligne d'en-tête lisible.",
                                  "La première ligne doit porter les noms des colonnes."))
        return table
    table.headers = headers
    table._rows = _csv_rows(reader, handle, mojibake, limits.feed_cell_max_chars)
    table._close = handle.close
    return table


def _bounded_lines(handle, max_chars: int) -> Iterator[str]:  # noqa: ANN001 - a text file
    """The lines of ``handle``, refusing one longer than ``max_chars``: the csv module would
    hold a whole line in memory (a file of one line of 1.5 GB of separators)."""
    readline = handle.readline
    number = 0
    while line := readline(max_chars):
        number += 1
        if len(line) >= max_chars and not line.endswith(("\n", "\r")):
            raise FeedReadError(
                f"Ligne trop longue, plus de {max_chars} caractères : ligne {number} du "
                "fichier (retours à la ligne manquants ou fichier corrompu). Enregistrez de "
                "nouveau le fichier en CSV depuis le tableur."
            )
        yield line


def _fix(cell: str, mojibake: bool) -> str:
    if mojibake and ("Ã" in cell or "Â" in cell):
        try:
            return cell.encode("cp1252").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return cell
    return cell


# What the csv module says (English), by its start -> what to say (the kind of problem
# first: reports group problems by the text before " :") and how to fix it.
_CSV_ERRORS = (
    ("field larger than field limit",
     "Cellule trop longue, plus de {limit} caractères (limite "
     "OBSERVATOIRE_FEED_CELL_MAX_CHARS) : ligne {line}, guillemet jamais refermé ou fichier "
     "corrompu.",
     "Vérifiez les guillemets de cette ligne et enregistrez de nouveau le fichier en CSV."),
    ("line contains NUL", "Octets nuls dans le fichier : ligne {line} (fichier binaire ou "
     "corrompu).", "Enregistrez de nouveau le fichier en « CSV UTF-8 » depuis le tableur."),
    ("new-line character seen in unquoted field",
     "Retour à la ligne isolé (CR) dans une cellule sans guillemets : ligne {line}.",
     "Enregistrez de nouveau le fichier en CSV depuis le tableur."),
)


def _csv_error(exc: csv.Error, number: int, limit: int) -> FeedReadError:
    text = str(exc)
    for english, problem, fix in _CSV_ERRORS:
        if text.startswith(english):
            return FeedReadError(f"{problem.format(limit=limit, line=number + 1)} {fix}")
    return FeedReadError(
        f"Fichier illisible après la ligne {number} (CSV mal formé). Vérifiez les guillemets "
        "et enregistrez de nouveau le fichier en CSV."
    )


def _csv_rows(reader, handle, mojibake: bool, limit: int) -> Iterator[tuple[int, list[str]]]:  # noqa: ANN001
    number = 1
    try:
        # A plain loop over the reader: a million rows go through here.
        for row in reader:
            number += 1
            if not any(row):
                continue
            if mojibake:
                row = [_fix(c, True) for c in row]
            yield number, row
    except csv.Error as exc:
        raise _csv_error(exc, number, limit) from None
    finally:
        handle.close()


# --- XLSX ----------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_size_problem(path: Path, limits: InputLimits) -> str | None:
    """Why the workbook at ``path`` must not be opened (a zip bomb, a sheet too large), or
    ``None``; reads only the zip's directory (`observatoire.archives`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None  # not a zip: openpyxl says the workbook is unreadable
    return zip_size_problem(parts, path.stat().st_size, limits, "Classeur")


def _read_xlsx(path: Path, size: int, limits: InputLimits) -> RawTable:
    try:
        from openpyxl import load_workbook
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise FeedReadError("Lecture des fichiers .xlsx : installez openpyxl.") from exc
    table = RawTable(path, fingerprint_file(path), size, "xlsx", None, [])
    problem = xlsx_size_problem(path, limits)
    if problem:
        table.issues.append(Issue(ERROR, path.name, None, None, "", problem,
                                  "Demandez au partenaire l'extraction en CSV, ou ouvrez le "
                                  "classeur dans un tableur et enregistrez seulement la "
                                  "feuille des données."))
        return table
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a bad file
        table.issues.append(Issue(ERROR, path.name, None, None, "",
                                  f"Classeur Excel illisible ({type(exc).__name__}).",
                                  "Ouvrez-le dans un tableur et enregistrez-le de nouveau."))
        return table
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    headers = [_cell_text(c).strip() for c in next(rows, ())]
    if not any(headers):
        workbook.close()
        table.issues.append(Issue(ERROR, path.name, 1, None, "",
                                  "Aucune ligne d'en-tête dans la première feuille.",
                                  "La première ligne doit porter les noms des colonnes."))
        return table
    while headers and not headers[-1]:
        headers.pop()
    table.headers = headers

    def generate() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, values in enumerate(rows, start=2):
                cells = [_cell_text(v) for v in values]
                while len(cells) > len(headers) and not cells[-1]:
                    cells.pop()
                if any(cells):
                    yield number, cells
        finally:
            workbook.close()

    table._rows = generate()
    table._close = workbook.close
    return table
