"""Team leaders' corrections: the list of the team's records and the corrected record, kept
with its revisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.countnight.entry import (
    CampaignLockedError,
    Receipt,
    SubmissionRejected,
    check_team_code,
    join_for_leader,
    normalise_team_code,
)
from observatoire.masking import mask_contacts
from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.store import survey_repository
from observatoire.survey import load_questionnaire, validate_response

LEADER_COLUMNS = ("situation", "sex", "age_band", "sleeping_place")
"""What the team leader's list shows of each record: enough to find the one to correct
(the other answers are shown for the chosen record only, never in a table)."""


def team_entries(
    engine: Engine, team_code: str, *, now: dt.datetime | None = None
) -> pd.DataFrame:
    """The records of the team's open night, latest first, with their warnings and
    revision: `LEADER_COLUMNS` only. Refuses (`join_for_leader`) the code of a night that
    is over, locked or not open."""
    context = join_for_leader(engine, team_code, now=now)
    with Session(engine) as session:
        rows = survey_repository.team_observations(session, context.team_id)
        records = [
            {
                "id": obs.id,
                "heure": obs.collected_at,
                "secteur": sector,
                **{name: getattr(obs, name) for name in LEADER_COLUMNS},
                "avertissements": " ; ".join(w["message"] for w in (meta.warnings or []))
                if meta
                else "",
                "révision": meta.revision if meta else 0,
            }
            for obs, meta, sector in rows
            if obs.campaign_id == context.campaign_id
        ]
    return pd.DataFrame(
        records,
        columns=["id", "heure", "secteur", *LEADER_COLUMNS, "avertissements", "révision"],
    )


def team_record(
    engine: Engine, team_code: str, observation_id: int, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Every answer of one record of the team's open night, for its correction form."""
    context = join_for_leader(engine, team_code, now=now)
    with Session(engine) as session:
        found = survey_repository.observation_with_meta(session, observation_id)
        if found is None or found[0].team_id != context.team_id:
            raise ObservatoireError(
                f"Fiche n°{observation_id} introuvable parmi les fiches de votre équipe."
            )
        return survey_repository.observation_fields(found[0])


def correct_observation(
    engine: Engine,
    observation_id: int,
    changes: Mapping[str, Any],
    *,
    actor: str,
    reason: str,
    team_code: str | None = None,
) -> Receipt:
    """Apply ``changes`` (question -> new value, ``None`` to clear) to a stored record.

    The corrected record is validated like a new one; the values before and after are kept
    in ``observation_revision``. With ``team_code``, only that team's records can be changed.
    """
    if not reason or not reason.strip():
        raise ObservatoireError("Indiquez la raison de la correction (elle est conservée).")
    with Session(engine) as session, session.begin():
        found = survey_repository.observation_with_meta(session, observation_id)
        if found is None:
            raise ObservatoireError(f"Fiche introuvable : n°{observation_id}.")
        row, meta = found
        campaign = survey_repository.get_campaign(session, row.campaign_id)
        if CampaignStatus(campaign.status).frozen:
            raise CampaignLockedError(
                f"La campagne « {campaign.name} » est verrouillée : aucune correction possible."
            )
        if team_code is not None:
            context = survey_repository.team_context(session, normalise_team_code(team_code))
            if context is None or context.team_id != row.team_id:
                raise ObservatoireError(
                    "Cette fiche n'appartient pas à votre équipe : seul son chef d'équipe ou "
                    "le coordinateur peut la corriger."
                )
            check_team_code(context)
        questionnaire = load_questionnaire(campaign.questionnaire_version)
        merged = survey_repository.observation_fields(row) | dict(changes)
        check = validate_response(questionnaire, merged, reference_year=campaign.night_date.year)
        if check.errors:
            raise SubmissionRejected(check.errors)
        survey_repository.apply_correction(
            session, row, meta, check.values, [w.as_dict() for w in check.warnings],
            actor=actor, reason=mask_contacts(reason.strip()),
            questionnaire_version=questionnaire.version,
        )
        return Receipt(row.submission_uuid, False, row.id, check.warnings, None)


def observation_history(engine: Engine, observation_id: int) -> list[dict[str, Any]]:
    """Every correction of a record, oldest first (revision, when, who, why, before, after)."""
    with Session(engine) as session:
        return [
            {
                "revision": r.revision, "revised_at": r.revised_at, "actor": r.actor,
                "reason": r.reason, "before": r.before, "after": r.after,
            }  # fmt: skip
            for r in survey_repository.revisions(session, observation_id)
        ]
