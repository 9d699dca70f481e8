"""Settings of an observatory installation, read from the environment.

- ``OBSERVATOIRE_DATA_DIR``: where the embedded database and generated files live
  (default ``~/.local/share/observatoire``).
- ``OBSERVATOIRE_DATABASE_URL``: SQLAlchemy URL, PostgreSQL in production (default: the
  SQLite file ``observatoire.sqlite`` in the data directory).
- ``OBSERVATOIRE_TERRITORY``: territory shown by default in the app (``dijon-metropole``).
- ``OBSERVATOIRE_LOCK_WAIT_STEP`` / ``OBSERVATOIRE_LOCK_WAIT_MAX``: seconds between two
  "la base est occupée" lines, and the longest wait for another writer (SQLite; 10 and 600).
- Limits that keep memory bounded on odd inputs (see `InputLimits`):
  ``OBSERVATOIRE_XLSX_MAX_BYTES``, ``OBSERVATOIRE_XLSX_MAX_RATIO``,
  ``OBSERVATOIRE_FEED_CELL_MAX_CHARS``, ``OBSERVATOIRE_LINK_NAME_MAX_CHARS``,
  ``OBSERVATOIRE_LINK_CELL_MAX_CHARS``.
- ``OBSERVATOIRE_SECRET_KEY_FILE`` / ``OBSERVATOIRE_SECRET_KEY``: the territory's secret key
  of pseudonymisation, a file kept outside the database and its backups, or the key itself
  (`load_secret_key`; read only by the commands that need it, passed down as bytes).
- ``OBSERVATOIRE_SESSION_IDLE_MINUTES``: a signed-in account that opens no page for this
  long is signed out (30 by default).
- ``OBSERVATOIRE_PUBLIC_URL``: the address volunteers' tablets open the app at, for the
  entry links and QR codes of the team sheets (``http://localhost:8501`` by default).
- ``OBSERVATOIRE_TILES_URL``: the street basemap under the sectors of the team sheets, a
  tile address with ``{z}``, ``{x}``, ``{y}`` (Plan IGN by default, Licence Ouverte);
  ``aucun`` for none (a bare outline).
- ``OBSERVATOIRE_TILES_ATTRIBUTION``: the credit printed under that basemap (Plan IGN's by
  default; say the source and licence of another tile server).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from observatoire.model import ObservatoireError

DEFAULT_DATA_DIR = Path("~/.local/share/observatoire")
SQLITE_FILENAME = "observatoire.sqlite"
DEFAULT_PUBLIC_URL = "http://localhost:8501"
# IGN's Plan IGN v2 on the Géoplateforme (WMTS, Web Mercator tiles), Licence Ouverte Etalab 2.0.
PLAN_IGN_TILES = (
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
    "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&FORMAT=image/png"
)
PLAN_IGN_ATTRIBUTION = "Fond de plan : Plan IGN (IGN, Licence Ouverte Etalab 2.0)"
NO_TILES = ("aucun", "none", "non")


@dataclass(frozen=True)
class LockWait:
    """How a writer waits for another one on SQLite (one writer at a time).

    A benchmark import of a large extract holds the write lock for more than 30 s: a second
    writer waits ``step_seconds`` at a time, says so on stderr after each step, and gives up
    with a clear error after ``max_seconds``.
    """

    step_seconds: float = 10.0
    max_seconds: float = 600.0


@dataclass(frozen=True)
class InputLimits:
    """Sizes beyond which an input file is refused before it is read into memory.

    - ``xlsx_max_bytes``: the uncompressed size of a workbook (every part of the zip), and
      ``xlsx_max_ratio``: the largest uncompressed/compressed ratio of one part (a sheet of
      real data compresses 5 to 20 times; a zip bomb thousands of times).
    - ``feed_cell_max_chars``: one cell of a CSV partner file.
    - ``link_name_max_chars``: a name, initials or commune cell of an `observatoire link`
      records file (comparing strings costs their length squared), ``link_cell_max_chars``
      any other cell of it.
    """

    xlsx_max_bytes: int = 200 * 1024 * 1024
    xlsx_max_ratio: float = 100.0
    feed_cell_max_chars: int = 1_000_000
    link_name_max_chars: int = 1000
    link_cell_max_chars: int = 10_000


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    default_territory: str = "dijon-metropole"
    lock_wait: LockWait = field(default_factory=LockWait)
    input_limits: InputLimits = field(default_factory=InputLimits)
    session_idle_minutes: float = 30.0
    public_url: str = DEFAULT_PUBLIC_URL
    tiles_url: str | None = PLAN_IGN_TILES  # None: team sheets without a basemap
    tiles_attribution: str = PLAN_IGN_ATTRIBUTION

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
        lock_wait=LockWait(
            step_seconds=_number(env, "OBSERVATOIRE_LOCK_WAIT_STEP", LockWait.step_seconds),
            max_seconds=_number(env, "OBSERVATOIRE_LOCK_WAIT_MAX", LockWait.max_seconds),
        ),
        input_limits=load_input_limits(env),
        session_idle_minutes=_number(env, "OBSERVATOIRE_SESSION_IDLE_MINUTES", 30.0),
        public_url=_public_url(env.get("OBSERVATOIRE_PUBLIC_URL") or DEFAULT_PUBLIC_URL),
        tiles_url=_tiles_url(env.get("OBSERVATOIRE_TILES_URL")),
        tiles_attribution=(env.get("OBSERVATOIRE_TILES_ATTRIBUTION") or "").strip()
        or PLAN_IGN_ATTRIBUTION,
    )


def _public_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ObservatoireError(
            f"Réglage invalide : OBSERVATOIRE_PUBLIC_URL={text!r}. Indiquez l'adresse à "
            "laquelle les tablettes ouvrent l'application, par exemple "
            "https://observatoire.example.fr."
        )
    return text.rstrip("/")


def _tiles_url(text: str | None) -> str | None:
    if text is None or not text.strip():
        return PLAN_IGN_TILES
    if text.strip().lower() in NO_TILES:
        return None
    if not all(f"{{{part}}}" in text for part in ("z", "x", "y")):
        raise ObservatoireError(
            f"Réglage invalide : OBSERVATOIRE_TILES_URL={text!r}. Une adresse de tuiles "
            "contient {z}, {x} et {y} (ou « aucun » pour des fiches sans fond de plan)."
        )
    return text.strip()


def load_input_limits(environ: dict[str, str] | None = None) -> InputLimits:
    """The `InputLimits` of the environment (the readers call this when given none)."""
    env = os.environ if environ is None else environ
    default = InputLimits()
    return InputLimits(
        xlsx_max_bytes=int(_number(env, "OBSERVATOIRE_XLSX_MAX_BYTES", default.xlsx_max_bytes)),
        xlsx_max_ratio=_number(env, "OBSERVATOIRE_XLSX_MAX_RATIO", default.xlsx_max_ratio),
        feed_cell_max_chars=int(
            _number(env, "OBSERVATOIRE_FEED_CELL_MAX_CHARS", default.feed_cell_max_chars)),
        link_name_max_chars=int(
            _number(env, "OBSERVATOIRE_LINK_NAME_MAX_CHARS", default.link_name_max_chars)),
        link_cell_max_chars=int(
            _number(env, "OBSERVATOIRE_LINK_CELL_MAX_CHARS", default.link_cell_max_chars)),
    )


def _number(env, name: str, default: float) -> float:  # noqa: ANN001 - a mapping
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ObservatoireError(
            f"Réglage invalide : {name}={text!r}. Indiquez un nombre positif (par défaut "
            f"{default:g})."
        )
    return value


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


# --- the secret key of pseudonymisation ----------------------------------------------------

KEY_ENV = "OBSERVATOIRE_SECRET_KEY"
KEY_FILE_ENV = "OBSERVATOIRE_SECRET_KEY_FILE"
_KEY_HELP = (
    "Créez une clé avec : observatoire key generate --output /chemin/hors/de/la/base/cle.txt\n"
    f"puis : export {KEY_FILE_ENV}=/chemin/hors/de/la/base/cle.txt "
    "(gardez-la hors de la base de données et de ses sauvegardes)."
)
_KEY_FILE_MAX_BYTES = 64 * 1024  # a key is 65 characters; a passphrase a line


def load_secret_key(key_file: str | None = None, environ: dict[str, str] | None = None) -> bytes:
    """The territory's key from ``key_file``, ``OBSERVATOIRE_SECRET_KEY_FILE`` or
    ``OBSERVATOIRE_SECRET_KEY``; a clear French error when none is set."""
    from observatoire.messages_fr import FileEncodingError, read_utf8
    from observatoire.pseudonymise import SecretKeyError, parse_key

    env = os.environ if environ is None else environ
    path = key_file or env.get(KEY_FILE_ENV)
    if path:
        file = Path(path).expanduser()
        try:
            if file.is_file() and file.stat().st_size > _KEY_FILE_MAX_BYTES:
                raise SecretKeyError(
                    f"Fichier de clé trop gros : {path} ({file.stat().st_size} octets) : ce "
                    "n'est pas un fichier de clé.\n" + _KEY_HELP
                )
            text = read_utf8(file, "Fichier de clé")
        except OSError as exc:
            raise SecretKeyError(
                f"Fichier de clé illisible : {path} ({exc.strerror}).\n{_KEY_HELP}"
            ) from None
        except FileEncodingError as exc:
            raise SecretKeyError(str(exc)) from None
        return parse_key(text)
    if env.get(KEY_ENV):
        return parse_key(env[KEY_ENV])
    raise SecretKeyError(f"Aucune clé secrète de pseudonymisation.\n{_KEY_HELP}")
