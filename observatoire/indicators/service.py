"""The indicators' inputs of a territory, read from the database (a service: takes an
`Engine`, opens its own session), for the pages, the publication and the commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from observatoire.indicators import IndicatorInputs
    from observatoire.indicators.dedup import DistinctEstimate


def load_inputs(engine: Engine, territory_slug: str, *, with_feeds: bool = True) -> IndicatorInputs:
    """The indicator inputs of a territory read from the database."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from observatoire.evaluation.convention import ConventionError
    from observatoire.evaluation.stored import convention_targets
    from observatoire.indicators import IndicatorInputs
    from observatoire.store.indicators_repository import load_inputs as load_frames

    with Session(engine) as session:
        frames = load_frames(session, territory_slug, with_feeds=with_feeds)
        try:  # the targets are the convention's (one path: the Convention page)
            frames["targets"] = convention_targets(session, territory_slug)
        except (ConventionError, SQLAlchemyError):  # no readable convention, not migrated
            session.rollback()
        return IndicatorInputs(**frames)


def feed_version(engine: Engine) -> tuple[int, ...]:
    """Changes when partner records or the linkage change: the key of the feed caches."""
    from sqlalchemy.orm import Session

    from observatoire.store.indicators_repository import feed_version as version

    with Session(engine) as session:
        return version(session)


# The feed aggregates below are kept computed in the database
# (`observatoire.store.feed_aggregates`): ``version`` (`feed_version`) says which.


def distinct_estimate(
    engine: Engine, territory_slug: str, version: tuple[int, ...] | None = None
) -> DistinctEstimate | None:
    """The latest linkage run's estimate of distinct people with its 90 % interval, and who
    is known to whom (``None`` before any run); ``by_source`` is left empty."""
    from sqlalchemy.orm import Session

    from observatoire.store.feed_aggregates import distinct_estimate as stored

    with Session(engine) as session:
        return stored(session, territory_slug, version)


def feed_counts(
    engine: Engine, territory_slug: str, codes: Sequence[str] = (),
    version: tuple[int, ...] | None = None,
) -> dict[str, int]:  # fmt: skip
    """``records``, ``linked``, ``people`` and ``duplicates`` among the linked records of
    the territory (stored), or of its communes ``codes`` (counted on the records)."""
    from sqlalchemy.orm import Session

    from observatoire.store import feed_aggregates, indicators_repository

    with Session(engine) as session:
        if not codes:
            return feed_aggregates.feed_counts(session, territory_slug, version)
        return indicators_repository.feed_counts(session, territory_slug, list(codes))


def monthly_flows(
    engine: Engine, territory_slug: str, inactivity_days: int,
    version: tuple[int, ...] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Monthly flows from each person's last contact per month and the moves to housing."""
    from sqlalchemy.orm import Session

    from observatoire.store.feed_aggregates import monthly_flows as stored

    with Session(engine) as session:
        return stored(session, territory_slug, inactivity_days, version)


def plan_values(
    engine: Engine, territory_slug: str, version: tuple[int, ...] | None = None
) -> pd.DataFrame:
    """The *Logement d'abord* yearly figures of the SI-SIAO and 115 feeds."""
    from sqlalchemy.orm import Session

    from observatoire.store.feed_aggregates import plan_values as stored

    with Session(engine) as session:
        return stored(session, territory_slug, version)
