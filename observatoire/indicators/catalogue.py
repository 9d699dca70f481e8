"""The declarative indicator catalogue (``catalogue.yaml``): what each indicator means, its
unit, frequency and owner, whether it may be published, and what gives its value: one pure
function of the data (``computation``, `observatoire.indicators.yearly.YEARLY`) or staff
entry (``saisie``: the figures page, a spreadsheet, ``observatoire figures``).

A territory adds its own indicators, as it adds feed formats, in YAML files of the same
shape in the folders of ``OBSERVATOIRE_INDICATORS_DIR`` (``os.pathsep``-separated): only
``id``, ``label`` and ``unit`` are required there; the package is not touched.

    catalogue = load_catalogue()
    catalogue["a_minima_total"].label  # "Personnes sans abri décomptées (a minima)"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from observatoire.model import ObservatoireError

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
INDICATORS_DIR_ENV = "OBSERVATOIRE_INDICATORS_DIR"
# "part": a rate between 0 and 1; "mois"/"jours": a duration (length of stay, time homeless).
UNITS = {"personnes", "pour_10000", "part", "secteurs", "ménages", "places", "actions",
         "mois", "jours", "logements", "réunions", "euros", "nombre"}
DIRECTIONS = {"down", "up", "none"}
FREQUENCIES = {"yearly": "annuelle", "quarterly": "trimestrielle"}
HAND_ENTERED = "saisie"
DASHBOARD = "tableau_de_bord"  # computed night by night or month by month on the pages
# What gives a value: staff entry, the dashboards, or one pure yearly function (the keys of
# `observatoire.indicators.yearly.YEARLY`, a test checks they are the same).
COMPUTATIONS = {
    HAND_ENTERED: "saisie de l'équipe (page, tableur ou ligne de commande)",
    DASHBOARD: "calculé nuit par nuit ou mois par mois (tableaux de bord)",
    "count_night_total": "nuits de la Solidarité : rue + lieux des partenaires",
    "count_night_street": "nuits de la Solidarité : personnes rencontrées dans la rue",
    "count_night_places": "nuits de la Solidarité : décomptes des partenaires",
    "siao_moves_to_housing": "SI-SIAO : orientations abouties vers un logement",
    "siao_social_housing": "SI-SIAO : orientations abouties vers le logement social",
    "calls_115_unanswered": "115 : demandes d'hébergement non pourvues / demandes",
    "linked_first_time": "parcours rapprochés : premier contact après 24 mois sans contact",
    "linked_time_homeless": "parcours rapprochés : du premier contact au dernier de l'année",
    "linked_returns_6": "parcours rapprochés : revus dans les 6 mois d'un relogement",
    "linked_returns_12": "parcours rapprochés : revus dans les 12 mois d'un relogement",
    "linked_returns_24": "parcours rapprochés : revus dans les 24 mois d'un relogement",
    "publics_hotels": "SI-SIAO : orientations abouties vers l'hôtel",
    "publics_emergency_stay": "SI-SIAO : durée des séjours en hébergement d'urgence terminés",
    "publics_institution_leavers": "SI-SIAO : demandes à la sortie de prison, d'hôpital, d'ASE",
    "publics_women_violence": "SI-SIAO et 115 : femmes victimes de violences",
    "publics_households_children": "SI-SIAO et 115 : ménages avec enfants",
    "publics_exits_rate": "SI-SIAO : relogés / demandeurs de l'année",
    "publics_exits_from_street": "SI-SIAO : relogés dans l'année venant de la rue",
    "publics_exits_from_shelter": "SI-SIAO : relogés dans l'année venant de l'hébergement",
    "night_no_resources": "nuits de la Solidarité : personnes interrogées sans ressources",
    "night_no_health_cover": "nuits de la Solidarité : interrogées sans couverture maladie",
    "figures_eviction_met_share": "saisies : ménages rencontrés / commandements de payer",
}
PRIORITIES = {
    1: "Produire et mobiliser des logements abordables",
    2: "Accélérer l'accès au logement",
    3: "Mieux accompagner les personnes et les maintenir dans le logement",
    4: "Prévenir les ruptures et recentrer l'hébergement d'urgence",
    5: "Mobiliser les acteurs et les territoires",
}
GROUPS = {
    "nuit": "Nuit de la Solidarité",
    "profil": "Profil des personnes rencontrées",
    "qualite": "Qualité et couverture",
    "liaison": "Estimation dédoublonnée",
    "flux": "Flux (liste nominative)",
    "logement_d_abord": "Indicateurs Logement d'abord",
    "performance": "Performance du système (parcours rapprochés)",
    "territoire": "Indicateurs propres au territoire",
}
# What a territory's own entry may leave out, and what it then means.
OPTIONAL = {"group": "territoire", "definition": "", "source": "saisie de l'observatoire",
            "formula": "", "good": "none", "priority": 5, "publishable": False,
            "frequency": "yearly", "owner": "", "computation": HAND_ENTERED}


class UnknownIndicatorError(ObservatoireError, KeyError):
    """An indicator id that the catalogue does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Indicator:
    """One catalogue entry (see the header of ``catalogue.yaml`` for each field)."""

    id: str
    group: str
    label: str
    definition: str
    unit: str
    source: str
    formula: str
    good: str
    priority: int
    publishable: bool
    frequency: str = "yearly"
    owner: str = ""
    computation: str = HAND_ENTERED
    short_label: str = ""
    """Optional: a few words that fit a dashboard tile (the full label goes in its help)."""

    @property
    def hand_entered(self) -> bool:
        return self.computation == HAND_ENTERED

    @property
    def tile_label(self) -> str:
        return self.short_label or self.label

    @property
    def help_text(self) -> str:
        """What a tile's or a column's help says: the full label and the definition."""
        label = self.label.rstrip(".")
        return f"{label}. {self.definition}" if self.definition else f"{label}."

    def definition_row(self) -> dict[str, str]:
        """The indicator as the tables of definitions print it (report, pages)."""
        return {"Indicateur": self.label, "Définition": self.definition, "Unité": self.unit,
                "Fréquence": FREQUENCIES[self.frequency], "Source": self.source,
                "Calcul": COMPUTATIONS[self.computation], "Fourni par": self.owner}

    @property
    def priority_label(self) -> str:
        return PRIORITIES[self.priority]

    def is_progress(self, change: float) -> bool | None:
        """Whether ``change`` (new minus old) goes the good way; ``None`` when undirected."""
        if self.good == "none" or change == 0:
            return None
        return (change < 0) == (self.good == "down")


class Catalogue(dict[str, Indicator]):
    """Indicator id -> `Indicator`, in file order; unknown ids raise and list the valid ones."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.own: set[str] = set(getattr(args[0], "own", ())) if args else set()
        """Ids of the territory's own entries (`territory_files`)."""

    def __missing__(self, key: str) -> Indicator:
        raise UnknownIndicatorError(
            f"Indicateur inconnu : {key!r}. Indicateurs du catalogue : {', '.join(self)}."
        )

    def in_group(self, group: str) -> list[Indicator]:
        return [i for i in self.values() if i.group == group]


def parse_catalogue(entries: list[dict], *, where: str = "du catalogue",
                    shipped: bool = True, into: Catalogue | None = None) -> Catalogue:
    """Validate raw catalogue entries; raises `ObservatoireError` naming the faulty entry.
    ``shipped=False``: a territory's own entries (fields of `OPTIONAL` may be left out),
    added to ``into`` (whose ids they may not redefine)."""
    catalogue = Catalogue(into or {})
    fields = set(Indicator.__dataclass_fields__)
    required = fields - set(OPTIONAL) - {"short_label"} if not shipped else fields - {
        "frequency", "owner", "computation", "short_label"}
    if not isinstance(entries, list):
        raise ObservatoireError(f"Catalogue d'indicateurs {where} : une liste d'entrées "
                                "(« - id: … ») est attendue.")
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise ObservatoireError(f"Entrée n°{number} {where} : « champ: valeur » attendus.")
        name = entry.get("id", f"n°{number}")
        missing = sorted(required - set(entry))
        extra = sorted(set(entry) - fields)
        if missing or extra:
            raise ObservatoireError(
                f"Entrée {name} {where} : champs manquants {missing}, "
                f"champs inconnus {extra}. Champs attendus : {', '.join(sorted(fields))}."
            )
        entry = {**OPTIONAL, **entry} if not shipped else {
            **{k: OPTIONAL[k] for k in ("frequency", "owner")}, **entry}
        entry.setdefault("computation", HAND_ENTERED)
        checks = (
            ("unit", UNITS),
            ("good", DIRECTIONS),
            ("priority", set(PRIORITIES)),
            ("group", set(GROUPS)),
            ("frequency", set(FREQUENCIES)),
            ("computation", set(COMPUTATIONS) if shipped else {HAND_ENTERED}),
            ("publishable", {True, False}),
        )
        for field, allowed in checks:
            if entry[field] not in allowed:
                raise ObservatoireError(
                    f"Entrée {name} {where} : {field} = {entry[field]!r} ; valeurs "
                    f"possibles : {', '.join(map(str, sorted(allowed, key=str)))}."
                )
        if name in catalogue:
            raise ObservatoireError(
                f"Indicateur {name} défini deux fois ({where}) : donnez-lui un autre id.")
        catalogue[name] = Indicator(**{k: entry[k] for k in fields if k in entry})
        if not shipped:
            catalogue.own.add(name)
    return catalogue


def _read(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except UnicodeDecodeError as exc:
        raise ObservatoireError(f"{path} n'est pas en UTF-8 : enregistrez-le en UTF-8.") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (ligne {mark.line + 1}, colonne {mark.column + 1})" if mark else ""
        raise ObservatoireError(f"{path} : YAML illisible{at}.") from exc


def territory_files(env: dict[str, str] | None = None) -> list[Path]:
    """The territory's own catalogue files (``*.yaml`` of ``OBSERVATOIRE_INDICATORS_DIR``)."""
    env = os.environ if env is None else env
    folders = [Path(p).expanduser() for p in env.get(INDICATORS_DIR_ENV, "").split(os.pathsep)
               if p]
    return [f for folder in folders for f in sorted(folder.glob("*.yaml"))]


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue shipped with the package and the territory's own indicators
    (`territory_files`); with ``path``, that one YAML file of the shipped shape only."""
    if path is not None:
        return _load(Path(path), ())
    files = tuple((str(f), f.stat().st_mtime_ns) for f in territory_files())
    return _load(CATALOGUE_FILE, files)


@cache
def _load(path: Path, own: tuple[tuple[str, int], ...]) -> Catalogue:
    catalogue = parse_catalogue(_read(path))
    for name, _ in own:
        catalogue = parse_catalogue(_read(Path(name)) or [], where=f"de {name}",
                                    shipped=False, into=catalogue)
    return catalogue
