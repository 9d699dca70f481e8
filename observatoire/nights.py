"""The publication workflow of a count night: open -> closed -> validated -> published.

The coordinator closes the night (no entry accepted afterwards), staff validate its
figures (the data-quality panel clean or signed off), then publish it: the protected
figures are built once, checked against differencing with every earlier published night
(`observatoire.publish.attack`) and stored as a version with its date and author. Every
public surface reads that version (`published_publication`); a correction is a new
version, the older ones stay with their date.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.publish import DisclosureRules, Publication
from observatoire.store import (
    linkage_repository,
    publication_repository,
    repository,
    survey_repository,
)


class PublicationStepError(ObservatoireError):
    """A step of the publication workflow asked out of order (or refused)."""


def _command(step: str, campaign_id: int) -> str:
    return f"`observatoire nuit {step} {campaign_id}`"


def list_nights(engine: Engine, territory_slug: str | None = None) -> pd.DataFrame:
    """Every count night with its status (French label), dates and team counts."""
    with Session(engine) as session:
        nights = publication_repository.list_nights(session, territory_slug)
    nights["statut"] = [CampaignStatus(s).label for s in nights["status"]]
    return nights


def _status(session: Session, campaign_id: int) -> tuple[str, CampaignStatus]:
    campaign = survey_repository.get_campaign(session, campaign_id)
    return campaign.name, CampaignStatus(campaign.status)


def close_night(engine: Engine, campaign_id: int, actor: str) -> None:
    """The coordinator closes the night: no entry, correction or report afterwards."""
    from observatoire.countnight import lifecycle

    with Session(engine) as session:
        name, status = _status(session, campaign_id)
    if status.frozen:
        raise PublicationStepError(f"La nuit « {name} » est déjà close ({status.label}).")
    lifecycle.lock_campaign(engine, campaign_id, actor)


def quality_problems(engine: Engine, campaign_id: int) -> list[str]:
    """The night's data-quality warnings, as the quality page lists them
    (`observatoire.indicators.quality.night_warnings`)."""
    from observatoire.indicators.quality import night_warnings
    from observatoire.indicators.service import load_inputs

    with Session(engine) as session:
        campaign = survey_repository.get_campaign(session, campaign_id)
        slug = session.get(repository.TerritoryRow, campaign.territory_id).slug
    return night_warnings(load_inputs(engine, slug, with_feeds=False), campaign_id)


def validate_night(engine: Engine, campaign_id: int, actor: str, *,
                   sign_off: str | None = None) -> list[str]:  # fmt: skip
    """Staff validate a closed night's figures. The data-quality checks run first
    (`quality_problems`): with any problem, validation is refused unless ``sign_off`` (the
    staff member's comment) signs them off; the audit log keeps the problems, the comment
    and the login. Returns the problems signed off (empty: the panel was clean)."""
    with Session(engine) as session:
        name, status = _status(session, campaign_id)
    if status in (CampaignStatus.VALIDATED, CampaignStatus.PUBLISHED):
        raise PublicationStepError(
            f"La nuit « {name} » est déjà {status.label.lower()} : pour corriger ses "
            f"chiffres publiés, publiez une nouvelle version avec "
            f"{_command('publish', campaign_id)}."
        )
    if status is not CampaignStatus.LOCKED:
        raise PublicationStepError(
            f"La nuit « {name} » est {status.label.lower()} : seule une nuit close peut "
            f"être validée. Fermez-la d'abord avec {_command('close', campaign_id)}."
        )
    problems = quality_problems(engine, campaign_id)
    comment = (sign_off or "").strip()
    if problems and not comment:
        raise PublicationStepError(
            f"Validation de « {name} » refusée : le panneau de qualité des données signale "
            f"{len(problems)} anomalie(s) :\n"
            + "".join(f"  • {p}\n" for p in problems)
            + "Corrigez-les, ou signez-les avec un commentaire qui dit pourquoi les chiffres "
            f"restent publiables ({_command('validate', campaign_id)} --signer-les-anomalies "
            "--commentaire \"…\", ou la case et le commentaire de la page Campagnes)."
        )
    with Session(engine) as session, session.begin():
        survey_repository.set_campaign_status(session, campaign_id,
                                              CampaignStatus.VALIDATED.value)  # fmt: skip
        repository.record_audit(session, actor, "campaign.validate", campaign_id=campaign_id,
                                quality_problems=problems,
                                signed_off=comment if problems else None)  # fmt: skip
    return problems


def publish_night(
    engine: Engine, campaign_id: int, actor: str, rules: DisclosureRules | None = None,
    *, note: str | None = None, perturbation_key: bytes | None = None,
    with_hidden_estimate: bool = False,
) -> Publication:
    """Publish a validated night (or a correction of a published one: a new version).

    Builds the protected figures once, refuses when the differencing check recovers a
    protected cell from them and the earlier published nights, stores the version.
    ``with_hidden_estimate``: the multiple-systems estimate of everybody joins the
    publication as an interval (a choice per publication: a model's estimate, refused when
    the data cannot support it).
    """
    from observatoire.indicators.service import load_inputs
    from observatoire.publish import attack, build_publication
    from observatoire.publish.rules import disclosure_rules

    with Session(engine) as session:
        name, status = _status(session, campaign_id)
        campaign = survey_repository.get_campaign(session, campaign_id)
        territory = session.get(repository.TerritoryRow, campaign.territory_id)
        slug, territory_name = territory.slug, territory.name
        earlier = publication_repository.latest_versions(session, slug)
        own_versions = publication_repository.versions(session, campaign_id)
        summary = repository.campaign_summary(session, campaign_id)
        street = publication_repository.street_records(session, campaign_id)
        run = linkage_repository.latest_run(session)
        estimate = None if run is None else (run.people_estimate, run.people_low,
                                             run.people_high)  # fmt: skip
    if status not in (CampaignStatus.VALIDATED, CampaignStatus.PUBLISHED):
        raise PublicationStepError(
            f"La nuit « {name} » est {status.label.lower()} : seule une nuit validée peut être "
            f"publiée. Étapes : {_command('close', campaign_id)}, puis "
            f"{_command('validate', campaign_id)}, puis {_command('publish', campaign_id)}."
        )
    rules = rules or disclosure_rules(engine)
    hidden = _hidden_interval(engine, slug, name, rules) if with_hidden_estimate else None
    inputs = load_inputs(engine, slug, with_feeds=False)
    synthetic = bool(inputs.campaigns["name"].astype(str).str.contains("synthétique").any())
    others = [Publication.from_figures(v.figures) for v in earlier if v.campaign_id != campaign_id]
    # Every earlier version stays public: what one kept secret, a correction keeps secret.
    kept_secret = set().union(*(Publication.from_figures(v.figures).secret_codes()
                                for v in own_versions))  # fmt: skip
    publication = build_publication(
        inputs, campaign_id, rules, territory_name=territory_name, synthetic=synthetic,
        published_totals={v.campaign_id: Publication.from_figures(v.figures).total
                          for v in earlier if v.campaign_id != campaign_id},
        keep_secret=kept_secret,
        summary={k: summary[k] for k in ("secteurs", "equipes")}, estimate=estimate,
        street_records=street, perturbation_key=perturbation_key, hidden=hidden,
    )  # fmt: skip
    found = attack.check_publications([publication, *others], rules.threshold)
    if found:
        raise PublicationStepError(
            f"Publication de « {name} » refusée : {len(found)} case(s) protégée(s) "
            "retrouvable(s) par différence entre les tableaux publics ("
            + "; ".join(d.describe() for d in found[:3])
            + "). Relevez le seuil ou regroupez davantage, puis recommencez."
        )
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        row = publication_repository.add_version(session, campaign_id, actor,
                                                 publication.to_figures(), note, now)  # fmt: skip
        survey_repository.set_campaign_status(session, campaign_id,
                                              CampaignStatus.PUBLISHED.value)  # fmt: skip
        repository.record_audit(session, actor, "campaign.publish", campaign_id=campaign_id,
                                version=row.version, threshold=rules.threshold)  # fmt: skip
        version = row.version
    return Publication.from_figures(publication.to_figures(), version=version, published_at=now,
                                    author=actor)  # fmt: skip


def _hidden_interval(engine: Engine, slug: str, name: str,
                     rules: DisclosureRules) -> tuple[int, int]:  # fmt: skip
    """The 95 % interval of the estimate of everybody, fit to publish, or a refusal that
    says why (no linked person, too few overlaps, the estimate's own warnings)."""
    from observatoire.indicators.hidden import HiddenPopulationError
    from observatoire.indicators.hidden_service import hidden_estimate
    from observatoire.publish.disclosure import protect_interval

    refused = (f"Publication de « {name} » avec l'estimation de la population totale "
               "refusée : ")
    try:
        estimate = hidden_estimate(engine, slug)
    except HiddenPopulationError as exc:
        raise PublicationStepError(refused + str(exc)) from None
    if estimate is None:
        raise PublicationStepError(refused + "aucune personne rapprochée dans la base "
                                   "(importez les fichiers partenaires, lancez "
                                   "`observatoire link --stored`).")  # fmt: skip
    if estimate.warnings:
        raise PublicationStepError(
            refused + "les données ne la soutiennent pas (" + " ; ".join(estimate.warnings)
            + "). Publiez sans elle, ou complétez les sources."
        )
    interval = protect_interval(*estimate.interval_95, rules)
    if interval is None:
        raise PublicationStepError(refused + f"sa borne basse est sous le seuil de "
                                   f"{rules.threshold} personnes.")  # fmt: skip
    return interval


def published_publication(
    engine: Engine, territory_slug: str, campaign_id: int | None = None
) -> tuple[Publication, gpd.GeoDataFrame]:
    """The latest version of a published night (the latest published night by default) and
    the commune shapes: what every public surface reads.

    Raises `PublicationStepError` naming the command that publishes the night when it is not.
    """
    with Session(engine) as session:
        geometries = repository.territory_communes(session, territory_slug)
        if campaign_id is None:
            latest = publication_repository.latest_versions(session, territory_slug)
            if not latest:
                raise PublicationStepError(
                    "Aucune nuit de comptage publiée pour ce territoire. Listez les nuits avec "
                    "`observatoire nuit list`, puis publiez-en une avec "
                    "`observatoire nuit publish ID`."
                )
            row = latest[0]
        else:
            name, status = _status(session, campaign_id)
            stored = publication_repository.versions(session, campaign_id)
            if status is not CampaignStatus.PUBLISHED or not stored:
                raise PublicationStepError(
                    f"La nuit « {name} » (n°{campaign_id}) n'est pas publiée "
                    f"({status.label.lower()}). Publiez-la d'abord avec "
                    f"{_command('publish', campaign_id)} (après close et validate)."
                )
            row = stored[0]
        publication = Publication.from_figures(row.figures, version=row.version,
                                               published_at=row.published_at,
                                               author=row.author)  # fmt: skip
    return publication, geometries


def unpublished_nights(engine: Engine, territory_slug: str) -> pd.DataFrame:
    """The territory's nights not published yet (`list_nights`' columns), oldest first:
    the report and `observatoire publish` leave them out until staff publish them."""
    nights = list_nights(engine, territory_slug)
    return (nights[nights["status"] != CampaignStatus.PUBLISHED.value]
            .sort_values(["night_date", "campaign_id"]).reset_index(drop=True))


def newer_unpublished_notice(engine: Engine, territory_slug: str,
                             published: Publication) -> str | None:  # fmt: skip
    """What to say when nights newer than ``published`` (the latest published night) are
    not published yet, naming each with its status and its next step; ``None`` otherwise.
    `observatoire publish` without ``--campaign`` writes the latest published night only:
    never an older one silently, never an unfinished one."""
    nights = unpublished_nights(engine, territory_slug)
    newer = nights[pd.to_datetime(nights["night_date"]).dt.date > published.night_date]
    if newer.empty:
        return None
    lines = [f"  • « {n.name} » du {pd.Timestamp(n.night_date):%d/%m/%Y} (n°{n.campaign_id}, "
             f"{n.statut.lower()}) : {_next_step(CampaignStatus(n.status), n.campaign_id)}"
             for n in newer.itertuples(index=False)]  # fmt: skip
    return (f"Attention : la publication écrite est celle de « {published.campaign} » du "
            f"{published.night_date:%d/%m/%Y}, la dernière nuit publiée. "
            f"{len(newer)} nuit(s) plus récente(s) ne sont pas publiées et n'y figurent pas :\n"
            + "\n".join(lines))


def _next_step(status: CampaignStatus, campaign_id: int) -> str:
    if status is CampaignStatus.VALIDATED:
        return f"publiez-la avec {_command('publish', campaign_id)}"
    if status.frozen:
        return (f"validez-la avec {_command('validate', campaign_id)}, puis "
                f"{_command('publish', campaign_id)}")
    return (f"comptage pas terminé : fermez-la avec {_command('close', campaign_id)} une "
            "fois la saisie finie, puis validate et publish")


PUBLISHED_NIGHT_COLUMNS = ["campaign_id", "name", "night_date", "rue", "lieux", "total",
                           "distinct", "hidden", "version", "published_at"]  # fmt: skip


def published_nights(engine: Engine, territory_slug: str) -> pd.DataFrame:
    """Every published night of a territory with the figures of its latest version
    (`Publication.night_figures`), oldest night first: the nights, and the only figures of
    them, that the yearly report reads. An open, closed or validated night is not there;
    data changed after publication does not change them (a new version does)."""
    with Session(engine) as session:
        rows = [{"campaign_id": v.campaign_id,
                 **Publication.from_figures(v.figures).night_figures(),
                 "version": v.version, "published_at": v.published_at}
                for v in publication_repository.latest_versions(session, territory_slug)]
    frame = pd.DataFrame(rows, columns=PUBLISHED_NIGHT_COLUMNS)
    return frame.sort_values(["night_date", "campaign_id"]).reset_index(drop=True)


def version_history(engine: Engine, campaign_id: int) -> pd.DataFrame:
    """The published versions of a night: ``version``, ``publiee_le``, ``auteur``, ``note``."""
    with Session(engine) as session:
        rows = publication_repository.versions(session, campaign_id)
        return pd.DataFrame([(r.version, r.published_at, r.author, r.note) for r in rows],
                            columns=["version", "publiee_le", "auteur", "note"])  # fmt: skip
