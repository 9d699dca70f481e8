"""The installation's disclosure rules (threshold, rounding) as the admins set them, read
from the database (a service: takes an `Engine`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from observatoire.publish.disclosure import DisclosureRules

if TYPE_CHECKING:
    from sqlalchemy import Engine


def disclosure_rules(engine: Engine, threshold: int | None = None,
                     rounding: int | None = None) -> DisclosureRules:  # fmt: skip
    """The installation's rules (admin settings), overridden by explicit values."""
    from sqlalchemy.orm import Session

    from observatoire.store.access_repository import get_setting

    with Session(engine) as session:
        stored_threshold = int(get_setting(session, "publication.threshold"))
        stored_rounding = int(get_setting(session, "publication.rounding") or 0)
    return DisclosureRules(
        threshold=threshold or stored_threshold,
        rounding=(rounding if rounding is not None else stored_rounding) or None,
    )
