"""The declarative registry of partner feed formats (one YAML file per format).

A format maps a partner's column headers to canonical fields, says how to read each value
(type, value mapping) and which fields are direct identifiers. Formats ship in
``observatoire/feeds/formats/``; a user adds one by dropping a YAML file in the folder named
by ``OBSERVATOIRE_FEED_FORMATS_DIR`` (or by giving the file's path instead of a name).
The vocabulary is in the README (*Partner feeds*).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from observatoire.messages_fr import pydantic_details_fr, read_utf8, yaml_error_fr
from observatoire.model import ObservatoireError, SourceKind
from observatoire.normalise import fold

FORMATS_DIR = Path(__file__).resolve().parent / "formats"
FORMATS_DIR_ENV = "OBSERVATOIRE_FEED_FORMATS_DIR"

FieldType = Literal[
    "text", "identifier", "name", "date", "sex", "code", "yesno", "integer", "commune",
    "postcode", "phone",
]  # fmt: skip

# Canonical fields with a meaning of their own, and the type each must have.
CORE_FIELD_TYPES: dict[str, str] = {
    "record_id": "identifier",  # the partner's row number (demand, call): a direct identifier
    "person_ref": "identifier",  # the partner's person identifier (e.g. SI-SIAO)
    "last_name": "name",
    "first_name": "name",
    "birth_date": "date",
    "phone": "phone",
    "sex": "sex",
    "age": "integer",
    "commune": "commune",
    "postcode": "postcode",
    "night_date": "date",
    "place_kind": "code",
    "people_count": "integer",
}
# Always direct identifiers, whatever a format says: never stored in clear.
IDENTIFIER_FIELDS = frozenset({"record_id", "person_ref", "last_name", "first_name",
                               "birth_date", "phone"})
TALLY_REQUIRED = ("night_date", "place_kind", "people_count")


class FeedFormatError(ObservatoireError):
    """An unknown or invalid feed format."""


class FieldSpec(BaseModel):
    """How to read one canonical field from a partner's file."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(min_length=1)
    type: FieldType = "text"
    required: bool = False
    identifier: bool = False
    contact: bool = False  # a date of contact with the person (gives ``last_contact``)
    values: dict[str, str] | None = None
    strict: bool = False  # a value outside ``values`` is an error (else kept as written)
    description: str = ""


class FeedFormat(BaseModel):
    """A partner file format: columns to canonical fields."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_]*$")
    label: str
    kind: Literal["personnes", "decomptes"] = "personnes"
    source: SourceKind | None = None
    description: str = ""
    row_key: list[str] | None = None
    fields: dict[str, FieldSpec]

    @model_validator(mode="after")
    def _check(self) -> FeedFormat:
        for field, spec in self.fields.items():
            expected = CORE_FIELD_TYPES.get(field)
            if expected and spec.type != expected:
                raise ValueError(f"le champ {field} doit être de type {expected}")
        seen: dict[str, str] = {}
        for field, spec in self.fields.items():
            for column in spec.columns:
                other = seen.setdefault(header_key(column), field)
                if other != field:
                    raise ValueError(f"la colonne {column!r} est déclarée pour {other} et {field}")
        for field in self.row_key or []:
            if field not in self.fields:
                raise ValueError(f"row_key : champ inconnu {field!r}")
        if self.kind == "personnes":
            if self.source is None:
                raise ValueError("un format de personnes doit déclarer sa source (source: ...)")
            if not any(s.contact and s.type == "date" for s in self.fields.values()):
                raise ValueError("déclarez au moins une date de contact (contact: true)")
        else:
            missing = [f for f in TALLY_REQUIRED if f not in self.fields]
            if missing:
                raise ValueError(f"champs obligatoires d'un décompte manquants : {missing}")
        return self

    def is_identifier(self, field: str) -> bool:
        spec = self.fields[field]
        return field in IDENTIFIER_FIELDS or spec.identifier or spec.type in {
            "identifier", "name", "phone"
        }

    @property
    def source_name(self) -> str:
        return self.source.value if self.source else self.name


def header_key(header: str) -> str:
    """Headers compare without case, accents, punctuation nor ``°``/``º``."""
    return fold(header.replace("°", "o").replace("º", "o"))


def load_format_file(path: Path) -> FeedFormat:
    """Read and check one YAML format file (UTF-8); `FeedFormatError` says what and where,
    in French."""
    try:
        text = read_utf8(path, "Format")
    except OSError as exc:
        raise FeedFormatError(f"Format illisible : {path} ({exc.strerror}).") from None
    except ObservatoireError as exc:
        raise FeedFormatError(str(exc)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FeedFormatError(
            f"Format illisible : {path} : {yaml_error_fr(exc)}. Vérifiez l'indentation "
            "(espaces, pas de tabulations) et les guillemets."
        ) from None
    try:
        return FeedFormat.model_validate(data)
    except ValidationError as exc:
        details = pydantic_details_fr(exc, root="format")
        raise FeedFormatError(f"Format invalide dans {path} : {details}.") from None


def format_dirs(environ: dict[str, str] | None = None) -> list[Path]:
    env = os.environ if environ is None else environ
    extra = [Path(p).expanduser() for p in env.get(FORMATS_DIR_ENV, "").split(os.pathsep) if p]
    return [FORMATS_DIR, *extra]


def list_formats(dirs: list[Path] | None = None) -> dict[str, FeedFormat]:
    """Every known format by name; a user's format replaces a shipped one of the same name.

    A user's file that cannot be read is skipped (see `format_problems`): one bad file does
    not stop the imports of every other format.
    """
    return dict(_load_all(tuple(dirs or format_dirs()))[0])


def format_problems(dirs: list[Path] | None = None) -> list[str]:
    """French warnings for the user's format files that were skipped, one per file."""
    return list(_load_all(tuple(dirs or format_dirs()))[1])


@lru_cache(maxsize=8)
def _load_all(
    dirs: tuple[Path, ...],
) -> tuple[tuple[tuple[str, FeedFormat], ...], tuple[str, ...]]:
    formats: dict[str, FeedFormat] = {}
    problems: list[str] = []
    for directory in dirs:
        for path in sorted(directory.glob("*.y*ml")):
            try:
                feed_format = load_format_file(path)
            except FeedFormatError as exc:
                if directory == FORMATS_DIR:
                    raise  # a shipped format is the toolkit's own: never skipped silently
                problems.append(f"format ignoré : {exc} Corrigez ce fichier (dossier "
                                f"{FORMATS_DIR_ENV}) ; les autres formats restent utilisables.")
                continue
            formats[feed_format.name] = feed_format
    return tuple(sorted(formats.items())), tuple(problems)


def get_format(name: str, dirs: list[Path] | None = None) -> FeedFormat:
    """The format called ``name`` (or read from ``name`` when it is a YAML file path)."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return load_format_file(Path(name))
    formats = list_formats(dirs)
    if name not in formats:
        known = ", ".join(formats) or "aucun"
        skipped = format_problems(dirs)
        raise FeedFormatError(
            f"Format de flux inconnu : {name!r}. Formats disponibles : {known}. "
            "Listez-les avec `observatoire feed formats`, ou ajoutez un fichier YAML dans "
            f"le dossier désigné par {FORMATS_DIR_ENV}."
            + "".join(f"\n{p}" for p in skipped)
        )
    return formats[name]
