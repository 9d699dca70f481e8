"""The conventions and the hand-entered figures as staff keep them in the database: what
the pages and the command line call (no SQL here: `observatoire.store.evaluation_repository`).

The shipped conventions (`convention.all_conventions`) are the first version of a
territory's stored convention (`seed_conventions`, run by the sample build); staff then
revise it on the « Convention » page or by spreadsheet, each revision a new version with its
date and author. The report reads the latest version, else the shipped file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from observatoire.evaluation.convention import (
    EACH_YEAR,
    Convention,
    ConventionError,
    all_conventions,
    load_convention,
)
from observatoire.evaluation.sheets import (
    Problem,
    SheetImportError,
    number,
    read_sheets,
    rows_of,
)
from observatoire.model import ObservatoireError
from observatoire.store import evaluation_repository as store

SHIPPED_NOTE = "convention livrée avec l'observatoire (annexes transcrites)"


def seed_conventions(session: Session, territory_slug: str, *,
                     actor: str = "observatoire") -> int:
    """Store the shipped conventions of the territory that have no stored version yet.
    Returns how many were stored."""
    stored = {v.period for v in store.latest_documents(session, territory_slug)}
    added = 0
    for convention in all_conventions():
        if (convention.territory == territory_slug
                and store.period_key(convention.period) not in stored):
            store.save_convention_document(session, territory_slug,
                                           convention.model_dump(mode="json"), actor=actor,
                                           note=SHIPPED_NOTE)
            added += 1
    return added


def stored_conventions(session: Session, territory_slug: str) -> list[Convention]:
    return [Convention.model_validate(v.document)
            for v in store.latest_documents(session, territory_slug)]


def current_convention(session: Session, territory_slug: str,
                       year: int | None = None) -> Convention:
    """The latest stored version of the convention covering ``year`` (the latest
    convention without a year), else the shipped one (`load_convention`)."""
    mine = stored_conventions(session, territory_slug)
    if year is not None:
        mine = [c for c in mine if c.covers(year)]
    if mine:
        return max(mine, key=lambda c: c.period[1])
    return load_convention(territory_slug, year)


def save_convention(session: Session, convention: Convention, *, actor: str,
                    note: str | None = None) -> int | None:
    """Store ``convention`` as a new version (``None``: unchanged, nothing stored)."""
    document = Convention.model_validate(convention.model_dump()).model_dump(mode="json")
    return store.save_convention_document(session, convention.territory, document,
                                          actor=actor, note=note)


def import_convention(session: Session, territory_slug: str, path: str | Path, *,
                      actor: str, note: str | None = None,
                      year: int | None = None) -> tuple[Convention, int | None]:
    """Read a convention spreadsheet (XLSX: the three sheets of `export`; CSV: the actions
    or indicators table of the stored convention) and store it as a new version. Every
    problem is reported (`SheetImportError`, file/sheet/row/column/fix) and nothing is
    stored then."""
    from observatoire.evaluation.exchange import convention_from_sheets

    path = Path(path)
    try:
        base = current_convention(session, territory_slug, year)
    except ConventionError:
        base = None
    convention = convention_from_sheets(read_sheets(path), path.name, base)
    if convention.territory != territory_slug:
        raise SheetImportError([Problem(path.name, "Convention", None, "Valeur",
                                        f"territoire « {convention.territory} » au lieu de "
                                        f"« {territory_slug} »",
                                        "importez-la avec --territory "
                                        f"{convention.territory}, ou corrigez le champ")])
    return convention, save_convention(session, convention, actor=actor,
                                       note=note or f"import de {path.name}")


def export_convention(session: Session, territory_slug: str, path: str | Path,
                      year: int | None = None) -> Path:
    """Write the current convention as the spreadsheet staff edit (`exchange.sheets_of`)."""
    from observatoire.evaluation.exchange import sheets_of
    from observatoire.evaluation.sheets import write_book

    return write_book(path, sheets_of(current_convention(session, territory_slug, year)),
                      "Convention")


def target_history(session: Session, territory_slug: str, period: str) -> pd.DataFrame:
    """Each change of a target across the stored versions of a convention: ``action``,
    ``indicator``, ``year``, ``target`` (empty: removed), ``version``, ``saved_at``,
    ``saved_by``, ``note``. The first version's targets are its first rows."""
    columns = ["action", "indicator", "year", "target", "version", "saved_at", "saved_by",
               "note"]
    rows, before = [], {}
    for version in store.convention_versions(session, territory_slug, period):
        now = {}
        for action in version.document.get("actions", []):
            for indicator in action.get("indicators", []):
                for year, target in indicator.get("targets", {}).items():
                    now[(action["number"], indicator["id"], year)] = target
        for key in sorted(set(now) | set(before)):
            if now.get(key) != before.get(key):
                rows.append((*key, now.get(key), version.version, version.saved_at,
                             version.saved_by, version.note))
        before = now
    frame = pd.DataFrame(rows, columns=columns)
    frame["year"] = frame["year"].replace(EACH_YEAR, "chaque année")
    return frame


def convention_targets(session: Session, territory_slug: str) -> pd.DataFrame:
    """The targets of the territory's conventions, year by year as the execution report
    reads them (`Convention.targets_by_year` of the convention covering each year):
    ``indicator_id``, ``year``, ``target``, ``convention`` (its title). The one place
    targets are kept: the indicators page and the report read this."""
    conventions = stored_conventions(session, territory_slug)
    periods = {c.period for c in conventions}
    conventions += [c for c in all_conventions()
                    if c.territory == territory_slug and c.period not in periods]
    rows, seen = [], set()
    # As `current_convention`: for a year two conventions cover, the one that ends latest.
    for convention in sorted(conventions, key=lambda c: -c.period[1]):
        for indicator_id, year, target in convention.targets_by_year():
            if (indicator_id, year) not in seen:
                seen.add((indicator_id, year))
                rows.append((indicator_id, year, target, convention.title))
    return pd.DataFrame(sorted(rows), columns=["indicator_id", "year", "target",
                                               "convention"])


def set_target(session: Session, territory_slug: str, indicator_id: str, year: int,
               target: float | None, *, actor: str, action: str | None = None,
               note: str | None = None) -> int | None:
    """Set (``None``: remove) the target of ``indicator_id`` for ``year`` in the convention
    covering it, on ``action`` or every action that has the indicator: a new version of the
    convention (``None``: unchanged)."""
    convention = current_convention(session, territory_slug, year)
    revised = convention.with_target(indicator_id, year, target, action)
    seed_conventions(session, territory_slug)  # the shipped text first, as version 1
    return save_convention(session, revised, actor=actor,
                           note=note or f"objectif {indicator_id} {year}")


# --- figures that come from no feed ----------------------------------------------------------


def indicator_units(session: Session, territory_slug: str) -> dict[str, str | None]:
    """Id -> unit of every indicator a figure may be entered for: the catalogue's (the
    territory's own included) and the stored conventions' own indicators."""
    from observatoire.indicators.catalogue import load_catalogue

    units = {i.id: i.unit for i in load_catalogue().values()}
    try:
        conventions = stored_conventions(session, territory_slug) or [
            c for c in all_conventions() if c.territory == territory_slug]
    except ObservatoireError:
        conventions = []
    for convention in conventions:
        for _, indicator in convention.indicators():
            units.setdefault(indicator.id, indicator.unit)
    return units


def entered_values(session: Session, territory_slug: str) -> pd.DataFrame:
    """The yearly values of the figures staff entered, catalogue and convention units."""
    from observatoire.store.indicators_repository import entered_values as values

    units = indicator_units(session, territory_slug)
    return values(session, territory_slug, units.get)


def enter_figure(session: Session, territory_slug: str, indicator_id: str, year: int,
                 value: float | None, *, actor: str, **details) -> None:  # noqa: ANN003
    """One figure (``quarter``, ``commune_code``, ``source``, ``comment`` optional)."""
    store.add_figure(session, territory_slug, indicator_id, year, value, actor=actor,
                     known=set(indicator_units(session, territory_slug)), **details)


FIGURE_HEADERS = {"indicateur": "indicator_id", "année": "year", "trimestre": "quarter",
                  "commune": "commune_code", "valeur": "value", "source": "source",
                  "commentaire": "comment"}


def figures_template() -> pd.DataFrame:
    return pd.DataFrame(columns=[h.capitalize() for h in FIGURE_HEADERS])


def import_figures(session: Session, territory_slug: str, path: str | Path, *,
                   actor: str) -> int:
    """Import a spreadsheet of figures (columns `FIGURE_HEADERS`, first sheet or CSV),
    each row a new entry. Every problem is reported row by row (`SheetImportError`) and
    nothing is stored then. Returns the rows stored."""
    from observatoire.formula import is_formula
    from observatoire.store import repository

    path = Path(path)
    sheets = read_sheets(path)
    sheet_name, frame = next(iter(sheets.items())) if sheets else ("", pd.DataFrame())
    problems: list[Problem] = []

    def problem(row, column, message, fix) -> None:  # noqa: ANN001
        problems.append(Problem(path.name, sheet_name or None, row, column, message, fix))

    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    for header in ("indicateur", "année", "valeur"):
        if header not in frame.columns:
            problem(1, header.capitalize(), "colonne absente",
                    "colonnes attendues : " + ", ".join(h.capitalize() for h in
                                                        FIGURE_HEADERS))
    if problems:
        raise SheetImportError(problems)
    units = indicator_units(session, territory_slug)
    communes = {c.code for c in repository.get_territory(session, territory_slug).communes}
    entries = []
    for row, cells in rows_of(frame):
        def cell(header, r=row, c=cells):  # noqa: ANN001, ANN202
            value = c.get(header)
            if value is not None and is_formula(str(value)):
                problem(r, header.capitalize(), "formule refusée",
                        "tapez la valeur elle-même, sans « = » au début")
                return None
            return value
        indicator = cell("indicateur")
        if indicator not in units:
            problem(row, "Indicateur", f"« {indicator} » inconnu",
                    "un identifiant du catalogue ou de la convention (page Convention, "
                    "observatoire convention export)")
        year = cell("année")
        if year is None or not str(year).isdigit() or not 1990 <= int(year) <= 2100:
            problem(row, "Année", f"année « {year} » invalide", "une année sur 4 chiffres")
        quarter = cell("trimestre")
        if quarter is not None:
            text = str(quarter).upper().removeprefix("T")
            if text not in ("1", "2", "3", "4"):
                problem(row, "Trimestre", f"trimestre « {quarter} » invalide",
                        "1 à 4 (ou T1 à T4), vide pour l'année entière")
            quarter = text
        commune = cell("commune")
        if commune is not None and commune not in communes:
            problem(row, "Commune", f"commune « {commune} » hors du territoire",
                    "le code INSEE d'une commune du territoire, vide pour tout le territoire")
        raw = cell("valeur")
        try:
            value = number(raw)
            if value is None:
                raise ValueError
        except ValueError:
            problem(row, "Valeur", f"« {raw} » n'est pas un nombre",
                    "un nombre (ex. 40, 0,3 ou 30 %)")
            value = None
        entries.append({"indicator_id": indicator, "year": year, "quarter": quarter,
                        "commune_code": commune, "value": value,
                        "source": cell("source") or f"import {path.name}",
                        "comment": cell("commentaire")})
    if not entries:
        problem(None, None, "aucune ligne de chiffres", "ajoutez une ligne par chiffre")
    if problems:
        raise SheetImportError(problems)
    for entry in entries:
        store.add_figure(session, territory_slug, entry["indicator_id"], int(entry["year"]),
                         entry["value"], actor=actor,
                         quarter=None if entry["quarter"] is None else int(entry["quarter"]),
                         commune_code=entry["commune_code"], source=entry["source"],
                         comment=entry["comment"], known=set(units))
    return len(entries)


def convention_years(session: Session, territory_slug: str) -> list[int]:
    """Every year a stored or shipped convention of the territory covers, latest first."""
    return covered_years(stored_conventions(session, territory_slug), territory_slug)


def covered_years(stored: list[Convention], territory_slug: str) -> list[int]:
    """Every year the ``stored`` conventions or the territory's shipped ones cover, latest
    first."""
    conventions = stored + [c for c in all_conventions() if c.territory == territory_slug]
    return sorted({y for c in conventions for y in range(c.period[0], c.period[1] + 1)},
                  reverse=True)


def save_report_comments(session: Session, territory_slug: str, year: int,
                         comments: dict[str, str], *, actor: str) -> int | None:
    """Keep the execution report's comment of each action for ``year`` (action number ->
    text) in a new version of the convention; ``None`` when nothing changed."""
    convention = current_convention(session, territory_slug, year)
    unknown = sorted(set(comments) - {a.number for a in convention.actions})
    if unknown:
        raise ObservatoireError(f"Actions inconnues de la convention : {', '.join(unknown)}.")
    return save_convention(session, convention.with_comments(year, comments), actor=actor,
                           note=f"commentaires du rapport d'exécution {year}")
