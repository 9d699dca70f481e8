"""Engines and schema upgrades: the one place that opens the application database."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from observatoire.config import LockWait, redact_url
from observatoire.model import ObservatoireError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_SQLITE_PAGE_BYTES = 16384


class DatabaseError(ObservatoireError):
    """The database cannot be reached or is not at the expected schema."""


class DatabaseBusyError(DatabaseError):
    """Another writer kept the (SQLite) database locked for longer than the longest wait."""


_SQLITE_BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
# The transaction read before another writer committed: waiting cannot help, only a new
# transaction (the command run again).
_SQLITE_BUSY_SNAPSHOT = 517


def _say_on_stderr(message: str) -> None:
    print(f"• {message}", file=sys.stderr, flush=True)


def make_engine(
    url: str,
    lock_wait: LockWait | None = None,
    notify: Callable[[str], None] = _say_on_stderr,
) -> Engine:
    """An engine for ``url``; SQLite files get their folder created, WAL journaling and,
    when new, pages of 16 KiB.

    The SQLite file holds personal data: it is created readable by its owner only (0600,
    an older file is tightened; SQLite gives its ``-wal`` and ``-shm`` files the same
    mode), in a folder created 0700.

    WAL lets the dashboards read while volunteers' submissions are written. SQLite lets
    one writer at a time: another waits for it (`LockWait`), saying so through ``notify``
    after each step, and gets a `DatabaseBusyError` after the longest wait. The statements'
    parameters never appear in an error (``hide_parameters``): they may hold pseudonyms
    or, in the quarantine, masked cells.
    """
    lock_wait = lock_wait or LockWait()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = None
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database).expanduser()
            if not path.parent.exists():
                path.parent.mkdir(parents=True, mode=0o700)
            _private_file(path)
        busy_ms = max(1, round(lock_wait.step_seconds * 1000))
        engine = create_engine(url, connect_args={"timeout": busy_ms / 1000},
                               hide_parameters=True)
        _wait_for_other_writers(engine, lock_wait, notify)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001 - DBAPI objects
            cursor = dbapi_connection.cursor()
            # Pages of 16 KiB for a new file (an existing one keeps its own): a partner
            # record takes about 1.1 KB, and a million of them store and commit in half the
            # CPU time that 4 KiB pages take (fewer pages to split, log and copy back).
            cursor.execute(f"PRAGMA page_size = {_SQLITE_PAGE_BYTES}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()
            if path is not None:
                for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                    _private_file(companion, create=False)

        return engine
    # PostgreSQL queues writers on row locks by itself, without a timeout.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _is_busy(error: BaseException) -> bool:
    return (isinstance(error, sqlite3.OperationalError)
            and (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_BUSY_CODES)


def _wait_for_other_writers(
    engine: Engine, lock_wait: LockWait, notify: Callable[[str], None]
) -> None:
    """Run each SQLite statement again while another writer holds the lock.

    SQLite waits ``busy_timeout`` (one step) inside a statement that needs the write lock,
    then fails with "database is locked". The statement that fails so is the first write of
    its transaction (once a transaction writes, it holds the lock), so running it again is
    safe; the wait goes on step by step up to ``max_seconds``.
    """

    def retried(run: Callable[[], object]) -> None:
        started = time.monotonic()
        while True:
            attempt = time.monotonic()
            try:
                run()
                return
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                waited = time.monotonic() - started
                if getattr(error, "sqlite_errorcode", 0) == _SQLITE_BUSY_SNAPSHOT:
                    raise DatabaseBusyError(
                        "Une autre écriture a modifié la base pendant cette opération : elle a "
                        "été abandonnée et n'a rien enregistré. Relancez la commande."
                    ) from None
                if waited >= lock_wait.max_seconds:
                    raise DatabaseBusyError(
                        f"La base est occupée depuis {waited:.0f} s par une autre écriture "
                        "(un import en cours ?) : l'opération a été abandonnée et n'a rien "
                        "enregistré. Relancez la commande une fois l'autre écriture terminée, "
                        "ou attendez plus longtemps en réglant OBSERVATOIRE_LOCK_WAIT_MAX "
                        f"(en secondes, {lock_wait.max_seconds:g} actuellement)."
                    ) from None
                # A lock refused at once (not after a busy wait) is waited for here.
                rest = lock_wait.step_seconds - (time.monotonic() - attempt)
                if rest > 0:
                    time.sleep(rest)
                notify("La base est occupée par une autre écriture (import en cours ?) : "
                       f"attente… {time.monotonic() - started:.0f} s")

    @event.listens_for(engine, "do_execute")
    def _execute(cursor, statement, parameters, _context):  # noqa: ANN001 - DBAPI objects
        retried(lambda: cursor.execute(statement, parameters))
        return True

    @event.listens_for(engine, "do_executemany")
    def _executemany(cursor, statement, parameters, _context):  # noqa: ANN001
        retried(lambda: cursor.executemany(statement, parameters))
        return True

    @event.listens_for(engine, "do_execute_no_params")
    def _execute_no_params(cursor, statement, _context):  # noqa: ANN001
        retried(lambda: cursor.execute(statement))
        return True


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

