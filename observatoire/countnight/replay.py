"""Records from elsewhere than the tablets: ODK Central and KoboToolbox exports, the replay
of a synthetic night, and the stored records to check them against."""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.countnight.entry import BatchReport, report_sector, submit_many
from observatoire.countnight.lifecycle import lock_campaign
from observatoire.model import CampaignStatus
from observatoire.store import repository, survey_repository
from observatoire.store.survey_repository import COLUMN_FIELDS
from observatoire.survey import Submission, load_questionnaire


def stored_observations(engine: Engine, campaign_id: int) -> pd.DataFrame:
    """The campaign's observations as stored, one row per record, sorted by UUID."""
    with Session(engine) as session:
        rows = survey_repository.campaign_observations(session, campaign_id)
        sectors = survey_repository.sector_codes_by_id(session, campaign_id)
        teams = {
            t.id: t.code for t in survey_repository.campaign_teams(session, campaign_id)
        }
        records = [
            {
                "submission_uuid": r.submission_uuid,
                "sector_code": sectors.get(r.sector_id),
                "team_code": teams.get(r.team_id),
                "commune_code": r.commune_code,
                **{name: getattr(r, name) for name in COLUMN_FIELDS},
                "collected_at": pd.Timestamp(r.collected_at).tz_convert("UTC")
                if pd.Timestamp(r.collected_at).tzinfo
                else pd.Timestamp(r.collected_at).tz_localize("UTC"),
                "latitude": r.latitude,
                "longitude": r.longitude,
                "answers": dict(sorted((r.answers or {}).items())),
            }
            for r in rows
        ]
    return pd.DataFrame(records)


def import_export_file(
    engine: Engine, data: bytes, *, kind: str, questionnaire_version: str, name: str = "export"
) -> BatchReport:
    """Import an ODK Central (CSV or ZIP) or KoboToolbox (JSON) export, record by record.

    Records keep their instance ID as UUID: importing the same export again adds nothing.
    """
    from observatoire.survey.xlsform import ExportFormatError, read_kobo_json, read_odk_central

    questionnaire = load_questionnaire(questionnaire_version)
    if kind == "odk":
        parsed = read_odk_central(data, questionnaire)
    elif kind == "kobo":
        parsed = read_kobo_json(data, questionnaire)
    else:
        raise ExportFormatError(f"Format d'export inconnu : {kind!r} (odk, kobo).")
    return submit_many(engine, parsed.records, source=kind, received_at=parsed.received_at)


def sample_submissions(observations: pd.DataFrame) -> tuple[list[Submission], dict[str, Any]]:
    """The generator's observations as submissions (ground-truth columns dropped)."""
    from observatoire.store.repository import _clean

    envelope = {"submission_uuid", "team_code", "sector_code", "collected_at", "latitude",
                "longitude", "commune_code", "person_id", "second_sighting"}
    submissions = []
    for row in observations.to_dict(orient="records"):
        answers = {
            k: (v.item() if hasattr(v, "item") else v)
            for k, v in row.items()
            if k not in envelope and _clean(v) is not None
        }
        submissions.append(
            Submission(
                submission_uuid=row["submission_uuid"], team_code=row["team_code"],
                sector_code=row["sector_code"],
                collected_at=dt.datetime.fromisoformat(str(row["collected_at"])),
                latitude=_clean(row["latitude"]), longitude=_clean(row["longitude"]),
                answers=answers,
            )
        )
    return submissions, {}


def replay_sample(
    engine: Engine,
    territory_slug: str,
    sample: Any,
    sectors: gpd.GeoDataFrame,
    *,
    via: str = "tablette",
    name: str = "Nuit rejouée (échantillon synthétique)",
    questionnaire_version: str = "ndls-2026",
    lock: bool = True,
) -> tuple[int, BatchReport]:
    """Replay a synthetic count night through the live paths: tablet submissions, an ODK
    Central CSV or a KoboToolbox JSON, then the sector reports. Returns (campaign id, report).
    """
    from observatoire.survey.xlsform import kobo_json, odk_central_csv

    received = dt.datetime.combine(
        sample.night_date + dt.timedelta(days=1), dt.time(2), tzinfo=dt.UTC
    )
    with Session(engine) as session, session.begin():
        campaign = repository.create_campaign(
            session, territory_slug, name, sample.night_date, questionnaire_version,
            CampaignStatus.OPEN,
        )
        team_ids = repository.add_teams(session, campaign, sample.teams)
        walked = sectors[sectors["sector_code"].isin(sample.teams["sector_code"])]
        team_of_sector = {
            s: team_ids[t]
            for s, t in zip(sample.teams["sector_code"], sample.teams["team_code"], strict=True)
        }
        repository.add_sectors(session, campaign, walked, team_of_sector)
        campaign_id = campaign.id
    submissions, _ = sample_submissions(sample.observations)
    times = {str(s.submission_uuid): received for s in submissions}
    questionnaire = load_questionnaire(questionnaire_version)
    if via == "tablette":
        report = submit_many(engine, submissions, source="rejeu", received_at=received)
    elif via == "odk":
        report = import_export_file(
            engine, odk_central_csv(questionnaire, submissions, times), kind="odk",
            questionnaire_version=questionnaire_version,
        )
    elif via == "kobo":
        report = import_export_file(
            engine, kobo_json(questionnaire, submissions, times), kind="kobo",
            questionnaire_version=questionnaire_version,
        )
    else:
        raise ValueError(f"Chemin de rejeu inconnu : {via!r} (tablette, odk, kobo)")
    for r in sample.sector_reports.itertuples(index=False):
        report_sector(engine, r.team_code, r.sector_code,
                      reported_at=dt.datetime.fromisoformat(str(r.reported_at)))
    if lock:
        lock_campaign(engine, campaign_id, "rejeu")
    return campaign_id, report
