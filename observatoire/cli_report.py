"""`observatoire report annual`: the execution report a convention requires each year."""

from __future__ import annotations

import argparse
import sys


def cmd_report_annual(args: argparse.Namespace) -> int:
    from observatoire.config import load_settings
    from observatoire.evaluation.report import write_report
    from observatoire.evaluation.service import annual_report
    from observatoire.output_files import check_writable
    from observatoire.pipeline import open_database

    check_writable(args.output, "Rapport d'exécution")
    report = annual_report(open_database(load_settings()), args.territory, args.year)
    path = write_report(report, args.output)
    print(
        f"Rapport d'exécution {args.year} écrit : {path} ({len(report.actions)} actions, "
        f"{len(report.indicators)} indicateurs). À transmettre au plus tard le "
        f"{report.deadline:%d/%m/%Y}.",
        file=sys.stderr,
    )
    if report.missing:
        print(f"{len(report.missing)} indicateur(s) avec un objectif et sans valeur pour "
              f"{args.year} : {', '.join(report.missing)}.", file=sys.stderr)
    return 0


def add_report_commands(commands: argparse._SubParsersAction) -> None:
    """Register `observatoire report` and its sub-commands (and those of the convention,
    the hand-entered figures and the data-sharing register it reads)."""
    from observatoire.cli_evaluation import add_evaluation_commands
    from observatoire.cli_parser import command_group, territory_option

    add_evaluation_commands(commands)

    group = command_group(
        commands, "report", help="rapports : rapport d'exécution annuel de la convention",
        description="Rapports exigés par les conventions Logement d'abord.",
    )
    annual = group.add_parser(
        "annual", help="rapport d'exécution d'une année de la convention (XLSX ou HTML)",
        description=(
            "Rapport d'exécution de la convention Logement d'abord du territoire pour une "
            "année : pour chaque action annexée, objectif, indicateurs, cible, valeur de "
            "l'année (« non renseigné » sinon), écart et commentaire ; bilan global ; budget ; "
            "méthodes et sources. Les effectifs passent par le secret statistique.\n\n"
            "Exemple :\n  observatoire report annual --territory dijon-metropole --year 2025 "
            "--output rapport-2025.xlsx"
        ),
    )
    territory_option(annual)
    annual.add_argument("--year", type=int, required=True, help="année du rapport")
    annual.add_argument("--output", required=True, help="fichier à écrire (.xlsx ou .html)")
    annual.set_defaults(func=cmd_report_annual)
