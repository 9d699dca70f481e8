"""Orchestration: the only module (with `cli`) that wires storage, geography and linkage
(the synthetic sample is built by `observatoire.sample_database`).

Each step reports progress through a ``progress`` callable so that the command line can
show what it is doing on a long first run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.config import Settings
from observatoire.model import ObservatoireError, TerritoryKind
from observatoire.progress import Progress, quiet
from observatoire.store import repository
from observatoire.store.db import make_engine, upgrade_database
from observatoire.store.tables import TerritoryRow


def open_database(settings: Settings, progress: Progress = quiet) -> Engine:
    """An engine on the configured database, its schema brought up to date."""
    engine = make_engine(settings.database_url, settings.lock_wait)
    progress("Mise à jour du schéma de la base de données")
    upgrade_database(engine)
    return engine


def import_reference_territory(session: Session, slug: str) -> TerritoryRow:
    """Store one of the territories shipped under ``data_samples/territoires``."""
    from observatoire.geo.territories import load_reference_territory, territory_model

    communes = load_reference_territory(slug)
    meta = communes.attrs["territory"]
    return import_territory(
        session,
        communes,
        slug=slug,
        name=meta["nom"],
        kind=TerritoryKind(meta["kind"]),
        epci_code=meta.get("epci_code"),
        cog_year=int(meta["cog_year"]),
        model_builder=territory_model,
    )


def import_territory(
    session: Session,
    communes: gpd.GeoDataFrame,
    *,
    slug: str,
    name: str,
    kind: TerritoryKind,
    epci_code: str | None,
    cog_year: int,
    model_builder: Callable[..., object] | None = None,
) -> TerritoryRow:
    """Store a territory read from a GeoDataFrame of communes (code, nom, population)."""
    if model_builder is None:
        from observatoire.geo.territories import territory_model as model_builder
    territory = model_builder(
        communes, slug=slug, name=name, kind=kind, epci_code=epci_code, cog_year=cog_year
    )
    parents = {}
    if "commune_parent" in communes:
        parents = {
            code: parent
            for code, parent in zip(communes["code"], communes["commune_parent"], strict=True)
            if isinstance(parent, str) and parent
        }
    row = repository.save_territory(session, territory, parents)
    # Its communes decide which partner records its dashboard figures count.
    from observatoire.store.feed_aggregates import refresh_feed_aggregates

    refresh_feed_aggregates(session)
    return row


@dataclass(frozen=True)
class StoredLinkage:
    run_id: int
    records: int
    persons: int
    people: int
    low: int
    high: int
    review_pairs: int
    decisions_used: int
    after_review: tuple[int, int] | None = None  # the 90 % interval once the queue is answered


def link_stored_records(
    engine: Engine,
    *,
    key: bytes | None = None,
    settings: object | None = None,
    actor: str = "observatoire",
    progress: Progress = quiet,
    score_with: Callable | None = None,
) -> StoredLinkage:
    """Link the stored (pseudonymised) partner rows and count-night observations with the
    engine of `observatoire link` and its settings, applying every stored review decision;
    writes the persons, each record's person and the review queue, in one transaction.

    ``key`` (the territory's secret key) turns count-night initials into the partners'
    ``cle_ndls`` token; without it sightings only meet each other. ``score_with``: the
    engine's scorer (`engine.score_candidates` by default, `spark.SparkScorer` on Spark).
    """
    from dataclasses import asdict

    from observatoire.linkage.engine import LinkageSettings, link_features, score_candidates
    from observatoire.linkage.estimate import CALIBRATION
    from observatoire.linkage.stored import stored_features
    from observatoire.store import linkage_repository as linkage_repo
    from observatoire.store.feed_aggregates import refresh_feed_aggregates

    settings = settings or LinkageSettings()
    with Session(engine) as session, session.begin():
        progress("Lecture des enregistrements pseudonymisés et des décisions de revue")
        partners = linkage_repo.partner_records(session)
        observations = linkage_repo.night_observations(session)
        decisions = linkage_repo.latest_decisions(session)
        if len(partners) + len(observations) == 0:
            raise ObservatoireError(
                "Aucun enregistrement à rapprocher : importez d'abord des fichiers partenaires "
                "(`observatoire feed import`) ou une nuit de comptage."
            )
        progress(f"Rapprochement de {len(partners) + len(observations)} enregistrements")
        features = stored_features(partners, observations, key)
        result = link_features(features, settings, decisions,
                               score_with or score_candidates)
        queue = result.review_queue(settings.review_band, settings.review_share)
        e = result.estimate
        after = result.interval_after_review(queue)
        run = linkage_repo.save_run(
            session, result.clusters, queue, actor=actor,
            estimate={"people": e.people, "low": e.low, "high": e.high},
            settings={k: v for k, v in asdict(settings).items()
                      if k not in ("extras", "comparisons")},
            seconds=result.seconds, decisions_used=len(decisions), retrained=result.retrained,
            estimate_detail={"after_review": list(after), "draws": len(e.draws),
                             "calibration": asdict(CALIBRATION)},
        )  # fmt: skip
        # The dashboards' aggregates read the persons just stored (`save_run` leaves them to
        # its caller, the store never computing indicators itself).
        refresh_feed_aggregates(session)
        progress(f"{e.clusters} personnes enregistrées ; {len(queue)} paires à revoir")
        return StoredLinkage(run.id, e.records, e.clusters, e.people, e.low, e.high,
                             len(queue), len(decisions), after)  # fmt: skip
