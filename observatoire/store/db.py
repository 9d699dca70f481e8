"""Engines and schema upgrades: the one place that opens the application database."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from observatoire.config import redact_url
from observatoire.model import ObservatoireError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_SQLITE_PAGE_BYTES = 16384


class DatabaseError(ObservatoireError):
    """The database cannot be reached or is not at the expected schema."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, WAL journaling and,
    when new, pages of 16 KiB.

    The SQLite file holds personal data: it is created readable by its owner only (0600,
    an older file is tightened; SQLite gives its ``-wal`` and ``-shm`` files the same
    mode), in a folder created 0700.

    WAL lets the dashboards read while volunteers' submissions are written, and
    ``busy_timeout`` makes concurrent writers wait instead of failing at once.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = None
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database).expanduser()
            if not path.parent.exists():
                path.parent.mkdir(parents=True, mode=0o700)
            _private_file(path)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001 - DBAPI objects
            cursor = dbapi_connection.cursor()
            # Pages of 16 KiB for a new file (an existing one keeps its own): a partner
            # record takes about 1.1 KB, and a million of them store and commit in half the
            # CPU time that 4 KiB pages take (fewer pages to split, log and copy back).
            cursor.execute(f"PRAGMA page_size = {_SQLITE_PAGE_BYTES}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            if path is not None:
                for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                    _private_file(companion, create=False)

        return engine
    return create_engine(url, pool_pre_ping=True)


def _private_file(path: Path, create: bool = True) -> None:
    """Make ``path`` readable and writable by its owner only (created empty if missing and
    ``create``); a file of another owner is left as it is (chmod would fail)."""
    if create and not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except (FileNotFoundError, PermissionError):
        pass


def _alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade_database(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` (the newest by default), keeping the data.

    Raises `DatabaseError` with the (password-free) URL when the server cannot be reached.
    """
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise DatabaseError(
            f"Base de données injoignable : {redact_url(str(engine.url))} ({exc.orig}). "
            "Vérifiez OBSERVATOIRE_DATABASE_URL et que le serveur est démarré."
        ) from exc


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
