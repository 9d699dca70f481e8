"""Command line and wiring of indicators, publication and accounts.

``observatoire publish``: the disclosure-controlled report of a count night (HTML, PNG,
CSV, XLSX), written to the audit log. ``observatoire user``: accounts (staff, admins).
``observatoire indicators history``: past synthetic count nights, to show trends.

`load_inputs` and `load_publication` are also what the dashboards call.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from observatoire.indicators import IndicatorInputs
from observatoire.model import ObservatoireError
from observatoire.publish import DisclosureRules, Publication, build_publication

SYSTEM_ACTOR = "observatoire"


def load_inputs(engine: Engine, territory_slug: str, *, with_feeds: bool = True) -> IndicatorInputs:
    """The indicator inputs of a territory read from the database."""
    from observatoire.store.indicators_repository import load_inputs as load_frames

    with Session(engine) as session:
        return IndicatorInputs(**load_frames(session, territory_slug, with_feeds=with_feeds))


def disclosure_rules(engine: Engine, threshold: int | None = None,
                     rounding: int | None = None) -> DisclosureRules:  # fmt: skip
    """The installation's rules (admin settings), overridden by explicit values."""
    from observatoire.store.access_repository import get_setting

    with Session(engine) as session:
        stored_threshold = int(get_setting(session, "publication.threshold"))
        stored_rounding = int(get_setting(session, "publication.rounding") or 0)
    return DisclosureRules(
        threshold=threshold or stored_threshold,
        rounding=(rounding if rounding is not None else stored_rounding) or None,
    )


def load_publication(
    engine: Engine,
    territory_slug: str,
    campaign_id: int | None = None,
    rules: DisclosureRules | None = None,
) -> tuple[Publication, gpd.GeoDataFrame]:
    """The publication of a count night (the latest by default) and the commune shapes."""
    from observatoire.store import repository

    inputs = load_inputs(engine, territory_slug, with_feeds=False)
    with Session(engine) as session:
        territory = repository.get_territory(session, territory_slug)
        name = territory.name
        geometries = repository.territory_communes(session, territory_slug)
    synthetic = inputs.campaigns["name"].astype(str).str.contains("synthétique").any()
    publication = build_publication(
        inputs, campaign_id, rules or disclosure_rules(engine), territory_name=name,
        synthetic=bool(synthetic),
    )  # fmt: skip
    return publication, geometries


# --- commands ----------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"• {message}…", file=sys.stderr, flush=True)


def _engine() -> Engine:
    from observatoire.config import load_settings
    from observatoire.pipeline import open_database

    return open_database(load_settings())


def cmd_publish(args: argparse.Namespace) -> int:
    from observatoire.publish.export import export_publication
    from observatoire.store import repository

    engine = _engine()
    rules = disclosure_rules(engine, args.threshold, args.rounding)
    _progress(f"Préparation de la publication (seuil {rules.threshold})")
    publication, geometries = load_publication(engine, args.territory, args.campaign, rules)
    files = export_publication(publication, geometries, Path(args.output), tuple(args.formats))
    with Session(engine) as session, session.begin():
        repository.record_audit(
            session, args.actor, "publish.export", territory=args.territory,
            campaign=publication.campaign, threshold=rules.threshold, rounding=rules.rounding,
            files=[p.name for p in files.values()],
        )  # fmt: skip
    for kind, path in files.items():
        print(f"{kind}\t{path}")
    return 0


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
    from observatoire.pipeline import add_sample_history, open_database

    settings = load_settings()
    engine = open_database(settings)
    _progress("Génération des nuits de comptage des années précédentes")
    created = add_sample_history(engine, args.territory, settings=settings)
    print(f"{len(created)} nuit(s) de comptage ajoutée(s).")
    return 0


def cmd_target(args: argparse.Namespace) -> int:
    from observatoire.store.indicators_repository import set_target

    with Session(_engine()) as session, session.begin():
        set_target(session, args.territory, args.indicator, args.year, args.target,
                   actor=args.actor, convention=args.convention)  # fmt: skip
    print(f"Objectif {args.indicator} {args.year} : {args.target}")
    return 0


def add_publish_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``publish``, ``user`` and ``indicators`` to the ``observatoire`` command line."""
    from observatoire.cli import command_group

    territory_default = os.environ.get("OBSERVATOIRE_TERRITORY", "dijon-metropole")
    actor_default = os.environ.get("USER", SYSTEM_ACTOR)

    publish = commands.add_parser(
        "publish", help="exporte la carte et le rapport publiables (secret statistique)",
        description="Écrit la publication d'une nuit de comptage : page HTML autonome, carte "
        "PNG, tableaux CSV et XLSX.\nSeuls des chiffres agrégés et protégés y figurent "
        "(secret primaire et secondaire).\n\nExemple :\n  observatoire publish --output "
        "publication/ --threshold 11 --rounding 5",
    )  # fmt: skip
    publish.add_argument("--territory", metavar="SLUG", default=territory_default,
                         help="territoire (dijon-metropole par défaut)")
    publish.add_argument("--campaign", type=int, default=None,
                         help="identifiant de la nuit de comptage (la dernière par défaut)")
    publish.add_argument("--output", required=True, help="dossier de sortie")
    publish.add_argument("--threshold", type=int, default=None,
                         help="effectif minimal publié (réglage de l'installation, 11 par défaut)")
    publish.add_argument("--rounding", type=int, default=None,
                         help="arrondi des effectifs publiés (par ex. 5 ; 0 : aucun)")
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
    add.add_argument("--role", choices=["staff", "admin"], default="staff",
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
        description="Fixe l'objectif de la convention pour un indicateur et une année.",
    )
    target.add_argument("indicator", help="identifiant du catalogue (ex. exits_to_housing)")
    target.add_argument("year", type=int, help="année")
    target.add_argument("target", type=float, help="valeur cible")
    target.add_argument("--convention", help="référence de la convention")
    target.add_argument("--territory", metavar="SLUG", default=territory_default)
    target.add_argument("--actor", default=actor_default, help="auteur inscrit au journal")
    target.set_defaults(func=cmd_target)  # fmt: skip


__all__ = [
    "ObservatoireError",
    "add_publish_commands",
    "disclosure_rules",
    "load_inputs",
    "load_publication",
]
