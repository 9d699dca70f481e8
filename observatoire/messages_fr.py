"""French wording of the errors of the libraries we read files with (pydantic, PyYAML), and
the reading of a text file that must be UTF-8: one place, so that no English detail ends
up inside a French message.

Pure: no settings, no database; callers raise their own `ObservatoireError` subclass.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from observatoire.model import ObservatoireError


class FileEncodingError(ObservatoireError, ValueError):
    """A text file (format, questionnaire, key) that is not UTF-8."""

# pydantic error types (``error["type"]``) -> French text; ``{...}`` are filled from ``ctx``.
_PYDANTIC_TYPES: dict[str, str] = {
    "missing": "champ obligatoire manquant",
    "extra_forbidden": "clé inconnue (vérifiez l'orthographe)",
    "literal_error": "valeur non permise (valeurs possibles : {expected})",
    "enum": "valeur non permise (valeurs possibles : {expected})",
    "string_type": "texte attendu",
    "string_pattern_mismatch": "forme invalide (motif attendu : {pattern})",
    "string_too_short": "texte trop court (au moins {min_length} caractère(s))",
    "string_too_long": "texte trop long (au plus {max_length} caractères)",
    "int_type": "nombre entier attendu",
    "int_parsing": "nombre entier attendu",
    "int_from_float": "nombre entier attendu (sans décimale)",
    "float_type": "nombre attendu",
    "float_parsing": "nombre attendu",
    "bool_type": "oui/non attendu (true ou false)",
    "bool_parsing": "oui/non attendu (true ou false)",
    "list_type": "liste attendue (une valeur par ligne commençant par « - »)",
    "dict_type": "dictionnaire attendu (des lignes « clé: valeur »)",
    "model_type": "dictionnaire attendu (des lignes « clé: valeur »)",
    "model_attributes_type": "dictionnaire attendu (des lignes « clé: valeur »)",
    "too_short": "trop peu d'éléments (au moins {min_length})",
    "too_long": "trop d'éléments (au plus {max_length})",
    "date_parsing": "date attendue (AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date attendue (AAAA-MM-JJ)",
    "date_type": "date attendue (AAAA-MM-JJ)",
    "datetime_parsing": "date et heure attendues (AAAA-MM-JJ HH:MM)",
    "datetime_type": "date et heure attendues (AAAA-MM-JJ HH:MM)",
    "greater_than": "doit être supérieur à {gt}",
    "greater_than_equal": "doit être supérieur ou égal à {ge}",
    "less_than": "doit être inférieur à {lt}",
    "less_than_equal": "doit être inférieur ou égal à {le}",
    "uuid_parsing": "identifiant UUID attendu",
}
# Our own validators raise ValueError with a French message: pydantic prefixes it.
_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def pydantic_error_fr(error: dict) -> str:
    """One error of ``ValidationError.errors()`` in French (without its location)."""
    kind = error.get("type", "")
    if kind in ("value_error", "assertion_error"):
        message = str(error.get("msg", ""))
        for prefix in _VALUE_ERROR_PREFIXES:
            message = message.removeprefix(prefix)
        return message
    template = _PYDANTIC_TYPES.get(kind)
    if template is None:
        return f"valeur invalide (erreur {kind})"
    context = {k: _french_or(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template.split(" (")[0]


def _french_or(value: object) -> str:
    return str(value).replace("' or '", "', '")


def pydantic_details_fr(exc: ValidationError, root: str = "") -> str:
    """Every error of ``exc`` as ``where : what`` in French, joined with ``; ``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or root
        what = pydantic_error_fr(error)
        parts.append(f"{where} : {what}" if where else what)
    return "; ".join(parts)


# PyYAML's problems (``exc.problem``), by their start -> French text.
_YAML_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("found character '\\t'", "tabulation interdite (indentez avec des espaces)"),
    ("found unexpected end of stream",
     "fin du fichier inattendue (guillemet, crochet ou accolade non fermé ?)"),
    ("found unexpected ':'", "« : » inattendu (mettez le texte entre guillemets)"),
    ("mapping values are not allowed", "« : » inattendu (mettez le texte entre guillemets)"),
    ("could not find expected ':'", "« : » manquant après une clé"),
    ("expected <block end>", "indentation incohérente"),
    ("expected ',' or ']'", "liste entre crochets mal fermée"),
    ("expected ',' or '}'", "accolades mal fermées"),
    ("found undefined alias", "alias (*nom) non défini"),
    ("found duplicate anchor", "ancre (&nom) définie deux fois"),
    ("expected a single document", "plusieurs documents dans le fichier (« --- »)"),
    ("found unknown escape character", "caractère d'échappement inconnu (« \\ » entre guillemets)"),
    ("found a tab character", "tabulation interdite (indentez avec des espaces)"),
)


def yaml_position(exc: yaml.YAMLError) -> str | None:
    """``ligne L, colonne C`` of a PyYAML error, when PyYAML knows it."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"ligne {mark.line + 1}, colonne {mark.column + 1}" if mark else None


def yaml_problem_fr(exc: yaml.YAMLError) -> str:
    """What PyYAML found wrong, in French (never its English text)."""
    problem = str(getattr(exc, "problem", None) or "")
    return next((french for english, french in _YAML_PROBLEMS if problem.startswith(english)),
                "syntaxe YAML incorrecte")


def yaml_error_fr(exc: yaml.YAMLError) -> str:
    """A PyYAML error in French, with its line and column when PyYAML gives them."""
    where = yaml_position(exc)
    return f"{where} : {yaml_problem_fr(exc)}" if where else yaml_problem_fr(exc)


def read_utf8(path: Path, what: str) -> str:
    """The text of ``path``, which must be UTF-8 (a BOM is accepted).

    Raises `FileEncodingError` naming ``what``, the file and how to fix it; ``OSError`` is
    left to the caller.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileEncodingError(
            f"{what} {path} : le fichier n'est pas en UTF-8 (octet illisible ligne {line}, "
            f"position {exc.start}). Ouvrez-le dans un éditeur de texte et enregistrez-le "
            "en UTF-8."
        ) from None

