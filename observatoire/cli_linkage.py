"""`observatoire link`: the stateless linkage command (records file in, persons file out)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from observatoire.model import ObservatoireError


def summary(records: int, people: int, low: int, high: int, persons: int, review_pairs: int,
            after_review: tuple[int, int] | None = None) -> dict:
    """The figures of a linkage run, as ``--summary`` writes them (and the stderr line)."""
    out = {"records": int(records), "people_estimate": int(people),
           "interval_90": [int(low), int(high)], "persons": int(persons),
           "review_pairs": int(review_pairs)}  # fmt: skip
    if after_review is not None:
        out["interval_90_after_review"] = [int(after_review[0]), int(after_review[1])]
    return out


def summary_line(figures: dict) -> str:
    """The French line printed on stderr: the same figures as the summary."""
    from observatoire.indicators.dedup import PeopleFigure
    from observatoire.indicators.wording import (
        estimate_label,
        estimate_text,
        interval_text,
        number_text,
    )

    # The estimate in the one wording of every page (`observatoire.indicators.wording`).
    estimate = PeopleFigure(figures["people_estimate"], *figures["interval_90"])
    text = (f"{number_text(figures['records'])} enregistrements, "
            f"{number_text(figures['persons'])} personnes trouvées ; {estimate_label()} : "
            f"{estimate_text(estimate)} ; {figures['review_pairs']} paires à revoir")
    if "interval_90_after_review" in figures:
        text += (" (une fois revues : "
                 f"{interval_text(*figures['interval_90_after_review'])})")
    return text


def write_summary(figures: dict, path: str | None) -> None:
    if not path:
        return
    from observatoire.output_files import check_writable, replaced_atomically

    target = check_writable(path, "Résumé (--summary)")
    with replaced_atomically(target) as temporary:
        temporary.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")


def scorer(args: argparse.Namespace):
    """The engine's scorer that ``--engine`` (and ``--spark-master``) choose."""
    from observatoire.linkage.engine import score_candidates

    if args.engine != "spark":
        if args.spark_master:
            raise ObservatoireError("--spark-master ne vaut qu'avec --engine spark.")
        return score_candidates
    from observatoire.linkage.spark import DEFAULT_MASTER, SparkScorer

    return SparkScorer(args.spark_master or DEFAULT_MASTER)


def cmd_link_stored(args: argparse.Namespace) -> int:
    """`observatoire link --stored`: the pipeline's linkage of the database's records."""
    from observatoire.config import load_settings
    from observatoire.exports import cli_actor
    from observatoire.linkage.engine import LinkageSettings
    from observatoire.pipeline import link_stored_records, open_database

    key = None
    if args.key_file or not args.without_key:
        from observatoire.config import load_secret_key
        from observatoire.pseudonymise import SecretKeyError

        try:
            key = load_secret_key(args.key_file)
        except SecretKeyError:
            if args.key_file:
                raise
            print("Sans clé secrète : les fiches de la nuit ne sont rapprochées qu'entre elles "
                  "(--key-file pour les rapprocher des fichiers partenaires).", file=sys.stderr)
    engine = open_database(load_settings())
    run = link_stored_records(
        engine, key=key,
        settings=LinkageSettings(threshold=args.threshold, review_share=args.max_review),
        actor=cli_actor(args.actor),
        progress=lambda m: print(f"• {m}…", file=sys.stderr, flush=True),
        score_with=scorer(args),
    )  # fmt: skip
    figures = summary(run.records, run.people, run.low, run.high, run.persons,
                      run.review_pairs, run.after_review)  # fmt: skip
    write_summary(figures, args.summary)
    print(f"{summary_line(figures)} (page « Revue des doublons ») ; {run.decisions_used} "
          "décisions de revue appliquées.", file=sys.stderr)  # fmt: skip
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    from observatoire.linkage.engine import LinkageSettings, link
    from observatoire.linkage.records import read_records, write_clusters
    from observatoire.output_files import check_writable, replaced_atomically

    if args.summary:
        check_writable(args.summary, "Résumé (--summary)")  # before the linkage's minutes
    if args.stored:
        return cmd_link_stored(args)
    if not args.records or not args.output:
        raise ObservatoireError(
            "Indiquez le fichier d'enregistrements et --output (ou --stored pour rapprocher "
            "les enregistrements de la base)."
        )
    inputs = [args.records, args.decisions, args.key_file]
    check_writable(args.output, "Fichier des personnes (--output)", inputs=inputs)
    if args.review:
        check_writable(args.review, "Paires à revoir (--review)",
                       inputs=[*inputs, args.output])
    records = read_records(args.records)
    decisions = None
    if args.decisions:
        path = Path(args.decisions)
        if not path.exists():
            raise ObservatoireError(f"Fichier de décisions introuvable : {path}.")
        import pandas as pd

        decisions = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = {"record_id_a", "record_id_b", "decision"} - set(decisions.columns)
        if missing:
            raise ObservatoireError(
                f"{path} : colonnes absentes : {', '.join(sorted(missing))} "
                "(attendu : record_id_a,record_id_b,decision)."
            )
    key = None
    if args.pseudonymise:
        from observatoire.config import load_secret_key

        key = load_secret_key(args.key_file)
    settings = LinkageSettings(threshold=args.threshold, review_share=args.max_review)
    result = link(records, settings, decisions=decisions, key=key, score_with=scorer(args))
    queue = result.review_queue(settings.review_band, settings.review_share)
    # Written whole at the end or not at all: a failure leaves the previous files as they were.
    outputs = [(result.clusters, args.output)] + ([(queue, args.review)] if args.review else [])
    for frame, path in outputs:
        with replaced_atomically(path) as temporary:
            write_clusters(frame, temporary)
    from observatoire.cli_parser import audit_cli_export

    audit_cli_export("link", args, file=Path(args.records).name, output=str(args.output),
                     review=str(args.review) if args.review else None,
                     records=result.estimate.records)
    e = result.estimate
    figures = summary(e.records, e.people, e.low, e.high, e.clusters, len(queue),
                      result.interval_after_review(queue))  # fmt: skip
    write_summary(figures, args.summary)
    print(f"{summary_line(figures)}.", file=sys.stderr)
    return 0


def add_linkage_commands(commands: argparse._SubParsersAction) -> None:
    """Register `observatoire link` on the main parser's sub-commands."""
    link = commands.add_parser(
        "link", help="rapproche des enregistrements : qui est la même personne ?",
        description=(
            "Lit un fichier d'enregistrements (format d'échange, voir le README) et écrit une "
            "ligne par enregistrement :\nrecord_id,person_id,match_confidence,"
            "person_confidence.\n\nExemple :\n"
            "  observatoire link enregistrements.csv --output personnes.csv\n"
            "  observatoire link --stored --key-file cle.txt   (base de données)"
        ),
    )
    link.add_argument("records", nargs="?", help="fichier CSV UTF-8 des enregistrements")
    link.add_argument("--output", help="fichier CSV des personnes à écrire")
    link.add_argument("--stored", action="store_true",
                      help="rapproche les enregistrements pseudonymisés de la base (pipeline) "
                      "avec les décisions de revue, et enregistre les personnes")
    link.add_argument("--without-key", action="store_true",
                      help="avec --stored : sans clé secrète (la nuit n'est pas rapprochée des "
                      "fichiers partenaires)")
    link.add_argument("--actor", help="auteur inscrit au journal (sinon l'utilisateur du "
                      "système)")
    link.add_argument("--decisions", help="décisions de revue (record_id_a,record_id_b,decision "
                      "avec decision = match, non_match ou unsure)")
    link.add_argument("--review", help="écrit aussi les paires incertaines à revoir (CSV)")
    link.add_argument("--summary", help="écrit les chiffres du rapprochement en JSON : records, "
                      "people_estimate, interval_90, persons, review_pairs")
    link.add_argument("--max-review", type=float, default=0.05,
                      help="part maximale de paires à revoir par enregistrement (0,05 : au "
                      "plus 5 %% des enregistrements, les plus décisives d'abord)")
    link.add_argument("--threshold", type=float, default=0.5,
                      help="probabilité à partir de laquelle deux fiches sont une personne (0,5)")
    link.add_argument("--pseudonymise", action="store_true",
                      help="rapproche sur les encodages à clé (noms, initiales, dates) "
                      "au lieu des valeurs en clair")
    link.add_argument("--key-file", help="fichier de la clé secrète (--pseudonymise, --stored)")
    link.add_argument("--engine", choices=("local", "spark"), default="local",
                      help="moteur : local (ce processus, par défaut) ou spark (Apache Spark, "
                      "extra [spark] : pip install -e '.[spark]')")
    link.add_argument("--spark-master",
                      help="avec --engine spark : maître Spark (par défaut local[*] ; par "
                      "exemple spark://hote:7077 ou yarn)")
    link.set_defaults(func=cmd_link)
