"""Settings of an observatory installation, read from the environment.

- ``OBSERVATOIRE_DATA_DIR``: where the embedded database and generated files live
  (default ``~/.local/share/observatoire``).
- ``OBSERVATOIRE_DATABASE_URL``: SQLAlchemy URL, PostgreSQL in production (default: the
  SQLite file ``observatoire.sqlite`` in the data directory).
- ``OBSERVATOIRE_TERRITORY``: territory shown by default in the app (``dijon-metropole``).
- ``OBSERVATOIRE_SESSION_IDLE_MINUTES``: a signed-in account that opens no page for this
  long is signed out (30 by default).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path("~/.local/share/observatoire")
SQLITE_FILENAME = "observatoire.sqlite"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    default_territory: str = "dijon-metropole"
    session_idle_minutes: float = 30.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def samples_dir(self) -> Path:
        """Where generated sample files (partner extracts, ground truth) are written."""
        return self.data_dir / "echantillon"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("OBSERVATOIRE_DATA_DIR") or DEFAULT_DATA_DIR).expanduser()
    url = env.get("OBSERVATOIRE_DATABASE_URL") or sqlite_url(data_dir / SQLITE_FILENAME)
    return Settings(
        data_dir=data_dir,
        database_url=normalise_database_url(url),
        default_territory=env.get("OBSERVATOIRE_TERRITORY") or "dijon-metropole",
        session_idle_minutes=_positive_minutes(env.get("OBSERVATOIRE_SESSION_IDLE_MINUTES")),
    )


def _positive_minutes(text: str | None) -> float:
    from observatoire.model import ObservatoireError

    if not text:
        return 30.0
    try:
        minutes = float(text.replace(",", "."))
    except ValueError:
        minutes = 0.0
    if not minutes > 0:
        raise ObservatoireError(
            f"OBSERVATOIRE_SESSION_IDLE_MINUTES={text!r} : indiquez un nombre de minutes "
            "positif (par exemple 30)."
        )
    return minutes


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs (as libpq users write them)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
