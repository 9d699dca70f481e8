"""Reading a large partner file of people in a second process while the importer stores it.

Reading, checking and pseudonymising a row costs about as much CPU time as storing it, and
both hold Python's global lock: within one process an import keeps a single core busy. For a
large file the importer starts this module as a separate Python interpreter (a fresh one,
as multiprocessing's ``spawn`` would: none of the importer's threads, sessions or database
connections is inherited). It reads the file exactly as the importer would in process
(`chunks.prepare_chunks`, one chunk after the other in the file's order) and sends each
chunk back as plain values; the importer keeps all the database work, so a file is still
stored in ONE transaction.

- The secret key goes to the worker pickled with the rest of the job through a pipe that only
  the two processes hold: never on a command line, in the environment (the variables that may
  hold it are removed from the worker's) or on disk.
- The worker dies with its importer: once the importer is gone (even killed with SIGKILL),
  sending to it fails with a broken pipe and the worker exits; the importer stops and reaps
  the worker when it ends early (an error, an interrupt).
- One chunk is read ahead at most: sending blocks until the importer takes it.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import pickle
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from observatoire.feeds.chunks import PreparedChunk, prepare_chunks
from observatoire.feeds.formats import FeedFormat
from observatoire.feeds.reading import FeedReadError, RawTable, read_table
from observatoire.feeds.records import RecordBuilder
from observatoire.feeds.validate import RowParser
from observatoire.model import DEFAULT_PARTNER
from observatoire.normalise import CommuneReference
from observatoire.pseudonymise import Pseudonymiser

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # so the worker imports this very code
# The pipes are handed to the worker as inherited file descriptors (``pass_fds``): POSIX only;
# elsewhere the importer reads in its own process.
AVAILABLE = os.name == "posix"
_STOP_SECONDS = 10
_SECRET_VARIABLES_PREFIX = "OBSERVATOIRE_SECRET"  # OBSERVATOIRE_SECRET_KEY(_FILE), see cli_feeds
_GC_THRESHOLD = 100_000


@dataclass
class ReadJob:
    """What the worker needs to read a file as the importer's `RowParser` would."""

    path: str
    fingerprint: str
    feed_format: FeedFormat
    file_name: str
    departements: frozenset[str]
    today: dt.date
    key: bytes
    import_id: int
    chunk_rows: int
    partner: str

    def __repr__(self) -> str:  # never show the key
        return f"ReadJob({self.file_name!r}, import {self.import_id})"


@contextmanager
def chunks_read_in_worker(
    table: RawTable, parser: RowParser, key: bytes, import_id: int, chunk_rows: int,
    partner: str = DEFAULT_PARTNER,
) -> Iterator[Iterator[PreparedChunk]]:
    """The prepared chunks of ``table``, read in a worker process (see module doc), with the
    row keys of ``partner`` (`RecordBuilder`)."""
    job = ReadJob(str(table.path), table.fingerprint, parser.format, parser.file_name,
                  parser.departements, parser.today, key, import_id, chunk_rows, partner)
    table.close()  # the worker opens the file itself
    job_read, job_write = os.pipe()
    result_read, result_write = os.pipe()
    # The worker gets its key from the job only: the variables that may hold it (or say where
    # it is) are not handed down.
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(_SECRET_VARIABLES_PREFIX)}
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PACKAGE_ROOT), environment.get("PYTHONPATH")) if p)
    try:
        # -P: the current folder does not go first on the path, so a worker started from a
        # folder that holds another checkout still runs this code (PYTHONPATH above).
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", __name__, str(job_read), str(result_write)],
            pass_fds=(job_read, result_write), env=environment, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
    except BaseException:
        for fd in (job_read, job_write, result_read, result_write):
            os.close(fd)
        raise
    os.close(job_read)
    os.close(result_write)
    results = Connection(result_read, writable=False)
    finished = False
    try:
        with Connection(job_write, readable=False) as jobs:
            jobs.send(job)

        def receive() -> Iterator[PreparedChunk]:
            nonlocal finished
            while True:
                try:
                    kind, payload = results.recv()
                except EOFError:
                    raise FeedReadError(
                        "La lecture du fichier s'est arrêtée (processus de lecture interrompu, "
                        f"code {process.wait()})."
                    ) from None
                if kind == "chunk":
                    yield payload
                elif kind == "error":
                    finished = True
                    raise payload
                else:
                    finished = True
                    return

        yield receive()
    finally:
        results.close()  # a worker still sending gets a broken pipe and exits
        if not finished:
            process.kill()
        try:
            process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:  # pragma: no cover - a worker stuck at exit
            process.kill()
            process.wait()


def _prepared_chunks(job: ReadJob) -> Iterator[PreparedChunk]:
    table = read_table(Path(job.path))
    if table.fingerprint != job.fingerprint:
        raise FeedReadError("Le fichier a changé pendant l'import : relancez l'import.")
    if table.fatal:  # pragma: no cover - the importer checked the same file
        raise FeedReadError(table.issues[0].message)
    parser = RowParser(job.feed_format, table.headers, job.file_name, CommuneReference.load(),
                       job.departements, job.today)
    builder = RecordBuilder(job.feed_format, Pseudonymiser(job.key), job.partner)
    yield from prepare_chunks(table.rows(), parser, builder, job.import_id, job.chunk_rows)


def _sendable(error: Exception) -> Exception:
    """The error as the importer can raise it again: itself when it can be pickled (with the
    worker's traceback as a note), else a plain error that names it."""
    error.add_note("Dans le processus de lecture du fichier :\n" + traceback.format_exc())
    try:
        pickle.dumps(error)
    except Exception:  # noqa: BLE001 - any error of pickling
        return RuntimeError(f"Erreur dans le processus de lecture du fichier : {error!r}")
    return error


def main(job_fd: int, result_fd: int) -> int:
    # An interrupt (Ctrl+C reaches the whole process group) is the importer's to handle: it
    # stops the worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # As in the importer (`importer._no_cycle_collection`): rows hold no reference cycles, and
    # collecting cycles after every 700 allocations would scan the caches of names, dates and
    # communes over and over (a third of the reading time).
    gc.set_threshold(_GC_THRESHOLD, *gc.get_threshold()[1:])
    with Connection(job_fd, writable=False) as jobs, \
            Connection(result_fd, readable=False) as results:
        try:
            job: ReadJob = jobs.recv()
        except EOFError:  # the importer stopped before sending the job
            return 0
        chunks = _prepared_chunks(job)
        while True:
            try:
                message = ("chunk", next(chunks))
            except StopIteration:
                message = ("end", None)
            except Exception as error:  # noqa: BLE001 - every error goes to the importer
                message = ("error", _sendable(error))
            try:
                results.send(message)
            except (BrokenPipeError, ConnectionResetError):  # the importer is gone
                return 0
            if message[0] != "chunk":
                return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
