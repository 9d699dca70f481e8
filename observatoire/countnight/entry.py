"""A volunteer's count night: team codes, joining the night, submitting records (one by one or
in a batch) and reporting sectors walked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.access import NIGHT_TIMEZONE, team_code_closes_at
from observatoire.model import CampaignStatus, ObservatoireError
from observatoire.store import repository, survey_repository
from observatoire.store.survey_repository import COLUMN_FIELDS, TeamContext
from observatoire.survey import AnswerIssue, Submission, load_questionnaire, validate_response

SOURCES = ("tablette", "odk", "kobo", "rejeu")


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

    def __init__(self, errors: list[AnswerIssue]) -> None:
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
    warnings: list[AnswerIssue]
    team_tally: int | None
    practice: bool = False


@dataclass
class BatchReport:
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


def check_team_code(context: TeamContext, now: dt.datetime | None = None) -> None:
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
    check_team_code(context, now)
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
                [AnswerIssue("sector_code", "secteur à préciser : l'équipe a "
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
            [AnswerIssue("sector_code", f"secteur inconnu dans la campagne : {sector_code!r}",
                   label="Secteur")]
        )
    return found


def submit_many(
    engine: Engine,
    submissions: Iterable[Submission | tuple[str, Exception]],
    *,
    source: str,
    received_at: Mapping[str, dt.datetime] | dt.datetime | None = None,
) -> BatchReport:
    """Submit a batch one record at a time; a bad record is reported, never fatal.

    ``submissions`` may hold ``(record key, error)`` pairs for records that could not even
    be read: they are reported as refused. ``received_at`` is one time or one per UUID.
    """
    report = BatchReport()
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
