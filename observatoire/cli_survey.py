"""``observatoire survey`` and ``observatoire nuit``: questionnaires, offline forms, imports,
count-night operations from the command line (French help and messages)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def cmd_survey_list(args: argparse.Namespace) -> int:
    from observatoire.survey import list_questionnaires, load_questionnaire

    for version in list_questionnaires():
        q = load_questionnaire(version)
        print(f"{version:<20} {q.title} ({len(q.questions)} questions)")
    return 0


def cmd_survey_check(args: argparse.Namespace) -> int:
    from observatoire.survey import load_questionnaire

    q = load_questionnaire(args.questionnaire)
    print(f"{q.source} : questionnaire {q.version} valide ({len(q.questions)} questions, "
          f"{len(q.warnings)} règles d'avertissement)")
    return 0


def cmd_survey_export(args: argparse.Namespace) -> int:
    from observatoire.survey import load_questionnaire
    from observatoire.survey.xlsform import write_xlsform

    q = load_questionnaire(args.questionnaire)
    output = Path(args.output or f"{q.version}.xlsx")
    write_xlsform(q, output)
    print(f"XLSForm écrit : {output} (form_id {q.version}) — à déposer dans ODK Central ou "
          "KoboToolbox")
    return 0


def cmd_survey_import(args: argparse.Namespace) -> int:
    from observatoire.config import load_settings
    from observatoire.countnight.replay import import_export_file
    from observatoire.pipeline import open_database

    path = Path(args.file)
    if not path.is_file():
        from observatoire.model import ObservatoireError

        raise ObservatoireError(f"Fichier introuvable : {path}.")
    kind = args.format or ("kobo" if path.suffix.lower() == ".json" else "odk")
    engine = open_database(load_settings())
    report = import_export_file(
        engine, path.read_bytes(), kind=kind, questionnaire_version=args.questionnaire,
        name=path.name,
    )
    print(report.summary())
    for key, message in report.rejected[:50]:
        print(f"  refusée : {key} : {message}", file=sys.stderr)
    for line in report.warning_lines(50):
        print(f"  {line}", file=sys.stderr)
    return 1 if report.rejected else 0


def cmd_nuit_replay(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from observatoire.config import load_settings
    from observatoire.countnight.replay import replay_sample
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.pipeline import import_reference_territory, open_database
    from observatoire.store import repository
    from observatoire.synthetic import generate_sample

    engine = open_database(load_settings())
    with Session(engine) as session, session.begin():
        import_reference_territory(session, args.territory)
        communes = repository.territory_communes(session, args.territory)
    sectors = generate_grid_sectors(communes, 1000.0)
    sample = generate_sample(communes, sectors, seed=args.seed)
    campaign_id, report = replay_sample(
        engine, args.territory, sample, sectors, via=args.via,
        name=f"Nuit rejouée ({args.via}, graine {args.seed}, {dt.date.today():%d/%m/%Y})",
    )
    print(f"Campagne n°{campaign_id} : {report.summary()}")
    return 1 if report.rejected else 0


def add_survey_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``survey`` and ``nuit`` on the main parser's sub-commands."""
    from observatoire.cli_parser import command_group

    sub = command_group(
        commands, "survey",
        help="questionnaires, formulaires hors ligne (XLSForm) et imports ODK/Kobo",
        description="Questionnaires de la nuit de comptage (dossier survey/).",
    )
    sub.add_parser("list", help="liste les versions de questionnaire",
                   description="Liste les questionnaires du dossier survey/."
                   ).set_defaults(func=cmd_survey_list)
    check = sub.add_parser("check", help="vérifie un questionnaire (version ou fichier YAML)",
                           description="Vérifie la définition d'un questionnaire.")
    check.add_argument("questionnaire", help="version (ndls-2026) ou chemin d'un fichier YAML")
    check.set_defaults(func=cmd_survey_check)
    export = sub.add_parser(
        "export", help="exporte un questionnaire en XLSForm (ODK Collect, KoboCollect)",
        description="Écrit le XLSForm (.xlsx) d'une version de questionnaire.\n\n"
        "Exemple : observatoire survey export ndls-2026 --output ndls-2026.xlsx",
    )
    export.add_argument("questionnaire", help="version (ndls-2026) ou fichier YAML")
    export.add_argument("--output", help="fichier .xlsx à écrire (VERSION.xlsx par défaut)")
    export.set_defaults(func=cmd_survey_export)
    imp = sub.add_parser(
        "import", help="importe un export ODK Central (CSV/ZIP) ou KoboToolbox (JSON)",
        description="Importe des soumissions ; réimporter le même export n'ajoute rien.",
    )
    imp.add_argument("file", help="export ODK Central (.csv, .zip) ou KoboToolbox (.json)")
    imp.add_argument("--format", choices=["odk", "kobo"], help="détecté par l'extension sinon")
    imp.add_argument("--questionnaire", default="ndls-2026",
                     help="version du questionnaire (ndls-2026)")
    imp.set_defaults(func=cmd_survey_import)

    nuit_sub = command_group(
        commands, "nuit", help="nuits de comptage : rejouer, lister, clore, valider, publier",
        description="Opérations de la nuit de comptage. Une nuit n'est publique qu'une fois "
        "publiée : ouverte -> close par la coordination -> validée par l'équipe -> publiée "
        "(date, auteur, version).",
    )  # fmt: skip
    replay = nuit_sub.add_parser(
        "replay", help="rejoue la nuit synthétique par la saisie, ODK ou Kobo",
        description="Rejoue la nuit de l'échantillon synthétique par les chemins de saisie.",
    )
    replay.add_argument("--territory", default="dijon-metropole", help="territoire de référence")
    replay.add_argument("--seed", type=int, default=2026, help="graine du générateur (2026)")
    replay.add_argument("--via", choices=["tablette", "odk", "kobo"], default="tablette")
    replay.set_defaults(func=cmd_nuit_replay)
    # The publication workflow: open -> closed -> validated -> published.
    from observatoire.cli_publish import add_night_commands

    add_night_commands(nuit_sub)
