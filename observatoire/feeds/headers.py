"""Header mapping: which column of a partner's file holds which field of its format.

`map_columns` reads the header line once per file: each field's column (the first of its
declared names found, case, accents and punctuation aside), the columns of a file
pseudonymised at the partner's (``ps_*``, ``cle_ligne``, ``annee_naissance``) and the
file-level issues (duplicate or unknown columns, a required column missing, an identifier
column left in a pseudonymised file). Pure: no database, no file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from observatoire.feeds.formats import FeedFormat, header_key
from observatoire.feeds.report import ERROR, WARNING, Issue
from observatoire.masking import shown_value

PSEUDO_PREFIX = "ps_"
PSEUDO_MARKER = "ps_v"
ROW_KEY_COLUMN = "cle_ligne"
BIRTH_YEAR_COLUMN = "annee_naissance"


@dataclass
class ColumnMap:
    """The columns of one file (see module doc): ``columns`` maps each field read to the
    index of its column, in the order of the format's fields; ``pseudo_columns`` maps each
    pseudonym (``nom``, ``cle``...) and ``cle_ligne``/``annee_naissance`` to theirs."""

    headers: list[str]
    pseudonymised: bool
    columns: dict[str, int] = field(default_factory=dict)
    pseudo_columns: dict[str, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)


def shown_header(header: str) -> str:
    """A column name as a message shows it: a file without header line has a row of data
    there, whose dates, phone numbers and e-mail addresses are masked."""
    return shown_value(header, "text")


def map_columns(feed_format: FeedFormat, headers: list[str], file_name: str) -> ColumnMap:
    """The `ColumnMap` of a file of ``feed_format`` whose header line is ``headers``."""
    fmt, name = feed_format, file_name
    mapping = ColumnMap(headers, PSEUDO_MARKER in headers)
    issues = mapping.issues
    keys = [header_key(h) for h in headers]
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key in seen and key:
            issues.append(Issue(
                WARNING, name, 1, headers[index], "",
                "Colonne en double : seule la première est lue.",
                "Renommez ou supprimez la colonne en double.",
            ))
        seen.setdefault(key, index)
    used: set[int] = set()
    for field_name, spec in fmt.fields.items():
        if mapping.pseudonymised:
            if fmt.is_identifier(field_name):
                if header_key(field_name) in seen:
                    issues.append(Issue(
                        ERROR, name, 1, field_name, "",
                        "Fichier pseudonymisé contenant encore une colonne identifiante.",
                        "Refaites la pseudonymisation avec `observatoire pseudonymise`.",
                    ))
                continue
            candidates = [header_key(field_name)]
        else:
            candidates = [header_key(c) for c in spec.columns]
        index = next((seen[c] for c in candidates if c in seen), None)
        if index is None:
            if spec.required:
                expected = " ou ".join(f"« {c} »" for c in spec.columns[:4])
                issues.append(Issue(
                    ERROR, name, 1, spec.columns[0], "",
                    f"Colonne obligatoire manquante : {expected} ({field_name}).",
                    "Vérifiez le format choisi (observatoire feed formats) et la ligne "
                    f"d'en-tête ; colonnes trouvées : {', '.join(map(shown_header, headers))}.",
                ))
            continue
        mapping.columns[field_name] = index
        used.add(index)
    if mapping.pseudonymised:
        for index, header in enumerate(headers):
            if header.startswith(PSEUDO_PREFIX):
                mapping.pseudo_columns[header[len(PSEUDO_PREFIX):]] = index
                used.add(index)
        for column in (ROW_KEY_COLUMN, BIRTH_YEAR_COLUMN):
            if header_key(column) in seen:
                mapping.pseudo_columns[column] = seen[header_key(column)]
                used.add(seen[header_key(column)])
        if ROW_KEY_COLUMN not in mapping.pseudo_columns:
            issues.append(Issue(
                ERROR, name, 1, ROW_KEY_COLUMN, "",
                "Fichier pseudonymisé sans colonne cle_ligne.",
                "Produisez le fichier avec `observatoire pseudonymise` sans le modifier.",
            ))
    fatal = any(i.severity == ERROR for i in issues)
    ignored = [shown_header(h) for i, h in enumerate(headers) if i not in used and h]
    if ignored and not fatal:
        issues.append(Issue(
            WARNING, name, 1, None, "",
            f"Colonnes non reconnues, ignorées (jamais enregistrées) : {', '.join(ignored)}.",
            "Si l'une d'elles est utile, ajoutez son nom au format (fichier YAML).",
        ))
    if not mapping.columns and not fatal:
        issues.append(Issue(
            ERROR, name, 1, None, "",
            f"Aucune colonne du format {fmt.name} n'a été trouvée.",
            f"Ce fichier n'est sans doute pas au format {fmt.name} : vérifiez --format.",
        ))
    return mapping
