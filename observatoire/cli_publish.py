"""Command line and wiring of indicators, publication and accounts.

``observatoire publish``: the disclosure-controlled report of a count night (HTML, PNG,
CSV, XLSX), written to the audit log. ``observatoire user``: accounts (staff, admins).
``observatoire indicators history``: past synthetic count nights, to show trends.

`load_inputs` and `disclosure_rules` are also what the publication workflow
(`observatoire.nights`) calls.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from observatoire.cli_parser import Session
from observatoire.model import ObservatoireError

if TYPE_CHECKING:  # imported by the commands that run, not by --help
    from sqlalchemy import Engine

    from observatoire.publish import Publication


SYSTEM_ACTOR = "observatoire"


# What the commands and the pages read, from the library (no page imports the CLI).
# Imported when first asked for, not with the module: ``observatoire --help`` builds every
# parser and must not import pandas and the indicators for it.
_LAZY = {"load_inputs": "observatoire.indicators.service",
         "disclosure_rules": "observatoire.publish.rules"}


def __getattr__(name: str):  # noqa: ANN202 - module attributes, PEP 562
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# --- commands ----------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"• {message}…", file=sys.stderr, flush=True)


def _engine() -> Engine:
    from observatoire.config import load_settings
    from observatoire.pipeline import open_database

    return open_database(load_settings())


def cmd_publish(args: argparse.Namespace) -> int:
    from observatoire.nights import published_publication
    from observatoire.publish.export import export_publication
    from observatoire.store import repository

    engine = _engine()
    if args.threshold is not None or args.rounding is not None:
        raise ObservatoireError(
            "--threshold et --rounding ne s'appliquent plus à l'export : les chiffres publiés "
            "sont ceux de la version publiée. Changez les réglages de publication puis "
            "publiez une nouvelle version avec `observatoire nuit publish ID`."
        )
    _progress("Lecture de la version publiée")
    publication, geometries = published_publication(engine, args.territory, args.campaign)
    files = export_publication(publication, geometries, Path(args.output), tuple(args.formats))
    with Session(engine) as session, session.begin():
        repository.record_audit(
            session, args.actor, "publish.export", territory=args.territory,
            campaign=publication.campaign, version=publication.version,
            threshold=publication.rules.threshold, rounding=publication.rules.rounding,
            files=[p.name for p in files.values()],
        )  # fmt: skip
    for kind, path in files.items():
        print(f"{kind}\t{path}")
    _print_estimates(publication, sys.stderr)
    if args.campaign is None:
        from observatoire.nights import newer_unpublished_notice

        notice = newer_unpublished_notice(engine, args.territory, publication)
        if notice:
            print(notice, file=sys.stderr)
    return 0


def _print_estimates(publication: Publication, stream: TextIO) -> None:
    """The publication's estimates as it words them (`observatoire.indicators.wording`)."""
    from observatoire.publish.report import ESTIMATE_LABELS

    figures = publication.key_figures.set_index("indicateur")["valeur"]
    for label in ESTIMATE_LABELS:
        if label in figures.index:
            print(f"{label} : {figures[label]}", file=stream)


def cmd_user_add(args: argparse.Namespace) -> int:
    from observatoire.access import check_password
    from observatoire.store.access_repository import create_user

    if args.password is not None or os.environ.get("OBSERVATOIRE_NEW_PASSWORD"):
        raise ObservatoireError(
            "Mot de passe refusé en argument ou en variable d'environnement : la ligne de "
            "commande se lit dans « ps » et l'historique du shell. Tapez-le à l'invite, ou "
            "passez-le par l'entrée standard : printf '%s\\n' \"$MDP\" | observatoire user "
            "add LOGIN --password-stdin."
        )
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise ObservatoireError("--password-stdin : aucun mot de passe lu sur l'entrée "
                                    "standard (une ligne attendue).")  # fmt: skip
    elif not args.oidc:
        if not sys.stdin.isatty():
            # getpass would read the pipe with the password echoed, then fail on EOF.
            raise ObservatoireError(
                "Pas de terminal pour taper le mot de passe : passez-le par l'entrée "
                "standard avec --password-stdin (printf '%s\\n' \"$MDP\" | observatoire "
                "user add LOGIN --password-stdin)."
            )
        password = getpass.getpass("Mot de passe (12 caractères au moins, pas un mot courant) : ")
        if getpass.getpass("Le même mot de passe, encore : ") != password:
            raise ObservatoireError("Les deux mots de passe tapés diffèrent : recommencez.")
    if password is not None:
        check_password(password, args.login)
    with Session(_engine()) as session, session.begin():
        create_user(session, args.login, args.name or args.login, args.role,
                    None if args.oidc else password, actor=args.actor)  # fmt: skip
    print(f"Compte {args.login} créé ({args.role}).")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from observatoire.store.access_repository import list_users

    with Session(_engine()) as session:
        users = list_users(session)
    for row in users.itertuples():
        state = "actif" if row.active else "désactivé"
        print(f"{row.login:<32} {row.role:<8} {state:<10} {row.display_name}")
    if users.empty:
        print("(aucun compte ; créez-en un avec : observatoire user add LOGIN --role admin)")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from observatoire.config import load_settings
    from observatoire.pipeline import open_database
    from observatoire.sample_database import add_sample_history

    settings = load_settings()
    engine = open_database(settings)
    _progress("Génération des nuits de comptage des années précédentes")
    created = add_sample_history(engine, args.territory, settings=settings)
    print(f"{len(created)} nuit(s) de comptage ajoutée(s).")
    return 0


def cmd_target(args: argparse.Namespace) -> int:
    from observatoire.evaluation.stored import set_target

    with Session(_engine()) as session, session.begin():
        version = set_target(session, args.territory, args.indicator, args.year, args.target,
                             actor=args.actor, action=args.action)
    print(f"Objectif {args.indicator} {args.year} : {args.target:g} (convention, "
          + (f"version {version})" if version else "inchangée)"))
    return 0


def cmd_night_list(args: argparse.Namespace) -> int:
    from observatoire.nights import list_nights

    nights = list_nights(_engine(), args.territory)
    if nights.empty:
        print("(aucune nuit de comptage ; créez-en une sur la page Campagnes)")
        return 0
    print(f"{'ID':>4}  {'Nuit':<10}  {'Statut':<20} {'Équipes':>7} {'Secteurs':>14}  "
          "Version publiée  Nom")
    for n in nights.itertuples(index=False):
        published = (f"v{n.version} du {n.published_at:%d/%m/%Y}" if n.version else "—")
        print(f"{n.campaign_id:>4}  {n.night_date:%d/%m/%Y}  {n.statut:<20} {n.teams:>7} "
              f"{f'{n.walked}/{n.sectors}':>14}  {published:<15}  {n.name}")
        if args.codes:
            _print_team_codes(n.campaign_id)
    return 0


def _print_team_codes(campaign_id: int) -> None:
    """The night's team codes (what the printed sheets carry) and whether they still open
    the entry page (`observatoire.countnight.entry.team_code_state`)."""
    from observatoire.countnight import entry
    from observatoire.countnight.team_sheets import team_sheets_table

    sheet = team_sheets_table(_engine(), campaign_id)
    if sheet.empty:
        print("      (aucune équipe)")
        return
    state = entry.team_code_state(_engine(), sheet["team_code"].iloc[0])
    print(f"      codes d'équipe : {state}")
    for team in sheet.groupby(["team_code", "team_name"], sort=False):
        (code, name), rows = team
        print(f"      {code}  {name} — secteur(s) {', '.join(rows['sector_code'])}")


def cmd_night_close(args: argparse.Namespace) -> int:
    from observatoire.nights import close_night

    close_night(_engine(), args.id, args.actor)
    print(f"Nuit n°{args.id} close : plus aucune saisie acceptée. Étape suivante : "
          f"observatoire nuit validate {args.id}")
    return 0


def cmd_night_validate(args: argparse.Namespace) -> int:
    from observatoire.nights import validate_night

    comment = (args.commentaire or "").strip()
    if args.signer_les_anomalies and not comment:
        raise ObservatoireError(
            "--signer-les-anomalies demande un commentaire qui dit pourquoi les chiffres "
            "restent publiables : ajoutez --commentaire \"…\"."
        )
    problems = validate_night(_engine(), args.id, args.actor,
                              sign_off=comment if args.signer_les_anomalies else None)
    for problem in problems:
        print(f"Anomalie signée : {problem}")
    print(f"Nuit n°{args.id} validée. Étape suivante : observatoire nuit publish {args.id}")
    return 0


def cmd_night_publish(args: argparse.Namespace) -> int:
    from observatoire.nights import publish_night
    from observatoire.publish.rules import disclosure_rules

    engine = _engine()
    rules = disclosure_rules(engine, args.threshold, args.rounding)
    key = None
    if args.perturbation:
        from dataclasses import replace

        from observatoire.config import load_secret_key

        rules, key = replace(rules, perturbation=True), load_secret_key(args.key_file)
    _progress(f"Protection des chiffres et contrôle par différence (seuil {rules.threshold})")
    if args.estimation_totale:
        _progress("Estimation de la population totale (systèmes multiples)")
    publication = publish_night(engine, args.id, args.actor, rules, note=args.note,
                                perturbation_key=key,
                                with_hidden_estimate=args.estimation_totale)  # fmt: skip
    print(f"Nuit n°{args.id} publiée : {publication.data_note}")
    _print_estimates(publication, sys.stdout)
    return 0


def add_night_commands(nights: argparse._SubParsersAction) -> None:
    """``observatoire nuit list|close|validate|publish``: the publication workflow (in the
    ``nuit`` group of `observatoire.cli_survey`)."""
    territory_default = os.environ.get("OBSERVATOIRE_TERRITORY")
    actor_default = os.environ.get("USER", SYSTEM_ACTOR)
    listing = nights.add_parser("list", help="liste les nuits, leur statut et leurs versions",
                                description="Liste les nuits de comptage.")  # fmt: skip
    listing.add_argument("--territory", metavar="SLUG", default=territory_default,
                         help="territoire (tous par défaut)")
    listing.add_argument("--codes", action="store_true",
                         help="affiche aussi les codes d'équipe de chaque nuit (pour ouvrir "
                         "la saisie /saisie?equipe=CODE) et s'ils sont encore valides")
    listing.set_defaults(func=cmd_night_list)
    for name, func, text in (
        ("close", cmd_night_close, "clôt la saisie (coordination)"),
        ("validate", cmd_night_validate, "valide les chiffres d'une nuit close (équipe)"),
        ("publish", cmd_night_publish, "publie une nuit validée (ou une correction : "
         "nouvelle version)"),
    ):  # fmt: skip
        step = nights.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
        step.add_argument("id", type=int, help="identifiant de la nuit (observatoire nuit list)")
        step.add_argument("--actor", default=actor_default, help="auteur inscrit au journal")
        if name == "validate":
            step.add_argument("--signer-les-anomalies", action="store_true",
                              help="valide malgré les anomalies du panneau de qualité "
                              "(inscrites au journal avec le commentaire)")
            step.add_argument("--commentaire", default=None,
                              help="pourquoi les anomalies n'empêchent pas la publication")
        if name == "publish":
            step.add_argument("--threshold", type=int, default=None,
                              help="effectif minimal publié (réglage de l'installation)")
            step.add_argument("--rounding", type=int, default=None,
                              help="arrondi des effectifs publiés (0 : aucun)")
            step.add_argument("--note", default=None, help="motif d'une correction")
            step.add_argument("--perturbation", action="store_true",
                              help="perturbation par clé de cellule (méthode ONS) avant le "
                              "seuil ; demande la clé secrète")
            step.add_argument("--estimation-totale", action="store_true",
                              help="publie aussi l'estimation de la population totale "
                              "(systèmes multiples), en intervalle seulement")
            step.add_argument("--key-file", default=None,
                              help="fichier de la clé secrète (OBSERVATOIRE_SECRET_KEY_FILE)")
        step.set_defaults(func=func)  # fmt: skip


def add_publish_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``publish``, ``user`` and ``indicators`` to the ``observatoire`` command line."""
    from observatoire.cli_parser import command_group

    territory_default = os.environ.get("OBSERVATOIRE_TERRITORY", "dijon-metropole")
    actor_default = os.environ.get("USER", SYSTEM_ACTOR)

    publish = commands.add_parser(
        "publish", help="exporte la carte et le rapport publiables (secret statistique)",
        description="Écrit la publication d'une nuit de comptage : page HTML autonome, carte "
        "PNG, tableaux CSV et XLSX.\nSeuls des chiffres agrégés et protégés y figurent "
        "(secret primaire et secondaire), ceux de la dernière version publiée de la nuit "
        "(observatoire nuit publish ID).\n\nExemple :\n  observatoire publish --output "
        "publication/",
    )  # fmt: skip
    publish.add_argument("--territory", metavar="SLUG", default=territory_default,
                         help="territoire (dijon-metropole par défaut)")
    publish.add_argument("--campaign", type=int, default=None,
                         help="identifiant de la nuit de comptage (la dernière publiée par "
                         "défaut)")
    publish.add_argument("--output", required=True, help="dossier de sortie")
    publish.add_argument("--threshold", type=int, default=None, help=argparse.SUPPRESS)
    publish.add_argument("--rounding", type=int, default=None, help=argparse.SUPPRESS)
    publish.add_argument("--formats", nargs="+", default=["html", "png", "csv", "xlsx"],
                         choices=["html", "png", "csv", "xlsx"], help="formats à écrire (tous)")
    publish.add_argument("--actor", default=actor_default, help="auteur inscrit au journal")
    publish.set_defaults(func=cmd_publish)  # fmt: skip

    user_commands = command_group(commands, "user", help="comptes (équipe, administrateurs)",
                                  description="Comptes de l'équipe de l'observatoire.")
    add = user_commands.add_parser("add", help="crée un compte",
                                   description="Crée un compte équipe ou administrateur.")
    add.add_argument("login", help="identifiant (ou adresse e-mail pour la connexion OIDC)")
    add.add_argument("--name", help="nom affiché")
    add.add_argument("--role", choices=["staff", "admin", "monitoring"], default="staff",
                     help="rôle (staff par défaut)")
    add.add_argument("--password-stdin", action="store_true",
                     help="lit le mot de passe sur l'entrée standard (scripts) ; demandé sinon")
    add.add_argument("--password", help=argparse.SUPPRESS)  # refused: it shows in ps
    add.add_argument("--oidc", action="store_true", help="compte sans mot de passe (st.login)")
    add.add_argument("--actor", default=actor_default, help="auteur inscrit au journal")
    add.set_defaults(func=cmd_user_add)
    user_commands.add_parser("list", help="liste les comptes",
                             description="Liste les comptes.").set_defaults(func=cmd_user_list)

    ind_commands = command_group(commands, "indicators", help="indicateurs et objectifs",
                                 description="Indicateurs, objectifs de la convention.")
    history = ind_commands.add_parser(
        "history", help="ajoute 4 nuits synthétiques passées (2022-2025) pour les tendances",
        description="Ajoute des nuits de comptage synthétiques des années précédentes.",
    )
    history.add_argument("--territory", metavar="SLUG", default=territory_default)
    history.set_defaults(func=cmd_history)
    target = ind_commands.add_parser(
        "target", help="fixe l'objectif annuel d'un indicateur (convention)",
        description="Fixe l'objectif pour un indicateur et une année dans la convention qui "
                    "couvre l'année (nouvelle version de la convention, comme la page "
                    "Convention).",
    )
    target.add_argument("indicator", help="identifiant de l'indicateur (ex. exits_to_housing)")
    target.add_argument("year", type=int, help="année")
    target.add_argument("target", type=float, help="valeur cible")
    target.add_argument("--action", metavar="N°",
                        help="numéro de l'action (toutes celles qui ont l'indicateur sinon)")
    target.add_argument("--territory", metavar="SLUG", default=territory_default)
    target.add_argument("--actor", default=actor_default, help="auteur inscrit au journal")
    target.set_defaults(func=cmd_target)  # fmt: skip


__all__ = [
    "ObservatoireError",
    "add_night_commands",
    "add_publish_commands",
]
