"""Count-night operations: the one path every questionnaire takes into the database.

Tablet entry, ODK/Kobo imports and the replay of the sample night all call `submit`, so a
record is validated, stored and de-duplicated the same way whatever its channel. Every
function takes an `Engine` and opens its own short transactions: these run concurrently
from many volunteers' sessions.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.access import NIGHT_TIMEZONE, team_code_closes_at
from observatoire.indicators.extrapolation import Extrapolation
from observatoire.masking import mask_contacts
from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.store import repository, survey_repository
from observatoire.store.survey_repository import COLUMN_FIELDS, TeamContext
from observatoire.survey import Issue, Submission, load_questionnaire, validate_response

__all__ = [
    "CampaignLockedError",
    "CampaignNotOpenError",
    "ImportReport",
    "Receipt",
    "SubmissionRejected",
    "TeamCodeExpiredError",
    "TeamContext",
    "UnknownTeamError",
    "codes_close_at",
    "correct_observation",
    "coverage",
    "join_for_entry",
    "join_for_leader",
    "join_team",
    "lock_campaign",
    "observation_history",
    "report_sector",
    "set_training",
    "submit",
    "submit_many",
]

SOURCES = ("tablette", "odk", "kobo", "rejeu")
TEAM_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud at night


NOBODY_MET = "Secteur parcouru, personne rencontrée : aucune"
"""The words of the tablet's action and of the printed sheet for a sector walked with
nobody met (a zero that counts, not a gap)."""


class UnknownTeamError(ObservatoireError):
    """A team code that no campaign knows."""


class CampaignLockedError(ObservatoireError):
    """The campaign is locked: its data is frozen."""


class CampaignNotOpenError(ObservatoireError):
    """The campaign is planned but neither open nor in training mode."""


class TeamCodeExpiredError(ObservatoireError):
    """A team code of a count night that is over: it opens nothing any more."""


class SubmissionRejected(ObservatoireError):
    """A questionnaire with blocking errors; ``errors`` lists them question by question."""

    def __init__(self, errors: list[Issue]) -> None:
        self.errors = errors
        super().__init__(
            "Questionnaire refusé : " + " ; ".join(str(e) for e in errors)
        )


@dataclass(frozen=True)
class Receipt:
    """What the volunteer sees after sending: stored or already there, warnings, tally."""

    submission_uuid: str
    created: bool
    observation_id: int | None
    warnings: list[Issue]
    team_tally: int | None
    practice: bool = False


@dataclass
class ImportReport:
    """Per-record outcome of a batch (import or replay): nothing aborts the whole batch."""

    created: int = 0
    already_stored: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (record key, message)
    warnings: int = 0
    warned: list[tuple[str, str]] = field(default_factory=list)
    """(the record, its warnings) of each record kept with a warning: which one to check."""

    def warning_lines(self, limit: int = 20) -> list[str]:
        """One French line per record kept with a warning (the first ``limit``)."""
        lines = [f"avertissement : {key} : {message}" for key, message in self.warned[:limit]]
        if len(self.warned) > limit:
            lines.append(f"… et {len(self.warned) - limit} autre(s) fiche(s) avec avertissement")
        return lines

    @property
    def total(self) -> int:
        return self.created + self.already_stored + len(self.rejected)

    def summary(self) -> str:
        return (
            f"{self.created} fiche(s) ajoutée(s), {self.already_stored} déjà enregistrée(s), "
            f"{len(self.rejected)} refusée(s), {self.warnings} avec avertissement"
        )


# --- volunteers ----------------------------------------------------------------------------


def normalise_team_code(code: str) -> str:
    return "".join(str(code).split()).upper()


def join_team(engine: Engine, team_code: str) -> TeamContext:
    """The team, campaign and sectors behind a team code, or `UnknownTeamError`."""
    code = normalise_team_code(team_code)
    with Session(engine) as session:
        context = survey_repository.team_context(session, code)
    if context is None:
        raise UnknownTeamError(
            f"Code d'équipe inconnu : « {code} ». Vérifiez le code imprimé sur la fiche "
            "d'équipe (6 caractères, sans O ni 0, sans I ni 1) ou demandez-le au coordinateur."
        )
    return context


def codes_close_at(context: TeamContext) -> dt.datetime:
    """When the team codes of ``context``'s night stop opening anything
    (`observatoire.access.team_code_closes_at`)."""
    return team_code_closes_at(context.night_date, context.codes_opened_at)


def _check_code(context: TeamContext, now: dt.datetime | None = None) -> None:
    """Refuse the code of a locked campaign or of a night that is over."""
    if CampaignStatus(context.campaign_status).frozen:
        _check_open(context)
    closes = codes_close_at(context)
    if (now or dt.datetime.now(dt.UTC)) > closes:
        raise TeamCodeExpiredError(
            f"Le code d'équipe « {context.team_code} » a expiré : la nuit du "
            f"{context.night_date:%d/%m/%Y} (campagne « {context.campaign_name} ») est "
            f"close depuis le {closes.astimezone(NIGHT_TIMEZONE):%d/%m/%Y à %H:%M}. Il "
            "n'ouvre plus ni la saisie ni les fiches de l'équipe ; contactez le coordinateur."
        )


def team_code_state(engine: Engine, team_code: str, *, now: dt.datetime | None = None) -> str:
    """What the codes of ``team_code``'s night open now, in French (for staff handing them
    out): valid until when, not yet active, expired or closed."""
    context = join_team(engine, team_code)
    status = CampaignStatus(context.campaign_status)
    if status.frozen:
        return f"fermés (nuit {status.label.lower()})"
    closes = codes_close_at(context)
    until = f"{closes.astimezone(NIGHT_TIMEZONE):%d/%m/%Y à %H:%M}"
    if (now or dt.datetime.now(dt.UTC)) > closes:
        return f"expirés depuis le {until}"
    if status is CampaignStatus.PLANNED and not context.training:
        return ("pas encore actifs (nuit prévue : ouvrez-la ou passez-la en mode entraînement "
                "sur la page Campagnes)")
    mode = " ; mode entraînement : fiches hors résultats" if context.training else ""
    return f"valides jusqu'au {until}{mode}"


def join_for_entry(
    engine: Engine, team_code: str, *, now: dt.datetime | None = None
) -> TeamContext:
    """`join_team` for a tablet: also refuses a locked campaign, with the message a
    submission would get, and a code whose night is over (`codes_close_at`). The entry page
    calls it for a typed code, for the code kept in the address after a reload, and again
    on every run (a campaign locked during the night sends its volunteers back to the code
    field)."""
    context = join_team(engine, team_code)
    _check_code(context, now)
    return context


def join_for_leader(
    engine: Engine, team_code: str, *, now: dt.datetime | None = None
) -> TeamContext:
    """`join_for_entry` for the team leader's page, which shows the team's records: the
    campaign must also be open (a planned campaign has no record to correct)."""
    context = join_for_entry(engine, team_code, now=now)
    if context.campaign_status != CampaignStatus.OPEN.value:
        raise CampaignNotOpenError(
            f"La campagne « {context.campaign_name} » n'est pas ouverte : aucune fiche à "
            "corriger. Le coordinateur l'ouvre le soir du comptage."
        )
    return context


def record_team_access(engine: Engine, context: TeamContext, page: str) -> None:
    """Audit that ``page`` was opened with ``context``'s team code (who: the team; which
    night: the campaign)."""
    with Session(engine) as session, session.begin():
        repository.record_audit(
            session, f"equipe:{context.team_code}", "team_code.access", page=page,
            campaign_id=context.campaign_id, team=context.team_name,
        )


def _check_open(context: TeamContext) -> None:
    if CampaignStatus(context.campaign_status).frozen:
        raise CampaignLockedError(
            f"La campagne « {context.campaign_name} » est verrouillée : ses données sont "
            "figées, plus aucune saisie ni correction n'est acceptée. Contactez le "
            "coordinateur si une fiche manque."
        )
    if context.campaign_status == CampaignStatus.PLANNED.value and not context.training:
        raise CampaignNotOpenError(
            f"La campagne « {context.campaign_name} » n'est pas encore ouverte. Le "
            "coordinateur l'ouvre le soir du comptage (ou active le mode entraînement)."
        )


def submit(
    engine: Engine,
    submission: Submission,
    *,
    source: str = "tablette",
    received_at: dt.datetime | None = None,
    with_tally: bool = True,
    context: TeamContext | None = None,
) -> Receipt:
    """Validate and store one questionnaire; sending it again never stores it twice.

    Raises `UnknownTeamError`, `CampaignLockedError`, `CampaignNotOpenError` or
    `SubmissionRejected` (with the errors per question). In training mode the record goes
    to the practice table and never reaches results.
    """
    if source not in SOURCES:
        raise ValueError(f"Source inconnue : {source!r} (sources : {', '.join(SOURCES)})")
    if context is None or context.team_code != submission.team_code:
        context = join_team(engine, submission.team_code)
    _check_open(context)
    sector_id, commune = _sector_of(engine, context, submission.sector_code)
    questionnaire = load_questionnaire(context.questionnaire_version)
    check = validate_response(
        questionnaire, submission.answers, reference_year=context.night_date.year
    )
    if check.errors:
        raise SubmissionRejected(check.errors)
    uuid = str(submission.submission_uuid)
    received = received_at or dt.datetime.now(dt.UTC)
    base = {
        "campaign_id": context.campaign_id,
        "submission_uuid": uuid,
        "team_id": context.team_id,
        "sector_id": sector_id,
        "collected_at": submission.collected_at,
        "received_at": received,
        "latitude": submission.latitude,
        "longitude": submission.longitude,
    }
    warnings = [w.as_dict() for w in check.warnings]
    with Session(engine) as session, session.begin():
        if context.training:
            new_id = survey_repository.insert_practice(
                session,
                base | {"situation": check.values["situation"], "answers": check.values},
            )
        else:
            values = base | {
                "commune_code": commune,
                **{name: check.values.get(name) for name in COLUMN_FIELDS},
                "answers": {k: v for k, v in check.values.items() if k not in COLUMN_FIELDS},
            }
            new_id = survey_repository.insert_observation(
                session, values, questionnaire_version=questionnaire.version, source=source,
                warnings=warnings,
            )
        # Read after writing: on SQLite the write lock is held, on PostgreSQL FOR SHARE waits
        # for a lock in progress, so no record slips in after the campaign is locked.
        if CampaignStatus(survey_repository.campaign_status(
            session, context.campaign_id, for_share=True
        )).frozen:
            session.rollback()
            _check_open(_replace_status(context, CampaignStatus.LOCKED.value))
    observation_id = new_id
    tally = None
    if with_tally or (new_id is None and not context.training):
        with Session(engine) as session:
            if new_id is None and not context.training:
                observation_id = survey_repository.observation_id(session, uuid)
            if with_tally:
                tally = survey_repository.team_tally(
                    session, context.team_id, practice=context.training
                )
    return Receipt(
        submission_uuid=uuid,
        created=new_id is not None,
        observation_id=observation_id,
        warnings=check.warnings,
        team_tally=tally,
        practice=context.training,
    )


def _replace_status(context: TeamContext, status: str) -> TeamContext:
    from dataclasses import replace

    return replace(context, campaign_status=status)


def _sector_of(engine: Engine, context: TeamContext, sector_code: str | None) -> tuple[int, str]:
    if sector_code is None:
        if len(context.sectors) != 1:
            raise SubmissionRejected(
                [Issue("sector_code", "secteur à préciser : l'équipe a "
                                      f"{len(context.sectors)} secteurs", label="Secteur")]
            )
        return next(iter(context.sectors.values()))
    if sector_code in context.sectors:
        return context.sectors[sector_code]
    # A team may cross into a neighbouring sector: any sector of the campaign is accepted.
    with Session(engine) as session:
        found = survey_repository.campaign_sector(session, context.campaign_id, sector_code)
    if found is None:
        raise SubmissionRejected(
            [Issue("sector_code", f"secteur inconnu dans la campagne : {sector_code!r}",
                   label="Secteur")]
        )
    return found


def submit_many(
    engine: Engine,
    submissions: Iterable[Submission | tuple[str, Exception]],
    *,
    source: str,
    received_at: Mapping[str, dt.datetime] | dt.datetime | None = None,
) -> ImportReport:
    """Submit a batch one record at a time; a bad record is reported, never fatal.

    ``submissions`` may hold ``(record key, error)`` pairs for records that could not even
    be read: they are reported as refused. ``received_at`` is one time or one per UUID.
    """
    report = ImportReport()
    contexts: dict[str, TeamContext] = {}
    for item in submissions:
        if isinstance(item, tuple):
            report.rejected.append((item[0], str(item[1])))
            continue
        key = str(item.submission_uuid)
        when = received_at.get(key) if isinstance(received_at, Mapping) else received_at
        try:
            context = contexts.get(item.team_code)
            if context is None:
                context = contexts[item.team_code] = join_team(engine, item.team_code)
            receipt = submit(
                engine, item, source=source, received_at=when, with_tally=False,
                context=context,
            )
        except ObservatoireError as exc:
            report.rejected.append((key, str(exc)))
            continue
        if receipt.created:
            report.created += 1
        else:
            report.already_stored += 1
        if receipt.warnings:
            report.warnings += 1
            report.warned.append((
                f"fiche {key} (équipe {item.team_code}, secteur {item.sector_code or '—'})",
                " ; ".join(w.message for w in receipt.warnings),
            ))
    return report


def report_sector(
    engine: Engine,
    team_code: str,
    sector_code: str | None = None,
    *,
    status: str = "walked",
    reported_at: dt.datetime | None = None,
) -> int:
    """Record that a team walked its sector (``walked``) or started it (``in_progress``).

    Returns the number of people the team recorded, stored with the report: a sector
    walked with nobody met is reported with 0, which is data, not a gap.
    """
    if status not in ("walked", "in_progress"):
        raise ValueError(f"Statut de secteur inconnu : {status!r} (walked, in_progress)")
    context = join_team(engine, team_code)
    _check_open(context)
    sector_id, _ = _sector_of(engine, context, sector_code)
    with Session(engine) as session, session.begin():
        people = survey_repository.team_tally(
            session, context.team_id, practice=context.training
        )
        if not context.training:
            survey_repository.upsert_sector_report(
                session, context.campaign_id, sector_id, context.team_id, status, people,
                reported_at or dt.datetime.now(dt.UTC),
            )
    return people


def team_tally(engine: Engine, context: TeamContext) -> int:
    with Session(engine) as session:
        return survey_repository.team_tally(session, context.team_id, practice=context.training)


# --- team leaders: corrections -------------------------------------------------------------


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
            _check_code(context)
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


# --- staff: campaign switches --------------------------------------------------------------


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


def read_sector_file(path_or_buffer: Any, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Sector polygons from a GeoJSON/GeoPackage (``sector_code`` column optional).

    Each sector is given the commune that holds its representative point when the file has
    no ``commune_code``; codes are generated when it has no ``sector_code``.
    """
    from observatoire.geo.sectors import assign_points_to_communes

    try:
        sectors = gpd.read_file(path_or_buffer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise ObservatoireError(
            f"Fichier de secteurs illisible ({exc}). Fournissez un GeoJSON ou un GeoPackage "
            "de polygones."
        ) from exc
    if sectors.empty:
        raise ObservatoireError("Le fichier de secteurs ne contient aucun polygone.")
    if sectors.crs is None:
        sectors = sectors.set_crs(4326)
    sectors = sectors.to_crs(4326)
    if not sectors.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise ObservatoireError("Les secteurs doivent être des polygones.")
    if "commune_code" not in sectors:
        points = sectors.geometry.representative_point()
        sectors["commune_code"] = assign_points_to_communes(
            gpd.GeoSeries(points, crs=4326), communes
        ).to_numpy()
        outside = sectors["commune_code"].isna()
        if outside.any():
            raise ObservatoireError(
                f"{int(outside.sum())} secteur(s) hors du territoire : vérifiez le système de "
                "coordonnées du fichier."
            )
    if "sector_code" not in sectors:
        sectors["sector_code"] = [
            f"S{c}-{n:03d}" for n, c in enumerate(sectors["commune_code"], start=1)
        ]
    if sectors["sector_code"].duplicated().any():
        dup = sorted(set(sectors.loc[sectors["sector_code"].duplicated(), "sector_code"]))
        raise ObservatoireError(f"Codes de secteur en double : {', '.join(map(str, dup[:10]))}.")
    return sectors[["sector_code", "commune_code", "geometry"]]


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


# --- staff: live coverage (the team sheets: observatoire.team_sheets) ----------------------

COVERAGE_LABELS = {"walked": "Parcouru", "in_progress": "En cours", "not_started": "Pas commencé"}


@dataclass(frozen=True)
class Coverage:
    sectors: gpd.GeoDataFrame  # sector_code, commune_code, team_code, team_name, status,
    #                            statut, people, reported_at, geometry
    by_commune: pd.DataFrame  # commune_code, personnes, secteurs, parcourus
    people: int
    walked: int
    in_progress: int
    not_started: int


def coverage(engine: Engine, campaign_id: int) -> Coverage:
    """Sectors reported / in progress / not started, and people counted so far."""
    with Session(engine) as session:
        rows = survey_repository.sector_rows(session, campaign_id)
    frame = pd.DataFrame(
        [r[:2] + r[3:] for r in rows],
        columns=["sector_code", "commune_code", "team_code", "team_name", "report",
                 "reported_people", "reported_at", "people"],
    )
    geometry = shapely.from_wkb([r[2] for r in rows]) if rows else []
    status = [
        "walked" if rep == "walked" else "in_progress" if rep == "in_progress" or n > 0
        else "not_started"
        for rep, n in zip(frame["report"], frame["people"], strict=True)
    ]
    frame["status"] = status
    frame["statut"] = frame["status"].map(COVERAGE_LABELS)
    sectors = gpd.GeoDataFrame(frame.drop(columns=["report"]), geometry=list(geometry),
                               crs="EPSG:4326")
    by_commune = (
        frame.groupby("commune_code")
        .agg(personnes=("people", "sum"), secteurs=("sector_code", "count"),
             parcourus=("status", lambda s: int((s == "walked").sum())))
        .reset_index()
    )
    counts = frame["status"].value_counts()
    return Coverage(
        sectors=sectors,
        by_commune=by_commune,
        people=int(frame["people"].sum()),
        walked=int(counts.get("walked", 0)),
        in_progress=int(counts.get("in_progress", 0)),
        not_started=int(counts.get("not_started", 0)),
    )


def coverage_extrapolation(engine: Engine, campaign_id: int) -> Extrapolation:
    """The night's *a minima* count with the sectors not walked (or walked in part)
    estimated from walked sectors of the same density class (earlier nights' counts of the
    sector) or commune: an estimate shown beside the official count, never instead of it."""
    from observatoire.indicators.extrapolation import density_classes, extrapolate_count

    current = coverage(engine, campaign_id)
    with Session(engine) as session:
        earlier = survey_repository.earlier_sector_counts(session, campaign_id)
    sectors = pd.DataFrame(current.sectors[["sector_code", "commune_code", "status", "people"]])
    sectors["density_class"] = density_classes(sectors["sector_code"].map(earlier))
    return extrapolate_count(sectors, seed=campaign_id)


# --- stored records, for checks and exports ------------------------------------------------


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


# --- offline forms and replay --------------------------------------------------------------


def import_export_file(
    engine: Engine, data: bytes, *, kind: str, questionnaire_version: str, name: str = "export"
) -> ImportReport:
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
) -> tuple[int, ImportReport]:
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
