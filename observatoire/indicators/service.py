"""The indicators' inputs of a territory, read from the database (a service: takes an
`Engine`, opens its own session), for the pages, the publication and the commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from observatoire.indicators import IndicatorInputs


def load_inputs(engine: Engine, territory_slug: str, *, with_feeds: bool = True) -> IndicatorInputs:
    """The indicator inputs of a territory read from the database."""
    from sqlalchemy.orm import Session

    from observatoire.indicators import IndicatorInputs
    from observatoire.store.indicators_repository import load_inputs as load_frames

    with Session(engine) as session:
        return IndicatorInputs(**load_frames(session, territory_slug, with_feeds=with_feeds))
