"""`observatoire estimate hidden`: how many people in all, from the sources' overlaps."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from observatoire.hidden_method import HIDDEN_NOTE
from observatoire.model import ObservatoireError

if TYPE_CHECKING:  # pandas is imported by the commands that run, not by --help
    import pandas as pd

STRATA = {"sexe": "sex", "age": "age_band"}


def _age_band(records: pd.DataFrame) -> pd.Series:
    import pandas as pd

    """Age band of each record from its age or birth year (at the record's year when known)."""
    age = pd.to_numeric(records.get("age"), errors="coerce")
    year = pd.to_numeric(records.get("birth_year"), errors="coerce")
    seen = pd.to_datetime(records.get("observed_at"), errors="coerce").dt.year
    age = age.fillna(seen.fillna(pd.Timestamp.now().year) - year)
    return pd.cut(age, [0, 30, 50, 200], right=False,
                  labels=["moins de 30 ans", "30-49 ans", "50 ans et plus"]).astype(object)


def read_links(persons_path: str, records_path: str) -> pd.DataFrame:
    import pandas as pd

    """One row per record: its person (from `observatoire link`'s output) and its source."""
    from observatoire.linkage.records import read_records

    path = Path(persons_path)
    if not path.exists():
        raise ObservatoireError(f"Fichier des personnes introuvable : {path}.")
    try:
        persons = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ObservatoireError(
            f"{path} n'est pas en UTF-8 : enregistrez-le en UTF-8 (le format écrit par "
            "`observatoire link`)."
        ) from exc
    except pd.errors.ParserError as exc:
        raise ObservatoireError(f"{path} : CSV illisible ({exc}).") from exc
    missing = {"record_id", "person_id"} - set(persons.columns)
    if missing:
        raise ObservatoireError(
            f"{path} : colonnes absentes : {', '.join(sorted(missing))} (attendu : le fichier "
            "écrit par `observatoire link --output`, record_id,person_id,...)."
        )
    records = read_records(records_path)
    links = persons.merge(records, on="record_id", how="left", indicator=True)
    unknown = links.loc[links["_merge"] == "left_only", "record_id"]
    if len(unknown):
        listed = ", ".join(unknown.head(5))
        raise ObservatoireError(
            f"{path} : {len(unknown)} enregistrement(s) absents de {records_path} "
            f"(par ex. {listed}) : donnez le fichier d'enregistrements passé à "
            "`observatoire link`."
        )
    links["age_band"] = _age_band(links)
    links["sex"] = links["sex"].replace("", pd.NA)
    return links.drop(columns="_merge")


def _write_json(payload: dict, output: str) -> None:
    from observatoire.output_files import check_writable, replaced_atomically

    target = check_writable(output, "Résultat (--output)")
    with replaced_atomically(target) as temporary:
        temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=2),
                             encoding="utf-8")  # fmt: skip


def cmd_estimate_hidden(args: argparse.Namespace) -> int:
    from observatoire.indicators.hidden import estimate_from_links

    if args.stored:
        from observatoire.config import load_settings
        from observatoire.indicators.hidden_service import stored_links
        from observatoire.pipeline import open_database

        links = stored_links(open_database(load_settings()), args.territory)
    else:
        if not args.persons or not args.records:
            raise ObservatoireError(
                "Indiquez --persons (sortie de `observatoire link`) et --records (le fichier "
                "d'enregistrements rapprochés), ou --stored pour la base."
            )
        links = read_links(args.persons, args.records)
    stratum = STRATA[args.strata] if args.strata else None
    estimate = estimate_from_links(links, stratum=stratum, draws=args.draws,
                                   replicates=args.replicates, criterion=args.criterion,
                                   seed=args.seed)
    if args.output:
        _write_json(estimate.to_json(), args.output)
    low, high = estimate.interval_95
    print(
        f"{estimate.observed} personnes vues par au moins une source ; {estimate.estimate} "
        f"personnes estimées en tout (intervalle à 95 % : {low} à {high}), modèle : "
        f"{estimate.model} ; sources : {', '.join(estimate.sources)}.",
        file=sys.stderr,
    )
    for warning in estimate.warnings:
        print(f"avertissement : {warning}", file=sys.stderr)
    return 0


def add_estimate_commands(commands: argparse._SubParsersAction) -> None:
    """Register `observatoire estimate` and its sub-commands."""
    from observatoire.cli_parser import command_group, territory_option

    group = command_group(
        commands, "estimate", help="estimations : population cachée (capture-recapture)",
        description="Estimations statistiques sur les personnes rapprochées.",
    )
    hidden = group.add_parser(
        "hidden", help="combien de personnes en tout, vues ou non par les sources",
        description=(
            f"{textwrap.fill(HIDDEN_NOTE, 78)}\n\nExemple :\n"
            "  observatoire link enregistrements.csv --output personnes.csv\n"
            "  observatoire estimate hidden --persons personnes.csv "
            "--records enregistrements.csv --output estimation.json"
        ),
    )
    hidden.add_argument("--persons", help="personnes écrites par `observatoire link --output`")
    hidden.add_argument("--records", help="enregistrements rapprochés (format d'échange)")
    hidden.add_argument("--output", help="fichier JSON à écrire")
    hidden.add_argument("--stored", action="store_true",
                        help="personnes du dernier rapprochement enregistré dans la base")
    territory_option(hidden)
    hidden.add_argument("--strata", choices=sorted(STRATA),
                        help="un modèle par strate (sexe ou âge) quand les effectifs le "
                        "permettent")
    hidden.add_argument("--draws", type=int, default=20,
                        help="tirages des liens incertains du rapprochement (20)")
    hidden.add_argument("--replicates", type=int, default=200,
                        help="réplications du bootstrap (200)")
    hidden.add_argument("--criterion", choices=("bic", "aic"), default="bic",
                        help="critère de choix des modèles (bic)")
    hidden.add_argument("--seed", type=int, default=2026, help="graine des tirages (2026)")
    hidden.set_defaults(func=cmd_estimate_hidden)
