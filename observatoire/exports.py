"""Exports out of the observatory (downloads, team sheets, files written by the command
line): each one is written to the audit log with the person who made it.

A page passes `audited` a function that builds the file: the file is built, and the export
audited, only when a signed-in person clicks (Streamlit runs the function on the click, in
that person's session), never when the page is drawn.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.store import repository

T = TypeVar("T", str, bytes)


def record_export(engine: Engine, actor: str, kind: str, **details: Any) -> None:
    """Audit one export (``kind``: ``export.<what>``) made by ``actor``."""
    with Session(engine) as session, session.begin():
        repository.record_audit(session, actor[:64], f"export.{kind}", **details)


def audited(
    engine: Engine, actor: str, kind: str, make: Callable[[], T], **details: Any
) -> Callable[[], T]:
    """``make`` wrapped so that each call (each download) is audited under ``actor``."""

    def build() -> T:
        data = make()
        record_export(engine, actor, kind, **details)
        return data

    return build


def cli_actor(actor: str | None = None) -> str:
    """Who runs a command: ``--actor`` when given, else the operating-system user."""
    if actor:
        return actor[:64]
    try:
        return getpass.getuser()[:64]
    except (KeyError, OSError):  # pragma: no cover - no user name in some containers
        return "observatoire"
