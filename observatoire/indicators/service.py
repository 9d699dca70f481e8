"""The indicators' inputs of a territory, read from the database (a service: takes an
`Engine`, opens its own session), for the pages, the publication and the commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from observatoire.indicators import IndicatorInputs


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
