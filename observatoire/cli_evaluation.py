"""`observatoire convention`, `observatoire figures` and `observatoire partner`: the
convention staff edit, the figures that come from no feed, the data-sharing register."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from observatoire.cli_parser import Session


def _engine():  # noqa: ANN202
    from observatoire.config import load_settings
    from observatoire.pipeline import open_database

    return open_database(load_settings())


def _actor(args: argparse.Namespace) -> str:
    from observatoire.exports import cli_actor

    return cli_actor(getattr(args, "actor", None))


# --- convention -------------------------------------------------------------------------------


def cmd_convention_export(args: argparse.Namespace) -> int:
    from observatoire.evaluation.stored import export_convention
    from observatoire.output_files import check_writable

    check_writable(args.output, "Convention")
    engine = _engine()
    with Session(engine) as session:
        path = export_convention(session, args.territory, args.output, args.year)
    from observatoire.cli_parser import audit_cli_export

    audit_cli_export("convention.export", args, engine, territory=args.territory)
    print(f"Convention écrite : {path} (feuilles Convention, Actions, Indicateurs). "
          f"Modifiez-la puis : observatoire convention import {path.name} --territory "
          f"{args.territory}", file=sys.stderr)
    return 0


def cmd_convention_import(args: argparse.Namespace) -> int:
    from observatoire.evaluation.stored import import_convention

    with Session(_engine()) as session, session.begin():
        convention, version = import_convention(session, args.territory, args.file,
                                                actor=_actor(args), note=args.note,
                                                year=args.year)
    indicators = len(convention.indicators())
    if version is None:
        print(f"Convention inchangée ({len(convention.actions)} actions, {indicators} "
              "indicateurs) : aucune nouvelle version.", file=sys.stderr)
    else:
        print(f"Convention {convention.period[0]}-{convention.period[1]} enregistrée : "
              f"version {version} ({len(convention.actions)} actions, {indicators} "
              "indicateurs). Les versions précédentes sont gardées (observatoire convention "
              "history).", file=sys.stderr)
    return 0


def cmd_convention_history(args: argparse.Namespace) -> int:
    from observatoire.evaluation.stored import current_convention, target_history
    from observatoire.store.evaluation_repository import convention_versions, period_key

    with Session(_engine()) as session:
        convention = current_convention(session, args.territory, args.year)
        key = period_key(convention.period)
        versions = convention_versions(session, args.territory, key)
        changes = target_history(session, args.territory, key)
    print(f"{convention.title} : {len(versions)} version(s) enregistrée(s)")
    for v in versions:
        print(f"  v{v.version}  {v.saved_at:%d/%m/%Y %H:%M}  {v.saved_by}  {v.note or ''}")
    if not versions:
        print("  aucune : la convention livrée est lue (importez-la ou lancez "
              "observatoire demo pour l'enregistrer)")
    if not changes.empty:
        print("Objectifs, version par version :")
        for c in changes.itertuples(index=False):
            target = "retiré" if c.target is None else f"{c.target:g}"
            print(f"  v{c.version}  action {c.action}  {c.indicator}  {c.year} : {target}  "
                  f"({c.saved_by})")
    return 0


# --- figures ----------------------------------------------------------------------------------


def cmd_figures_import(args: argparse.Namespace) -> int:
    from observatoire.evaluation.stored import import_figures

    with Session(_engine()) as session, session.begin():
        stored = import_figures(session, args.territory, args.file, actor=_actor(args))
    print(f"{stored} chiffre(s) enregistré(s) ; une correction ajoute une nouvelle saisie "
          "(historique : observatoire figures history).", file=sys.stderr)
    return 0


def cmd_figures_add(args: argparse.Namespace) -> int:
    from observatoire.evaluation.stored import enter_figure

    with Session(_engine()) as session, session.begin():
        enter_figure(session, args.territory, args.indicator, args.year,
                     None if args.withdraw else args.value, actor=_actor(args),
                     quarter=args.quarter, commune_code=args.commune,
                     source=args.source, comment=args.comment)
    print("Chiffre retiré." if args.withdraw else "Chiffre enregistré.", file=sys.stderr)
    return 0


def cmd_figures_history(args: argparse.Namespace) -> int:
    from observatoire.store.evaluation_repository import figure_history

    with Session(_engine()) as session:
        history = figure_history(session, args.territory, args.indicator)
    if history.empty:
        print("Aucun chiffre saisi.")
        return 0
    for r in history.itertuples(index=False):
        period = f"{r.year}" + (f" T{int(r.quarter)}" if r.quarter == r.quarter
                                and r.quarter is not None else "")
        value = "retiré" if r.value is None or r.value != r.value else f"{r.value:g}"
        where = f" commune {r.commune_code}" if r.commune_code else ""
        print(f"{r.entered_at:%d/%m/%Y %H:%M}  {r.entered_by:<12} {r.indicator_id:<32} "
              f"{period:<8}{where} : {value}  {r.source or ''} {r.comment or ''}".rstrip())
    return 0


# --- data-sharing register ----------------------------------------------------------------------


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"date invalide : {text} (AAAA-MM-JJ)") from exc


def cmd_partner_add(args: argparse.Namespace) -> int:
    from observatoire.store.evaluation_repository import save_agreement

    with Session(_engine()) as session, session.begin():
        save_agreement(session, actor=_actor(args), partner=args.partner,
                       organisation=args.organisation, legal_basis=args.legal_basis,
                       scope=args.scope, retention_months=args.retention_months,
                       formats=args.format or [], signed_on=args.signed_on,
                       ends_on=args.ends_on)
    print(f"Convention d'échange avec « {args.partner} » enregistrée.", file=sys.stderr)
    return 0


def warn_without_agreement(engine, partner: str, *, dry_run: bool = False) -> None:  # noqa: ANN001
    """After `feed import`: say so when the sending partner has no agreement in the
    register (the import records the partner either way)."""
    from sqlalchemy.exc import SQLAlchemyError

    from observatoire.store.evaluation_repository import agreement_of

    try:
        with Session(engine) as session:
            known = agreement_of(session, partner) is not None
    except SQLAlchemyError:  # register not migrated on this database
        return
    if not known:
        print(f"avertissement : aucune convention d'échange de données enregistrée pour le "
              f"partenaire « {partner} »" + (" (essai à blanc)" if dry_run else "")
              + f" : inscrivez-la au registre (observatoire partner add {partner} "
              "--organisation … --legal-basis … --scope … --retention-months …).",
              file=sys.stderr)


def cmd_partner_list(args: argparse.Namespace) -> int:
    from observatoire.store.evaluation_repository import agreements, partners_without_agreement

    with Session(_engine()) as session:
        register = agreements(session)
        missing = partners_without_agreement(session)
    if register.empty:
        print("Registre vide : enregistrez chaque partenaire avec observatoire partner add.")
    for r in register.itertuples(index=False):
        until = f" jusqu'au {r.ends_on:%d/%m/%Y}" if r.ends_on else ""
        print(f"{r.partner} — {r.organisation}\n  base légale : {r.legal_basis}\n"
              f"  périmètre : {r.scope}\n  formats : {', '.join(r.formats) or '—'} ; "
              f"conservation : {r.retention_months} mois{until}\n  imports : {r.imports}")
    if missing:
        print("Partenaires ayant envoyé des fichiers sans convention d'échange enregistrée : "
              + ", ".join(missing))
    return 0


def add_evaluation_commands(commands: argparse._SubParsersAction) -> None:
    from observatoire.cli_parser import command_group, territory_option

    actor_help = "auteur inscrit au journal d'audit (sinon l'utilisateur du système)"
    group = command_group(
        commands, "convention", help="convention Logement d'abord : export, import, versions",
        description=("La convention du territoire (actions, indicateurs, objectifs par année) "
                     "telle que l'équipe la tient : export en tableur, import (chaque import "
                     "est une nouvelle version datée et signée), historique des objectifs."),
    )
    export = group.add_parser("export", help="écrit la convention en .xlsx")
    territory_option(export)
    export.add_argument("--year", type=int, help="année couverte (sinon la plus récente)")
    export.add_argument("--output", required=True, help="fichier .xlsx à écrire")
    export.add_argument("--actor", help=actor_help)
    export.set_defaults(func=cmd_convention_export)
    imp = group.add_parser(
        "import", help="importe la convention d'un tableur (.xlsx, ou .csv d'un tableau)",
        description=("Lit un classeur au modèle de `convention export` (ou un CSV du tableau "
                     "des actions ou des indicateurs), vérifie chaque cellule et enregistre "
                     "une nouvelle version ; au moindre problème, rien n'est enregistré et "
                     "chaque problème est listé (fichier, feuille, ligne, colonne, "
                     "correction)."))
    imp.add_argument("file", help="fichier .xlsx ou .csv")
    territory_option(imp)
    imp.add_argument("--year", type=int, help="année couverte, pour un CSV")
    imp.add_argument("--note", help="motif de la révision (gardé avec la version)")
    imp.add_argument("--actor", help=actor_help)
    imp.set_defaults(func=cmd_convention_import)
    history = group.add_parser("history", help="versions et objectifs successifs")
    territory_option(history)
    history.add_argument("--year", type=int, help="année couverte")
    history.set_defaults(func=cmd_convention_history)

    figures = command_group(
        commands, "figures", help="chiffres saisis (ce qu'aucun flux ne fournit)",
        description=("Chiffres des indicateurs que ne donne aucun fichier partenaire : par "
                     "année ou trimestre, pour le territoire ou une commune, avec source, "
                     "commentaire et auteur ; une correction ajoute une saisie."),
    )
    fimp = figures.add_parser(
        "import", help="importe un tableur de chiffres (rapport ligne à ligne)",
        description=("Colonnes : Indicateur, Année, Trimestre, Commune, Valeur, Source, "
                     "Commentaire. Au moindre problème, rien n'est enregistré."))
    fimp.add_argument("file", help="fichier .xlsx ou .csv")
    territory_option(fimp)
    fimp.add_argument("--actor", help=actor_help)
    fimp.set_defaults(func=cmd_figures_import)
    add = figures.add_parser("add", help="saisit (ou corrige) un chiffre")
    territory_option(add)
    add.add_argument("--indicator", required=True, help="identifiant de l'indicateur")
    add.add_argument("--year", type=int, required=True)
    add.add_argument("--value", type=float)
    add.add_argument("--withdraw", action="store_true", help="retire le chiffre")
    add.add_argument("--quarter", type=int, choices=[1, 2, 3, 4])
    add.add_argument("--commune", help="code INSEE (sinon tout le territoire)")
    add.add_argument("--source")
    add.add_argument("--comment")
    add.add_argument("--actor", help=actor_help)
    add.set_defaults(func=cmd_figures_add)
    hist = figures.add_parser("history", help="toutes les saisies, corrections comprises")
    territory_option(hist)
    hist.add_argument("--indicator")
    hist.set_defaults(func=cmd_figures_history)

    partner = command_group(
        commands, "partner", help="registre des conventions d'échange de données",
        description=("Partenaires qui envoient des fichiers : organisme, base légale, "
                     "périmètre, formats, durée de conservation ; `feed import --partenaire` "
                     "inscrit l'envoyeur de chaque import."),
    )
    padd = partner.add_parser("add", help="enregistre (ou met à jour) une convention")
    padd.add_argument("partner", help="code du partenaire (celui de feed import --partenaire)")
    padd.add_argument("--organisation", required=True)
    padd.add_argument("--legal-basis", required=True, help="ex. art. 6.1.e RGPD")
    padd.add_argument("--scope", required=True, help="données échangées et finalité")
    padd.add_argument("--retention-months", type=int, required=True)
    padd.add_argument("--format", action="append", help="format de flux (répétable)")
    padd.add_argument("--signed-on", type=_date)
    padd.add_argument("--ends-on", type=_date)
    padd.add_argument("--actor", help=actor_help)
    padd.set_defaults(func=cmd_partner_add)
    plist = partner.add_parser("list", help="le registre et les imports de chaque partenaire")
    plist.set_defaults(func=cmd_partner_list)
