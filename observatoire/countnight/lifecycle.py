"""Staff's count nights: creating one (sectors, teams and their codes) and its switches
(open, training, lock, purges)."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.countnight.entry import CampaignLockedError
from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.store import repository, survey_repository
from observatoire.survey import load_questionnaire

TEAM_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at night


def open_campaign(engine: Engine, campaign_id: int, actor: str) -> None:
    with Session(engine) as session, session.begin():
        status = survey_repository.campaign_status(session, campaign_id)
        if CampaignStatus(status).frozen:
            raise CampaignLockedError("Une campagne verrouillée ne peut pas être rouverte.")
        survey_repository.set_campaign_status(session, campaign_id, CampaignStatus.OPEN.value)
        _stamp_codes_opened(session, campaign_id)
        repository.record_audit(session, actor, "campaign.open", campaign_id=campaign_id)


def _stamp_codes_opened(session: Session, campaign_id: int) -> None:
    option = survey_repository.campaign_option(session, campaign_id)
    option.codes_opened_at = option.updated_at = dt.datetime.now(dt.UTC)


def lock_campaign(engine: Engine, campaign_id: int, actor: str) -> None:
    """Freeze a campaign: no submission, correction or report is accepted afterwards."""
    with Session(engine) as session, session.begin():
        survey_repository.lock_campaign(session, campaign_id, actor, dt.datetime.now(dt.UTC))
        repository.record_audit(session, actor, "campaign.lock", campaign_id=campaign_id)


def set_training(engine: Engine, campaign_id: int, training: bool, actor: str) -> None:
    """Training mode on or off: practice entries go to their own table, out of results."""
    with Session(engine) as session, session.begin():
        status = survey_repository.campaign_status(session, campaign_id)
        if CampaignStatus(status).frozen:
            raise CampaignLockedError("Campagne verrouillée : le mode ne peut plus changer.")
        option = survey_repository.campaign_option(session, campaign_id)
        option.training = training
        option.updated_at = dt.datetime.now(dt.UTC)
        # A rehearsal before the night opens the codes for practice; once the night is open
        # its codes keep the closing time of its opening (training turned on afterwards
        # must not give old paper codes another day on the night's real records).
        if training and status == CampaignStatus.PLANNED.value:
            _stamp_codes_opened(session, campaign_id)
        repository.record_audit(session, actor, "campaign.training", campaign_id=campaign_id,
                                training=training)


def purge_practice(engine: Engine, campaign_id: int, actor: str) -> int:
    with Session(engine) as session, session.begin():
        removed = survey_repository.delete_practice(session, campaign_id)
        repository.record_audit(session, actor, "campaign.purge_practice",
                                campaign_id=campaign_id, removed=removed)
        return removed


def purge_expired_nights(
    engine: Engine,
    retention_days: int,
    *,
    actor: str,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The count-night side of ``observatoire purge``: the records of nights older than the
    retention (the partners' retention, counted from the night) keep only what the
    published tables count (`survey_repository.minimise_observations_before`), so the
    published figures of past nights stay as they were. Audited."""
    from observatoire.store.feed_aggregates import refresh_feed_aggregates

    if retention_days < 1:
        raise ObservatoireError("La durée de conservation doit être d'au moins un jour.")
    cutoff = (today or dt.date.today()) - dt.timedelta(days=retention_days)
    with Session(engine) as session, session.begin():
        deleted = survey_repository.minimise_observations_before(session, cutoff)
        repository.record_audit(session, actor, "countnight.purge", cutoff=cutoff.isoformat(),
                                retention_days=retention_days, **deleted)
        if deleted["liens_supprimes"]:
            refresh_feed_aggregates(session)
    return {"date_limite": cutoff, **deleted}


def campaign_options(engine: Engine, campaign_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        option = session.get(survey_repository.CampaignOptionRow, campaign_id)
        return {
            "training": bool(option and option.training),
            "locked_at": option.locked_at if option else None,
            "locked_by": option.locked_by if option else None,
            "practice_entries": survey_repository.practice_count(session, campaign_id),
        }


# --- staff: campaigns, sectors, teams ------------------------------------------------------


def new_team_codes(n: int, taken: Iterable[str] = ()) -> list[str]:
    """``n`` random 6-character team codes, unambiguous when read aloud."""
    seen = set(taken)
    codes: list[str] = []
    while len(codes) < n:
        code = "".join(secrets.choice(TEAM_CODE_ALPHABET) for _ in range(6))
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes


INHABITANTS_PER_TEAM = 2500
"""Teams proposed for a new night: one per this many inhabitants (about 100 teams for
Dijon Métropole's 255,000, the order of a metropole's *Nuit de la Solidarité*)."""


def proposed_team_count(engine: Engine, territory_slug: str) -> int:
    """The number of teams a new night of the territory is proposed with
    (`INHABITANTS_PER_TEAM`)."""
    with Session(engine) as session:
        communes = repository.territory_communes(session, territory_slug)
    population = int(communes["population"].sum())
    return max(1, math.ceil(population / INHABITANTS_PER_TEAM))


def sectors_by_team(sectors: pd.DataFrame, n_teams: int) -> dict[str, int]:
    """Sector code -> team number (0 to ``n_teams`` - 1): the sectors in order of commune
    and code (a grid numbers them north to south, then west to east, within a commune)
    cut into ``n_teams`` runs of nearly equal length, so that a team walks neighbouring
    sectors and every sector has a team."""
    ordered = sectors.sort_values(["commune_code", "sector_code"], kind="stable")
    runs = np.array_split(np.arange(len(ordered)), min(n_teams, len(ordered)))
    return {code: k for k, run in enumerate(runs)
            for code in ordered["sector_code"].iloc[run]}


def create_campaign(
    engine: Engine,
    territory_slug: str,
    name: str,
    night_date: dt.date,
    *,
    questionnaire_version: str,
    sectors: gpd.GeoDataFrame | None = None,
    sector_size_m: float = 500.0,
    n_teams: int | None = None,
    actor: str,
) -> int:
    """Create a campaign with its sectors (given, or a grid clipped to the communes) and
    ``n_teams`` teams (one per sector by default, at most one per sector), recorded in the
    audit log under ``actor`` (the signed-in person, or the CLI's ``--actor``). Every sector
    gets a team: with fewer teams than sectors, each team walks a run of neighbouring
    sectors (`sectors_by_team`). Returns its id."""
    from observatoire.geo.sectors import generate_grid_sectors

    load_questionnaire(questionnaire_version)  # fail early on an unknown version
    with Session(engine) as session, session.begin():
        communes = repository.territory_communes(session, territory_slug)
        if sectors is None:
            sectors = generate_grid_sectors(communes, sector_size_m)
        campaign = repository.create_campaign(
            session, territory_slug, name, night_date, questionnaire_version
        )
        count = len(sectors) if n_teams is None else min(n_teams, len(sectors))
        existing = survey_repository.all_team_codes(session)
        codes = new_team_codes(count, existing)
        teams = pd.DataFrame(
            {"team_code": codes, "team_name": [f"Équipe {n}" for n in range(1, count + 1)],
             "size": 4}
        )
        team_ids = repository.add_teams(session, campaign, teams)
        team_of_sector = {code: team_ids[codes[k]] for code, k in
                          sectors_by_team(sectors, count).items()}
        repository.add_sectors(session, campaign, sectors, team_of_sector)
        repository.record_audit(session, actor, "campaign.create", campaign_id=campaign.id,
                                sectors=len(sectors), teams=count)
        return campaign.id
