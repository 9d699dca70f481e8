"""The stored conventions (versions), the figures that come from no feed (entries) and the
data-sharing register: the only code that speaks SQL to their tables (migration 0017).
Nothing here overwrites: a revision of a convention is a new version, a correction of a
figure a new entry, each with its date and author; the audit log records each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from observatoire.model import ObservatoireError
from observatoire.store import repository
from observatoire.store.evaluation_tables import (
    ConventionVersionRow,
    IndicatorFigureRow,
    SharingAgreementRow,
)


def period_key(period: tuple[int, int]) -> str:
    return f"{period[0]}-{period[1]}"


@dataclass(frozen=True)
class ConventionVersion:
    territory: str
    period: str
    version: int
    document: dict
    saved_at: dt.datetime
    saved_by: str
    note: str | None


def _version(row: ConventionVersionRow, slug: str) -> ConventionVersion:
    return ConventionVersion(slug, row.period, row.version, row.document, row.saved_at,
                             row.saved_by, row.note)


def save_convention_document(session: Session, territory_slug: str, document: dict, *,
                             actor: str, note: str | None = None) -> int | None:
    """Store ``document`` (a validated convention as JSON) as the next version of its
    period; ``None`` when it equals the latest version (nothing to store)."""
    territory = repository.get_territory(session, territory_slug)
    key = period_key(tuple(document["period"]))
    latest = session.scalar(
        select(ConventionVersionRow)
        .where(ConventionVersionRow.territory_id == territory.id,
               ConventionVersionRow.period == key)
        .order_by(ConventionVersionRow.version.desc()).limit(1))
    if latest is not None and latest.document == document:
        return None
    version = 1 if latest is None else latest.version + 1
    session.add(ConventionVersionRow(territory_id=territory.id, period=key, version=version,
                                     document=document, saved_by=actor, note=note,
                                     saved_at=dt.datetime.now(dt.UTC)))
    repository.record_audit(session, actor, "convention.version", territory=territory_slug,
                            period=key, version=version, note=note)
    session.flush()
    return version


def convention_versions(session: Session, territory_slug: str,
                        period: str | None = None) -> list[ConventionVersion]:
    """Every stored version of the territory's conventions (of ``period`` when given),
    oldest first."""
    territory = repository.get_territory(session, territory_slug)
    statement = select(ConventionVersionRow).where(
        ConventionVersionRow.territory_id == territory.id)
    if period:
        statement = statement.where(ConventionVersionRow.period == period)
    rows = session.scalars(statement.order_by(ConventionVersionRow.period,
                                              ConventionVersionRow.version))
    return [_version(r, territory_slug) for r in rows]


def latest_documents(session: Session, territory_slug: str) -> list[ConventionVersion]:
    """The latest version of each stored convention of the territory."""
    latest: dict[str, ConventionVersion] = {}
    for version in convention_versions(session, territory_slug):
        latest[version.period] = version
    return list(latest.values())


# --- figures that come from no feed ----------------------------------------------------------

FIGURE_COLUMNS = ["indicator_id", "year", "quarter", "commune_code", "value", "source",
                  "comment", "entered_at", "entered_by"]


def add_figure(session: Session, territory_slug: str, indicator_id: str, year: int,
               value: float | None, *, actor: str, quarter: int | None = None,
               commune_code: str | None = None, source: str | None = None,
               comment: str | None = None, known: set[str] | None = None) -> None:
    """Enter (or correct: a new entry; ``value=None`` withdraws) a figure of ``year``, of a
    quarter when given, of one commune of the territory when given. ``known``: the ids one
    may enter (the catalogue's and the convention's own); the catalogue's without it."""
    from observatoire.indicators.catalogue import load_catalogue

    if known is None:
        load_catalogue()[indicator_id]  # raises with the list of valid ids
    elif indicator_id not in known:
        raise ObservatoireError(
            f"Indicateur inconnu : {indicator_id!r}. Indicateurs du catalogue et de la "
            f"convention : {', '.join(sorted(known))}.")
    if not 1990 <= int(year) <= 2100:
        raise ObservatoireError(f"Année invalide : {year} (attendue entre 1990 et 2100).")
    if quarter is not None and int(quarter) not in (1, 2, 3, 4):
        raise ObservatoireError(f"Trimestre invalide : {quarter} (1 à 4, ou vide).")
    territory = repository.get_territory(session, territory_slug)
    if commune_code is not None:
        codes = {c.code for c in territory.communes}
        if commune_code not in codes:
            raise ObservatoireError(
                f"La commune {commune_code} n'est pas du territoire {territory_slug} : donnez "
                "le code INSEE d'une de ses communes, ou laissez vide pour tout le territoire.")
    session.add(IndicatorFigureRow(
        territory_id=territory.id, indicator_id=indicator_id, year=int(year),
        quarter=None if quarter is None else int(quarter), commune_code=commune_code,
        value=None if value is None else float(value), source=source, comment=comment,
        entered_by=actor, entered_at=dt.datetime.now(dt.UTC)))
    repository.record_audit(session, actor, "indicator.figure", territory=territory_slug,
                            indicator=indicator_id, year=int(year), quarter=quarter,
                            commune=commune_code, value=value)
    session.flush()


def figure_history(session: Session, territory_slug: str,
                   indicator_id: str | None = None) -> pd.DataFrame:
    """Every entry (oldest first), corrections and withdrawals included."""
    territory = repository.get_territory(session, territory_slug)
    statement = select(*(getattr(IndicatorFigureRow, c) for c in FIGURE_COLUMNS)).where(
        IndicatorFigureRow.territory_id == territory.id)
    if indicator_id:
        statement = statement.where(IndicatorFigureRow.indicator_id == indicator_id)
    rows = session.execute(statement.order_by(IndicatorFigureRow.id)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=FIGURE_COLUMNS)


def current_figures(session: Session, territory_slug: str) -> pd.DataFrame:
    """The latest entry of each (indicator, year, quarter, commune), withdrawn ones left
    out."""
    history = figure_history(session, territory_slug)
    if history.empty:
        return history
    keys = ["indicator_id", "year", "quarter", "commune_code"]
    latest = history.assign(**{k: history[k].astype(object) for k in keys}).fillna(
        {"quarter": 0, "commune_code": ""}).drop_duplicates(keys, keep="last")
    latest = latest.dropna(subset=["value"])
    latest["quarter"] = latest["quarter"].astype(int).replace(0, pd.NA)
    latest["commune_code"] = latest["commune_code"].replace("", None)
    return latest.reset_index(drop=True)


# --- data-sharing register ------------------------------------------------------------------

AGREEMENT_FIELDS = ("partner", "organisation", "legal_basis", "scope", "formats",
                    "retention_months", "signed_on", "ends_on")


def save_agreement(session: Session, *, actor: str, partner: str, organisation: str,
                   legal_basis: str, scope: str, retention_months: int,
                   formats: list[str] | None = None, signed_on: dt.date | None = None,
                   ends_on: dt.date | None = None) -> None:
    """Record (or update) the agreement with ``partner``; the audit log keeps every change."""
    if not partner.strip() or not organisation.strip():
        raise ObservatoireError("Donnez le code du partenaire (celui de feed import "
                                "--partenaire) et le nom de l'organisme.")
    if not legal_basis.strip() or not scope.strip():
        raise ObservatoireError("Donnez la base légale (ex. art. 6.1.e RGPD, mission "
                                "d'intérêt public) et le périmètre des données échangées.")
    if int(retention_months) <= 0:
        raise ObservatoireError("Durée de conservation invalide : un nombre de mois > 0.")
    row = session.scalar(select(SharingAgreementRow).where(
        SharingAgreementRow.partner == partner))
    if row is None:
        row = SharingAgreementRow(partner=partner)
        session.add(row)
    values = {"organisation": organisation, "legal_basis": legal_basis, "scope": scope,
              "formats": list(formats or []), "retention_months": int(retention_months),
              "signed_on": signed_on, "ends_on": ends_on}
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_by, row.updated_at = actor, dt.datetime.now(dt.UTC)
    repository.record_audit(session, actor, "sharing.agreement", partner=partner,
                            **{k: str(v) for k, v in values.items()})
    session.flush()


def agreements(session: Session) -> pd.DataFrame:
    """The register, with each partner's imports (count, latest) from ``feed_import``."""
    from observatoire.store.feeds_tables import FeedImportRow

    imports = {p: (n, last) for p, n, last in session.execute(
        select(FeedImportRow.partner, func.count(), func.max(FeedImportRow.imported_at))
        .group_by(FeedImportRow.partner)).all()}
    rows = []
    for row in session.scalars(select(SharingAgreementRow).order_by(
            SharingAgreementRow.partner)):
        count, last = imports.get(row.partner, (0, None))
        rows.append({**{f: getattr(row, f) for f in AGREEMENT_FIELDS},
                     "imports": int(count), "last_import": last})
    return pd.DataFrame(rows, columns=[*AGREEMENT_FIELDS, "imports", "last_import"])


def partners_without_agreement(session: Session) -> list[str]:
    """Partners that sent files (``feed import --partenaire``) with no agreement recorded."""
    from observatoire.store.feeds_tables import FeedImportRow

    senders = set(session.scalars(select(FeedImportRow.partner).distinct()))
    known = set(session.scalars(select(SharingAgreementRow.partner)))
    return sorted(p for p in senders - known if p)


def agreement_of(session: Session, partner: str) -> dict | None:
    row = session.scalar(select(SharingAgreementRow).where(
        SharingAgreementRow.partner == partner))
    return None if row is None else {f: getattr(row, f) for f in AGREEMENT_FIELDS}
