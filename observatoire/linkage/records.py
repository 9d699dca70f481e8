"""The records interchange format: read, validate and write the files of `observatoire link`.

One UTF-8 CSV with a header, one row per record (see the README, *Records interchange
format*). Validation collects every problem with its line number and raises one
`RecordsFormatError` that names them, so a staff member fixes a file in one pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from observatoire.config import InputLimits, load_input_limits
from observatoire.formula import frame_to_csv
from observatoire.model import ObservatoireError

RECORD_COLUMNS: tuple[str, ...] = (
    "record_id",
    "source",
    "first_name",
    "last_name",
    "initials",
    "birth_date",
    "birth_year",
    "age",
    "sex",
    "commune_code",
    "latitude",
    "longitude",
    "observed_at",
)
REQUIRED_COLUMNS = ("record_id", "source")
# Compared as strings (the cost of a comparison grows with the square of their length):
# these get the tighter limit (`InputLimits.link_name_max_chars`).
NAME_COLUMNS = ("first_name", "last_name", "initials")
_MAX_LISTED = 8


class RecordsFormatError(ObservatoireError, ValueError):
    """A records file that does not follow the interchange format."""


def read_records(path: str | Path, limits: InputLimits | None = None) -> pd.DataFrame:
    """Read and validate a records file (CSV UTF-8, or Parquet when its name ends in
    ``.parquet``); returns the typed frame of `validate_records`."""
    path = Path(path)
    if not path.exists():
        raise RecordsFormatError(f"Fichier introuvable : {path}.")
    if path.suffix.lower() == ".parquet":
        return validate_records(_parquet_as_text(path), origin=str(path), limits=limits)
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8", skipinitialspace=True
        )
    except UnicodeDecodeError as exc:
        raise RecordsFormatError(
            f"{path} n'est pas en UTF-8 ({exc.reason} à l'octet {exc.start}). "
            "Réenregistrez-le en « CSV UTF-8 »."
        ) from exc
    except pd.errors.ParserError as exc:
        raise RecordsFormatError(f"{path} : CSV illisible ({_parser_error_fr(exc)}).") from None
    except pd.errors.EmptyDataError as exc:
        raise RecordsFormatError(f"{path} est vide : il faut au moins l'en-tête.") from exc
    if frame.empty and len(frame.columns):
        raise RecordsFormatError(
            f"{path} ne contient aucun enregistrement (seulement l'en-tête) : rien à "
            "rapprocher. Vérifiez que l'export contient bien des lignes."
        )
    return validate_records(frame, origin=str(path), limits=limits)


def _parquet_as_text(path: Path) -> pd.DataFrame:
    """A Parquet records file (large exports, `observatoire link records.parquet`) as the
    frame of strings a CSV gives: empty cells for missing values, dates as AAAA-MM-JJ."""
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise RecordsFormatError(
            f"{path} : lire du Parquet demande pyarrow (pip install pyarrow, ou l'extra "
            "[spark]) ; sinon exportez le fichier en CSV UTF-8."
        ) from exc
    except Exception as exc:  # pyarrow's errors (not Parquet, truncated, ...) are varied
        raise RecordsFormatError(
            f"{path} : fichier Parquet illisible ({type(exc).__name__}). Vérifiez qu'il "
            "s'agit bien d'un export Parquet complet, ou exportez-le en CSV UTF-8."
        ) from None
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            midnight = (values.dropna() == values.dropna().dt.normalize()).all()
            text = values.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S%z")
        else:
            text = values.astype(object).map(str)
        out[str(column)] = text.where(values.notna(), "").astype(object)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _parser_error_fr(exc: pd.errors.ParserError) -> str:
    """pandas' parser error in French (the usual one: a row with too many fields)."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if fields:
        expected, line, seen = fields.groups()
        return (f"ligne {line} : {seen} champs au lieu de {expected} ; une virgule dans un nom "
                "doit être entre guillemets")
    return "guillemets ou séparateurs mal placés ; enregistrez-le de nouveau en CSV UTF-8"


def _lines(mask: np.ndarray, values: pd.Series) -> str:
    # Line numbers as a spreadsheet shows them: the header is line 1.
    rows = np.flatnonzero(mask)
    shown = ", ".join(f"ligne {r + 2} ({values.iloc[r]!r})" for r in rows[:_MAX_LISTED])
    more = f" et {len(rows) - _MAX_LISTED} autres" if len(rows) > _MAX_LISTED else ""
    return shown + more


def _stripped(values: pd.Series) -> pd.Series:
    """Strings stripped, "" for missing; each distinct value stripped once (a million
    records hold far fewer distinct names, dates or communes)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    clean = pd.Series(uniques).astype("string").str.strip().to_numpy(dtype=object)
    out = np.where(codes >= 0, clean[np.maximum(codes, 0)] if len(clean) else "", "")
    return pd.Series(out, index=values.index, dtype="string")


def _check_cell_sizes(frame: pd.DataFrame, origin: str, limits: InputLimits) -> None:
    """Refuse cells longer than the limits, naming the first of them (line and column)."""
    too_long = []
    for column in RECORD_COLUMNS:
        if column not in frame.columns:
            continue
        limit = (limits.link_name_max_chars if column in NAME_COLUMNS
                 else limits.link_cell_max_chars)
        lengths = frame[column].astype("string").str.len().fillna(0).to_numpy()
        rows = np.flatnonzero(lengths > limit)
        if len(rows):
            more = f" et {len(rows) - 1} autre(s)" if len(rows) > 1 else ""
            too_long.append(f"colonne {column}, ligne {rows[0] + 2} ({int(lengths[rows[0]])} "
                            f"caractères, au plus {limit}){more}")
    if too_long:
        raise RecordsFormatError(
            f"{origin} : cellule(s) trop longue(s) : {' ; '.join(too_long)}. Vérifiez ces "
            "lignes (colonnes décalées, guillemet non refermé ?) ; les limites se règlent "
            "avec OBSERVATOIRE_LINK_NAME_MAX_CHARS (noms, prénoms, initiales) et "
            "OBSERVATOIRE_LINK_CELL_MAX_CHARS (autres colonnes)."
        )


def validate_records(
    frame: pd.DataFrame, origin: str = "records", limits: InputLimits | None = None
) -> pd.DataFrame:
    """Check a frame of strings against the interchange format and type its columns.

    Returns a new frame with every column of `RECORD_COLUMNS` (missing optional columns
    are added empty): strings stripped, ``birth_date`` as ``datetime64``, ``observed_at``
    as UTC ``datetime64``, ``birth_year``/``age``/``latitude``/``longitude`` as floats
    (NaN when empty), ``sex`` as ``"F"``/``"M"``/``""``. Extra columns are dropped.
    A cell longer than ``limits`` (those of the environment by default) is refused.
    """
    columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RecordsFormatError(
            f"{origin} : colonne(s) obligatoire(s) absente(s) : {', '.join(missing)}. "
            f"L'en-tête doit commencer par record_id,source (colonnes reconnues : "
            f"{', '.join(RECORD_COLUMNS)})."
        )
    _check_cell_sizes(frame, origin, limits or load_input_limits())
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column in RECORD_COLUMNS:
        if column in frame.columns:
            values = _stripped(frame[column])
        else:
            values = pd.Series("", index=out.index, dtype="string")
        out[column] = values.reset_index(drop=True)

    problems: list[str] = []
    empty_id = (out["record_id"] == "").to_numpy()
    if empty_id.any():
        problems.append(f"record_id vide : {_lines(empty_id, out['record_id'])}")
    duplicated = out["record_id"].duplicated(keep=False).to_numpy() & ~empty_id
    if duplicated.any():
        problems.append(
            f"record_id en double (chaque enregistrement doit avoir un identifiant unique) : "
            f"{_lines(duplicated, out['record_id'])}"
        )

    def parse(column: str, parser, expected: str):
        raw = out[column]
        parsed = parser(raw)
        bad = (raw != "").to_numpy() & pd.isna(parsed).to_numpy()
        if bad.any():
            problems.append(f"{column} illisible ({expected} attendu) : {_lines(bad, raw)}")
        return parsed

    birth_date = parse(
        "birth_date",
        lambda s: pd.to_datetime(s.where(s != ""), format="%Y-%m-%d", errors="coerce"),
        "date AAAA-MM-JJ",
    )
    observed_at = parse(
        "observed_at",
        lambda s: pd.to_datetime(s.where(s != ""), format="ISO8601", errors="coerce", utc=True),
        "date-heure ISO 8601, par exemple 2026-01-29T22:30:00+01:00",
    )
    numbers = {}
    for column, low, high in (
        ("birth_year", 1900, 2100),
        ("age", 0, 120),
        ("latitude", -90, 90),
        ("longitude", -180, 180),
    ):
        raw = out[column]
        text = raw.str.replace(",", ".", regex=False).astype(object).where(raw != "")
        value = pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
        with np.errstate(invalid="ignore"):
            bad = (raw != "").to_numpy() & ~((value >= low) & (value <= high))
        if bad.any():
            problems.append(f"{column} invalide (nombre de {low} à {high}) : {_lines(bad, raw)}")
        numbers[column] = np.where(bad, np.nan, value)
    sex = out["sex"].str.upper().replace({"H": "M", "HOMME": "M", "FEMME": "F"})
    bad_sex = ~sex.isin(["F", "M", ""]).to_numpy()
    if bad_sex.any():
        problems.append(f"sex invalide (F, M ou vide) : {_lines(bad_sex, out['sex'])}")
    if problems:
        raise RecordsFormatError(f"{origin} : " + " ; ".join(problems) + ".")

    out["birth_date"] = birth_date
    out["observed_at"] = observed_at
    for column, value in numbers.items():
        out[column] = value
    out["sex"] = sex
    return out


def write_clusters(frame: pd.DataFrame, path: str | Path) -> None:
    """Write the result of `observatoire link` (``record_id,person_id,...``) as UTF-8 CSV,
    readable by its owner only (`observatoire.output_files.open_private`)."""
    from observatoire.output_files import open_private

    with open_private(path, "w", encoding="utf-8", newline="") as handle:
        frame_to_csv(frame, handle, float_format="%.4f")
