"""Commands of the partner feeds: ``feed``, ``pseudonymise``, ``purge``, ``key``.

The secret key comes from ``--key-file``, ``OBSERVATOIRE_SECRET_KEY_FILE`` or
``OBSERVATOIRE_SECRET_KEY`` (`observatoire.config.load_secret_key`, passed down as bytes,
never printed nor logged).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from observatoire.cli_parser import audit_cli_export
from observatoire.config import KEY_ENV, KEY_FILE_ENV, load_secret_key
from observatoire.model import DEFAULT_PARTNER, ObservatoireError


def _progress(message: str) -> None:
    print(f"• {message}…", file=sys.stderr, flush=True)


def _check_report_path(args: argparse.Namespace) -> None:
    """Refuse a ``--report`` path that cannot be written before anything is read or stored
    (once an import is stored, the same file again is "déjà importé": no second chance to
    get its report)."""
    if args.report:
        from observatoire.output_files import check_writable

        check_writable(args.report, "Rapport (--report)",
                       inputs=[args.file, getattr(args, "key_file", None)])


def _warn_format_problems() -> None:
    from observatoire.feeds.formats import format_problems

    for problem in format_problems():
        print(f"avertissement : {problem}", file=sys.stderr)




def _print_report(report, args: argparse.Namespace, engine=None) -> None:  # noqa: ANN001
    print(report.to_text(limit=args.details))
    if args.report:
        report.write_csv(Path(args.report))
        audit_cli_export("feed_report", args, engine, file=Path(args.file).name,
                         report=str(args.report))
        print(f"Rapport détaillé : {args.report}")


def cmd_feed_formats(args: argparse.Namespace) -> int:
    from observatoire.feeds.formats import FORMATS_DIR_ENV, list_formats

    _warn_format_problems()
    for name, feed_format in list_formats().items():
        print(f"{name:<18} {feed_format.label}")
        if args.verbose:
            for field, spec in feed_format.fields.items():
                flags = ", ".join(
                    f for f, on in (("obligatoire", spec.required),
                                    ("identifiant", feed_format.is_identifier(field))) if on
                )
                columns = " | ".join(spec.columns)
                print(f"    {field:<18} {spec.type:<10} {columns}"
                      + (f"  ({flags})" if flags else ""))
    print(f"\nAjoutez vos formats (YAML) dans le dossier désigné par {FORMATS_DIR_ENV}.")
    return 0


NO_PARTNER_WARNING = (
    "aucun partenaire indiqué (--partenaire) : le fichier est inscrit sous le partenaire "
    f"par défaut « {DEFAULT_PARTNER} ». Le registre des partages de données (feed list, "
    "journal) doit dire quelle organisation a envoyé chaque fichier, et les lignes de deux "
    "partenaires ne sont séparées que si chacun a son nom : indiquez-le, par exemple "
    "--partenaire siao21."
)


def cmd_feed_import(args: argparse.Namespace) -> int:
    from observatoire.config import load_settings
    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import import_feed
    from observatoire.pipeline import open_database

    _check_report_path(args)
    _warn_format_problems()
    feed_format = get_format(args.format)
    key = load_secret_key(args.key_file)
    partner = args.partner
    if partner is None:
        partner = DEFAULT_PARTNER
        print(f"avertissement : {NO_PARTNER_WARNING}", file=sys.stderr)
    engine = open_database(load_settings(), _progress)
    report = import_feed(engine, Path(args.file), feed_format, key, dry_run=args.dry_run,
                         actor=args.actor, partner=partner,
                         progress=_progress if args.progress else lambda _m: None)
    _print_report(report, args, engine)
    from observatoire.cli_evaluation import warn_without_agreement

    warn_without_agreement(engine, args.partner, dry_run=args.dry_run)
    if report.status.startswith("refusé"):
        return 1
    return 0 if report.ok else 3


def cmd_feed_list(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from observatoire.config import load_settings
    from observatoire.pipeline import open_database
    from observatoire.store.feeds_repository import list_imports

    engine = open_database(load_settings(), _progress)
    with Session(engine) as session:
        imports = list_imports(session, args.limit)
        if not imports:
            print("Aucun fichier partenaire importé.")
            return 0
        print(f"{'n°':>6}  {'date':<16}  {'format':<14}  {'partenaire':<14}  "
              f"{'importées':>9}  {'mises à jour':>12}  fichier")
        for batch in imports:
            updated = (batch.report or {}).get("lignes_mises_a_jour", 0)
            state = (f"  (annulé le {batch.undone_at:%d/%m/%Y} par {batch.undone_by})"
                     if batch.undone_at is not None else "")
            print(f"{batch.id:>6}  {batch.imported_at:%d/%m/%Y %H:%M}  "
                  f"{batch.format_name:<14}  {batch.partner:<14}  {batch.rows_imported:>9}  "
                  f"{updated:>12}  {batch.file_name}{state}")
    print("\nAnnuler un import : observatoire feed undo N° (le plus récent d'abord s'ils "
          "touchent les mêmes lignes).")
    return 0


def cmd_feed_undo(args: argparse.Namespace) -> int:
    from observatoire.config import load_settings
    from observatoire.feeds.importer import undo_import
    from observatoire.pipeline import open_database

    engine = open_database(load_settings(), _progress)
    done = undo_import(engine, args.import_id, actor=args.actor)
    print(f"Import n° {done['import_id']} ({done['fichier']}) annulé (inscrit au journal "
          f"d'audit) : {done['enregistrements_supprimes']} enregistrements supprimés, "
          f"{done['enregistrements_restaures']} remis dans leur état précédent, "
          f"{done['decomptes_supprimes']} décomptes et "
          f"{done['lignes_en_quarantaine_supprimees']} lignes en quarantaine supprimés. "
          "Le même fichier peut de nouveau être importé.")
    return 0


def cmd_pseudonymise(args: argparse.Namespace) -> int:
    from observatoire.feeds.formats import get_format
    from observatoire.feeds.importer import pseudonymise_file
    from observatoire.output_files import check_writable

    _check_report_path(args)
    _warn_format_problems()
    feed_format = get_format(args.format)
    key = load_secret_key(args.key_file)
    output = Path(args.output)
    if output.resolve() == Path(args.file).resolve():
        raise ObservatoireError("Le fichier de sortie doit être différent du fichier d'origine.")
    check_writable(output, "Fichier pseudonymisé (--output)",
                   inputs=[args.file, args.key_file, args.report])
    report = pseudonymise_file(Path(args.file), feed_format, key, output)
    _print_report(report, args)
    if report.status.startswith("refusé"):
        return 1
    audit_cli_export("pseudonymise", args, file=Path(args.file).name, output=str(output),
                     format=feed_format.name, rows=report.rows_imported)
    return 0 if report.ok else 3


def cmd_purge(args: argparse.Namespace) -> int:
    from observatoire.config import load_settings
    from observatoire.countnight.lifecycle import purge_expired_nights
    from observatoire.exports import cli_actor
    from observatoire.feeds.importer import purge_expired
    from observatoire.pipeline import open_database

    engine = open_database(load_settings(), _progress)
    actor = cli_actor(args.actor)
    result = purge_expired(engine, args.retention_days, actor=actor)
    print(f"Purge des contacts antérieurs au {result['date_limite']:%d/%m/%Y} : "
          f"{result['enregistrements']} enregistrements et "
          f"{result['lignes_en_quarantaine']} lignes en quarantaine supprimés "
          "(inscrit au journal d'audit).")
    nights = purge_expired_nights(engine, args.retention_days, actor=actor)
    print(f"Nuits de comptage antérieures au {nights['date_limite']:%d/%m/%Y} : "
          f"{nights['fiches_de_nuit_minimisees']} fiches réduites aux réponses publiées "
          f"(commentaires, initiales, année de naissance, santé, position et heure "
          f"supprimés), {nights['corrections_supprimees']} corrections, "
          f"{nights['liens_supprimes']} rapprochements et "
          f"{nights['fiches_entrainement_supprimees']} fiches d'entraînement supprimés ; "
          "chiffres publiés inchangés (inscrit au journal d'audit).")
    return 0


def cmd_key_generate(args: argparse.Namespace) -> int:
    from observatoire.pseudonymise import generate_key

    output = Path(args.output)
    if output.exists():
        raise ObservatoireError(
            f"{output} existe déjà : une clé ne se remplace pas (les pseudonymes déjà calculés "
            "ne correspondraient plus). Choisissez un autre chemin."
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(generate_key() + "\n")
    print(f"Clé écrite dans {output} (lisible par vous seul). Conservez-en une copie sûre, "
          "hors de la base et de ses sauvegardes ; transmettez-la aux partenaires par un canal "
          f"sûr.\nUtilisation : export {KEY_FILE_ENV}={output}")
    return 0


def _report_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, metavar="NOM",
                        help="format du fichier (voir `observatoire feed formats`) ou chemin "
                        "d'un fichier YAML")
    parser.add_argument("--key-file", metavar="FICHIER",
                        help=f"fichier de la clé secrète (sinon {KEY_FILE_ENV} ou {KEY_ENV})")
    parser.add_argument("--report", metavar="RAPPORT.csv",
                        help="écrit le détail des erreurs et avertissements dans ce CSV")
    parser.add_argument("--details", type=int, default=30, metavar="N",
                        help="nombre de problèmes détaillés à l'écran (30)")
    parser.add_argument("--actor", help="auteur inscrit au journal d'audit (sinon "
                        "l'utilisateur du système)")


def add_feed_commands(commands) -> None:  # noqa: ANN001 - argparse subparsers action
    """Register ``feed``, ``pseudonymise``, ``purge`` and ``key`` on the main parser."""
    from observatoire.cli_parser import command_group

    actor_help = "auteur inscrit au journal (votre nom d'utilisateur par défaut)"
    feed_commands = command_group(
        commands, "feed", help="flux des partenaires (SI-SIAO, 115, maraudes…)",
        description="Import des fichiers envoyés par les partenaires.",
    )
    formats = feed_commands.add_parser(
        "formats", help="liste les formats de fichiers connus",
        description="Liste les formats de flux (fichiers YAML) et, avec -v, leurs colonnes.",
    )
    formats.add_argument("-v", "--verbose", action="store_true",
                         help="affiche les champs et colonnes de chaque format")
    formats.set_defaults(func=cmd_feed_formats)
    imp = feed_commands.add_parser(
        "import", help="importe un fichier partenaire (pseudonymisé à l'entrée)",
        description=(
            "Lit, vérifie ligne à ligne, pseudonymise et enregistre un fichier partenaire, en "
            "une seule transaction.\nLes lignes en erreur sont mises en quarantaine ; le même "
            "fichier importé deux fois n'ajoute rien.\n\nExemple :\n"
            "  observatoire feed import extraction.csv --format si_siao --dry-run"
        ),
    )
    imp.add_argument("file", help="fichier CSV ou XLSX")
    _report_options(imp)
    imp.add_argument("--dry-run", action="store_true",
                     help="affiche le rapport sans rien enregistrer")
    imp.add_argument("--progress", action="store_true", help="affiche l'avancement")
    imp.add_argument("--partenaire", "--partner", dest="partner", default=None,
                     metavar="NOM",
                     help="organisation qui a envoyé le fichier, par ex. siao21 : inscrite au "
                     "registre des partages (feed list, journal) ; les lignes de deux "
                     "partenaires ne se mélangent jamais, même à numéro égal "
                     f"(sans elle : {DEFAULT_PARTNER}, le partenaire habituel de la source, "
                     "avec un avertissement)")
    imp.set_defaults(func=cmd_feed_import)

    listing = feed_commands.add_parser(
        "list", help="liste les imports (numéros, formats, partenaires)",
        description="Liste les derniers imports de fichiers partenaires, avec leur numéro "
        "(pour `observatoire feed undo`).",
    )
    listing.add_argument("--limit", type=int, default=50, metavar="N",
                         help="nombre d'imports affichés, du plus récent au plus ancien (50)")
    listing.set_defaults(func=cmd_feed_list)

    undo = feed_commands.add_parser(
        "undo", help="annule un import (lignes ajoutées supprimées, mises à jour défaites)",
        description=(
            "Annule un import, en une transaction inscrite au journal d'audit : les lignes "
            "qu'il a ajoutées sont supprimées, celles qu'il a mises à jour retrouvent leur "
            "contenu d'avant, ses lignes en quarantaine et décomptes sont supprimés.\nRefusé "
            "si un import plus récent a modifié les mêmes lignes (annulez-le d'abord).\n\n"
            "Exemple :\n  observatoire feed list\n  observatoire feed undo 12"
        ),
    )
    undo.add_argument("import_id", type=int, metavar="IMPORT_ID",
                      help="numéro de l'import (voir `observatoire feed list`)")
    undo.add_argument("--actor", help=actor_help)
    undo.set_defaults(func=cmd_feed_undo)

    pseudo = commands.add_parser(
        "pseudonymise", help="pseudonymise un fichier chez le partenaire, avant envoi",
        description=(
            "Remplace noms, dates de naissance, téléphones et identifiants par des pseudonymes "
            "calculés avec la clé du territoire.\nLe fichier produit ne contient aucun nom en "
            "clair et s'importe comme les autres.\n\nExemple :\n"
            "  observatoire pseudonymise appels.csv --format appels_115 --output appels_pseudo.csv"
        ),
    )
    pseudo.add_argument("file", help="fichier du partenaire (CSV ou XLSX)")
    pseudo.add_argument("--output", required=True, metavar="SORTIE.csv",
                        help="fichier pseudonymisé à écrire")
    _report_options(pseudo)
    pseudo.set_defaults(func=cmd_pseudonymise)

    purge = commands.add_parser(
        "purge", help="supprime les données dont la durée de conservation est dépassée",
        description="Supprime les enregistrements partenaires dont le dernier contact est plus "
        "ancien que la durée de conservation, et réduit les fiches des nuits de comptage plus "
        "anciennes aux réponses que les tableaux publiés comptent ; la purge est inscrite au "
        "journal d'audit.",
    )
    purge.add_argument("--retention-days", type=int, default=730, metavar="JOURS",
                       help="durée de conservation en jours après le dernier contact, et "
                       "après la nuit pour les fiches de comptage (730)")
    purge.add_argument("--actor", help="auteur inscrit au journal (sinon l'utilisateur du "
                       "système)")
    purge.set_defaults(func=cmd_purge)

    key_commands = command_group(commands, "key", help="clé secrète de pseudonymisation",
                                 description="Gestion de la clé secrète du territoire.")
    generate = key_commands.add_parser(
        "generate", help="crée une nouvelle clé secrète dans un fichier",
        description="Écrit une clé aléatoire de 256 bits dans un fichier lisible par vous seul.",
    )
    generate.add_argument("--output", required=True, metavar="FICHIER",
                          help="fichier à créer (hors de la base de données)")
    generate.set_defaults(func=cmd_key_generate)
