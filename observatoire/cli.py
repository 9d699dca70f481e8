"""The ``observatoire`` command line (French help, French messages).

Errors the toolkit raises on purpose (`ObservatoireError`) are printed as one clear
message with exit status 2, never as a traceback. Any other error (the database's, a bug)
gets a short French message; its details (never the statements' values, see
`observatoire.store.db.make_engine`) go to ``erreurs.log`` in the data directory, or to the
screen with ``OBSERVATOIRE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from observatoire import __version__
from observatoire.cli_parser import Parser, command_group, territory_option
from observatoire.config import load_settings, redact_url
from observatoire.model import ObservatoireError, TerritoryKind

STRESS_SCENARIOS = ("namesakes", "sparse", "clean", "large_families", "french_names",
                    "dense_namesakes")
"""Names of `observatoire.synthetic.stress.SCENARIOS`, written here so that ``--help`` does
not import the generators (a test checks that both lists agree)."""

# The app behind its HTTP security headers (`observatoire.web`), in Streamlit's ASGI mode.
APP_SCRIPT = Path(__file__).resolve().parent.parent / "serve.py"


def _progress(message: str) -> None:
    print(f"• {message}…", file=sys.stderr, flush=True)


# --- commands ------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from observatoire.pipeline import open_database
    from observatoire.store.db import current_revision
    from observatoire.store.feed_aggregates import refresh_feed_aggregates

    settings = load_settings()
    engine = open_database(settings, _progress)
    # A schema that just gained the stored aggregates (0009) has none yet: compute them now
    # rather than at the first visit of each page.
    _progress("Calcul des agrégats des tableaux de bord")
    with Session(engine) as session, session.begin():
        refresh_feed_aggregates(session)
    print(f"Base {redact_url(settings.database_url)} : schéma {current_revision(engine)}")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    from observatoire.store.db import current_revision, head_revision, make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url, settings.lock_wait)
    current = current_revision(engine)
    head = head_revision()
    print(f"Base : {redact_url(settings.database_url)}")
    print(f"Schéma : {current or 'vide'} (dernière version : {head})")
    if current != head:
        print("Mettez la base à jour avec : observatoire db upgrade")
        return 1
    return 0


def cmd_sample_build(args: argparse.Namespace) -> int:
    from observatoire.sample_database import build_sample_database

    settings = load_settings()
    result = build_sample_database(
        settings,
        args.territory,
        seed=args.seed,
        n_people=args.people,
        reset=args.reset,
        history=not args.no_history,
        partner_feeds=not args.no_feeds,
        progress=_progress,
    )
    if result.created:
        print(f"Échantillon chargé : {result.observations} observations, fichiers dans "
              f"{settings.samples_dir / args.territory}")
    return 0


def cmd_sample_generate(args: argparse.Namespace) -> int:
    from observatoire.geo.sectors import generate_grid_sectors
    from observatoire.geo.territories import load_reference_territory
    from observatoire.synthetic import generate_sample, write_sample

    _progress(f"Chargement du territoire {args.territory}")
    communes = load_reference_territory(args.territory)
    _progress("Découpage en secteurs")
    sectors = generate_grid_sectors(communes, args.sector_size)
    _progress(f"Génération (graine {args.seed})")
    sample = generate_sample(communes, sectors, seed=args.seed, n_people=args.people)
    files = write_sample(sample, Path(args.output))
    for name, path in sorted(files.items()):
        print(f"{name}\t{path}")
    return 0


def cmd_sample_stress(args: argparse.Namespace) -> int:
    from observatoire.synthetic.stress import generate_stress, stress_scenario, write_stress

    scenario = stress_scenario(args.scenario, people=args.people, seed=args.seed)
    _progress(f"Génération du scénario {scenario.name} ({scenario.people} personnes, "
              f"graine {scenario.seed})")
    sample = generate_stress(scenario)
    files = write_stress(sample, Path(args.output))
    print(f"{len(sample.records)} enregistrements de {scenario.people} personnes")
    for name, path in sorted(files.items()):
        print(f"{name}\t{path}")
    return 0


def cmd_territory_list(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from observatoire.geo.territories import list_reference_territories
    from observatoire.pipeline import open_database
    from observatoire.store import repository

    print("Territoires de référence fournis (data_samples/territoires) :")
    for ref in list_reference_territories():
        print(f"  {ref['slug']:<28} {ref['nom']} (COG {ref['cog_year']})")
    engine = open_database(load_settings())
    with Session(engine) as session:
        stored = repository.list_territories(session)
        print("Territoires enregistrés dans la base :")
        for t in stored:
            print(f"  {t.slug:<28} {t.name} ({len(t.communes)} communes, COG {t.cog_year})")
        if not stored:
            print("  (aucun)")
    return 0


def cmd_territory_import(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from observatoire.pipeline import import_reference_territory, import_territory, open_database

    engine = open_database(load_settings(), _progress)
    if args.reference:
        with Session(engine) as session, session.begin():
            row = import_reference_territory(session, args.reference)
            print(f"Territoire {row.slug} enregistré : {len(row.communes)} communes")
        return 0
    if not (args.file or args.cartiflette) or not args.slug or not args.name:
        raise ObservatoireError(
            "Indiquez un fichier (ou --cartiflette CODES), --slug et --name, "
            "ou --reference SLUG pour un territoire fourni. Voir : "
            "observatoire territory import --help"
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", args.slug):
        raise ObservatoireError(
            f"Identifiant de territoire invalide : {args.slug!r}. Utilisez des minuscules sans "
            "accent, des chiffres et des tirets, par exemple grand-nancy."
        )
    if args.cartiflette:
        from observatoire.geo.territories import fetch_cartiflette

        _progress("Téléchargement des contours via cartiflette")
        communes = fetch_cartiflette(args.cartiflette, year=args.cog_year)
    else:
        from observatoire.geo.territories import read_territory_file

        _progress(f"Lecture de {args.file}")
        communes = read_territory_file(
            Path(args.file),
            code_column=args.code_column,
            name_column=args.name_column,
            population_column=args.population_column,
            layer=args.layer,
        )
    for warning in communes.attrs.get("warnings", []):
        print(f"avertissement : {warning}", file=sys.stderr)
    with Session(engine) as session, session.begin():
        row = import_territory(
            session,
            communes,
            slug=args.slug,
            name=args.name,
            kind=TerritoryKind.EPCI if args.epci else TerritoryKind.CUSTOM,
            epci_code=args.epci,
            cog_year=args.cog_year,
        )
        print(f"Territoire {row.slug} enregistré : {len(row.communes)} communes")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    return _run_streamlit(args.port, args.territory, dev=args.dev)


def cmd_demo(args: argparse.Namespace) -> int:
    from observatoire.sample_database import build_sample_database

    settings = load_settings()
    _progress(f"Dossier de données : {settings.data_dir}")
    build_sample_database(settings, args.territory, seed=args.seed, progress=_progress)
    if args.no_app:
        return 0
    return _run_streamlit(args.port, args.territory, dev=args.dev)


DEFAULT_PORT = 8501

# Streamlit's start-up and shutdown lines, in French (the others pass as they are).
_STREAMLIT_LINES = (
    (re.compile(r"^\s*You can now view your Streamlit app in your browser\.\s*$"),
     "  L'application est prête : ouvrez-la dans votre navigateur."),
    (re.compile(r"^(\s*)Local URL: (.*)$"), r"\1Adresse sur cet ordinateur : \2"),
    (re.compile(r"^(\s*)Network URL: (.*)$"), r"\1Adresse sur le réseau local : \2"),
    (re.compile(r"^(\s*)External URL: (.*)$"), r"\1Adresse publique : \2"),
    (re.compile(r"^(\s*)URL: (.*)$"), r"\1Adresse : \2"),
    (re.compile(r"^\s*Stopping\.\.\.\s*$"), "  Arrêt de l'application…"),
    (re.compile(r"^\s*Collecting usage statistics.*$"), None),
    # (logged with a time stamp in front)
    (re.compile(r"^.*Did not auto detect external IP\.?\s*$"), None),
    (re.compile(r"^\s*Please go to https://docs\.streamlit\.io/ for debugging hints\.\s*$"),
     None),
)


def streamlit_line_fr(line: str) -> str | None:
    """A line Streamlit prints, in French (``None``: a line not worth showing)."""
    for pattern, french in _STREAMLIT_LINES:
        if pattern.match(line):
            return None if french is None else pattern.sub(french, line)
    return line


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def free_port(start: int, tries: int = 50) -> int | None:
    """The first free port from ``start + 1`` on."""
    return next((p for p in range(start + 1, start + 1 + tries) if port_is_free(p)), None)


def _run_streamlit(port: int | None, territory: str, *, dev: bool = False) -> int:
    if not APP_SCRIPT.exists():
        raise ObservatoireError(
            f"Application introuvable : {APP_SCRIPT}. Installez le paquet en mode développement "
            "depuis le dépôt (pip install -e .)."
        )
    chosen = DEFAULT_PORT if port is None else port
    if not port_is_free(chosen):
        other = free_port(chosen)
        if port is not None or other is None:
            raise ObservatoireError(
                f"Le port {chosen} est déjà utilisé (l'application tourne peut-être déjà : "
                f"ouvrez http://localhost:{chosen}). "
                + (f"Choisissez-en un autre : --port {other}." if other else
                   "Choisissez un autre port avec --port.")
            )  # fmt: skip
        print(f"observatoire : le port {chosen} est déjà utilisé (l'application tourne "
              f"peut-être déjà : http://localhost:{chosen}) ; démarrage sur le port {other} "
              f"(ou choisissez-en un avec --port).", file=sys.stderr, flush=True)
        chosen = other
    _progress(f"Démarrage de l'application sur http://localhost:{chosen}")
    env = dict(os.environ, OBSERVATOIRE_TERRITORY=territory)
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.port", str(chosen), "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        # Outside development nothing is reloaded on save: no watcher on the checkout (a
        # .venv holds tens of thousands of files: "Inotify queue overflowed").
        "--server.fileWatcherType", "auto" if dev else "none",
        "--server.runOnSave", "true" if dev else "false",
    ]
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            shown = streamlit_line_fr(line.rstrip("\n"))
            if shown is not None:
                print(shown, flush=True)
        return process.wait()
    except KeyboardInterrupt:
        return 0


# --- parser --------------------------------------------------------------------------------


def build_parser() -> Parser:
    parser = Parser(
        prog="observatoire",
        description=(
            "Observatoire social du sans-abrisme : nuits de comptage, flux partenaires, "
            "indicateurs.\nLa base utilisée est OBSERVATOIRE_DATABASE_URL (par défaut un fichier "
            "SQLite dans OBSERVATOIRE_DATA_DIR)."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"observatoire {__version__}",
        help="affiche la version et quitte",
    )
    commands = parser.add_subparsers(
        title="commandes", dest="command", metavar="COMMANDE", parser_class=Parser
    )
    commands.required = True

    demo = commands.add_parser(
        "demo", help="prépare la base d'exemple et lance l'application",
        description="Crée la base (si besoin), y charge un territoire réel et une nuit de "
        "comptage synthétique, puis lance l'application Streamlit.",
    )
    territory_option(demo)
    demo.add_argument("--seed", type=int, default=2026, help="graine du générateur (2026)")
    demo.add_argument("--port", type=int, default=None,
                      help="port de l'application (8501, ou le suivant libre)")
    demo.add_argument("--dev", action="store_true",
                      help="développement : recharge l'application quand un fichier change")
    demo.add_argument("--no-app", action="store_true", help="prépare la base sans lancer l'app")
    demo.set_defaults(func=cmd_demo)

    app = commands.add_parser("app", help="lance l'application Streamlit",
                              description="Lance l'application sur la base configurée.")
    territory_option(app)
    app.add_argument("--port", type=int, default=None,
                     help="port de l'application (8501, ou le suivant libre)")
    app.add_argument("--dev", action="store_true",
                     help="développement : recharge l'application quand un fichier change")
    app.set_defaults(func=cmd_app)

    db_commands = command_group(commands, "db", help="schéma de la base de données",
                                description="Gestion du schéma (migrations Alembic).")
    db_commands.add_parser(
        "upgrade", help="crée la base ou la met à jour sans perdre de données",
        description="Applique les migrations manquantes.",
    ).set_defaults(func=cmd_db_upgrade)
    db_commands.add_parser(
        "status", help="affiche la version du schéma",
        description="Affiche la version du schéma et la dernière version connue.",
    ).set_defaults(func=cmd_db_status)

    sample_commands = command_group(commands, "sample", help="échantillon synthétique",
                                    description="Données synthétiques (personnes fictives).")
    build = sample_commands.add_parser(
        "build", help="charge un territoire et une nuit de comptage synthétique dans la base",
        description="Charge un territoire de référence et une nuit de comptage synthétique.",
    )
    territory_option(build)
    build.add_argument("--seed", type=int, default=2026, help="graine du générateur (2026)")
    build.add_argument("--people", type=int, default=None,
                       help="taille de la population (par défaut selon le territoire)")
    build.add_argument("--reset", action="store_true", help="remplace l'échantillon existant")
    build.add_argument("--no-history", action="store_true",
                       help="sans les nuits des années précédentes (2022-2025)")
    build.add_argument("--no-feeds", action="store_true",
                       help="sans import des fichiers partenaires sur les personnes ni "
                            "rapprochement (les décomptes des lieux de la nuit sont importés)")
    build.set_defaults(func=cmd_sample_build)
    generate = sample_commands.add_parser(
        "generate", help="écrit les fichiers d'un échantillon sans toucher à la base",
        description="Écrit la vérité terrain, la nuit et les fichiers partenaires.",
    )
    territory_option(generate)
    generate.add_argument("--seed", type=int, default=2026, help="graine du générateur (2026)")
    generate.add_argument("--people", type=int, default=None,
                          help="taille de la population (300000 : échelle nationale)")
    generate.add_argument("--sector-size", type=float, default=1000.0,
                          help="côté des secteurs en mètres (1000)")
    generate.add_argument("--output", required=True, help="dossier de sortie")
    generate.set_defaults(func=cmd_sample_generate)
    stress = sample_commands.add_parser(
        "stress", help="écrit une population de test du rapprochement (records.csv, verite.csv)",
        description=(
            "Écrit une population synthétique conçue indépendamment de l'échantillon du "
            "projet, pour éprouver le rapprochement :\ncinq sources (si_siao, appels_115, "
            "maraude, accueil_jour, nuit) au format d'échange de « observatoire link » "
            "(records.csv)\net la vérité terrain (verite.csv : record_id,person_id).\n\n"
            "Exemple :\n  observatoire sample stress --people 2000 --scenario namesakes "
            "--seed 100 --output essai/\n  observatoire link essai/records.csv --output "
            "essai/personnes.csv"
        ),
    )
    stress.add_argument("--people", type=int, default=2000,
                        help="nombre de personnes vraies (2000)")
    stress.add_argument("--scenario", default="namesakes", choices=STRESS_SCENARIOS,
                        help="famille de scénarios : " + ", ".join(STRESS_SCENARIOS)
                        + " (namesakes par défaut)")
    stress.add_argument("--seed", type=int, default=0, help="graine du générateur (0)")
    stress.add_argument("--output", required=True, help="dossier de sortie")
    stress.set_defaults(func=cmd_sample_stress)

    territory_commands = command_group(
        commands, "territory", help="territoires et communes",
        description="Territoires (EPCI ou ensemble de communes).",
    )
    territory_commands.add_parser(
        "list", help="liste les territoires fournis et enregistrés",
        description="Liste les territoires de référence et ceux de la base.",
    ).set_defaults(func=cmd_territory_list)
    imp = territory_commands.add_parser(
        "import", help="importe un territoire (fichier, cartiflette ou référence)",
        description=(
            "Importe les communes d'un territoire depuis un fichier GeoJSON, GeoPackage ou "
            "Shapefile portant les codes INSEE,\nou en ligne via cartiflette, ou l'un des "
            "territoires fournis.\n\nExemples :\n"
            "  observatoire territory import communes.gpkg --slug grand-nancy "
            "--name 'Métropole du Grand Nancy' --epci 245400676 --cog-year 2024\n"
            "  observatoire territory import --reference paris"
        ),
    )
    imp.add_argument("file", nargs="?", help="fichier des communes (GeoJSON, GPKG, SHP)")
    imp.add_argument("--reference", metavar="SLUG", help="territoire fourni à charger")
    imp.add_argument("--cartiflette", metavar="CODES", nargs="+",
                     help="codes INSEE (ou un code EPCI) à télécharger via cartiflette")
    imp.add_argument("--slug", help="identifiant court (minuscules, chiffres, tirets)")
    imp.add_argument("--name", help="nom du territoire")
    imp.add_argument("--epci", help="code SIREN de l'EPCI (9 chiffres), s'il s'agit d'un EPCI")
    imp.add_argument("--cog-year", type=int, default=2025,
                     help="millésime du COG des codes communes (2025)")
    imp.add_argument("--code-column", help="colonne des codes INSEE (détectée sinon)")
    imp.add_argument("--name-column", help="colonne des noms de communes")
    imp.add_argument("--population-column", help="colonne des populations municipales")
    imp.add_argument("--layer", help="couche à lire (GeoPackage à plusieurs couches)")
    imp.set_defaults(func=cmd_territory_import)

    # Command groups of the other parts of the toolkit, each in its own module.
    from observatoire.cli_estimate import add_estimate_commands
    from observatoire.cli_feeds import add_feed_commands
    from observatoire.cli_linkage import add_linkage_commands
    from observatoire.cli_publish import add_publish_commands
    from observatoire.cli_report import add_report_commands
    from observatoire.cli_survey import add_survey_commands

    for add_commands in (
        add_survey_commands, add_feed_commands, add_linkage_commands, add_publish_commands,
        add_estimate_commands, add_report_commands,
    ):
        add_commands(commands)
    return parser


ERROR_LOG = "erreurs.log"
DEBUG_ENV = "OBSERVATOIRE_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # a closed pipe fails here, not at the interpreter's exit
    except BrokenPipeError:
        return _reader_gone()


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ObservatoireError as exc:
        print(f"observatoire : erreur : {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        from observatoire.messages_fr import pydantic_details_fr

        print(f"observatoire : erreur : valeur invalide ({pydantic_details_fr(exc)})",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("observatoire : interrompu", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # the reader has gone: main() stops quietly
    except Exception as exc:  # noqa: BLE001 - no traceback, SQL nor value reaches the user
        if os.environ.get(DEBUG_ENV):
            raise
        return _unexpected_error(exc, args)


def _reader_gone() -> int:
    """Stop quietly when the reader of stdout has gone (``observatoire nuit list | head -3``).

    What is still buffered can no longer be written: stdout is pointed at /dev/null so that
    the interpreter's last flush at exit does not fail in turn.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13  # as a process ended by SIGPIPE, the shell's convention


def _unexpected_error(exc: Exception, args: argparse.Namespace) -> int:
    """Say in French that the command failed, and where its details are written.

    A database error's text holds the SQL statement (its values are hidden by the engine):
    for the log, not the screen.
    """
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    command = " ".join(
        str(v) for k, v in sorted(vars(args).items())
        if (k == "command" or k.endswith("_command")) and v
    )
    if isinstance(exc, SQLAlchemyError):
        orig = exc.orig if isinstance(exc, DBAPIError) else None
        what = (f"la base de données a refusé l'opération ({type(orig or exc).__name__}) ; "
                "la transaction en cours a été annulée")
    else:
        what = f"erreur inattendue ({type(exc).__name__})"
    where = _log_details(exc, command)
    print(f"observatoire : erreur : {what}. "
          + (f"Détails techniques dans {where}. " if where else "")
          + "Si le problème persiste, signalez-le avec ces détails.", file=sys.stderr)
    return 2


def _log_details(exc: Exception, command: str) -> Path | None:
    import datetime as dt
    import traceback

    try:
        log = load_settings().data_dir / ERROR_LOG
        log.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(f"--- {dt.datetime.now().astimezone():%Y-%m-%d %H:%M:%S%z} "
                         f"observatoire {command}\n")
            handle.write("".join(traceback.format_exception(exc)))
        return log
    except (OSError, ObservatoireError):
        return None


if __name__ == "__main__":
    sys.exit(main())
