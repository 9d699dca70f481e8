"""Files the commands write (reports, pseudonymised files, linkage results): checked before
the work starts, and written whole or not at all.

- `check_writable` runs before an import or a linkage, so that a bad path is found before
  anything is stored (an import cannot be redone: the same file again is "déjà importé").
- `replaced_atomically` writes to a temporary file beside the target and renames it at the
  end: an error midway leaves the previous file (or none), never a half-written one.
- Both create the file readable by its owner only (0600), as the database is: reports,
  pseudonymised files, persons and review files describe people (`open_private` for a
  file written as a stream). The owner shares a file on purpose (``chmod``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from observatoire.model import ObservatoireError

PRIVATE_MODE = 0o600
"""Owner read and write only: the mode of every file the commands write."""


class OutputPathError(ObservatoireError):
    """A file to write whose path cannot be written."""


def _protected_files(inputs: Iterable[str | Path | None]) -> list[Path]:
    """Files an output must never replace: the command's ``inputs``, the SQLite database
    (with its journal files) and the secret keys (data directory, OBSERVATOIRE_SECRET_KEY_FILE)."""
    from sqlalchemy.engine import make_url

    from observatoire.config import load_settings

    settings = load_settings()
    files = [Path(p).expanduser() for p in inputs if p]
    if settings.is_sqlite and (database := make_url(settings.database_url).database):
        files += [Path(database + end) for end in ("", "-wal", "-shm", "-journal")]
    if settings.data_dir.is_dir():
        files += settings.data_dir.glob("*.key")
    if key_file := os.environ.get("OBSERVATOIRE_SECRET_KEY_FILE"):
        files.append(Path(key_file).expanduser())
    return files


def check_writable(
    path: str | Path, what: str, *, inputs: Iterable[str | Path | None] = ()
) -> Path:
    """``path`` if a file can be written there, else an `OutputPathError` naming the fix.

    Refuses the files of `_protected_files` (the database, a key, the command's ``inputs``):
    a slip of the shell must not replace them. Writes nothing that stays: an existing file is
    opened for appending (not truncated), a new one is created and removed at once.
    """
    path = Path(path).expanduser()
    parent = path.parent
    for protected in _protected_files(inputs):
        if path.resolve() == protected.resolve() or (
            path.exists() and protected.exists() and os.path.samefile(path, protected)
        ):
            raise OutputPathError(
                f"{what} : {path} est un fichier que la commande lit ou la base de données "
                "ou une clé : il serait écrasé. Choisissez un autre nom de fichier ; rien "
                "n'a été fait."
            )
    if path.is_dir():
        raise OutputPathError(
            f"{what} : {path} est un dossier. Indiquez un nom de fichier, par exemple "
            f"{path / 'rapport.csv'} ; rien n'a été fait."
        )
    if not parent.exists():
        raise OutputPathError(
            f"{what} : le dossier {parent} n'existe pas. Créez-le (mkdir -p {parent}) ou "
            "choisissez un autre chemin ; rien n'a été fait."
        )
    if not parent.is_dir():
        raise OutputPathError(
            f"{what} : {parent} n'est pas un dossier (c'est un fichier). Choisissez un autre "
            "chemin ; rien n'a été fait."
        )
    try:
        if path.exists():
            with path.open("ab"):
                pass
        else:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(descriptor)
            path.unlink()
    except OSError as exc:
        raise OutputPathError(
            f"{what} : impossible d'écrire {path} ({exc.strerror}). Vérifiez les droits du "
            "dossier ou choisissez un autre chemin ; rien n'a été fait."
        ) from None
    return path


@contextlib.contextmanager
def replaced_atomically(path: str | Path) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; renamed to ``path`` (0600) when
    the block ends without error, removed otherwise."""
    path = Path(path).expanduser()
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=path.parent)
    os.close(descriptor)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp creates 0600; a writer that recreated the file (a library) may not have.
        os.chmod(temporary_path, PRIVATE_MODE)
        os.replace(temporary_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary_path.unlink()
        raise


def open_private(path: str | Path, mode: str = "w", **options) -> IO:  # noqa: ANN003
    """``open(path, mode, **options)`` for writing, the file created or truncated with mode
    0600 (an existing file is set to 0600 too)."""
    path = Path(path).expanduser()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_MODE)
        return os.fdopen(descriptor, mode, **options)
    except BaseException:
        os.close(descriptor)
        raise
