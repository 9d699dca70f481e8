"""What a record is: the values of a valid partner row -> what is stored.

`RecordBuilder` turns the values of a valid row (`chunks.ParsedChunk.row_values`) into a
``source_record`` (direct identifiers replaced by their pseudonyms, `observatoire.
pseudonymise`) or a place tally. `RecordRow` is a record as the store inserts it (JSON as
text), the one shape the column path (`chunks.person_columns`) hands to the importer.
Pure: no database, no file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from observatoire.feeds.formats import FeedFormat
from observatoire.feeds.headers import (
    BIRTH_YEAR_COLUMN,
    PSEUDO_MARKER,
    PSEUDO_PREFIX,
    ROW_KEY_COLUMN,
)
from observatoire.model import DEFAULT_PARTNER, ObservatoireError
from observatoire.normalise import CleanName, FrenchDate, fold
from observatoire.plan_attributes import PLAN_ATTRIBUTES
from observatoire.pseudonymise import ENCODING_VERSION, PSEUDONYM_FIELDS, Pseudonymiser

_PSEUDO_ROW_KEY = PSEUDO_PREFIX + ROW_KEY_COLUMN
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RecordRow(NamedTuple):
    """A prepared ``source_record`` row, as the store inserts it
    (`store.feeds_repository.insert_source_rows`): JSON and dates as text, then the plan
    attributes (`observatoire.plan_attributes`)."""

    source: str
    source_row_key: str
    commune_code: str | None
    sex: str | None
    birth_year: int | None
    last_contact: str | None  # ISO date
    pseudonyms: str  # JSON
    attributes: str  # JSON
    plan_date: str | None
    plan_label: str | None
    plan_status: str | None


def record_of_row(row: RecordRow) -> dict[str, Any]:
    """A prepared row as a record (dict, date as `datetime.date`, JSON read): what an
    update is compared with a stored record as (`importer`, `content_fingerprint`)."""
    return {
        "source": row.source, "source_row_key": row.source_row_key,
        "commune_code": row.commune_code, "sex": row.sex, "birth_year": row.birth_year,
        "last_contact": dt.date.fromisoformat(row.last_contact) if row.last_contact else None,
        "pseudonyms": json.loads(row.pseudonyms), "attributes": json.loads(row.attributes),
    }


def canonical(value: Any) -> str:
    """A read value as text: what row keys and the hashed custom identifiers are made of."""
    if type(value) is str:  # most values: text, codes
        return value
    if isinstance(value, CleanName):
        return value.key
    if isinstance(value, FrenchDate):
        return value.isoformat()
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)

# A row's key content: its key fields' parts (`row_key_part`), sorted by field, joined.
ROW_KEY_SEPARATOR = "\x1e"


def row_key_part(name: str, value: Any) -> str:
    """The part of field ``name`` in a row's key content (`chunks._row_keys`)."""
    return f"{name}\x1d{canonical(value)}"


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
        self.contact_fields = [n for n, s in fields.items() if s.contact]
        self.attribute_fields = [
            n for n in fields
            if not feed_format.is_identifier(n)
            and n not in {"sex", "commune", "postcode", "age"}
        ]
        self.custom_identifiers = [
            n for n in fields
            if feed_format.is_identifier(n) and n not in {
                "record_id", "person_ref", "last_name", "first_name", "birth_date", "phone"}
        ]
        self._key_fields = feed_format.row_key or list(fields)
        self.sorted_key_fields = sorted(self._key_fields)
        self._row_purpose = f"ligne:{self.source}"
        self.date_attributes = {n for n in self.attribute_fields if fields[n].type == "date"}
        # The ps_* cells of a file pseudonymised at the partner's that are pseudonyms.
        self.kept_pseudonyms = set(PSEUDONYM_FIELDS) | set(self.custom_identifiers)
        # The attributes of `observatoire.plan_attributes` this format may hold.
        self.plan_keys = [
            [k for k in keys if k in self.attribute_fields]
            for keys in PLAN_ATTRIBUTES.get(self.source, ((), (), ()))
        ]
        # What the column path computes per distinct value (JSON fragments of pseudonyms and
        # attributes), kept from chunk to chunk (`chunks.person_columns`).
        self.value_cache: dict[str, dict[Any, Any]] = {}

    @property
    def updatable(self) -> bool:
        """Whether a partner row keeps its identity when its content changes (a SI-SIAO
        demand, a 115 call): its key is the partner's own number, not the row's content."""
        return self.format.kind == "personnes" and bool(self.format.row_key)

    def row_key_hasher(self) -> Callable[[str], str]:
        """The row key of a person row's key content (`chunks._row_keys`), scoped by the
        partner."""
        unscoped = self.pseudonymiser.hasher(self._row_purpose)
        scope = self._scope
        if scope is None:
            return unscoped
        return lambda content: scope(unscoped(content))

    def partner_row_key(self, pseudonymised: str) -> str:
        """The row key of a row pseudonymised at the partner's (its ``cle_ligne``), scoped by
        the partner."""
        return pseudonymised if self._scope is None else self._scope(pseudonymised)

    def tally_row_key(self, values: dict[str, Any]) -> str:
        """The row key of a place tally: its night, place and partner (a person row's key is
        its key fields' keyed hash, `row_key_hasher`, computed in `chunks._row_keys`)."""
        pseudonymised = values.get(_PSEUDO_ROW_KEY)
        if pseudonymised is not None:
            return self.partner_row_key(pseudonymised)
        parts = [canonical(values.get(f, "")) for f in
                 ("night_date", "place_kind", "place_name", "commune", "partner")]
        parts[2] = fold(parts[2])
        if self._scope is not None:
            parts.append(self.partner)
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    def tally(self, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "row_key": self.tally_row_key(values),
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
                *(f"{PSEUDO_PREFIX}{f}" for f in self.custom_identifiers)]

    def pseudonymised_row(self, record: RecordRow, values: dict[str, Any]) -> list[str]:
        """The line of `pseudonymised_columns` of a valid row: its record (`RecordRow`, for
        the row key, birth year and pseudonyms) and its values (for the plain fields)."""
        pseudonyms = json.loads(record.pseudonyms)
        plain = [n for n in self.format.fields if not self.format.is_identifier(n)]
        cells = [ENCODING_VERSION, self.pseudonymiser.key_id, record.source_row_key,
                 "" if record.birth_year is None else str(record.birth_year)]
        cells += ["" if n not in values else canonical(values[n]) for n in plain]
        cells += [pseudonyms.get(f, "") for f in PSEUDONYM_FIELDS[2:]]
        cells += [pseudonyms.get(f, "") for f in self.custom_identifiers]
        return cells

