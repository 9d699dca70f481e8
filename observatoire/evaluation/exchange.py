"""A convention as the tables staff edit, on a page or in a spreadsheet: one sheet of
fields (« Convention »), one row per action (« Actions »), one row per indicator of an
action with its target per year (« Indicateurs »). The same tables go out (`sheets_of`)
and come back (`convention_from_sheets`), which checks every cell and reports each problem
with its file, sheet, row and column; a CSV holds one of the two tables and replaces that
part of the stored convention.

    write_book("convention.xlsx", sheets_of(convention), "Convention")
    convention = convention_from_sheets(read_sheets(path), path.name, base=stored)
"""

from __future__ import annotations

import re

import pandas as pd
from pydantic import ValidationError

from observatoire.evaluation.convention import EACH_YEAR, Convention, _french
from observatoire.evaluation.sheets import Problem, SheetImportError, number, rows_of
from observatoire.indicators.catalogue import PRIORITIES, UNITS, load_catalogue

HEADER, ACTIONS, INDICATORS = "Convention", "Actions", "Indicateurs"
DIRECTION_WORDS = {"hausse": "up", "baisse": "down", "aucun": "none", "": None}
WORD_OF_DIRECTION = {v: k for k, v in DIRECTION_WORDS.items() if v}
YES, NO = "oui", "non"
_YEARLY = re.compile(r"^(Budget demandé|Cofinancement|Objectif|Référence) (\d{4})$")
_FIELDS = {  # header sheet: label -> field of `Convention`
    "Territoire": "territory", "Titre": "title", "Début de la période": "start",
    "Fin de la période": "end", "Signataires (un par ligne)": "signatories",
    "Échéance du rapport (JJ/MM de l'année suivante)": "report_deadline",
    "Reversement possible": "clawback", "Source": "source",
}
ACTION_COLUMNS = ["N°", "Titre", "Description", "Objectif", "Résultats attendus",
                  "Priorité du plan (1-5)", "Axe", "Pilote", "Partenaires (séparés par ;)"]
INDICATOR_COLUMNS = ["N° action", "Identifiant", "Catalogue (oui/non)", "Libellé", "Unité",
                     "Sens souhaité (hausse/baisse/aucun)", "Objectif chaque année"]


def _years(convention: Convention) -> list[int]:
    return list(range(convention.period[0], convention.period[1] + 1))


def header_frame(convention: Convention) -> pd.DataFrame:
    month, day = convention.report_deadline.split("-")
    values = {
        "territory": convention.territory, "title": convention.title,
        "start": convention.period[0], "end": convention.period[1],
        "signatories": "\n".join(convention.signatories),
        "report_deadline": f"{day}/{month}", "clawback": convention.clawback,
        "source": convention.source,
    }
    rows = [{"Champ": label, "Valeur": values[field]} for label, field in _FIELDS.items()]
    rows += [{"Champ": f"Financement de l'État {y}", "Valeur": amount}
             for y, amount in sorted(convention.state_funding.items())]
    return pd.DataFrame(rows, columns=["Champ", "Valeur"], dtype=object)


def actions_frame(convention: Convention) -> pd.DataFrame:
    years = sorted(set(_years(convention)) | {y for a in convention.actions
                                              for y in (*a.budget, *a.cofinancing)})
    rows = []
    for action in convention.actions:
        row = dict(zip(ACTION_COLUMNS, [
            action.number, action.title, action.description, action.objective,
            action.expected, action.priority, action.axis, action.pilot,
            "; ".join(action.partners)], strict=True))
        for year in years:
            row[f"Budget demandé {year}"] = action.budget.get(year)
            row[f"Cofinancement {year}"] = action.cofinancing.get(year)
        rows.append(row)
    columns = ACTION_COLUMNS + [f"{k} {y}" for y in years
                                for k in ("Budget demandé", "Cofinancement")]
    return pd.DataFrame(rows, columns=columns)


def indicators_frame(convention: Convention) -> pd.DataFrame:
    pairs = [(a, i) for a in convention.actions for i in a.indicators]
    years = sorted(set(_years(convention)) | {int(y) for _, i in pairs for y in i.targets
                                              if y != EACH_YEAR})
    baselines = sorted({int(y) for _, i in pairs for y in i.baseline})
    rows = []
    for action, indicator in pairs:
        described = indicator.described()
        row = dict(zip(INDICATOR_COLUMNS, [
            action.number, indicator.id, YES if indicator.catalogue else NO,
            described.label, described.unit, WORD_OF_DIRECTION.get(described.good or "", ""),
            indicator.targets.get(EACH_YEAR)], strict=True))
        row |= {f"Objectif {y}": indicator.targets.get(str(y)) for y in years}
        row |= {f"Référence {y}": indicator.baseline.get(str(y)) for y in baselines}
        rows.append(row)
    columns = (INDICATOR_COLUMNS + [f"Objectif {y}" for y in years]
               + [f"Référence {y}" for y in baselines])
    return pd.DataFrame(rows, columns=columns)


def sheets_of(convention: Convention) -> dict[str, pd.DataFrame]:
    """The convention as the three sheets of its spreadsheet."""
    return {HEADER: header_frame(convention), ACTIONS: actions_frame(convention),
            INDICATORS: indicators_frame(convention)}


# --- back from the tables ------------------------------------------------------------------


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, sheet, row, column, message, fix) -> None:  # noqa: ANN001
        self.problems.append(Problem(self.file, sheet or None, row, column, message, fix))

    def text(self, sheet, row, column, value) -> str:  # noqa: ANN001
        from observatoire.formula import is_formula

        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        text = str(value).strip()
        if is_formula(text):
            self.problem(sheet, row, column, f"formule refusée ({text[:30]!r})",
                         "tapez la valeur elle-même, sans « = » au début")
            return ""
        return text

    def amount(self, sheet, row, column, value, *, integer=False) -> float | None:  # noqa: ANN001
        if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
            return None
        try:
            result = number(str(value)) if not isinstance(value, int | float) else float(value)
        except ValueError:
            self.problem(sheet, row, column, f"« {value} » n'est pas un nombre",
                         "écrivez un nombre (ex. 1154, 0,3 ou 30 %), ou laissez vide")
            return None
        if integer and result is not None and not float(result).is_integer():
            self.problem(sheet, row, column, f"« {value} » n'est pas un entier",
                         "écrivez un nombre entier")
        return result


def _missing_columns(reader: _Reader, sheet: str, frame: pd.DataFrame,
                     required: list[str]) -> bool:
    missing = [c for c in required if c not in frame.columns]
    for column in missing:
        reader.problem(sheet, 1, column, "colonne absente",
                       f"ajoutez la colonne « {column} » (en-têtes de l'export : "
                       "observatoire convention export)")
    return bool(missing)


def _actions(reader: _Reader, sheet: str, frame: pd.DataFrame, old: dict) -> list[dict]:
    if _missing_columns(reader, sheet, frame, ["N°", "Titre", "Priorité du plan (1-5)"]):
        return []
    actions, seen = [], set()
    for row, cells in rows_of(frame):
        get = lambda c, r=row, v=cells: reader.text(sheet, r, c, v.get(c))  # noqa: E731
        number_ = get("N°")
        if not number_:
            reader.problem(sheet, row, "N°", "numéro d'action vide",
                           "donnez un numéro (ex. 4 ou 4b)")
            continue
        if number_ in seen:
            reader.problem(sheet, row, "N°", f"action {number_} en double",
                           "donnez un numéro différent à chaque action")
        seen.add(number_)
        title = get("Titre")
        if not title:
            reader.problem(sheet, row, "Titre", "titre vide", "donnez le titre de l'action")
        priority = reader.amount(sheet, row, "Priorité du plan (1-5)",
                                 cells.get("Priorité du plan (1-5)"), integer=True)
        if priority is None or int(priority) not in PRIORITIES:
            reader.problem(sheet, row, "Priorité du plan (1-5)",
                           f"priorité « {cells.get('Priorité du plan (1-5)')} » inconnue",
                           "écrivez 1 à 5 : " + " ; ".join(f"{k} {v}" for k, v in
                                                             PRIORITIES.items()))
            priority = 5
        budget, cofinancing = {}, {}
        for column in frame.columns:
            match = _YEARLY.match(str(column))
            if match and match.group(1) in ("Budget demandé", "Cofinancement"):
                amount = reader.amount(sheet, row, column, cells.get(column))
                if amount is not None:
                    target = budget if match.group(1) == "Budget demandé" else cofinancing
                    target[int(match.group(2))] = amount
        partners = [p.strip() for p in get("Partenaires (séparés par ;)").split(";")
                    if p.strip()]
        actions.append({
            "number": number_, "title": title, "description": get("Description"),
            "objective": get("Objectif"), "expected": get("Résultats attendus"),
            "priority": int(priority), "axis": get("Axe"), "pilot": get("Pilote"),
            "partners": partners, "budget": budget, "cofinancing": cofinancing,
            "indicators": old.get(number_, []),
        })
    return actions


def _indicators(reader: _Reader, sheet: str, frame: pd.DataFrame,
                actions: list[dict]) -> None:
    if _missing_columns(reader, sheet, frame, ["N° action", "Identifiant"]):
        return
    catalogue = load_catalogue()
    by_number = {a["number"]: a for a in actions}
    for action in actions:
        action["indicators"] = []
    seen = set()
    for row, cells in rows_of(frame):
        get = lambda c, r=row, v=cells: reader.text(sheet, r, c, v.get(c))  # noqa: E731
        number_, ident = get("N° action"), get("Identifiant")
        if number_ not in by_number:
            reader.problem(sheet, row, "N° action", f"action « {number_} » inconnue",
                           "donnez le numéro d'une action de la feuille Actions ("
                           + ", ".join(by_number) + ")")
            continue
        if not re.fullmatch(r"[a-z0-9_]{2,64}", ident or ""):
            reader.problem(sheet, row, "Identifiant", f"identifiant « {ident} » invalide",
                           "lettres minuscules sans accent, chiffres et _ (ex. "
                           "logements_captes)")
            continue
        if (number_, ident) in seen:
            reader.problem(sheet, row, "Identifiant", f"indicateur {ident} deux fois pour "
                           f"l'action {number_}", "gardez une seule ligne")
        seen.add((number_, ident))
        in_catalogue = get("Catalogue (oui/non)").lower() in (YES, "o", "1", "vrai")
        label, unit = get("Libellé"), get("Unité")
        direction_word = get("Sens souhaité (hausse/baisse/aucun)").lower()
        if direction_word not in DIRECTION_WORDS:
            reader.problem(sheet, row, "Sens souhaité (hausse/baisse/aucun)",
                           f"« {direction_word} » inconnu", "écrivez hausse, baisse ou aucun")
        entry = {"id": ident, "catalogue": in_catalogue}
        if in_catalogue:
            if ident not in catalogue:
                reader.problem(sheet, row, "Identifiant", f"{ident} n'est pas au catalogue",
                               "écrivez « non » dans Catalogue et donnez libellé et unité, "
                               "ou ajoutez l'indicateur au catalogue du territoire")
                continue
        else:
            if not label:
                reader.problem(sheet, row, "Libellé", "libellé vide",
                               "donnez le libellé de l'indicateur")
            if unit not in UNITS and not unit:
                reader.problem(sheet, row, "Unité", "unité vide",
                               "donnez l'unité (ex. " + ", ".join(sorted(UNITS)[:6]) + "…)")
            entry |= {"label": label, "unit": unit,
                      "good": DIRECTION_WORDS.get(direction_word) or "up"}
        targets, baseline = {}, {}
        each = reader.amount(sheet, row, "Objectif chaque année", cells.get(
            "Objectif chaque année"))
        if each is not None:
            targets[EACH_YEAR] = each
        for column in frame.columns:
            match = _YEARLY.match(str(column))
            if match and match.group(1) in ("Objectif", "Référence"):
                amount = reader.amount(sheet, row, column, cells.get(column))
                if amount is not None:
                    (targets if match.group(1) == "Objectif" else baseline)[
                        match.group(2)] = amount
        entry |= {"targets": targets, "baseline": baseline}
        by_number[number_]["indicators"].append(entry)


def _header(reader: _Reader, frame: pd.DataFrame, base: dict) -> dict:
    if _missing_columns(reader, HEADER, frame, ["Champ", "Valeur"]):
        return base
    fields = dict(base)
    funding = {}
    by_label = _FIELDS
    for row, cells in rows_of(frame):
        label = reader.text(HEADER, row, "Champ", cells.get("Champ"))
        value = cells.get("Valeur")
        if label.startswith("Financement de l'État "):
            year = label.rsplit(" ", 1)[-1]
            amount = reader.amount(HEADER, row, "Valeur", value)
            if year.isdigit() and amount is not None:
                funding[int(year)] = amount
            continue
        if label not in by_label:
            reader.problem(HEADER, row, "Champ", f"champ « {label} » inconnu",
                           "gardez les champs de l'export : " + ", ".join(_FIELDS))
            continue
        field = by_label[label]
        if field in ("start", "end"):
            year = reader.amount(HEADER, row, "Valeur", value, integer=True)
            fields[field] = None if year is None else int(year)
        elif field == "signatories":
            fields[field] = [s.strip() for s in reader.text(HEADER, row, "Valeur", value)
                             .splitlines() if s.strip()]
        elif field == "report_deadline":
            text = reader.text(HEADER, row, "Valeur", value)
            match = re.fullmatch(r"(\d{1,2})/(\d{1,2})", text)
            if not match:
                reader.problem(HEADER, row, "Valeur", f"échéance « {text} » illisible",
                               "écrivez jour/mois, ex. 30/09")
                continue
            fields[field] = f"{int(match.group(2)):02d}-{int(match.group(1)):02d}"
        else:
            fields[field] = reader.text(HEADER, row, "Valeur", value)
    fields["state_funding"] = funding or base.get("state_funding", {})
    return fields


def convention_from_sheets(sheets: dict[str, pd.DataFrame], file: str,
                           base: Convention | None = None) -> Convention:
    """The convention the tables describe, or `SheetImportError` listing every problem.

    A workbook gives the three sheets (« Convention » may be left out when ``base`` is
    given: the stored one's fields stay). A CSV (one table, sheet name ``""``) is the
    actions or the indicators table, recognised by its columns, and replaces that part of
    ``base``."""
    reader = _Reader(file)
    document = base.model_dump(mode="json") if base else {}
    fields = {k: document.get(k) for k in ("territory", "title", "signatories",
                                           "report_deadline", "clawback", "source",
                                           "state_funding")}
    if base:
        fields |= {"start": base.period[0], "end": base.period[1]}
    old_indicators = {a["number"]: a["indicators"] for a in document.get("actions", [])}
    actions = [dict(a) for a in document.get("actions", [])]
    if "" in sheets:  # a CSV: one of the two tables
        frame = sheets[""]
        if base is None:
            reader.problem(None, None, None, "un CSV ne contient qu'un tableau",
                           "importez d'abord la convention entière en .xlsx (observatoire "
                           "convention export en donne le modèle)")
        elif "Identifiant" in frame.columns:
            _indicators(reader, INDICATORS, frame, actions)
        elif "Titre" in frame.columns:
            actions = _actions(reader, ACTIONS, frame, old_indicators)
        else:
            reader.problem(None, 1, None, "ni le tableau des actions ni celui des indicateurs",
                           "gardez les en-têtes de l'export (« N° », « Titre »… ou « N° "
                           "action », « Identifiant »…)")
    else:
        if HEADER in sheets:
            fields = _header(reader, sheets[HEADER], fields)
        elif base is None:
            reader.problem(HEADER, None, None, "feuille absente",
                           "ajoutez la feuille « Convention » (modèle : observatoire "
                           "convention export)")
        if ACTIONS in sheets:
            actions = _actions(reader, ACTIONS, sheets[ACTIONS], old_indicators)
        else:
            reader.problem(ACTIONS, None, None, "feuille absente",
                           "ajoutez la feuille « Actions »")
        if INDICATORS in sheets:
            _indicators(reader, INDICATORS, sheets[INDICATORS], actions)
    if reader.problems:
        raise SheetImportError(reader.problems)
    document = {
        "territory": fields.get("territory"), "title": fields.get("title"),
        "period": (fields.get("start"), fields.get("end")),
        "signatories": fields.get("signatories") or [],
        "report_deadline": fields.get("report_deadline"),
        "clawback": fields.get("clawback") or "", "source": fields.get("source") or "",
        "state_funding": fields.get("state_funding") or {}, "actions": actions,
        # The report's comments are written on the report page, not in the spreadsheet.
        "comments": document.get("comments", {}),
    }
    try:
        convention = Convention.model_validate(document)
    except ValidationError as exc:
        raise SheetImportError([Problem(file, None, None, None, _french(exc),
                                        "complétez le champ nommé")]) from exc
    if convention.period[0] > convention.period[1]:
        raise SheetImportError([Problem(file, HEADER, None, "Valeur",
                                        "la période finit avant de commencer",
                                        "corrigez le début ou la fin de la période")])
    return convention
