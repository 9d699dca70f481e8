"""The synthetic sample database: a reference territory, a count night replayed through the
tablets' path, earlier nights for trends, and partner files imported and linked.

Each step reports progress through a ``progress`` callable (`observatoire.pipeline`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from observatoire.config import Settings
from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.pipeline import import_reference_territory, link_stored_records, open_database
from observatoire.progress import Progress, quiet
from observatoire.store import repository
from observatoire.store.tables import CampaignRow, TerritoryRow

SAMPLE_NIGHT = dt.date(2026, 1, 29)
# Earlier nights of the sample, so that trends and year-on-year changes have data.
SAMPLE_HISTORY = (dt.date(2022, 1, 27), dt.date(2023, 1, 26), dt.date(2024, 1, 25),
                  dt.date(2025, 1, 30))  # fmt: skip
SAMPLE_QUESTIONNAIRE = "ndls-2026"
SAMPLE_SECTOR_SIZE_M = 1000.0


def sample_campaign_name(night: dt.date) -> str:
    return f"Nuit de la Solidarité {night.year} (échantillon synthétique)"


SAMPLE_CAMPAIGN_NAME = sample_campaign_name(SAMPLE_NIGHT)


@dataclass(frozen=True)
class SampleBuild:
    territory_slug: str
    campaign_id: int
    observations: int
    files: dict[str, Path]
    created: bool


def build_sample_database(
    settings: Settings,
    territory_slug: str = "dijon-metropole",
    *,
    seed: int = 2026,
    n_people: int | None = None,
    reset: bool = False,
    history: bool = True,
    partner_feeds: bool = True,
    progress: Progress = quiet,
) -> SampleBuild:
    """Load a reference territory and a synthetic count night into the database.

    The partners' tallies of the places they counted on each night (stations, car parks,
    camps...) are imported through the feed format ``decomptes_lieux``, so that the *a
    minima* count has its partner places. With ``history``, four earlier nights (2022-2025,
    other seeds) are added too, so that trends have data. With ``partner_feeds``, the partner
    files of people of the sample are imported
    (pseudonymised with the sample's own key, `sample_secret_key`) and linked with the count
    night, so that the de-duplicated estimate and the flows have data. Does nothing when
    the sample is already there (unless ``reset``), so that ``observatoire demo`` starts at
    once the second time. Each night is locked as the last step of its replay: an unlocked
    sample night is what an interrupted build leaves behind, and the next build replaces it.
    """
    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.synthetic import generate_sample, write_sample

    engine = open_database(settings, progress)
    with Session(engine) as session, session.begin():
        samples = _sample_campaigns(session, territory_slug)
        main = samples.get(SAMPLE_CAMPAIGN_NAME)
        if main is not None and CampaignStatus(main.status).frozen and not reset:
            progress("Échantillon déjà présent dans la base : rien à refaire")
            return SampleBuild(territory_slug, main.id, 0, {}, created=False)
        for campaign in samples.values():
            if reset or not CampaignStatus(campaign.status).frozen:
                progress(f"Suppression de « {campaign.name} »")
                _delete_campaign(session, campaign)
        if _is_reference(territory_slug):
            progress(f"Chargement du territoire de référence {territory_slug}")
            import_reference_territory(session, territory_slug)
        else:
            progress(f"Territoire {territory_slug} lu dans la base")
        communes = repository.territory_communes(session, territory_slug)
        from observatoire.evaluation.stored import seed_conventions

        if seed_conventions(session, territory_slug):
            progress("Convention Logement d'abord du territoire enregistrée (annexes livrées)")

    progress(f"Découpage en secteurs de {SAMPLE_SECTOR_SIZE_M:.0f} m")
    sectors = generate_grid_sectors(communes, SAMPLE_SECTOR_SIZE_M)
    progress(f"Génération de la population synthétique (graine {seed})")
    sample = generate_sample(
        communes, sectors, seed=seed, n_people=n_people, night_date=SAMPLE_NIGHT,
        campaign_name=SAMPLE_CAMPAIGN_NAME,
    )  # fmt: skip
    output = settings.samples_dir / territory_slug
    progress(f"Écriture des fichiers partenaires dans {output}")
    files = write_sample(sample, output)

    progress("Saisie de la nuit de comptage (comme depuis les tablettes)")
    campaign_id, report = _replay_sample_night(engine, territory_slug, sample, sectors)
    key = sample_secret_key(settings)
    progress(f"Import des décomptes des lieux partenaires {files[TALLY_FEED].name}")
    import_place_tallies(engine, files[TALLY_FEED], key)
    if history:
        progress("Nuits des années précédentes (tendances)")
        add_sample_history(
            engine, territory_slug, seed=seed, n_people=n_people, sectors=sectors,
            settings=settings,
        )  # fmt: skip
    if partner_feeds:
        for name in PARTNER_FEEDS:
            progress(f"Import du fichier partenaire {files[name].name} (pseudonymisé)")
            import_feed(engine, files[name], get_format(name), key, actor="observatoire")
        progress("Rapprochement des enregistrements : qui est la même personne")
        linkage = link_stored_records(engine, key=key)
        from observatoire.indicators.wording import estimate_label, estimate_text

        progress(f"{linkage.records} enregistrements ; {estimate_label()} : "
                 f"{estimate_text(linkage)}")
    progress("Validation et publication des nuits de l'échantillon")
    publish_sample_nights(engine, [campaign_id])
    with Session(engine) as session, session.begin():
        repository.record_audit(
            session,
            "observatoire",
            "sample.build",
            territory=territory_slug,
            seed=seed,
            observations=report.created,
        )
    progress(f"Nuit enregistrée : {report.summary()}")
    for line in report.warning_lines():
        progress(line)
    return SampleBuild(territory_slug, campaign_id, report.created, files, created=True)


PARTNER_FEEDS = ("si_siao", "appels_115", "maraude", "accueil_jour")
TALLY_FEED = "decomptes_lieux"
SAMPLE_KEY_FILE = "cle-echantillon.key"


def import_place_tallies(engine: Engine, path: Path, key: bytes) -> None:
    """Import a sample's tallies of partner places through the feed format (the same file
    twice adds nothing). The generator writes them clean: an error here is a bug."""
    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed

    report = import_feed(engine, path, get_format(TALLY_FEED), key, actor="observatoire")
    if report.errors:
        raise ObservatoireError(
            f"Les décomptes des lieux de l'échantillon ({path}) n'ont pas été importés "
            f"proprement :\n{report.to_text()}"
        )


def sample_secret_key(settings: Settings) -> bytes:
    """The pseudonymisation key of the synthetic sample, in the data directory (created
    once, readable by its owner only). A real territory keeps its own key outside the
    database's reach: see ``observatoire key generate`` and RGPD.md."""
    from observatoire.pseudonymise import generate_key, parse_key

    path = settings.data_dir / SAMPLE_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(generate_key() + "\n", encoding="utf-8")
    return parse_key(path.read_text(encoding="utf-8"))


def _replay_sample_night(
    engine: Engine, territory_slug: str, sample, sectors: gpd.GeoDataFrame
) -> tuple[int, object]:
    """Store a synthetic night through the same code path as the volunteers' tablets
    (validation against the questionnaire, warnings kept, one record per submission UUID),
    then lock it. Returns the campaign id and the entry report."""
    from observatoire.countnight.replay import replay_sample

    return replay_sample(
        engine,
        territory_slug,
        sample,
        sectors,
        via="tablette",
        name=sample_campaign_name(sample.night_date),
        questionnaire_version=SAMPLE_QUESTIONNAIRE,
        lock=True,
    )


def add_sample_history(
    engine: Engine,
    territory_slug: str,
    nights: tuple[dt.date, ...] = SAMPLE_HISTORY,
    *,
    seed: int = 2026,
    n_people: int | None = None,
    sectors: gpd.GeoDataFrame | None = None,
    settings: Settings | None = None,
) -> list[int]:
    """Add synthetic count nights on earlier dates (another seed each), for trends.

    With ``settings``, each night's tallies of partner places are written under the sample
    directory (``<territory>/nuit-YYYY-MM-DD/``) and imported with the sample's key, as for
    the main night. Nights already stored are left alone. Returns the new campaign ids.
    """
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.synthetic import generate_sample, write_sample

    with Session(engine) as session:
        communes = repository.territory_communes(session, territory_slug)
        existing = {c.name for c in repository.list_campaigns(session, territory_slug)}
    if sectors is None:
        sectors = generate_grid_sectors(communes, SAMPLE_SECTOR_SIZE_M)
    created = []
    for night in nights:
        if sample_campaign_name(night) in existing:
            continue
        sample = generate_sample(
            communes,
            sectors,
            seed=seed + night.year - SAMPLE_NIGHT.year,
            n_people=n_people,
            night_date=night,
            campaign_name=sample_campaign_name(night),
        )
        campaign_id, _ = _replay_sample_night(engine, territory_slug, sample, sectors)
        created.append(campaign_id)
        if settings is not None:
            directory = settings.samples_dir / territory_slug / f"nuit-{night.isoformat()}"
            tallies = write_sample(sample, directory, names=[TALLY_FEED])[TALLY_FEED]
            import_place_tallies(engine, tallies, sample_secret_key(settings))
    publish_sample_nights(engine, created)
    with Session(engine) as session, session.begin():
        repository.record_audit(
            session, "observatoire", "sample.history", territory=territory_slug,
            campaigns=created,
        )  # fmt: skip
    return created


def publish_sample_nights(engine: Engine, campaign_ids: list[int]) -> None:
    """Validate and publish the sample's (closed) nights, so that the public pages show
    them: synthetic data, whose quality the generator vouches for."""
    from observatoire.nights import publish_night, validate_night

    for campaign_id in campaign_ids:
        validate_night(engine, campaign_id, "observatoire",
                       sign_off="Échantillon de démonstration (personnes fictives).")
        publish_night(engine, campaign_id, "observatoire",
                      note="Échantillon synthétique publié à sa création.")  # fmt: skip


def _is_reference(slug: str) -> bool:
    from observatoire.geo.territories import list_reference_territories

    return any(ref["slug"] == slug for ref in list_reference_territories())


def _sample_campaigns(session: Session, territory_slug: str) -> dict[str, CampaignRow]:
    """The territory's synthetic nights (main and history), by name."""
    names = [sample_campaign_name(n) for n in (SAMPLE_NIGHT, *SAMPLE_HISTORY)]
    rows = session.scalars(
        select(CampaignRow)
        .join(TerritoryRow, CampaignRow.territory_id == TerritoryRow.id)
        .where(TerritoryRow.slug == territory_slug, CampaignRow.name.in_(names))
    )
    return {row.name: row for row in rows}


def _delete_campaign(session: Session, campaign: CampaignRow) -> None:
    from sqlalchemy import delete

    from observatoire.store.feeds_repository import delete_place_tallies
    from observatoire.store.tables import (
        ObservationRow,
        SectorReportRow,
        SectorRow,
        TeamRow,
    )

    # Rows hanging off observations and the campaign (submissions, revisions, practice
    # entries, options) go with them: their foreign keys cascade.
    for table in (ObservationRow, SectorReportRow, SectorRow, TeamRow):
        session.execute(delete(table).where(table.campaign_id == campaign.id))
    # The night's tallies of partner places come from the sample's file, which names the
    # sample campaign: another seed would otherwise add its tallies to these.
    delete_place_tallies(session, campaign.night_date, campaign.name)
    session.delete(campaign)
    session.flush()
