"""The execution report read from the database: what the command line and the pages call."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.evaluation.convention import load_convention
from observatoire.evaluation.report import AnnualReport, build_annual_report


def annual_report(engine: Engine, territory_slug: str, year: int) -> AnnualReport:
    """The report of ``year`` for the territory's convention covering it, on the stored data:
    count nights, staff entries and targets, the feeds' stored aggregates, the disclosure
    rules of the installation."""
    from observatoire.indicators import IndicatorInputs, campaign_table, plan_indicators
    from observatoire.publish.disclosure import DisclosureRules
    from observatoire.store import feed_aggregates
    from observatoire.store.access_repository import get_setting
    from observatoire.store.indicators_repository import load_inputs

    convention = load_convention(territory_slug, year)
    with Session(engine) as session:
        inputs = IndicatorInputs(**load_inputs(session, territory_slug, with_feeds=False))
        feed_values = feed_aggregates.plan_values(session, territory_slug)
        known = feed_aggregates.distinct_estimate(session, territory_slug)
        threshold = int(get_setting(session, "publication.threshold"))
        rounding = int(get_setting(session, "publication.rounding") or 0) or None
    values = plan_indicators(inputs, feed_values)
    # The latest linkage run's one figure and its 90 % interval, as every page shows it.
    distinct = None if known is None else (known.estimate, known.low, known.high)
    return build_annual_report(convention, year, values, campaign_table(inputs), distinct,
                               DisclosureRules(threshold=threshold, rounding=rounding))
