"""Offline forms: export a questionnaire to XLSForm (ODK Collect, KoboCollect) and read
back ODK Central CSV and KoboToolbox JSON exports as `Submission` records.

Parsing is separate from storing: `read_odk_central` and `read_kobo_json` turn an export into
submissions (or per-record errors), `observatoire.countnight.entry.submit_many` stores them. The
instance ID of each ODK/Kobo submission becomes its ``submission_uuid``, so importing the
same export twice adds nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from observatoire.archives import zip_size_problem
from observatoire.config import load_input_limits
from observatoire.model import ObservatoireError
from observatoire.survey.questionnaire import Condition, Questionnaire
from observatoire.survey.responses import Submission

__all__ = [
    "ExportFormatError",
    "ParsedExport",
    "odk_central_csv",
    "kobo_json",
    "read_kobo_json",
    "read_odk_central",
    "to_xlsform",
    "write_xlsform",
]

BOOLEAN_LIST = "oui_non"
_BOOLEAN = {True: "oui", False: "non"}


class ExportFormatError(ObservatoireError):
    """An ODK or Kobo export that cannot be read, or that belongs to another form."""


# --- export ----------------------------------------------------------------------------


def _xpath(condition: Condition, q: Questionnaire) -> str:
    if condition.kind in ("all", "any"):
        joiner = " and " if condition.kind == "all" else " or "
        return "(" + joiner.join(_xpath(i, q) for i in condition.items) + ")"
    if condition.kind == "not":
        return f"not({_xpath(condition.items[0], q)})"
    if condition.kind == "age_mismatch":
        raise ValueError("age_mismatch ne s'exporte pas en XLSForm (règle d'avertissement)")
    ref = "${" + condition.question + "}"
    question = q.question(condition.question)
    multiple = question.type == "select_multiple"

    def literal(value: Any) -> str:
        if question.type == "boolean":
            value = _BOOLEAN[bool(value)]
        return str(value) if question.type in ("integer", "decimal") else f"'{value}'"

    def equals(value: Any) -> str:
        return f"selected({ref}, {literal(value)})" if multiple else f"{ref} = {literal(value)}"

    if condition.kind == "equals":
        return equals(condition.value)
    if condition.kind == "not_equals":
        return f"not({equals(condition.value)})"
    if condition.kind in ("in", "not_in"):
        inner = "(" + " or ".join(equals(v) for v in condition.value) + ")"
        return inner if condition.kind == "in" else f"not{inner}"
    if condition.kind == "min":
        return f"({ref} != '' and {ref} >= {condition.value})"
    if condition.kind == "max":
        return f"({ref} != '' and {ref} <= {condition.value})"
    if condition.kind == "answered":
        return f"{ref} != ''" if condition.value else f"{ref} = ''"
    raise AssertionError(condition.kind)  # pragma: no cover


def to_xlsform(q: Questionnaire) -> dict[str, list[dict[str, Any]]]:
    """The questionnaire as XLSForm sheets (``survey``, ``choices``, ``settings``).

    Each form also asks for the team code and sector and records the start time (collection
    time) and an optional GPS point; ``form_id`` and ``version`` are the questionnaire version.
    """
    survey: list[dict[str, Any]] = [
        {"type": "start", "name": "collected_at"},
        {"type": "text", "name": "team_code", "label": "Code d'équipe", "required": "yes",
         "constraint": "regex(., '^[A-Za-z0-9]{4,32}$')",
         "constraint_message": "Le code imprimé sur la fiche d'équipe"},
        {"type": "text", "name": "sector_code", "label": "Secteur", "required": "yes"},
        {"type": "geopoint", "name": "gps", "label": "Position (facultatif)"},
    ]  # fmt: skip
    for question in q.questions:
        row: dict[str, Any] = {"name": question.name, "label": question.label}
        if question.type in ("select_one", "select_multiple"):
            row["type"] = f"{question.type} {question.choices}"
        elif question.type == "boolean":
            row["type"] = f"select_one {BOOLEAN_LIST}"
        else:
            row["type"] = question.type
        if question.hint:
            row["hint"] = question.hint
        if question.required is True:
            row["required"] = "yes"
        elif question.required:
            row["required"] = _xpath(question.required, q)
        if question.relevant is not None:
            row["relevant"] = _xpath(question.relevant, q)
        constraints, messages = [], []
        if question.min is not None:
            constraints.append(f". >= {question.min:g}")
            messages.append(f"au moins {question.min:g}")
        if question.max is not None:
            constraints.append(f". <= {question.max:g}")
            messages.append(f"au plus {question.max:g}")
        if question.pattern:
            constraints.append(f"regex(., '{question.pattern}')")
            messages.append(question.pattern_message or question.pattern)
        if question.max_length:
            constraints.append(f"string-length(.) <= {question.max_length}")
            messages.append(f"{question.max_length} caractères au plus")
        if constraints:
            row["constraint"] = " and ".join(constraints)
            row["constraint_message"] = ", ".join(messages)
        survey.append(row)
    choices = [
        {"list_name": name, "name": c.value, "label": c.label}
        for name, items in q.choice_lists.items()
        for c in items
    ]
    if any(question.type == "boolean" for question in q.questions):
        choices += [
            {"list_name": BOOLEAN_LIST, "name": "oui", "label": "Oui"},
            {"list_name": BOOLEAN_LIST, "name": "non", "label": "Non"},
        ]
    settings = [{"form_title": q.title, "form_id": q.version, "version": q.version,
                 "default_language": "French (fr)"}]
    return {"survey": survey, "choices": choices, "settings": settings}


def write_xlsform(q: Questionnaire, path: Path) -> Path:
    """Write the XLSForm workbook (``.xlsx``) of ``q`` to ``path``."""
    from openpyxl import Workbook

    sheets = to_xlsform(q)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        columns = list(dict.fromkeys(k for row in rows for k in row))
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(c, "") for c in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


# --- import ----------------------------------------------------------------------------


@dataclass
class ParsedExport:
    """Records read from an export: submissions, per-record errors, and receipt times."""

    records: list[Submission | tuple[str, Exception]] = field(default_factory=list)
    received_at: dict[str, dt.datetime] = field(default_factory=dict)

    @property
    def submissions(self) -> list[Submission]:
        return [r for r in self.records if isinstance(r, Submission)]


def _instance_uuid(value: Any) -> UUID:
    text = str(value or "").strip()
    return UUID(text.removeprefix("uuid:"))


def _when(value: Any) -> dt.datetime | None:
    if value in (None, ""):
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _answers(q: Questionnaire, get) -> dict[str, Any]:  # noqa: ANN001 - field getter
    answers = {}
    for question in q.questions:
        value = get(question.name)
        if value in (None, ""):
            continue
        if question.type == "boolean":
            value = {"oui": True, "non": False}.get(str(value), value)
        answers[question.name] = value
    return answers


def _record(
    parsed: ParsedExport, key: str, build  # noqa: ANN001 - a callable returning a Submission
) -> None:
    try:
        submission, received = build()
    except (ValueError, TypeError, KeyError) as exc:
        parsed.records.append((key, ExportFormatError(f"fiche illisible ({exc})")))
        return
    parsed.records.append(submission)
    if received is not None:
        parsed.received_at[str(submission.submission_uuid)] = received


def read_odk_central(data: bytes | Path, q: Questionnaire) -> ParsedExport:
    """Read an ODK Central export: the submissions CSV, or the ZIP that holds it.

    Columns follow Central: ``SubmissionDate``, field names, ``gps-Latitude`` /
    ``gps-Longitude``, ``meta-instanceID`` (or ``KEY``), ``FormVersion``.
    """
    raw = data.read_bytes() if isinstance(data, Path) else data
    name = data.name if isinstance(data, Path) else "export"
    if raw[:2] == b"PK":
        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
            too_large = zip_size_problem(archive.infolist(), len(raw), load_input_limits(),
                                         "Export")
            if too_large:
                raise ExportFormatError(f"{name} : {too_large} Téléchargez à nouveau l'export "
                                        "depuis ODK Central.")
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            main = [m for m in members if Path(m).stem == q.version and "/" not in m]
            if not main:
                raise ExportFormatError(
                    f"{name} : l'archive ne contient pas {q.version}.csv (fichiers : "
                    f"{', '.join(members) or 'aucun CSV'}). Est-ce l'export d'un autre "
                    "formulaire ?"
                )
            raw = archive.read(main[0])
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
            raise ExportFormatError(
                f"{name} : archive ZIP illisible ou tronquée ({type(exc).__name__}). "
                "Téléchargez à nouveau l'export depuis ODK Central."
            ) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportFormatError(
            f"{name} : le fichier n'est pas un CSV UTF-8 (octet illisible à la position "
            f"{exc.start}). Exportez-le de nouveau en CSV UTF-8."
        ) from exc
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and not ({"meta-instanceID", "KEY"} & set(rows[0])):
        raise ExportFormatError(
            f"{name} : colonne meta-instanceID (ou KEY) absente : ce n'est pas un export "
            "de soumissions ODK Central."
        )
    versions = {r.get("FormVersion") for r in rows if r.get("FormVersion")}
    if versions - {q.version}:
        raise ExportFormatError(
            f"{name} : export d'un autre formulaire ou d'une autre version "
            f"({', '.join(sorted(versions))}) ; attendu : {q.version}."
        )
    parsed = ParsedExport()
    for n, row in enumerate(rows, start=2):

        def build(row: Mapping[str, str] = row):
            submission = Submission(
                submission_uuid=_instance_uuid(row.get("meta-instanceID") or row.get("KEY")),
                team_code=row["team_code"],
                sector_code=row.get("sector_code") or None,
                collected_at=_when(row.get("collected_at")),
                latitude=_float(row.get("gps-Latitude")),
                longitude=_float(row.get("gps-Longitude")),
                answers=_answers(q, row.get),
            )
            return submission, _when(row.get("SubmissionDate"))

        _record(parsed, f"ligne {n}", build)
    return parsed


def read_kobo_json(data: bytes | Path, q: Questionnaire) -> ParsedExport:
    """Read a KoboToolbox JSON export (a list of submissions, or the API's ``results``)."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    name = data.name if isinstance(data, Path) else "export"
    try:
        payload = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportFormatError(f"{name} : JSON illisible ({exc}).") from exc
    items = payload.get("results") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise ExportFormatError(f"{name} : liste de soumissions KoboToolbox attendue.")
    forms = {i.get("_xform_id_string") for i in items if isinstance(i, dict)} - {None}
    if forms - {q.version}:
        raise ExportFormatError(
            f"{name} : export d'un autre formulaire ({', '.join(sorted(forms))}) ; "
            f"attendu : {q.version}."
        )
    parsed = ParsedExport()
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            parsed.records.append((f"soumission {n}", ExportFormatError("objet JSON attendu")))
            continue
        # Fields in groups come as "group/field": keep the last part.
        flat = {key.rsplit("/", 1)[-1]: value for key, value in item.items()}

        def build(item: Mapping[str, Any] = item, flat: Mapping[str, Any] = flat):
            point = item.get("_geolocation") or [None, None]
            submission = Submission(
                submission_uuid=_instance_uuid(item.get("meta/instanceID") or item["_uuid"]),
                team_code=flat["team_code"],
                sector_code=flat.get("sector_code") or None,
                collected_at=_when(flat.get("collected_at")),
                latitude=point[0],
                longitude=point[1],
                answers=_answers(q, flat.get),
            )
            return submission, _when(item.get("_submission_time"))

        _record(parsed, f"soumission {n}", build)
    return parsed


# --- writers (what ODK Central / Kobo would export; used to replay and to test) ---------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _BOOLEAN[value]
    if isinstance(value, list | tuple):
        return " ".join(map(str, value))
    return str(value)


def odk_central_csv(
    q: Questionnaire, submissions: Iterable[Submission], received_at: Mapping[str, Any]
) -> bytes:
    """The CSV ODK Central would export for these submissions."""
    columns = ["SubmissionDate", "collected_at", "team_code", "sector_code", "gps-Latitude",
               "gps-Longitude", *[question.name for question in q.questions],
               "meta-instanceID", "KEY", "FormVersion"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    for s in submissions:
        key = f"uuid:{s.submission_uuid}"
        writer.writerow(
            {
                "SubmissionDate": _cell(received_at.get(str(s.submission_uuid))),
                "collected_at": s.collected_at.isoformat(),
                "team_code": s.team_code,
                "sector_code": s.sector_code or "",
                "gps-Latitude": _cell(s.latitude),
                "gps-Longitude": _cell(s.longitude),
                **{name: _cell(s.answers.get(name)) for name in s.answers if name in q},
                "meta-instanceID": key,
                "KEY": key,
                "FormVersion": q.version,
            }
        )
    return out.getvalue().encode("utf-8")


def kobo_json(
    q: Questionnaire, submissions: Iterable[Submission], received_at: Mapping[str, Any]
) -> bytes:
    """The JSON KoboToolbox would export for these submissions."""
    items = []
    for s in submissions:
        item = {
            "_uuid": str(s.submission_uuid),
            "meta/instanceID": f"uuid:{s.submission_uuid}",
            "_xform_id_string": q.version,
            "_submission_time": _cell(received_at.get(str(s.submission_uuid))),
            "collected_at": s.collected_at.isoformat(),
            "team_code": s.team_code,
            "sector_code": s.sector_code,
            "_geolocation": [s.latitude, s.longitude],
        }
        for name, value in s.answers.items():
            item[f"questionnaire/{name}"] = _cell(value)
        items.append(item)
    return json.dumps(items, ensure_ascii=False).encode("utf-8")
