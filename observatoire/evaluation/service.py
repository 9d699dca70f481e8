"""The execution report read from the database: what the command line and the pages call."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.evaluation.report import AnnualReport, build_annual_report


def annual_report(engine: Engine, territory_slug: str, year: int, *,
                  progress: Callable[[float, str], None] | None = None) -> AnnualReport:
    """The report of ``year`` for the territory's convention covering it (its latest stored
    version, else the shipped one), on the stored data: the published count nights (their
    latest version's figures, `observatoire.nights.published_nights`: an unpublished night
    is not in the report), staff entries and targets, the feeds' stored aggregates, the
    latest linkage run's estimate, the disclosure rules of the installation. The estimate
    of everybody is the one a published night holds: the report computes none.
    ``progress(share, step)`` is told each step (`observatoire.evaluation.prepared` shows
    it while the report is built)."""
    from observatoire.evaluation.stored import current_convention, entered_values
    from observatoire.indicators import IndicatorInputs, plan_indicators
    from observatoire.indicators.yearly import night_values
    from observatoire.nights import published_nights
    from observatoire.publish.disclosure import DisclosureRules
    from observatoire.store import feed_aggregates
    from observatoire.store.access_repository import get_setting
    from observatoire.store.indicators_repository import load_inputs

    def step(share: float, text: str) -> None:
        if progress is not None:
            progress(share, text)

    step(0.0, "Lecture des nuits, des chiffres saisis et des flux")
    with Session(engine) as session:
        convention = current_convention(session, territory_slug, year)
        frames = load_inputs(session, territory_slug, with_feeds=False)
        # Figures of the convention's own indicators too, with their units.
        frames["values"] = entered_values(session, territory_slug)
        inputs = IndicatorInputs(**frames)
        step(0.2, "Agrégats des flux partenaires")
        feed_values = feed_aggregates.plan_values(session, territory_slug)
        known = feed_aggregates.distinct_estimate(session, territory_slug)
        step(0.3, "Parcours rapprochés (performance du système)")
        performance = _performance_values(session, territory_slug)
        publics = _publics_values(session, frames["values"])
        threshold = int(get_setting(session, "publication.threshold"))
        rounding = int(get_setting(session, "publication.rounding") or 0) or None
    step(0.45, "Calcul des indicateurs")
    nights = published_nights(engine, territory_slug)
    rules = DisclosureRules(threshold=threshold, rounding=rounding)
    rights = _rights_values(engine, nights, rules)
    computed = [f for f in (night_values(nights), feed_values, performance, publics, rights)
                if not f.empty]
    values = plan_indicators(
        inputs, pd.concat(computed, ignore_index=True) if computed else feed_values,
        with_nights=False,
    )  # fmt: skip
    # "non calculable" where the history is too short, "secret" where a share is withheld.
    notes = [f[["indicator_id", "year", "note"]].dropna() for f in (performance, rights)
             if "note" in f]
    if notes:
        values = values.merge(pd.concat(notes, ignore_index=True),
                              on=["indicator_id", "year"], how="left")
    # The latest linkage run's one figure and its 90 % interval, as every page shows it.
    distinct = None if known is None else (known.estimate, known.low, known.high)
    step(0.9, "Mise en forme du rapport")
    report = build_annual_report(convention, year, values, nights, distinct, rules,
                                 comments=convention.comments.get(str(year), {}))  # fmt: skip
    report.methods.extend(_sharing_lines(engine))
    step(1.0, "Rapport prêt")
    return report


def _performance_values(session: Session, territory_slug: str) -> pd.DataFrame:
    """The system-performance measures of the catalogue (first-time homeless, returns after
    a move to housing) on the linked persons' monthly contacts and the SI-SIAO moves."""
    from observatoire.evaluation.report import NOT_COMPUTABLE
    from observatoire.indicators import IndicatorInputs, load_catalogue
    from observatoire.indicators.performance import first_time_homeless
    from observatoire.indicators.yearly import computed_values
    from observatoire.store.indicators_repository import flow_contacts, plan_inputs

    entries = {k: v for k, v in load_catalogue().items()
               if v.computation.startswith("linked_")}
    inputs = IndicatorInputs(linked_records=flow_contacts(session, territory_slug),
                             orientations=plan_inputs(session, counting=True)["orientations"])
    values = computed_values(inputs, entries)
    # A year whose 24-month look-back starts before the first record would count too many
    # first-timers: no value, "non calculable".
    short = {int(r.year) for r in first_time_homeless(inputs.linked_records)
             .itertuples(index=False) if not r.complete}
    first_time = [k for k, v in entries.items() if v.computation == "linked_first_time"]
    unknowable = values["indicator_id"].isin(first_time) & values["year"].isin(short)
    values = values.assign(note=None)
    values.loc[unknowable, ["value", "note"]] = [float("nan"), NOT_COMPUTABLE]
    return values


def _publics_values(session: Session, entered: pd.DataFrame) -> pd.DataFrame:
    """The groups and stays the annexes name (`observatoire.indicators.publics`) from the
    SI-SIAO and 115 rows, and the shares of the staff figures (eviction prevention)."""
    from observatoire.indicators import IndicatorInputs, load_catalogue
    from observatoire.indicators.yearly import computed_values
    from observatoire.store.indicators_repository import partner_rows

    entries = {k: v for k, v in load_catalogue().items()
               if v.computation.startswith(("publics_", "figures_"))}
    inputs = IndicatorInputs(partner_rows=partner_rows(session), values=entered)
    return computed_values(inputs, entries)


def _rights_values(engine: Engine, nights: pd.DataFrame, rules) -> pd.DataFrame:  # noqa: ANN001
    """The shares of interviewed people without resources / health cover on the published
    nights (`observatoire.indicators.publics.without_rights`), through the disclosure
    control (`protect_share`): a withheld share has no value and the note « secret »."""
    from observatoire.evaluation.report import SECRET
    from observatoire.indicators import IndicatorInputs, load_catalogue
    from observatoire.indicators.publics import RIGHTS_ANSWERS
    from observatoire.indicators.yearly import YEARLY
    from observatoire.publish.disclosure import protect_share
    from observatoire.store.indicators_repository import interviews

    entries = [e for e in load_catalogue().values() if e.computation in RIGHTS_ANSWERS]
    ids = [int(i) for i in nights["campaign_id"]] if not nights.empty else []
    with Session(engine) as session:
        inputs = IndicatorInputs(interviews=interviews(session, ids))
    rows = []
    for entry in entries:
        for r in YEARLY[entry.computation](inputs).itertuples(index=False):
            share = protect_share(r.numerator, r.denominator, rules)
            rows.append((entry.id, int(r.year), float("nan") if share is None else share,
                         SECRET if share is None else None))
    return pd.DataFrame(rows, columns=["indicator_id", "year", "value", "note"])


def _sharing_lines(engine: Engine) -> list[str]:
    """The data-sharing register as the report's methods state it."""
    from sqlalchemy.exc import SQLAlchemyError

    from observatoire.store.evaluation_repository import agreements

    try:
        with Session(engine) as session:
            register = agreements(session)
    except SQLAlchemyError:  # register not migrated on this database
        return []
    return [f"Données transmises par {r.organisation} ({r.partner}) : {r.scope} ; base "
            f"légale : {r.legal_basis} ; conservation {r.retention_months} mois."
            for r in register.itertuples(index=False)]
