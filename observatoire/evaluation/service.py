"""The execution report read from the database: what the command line and the pages call."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.evaluation.report import AnnualReport, build_annual_report


def annual_report(engine: Engine, territory_slug: str, year: int, *,
                  hidden_draws: int | None = None,
                  hidden_replicates: int | None = None,
                  progress: Callable[[float, str], None] | None = None) -> AnnualReport:
    """The report of ``year`` for the territory's convention covering it (its latest stored
    version, else the shipped one), on the stored data:
    count nights, staff entries and targets, the feeds' stored aggregates, the multiple-
    systems estimate of the linked persons (`hidden_draws` redrawings of the linkage and
    `hidden_replicates` bootstrap replicates; the command line's defaults when ``None``),
    the disclosure rules of the installation. ``progress(share, step)`` is told each step
    (`observatoire.evaluation.prepared` shows it while the report is built)."""
    from observatoire.evaluation.stored import current_convention, entered_values
    from observatoire.indicators import IndicatorInputs, campaign_table, plan_indicators
    from observatoire.indicators.hidden import HiddenPopulationError
    from observatoire.indicators.hidden_service import (
        REPORT_DRAWS,
        REPORT_REPLICATES,
        hidden_estimate,
    )
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
        threshold = int(get_setting(session, "publication.threshold"))
        rounding = int(get_setting(session, "publication.rounding") or 0) or None
    step(0.45, "Calcul des indicateurs")
    values = plan_indicators(inputs, pd.concat([feed_values, performance],
                                               ignore_index=True))
    # The latest linkage run's one figure and its 90 % interval, as every page shows it.
    distinct = None if known is None else (known.estimate, known.low, known.high)
    step(0.6, "Estimation de la population cachée")
    try:
        everybody = hidden_estimate(
            engine, territory_slug,
            draws=REPORT_DRAWS if hidden_draws is None else hidden_draws,
            replicates=REPORT_REPLICATES if hidden_replicates is None else hidden_replicates,
        )  # fmt: skip
    except HiddenPopulationError:
        # Too few overlaps for any model: the report goes out without the row (the command
        # `observatoire estimate hidden` says why).
        everybody = None
    hidden = (None if everybody is None
              else (everybody.estimate, *everybody.interval_95))
    step(0.9, "Mise en forme du rapport")
    report = build_annual_report(convention, year, values, campaign_table(inputs), distinct,
                                 DisclosureRules(threshold=threshold, rounding=rounding),
                                 comments=convention.comments.get(str(year), {}),
                                 hidden=hidden)
    report.methods.extend(_sharing_lines(engine))
    step(1.0, "Rapport prêt")
    return report


def _performance_values(session: Session, territory_slug: str) -> pd.DataFrame:
    """The system-performance measures of the catalogue (first-time homeless, returns after
    a move to housing) on the linked persons' monthly contacts and the SI-SIAO moves."""
    from observatoire.indicators import IndicatorInputs, load_catalogue
    from observatoire.indicators.yearly import computed_values
    from observatoire.store.indicators_repository import flow_contacts, plan_inputs

    entries = {k: v for k, v in load_catalogue().items()
               if v.computation.startswith("linked_")}
    inputs = IndicatorInputs(linked_records=flow_contacts(session, territory_slug),
                             orientations=plan_inputs(session, counting=True)["orientations"])
    return computed_values(inputs, entries)


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
