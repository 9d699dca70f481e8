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
    from observatoire.indicators.dedup import estimate_from_summary
    from observatoire.publish.disclosure import DisclosureRules
    from observatoire.store import feed_aggregates
    from observatoire.store.access_repository import get_setting
    from observatoire.store.indicators_repository import load_inputs

    convention = load_convention(territory_slug, year)
    with Session(engine) as session:
        inputs = IndicatorInputs(**load_inputs(session, territory_slug, with_feeds=False))
        feed_values = feed_aggregates.plan_values(session, territory_slug)
        summary = feed_aggregates.cluster_summary(session, territory_slug)
        threshold = int(get_setting(session, "publication.threshold"))
        rounding = int(get_setting(session, "publication.rounding") or 0) or None
    values = plan_indicators(inputs, feed_values)
    distinct = None
    if summary.records:
        estimate = estimate_from_summary(summary)
        distinct = (estimate.estimate, estimate.low, estimate.high)
    return build_annual_report(convention, year, values, campaign_table(inputs), distinct,
                               DisclosureRules(threshold=threshold, rounding=rounding))
