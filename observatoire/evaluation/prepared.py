"""The execution report prepared once per version of its inputs, in the background.

Building the report reads every published night, entered figure and feed aggregate, and
computes the system-performance measures on the linked persons: seconds to tens of seconds
at a territory's size. The page
must not wait for it on every opening, so the report is built once per version of what it
reads (`observatoire.store.report_inputs.report_inputs_version`), in a thread of the
server, and kept on disk under ``<data_dir>/rapports/`` (files 0600, `output_files`): a
restart of the server reads it back instead of building it again.

    version = inputs_version(engine, "dijon-metropole")
    state = prepared_report(engine, data_dir, "dijon-metropole", 2025, version)
    if state.report is None:
        print(f"en préparation : {state.step} ({state.progress:.0%})")

The file's name holds `REPORT_FORMAT`: a change of what the report holds (or of how it is
stored here) raises it, and files of the old format are never read again.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.evaluation.convention import Convention
from observatoire.evaluation.report import AnnualReport
from observatoire.model import ObservatoireError
from observatoire.output_files import replaced_atomically

REPORT_FORMAT = 3  # 2: published nights only, publics rows, targets in the convention; 3: exits
# from the street / from shelter, time homeless, rights shares ("secret" notes)
"""Raised whenever `AnnualReport` or its file below changes: older files are ignored."""
FOLDER = "rapports"
_FRAMES = ("actions", "indicators", "overview", "budget")

log = logging.getLogger(__name__)

Builder = Callable[..., AnnualReport]


@dataclass(frozen=True)
class Preparation:
    """Where the report of a (territory, year, version) stands."""

    report: AnnualReport | None = None
    progress: float = 0.0
    step: str = "En attente"
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.report is not None


class _Job:
    def __init__(self) -> None:
        self.progress, self.step = 0.0, "En attente"
        self.report: AnnualReport | None = None
        self.error: str | None = None
        self.done = threading.Event()

    def update(self, progress: float, step: str) -> None:
        self.progress, self.step = progress, step

    def state(self) -> Preparation:
        return Preparation(self.report, self.progress, self.step, self.error)


_JOBS: dict[str, _Job] = {}
_LOCK = threading.Lock()


def inputs_version(engine: Engine, territory_slug: str) -> tuple[str, ...]:
    """The version of what the territory's report reads (see `report_inputs`)."""
    from observatoire.store.report_inputs import report_inputs_version

    with Session(engine) as session:
        return report_inputs_version(session, territory_slug)


def report_path(data_dir: Path, territory_slug: str, year: int,
                version: tuple[str, ...]) -> Path:  # fmt: skip
    """The file of the report of ``year`` on inputs ``version``."""
    key = hashlib.sha256(json.dumps([REPORT_FORMAT, territory_slug, int(year), list(version)]
                                    ).encode()).hexdigest()[:20]  # fmt: skip
    return (Path(data_dir).expanduser() / FOLDER
            / f"rapport-{territory_slug}-{int(year)}-v{REPORT_FORMAT}-{key}.json")


def prepared_report(engine: Engine, data_dir: Path, territory_slug: str, year: int,
                    version: tuple[str, ...], *, retry: bool = False,
                    build: Builder | None = None) -> Preparation:  # fmt: skip
    """The report when it is ready (from memory or its file), else its progress; the first
    call for a version starts building it in a background thread (one per version, however
    many pages ask). A build that failed says why in `Preparation.error` until asked again
    with ``retry=True``. ``build`` defaults to `service.annual_report` (tests pass another)."""
    path = report_path(data_dir, territory_slug, year, version)
    with _LOCK:
        job = _JOBS.get(str(path))
        if job is not None and job.error is not None and retry:
            job = None
        if job is None:
            report = _read(path)
            job = _Job()
            _JOBS[str(path)] = job
            if report is not None:
                job.report, job.progress, job.step = report, 1.0, "Rapport prêt"
                job.done.set()
            else:
                threading.Thread(
                    target=_build, name=f"rapport-{territory_slug}-{year}", daemon=True,
                    args=(job, engine, path, territory_slug, int(year), build),
                ).start()
        # Reports of older versions are no longer asked for: keep memory for the newest.
        for other in [k for k, j in _JOBS.items() if k != str(path) and j.done.is_set()
                      and Path(k).name.startswith(f"rapport-{territory_slug}-{int(year)}-")]:
            del _JOBS[other]
    return job.state()


def wait(engine: Engine, data_dir: Path, territory_slug: str, year: int,
         version: tuple[str, ...], timeout: float | None = None) -> Preparation:  # fmt: skip
    """`prepared_report`, waiting up to ``timeout`` seconds for the build to end."""
    prepared_report(engine, data_dir, territory_slug, year, version)
    with _LOCK:
        job = _JOBS[str(report_path(data_dir, territory_slug, year, version))]
    job.done.wait(timeout)
    return job.state()


def _build(job: _Job, engine: Engine, path: Path, territory_slug: str, year: int,
           build: Builder | None) -> None:  # fmt: skip
    if build is None:
        from observatoire.evaluation.service import annual_report as build
    try:
        report = build(engine, territory_slug, year, progress=job.update)
        try:
            _write(report, path)
        except OSError as exc:  # the page still shows it; the next server builds it again
            log.warning("Rapport non conservé sur disque (%s) : %s", path, exc)
        _remove_older(path, territory_slug, year)
        job.report, job.progress, job.step = report, 1.0, "Rapport prêt"
    except ObservatoireError as exc:
        job.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a thread's failure must reach the page
        log.exception("Échec de la préparation du rapport %s %s", territory_slug, year)
        job.error = (f"La préparation du rapport a échoué ({type(exc).__name__} : {exc}). "
                     "Le journal du serveur en donne le détail ; relancez la préparation.")
    finally:
        job.done.set()


def _write(report: AnnualReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "format": REPORT_FORMAT,
        "convention": report.convention.model_dump(mode="json"),
        "year": report.year,
        "methods": list(report.methods),
        "missing": list(report.missing),
        **{name: json.loads(getattr(report, name).to_json(orient="split", index=False))
           for name in _FRAMES},
    }
    with replaced_atomically(path) as temporary:
        temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def _read(path: Path) -> AnnualReport | None:
    """The report kept at ``path``; ``None`` when there is none or it cannot be read (it is
    built again)."""
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != REPORT_FORMAT:
            return None
        frames = {name: pd.read_json(io.StringIO(json.dumps(document[name])), orient="split",
                                     dtype=False, convert_dates=False)
                  for name in _FRAMES}  # fmt: skip
        values = {"convention": Convention.model_validate(document["convention"]),
                  "year": int(document["year"]), "methods": document["methods"],
                  "missing": document["missing"], **frames}
        return AnnualReport(**{f.name: values[f.name] for f in fields(AnnualReport)})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("Rapport conservé illisible (%s), reconstruit : %s", path, exc)
        return None


def _remove_older(path: Path, territory_slug: str, year: int) -> None:
    for other in path.parent.glob(f"rapport-{territory_slug}-{year}-*.json"):
        if other != path:
            other.unlink(missing_ok=True)
